"""Data instances in an lxml datastore tree: schema lookup, values, paths and indexes.

The incremental validator (:mod:`nvo3_netconf.schema.incremental`) reads the stored lxml
tree, not a libyang one. This module gives it what libyang has built in:

- :class:`Locator`: the schema node of an element, and the data path libyang would print
  for it (``/module:top/list[key='v']/leaf``, a module prefix wherever the module
  changes, RFC 7951 sec. 6.11 style, keys in canonical form).
- :func:`normalize`: a leaf value in the form YANG compares (RFC 7950 sec. 9: integers and
  decimal64 by value; identityref prefixes resolved to module names, sec. 9.10.3).
- :class:`InstanceCache`: lazily built indexes of one tree (children by name, list
  entries by key, RFC 7950 sec. 7.8.2; leaf instances by value, for leafref targets and
  referrers, sec. 9.9; list entries by ``unique`` values, sec. 7.8.3), kept in step with
  the tree's changes so that one lookup costs O(1) however large the list.

Public names: :class:`ValueKind`, :func:`normalize`, :class:`Locator`,
:class:`InstanceCache`, :data:`Element`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from lxml import etree

from nvo3_netconf.schema.nodes import NodeKind, SchemaNode

Element = etree._Element
EntryKey = tuple[str, ...]
"""A list entry's key values, normalized, in key order."""


class ValueKind(StrEnum):
    """How values of a leaf type compare (RFC 7950 sec. 9)."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    IDENTITY = "identity"


def normalize(text: str | None, element: Element, kind: ValueKind,
              modules: Mapping[str, str]) -> str:
    """A value in comparable form.

    Args:
        text: the stored text.
        element: the element holding it (its namespace declarations resolve prefixes).
        kind: how the type compares.
        modules: namespace -> module name.

    Returns:
        Integers and decimals in canonical decimal form, identities as
        ``module:identity``, anything else unchanged.
    """
    value = text or ""
    if kind is ValueKind.INTEGER:
        try:
            return str(int(value.strip()))
        except ValueError:
            return value
    if kind is ValueKind.DECIMAL:
        try:
            return format(Decimal(value.strip()).normalize(), "f")
        except InvalidOperation:
            return value
    if kind is ValueKind.IDENTITY:
        prefix, _, name = value.strip().rpartition(":")
        namespace = element.nsmap.get(prefix or None)
        module = modules.get(namespace or "")
        return f"{module}:{name}" if module else value
    return value


def split_tag(tag: str) -> tuple[str, str]:
    """``(namespace, local name)`` of a Clark-notation tag."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _quote(value: str) -> str:
    return f'"{value}"' if "'" in value else f"'{value}'"


class Locator:
    """Schema lookup and data paths for the elements of datastore trees.

    Args:
        roots: the top-level schema nodes by ``(namespace, name)``.
        kind_of: how the values of a leaf schema node compare.
        modules: namespace -> module name.
    """

    def __init__(
        self,
        roots: Mapping[tuple[str, str], SchemaNode],
        kind_of: Callable[[SchemaNode], ValueKind],
        modules: Mapping[str, str],
    ) -> None:
        self._roots = roots
        self.kind_of = kind_of
        self.modules = modules

    def schema_of(self, element: Element, cache: dict[Element, SchemaNode | None]) -> \
            SchemaNode | None:
        """The schema node of a data element (None for the datastore root or unknown)."""
        known = cache.get(element, False)
        if known is not False:
            return known  # type: ignore[return-value]  # False is only the "absent" marker
        parent = element.getparent()
        tag = element.tag
        if parent is None or not isinstance(tag, str):
            node = None
        else:
            qname = split_tag(tag)
            grand = parent.getparent()
            if grand is None:
                node = self._roots.get(qname)
            else:
                parent_node = self.schema_of(parent, cache)
                node = parent_node.children.get(qname) if parent_node is not None else None
        cache[element] = node
        return node

    def value(self, element: Element, node: SchemaNode) -> str:
        """The normalized value of a leaf or leaf-list element."""
        return normalize(element.text, element, self.kind_of(node), self.modules)

    def entry_key(self, element: Element, node: SchemaNode) -> EntryKey:
        """The normalized key values of a list entry (the value of a leaf-list entry)."""
        if node.kind is NodeKind.LEAF_LIST:
            return (self.value(element, node),)
        values: list[str] = []
        for key in node.keys:
            key_node = node.children[(node.namespace, key)]
            child = element.find(f"{{{node.namespace}}}{key}")
            if child is None:
                values.append("")
            elif self.kind_of(key_node) is ValueKind.TEXT:
                values.append(child.text or "")
            else:
                values.append(self.value(child, key_node))
        return tuple(values)

    def unique_values(self, entry: Element, spec: tuple[tuple[SchemaNode, ...], ...]) -> \
            EntryKey | None:
        """The values one ``unique`` statement names in a list entry (defaults included).

        Args:
            entry: the list entry.
            spec: for each leaf of the statement, the schema nodes from the entry to it.

        Returns:
            The normalized values, or None when a leaf is absent and has no default (the
            entry then takes no part in the check, RFC 7950 sec. 7.8.3).
        """
        values: list[str] = []
        for chain in spec:
            leaf = chain[-1]
            kind = self.kind_of(leaf)
            element: Element | None = entry
            for node in chain:  # entries are narrow: scanning their children is cheap
                element = element.find(tag_of(node)) if element is not None else None
            if element is not None:
                values.append(element.text or "" if kind is ValueKind.TEXT
                              else self.value(element, leaf))
            elif leaf.defaults and all(
                    n.kind is NodeKind.CONTAINER and not n.presence for n in chain[:-1]):
                values.append(normalize(leaf.defaults[0], entry, kind, self.modules))
            else:
                return None
        return tuple(values)

    def step(self, element: Element, node: SchemaNode, parent: SchemaNode | None) -> str:
        """One step of a data path, with the list keys or leaf-list value."""
        name = node.name if parent is not None and parent.module == node.module \
            else f"{node.module}:{node.name}"
        if node.kind is NodeKind.LIST:
            return name + "".join(
                f"[{key}={_quote(value)}]"
                for key, value in zip(node.keys, self.entry_key(element, node), strict=True)
            )
        if node.kind is NodeKind.LEAF_LIST:
            return f"{name}[.={_quote(self.value(element, node))}]"
        return name

    def path(self, element: Element, cache: dict[Element, SchemaNode | None]) -> str:
        """The libyang data path of an element in the tree."""
        parts: list[str] = []
        current: Element | None = element
        while current is not None and current.getparent() is not None:
            node = self.schema_of(current, cache)
            if node is None:
                break
            parts.append(self.step(current, node, node.parent))
            current = current.getparent()
        return "/" + "/".join(reversed(parts))

    def child_path(self, parent_path: str, parent: SchemaNode | None, node: SchemaNode) -> str:
        """The path of a (possibly absent) child named by its schema node."""
        name = node.name if parent is not None and parent.module == node.module \
            else f"{node.module}:{node.name}"
        return f"{parent_path.rstrip('/')}/{name}"


def tag_of(node: SchemaNode) -> str:
    """The Clark-notation tag of a schema node's instances."""
    return f"{{{node.namespace}}}{node.name}"


def is_ancestor_or_self(ancestor: SchemaNode, node: SchemaNode) -> bool:
    """True if ``ancestor`` is ``node`` or one of its schema ancestors."""
    current: SchemaNode | None = node
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


def descendants(element: Element, steps: Iterable[SchemaNode]) -> Iterator[Element]:
    """The instances reached from ``element`` by following schema ``steps`` down."""
    current = [element]
    for node in steps:
        tag = f"{{{node.namespace}}}{node.name}"
        current = [child for parent in current for child in parent.iterchildren(tag)]
    return iter(current)


def schema_chain(node: SchemaNode, top: SchemaNode | None) -> list[SchemaNode]:
    """The schema nodes from just below ``top`` (None: the root) down to ``node``."""
    chain: list[SchemaNode] = []
    current: SchemaNode | None = node
    while current is not None and current is not top:
        chain.append(current)
        current = current.parent
    return list(reversed(chain))


class InstanceCache:
    """Indexes of one datastore tree, built on first use, updated with its changes.

    A caller that validates successive edits of the same tree keeps one cache and passes
    it to every :meth:`IncrementalValidator.validate_changes` call: each call first
    applies the edit's changes to the indexes already built, so a lookup in a list of
    100,000 entries costs a dictionary access. A call that raises restores the indexes
    to the tree before the edit. A caller that drops an edit for another reason
    (test-only, persistence failure) or replaces the tree calls :meth:`clear` (or uses a
    new cache). Not thread-safe: one cache per tree, used under the datastore lock.
    """

    def __init__(self) -> None:
        self.kids: dict[Element, dict[str, dict[Element, None]]] = {}
        self.entries: dict[tuple[Element, SchemaNode], dict[EntryKey, Element]] = {}
        self.values: dict[SchemaNode, dict[str, list[Element]]] = {}
        self.uniques: dict[tuple[Element, SchemaNode, int], dict[EntryKey, list[Element]]] = {}
        self._unique_of: dict[Element, dict[tuple[Element, SchemaNode, int], EntryKey]] = {}
        self._undo: list[Callable[[], None]] | None = None

    def clear(self) -> None:
        """Forget every index (they are rebuilt on demand)."""
        self.kids.clear()
        self.entries.clear()
        self.values.clear()
        self.uniques.clear()
        self._unique_of.clear()
        self._undo = None

    # -------------------------------------------------------------- transactions
    def begin(self) -> None:
        """Start recording index mutations so that :meth:`rollback` can undo them."""
        self._undo = []

    def commit(self) -> None:
        """Keep the mutations recorded since :meth:`begin`."""
        self._undo = None

    def rollback(self) -> None:
        """Undo the mutations recorded since :meth:`begin`, newest first."""
        undo, self._undo = self._undo or [], None
        while undo:
            undo.pop()()

    def _record(self, action: Callable[[], None]) -> None:
        if self._undo is not None:
            self._undo.append(action)

    def _set(self, mapping: dict, key: object, value: object) -> None:  # type: ignore[type-arg]
        missing = object()
        old = mapping.get(key, missing)
        mapping[key] = value
        if old is missing:
            self._record(lambda: mapping.pop(key, None))
        else:
            self._record(lambda: mapping.__setitem__(key, old))

    def _pop(self, mapping: dict, key: object) -> None:  # type: ignore[type-arg]
        if key in mapping:
            old = mapping.pop(key)
            self._record(lambda: mapping.__setitem__(key, old))

    def _append(self, items: list[Element], element: Element) -> None:
        items.append(element)
        self._record(lambda: items.remove(element) if element in items else None)

    def _remove(self, items: list[Element], element: Element) -> None:
        for index, item in enumerate(items):
            if item is element:
                del items[index]
                self._record(functools.partial(items.insert, index, element))
                return

    # ------------------------------------------------------------------- lookups
    def _kids(self, parent: Element) -> dict[str, dict[Element, None]]:
        kids = self.kids.get(parent)
        if kids is None:
            kids = {}
            for child in parent:
                if isinstance(child.tag, str):
                    kids.setdefault(child.tag, {})[child] = None
            self._set(self.kids, parent, kids)
        return kids

    def children_of(self, parent: Element, tag: str) -> list[Element]:
        """The children of ``parent`` named ``tag`` (an index, not a scan of siblings).

        An element the edit removed without a change (an emptied non-presence container)
        is skipped: membership is checked against the tree.
        """
        found = self._kids(parent).get(tag)
        if not found:
            return []
        return [child for child in found if child.getparent() is parent]

    def first_child(self, parent: Element, tag: str) -> Element | None:
        """The first child of ``parent`` named ``tag``, if any."""
        for child in self._kids(parent).get(tag, ()):
            if child.getparent() is parent:
                return child
        return None

    def descend(self, element: Element, steps: Iterable[SchemaNode]) -> list[Element]:
        """The instances reached from ``element`` by following schema ``steps`` down."""
        current = [element]
        for node in steps:
            tag = f"{{{node.namespace}}}{node.name}"
            current = [child for parent in current for child in self.children_of(parent, tag)]
        return current

    def entries_of(self, parent: Element, node: SchemaNode, locator: Locator) -> \
            dict[EntryKey, Element]:
        """The entries of list or leaf-list ``node`` under ``parent`` by key (or value)."""
        index = self.entries.get((parent, node))
        if index is None:
            index = {}
            tag = f"{{{node.namespace}}}{node.name}"
            key = node.children.get((node.namespace, node.keys[0])) if len(node.keys) == 1 \
                else None
            if key is not None and locator.kind_of(key) is ValueKind.TEXT:
                key_tag = f"{{{key.namespace}}}{key.name}"  # the common case, made fast
                for entry in parent.iterchildren(tag):
                    index[(entry.findtext(key_tag) or "",)] = entry
            else:
                for entry in parent.iterchildren(tag):
                    index[locator.entry_key(entry, node)] = entry
            self._set(self.entries, (parent, node), index)
        return index

    def values_of(self, node: SchemaNode, root: Element, locator: Locator) -> \
            dict[str, list[Element]]:
        """Every instance of leaf (or leaf-list) ``node`` in the tree, by value."""
        index = self.values.get(node)
        if index is None:
            index = {}
            for element in descendants(root, schema_chain(node, None)):
                index.setdefault(locator.value(element, node), []).append(element)
            self._set(self.values, node, index)
        return index

    def unique_of(
        self, parent: Element, node: SchemaNode, number: int,
        tuple_of: Callable[[Element], EntryKey | None],
    ) -> dict[EntryKey, list[Element]]:
        """The entries of list ``node`` under ``parent`` by values of its unique ``number``."""
        index = self.uniques.get((parent, node, number))
        if index is None:
            index = {}
            tag = f"{{{node.namespace}}}{node.name}"
            for entry in parent.iterchildren(tag):
                values = tuple_of(entry)
                if values is not None:
                    index.setdefault(values, []).append(entry)
                    self._unique_of.setdefault(entry, {})[(parent, node, number)] = values
            self._set(self.uniques, (parent, node, number), index)
        return index

    # ------------------------------------------------------------------- updates
    def created(self, element: Element, node: SchemaNode, locator: Locator,
                unique_tuples: Callable[[Element, SchemaNode], dict[int, EntryKey | None]]) -> \
            None:
        """Index a node that was added to the tree, with its subtree."""
        parent = element.getparent()
        kids = self.kids.get(parent) if parent is not None else None
        if kids is not None:
            members = kids.get(str(element.tag))
            if members is None:
                self._set(kids, str(element.tag), {element: None})
            else:
                self._set(members, element, None)
        if parent is not None and node.kind in (NodeKind.LIST, NodeKind.LEAF_LIST):
            index = self.entries.get((parent, node))
            if index is not None:
                self._set(index, locator.entry_key(element, node), element)
        if parent is not None and node.kind is NodeKind.LIST:
            self._add_unique(parent, element, node, unique_tuples)
        for leaf, index_by_value in self.values.items():
            chain = schema_chain(leaf, node)
            if chain and chain[0].parent is node or leaf is node:
                found = [element] if leaf is node else descendants(element, chain)
                for instance in found:
                    items = index_by_value.get(locator.value(instance, leaf))
                    if items is None:
                        self._set(index_by_value, locator.value(instance, leaf), [instance])
                    else:
                        self._append(items, instance)

    def deleted(self, element: Element, node: SchemaNode, parent: Element | None,
                locator: Locator) -> None:
        """Forget a node that was removed from the tree (``parent``: where it was)."""
        kids = self.kids.get(parent) if parent is not None else None
        if kids is not None and element in kids.get(str(element.tag), {}):
            self._pop(kids[str(element.tag)], element)
        if parent is not None and node.kind in (NodeKind.LIST, NodeKind.LEAF_LIST):
            index = self.entries.get((parent, node))
            if index is not None:
                key = locator.entry_key(element, node)
                if index.get(key) is element:
                    self._pop(index, key)
        self._drop_unique(element)
        for leaf, index_by_value in self.values.items():
            chain = schema_chain(leaf, node)
            if chain and chain[0].parent is node or leaf is node:
                found = [element] if leaf is node else descendants(element, chain)
                for instance in found:
                    items = index_by_value.get(locator.value(instance, leaf))
                    if items is not None:
                        self._remove(items, instance)

    def entry_changed(self, entry: Element, node: SchemaNode,
                      unique_tuples: Callable[[Element, SchemaNode], dict[int, EntryKey | None]]) \
            -> None:
        """Re-index a list entry whose unique values may have changed."""
        parent = entry.getparent()
        if parent is None:
            return
        self._drop_unique(entry)
        self._add_unique(parent, entry, node, unique_tuples)

    def _add_unique(
        self, parent: Element, entry: Element, node: SchemaNode,
        unique_tuples: Callable[[Element, SchemaNode], dict[int, EntryKey | None]],
    ) -> None:
        tuples = unique_tuples(entry, node)
        mine: dict[tuple[Element, SchemaNode, int], EntryKey] = {}
        for number, values in tuples.items():
            index = self.uniques.get((parent, node, number))
            if index is None or values is None:
                continue
            items = index.get(values)
            if items is None:
                self._set(index, values, [entry])
            else:
                self._append(items, entry)
            mine[(parent, node, number)] = values
        if mine:
            self._set(self._unique_of, entry, {**self._unique_of.get(entry, {}), **mine})

    def _drop_unique(self, entry: Element) -> None:
        mine = self._unique_of.get(entry)
        if not mine:
            return
        for index_key, values in mine.items():
            index = self.uniques.get(index_key)
            items = index.get(values) if index is not None else None
            if items is not None:
                self._remove(items, entry)
        self._pop(self._unique_of, entry)
