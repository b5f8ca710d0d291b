"""nDirector benchmarks (issue 5): latency, a 1,000-VM push, and associate-to-mapping time.

Usage::

    .venv/bin/python bench/director.py [--nves 50] [--vms 1000] [--rounds 9] [--json FILE]

Starts ``--nves`` NVE agents (``nvo3-nve serve`` child processes, :class:`agent.OurAgent`,
public-key login) on free ports of 127.0.0.1, registers them in a fresh nDirector store
and measures:

1. ``rpc``: one small RPC (``<get-config>`` with an empty filter) through the director's
   persistent session to one NVE — median and p95 over 2,000 calls;
2. ``push``: one VN across every NVE with ``--vms`` VMs spread evenly behind them, all
   active, pushed by ``Director.apply()`` as one network-wide transaction (every NVE gets
   its VMs' profiles and a mapping entry for each VM behind the others) — the time of
   the whole apply (render, diff, lock, edit, validate, confirmed commit, confirm);
3. ``associate``: with the reactor running, a TES associates a new VM at the first NVE;
   the time from the associate reply until the transaction that gives every other NVE
   the new mapping has confirmed everywhere — median over ``--rounds`` VMs; checked
   afterwards on every NVE.

Agents are started in parallel; everything is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent import OurAgent  # noqa: E402
from processes import make_client_key  # noqa: E402

from nvo3_netconf.director.client import DeviceClient  # noqa: E402
from nvo3_netconf.director.controller import Director  # noqa: E402
from nvo3_netconf.director.inventory import NVERecord  # noqa: E402
from nvo3_netconf.director.reactor import Reactor, ReactorEvent  # noqa: E402
from nvo3_netconf.director.registry import (  # noqa: E402
    VNIC,
    Tenant,
    VMRecord,
    VNRecord,
    VServer,
)
from nvo3_netconf.tes import VNIC as TES_VNIC  # noqa: E402
from nvo3_netconf.tes import (  # noqa: E402
    AssociationParams,
    ConnectionParams,
    HostKeyPolicy,
    TESClient,
    VMRef,
)
from nvo3_netconf.tes import VNAttachment as TES_VN  # noqa: E402

USER = "ndirector"
MAP = "urn:nvo3-netconf:yang:nvo3-mapping"


def vm_id(n: int) -> str:
    return f"6f1c2b9e-3d4a-4e5f-8a7b-{n:012x}"


def mac(n: int) -> str:
    return f"52:54:{n >> 24 & 255:02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"


def ip(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_agents(workdir: Path, count: int, public_key: str) -> list[OurAgent]:
    agents = []
    for n in range(1, count + 1):
        path = workdir / f"nve{n}"
        path.mkdir()
        agents.append(OurAgent(path, user=USER, public_key=public_key,
                               yang_dir=ROOT / "tests" / "yang" / "modules"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda a: a.start(), agents))
    return agents


def bench_rpc(director: Director, calls: int) -> dict[str, float]:
    client = director.pool.client("nve1").connect()
    for _ in range(50):
        client.ping()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        client.ping()
        samples.append(time.perf_counter() - start)
    return {"median_ms": statistics.median(samples) * 1e3,
            "p95_ms": percentile(samples, 0.95) * 1e3, "calls": calls}


def bench_push(director: Director, nves: int, vms: int) -> dict[str, float]:
    registry = director.registry
    records = []
    for n in range(vms):
        nve = n % nves + 1
        records.append(VMRecord(vm_id(n), "t1", vserver=f"vs{nve}",
                                vnics=(VNIC(mac(n), "vn1", (ip(n),)),)))
    start = time.perf_counter()
    registry.register_many(records)
    registered = time.perf_counter() - start
    for n in range(vms):
        registry.record_state(f"nve{n % nves + 1}", vm_id(n), "associated", tenant="t1")
    start = time.perf_counter()
    plans = director.plan()
    planned = time.perf_counter() - start
    start = time.perf_counter()
    outcome = director.apply()
    pushed = time.perf_counter() - start
    if not outcome.ok:
        raise SystemExit(f"the push failed: {[r.to_json() for r in outcome.results if not r.ok]}")
    return {"seconds": pushed, "plan_seconds": planned, "register_seconds": registered,
            "items": sum(p.count for p in plans), "nves": len(plans)}


def bench_associate(director: Director, agents: list[OurAgent], key: Path, rounds: int,
                    first_vm: int) -> dict[str, float]:
    confirmed: list[tuple[float, ReactorEvent]] = []
    done = threading.Event()

    def report(event: ReactorEvent) -> None:
        if event.kind == "applied":
            confirmed.append((time.perf_counter(), event))
            done.set()

    reactor = Reactor(director, report=report).start()
    tes = TESClient(ConnectionParams("127.0.0.1", agents[0].port, username=USER,
                                     key_file=key, hostkey_policy=HostKeyPolicy.ACCEPT_ANY,
                                     timeout=60)).open()
    samples = []
    try:
        if not reactor.wait_connected(120):
            raise SystemExit("the reactor did not subscribe to every NVE")
        for r in range(rounds):
            n = first_vm + r
            done.clear()
            confirmed.clear()
            tes.associate(AssociationParams(VMRef(vm_id(n)), "t1", vns=(
                TES_VN("vn1", vnics=(TES_VNIC(mac(n), (ip(n),)),)),))).check()
            replied = time.perf_counter()
            if not done.wait(120):
                raise SystemExit("no reaction within 120 s")
            when, event = confirmed[-1]
            assert event.outcome is not None and event.outcome.ok
            samples.append(when - replied)
        # every other NVE holds the last VM's mapping
        last = mac(first_vm + rounds - 1)
        holding = director.pool.map(lambda c: _has(c, last),
                                    [f"nve{i}" for i in range(2, len(agents) + 1)])
        missing = [n for n, ok in holding.items() if ok is not True]
        if missing:
            raise SystemExit(f"NVEs without the new mapping: {missing}")
    finally:
        tes.close()
        reactor.stop()
    return {"median_ms": statistics.median(samples) * 1e3, "max_ms": max(samples) * 1e3,
            "rounds": rounds, "nves_updated": len(agents) - 1}


def _has(client: DeviceClient, mac_address: str) -> bool:
    data = client.get_config(subtree=f'<mappings xmlns="{MAP}"/>')
    return any(e.text == mac_address for e in data.iter(f"{{{MAP}}}inner-mac"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nves", type=int, default=50)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="nvo3-director-bench-"))
    agents: list[OurAgent] = []
    try:
        key, public_key = make_client_key(workdir)
        started = time.perf_counter()
        agents = start_agents(workdir, args.nves, public_key)
        print(f"started {len(agents)} agents in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        with Director(workdir / "ndirector.sqlite", timeout=120, workers=16,
                      attempts=2) as director:
            for n, agent in enumerate(agents, start=1):
                director.inventory.add(NVERecord(
                    f"nve{n}", "127.0.0.1", agent.port, username=USER, key_file=key,
                    underlay_address=f"198.18.{n >> 8}.{n & 255}",
                    hostkey_policy=HostKeyPolicy.ACCEPT_ANY))
                director.registry.put_vserver(VServer(f"vs{n}", f"nve{n}", USER, "eth1"))
            director.registry.put_tenant(Tenant("t1"))
            director.registry.put_vn(VNRecord("vn1", 5000, "t1"))
            figures = {"rpc": bench_rpc(director, args.calls)}
            print(f"rpc: {figures['rpc']}", file=sys.stderr)
            figures["push"] = bench_push(director, args.nves, args.vms)
            print(f"push: {figures['push']}", file=sys.stderr)
            figures["associate"] = bench_associate(director, agents, key, args.rounds,
                                                   first_vm=args.vms)
            print(f"associate: {figures['associate']}", file=sys.stderr)
        figures["setup"] = {"nves": args.nves, "vms": args.vms}
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        return 0
    finally:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda a: a.stop(), agents))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
