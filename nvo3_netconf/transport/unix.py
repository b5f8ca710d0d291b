"""NETCONF over OpenSSH: the agent's end of the ``netconf`` subsystem (RFC 6242).

Operators may prefer OpenSSH's sshd for SSH itself (its ciphers, PAM, key management,
and SSH crypto running in C, in separate processes). sshd then runs a relay for the
``netconf`` subsystem, as the logged-in user, that joins the channel to this Unix
socket; socat does it::

    Subsystem netconf /usr/bin/socat STDIO UNIX-CONNECT:/run/nvo3-nve/netconf.sock

The user is the one sshd authenticated: the kernel reports the relay's uid with
``SO_PEERCRED`` (it cannot be forged), and only names the agent knows are accepted.
Bytes then flow exactly as on the built-in SSH listener (:mod:`.ssh`): the session
factory builds the protocol session, framing included.

Public class: :class:`UnixSocketServer`.
"""

from __future__ import annotations

import logging
import os
import pwd
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from nvo3_netconf.transport.ssh import (
    DEFAULT_SEND_TIMEOUT,
    PeerInfo,
    SendWatchdog,
    SessionFactory,
    StreamLink,
    pump,
)

logger = logging.getLogger(__name__)

_UCRED = struct.Struct("3i")


class SocketLink(StreamLink):
    """A session's Unix stream connection."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock

    def _sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            sent = self._sock.send(view)
            view = view[sent:]
            self._progress()

    def _shutdown(self) -> None:
        self._sock.shutdown(socket.SHUT_RDWR)


class UnixSocketServer:
    """Accepts subsystem relays on a Unix socket and runs a session for each.

    Args:
        path: the socket path (replaced if a stale socket is there).
        session_factory: builds a session for each connection.
        allowed_user: True for user names that may open a session.
        mode: permission bits of the socket file (the relays run as the SSH users).
        send_timeout: seconds a peer may stall a send before its session is closed.
    """

    def __init__(
        self,
        *,
        path: Path,
        session_factory: SessionFactory,
        allowed_user: Callable[[str], bool],
        mode: int = 0o666,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> None:
        self.path = path
        self.watchdog = SendWatchdog(send_timeout)
        self._session_factory = session_factory
        self._allowed = allowed_user
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_socket():
            path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        os.chmod(path, mode)
        self._sock.listen(128)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="unix-accept",
                                        daemon=True)

    def start(self) -> Path:
        """Start accepting; returns the socket path."""
        self._thread.start()
        logger.info("NETCONF subsystem socket listening on %s", self.path)
        return self.path

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._stopping.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.watchdog.stop()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="netconf-session",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pid, uid, _gid = _UCRED.unpack(
            conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        )
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        if not self._allowed(user):
            logger.info("refused subsystem connection of unknown user %r (pid %d)", user, pid)
            conn.close()
            return
        with self._lock:
            self._connections.add(conn)
        link = SocketLink(conn)
        self.watchdog.watch(link, f"{user} (relay pid {pid})")
        try:
            handler = self._session_factory(link, PeerInfo(user, "openssh", pid))
            pump(conn.recv, handler, link, user)
        finally:
            self.watchdog.forget(link)
            with self._lock:
                self._connections.discard(conn)
            conn.close()
