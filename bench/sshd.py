"""A private OpenSSH ``sshd`` for one server under test, the same for every server.

Both servers that sit behind OpenSSH (yuma123 ``netconfd`` and our agent with
``--unix-socket``) get their own instance of this class, in their own work directory,
with identical settings (:data:`SETTINGS` and the lines built from the work directory)
except the ``Subsystem netconf`` line, which names each server's relay::

    client --SSH--> sshd -D -f <dir>/sshd_config     (127.0.0.1:<free port>)
                     `-- Subsystem netconf: <relay>  (as the logged-in user)
                             --unix socket--> the server

Clients log in with the benchmark's key (``AuthorizedKeysFile`` in the work directory)
as the user running the benchmark; only that user is allowed.

Public names: :class:`Sshd`, :data:`SETTINGS`, :data:`SSHD`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from processes import free_port, port_open, require, start, stop, wait_until

SSHD = "/usr/sbin/sshd"

# Settings shared by every instance (the per-instance lines are added in `config_lines`).
SETTINGS = (
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "PermitRootLogin prohibit-password",
    "StrictModes no",
    "UseDNS no",
    "MaxStartups 64",
    "MaxSessions 64",
    "LogLevel ERROR",
)


class Sshd:
    """One sshd in ``workdir`` listening on a free port of 127.0.0.1.

    Args:
        workdir: a directory owned by the benchmark (host key, config, log, pid file).
        public_key: the client's public key line.
        user: the only user allowed to log in.
        subsystem: builds the ``Subsystem netconf`` command from the port sshd listens
            on (netconfd's relay picks its socket by that port).
        what: a name for error messages ("sshd (for netconfd)").
    """

    def __init__(self, workdir: Path, *, public_key: str, user: str,
                 subsystem: Callable[[int], str], what: str = "sshd") -> None:
        self.workdir = workdir
        self.public_key = public_key
        self.user = user
        self.subsystem = subsystem
        self.what = what
        self.port = 0
        self.config = workdir / "sshd_config"
        self.log = workdir / "sshd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def configure(self) -> int:
        """Pick the port and write host key, authorized keys and config (once); the port."""
        if not self.port:
            self.port = free_port()
            self.config.write_text("\n".join(self.config_lines()) + "\n", encoding="utf-8")
        return self.port

    def config_lines(self) -> list[str]:
        """The lines of ``sshd_config`` (creates the host key and authorized keys)."""
        host_key = self.workdir / "ssh_host_ed25519_key"
        if not host_key.exists():
            keygen = require("ssh-keygen", "openssh-client")
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
                           check=True)
        authorized = self.workdir / "authorized_keys"
        authorized.write_text(self.public_key + "\n", encoding="utf-8")
        authorized.chmod(0o600)
        return [
            "ListenAddress 127.0.0.1",
            f"Port {self.port}",
            f"HostKey {host_key}",
            f"PidFile {self.workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {authorized}",
            *SETTINGS,
            f"AllowUsers {self.user}",
            f"Subsystem netconf {self.subsystem(self.port)}",
        ]

    def start(self) -> Sshd:
        """Start sshd and wait until it accepts connections.

        Raises:
            StartError: sshd is missing, exited or did not listen in time (quotes its log).
        """
        require(SSHD, "openssh-server")
        self.configure()
        # sshd refuses to start without its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.process = start([SSHD, "-D", "-f", str(self.config), "-E", str(self.log)],
                             log=self.log)
        wait_until(lambda: port_open(self.port), what=self.what, process=self.process,
                   log=self.log)
        return self

    def stop(self) -> None:
        """Stop sshd and its per-connection processes (its process group)."""
        stop(self.process)
        self.process = None

    def describe(self) -> str:
        """The sshd command line and its Subsystem line, for the report."""
        subsystem = self.subsystem(self.port).replace(f"{self.port}@", "<port>@")
        return (f"{SSHD} -D -f {self.config} -E {self.log}\n"
                f"  (settings of bench/sshd.py; Subsystem netconf {subsystem})")


__all__ = ["SETTINGS", "SSHD", "Sshd"]
