"""Fixtures: a real NVE agent on 127.0.0.1 (port 0) and ncclient sessions over SSH.

Every test gets a fresh agent with its own state directory; the fixture stops it.
``nc`` connects with base:1.1, ``nc10`` forces base:1.0 framing (the parametrized
``connect`` fixture runs a test under both).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ncclient import manager
from ncclient.devices.default import DefaultDeviceHandler

from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.app import RunningServer, build_server
from nvo3_netconf.server.auth import UserDatabase, hash_password
from nvo3_netconf.server.config import ServerConfig

ROOT = Path(__file__).resolve().parents[2]
TEST_YANG = ROOT / "tests" / "yang" / "modules"
PASSWORD = "correct horse battery staple"
USERS = ("admin", "operator", "monitor")


class Base10Handler(DefaultDeviceHandler):
    """An ncclient device handler that announces only base:1.0."""

    _BASE_CAPABILITIES = [
        c for c in DefaultDeviceHandler._BASE_CAPABILITIES
        if c != "urn:ietf:params:netconf:base:1.1"
    ]


@pytest.fixture(scope="session")
def users() -> UserDatabase:
    """Test accounts, all with the same password (hashing once per run)."""
    digest = hash_password(PASSWORD)
    return UserDatabase.from_mapping(
        {name: {"password-hash": digest, "groups": [name]} for name in USERS}
    )


class Agent:
    """A started agent plus what tests need to restart it on the same state."""

    def __init__(self, config: ServerConfig, users: UserDatabase, clock: ManualClock) -> None:
        self.config = config
        self.users = users
        self.clock = clock
        self.server: RunningServer | None = None

    def start(self) -> Agent:
        self.server = build_server(self.config, users=self.users, clock=self.clock)
        # Keep the port across restarts so clients reconnect to the same address.
        self.config = self.config.with_overrides(port=self.server.address[1])
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> Agent:
        self.stop()
        return self.start()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.address[1]

    def connect(self, *, base10: bool = False, user: str = "admin",
                password: str = PASSWORD) -> manager.Manager:
        params = {"handler": Base10Handler} if base10 else {"name": "default"}
        return manager.connect(
            host="127.0.0.1", port=self.port, username=user, password=password,
            hostkey_verify=False, look_for_keys=False, allow_agent=False,
            device_params=params, timeout=30,
        )


@pytest.fixture
def agent(tmp_path: Path, users: UserDatabase) -> Iterator[Agent]:
    """A fresh agent with the project's modules and the test module, on a free port."""
    config = ServerConfig(
        listen="127.0.0.1", port=0, state_dir=tmp_path / "state", yang_dirs=(TEST_YANG,),
    )
    running = Agent(config, users, ManualClock()).start()
    yield running
    running.stop()


@pytest.fixture(params=["base:1.1", "base:1.0"])
def connect(request: pytest.FixtureRequest, agent: Agent) -> Iterator[Callable[..., manager.Manager]]:
    """Open ncclient sessions with the framing of the parameter; closes them after."""
    opened: list[manager.Manager] = []

    def _connect(**kwargs: object) -> manager.Manager:
        session = agent.connect(base10=request.param == "base:1.0", **kwargs)  # type: ignore[arg-type]
        opened.append(session)
        return session

    yield _connect
    for session in opened:
        if session.connected:
            try:
                session.close_session()
            except Exception:
                pass
