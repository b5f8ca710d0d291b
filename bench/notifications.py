"""What a notification subscriber costs an editor (issue 4, "Notifications (RFC 5277)").

Goal: an edit of 10,000 entries with one ``netconf-config-change`` subscriber attached
costs at most 1.2x the same edit with none.

Run from the repository root::

    .venv/bin/python bench/notifications.py [--entries 10000] [--repeats 7] [--rounds 2]

It starts our agent (``nvo3-nve serve``, built-in SSH, as ``bench/run.py`` does) in a
temporary directory with the test module, and times ``<edit-config>`` requests from the
raw client of ``client.py`` (client-observed: first byte sent to last byte of the
reply), alternately with no subscriber and with one subscriber (a second session that
ran ``<create-subscription>`` on the NETCONF stream and reads every notification), in
ABBA order: over a run the edit itself slows down a little (with no notification at
all too), which would otherwise count against the second of the two.
Each edit changes ``--entries`` entries of ``/nt:bulk/nt:entry``, so its
``netconf-config-change`` lists that many ``<edit>`` s:

- ``create``: merge N new entries into the list (N ``create`` edits);
- ``replace``: merge N new values into existing entries (N ``replace`` edits).

Two ways of running them:

- ``isolated``: one edit at a time, then ``--gap`` seconds of quiet (longer than the
  notification's build, log and delivery, which is checked) before the next: the cost
  of one edit while a subscriber is attached;
- ``back-to-back``: ``--repeats`` edits in a row with no pause, so the building,
  logging and sending of each notification overlaps the following edits.

With or without a subscriber the agent builds each notification and appends it to its
replay log; the subscriber adds its queue, its filter-less serialization and the SSH
send. The medians and their ratio (with / without) are printed; the goal is judged on
the isolated medians, and both are reported.

Exit codes: 0 measured (whatever the ratio), 1 the agent could not be started.
"""

from __future__ import annotations

import argparse
import getpass
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import workload  # noqa: E402
from agent import OurAgent  # noqa: E402
from client import NetconfClient, SessionClosed  # noqa: E402
from processes import StartError, make_client_key  # noqa: E402

MODULE = ROOT / "tests" / "yang" / "modules" / "nvo3-test@2026-11-21.yang"
NS_NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
GOAL = 1.2


class Subscriber:
    """A session subscribed to the NETCONF stream; a thread reads every notification."""

    def __init__(self, connect: Callable[[], NetconfClient], *, base: int) -> None:
        self.base = base  # edits made before it subscribed (not notified to it)
        self.client = connect()
        reply = self.client.send_rpc(self.client.rpc_bytes(
            f'<create-subscription xmlns="{NS_NOTIF}"/>'.encode()))
        if not reply.ok:
            raise RuntimeError(f"create-subscription failed: {reply.error}")
        self.changes = 0  # netconf-config-change notifications received
        self.arrivals: list[float] = []
        self.largest = 0  # bytes of the largest notification
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                message = self.client.receive()
            except (SessionClosed, OSError, EOFError):
                return
            if b"netconf-config-change" in message[:600]:
                with self._cond:
                    self.changes += 1
                    self.largest = max(self.largest, len(message))
                    self.arrivals.append(time.perf_counter())
                    self._cond.notify_all()

    def wait_for(self, edits: int, timeout: float = 120) -> float:
        """Block until the notification of the editor's ``edits``-th edit arrived.

        Returns:
            When it arrived (``time.perf_counter()``).
        """
        changes = edits - self.base
        with self._cond:
            if not self._cond.wait_for(lambda: self.changes >= changes, timeout):
                raise TimeoutError(f"{self.changes} of {changes} notifications arrived")
            return self.arrivals[changes - 1]

    def close(self) -> None:
        self.client.abort()
        self._thread.join(5)


class Bench:
    """The agent, the editor session and the workloads."""

    def __init__(self, connect: Callable[[], NetconfClient], entries: int, gap: float) -> None:
        self.connect = connect
        self.entries = entries
        self.gap = gap
        self.editor = connect()
        self.generation = 0
        self.edits = 0  # edits made, each of which changes running (one notification)
        self.lags: list[float] = []  # seconds from an edit's reply to its notification
        self.sizes: list[int] = []

    def edit(self, request: bytes) -> float:
        """Send one edit-config that changes running; its client-observed seconds."""
        reply = self.editor.send_rpc(self.editor.rpc_bytes(request))
        if not reply.ok:
            raise RuntimeError(f"edit-config failed: {reply.error}")
        self.edits += 1
        return reply.elapsed

    def reset(self) -> None:
        """An empty ``bulk`` holding entry 0 (so N new entries are N creations)."""
        self.edit(workload.remove_all())
        self.edit(workload.merge_entries(0, 1))

    def one(self, kind: str, subscriber: Subscriber | None) -> float:
        """Time one edit of ``kind`` (untimed set-up before it)."""
        n = self.entries
        if kind == "create":
            self.reset()
            request = workload.merge_entries(1, n)
        else:
            self.generation += 1
            request = workload.merge_entries(1, n, self.generation)
        elapsed = self.edit(request)
        replied = time.perf_counter()
        if subscriber is not None:
            self.lags.append(subscriber.wait_for(self.edits) - replied)
        return elapsed

    def isolated(self, kind: str, subscriber: Subscriber | None, repeats: int) -> list[float]:
        if kind == "replace":
            self.reset()
            self.edit(workload.merge_entries(1, self.entries))
        samples = []
        for _ in range(repeats):
            time.sleep(self.gap)  # the previous notification is built, logged and sent
            samples.append(self.one(kind, subscriber))
        return samples

    def back_to_back(self, kind: str, subscriber: Subscriber | None,
                     repeats: int) -> list[float]:
        n = self.entries
        self.reset()
        if kind == "replace":
            self.edit(workload.merge_entries(1, n))
        time.sleep(self.gap)
        samples = []
        for i in range(repeats):
            if kind == "create":
                # alternately create the N entries and delete them: N changes each time
                request = (workload.merge_entries(1, n) if i % 2 == 0
                           else _delete_entries(1, n))
            else:
                self.generation += 1
                request = workload.merge_entries(1, n, self.generation)
            samples.append(self.edit(request))
        if subscriber is not None:
            subscriber.wait_for(self.edits)
        return samples


def _delete_entries(start: int, count: int) -> bytes:
    config = workload.entries_config(start, count)
    operation = f"{{{workload.NS_NC}}}operation"
    for entry in config.iter(f"{{{workload.NS_TEST}}}entry"):
        entry.set(operation, "delete")
        value = entry.find(f"{{{workload.NS_TEST}}}value")
        if value is not None:
            entry.remove(value)
    return workload.edit_config(config)


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/notifications.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7, help="edits per measurement")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of without / with a subscriber, in ABBA order")
    parser.add_argument("--gap", type=float, default=1.5,
                        help="quiet seconds before each isolated edit")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="nvo3-bench-notif-"))
    try:
        key, public_key = make_client_key(workdir)
        yang_dir = workdir / "yang"
        yang_dir.mkdir()
        shutil.copy(MODULE, yang_dir / MODULE.name)
        user = getpass.getuser()
        (workdir / "ours").mkdir()
        with OurAgent(workdir / "ours", user=user, public_key=public_key,
                      yang_dir=yang_dir) as agent:

            def connect() -> NetconfClient:
                return NetconfClient("127.0.0.1", agent.port, user=user, key_file=key)

            bench = Bench(connect, args.entries, args.gap)
            results: dict[tuple[str, str, int], list[float]] = {}
            for round_ in range(args.rounds):
                # ABBA order: the edit's own drift over a run (it exists without any
                # notification) cancels out instead of favouring whichever runs first
                for subscribers in ((0, 1) if round_ % 2 == 0 else (1, 0)):
                    subscriber = (Subscriber(connect, base=bench.edits) if subscribers
                                  else None)
                    try:
                        for kind in ("create", "replace"):
                            results.setdefault(("isolated", kind, subscribers), []).extend(
                                bench.isolated(kind, subscriber, args.repeats))
                            results.setdefault(("back-to-back", kind, subscribers), []).extend(
                                bench.back_to_back(kind, subscriber, args.repeats))
                    finally:
                        if subscriber is not None:
                            bench.sizes.append(subscriber.largest)
                            subscriber.close()
            bench.editor.close()
    except StartError as error:
        print(f"bench/notifications.py: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    n = args.entries
    print(f"edit-config of {n:,} entries, median of {args.repeats * args.rounds} "
          f"(client-observed, SSH on loopback)")
    print(f"{'mode':<13} {'edit':<8} {'no subscriber':>14} {'1 subscriber':>14} {'ratio':>7}")
    ratios = {}
    for mode in ("isolated", "back-to-back"):
        for kind in ("create", "replace"):
            none, one = results[(mode, kind, 0)], results[(mode, kind, 1)]
            ratio = statistics.median(one) / statistics.median(none)
            ratios[(mode, kind)] = ratio
            print(f"{mode:<13} {kind:<8} {_median_ms(none):>14} {_median_ms(one):>14} "
                  f"{ratio:6.2f}x")
    lag = statistics.median(bench.lags) * 1000
    print(f"notification of an isolated edit: median {lag:.0f} ms after the reply, "
          f"the largest {max(bench.sizes) / 1e6:.2f} MB")
    worst = max(ratios[("isolated", kind)] for kind in ("create", "replace"))
    verdict = "PASS" if worst <= GOAL else "FAIL"
    print(f"goal: isolated edit with a subscriber <= {GOAL}x without: {worst:.2f}x {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
