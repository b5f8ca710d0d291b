"""Drift: someone edits NVEs by hand; the nDirector finds it and repairs it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvo3_netconf.cli.director import main
from nvo3_netconf.director.controller import Director
from nvo3_netconf.server.auth import UserDatabase

from .conftest import Agent
from .fleet import (
    ACL,
    MAP,
    VM,
    alice_director,
    fleet,
    mappings,
    names,
    underlay,
)
from .test_director_migration import vm_states
from .test_director_scenario import MAC1, MAC2, VM1, VM2, associate, web_vm

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


@pytest.fixture
def agents(tmp_path: Path, users: UserDatabase) -> Iterator[dict[str, Agent]]:
    with fleet(tmp_path, users, 3) as started:
        yield started


@pytest.fixture
def director(tmp_path: Path, agents: dict[str, Agent]) -> Iterator[Director]:
    with alice_director(tmp_path, agents) as d:
        d.registry.register(web_vm(VM1, MAC1, "10.1.0.1", "vs1"))
        d.registry.register(web_vm(VM2, MAC2, "10.1.0.2", "vs2"))
        d.registry.record_state("nve1", VM1, "associated", tenant="alice")
        d.registry.record_state("nve2", VM2, "associated", tenant="alice")
        assert d.apply().ok
        yield d


def hand_edit(agent: Agent, body: str) -> None:
    with agent.connect() as m:
        m.edit_config(target="running", config=f'<config xmlns="{NC}" xmlns:nc="{NC}">'
                                                f"{body}</config>")


EDITS = (
    # a mapping entry deleted, a rogue one added, the ACL's port changed
    f'<mappings xmlns="{MAP}"><vn><name>web</name><entry nc:operation="delete">'
    f"<inner-mac>{MAC1}</inner-mac></entry><entry><inner-mac>52:54:00:ee:ee:ee</inner-mac>"
    f"<remote-nve>203.0.113.66</remote-nve></entry></vn></mappings>",
    f'<acls xmlns="{ACL}"><acl><name>web-in</name><aces><ace><name>http</name><matches>'
    f"<tcp><destination-port><port>8080</port></destination-port></tcp></matches></ace>"
    f"</aces></acl></acls>",
)


def test_check_finds_hand_edits_and_repair_fixes_them(
        director: Director, agents: dict[str, Agent]) -> None:
    for body in EDITS:
        hand_edit(agents["nve2"], body)
    checked = director.sync_check()
    assert checked["nve1"] == [] and checked["nve3"] == []
    found = {(d.kind, d.key) for d in checked["nve2"]}  # type: ignore[union-attr]
    assert found == {
        ("missing", f"/mappings/vn[name=web]/entry[inner-mac={MAC1}]"),
        ("added", "/mappings/vn[name=web]/entry[inner-mac=52:54:00:ee:ee:ee]"),
        ("changed", "/acls/acl[name=web-in]"),
    }
    changed = next(d for d in checked["nve2"] if d.kind == "changed")  # type: ignore[union-attr]
    assert "port=80" in changed.detail and "port=8080" in changed.detail
    outcome = director.repair()
    assert outcome.ok and [p.nve for p in outcome.plans] == ["nve2"]
    assert director.sync_check() == {"nve1": [], "nve2": [], "nve3": []}
    assert mappings(agents["nve2"]) == {("web", MAC1): underlay(1)}


def test_cli_sync_check_and_repair(director: Director, agents: dict[str, Agent],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    store = str(director.db.path)
    hand_edit(agents["nve2"], EDITS[0])
    assert main(["--store", store, "sync", "check"]) == 2
    out = capsys.readouterr().out
    assert "missing" in out and "added" in out and "nve1" in out and "in sync" in out
    assert main(["--store", store, "sync", "repair", "--dry-run"]) == 0
    assert main(["--store", store, "sync", "check", "nve2", "--json"]) == 2
    assert main(["--store", store, "sync", "repair"]) == 0
    capsys.readouterr()
    assert main(["--store", store, "sync", "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"nve1": [], "nve2": [], "nve3": []}


def test_repair_from_device_adopts_the_nve_version(
        director: Director, agents: dict[str, Agent]) -> None:
    hand_edit(agents["nve2"], EDITS[1])
    outcome = director.repair(["nve2"], from_device=True)
    assert any("adopted /acls/acl[name=web-in]" in n for n in outcome.notes)
    assert "8080" in director.registry.policy(director.registry.policies()[0].kind,
                                              "web-in").xml
    # the intent now holds port 8080: nve1 gets it at the next apply, nve2 is in sync
    assert director.apply().ok
    assert director.sync_check() == {"nve1": [], "nve2": [], "nve3": []}


def test_an_nve_edited_while_disconnected_is_repaired_when_it_returns(
        director: Director, agents: dict[str, Agent]) -> None:
    import threading

    from nvo3_netconf.director.reactor import Reactor, ReactorEvent

    repaired = threading.Event()
    seen: list[ReactorEvent] = []

    def report(event: ReactorEvent) -> None:
        seen.append(event)
        if event.kind == "repaired":
            repaired.set()

    reactor = Reactor(director, report=report, backoff=0.05, max_backoff=0.5).start()
    try:
        assert reactor.wait_connected(30)
        nve2 = agents["nve2"]
        nve2.stop()
        nve2.start()  # same state, same start time: a reconnect, not a restart
        hand_edit(nve2, EDITS[0])  # ... edited before the director noticed
        assert repaired.wait(30)
    finally:
        reactor.stop()
    assert any(e.kind in ("reconnected", "restarted") and e.nve == "nve2" for e in seen)
    assert director.sync_check()["nve2"] == []


def test_cli_vm_migrate_and_migrations(director: Director, agents: dict[str, Agent],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    associate(agents["nve1"], VM1, MAC1, "10.1.0.1")
    store = str(director.db.path)
    assert main(["--store", store, "vm", "migrate", VM1, "--to", "nve3", "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert (record["phase"], record["result"], record["destination"]) == (
        "done", "success", "nve3")
    assert vm_states(agents["nve3"]) == {VM1: "associated"}
    assert VM1 in names(agents["nve3"], VM, "vm", "vm-id")
    assert mappings(agents["nve2"])[("web", MAC1)] == underlay(3)
    assert main(["--store", store, "vm", "migrations"]) == 0
    assert "done" in capsys.readouterr().out
    # a VM that is not associated anywhere cannot emigrate: FAIL, nothing changed
    assert main(["--store", store, "vm", "migrate", VM2, "--to", "nve1"]) == 3
    out = capsys.readouterr().out
    assert "FAIL" in out and "emigrate at the source" in out
    assert director.registry.lookup(VM2) == ("vs2", "nve2")
    assert mappings(agents["nve3"])[("web", MAC2)] == underlay(2)
    assert names(agents["nve1"], VM, "vm", "vm-id") == set()  # its staging was removed
