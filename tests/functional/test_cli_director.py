"""The ``ndirector`` CLI's registry, push, diff and daemon commands against real agents.

The CLI runs in-process (``main([...])``, output through capsys), except ``run`` and
``watch``, which run as subprocesses so SIGTERM stops them as it would a daemon.
"""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from nvo3_netconf.cli.director import main
from nvo3_netconf.server.auth import UserDatabase

from .conftest import PASSWORD, ROOT, Agent
from .fleet import (
    ACL,
    ACL_WEB_IN,
    POL,
    QOS_GOLD,
    TES_USER,
    VM,
    VN,
    fleet,
    mappings,
    names,
    underlay,
)
from .test_director_scenario import MAC1, MAC2, VM1, VM2, associate

VM3 = "6f1c2b9e-3d4a-4e5f-8a7b-000000000003"


def nd(store: Path, *argv: str) -> int:
    return main(["--store", str(store), *argv])


@pytest.fixture
def agents(tmp_path: Path, users: UserDatabase) -> Iterator[dict[str, Agent]]:
    with fleet(tmp_path, users, 3) as started:
        yield started


@pytest.fixture
def inventory(tmp_path: Path, agents: dict[str, Agent]) -> Path:
    """A store with the three NVEs and a vServer behind each (nothing pushed yet)."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    store = tmp_path / "director" / "ndirector.sqlite"
    for n, (name, agent) in enumerate(sorted(agents.items()), start=1):
        assert nd(store, "nve", "add", name, "--address", "127.0.0.1", "--port",
                  str(agent.port), "--user", "admin", "--password-file", str(secret),
                  "--underlay", underlay(n), "--hostkey-policy", "accept-any") == 0
        assert nd(store, "vserver", "add", f"vs{n}", "--nve", name, "--tes-user", TES_USER,
                  "--interface", "eth1", "--no-push") == 0
    return store


@pytest.fixture
def store(tmp_path: Path, inventory: Path) -> Path:
    """Tenants alice (VN web, ACL web-in, QoS gold) and bob (VN red, served by nve3)."""
    (tmp_path / "web-in.xml").write_text(ACL_WEB_IN)
    (tmp_path / "gold.xml").write_text(QOS_GOLD)
    for argv in (("tenant", "add", "alice", "--name", "Alice Gaming Ltd"),
                 ("tenant", "add", "bob"),
                 ("vn", "add", "web", "--vnid", "10010", "--tenant", "alice",
                  "--vids", "100-199"),
                 ("vn", "add", "red", "--vnid", "20010", "--tenant", "bob",
                  "--vids", "200-299", "--nve", "nve3"),
                 ("policy", "acl", "add", "web-in", str(tmp_path / "web-in.xml"),
                  "--tenant", "alice"),
                 ("policy", "qos", "add", "gold", str(tmp_path / "gold.xml"),
                  "--tenant", "alice")):
        assert nd(inventory, *argv, "--no-push") == 0
    return inventory


def register_vm1(store: Path, *extra: str) -> int:
    return nd(store, "vm", "register", VM1, "--tenant", "alice", "--vserver", "vs1",
              "--vnic", f"{MAC1},web,10.1.0.1", "--acl-in", "web:web-in", "--qos", "web:gold",
              *extra)


# -- the registry's building blocks --------------------------------------------------------


def test_tenant_vn_policy_vserver_tables_json_and_errors(
        store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert nd(store, "tenant", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["TENANT", "NAME", "DESCRIPTION"]
    assert out[1].split() == ["alice", "Alice", "Gaming", "Ltd"] and out[2].split() == ["bob"]

    assert nd(store, "vn", "list", "--json") == 0
    vns = {v["name"]: v for v in json.loads(capsys.readouterr().out)}
    assert vns["web"]["vnid"] == 10010 and (vns["web"]["vid_start"], vns["web"]["vid_end"]) == (
        100, 199)
    assert vns["red"]["tenant"] == "bob" and vns["red"]["nves"] == ["nve3"]
    assert nd(store, "vn", "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["VN", "VNID", "TENANT"]
    assert table[1].split() == ["red", "20010", "bob", "l2", "vxlan", "head-end", "200-299",
                                "up", "nve3"]

    assert nd(store, "policy", "list") == 0
    assert [line.split() for line in capsys.readouterr().out.splitlines()] == [
        ["KIND", "NAME", "TENANT"], ["acl", "web-in", "alice"], ["qos", "gold", "alice"]]
    assert nd(store, "vserver", "list", "--json") == 0
    assert [(v["vserver_id"], v["nve"], v["tes_name"]) for v in json.loads(
        capsys.readouterr().out)] == [("vs1", "nve1", TES_USER), ("vs2", "nve2", TES_USER),
                                      ("vs3", "nve3", TES_USER)]

    # policies: the right element, well-formed, named as the command says
    (tmp_path / "broken.xml").write_text("<acl xmlns='x'><name>a</acl>")
    assert nd(store, "policy", "acl", "add", "a", str(tmp_path / "broken.xml")) == 1
    assert "not well-formed" in capsys.readouterr().err
    assert nd(store, "policy", "acl", "add", "gold", str(tmp_path / "gold.xml")) == 1
    assert "not an RFC 8519 <acl>" in capsys.readouterr().err
    assert nd(store, "policy", "qos", "add", "silver", str(tmp_path / "gold.xml")) == 1
    assert "<name> is 'gold', not 'silver'" in capsys.readouterr().err
    assert nd(store, "policy", "acl", "add", "x", str(tmp_path / "missing.xml")) == 1
    # references are checked; what is in use stays
    assert nd(store, "vn", "add", "blue", "--vnid", "30", "--tenant", "carol") == 1
    assert "no tenant 'carol'" in capsys.readouterr().err
    assert nd(store, "vn", "add", "blue", "--vnid", "10010", "--tenant", "bob") == 1
    assert "VNID 10010" in capsys.readouterr().err
    assert nd(store, "vn", "add", "blue", "--vnid", "30", "--tenant", "bob",
              "--flooding", "multicast") == 1
    assert "multicast group" in capsys.readouterr().err
    assert nd(store, "vn", "add", "blue", "--vnid", "30", "--tenant", "bob", "--vids",
              "x") == 1  # usage
    assert nd(store, "vserver", "add", "vs9", "--nve", "nve9", "--tes-user", "u",
              "--interface", "eth1") == 1
    assert "no NVE named 'nve9'" in capsys.readouterr().err
    assert nd(store, "tenant", "remove", "alice") == 1
    assert "in use" in capsys.readouterr().err
    assert nd(store, "tenant", "add", "dave", "--no-push") == 0
    assert nd(store, "tenant", "remove", "dave", "--json") == 0
    removed = json.loads(capsys.readouterr().out)
    assert removed["changed"] == {"removed": "dave"} and removed["apply"]["ok"]


# -- VMs: registration pushes to the NVE behind the vServer ----------------------------------


def test_vm_register_pushes_to_the_right_nve(
        store: Path, agents: dict[str, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert register_vm1(store) == 0
    captured = capsys.readouterr()
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines()[1:]}
    assert {nve: row[2] for nve, row in rows.items()} == {"nve1": "ok", "nve2": "ok",
                                                           "nve3": "ok"}  # vServers, VN red
    assert "[confirming-commit]" in captured.err
    assert names(agents["nve1"], VM, "vm", "vm-id") == {VM1}
    assert names(agents["nve1"], ACL, "acl", "name") == {"web-in"}
    assert names(agents["nve1"], POL, "qos-profile", "name") == {"gold"}
    assert names(agents["nve2"], VN, "tenant", "tenant-id") == set()
    assert names(agents["nve3"], VN, "vn-instance", "name") == {"red"}

    assert nd(store, "vm", "register", VM2, "--tenant", "alice", "--vserver", "vs2",
              "--vnic", f"{MAC2},web,10.1.0.2", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["changed"]["nve"] == "nve2" and report["apply"]["ok"]
    assert [n["nve"] for n in report["apply"]["nves"]] == ["nve1", "nve2"]  # flood lists
    assert names(agents["nve2"], VM, "vm", "vm-id") == {VM2}

    assert nd(store, "vm", "lookup", VM1) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == [VM1, "vs1", "nve1"]
    assert nd(store, "vm", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["vm_id"], v["nve"]) for v in listed] == [(VM1, "nve1"), (VM2, "nve2")]
    assert listed[0]["policies"][0]["ingress_acls"] == ["web-in"]

    # errors: a VN of another tenant; an unknown VM on deregister (nothing removed)
    assert nd(store, "vm", "register", VM3, "--tenant", "bob", "--vserver", "vs3",
              "--vnic", "52:54:00:b0:00:03,web") == 1
    assert "cannot attach to VN web of tenant alice" in capsys.readouterr().err
    assert nd(store, "vm", "register", VM3, "--tenant", "bob", "--vnic", "nomac") == 1
    assert nd(store, "vm", "deregister", VM2, "no-such-vm") == 1
    assert "not registered: no-such-vm" in capsys.readouterr().err
    assert nd(store, "vm", "lookup", VM2) == 0
    assert names(agents["nve2"], VM, "vm", "vm-id") == {VM2}

    # relocation moves VM1's profile and policies from nve1 to nve3
    assert nd(store, "vm", "relocate", VM1, "--vserver", "vs3") == 0
    capsys.readouterr()
    assert names(agents["nve1"], VM, "vm", "vm-id") == set()
    assert names(agents["nve3"], VM, "vm", "vm-id") == {VM1}
    assert nd(store, "vm", "deregister", VM1, VM2) == 0
    assert names(agents["nve2"], VM, "vm", "vm-id") == set()
    assert names(agents["nve3"], VM, "vm", "vm-id") == set()


def test_diff_and_apply_dry_run_change_nothing_until_apply(
        store: Path, agents: dict[str, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    assert register_vm1(store, "--no-push") == 0
    capsys.readouterr()
    assert nd(store, "diff", "--nve", "nve1") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# nve1: ") and f"+ /vms/vm[vm-id={VM1}]" in out
    assert "+ /acls/acl[name=web-in]" in out and "+ /vn-instances/vn-instance[name=web]" in out
    assert nd(store, "diff", "--json") == 0
    plans = {p["nve"]: p for p in json.loads(capsys.readouterr().out)}
    assert sorted(plans) == ["nve1", "nve2", "nve3"]  # nve2: its vServer's TES only
    assert not [k for k in plans["nve2"]["added"] if "tenant" in k or "vn-instance" in k]
    assert {"/tenants/tenant[tenant-id=bob]", "/vn-instances/vn-instance[name=red]"} <= set(
        plans["nve3"]["added"])

    assert nd(store, "apply", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "nve1:candidate" in out and f"<vm-id>{VM1}</vm-id>" in out
    assert names(agents["nve1"], VM, "vm", "vm-id") == set()
    assert nd(store, "diff", "--exact", "--nve", "nve3", "--json") == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["dry-run"] and "<name>red</name>" in exact["nves"][0]["result"]["diff"]
    assert names(agents["nve3"], VN, "vn-instance", "name") == set()

    assert nd(store, "apply", "--json") == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["ok"] and not applied["dry-run"]
    assert names(agents["nve1"], VM, "vm", "vm-id") == {VM1}
    assert nd(store, "diff") == 0 and nd(store, "apply") == 0
    assert "up to date" in capsys.readouterr().err
    assert nd(store, "diff", "--nve", "nve7") == 1


def test_groups_bulk_registration_and_reports(
        store: Path, agents: dict[str, Agent], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert nd(store, "vm", "group", "add", "7", "--tenant", "alice", "--name", "game",
              "--vserver", "vs2", "--vn", "web", "--acl-in", "web:web-in", "--no-push") == 0
    members = tmp_path / "members.csv"
    members.write_text("vm-id,mac,ip\n# a comment\n"
                       "game-2,52:54:00:c0:00:02,10.1.1.2\ngame-3,52:54:00:c0:00:03,10.1.1.3\n")
    capsys.readouterr()
    assert nd(store, "vm", "group", "register", "7", "--vm", "game-1,52:54:00:c0:00:01,10.1.1.1",
              "--from-file", str(members), "--format", "local") == 0
    assert names(agents["nve2"], VM, "vm", "vm-id") == {"game-1", "game-2", "game-3"}
    assert names(agents["nve2"], VM, "vm-group", "group-id") == {"7"}
    capsys.readouterr()
    assert nd(store, "vm", "group", "list") == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["7", "alice", "game", "vs2",
                                                               "web", "3"]
    assert nd(store, "vm", "group", "remove", "7") == 1
    assert "VMs belong to group 7" in capsys.readouterr().err

    for vm, cpu in (("game-1", 95), ("game-2", 85), ("game-3", 90)):
        assert nd(store, "vm", "report", vm, "--status", "running", "--cpu", str(cpu),
                  "--memory", "40") == 0
    assert register_vm1(store) == 0
    assert nd(store, "vm", "report", VM1, "--status", "running", "--cpu", "3",
              "--memory", "5", "--disk", "1", "--network", "2") == 0
    assert nd(store, "vm", "report", VM1, "--status", "running", "--cpu", "300") == 1
    assert nd(store, "vm", "report", "ghost", "--status", "running") == 1
    capsys.readouterr()
    assert nd(store, "vm", "reports", "--overloaded", "80") == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:2] == ["VSERVER", "VMS"] and rows[1].split()[:3] == ["vs2", "3",
                                                                                 "90.0"]
    assert len(rows) == 2
    assert nd(store, "vm", "reports", "--idle", "10", "--json") == 0
    idle = json.loads(capsys.readouterr().out)
    assert [(v["vserver_id"], v["peak"]) for v in idle] == [("vs1", 5.0)]
    assert nd(store, "vm", "reports", "--json") == 0
    assert [r["vm_id"] for r in json.loads(capsys.readouterr().out)] == [
        VM1, "game-1", "game-2", "game-3"]

    assert nd(store, "vm", "group", "deregister", "7") == 0
    assert names(agents["nve2"], VM, "vm", "vm-id") == set()
    assert nd(store, "vm", "group", "remove", "7") == 0
    assert nd(store, "vm", "group", "register", "7", "--vm", "x,52:54:00:c0:00:09") == 1


def test_exit_codes_when_nves_fail(store: Path, agents: dict[str, Agent],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert register_vm1(store) == 0
    assert nd(store, "vm", "register", VM2, "--tenant", "alice", "--vserver", "vs2",
              "--vnic", f"{MAC2},web,10.1.0.2") == 0
    before = names(agents["nve1"], VN, "vn-instance", "name")
    agents["nve2"].stop()
    capsys.readouterr()
    # VN web changes on nve1 and nve2; nve2 is down: nve1 rolls back, exit 2
    assert nd(store, "vn", "add", "web", "--vnid", "10010", "--tenant", "alice", "--vids",
              "100-199", "--admin-state", "down", "--timeout", "3") == 2
    captured = capsys.readouterr()
    rows = {line.split()[0]: line for line in captured.out.splitlines()[1:]}
    assert "rolled back" in rows["nve1"] and "connect" in rows["nve2"]
    assert "apply retries" in captured.err
    assert names(agents["nve1"], VN, "vn-instance", "name") == before
    assert nd(store, "diff", "--json") == 0  # the change is still pending
    assert {p["nve"] for p in json.loads(capsys.readouterr().out)} == {"nve1", "nve2"}
    for agent in agents.values():
        agent.stop()
    assert nd(store, "apply", "--timeout", "2") == 3


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_updating_line_on_a_terminal(
        store: Path, agents: dict[str, Agent], monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert register_vm1(store) == 0
    text = terminal.getvalue()
    lines = text.split("\n")
    commit = next(line for line in lines if "[confirmed-commit]" in line)
    assert commit.split("\r\x1b[K")[1:] == [f"[confirmed-commit] {n}/3 NVEs" for n in (1, 2, 3)]
    assert "[nve1]" not in text and "nve1: ok" not in text


# -- the daemon ------------------------------------------------------------------------------


class _Lines:
    """A subprocess's output, line by line, with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def until(self, predicate: Any, timeout: float = 60) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            self.seen.append(line)
            if predicate(line):
                return line


def _ndirector(store: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "nvo3_netconf.cli.director", "--store", str(store), *argv],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_run_reacts_to_an_associate_and_stops_on_sigterm(
        store: Path, agents: dict[str, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    assert register_vm1(store) == 0
    assert nd(store, "vm", "register", VM2, "--tenant", "alice", "--vserver", "vs2",
              "--vnic", f"{MAC2},web,10.1.0.2") == 0
    daemon = _ndirector(store, "run", "--json")
    try:
        out = _Lines(daemon.stdout)  # type: ignore[arg-type]
        connected = {json.loads(out.until(lambda line: '"connected"' in line))["nve"]
                     for _ in range(3)}
        assert connected == {"nve1", "nve2", "nve3"}
        associate(agents["nve1"], VM1, MAC1, "10.1.0.1")
        note = json.loads(out.until(lambda line: '"vm-state-changed"' in line))
        assert note["nve"] == "nve1" and note["notification"]["name"] == "vm-state-changed"
        applied = json.loads(out.until(lambda line: '"applied"' in line))
        assert applied["outcome"]["ok"]
        assert [n["nve"] for n in applied["outcome"]["nves"]] == ["nve2"]
        assert mappings(agents["nve2"]) == {("web", MAC1): underlay(1)}
        assert mappings(agents["nve3"]) == {}
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        assert "ndirector: stopped" in daemon.stderr.read()  # type: ignore[union-attr]
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    # the daemon recorded the association: VM1 is associated behind nve1
    capsys.readouterr()
    assert nd(store, "vm", "lookup", VM1, "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"vm": VM1, "vserver": "vs1", "nve": "nve1",
                                                   "state": "associated"}


def test_run_prints_human_lines_and_watch_prints_notifications(
        store: Path, agents: dict[str, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    assert register_vm1(store) == 0
    watcher = _ndirector(store, "watch", "--event", "vm-state-changed", "--count", "1")
    daemon = _ndirector(store, "run")
    try:
        err = _Lines(watcher.stderr)  # type: ignore[arg-type]
        for _ in range(3):
            err.until(lambda line: ": connected: " in line)
        out = _Lines(daemon.stdout)  # type: ignore[arg-type]
        for _ in range(3):
            out.until(lambda line: " connected " in line)
        associate(agents["nve1"], VM1, MAC1, "10.1.0.1")
        assert watcher.wait(timeout=60) == 0
        line = watcher.stdout.read()  # type: ignore[union-attr]
        assert line.startswith("nve1") and "vm-state-changed" in line and VM1 in line
        assert "associated" in line
        applied = out.until(lambda line: " applied " in line)
        assert "ok" in applied
        daemon.send_signal(signal.SIGINT)
        assert daemon.wait(timeout=30) == 0
    finally:
        for process in (watcher, daemon):
            if process.poll() is None:
                process.kill()
                process.wait()
    capsys.readouterr()
    assert nd(store, "vm", "lookup", VM1) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == [VM1, "vs1", "nve1",
                                                               "associated"]
