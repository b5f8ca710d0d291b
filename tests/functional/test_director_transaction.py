"""The nDirector's network-wide transaction against three real NVE agents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvo3_netconf.director.client import DeviceClient
from nvo3_netconf.director.transaction import (
    NetworkTransaction,
    NetworkTransactionError,
    Step,
)
from nvo3_netconf.errors import InvalidValueError, RPCError
from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from nvo3_netconf.tes.connection import ConnectionParams, HostKeyPolicy

from .conftest import PASSWORD, TEST_YANG, Agent

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
VN = "urn:nvo3-netconf:yang:nvo3-vn"
NAMES = ("nve1", "nve2", "nve3")


def vn_config(vnid: int = 100, name: str = "blue") -> str:
    return (f'<config xmlns="{NC}"><tenants xmlns="{VN}"><tenant><tenant-id>t1</tenant-id>'
            f'</tenant></tenants><vn-instances xmlns="{VN}"><vn-instance><name>{name}</name>'
            f"<vnid>{vnid}</vnid><tenant>t1</tenant></vn-instance></vn-instances></config>")


@pytest.fixture
def agents(tmp_path: Path, users: UserDatabase) -> Iterator[dict[str, Agent]]:
    started: dict[str, Agent] = {}
    try:
        for name in NAMES:
            config = ServerConfig(listen="127.0.0.1", port=0, state_dir=tmp_path / name,
                                  yang_dirs=(TEST_YANG,))
            started[name] = Agent(config, users, ManualClock()).start()
        yield started
    finally:
        for agent in started.values():
            agent.stop()


def client(name: str, agent: Agent) -> DeviceClient:
    return DeviceClient(name, ConnectionParams(
        "127.0.0.1", agent.port, username="admin", password=PASSWORD,
        hostkey_policy=HostKeyPolicy.ACCEPT_ANY, timeout=10.0), attempts=1)


@pytest.fixture
def clients(agents: dict[str, Agent]) -> Iterator[dict[str, DeviceClient]]:
    opened = {name: client(name, agent) for name, agent in agents.items()}
    yield opened
    for c in opened.values():
        c.close()


def vns(agent: Agent, source: str = "running") -> dict[str, str]:
    """VN name -> vnid in the agent's datastore, read over a fresh session."""
    with client("probe", agent) as probe:
        data = probe.get_config(source, subtree=f'<vn-instances xmlns="{VN}"/>')
    return {el.findtext(f"{{{VN}}}name"): el.findtext(f"{{{VN}}}vnid")
            for el in data.iter(f"{{{VN}}}vn-instance")}


# -- DeviceClient ---------------------------------------------------------------------


def test_client_operations_and_typed_errors(clients: dict[str, DeviceClient],
                                            agents: dict[str, Agent]) -> None:
    c = clients["nve1"].connect()
    assert c.has_candidate and c.session_id is not None
    c.lock()
    with pytest.raises(RPCError) as info:
        c.edit_config(vn_config(20000000))
    assert isinstance(info.value, InvalidValueError)
    assert info.value.path and "vnid" in info.value.path
    assert "VNID" in info.value.message
    c.discard_changes()
    c.edit_config(vn_config(7))
    c.validate()
    c.commit(confirmed=True, confirm_timeout=60)
    assert vns(agents["nve1"]) == {"blue": "7"}
    c.cancel_commit()
    assert vns(agents["nve1"]) == {}
    c.edit_config(vn_config(7))
    c.commit()
    c.unlock()
    assert vns(agents["nve1"]) == {"blue": "7"}


def test_client_reconnects_after_the_agent_restarts(clients: dict[str, DeviceClient],
                                                    agents: dict[str, Agent]) -> None:
    c = clients["nve1"].connect()
    agents["nve1"].restart()
    with pytest.raises(ConnectionError):
        c.ping()
    assert not c.connected
    c.ping()  # a new session
    assert c.connected


def test_client_connect_retries_with_backoff(agents: dict[str, Agent]) -> None:
    waits: list[float] = []
    c = DeviceClient("gone", ConnectionParams(
        "127.0.0.1", 1, username="admin", password=PASSWORD,
        hostkey_policy=HostKeyPolicy.ACCEPT_ANY, timeout=2.0),
        attempts=4, backoff=0.1, max_backoff=0.3, sleep=waits.append)
    with pytest.raises(ConnectionError):
        c.connect()
    assert waits == [0.1, 0.2, 0.3]


# -- transactions ---------------------------------------------------------------------


def test_transaction_configures_every_nve(clients, agents) -> None:
    steps: list[Step] = []
    results = NetworkTransaction.same_config(clients, vn_config(100),
                                             before_step=steps.append).run()
    assert [(r.nve, r.ok, r.step) for r in results] == [(n, True, Step.DONE) for n in NAMES]
    for agent in agents.values():
        assert vns(agent) == {"blue": "100"}
        assert vns(agent, "candidate") == {"blue": "100"}
    assert steps[:5] == [Step.CONNECT, Step.LOCK, Step.DISCARD, Step.EDIT, Step.VALIDATE]
    assert Step.CONFIRM in steps
    # the locks were released: a second transaction can run on the same sessions
    NetworkTransaction.same_config(clients, vn_config(101, "red")).run()
    assert vns(agents["nve2"]) == {"blue": "100", "red": "101"}


def test_one_nve_rejecting_its_part_changes_no_nve(clients, agents) -> None:
    configs = {"nve1": vn_config(100), "nve2": vn_config(20000000), "nve3": vn_config(100)}
    with pytest.raises(NetworkTransactionError) as info:
        NetworkTransaction(clients, configs).run()
    results = {r.nve: r for r in info.value.results}
    bad = results["nve2"]
    assert not bad.ok and bad.step is Step.EDIT
    assert bad.error_tag == "invalid-value"
    assert bad.error_path and "vnid" in bad.error_path
    assert bad.error_message
    for name in ("nve1", "nve3"):
        assert not results[name].ok and results[name].rolled_back
    for agent in agents.values():
        assert vns(agent) == {} and vns(agent, "candidate") == {}
    # nothing is left locked
    NetworkTransaction.same_config(clients, vn_config(1)).run()


@pytest.mark.parametrize("when", [Step.COMMIT, Step.CHECK])
def test_an_nve_stopped_mid_transaction_rolls_back_the_others(clients, agents, when) -> None:
    def stop(step: Step) -> None:
        if step is when:
            agents["nve3"].stop()

    with pytest.raises(NetworkTransactionError) as info:
        NetworkTransaction.same_config(clients, vn_config(100), before_step=stop).run()
    results = {r.nve: r for r in info.value.results}
    assert not results["nve3"].ok and results["nve3"].step is when
    assert results["nve3"].error_tag is None and results["nve3"].error_message
    for name in ("nve1", "nve2"):
        assert not results[name].ok and results[name].rolled_back, results[name]
        assert vns(agents[name]) == {} and vns(agents[name], "candidate") == {}
    agents["nve3"].start()
    assert vns(agents["nve3"]) == {}


def test_dry_run_shows_diffs_and_changes_nothing(clients, agents) -> None:
    configs = {"nve1": vn_config(100), "nve2": vn_config(200), "nve3": vn_config(100)}
    results = NetworkTransaction(clients, configs).run(dry_run=True)
    assert all(r.ok for r in results)
    diff = {r.nve: r.diff for r in results}
    assert "+" in diff["nve2"] and "<vnid>200</vnid>" in diff["nve2"]
    assert "nve2:running" in diff["nve2"] and "nve2:candidate" in diff["nve2"]
    assert "<vnid>100</vnid>" in diff["nve1"]
    for agent in agents.values():
        assert vns(agent) == {} and vns(agent, "candidate") == {}
    # an NVE that already holds the change has an empty diff
    NetworkTransaction(clients, {"nve1": vn_config(100)}).run()
    again = NetworkTransaction(clients, configs).run(dry_run=True)
    assert {r.nve: bool(r.diff) for r in again} == {"nve1": False, "nve2": True, "nve3": True}


# -- the ndirector CLI ----------------------------------------------------------------


def ndirector(store: Path, *argv: str) -> int:
    from nvo3_netconf.cli.director import main

    return main(["--store", str(store), *argv])


@pytest.fixture
def store(tmp_path: Path, agents: dict[str, Agent]) -> Path:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    path = tmp_path / "director" / "inventory.sqlite"
    for n, (name, agent) in enumerate(agents.items()):
        assert ndirector(path, "nve", "add", name, "--address", "127.0.0.1",
                         "--port", str(agent.port), "--user", "admin", "--password-file",
                         str(secret), "--dc", f"dc{n % 2}", "--underlay", f"192.0.2.{n + 1}",
                         "--hostkey-policy", "accept-any") == 0
    return path


def test_cli_nve_add_list_remove(store: Path, agents, capsys) -> None:
    capsys.readouterr()
    assert ndirector(store, "nve", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "ADDRESS", "PORT", "USER", "AUTH", "DC", "UNDERLAY"]
    assert [line.split()[0] for line in out[1:]] == list(NAMES)
    assert ndirector(store, "nve", "add", "nve1", "--address", "x", "--user", "u",
                     "--key", str(store)) == 1
    assert "exists" in capsys.readouterr().err
    assert ndirector(store, "nve", "remove", "nve3") == 0
    assert ndirector(store, "nve", "remove", "nve3") == 1
    assert ndirector(store, "nve", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed] == ["nve1", "nve2"]
    assert listed[1]["underlay_address"] == "192.0.2.2" and listed[1]["data_centre"] == "dc1"
    assert ndirector(store, "nve", "add") == 1  # usage


def test_cli_nve_status(store: Path, agents, capsys) -> None:
    capsys.readouterr()
    assert ndirector(store, "nve", "status", "--json") == 0
    statuses = json.loads(capsys.readouterr().out)
    assert [s["nve"] for s in statuses] == list(NAMES)
    assert all(s["reachable"] and s["capabilities"] > 5 and s["lock"] == "free"
               for s in statuses)
    agents["nve2"].stop()
    assert ndirector(store, "nve", "status") == 2
    table = capsys.readouterr().out
    assert "nve2" in table and " no " in table
    for agent in agents.values():
        agent.stop()
    assert ndirector(store, "nve", "status", "--nve", "nve1", "--timeout", "2") == 3


def test_cli_push(store: Path, agents, tmp_path: Path, capsys) -> None:
    good = tmp_path / "vn.xml"
    good.write_text(vn_config(100))
    capsys.readouterr()
    assert ndirector(store, "push", str(good), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "+" in out and "<vnid>100</vnid>" in out and "nve3:candidate" in out
    assert all(vns(agent) == {} for agent in agents.values())

    assert ndirector(store, "push", str(good), "--nve", "nve1", "--nve", "nve2") == 0
    captured = capsys.readouterr()
    assert "[confirming-commit]" in captured.err
    assert [vns(agents[n]) for n in NAMES] == [{"blue": "100"}, {"blue": "100"}, {}]

    bad = tmp_path / "bad.xml"
    bad.write_text(vn_config(0, "green"))
    assert ndirector(store, "push", str(bad), "--json") == 2
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"]
    assert {r["nve"]: r["error-tag"] for r in report["results"]} == {
        n: "invalid-value" for n in NAMES}
    assert [vns(agents[n]) for n in NAMES] == [{"blue": "100"}, {"blue": "100"}, {}]

    for agent in agents.values():
        agent.stop()
    assert ndirector(store, "push", str(good), "--timeout", "2") == 3
    assert ndirector(store, "push", str(tmp_path / "missing.xml")) == 1
