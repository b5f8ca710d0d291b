"""One NETCONF session: hello exchange, framing, rpc dispatch and replies.

Implements RFC 6241 sec. 8.1 (capability exchange; base:1.1 chosen when both peers
announce it, else base:1.0; a session without a common base version is closed),
sec. 4.1-4.3 (every ``<rpc>`` answered, attributes echoed, failures as ``<rpc-error>``),
and RFC 6242 sec. 4 (framing switches to chunked right after the hellos when base:1.1
is in use). Framing errors answer ``malformed-message`` under base:1.1 and close the
session under base:1.0, where no reply can be framed reliably.

The session is sans-I/O: bytes come in through :meth:`NetconfSession.data_received`;
bytes go out through the :class:`Link` it was given. It is the error boundary: an
``RPCError`` becomes XML; anything else is logged and answered with a generic
``operation-failed`` that reveals nothing of the server's internals.

For RFC 5277 notifications the session offers :meth:`NetconfSession.send_message`
(called from a subscription's delivery thread; the link serializes sends),
:meth:`NetconfSession.after_reply` (start delivering once ``<ok/>`` is sent) and
records why it ended (:class:`~nvo3_netconf.constants.TerminationReason`, RFC 6470).

Public names: :class:`NetconfSession`, :class:`Link`, :class:`SessionInfo`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol

from lxml import etree

from nvo3_netconf.constants import (
    CAP_BASE_10,
    CAP_BASE_11,
    ErrorType,
    FramingVersion,
    TerminationReason,
)
from nvo3_netconf.errors import (
    FramingError,
    MalformedMessageError,
    OperationFailedError,
    RPCError,
    RPCErrors,
)
from nvo3_netconf.protocol.message_key import ReceivedMessage
from nvo3_netconf.protocol.messages import (
    build_hello,
    build_rpc_error_reply,
    build_rpc_reply,
    parse_hello,
    parse_rpc,
    rpc_attributes,
)
from nvo3_netconf.protocol.xml import make_parser, parse_xml
from nvo3_netconf.transport.framing import FrameDecoder, encode_message

logger = logging.getLogger(__name__)


class Link(Protocol):
    """The transport side of a session."""

    def send(self, data: bytes) -> bool:
        """Send framed bytes; False when the peer is gone."""

    def close(self) -> None:
        """Close the channel."""


@dataclass
class SessionInfo:
    """What the rest of the server knows about a session (RFC 6022 sec. 2.1.3).

    Attributes:
        session_id: the id sent in the server's hello.
        user: the authenticated user name.
        peer: the peer's address.
        transport: the transport identity (``netconf-ssh``).
        login_time: when the session started (epoch seconds).
        in_rpcs / in_bad_rpcs / out_rpc_errors / out_notifications: RFC 6022 counters.
        termination_reason: why the session ended (RFC 6470), once it has.
        killed_by: the session that killed it, with ``killed``.
    """

    session_id: int
    user: str
    peer: str
    transport: str = "netconf-ssh"
    login_time: float = 0.0
    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0
    out_notifications: int = 0
    capabilities: tuple[str, ...] = field(default_factory=tuple)
    termination_reason: TerminationReason | None = None
    killed_by: int | None = None


Handler = Callable[
    ["NetconfSession", etree._Element], Sequence[etree._Element] | bytes | None
]
"""An operation handler: returns reply content (elements or serialized), or None for ``<ok/>``."""


class Dispatcher(Protocol):
    """Finds and runs the handler of an operation (see ``protocol/dispatch.py``)."""

    def dispatch(self, session: NetconfSession, operation: etree._Element, *,
                 message: ReceivedMessage | None = None) -> (
        Sequence[etree._Element] | bytes | None
    ):
        """Run the operation; raise RPCError / RPCErrors to refuse it."""


class NetconfSession:
    """The protocol state of one session.

    Args:
        info: the session's identity and counters.
        link: where framed bytes go.
        capabilities: the server's capabilities for the hello.
        dispatcher: runs operations.
        on_close: called once when the session ends (locks, confirmed commits...).
        max_message_size: largest message accepted from the peer.
        on_established: called once both hellos were exchanged (RFC 6470 session-start).
        cached_reply: the stored reply to this message (a repeated request: a poll)
            for this session's user, or None; asked before a message is parsed, so a
            repeated request skips parsing and dispatch. Handlers store such replies
            by ``RPCContext.message``.
        message_scope: entered around the handling of each message, reply included
            (the notification bus's ``holding()``: events wake their dispatcher once
            the reply is sent).
    """

    def __init__(
        self,
        *,
        info: SessionInfo,
        link: Link,
        capabilities: Sequence[str],
        dispatcher: Dispatcher,
        on_close: Callable[[NetconfSession], None],
        max_message_size: int,
        after_large_message: Callable[[], None] | None = None,
        large_message: int = 4 * 1024 * 1024,
        on_established: Callable[[NetconfSession], None] | None = None,
        cached_reply: Callable[[NetconfSession, ReceivedMessage], bytes | None] | None = None,
        message_scope: AbstractContextManager[None] | None = None,
    ) -> None:
        self.info = info
        self._link = link
        self._capabilities = tuple(capabilities)
        self._dispatcher = dispatcher
        self._on_close = on_close
        self._decoder = FrameDecoder(max_message_size=max_message_size)
        self._parser = make_parser()  # reused: one session's messages are parsed in turn
        self._framing = FramingVersion.EOM
        self._hello_done = False
        self._after_large = after_large_message
        self._large = large_message
        self._closing = False
        self._close_requested = False
        self._ended = threading.Event()
        self._on_established = on_established
        self._cached_reply = cached_reply
        self._message_scope = message_scope if message_scope is not None else nullcontext()
        self._after_reply: list[Callable[[], None]] = []
        self._log = logging.LoggerAdapter(
            logger, {"session_id": info.session_id, "user": info.user, "peer": info.peer}
        )

    @property
    def session_id(self) -> int:
        """The session's id."""
        return self.info.session_id

    @property
    def user(self) -> str:
        """The authenticated user."""
        return self.info.user

    @property
    def established(self) -> bool:
        """True once both hellos were exchanged."""
        return self._hello_done

    def start(self) -> None:
        """Send the server's hello (RFC 6241 sec. 8.1: both sides send at once)."""
        self._send(build_hello(self._capabilities, self.info.session_id))

    # ------------------------------------------------------------ from the peer
    def data_received(self, data: bytes) -> None:
        """Handle bytes from the peer; replies are sent before this returns."""
        if self._closing:
            return
        try:
            self._decoder.receive_data(data)
            while not self._closing:
                message = self._decoder.next_message()
                if message is None:
                    break
                with self._message_scope:
                    self._handle_message(message)
                if len(message) > self._large and self._after_large is not None:
                    self._after_large()
        except FramingError as error:
            self._log.info("framing error: %s", error)
            if self._hello_done and self._framing is FramingVersion.CHUNKED:
                self._send_errors({}, [MalformedMessageError(f"Invalid chunked framing: {error}")])
            self.close()

    def connection_lost(self) -> None:
        """The transport closed; release what the session held (once)."""
        if self._ended.is_set():
            return
        self._ended.set()
        self._closing = True
        if self.info.termination_reason is None:
            self.info.termination_reason = TerminationReason.DROPPED
        self._on_close(self)

    # ------------------------------------------------------------- to the peer
    def send_message(self, body: bytes) -> bool:
        """Send one complete message (a notification) with the session's framing.

        Safe from another thread (a subscription's); blocks while the peer does not read.
        Returns False once the session is closing or the peer is gone.
        """
        if not self._hello_done or self._closing:
            return False
        if not self._send(body):
            return False
        self.info.out_notifications += 1
        return True

    def after_reply(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the successful reply of the current rpc is sent.

        A handler uses it to start sending notifications only after its ``<ok/>``
        (RFC 5277 sec. 2.1.1). If the operation fails, the callback is dropped.
        """
        self._after_reply.append(callback)

    def close_after_reply(self) -> None:
        """Close the session once the reply of the current rpc is sent (close-session)."""
        self._close_requested = True

    def close(self, reason: TerminationReason = TerminationReason.OTHER, *,
              killed_by: int | None = None) -> None:
        """End the session: close the channel (the transport reports the loss).

        Args:
            reason: why, for RFC 6470 session-end (the first reason given is kept).
            killed_by: the killing session, with ``killed``.
        """
        if self.info.termination_reason is None:
            self.info.termination_reason = reason
            self.info.killed_by = killed_by
        self._closing = True
        self._link.close()

    # ---------------------------------------------------------------- internals
    def _send(self, body: bytes) -> bool:
        return self._link.send(encode_message(body, self._framing))

    def _handle_message(self, message: bytes) -> None:
        if not self._hello_done:
            self._handle_hello(message)
            return
        self.info.in_rpcs += 1
        received = ReceivedMessage(message)
        if self._cached_reply is not None:
            cached = self._cached_reply(self, received)
            if cached is not None:
                self._send(cached)
                return
        try:
            root = parse_xml(message, parser=self._parser)
        except MalformedMessageError as error:
            self.info.in_bad_rpcs += 1
            self._log.info("malformed message: %s", error.message)
            if self._framing is FramingVersion.CHUNKED:
                self._send_errors({}, [error])
            else:
                self.close()
            return
        try:
            request = parse_rpc(root)
        except RPCError as error:
            self.info.in_bad_rpcs += 1
            self._send_errors(rpc_attributes(root), [error])
            return
        self._after_reply.clear()
        try:
            body = self._dispatcher.dispatch(self, request.operation, message=received)
        except RPCErrors as errors:
            self._after_reply.clear()
            self._send_errors(request.attributes, errors.errors)
            return
        except RPCError as error:
            self._after_reply.clear()
            self._send_errors(request.attributes, [error])
            return
        except Exception:  # the error boundary: never leak internals to the peer
            self._after_reply.clear()
            self._log.exception("operation %s failed", request.name)
            self._send_errors(
                request.attributes,
                [OperationFailedError("The server failed to process the request.",
                                      type_=ErrorType.APPLICATION)],
            )
            return
        reply = build_rpc_reply(
            request.attributes, body if isinstance(body, bytes) else list(body or ()))
        del body
        self._send(reply)
        callbacks, self._after_reply = self._after_reply, []
        for callback in callbacks:
            callback()
        if len(reply) > self._large and self._after_large is not None:
            del reply
            self._after_large()
        if self._close_requested:
            self.close(TerminationReason.CLOSED)

    def _handle_hello(self, message: bytes) -> None:
        try:
            hello = parse_hello(parse_xml(message, parser=self._parser), from_server=False)
        except RPCError as error:
            self._log.info("bad hello, closing: %s", error.message)
            self.close(TerminationReason.BAD_HELLO)
            return
        if CAP_BASE_11 in hello.capabilities and CAP_BASE_11 in self._capabilities:
            self._framing = FramingVersion.CHUNKED
            self._decoder.switch_to_chunked()
        elif CAP_BASE_10 not in hello.capabilities:
            self._log.info("no common base version with the client, closing")
            self.close(TerminationReason.BAD_HELLO)
            return
        self.info.capabilities = hello.capabilities
        self._hello_done = True
        self._log.info("session established (base:%s)", self._framing.value)
        if self._on_established is not None:
            self._on_established(self)

    def _send_errors(self, attributes: dict[str, str] | object, errors: Sequence[RPCError]) -> None:
        self.info.out_rpc_errors += 1
        assert isinstance(attributes, dict) or hasattr(attributes, "items")
        self._send(build_rpc_error_reply(attributes, errors))  # type: ignore[arg-type]
