"""Fuzzing the RFC 6242 frame decoder against a whole-stream reference decoder.

Streams are valid framings of random messages, then mutated (bytes flipped, inserted,
deleted, framing tokens spliced in), or framing-flavoured noise; they are fed to
:class:`FrameDecoder` in random pieces, at a random message-size limit. Properties:

- the decoder raises nothing but ``FramingError``, and once it has, refuses more input;
- it returns exactly the messages the reference decoder finds in the whole stream, and
  ends in the same state (clean, mid-message or failed), however the stream was split;
- what it holds never exceeds the limit plus one chunk header (memory is bounded by the
  limit, not by what the peer sends).

``make test`` runs a bounded number of examples; ``make fuzz`` many more.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvo3_netconf.constants import FramingVersion
from nvo3_netconf.errors import FramingError
from nvo3_netconf.transport.framing import (
    EOM_DELIMITER,
    MAX_CHUNK_HEADER_LENGTH,
    MAX_CHUNK_SIZE,
    FrameDecoder,
    encode_message,
)
from tests.robustness.fuzzing import fuzz_settings

CHUNKED, EOM = FramingVersion.CHUNKED, FramingVersion.EOM
_HEADER = re.compile(rb"\n#([1-9][0-9]{0,9})\n")
_DIGITS = frozenset(b"0123456789")


# ------------------------------------------------------------- reference decoders
def _partial_header(rest: bytes) -> bool:
    """True if ``rest`` (no complete valid header) may still become one; False: error."""
    if rest[0] != 0x0A:
        return False
    if len(rest) < 2:
        return True
    if rest[1] != 0x23:
        return False
    if len(rest) < 3:
        return True
    if rest[2] == 0x23:  # end-of-chunks
        return len(rest) < 4
    if rest[2] == 0x30:
        return False
    window = rest[2:MAX_CHUNK_HEADER_LENGTH]
    if b"\n" in window:
        return False  # complete, yet no valid header matched
    return all(c in _DIGITS for c in window) and len(rest) < MAX_CHUNK_HEADER_LENGTH


def reference_chunked(data: bytes, limit: int) -> tuple[list[bytes], str]:
    """Messages in a chunked stream and how it ends: clean, incomplete or error."""
    messages: list[bytes] = []
    body: list[bytes] = []
    length, pos, in_message = 0, 0, False
    while True:
        rest = data[pos:]
        if not rest:
            return messages, "incomplete" if in_message else "clean"
        if rest.startswith(b"\n##\n"):
            if not in_message:
                return messages, "error"
            messages.append(b"".join(body))
            body, length, in_message, pos = [], 0, False, pos + 4
            continue
        match = _HEADER.match(rest)
        if match is None:
            return messages, "incomplete" if _partial_header(rest) else "error"
        size = int(match.group(1))
        if size > MAX_CHUNK_SIZE or length + size > limit:
            return messages, "error"
        chunk = rest[match.end():match.end() + size]
        body.append(chunk)
        length += len(chunk)
        in_message = True
        if len(chunk) < size:
            return messages, "incomplete"
        pos += match.end() + size


def _delimiter_prefix(data: bytes) -> int:
    for n in range(len(EOM_DELIMITER) - 1, 0, -1):
        if data.endswith(EOM_DELIMITER[:n]):
            return n
    return 0


def reference_eom(data: bytes, limit: int) -> tuple[list[bytes], str, int]:
    """Messages in an end-of-message stream, how it ends, and where it stopped."""
    messages: list[bytes] = []
    pos = 0
    while True:
        end = data.find(EOM_DELIMITER, pos)
        if end < 0:
            tail = data[pos:]
            if len(tail) - _delimiter_prefix(tail) > limit:
                return messages, "error", pos
            return messages, "incomplete" if tail else "clean", pos
        if end - pos > limit:
            return messages, "error", pos
        messages.append(data[pos:end])
        pos = end + len(EOM_DELIMITER)


# ------------------------------------------------------------------ the decoder
def run_decoder(
    pieces: list[bytes], limit: int, framing: FramingVersion, *, switch_after_first: bool = False
) -> tuple[list[bytes], str]:
    """Feed ``pieces`` one by one, draining after each; returns messages and end state."""
    decoder = FrameDecoder(max_message_size=limit, framing=framing)
    messages: list[bytes] = []
    bound = limit + MAX_CHUNK_HEADER_LENGTH + len(EOM_DELIMITER)
    try:
        for piece in pieces:
            decoder.receive_data(piece)
            while (message := decoder.next_message()) is not None:
                messages.append(message)
                if switch_after_first and len(messages) == 1:
                    decoder.switch_to_chunked()
            assert decoder.buffered <= bound, (decoder.buffered, limit)
    except FramingError:
        with pytest.raises(FramingError):
            decoder.receive_data(b"<rpc/>")
        with pytest.raises(FramingError):
            decoder.next_message()
        return messages, "error"
    return messages, "incomplete" if decoder.mid_message else "clean"


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


# ------------------------------------------------------------------ strategies
TOKENS = [b"\n", b"#", b"##", b"\n#", b"\n##\n", b"0", b"1", b"9", b"4294967295",
          b"4294967296", b"99999999999", b"]]>]]>", b"]]>", b"]", b"<rpc/>", b"\x00", b"\xff"]

bodies = st.lists(st.binary(min_size=1, max_size=200), min_size=0, max_size=5)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few random edits (none, sometimes)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(out)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "token", "truncate"]))
        if kind == "flip" and pos < len(out):
            out[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del out[pos:pos + draw(st.integers(1, 8))]
        elif kind == "token":
            out[pos:pos] = draw(st.sampled_from(TOKENS))
        elif kind == "truncate":
            del out[pos:]
    return bytes(out)


@st.composite
def chunked_streams(draw: st.DrawFn) -> bytes:
    parts = []
    for body in draw(bodies):
        size = draw(st.integers(1, max(1, len(body))))
        parts.append(encode_message(body, CHUNKED, max_chunk_size=size))
    return draw(mutated(b"".join(parts)))


noise = st.lists(st.sampled_from(TOKENS) | st.binary(max_size=4), max_size=30).map(b"".join)
limits = st.integers(min_value=8, max_value=600)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=25)


# ------------------------------------------------------------------ properties
@fuzz_settings(400)
@given(data=chunked_streams() | noise, limit=limits, cuts=cuts)
def test_chunked_decoder_matches_reference(data: bytes, limit: int, cuts: list[int]) -> None:
    expected = reference_chunked(data, limit)
    assert run_decoder(split(data, cuts), limit, CHUNKED) == expected
    assert run_decoder([data], limit, CHUNKED) == expected
    assert run_decoder([data[i:i + 1] for i in range(len(data))], limit, CHUNKED) == expected


@st.composite
def eom_streams(draw: st.DrawFn) -> bytes:
    messages = [b.replace(b"]", b")") for b in draw(bodies)]
    return draw(mutated(b"".join(encode_message(m, EOM) for m in messages)))


@fuzz_settings(300)
@given(data=eom_streams() | noise, limit=limits, cuts=cuts)
def test_eom_decoder_matches_reference(data: bytes, limit: int, cuts: list[int]) -> None:
    messages, state, _ = reference_eom(data, limit)
    assert run_decoder(split(data, cuts), limit, EOM) == (messages, state)
    assert run_decoder([data], limit, EOM) == (messages, state)


@fuzz_settings(300)
@given(hello=st.binary(max_size=80).map(lambda b: b.replace(b"]", b")")),
       rest=chunked_streams() | noise, limit=limits, cuts=cuts)
def test_switch_to_chunked_after_the_hello(
    hello: bytes, rest: bytes, limit: int, cuts: list[int]
) -> None:
    """The hello in end-of-message framing, then chunked bytes, in any packet boundaries."""
    data = encode_message(hello, EOM) + rest
    if len(hello) > limit:
        expected: tuple[list[bytes], str] = ([], "error")
    else:
        messages, state = reference_chunked(rest, limit)
        expected = ([hello, *messages], state)
    assert run_decoder(split(data, cuts), limit, EOM, switch_after_first=True) == expected


@fuzz_settings(200)
@given(size=st.integers(min_value=0, max_value=2**70), limit=st.integers(8, 10_000),
       tail=st.binary(max_size=20))
def test_any_chunk_header_is_decided_at_once(size: int, limit: int, tail: bytes) -> None:
    """An absurd chunk header fails on the header: nothing is buffered for its data."""
    header = b"\n#%d\n" % size
    messages, state = run_decoder([header + tail], limit, CHUNKED)
    valid = 1 <= size <= min(limit, MAX_CHUNK_SIZE) and len(str(size)) <= 10
    if not valid:
        assert state == "error"
    assert messages == reference_chunked(header + tail, limit)[0]
