"""SSH authentication of the agent, over real connections (RFC 6242 sec. 6).

Passwords (scrypt, compared in constant time) and public keys from the users file;
unknown users, wrong passwords and wrong keys refused; repeated failures slowed down
per source address without holding up anyone else; a connection closed after too
many failures; the host key kept across restarts; no password in any log record.
"""

from __future__ import annotations

import logging
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from ncclient import manager
from ncclient.transport.errors import AuthenticationError

from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.auth import FailureThrottle, UserDatabase, hash_password
from nvo3_netconf.server.config import ServerConfig
from nvo3_netconf.transport.ssh import MAX_AUTH_ATTEMPTS
from tests.functional.conftest import PASSWORD, TEST_YANG, Agent

WRONG = "not the password, but close to it"


def new_key(path: Path) -> paramiko.PKey:
    key = paramiko.ECDSAKey.generate(bits=256)
    key.write_private_key_file(str(path))
    return key


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}_key" for name in ("alice", "other")}
    for path in paths.values():
        new_key(path)
    return paths


def users_with(keys: dict[str, Path], throttle: FailureThrottle | None = None) -> UserDatabase:
    alice = paramiko.ECDSAKey.from_private_key_file(str(keys["alice"]))
    users = UserDatabase.from_mapping({
        "admin": {"password-hash": hash_password(PASSWORD), "groups": ["admin"]},
        "alice": {"authorized-keys": [f"{alice.get_name()} {alice.get_base64()} alice@lab"],
                  "groups": ["admin"]},
    })
    if throttle is not None:
        users.throttle = throttle
    return users


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[object]:
    started: list[Agent] = []

    def _make(users: UserDatabase) -> Agent:
        config = ServerConfig(listen="127.0.0.1", port=0, state_dir=tmp_path / "state",
                              yang_dirs=(TEST_YANG,))
        agent = Agent(config, users, ManualClock()).start()
        started.append(agent)
        return agent

    yield _make
    for agent in started:
        agent.stop()


def key_login(agent: Agent, user: str, key: Path) -> manager.Manager:
    return manager.connect(host="127.0.0.1", port=agent.port, username=user,
                           key_filename=str(key), hostkey_verify=False, look_for_keys=False,
                           allow_agent=False, timeout=30)


def transport(port: int, source: str = "127.0.0.1") -> paramiko.Transport:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    client = paramiko.Transport(sock)
    client.start_client(timeout=30)
    return client


def fails(client: paramiko.Transport, user: str = "admin", password: str = WRONG) -> float:
    start = time.monotonic()
    with pytest.raises(paramiko.AuthenticationException):
        client.auth_password(user, password)
    return time.monotonic() - start


# ---------------------------------------------------------------- public keys
def test_public_key_login_and_refusals(make_agent, keys: dict[str, Path]) -> None:
    agent = make_agent(users_with(keys))
    with key_login(agent, "alice", keys["alice"]) as m:
        assert m.get_config(source="running").ok
        assert agent.server.netconf.sessions()[0].user == "alice"
    for user, key in (("alice", keys["other"]),     # a key alice does not have
                      ("admin", keys["alice"]),     # alice's key is not admin's
                      ("nobody", keys["alice"])):   # no such user
        with pytest.raises(AuthenticationError):
            key_login(agent, user, key)


def test_passwords_wrong_or_of_unknown_users_are_refused(make_agent, keys) -> None:
    agent = make_agent(users_with(keys))
    for user, password in (("admin", WRONG), ("nobody", PASSWORD), ("alice", PASSWORD),
                           ("admin", "")):
        with pytest.raises(AuthenticationError):
            agent.connect(user=user, password=password)
    with agent.connect(user="admin") as m:
        assert m.connected


# ------------------------------------------------------------------ throttling
def test_failures_slow_down_their_source_only(make_agent, keys) -> None:
    throttle = FailureThrottle(base=0.3, cap=1.2)
    agent = make_agent(users_with(keys, throttle))
    established = agent.connect(user="admin")
    client = transport(agent.port)
    assert fails(client) < 0.3  # first failure: no wait yet
    fails(client)
    fails(client)
    # Three failures from 127.0.0.1: the next attempt waits 0.3 * 2**2 = 1.2 s...
    slow: list[float] = []
    waiting = threading.Thread(target=lambda: slow.append(fails(client)))
    waiting.start()
    time.sleep(0.2)
    # ...while the established session answers at once and another address logs in
    # without waiting.
    start = time.monotonic()
    assert established.get_config(source="running").ok
    assert time.monotonic() - start < 0.5
    other = transport(agent.port, source="127.0.0.2")
    start = time.monotonic()
    other.auth_password("admin", PASSWORD)
    assert other.is_authenticated()
    assert time.monotonic() - start < 0.8
    other.close()
    waiting.join(timeout=30)
    assert slow and slow[0] >= 1.1
    # The wait is capped, and success forgets the failures.
    assert fails(client) < 2.5
    client.close()
    assert throttle.delay("127.0.0.1") == pytest.approx(1.2)
    agent.connect(user="admin").close_session()
    assert throttle.delay("127.0.0.1") == 0
    established.close_session()


def test_a_connection_is_closed_after_too_many_failures(make_agent, keys) -> None:
    agent = make_agent(users_with(keys, FailureThrottle(base=0.0)))
    client = transport(agent.port)
    for _ in range(MAX_AUTH_ATTEMPTS):
        fails(client)
    with pytest.raises(paramiko.SSHException):
        client.auth_password("admin", PASSWORD)  # even the right password: too late
    deadline = time.monotonic() + 10
    while client.is_active() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.is_active()


# ------------------------------------------------------------------- host key
def test_host_key_is_kept_across_restarts(make_agent, keys, tmp_path: Path) -> None:
    agent = make_agent(users_with(keys))

    def host_key() -> str:
        client = transport(agent.port)
        try:
            return client.get_remote_server_key().get_fingerprint().hex()
        finally:
            client.close()

    first = host_key()
    path = tmp_path / "state" / "ssh_host_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    agent.restart()
    assert host_key() == first
    # A client that pinned the key (known_hosts) still connects after the restart.
    known = tmp_path / "known_hosts"
    remote = paramiko.ECDSAKey.from_private_key_file(str(path))
    known.write_text(f"[127.0.0.1]:{agent.port} {remote.get_name()} {remote.get_base64()}\n")
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host 127.0.0.1\n  UserKnownHostsFile {known}\n")
    with manager.connect(host="127.0.0.1", port=agent.port, username="admin",
                         password=PASSWORD, hostkey_verify=True, ssh_config=str(ssh_config),
                         look_for_keys=False, allow_agent=False, timeout=30) as m:
        assert m.connected
    # and one that pinned another key does not
    other = paramiko.ECDSAKey.generate(bits=256)
    known.write_text(f"[127.0.0.1]:{agent.port} {other.get_name()} {other.get_base64()}\n")
    with pytest.raises(Exception, match="[Uu]nknown host key|[Kk]ey"):
        manager.connect(host="127.0.0.1", port=agent.port, username="admin",
                        password=PASSWORD, hostkey_verify=True, ssh_config=str(ssh_config),
                        look_for_keys=False, allow_agent=False, timeout=30)


# ----------------------------------------------------------------------- logs
def test_no_password_reaches_the_logs(make_agent, keys,
                                      caplog: pytest.LogCaptureFixture) -> None:
    agent = make_agent(users_with(keys))
    caplog.set_level(logging.DEBUG)
    for name in ("paramiko", "ncclient", "nvo3_netconf"):
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
    with pytest.raises(AuthenticationError):
        agent.connect(user="admin", password=WRONG)
    with agent.connect(user="admin") as m:
        m.get_config(source="running")
    time.sleep(0.2)  # let the server's threads log the session's end
    text = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.__dict__!r}" for record in caplog.records)
    assert "authentication" in text  # the failure was logged...
    assert PASSWORD not in text and WRONG not in text  # ...but no password, ever
