"""Child processes of the benchmark: start in their own group, wait until ready, stop.

Every server the benchmark starts runs in a new session (its own process group), so
stopping it also stops what it spawned (sshd's per-connection children,
``netconf-subsystem``). Only the groups started here are signalled.

Public names: :class:`StartError`, :func:`free_port`, :func:`start`, :func:`stop`,
:func:`wait_until`, :func:`make_client_key`, :func:`rss_kib`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path


class StartError(RuntimeError):
    """A server or a tool it needs could not be started; the message says what is missing."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for servers that cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require(program: str, package: str) -> str:
    """The absolute path of ``program``.

    Raises:
        StartError: it is not installed; names the Debian package to install.
    """
    path = program if os.path.isabs(program) and os.access(program, os.X_OK) \
        else shutil.which(program)
    if not path:
        raise StartError(f"{program} is not installed: apt-get install {package} "
                         f"(or `make setup`), or run with --only ours")
    return path


def start(argv: Sequence[str], *, log: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new process group, stdout and stderr appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)


def stop(process: subprocess.Popen[bytes] | None, *, grace: float = 5.0) -> None:
    """SIGTERM the process group of ``process``; SIGKILL it if still there after ``grace``."""
    if process is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
            # The leader is gone; make sure no child of the group lingers.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        except subprocess.TimeoutExpired:
            continue


def wait_until(ready: Callable[[], bool], *, what: str, process: subprocess.Popen[bytes],
               log: Path, timeout: float = 60.0) -> None:
    """Wait for a server to come up (start-up only; never used while measuring).

    Raises:
        StartError: the process exited, or ``timeout`` passed; the message quotes its log.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise StartError(f"{what} exited with status {process.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise StartError(f"{what} did not become ready in {timeout:.0f} s:\n{tail(log)}")
        time.sleep(0.05)


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log file, indented, for error messages."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return "    (no log)"
    return "\n".join("    " + line for line in text)


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def make_client_key(directory: Path) -> tuple[Path, str]:
    """Generate an ECDSA P-256 client key pair with ssh-keygen.

    Returns:
        The private key path and the public key line (``ecdsa-sha2-nistp256 AAAA...``).

    Raises:
        StartError: ssh-keygen is missing or failed.
    """
    keygen = require("ssh-keygen", "openssh-client")
    key = directory / "client_key"
    result = subprocess.run([keygen, "-q", "-t", "ecdsa", "-b", "256", "-m", "PEM", "-N", "",
                             "-C", "nvo3-bench", "-f", str(key)], capture_output=True)
    if result.returncode != 0:
        raise StartError(f"ssh-keygen failed: {result.stderr.decode(errors='replace')}")
    return key, key.with_suffix(".pub").read_text(encoding="utf-8").strip()


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB from ``/proc/<pid>/status`` (None when unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class Managed(ABC):
    """A started thing that a ``with`` block stops.

    ``__enter__`` starts it (stopping whatever did start if that fails) and
    ``__exit__`` stops it; subclasses define start and stop.
    """

    @abstractmethod
    def start(self) -> Managed:
        """Start and return self."""

    @abstractmethod
    def stop(self) -> None:
        """Stop whatever is running; safe to call more than once."""

    def __enter__(self):  # type: ignore[no-untyped-def]  # returns the subclass
        try:
            return self.start()
        except BaseException:
            self.stop()  # what did start
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
