"""The agent behind OpenSSH: sshd authenticates, socat relays the netconf subsystem to
the agent's Unix socket, the agent learns the user from SO_PEERCRED (RFC 6242 over a
real sshd, as operators deploy it).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ncclient import manager
from ncclient.operations.rpc import RPCError as NcRPCError

from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.app import build_server
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from tests.functional.conftest import TEST_YANG
from tests.functional.test_protocol import config, item, names

SSHD = "/usr/sbin/sshd"
SOCAT = shutil.which("socat") or "/usr/bin/socat"
USER = getpass.getuser()

pytestmark = pytest.mark.skipif(
    not (os.path.exists(SSHD) and os.path.exists(SOCAT) and shutil.which("ssh-keygen")),
    reason="needs OpenSSH's sshd, ssh-keygen and socat (make setup installs them)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def openssh(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Sshd on a free loopback port with the netconf subsystem relayed by socat."""
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
        f"Subsystem netconf {SOCAT} STDIO UNIX-CONNECT:{sock}",
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
