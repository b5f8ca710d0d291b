"""Typed change lists produced by the edit-config engine, and instance paths.

A :class:`Change` says what one edit did to one node of a datastore: created, deleted,
replaced (a leaf's value changed) or moved (an ``ordered-by user`` entry, RFC 7950
sec. 7.7.7). The list returned by :func:`~nvo3_netconf.datastore.edit.apply_edit` is
exact and minimal: one entry per node at the highest level affected (a created list
entry is one ``CREATE``, not one per leaf), nothing for a value merged over an equal one.
It feeds the RFC 6470 sec. 2.2 ``netconf-config-change`` notification and the appliers
(sysrepo's ``ChangeCreated`` / ``ChangeDeleted`` / ``ChangeModified`` / ``ChangeMoved``).

Paths are RFC 7950 sec. 9.13 instance-identifiers with module prefixes, e.g.
``/nt:top/nt:item[nt:name='a']/nt:number`` or ``/nt:top/nt:label[.='x']``; the prefixes
are bound in ``Change.namespaces`` (and in ``RPCError.path_namespaces`` for error-paths).

Values are compared as YANG compares them only as far as the XML allows without types:
text as given, with the prefixes it uses (identityref, instance-identifier, RFC 7950
sec. 9.10.3 and 9.13.2) replaced by their namespaces (:func:`value_key`). Entries of
``ordered-by user`` lists are positioned with :func:`place`; a ``replace`` that
reorders them moves the fewest (:func:`longest_increasing`).

Public names: :class:`ChangeOp`, :class:`Change`, :class:`PartialEditError`,
:class:`ChangeLog`, :func:`quote_literal`, :func:`bind_prefix`, :func:`value_key`,
:func:`value_prefixes`, :func:`place`, :func:`longest_increasing`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from nvo3_netconf.errors import RPCError, RPCErrors
from nvo3_netconf.schema.nodes import SchemaNode

InstancePath = str
"""An absolute RFC 7950 sec. 9.13 instance-identifier with module prefixes."""

Element = etree._Element

# A "prefix:" inside a value, not preceded by a name character or a colon (so neither
# IPv6 addresses nor URLs match) and followed by the start of a name.
_PREFIXED = re.compile(r"(?<![\w.:-])([A-Za-z_][\w.-]*):(?=[A-Za-z_])")


class ChangeOp(StrEnum):
    """What happened to a node (RFC 6470 sec. 2.2 ``edit/operation``, reduced to effects)."""

    CREATE = "create"
    DELETE = "delete"
    REPLACE = "replace"
    MOVE = "move"


@dataclass(frozen=True)
class Change:
    """One effect of an edit on one data node.

    Attributes:
        operation: created, deleted, replaced (a leaf or anydata whose value changed) or
            moved (an ``ordered-by user`` entry whose position changed).
        path: instance path of the node, prefixes bound in ``namespaces``.
        namespaces: prefix -> namespace for every prefix of ``path``.
        schema: the node's schema.
        old: the element before the change (detached from the tree) for ``DELETE`` and
            ``REPLACE``; None otherwise.
        new: the element in the edited tree for ``CREATE``, ``REPLACE`` and ``MOVE``
            (for ``MOVE`` its preceding sibling of the same name gives the new position);
            None for ``DELETE``.
    """

    operation: ChangeOp
    path: InstancePath
    namespaces: Mapping[str, str]
    schema: SchemaNode
    old: etree._Element | None = None
    new: etree._Element | None = None


class PartialEditError(RPCErrors):
    """``continue-on-error`` met errors: the rest of the edit was applied.

    Attributes:
        errors: every ``<rpc-error>``, in document order.
        changes: the changes that were applied despite them.
    """

    def __init__(self, errors: Iterable[RPCError], changes: Iterable[Change]) -> None:
        super().__init__(errors)
        self.changes: tuple[Change, ...] = tuple(changes)


def quote_literal(value: str) -> str:
    """``value`` as an XPath 1.0 literal for a path predicate (RFC 7950 sec. 9.13).

    Single quotes are used unless the value holds one; a value holding both kinds of
    quote becomes a ``concat()`` expression.
    """
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in value.split("'")) + ")"


class ChangeLog:
    """Changes in the order they happen, with an edit undoing itself collapsed.

    A node created by this edit and then deleted by it (a later case of the same
    choice, a later ``delete`` in the same request) leaves no trace; a leaf created and
    then given another value stays one ``CREATE`` with the final element.
    """

    def __init__(self) -> None:
        self._items: list[Change | None] = []
        self._created: dict[etree._Element, int] = {}

    def created(self, element: etree._Element) -> bool:
        """True if ``element`` was created (and recorded) by this edit."""
        return element in self._created

    def create(self, change: Change) -> None:
        """Record a created node (``change.new`` is the element)."""
        assert change.new is not None
        self._created[change.new] = len(self._items)
        self._items.append(change)

    def delete(self, change: Change) -> None:
        """Record a deleted node, or forget its creation if this edit made it."""
        assert change.old is not None
        if self.discard(change.old):
            return
        self._items.append(change)

    def discard(self, element: etree._Element) -> bool:
        """Forget the creation of ``element`` if this edit made it; True if it did."""
        index = self._created.pop(element, None)
        if index is None:
            return False
        self._items[index] = None
        return True

    def replace(self, change: Change) -> None:
        """Record a changed value (``old`` detached, ``new`` in the tree)."""
        assert change.old is not None and change.new is not None
        index = self._created.pop(change.old, None)
        if index is None:
            self._items.append(change)
            return
        created = self._items[index]
        assert created is not None
        self._items[index] = Change(
            ChangeOp.CREATE, created.path, created.namespaces, created.schema, None, change.new
        )
        self._created[change.new] = index

    def move(self, change: Change) -> None:
        """Record a moved ``ordered-by user`` entry (not one this edit created)."""
        assert change.new is not None
        if change.new not in self._created:
            self._items.append(change)

    def changes(self) -> list[Change]:
        """The recorded changes, in order."""
        return [c for c in self._items if c is not None]


def bind_prefix(namespaces: Mapping[str, str], node: SchemaNode) -> tuple[str, dict[str, str]]:
    """The prefix naming ``node`` in a path, and ``namespaces`` with it bound.

    The module's prefix is used; if another module already took it in this path, the
    module name is (both are unique among implemented modules in practice). The
    mapping is returned unchanged (not copied) when the prefix is already bound.
    """
    for prefix in (node.prefix, node.module):
        bound = namespaces.get(prefix)
        if bound == node.namespace:
            return prefix, namespaces  # type: ignore[return-value]  # shared, never mutated
        if bound is None:
            return prefix, {**namespaces, prefix: node.namespace}
    return node.module, {**namespaces, node.module: node.namespace}


def value_prefixes(text: str) -> list[str]:
    """The XML prefixes a value uses (``x:vxlan``, ``/x:top/x:item[x:name='a']``)."""
    return _PREFIXED.findall(text)


def resolve_prefixes(text: str, nsmap: Mapping[str | None, str]) -> str:
    """``text`` with every prefix bound in ``nsmap`` replaced by ``{namespace}``."""

    def resolve(match: re.Match[str]) -> str:
        uri = nsmap.get(match.group(1))
        return match.group(0) if uri is None else f"{{{uri}}}"

    return _PREFIXED.sub(resolve, text)


def value_key(text: str | None, element: Element) -> str:
    """A leaf value as compared: its text, prefixes resolved in ``element``'s scope."""
    if not text:
        return ""
    if ":" not in text:
        return text
    return resolve_prefixes(text, element.nsmap)


def place(element: Element, parent: Element, tag: str, mode: str, anchor: Element | None) -> bool:
    """Move an entry among its same-named siblings (RFC 7950 sec. 7.8.6 ``insert``).

    Args:
        element: the entry, already a child of ``parent``.
        parent: the parent element.
        tag: the entries' tag.
        mode: ``first``, ``last``, ``before`` or ``after``.
        anchor: the entry ``before`` / ``after`` refer to.

    Returns:
        True if the entry moved, False if it already was there.
    """
    if mode == "first":
        first = next(parent.iterchildren(tag))
        if first is element:
            return False
        first.addprevious(element)
        return True
    if mode == "last":
        last = next(parent.iterchildren(tag, reversed=True))
        if last is element:
            return False
        last.addnext(element)
        return True
    assert anchor is not None
    if anchor is element:
        return False
    if mode == "before":
        if next(element.itersiblings(tag), None) is anchor:
            return False
        anchor.addprevious(element)
        return True
    if next(element.itersiblings(tag, preceding=True), None) is anchor:
        return False
    anchor.addnext(element)
    return True


def longest_increasing(items: list[Element], position: Callable[[Element], int]) -> set[Element]:
    """The largest subset of ``items`` whose positions increase in list order.

    Those entries can stay where they are while the others move (O(n log n)).
    """
    tails: list[int] = []  # smallest last position of an increasing run of each length
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(items)
    for i, item in enumerate(items):
        pos = position(item)
        length = bisect_left(tails, pos)
        if length == len(tails):
            tails.append(pos)
            tail_index.append(i)
        else:
            tails[length] = pos
            tail_index[length] = i
        previous[i] = tail_index[length - 1] if length else -1
    keep: set[Element] = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        keep.add(items[i])
        i = previous[i]
    return keep
