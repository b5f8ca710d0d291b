"""NETCONF message framing over SSH (RFC 6242), sans-I/O.

Implements RFC 6242 sec. 4.1 (end-of-message framing until both peers have sent a
``<hello>`` announcing ``:base:1.1``, chunked framing after that), sec. 4.2 (chunked
framing) and sec. 4.3 (end-of-message framing). Nothing here reads or writes a socket:
bytes go in, complete messages come out, in the manner of python-hyper/h11's
``receive_data()`` / ``next_event()``.

Public names:

- :class:`FrameDecoder`: turns a byte stream into complete messages;
- :func:`encode_message`: frames one message for sending;
- :data:`EOM_DELIMITER`, :data:`END_OF_CHUNKS`, :data:`MAX_CHUNK_SIZE`,
  :data:`MAX_CHUNK_HEADER_LENGTH`, :data:`DEFAULT_MAX_MESSAGE_SIZE`.

Every violation of the framing rules or of the size limit raises
:class:`~nvo3_netconf.errors.FramingError`; after one, the decoder refuses further input,
since a byte stream that lost its framing cannot be resynchronised.
"""

from __future__ import annotations

from typing import Final

from nvo3_netconf.constants import FramingVersion
from nvo3_netconf.errors import FramingError

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "END_OF_CHUNKS",
    "EOM_DELIMITER",
    "MAX_CHUNK_HEADER_LENGTH",
    "MAX_CHUNK_SIZE",
    "FrameDecoder",
    "encode_message",
]

EOM_DELIMITER: Final = b"]]>]]>"
"""The end-of-message delimiter of RFC 6242 sec. 4.3."""

END_OF_CHUNKS: Final = b"\n##\n"
"""The end-of-chunks marker closing a chunked message (RFC 6242 sec. 4.2)."""

MAX_CHUNK_SIZE: Final = 4_294_967_295
"""The largest chunk-size RFC 6242 sec. 4.2 allows."""

MAX_CHUNK_HEADER_LENGTH: Final = len(b"\n#4294967295\n")
"""13 bytes: LF, HASH, at most 10 digits, LF."""

DEFAULT_MAX_MESSAGE_SIZE: Final = 32 * 1024 * 1024
"""32 MiB, the default limit on one message.

The largest message this project plans for is an ``<edit-config>`` of 100,000 entries, about
12 MB; 32 MiB leaves more than twice that as headroom. The limit also bounds what one
session can make the agent hold: the framer buffers up to the limit and the parsed lxml
tree takes several times the text size, so 64 MiB or more per session would let a few
peers exhaust memory. Deployments that need more pass ``max_message_size``.
"""

_LF: Final = 0x0A
_HASH: Final = 0x23
_ZERO: Final = 0x30
_EOM_TAIL: Final = len(EOM_DELIMITER) - 1
# Chunk data pieces at least this long are kept as views of the (immutable) input and
# copied once, when the message is joined; shorter ones are gathered in a bytearray so
# that tiny chunks cannot make the decoder hold one Python object per chunk.
_VIEW_MIN: Final = 4096
# A leftover this short (a split chunk header) is prepended to the next input as bytes.
_SMALL_LEFTOVER: Final = 64

_Buffer = bytes | bytearray


class FrameDecoder:
    """Splits a NETCONF byte stream into messages (RFC 6242 sec. 4.2 and 4.3).

    The decoder starts in end-of-message framing, as every session does for its
    ``<hello>`` (RFC 6242 sec. 4.1). Once both hellos announce ``:base:1.1`` the session
    calls :meth:`switch_to_chunked`; bytes already buffered are then read as chunked.

    Two ways to use it:

    - :meth:`feed` buffers bytes and returns every complete message;
    - :meth:`receive_data` buffers bytes and :meth:`next_message` returns one message at a
      time, or ``None``. During the hello exchange use this pair: a peer may send its
      ``<hello>`` and its first chunked ``<rpc>`` in one packet, and the switch must happen
      exactly after the hello. As in h11, call :meth:`next_message` until it returns
      ``None`` after each :meth:`receive_data`, or the buffer grows without bound.

    Cost is linear in the bytes received however they are split: searched bytes are
    never searched again (only a tail that may start ``]]>]]>`` is), and message bodies
    are copied once, when the message is joined (``bytes`` inputs are kept as views until
    then, not copied).

    Args:
        max_message_size: the largest message accepted, in bytes. A chunk header announcing
            a chunk that would take the message past it, or end-of-message data growing
            past it without a delimiter, raises at once.
        framing: the framing to start in; a session always starts in ``EOM``.

    Raises:
        ValueError: ``max_message_size`` is not positive.
    """

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        framing: FramingVersion = FramingVersion.EOM,
    ) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be at least 1")
        self._max_message_size = max_message_size
        self._framing = framing
        # Unconsumed input is self._data[self._pos:]: the caller's bytes object while it
        # is being consumed, a bytearray when leftovers must be joined with new input.
        self._data: _Buffer = b""
        self._pos = 0
        # Body pieces so far, their length, and small pieces being gathered; then for
        # chunked framing, bytes left in the current chunk and whether the message has
        # had a chunk yet.
        self._parts: list[bytes | bytearray | memoryview] = []
        self._length = 0
        self._small = bytearray()
        self._chunk_left = 0
        self._in_message = False
        self._failure: str | None = None

    @property
    def framing(self) -> FramingVersion:
        """The framing in force: ``EOM`` until :meth:`switch_to_chunked`, then ``CHUNKED``."""
        return self._framing

    @property
    def max_message_size(self) -> int:
        """The largest message accepted, in bytes."""
        return self._max_message_size

    @property
    def buffered(self) -> int:
        """Body and framing bytes held, not yet returned as part of a message."""
        return len(self._data) - self._pos + self._length

    @property
    def mid_message(self) -> bool:
        """True if part of a message has been received: the stream may not end here."""
        return bool(self.buffered or self._chunk_left or self._in_message)

    def switch_to_chunked(self) -> None:
        """Use chunked framing from now on (RFC 6242 sec. 4.1); idempotent.

        Bytes buffered and not yet returned are read as chunked framing.

        Raises:
            FramingError: the decoder already failed.
        """
        self._check_usable()
        if self._framing is FramingVersion.CHUNKED:
            return
        self._framing = FramingVersion.CHUNKED
        if self._length:
            # Part of the next message was taken as end-of-message body: restore it as
            # raw bytes, to be read as chunked framing.
            head = self._finish_message()
            self._data = head + self._data[self._pos :]
            self._pos = 0

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes read from the transport; :meth:`next_message` extracts messages.

        Args:
            data: the bytes read, possibly empty. A ``bytes`` object is kept, not copied;
                other bytes-like objects are copied (the caller may reuse them).

        Raises:
            FramingError: the decoder already failed.
        """
        self._check_usable()
        if not data:
            return
        chunk = data if isinstance(data, bytes) else bytes(data)
        leftover = len(self._data) - self._pos
        if leftover == 0:
            self._data = chunk
        elif isinstance(self._data, bytearray):
            if self._pos:
                del self._data[: self._pos]  # O(1) in CPython: moves the start pointer
            self._data += chunk
        elif leftover <= _SMALL_LEFTOVER:
            self._data = self._data[self._pos :] + chunk
        else:
            buffer = bytearray(self._data[self._pos :])
            buffer += chunk
            self._data = buffer
        self._pos = 0

    def next_message(self) -> bytes | None:
        """Return the next complete message, or ``None`` if more bytes are needed.

        Returns:
            The message body without its framing, or ``None``.

        Raises:
            FramingError: the stream violates RFC 6242 or a message exceeds the limit.
        """
        self._check_usable()
        if self._pos == len(self._data):
            return None  # every byte read is used: no message can be complete
        try:
            if self._framing is FramingVersion.EOM:
                return self._next_eom()
            return self._next_chunked()
        except FramingError as exc:
            self._failure = str(exc)
            raise

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Buffer ``data`` and return every message it completes, in order.

        Args:
            data: the bytes read, possibly empty.

        Returns:
            The complete messages, possibly none.

        Raises:
            FramingError: the stream violates RFC 6242 or a message exceeds the limit.
        """
        self.receive_data(data)
        messages: list[bytes] = []
        while (message := self.next_message()) is not None:
            messages.append(message)
        return messages

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise FramingError(f"the stream had a framing error earlier: {self._failure}")

    def _too_big(self, size: int) -> FramingError:
        return FramingError(
            f"message of at least {size} bytes exceeds the limit of {self._max_message_size} bytes"
        )

    def _next_eom(self) -> bytes | None:
        data, pos = self._data, self._pos
        end = data.find(EOM_DELIMITER, pos)
        if end < 0:
            # Move what cannot belong to a delimiter into the body; keep the tail that
            # may be the start of one, to be searched again with the next input.
            cut = len(data) - _delimiter_prefix_length(data)
            if cut > pos:
                total = self._length + cut - pos
                if total > self._max_message_size:
                    raise self._too_big(total)
                self._add_piece(data, pos, cut - pos)
                self._pos = cut
            return None
        total = self._length + end - pos
        if total > self._max_message_size:
            raise self._too_big(total)
        if self._length:
            self._add_piece(data, pos, end - pos)
            message = self._finish_message()
        else:
            message = bytes(data[pos:end]) if isinstance(data, bytearray) else data[pos:end]
        self._pos = end + len(EOM_DELIMITER)
        return message

    def _next_chunked(self) -> bytes | None:
        data = self._data
        if not self._in_message and isinstance(data, bytes):
            whole = self._single_chunk_message(data, self._pos)
            if whole is not None:
                return whole
        while True:
            pos = self._pos
            if self._chunk_left:
                take = min(self._chunk_left, len(data) - pos)
                if take == 0:
                    return None
                self._add_piece(data, pos, take)
                self._pos = pos + take
                self._chunk_left -= take
                continue
            header = self._parse_chunk_header(data, pos)
            if header is None:
                return None
            self._pos, size = header
            if size:
                self._chunk_left = size
                self._in_message = True
                continue
            return self._finish_message()

    def _single_chunk_message(self, data: bytes, pos: int) -> bytes | None:
        """The usual case, read in one step: a whole message of one chunk at ``pos``.

        Returns None for anything else (incomplete, several chunks, or invalid), which
        the general parser then handles, errors included.
        """
        if not data.startswith(b"\n#", pos):
            return None
        end = data.find(b"\n", pos + 2, pos + MAX_CHUNK_HEADER_LENGTH)
        digits = data[pos + 2 : end]
        if end < 0 or not digits.isdigit() or digits[0] == _ZERO:
            return None
        size = int(digits)
        start = end + 1
        stop = start + size
        if size > self._max_message_size or not data.startswith(END_OF_CHUNKS, stop):
            return None
        self._pos = stop + len(END_OF_CHUNKS)
        return data[start:stop]

    def _add_piece(self, data: _Buffer, pos: int, take: int) -> None:
        """Append ``data[pos:pos + take]`` to the message body."""
        if take >= _VIEW_MIN and isinstance(data, bytes):
            if self._small:
                self._parts.append(self._small)
                self._small = bytearray()
            self._parts.append(memoryview(data)[pos : pos + take])
        else:
            with memoryview(data) as view:
                self._small += view[pos : pos + take]
        self._length += take

    def _finish_message(self) -> bytes:
        """Join the body pieces of a complete message and reset."""
        parts = self._parts
        if self._small:
            parts.append(self._small)
        message = b"".join(parts)
        self._parts = []
        self._small = bytearray()
        self._length = 0
        self._in_message = False
        return message

    def _parse_chunk_header(self, data: _Buffer, pos: int) -> tuple[int, int] | None:
        """Parse a chunk header or end-of-chunks at ``pos``.

        Returns:
            ``(position after it, chunk size)``, size 0 for end-of-chunks; ``None`` if
            the header is not complete yet.

        Raises:
            FramingError: the bytes at ``pos`` cannot begin a valid header.
        """
        available = len(data) - pos
        if available == 0:
            return None
        if data[pos] != _LF:
            raise FramingError(
                f"expected a chunk header (LF #) but got {_show(data, pos)} (RFC 6242 sec. 4.2)"
            )
        if available < 2:
            return None
        if data[pos + 1] != _HASH:
            raise FramingError(
                f"expected '#' after LF in a chunk header but got {_show(data, pos)} "
                "(RFC 6242 sec. 4.2)"
            )
        if available < 3:
            return None
        first = data[pos + 2]
        if first == _HASH:
            if available < 4:
                return None
            if data[pos + 3] != _LF:
                raise FramingError(
                    f"end-of-chunks must be LF ## LF, got {_show(data, pos)} (RFC 6242 sec. 4.2)"
                )
            if not self._in_message:
                raise FramingError(
                    "end-of-chunks before any chunk: a chunked message needs at least "
                    "one chunk (RFC 6242 sec. 4.2)"
                )
            return pos + len(END_OF_CHUNKS), 0
        if first == _ZERO:
            raise FramingError(
                f"chunk-size must not be zero nor start with a zero: {_show(data, pos)} "
                "(RFC 6242 sec. 4.2)"
            )
        end = data.find(b"\n", pos + 2, pos + MAX_CHUNK_HEADER_LENGTH)
        digits = bytes(data[pos + 2 : end if end >= 0 else pos + MAX_CHUNK_HEADER_LENGTH])
        if not digits.isdigit():
            raise FramingError(
                f"chunk-size must be decimal digits: {_show(data, pos)} (RFC 6242 sec. 4.2)"
            )
        if end < 0:
            if available >= MAX_CHUNK_HEADER_LENGTH:
                raise FramingError(
                    f"chunk header longer than {MAX_CHUNK_HEADER_LENGTH} bytes: "
                    f"{_show(data, pos)} (RFC 6242 sec. 4.2)"
                )
            return None
        size = int(digits)
        if size > MAX_CHUNK_SIZE:
            raise FramingError(
                f"chunk-size {size} exceeds the maximum {MAX_CHUNK_SIZE} (RFC 6242 sec. 4.2)"
            )
        total = self._length + size
        if total > self._max_message_size:
            raise self._too_big(total)
        return end + 1, size


def _delimiter_prefix_length(data: _Buffer) -> int:
    """Length of the longest tail of ``data`` that is a proper prefix of ``]]>]]>``."""
    for length in range(_EOM_TAIL, 0, -1):
        if data.endswith(EOM_DELIMITER[:length]):
            return length
    return 0


def _show(data: _Buffer, pos: int) -> str:
    """Quote the bytes at ``pos`` for an error message, cut to a header's length."""
    return repr(bytes(data[pos : pos + MAX_CHUNK_HEADER_LENGTH]))


def encode_message(
    body: bytes,
    version: FramingVersion,
    *,
    max_chunk_size: int = MAX_CHUNK_SIZE,
) -> bytes:
    """Frame one message for sending (RFC 6242 sec. 4.2 and 4.3).

    Args:
        body: the serialized XML message.
        version: ``EOM`` appends ``]]>]]>``; ``CHUNKED`` sends the body in chunks of at
            most ``max_chunk_size`` bytes followed by end-of-chunks.
        max_chunk_size: the largest chunk to send, 1 to :data:`MAX_CHUNK_SIZE`; by default
            the whole body is one chunk.

    Returns:
        The framed bytes.

    Raises:
        FramingError: the body is empty under chunked framing (a chunked message has at
            least one chunk of at least one byte), or contains ``]]>]]>`` under
            end-of-message framing (it would end the message early).
        ValueError: ``max_chunk_size`` is out of range.
    """
    if version is FramingVersion.EOM:
        if EOM_DELIMITER in body:
            raise FramingError("message contains ]]>]]> and cannot use end-of-message framing")
        return body + EOM_DELIMITER
    if not 1 <= max_chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"max_chunk_size must be 1..{MAX_CHUNK_SIZE}, not {max_chunk_size}")
    if not body:
        raise FramingError("an empty message cannot be sent with chunked framing")
    view = memoryview(body)
    parts: list[bytes | memoryview] = []
    for start in range(0, len(body), max_chunk_size):
        chunk = view[start : start + max_chunk_size]
        parts.append(b"\n#%d\n" % len(chunk))
        parts.append(chunk)
    parts.append(END_OF_CHUNKS)
    return b"".join(parts)
