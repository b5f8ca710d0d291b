"""A full disk or an unwritable state directory: the commit fails, nothing changes.

Real failures, not mocks:

- disk full: the state directory is a tiny tmpfs (mounting needs root; skipped
  otherwise), filled to the last byte by a filler file;
- unwritable files: the path the agent must write (the edit log ``running.wal``, or
  ``startup.xml``) is a directory, which no write can go through, root or not;
- read-only state directory: a read-only bind mount of it (root only).

The edit log reserves some space ahead (``wal.RESERVE``): an edit that fits in what is
left of it still succeeds on a full disk (and is durable), so the commits below carry
more than the reserve.

For each, every kind of commit — edit-config on running, commit of candidate, a
confirmed commit, copy-config to running, copy-config to startup — answers an rpc-error
and leaves running, candidate and startup as they were, in memory and on disk (checked
by restarting the agent). Once space is back, the same operations succeed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from nvo3_netconf.datastore.wal import RESERVE
from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from tests.functional.conftest import TEST_YANG, Agent
from tests.robustness.agentproc import Client, error_tags

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NT = "urn:nvo3-netconf:yang:nvo3-test"
X = {"nt": NT}


def item(name: str, number: int, owner: str = "") -> str:
    owner = f"<owner>{owner}</owner>" if owner else ""
    return (f'<top xmlns="{NT}"><item><name>{name}</name><number>{number}</number><small/>'
            f"{owner}</item></top>")


# Bigger than a page (a write cannot fit in the slack of a file's last block) and than
# the space the edit log reserves ahead.
BIG = "o" * (RESERVE + 20000)


def edit(target: str, config: str) -> str:
    return f"<edit-config><target><{target}/></target><config>{config}</config></edit-config>"


def names(client: Client, source: str) -> list[str]:
    return client.get_config(source).xpath("//nt:item/nt:name/text()", namespaces=X)


def snapshot(client: Client) -> dict[str, bytes]:
    return {source: etree.tostring(client.get_config(source), method="c14n")
            for source in ("running", "candidate", "startup")}


COMMITS = {
    "edit-running": [edit("running", item("new", 9, BIG))],
    "commit-candidate": [edit("candidate", item("new", 9, BIG)), "<commit/>"],
    "confirmed-commit": [edit("candidate", item("new", 9, BIG)),
                         "<commit><confirmed/><persist>p</persist></commit>"],
    "copy-to-running": [f"<copy-config><target><running/></target><source><config>"
                        f"{item('new', 9, BIG)}</config></source></copy-config>"],
    "copy-to-startup": ["<copy-config><target><startup/></target><source><running/>"
                        "</source></copy-config>"],
}


def attempt(client: Client, operations: list[str]) -> list[str]:
    """Run the operations; the last must fail: returns its error tags."""
    *preparation, last = operations
    client.ok("<discard-changes/>")
    for operation in preparation:
        client.ok(operation)
    tags = error_tags(client.call(last))
    client.ok("<discard-changes/>")
    return tags


@pytest.fixture
def make_agent(users: UserDatabase) -> Iterator:
    agents: list[Agent] = []

    def _make(state_dir: Path) -> Agent:
        config = ServerConfig(listen="127.0.0.1", port=0, state_dir=state_dir,
                              yang_dirs=(TEST_YANG,))
        agent = Agent(config, users, ManualClock()).start()
        agents.append(agent)
        return agent

    yield _make
    for agent in agents:
        agent.stop()


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs to fill needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                             str(path)], capture_output=True)
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def seed(client: Client) -> None:
    client.ok(edit("running", item("a", 1)))
    client.ok("<copy-config><target><startup/></target><source><running/></source>"
              "</copy-config>")
    client.ok(edit("running", item("b", 2)))


def check_all_refused(agent: Agent, client: Client) -> None:
    before = snapshot(client)
    for name, operations in COMMITS.items():
        tags = attempt(client, operations)
        assert tags == ["resource-denied"], (name, tags)
        assert snapshot(client) == before, name
    assert names(client, "running") == ["a", "b"]


def test_disk_full_fails_every_commit_and_changes_nothing(tmp_path: Path, make_agent) -> None:
    with tmpfs(tmp_path / "disk", "2m") as disk:
        agent = make_agent(disk / "state")
        client = Client(agent.port)
        seed(client)
        filler = fill(disk)
        check_all_refused(agent, client)
        # Reads and the session itself are unaffected.
        assert names(client, "startup") == ["a"]
        client.close()
        # Nothing partial reached the disk: a restart (with space back) sees the same.
        filler.unlink()
        agent.restart()
        client = Client(agent.port)
        assert names(client, "running") == ["a", "b"]
        assert names(client, "startup") == ["a"]
        # With space, the same operations succeed.
        for name, operations in COMMITS.items():
            client.ok("<discard-changes/>")
            for operation in operations:
                client.ok(operation)
            if name == "confirmed-commit":
                client.ok("<commit><persist-id>p</persist-id></commit>")
        assert names(client, "running") == ["new"]
        client.close()
        agent.stop()


def test_small_edits_use_the_space_the_log_reserved(tmp_path: Path, make_agent) -> None:
    with tmpfs(tmp_path / "disk", "2m") as disk:
        agent = make_agent(disk / "state")
        client = Client(agent.port)
        seed(client)
        fill(disk)
        client.ok(edit("running", item("c", 3)))  # well inside the reserve
        assert error_tags(client.call(edit("running", item("d", 4, BIG)))) == [
            "resource-denied"]
        client.close()
        agent.restart()
        client = Client(agent.port)
        assert names(client, "running") == ["a", "b", "c"]
        client.close()
        agent.stop()


def test_log_path_unwritable_fails_the_commit(tmp_path: Path, make_agent) -> None:
    agent = make_agent(tmp_path / "state")
    client = Client(agent.port)
    client.ok("<copy-config><target><running/></target><source><config>"
              f"{item('a', 1)}</config></source></copy-config>")  # a snapshot, no log yet
    wal = tmp_path / "state" / "running.wal"
    assert not wal.exists()
    wal.mkdir()  # nothing can append to it, whoever we are
    before = snapshot(client)
    for name in ("edit-running", "commit-candidate"):
        assert attempt(client, COMMITS[name]) == ["resource-denied"], name
        assert snapshot(client) == before, name
    client.close()
    wal.rmdir()
    agent.restart()
    client = Client(agent.port)
    assert names(client, "running") == ["a"]
    client.ok(edit("running", item("b", 2)))
    assert names(client, "running") == ["a", "b"]
    client.close()


def test_startup_path_unwritable_fails_copy_config(tmp_path: Path, make_agent) -> None:
    agent = make_agent(tmp_path / "state")
    client = Client(agent.port)
    seed(client)
    startup = tmp_path / "state" / "startup.xml"
    saved = startup.read_bytes()
    startup.unlink()
    startup.mkdir()
    (startup / "keep").write_bytes(b"")  # a non-empty directory: rename cannot replace it
    before = snapshot(client)
    assert attempt(client, COMMITS["copy-to-startup"]) == ["resource-denied"]
    assert snapshot(client) == before
    client.close()
    shutil.rmtree(startup)
    startup.write_bytes(saved)


def test_read_only_state_directory(tmp_path: Path, make_agent) -> None:
    state = tmp_path / "state"
    agent = make_agent(state)
    client = Client(agent.port)
    seed(client)
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(state), str(state)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        if os.access(state, os.W_OK) and _writable(state):
            pytest.skip("the bind mount did not become read-only")
        before = snapshot(client)
        # Whatever needs a new file fails cleanly. (An edit appended through the log
        # file the agent already holds open may still succeed: it is durable.)
        for name in ("copy-to-running", "copy-to-startup", "confirmed-commit"):
            assert attempt(client, COMMITS[name]) == ["resource-denied"], name
            assert snapshot(client) == before, name
    finally:
        subprocess.run(["umount", str(state)], check=False)
    client.close()
    agent.restart()
    client = Client(agent.port)
    assert names(client, "running") == ["a", "b"]
    assert names(client, "startup") == ["a"]
    client.close()


def _writable(directory: Path) -> bool:
    try:
        probe = directory / ".probe"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False
