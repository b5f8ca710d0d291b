"""A NETCONF session to an NVE over SSH, through ncclient (the only tes/ module importing it).

ncclient does what it does well: TCP and SSH, authentication, the host-key check, the
``<hello>`` exchange (RFC 6241 sec. 8.1) and RFC 6242 de-framing in its reader thread.
Its request path is not used. ncclient queues a request for that thread, which writes
it only after its ``select()`` times out (``TICK = 0.1`` s), so every RPC waits up to
100 ms: measured against the local agent, 101 ms median per ``Manager.dispatch()``
against 0.5 ms when the request is written directly. Here the caller's thread frames
the request (:func:`~nvo3_netconf.transport.framing.encode_message`) and writes it to
the SSH channel itself, under a lock; ncclient's thread only reads and hands each
message to a listener that wakes the caller waiting for that ``message-id`` or queues
a notification (RFC 5277 sec. 4). Replies and notifications are parsed with the
project's hardened parser (:func:`~nvo3_netconf.protocol.xml.parse_xml`).

Public names: :class:`ConnectionParams`, :class:`HostKeyPolicy`,
:class:`NetconfConnection`, :class:`NVEConnectionError`, :class:`NVETimeoutError`.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Final

# ncclient ships no type hints: what it returns is typed Any here.
from ncclient.devices.default import DefaultDeviceHandler
from ncclient.manager import make_device_handler
from ncclient.transport import SSHSession
from ncclient.transport.errors import (
    AuthenticationError,
    SSHUnknownHostError,
)
from ncclient.transport.session import (
    NotificationHandler,
    SessionListener,
)

from nvo3_netconf.constants import CAP_BASE_11, NS_NC, NS_NOTIF, ErrorSeverity, FramingVersion
from nvo3_netconf.errors import Nvo3Error, RPCError, RPCErrors
from nvo3_netconf.protocol.messages import RPCReply, build_rpc, parse_rpc_reply
from nvo3_netconf.protocol.xml import Element, element, parse_xml, qname
from nvo3_netconf.transport.framing import encode_message

__all__ = [
    "DEFAULT_PORT",
    "ConnectionParams",
    "HostKeyPolicy",
    "NVEConnectionError",
    "NVETimeoutError",
    "NetconfConnection",
]

logger = logging.getLogger(__name__)

DEFAULT_PORT: Final = 830
"""The NETCONF-over-SSH port (RFC 6242 sec. 3)."""

_CLOSE_TIMEOUT: Final = 5.0
_RPC_REPLY: Final = qname(NS_NC, "rpc-reply")
_NOTIFICATION: Final = qname(NS_NOTIF, "notification")


class NVEConnectionError(Nvo3Error, ConnectionError):
    """The NVE could not be reached or authenticated with, or the session ended."""


class NVETimeoutError(NVEConnectionError, TimeoutError):
    """The NVE did not answer in time."""


class HostKeyPolicy(StrEnum):
    """How the NVE's SSH host key is checked."""

    KNOWN_HOSTS = "known-hosts"
    """It must be in ``~/.ssh/known_hosts``."""
    PINNED = "pinned"
    """It must be :attr:`ConnectionParams.host_key`."""
    ACCEPT_ANY = "accept-any"
    """Not checked (test benches only: anyone on the path can impersonate the NVE)."""


@dataclass(frozen=True)
class ConnectionParams:
    """Where and as whom to connect.

    Attributes:
        host: the NVE's address or name.
        port: its NETCONF port.
        username: the SSH user: the TES identity the NVE authorizes.
        password: the password, or the passphrase of ``key_file``.
        key_file: a private key file.
        hostkey_policy: how the host key is checked.
        host_key: the expected host key for ``PINNED``: its base64, or a line of
            ``ssh-keyscan``, ``known_hosts`` or a ``.pub`` file holding it.
        timeout: seconds to connect, and to wait for each reply.
        framing: the framing to offer: ``CHUNKED`` announces ``:base:1.1`` (used when the
            NVE announces it too, RFC 6242 sec. 4.1); ``EOM`` announces only
            ``:base:1.0`` (end-of-message framing).
    """

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    hostkey_policy: HostKeyPolicy = HostKeyPolicy.KNOWN_HOSTS
    host_key: str | None = None
    timeout: float = 30.0
    framing: FramingVersion = FramingVersion.CHUNKED

    def __post_init__(self) -> None:
        object.__setattr__(self, "hostkey_policy", HostKeyPolicy(self.hostkey_policy))
        object.__setattr__(self, "framing", FramingVersion(self.framing))
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is outside 1..65535")
        if self.hostkey_policy is HostKeyPolicy.PINNED and not self.host_key:
            raise ValueError("the pinned host-key policy needs the host key")
        if self.host_key is not None:
            # "[host] type base64 [comment]" or only the base64. An SSH key blob starts
            # with the 4-byte length of its type name, so its base64 starts with "AAAA".
            blob = next((p for p in self.host_key.split() if p.startswith("AAAA")), None)
            if blob is None:
                raise ValueError("the host key is not an SSH public key in base64")
            object.__setattr__(self, "host_key", blob)

    @property
    def peer(self) -> str:
        """``host:port`` (IPv6 addresses in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class _Base10Handler(DefaultDeviceHandler):  # type: ignore[misc]  # ncclient is untyped
    """ncclient's default device handler announcing only ``:base:1.0``."""

    _BASE_CAPABILITIES = [c for c in DefaultDeviceHandler._BASE_CAPABILITIES
                          if c != CAP_BASE_11]


def _connect_error(error: Exception, params: ConnectionParams) -> NVEConnectionError:
    """Turn what ncclient or paramiko raised while connecting into one sentence."""
    if isinstance(error, AuthenticationError):
        return NVEConnectionError(f"authentication as {params.username!r} at {params.peer} failed")
    if isinstance(error, SSHUnknownHostError):
        return NVEConnectionError(
            f"the SSH host key of {params.peer} (fingerprint {error.fingerprint}) is not the "
            "expected one: add it to ~/.ssh/known_hosts or pin it"
        )
    if isinstance(error, TimeoutError):
        return NVETimeoutError(f"{params.peer} did not answer in {params.timeout} s")
    return NVEConnectionError(f"cannot connect to {params.peer}: {error}")


class _Waiter:
    """One request waiting for its reply."""

    __slots__ = ("done", "raw", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.raw: str | None = None
        self.error: BaseException | None = None


class _End:
    """Queued after the last notification of a session that ended."""


_END: Final = _End()


class _Listener(SessionListener):  # type: ignore[misc]  # ncclient is untyped
    """Runs in ncclient's reader thread: routes replies by message-id, queues the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, _Waiter] = {}
        self._ended: BaseException | None = None
        self.notifications: queue.SimpleQueue[str | _End] = queue.SimpleQueue()

    def expect(self, message_id: str) -> _Waiter:
        waiter = _Waiter()
        with self._lock:
            if self._ended is not None:
                raise NVEConnectionError(f"the NETCONF session has ended: {self._ended}")
            self._pending[message_id] = waiter
        return waiter

    def forget(self, message_id: str) -> None:
        with self._lock:
            self._pending.pop(message_id, None)

    def callback(self, root: tuple[str, Any], raw: str) -> None:
        tag, attributes = root
        if tag == _RPC_REPLY:
            with self._lock:
                waiter = self._pending.pop(attributes.get("message-id", ""), None)
            if waiter is None:
                logger.info("dropping an rpc-reply with unexpected message-id %r",
                            attributes.get("message-id"))
                return
            waiter.raw = raw
            waiter.done.set()
        elif tag == _NOTIFICATION:
            self.notifications.put(raw)
        else:
            logger.info("dropping an unexpected <%s> message", tag)

    @property
    def ended(self) -> bool:
        """The session is over (closed, or lost)."""
        return self._ended is not None

    def errback(self, ex: BaseException) -> None:
        self.end(ex)

    def end(self, reason: BaseException) -> None:
        with self._lock:
            if self._ended is not None:
                return
            self._ended = reason
            pending, self._pending = self._pending, {}
        for waiter in pending.values():
            waiter.error = reason
            waiter.done.set()
        self.notifications.put(_END)


class NetconfConnection:
    """One NETCONF session to an NVE. Thread-safe: several threads may :meth:`call` at once.

    Use :meth:`open`; the object is a context manager that closes the session.
    """

    def __init__(self, session: Any, params: ConnectionParams) -> None:
        self._session = session
        self.params = params
        self._listener = _Listener()
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        handler = session.get_listener_instance(NotificationHandler)
        if handler is not None:
            session.remove_listener(handler)  # we queue notifications ourselves
        session.add_listener(self._listener)
        both_11 = (CAP_BASE_11 in session.server_capabilities
                   and CAP_BASE_11 in session.client_capabilities)
        self.framing = FramingVersion.CHUNKED if both_11 else FramingVersion.EOM
        self.session_id: int | None = int(session.id) if session.id else None
        self.capabilities: frozenset[str] = frozenset(session.server_capabilities)

    @classmethod
    def open(cls, params: ConnectionParams) -> NetconfConnection:
        """Connect, authenticate, check the host key and exchange hellos.

        Args:
            params: where and as whom.

        Returns:
            The open connection.

        Raises:
            NVETimeoutError: the NVE did not answer in time.
            NVEConnectionError: it could not be reached, the host key is not the
                expected one, or authentication failed.
        """
        keys = params.password is None and params.key_file is None
        # What ncclient.manager.connect_ssh() does, without the Manager: its RPC objects
        # would register a listener that rejects the replies to our requests.
        handler = (make_device_handler({"name": "default"})
                   if params.framing is FramingVersion.CHUNKED
                   else _Base10Handler({"name": "default"}))
        session = SSHSession(handler)
        try:
            session.connect(
                host=params.host,
                port=params.port,
                username=params.username,
                password=params.password,
                key_filename=str(params.key_file) if params.key_file else None,
                hostkey_verify=params.hostkey_policy is not HostKeyPolicy.ACCEPT_ANY,
                hostkey_b64=(params.host_key if params.hostkey_policy is HostKeyPolicy.PINNED
                             else None),
                allow_agent=keys,
                look_for_keys=keys,
                timeout=params.timeout,
            )
        except BaseException as error:
            if session.transport:
                session.close()
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt and the like
            raise _connect_error(error, params) from None
        connection = cls(session, params)
        logger.info("NETCONF session %s to %s as %s (%s framing)", connection.session_id,
                    params.peer, params.username, connection.framing.name.lower())
        return connection

    def call(self, operation: Element, *, timeout: float | None = None) -> RPCReply:
        """Send one ``<rpc>`` and wait for its ``<rpc-reply>`` (RFC 6241 sec. 4.1, 4.2).

        Args:
            operation: the operation element (moved into the ``<rpc>``).
            timeout: seconds to wait; default ``params.timeout``.

        Returns:
            The reply (warnings, if any, in ``errors``).

        Raises:
            RPCError: the reply holds one ``<rpc-error>`` of severity error, typed by tag.
            RPCErrors: it holds several.
            NVETimeoutError: no reply in time.
            NVEConnectionError: the session ended or the reply is not XML.
        """
        message_id = str(next(self._ids))
        data = encode_message(build_rpc(message_id, operation), self.framing)
        waiter = self._listener.expect(message_id)
        logger.debug("session %s sends:\n%s", self.session_id, data.decode("utf-8", "replace"))
        try:
            with self._write_lock:
                self._channel().sendall(data)
        except (OSError, EOFError) as error:
            self._listener.forget(message_id)
            raise NVEConnectionError(f"cannot send to {self.params.peer}: {error}") from None
        limit = self.params.timeout if timeout is None else timeout
        if not waiter.done.wait(limit):
            self._listener.forget(message_id)
            raise NVETimeoutError(f"{self.params.peer} did not answer in {limit} s")
        if waiter.raw is None:
            raise NVEConnectionError(
                f"the NETCONF session to {self.params.peer} ended: {waiter.error}")
        logger.debug("session %s received:\n%s", self.session_id, waiter.raw)
        try:
            reply = parse_rpc_reply(parse_xml(waiter.raw.encode("utf-8")))
        except RPCError as error:
            raise NVEConnectionError(f"{self.params.peer} sent a malformed reply: "
                                     f"{error.message}") from None
        failures = [e for e in reply.errors if e.severity is ErrorSeverity.ERROR]
        for warning in reply.errors:
            if warning.severity is ErrorSeverity.WARNING:
                logger.info("warning from %s: %s", self.params.peer, warning.message)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise RPCErrors(failures)
        return reply

    @property
    def ended(self) -> bool:
        """The session is over: closed, or lost (nothing more can be sent on it)."""
        return self._closed or self._listener.ended

    def next_notification(self, timeout: float | None = None) -> Element | None:
        """Wait for the next notification.

        Args:
            timeout: seconds to wait; ``None`` waits until one arrives.

        Returns:
            The parsed ``<notification>``, or ``None`` when ``timeout`` passed.

        Raises:
            NVEConnectionError: the session ended (after the last queued notification).
        """
        try:
            raw = self._listener.notifications.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(raw, _End):
            self._listener.notifications.put(raw)  # every later call ends too
            raise NVEConnectionError(f"the NETCONF session to {self.params.peer} ended")
        logger.debug("session %s received:\n%s", self.session_id, raw)
        try:
            return parse_xml(raw.encode("utf-8"))
        except RPCError as error:
            raise NVEConnectionError(f"{self.params.peer} sent a malformed notification: "
                                     f"{error.message}") from None

    def close(self) -> None:
        """Send ``<close-session>`` (RFC 6241 sec. 7.8) and close SSH; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.call(element(NS_NC, "close-session"),
                      timeout=min(self.params.timeout, _CLOSE_TIMEOUT))
        except (Nvo3Error, OSError) as error:
            logger.info("close-session to %s: %s", self.params.peer, error)
        self._listener.end(NVEConnectionError("the session was closed"))
        try:
            self._session.close()
        except Exception as error:  # ncclient may fail on an already dead transport
            logger.debug("closing the SSH session to %s: %r", self.params.peer, error)
        logger.info("NETCONF session %s to %s closed", self.session_id, self.params.peer)

    def _channel(self) -> Any:
        # ncclient keeps the paramiko channel private; writing to it directly is what
        # removes the reader thread's 100 ms tick from every request (module docstring).
        channel = self._session._channel
        if channel is None or self._closed and channel.closed:
            raise NVEConnectionError(f"the NETCONF session to {self.params.peer} is closed")
        return channel

    def __enter__(self) -> NetconfConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
