"""``ndirector apply``, ``diff``, ``run`` and ``watch``: intent to network, and the daemon.

- ``apply [--dry-run] [--full] [--nve N]``: push what the registry wants and the NVEs
  lack, as one network-wide transaction (a dry run shows each NVE's exact diff).
- ``diff [--nve N] [--exact]``: the item changes (``+``/``~``/``-``) each NVE needs;
  ``--exact`` asks the NVEs for their own unified diffs (a dry run).
- ``run``: the daemon: a :class:`~nvo3_netconf.director.reactor.Reactor` follows every
  NVE's notifications and keeps the network in step; one line per event (JSON lines with
  ``--json``) until SIGINT or SIGTERM.
- ``watch [--event NAME] [--count N]``: the NVEs' notifications, live, reacting to none.

Registry commands push their change with :func:`push_change`.

Public names: :func:`add_commands`, :func:`push_change`, :func:`push_options`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType
from typing import Any

from nvo3_netconf.cli.director_output import (
    EXIT_OK,
    Progress,
    outcome_code,
    print_json,
    print_outcome,
)
from nvo3_netconf.cli.tes import format_event
from nvo3_netconf.director.controller import ApplyOutcome, Director
from nvo3_netconf.director.reactor import Reactor, ReactorEvent
from nvo3_netconf.tes.events import event_to_dict

__all__ = ["add_commands", "push_change", "push_options"]


def push_options(parser: argparse.ArgumentParser, *, nve: bool = False) -> None:
    """Options of the commands that push to NVEs."""
    if nve:
        parser.add_argument("--nve", action="append", metavar="NAME",
                            help="only this NVE (repeatable; default all)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--workers", type=int, default=16, help="NVEs handled at once")
    parser.add_argument("--confirm-timeout", type=int, default=120, metavar="S",
                        help="confirmed-commit timeout (default 120 s)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _apply(director: Director, nves: list[str] | None, *, dry_run: bool = False,
           full: bool = False) -> ApplyOutcome:
    if full:
        total = sum(1 for n, items in director.render().items()
                    if items and (nves is None or n in nves))
    else:
        total = len(director.plan(nves))
    progress = Progress(total)
    director.progress = progress
    try:
        return director.apply(nves, dry_run=dry_run, full=full)
    finally:
        director.progress = None
        progress.close()


def push_change(args: argparse.Namespace, director: Director, changed: Any) -> int:
    """After a registry change: push it (unless ``--no-push``) and report both.

    Args:
        args: the command's options (``no_push``, ``json``).
        director: the controller.
        changed: JSON-ready data describing the change.

    Returns:
        The exit code of the push (0 when nothing was pushed).
    """
    outcome = None if args.no_push else _apply(director, None)
    if args.json:
        print_json({"changed": changed,
                    "apply": outcome.to_json() if outcome is not None else None})
    elif outcome is not None and outcome.plans:
        print_outcome(outcome)
    if outcome is None:
        print("not pushed (ndirector apply pushes it)", file=sys.stderr)
    elif not outcome.plans:
        print("no NVE needs a change", file=sys.stderr)
    elif not outcome.ok:
        print("the registry keeps the change; ndirector apply retries the push",
              file=sys.stderr)
    return outcome_code(outcome) if outcome is not None else EXIT_OK


# -- apply, diff ---------------------------------------------------------------------------


def _apply_command(args: argparse.Namespace, director: Director) -> int:
    outcome = _apply(director, args.nve, dry_run=args.dry_run, full=args.full)
    if args.json:
        print_json(outcome.to_json())
    elif not outcome.plans:
        print("every NVE is up to date", file=sys.stderr)
    else:
        print_outcome(outcome)
    return outcome_code(outcome)


def _diff(args: argparse.Namespace, director: Director) -> int:
    if args.exact:
        return _apply_command(argparse.Namespace(
            nve=args.nve, dry_run=True, full=False, json=args.json), director)
    plans = director.plan(args.nve)
    if args.json:
        print_json([p.to_json() for p in plans])
    elif not plans:
        print("every NVE is up to date", file=sys.stderr)
    for i, plan in enumerate([] if args.json else plans):
        print(("\n" if i else "") + f"# {plan.nve}: {plan.count} item changes")
        print("\n".join(plan.lines()))
    return EXIT_OK


# -- run, watch ----------------------------------------------------------------------------


@contextmanager
def _until_signalled(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (handlers installed from the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, action in previous.items():
            signal.signal(number, action)


def _stamp(event: ReactorEvent) -> str:
    return datetime.fromtimestamp(event.time).astimezone().isoformat(timespec="milliseconds")


def _event_json(event: ReactorEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"time": _stamp(event), "kind": event.kind, "nve": event.nve,
                            "message": event.message}
    if event.event is not None:
        data["notification"] = event_to_dict(event.event)
    if event.outcome is not None:
        data["outcome"] = event.outcome.to_json()
    return data


def _event_lines(event: ReactorEvent) -> list[str]:
    lines = [f"{_stamp(event)}  {event.kind:<12}  {event.nve or '-':<8}  {event.message}"]
    if event.outcome is not None:
        for r in event.outcome.results:
            if not r.ok:
                lines.append(f"    {r.nve}: FAILED at {r.step}: {r.error_tag or ''} "
                             f"{r.error_message or ''}".rstrip())
    return lines


def _run(args: argparse.Namespace, director: Director) -> int:
    lock = threading.Lock()

    def report(event: ReactorEvent) -> None:
        text = (json.dumps(_event_json(event), default=str) if args.json
                else "\n".join(_event_lines(event)))
        with lock:
            print(text, flush=True)

    stop = threading.Event()
    with _until_signalled(stop):
        reactor = Reactor(director, report=report, repair=not args.no_repair,
                          batch_window=args.batch_window).start()
        print(f"ndirector: watching {len(director.inventory.list())} NVEs; "
              "SIGINT or SIGTERM stops", file=sys.stderr, flush=True)
        try:
            stop.wait()
        finally:
            reactor.stop()
    print("ndirector: stopped", file=sys.stderr, flush=True)
    return EXIT_OK


def _watch(args: argparse.Namespace, director: Director) -> int:
    lock = threading.Lock()
    stop = threading.Event()
    seen = 0

    def report(event: ReactorEvent) -> None:
        nonlocal seen
        with lock:
            if event.event is None:
                print(f"{event.nve}: {event.kind}: {event.message}", file=sys.stderr,
                      flush=True)
                return
            if stop.is_set() or (args.event and event.event.name not in args.event):
                return
            if args.json:
                print(json.dumps({"nve": event.nve, **event_to_dict(event.event)},
                                 default=str), flush=True)
            else:
                print(f"{event.nve:<8}  {format_event(event.event)}", flush=True)
            seen += 1
            if args.count is not None and seen >= args.count:
                stop.set()

    with _until_signalled(stop):
        reactor = Reactor(director, report=report, react=False).start()
        try:
            stop.wait()
        finally:
            reactor.stop()
    return EXIT_OK


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``apply``, ``diff``, ``run`` and ``watch``."""
    apply = commands.add_parser("apply", help="push the pending intent to the NVEs")
    apply.add_argument("--dry-run", action="store_true",
                       help="validate on the NVEs and show each one's diff; change nothing")
    apply.add_argument("--full", action="store_true",
                       help="resend everything, as if the NVEs held nothing")
    push_options(apply, nve=True)
    apply.set_defaults(run=_apply_command)

    diff = commands.add_parser("diff", help="the changes each NVE needs")
    diff.add_argument("--exact", action="store_true",
                      help="the NVEs' own unified diffs (a dry-run transaction)")
    push_options(diff, nve=True)
    diff.set_defaults(run=_diff)

    run = commands.add_parser("run", help="the daemon: follow the NVEs' notifications and "
                                          "keep the network in step")
    run.add_argument("--no-repair", action="store_true",
                     help="report an NVE that comes back drifted (restarted empty, or edited) "
                          "but do not repair it")
    run.add_argument("--batch-window", type=float, default=0.05, metavar="S",
                     help="seconds to gather a burst of events into one transaction")
    push_options(run)
    run.set_defaults(run=_run)

    watch = commands.add_parser("watch", help="print the NVEs' notifications live")
    watch.add_argument("--event", action="append", metavar="NAME",
                       help="only notifications of this name (repeatable), e.g. "
                            "vm-state-changed")
    watch.add_argument("--count", type=int, metavar="N", help="exit after N notifications")
    watch.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    watch.add_argument("--json", action="store_true", help="print JSON lines")
    watch.set_defaults(run=_watch)
