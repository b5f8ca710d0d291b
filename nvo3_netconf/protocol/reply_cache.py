"""Serialized ``<get-config>`` replies, kept until the datastores change.

Monitoring systems ask the same question over and over (the same filter, every few
seconds, from several sessions). Between two changes of the configuration the answer
is the same bytes, so :class:`ReplyCache` keeps the serialized ``<data>`` of recent
requests: a repeated request costs its parsing and a dictionary lookup instead of the
with-defaults view, the access-control pruning, the filter and the serialization.

An answer depends on the datastore's content (the cache is emptied whenever the
datastores' generation moves on: every edit, commit, copy, discard or rollback), on
the request (the operation's serialization, which holds the datastore, the filter and
with-defaults, plus the namespace prefixes in scope, which an XPath ``select`` may
use) and on what the user may read (the NACM access object, replaced whenever the
NACM configuration or the user's groups change). These make up the key; nothing else
goes into a reply.

Public names: :class:`ReplyCache`, :func:`request_key`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from lxml import etree

MAX_ENTRIES = 128
"""Replies kept at most (the least recently used goes first)."""
MAX_REPLY = 64 * 1024
"""Bytes of the largest reply kept: a big reply is rare, and costs its transfer anyway."""


def request_key(op: etree._Element) -> Hashable:
    """What identifies a request: the operation's bytes and the prefixes in scope.

    The bytes hold every parameter (source, filter, with-defaults); the prefixes are
    those an XPath ``select`` may use, declared on the operation or above it.
    """
    prefixes = tuple(sorted((prefix or "", uri) for prefix, uri in op.nsmap.items()))
    return etree.tostring(op, encoding="UTF-8", with_tail=False), prefixes


class ReplyCache:
    """Serialized replies by request, for one generation of the datastores.

    Not thread-safe on its own: use it while holding the datastores (under
    ``DatastoreManager.reading``), which also keeps the generation still.

    Args:
        max_entries: replies kept at most (0: none, every request is answered afresh).
        max_reply: bytes of the largest reply kept.
    """

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_reply: int = MAX_REPLY) -> None:
        self._max_entries = max_entries
        self._max_reply = max_reply
        self._generation: int | None = None
        self._replies: OrderedDict[Hashable, bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, generation: int, key: Hashable) -> bytes | None:
        """The reply stored for ``key`` in this generation, or None."""
        self._move_to(generation)
        reply = self._replies.get(key)
        if reply is None:
            self.misses += 1
            return None
        self._replies.move_to_end(key)
        self.hits += 1
        return reply

    def put(self, generation: int, key: Hashable, reply: bytes) -> None:
        """Keep ``reply`` for ``key`` (ignored when too big or of an older generation)."""
        if (self._generation is not None and generation < self._generation
                or len(reply) > self._max_reply or not self._max_entries):
            return
        self._move_to(generation)
        self._replies[key] = reply
        self._replies.move_to_end(key)
        while len(self._replies) > self._max_entries:
            self._replies.popitem(last=False)

    def _move_to(self, generation: int) -> None:
        """Forget the replies of another generation (generations only grow)."""
        if generation != self._generation:
            self._replies.clear()
            self._generation = generation

    @property
    def enabled(self) -> bool:
        """False when no reply is ever kept (``max_entries`` 0)."""
        return self._max_entries > 0

    def __len__(self) -> int:
        return len(self._replies)
