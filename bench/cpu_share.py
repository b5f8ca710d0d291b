"""Where the CPU goes during the 8-session concurrent-read load (issue 3 goal).

    .venv/bin/python bench/cpu_share.py ours|openssh|netconfd [--seconds S]

Starts one server as ``run.py`` does, runs the same concurrent-read load
(:meth:`measure.Bench.concurrent_reads`), and reports the RPC rate and, for the middle
2 seconds of the load, the CPU each group of processes used (by process name, from
``/proc/<pid>/stat``), in cores and in microseconds per RPC: the clients (``python``),
sshd, the subsystem programs, and the server. On a 2-core machine this shows what is
left for the server once the clients and sshd have taken theirs.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload  # noqa: E402
from agent import OpenSSHAgent, OurAgent  # noqa: E402
from measure import Bench, Options  # noqa: E402
from netconfd import ReferenceServer  # noqa: E402
from processes import make_client_key  # noqa: E402

MODULE = Path(__file__).resolve().parent.parent / "tests" / "yang" / "modules" / \
    "nvo3-test@2026-11-21.yang"


def _cpu_ticks() -> dict[int, tuple[str, int]]:
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(pid)] = (name, int(fields[11]) + int(fields[12]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", choices=("ours", "openssh", "netconfd"))
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nvo3-cpu-"))
    try:
        key, public = make_client_key(workdir)
        yang = workdir / "yang"
        yang.mkdir()
        shutil.copy(MODULE, yang)
        (workdir / "s").mkdir()
        user = getpass.getuser()
        server = (OurAgent(workdir / "s", user=user, public_key=public, yang_dir=yang)
                  if args.server == "ours" else
                  OpenSSHAgent(workdir / "s", user=user, public_key=public, yang_dir=yang)
                  if args.server == "openssh" else
                  ReferenceServer(workdir / "s", public_key=public, module=MODULE))
        with server:
            bench = Bench(server, key, Options(load_seconds=args.seconds))
            bench.session.call(workload.merge_entries(0, 10))
            samples: dict[str, dict[int, tuple[str, int]]] = {}
            window = 2.0

            def sample() -> None:
                time.sleep((args.seconds - window) / 2 + 1.0)
                samples["a"] = _cpu_ticks()
                time.sleep(window)
                samples["b"] = _cpu_ticks()

            sampler = threading.Thread(target=sample)
            sampler.start()
            bench.concurrent_reads()
            sampler.join()
        rate = bench.figures["rps"].value or 0.0
        used: dict[str, int] = {}
        for pid, (name, ticks) in samples["b"].items():
            before = samples["a"].get(pid, (name, 0))[1]
            used[name] = used.get(name, 0) + ticks - before
        hz = os.sysconf("SC_CLK_TCK")
        print(f"{args.server}: {rate:,.0f} RPC/s ({bench.figures['rps'].note})")
        for name, ticks in sorted(used.items(), key=lambda item: -item[1])[:6]:
            cores = ticks / hz / window
            if cores >= 0.01:
                print(f"  {name:18s} {cores:4.2f} cores  {cores / rate * 1e6:6.0f} us/RPC")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
