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
:func:`quote_literal`, :func:`bind_prefix` and :data:`NO_NAMESPACES` live in
:mod:`nvo3_netconf.schema.paths`, where the validators build their error-paths with them.

Values are compared as YANG compares them only as far as the XML allows without types:
text as given, with the prefixes it uses (identityref, instance-identifier, RFC 7950
sec. 9.10.3 and 9.13.2) replaced by their namespaces (:func:`value_key`). Entries of
``ordered-by user`` lists are positioned with :func:`place`; a ``replace`` that
reorders them moves the fewest (:func:`longest_increasing`).

Public names: :class:`ChangeOp`, :class:`Change`, :class:`PartialEditError`,
:class:`ChangeLog`, :func:`quote_literal`, :func:`bind_prefix`, :data:`NO_NAMESPACES`,
:func:`value_key`, :func:`resolve_prefixes`, :func:`value_prefixes`, :func:`any_content`,
:func:`copy_any`, :func:`other_case`, :func:`adopt`, :func:`settle_prefixes`,
:func:`bind_prefixes`, :func:`default_namespace`, :func:`rebase_value`,
:func:`key_predicates`, :func:`previous_entry`, :func:`place`, :func:`longest_increasing`.
"""

from __future__ import annotations

import copy
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from nvo3_netconf.constants import NS_NC, NS_WD_ATTR, NS_YANG_1
from nvo3_netconf.errors import RPCError, RPCErrors
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode

# Re-exported: the edit engine and the validators write instance paths alike.
from nvo3_netconf.schema.paths import NO_NAMESPACES as NO_NAMESPACES
from nvo3_netconf.schema.paths import bind_prefix as bind_prefix
from nvo3_netconf.schema.paths import quote_literal as quote_literal

InstancePath = str
"""An absolute RFC 7950 sec. 9.13 instance-identifier with module prefixes."""

Element = etree._Element

_NC_PREFIX = f"{{{NS_NC}}}"
_YANG_PREFIX = f"{{{NS_YANG_1}}}"
_WD_DEFAULT = f"{{{NS_WD_ATTR}}}default"  # RFC 6243's attribute: input only, never stored

# A "prefix:" inside a value, not preceded by a name character or a colon (so neither
# IPv6 addresses nor URLs match) and followed by the start of a name.
_PREFIXED = re.compile(r"(?<![\w.:-])([A-Za-z_][\w.-]*):(?=[A-Za-z_])")
# One "[prefix:name='value']" (or "...=\"value\"") predicate of a yang:key attribute.
_PREDICATE = re.compile(
    r"""\s*\[\s*(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\]"""
)


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


class ChangeLog:
    """Changes in the order they happen, reduced to the net effect of the edit.

    An edit may touch a node twice (a later case of the same choice, ``delete`` then
    ``create``, the same leaf twice). The log keeps one Change per node: created then
    deleted leaves no trace; created then changed stays a ``CREATE`` of the final
    element; a leaf replaced, or deleted and created again, is one ``REPLACE`` from
    the original element, or nothing if the value came back; an entry moved twice is
    one ``MOVE``, and none if it is deleted. A list entry or container deleted and
    created again stays a ``DELETE`` and a ``CREATE``: its whole subtree was replaced.
    """

    def __init__(self) -> None:
        self._items: list[Change | None] = []
        self._live: dict[Element, int] = {}  # element in the tree -> its CREATE / REPLACE
        self._gone: dict[str, int] = {}  # path of a deleted leaf -> its DELETE
        # moved entry -> its MOVE, and its preceding entry before this edit moved it
        self._moved: dict[Element, tuple[int, Element | None]] = {}

    def created(self, element: Element) -> bool:
        """True if ``element`` was created (and recorded) by this edit."""
        index = self._live.get(element)
        return index is not None and self._at(index).operation is ChangeOp.CREATE

    def create(self, change: Change) -> None:
        """Record a created node (``change.new`` is the element)."""
        assert change.new is not None
        index = self._gone.pop(change.path, None) if _is_leaf(change.schema) else None
        if index is None:
            self._live[change.new] = len(self._items)
            self._items.append(change)
            return
        deleted = self._at(index).old
        assert deleted is not None
        if _same_value(deleted, change.new):
            self._items[index] = None
        else:
            self._items[index] = _with(change, ChangeOp.REPLACE, deleted, change.new)
            self._live[change.new] = index

    def delete(self, change: Change) -> None:
        """Record a deleted node (``change.old`` is the detached element)."""
        assert change.old is not None
        moved = self._moved.pop(change.old, None)
        if moved is not None:  # a deleted entry's move is moot
            self._items[moved[0]] = None
        index = self._live.pop(change.old, None)
        if index is None:
            index = len(self._items)
            self._items.append(change)
        else:
            earlier = self._at(index)
            if earlier.operation is ChangeOp.CREATE:
                self._items[index] = None
                return
            self._items[index] = _with(earlier, ChangeOp.DELETE, earlier.old, None)
        if _is_leaf(change.schema):
            self._gone[change.path] = index

    def discard(self, element: Element) -> None:
        """Forget ``element`` if this edit created it (a container pruned as empty)."""
        if self.created(element):
            self._items[self._live.pop(element)] = None

    def replace(self, change: Change) -> None:
        """Record a changed value (``old`` detached, ``new`` in the tree)."""
        assert change.old is not None and change.new is not None
        index = self._live.pop(change.old, None)
        if index is None:
            self._live[change.new] = len(self._items)
            self._items.append(change)
            return
        earlier = self._at(index)
        if earlier.operation is ChangeOp.CREATE:
            self._items[index] = _with(earlier, ChangeOp.CREATE, None, change.new)
        elif earlier.old is not None and _is_leaf(change.schema) and _same_value(
            earlier.old, change.new
        ):
            self._items[index] = None
            return
        else:
            self._items[index] = _with(earlier, ChangeOp.REPLACE, earlier.old, change.new)
        self._live[change.new] = index

    def move(self, change: Change, origin: Element | None) -> None:
        """Record a moved ``ordered-by user`` entry (ignored if this edit created it).

        Args:
            change: the MOVE; ``change.new`` is the entry, already moved.
            origin: the entry that preceded it before this move (None: it was first).
        """
        element = change.new
        assert element is not None
        if self.created(element):
            return
        earlier = self._moved.pop(element, None)
        if earlier is not None:  # moved again: only the final position counts
            self._items[earlier[0]] = None
            origin = earlier[1]
            if previous_entry(element) is origin:
                return  # back where it was
        self._moved[element] = (len(self._items), origin)
        self._items.append(change)

    def changes(self) -> list[Change]:
        """The recorded changes, in order."""
        return [c for c in self._items if c is not None]

    def _at(self, index: int) -> Change:
        change = self._items[index]
        assert change is not None
        return change


def _with(change: Change, op: ChangeOp, old: Element | None, new: Element | None) -> Change:
    return Change(op, change.path, change.namespaces, change.schema, old, new)


def _is_leaf(node: SchemaNode) -> bool:
    return node.kind in (NodeKind.LEAF, NodeKind.LEAF_LIST)


def _same_value(a: Element, b: Element) -> bool:
    return value_key(a.text, a) == value_key(b.text, b)


def value_prefixes(text: str) -> list[str]:
    """The XML prefixes a value uses (``x:vxlan``, ``/x:top/x:item[x:name='a']``)."""
    return _PREFIXED.findall(text)


def resolve_prefixes(text: str, nsmap: Mapping[str | None, str]) -> str:
    """``text`` with every prefix bound in ``nsmap`` replaced by ``{namespace}``."""

    def resolve(match: re.Match[str]) -> str:
        uri = nsmap.get(match.group(1))
        return match.group(0) if uri is None else f"{{{uri}}}"

    return _PREFIXED.sub(resolve, text)


def rebase_value(
    text: str,
    used: Mapping[str, str],
    scope: Mapping[str | None, str],
    *,
    path_value: bool,
) -> tuple[str, dict[str, str]]:
    """Rewrite a prefixed value for the namespace scope it will live in.

    lxml drops a namespace declaration from an element whenever an ancestor already
    declares the same namespace URI (on every insertion or move), even when the only
    use of its prefix is inside the text: ``<color xmlns:c="urn:c">c:blue</color>``
    under ``<tenant xmlns="urn:c">`` loses ``xmlns:c``. So a stored value uses a
    prefix the scope itself declares, or no prefix when the namespace is the default
    one in scope (valid for identityref, RFC 7950 sec. 9.10.3); only namespaces the
    scope does not know get a declaration of their own (which lxml then keeps).

    Args:
        text: the value as written in the request.
        used: prefix -> namespace for the prefixes ``text`` uses.
        scope: the in-scope namespaces where the value is stored (``parent.nsmap``).
        path_value: the value may be an instance-identifier (prefixes cannot be dropped).

    Returns:
        The rewritten text and the declarations the stored leaf itself needs.
    """
    by_namespace: dict[str, str | None] = {}
    for prefix, uri in scope.items():
        if prefix is not None:
            by_namespace.setdefault(uri, prefix)
    default = scope.get(None)
    declarations: dict[str, str] = {}

    def rewrite(match: re.Match[str]) -> str:
        prefix = match.group(1)
        uri = used.get(prefix)
        if uri is None:
            return match.group(0)
        known = by_namespace.get(uri)
        if known is not None:
            return f"{known}:"
        if uri == default:
            if not path_value:
                return ""
        elif scope.get(prefix) in (None, uri):
            declarations[prefix] = uri
            return match.group(0)
        declarations[prefix] = uri  # best effort: see the docstring
        return match.group(0)

    return _PREFIXED.sub(rewrite, text), declarations


def adopt(
    parent: Element, element: Element, snode: SchemaNode | None, prefixes: Mapping[str, str]
) -> Element:
    """Append a foreign subtree (copy-config content) keeping its values' meaning.

    Appending lets lxml strip declarations that the new ancestors already make (see
    :func:`rebase_value`), and the subtree's namespaces are bound to prefixes
    (:func:`bind_prefixes`); the prefixed values of the subtree are read before and
    rewritten after, for the scope they end up in.

    Args:
        parent: where the subtree goes (a datastore root).
        element: the subtree, detached.
        snode: its schema node, if it has one.
        prefixes: namespace -> preferred prefix (the implemented modules' prefixes).

    Returns:
        The stored subtree: ``element``, or the copy of it that binds its namespace.
    """
    captured = _prefixed_leaves(element, snode) if snode is not None else []
    parent.append(element)
    return _settle(element, captured, prefixes)


def settle_prefixes(element: Element, snode: SchemaNode | None,
                    prefixes: Mapping[str, str]) -> Element:
    """:func:`bind_prefixes` for a stored subtree (read from a file), values kept."""
    captured = _prefixed_leaves(element, snode) if snode is not None else []
    return _settle(element, captured, prefixes)


def _settle(element: Element, captured: list[tuple[Element, dict[str, str], bool]],
            prefixes: Mapping[str, str]) -> Element:
    element = bind_prefixes(element, prefixes)
    for leaf, used, path_value in captured:
        text, _ = rebase_value(leaf.text or "", used, leaf.nsmap, path_value=path_value)
        leaf.text = text
    return element


# The elements of a subtree (itself included) in another namespace than their parent's.
_NAMESPACE_CHANGES = etree.XPath("descendant-or-self::*[namespace-uri() != namespace-uri(..)]")


def bind_prefixes(element: Element, prefixes: Mapping[str, str]) -> Element:
    """Bind a prefix wherever ``element``'s subtree declares a default namespace.

    A value that needs a prefix for the namespace of its enclosing container (an
    instance-identifier, RFC 7950 sec. 9.13.2) cannot declare it on the leaf itself:
    lxml drops a declaration whenever an ancestor declares the same namespace URI,
    as default namespace too, each time the leaf is inserted or moved (an undone
    edit re-inserts it). So every stored element that makes a namespace the default
    one binds a prefix to it as well, and :func:`rebase_value` writes values with
    that prefix; a subtree only moves as a whole, with its declarations.

    An element that lacks such a prefix is rebuilt (lxml cannot add a declaration to
    an existing element): its children move to a copy that declares it. Prefixed
    values of the children may lose their own declarations by that move; callers
    rewrite them (:func:`adopt`, :func:`settle_prefixes`).

    Args:
        element: the subtree, attached where it is stored.
        prefixes: namespace -> preferred prefix (the implemented modules' prefixes).

    Returns:
        ``element``, or its rebuilt copy now in its place.
    """
    result = element
    for node in _NAMESPACE_CHANGES(element):
        assert isinstance(node, etree._Element)
        if node.prefix is not None:
            continue  # named with a prefix: it declares no default namespace
        tag = str(node.tag)
        namespace = tag[1:].partition("}")[0] if tag[:1] == "{" else ""
        scope = node.nsmap
        if not namespace or any(p is not None and u == namespace for p, u in scope.items()):
            continue
        rebuilt = _with_prefix(node, namespace, scope, prefixes.get(namespace))
        if node is element:
            result = rebuilt
    return result


def default_namespace(
    namespace: str, scope: Mapping[str | None, str], preferred: str | None
) -> dict[str | None, str]:
    """The declarations making ``namespace`` the default one where ``scope`` is in scope.

    The namespace is bound to a prefix as well (see :func:`bind_prefixes`): to
    ``preferred`` (the module's prefix) unless ``scope`` binds that already, else to
    ``ns0``, ``ns1``... Nothing is added if ``scope`` binds a prefix to it already.
    """
    nsmap: dict[str | None, str] = {None: namespace}
    if any(p is not None and u == namespace for p, u in scope.items()):
        return nsmap
    prefix = preferred if preferred and preferred not in scope else None
    number = 0
    while prefix is None:
        candidate = f"ns{number}"
        prefix = candidate if candidate not in scope else None
        number += 1
    nsmap[prefix] = namespace
    return nsmap


def _with_prefix(node: Element, namespace: str, scope: Mapping[str | None, str],
                 preferred: str | None) -> Element:
    parent = node.getparent()
    inherited = parent.nsmap if parent is not None else {}
    nsmap = {p: u for p, u in scope.items() if inherited.get(p) != u}
    nsmap.update(default_namespace(namespace, scope, preferred))
    rebuilt = etree.Element(node.tag, dict(node.attrib), nsmap=nsmap)
    rebuilt.text = node.text
    rebuilt.extend(list(node))
    if parent is not None:
        parent.replace(node, rebuilt)
    rebuilt.tail = node.tail
    return rebuilt


def _prefixed_leaves(
    element: Element, snode: SchemaNode
) -> list[tuple[Element, dict[str, str], bool]]:
    found: list[tuple[Element, dict[str, str], bool]] = []
    if snode.prefixed_value and element.text and ":" in element.text:
        used = {p: u for p, u in element.nsmap.items() if p is not None}
        found.append((element, used, snode.path_value))
    if snode.children:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            node = snode.children.get((qname.namespace or "", qname.localname))
            if node is not None:
                found.extend(_prefixed_leaves(child, node))
    return found


def value_key(text: str | None, element: Element) -> str:
    """A leaf value as compared: its text, prefixes resolved in ``element``'s scope."""
    if not text:
        return ""
    if ":" not in text:
        return text
    return resolve_prefixes(text, element.nsmap)


def key_predicates(
    raw: str, nsmap: Mapping[str | None, str], node: SchemaNode
) -> tuple[str, ...] | None:
    """The key a ``yang:key="[p:k='v']..."`` attribute names (RFC 7950 sec. 7.8.6).

    Args:
        raw: the attribute value: one predicate per key of ``node``, any order.
        nsmap: the namespaces in scope on the element carrying the attribute.
        node: the list.

    Returns:
        The key values in key order, prefixes resolved as :func:`value_key` does, or
        None if ``raw`` is not exactly one predicate for each key.
    """
    values: dict[str, str] = {}
    end = 0
    for match in _PREDICATE.finditer(raw):
        if match.start() != end:
            return None
        end = match.end()
        prefix, name = match.group(1), match.group(2)
        if prefix is not None and nsmap.get(prefix) != node.namespace:
            return None
        text = match.group(3) if match.group(3) is not None else match.group(4)
        values[name] = resolve_prefixes(text, nsmap)
    if raw[end:].strip() or set(values) != set(node.keys):
        return None
    return tuple(values[name] for name in node.keys)


def copy_any(edit: Element, parent: Element) -> Element:
    """Store a copy of an anydata / anyxml request element, edit attributes removed.

    Those are the NETCONF and YANG attributes and RFC 6243's ``default`` on the element
    itself; its content is stored as given.
    """
    element = copy.deepcopy(edit)
    for name in element.keys():
        if name.startswith((_NC_PREFIX, _YANG_PREFIX)) or name == _WD_DEFAULT:
            del element.attrib[name]
    parent.append(element)
    return element


def any_content(element: Element) -> tuple[object, ...]:
    """What anydata / anyxml holds, for comparison: text and children, not declarations."""
    return (element.text or "", tuple(_any_node(child) for child in element))


def _any_node(element: Element) -> tuple[object, ...]:
    attributes = sorted(element.attrib.items())
    return (element.tag, attributes, element.tail or "", *any_content(element))


def other_case(mine: tuple[tuple[str, str], ...], theirs: tuple[tuple[str, str], ...]) -> bool:
    """True if two ``SchemaNode.choices`` paths part in different cases of one choice.

    Creating a node then deletes the other (RFC 7950 sec. 7.9.2).
    """
    for (choice_a, case_a), (choice_b, case_b) in zip(mine, theirs, strict=False):
        if choice_a != choice_b:
            return False
        if case_a != case_b:
            return True
    return False


def previous_entry(element: Element) -> Element | None:
    """The preceding sibling of the same name (the entry before it in its list)."""
    return next(element.itersiblings(str(element.tag), preceding=True), None)


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
    if previous_entry(element) is anchor:
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
