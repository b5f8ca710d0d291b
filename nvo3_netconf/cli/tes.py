"""``nvo3-tes``: signal VM lifecycle events to an NVE, and follow its notifications.

Synopsis::

    nvo3-tes --nve HOST[:PORT] --user USER [--password PW | --password-file FILE | --key FILE]
             [--hostkey-policy known-hosts|pinned|accept-any] [--hostkey KEY]
             [--timeout S] [--json] [-v] COMMAND ...

    pre-associate | associate | immigrate
        --vm ID [--vm-id-format F] --tenant T --vnic MAC@VN[:VID][/PCP] ...
        [--ip MAC=IP] [--acl-in VN=ACL] [--acl-out VN=ACL] [--qos VN=PROFILE]
        [--group-id N] [--filter-format F] [--vcenter ID] [--vserver ID] [--interface IF]
        pre-associate: [--reserve] [--indication immigration|keep-alive]
        associate:     [--indication immigration|keep-alive|suspension|resume|emigration]
        immigrate:     [--phase pre-associate|associate] [--reserve]
                       [--migration-id ID] [--peer-nve ADDR] [--peer-vserver ID]
    suspend | resume | terminate | keep-alive   --vm ID [--vm-id-format F]
    emigrate     --vm ID [--migration-id ID] [--peer-nve ADDR] [--peer-vserver ID]
    acknowledge  --vm ID --change-id N [--fail REASON] [--message TEXT]
    watch        [--event NAME ...] [--vm ID] [--stream S] [--xpath EXPR --ns P=URI ...]
                 [--since TIME [--until TIME]] [--count N] [--timeout S]

A vNIC is ``MAC@VN[:VID][/PCP]``: VN is a VN name, ``NAME=VNID`` (both) or ``=VNID``;
a missing VID or VID 0 lets the NVE assign one; the MAC is left empty (``@VN:VID``) with
the vid and groupid-vid filter formats. A trailing ``:digits`` is always the VID.

The NVE, user and password may also come from ``NVO3_NVE``, ``NVO3_TES_USER`` and
``NVO3_TES_PASSWORD`` (a flag wins).

Output: a readable summary on stdout; ``--json`` prints the reply as one JSON object
(``watch``: one object per line). Errors and logs go to stderr.

Exit codes: 0 success; 1 usage error, or the NVE unreachable, refusing the credentials
or closing the session; 2 the NVE answered FAIL or an ``<rpc-error>``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn, TextIO

from nvo3_netconf.errors import Nvo3Error, RPCError, RPCErrors
from nvo3_netconf.tes import (
    VNIC,
    AssociationParams,
    ConnectionParams,
    Event,
    FilterFormat,
    HostKeyPolicy,
    ImmigrationPhase,
    Indication,
    LocalChange,
    MigrationPeer,
    MigrationProgress,
    NVEConnectionError,
    Reply,
    ReplyReason,
    Result,
    Subscription,
    TESClient,
    VMAgedOut,
    VMIdFormat,
    VMRef,
    VMStateChanged,
    VNAttachment,
    VNPolicies,
    event_to_dict,
)
from nvo3_netconf.tes.connection import DEFAULT_PORT
from nvo3_netconf.tes.events import TES_NOTIFICATIONS
from nvo3_netconf.tes.params import normalize_mac

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_REFUSED = 2

_ASSOCIATING = ("pre-associate", "associate", "immigrate")
_VM_ONLY = ("suspend", "resume", "terminate", "keep-alive")


class UsageError(Exception):
    """A command line that cannot be run (exit code 1)."""


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on errors; nvo3-tes reserves 2 for refusals by the NVE."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.format_usage()}{self.prog}: error: {message}")


# -- parsing of option values -----------------------------------------------------------

def parse_vnic(text: str) -> tuple[str | None, int | None, VNIC]:
    """Parse ``MAC@VN[:VID][/PCP]`` (VN: ``NAME``, ``NAME=VNID`` or ``=VNID``).

    Args:
        text: the option value.

    Returns:
        The VN name, the VNID and the vNIC.

    Raises:
        ValueError: the value does not have that form or holds an invalid part.
    """
    mac, at, rest = text.partition("@")
    if not at or not rest:
        raise ValueError(f"--vnic {text!r}: write MAC@VN[:VID][/PCP]")
    pcp = None
    body, slash, pcp_text = rest.rpartition("/")
    if slash:
        if not pcp_text.isdigit():
            raise ValueError(f"--vnic {text!r}: the PCP after '/' must be a number")
        pcp, rest = int(pcp_text), body
    vid = None
    head, colon, vid_text = rest.rpartition(":")
    if colon and vid_text.isdigit():
        vid, rest = int(vid_text), head
    name, equals, vnid_text = rest.partition("=")
    vnid = None
    if equals:
        if not vnid_text.isdigit():
            raise ValueError(f"--vnic {text!r}: the VNID after '=' must be a number")
        vnid = int(vnid_text)
    if not name and vnid is None:
        raise ValueError(f"--vnic {text!r}: the VN is missing after '@'")
    vnic = VNIC(mac=mac or None, requested_vid=vid or None, requested_pcp=pcp)
    return name or None, vnid, vnic


def parse_pair(option: str, text: str) -> tuple[str, str]:
    """Parse ``KEY=VALUE``.

    Args:
        option: the option's name, for the message.
        text: the value.

    Raises:
        ValueError: there is no ``=`` or a side is empty.
    """
    key, equals, value = text.partition("=")
    if not equals or not key or not value:
        raise ValueError(f"{option} {text!r}: write KEY=VALUE")
    return key, value


def parse_nve(text: str) -> tuple[str, int]:
    """Parse ``HOST[:PORT]`` or ``[IPV6][:PORT]``.

    Args:
        text: the value of ``--nve``.

    Raises:
        ValueError: the port is not a number.
    """
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, tail = text[1:].partition("]")
        if tail.startswith(":"):
            port = tail[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--nve {text!r}: write HOST:PORT")
    return host, int(port)


def build_association(args: argparse.Namespace) -> AssociationParams:
    """Turn the association options into :class:`AssociationParams`.

    Args:
        args: the parsed command line.

    Raises:
        ValueError: an option value is invalid, or a policy names a VN without vNIC.
    """
    vns: dict[tuple[str | None, int | None], list[VNIC]] = {}
    for spec in args.vnic:
        name, vnid, vnic = parse_vnic(spec)
        vns.setdefault((name, vnid), []).append(vnic)
    ips: dict[str, list[str]] = {}
    for spec in args.ip:
        mac, ip = parse_pair("--ip", spec)
        ips.setdefault(normalize_mac(mac), []).append(ip)
    policies: dict[str, dict[str, list[str]]] = {}
    for option, key in (("acl_in", "in"), ("acl_out", "out"), ("qos", "qos")):
        for spec in getattr(args, option):
            vn, value = parse_pair("--" + option.replace("_", "-"), spec)
            policies.setdefault(vn, {}).setdefault(key, []).append(value)
    macs = {v.mac for vnics in vns.values() for v in vnics}
    for mac in ips:
        if mac not in macs:
            raise ValueError(f"--ip names MAC {mac}, which no --vnic has")
    known = {name for name, _ in vns if name} | {str(vnid) for _, vnid in vns if vnid}
    for vn in policies:
        if vn not in known:
            raise ValueError(f"a policy names VN {vn!r}, which no --vnic attaches to")
    attachments = []
    for (name, vnid), vnics in vns.items():
        vnics = [VNIC(v.mac, tuple(ips.get(v.mac or "", ())), v.group_id, v.requested_vid,
                      v.requested_pcp) for v in vnics]
        chosen = policies.get(name or "", policies.get(str(vnid), {}))
        qos = chosen.get("qos", [])
        if len(qos) > 1:
            raise ValueError(f"VN {name or vnid} has more than one --qos")
        vn_policies = VNPolicies(tuple(chosen.get("in", ())), tuple(chosen.get("out", ())),
                                 qos[0] if qos else None)
        attachments.append(VNAttachment(name, vnid, tuple(vnics),
                                        None if vn_policies.empty else vn_policies))
    return AssociationParams(
        vm=vm_ref(args), tenant=args.tenant, vns=tuple(attachments), group_id=args.group_id,
        vcenter_id=args.vcenter, vserver_id=args.vserver, interface=args.interface,
        filter_format=FilterFormat(args.filter_format),
    )


def vm_ref(args: argparse.Namespace) -> VMRef:
    """The ``--vm`` and ``--vm-id-format`` options as a :class:`VMRef`."""
    return VMRef(args.vm, VMIdFormat(args.vm_id_format))


def migration_peer(args: argparse.Namespace) -> MigrationPeer | None:
    """The ``--migration-id``, ``--peer-nve`` and ``--peer-vserver`` options, if any."""
    peer = MigrationPeer(args.migration_id, args.peer_nve, args.peer_vserver)
    return None if peer.empty else peer


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 date-time with a time zone (``2026-11-21T10:00:00Z``).

    Raises:
        ValueError: the text is not one.
    """
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        raise ValueError(f"{text!r} needs a time zone (e.g. Z or +01:00)")
    return stamp


# -- the command line -------------------------------------------------------------------

def _vm_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vm", required=True, metavar="ID", help="the VM identifier")
    parser.add_argument("--vm-id-format", choices=[f.value for f in VMIdFormat],
                        default=VMIdFormat.UUID.value, help="format of --vm (default uuid)")


def _peer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--migration-id", help="the coordinator's migration identifier")
    parser.add_argument("--peer-nve", metavar="ADDR", help="underlay address of the other NVE")
    parser.add_argument("--peer-vserver", metavar="ID", help="the vServer at the other end")


def _association_options(parser: argparse.ArgumentParser, indications: Sequence[str]) -> None:
    _vm_options(parser)
    parser.add_argument("--tenant", required=True, help="the VM's tenant")
    parser.add_argument("--vnic", action="append", default=[], metavar="MAC@VN[:VID][/PCP]",
                        help="a vNIC in a VN, with the VID and PCP requested (repeatable)")
    parser.add_argument("--ip", action="append", default=[], metavar="MAC=IP",
                        help="an IP address of the vNIC with that MAC (repeatable)")
    parser.add_argument("--acl-in", action="append", default=[], metavar="VN=ACL",
                        help="ingress ACL in a VN, in order (repeatable)")
    parser.add_argument("--acl-out", action="append", default=[], metavar="VN=ACL",
                        help="egress ACL in a VN, in order (repeatable)")
    parser.add_argument("--qos", action="append", default=[], metavar="VN=PROFILE",
                        help="QoS profile in a VN")
    parser.add_argument("--group-id", type=int, help="the VM's VDP GroupID")
    parser.add_argument("--filter-format", choices=[f.value for f in FilterFormat],
                        default=FilterFormat.MAC_VID.value, help="VDP filter format")
    parser.add_argument("--vcenter", metavar="ID", help="the vCenter managing the VM")
    parser.add_argument("--vserver", metavar="ID", help="the vServer hosting the VM")
    parser.add_argument("--interface", metavar="IF", help="the NVE interface of the VM")
    if indications:
        parser.add_argument("--indication", action="append", default=[], choices=indications,
                            help="an indication (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The ``nvo3-tes`` argument parser."""
    parser = _Parser(prog="nvo3-tes", description="Signal VM lifecycle events to an NVE.",
                     epilog="Exit codes: 0 success, 1 usage or connection error, "
                            "2 FAIL reply or rpc-error.")
    parser.add_argument("--nve", metavar="HOST[:PORT]", default=os.environ.get("NVO3_NVE"),
                        help=f"the NVE (default port {DEFAULT_PORT}; env NVO3_NVE)")
    parser.add_argument("--user", default=os.environ.get("NVO3_TES_USER"),
                        help="SSH user: the TES identity (env NVO3_TES_USER)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password", help="password (prefer --password-file or "
                                           "NVO3_TES_PASSWORD: argv is visible to others)")
    secret.add_argument("--password-file", type=Path, help="file whose first line is the password")
    parser.add_argument("--key", type=Path, help="SSH private key file")
    parser.add_argument("--hostkey-policy", choices=[p.value for p in HostKeyPolicy],
                        help="host key check (default known-hosts; pinned with --hostkey)")
    parser.add_argument("--hostkey", metavar="KEY",
                        help="the NVE's expected host key (ssh-keyscan line or base64)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to connect and to wait for each reply (default 30)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr (-v info, -vv debug with the wire)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cmd = commands.add_parser("pre-associate", help="install a VM's network state, inactive")
    _association_options(cmd, [Indication.IMMIGRATION.value, Indication.KEEP_ALIVE.value])
    cmd.add_argument("--reserve", action="store_true", help="also reserve the resources")
    cmd = commands.add_parser("associate", help="install and activate a VM's network state")
    _association_options(cmd, [i.value for i in Indication])
    cmd = commands.add_parser("immigrate", help="a VM arrives here by migration")
    _association_options(cmd, [])
    cmd.add_argument("--phase", choices=[p.value for p in ImmigrationPhase],
                     default=ImmigrationPhase.ASSOCIATE.value, help="default associate")
    cmd.add_argument("--reserve", action="store_true", help="reserve (pre-associate phase)")
    _peer_options(cmd)
    for name, text in (("suspend", "inactivate a VM, keep its resources"),
                       ("resume", "activate a suspended VM"),
                       ("terminate", "release everything of a VM"),
                       ("keep-alive", "refresh a VM's aging timer")):
        _vm_options(commands.add_parser(name, help=text))
    cmd = commands.add_parser("emigrate", help="a VM leaves by migration")
    _vm_options(cmd)
    _peer_options(cmd)
    cmd = commands.add_parser("acknowledge", help="answer a local-change notification")
    _vm_options(cmd)
    cmd.add_argument("--change-id", type=int, required=True, help="the notification's change-id")
    cmd.add_argument("--fail", choices=[r.value for r in ReplyReason], metavar="REASON",
                     help="the change could not be applied, for this reason")
    cmd.add_argument("--message", help="an explanation")
    cmd = commands.add_parser("watch", help="print notifications as they arrive")
    cmd.add_argument("--event", action="append", default=[], choices=TES_NOTIFICATIONS,
                     help="only these nvo3-tes notifications (repeatable)")
    cmd.add_argument("--vm", metavar="ID", help="only notifications about this VM")
    cmd.add_argument("--vm-id-format", choices=[f.value for f in VMIdFormat],
                     default=VMIdFormat.UUID.value, help="format of --vm")
    cmd.add_argument("--stream", help="the stream (default NETCONF)")
    cmd.add_argument("--xpath", help="an XPath filter instead of --event/--vm")
    cmd.add_argument("--ns", action="append", default=[], metavar="PREFIX=URI",
                     help="a namespace prefix used in --xpath (repeatable)")
    cmd.add_argument("--since", type=parse_time, metavar="TIME", help="replay from TIME")
    cmd.add_argument("--until", type=parse_time, metavar="TIME", help="stop at TIME")
    cmd.add_argument("--count", type=int, help="exit after N notifications")
    cmd.add_argument("--idle", type=float, metavar="S",
                     help="exit after S seconds without a notification")
    return parser


def connection_params(args: argparse.Namespace) -> ConnectionParams:
    """Resolve the connection options (flag, then environment).

    Raises:
        UsageError: ``--nve`` or the user is missing, or a value is invalid.
    """
    if not args.nve:
        raise UsageError("nvo3-tes: --nve HOST[:PORT] (or NVO3_NVE) is required")
    if not args.user:
        raise UsageError("nvo3-tes: --user (or NVO3_TES_USER) is required")
    password = args.password
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise UsageError(f"nvo3-tes: cannot read {args.password_file}: "
                             f"{error.strerror}") from None
        password = lines[0] if lines else ""
    if password is None:
        password = os.environ.get("NVO3_TES_PASSWORD")
    policy = args.hostkey_policy or ("pinned" if args.hostkey else "known-hosts")
    try:
        host, port = parse_nve(args.nve)
        return ConnectionParams(host, port, username=args.user, password=password,
                                key_file=args.key, hostkey_policy=HostKeyPolicy(policy),
                                host_key=args.hostkey, timeout=args.timeout)
    except ValueError as error:
        raise UsageError(f"nvo3-tes: {error}") from None


# -- output -----------------------------------------------------------------------------

def format_reply(reply: Reply) -> str:
    """A reply as text: a summary line, then one line per assigned tag and the timers."""
    if reply.ok:
        state = reply.vm_state.value if reply.vm_state else "no state"
        head = f"SUCCESS  {reply.operation.value}  vm {reply.vm.vm_id} {state}"
    else:
        reason = reply.reason.value if isinstance(reply.reason, ReplyReason) else reply.reason
        head = f"FAIL  {reply.operation.value}  vm {reply.vm.vm_id}  {reason}"
        if reply.vm_state:
            head += f"  (vm {reply.vm_state.value})"
    lines = [head]
    if reply.error_message:
        lines.append(f"  {reply.error_message}")
    for a in reply.assignments:
        parts = [a.vn_name or f"vnid {a.vnid}"]
        if a.mac:
            parts.append(a.mac)
        elif a.group_id is not None:
            parts.append(f"group {a.group_id}")
        parts.append(f"→ VID {a.vid}")
        if a.pcp is not None:
            parts.append(f"PCP {a.pcp}")
        lines.append("  " + " ".join(parts))
    timers = []
    if reply.keep_alive_interval is not None:
        timers.append(f"keep-alive every {reply.keep_alive_interval} s")
    if reply.aging_time is not None:
        timers.append(f"aging {reply.aging_time} s" if reply.aging_time else "no aging")
    if timers:
        lines.append("  " + ", ".join(timers))
    return "\n".join(lines)


def format_event(event: Event) -> str:
    """A notification as one line of text."""
    stamp = event.event_time.isoformat().replace("+00:00", "Z")
    if isinstance(event, VMStateChanged):
        old = event.old_state.value if event.old_state else "none"
        new = event.new_state.value if event.new_state else "none"
        text = f"vm {event.vm.vm_id}  {event.event.value}: {old} → {new}"
        if event.migrating:
            text += "  (migration)"
        if event.tes_identity:
            text += f"  by {event.tes_identity}"
    elif isinstance(event, VMAgedOut):
        text = (f"vm {event.vm.vm_id}  aged out after {event.idle_time} s idle "
                f"(was {event.last_state.value})")
    elif isinstance(event, LocalChange):
        changes = "; ".join(
            f"{c.vn_name} {c.mac or ''} VID {c.old_vid} → {c.new_vid}"
            + (f" PCP {c.old_pcp} → {c.new_pcp}" if c.new_pcp is not None else "")
            for c in event.changes)
        text = (f"vm {event.vm.vm_id}  change {event.change_id} {event.cause.value}: "
                f"{changes}")
    elif isinstance(event, MigrationProgress):
        text = (f"vm {event.vm.vm_id}  {event.role.value} {event.phase.value} "
                f"{event.result.value.upper()}")
        if event.reason is not None:
            reason = event.reason.value if isinstance(event.reason, ReplyReason) else event.reason
            text += f" {reason}"
    else:
        text = json.dumps(dict(event.content), sort_keys=True) if event.content else ""
    return f"{stamp}  {event.name}  {text}".rstrip()


def format_rpc_error(error: RPCError) -> str:
    """An rpc-error as one line: tag, type, path and message."""
    where = f" at {error.path}" if error.path else ""
    app = f" [{error.app_tag}]" if error.app_tag else ""
    return f"rpc-error {error.tag.value} ({error.type.value}){where}{app}: {error.message}"


def rpc_error_dict(error: RPCError) -> dict[str, object]:
    """An rpc-error as JSON-ready data."""
    data: dict[str, object] = {"error-type": error.type.value, "error-tag": error.tag.value,
                               "error-message": error.message}
    if error.path:
        data["error-path"] = error.path
    if error.app_tag:
        data["error-app-tag"] = error.app_tag
    if error.info:
        data["error-info"] = dict(error.info)
    return data


# -- running ----------------------------------------------------------------------------

def _signal(client: TESClient, args: argparse.Namespace) -> Reply:
    command = args.command
    if command in _ASSOCIATING:
        params = build_association(args)
        if command == "pre-associate":
            return client.pre_associate(params, reserve_resources=args.reserve,
                                        indications=[Indication(i) for i in args.indication])
        if command == "associate":
            return client.associate(params,
                                    indications=[Indication(i) for i in args.indication])
        return client.immigrate(params, phase=ImmigrationPhase(args.phase),
                                reserve_resources=args.reserve, source=migration_peer(args))
    vm = vm_ref(args)
    if command == "emigrate":
        return client.emigrate(vm, destination=migration_peer(args))
    if command == "acknowledge":
        return client.acknowledge_local_change(
            vm, args.change_id, result=Result.FAIL if args.fail else Result.SUCCESS,
            reason=ReplyReason(args.fail) if args.fail else None, error_message=args.message)
    methods: dict[str, Callable[[VMRef], Reply]] = {
        "suspend": client.suspend, "resume": client.resume,
        "terminate": client.terminate, "keep-alive": client.keep_alive,
    }
    return methods[command](vm)


def _subscription(args: argparse.Namespace) -> Subscription:
    if args.xpath:
        if args.event or args.vm:
            raise ValueError("--xpath replaces --event and --vm")
        namespaces = dict(parse_pair("--ns", spec) for spec in args.ns)
        return Subscription(stream=args.stream, xpath=args.xpath, namespaces=namespaces,
                            start_time=args.since, stop_time=args.until)
    vm = VMRef(args.vm, VMIdFormat(args.vm_id_format)) if args.vm else None
    return Subscription.for_events(tuple(args.event), vm=vm, stream=args.stream,
                                   start_time=args.since, stop_time=args.until)


def _watch(client: TESClient, args: argparse.Namespace, out: TextIO) -> int:
    seen = 0
    for event in client.watch(_subscription(args), timeout=args.idle):
        if args.json:
            print(json.dumps(event_to_dict(event)), file=out, flush=True)
        else:
            print(format_event(event), file=out, flush=True)
        if event.name not in ("replayComplete", "notificationComplete"):
            seen += 1
        if args.count is not None and seen >= args.count:
            break
    return EXIT_OK


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run a parsed command line.

    Args:
        args: the parsed options.
        out: where results go (stdout).

    Returns:
        The exit code.

    Raises:
        UsageError: options that cannot be used together or hold invalid values.
        NVEConnectionError: the NVE could not be reached or the session ended.
        RPCError: the NVE answered with an rpc-error (``RPCErrors`` for several).
    """
    params = connection_params(args)
    try:
        # refuse bad option values before connecting
        if args.command == "watch":
            _subscription(args)
        elif args.command in _ASSOCIATING:
            build_association(args)
    except ValueError as error:
        raise UsageError(f"nvo3-tes {args.command}: {error}") from None
    with TESClient(params) as client:
        if args.command == "watch":
            return _watch(client, args, out)
        try:
            reply = _signal(client, args)
        except ValueError as error:
            raise UsageError(f"nvo3-tes {args.command}: {error}") from None
    if args.json:
        print(json.dumps(reply.to_dict()), file=out)
    else:
        print(format_reply(reply), file=out)
    return EXIT_OK if reply.ok else EXIT_REFUSED


def _configure_logging(verbosity: int) -> None:
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)]
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbosity < 2:  # ncclient and paramiko narrate every message at INFO
        for name in ("ncclient", "paramiko"):
            logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run ``nvo3-tes`` with ``argv`` and return the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(args.verbose)
    out = sys.stdout
    try:
        return run(args, out)
    except UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except NVEConnectionError as error:
        print(f"nvo3-tes: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (RPCError, RPCErrors) as failure:
        errors = failure.errors if isinstance(failure, RPCErrors) else (failure,)
        if args.json:
            print(json.dumps({"rpc-error": [rpc_error_dict(e) for e in errors]}), file=out)
        for item in errors:
            print(f"nvo3-tes: {format_rpc_error(item)}", file=sys.stderr)
        return EXIT_REFUSED
    except Nvo3Error as error:  # a reply or notification that breaks the model
        print(f"nvo3-tes: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
