"""Scenario A of DESIGN.md through the nDirector's API, against three real NVE agents.

The vCenter places VM1 on vServer1 (behind NVE1) and VM2 on vServer2 (NVE2); the
director provisions their profiles and policies; the TES associates VM1 with NVE1; NVE1
notifies; the director enforces VM1's policies on NVE1 and populates "VM1 MAC -> NVE1"
into every other NVE of the VN, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.reactor import Reactor, ReactorEvent
from nvo3_netconf.director.registry import VNIC, VMRecord, VNAttachment
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.tes import VNIC as TES_VNIC
from nvo3_netconf.tes import AssociationParams, VMRef
from nvo3_netconf.tes import VNAttachment as TES_VN

from .conftest import Agent
from .fleet import (
    ACL,
    POL,
    VM,
    VN,
    alice_director,
    fleet,
    mappings,
    names,
    running,
    tes,
    underlay,
)

VM1, VM2, VM3 = (f"6f1c2b9e-3d4a-4e5f-8a7b-{n:012x}" for n in (1, 2, 3))
MAC1, MAC2, MAC3 = "52:54:00:a1:00:01", "52:54:00:a1:00:02", "52:54:00:b0:00:03"


@pytest.fixture
def agents(tmp_path: Path, users: UserDatabase) -> Iterator[dict[str, Agent]]:
    with fleet(tmp_path, users, 3) as started:
        yield started


@pytest.fixture
def director(tmp_path: Path, agents: dict[str, Agent]) -> Iterator[Director]:
    with alice_director(tmp_path, agents) as d:
        yield d


def web_vm(vm_id: str, mac: str, ip: str, vserver: str) -> VMRecord:
    return VMRecord(vm_id, "alice", vserver=vserver,
                    vnics=(VNIC(mac, "web", (ip,)),),
                    policies=(VNAttachment("web", ingress_acls=("web-in",),
                                           qos_profile="gold"),))


def associate(agent: Agent, vm_id: str, mac: str, ip: str, vn: str = "web",
              tenant: str = "alice") -> None:
    with tes(agent) as client:
        client.associate(AssociationParams(VMRef(vm_id), tenant, vns=(
            TES_VN(vn, vnics=(TES_VNIC(mac, (ip,)),)),))).check()


def test_registration_provisions_only_the_nves_of_the_vms(
        director: Director, agents: dict[str, Agent]) -> None:
    director.registry.register(web_vm(VM1, MAC1, "10.1.0.1", "vs1"))
    outcome = director.apply()
    assert outcome.ok and [p.nve for p in outcome.plans] == ["nve1", "nve2", "nve3"]
    # nve1: VM1's profile, its VN, ACL and QoS profile; no mapping yet (not associated)
    assert names(agents["nve1"], VM, "vm", "vm-id") == {VM1}
    assert names(agents["nve1"], VN, "vn-instance", "name") == {"web"}
    assert names(agents["nve1"], ACL, "acl", "name") == {"web-in"}
    assert names(agents["nve1"], POL, "qos-profile", "name") == {"gold"}
    assert mappings(agents["nve1"]) == {}
    # tenant isolation: nve2 and nve3 hold nothing of alice
    for other in ("nve2", "nve3"):
        assert names(agents[other], VN, "tenant", "tenant-id") == set()
        assert names(agents[other], VM, "vm", "vm-id") == set()
    # nothing more to do: a second apply changes nothing
    assert director.apply().plans == []


def test_scenario_a_associate_enforces_policies_and_populates_mappings(
        director: Director, agents: dict[str, Agent]) -> None:
    registry = director.registry
    registry.register(web_vm(VM1, MAC1, "10.1.0.1", "vs1"))
    registry.register(web_vm(VM2, MAC2, "10.1.0.2", "vs2"))
    registry.register(VMRecord(VM3, "bob", vserver="vs3", vnics=(
        VNIC(MAC3, "red", ("10.9.0.3",)),)))
    assert director.apply().ok
    seen: list[ReactorEvent] = []
    reactor = Reactor(director, report=seen.append).start()
    try:
        assert reactor.wait_connected(30)
        reactor.applied.clear()
        associate(agents["nve1"], VM1, MAC1, "10.1.0.1")
        assert reactor.applied.wait(30)
        # VM1 is active behind nve1: nve2 (same VN) maps it; nve3 (bob only) does not
        assert mappings(agents["nve2"]) == {("web", MAC1): underlay(1)}
        assert mappings(agents["nve1"]) == {}
        assert mappings(agents["nve3"]) == {}
        assert registry.lookup(VM1) == ("vs1", "nve1")
        assert registry.vm(VM1).state == "associated"
        assert registry.vm(VM1).vnics[0].vid is not None  # the VID nve1 assigned
        reactor.applied.clear()
        associate(agents["nve2"], VM2, MAC2, "10.1.0.2")
        assert reactor.applied.wait(30)
        assert mappings(agents["nve1"]) == {("web", MAC2): underlay(2)}
        assert mappings(agents["nve2"]) == {("web", MAC1): underlay(1)}
        assert mappings(agents["nve3"]) == {}
        # VM1 terminates at nve1: only nve2's entry for it goes
        reactor.applied.clear()
        with tes(agents["nve1"]) as client:
            client.terminate(VMRef(VM1)).check()
        assert reactor.applied.wait(30)
        assert mappings(agents["nve2"]) == {}
        assert mappings(agents["nve1"]) == {("web", MAC2): underlay(2)}
    finally:
        reactor.stop()
    kinds = [e.kind for e in seen]
    assert kinds.count("connected") == 3 and "applied" in kinds


def test_a_move_changes_only_the_entries_that_change(
        director: Director, agents: dict[str, Agent]) -> None:
    registry = director.registry
    registry.register(web_vm(VM1, MAC1, "10.1.0.1", "vs1"))
    registry.register(web_vm(VM2, MAC2, "10.1.0.2", "vs2"))
    registry.record_state("nve1", VM1, "associated", tenant="alice")
    registry.record_state("nve2", VM2, "associated", tenant="alice")
    assert director.apply().ok
    assert mappings(agents["nve2"]) == {("web", MAC1): underlay(1)}
    # VM1 relocates to vs3 (nve3) and associates there
    registry.relocate(VM1, "vs3")
    registry.record_state("nve3", VM1, "associated", tenant="alice")
    plans = {p.nve: p for p in director.plan()}
    assert plans["nve2"].lines() == ["~ /mappings/vn[name=web]/entry[inner-mac=52:54:00:a1:00:01]",
                                     "~ /vn-instances/vn-instance[name=web]"]  # flood list
    assert f"- /vms/vm[vm-id={VM1}]" in plans["nve1"].lines()
    assert "+ /mappings/vn[name=web]/entry[inner-mac=52:54:00:a1:00:02]" in plans["nve3"].lines()
    assert director.apply().ok
    assert mappings(agents["nve2"]) == {("web", MAC1): underlay(3)}
    assert mappings(agents["nve3"]) == {("web", MAC2): underlay(2)}
    assert names(agents["nve1"], VM, "vm", "vm-id") == set()
    assert names(agents["nve1"], VN, "vn-instance", "name") == set()


def test_an_nve_that_rejects_its_part_leaves_every_nve_unchanged(
        director: Director, agents: dict[str, Agent]) -> None:
    registry = director.registry
    registry.register(web_vm(VM1, MAC1, "10.1.0.1", "vs1"))
    assert director.apply().ok
    # someone configured nve2 by hand with a VN holding VNID 10010 under another name
    with agents["nve2"].connect() as m:
        m.edit_config(target="running", config=f"""<config
          xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><tenants xmlns="{VN}"><tenant>
          <tenant-id>carol</tenant-id></tenant></tenants><vn-instances xmlns="{VN}">
          <vn-instance><name>manual</name><vnid>10010</vnid><tenant>carol</tenant>
          </vn-instance></vn-instances></config>""")
    before = {name: running(a) for name, a in agents.items()}
    # VM2 joins web behind nve2 (needs VN web there: VNID clash) and VM1 gets a new IP
    registry.register(web_vm(VM2, MAC2, "10.1.0.2", "vs2"))
    registry.register(web_vm(VM1, MAC1, "10.1.0.11", "vs1"))
    outcome = director.apply()
    assert not outcome.ok and outcome.results
    nve2 = next(r for r in outcome.results if r.nve == "nve2")
    assert not nve2.ok and nve2.step.value in ("edit-config", "validate")
    assert nve2.error_tag == "operation-failed" and "vnid" in (nve2.error_message or "")
    assert all(r.rolled_back for r in outcome.results)
    assert {name: running(a) for name, a in agents.items()} == before
    # nothing was recorded as applied: the same plan is still pending
    assert {p.nve for p in director.plan()} == {"nve1", "nve2"}


def test_an_nve_restarted_empty_is_detected_and_repaired(
        director: Director, agents: dict[str, Agent]) -> None:
    import shutil
    import threading

    registry = director.registry
    registry.register(web_vm(VM1, MAC1, "10.1.0.1", "vs1"))
    registry.register(web_vm(VM2, MAC2, "10.1.0.2", "vs2"))
    registry.record_state("nve2", VM2, "associated", tenant="alice")
    assert director.apply().ok
    seen: list[ReactorEvent] = []
    repaired = threading.Event()

    def report(event: ReactorEvent) -> None:
        seen.append(event)
        if event.kind == "repaired":
            repaired.set()

    reactor = Reactor(director, report=report, backoff=0.05, max_backoff=0.5).start()
    try:
        assert reactor.wait_connected(30)
        nve1 = agents["nve1"]
        nve1.stop()
        shutil.rmtree(nve1.config.state_dir)  # it comes back with nothing
        nve1.clock.advance(60)
        nve1.start()
        assert names(nve1, VM, "vm", "vm-id") == set()
        assert repaired.wait(30)
    finally:
        reactor.stop()
    restarted = [e for e in seen if e.kind == "restarted"]
    assert restarted and restarted[0].nve == "nve1" and "missing" in restarted[0].message
    assert names(agents["nve1"], VM, "vm", "vm-id") == {VM1}
    assert mappings(agents["nve1"]) == {("web", MAC2): underlay(2)}
    assert director.check("nve1") == []
