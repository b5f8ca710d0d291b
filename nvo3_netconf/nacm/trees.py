"""Data trees as NACM sees them: paths, ancestors, old values, differences.

Helpers of :mod:`nvo3_netconf.nacm.engine`, sans decisions:

- :func:`ancestors` and :func:`instance_path`: where an element sits in a datastore tree;
- :func:`resolve_path`: the elements an instance path names, with stand-ins for the
  missing ones (:func:`synthetic_values` tells known from unknown values then);
- :class:`OldValues`: the values an edit applied in place replaced, so that a change
  can be judged as the data was before it as well as after;
- :func:`diff_trees`: what replacing one datastore content by another creates, deletes
  and updates (copy-config, commit, delete-config).

Public names: :data:`Values`, :func:`split_tag`, :func:`plain_values`,
:func:`ancestors`, :func:`matches_step`, :func:`resolve_path`, :func:`synthetic_values`,
:class:`OldValues`, :func:`diff_trees`, :func:`instance_path`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from lxml import etree

from nvo3_netconf.constants import NS_NC
from nvo3_netconf.datastore.changes import (
    Change,
    ChangeOp,
    any_content,
    longest_increasing,
    value_key,
)
from nvo3_netconf.nacm.rules import Access, NodePath, PathError, Step, parse_path
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode, SchemaTree
from nvo3_netconf.schema.paths import Step as PathStep
from nvo3_netconf.schema.paths import instance_identifier

Element = etree._Element
QName = tuple[str, str]

DATA_TAG = f"{{{NS_NC}}}data"

Values = Callable[[Element, str], "list[str] | None"]
"""The values of the child leaves called ``tag`` of an element (None: unknown)."""


def split_tag(tag: str) -> QName:
    """``(namespace, name)`` of a Clark-notation tag."""
    namespace, _, name = tag[1:].partition("}") if tag[:1] == "{" else ("", "", tag)
    return namespace, name


def plain_values(element: Element, tag: str) -> list[str]:
    """The texts of the children called ``tag`` (the :data:`Values` of a whole tree)."""
    return [(child.text or "") for child in element.iterchildren(tag)]


def ancestors(element: Element) -> list[Element]:
    """The data ancestors of an element in a datastore tree, top-level first."""
    chain: list[Element] = []
    parent = element.getparent()
    while parent is not None and parent.tag != DATA_TAG:
        chain.append(parent)
        parent = parent.getparent()
    chain.reverse()
    return chain


def matches_step(element: Element, step: Step) -> bool:
    """Whether an element fits the predicates of a path step (lookups, not rules)."""
    for predicate in step.predicates:
        if predicate.position is not None:
            position = 1 + sum(1 for _ in element.itersiblings(str(element.tag), preceding=True))
            if position != predicate.position:
                return False
        elif predicate.name is None:
            if (element.text or "").strip() != (predicate.value or "").strip():
                return False
        else:
            tag = f"{{{predicate.namespace}}}{predicate.name}"
            if not any((child.text or "").strip() == (predicate.value or "").strip()
                       for child in element.iterchildren(tag)):
                return False
    return True


def resolve_path(tree: Element, path: NodePath) -> tuple[list[Element], set[Element]]:
    """The elements an instance path names in ``tree``, as deep as they exist.

    Missing nodes are stood in for by detached elements holding what the path's
    predicates say (returned as ``synthetic``).
    """
    chain: list[Element] = []
    synthetic: set[Element] = set()
    current: Element | None = tree
    for step in path.steps:
        tag = f"{{{step.namespace}}}{step.name}"
        found = None
        if current is not None:
            found = next((c for c in current.iterchildren(tag) if matches_step(c, step)), None)
        if found is None:
            found = _stand_in(step)
            synthetic.add(found)
            current = None
        else:
            current = found
        chain.append(found)
    return chain, synthetic


def _stand_in(step: Step) -> Element:
    """A detached element holding what a path step's predicates say of a node."""
    element = etree.Element(f"{{{step.namespace}}}{step.name}")
    for predicate in step.predicates:
        if predicate.name is None and predicate.position is None:
            element.text = predicate.value
        elif predicate.name is not None and predicate.value is not None:
            etree.SubElement(element, f"{{{predicate.namespace}}}{predicate.name}"
                             ).text = predicate.value
    return element


def synthetic_values(synthetic: set[Element]) -> Values:
    """Values that are unknown (None) for what a stand-in element does not hold."""
    def values(element: Element, tag: str) -> list[str] | None:
        found = plain_values(element, tag)
        if element in synthetic and not found:
            return None
        return found

    return values


class OldValues:
    """Values as they were before an edit applied in place (for old-state checks).

    The edit's changes say what each changed leaf held and which leaves it created;
    everything else in the tree is as it was. An ancestor of a deleted node that is no
    longer in the tree (a non-presence container the edit emptied and removed) is
    stood in for by an element holding what the path says of it, its other values
    unknown.
    """

    def __init__(self, tree: Element, changes: Sequence[Change]) -> None:
        self._tree = tree
        self._created: set[Element] = set()
        self._old: dict[tuple[Element, str], list[str]] = {}
        self._paths: dict[tuple[Step, ...], Element] = {}
        self._stand_ins: set[Element] = set()
        for change in changes:
            if change.operation is ChangeOp.CREATE and change.new is not None:
                self._created.add(change.new)
            elif change.operation is ChangeOp.REPLACE and change.new is not None:
                parent = change.new.getparent()
                self._created.add(change.new)
                if parent is not None and change.old is not None:
                    self._old.setdefault((parent, str(change.new.tag)), []).append(
                        change.old.text or "")
            elif change.operation is ChangeOp.DELETE and change.old is not None:
                if change.schema.kind in (NodeKind.LEAF, NodeKind.LEAF_LIST):
                    parents = self.parents(change)
                    if parents:
                        self._old.setdefault((parents[-1], str(change.old.tag)), []).append(
                            change.old.text or "")

    def values(self, element: Element, tag: str) -> list[str] | None:
        """The values of the children ``tag`` of ``element`` before the edit."""
        found = [(c.text or "") for c in element.iterchildren(tag) if c not in self._created]
        found += self._old.get((element, tag), [])
        if not found and element in self._stand_ins:
            return None
        return found

    def parents(self, change: Change) -> list[Element]:
        """The live ancestors of a deleted node (found by its path)."""
        try:
            path = parse_path(change.path, change.namespaces.get)
        except PathError:
            return []
        chain: list[Element] = []
        current = self._tree
        for index, step in enumerate(path.steps[:-1]):
            key = path.steps[: index + 1]
            found = self._paths.get(key)
            if found is None:
                tag = f"{{{step.namespace}}}{step.name}"
                if current not in self._stand_ins:
                    found = next((c for c in current.iterchildren(tag)
                                  if matches_step(c, step)), None)
                if found is None:
                    found = _stand_in(step)
                    self._stand_ins.add(found)
                self._paths[key] = found
            chain.append(found)
            current = found
        return chain


def diff_trees(old: Element, new: Element, nodes: Mapping[QName, SchemaNode]
          ) -> Iterable[tuple[Access, Element | None, Element | None]]:
    """What replacing ``old``'s children by ``new``'s does: created, deleted, updated."""
    def identity(element: Element, snode: SchemaNode | None) -> tuple[object, ...]:
        tag = str(element.tag)
        if snode is None:
            return (tag, id(element))
        if snode.kind is NodeKind.LIST:
            return (tag, tuple((element.findtext(f"{{{snode.namespace}}}{k}") or "").strip()
                               for k in snode.keys) if snode.keys else id(element))
        if snode.kind is NodeKind.LEAF_LIST:
            return (tag, value_key(element.text, element))
        return (tag,)

    def index(parent: Element) -> dict[tuple[object, ...], tuple[Element, SchemaNode | None]]:
        found: dict[tuple[object, ...], tuple[Element, SchemaNode | None]] = {}
        for child in parent:
            if isinstance(child.tag, str):
                snode = nodes.get(split_tag(child.tag))
                found.setdefault(identity(child, snode), (child, snode))
        return found

    before, after = index(old), index(new)
    for key, (element, _) in before.items():
        if key not in after:
            yield Access.DELETE, element, None
    moved_lists: dict[str, list[Element]] = {}
    for key, (element, snode) in after.items():
        existing = before.get(key)
        if existing is None:
            yield Access.CREATE, None, element
            continue
        previous = existing[0]
        if snode is None or snode.kind is NodeKind.LEAF:
            if value_key(previous.text, previous) != value_key(element.text, element):
                yield Access.UPDATE, previous, element
        elif snode.kind in (NodeKind.ANYDATA, NodeKind.ANYXML):
            if any_content(previous) != any_content(element):
                yield Access.UPDATE, previous, element
        elif snode.kind is NodeKind.LEAF_LIST:
            if snode.ordered_by_user:
                moved_lists.setdefault(str(element.tag), []).append(element)
        else:
            if snode.kind is NodeKind.LIST and snode.ordered_by_user:
                moved_lists.setdefault(str(element.tag), []).append(element)
            yield from diff_trees(previous, element, snode.children)
    for tag, entries in moved_lists.items():
        order = {c: i for i, c in enumerate(old.iterchildren(tag))}
        snode = nodes.get(split_tag(tag))
        previous_of = {e: before[identity(e, snode)][0] for e in entries}
        def position(entry: Element, order: dict[Element, int] = order,
                     previous_of: dict[Element, Element] = previous_of) -> int:
            return order[previous_of[entry]]

        kept = longest_increasing(entries, position)
        for entry in entries:
            if entry not in kept:
                yield Access.UPDATE, previous_of[entry], entry


def instance_path(chain: Sequence[Element], schema: SchemaTree) -> tuple[str, dict[str, str]]:
    """The instance-identifier (RFC 7950 sec. 9.13) of ``chain[-1]``, prefixes bound."""
    steps: list[PathStep] = []
    nodes: Mapping[QName, SchemaNode] = schema.roots
    for element in chain:
        snode = nodes.get(split_tag(str(element.tag)))
        if snode is None:
            break
        values: tuple[str, ...] | None = None
        if snode.kind is NodeKind.LIST:
            values = tuple(element.findtext(f"{{{snode.namespace}}}{key}") or ""
                           for key in snode.keys)
        elif snode.kind is NodeKind.LEAF_LIST:
            values = (element.text or "",)
        steps.append(PathStep(snode, values))
        nodes = snode.children
    path, namespaces = instance_identifier(steps)
    return path or "/", namespaces
