"""NETCONF over OpenSSH: the agent's end of the ``netconf`` subsystem (RFC 6242).

Operators may prefer OpenSSH's sshd for SSH itself (its ciphers, PAM, key management,
and SSH crypto running in C, in separate processes). sshd then runs the ``netconf``
subsystem program, as the logged-in user, which reaches the agent on this Unix socket.
Two programs are accepted:

- ``nvo3-nve-subsystem SOCKET`` hands the channel's descriptors over
  (:mod:`.handoff`); the session then reads and writes sshd's pipes directly
  (:class:`PipeLink`), with no process in between;
- a byte relay, ``socat STDIO UNIX-CONNECT:SOCKET``, whose connection carries the
  stream (:class:`SocketLink`).

The user is the one sshd authenticated: the kernel reports the program's uid with
``SO_PEERCRED`` (it cannot be forged), and only names the agent knows are accepted.
Bytes then flow exactly as on the built-in SSH listener (:mod:`.ssh`): the session
factory builds the protocol session, framing included. Every session is served by one
:class:`~nvo3_netconf.transport.loop.SessionLoop` rather than a thread of its own.

Public classes: :class:`UnixSocketServer`, :class:`PipeLink`, :class:`SocketLink`.
"""

from __future__ import annotations

import logging
import os
import pwd
import select
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from nvo3_netconf.transport.handoff import first_message, receive_handoff
from nvo3_netconf.transport.loop import LoopSession, SessionLoop
from nvo3_netconf.transport.ssh import (
    DEFAULT_SEND_TIMEOUT,
    RECV_SIZE,
    PeerInfo,
    SendWatchdog,
    SessionFactory,
    StreamLink,
)

logger = logging.getLogger(__name__)

_UCRED = struct.Struct("3i")

HANDOFF_WAIT = 0.1
"""Seconds a new relay has to send its first bytes before the session starts anyway.

``nvo3-nve-subsystem`` hands off at once; a byte relay (socat) forwards what the client
sends, and a client that waits for the server's hello first sends nothing.
"""


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


class PipeLink(StreamLink):
    """A session on the channel descriptors handed over by ``nvo3-nve-subsystem``.

    Reads and writes wait with ``poll`` on the descriptor and on a wake-up pipe, so
    :meth:`close` (kill-session, shutdown, the send watchdog) ends a blocked read or
    write at once. The descriptors are closed by :meth:`release`, under the send lock,
    so no late send can reach a descriptor number the process has reused.
    """

    def __init__(self, read_fd: int, write_fd: int) -> None:
        super().__init__()
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._released = False
        for fd in (read_fd, write_fd):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)

    @property
    def read_fd(self) -> int:
        """The descriptor the peer's bytes arrive on."""
        return self._read_fd

    @property
    def wake_fd(self) -> int:
        """Becomes readable once the link is closed."""
        return self._wake_read

    def read_now(self, size: int) -> bytes:
        """Up to ``size`` bytes without waiting; BlockingIOError when none are there."""
        return os.read(self._read_fd, size)

    def _sendall(self, data: bytes) -> None:
        if self._released:
            raise OSError("the session's channel is closed")
        view = memoryview(data)
        waiter: select.poll | None = None
        while view:
            try:
                written = os.write(self._write_fd, view)
            except BlockingIOError:
                if waiter is None:
                    waiter = select.poll()
                    waiter.register(self._write_fd, select.POLLOUT)
                    waiter.register(self._wake_read, select.POLLIN)
                if any(fd == self._wake_read for fd, _ in waiter.poll()):
                    raise OSError("the session's channel was closed during a send") from None
                continue
            view = view[written:]
            self._progress()

    def _shutdown(self) -> None:
        try:
            os.write(self._wake_write, b"x")
        except BlockingIOError:
            pass  # already woken

    def release(self) -> None:
        """Close the descriptors (the session is over and its reader has stopped)."""
        self.close()
        with self._send_lock:
            if self._released:
                return
            self._released = True
            for fd in (self._read_fd, self._write_fd, self._wake_read, self._wake_write):
                try:
                    os.close(fd)
                except OSError:
                    pass


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
        self._loop = SessionLoop(name="netconf-unix")

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
        self._loop.stop()
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
        """Identify a new relay's user, then hand its session to the loop."""
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
        try:
            started = self._start_session(conn, user, pid)
        except Exception:
            logger.exception("starting the session of %s (relay pid %d) failed", user, pid)
            started = False
        if not started:
            self._forget(conn)

    def _start_session(self, conn: socket.socket, user: str, pid: int) -> bool:
        """Start the session of one relay, a hand-off or a byte stream; False if none."""
        try:
            first = first_message(conn, RECV_SIZE, HANDOFF_WAIT)
        except OSError:
            return False
        if first is not None and first == (b"", []):
            return False  # the relay left at once
        channel = receive_handoff(*first) if first is not None else None
        link: PipeLink | SocketLink
        if channel is not None:
            link = PipeLink(*channel)
            read_fd, read, wake_fd = link.read_fd, link.read_now, link.wake_fd
        else:
            link = SocketLink(conn)
            read_fd, wake_fd = conn.fileno(), None

            def read(size: int) -> bytes:
                return conn.recv(size, socket.MSG_DONTWAIT)

        session = self._session_factory(link, PeerInfo(user, "openssh", pid))
        if channel is None and first is not None:  # the start of the relayed stream
            session.data_received(first[0])

        def finish() -> None:
            self.watchdog.forget(link)
            if isinstance(link, PipeLink):
                link.release()
            self._forget(conn)

        label = f"{user} (relay pid {pid})"
        self.watchdog.watch(link, label)
        self._serve_in_loop(LoopSession(read_fd=read_fd, read=read, handler=session,
                                        link=link, label=label, wake_fd=wake_fd,
                                        finish=finish))
        return True

    def _serve_in_loop(self, session: LoopSession) -> None:
        """Let the loop serve ``session``; end it at once if the server is stopping."""
        try:
            self._loop.add(session)
        except RuntimeError:
            session.link.close()
            session.handler.connection_lost()
            session.finish()

    def _forget(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
        conn.close()
