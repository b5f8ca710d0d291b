"""``ndirector``: the nDirector controller (a thin layer over ``nvo3_netconf.director``).

Usage::

    ndirector [--store PATH] [-v] nve add NAME --address A [--port P] --user U
              (--password-file F | --key K) [--dc DC] [--underlay IP]
              [--hostkey-policy known-hosts|pinned|accept-any] [--hostkey KEY]
    ndirector nve list [--json]
    ndirector nve remove NAME
    ndirector nve status [--nve N ...] [--json]
    ndirector push FILE [--nve N ...] [--dry-run] [--confirm-timeout S] [--json]

The store is ``--store``, else ``$NDIRECTOR_STORE``, else
``$XDG_DATA_HOME/ndirector/inventory.sqlite``. Tables go to stdout, ``--json`` prints
JSON instead; progress and logs go to stderr.

The registry (:mod:`.director_registry`, :mod:`.director_vm`) and the daemon
(:mod:`.director_run`) have modules of their own::

    ndirector tenant add|list|remove ...     ndirector vn add|list|remove ...
    ndirector policy acl|qos add NAME FILE   ndirector policy list|remove ...
    ndirector vserver add|list|remove ...
    ndirector vm register|deregister|list|lookup|relocate|report|reports ...
    ndirector vm group add|list|remove|register|deregister ...
    ndirector apply [--dry-run] [--full] [--nve N]
    ndirector diff [--exact] [--nve N]
    ndirector run [--json]                   ndirector watch [--json] [--count N]
    ndirector vm migrate VM... --to NVE      ndirector vm migrations [--active]
    ndirector sync check [NVE...]            ndirector sync repair [NVE...] [--from-device]

A command that changes the registry pushes the change at once (``--no-push`` leaves it
pending for ``ndirector apply``).

Exit codes: 0 ok; 1 usage or configuration error; 2 some NVEs failed; 3 no NVE was
reachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nvo3_netconf.cli import director_registry, director_run, director_sync, director_vm
from nvo3_netconf.cli.director_output import (
    EXIT_NONE_REACHABLE,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    Progress,
    table,
)
from nvo3_netconf.director.client import DeviceClient
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.db import StoreError
from nvo3_netconf.director.inventory import Inventory, InventoryError, NVERecord
from nvo3_netconf.director.transaction import (
    NetworkTransaction,
    NetworkTransactionError,
)
from nvo3_netconf.errors import Nvo3Error, RPCError
from nvo3_netconf.protocol.xml import parse_xml
from nvo3_netconf.tes.connection import HostKeyPolicy

logger = logging.getLogger("ndirector")


def _default_store() -> Path:
    if os.environ.get("NDIRECTOR_STORE"):
        return Path(os.environ["NDIRECTOR_STORE"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ndirector" / "inventory.sqlite"


def _clients(records: Sequence[NVERecord], timeout: float) -> dict[str, DeviceClient]:
    return {r.name: DeviceClient(r.name, r.connection_params(timeout=timeout))
            for r in records}


def _select(inventory: Inventory, names: Sequence[str] | None) -> list[NVERecord]:
    if not names:
        records = inventory.list()
        if not records:
            raise InventoryError("the inventory holds no NVE (ndirector nve add ...)")
        return records
    return [inventory.get(name) for name in dict.fromkeys(names)]


# -- nve -----------------------------------------------------------------------------------


def _nve_add(args: argparse.Namespace, director: Director) -> int:
    inventory = director.inventory
    policy = HostKeyPolicy(args.hostkey_policy or
                           (HostKeyPolicy.PINNED if args.hostkey else HostKeyPolicy.KNOWN_HOSTS))
    for path in (args.password_file, args.key):
        if path is not None and not path.is_file():
            raise InventoryError(f"{path} is not a file")
    record = NVERecord(
        name=args.name, address=args.address, port=args.port, username=args.user,
        password_file=args.password_file.resolve() if args.password_file else None,
        key_file=args.key.resolve() if args.key else None, data_centre=args.dc,
        underlay_address=args.underlay, hostkey_policy=policy, host_key=args.hostkey)
    record.connection_params()  # checks the host key and port now, not at first use
    inventory.add(record)
    print(f"added {record.name} ({record.address}:{record.port})", file=sys.stderr)
    return EXIT_OK


def _nve_list(args: argparse.Namespace, director: Director) -> int:
    inventory = director.inventory
    records = inventory.list()
    if args.json:
        print(json.dumps([r.to_json() for r in records], indent=2))
    else:
        print(table(("NAME", "ADDRESS", "PORT", "USER", "AUTH", "DC", "UNDERLAY"),
                     [(r.name, r.address, r.port, r.username,
                       "key" if r.key_file else "password" if r.password_file else "agent",
                       r.data_centre, r.underlay_address) for r in records]))
    return EXIT_OK


def _nve_remove(args: argparse.Namespace, director: Director) -> int:
    inventory = director.inventory
    inventory.remove(args.name)
    print(f"removed {args.name}", file=sys.stderr)
    return EXIT_OK


def _status_of(client: DeviceClient) -> dict[str, Any]:
    status: dict[str, Any] = {"nve": client.name, "address": client.params.peer,
                              "reachable": False, "session-id": None, "capabilities": 0,
                              "candidate": None, "lock": None, "error": None}
    try:
        client.connect()
        status.update({"reachable": True, "session-id": client.session_id,
                       "capabilities": len(client.capabilities),
                       "candidate": client.has_candidate})
        status["lock"] = client.lock_state()
    except (Nvo3Error, OSError) as error:
        status["error"] = str(error)
    finally:
        client.close()
    return status


def _nve_status(args: argparse.Namespace, director: Director) -> int:
    inventory = director.inventory
    clients = _clients(_select(inventory, args.nve), args.timeout)
    with ThreadPoolExecutor(max_workers=min(args.workers, len(clients))) as pool:
        statuses = list(pool.map(_status_of, clients.values()))
    if args.json:
        print(json.dumps(statuses, indent=2))
    else:
        print(table(("NVE", "ADDRESS", "REACHABLE", "SESSION", "CAPS", "CANDIDATE", "LOCK",
                      "ERROR"),
                     [(s["nve"], s["address"], "yes" if s["reachable"] else "no",
                       s["session-id"], s["capabilities"] if s["reachable"] else "",
                       {True: "yes", False: "no", None: ""}[s["candidate"]], s["lock"],
                       s["error"]) for s in statuses]))
    reachable = sum(1 for s in statuses if s["reachable"])
    if reachable == 0:
        return EXIT_NONE_REACHABLE
    return EXIT_OK if reachable == len(statuses) else EXIT_SOME_FAILED


# -- push ----------------------------------------------------------------------------------


def _push(args: argparse.Namespace, director: Director) -> int:
    inventory = director.inventory
    try:
        config = parse_xml(args.file.read_bytes())
    except OSError as error:
        raise InventoryError(f"cannot read {args.file}: {error.strerror}") from None
    except RPCError as error:
        raise InventoryError(f"{args.file} is not XML: {error.message}") from None
    clients = _clients(_select(inventory, args.nve), args.timeout)
    progress = Progress(len(clients))
    transaction = NetworkTransaction.same_config(
        clients, config, confirm_timeout=args.confirm_timeout, max_workers=args.workers,
        progress=progress)
    code = EXIT_OK
    try:
        results = transaction.run(dry_run=args.dry_run)
    except NetworkTransactionError as error:
        results = error.results
        code = EXIT_NONE_REACHABLE if error.none_reachable else EXIT_SOME_FAILED
    finally:
        progress.close()
        for client in clients.values():
            client.close()
    if args.json:
        print(json.dumps({"dry-run": args.dry_run, "ok": code == EXIT_OK,
                          "results": [r.to_json() for r in results]}, indent=2))
        return code
    print(table(("NVE", "RESULT", "STEP", "ERROR-TAG", "ERROR-PATH", "MESSAGE"),
                 [(r.nve, "ok" if r.ok else "rolled back" if r.rolled_back else "FAILED",
                   r.step, r.error_tag, r.error_path,
                   "; ".join(filter(None, [r.error_message, *r.notes])))
                  for r in results]))
    if args.dry_run:
        for r in results:
            print(f"\n# {r.nve}: " + ("no change" if not r.diff else ""))
            if r.diff:
                print(r.diff, end="")
    return code


# -- parser --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndirector", description="the nDirector controller",
        epilog="exit codes: 0 ok, 1 usage/configuration, 2 some NVEs failed, "
               "3 no NVE reachable")
    parser.add_argument("--store", type=Path, default=None,
                        help="the SQLite inventory (default $NDIRECTOR_STORE or "
                             "$XDG_DATA_HOME/ndirector/inventory.sqlite)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-vv for the NETCONF messages)")
    commands = parser.add_subparsers(dest="command", required=True)

    nve = commands.add_parser("nve", help="the NVE inventory").add_subparsers(
        dest="nve_command", required=True)
    add = nve.add_parser("add", help="add an NVE")
    add.add_argument("name")
    add.add_argument("--address", required=True, help="NETCONF address")
    add.add_argument("--port", type=int, default=830, help="NETCONF port (default 830)")
    add.add_argument("--user", required=True, help="SSH user")
    secret = add.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password-file", type=Path,
                        help="file whose first line is the password (the path is stored)")
    secret.add_argument("--key", type=Path, help="SSH private key file (the path is stored)")
    add.add_argument("--dc", help="data centre")
    add.add_argument("--underlay", metavar="IP", help="underlay address")
    add.add_argument("--hostkey-policy", choices=[p.value for p in HostKeyPolicy],
                     help="host key check (default known-hosts; pinned with --hostkey)")
    add.add_argument("--hostkey", metavar="KEY", help="the pinned SSH host key")
    add.set_defaults(run=_nve_add)

    listing = nve.add_parser("list", help="list the NVEs")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=_nve_list)

    remove = nve.add_parser("remove", help="remove an NVE")
    remove.add_argument("name")
    remove.set_defaults(run=_nve_remove)

    status = nve.add_parser("status", help="connect and report each NVE's state")
    _remote_options(status)
    status.set_defaults(run=_nve_status)

    push = commands.add_parser("push", help="apply a <config> file to NVEs as one "
                                            "network-wide transaction")
    push.add_argument("file", type=Path, help="the <config> XML")
    push.add_argument("--dry-run", action="store_true",
                      help="show each NVE's diff and change nothing")
    push.add_argument("--confirm-timeout", type=int, default=120, metavar="S",
                      help="confirmed-commit timeout (default 120 s)")
    _remote_options(push)
    push.set_defaults(run=_push)

    director_registry.add_commands(commands)
    director_sync.add_vm_commands(director_vm.add_commands(commands))
    director_run.add_commands(commands)
    director_sync.add_commands(commands)
    return parser


def _remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nve", action="append", metavar="NAME",
                        help="only this NVE (repeatable; default all)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--workers", type=int, default=16, help="NVEs handled at once")
    parser.add_argument("--json", action="store_true", help="print JSON")


def main(argv: list[str] | None = None) -> int:
    """Run ``ndirector`` with ``argv`` and return the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code in (0, None) else EXIT_USAGE
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                            stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.verbose < 2:  # ncclient and paramiko narrate every message at INFO
            for name in ("ncclient", "paramiko"):
                logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with Director(args.store or _default_store(), timeout=getattr(args, "timeout", 30.0),
                      workers=getattr(args, "workers", 16),
                      confirm_timeout=getattr(args, "confirm_timeout", 120)) as director:
            return int(args.run(args, director))
    except (StoreError, ValueError) as error:
        print(f"ndirector: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
