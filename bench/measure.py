"""The measurements, run the same way against each server.

All times are client-observed (from the first byte of the request sent to the last byte
of the reply received, over SSH on loopback); the same client and the same requests are
used for every server. A measurement that fails (an ``<rpc-error>``, a closed session, a
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
from typing import Protocol

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
        load_seconds: how long the read load runs.
    """

    small_reps: int = 500
    bulk_reps: int = 3
    large_edit_reps: int = 20
    large_edit_budget: float = 15.0
    bulk_timeout: float = 60.0
    sessions: int = 8
    load_seconds: float = 5.0


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

    def log(self, message: str) -> None:
        print(f"[{self.server.name}] {message}", file=sys.stderr, flush=True)

    def run(self, large: dict[int, bytes]) -> dict[str, Figure]:
        """Run everything; ``large`` maps an entry count to its prebuilt merge request."""
        steps: list[tuple[tuple[str, ...], Callable[[], None]]] = [
            (("edit_empty",), self.small_edit_on_empty),
            (("get_small", "edit_small"), self.small_requests),
            (("rps",), self.concurrent_reads),
            (("merge_10k", "get_10k", "edit_10k", "rss_10k"), lambda: self.big(10_000, large)),
            (("merge_100k", "get_100k", "edit_100k", "rss_100k"),
             lambda: self.big(100_000, large)),
        ]
        try:
            for keys, step in steps:
                _guard(self.figures, keys, step)
        finally:
            self.session.drop()
        return self.figures

    def small_edit_on_empty(self) -> None:
        o = self.options
        self.log("single-entry edit on an empty datastore")
        _checked(self.session.call(workload.remove_all()), "remove all")
        self.figures["edit_empty"] = _repeat(
            self.session, lambda i: workload.merge_entries(5, 1, i), o.small_reps,
            "single-entry edit", warmup=20)

    def small_requests(self) -> None:
        o = self.options
        self.log("small get-config and edit-config on 10 entries")
        _checked(self.session.call(workload.merge_entries(0, 10)), "merge 10 entries")
        get = workload.get_config(5)
        self.figures["get_small"] = _repeat(self.session, lambda i: get, o.small_reps,
                                            "small get-config", warmup=20)
        reply = self.session.call(get)
        if workload.count_entries(reply.data) != 1:
            raise RequestFailed("the subtree filter did not select exactly one entry")
        self.figures["edit_small"] = _repeat(
            self.session, lambda i: workload.merge_entries(5, 1, 1000 + i), o.small_reps,
            "small edit-config", warmup=20)

    def concurrent_reads(self) -> None:
        o = self.options
        self.log(f"{o.sessions} concurrent sessions of small reads for {o.load_seconds:g} s")
        # The workers' stderr (paramiko's complaints included) is kept, not shown.
        logs = [self.key.parent / f"load-{self.server.name}-{n}.log" for n in range(o.sessions)]
        workers = []
        for n, log in enumerate(logs):
            with log.open("w") as err:
                workers.append(subprocess.Popen(
                    [sys.executable, str(HERE / "load.py"), "--port", str(self.server.port),
                     "--user", self.server.user, "--key", str(self.key),
                     "--duration", str(o.load_seconds), "--entry", str(n % 10)],
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
                    worker.wait(timeout=o.load_seconds + 60)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        rate = sum(r["rpcs"] / r["elapsed"] for r in results if r["elapsed"] > 0)
        errors = sum(r["errors"] for r in results)
        first = next((r["error"] for r in results if r["error"]), "")
        note = f"{sum(r['rpcs'] for r in results)} RPCs, {errors} errors"
        if first:
            note += f" (first: {first[:120]})"
        resets = sum("reset by peer" in log.read_text(errors="replace") for log in logs)
        if resets:
            note += f"; {resets} sessions saw a TCP reset when closing, after the measurement"
        self.figures["rps"] = Figure(rate, note, errors)

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
    """Run every measurement on each server in turn; returns server name -> metric -> figure.

    The large merge requests are built once and shared, so every server gets the same bytes.
    """
    large = {count: workload.merge_entries(0, count) for count in (10_000, 100_000)}
    return {server.name: Bench(server, key, options).run(large) for server in servers}
