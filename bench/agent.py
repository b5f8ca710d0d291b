"""Our NVE agent as the benchmark runs it: ``nvo3-nve serve`` as a child process.

Two supported deployments are measured:

- :class:`OurAgent` (``ours``): the agent's built-in SSH server (paramiko) on a free port
  of 127.0.0.1 (``--port 0``, read back from ``--port-file``); its users file holds the
  benchmark's public key.
- :class:`OpenSSHAgent` (``ours-openssh``): the agent with ``--unix-socket <dir>/netconf.sock
  --no-builtin-ssh`` behind a private OpenSSH sshd (:class:`sshd.Sshd`, configured exactly
  as netconfd's except the Subsystem line), whose ``netconf`` subsystem is
  ``nvo3-nve-subsystem <socket>``: it hands the channel's pipes to the agent and waits, so
  no process copies the bytes between sshd and the agent. sshd authenticates the client;
  the agent learns the user from ``SO_PEERCRED`` of that program, so its users file names
  the user without credentials::

      client --SSH--> sshd (C, one process per connection)
                       |-- nvo3-nve-subsystem <dir>/netconf.sock  (as the user; idle)
                       `--its stdin/stdout pipes, handed over--> nvo3-nve serve --unix-socket ...

  ``--relay socat`` measures the byte relay ``socat STDIO UNIX-CONNECT:<socket>`` instead
  (also supported by the agent).

Each gets a temporary state directory and the test module directory (``--yang-dir``).
Logs go to ``agent.log`` in the work directory.

Public names: :class:`OurAgent`, :class:`OpenSSHAgent`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from processes import Managed, StartError, require, start, stop, wait_until
from sshd import Sshd

ROOT = Path(__file__).resolve().parent.parent


class OurAgent(Managed):
    """``nvo3-nve serve`` in ``workdir``; a context manager that stops it on exit.

    Args:
        workdir: a fresh directory owned by the benchmark.
        user: the account name the client logs in with.
        public_key: the client's public key line.
        yang_dir: the directory of the test module.
        unix_socket: serve only sessions relayed by OpenSSH through this socket
            (``--unix-socket``, ``--no-builtin-ssh``); the users file then names the user
            without credentials, and :attr:`port` stays 0.
    """

    name = "ours"

    def __init__(self, workdir: Path, *, user: str, public_key: str, yang_dir: Path,
                 unix_socket: Path | None = None) -> None:
        self.workdir = workdir
        self.user = user
        self.public_key = public_key
        self.yang_dir = yang_dir
        self.unix_socket = unix_socket
        self.log = workdir / "agent.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._generation = 0

    @property
    def pid(self) -> int | None:
        """The agent's process id (the Python process itself)."""
        return self.process.pid if self.process else None

    def start(self) -> OurAgent:
        """Start the agent and wait until it listens.

        Raises:
            StartError: the CLI is missing or the agent exited or did not listen in time.
        """
        program = Path(sys.executable).parent / "nvo3-nve"
        argv = ([str(program)] if program.exists()
                else [sys.executable, "-m", "nvo3_netconf.cli.nve"])
        users = self.workdir / "users.toml"
        # TOML basic strings are JSON-compatible for these values. Behind OpenSSH, sshd
        # authenticates: the entry needs no credentials.
        keys = ("" if self.unix_socket is not None
                else f"authorized-keys = [{json.dumps(self.public_key)}]\n")
        users.write_text(f"[users.{json.dumps(self.user)}]\n{keys}"
                         'groups = ["admin"]\n', encoding="utf-8")
        port_file = self.workdir / "agent.port"
        port_file.unlink(missing_ok=True)
        state = self.workdir / f"state-{self._generation}"
        log_offset = self.log.stat().st_size if self.log.exists() else 0
        self.process = start(
            [*argv, "serve", *self._listen_args(port_file), "--state-dir", str(state),
             "--users-file", str(users), "--yang-dir", str(self.yang_dir)],
            log=self.log, env=dict(os.environ), cwd=ROOT,
        )

        def listening() -> bool:
            try:
                text = port_file.read_text(encoding="utf-8")
            except OSError:
                return False
            if not text.endswith("\n"):  # not completely written yet
                return False
            self.port = int(text)
            return True

        def socket_served() -> bool:
            # The CLI says so once the socket accepts (after the datastores loaded).
            with self.log.open("rb") as log:
                log.seek(log_offset)
                return b"nvo3-nve: subsystem socket" in log.read()

        wait_until(listening if self.unix_socket is None else socket_served,
                   what="nvo3-nve serve", process=self.process, log=self.log)
        return self

    def _listen_args(self, port_file: Path) -> list[str]:
        if self.unix_socket is not None:
            return ["--unix-socket", str(self.unix_socket), "--no-builtin-ssh"]
        return ["--listen", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]

    def describe(self) -> str:
        """How the agent was started, for the report."""
        listen = " ".join(self._listen_args(self.workdir / "agent.port"))
        return (f"nvo3-nve serve {listen} --state-dir {self.workdir}/state-<n> "
                f"--users-file {self.workdir}/users.toml --yang-dir {self.yang_dir}")

    def restart_empty(self) -> None:
        """Stop the agent and start it again on a new, empty state directory."""
        self.stop()
        self._generation += 1
        self.start()

    def stop(self) -> None:
        """SIGTERM the agent (clean shutdown), SIGKILL if it lingers."""
        stop(self.process, grace=10.0)
        self.process = None


class OpenSSHAgent(Managed):
    """Our agent on a Unix socket behind its own sshd; a context manager that stops both.

    Args: as :class:`OurAgent` (``workdir`` is short: it holds the socket).
    """

    name = "ours-openssh"

    def __init__(self, workdir: Path, *, user: str, public_key: str, yang_dir: Path,
                 relay: str = "handoff") -> None:
        self.workdir = workdir
        self.user = user
        self.relay = relay
        self.socket = workdir / "netconf.sock"
        self.agent = OurAgent(workdir, user=user, public_key=public_key, yang_dir=yang_dir,
                              unix_socket=self.socket)
        self.sshd = Sshd(workdir, public_key=public_key, user=user,
                         subsystem=self.subsystem, what="sshd (for our agent)")
        self._socat = "/usr/bin/socat"
        self._handoff = Path(sys.executable).parent / "nvo3-nve-subsystem"

    @property
    def port(self) -> int:
        """The SSH port clients connect to (sshd's)."""
        return self.sshd.port

    @property
    def pid(self) -> int | None:
        """The agent's process id (the datastore's owner; sshd does SSH)."""
        return self.agent.pid

    def subsystem(self, port: int) -> str:
        """The ``Subsystem netconf`` command of sshd: the hand-off program, or socat."""
        if self.relay == "socat":
            return f"{self._socat} STDIO UNIX-CONNECT:{self.socket}"
        return f"{self._handoff} {self.socket}"

    def start(self) -> OpenSSHAgent:
        """Start the agent, then sshd.

        Raises:
            StartError: the subsystem program or sshd is missing, or a process did not become ready.
        """
        if self.relay == "socat":
            self._socat = require("socat", "socat")
        else:
            self._handoff = Path(sys.executable).parent / "nvo3-nve-subsystem"
            if not self._handoff.exists():
                raise StartError(f"{self._handoff} is missing: run make setup")
        if len(str(self.socket)) >= 100:
            raise StartError(f"work directory path too long for a unix socket: {self.socket}")
        self.agent.start()
        self.sshd.start()
        return self

    def restart_empty(self) -> None:
        """Restart the agent alone on a new, empty state directory; sshd keeps running."""
        self.agent.restart_empty()

    def describe(self) -> str:
        """How the agent and sshd were started, for the report."""
        return f"{self.agent.describe()}\n{self.sshd.describe()}"

    def stop(self) -> None:
        """Stop sshd (and the sessions it relays), then the agent."""
        self.sshd.stop()
        self.agent.stop()


__all__ = ["OpenSSHAgent", "OurAgent", "StartError"]
