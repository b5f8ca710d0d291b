"""NETCONF over SSH (RFC 6242): listener, authentication and the ``netconf`` subsystem.

Built on paramiko, the SSH engine of the ``netconf`` package. We do not use that
package's ``sshutil.server.SSHServer``: it binds every address of the host (no listen
address), polls ``accept`` with a one-second timeout, and hands whole messages to its
own framer; here the listener binds the configured address (port 0 for tests), the
subsystem request itself starts the session, and the bytes go to our sans-I/O framer
(:mod:`nvo3_netconf.transport.framing`) through the injected session factory.

This module only moves bytes between channels and sessions: authentication decisions
belong to an :class:`Authenticator`, protocol decisions to the session.

A peer that stops reading cannot hold the agent: a session's replies are written by
its own thread, so the bytes waiting for one peer are bounded by what one reply and the
SSH window hold, and the :class:`SendWatchdog` closes a session whose send has made no
progress for ``send_timeout`` seconds (the SSH channel first, the whole connection if the
peer does not even read TCP). Other sessions never wait for it.

Public names: :class:`SSHServer`, :class:`Authenticator`, :class:`SessionHandler`,
:class:`ByteLink`, :class:`StreamLink`, :class:`ChannelLink`, :class:`SendWatchdog`,
:data:`SessionFactory`, :data:`DEFAULT_SEND_TIMEOUT`, :func:`load_or_create_host_key`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import paramiko
from paramiko.common import MSG_CHANNEL_DATA

logger = logging.getLogger(__name__)

RECV_SIZE = 256 * 1024
MAX_AUTH_ATTEMPTS = 6
"""Failed authentication attempts one connection may make before it is closed."""
CLOSE_GRACE = 2.0
"""Seconds a client may keep an SSH connection without any NETCONF channel."""
_PACKET = 32 * 1024  # at most one SSH packet is sent per Channel.send
DEFAULT_SEND_TIMEOUT = 60.0
"""Seconds a send may make no progress before the peer's session is closed."""


class Authenticator(Protocol):
    """Decides who may log in (RFC 6242 sec. 6: the SSH user is the NETCONF username)."""

    def check_password(self, user: str, password: str, peer: str) -> bool:
        """True when ``password`` is right for ``user``."""

    def check_public_key(self, user: str, key: paramiko.PKey, peer: str) -> bool:
        """True when ``key`` is one of ``user``'s authorized keys."""

    def methods(self, user: str) -> str:
        """Comma-separated SSH methods offered to ``user`` ("password,publickey")."""


class SessionHandler(Protocol):
    """What the transport drives for one NETCONF session (one SSH channel)."""

    def data_received(self, data: bytes) -> None:
        """Bytes from the peer, in order, as they arrive."""

    def connection_lost(self) -> None:
        """The channel closed; called exactly once."""


@dataclass(frozen=True)
class PeerInfo:
    """Who is on the other end of a session.

    Attributes:
        user: the authenticated SSH user.
        host: the peer's address.
        port: the peer's port.
    """

    user: str
    host: str
    port: int


class StreamLink(ABC):
    """A session's handle on its byte stream: send (serialised), close once.

    Subclasses say how to write all bytes (calling :meth:`_progress` after each partial
    write) and how to shut the stream down. While a send is under way the link knows
    when it last made progress; the :class:`SendWatchdog` reads that.
    """

    _errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self) -> None:
        self._send_lock = threading.Lock()
        self._closed = threading.Event()
        self._last_progress: float | None = None  # monotonic; None when no send is under way

    @abstractmethod
    def _sendall(self, data: bytes) -> None:
        """Write every byte of ``data``, calling :meth:`_progress` after each write."""

    @abstractmethod
    def _shutdown(self) -> None:
        """Shut the stream down."""

    def _force_shutdown(self) -> None:
        """Shut down harder when :meth:`_shutdown` did not unblock a send (default: again)."""
        self._shutdown()

    def _progress(self) -> None:
        self._last_progress = time.monotonic()

    def send(self, data: bytes) -> bool:
        """Send all of ``data``; False when the stream is already gone."""
        if self._closed.is_set():
            return False
        try:
            with self._send_lock:
                self._last_progress = time.monotonic()
                try:
                    self._sendall(data)
                finally:
                    self._last_progress = None
            return True
        except self._errors:
            self.close()
            return False

    def close(self) -> None:
        """Close the stream (unblocks the reader, which then reports the loss)."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._shutdown()
        except self._errors:
            pass

    def stalled_for(self, now: float) -> float:
        """Seconds the send under way has made no progress; 0 when none is under way."""
        last = self._last_progress
        return 0.0 if last is None else max(0.0, now - last)

    def force_close(self) -> None:
        """Close harder, when :meth:`close` left a send blocked (the peer reads nothing)."""
        self._closed.set()
        try:
            self._force_shutdown()
        except self._errors:
            pass

    @property
    def closed(self) -> bool:
        """True once closed by either side."""
        return self._closed.is_set()


class ChannelLink(StreamLink):
    """A session's SSH channel."""

    _errors = (OSError, EOFError, paramiko.SSHException)

    def __init__(self, channel: paramiko.Channel) -> None:
        super().__init__()
        self._channel = channel

    def _sendall(self, data: bytes) -> None:
        # Channel.sendall's own loop (one SSH packet per send), noting progress.
        pos, end = 0, len(data)
        while pos < end:
            sent = self._channel.send(data[pos:pos + _PACKET])
            if sent <= 0:
                raise OSError("the channel closed during a send")
            pos += sent
            self._progress()

    def _shutdown(self) -> None:
        self._channel.close()

    def _force_shutdown(self) -> None:
        # The channel is closed but a send is still blocked: the peer does not even read
        # its TCP connection (paramiko writes the socket with a lock held). Closing the
        # transport ends that write.
        transport = self._channel.get_transport()
        if transport is not None:
            transport.close()


class SendWatchdog:
    """Closes the sessions of peers that stopped reading.

    Every ``tick`` seconds it looks at the links it watches: one whose send under way has
    made no progress for ``timeout`` seconds is closed, which ends that session only.

    Args:
        timeout: seconds without progress before a link is closed.
    """

    def __init__(self, timeout: float = DEFAULT_SEND_TIMEOUT) -> None:
        if timeout <= 0:
            raise ValueError("the send timeout must be positive")
        self.timeout = timeout
        self._tick = min(1.0, timeout / 4)
        self._links: dict[StreamLink, str] = {}
        self._stage: dict[StreamLink, int] = {}  # closes already tried on a stalled link
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, link: StreamLink, label: str) -> None:
        """Watch ``link`` (``label`` names its peer in the log) until :meth:`forget`."""
        with self._lock:
            self._links[link] = label
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="send-watchdog",
                                                daemon=True)
                self._thread.start()

    def forget(self, link: StreamLink) -> None:
        """Stop watching ``link``."""
        with self._lock:
            self._links.pop(link, None)
            self._stage.pop(link, None)

    def stop(self) -> None:
        """Stop the watchdog thread."""
        self._stopping.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def check(self, now: float | None = None) -> int:
        """Close every stalled link now; returns how many were stalled.

        A stalled link is closed (which wakes a send waiting for the SSH window); if its
        send is still blocked at the next check, it is closed harder (the SSH connection
        itself, when the peer does not read TCP). Both run on their own short-lived
        thread: closing may itself wait for the stalled connection.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            stalled = []
            for link, label in self._links.items():
                if link.stalled_for(now) <= self.timeout:
                    continue
                stage = self._stage.get(link, 0)
                if stage < 2:
                    self._stage[link] = stage + 1
                    stalled.append((link, label, stage))
        for link, label, stage in stalled:
            if stage == 0:
                logger.warning("%s has not read for %.0f s: closing its session", label,
                               link.stalled_for(now))
                action = link.close
            else:
                logger.warning("%s still blocks a send: closing its connection", label)
                action = link.force_close
            threading.Thread(target=action, name="send-watchdog-close", daemon=True).start()
        return len(stalled)

    def _run(self) -> None:
        while not self._stopping.wait(self._tick):
            try:
                self.check()
            except Exception:  # the watchdog must outlive any one link's failure
                logger.exception("send watchdog check failed")


class ByteLink(Protocol):
    """A session's outgoing side, whatever carries it (SSH channel, Unix socket)."""

    def send(self, data: bytes) -> bool:
        """Send all of ``data``; False when the peer is gone."""

    def close(self) -> None:
        """Close the connection."""


SessionFactory = Callable[[ByteLink, PeerInfo], SessionHandler]
"""Builds the protocol session for a new ``netconf`` subsystem channel."""


class _ServerInterface(paramiko.ServerInterface):  # type: ignore[misc]  # paramiko is untyped
    """paramiko's per-connection callbacks, forwarding decisions to the Authenticator."""

    def __init__(self, server: SSHServer, peer: tuple[str, int],
                 transport: paramiko.Transport | None = None) -> None:
        self._server = server
        self._peer = peer
        self._transport = transport
        self._failures = 0
        self.user: str | None = None

    def get_allowed_auths(self, username: str) -> str:
        return self._server.authenticator.methods(username)

    def check_auth_none(self, username: str) -> int:
        return cast(int, paramiko.AUTH_FAILED)

    def check_auth_password(self, username: str, password: str) -> int:
        if self._exhausted():
            return cast(int, paramiko.AUTH_FAILED)
        if self._server.authenticator.check_password(username, password, self._peer[0]):
            return self._succeeded(username, "password")
        logger.info("password authentication failed for %r from %s", username, self._peer[0])
        return self._failed()

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if self._exhausted():
            return cast(int, paramiko.AUTH_FAILED)
        if self._server.authenticator.check_public_key(username, key, self._peer[0]):
            return self._succeeded(username, f"publickey {key.get_name()}")
        logger.info("publickey authentication failed for %r from %s", username, self._peer[0])
        return self._failed()

    def _succeeded(self, username: str, method: str) -> int:
        # A public key is asked about twice (offered, then signed): the user is the one
        # the transport reports once authentication is complete.
        self.user = username
        return cast(int, paramiko.AUTH_SUCCESSFUL)

    def _failed(self) -> int:
        self._failures += 1
        if self._failures >= MAX_AUTH_ATTEMPTS and self._transport is not None:
            logger.info("closing the connection from %s after %d failed attempts",
                        self._peer[0], self._failures)
            self._transport.close()
        return cast(int, paramiko.AUTH_FAILED)

    def _exhausted(self) -> bool:
        return self._failures >= MAX_AUTH_ATTEMPTS

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return cast(int, paramiko.OPEN_SUCCEEDED)
        return cast(int, paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        transport = channel.get_transport()
        if name != "netconf" or transport is None or not transport.is_authenticated():
            return False
        user = transport.get_username()
        if not user:
            return False
        logger.info("netconf session for %r from %s", user, self._peer[0])
        peer = PeerInfo(user, self._peer[0], self._peer[1])
        self._server._start_session(channel, peer)
        return True


class SSHServer:
    """A listening SSH server whose ``netconf`` subsystem channels become sessions.

    Args:
        host: address to bind (``127.0.0.1``, ``::``...).
        port: port to bind; 0 picks a free one (see :attr:`address`).
        host_key: the server's private host key.
        authenticator: decides logins.
        session_factory: builds a session for each ``netconf`` channel.
        send_timeout: seconds a peer may stall a send before its session is closed.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        host_key: paramiko.PKey,
        authenticator: Authenticator,
        session_factory: SessionFactory,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> None:
        self.authenticator = authenticator
        self.watchdog = SendWatchdog(send_timeout)
        self._host_key = host_key
        self._session_factory = session_factory
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._transports: set[paramiko.Transport] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="ssh-accept", daemon=True)

    def start(self) -> tuple[str, int]:
        """Start accepting connections; returns the bound (host, port)."""
        self._thread.start()
        logger.info("NETCONF over SSH listening on %s port %s", *self.address)
        return self.address

    def stop(self) -> None:
        """Stop listening and close every connection."""
        self._stopping.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()
        self.watchdog.stop()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, addr = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(
                target=self._serve_connection, args=(conn, addr), name="ssh-conn", daemon=True
            ).start()

    def _serve_connection(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        transport = paramiko.Transport(conn)
        transport.add_server_key(self._host_key)
        transport.set_keepalive(30)
        # paramiko buffers whatever a peer sends on a channel, window or not: hold peers
        # to the window we granted, or one that ignores it fills our memory.
        transport._channel_handler_table = {
            **transport._channel_handler_table, MSG_CHANNEL_DATA: _windowed_feed,
        }
        with self._lock:
            if self._stopping.is_set():
                conn.close()
                return
            self._transports.add(transport)
        try:
            transport.start_server(
                server=_ServerInterface(self, (addr[0], addr[1]), transport))
        except (paramiko.SSHException, EOFError, OSError) as error:
            logger.info("SSH negotiation with %s failed: %s", addr[0], error)
            transport.close()
            with self._lock:
                self._transports.discard(transport)
            return
        transport.join()
        with self._lock:
            self._transports.discard(transport)

    def _start_session(self, channel: paramiko.Channel, peer: PeerInfo) -> None:
        link = ChannelLink(channel)
        threading.Thread(
            target=self._run_session, args=(channel, link, peer), name="netconf-session",
            daemon=True,
        ).start()

    def _run_session(self, channel: paramiko.Channel, link: ChannelLink, peer: PeerInfo) -> None:
        self.watchdog.watch(link, f"{peer.user}@{peer.host}:{peer.port}")
        try:
            handler = self._session_factory(link, peer)
            pump(channel.recv, handler, link, peer.user)
        finally:
            self.watchdog.forget(link)
            transport = channel.get_transport()
            if transport is not None and not _has_open_channels(transport):
                # Let the client close the connection after its channel (closing first
                # makes the kernel answer its last packets with a TCP reset); close it
                # ourselves only if the client lingers.
                transport.join(CLOSE_GRACE)
                if transport.is_active() and not _has_open_channels(transport):
                    transport.close()


def pump(
    receive: Callable[[int], bytes], handler: SessionHandler, link: StreamLink, user: str
) -> None:
    """Feed a session the bytes of its stream until either side closes it.

    The handler always learns of the end (``connection_lost``), and an exception in
    one session is logged without touching any other.
    """
    try:
        while True:
            try:
                data = receive(RECV_SIZE)
            except (OSError, EOFError, paramiko.SSHException):
                break
            if not data:
                break
            handler.data_received(data)
            if link.closed:
                break
    except Exception:  # never let one session's bug take the listener down
        logger.exception("session of %s failed", user)
    finally:
        link.close()
        handler.connection_lost()


def _windowed_feed(channel: paramiko.Channel, message: paramiko.Message) -> None:
    """Buffer a peer's channel data, unless it sends past the window it was granted.

    A peer that respects SSH flow control (RFC 4254 sec. 5.2) never has more than the
    window unread here; twice that is a protocol violation, and its connection is closed.
    """
    if len(channel.in_buffer) > 2 * max(channel.in_window_size, 1):
        logger.warning("peer %s ignores the SSH window (%d bytes unread): closing",
                       channel.getpeername(), len(channel.in_buffer))
        channel.get_transport().close()
        return
    paramiko.Channel._feed(channel, message)


def _has_open_channels(transport: paramiko.Transport) -> bool:
    channels = getattr(transport, "_channels", None)
    values = channels.values() if channels is not None else []
    return any(not ch.closed for ch in values)


def load_or_create_host_key(path: Path) -> paramiko.PKey:
    """Load the host key at ``path``, creating an ECDSA P-256 key (mode 0600) if absent.

    The key is kept across restarts so clients' known_hosts entries stay valid.
    """
    if path.exists():
        for key_class in (paramiko.ECDSAKey, paramiko.Ed25519Key, paramiko.RSAKey):
            try:
                return key_class.from_private_key_file(str(path))
            except paramiko.SSHException:
                continue
        raise paramiko.SSHException(f"cannot read host key {path}")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = paramiko.ECDSAKey.generate(bits=256)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        key.write_private_key(handle)
    os.replace(tmp, path)
    return key
