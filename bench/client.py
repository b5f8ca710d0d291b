"""A minimal raw NETCONF client over SSH (RFC 6241, RFC 6242) for the benchmark.

The same client talks to every server measured, so their figures compare. It opens the
``netconf`` subsystem with paramiko, exchanges hellos announcing base:1.0 and base:1.1,
switches to chunked framing when both peers announce base:1.1 (RFC 6242 sec. 4.1) and
sends one ``<rpc>`` at a time. Replies are read with blocking ``recv`` calls: there is no
poll tick (ncclient's ``TICK = 0.1`` would add up to 100 ms to every request).

Framing is the project's own sans-I/O codec (``nvo3_netconf.transport.framing``).

Public names: :class:`NetconfClient`, :class:`Reply`, :class:`SessionClosed`,
:func:`rpc_error_text`.
"""

from __future__ import annotations

import itertools
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import paramiko
from lxml import etree

from nvo3_netconf.constants import FramingVersion
from nvo3_netconf.transport.framing import FrameDecoder, encode_message

NS_NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
CAP_BASE_10 = "urn:ietf:params:netconf:base:1.0"
CAP_BASE_11 = "urn:ietf:params:netconf:base:1.1"

# Receive window and read size: large enough that a 10 MB reply is not throttled by
# window adjustments (the same for every server).
_WINDOW = 64 * 1024 * 1024
_READ = 1024 * 1024
_MAX_MESSAGE = 512 * 1024 * 1024

_RPC_ERROR = re.compile(rb"<(?:[\w.-]+:)?rpc-error[\s>/]")
_ERROR_MESSAGE = re.compile(rb"<(?:[\w.-]+:)?error-message[^>]*>(.*?)</", re.S)
_ERROR_TAG = re.compile(rb"<(?:[\w.-]+:)?error-tag[^>]*>(.*?)</", re.S)
_MESSAGE_ID = re.compile(rb'message-id="([^"]*)"')


class SessionClosed(ConnectionError):
    """The server closed the session (or the SSH channel) before replying."""


@dataclass(frozen=True)
class Reply:
    """One ``<rpc-reply>`` as received.

    Attributes:
        data: the reply message, unparsed.
        elapsed: seconds from the first byte sent to the last byte of the reply.
    """

    data: bytes
    elapsed: float

    @property
    def ok(self) -> bool:
        """True when the reply holds no ``<rpc-error>``."""
        return _RPC_ERROR.search(self.data) is None

    def error(self) -> str:
        """A one-line summary of the first ``<rpc-error>`` (empty when there is none)."""
        return rpc_error_text(self.data)


def rpc_error_text(data: bytes) -> str:
    """Error-tag and error-message of the first ``<rpc-error>`` in ``data``."""
    if _RPC_ERROR.search(data) is None:
        return ""
    tag = _ERROR_TAG.search(data)
    message = _ERROR_MESSAGE.search(data)
    parts = [m.group(1).decode(errors="replace").strip() for m in (tag, message) if m]
    return ": ".join(parts) or "rpc-error"


class NetconfClient:
    """One NETCONF session over SSH, public-key authentication, blocking reads.

    Args:
        host: server address.
        port: SSH port.
        user: SSH user name.
        key_file: private key (PEM or OpenSSH format).
        timeout: seconds allowed for connecting and for each reply.
    """

    def __init__(self, host: str, port: int, *, user: str, key_file: Path,
                 timeout: float = 600.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._ids = itertools.count(1)
        sock = socket.create_connection((host, port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._transport = paramiko.Transport(sock)
        try:
            self._transport.start_client(timeout=30)
            key = paramiko.PKey.from_path(key_file)
            self._transport.auth_publickey(user, key)
            self._channel = self._transport.open_session(window_size=_WINDOW, timeout=30)
            self._channel.settimeout(timeout)
            self._channel.invoke_subsystem("netconf")
            self._decoder = FrameDecoder(max_message_size=_MAX_MESSAGE)
            self._framing = FramingVersion.EOM
            self.capabilities, self.session_id = self._exchange_hellos()
        except BaseException:
            self._transport.close()
            raise

    @property
    def framing(self) -> FramingVersion:
        """The framing in use after the hello exchange."""
        return self._framing

    def _exchange_hellos(self) -> tuple[list[str], str]:
        hello = etree.Element(f"{{{NS_NC}}}hello", nsmap={None: NS_NC})
        caps = etree.SubElement(hello, f"{{{NS_NC}}}capabilities")
        for uri in (CAP_BASE_10, CAP_BASE_11):
            etree.SubElement(caps, f"{{{NS_NC}}}capability").text = uri
        self._send(etree.tostring(hello, xml_declaration=True, encoding="UTF-8"))
        data = self._receive()
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        server_caps = [(c.text or "").strip() for c in root.iter(f"{{{NS_NC}}}capability")]
        session_id = root.findtext(f"{{{NS_NC}}}session-id") or ""
        if CAP_BASE_11 in server_caps:
            self._framing = FramingVersion.CHUNKED
            self._decoder.switch_to_chunked()
        return server_caps, session_id

    def _send(self, body: bytes) -> None:
        self._channel.sendall(encode_message(body, self._framing))

    def _receive(self) -> bytes:
        message = self._decoder.next_message()
        while message is None:
            data: bytes = self._channel.recv(_READ)
            if not data:
                raise SessionClosed(f"{self.host}:{self.port} closed the session")
            self._decoder.receive_data(data)
            message = self._decoder.next_message()
        return message

    def receive(self) -> bytes:
        """The next message the server sends (a ``<notification>`` once subscribed).

        Raises:
            SessionClosed: the server closed the session.
        """
        return self._receive()

    def rpc_bytes(self, operation: bytes) -> bytes:
        """Wrap a serialized operation element in an ``<rpc>`` with the next message-id."""
        message_id = next(self._ids)
        return (b'<rpc xmlns="' + NS_NC.encode() + b'" message-id="'
                + str(message_id).encode() + b'">' + operation + b"</rpc>")

    def send_rpc(self, rpc: bytes) -> Reply:
        """Send a complete ``<rpc>`` message and block until its reply has arrived.

        Raises:
            SessionClosed: the server closed the session instead of replying.
            RuntimeError: the reply carries another message-id.
        """
        framed = encode_message(rpc, self._framing)
        start = time.perf_counter()
        self._channel.sendall(framed)
        data = self._receive()
        elapsed = time.perf_counter() - start
        sent = _MESSAGE_ID.search(rpc, 0, 200)
        got = _MESSAGE_ID.search(data, 0, 400)
        if sent and got and sent.group(1) != got.group(1):
            raise RuntimeError(f"reply to message-id {got.group(1)!r}, expected {sent.group(1)!r}")
        return Reply(data, elapsed)

    def request(self, operation: etree._Element) -> Reply:
        """Send one operation element as an ``<rpc>`` and return its reply."""
        return self.send_rpc(self.rpc_bytes(etree.tostring(operation)))

    def settimeout(self, timeout: float) -> None:
        """Seconds each later read may block before ``TimeoutError`` is raised."""
        self.timeout = timeout
        self._channel.settimeout(timeout)

    def abort(self) -> None:
        """Close the SSH connection at once, without ``<close-session>``."""
        self._transport.close()

    def close(self) -> None:
        """Send ``<close-session>`` (best effort) and close the SSH connection."""
        try:
            if self._transport.is_active() and not self._channel.closed:
                self._channel.settimeout(5)
                op = etree.Element(f"{{{NS_NC}}}close-session", nsmap={None: NS_NC})
                self.request(op)
        except (OSError, SessionClosed, EOFError, paramiko.SSHException):
            pass
        finally:
            self._transport.close()

    def __enter__(self) -> NetconfClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
