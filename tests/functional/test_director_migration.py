"""VM migration through the nDirector (scenario B of DESIGN.md) against real agents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.migration import Coordinator, Migration, Phase
from nvo3_netconf.director.registry import VNIC, VMRecord, VNRecord
from nvo3_netconf.director.transaction import Result, Step
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.tes import VNIC as TES_VNIC
from nvo3_netconf.tes import AssociationParams, VMRef
from nvo3_netconf.tes import VNAttachment as TES_VN

from .conftest import Agent
from .fleet import (
    ACL,
    NVE_NS,
    POL,
    VM,
    VN,
    alice_director,
    fleet,
    mappings,
    names,
    register_fleet,
    running,
    tenant_alice,
    tes,
    underlay,
)
from .test_director_scenario import MAC1, MAC2, VM1, VM2, web_vm

VM5, MAC5 = "6f1c2b9e-3d4a-4e5f-8a7b-000000000005", "52:54:00:a1:00:05"


def vm_states(agent: Agent) -> dict[str, str]:
    """VM -> lifecycle state in the agent's operational state."""
    with agent.connect() as m:
        reply = m.get(filter=("subtree", f'<vm-state xmlns="{VM}"/>'))
    root = etree.fromstring(reply.data_xml.encode())
    return {vm.findtext(f"{{{VM}}}vm-id"): vm.findtext(f"{{{VM}}}state")
            for vm in root.iter(f"{{{VM}}}vm")}


def associate(agent: Agent, vm_id: str, mac: str, ip: str) -> None:
    with tes(agent) as client:
        client.associate(AssociationParams(VMRef(vm_id), "alice", vns=(
            TES_VN("web", vnics=(TES_VNIC(mac, (ip,)),)),))).check()


@pytest.fixture
def agents(tmp_path: Path, users: UserDatabase) -> Iterator[dict[str, Agent]]:
    with fleet(tmp_path, users, 4) as started:  # nve1, nve2 in dc1; nve3, nve4 in dc2
        yield started


@pytest.fixture
def director(tmp_path: Path, agents: dict[str, Agent]) -> Iterator[Director]:
    with alice_director(tmp_path, agents) as d:
        registry = d.registry
        for vm_id, mac, ip, n in ((VM1, MAC1, "10.1.0.1", 1), (VM2, MAC2, "10.1.0.2", 2),
                                  (VM5, MAC5, "10.1.0.5", 4)):
            registry.register(web_vm(vm_id, mac, ip, f"vs{n}"))
        assert d.apply().ok
        for vm_id, mac, ip, n in ((VM1, MAC1, "10.1.0.1", 1), (VM2, MAC2, "10.1.0.2", 2),
                                  (VM5, MAC5, "10.1.0.5", 4)):
            associate(agents[f"nve{n}"], vm_id, mac, ip)
            registry.record_state(f"nve{n}", vm_id, "associated", tenant="alice")
        assert d.apply().ok
        yield d


def snapshot(agents: dict[str, Agent]) -> dict[str, list[str]]:
    """Each agent's running configuration as sorted lines (order of entries aside)."""
    out = {}
    for name, agent in agents.items():
        root = etree.fromstring(running(agent))
        etree.indent(root)
        out[name] = sorted(etree.tostring(root, encoding="unicode").splitlines())
    return out


def test_scenario_b_alice_travels_to_dc2(director: Director,
                                         agents: dict[str, Agent]) -> None:
    seen: list[tuple[str, Phase]] = []
    coordinator = Coordinator(director, progress=lambda m: seen.append((m.vm_id, m.phase)))
    [result] = coordinator.migrate([VM1], "nve3")
    assert (result.phase, result.result, result.reason) == (Phase.DONE, "success", None)
    assert [p for _, p in seen] == [Phase.STARTED, Phase.PREPARED, Phase.RESERVED,
                                    Phase.EMIGRATED, Phase.IMMIGRATED, Phase.SWITCHED,
                                    Phase.DONE]
    # the VM's ACL and QoS are on the destination, where it is associated
    nve3 = agents["nve3"]
    assert VM1 in names(nve3, VM, "vm", "vm-id")
    assert names(nve3, ACL, "acl", "name") == {"web-in"}
    assert names(nve3, POL, "qos-profile", "name") == {"gold"}
    assert vm_states(nve3)[VM1] == "associated"
    assert result.dynamic["state"] == "associated"  # read from the source
    # every NVE of the VN points at the destination; the source has released it
    assert mappings(agents["nve2"])[("web", MAC1)] == underlay(3)
    assert mappings(agents["nve4"])[("web", MAC1)] == underlay(3)
    assert mappings(nve3) == {("web", MAC2): underlay(2), ("web", MAC5): underlay(4)}
    assert VM1 not in vm_states(agents["nve1"])
    assert VM1 not in names(agents["nve1"], VM, "vm", "vm-id")
    # nve1 has no VM of the VN left: it no longer serves it at all
    assert names(agents["nve1"], VN, "vn-instance", "name") == set()
    assert director.registry.lookup(VM1) == ("vs3", "nve3")
    assert [m.phase for m in coordinator.log.all()] == [Phase.DONE]
    assert director.plan() == []


def test_a_destination_short_of_resources_changes_nothing(
        director: Director, agents: dict[str, Agent]) -> None:
    vm6, mac6 = "6f1c2b9e-3d4a-4e5f-8a7b-000000000006", "52:54:00:a1:00:06"
    director.registry.register(web_vm(vm6, mac6, "10.1.0.6", "vs3"))
    assert director.apply().ok
    associate(agents["nve3"], vm6, mac6, "10.1.0.6")
    director.registry.record_state("nve3", vm6, "associated", tenant="alice")
    assert director.apply().ok
    with agents["nve3"].connect() as m:  # the operator limits nve3 to the one VM it has
        m.edit_config(target="running", config=f"""<config
            xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><nve xmlns="{NVE_NS}">
            <resource-limits><max-vms>1</max-vms></resource-limits></nve></config>""")
    before = snapshot(agents)
    [result] = Coordinator(director).migrate([VM1], "nve3")
    assert (result.phase, result.result) == (Phase.ROLLED_BACK, "fail")
    assert "insufficient-resources" in (result.reason or "")
    assert snapshot(agents) == before
    assert vm_states(agents["nve1"])[VM1] == "associated"
    assert vm_states(agents["nve3"]) == {vm6: "associated"}
    assert director.registry.lookup(VM1) == ("vs1", "nve1")
    assert director.plan() == []


def test_a_destination_killed_midway_leaves_every_nve_as_before(
        director: Director, agents: dict[str, Agent]) -> None:
    before = snapshot(agents)
    nve3 = agents["nve3"]

    def kill_after_emigrate(m: Migration) -> None:
        if m.phase is Phase.EMIGRATED:
            nve3.stop()

    [result] = Coordinator(director, progress=kill_after_emigrate).migrate([VM1], "nve3")
    assert (result.phase, result.result) == (Phase.ROLLED_BACK, "fail")
    assert "immigrate at the destination" in (result.reason or "") or "nve3" in (
        result.reason or "")
    assert "pending" in (result.reason or "")  # nve3's staging goes when it returns
    # the VM is usable at the source again, and no other NVE was touched
    assert vm_states(agents["nve1"])[VM1] == "associated"
    assert {n: b for n, b in snapshot({k: a for k, a in agents.items()
                                       if k != "nve3"}).items()} == {
        n: b for n, b in before.items() if n != "nve3"}
    nve3.start()
    assert director.apply().ok  # the director removes what it had staged there
    assert snapshot(agents) == before
    assert director.registry.lookup(VM1) == ("vs1", "nve1")


def test_recover_undoes_a_migration_left_before_the_switch(
        director: Director, agents: dict[str, Agent]) -> None:
    before = snapshot(agents)
    coordinator = Coordinator(director)
    stop_at = Phase.EMIGRATED

    class Stopped(Exception):
        pass

    def stop(m: Migration) -> None:
        if m.phase is stop_at:
            raise Stopped  # the nDirector "dies" here

    crashing = Coordinator(director, progress=stop)
    with pytest.raises(Stopped):
        crashing._signal(crashing.log.active()[0]) if False else crashing.migrate(
            [VM1], "nve3")
    [left] = coordinator.log.active()
    assert left.phase is Phase.EMIGRATED
    assert vm_states(agents["nve1"])[VM1] == "emigrating"
    [recovered] = coordinator.recover()
    assert recovered.phase is Phase.ROLLED_BACK
    assert vm_states(agents["nve1"])[VM1] == "associated"
    assert snapshot(agents) == before


def test_a_hundred_vms_move_in_a_few_transactions(tmp_path: Path,
                                                  users: UserDatabase) -> None:
    count = 100
    confirmed: Counter[str] = Counter()

    def progress(step: Step, result: Result) -> None:
        if step is Step.CONFIRM and result.ok:
            confirmed[result.nve] += 1

    with fleet(tmp_path, users, 20) as agents, Director(
            tmp_path / "d.sqlite", timeout=30, attempts=1, progress=progress) as director:
        register_fleet(director, agents, tmp_path)
        tenant_alice(director)
        director.registry.put_vn(VNRecord("web", 10010, "alice", vid_start=100,
                                          vid_end=999, nves=tuple(agents)))
        vms = [(f"6f1c2b9e-3d4a-4e5f-8a7b-{n:012x}", f"52:54:00:c0:{n >> 8:02x}:{n & 255:02x}",
                f"10.2.{n >> 8}.{n & 255}") for n in range(1, count + 1)]
        director.registry.register_many([VMRecord(v, "alice", vserver="vs1", vnics=(
            VNIC(mac, "web", (ip,)),)) for v, mac, ip in vms])
        assert director.apply().ok
        with tes(agents["nve1"]) as client:
            for v, mac, ip in vms:
                client.associate(AssociationParams(VMRef(v), "alice", vns=(
                    TES_VN("web", vnics=(TES_VNIC(mac, (ip,)),)),))).check()
                director.registry.record_state("nve1", v, "associated", tenant="alice")
        assert director.apply().ok
        confirmed.clear()
        results = Coordinator(director).migrate([v for v, _, _ in vms], "nve2")
        assert [r.phase for r in results] == [Phase.DONE] * count
        # every bystander NVE got all 100 moves in one transaction (the switch); nve2
        # one too (the staging: nothing changes there at the switch), nve1 one (after
        # the release: the VMs' configuration goes and their mappings to nve2 come)
        assert {n: c for n, c in confirmed.items() if n not in ("nve1", "nve2")} == {
            f"nve{n}": 1 for n in range(3, 21)}
        assert (confirmed["nve2"], confirmed["nve1"]) == (1, 1)
        nve2 = director.inventory.get("nve2").underlay_address
        held = mappings(agents["nve7"])
        assert {held[("web", mac)] for _, mac, _ in vms} == {nve2}
        assert len(vm_states(agents["nve2"])) == count
        assert vm_states(agents["nve1"]) == {}
        assert {mappings(agents["nve1"])[("web", mac)] for _, mac, _ in vms} == {nve2}
