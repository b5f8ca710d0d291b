"""``ndirector vm``: the vCenter operations of seeds 000/001 on the VM registry.

register / deregister / list / lookup / relocate / report / reports, and ``vm group``
add / list / remove / register / deregister (bulk registration with a shared profile).
A change is pushed to the NVEs at once (``--no-push`` leaves it for ``ndirector apply``).

Public names: :func:`add_commands`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

from nvo3_netconf.cli.director_output import EXIT_OK, print_json, table
from nvo3_netconf.cli.director_run import push_change, push_options
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.db import StoreError
from nvo3_netconf.director.registry import VNIC, VMGroup, VMRecord, VMReport, VNAttachment

__all__ = ["add_commands"]

_FORMATS = ("uuid", "mac", "ipv4", "ipv6", "local")


def _vnic(text: str) -> VNIC:
    """``MAC,VN[,IP...]``."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not MAC,VN[,IP...]")
    return VNIC(parts[0], parts[1], tuple(parts[2:]))


def _pair(text: str) -> tuple[str, str]:
    """``VN:NAME``."""
    vn, sep, name = text.partition(":")
    if not sep or not vn or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not VN:NAME")
    return vn, name


def _attachments(args: argparse.Namespace, vns: Iterable[str] = ()) -> tuple[VNAttachment, ...]:
    """Per-VN policies from ``--acl-in``/``--acl-out``/``--qos``/``--pcp`` (and ``vns``)."""
    per_vn: dict[str, dict[str, list[str]]] = {}

    def of(vn: str) -> dict[str, list[str]]:
        return per_vn.setdefault(vn, {"in": [], "out": [], "qos": [], "pcp": []})

    for vn in vns:
        of(vn)
    for key, pairs in (("in", args.acl_in), ("out", args.acl_out), ("qos", args.qos),
                       ("pcp", args.pcp)):
        for vn, name in pairs or ():
            of(vn)[key].append(name)
    attachments = []
    for vn, got in per_vn.items():
        if len(got["qos"]) > 1 or len(got["pcp"]) > 1:
            raise StoreError(f"VN {vn}: one QoS profile and one PCP at most")
        pcp = int(got["pcp"][0]) if got["pcp"] else None
        if pcp is not None and not 0 <= pcp <= 7:
            raise StoreError(f"VN {vn}: PCP {pcp} is outside 0..7")
        attachments.append(VNAttachment(vn, tuple(got["in"]), tuple(got["out"]),
                                        got["qos"][0] if got["qos"] else None, pcp))
    return tuple(attachments)


def _vm_json(vm: VMRecord) -> dict[str, object]:
    return asdict(vm)


def _vnics_text(vm: VMRecord) -> str:
    return " ".join(f"{n.mac}@{n.vn}" + "".join(f",{ip}" for ip in n.ip_addresses)
                    + (f"/vid{n.vid}" if n.vid is not None else "") for n in vm.vnics)


# -- VMs -----------------------------------------------------------------------------------


def _register(args: argparse.Namespace, director: Director) -> int:
    vm = VMRecord(args.vm, args.tenant, vm_id_format=args.format,
                  vcenter_id=args.vcenter, vserver=args.vserver, group_id=args.group,
                  vnics=tuple(args.vnic), policies=_attachments(args),
                  description=args.description)
    saved = director.registry.register(vm)
    print(f"VM {saved.vm_id} registered on {saved.vserver or '-'} (NVE {saved.nve or '-'})",
          file=sys.stderr)
    return push_change(args, director, _vm_json(saved))


def _deregister(args: argparse.Namespace, director: Director) -> int:
    ids = list(args.vm)
    director.registry.deregister(ids)
    print(f"deregistered {', '.join(ids)}", file=sys.stderr)
    return push_change(args, director, {"deregistered": ids})


def _list(args: argparse.Namespace, director: Director) -> int:
    vms = [vm for vm in director.registry.vms(nve=args.nve)
           if args.tenant is None or vm.tenant == args.tenant]
    if args.json:
        print_json([_vm_json(vm) for vm in vms])
    else:
        print(table(("VM", "TENANT", "VSERVER", "NVE", "STATE", "GROUP", "VNICS"),
                    [(vm.vm_id, vm.tenant, vm.vserver, vm.nve, vm.state, vm.group_id,
                      _vnics_text(vm)) for vm in vms]))
    return EXIT_OK


def _lookup(args: argparse.Namespace, director: Director) -> int:
    vm = director.registry.vm(args.vm)
    if args.json:
        print_json({"vm": vm.vm_id, "vserver": vm.vserver, "nve": vm.nve, "state": vm.state})
    else:
        print(table(("VM", "VSERVER", "NVE", "STATE"),
                    [(vm.vm_id, vm.vserver, vm.nve, vm.state)]))
    return EXIT_OK


def _relocate(args: argparse.Namespace, director: Director) -> int:
    vm = director.registry.relocate(args.vm, args.vserver)
    print(f"VM {vm.vm_id} relocated to {vm.vserver} (NVE {vm.nve})", file=sys.stderr)
    return push_change(args, director, _vm_json(vm))


def _report(args: argparse.Namespace, director: Director) -> int:
    director.registry.report(VMReport(args.vm, args.status, args.cpu, args.memory,
                                      args.disk, args.network))
    print(f"report of VM {args.vm} recorded", file=sys.stderr)
    return EXIT_OK


def _reports(args: argparse.Namespace, director: Director) -> int:
    registry = director.registry
    if args.overloaded is None and args.idle is None:
        reports = registry.reports()
        if args.json:
            print_json([asdict(r) for r in reports])
        else:
            print(table(("VM", "STATUS", "CPU%", "MEM%", "DISK%", "NET%"),
                        [(r.vm_id, r.status, r.cpu, r.memory, r.disk, r.network)
                         for r in reports]))
        return EXIT_OK
    loads = registry.vserver_loads()
    if args.overloaded is not None:
        loads = [v for v in loads if v.peak > args.overloaded]
    else:
        loads = [v for v in loads if v.peak < args.idle]
    if args.json:
        print_json([{**asdict(v), "peak": v.peak} for v in loads])
    else:
        print(table(("VSERVER", "VMS", "CPU%", "MEM%", "DISK%", "NET%", "PEAK%"),
                    [(v.vserver_id, v.vms, f"{v.cpu:.1f}", f"{v.memory:.1f}",
                      f"{v.disk:.1f}", f"{v.network:.1f}", f"{v.peak:.1f}") for v in loads]))
    return EXIT_OK


# -- groups --------------------------------------------------------------------------------


def _group_add(args: argparse.Namespace, director: Director) -> int:
    group = VMGroup(args.group, args.tenant, args.name, args.vcenter, args.vserver,
                    _attachments(args, args.vn or ()))
    director.registry.put_group(group)
    print(f"VM group {group.group_id} saved", file=sys.stderr)
    return push_change(args, director, asdict(group))


def _group_list(args: argparse.Namespace, director: Director) -> int:
    groups = director.registry.groups()
    members: dict[int, int] = {}
    for vm in director.registry.vms():
        if vm.group_id is not None:
            members[vm.group_id] = members.get(vm.group_id, 0) + 1
    if args.json:
        print_json([{**asdict(g), "vms": members.get(g.group_id, 0)} for g in groups])
    else:
        print(table(("GROUP", "TENANT", "NAME", "VSERVER", "VNS", "VMS"),
                    [(g.group_id, g.tenant, g.name, g.vserver_id,
                      ",".join(a.vn for a in g.attachments), members.get(g.group_id, 0))
                     for g in groups]))
    return EXIT_OK


def _group_remove(args: argparse.Namespace, director: Director) -> int:
    director.registry.remove_group(args.group)
    print(f"VM group {args.group} removed", file=sys.stderr)
    return push_change(args, director, {"removed": args.group})


def _members(specs: Sequence[str], path: Path | None) -> list[list[str]]:
    """``ID,MAC[,IP...]`` from ``--vm`` and the CSV file (``#`` comments, optional header)."""
    rows = [[p.strip() for p in spec.split(",")] for spec in specs]
    if path is not None:
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                found = [[c.strip() for c in row] for row in csv.reader(handle)]
        except OSError as error:
            raise StoreError(f"cannot read {path}: {error.strerror}") from None
        found = [r for r in found if r and any(r) and not r[0].startswith("#")]
        if found and found[0][0].lower() in ("vm", "vm-id", "vm_id", "id"):
            found = found[1:]
        rows += [[c for c in r if c] for r in found]
    for row in rows:
        if len(row) < 2 or not all(row):
            raise StoreError(f"{','.join(row)!r} is not ID,MAC[,IP...]")
    if not rows:
        raise StoreError("no VM given (--vm ID,MAC,IP or --from-file CSV)")
    return rows


def _group_register(args: argparse.Namespace, director: Director) -> int:
    group = director.registry.group(args.group)
    vn = args.vn
    if vn is None:
        vns = [a.vn for a in group.attachments]
        if len(vns) != 1:
            raise StoreError(f"VM group {group.group_id} attaches to {len(vns)} VNs: "
                             "name the members' VN with --vn")
        vn = vns[0]
    rows = _members(args.vm or (), args.from_file)
    saved = director.registry.bulk_register(
        group.group_id, [r[0] for r in rows],
        [[VNIC(r[1], vn, tuple(r[2:]))] for r in rows], vserver=args.vserver,
        vm_id_format=args.format)
    print(f"registered {len(saved)} VMs in group {group.group_id}", file=sys.stderr)
    return push_change(args, director, [_vm_json(vm) for vm in saved])


def _group_deregister(args: argparse.Namespace, director: Director) -> int:
    ids = director.registry.bulk_deregister(args.group)
    print(f"deregistered {len(ids)} VMs of group {args.group}", file=sys.stderr)
    return push_change(args, director, {"deregistered": ids})


# -- parser --------------------------------------------------------------------------------


def _changing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-push", action="store_true",
                        help="only record the change (ndirector apply pushes it)")
    push_options(parser)


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def _policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--acl-in", action="append", type=_pair, metavar="VN:ACL",
                        help="ingress ACL in a VN (repeatable)")
    parser.add_argument("--acl-out", action="append", type=_pair, metavar="VN:ACL",
                        help="egress ACL in a VN (repeatable)")
    parser.add_argument("--qos", action="append", type=_pair, metavar="VN:PROFILE",
                        help="QoS profile in a VN")
    parser.add_argument("--pcp", action="append", type=_pair, metavar="VN:PCP",
                        help="802.1p priority in a VN")


def _group_commands(vm: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = vm.add_parser("group", help="VM group profiles and bulk registration"
                          ).add_subparsers(dest="group_command", required=True)
    add = group.add_parser("add", help="create or update a VM group profile")
    add.add_argument("group", type=int, help="group id (32-bit)")
    add.add_argument("--tenant", required=True)
    add.add_argument("--name")
    add.add_argument("--vcenter", help="vCenter id")
    add.add_argument("--vserver", help="the vServer its VMs go to by default")
    add.add_argument("--vn", action="append", help="a VN its VMs attach to (repeatable)")
    _policy_options(add)
    _changing(add)
    add.set_defaults(run=_group_add)
    listing = group.add_parser("list", help="list the VM groups")
    _json(listing)
    listing.set_defaults(run=_group_list)
    remove = group.add_parser("remove", help="remove a group no VM belongs to")
    remove.add_argument("group", type=int)
    _changing(remove)
    remove.set_defaults(run=_group_remove)
    register = group.add_parser("register", help="bulk-register VMs with the group profile")
    register.add_argument("group", type=int)
    register.add_argument("--vm", action="append", metavar="ID,MAC[,IP...]",
                          help="a member (repeatable)")
    register.add_argument("--from-file", type=Path, metavar="CSV",
                          help="members, one ID,MAC[,IP...] per line")
    register.add_argument("--vn", help="the members' VN (default: the group's only VN)")
    register.add_argument("--vserver", help="their vServer (default: the group's)")
    register.add_argument("--format", choices=_FORMATS, default="uuid",
                          help="VM id format (default uuid)")
    _changing(register)
    register.set_defaults(run=_group_register)
    deregister = group.add_parser("deregister", help="deregister every VM of the group")
    deregister.add_argument("group", type=int)
    _changing(deregister)
    deregister.set_defaults(run=_group_deregister)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]
                 ) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add ``vm`` and its subcommands; returns them (for ``vm migrate``)."""
    vm = commands.add_parser("vm", help="the VM registry").add_subparsers(
        dest="vm_command", required=True)
    register = vm.add_parser("register", help="create or update a VM's profile")
    register.add_argument("vm", help="VM id")
    register.add_argument("--tenant", required=True)
    register.add_argument("--vserver", help="the vServer it is placed on")
    register.add_argument("--vnic", action="append", type=_vnic, required=True,
                          metavar="MAC,VN[,IP...]", help="a vNIC (repeatable)")
    register.add_argument("--group", type=int, help="its VM group")
    register.add_argument("--format", choices=_FORMATS, default="uuid",
                          help="VM id format (default uuid)")
    register.add_argument("--vcenter", help="vCenter id")
    register.add_argument("--description")
    _policy_options(register)
    _changing(register)
    register.set_defaults(run=_register)

    deregister = vm.add_parser("deregister", help="remove VMs (all or none)")
    deregister.add_argument("vm", nargs="+")
    _changing(deregister)
    deregister.set_defaults(run=_deregister)

    listing = vm.add_parser("list", help="list the VMs")
    listing.add_argument("--tenant")
    listing.add_argument("--nve")
    _json(listing)
    listing.set_defaults(run=_list)

    lookup = vm.add_parser("lookup", help="the vServer and NVE hosting a VM")
    lookup.add_argument("vm")
    _json(lookup)
    lookup.set_defaults(run=_lookup)

    relocate = vm.add_parser("relocate", help="record a VM's new vServer")
    relocate.add_argument("vm")
    relocate.add_argument("--vserver", required=True)
    _changing(relocate)
    relocate.set_defaults(run=_relocate)

    report = vm.add_parser("report", help="record a VM's status and utilisation")
    report.add_argument("vm")
    report.add_argument("--status", required=True, help="e.g. running, stopped")
    for name in ("cpu", "memory", "disk", "network"):
        report.add_argument(f"--{name}", type=float, metavar="PCT",
                            help=f"{name} utilisation in percent")
    report.set_defaults(run=_report)

    reports = vm.add_parser("reports", help="VM reports, or vServers over/under a load")
    which = reports.add_mutually_exclusive_group()
    which.add_argument("--overloaded", type=float, metavar="PCT",
                       help="vServers whose mean CPU, memory, disk or network is above PCT")
    which.add_argument("--idle", type=float, metavar="PCT",
                       help="vServers whose mean utilisations are all below PCT")
    _json(reports)
    reports.set_defaults(run=_reports)

    _group_commands(vm)
    return vm
