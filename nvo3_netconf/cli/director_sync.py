"""``ndirector sync`` and ``ndirector migrate``: drift repair and VM migration.

- ``sync check [NVE...]``: what each NVE's running configuration lacks (``missing``),
  holds differently (``changed``) or holds besides (``added``), with paths; exit 2 when
  any NVE drifted, 3 when none could be read.
- ``sync repair [NVE...] [--dry-run] [--from-device]``: make them match again as one
  network-wide transaction; ``--from-device`` takes the NVEs' versions as the intent
  instead, where the registry can hold them.
- ``vm migrate VM... --to NVE [--vserver VS]``: the migration coordinator (seed 002):
  the VMs move together; one line per VM with SUCCESS or FAIL and the reason.
- ``vm migrations [--active] [--recover]``: the migration journal; ``--recover`` first
  finishes or undoes what a stopped nDirector left in the middle.

Public names: :func:`add_commands`, :func:`add_vm_commands`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from nvo3_netconf.cli.director_output import (
    EXIT_NONE_REACHABLE,
    EXIT_OK,
    EXIT_SOME_FAILED,
    outcome_code,
    print_json,
    print_outcome,
    table,
)
from nvo3_netconf.cli.director_run import push_options
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.migration import Coordinator, Migration, Phase

__all__ = ["add_commands", "add_vm_commands"]


def _check(args: argparse.Namespace, director: Director) -> int:
    checked = director.sync_check(args.nve or None)
    failed = {n: str(e) for n, e in checked.items() if isinstance(e, Exception)}
    drifted = {n: d for n, d in checked.items()
               if not isinstance(d, Exception) and d}
    if args.json:
        print_json({n: ({"error": str(d)} if isinstance(d, Exception)
                        else [x.to_json() for x in d]) for n, d in checked.items()})
    else:
        rows = []
        for nve, differences in sorted(checked.items()):
            if isinstance(differences, Exception):
                rows.append((nve, "UNREACHABLE", "", str(differences)))
            elif not differences:
                rows.append((nve, "in sync", "", ""))
            for d in [] if isinstance(differences, Exception) else differences:
                rows.append((nve, d.kind, d.key, d.detail))
        print(table(("NVE", "STATE", "PATH", "DETAIL"), rows))
    if checked and len(failed) == len(checked):
        return EXIT_NONE_REACHABLE
    return EXIT_SOME_FAILED if failed or drifted else EXIT_OK


def _repair(args: argparse.Namespace, director: Director) -> int:
    outcome = director.repair(args.nve or None, from_device=args.from_device,
                              dry_run=args.dry_run)
    if args.json:
        print_json(outcome.to_json())
    elif not outcome.plans:
        print("every NVE is in sync", file=sys.stderr)
    elif args.from_device:
        print("\n".join(outcome.notes))
    else:
        for plan in outcome.plans:
            print(f"# {plan.nve}: {plan.count} items to repair")
            print("\n".join(plan.lines()))
        print_outcome(outcome)
    return EXIT_OK if args.from_device else outcome_code(outcome)


def _print_migration(m: Migration) -> None:
    word = {Phase.DONE: "SUCCESS", Phase.ROLLED_BACK: "FAIL"}.get(m.phase, m.phase.value)
    print(f"{m.vm_id}: {m.source} -> {m.destination}: {word}"
          + (f" ({m.reason})" if m.reason else ""), file=sys.stderr)


def _migrate(args: argparse.Namespace, director: Director) -> int:
    progress = _print_migration if args.verbose_progress else None
    coordinator = Coordinator(director, workers=args.workers, progress=progress)
    migrations = coordinator.migrate(args.vm, args.to, vserver=args.vserver)
    if args.json:
        print_json([m.to_json() for m in migrations])
    else:
        print(table(("VM", "FROM", "TO", "RESULT", "REASON"),
                    [(m.vm_id, m.source, m.destination,
                      "SUCCESS" if m.result == "success" else "FAIL", m.reason)
                     for m in migrations]))
    failed = sum(1 for m in migrations if m.result != "success")
    if failed == 0:
        return EXIT_OK
    return EXIT_NONE_REACHABLE if failed == len(migrations) else EXIT_SOME_FAILED


def _migrations(args: argparse.Namespace, director: Director) -> int:
    coordinator = Coordinator(director)
    if args.recover:
        coordinator.recover()
    migrations = coordinator.log.active() if args.active else coordinator.log.all()
    if args.json:
        print_json([m.to_json() for m in migrations])
        return EXIT_OK
    print(table(("ID", "VM", "FROM", "TO", "PHASE", "RESULT", "UPDATED", "REASON"),
                [(m.id, m.vm_id, m.source, m.destination, m.phase.value, m.result or "",
                  datetime.fromtimestamp(m.updated).isoformat(timespec="seconds"),
                  m.reason) for m in migrations]))
    return EXIT_OK


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sync`` to the ``ndirector`` parser."""
    sync = commands.add_parser("sync", help="drift: compare the NVEs with the intent, "
                                            "and repair").add_subparsers(
        dest="sync_command", required=True)
    check = sync.add_parser("check", help="show what each NVE lacks, changed or added")
    check.add_argument("nve", nargs="*", help="NVEs (default all)")
    check.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(run=_check)
    repair = sync.add_parser("repair", help="make the NVEs match the intent again")
    repair.add_argument("nve", nargs="*", help="NVEs (default all)")
    repair.add_argument("--dry-run", action="store_true", help="validate, change nothing")
    repair.add_argument("--from-device", action="store_true",
                        help="take the NVEs' versions as the intent instead")
    push_options(repair)
    repair.set_defaults(run=_repair)


def add_vm_commands(vm: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``migrate`` and ``migrations`` to ``ndirector vm``."""
    migrate = vm.add_parser("migrate", help="migrate VMs to another NVE (the "
                                                  "coordinator of seed 002)")
    migrate.add_argument("vm", nargs="+", help="the VMs (moved together)")
    migrate.add_argument("--to", required=True, metavar="NVE", help="the destination NVE")
    migrate.add_argument("--vserver", help="the destination vServer (default: the first "
                                           "behind the NVE)")
    migrate.add_argument("--progress", dest="verbose_progress", action="store_true",
                         help="print each phase on stderr")
    push_options(migrate)
    migrate.set_defaults(run=_migrate)

    journal = vm.add_parser("migrations", help="the migration journal")
    journal.add_argument("--active", action="store_true", help="only unfinished ones")
    journal.add_argument("--recover", action="store_true",
                         help="first finish or undo what a stopped nDirector left")
    journal.add_argument("--json", action="store_true", help="print JSON")
    journal.set_defaults(run=_migrations)


