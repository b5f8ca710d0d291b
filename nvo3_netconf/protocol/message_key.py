"""What identifies a received ``<rpc>`` apart from its message-id, read from its bytes.

A client that polls asks the same question again and again; only the ``message-id``
changes (RFC 6241 sec. 4.1). :func:`message_key` splits a message's bytes around the
value of that attribute, so that a repeated request is recognized *before* it is
parsed: two messages with the same key parse to the same request except for the
message-id, whose value the key also gives.

Only a plain, common form is recognized; anything else gets None and takes the normal
path (parse, check, dispatch). Recognized: an optional XML declaration, then the
``<rpc>`` start tag (with or without a prefix) whose attributes are namespace
declarations and one unprefixed ``message-id``, each value quoted without ``<`` or
``&``. The message-id value must be printable ASCII without quotes, ``<``, ``>`` or
``&``: then no entity, no attribute-value normalization and no encoding can make the
parsed value differ from the bytes, and the reply echoes it byte for byte.

Public names: :class:`MessageKey`, :func:`message_key`, :class:`ReceivedMessage`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_S = rb"[ \t\r\n]"
_QNAME = rb"[A-Za-z_][-.\w]*(?::[A-Za-z_][-.\w]*)?"
_VALUE = rb"""(?:"[^"<&]*"|'[^'<&]*')"""
_RPC_START = re.compile(
    rb"(?:<\?xml[^<>?]*\?>)?%s*<(?:[A-Za-z_][-.\w]*:)?rpc((?:%s+%s%s*=%s*%s)*)%s*>"
    % (_S, _S, _QNAME, _S, _S, _VALUE, _S)
)
"""An optional XML declaration, then the ``<rpc>`` start tag (group 1: its attributes)."""
_ATTRIBUTE = re.compile(rb"%s+(%s)%s*=%s*(%s)" % (_S, _QNAME, _S, _S, _VALUE))
"""One attribute: its name and its quoted value."""
_PLAIN_ID = re.compile(rb"[ !#-%(-;=?-~]*")
"""Printable ASCII but ``"``, ``&``, ``'``, ``<`` and ``>``."""


@dataclass(frozen=True)
class MessageKey:
    """A message split around its message-id.

    Attributes:
        rest: the bytes before and after the message-id value (hashable).
        message_id: the message-id, as a parser would read it.
    """

    rest: tuple[bytes, bytes]
    message_id: str


def message_key(message: bytes) -> MessageKey | None:
    """The key of ``message``, or None when it is not in the plain form described above."""
    start = _RPC_START.match(message)
    if start is None:
        return None
    found = None
    base = start.start(1)
    for attribute in _ATTRIBUTE.finditer(start.group(1)):
        name = attribute.group(1)
        if name == b"message-id":
            if found is not None:
                return None  # not well-formed: the parser's error is the answer
            found = attribute.span(2)
        elif name != b"xmlns" and not name.startswith(b"xmlns:"):
            return None  # an attribute the reply must echo: take the normal path
    if found is None:
        return None
    value_start, value_end = base + found[0] + 1, base + found[1] - 1  # inside the quotes
    value = message[value_start:value_end]
    if not _PLAIN_ID.fullmatch(value):
        return None
    return MessageKey((message[:value_start], message[value_end:]), value.decode("ascii"))


class ReceivedMessage:
    """A received message's bytes, whose key is computed at most once.

    The session asks its reply cache with the key before parsing; on a miss, the
    handler that stores the reply reads the same key again for free.
    """

    __slots__ = ("data", "_key", "_keyed")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._key: MessageKey | None = None
        self._keyed = False

    @property
    def key(self) -> MessageKey | None:
        """:func:`message_key` of :attr:`data`."""
        if not self._keyed:
            self._key = message_key(self.data)
            self._keyed = True
        return self._key
