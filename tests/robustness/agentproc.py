"""``nvo3-nve serve`` as a real child process, and a raw client for it.

Used by the crash tests (SIGKILL at random moments) and the soak test. The agent runs
``python -m nvo3_netconf.cli.nve serve --config <file>`` from this checkout, in its own
process group, with its log in ``<workdir>/agent.log``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import paramiko
from lxml import etree

from nvo3_netconf.server.auth import hash_password
from tests.functional.conftest import PASSWORD, TEST_YANG
from tests.functional.raw import RawSession

ROOT = Path(__file__).resolve().parents[2]
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
E = {"nc": NC}
GONE = (EOFError, OSError, paramiko.SSHException)
"""What a client sees when the agent died under it."""


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


class AgentProcess:
    """One agent process at a time on a fixed state directory.

    Args:
        workdir: holds the users file, the configuration, the log and ``state/``.
        settings: extra configuration keys (TOML names, e.g. ``{"send-timeout": 5}``).
    """

    def __init__(self, workdir: Path, settings: dict[str, object] | None = None) -> None:
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.log = workdir / "agent.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        users = workdir / "users.toml"
        users.write_text(f'[users.admin]\npassword-hash = "{_password_hash()}"\n'
                         'groups = ["admin"]\n', encoding="utf-8")
        lines = {
            "listen": "127.0.0.1", "port": 0, "state-dir": str(self.state_dir),
            "users-file": str(users), "yang-dirs": [str(TEST_YANG)], **(settings or {}),
        }
        self.config = workdir / "nve.toml"
        self.config.write_text("".join(f"{key} = {json.dumps(value)}\n"
                                       for key, value in lines.items()), encoding="utf-8")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> AgentProcess:
        """Start the agent and wait until it listens.

        Raises:
            RuntimeError: it exited or did not listen in time (with its log's tail).
        """
        port_file = self.workdir / "port"
        port_file.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as log:
            log.write(b"---- start\n")
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nvo3_netconf.cli.nve", "serve", "--config",
                 str(self.config), "--port-file", str(port_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=ROOT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            text = port_file.read_text() if port_file.exists() else ""
            if text.endswith("\n"):
                self.port = int(text)
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the agent did not start:\n{self.tail()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the agent (no chance to clean up) and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> int | None:
        """SIGTERM the agent (clean shutdown); SIGKILL if it lingers. Returns its status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def connect(self, *, timeout: float = 30) -> Client:
        return Client(self.port, timeout=timeout)


class Client:
    """A raw NETCONF session (base:1.1) with an rpc helper."""

    def __init__(self, port: int, *, timeout: float = 30) -> None:
        self.raw = RawSession(port, "admin", PASSWORD)
        self.raw.channel.settimeout(timeout)
        self.raw.hello()
        self._ids = itertools.count(1)

    def call(self, operation: str) -> bytes:
        """Send one operation, return its reply (raises one of GONE if the agent died)."""
        message_id = str(next(self._ids))
        self.raw.send(f'<rpc xmlns="{NC}" message-id="{message_id}">{operation}</rpc>'.encode())
        while True:
            reply = self.raw.read()
            if b"<notification" in reply[:200]:
                continue
            assert f'message-id="{message_id}"'.encode() in reply[:300], reply[:300]
            return reply

    def ok(self, operation: str) -> bytes:
        reply = self.call(operation)
        errors = error_tags(reply)
        if errors:
            raise AssertionError(f"{operation[:200]} failed: {reply[:800]!r}")
        return reply

    def get_config(self, source: str) -> etree._Element:
        reply = self.ok(f"<get-config><source><{source}/></source></get-config>")
        data = etree.fromstring(reply).find("nc:data", E)
        assert data is not None
        return data

    def close(self) -> None:
        try:
            self.raw.close()
        except GONE:
            pass


def error_tags(reply: bytes) -> list[str]:
    root = etree.fromstring(reply)
    return [(e.findtext("nc:error-tag", namespaces=E) or "").strip()
            for e in root.iterfind("nc:rpc-error", E)]
