"""The checks of one incremental validation call, run and ordered as libyang runs them.

:class:`Verdicts` takes the :class:`Work` that
:class:`~nvo3_netconf.schema.checks.ChangeCheck` collected from an edit's changes, runs
every check (RFC 7950 sec. 9 values, 7.21.5 when, 9.9 and 9.13 require-instance, 7.5.3
must, 7.8.3 unique, 7.7.5 min/max-elements, 7.6.5 and 7.9.4 mandatory) and returns the
failure libyang reports first for the same tree, with libyang's message, data path and
RFC 7950 sec. 15 error-tag / error-app-tag, and the error-path and error-info that
:mod:`nvo3_netconf.schema.validate` describes (built for the reported failure only, from
the tree's elements):

1. parse errors (type errors), in document order (libyang parses each changed subtree
   under copies of its ancestors' keys, so messages and paths are its own);
2. false ``when`` conditions, last node first (libyang resolves them in reverse);
3. missing leafref / instance-identifier targets, last node first;
4. per module, in context order, a depth-first walk of the tree in schema order: at each
   level the children's ``must``, then the level's schema checks (mandatory nodes and
   choices, min/max-elements, unique), then each child's subtree.

Public names: :class:`Verdicts`, :class:`Work`, :data:`Location`.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from _libyang import ffi, lib
from lxml import etree

from nvo3_netconf.constants import ErrorTag
from nvo3_netconf.errors import InfoElement
from nvo3_netconf.schema.instances import (
    Element,
    EntryKey,
    InstanceCache,
    Locator,
    schema_chain,
    tag_of,
)
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode
from nvo3_netconf.schema.paths import PathReader, Step
from nvo3_netconf.schema.rules import (
    LeafrefRule,
    MustRule,
    Requirement,
    RequirementKind,
    Rules,
    WhenRule,
)
from nvo3_netconf.schema.validate import (
    ValidationIssue,
    _classify,
    _data_path,
    _schema_path,
    missing_choice,
    non_unique,
)
from nvo3_netconf.schema.xpath_runtime import Run, Virtual, XPathLibrary

_NAME_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|([A-Za-z_][\w.-]*):""")

Location = Element | Virtual | None
"""A data node: a real element, an implicit one, or None for the root."""


@functools.total_ordering
class _Reverse:
    """Orders document positions last-first (libyang resolves when/leafref in reverse)."""

    def __init__(self, position: tuple[int, ...]) -> None:
        self.position = position

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.position == other.position

    def __lt__(self, other: _Reverse) -> bool:
        return other.position < self.position

    def __hash__(self) -> int:
        return hash(self.position)


_Where = tuple[Sequence[Step] | None, tuple[InfoElement, ...]]
"""The error-path's steps (None: no node at fault) and the error-info of an issue."""


@dataclass
class _Issue:
    issue: ValidationIssue
    key: Callable[[], tuple[Any, ...]]
    where: Callable[[], _Where]


@dataclass
class Work:
    """What the changes call for, keyed so that each check runs once.

    Attributes:
        parse: created or replaced elements (with their schema node) whose values libyang
            must check.
        musts: (rule, instance) pairs; an instance may be implicit.
        whens: (rule, element) pairs.
        leafrefs: leafref elements and their rules.
        instids: instance-identifier elements.
        all_instids: re-check every instance-identifier (something was deleted).
        uniques: list entries whose ``unique`` values to check.
        maxima: (parent, list) whose max-elements to check.
        requirements: parents (or a module's top level) whose mandatory content to check.
    """

    parse: dict[int, tuple[Element, SchemaNode]] = field(default_factory=dict)
    musts: dict[tuple[int, object], tuple[MustRule, Location]] = field(default_factory=dict)
    whens: dict[tuple[int, int], tuple[WhenRule, Element]] = field(default_factory=dict)
    leafrefs: dict[int, tuple[LeafrefRule, Element]] = field(default_factory=dict)
    instids: dict[int, Element] = field(default_factory=dict)
    all_instids: bool = False
    uniques: dict[int, tuple[Element, SchemaNode]] = field(default_factory=dict)
    maxima: dict[tuple[int, SchemaNode], Element] = field(default_factory=dict)
    requirements: dict[object, tuple[Element, SchemaNode | None, str]] = field(
        default_factory=dict)


class Verdicts:
    """Runs the checks of a :class:`Work` on the edited tree.

    Args:
        rules: the schema's constraints.
        locator: schema lookup, values and paths.
        xpath: the YANG XPath evaluator.
        cache: the tree's instance indexes.
        run_state: the XPath evaluation state of this call.
        root: the ``<data>`` element.
        paths: reads libyang's data paths (of type errors) into error-paths.
    """

    def __init__(self, rules: Rules, locator: Locator, xpath: XPathLibrary,
                 cache: InstanceCache, run_state: Run, root: Element, paths: PathReader) -> None:
        self.paths = paths
        self.rules = rules
        self.locator = locator
        self.xpath = xpath
        self.cache = cache
        self.run_state = run_state
        self.root = root
        self.work = Work()
        self.issues: list[_Issue] = []

    def run(self, work: Work) -> ValidationIssue | None:
        """Run every check of ``work``; the issue libyang would report first."""
        self.work = work
        self._check_values()
        self._check_whens()
        self._check_references()
        self._check_musts()
        self._check_schema()
        if not self.issues:
            return None
        if len(self.issues) == 1:
            chosen = self.issues[0]
        else:
            chosen = min(self.issues, key=lambda i: i.key())
        steps, info = chosen.where()
        return chosen.issue.located(steps, self.paths.modules, info)

    def _check_values(self) -> None:
        """Type errors: libyang parses each changed subtree with its ancestors' keys."""
        cdata = self.rules.context_cdata
        for element, node in self.work.parse.values():
            if _valid_term(cdata, node, element):
                continue
            issue = self._parse_fragment(element)
            if issue is not None:
                self._add(issue, functools.partial(_document_key, 0, element),
                          functools.partial(self._parsed_where, issue.path))

    def _parse_fragment(self, element: Element) -> ValidationIssue | None:
        """Parse ``element`` under copies of its ancestors (keys only) with libyang.

        Every namespace declared in the subtree is declared on the outermost copy: when
        a subtree is appended, lxml reuses its new parent's declarations of the same
        namespaces and drops its own, while values (identityref, instance-identifier)
        use the prefixes. One prefix bound to two namespaces there raises ValueError
        (and the caller validates in full).
        """
        top: Element | None = None
        holder: Element | None = None
        scope: dict[str | None, str] = {}
        if None in element.nsmap:
            scope[None] = element.nsmap[None]  # elements declare their own defaults
        for inner in element.iter():
            for prefix, uri in inner.nsmap.items():
                if prefix is not None and scope.setdefault(prefix, uri) != uri:
                    raise ValueError(f"prefix {prefix} bound to two namespaces")
        for ancestor in reversed(list(element.iterancestors())):
            if ancestor is self.root:
                continue
            node = self.locator.schema_of(ancestor, self.run_state.schemas)
            shell = etree.Element(ancestor.tag, nsmap=scope if top is None else None)
            if node is not None and node.kind is NodeKind.LIST:
                for key in node.keys:
                    key_element = ancestor.find(f"{{{node.namespace}}}{key}")
                    if key_element is not None:
                        shell.append(copy.deepcopy(key_element))
            if holder is None:
                top = shell
            else:
                holder.append(shell)
            holder = shell
        piece = copy.deepcopy(element)
        if holder is None:
            top = piece
        else:
            holder.append(piece)
        assert top is not None
        return _parse_only(self.rules.context_cdata, etree.tostring(top))

    def _check_whens(self) -> None:
        for when, element in self.work.whens.values():
            context = self._when_context(when, element)
            if context is None or self.xpath.boolean(when.real, context, context,
                                                     self.run_state):
                continue
            self._add(self._issue(f'When condition "{when.source}" not satisfied.', element,
                                  ErrorTag.OPERATION_FAILED, None),
                      functools.partial(_reverse_key, 1, element), self._where(element))

    def _when_context(self, when: WhenRule, element: Element) -> Element | None:
        if when.context is None:
            return self.root
        current: Element | None = element
        while current is not None and current is not self.root:
            if self.locator.schema_of(current, self.run_state.schemas) is when.context:
                return current
            current = current.getparent()
        return None

    def _check_references(self) -> None:
        for rule, element in self.work.leafrefs.values():
            if element.getparent() is None or self._has_target(rule, element):
                continue
            message = (f'Invalid leafref value "{(element.text or "").strip()}" - no target '
                       f'instance "{rule.source}" with the same value.')
            self._add(self._issue(message, element, ErrorTag.DATA_MISSING, "instance-required"),
                      functools.partial(_reverse_key, 2, element), self._where(element))
        instids: dict[int, Element] = dict(self.work.instids)
        if self.work.all_instids:
            for node in self.rules.instance_identifiers:
                for element in self.cache.descend(self.root, schema_chain(node, None)):
                    instids[id(element)] = element
        for element in instids.values():
            text = (element.text or "").strip()
            namespaces = {p: u for p, u in element.nsmap.items() if p}
            try:
                found = etree.XPath("$root" + text, namespaces=namespaces)(self.root,
                                                                           root=self.root)
            except etree.XPathError:
                continue  # not a valid value: the parse of the changed node reports it
            if found:
                continue
            message = (f'Invalid instance-identifier "{_json_path(text, namespaces, self.rules)}"'
                       ' value - required instance not found.')
            self._add(self._issue(message, element, ErrorTag.DATA_MISSING, "instance-required"),
                      functools.partial(_reverse_key, 2, element), self._where(element))

    def _has_target(self, rule: LeafrefRule, element: Element) -> bool:
        value = self.locator.value(element, rule.owner)
        if rule.simple and rule.target is not None:
            return bool(self.cache.values_of(rule.target, self.root, self.locator).get(value))
        if rule.keyed is not None:
            return bool(self.xpath.evaluate(rule.keyed, element, element, self.run_state))
        targets = self.xpath.evaluate(rule.path, element, element, self.run_state)
        target = rule.target or rule.owner
        return any(isinstance(t, etree._Element) and self.locator.value(t, target) == value
                   for t in targets)

    def _check_musts(self) -> None:
        for must, location in self.work.musts.values():
            if isinstance(location, Virtual):
                translation = must.variants[len(location.levels)] \
                    if len(location.levels) < len(must.variants) else None
                if translation is None:
                    continue
                ok = self.xpath.boolean(translation, location.anchor, location.anchor,
                                        self.run_state)
            else:
                assert location is not None
                if location.getparent() is None:
                    continue
                ok = self.xpath.boolean(must.variants[0], location, location, self.run_state)
            if ok:
                continue
            message = must.message or f'Must condition "{must.source}" not satisfied.'
            self._add(ValidationIssue(message, self._path(location), ErrorTag.OPERATION_FAILED,
                                      must.app_tag or "must-violation"),
                      functools.partial(self._must_key, location), self._where(location))

    def _check_schema(self) -> None:
        for (_, node), parent in self.work.maxima.items():
            self._check_max(parent, node)
        for entry, node in self.work.uniques.values():
            if entry.getparent() is not None:
                self._check_unique(entry, node)
        for parent, _, module in self.work.requirements.values():
            if parent is self.root:
                reqs = self.rules.requirements.get(module, ())
                self._check_requirements(parent, None, reqs)
            else:
                parent_node = self.locator.schema_of(parent, self.run_state.schemas)
                if parent_node is not None and parent.getparent() is not None:
                    self._check_requirements(parent, parent_node,
                                             self.rules.requirements.get(parent_node, ()))

    def _count(self, parent: Location, node: SchemaNode) -> int:
        if not isinstance(parent, etree._Element):
            return 0
        return len(self.cache.entries_of(parent, node, self.locator))

    def _check_max(self, parent: Element, node: SchemaNode) -> None:
        maximum = self.rules.max_elements[node]
        if parent.getparent() is None and parent is not self.root or \
                self._count(parent, node) <= maximum:
            return
        victim = next(islice(parent.iterchildren(tag_of(node)), maximum, maximum + 1))
        self._add(self._issue(f'Too many "{node.name}" instances.', victim,
                              ErrorTag.OPERATION_FAILED, "too-many-elements"),
                  functools.partial(self._schema_key, parent, node, 0, ()),
                  self._where(parent, node))

    def _check_min(self, parent: Location, node: SchemaNode, real: Location) -> None:
        count = self._count(parent, node)
        if count >= self.rules.min_elements[node]:
            return
        path = None
        if count == 0 and isinstance(real, etree._Element) and real is not self.root \
                and _locatable(node):
            path = self.locator.child_path(self._path(real) or "", node.parent, node)
        self._add(ValidationIssue(f'Too few "{node.name}" instances.', path,
                                  ErrorTag.OPERATION_FAILED, "too-few-elements",
                                  schema_path=_schema_path_of(node)),
                  functools.partial(self._schema_key, parent, node, 0, ()),
                  self._where(parent, node))

    def _check_unique(self, entry: Element, node: SchemaNode) -> None:
        parent = entry.getparent()
        assert parent is not None
        for number, spec in enumerate(self.rules.uniques[node]):
            values = self.locator.unique_values(entry, spec)
            if values is None:
                continue
            index = self.cache.unique_of(parent, node, number,
                                         functools.partial(_unique_of_entry, self.locator, spec))
            group = [e for e in index.get(values, ()) if e.getparent() is parent]
            if len(group) < 2:
                continue
            group.sort(key=parent.index)
            first, second = group[0], group[1]
            names = " ".join("/".join(n.name for n in chain) for chain in spec)
            if self._count(parent, node) == 2:
                pair, at = (first, second), second
            else:
                pair, at = (second, first), first
            message = (f'Unique data leaf(s) "{names}" not satisfied in '
                       f'"{self._path(pair[0])}" and "{self._path(pair[1])}".')
            self._add(self._issue(message, at, ErrorTag.OPERATION_FAILED, "data-not-unique"),
                      functools.partial(self._unique_key, parent, node, second, number),
                      functools.partial(self._unique_where, at, spec))

    def _check_requirements(self, parent: Location, parent_node: SchemaNode | None,
                            requirements: Sequence[Requirement]) -> None:
        real = parent if isinstance(parent, etree._Element) else None
        for requirement in requirements:
            node = requirement.node
            if requirement.kind is RequirementKind.MANDATORY and node is not None:
                if real is not None and self.cache.first_child(real, tag_of(node)) is not None:
                    continue
                if not self._when_allows(real, node):
                    continue
                path = None
                if real is not None and real is not self.root and _locatable(node):
                    path = self.locator.child_path(self._path(real) or "", parent_node, node)
                self._add(ValidationIssue(f'Mandatory node "{node.name}" instance does not '
                                          'exist.', path, ErrorTag.DATA_MISSING, None,
                                          schema_path=_schema_path_of(node)),
                          functools.partial(self._schema_key, parent, node, 0, ()),
                          self._where(parent, node))
            elif requirement.kind is RequirementKind.MIN_ELEMENTS and node is not None:
                self._check_min(parent, node, real)
            elif requirement.kind is RequirementKind.CONTAINER and node is not None:
                if real is not None and self.cache.first_child(real, tag_of(node)) is not None:
                    continue
                if real is not None and not self.xpath.virtual_children(real, node,
                                                                        self.run_state):
                    continue
                anchor, levels = (parent.anchor, parent.levels) if isinstance(
                    parent, Virtual) else (parent, ())
                assert anchor is not None
                self._check_requirements(Virtual(anchor, (*levels, node)), node,
                                         requirement.inner)
            elif requirement.kind is RequirementKind.CHOICE and requirement.choice is not None:
                self._check_choice(parent, parent_node, requirement, real)

    def _check_choice(self, parent: Location, parent_node: SchemaNode | None,
                      requirement: Requirement, real: Element | None) -> None:
        choice = requirement.choice
        assert choice is not None
        active = None
        if real is not None:
            for case, members in choice.cases.items():
                if any(self.cache.first_child(real, tag_of(m)) is not None for m in members):
                    active = case
                    break
        if active is not None:
            self._check_requirements(parent, parent_node, choice.requirements[active])
            return
        if not choice.mandatory:
            return
        first = next((m for members in choice.cases.values() for m in members), None)
        path = self._path(real) if real is not None and real is not self.root and (
            parent_node is None or _locatable(parent_node)) else None
        self._add(ValidationIssue(f'Mandatory choice "{choice.name}" data do not exist.', path,
                                  ErrorTag.DATA_MISSING, "missing-choice"),
                  functools.partial(self._schema_key, parent, first, 0, ()),
                  self._where(parent, info=missing_choice(choice.name)))

    def _when_allows(self, parent: Element | None, node: SchemaNode) -> bool:
        """False if a ``when`` keeps ``node`` out of ``parent`` (so it is not mandatory)."""
        for when in self.rules.whens.get(node, ()):
            if parent is None:
                return True  # inside an implicit container: assumed to hold
            if when.virtual is not None:
                if not self.xpath.boolean(when.virtual, parent, parent, self.run_state):
                    return False
            else:
                context = parent if when.context is not None else self.root
                if not self.xpath.boolean(when.real, context, context, self.run_state):
                    return False
        return True

    # -------------------------------------------------------------- reporting
    def _add(self, issue: ValidationIssue, key: Callable[[], tuple[Any, ...]],
             where: Callable[[], _Where]) -> None:
        """Record an issue; ``key`` orders it as libyang would, ``where`` locates it."""
        self.issues.append(_Issue(issue, key, where))

    def _where(self, location: Location, below: SchemaNode | None = None,
               info: tuple[InfoElement, ...] = ()) -> Callable[[], _Where]:
        """The error-path of ``location`` (and of its child ``below``), when reported."""
        return functools.partial(self._located, location, below, info)

    def _located(self, location: Location, below: SchemaNode | None,
                 info: tuple[InfoElement, ...]) -> _Where:
        steps = self._steps(location)
        if below is not None:
            steps.append(Step(below))  # a missing node, or a list as a whole
        return steps, info

    def _parsed_where(self, path: str | None) -> _Where:
        """The error-path of a type error (libyang's data path in the fragment)."""
        return (self.paths.data_path(path) if path else None), ()

    def _unique_where(self, entry: Element,
                      spec: tuple[tuple[SchemaNode, ...], ...]) -> _Where:
        steps = self._steps(entry)
        return steps, non_unique(steps, spec, self.paths.modules)

    def _steps(self, location: Location) -> list[Step]:
        """The instance path of a real or implicit data node, as steps (root: none)."""
        if location is None or location is self.root:
            return []
        if isinstance(location, Virtual):
            return [*self._steps(location.anchor), *(Step(level) for level in location.levels)]
        steps: list[Step] = []
        element: Element | None = location
        while element is not None and element is not self.root:
            node = self.locator.schema_of(element, self.run_state.schemas)
            if node is None:
                return []
            values: tuple[str, ...] | None = None
            if node.kind is NodeKind.LIST:
                values = self.locator.entry_key(element, node)
            elif node.kind is NodeKind.LEAF_LIST:
                values = (self.locator.value(element, node),)
            steps.append(Step(node, values))
            element = element.getparent()
        steps.reverse()
        return steps

    def _issue(self, message: str, element: Element, tag: ErrorTag, app_tag: str | None) -> \
            ValidationIssue:
        return ValidationIssue(message, self._path(element), tag, app_tag)

    def _path(self, location: Location) -> str | None:
        if location is None:
            return None
        if isinstance(location, Virtual):
            path = self._path(location.anchor) if location.anchor is not self.root else ""
            parent: SchemaNode | None = self.locator.schema_of(location.anchor,
                                                               self.run_state.schemas)
            for level in location.levels:
                path = self.locator.child_path(path or "", parent, level)
                parent = level
            return path
        return self.locator.path(location, self.run_state.schemas)

    def _levels(self, location: Location) -> list[tuple[int, int]]:
        """(schema order, position among same-named siblings) from the top down."""
        if location is None or location is self.root:
            return []
        if isinstance(location, Virtual):
            return self._levels(location.anchor) + [(self.rules.order.get(n, 0), 0)
                                                    for n in location.levels]
        levels: list[tuple[int, int]] = []
        element: Element | None = location
        while element is not None and element is not self.root:
            node = self.locator.schema_of(element, self.run_state.schemas)
            same = sum(1 for _ in element.itersiblings(str(element.tag), preceding=True))
            levels.append((self.rules.order.get(node, 0) if node else 0, same))
            element = element.getparent()
        return list(reversed(levels))

    def _module_rank(self, location: Location, fallback: SchemaNode | None) -> int:
        """The context order of the module of the top-level node above ``location``."""
        element = location.anchor if isinstance(location, Virtual) else location
        top: SchemaNode | None = fallback
        if element is not None and element is not self.root:
            parent = element.getparent()
            while parent is not None and parent is not self.root:
                element, parent = parent, parent.getparent()
            top = self.locator.schema_of(element, self.run_state.schemas) or fallback
        elif isinstance(location, Virtual):
            top = location.levels[0]
        return self.rules.module_order.get(top.module, 0) if top is not None else 0

    def _must_key(self, location: Location) -> tuple[Any, ...]:
        levels = self._levels(location)
        walk = tuple((2, *level) for level in levels[:-1]) + ((0, *levels[-1]),)
        return (3, self._module_rank(location, None), walk)

    def _unique_key(self, parent: Element, node: SchemaNode, second: Element,
                    number: int) -> tuple[Any, ...]:
        return self._schema_key(parent, node, 1, (parent.index(second), number))

    def _schema_key(self, parent: Location, node: SchemaNode | None, part: int,
                    extra: tuple[int, ...]) -> tuple[Any, ...]:
        walk = tuple((2, *level) for level in self._levels(parent))
        order = self.rules.order.get(node, 0) if node is not None else 0
        return (3, self._module_rank(parent, node), walk + ((1, order, part, *extra),))


def _document_key(phase: int, element: Element) -> tuple[Any, ...]:
    return (phase, _position(element))


def _reverse_key(phase: int, element: Element) -> tuple[Any, ...]:
    return (phase, _Reverse(_position(element)))


def _unique_of_entry(locator: Locator, spec: tuple[tuple[SchemaNode, ...], ...],
                     entry: Element) -> EntryKey | None:
    return locator.unique_values(entry, spec)


def _position(element: Element) -> tuple[int, ...]:
    """The element's position in document order, as sibling indexes from the root."""
    indexes: list[int] = []
    current = element
    parent = current.getparent()
    while parent is not None:
        indexes.append(parent.index(current))
        current, parent = parent, parent.getparent()
    return tuple(reversed(indexes))


def _schema_path_of(node: SchemaNode) -> str:
    """The schema path libyang prints for a node (choices and cases included)."""
    parts: list[str] = []
    current: SchemaNode | None = node
    while current is not None:
        parent = current.parent
        same = parent is not None and parent.module == current.module
        parts.append(current.name)
        for choice, case in reversed(current.choices):
            parts.extend((case, choice))
        if not same:
            parts[-1] = f"{current.module}:{parts[-1]}"
        current = parent
    return "/" + "/".join(reversed(parts))


def _locatable(node: SchemaNode) -> bool:
    """True if no choice lies above ``node``.

    :class:`~nvo3_netconf.schema.validate.Validator` gives a missing node the data path
    of its parent found by schema path; with a choice on the way, that path names the
    choice and case, finds nothing, and the error-path stays empty. The same here.
    """
    current: SchemaNode | None = node
    while current is not None:
        if current.choices:
            return False
        current = current.parent
    return True


def _json_path(text: str, namespaces: dict[str, str], rules: Any) -> str:
    """An instance-identifier with module names for prefixes (RFC 7951 sec. 6.11)."""
    previous = ""

    def rename(match: re.Match[str]) -> str:
        nonlocal previous
        if match.group(1) is None:
            return match.group(0)
        module = rules.modules.get(namespaces.get(match.group(1), ""), match.group(1))
        if module == previous:
            return ""
        previous = module
        return f"{module}:"

    return _NAME_TOKEN.sub(rename, text)


def _valid_term(cdata: object, node: SchemaNode, element: Element) -> bool:
    """Whether a leaf's or leaf-list entry's value is valid for its type.

    libyang checks the text against the compiled type directly (no fragment to build and
    parse). Only for plain values: a value naming prefixes, or an element with children
    or attributes, answers False, as does an invalid value -- the caller then parses the
    fragment, which gives the error its message and path.
    """
    if (node.cnode is None or node.prefixed_value or len(element) or element.attrib
            or node.kind not in (NodeKind.LEAF, NodeKind.LEAF_LIST)):
        return False
    value = (element.text or "").encode()
    status = lib.lyd_value_validate(cdata, node.cnode, value, len(value), ffi.NULL, ffi.NULL,
                                    ffi.NULL)
    if status in (lib.LY_SUCCESS, lib.LY_EINCOMPLETE):  # incomplete: a reference, checked apart
        return True
    lib.ly_err_clean(cdata, ffi.NULL)
    return False


def _parse_only(cdata: object, data: bytes) -> ValidationIssue | None:
    """Parse a fragment with libyang, without validation; its first error, if any."""
    lib.ly_err_clean(cdata, ffi.NULL)
    buffer = ffi.from_buffer("char[]", data + b"\0")
    in_handle = ffi.new("struct ly_in **")
    if lib.ly_in_new_memory(buffer, in_handle) != lib.LY_SUCCESS:
        raise MemoryError("libyang could not open the input")
    tree = ffi.new("struct lyd_node **")
    try:
        status = lib.lyd_parse_data(
            cdata, ffi.NULL, in_handle[0], lib.LYD_XML,
            lib.LYD_PARSE_ONLY | lib.LYD_PARSE_STRICT | lib.LYD_PARSE_NO_STATE, 0, tree)
    finally:
        lib.ly_in_free(in_handle[0], 0)
        if tree[0] != ffi.NULL:
            lib.lyd_free_all(tree[0])
    if status == lib.LY_SUCCESS:
        lib.ly_err_clean(cdata, ffi.NULL)
        return None
    issue = None
    err = lib.ly_err_first(cdata)
    while err and issue is None:
        if err.level == lib.LY_LLERR and err.msg:
            message = ffi.string(err.msg).decode(errors="replace")
            location = ffi.string(err.path).decode(errors="replace") if err.path else None
            apptag = ffi.string(err.apptag).decode(errors="replace") if err.apptag else None
            tag, app_tag = _classify(message, apptag)
            # Unrecognised parse errors are type errors (as in Validator.parse).
            issue = ValidationIssue(message, _data_path(location), tag or ErrorTag.INVALID_VALUE,
                                    app_tag,
                                    schema_path=_schema_path(location))
        err = err.next
    lib.ly_err_clean(cdata, ffi.NULL)
    return issue or ValidationIssue("The data does not conform to the schema.", None,
                                    ErrorTag.OPERATION_FAILED)
