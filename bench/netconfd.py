"""The reference server: Debian's yuma123 ``netconfd`` behind a private OpenSSH ``sshd``.

Layout of one instance (everything under the benchmark's temporary work directory)::

    client --SSH--> sshd -D -f <dir>/sshd_config     (127.0.0.1:<free port>)
                     `-- Subsystem netconf: netconf-subsystem
                             --ncxserver-sockname=<port>@<dir>/ncxserver.sock
                                 --unix socket--> netconfd --ncxserver-sockname=<same>
                                                           --port=<port> ...

``netconf-subsystem`` picks the unix socket by the SSH port the client connected to, so an
instance never touches ``/tmp/ncxserver.sock`` of a system-wide netconfd. sshd is
:class:`sshd.Sshd`, configured exactly as the one in front of our agent's
``--unix-socket`` (``agent.py``) except the ``Subsystem`` line. Clients log in with the
benchmark's key as the user running the benchmark, who is netconfd's ``--superuser``.
netconfd runs with ``--target=running`` (``:writable-running``, the same datastore our
agent edits) and ``--startup=<dir>/startup-cfg.xml``; without ``:startup`` it saves
running to that file after every edit, as our agent persists running.

Public names: :class:`ReferenceServer`.
"""

from __future__ import annotations

import getpass
import os
import pwd
import socket
import subprocess
from pathlib import Path

from processes import Managed, StartError, require, start, stop, wait_until
from sshd import SSHD, Sshd

NETCONFD = "/usr/sbin/netconfd"
SUBSYSTEM = "/usr/sbin/netconf-subsystem"
EMPTY_STARTUP = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                 b'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>\n')


class ReferenceServer(Managed):
    """netconfd plus its sshd in ``workdir``; a context manager that stops both.

    Args:
        workdir: a fresh directory owned by the benchmark (short path: it holds a socket).
        public_key: the client's public key line.
        module: the YANG module file to load.
        extra_modules: more module files to load.
        modpath: directories searched for imports (before netconfd's own modules).
    """

    name = "netconfd"

    def __init__(self, workdir: Path, *, public_key: str, module: Path,
                 extra_modules: tuple[Path, ...] = (), modpath: tuple[Path, ...] = ()) -> None:
        self.workdir = workdir
        self.public_key = public_key
        self.module = module
        self.extra_modules = extra_modules
        self.modpath = modpath
        self.user = getpass.getuser()
        self.socket = workdir / "ncxserver.sock"
        self.startup = workdir / "startup-cfg.xml"
        self.netconfd_log = workdir / "netconfd.log"
        self.netconfd: subprocess.Popen[bytes] | None = None
        self.sshd = Sshd(workdir, public_key=public_key, user=self.user,
                         subsystem=self.subsystem, what="sshd (for netconfd)")
        # netconfd always creates ~/.yuma of the passwd entry (not $HOME) at start, even
        # when YUMA_HOME points elsewhere; remove it afterwards if it was not there before.
        self._dot_yuma = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".yuma"
        self._dot_yuma_existed = self._dot_yuma.exists()

    @property
    def port(self) -> int:
        """The SSH port clients connect to (sshd's)."""
        return self.sshd.port

    def subsystem(self, port: int) -> str:
        """The ``Subsystem netconf`` command of sshd: the relay to this netconfd's socket."""
        return f"{SUBSYSTEM} --ncxserver-sockname={port}@{self.socket}"

    @property
    def pid(self) -> int | None:
        """The process id of netconfd (the datastore's owner; sshd is only the transport)."""
        return self.netconfd.pid if self.netconfd else None

    def start(self, startup: bytes | None = None) -> ReferenceServer:
        """Start netconfd (loading ``startup``, default empty) and sshd.

        Raises:
            StartError: a program is missing, or netconfd or sshd exited or did not
                become ready; the message names the cause and quotes the log.
        """
        for program, package in ((NETCONFD, "netconfd"), (SUBSYSTEM, "netconfd"),
                                 (SSHD, "openssh-server")):
            require(program, package)
        if len(str(self.socket)) >= 100:
            raise StartError(f"work directory path too long for a unix socket: {self.socket}")
        self.sshd.configure()  # netconfd needs the port sshd will listen on
        self.start_netconfd(startup)
        self.sshd.start()
        return self

    def start_netconfd(self, startup: bytes | None = None) -> None:
        """(Re)start netconfd alone, loading ``startup``; sshd keeps running."""
        stop(self.netconfd)
        self.socket.unlink(missing_ok=True)
        self.startup.write_bytes(startup or EMPTY_STARTUP)
        # netconfd keeps a transaction-id file in $YUMA_HOME/data, else in ~/.yuma of the
        # user's passwd entry (not $HOME): point it into the work directory.
        home = self.workdir / "home"
        (home / "yuma" / "data").mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "USER": self.user, "YUMA_HOME": str(home / "yuma")}
        self.netconfd = start(self.netconfd_argv(), log=self.netconfd_log, env=env,
                              cwd=self.workdir)
        wait_until(self._socket_ready, what="netconfd", process=self.netconfd,
                   log=self.netconfd_log, timeout=300)

    def restart_empty(self) -> None:
        """Restart netconfd with an empty configuration (after a request it is stuck in)."""
        self.start_netconfd(None)

    def netconfd_argv(self) -> list[str]:
        """The command line of netconfd."""
        search = [f"--modpath={':'.join(map(str, self.modpath))}:/usr/share/yuma/modules"
                  ] if self.modpath else []
        return [NETCONFD, *search, f"--module={self.module}",
                *(f"--module={m}" for m in self.extra_modules), f"--startup={self.startup}",
                "--target=running", f"--superuser={self.user}", f"--port={self.port}",
                f"--ncxserver-sockname={self.socket}", "--log-level=warn",
                f"--log={self.netconfd_log}", "--log-append"]

    def _socket_ready(self) -> bool:
        if not self.socket.exists():
            return False
        # netconfd creates the socket before it has loaded startup; it accepts after.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
        return True

    def describe(self) -> str:
        """How netconfd and sshd were started, for the report."""
        argv = " ".join(self.netconfd_argv())
        argv = argv.replace(f"--port={self.port}", "--port=<ssh port>")
        root = Path(__file__).resolve().parent.parent
        if self.module.is_relative_to(root):
            argv = argv.replace(str(self.module), str(self.module.relative_to(root)))
        return f"{argv}\n{self.sshd.describe()}"

    def stop(self) -> None:
        """Stop sshd (and its session children), then netconfd."""
        self.sshd.stop()
        stop(self.netconfd)
        self.netconfd = None
        if not self._dot_yuma_existed:
            try:
                self._dot_yuma.rmdir()  # only if still empty
            except OSError:
                pass
