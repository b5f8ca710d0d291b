"""One incremental validation call: what an edit's changes call for (RFC 7950 sec. 8).

:class:`ChangeCheck` is the per-call engine behind
:meth:`nvo3_netconf.schema.incremental.IncrementalValidator.validate_changes`. It applies
the changes to the instance indexes, then turns each change into the checks it calls for
(a :class:`~nvo3_netconf.schema.verdicts.Work`), which
:class:`~nvo3_netconf.schema.verdicts.Verdicts` runs in libyang's order:

- created subtree: its values, the ``must`` / ``when`` / leafref / instance-identifier
  of every node in it (and ``must`` of the implicit containers and defaults below it,
  RFC 7950 sec. 7.5.1, 7.6.1), ``unique`` of its entries, ``max-elements`` where it adds
  entries, the mandatory content of every container and entry in it;
- deleted node: the mandatory content and ``min-elements`` of its parent (or of the
  module's top level), the leafrefs that referred to a value it held, every
  instance-identifier;
- replaced leaf: its value and own rules, the leafrefs that referred to its old value;
- any change: the rules whose XPath reads the changed node (their
  :class:`~nvo3_netconf.schema.yang_xpath.Dependency`), on the instances under the same
  pivot instance, or on all instances when the expression starts at the root.

Public names: :class:`ChangeCheck`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from lxml import etree

from nvo3_netconf.schema.instances import (
    Element,
    EntryKey,
    InstanceCache,
    descendants,
    is_ancestor_or_self,
    normalize,
    schema_chain,
    tag_of,
)
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode
from nvo3_netconf.schema.rules import LeafrefRule, MustRule, Rule, WhenRule
from nvo3_netconf.schema.validate import ValidationIssue
from nvo3_netconf.schema.verdicts import Location, Verdicts, Work
from nvo3_netconf.schema.xpath_runtime import Run, Virtual

if TYPE_CHECKING:
    from nvo3_netconf.schema.incremental import ChangeLike, IncrementalValidator

_PREDICATE = re.compile(
    r"""\[\s*(?:(?P<prefix>[\w.-]+):)?(?P<name>[\w.-]+|\.)\s*=\s*"""
    r"""(?:'(?P<a>[^']*)'|"(?P<b>[^"]*)")\s*\]"""
)


class ChangeCheck:
    """Checks what one edit's changes affect in the edited tree.

    Args:
        validator: the validator (rules, locator, XPath library).
        tree: the ``<data>`` root after the edit.
        changes: the edit's changes.
        cache: the tree's instance indexes (updated here with the changes).
    """

    def __init__(self, validator: IncrementalValidator, tree: Element,
                 changes: Sequence[ChangeLike], cache: InstanceCache) -> None:
        self.rules = validator.rules
        self.locator = validator.locator
        self.xpath = validator.xpath
        self.triggers = validator.triggers
        self.paths = validator.paths
        self.root = tree
        self.changes = changes
        self.cache = cache
        self.run_state = Run(tree, cache)
        self.parents: dict[int, Element | None] = {}
        self.work = Work()

    # ------------------------------------------------------------------- driver
    def run(self) -> ValidationIssue | None:
        """Run every check the changes call for; the issue libyang would report first."""
        for change in self.changes:
            self._update_cache(change)
        for change in self.changes:
            self._collect(change)
        for rule in self.triggers.always:
            self._instances_of_rule(rule, self.root, None)
        verdicts = Verdicts(self.rules, self.locator, self.xpath, self.cache, self.run_state,
                            self.root, self.paths)
        return verdicts.run(self.work)

    # --------------------------------------------------------- cache and changes
    def _unique_tuples(self, entry: Element, node: SchemaNode) -> dict[int, EntryKey | None]:
        return {i: self.locator.unique_values(entry, spec)
                for i, spec in enumerate(self.rules.uniques.get(node, ()))}

    def _update_cache(self, change: ChangeLike) -> None:
        node = change.schema
        if change.operation == "create" and change.new is not None:
            self.cache.created(change.new, node, self.locator, self._unique_tuples)
        elif change.operation == "delete" and change.old is not None:
            self.cache.deleted(change.old, node, self._parent_of(change), self.locator)
        elif change.operation == "replace" and change.old is not None \
                and change.new is not None:
            self.cache.deleted(change.old, node, change.new.getparent(), self.locator)
            self.cache.created(change.new, node, self.locator, self._unique_tuples)
        for entry, list_node in self._unique_entries(change):
            self.cache.entry_changed(entry, list_node, self._unique_tuples)

    def _unique_entries(self, change: ChangeLike) -> Iterator[tuple[Element, SchemaNode]]:
        """The list entries whose ``unique`` values the change may have altered."""
        lists = self.rules.unique_leaves.get(change.schema)
        if not lists:
            return
        start = change.new if change.new is not None else self._parent_of(change)
        element = start.getparent() if start is change.new and start is not None else start
        while element is not None and element is not self.root:
            node = self.locator.schema_of(element, self.run_state.schemas)
            if node in lists:
                yield element, node
            element = element.getparent()

    def _parent_of(self, change: ChangeLike) -> Element | None:
        """Where a deleted node was: its parent in the tree, found from its path.

        When the edit also removed the parent (an emptied non-presence container goes
        without a change of its own), the nearest ancestor still in the tree.
        """
        key = id(change)
        if key not in self.parents:
            self.parents[key] = self._locate(change.path, dict(change.namespaces), parent=True)
        return self.parents[key]

    def _locate(self, path: str, namespaces: dict[str, str], *, parent: bool) -> Element | None:
        steps = _split_path(path)
        if parent:
            steps = steps[:-1]
        element = self.root
        node: SchemaNode | None = None
        scope = etree.Element("scope", nsmap={p: u for p, u in namespaces.items() if p})
        for step in steps:
            name, _, predicates = step.partition("[")
            prefix, _, local = name.rpartition(":")
            qname = (namespaces.get(prefix, ""), local)
            node = node.children.get(qname) if node is not None else \
                self.rules.schema.roots.get(qname)
            if node is None:
                raise KeyError(path)
            if node.kind is NodeKind.LIST:
                values = {m["name"]: m["a"] if m["a"] is not None else m["b"]
                          for m in _PREDICATE.finditer("[" + predicates)}
                key = tuple(
                    normalize(values.get(k), scope, self.locator.kind_of(
                        node.children[(node.namespace, k)]), self.locator.modules)
                    for k in node.keys)
                found = self.cache.entries_of(element, node, self.locator).get(key)
            else:
                found = self.cache.first_child(element, f"{{{qname[0]}}}{local}")
            if found is None:
                return element if node.kind is NodeKind.CONTAINER and not node.presence \
                    else None
            element = found
        return element

    def _collect(self, change: ChangeLike) -> None:
        node, operation = change.schema, change.operation
        if operation == "create" and change.new is not None:
            self.work.parse[id(change.new)] = (change.new, node)
            self._created(change.new, node)
            self._triggered(node, change.new, operation)
        elif operation == "delete" and change.old is not None:
            parent = self._parent_of(change)
            if parent is not None:
                top = node.module if parent is self.root else ""
                self.work.requirements[top or id(parent)] = (parent, node.parent, top)
                if self.rules.has_implicit_musts(node):  # now implicit: its musts apply
                    self._implicit_musts(parent, self.locator.schema_of(
                        parent, self.run_state.schemas), ())
                self._triggered(node, parent, operation, deleted=node)
            self._removed_values(change.old, node)
            self.work.all_instids = self.work.all_instids or bool(self.rules.instance_identifiers)
        elif operation == "replace" and change.new is not None:
            self.work.parse[id(change.new)] = (change.new, node)
            self._own(change.new, node)
            if change.old is not None:
                self._removed_values(change.old, node)
            self._triggered(node, change.new, operation)
        elif change.new is not None:  # move
            self._triggered(node, change.new, operation)
        for entry, list_node in self._unique_entries(change):
            self.work.uniques[id(entry)] = (entry, list_node)

    def _own(self, element: Element, node: SchemaNode) -> None:
        """Queue the rules a (new or changed) node carries itself."""
        for must in self.rules.musts.get(node, ()):
            self.work.musts[(id(must), id(element))] = (must, element)
        for when in self.rules.whens.get(node, ()):
            self.work.whens[(id(when), id(element))] = (when, element)
        leafref = self.rules.leafrefs.get(node)
        if leafref is not None and leafref.require_instance:
            self.work.leafrefs[id(element)] = (leafref, element)
        if node in self.rules.instance_identifiers:
            self.work.instids[id(element)] = element

    def _created(self, top: Element, top_node: SchemaNode) -> None:
        """Queue every check a created subtree needs."""
        stack = [(top, top_node)]
        while stack:
            element, node = stack.pop()
            self._own(element, node)
            kind = node.kind
            parent = element.getparent()
            if kind is NodeKind.LIST and node in self.rules.uniques:
                self.work.uniques[id(element)] = (element, node)
            if kind in (NodeKind.LIST, NodeKind.LEAF_LIST) and node in self.rules.max_elements \
                    and parent is not None:
                self.work.maxima[(id(parent), node)] = parent
            if kind in (NodeKind.CONTAINER, NodeKind.LIST):
                self.work.requirements[id(element)] = (element, node, "")
                self._implicit_musts(element, node, ())
                for child in element:
                    if isinstance(child.tag, str):
                        child_node = node.children.get(_qname(child.tag))
                        if child_node is not None:
                            self.run_state.schemas[child] = child_node
                            stack.append((child, child_node))

    def _implicit_musts(self, anchor: Element, node: SchemaNode | None,
                        levels: tuple[SchemaNode, ...]) -> None:
        """Queue the ``must`` of implicit containers and defaults below ``anchor``."""
        parent: Element = anchor
        if levels:
            virtual = self._virtual(anchor, levels)
            if virtual is None:
                return
            parent = virtual
        children = node.children.values() if node is not None else \
            self.rules.schema.roots.values()
        for child in children:
            if not self.rules.has_implicit_musts(child):
                continue
            if parent is anchor and self.cache.first_child(parent, tag_of(child)) is not None:
                continue
            if not self.xpath.virtual_children(parent, child, self.run_state):
                continue
            location = Virtual(anchor, (*levels, child))
            for must in self.rules.musts.get(child, ()):
                self.work.musts[(id(must), _location_key(location))] = (must, location)
            if child.kind is NodeKind.CONTAINER:
                self._implicit_musts(anchor, child, (*levels, child))

    def _virtual(self, anchor: Element, levels: tuple[SchemaNode, ...]) -> Element | None:
        element = anchor
        for level in levels:
            made = self.xpath.virtual_children(element, level, self.run_state)
            if not made:
                return None
            element = made[0]
        return element

    def _removed_values(self, old: Element, node: SchemaNode) -> None:
        """Queue the leafrefs that referred to a value the change removed."""
        for target, rules in self.rules.referrers.items():
            chain = schema_chain(target, node)
            if not (target is node or (chain and chain[0].parent is node)):
                continue
            removed = {self.locator.value(e, target) for e in (
                [old] if target is node else descendants(old, chain))}  # detached: scan
            for rule in rules:
                index = self.cache.values_of(rule.owner, self.root, self.locator)
                for value in removed:
                    for element in index.get(value, ()):
                        self.work.leafrefs[id(element)] = (rule, element)

    # ---------------------------------------------------------------- triggers
    def _triggered(self, node: SchemaNode, element: Element, operation: str,
                   deleted: SchemaNode | None = None) -> None:
        """Queue the rules whose expressions read what changed at ``node``."""
        for rule, dependency in self.triggers.by_node.get(node, ()):
            if isinstance(rule, LeafrefRule) and (
                    operation == "create" or dependency.node is rule.target):
                continue  # new nodes never break a path; lost targets are found by value
            scope = self._scope(dependency.pivot, node, element, deleted)
            if scope is not None:
                self._instances_of_rule(rule, *scope)

    def _scope(self, pivot: SchemaNode | None, node: SchemaNode, element: Element,
               deleted: SchemaNode | None) -> tuple[Element, SchemaNode | None] | None:
        """The subtree whose instances may see a change at ``node`` (``element``)."""
        if pivot is None:
            return self.root, None
        if is_ancestor_or_self(pivot, node):
            if deleted is pivot:
                return None
            current: Element | None = element
            while current is not None and current is not self.root:
                if self.locator.schema_of(current, self.run_state.schemas) is pivot:
                    return current, pivot
                current = current.getparent()
            return self.root, None
        if is_ancestor_or_self(node, pivot):
            return (element, node) if deleted is None else None
        return self.root, None

    def _instances_of_rule(self, rule: Rule, scope: Element,
                           scope_node: SchemaNode | None) -> None:
        owner = rule.owner
        if scope_node is not None and not is_ancestor_or_self(scope_node, owner):
            scope, scope_node = self.root, None
        chain = schema_chain(owner, scope_node)
        if isinstance(rule, MustRule):
            for location in self._locations(scope, chain):
                self.work.musts[(id(rule), _location_key(location))] = (rule, location)
        elif isinstance(rule, WhenRule):
            for element in self.cache.descend(scope, chain):
                self.work.whens[(id(rule), id(element))] = (rule, element)
            if self.rules.requires(owner):
                parents = self.cache.descend(scope, chain[:-1]) if chain else [scope.getparent()]
                for parent in parents:
                    if parent is not None:
                        top = owner.module if parent is self.root else ""
                        self.work.requirements[top or id(parent)] = (parent, owner.parent, top)
        elif isinstance(rule, LeafrefRule):
            for element in self.cache.descend(scope, chain):
                self.work.leafrefs[id(element)] = (rule, element)

    def _locations(self, scope: Element, chain: list[SchemaNode]) -> Iterator[Location]:
        """Instances reached by ``chain`` from ``scope``, implicit ones included."""
        current: list[Location] = [scope]
        for node in chain:
            found: list[Location] = []
            tag = tag_of(node)
            for location in current:
                if isinstance(location, Virtual):
                    if self.rules.is_defaultable(node):
                        found.append(Virtual(location.anchor, (*location.levels, node)))
                    continue
                assert location is not None
                real = self.cache.children_of(location, tag)
                if real:
                    found.extend(real)
                elif self.rules.is_defaultable(node) and self.xpath.virtual_children(
                        location, node, self.run_state):
                    found.append(Virtual(location, (node,)))
            current = found
        for location in current:
            if isinstance(location, Virtual) and self._virtual(location.anchor,
                                                               location.levels) is None:
                continue
            yield location

    # ------------------------------------------------------------------ checks


def _qname(tag: str) -> tuple[str, str]:
    namespace, _, local = tag[1:].partition("}")
    return namespace, local


def _location_key(location: Location) -> object:
    if isinstance(location, Virtual):
        return (id(location.anchor), location.levels)
    return id(location)


def _split_path(path: str) -> list[str]:
    """The steps of an instance path (``/`` outside predicates and quotes)."""
    steps: list[str] = []
    depth, quote, start = 0, "", 1
    for index, char in enumerate(path):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "/" and depth == 0 and index > 0:
            steps.append(path[start:index])
            start = index + 1
    steps.append(path[start:])
    return [s for s in steps if s]
