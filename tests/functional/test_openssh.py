"""The agent behind OpenSSH (RFC 6242 over a real sshd, as operators deploy it).

sshd authenticates and runs the netconf subsystem, which reaches the agent's Unix socket:
nvo3-nve-subsystem handing the channel over, or socat relaying its bytes. The agent
learns the user from SO_PEERCRED.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError as NcRPCError

from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.app import build_server
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from tests.functional.conftest import TEST_YANG
from tests.functional.test_protocol import NC, NS, X, config, item, names

SSHD = "/usr/sbin/sshd"
SOCAT = shutil.which("socat") or "/usr/bin/socat"
USER = getpass.getuser()
SUBSYSTEM = Path(sys.executable).parent / "nvo3-nve-subsystem"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(SSHD) and os.path.exists(SOCAT) and shutil.which("ssh-keygen")),
    reason="needs OpenSSH's sshd, ssh-keygen and socat (make setup installs them)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def subsystem_command(kind: str, sock: Path) -> str:
    """The sshd ``Subsystem netconf`` command of each supported program."""
    if kind == "handoff":
        return f"{SUBSYSTEM} {sock}"
    return f"{SOCAT} STDIO UNIX-CONNECT:{sock}"


@pytest.fixture(params=["handoff", "socat"])
def openssh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Sshd on a free loopback port; the netconf subsystem is nvo3-nve-subsystem or socat."""
    sock = tmp_path / "netconf.sock"
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(tmp_path / name)], check=True)
    (tmp_path / "authorized_keys").write_text((tmp_path / "client.pub").read_text())
    port = free_port()
    (tmp_path / "sshd_config").write_text("\n".join([
        "ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {tmp_path / 'host'}",
        f"PidFile {tmp_path / 'sshd.pid'}", f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "PermitRootLogin prohibit-password", f"AllowUsers {USER}", "StrictModes no",
        "UseDNS no", "LogLevel ERROR",
        f"Subsystem netconf {subsystem_command(request.param, sock)}",
    ]) + "\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    sshd = subprocess.Popen([SSHD, "-D", "-f", str(tmp_path / "sshd_config"),
                             "-E", str(tmp_path / "sshd.log")], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert sshd.poll() is None, (tmp_path / "sshd.log").read_text()
            assert time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.05)
        yield port, sock
    finally:
        sshd.terminate()
        sshd.wait(timeout=10)


def agent_behind(tmp_path: Path, sock: Path, users: dict) -> object:
    conf = ServerConfig(state_dir=tmp_path / "state", yang_dirs=(TEST_YANG,),
                        unix_socket=sock, builtin_ssh=False)
    return build_server(conf, users=UserDatabase.from_mapping(users), clock=ManualClock())


def connect(port: int, key: Path) -> manager.Manager:
    return manager.connect(host="127.0.0.1", port=port, username=USER, key_filename=str(key),
                           hostkey_verify=False, look_for_keys=False, allow_agent=False,
                           timeout=30)


def test_sessions_relayed_by_sshd_work_and_know_their_user(openssh, tmp_path) -> None:
    port, sock = openssh
    with agent_behind(tmp_path, sock, {USER: {"groups": ["admin"]}}) as server:
        m = connect(port, tmp_path / "client")
        m.edit_config(target="running", config=config(item("a", 1)))
        assert names(m.get_config(source="running")) == ["a"]
        sessions = server.netconf.sessions()
        assert [s.user for s in sessions] == [USER]
        with pytest.raises(NcRPCError) as info:
            m.edit_config(target="running", config=config(item("b", 0)))
        assert info.value.tag == "invalid-value"
        m.close_session()


def test_user_unknown_to_the_agent_is_refused(openssh, tmp_path) -> None:
    port, sock = openssh
    with agent_behind(tmp_path, sock, {"someone-else": {"groups": []}}):
        with pytest.raises(Exception):  # noqa: B017 - the subsystem closes at once
            connect(port, tmp_path / "client")


def _channel_fds() -> set[str]:
    """This process's pipes and sockets (by inode: a reused number is not the same)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(("pipe:", "socket:")):
            found.add(target)
    return found


def _subsystem_processes(sock: Path) -> list[int]:
    """Pids of nvo3-nve-subsystem processes serving ``sock``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"nvo3-nve-subsystem") for arg in cmdline) \
                and str(sock).encode() in cmdline:
            found.append(int(pid))
    return found


def _wait_for(condition, what: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.parametrize("openssh", ["handoff"], indirect=True)
def test_handed_off_channel_carries_big_replies_and_is_released(openssh, tmp_path) -> None:
    """The agent writes sshd's pipes itself, and releases them with the session.

    A reply far larger than a pipe's buffer arrives whole; when a session ends (closed
    or killed) the agent keeps no descriptor of it and the subsystem program exits, so
    sshd ends the channel.
    """
    port, sock = openssh
    before = _channel_fds()
    with agent_behind(tmp_path, sock, {USER: {"groups": ["admin"]}}) as server:
        first = connect(port, tmp_path / "client")
        second = connect(port, tmp_path / "client")
        value = "v" * 200
        entries = "".join(f"<entry><id>{i}</id><value>{value}</value></entry>"
                          for i in range(1500))
        first.edit_config(target="running", config=(
            f'<config xmlns="{NC}"><bulk xmlns="{NS}">{entries}</bulk></config>'))
        reply = second.get_config(source="running")
        assert len(reply.xml) > 300_000  # several times a pipe's 64 KiB
        ids = etree.fromstring(reply.xml.encode()).xpath("//nt:entry/nt:id/text()",
                                                         namespaces=X)
        assert ids == [str(i) for i in range(1500)]
        assert len(_subsystem_processes(sock)) == 2
        victim = next(s.session_id for s in server.netconf.sessions()
                      if s.session_id != int(first.session_id))
        first.kill_session(str(victim))
        _wait_for(lambda: len(server.netconf.sessions()) == 1, "the killed session ended")
        with pytest.raises(Exception):  # noqa: B017 - its channel was ended by sshd
            second.get_config(source="running")
        first.close_session()
        _wait_for(lambda: not server.netconf.sessions(), "the closed session ended")
        _wait_for(lambda: not _subsystem_processes(sock), "the subsystem programs exited")
    # The test's own ncclient sessions may keep descriptors; the agent's are pipes and
    # sockets (the handed-over channel, the wake-up pipe, the subsystem's connection).
    _wait_for(lambda: not _channel_fds() - before, "the agent released every descriptor")
