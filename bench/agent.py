"""Our NVE agent as the benchmark runs it: ``nvo3-nve serve`` as a child process.

It gets a temporary state directory, a users file holding only the benchmark's public
key, the test module directory (``--yang-dir``) and a free port on 127.0.0.1 (``--port 0``,
read back from ``--port-file``). Logs go to ``agent.log`` in the work directory.

Public names: :class:`OurAgent`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from processes import StartError, start, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent


class OurAgent:
    """``nvo3-nve serve`` in ``workdir``; a context manager that stops it on exit.

    Args:
        workdir: a fresh directory owned by the benchmark.
        user: the account name the client logs in with.
        public_key: the client's public key line.
        yang_dir: the directory of the test module.
    """

    name = "ours"

    def __init__(self, workdir: Path, *, user: str, public_key: str, yang_dir: Path) -> None:
        self.workdir = workdir
        self.user = user
        self.public_key = public_key
        self.yang_dir = yang_dir
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
        # TOML basic strings are JSON-compatible for these values.
        users.write_text(
            f"[users.{json.dumps(self.user)}]\n"
            f"authorized-keys = [{json.dumps(self.public_key)}]\n"
            'groups = ["admin"]\n',
            encoding="utf-8",
        )
        port_file = self.workdir / "agent.port"
        port_file.unlink(missing_ok=True)
        state = self.workdir / f"state-{self._generation}"
        self.process = start(
            [*argv, "serve", "--listen", "127.0.0.1", "--port", "0",
             "--port-file", str(port_file), "--state-dir", str(state),
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

        wait_until(listening, what="nvo3-nve serve", process=self.process, log=self.log)
        return self

    def describe(self) -> str:
        """How the agent was started, for the report."""
        return ("nvo3-nve serve --listen 127.0.0.1 --port 0 --port-file <tmp>/agent.port "
                "--state-dir <tmp>/state --users-file <tmp>/users.toml "
                f"--yang-dir {self.yang_dir}")

    def restart_empty(self) -> None:
        """Stop the agent and start it again on a new, empty state directory."""
        self.stop()
        self._generation += 1
        self.start()

    def stop(self) -> None:
        """SIGTERM the agent (clean shutdown), SIGKILL if it lingers."""
        stop(self.process, grace=10.0)
        self.process = None

    def __enter__(self) -> OurAgent:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


__all__ = ["OurAgent", "StartError"]
