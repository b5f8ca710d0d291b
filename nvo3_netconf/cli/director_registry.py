"""``ndirector tenant``, ``vn``, ``policy`` and ``vserver``: the registry's building blocks.

Each ``add`` creates or updates; ``remove`` refuses what is still in use. A change is
pushed to the NVEs at once (``--no-push`` leaves it pending for ``ndirector apply``).

Public names: :func:`add_commands`, :func:`read_policy`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Final

from nvo3_netconf.cli.director_output import EXIT_OK, print_json, table
from nvo3_netconf.cli.director_run import push_change, push_options
from nvo3_netconf.constants import NS_ACL, NS_NVO3_POLICY
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.db import StoreError
from nvo3_netconf.director.registry import Policy, PolicyKind, Tenant, VNRecord, VServer
from nvo3_netconf.errors import RPCError
from nvo3_netconf.protocol.xml import local_name, namespace_of, parse_xml

__all__ = ["add_commands", "read_policy"]

_ROOTS: Final = {PolicyKind.ACL: (NS_ACL, "acl", "an RFC 8519 <acl>"),
                 PolicyKind.QOS: (NS_NVO3_POLICY, "qos-profile", "an nvo3-policy <qos-profile>")}


def read_policy(kind: PolicyKind, name: str, path: Path) -> str:
    """The policy XML of ``path``, checked: well-formed, the right element, named ``name``.

    Raises:
        StoreError: unreadable, not XML, another element, or another name.
    """
    try:
        text = path.read_bytes()
    except OSError as error:
        raise StoreError(f"cannot read {path}: {error.strerror}") from None
    try:
        root = parse_xml(text)
    except RPCError as error:
        raise StoreError(f"{path} is not well-formed XML: {error.message}") from None
    namespace, tag, what = _ROOTS[kind]
    if (namespace_of(root), local_name(root)) != (namespace, tag):
        raise StoreError(f"{path} holds <{local_name(root)} xmlns=\"{namespace_of(root)}\">, "
                         f"not {what} (namespace {namespace})")
    named = root.findtext(f"{{{namespace}}}name")
    if named != name:
        raise StoreError(f"{path}: the {tag}'s <name> is {named!r}, not {name!r}")
    return text.decode("utf-8")


# -- tenant --------------------------------------------------------------------------------


def _tenant_add(args: argparse.Namespace, director: Director) -> int:
    tenant = Tenant(args.tenant, args.name, args.description)
    director.registry.put_tenant(tenant)
    print(f"tenant {tenant.tenant_id} saved", file=sys.stderr)
    return push_change(args, director, asdict(tenant))


def _tenant_list(args: argparse.Namespace, director: Director) -> int:
    tenants = director.registry.tenants()
    if args.json:
        print_json([asdict(t) for t in tenants])
    else:
        print(table(("TENANT", "NAME", "DESCRIPTION"),
                    [(t.tenant_id, t.name, t.description) for t in tenants]))
    return EXIT_OK


def _tenant_remove(args: argparse.Namespace, director: Director) -> int:
    director.registry.remove_tenant(args.tenant)
    print(f"tenant {args.tenant} removed", file=sys.stderr)
    return push_change(args, director, {"removed": args.tenant})


# -- vn ------------------------------------------------------------------------------------


def _vid_range(text: str) -> tuple[int, int]:
    start, _, end = text.partition("-")
    try:
        return int(start), int(end or start)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a VID range like 100-199") from None


def _vn_add(args: argparse.Namespace, director: Director) -> int:
    for nve in args.nve or ():
        director.inventory.get(nve)
    vid_start, vid_end = args.vids
    vn = VNRecord(args.name, args.vnid, args.tenant, vn_type=args.type,
                  encapsulation=args.encapsulation, flooding=args.flooding,
                  multicast_group=args.multicast_group, vid_start=vid_start, vid_end=vid_end,
                  admin_state=args.admin_state, description=args.description,
                  nves=tuple(args.nve or ()))
    director.registry.put_vn(vn)
    print(f"VN {vn.name} (VNID {vn.vnid}, tenant {vn.tenant}) saved", file=sys.stderr)
    return push_change(args, director, asdict(vn))


def _vn_list(args: argparse.Namespace, director: Director) -> int:
    vns = director.registry.vns()
    if args.json:
        print_json([asdict(v) for v in vns])
    else:
        print(table(("VN", "VNID", "TENANT", "TYPE", "ENCAP", "FLOODING", "VIDS", "ADMIN",
                     "NVES"),
                    [(v.name, v.vnid, v.tenant, v.vn_type, v.encapsulation,
                      v.flooding + (f" {v.multicast_group}" if v.multicast_group else ""),
                      f"{v.vid_start}-{v.vid_end}", v.admin_state, ",".join(v.nves))
                     for v in vns]))
    return EXIT_OK


def _vn_remove(args: argparse.Namespace, director: Director) -> int:
    director.registry.remove_vn(args.name)
    print(f"VN {args.name} removed", file=sys.stderr)
    return push_change(args, director, {"removed": args.name})


# -- policy --------------------------------------------------------------------------------


def _policy_add(args: argparse.Namespace, director: Director) -> int:
    kind = PolicyKind(args.kind)
    policy = Policy(kind, args.name, read_policy(kind, args.name, args.file), args.tenant)
    director.registry.put_policy(policy)
    print(f"{kind} policy {policy.name} saved", file=sys.stderr)
    return push_change(args, director, asdict(policy))


def _policy_list(args: argparse.Namespace, director: Director) -> int:
    policies = director.registry.policies(PolicyKind(args.kind) if args.kind else None)
    if args.json:
        print_json([asdict(p) for p in policies])
    else:
        print(table(("KIND", "NAME", "TENANT"),
                    [(p.kind, p.name, p.tenant) for p in policies]))
    return EXIT_OK


def _policy_remove(args: argparse.Namespace, director: Director) -> int:
    director.registry.remove_policy(PolicyKind(args.kind), args.name)
    print(f"{args.kind} policy {args.name} removed", file=sys.stderr)
    return push_change(args, director, {"removed": args.name, "kind": args.kind})


# -- vserver -------------------------------------------------------------------------------


def _vserver_add(args: argparse.Namespace, director: Director) -> int:
    director.inventory.get(args.nve)
    vserver = VServer(args.vserver, args.nve, args.tes_user, args.interface,
                      tuple(args.tenant or ()))
    director.registry.put_vserver(vserver)
    print(f"vServer {vserver.vserver_id} (behind {vserver.nve}) saved", file=sys.stderr)
    return push_change(args, director, asdict(vserver))


def _vserver_list(args: argparse.Namespace, director: Director) -> int:
    vservers = director.registry.vservers()
    if args.json:
        print_json([asdict(v) for v in vservers])
    else:
        print(table(("VSERVER", "NVE", "TES-USER", "INTERFACE", "TENANTS"),
                    [(v.vserver_id, v.nve, v.tes_name, v.interface, ",".join(v.tenants))
                     for v in vservers]))
    return EXIT_OK


def _vserver_remove(args: argparse.Namespace, director: Director) -> int:
    director.registry.remove_vserver(args.vserver)
    print(f"vServer {args.vserver} removed", file=sys.stderr)
    return push_change(args, director, {"removed": args.vserver})


# -- parser --------------------------------------------------------------------------------


def _changing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-push", action="store_true",
                        help="only record the change (ndirector apply pushes it)")
    push_options(parser)


def _listing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def _tenant_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenant = commands.add_parser("tenant", help="tenants").add_subparsers(
        dest="tenant_command", required=True)
    add = tenant.add_parser("add", help="create or update a tenant")
    add.add_argument("tenant", help="tenant id")
    add.add_argument("--name", help="display name")
    add.add_argument("--description")
    _changing(add)
    add.set_defaults(run=_tenant_add)
    listing = tenant.add_parser("list", help="list the tenants")
    _listing(listing)
    listing.set_defaults(run=_tenant_list)
    remove = tenant.add_parser("remove", help="remove a tenant nothing uses")
    remove.add_argument("tenant")
    _changing(remove)
    remove.set_defaults(run=_tenant_remove)


def _vn_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vn = commands.add_parser("vn", help="VN instances").add_subparsers(
        dest="vn_command", required=True)
    add = vn.add_parser("add", help="create or update a VN")
    add.add_argument("name", help="VN name (globally unique)")
    add.add_argument("--vnid", type=int, required=True, help="24-bit VNID")
    add.add_argument("--tenant", required=True)
    add.add_argument("--type", choices=("l2", "l3"), default="l2")
    add.add_argument("--encapsulation", default="vxlan",
                     help="vxlan, nvgre, geneve, mpls-over-gre... (default vxlan)")
    add.add_argument("--flooding", choices=("head-end", "multicast", "none"),
                     default="head-end")
    add.add_argument("--multicast-group", metavar="IP", help="underlay group (multicast)")
    add.add_argument("--vids", type=_vid_range, default=(2, 4094), metavar="START-END",
                     help="local VIDs the NVEs may assign (default 2-4094)")
    add.add_argument("--admin-state", choices=("up", "down"), default="up")
    add.add_argument("--description")
    add.add_argument("--nve", action="append", metavar="NAME",
                     help="an NVE serving the VN even with no VM of it (repeatable)")
    _changing(add)
    add.set_defaults(run=_vn_add)
    listing = vn.add_parser("list", help="list the VNs")
    _listing(listing)
    listing.set_defaults(run=_vn_list)
    remove = vn.add_parser("remove", help="remove a VN nothing uses")
    remove.add_argument("name")
    _changing(remove)
    remove.set_defaults(run=_vn_remove)


def _policy_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = commands.add_parser("policy", help="ACLs and QoS profiles").add_subparsers(
        dest="policy_command", required=True)
    for kind, what in ((PolicyKind.ACL, "an RFC 8519 <acl>"),
                       (PolicyKind.QOS, "an nvo3-policy <qos-profile>")):
        sub = policy.add_parser(kind.value, help=f"{kind.value} policies").add_subparsers(
            dest="kind_command", required=True)
        add = sub.add_parser("add", help=f"create or replace {what} from an XML file")
        add.add_argument("name")
        add.add_argument("file", type=Path, help=f"{what} element, named NAME")
        add.add_argument("--tenant", help="the tenant it belongs to")
        _changing(add)
        add.set_defaults(run=_policy_add, kind=kind.value)
    listing = policy.add_parser("list", help="list the policies")
    listing.add_argument("--kind", choices=[k.value for k in PolicyKind])
    _listing(listing)
    listing.set_defaults(run=_policy_list)
    remove = policy.add_parser("remove", help="remove a policy nothing uses")
    remove.add_argument("kind", choices=[k.value for k in PolicyKind])
    remove.add_argument("name")
    _changing(remove)
    remove.set_defaults(run=_policy_remove)


def _vserver_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vserver = commands.add_parser("vserver", help="vServers (hypervisors)").add_subparsers(
        dest="vserver_command", required=True)
    add = vserver.add_parser("add", help="create or update a vServer")
    add.add_argument("vserver", help="vServer id")
    add.add_argument("--nve", required=True, help="the NVE it is behind")
    add.add_argument("--tes-user", required=True,
                     help="the NETCONF user its TES signals as")
    add.add_argument("--interface", required=True, help="the NVE interface it is attached to")
    add.add_argument("--tenant", action="append", help="a tenant it may serve (repeatable)")
    _changing(add)
    add.set_defaults(run=_vserver_add)
    listing = vserver.add_parser("list", help="list the vServers")
    _listing(listing)
    listing.set_defaults(run=_vserver_list)
    remove = vserver.add_parser("remove", help="remove a vServer no VM is placed on")
    remove.add_argument("vserver")
    _changing(remove)
    remove.set_defaults(run=_vserver_remove)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tenant``, ``vn``, ``policy`` and ``vserver``."""
    _tenant_commands(commands)
    _vn_commands(commands)
    _policy_commands(commands)
    _vserver_commands(commands)
