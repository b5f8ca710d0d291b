"""The measurements, run the same way against each server.

All times are client-observed (from the first byte of the request sent to the last byte
of the reply received, over SSH on loopback); the same client and the same requests are
used for every server. The small requests and the concurrent load, whose goals are
ratios to netconfd, are measured in rounds that alternate between the servers, so a
slow spell of the machine (other tenants of a virtual machine) weighs on all of them
alike rather than on whichever server it happened to meet. A measurement that fails (an ``<rpc-error>``, a closed session, a
time limit) is recorded as a :class:`Figure` without a value and a note saying why; the
run goes on.

Public names: :class:`Figure`, :class:`Options`, :class:`Server`, :func:`run_all`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import workload
from client import NetconfClient, Reply, SessionClosed
from processes import rss_kib

HERE = Path(__file__).resolve().parent


class Server(Protocol):
    """What the measurements need from a server under test."""

    name: str
    user: str

    @property
    def port(self) -> int: ...

    @property
    def pid(self) -> int | None: ...

    def restart_empty(self) -> None: ...


@dataclass
class Figure:
    """One measured figure.

    Attributes:
        value: seconds, RPC/s or KiB (see the metric), None when not measured.
        note: how it was obtained (p90 and count) or why there is no value.
        errors: errors seen (the concurrent-read load).
    """

    value: float | None
    note: str = ""
    errors: int = 0


@dataclass(frozen=True)
class Options:
    """Repetitions and limits.

    Attributes:
        small_reps: measured repetitions of each small request (after warm-up).
        bulk_reps: repetitions of the 10,000-entry merge.
        large_edit_reps: most repetitions of a single edit on a large datastore.
        large_edit_budget: seconds after which those repetitions stop (at least 3 run).
        bulk_timeout: seconds a server gets for one large request before it is
            declared stuck and restarted.
        sessions: concurrent sessions of the read load.
        load_seconds: how long the read load runs (in total, over all rounds).
        rounds: rounds the small requests and the read load are split into,
            alternating between the servers.
    """

    small_reps: int = 500
    bulk_reps: int = 3
    large_edit_reps: int = 20
    large_edit_budget: float = 15.0
    bulk_timeout: float = 60.0
    sessions: int = 8
    load_seconds: float = 10.0
    rounds: int = 5


@dataclass
class Session:
    """A client session to one server, re-opened after the server was restarted."""

    server: Server
    key: Path
    client: NetconfClient | None = None

    def get(self) -> NetconfClient:
        if self.client is None:
            self.client = NetconfClient("127.0.0.1", self.server.port, user=self.server.user,
                                        key_file=self.key)
        return self.client

    def call(self, operation: bytes, *, timeout: float = 600.0) -> Reply:
        client = self.get()
        client.settimeout(timeout)
        return client.send_rpc(client.rpc_bytes(operation))

    def drop(self) -> None:
        """Close the SSH connection without a close-session (the server may be stuck)."""
        if self.client is not None:
            self.client.abort()
            self.client = None


class RequestFailed(RuntimeError):
    """A request got an ``<rpc-error>`` or no reply."""


def _checked(reply: Reply, what: str) -> Reply:
    if not reply.ok:
        raise RequestFailed(f"{what}: {reply.error()}")
    return reply


def _latency(samples: list[float]) -> Figure:
    samples = sorted(samples)
    p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
    return Figure(statistics.median(samples),
                  f"p90 {p90 * 1e3:.2f} ms, n={len(samples)}")


def _repeat(session: Session, make: Callable[[int], bytes], reps: int, what: str, *,
            warmup: int = 0, budget: float | None = None, minimum: int = 3) -> Figure:
    """Median of ``reps`` requests built by ``make(i)`` (built before the clock starts)."""
    samples: list[float] = []
    started = time.monotonic()
    for i in range(warmup + reps):
        operation = make(i)
        reply = _checked(session.call(operation), what)
        if i >= warmup:
            samples.append(reply.elapsed)
        if (budget is not None and len(samples) >= minimum
                and time.monotonic() - started > budget):
            break
    return _latency(samples)


def _guard(figures: dict[str, Figure], keys: tuple[str, ...],
           run: Callable[[], None]) -> None:
    """Run one group of measurements; on failure mark its missing figures with the cause."""
    try:
        run()
    except (RequestFailed, SessionClosed, OSError, RuntimeError, EOFError) as error:
        cause = str(error) or type(error).__name__
        for key in keys:
            figures.setdefault(key, Figure(None, f"failed: {cause}"))
        print(f"  ! {cause}", file=sys.stderr)


class Bench:
    """The measurements against one server, in a fixed order (each needs the last's state)."""

    def __init__(self, server: Server, key: Path, options: Options) -> None:
        self.server = server
        self.key = key
        self.options = options
        self.session = Session(server, key)
        self.figures: dict[str, Figure] = {}
        self._samples: dict[str, list[float]] = {"get_small": [], "edit_small": [],
                                                 "get_changed": []}
        self._edits = 0  # small edits made, so each one changes the value
        self._load: dict[str, Any] = {"rate": [], "rpcs": 0, "errors": 0, "error": "",
                                      "resets": 0}

    def log(self, message: str) -> None:
        print(f"[{self.server.name}] {message}", file=sys.stderr, flush=True)

    def small_edit_on_empty(self) -> None:
        o = self.options
        self.log("single-entry edit on an empty datastore")
        _checked(self.session.call(workload.remove_all()), "remove all")
        self.figures["edit_empty"] = _repeat(
            self.session, lambda i: workload.merge_entries(5, 1, i), o.small_reps,
            "single-entry edit", warmup=20)

    # -- small requests, in rounds: prepare, then sample_small per round, then finish_small
    def prepare_small(self) -> None:
        """Ten entries, a check that the filter selects one, and the warm-up requests."""
        self.log("small get-config and edit-config on 10 entries")
        _checked(self.session.call(workload.merge_entries(0, 10)), "merge 10 entries")
        reply = self.session.call(workload.get_config(5))
        if workload.count_entries(_checked(reply, "small get-config").data) != 1:
            raise RequestFailed("the subtree filter did not select exactly one entry")
        self.sample_small(20, keep=False)

    def sample_small(self, count: int, *, keep: bool = True) -> None:
        """``count`` small get-configs, ``count`` small edits, then ``count`` pairs of an
        edit and a get-config, the get-config timed (all timed only if ``keep``).

        The repeated get-configs read an unchanged datastore; each get-config of a pair
        reads a datastore changed just before, so no server can answer it from a copy
        of an earlier reply.
        """
        get = workload.get_config(5)
        for _ in range(count):
            elapsed = _checked(self.session.call(get), "small get-config").elapsed
            if keep:
                self._samples["get_small"].append(elapsed)
        for _ in range(count):
            elapsed = _checked(self.session.call(self._next_edit()), "small edit-config").elapsed
            if keep:
                self._samples["edit_small"].append(elapsed)
        for _ in range(count):
            _checked(self.session.call(self._next_edit()), "small edit-config")
            elapsed = _checked(self.session.call(get), "small get-config").elapsed
            if keep:
                self._samples["get_changed"].append(elapsed)

    def _next_edit(self) -> bytes:
        """A merge of entry 5 with a value no earlier edit gave it."""
        self._edits += 1
        return workload.merge_entries(5, 1, 1000 + self._edits)

    def finish_small(self) -> None:
        for key, samples in self._samples.items():
            self.figures[key] = _latency(samples)

    def small_requests(self) -> None:
        """The small requests against this server alone (no rounds)."""
        self.prepare_small()
        self.sample_small(self.options.small_reps)
        self.finish_small()

    # -- the concurrent read load, in rounds: load_round per round, then finish_load
    def load_round(self, seconds: float) -> None:
        """One round of the read load: ``sessions`` processes for ``seconds``."""
        o = self.options
        self.log(f"{o.sessions} concurrent sessions of small reads for {seconds:g} s")
        # The workers' stderr (paramiko's complaints included) is kept, not shown.
        logs = [self.key.parent / f"load-{self.server.name}-{n}.log" for n in range(o.sessions)]
        workers = []
        for n, log in enumerate(logs):
            with log.open("w") as err:
                workers.append(subprocess.Popen(
                    [sys.executable, str(HERE / "load.py"), "--port", str(self.server.port),
                     "--user", self.server.user, "--key", str(self.key),
                     "--duration", str(seconds), "--entry", str(n % 10)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True))
        try:
            for worker in workers:
                assert worker.stdout is not None
                if worker.stdout.readline().strip() != "ready":
                    raise RequestFailed("a load worker failed to start")
            for worker in workers:  # the start signal
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            results = []
            for worker in workers:
                assert worker.stdout is not None
                results.append(json.loads(worker.stdout.readline()))
        finally:
            for worker in workers:
                try:
                    worker.wait(timeout=seconds + 60)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        load = self._load
        load["rate"].append(sum(r["rpcs"] / r["elapsed"] for r in results if r["elapsed"] > 0))
        load["rpcs"] += sum(r["rpcs"] for r in results)
        load["errors"] += sum(r["errors"] for r in results)
        load["error"] = load["error"] or next((r["error"] for r in results if r["error"]), "")
        load["resets"] += sum("reset by peer" in log.read_text(errors="replace") for log in logs)

    def finish_load(self) -> None:
        load = self._load
        rates = load["rate"]
        note = f"{load['rpcs']} RPCs, {load['errors']} errors"
        if len(rates) > 1:
            note += (f"; mean of {len(rates)} rounds, each "
                     + ", ".join(f"{rate:,.0f}" for rate in rates) + " RPC/s")
        if load["error"]:
            note += f" (first: {load['error'][:120]})"
        if load["resets"]:
            note += (f"; {load['resets']} sessions saw a TCP reset when closing, after the "
                     "measurement")
        self.figures["rps"] = Figure(statistics.mean(rates), note, load["errors"])

    def concurrent_reads(self) -> None:
        """The read load against this server alone (one round)."""
        self.load_round(self.options.load_seconds)
        self.finish_load()

    def big(self, count: int, large: dict[int, bytes]) -> None:
        """Merge ``count`` entries, read them all back, edit one entry, record RSS."""
        o = self.options
        label = f"{count // 1000}k"
        merges: list[float] = []
        reps = o.bulk_reps if count <= 10_000 else 1
        for _ in range(reps):
            _checked(self.session.call(workload.remove_all()), "remove all")
            self.log(f"merge {count:,} entries in one edit-config")
            try:
                reply = self.session.call(large[count], timeout=o.bulk_timeout)
            except TimeoutError:
                self.log(f"no reply in {o.bulk_timeout:g} s; restarting the server")
                self.session.drop()
                self.server.restart_empty()
                note = f"no reply in {o.bulk_timeout:g} s (server restarted)"
                self.figures[f"merge_{label}"] = Figure(None, note)
                for key in ("get", "edit", "rss"):
                    self.figures[f"{key}_{label}"] = Figure(
                        None, f"not measured: the {count:,}-entry merge did not finish")
                return
            merges.append(_checked(reply, f"merge {count:,} entries").elapsed)
        self.figures[f"merge_{label}"] = Figure(
            statistics.median(merges), f"n={len(merges)}" + (
                f", all {', '.join(f'{m:.2f}' for m in merges)} s" if len(merges) > 1 else ""))
        self.log(f"full get-config of {count:,} entries")
        everything = workload.get_config()
        gets: list[float] = []
        for _ in range(3):
            reply = _checked(self.session.call(everything, timeout=o.bulk_timeout),
                             "full get-config")
            got = workload.count_entries(reply.data)
            if got != count:
                raise RequestFailed(f"full get-config returned {got} entries, not {count}")
            gets.append(reply.elapsed)
        self.figures[f"get_{label}"] = Figure(statistics.median(gets),
                                              f"n=3, reply {len(reply.data) / 1e6:.1f} MB")
        self.log(f"single-entry edit on {count:,} entries")
        self.figures[f"edit_{label}"] = _repeat(
            self.session, lambda i: workload.merge_entries(5, 1, 5000 + i),
            o.large_edit_reps, "single-entry edit", budget=o.large_edit_budget)
        pid = self.server.pid
        rss = rss_kib(pid) if pid else None
        self.figures[f"rss_{label}"] = Figure(float(rss) if rss else None,
                                              f"VmRSS of pid {pid}" if rss else "unavailable")


def fdatasync_latency(directory: Path, *, count: int = 50) -> float:
    """Median seconds of a 100-byte append plus ``fdatasync`` in ``directory``.

    It tells how much of an edit's latency a server that makes each edit durable must
    spend on the disk of this machine (the state directories live on that filesystem).
    """
    path = directory / "fdatasync-probe"
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(count):
            start = time.perf_counter()
            os.write(fd, b"x" * 100)
            os.fdatasync(fd)
            samples.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return statistics.median(samples)


def run_all(servers: list[Server], key: Path, options: Options) -> dict[str, dict[str, Figure]]:
    """Run every measurement on every server; returns server name -> metric -> figure.

    The small requests and the read load alternate between the servers in
    ``options.rounds`` rounds; the rest runs server after server. The large merge
    requests are built once and shared, so every server gets the same bytes.
    """
    large = {count: workload.merge_entries(0, count) for count in (10_000, 100_000)}
    benches = [Bench(server, key, options) for server in servers]
    rounds = max(1, options.rounds)
    try:
        for bench in benches:
            _guard(bench.figures, ("edit_empty",), bench.small_edit_on_empty)
        _in_rounds(benches, ("get_small", "edit_small", "get_changed"), prepare=Bench.prepare_small,
                   step=lambda bench: bench.sample_small(max(1, options.small_reps // rounds)),
                   finish=Bench.finish_small, rounds=rounds)
        _in_rounds(benches, ("rps",), prepare=None,
                   step=lambda bench: bench.load_round(options.load_seconds / rounds),
                   finish=Bench.finish_load, rounds=rounds)
        for bench in benches:
            for count in (10_000, 100_000):
                label = f"{count // 1000}k"
                _guard(bench.figures, (f"merge_{label}", f"get_{label}", f"edit_{label}",
                                       f"rss_{label}"),
                       lambda bench=bench, count=count: bench.big(count, large))
    finally:
        for bench in benches:
            bench.session.drop()
    return {bench.server.name: bench.figures for bench in benches}


def _in_rounds(benches: list[Bench], keys: tuple[str, ...], *,
               prepare: Callable[[Bench], None] | None,
               step: Callable[[Bench], None], finish: Callable[[Bench], None],
               rounds: int) -> None:
    """``step`` each server in turn, ``rounds`` times; a server that fails drops out."""
    active = []
    for bench in benches:
        failed = prepare is not None and not _ran(bench, keys, prepare)
        if not failed:
            active.append(bench)
    for _ in range(rounds):
        active = [bench for bench in active if _ran(bench, keys, step)]
    for bench in active:
        _guard(bench.figures, keys, lambda bench=bench: finish(bench))


def _ran(bench: Bench, keys: tuple[str, ...], action: Callable[[Bench], None]) -> bool:
    """Run ``action`` under :func:`_guard`; False when it failed (its figures say why)."""
    before = set(bench.figures)
    _guard(bench.figures, keys, lambda: action(bench))
    return not (set(bench.figures) - before) & set(keys)
