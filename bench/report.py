"""The benchmark's table, its goals (issue 3, "Performance") and ``docs/performance.md``.

Three servers are compared: our agent with its built-in SSH server (``ours``), our agent
behind OpenSSH (``ours-openssh``) and yuma123 netconfd (``netconfd``). Every row shows
all three and the ratio of each of ours to netconfd; each goal is judged on the better
of our two deployments, and says which.

Public names: :data:`ROWS`, :data:`GOALS`, :data:`LABELS`, :func:`table`,
:func:`text_table`, :func:`judge`, :func:`verdicts`, :func:`goal_lines`,
:func:`markdown`, :func:`machine`.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from measure import Figure

REF = "netconfd"
# Our two deployments: the built-in SSH server, and a Unix socket behind OpenSSH.
OURS = ("ours", "ours-openssh")
LABELS = {"ours": "ours (built-in SSH)", "ours-openssh": "ours (OpenSSH)", REF: "netconfd"}
SHORT = {"ours": "built-in SSH", "ours-openssh": "OpenSSH"}
Results = dict[str, dict[str, Figure]]


@dataclass(frozen=True)
class Row:
    """One line of the table.

    Attributes:
        key: the metric (see ``measure.Bench``), or a derived one.
        label: what was measured.
        unit: ``ms``, ``s``, ``RPC/s``, ``MB`` or ``x`` (a ratio).
    """

    key: str
    label: str
    unit: str


ROWS = (
    Row("get_small", "small get-config, subtree filter (1 of 10 entries), p50", "ms"),
    Row("edit_small", "small edit-config, merge 1 entry (10 entries), p50", "ms"),
    Row("get_changed", "small get-config right after an edit (reply computed), p50", "ms"),
    Row("edit_empty", "single-entry edit on an empty datastore, p50", "ms"),
    Row("merge_10k", "edit-config merging 10,000 entries", "s"),
    Row("get_10k", "full get-config of 10,000 entries", "s"),
    Row("edit_10k", "single-entry edit on 10,000 entries, p50", "ms"),
    Row("rss_10k", "server RSS with 10,000 entries", "MB"),
    Row("merge_100k", "edit-config merging 100,000 entries", "s"),
    Row("get_100k", "full get-config of 100,000 entries", "s"),
    Row("edit_100k", "single-entry edit on 100,000 entries, p50", "ms"),
    Row("edit_ratio", "single-entry edit, 100,000 entries / empty", "x"),
    Row("rss_100k", "server RSS with 100,000 entries", "MB"),
    Row("rps", "8 concurrent sessions of small reads, total", "RPC/s"),
)


def derived(figures: dict[str, Figure]) -> dict[str, Figure]:
    """``figures`` plus the ratio of the single-entry edit at 100,000 entries to empty."""
    out = dict(figures)
    big, empty = figures.get("edit_100k"), figures.get("edit_empty")
    if big and empty and big.value is not None and empty.value:
        out["edit_ratio"] = Figure(big.value / empty.value)
    else:
        out["edit_ratio"] = Figure(None, "needs both edits")
    return out


def fmt(value: float | None, unit: str) -> str:
    """A figure in its unit (KiB shown as MB, seconds as ms where the unit says so)."""
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value * 1e3:.2f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MB":
        return f"{value / 1024:.0f} MB"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f} {unit}"


def _ratio(ours: Figure | None, ref: Figure | None) -> str:
    if not ours or not ref or ours.value is None or not ref.value:
        return "n/a"
    return f"{ours.value / ref.value:.2f}"


def header() -> list[str]:
    """Column titles: measurement, the three servers, the two ratios, notes."""
    return ["measurement", *(LABELS[name] for name in (*OURS, REF)),
            *(f"{SHORT[name]}/netconfd" for name in OURS), "notes"]


def table(results: Results) -> list[list[str]]:
    """Header and rows: measurement, each server, each of ours / netconfd, notes.

    A server left out with ``--only`` shows ``skipped``.
    """
    figures = {name: derived(results[name]) for name in (*OURS, REF) if name in results}
    lines = [header()]
    for row in ROWS:
        cells = {name: figures[name].get(row.key) if name in figures else None
                 for name in (*OURS, REF)}
        notes = [f"{LABELS[name]}: {figure.note}" for name, figure in cells.items()
                 if figure and figure.note]
        values = [fmt(figure.value if figure else None, row.unit) if name in figures
                  else "skipped" for name, figure in cells.items()]
        ratios = [_ratio(cells[name], cells[REF]) if row.unit != "x" else ""
                  for name in OURS]
        lines.append([row.label, *values, *ratios, "; ".join(notes)])
    return lines


def text_table(results: Results) -> str:
    """The table as aligned plain text (notes on their own lines)."""
    lines = table(results)
    columns = len(lines[0]) - 1  # the notes go on their own line
    widths = [max(len(line[i]) for line in lines) for i in range(columns)]
    out = []
    for n, line in enumerate(lines):
        numbers = zip(line[1:columns], widths[1:], strict=True)
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in numbers]
        out.append("  ".join(cells))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
        elif line[-1]:
            out.append(" " * 4 + line[-1])
    return "\n".join(out)


# --- goals ------------------------------------------------------------------------------
#
# Each goal is checked for each of our deployments; it is judged on the better of the two
# (a PASS before a FAIL, then the better figure), and the verdict names that deployment.

Verdict = tuple[str, str]
# verdict, detail, and a score where lower is better (to pick the better deployment).
Outcome = tuple[str, str, float]
Check = Callable[[Results, str], Outcome]
_WORST = float("inf")


def _value(results: Results, server: str, key: str) -> float | None:
    figure = derived(results.get(server, {})).get(key)
    return figure.value if figure else None


def _vs_ref(key: str, *, higher_is_better: bool = False) -> Check:
    def check(results: Results, mine_name: str) -> Outcome:
        if REF not in results:
            return "n/a", "netconfd skipped", _WORST
        mine, theirs = _value(results, mine_name, key), _value(results, REF, key)
        if mine is None or theirs is None:
            return ("FAIL" if mine is None else "n/a"), "not measured", _WORST
        ratio = mine / theirs
        ok = ratio >= 1.0 if higher_is_better else ratio <= 1.0
        return (("PASS" if ok else "FAIL"), f"{ratio:.2f}x netconfd",
                -ratio if higher_is_better else ratio)
    return check


def _below(key: str, limit: float, unit: str, *, inclusive: bool = False) -> Check:
    def check(results: Results, mine_name: str) -> Outcome:
        mine = _value(results, mine_name, key)
        if mine is None:
            return "FAIL", "not measured", _WORST
        ok = mine <= limit if inclusive else mine < limit
        return ("PASS" if ok else "FAIL"), fmt(mine, unit), mine
    return check


def _sessions(results: Results, mine_name: str) -> Outcome:
    figure = results.get(mine_name, {}).get("rps")
    verdict, detail, score = _vs_ref("rps", higher_is_better=True)(results, mine_name)
    if figure is None or figure.value is None:
        return "FAIL", "not measured", _WORST
    if figure.errors:
        return "FAIL", f"{figure.errors} errors; {detail}", _WORST
    if verdict == "n/a":
        return verdict, f"{fmt(figure.value, 'RPC/s')}, 0 errors; {detail}", -figure.value
    return verdict, f"{detail}, 0 errors", score


GOALS: tuple[tuple[str, Check], ...] = (
    ("small get-config p50 <= 1.0x netconfd", _vs_ref("get_small")),
    ("small edit-config p50 <= 1.0x netconfd", _vs_ref("edit_small")),
    ("merge of 10,000 entries < 0.5 s", _below("merge_10k", 0.5, "s")),
    ("merge of 100,000 entries < 2 s", _below("merge_100k", 2.0, "s")),
    ("full get-config of 100,000 entries < 1 s", _below("get_100k", 1.0, "s")),
    ("single-entry edit on 100,000 entries <= 2x on empty", _below("edit_ratio", 2.0, "x",
                                                                 inclusive=True)),
    ("8 sessions: RPC/s >= netconfd, no errors", _sessions),
    ("RSS < 200 MB with 100,000 entries", _below("rss_100k", 200 * 1024, "MB")),
)

_RANK = {"PASS": 0, "FAIL": 1, "n/a": 2}


def judge(results: Results, check: Check) -> tuple[str, str, str]:
    """(verdict, judged on, detail) of one goal on the better of our deployments.

    The detail gives the figure of every deployment measured, the judged one first.
    """
    outcomes = [(name, *check(results, name)) for name in OURS if name in results]
    if not outcomes:
        return "n/a", "", "ours skipped (both deployments)"
    best = min(outcomes, key=lambda o: (_RANK[o[1]], o[3]))
    others = [o for o in outcomes if o is not best]
    detail = "; ".join(f"{SHORT[name]}: {text}" for name, _, text, _ in [best, *others])
    # With netconfd skipped a comparison goal has nothing to judge on.
    return best[1], LABELS[best[0]] if best[1] != "n/a" else "", detail


def verdicts(results: Results) -> list[tuple[str, str, str, str]]:
    """(goal, PASS/FAIL/n/a, judged on, detail) for every goal."""
    return [(text, *judge(results, check)) for text, check in GOALS]


def goal_lines(results: Results) -> str:
    """The goals as plain text, one per line."""
    return "\n".join(f"{verdict:<4}  {text}  [{judged or '-'}]  ({detail})"
                     for text, verdict, judged, detail in verdicts(results))


# --- environment and markdown ------------------------------------------------------------

def _run(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (result.stdout or result.stderr).strip()


def machine(root: Path) -> dict[str, str]:
    """nproc, CPU model, memory, kernel, versions of the programs measured."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    import paramiko

    commit = _run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = _run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "paramiko": paramiko.__version__,
        "netconfd": _run(["dpkg-query", "-W", "-f", "${Version}", "netconfd"]) or "not installed",
        "openssh": _run(["dpkg-query", "-W", "-f", "${Version}", "openssh-server"]) or "?",
        "socat": _run(["dpkg-query", "-W", "-f", "${Version}", "socat"]) or "not installed",
        "commit": (commit + (" (with uncommitted changes)" if dirty else "")) or "?",
    }


def _judged_summary(results: Results) -> str:
    """Which deployment the goals were judged on, as a sentence."""
    counts: dict[str, int] = {}
    for _, _, judged, _ in verdicts(results):
        if judged:
            counts[judged] = counts.get(judged, 0) + 1
    if not counts:
        return "No goal could be judged: our agent was not measured."
    parts = [f"{label} for {n} of {len(GOALS)}" for label, n
             in sorted(counts.items(), key=lambda item: -item[1])]
    return "In this run the better deployment was " + " and ".join(parts) + " goals."


def _subsystem_line(env: dict[str, str]) -> str:
    if env.get("relay") == "socat":
        return "`socat STDIO UNIX-CONNECT:<socket>`"
    return "`nvo3-nve-subsystem <socket>`"


def _subsystem_text(env: dict[str, str]) -> str:
    """How our agent's sessions get from sshd to the agent, for the report."""
    if env.get("relay") == "socat":
        return ("Its subsystem is `socat STDIO UNIX-CONNECT:<socket>`, which relays the "
                "channel's bytes to the agent's Unix socket (`--relay socat`).")
    return ("Its subsystem is `nvo3-nve-subsystem <socket>`, which hands the channel's "
            "stdin/stdout pipes to the agent over the Unix socket (`SCM_RIGHTS`) and then "
            "waits idle: the agent reads and writes sshd's pipes itself, with no relay "
            "process copying the bytes.")


def markdown(results: Results, *, command: str, date: str, env: dict[str, str],
             setup: dict[str, str], mode: str) -> str:
    """The whole ``docs/performance.md``."""
    lines = table(results)
    columns = len(lines[0]) - 1
    md = ["| " + " | ".join(lines[0][:columns]) + " |",
          "|---|" + "---:|" * (columns - 1)]
    md += ["| " + " | ".join(line[:columns]) + " |" for line in lines[1:]]
    notes = [f"- {line[0]}: {line[-1]}" for line in lines[1:] if line[-1]]
    goals = ["| goal | result | judged on | detail (both deployments) |", "|---|---|---|---|"]
    goals += [f"| {text} | **{verdict}** | {judged or '-'} | {detail} |"
              for text, verdict, judged, detail in verdicts(results)]
    setup_lines = [f"- {LABELS.get(name, name)}:\n\n  ```\n  "
                   + text.replace("\n", "\n  ") + "\n  ```"
                   for name, text in setup.items()]
    return "\n".join([
        "# Performance",
        "",
        "Our NVE agent (`nvo3-nve serve`) measured side by side with Debian's yuma123",
        "`netconfd` in the same run, with the same client and the same requests, as issue 3",
        "(\"Performance\") asks. This file is written by the benchmark; rerun it to refresh.",
        "",
        f"- command: `{command}` ({mode})",
        f"- date: {date}",
        f"- machine: {env['nproc']} CPUs ({env['cpu']}), {env['memory']} RAM, {env['kernel']};",
        f"  a 100-byte append + fdatasync in the temporary directory takes "
        f"{env.get('fdatasync', '?')} (p50)",
        f"- software: Python {env['python']}, paramiko {env['paramiko']} (client and our "
        f"built-in SSH server), netconfd {env['netconfd']}, OpenSSH {env['openssh']}, "
        f"socat {env.get('socat', '?')}; nvo3-netconf {env['commit']}",
        "",
        "## Two deployments of our agent",
        "",
        "Both are supported ways to run the agent, so both are measured:",
        "",
        "- **ours (built-in SSH)**: `nvo3-nve serve --port ...`. The agent is its own SSH",
        "  server (paramiko): key exchange, authentication, and the packet handling,",
        "  encryption and MAC of every byte run in the agent's process, driven from Python",
        "  (paramiko calls `cryptography` for the ciphers), on the same interpreter and GIL",
        "  as NETCONF processing.",
        "- **ours (OpenSSH)**: `nvo3-nve serve --unix-socket <socket> --no-builtin-ssh`",
        "  behind OpenSSH's `sshd`. sshd authenticates the client and runs all SSH crypto",
        "  in C, in its own per-connection processes. " + _subsystem_text(env),
        "  The agent takes the user name from `SO_PEERCRED` of the Unix connection (its",
        "  users file names the user, without credentials) and then only does NETCONF.",
        "  netconfd is deployed the same way (sshd, then its `netconf-subsystem` relay,",
        "  then netconfd's Unix socket), and the two sshd instances of the benchmark have",
        "  identical settings (`bench/sshd.py`) except their `Subsystem` line.",
        "",
        "The goals below are judged on the better of the two deployments for each goal",
        "(a PASS before a FAIL, then the better figure); the goals table names the",
        "deployment judged and gives both figures.",
        _judged_summary(results),
        "",
        "## Figures",
        "",
        *md,
        "",
        "Ratios are each of ours / netconfd: below 1 we are faster (or smaller), except for",
        "RPC/s where above 1 is better. Notes per row:",
        "",
        *notes,
        "",
        "## Goals",
        "",
        *goals,
        "",
        "## How it is measured",
        "",
        "- One client for all three servers (`bench/client.py`): paramiko, subsystem",
        "  `netconf`, hellos with base:1.0 and base:1.1 (every server then uses chunked",
        "  framing), one `<rpc>` at a time, replies read with blocking reads (no poll tick).",
        "  Framing is `nvo3_netconf.transport.framing`.",
        "- Times are client-observed: first byte sent to last reply byte received over SSH",
        "  on loopback, so they include SSH encryption and the client's paramiko cost for",
        "  every server, and the server side's SSH cost wherever it runs (in our agent's",
        "  process with the built-in SSH server; in sshd, and for netconfd (or a socat",
        "  relay) the relay hop, behind OpenSSH). The goals of issue 3 speak of server-side",
        "  time; a client-observed PASS is therefore a real PASS, and a FAIL may include",
        "  transfer time.",
        "- Data: list `/nt:bulk/nt:entry` (key `id`, leaf `value`, about 70 bytes per entry",
        "  on the wire) of `tests/yang/modules/nvo3-test@2026-11-21.yang`, the only test",
        "  module loaded into every server. Small requests: 20 warm-up requests of each",
        "  kind, then the median (p50) of the measured ones; every small edit changes the",
        "  entry's value (so between two rounds' get-configs the datastore has changed).",
        "- Bulk merges run on an empty list (removed before each repetition); full",
        "  get-config has no filter and is checked to return every entry. The single-entry",
        "  edits on large datastores stop after a time budget (at least 3 run).",
        "- A large request that gets no reply within the time limit counts as not finished;",
        "  the server is restarted and the figures that need that datastore are n/a.",
        "- Concurrent reads: one process per session (so the client is not serialised by",
        "  one interpreter), started together, each sending small filtered get-configs",
        "  back to back; RPC/s is the sum of the sessions' rates. The client processes share",
        "  the machine's CPUs with the server under test (and, behind OpenSSH, with its",
        "  sshd and relay processes).",
        "- RSS is VmRSS from `/proc/<pid>/status` of the server process holding the",
        "  datastore: our agent in both deployments, netconfd itself; not sshd or the",
        "  subsystem programs.",
        "- The small requests and the concurrent reads alternate between the servers in",
        "  rounds (5 in a full run: a fifth of the requests, or 2 s of the load, on each",
        "  server in turn, in a fixed order: ours (built-in SSH), ours (OpenSSH), netconfd),",
        "  so a slow spell of the machine weighs on every server alike; p50s are over all",
        "  rounds' samples, RPC/s is the mean of the rounds. Everything else runs server",
        "  after server. All servers run for the whole benchmark, the others idle.",
        "- Repeated small get-configs are the same request: our agent answers them from",
        "  its reply cache (serialized replies kept until any datastore changes,",
        "  `reply-cache-entries`), found by the message's bytes apart from its",
        "  message-id before the message is parsed; netconfd computes each one.",
        "  The row \"small get-config right after an edit\" shows the other case: each",
        "  timed get-config follows an edit of the entry it reads, so every server",
        "  computes its reply (it is not one of the goals of issue 3; it tells what a",
        "  read costs when no earlier reply can be reused).",
        "",
        "## Durability is not the same",
        "",
        "Our agent makes every committed edit durable before it replies: it appends the",
        "change to a write-ahead log and calls `fdatasync` (issue 3: a crash at any instant",
        "leaves the old or the new configuration). netconfd 2.13 rewrites its startup file",
        "in place after each edit (`open(O_TRUNC)` and write, no rename: seen with `strace`)",
        "and never calls `fsync` or `fdatasync` (neither `/usr/sbin/netconfd` nor",
        "`libyuma*.so` imports them: `nm -D`), so an acknowledged edit is lost, and the file",
        "may be left truncated, if the machine crashes or loses power. The fdatasync figure",
        "above is therefore part of our small-edit latency (in both deployments) and not of",
        "netconfd's.",
        "",
        "## netconfd and 100,000 entries",
        "",
        "netconfd 2.13 accepts the 7 MB edit-config of 100,000 entries (it does not refuse",
        "it) but its cost grows with the square of the list. Measured by hand with the same",
        "client and requests when this harness was written (2 CPUs, AMD EPYC, 2026-11-21),",
        "not by this run: a merge of 10,000 entries took 1.4 s, 20,000 5.6 s, 30,000 13.3 s,",
        "100,000 424 s; starting it with the 100,000 entries in its startup file took",
        "longer than 5 minutes as well. The benchmark therefore gives it `--bulk-timeout`",
        "seconds (60 by default), reports that it did not finish, restarts it, and leaves",
        "its 100,000-entry figures n/a; its 10,000-entry figures are the comparison point.",
        "",
        "## Setup",
        "",
        *setup_lines,
        "",
        "Both sshd instances (in front of netconfd and in front of our agent's Unix socket)",
        "are private to the run and configured by `bench/sshd.py` with the same settings:",
        "`ListenAddress 127.0.0.1`, a free port, a host key generated into the temporary",
        "directory, public-key authentication only (`AuthorizedKeysFile` in the temporary",
        "directory, `AllowUsers` the user running the benchmark), `UsePAM no`,",
        "`StrictModes no`, `UseDNS no`, `MaxStartups 64`, `MaxSessions 64`; only the",
        "`Subsystem netconf` line differs: " + _subsystem_line(env) + " for our",
        "agent, `netconf-subsystem --ncxserver-sockname=<port>@<socket>` for netconfd,",
        "pointing at this netconfd's own unix socket so a system-wide netconfd",
        "(`/tmp/ncxserver.sock`) is never touched.",
        "",
        "netconfd: `--target=running` so every server edits running directly",
        "(writable-running), and without `:startup` netconfd saves running to its",
        "`--startup` file after every edit, as our agent persists running. netconfd runs",
        "with `YUMA_HOME` and `HOME` in the temporary directory (it keeps a transaction-id",
        "file there); it still creates an empty `~/.yuma` of its user at start, which the",
        "benchmark removes afterwards if it was not there before. Our agent with built-in",
        "SSH gets the same public key in its users file; behind OpenSSH its users file names",
        "the same user without credentials (sshd authenticated it).",
        "",
    ])
