"""``ndirector`` output: exit codes, tables, JSON, transaction results and progress.

Tables and JSON go to stdout; progress, confirmations and errors to stderr.

Public names: :data:`EXIT_OK`, :data:`EXIT_USAGE`, :data:`EXIT_SOME_FAILED`,
:data:`EXIT_NONE_REACHABLE`, :func:`table`, :func:`print_json`, :func:`outcome_code`,
:func:`print_outcome`, :class:`Progress`.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence
from typing import Any, Final, TextIO

from nvo3_netconf.director.controller import ApplyOutcome
from nvo3_netconf.director.transaction import Result, Step

__all__ = ["EXIT_NONE_REACHABLE", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "Progress",
           "outcome_code", "print_json", "print_outcome", "table"]

EXIT_OK: Final = 0
EXIT_USAGE: Final = 1
EXIT_SOME_FAILED: Final = 2
EXIT_NONE_REACHABLE: Final = 3


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns two spaces apart; ``None`` prints as nothing."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in cells]
    return "\n".join(lines)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout."""
    print(json.dumps(data, indent=2, default=str))


def outcome_code(outcome: ApplyOutcome) -> int:
    """The exit code of a transaction: 0, 2 (some NVEs failed) or 3 (none reachable).

    None reachable: every NVE failed to connect, not merely rolled back for another's
    failure (which :attr:`ApplyOutcome.none_reachable` does not tell apart).
    """
    if outcome.results and all(r.unreachable for r in outcome.results):
        return EXIT_NONE_REACHABLE
    return EXIT_OK if outcome.ok else EXIT_SOME_FAILED


def _result_word(result: Result | None) -> str:
    if result is None:
        return "not run"
    if result.ok:
        return "ok"
    return "rolled back" if result.rolled_back else "FAILED"


def print_outcome(outcome: ApplyOutcome) -> None:
    """Per NVE: its item changes and what happened; a dry run's diffs after the table."""
    results = {r.nve: r for r in outcome.results}
    rows = []
    for plan in outcome.plans:
        r = results.get(plan.nve)
        rows.append((plan.nve, f"+{len(plan.added)}/~{len(plan.changed)}/-{len(plan.removed)}",
                     _result_word(r), r.step if r else None, r.error_tag if r else None,
                     r.error_path if r else None,
                     "; ".join(filter(None, [r.error_message, *r.notes])) if r else None))
    print(table(("NVE", "CHANGES", "RESULT", "STEP", "ERROR-TAG", "ERROR-PATH", "MESSAGE"),
                rows))
    if outcome.dry_run:
        for plan in outcome.plans:
            r = results.get(plan.nve)
            print(f"\n# {plan.nve}: " + ("no change" if r is None or not r.diff else ""))
            if r is not None and r.diff:
                print(r.diff, end="")


class Progress:
    """Transaction progress on ``stream``, called from the transaction's workers.

    On a terminal: one line per step, rewritten in place (``[confirmed-commit] 37/50
    NVEs``), failures on lines of their own. Elsewhere: one plain line per NVE and step.

    Args:
        total: the NVEs in the transaction.
        stream: where to write (default stderr).
        tty: force the terminal form (default: ``stream.isatty()``).
    """

    def __init__(self, total: int, *, stream: TextIO | None = None,
                 tty: bool | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._done: dict[Step, int] = {}
        self._failed: dict[Step, int] = {}
        self._open: Step | None = None
        self._lock = threading.Lock()

    def __call__(self, step: Step, result: Result) -> None:
        """Count ``result`` (one NVE finished ``step``) and show it."""
        with self._lock:
            done = self._done[step] = self._done.get(step, 0) + 1
            if not result.ok:
                self._failed[step] = self._failed.get(step, 0) + 1
            if not self.tty:
                state = "ok" if result.ok else f"FAILED: {result.error_message}"
                print(f"[{step}] {done}/{self.total} {result.nve}: {state}", file=self.stream,
                      flush=True)
                return
            if self._open is not None and self._open is not step:
                self.stream.write("\n")
            if not result.ok:
                self.stream.write(f"\r\x1b[K{result.nve}: FAILED at {step}: "
                                  f"{result.error_message}\n")
            failed = self._failed.get(step, 0)
            self.stream.write(f"\r\x1b[K[{step}] {done}/{self.total} NVEs"
                              + (f" ({failed} failed)" if failed else ""))
            self._open = step
            if done >= self.total:
                self.stream.write("\n")
                self._open = None
            self.stream.flush()

    def close(self) -> None:
        """End a line left open (a step some NVEs did not reach)."""
        with self._lock:
            if self._open is not None:
                self.stream.write("\n")
                self.stream.flush()
                self._open = None
