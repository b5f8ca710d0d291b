"""Evaluating translated YANG XPath on an lxml datastore tree (RFC 7950 sec. 6.4.1, 10).

:class:`XPathLibrary` compiles :class:`~nvo3_netconf.schema.yang_xpath.Translation` objects
into lxml XPath evaluators and implements the ``yx:`` extension functions they call:

- ``yx:dflt(nodes, id)``: the children named by schema node ``id``, or the default
  instances YANG's accessible tree holds instead (RFC 7950 sec. 7.6.1 default leaves,
  sec. 7.7.2 default leaf-lists, sec. 7.5.1 non-presence containers), honouring the
  choice default case (sec. 7.9.3) and ``when`` on the defaulted node (sec. 7.21.5).
  Such virtual instances are detached elements, created once per evaluation run.
- ``yx:entries(parents, id, key...)``: list entries selected by all their keys, found in
  the :class:`~nvo3_netconf.schema.instances.InstanceCache`.
- ``yx:deref``, ``yx:derived-from``, ``yx:re-match``, ``yx:enum-value``,
  ``yx:bit-is-set``: RFC 7950 sec. 10.3 to 10.6.

A :class:`Run` holds what one validation call shares (tree root, caches, virtual nodes);
it is made current for the calling thread while expressions evaluate, because lxml calls
extension functions without a way to pass it.

Public names: :class:`XPathLibrary`, :class:`Run`, :class:`Virtual`.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from nvo3_netconf.schema.instances import Element, InstanceCache, Locator, ValueKind, normalize
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode
from nvo3_netconf.schema.rules import Rules
from nvo3_netconf.schema.yang_xpath import FUNCTIONS_NS, Translation


@dataclass(frozen=True)
class Virtual:
    """An implicit instance: the real element it hangs from and the levels below it."""

    anchor: Element
    levels: tuple[SchemaNode, ...]


@dataclass
class Run:
    """The state of one validation call over one tree.

    Attributes:
        root: the ``<data>`` element.
        cache: the instance indexes.
        schemas: element -> schema node, filled on demand.
        virtual: (parent element, schema) -> virtual children built for it.
        origin: virtual element -> where it hangs.
        active: the translations being evaluated (lxml evaluators are not reentrant).
    """

    root: Element
    cache: InstanceCache
    schemas: dict[Element, SchemaNode | None] = field(default_factory=dict)
    virtual: dict[tuple[Element, SchemaNode], list[Element]] = field(default_factory=dict)
    origin: dict[Element, Virtual] = field(default_factory=dict)
    active: set[int] = field(default_factory=set)


class XPathLibrary:
    """Compiles translations and runs them with the YANG function library.

    Args:
        rules: the schema's constraints (identities, enums, leafrefs, choices, whens).
        locator: schema lookup and value normalization.
    """

    def __init__(self, rules: Rules, locator: Locator) -> None:
        self._rules = rules
        self._locator = locator
        self._local = threading.local()
        self._compiled: dict[int, etree.XPath] = {}
        self._lock = threading.Lock()
        self._extensions: dict[tuple[str | None, str], Callable[..., Any]] = {
            (FUNCTIONS_NS, "dflt"): self._dflt,
            (FUNCTIONS_NS, "entries"): self._entries,
            (FUNCTIONS_NS, "deref"): self._deref,
            (FUNCTIONS_NS, "derived-from"): self._derived_from,
            (FUNCTIONS_NS, "re-match"): self._re_match,
            (FUNCTIONS_NS, "enum-value"): self._enum_value,
            (FUNCTIONS_NS, "bit-is-set"): self._bit_is_set,
        }

    def compile(self, translation: Translation) -> etree.XPath:
        """The lxml evaluator of a translation (compiled once, then shared)."""
        compiled = self._compiled.get(id(translation))
        if compiled is None:
            compiled = etree.XPath(translation.text, namespaces=dict(translation.namespaces),
                                   extensions=self._extensions)
            with self._lock:
                self._compiled[id(translation)] = compiled
        return compiled

    def evaluate(self, translation: Translation, context: Element, current: Element,
                 run: Run) -> Any:
        """Evaluate with ``context`` as context node and ``current`` as ``current()``.

        Raises:
            lxml.etree.XPathError: the evaluation failed.
        """
        compiled = self.compile(translation)
        key = id(translation)
        if key in run.active:  # lxml evaluators are not reentrant: use a fresh one
            compiled = etree.XPath(translation.text, namespaces=dict(translation.namespaces),
                                   extensions=self._extensions)
        previous = getattr(self._local, "run", None)
        self._local.run = run
        run.active.add(key)
        try:
            return compiled(context, root=run.root, current=current)
        finally:
            run.active.discard(key)
            self._local.run = previous

    def boolean(self, translation: Translation, context: Element, current: Element,
                run: Run) -> bool:
        """Evaluate a ``boolean(...)`` translation."""
        return bool(self.evaluate(translation, context, current, run))

    # ------------------------------------------------------------ virtual nodes
    def virtual_children(self, parent: Element, node: SchemaNode, run: Run) -> list[Element]:
        """The implicit instances of ``node`` under ``parent`` (which lacks real ones)."""
        key = (parent, node)
        known = run.virtual.get(key)
        if known is not None:
            return known
        made: list[Element] = []
        if self._implicit(parent, node, run):
            where = run.origin.get(parent)
            origin = Virtual(where.anchor, (*where.levels, node)) if where is not None \
                else Virtual(parent, (node,))
            if node.kind is NodeKind.CONTAINER:
                made.append(etree.Element(f"{{{node.namespace}}}{node.name}"))
            else:
                for value in node.defaults:
                    element = etree.Element(f"{{{node.namespace}}}{node.name}",
                                            nsmap=node.default_namespaces or None)
                    element.text = value
                    made.append(element)
            for element in made:
                run.origin[element] = origin
                run.schemas[element] = node
        run.virtual[key] = made
        return made

    def _implicit(self, parent: Element, node: SchemaNode, run: Run) -> bool:
        """True if ``parent`` holds an implicit ``node`` (defaults, choice, when)."""
        if not node.config:
            return False
        if node.kind is NodeKind.CONTAINER:
            if node.presence:
                return False
        elif not node.defaults:
            return False
        virtual = parent in run.origin
        for choice, case in self._rules.choices.get(node, ()):
            active = None
            for name, members in choice.cases.items():
                if not virtual and any(run.cache.first_child(parent, _tag(m)) is not None
                                       for m in members):
                    active = name
                    break
            if active is None and choice.default_case != case or \
                    active is not None and active != case:
                return False
        for when in self._rules.whens.get(node, ()):
            if when.virtual is not None:
                # A when on a default whose parent is itself implicit is not evaluated
                # (assumed true): only the parent's own conditions are.
                if parent not in run.origin and not self.boolean(when.virtual, parent,
                                                                 parent, run):
                    return False
            elif when.context is None or run.schemas.get(parent) is when.context or \
                    self._locator.schema_of(parent, run.schemas) is when.context:
                context = parent if when.context is not None else run.root
                if parent in run.origin:
                    continue  # context is itself implicit: assume the condition holds
                if not self.boolean(when.real, context, context, run):
                    return False
        return True

    # --------------------------------------------------------------- functions
    @property
    def _run(self) -> Run:
        run: Run | None = getattr(self._local, "run", None)
        if run is None:
            raise RuntimeError("YANG XPath functions called outside a validation run")
        return run

    def _dflt(self, _context: object, nodes: object, node_id: float) -> list[Element]:
        node = self._rules.registry.nodes[int(node_id)]
        tag = _tag(node)
        run = self._run
        found: list[Element] = []
        for parent in _elements(nodes):
            real = [] if parent in run.origin else run.cache.children_of(parent, tag)
            found.extend(real if real else self.virtual_children(parent, node, run))
        return found

    def _entries(self, _context: object, parents: object, node_id: float, *keys: object) -> \
            list[Element]:
        node = self._rules.registry.nodes[int(node_id)]
        run = self._run
        key_nodes = [node.children[(node.namespace, k)] for k in node.keys]
        choices = [list(_values(k, n, self._locator)) for k, n in zip(keys, key_nodes,
                                                                        strict=True)]
        found: list[Element] = []
        for parent in _elements(parents):
            if parent in run.origin:
                continue
            index = run.cache.entries_of(parent, node, self._locator)
            for combination in _product(choices):
                entry = index.get(combination)
                if entry is not None:
                    found.append(entry)
        return found

    def _deref(self, _context: object, nodes: object) -> list[Element]:
        elements = _elements(nodes)
        if not elements:
            return []
        element = elements[0]
        run = self._run
        node = self._locator.schema_of(element, run.schemas)
        rule = self._rules.leafrefs.get(node) if node is not None else None
        if rule is None:
            return []
        value = self._locator.value(element, node)  # type: ignore[arg-type]
        targets = self.evaluate(rule.path, element, element, run)
        return [t for t in _elements(targets) if rule.target is None
                or self._locator.value(t, rule.target) == value]

    def _derived_from(self, _context: object, nodes: object, base: str, self_too: bool) -> bool:
        derived = self._rules.derived.get(base, frozenset())
        for element in _elements(nodes):
            value = normalize(element.text, element, ValueKind.IDENTITY, self._locator.modules)
            if value in derived or (self_too and value == base):
                return True
        return False

    def _re_match(self, _context: object, text: object, pattern: object) -> bool:
        return _xsd_regex(_string(pattern)).fullmatch(_string(text)) is not None

    def _enum_value(self, _context: object, nodes: object) -> float:
        elements = _elements(nodes)
        if not elements:
            return math.nan
        node = self._locator.schema_of(elements[0], self._run.schemas)
        values = self._rules.enums.get(node) if node is not None else None
        value = values.get((elements[0].text or "").strip()) if values else None
        return float(value) if value is not None else math.nan

    def _bit_is_set(self, _context: object, nodes: object, name: object) -> bool:
        elements = _elements(nodes)
        return bool(elements) and _string(name) in (elements[0].text or "").split()


def _tag(node: SchemaNode) -> str:
    return f"{{{node.namespace}}}{node.name}"


def _elements(value: object) -> list[Element]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, etree._Element)]
    return []


def _string(value: object) -> str:
    """XPath string() of an argument."""
    if isinstance(value, list):
        if not value:
            return ""
        first = value[0]
        return "".join(first.itertext()) if isinstance(first, etree._Element) else str(first)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def _values(value: object, node: SchemaNode, locator: Locator) -> Iterator[str]:
    """The normalized candidate values an argument stands for (any node of a node-set)."""
    kind = locator.kind_of(node)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, etree._Element):
                yield normalize("".join(item.itertext()), item, kind, locator.modules)
            else:
                parent = item.getparent() if hasattr(item, "getparent") else None
                yield normalize(str(item), parent if parent is not None else etree.Element("x"),
                                kind, locator.modules)
    else:
        yield normalize(_string(value), etree.Element("x"), kind, locator.modules)


def _product(choices: list[list[str]]) -> Iterator[tuple[str, ...]]:
    if not choices:
        yield ()
        return
    for first in dict.fromkeys(choices[0]):
        for rest in _product(choices[1:]):
            yield (first, *rest)


_XSD_CLASSES = {"\\i": "[A-Za-z_:]", "\\I": "[^A-Za-z_:]", "\\c": "[-.0-9:A-Z_a-z]",
                "\\C": "[^-.0-9:A-Z_a-z]"}


def _xsd_regex(pattern: str) -> re.Pattern[str]:
    r"""An XSD regular expression (W3C XML Schema Part 2, appendix F) as a Python one.

    ``^`` and ``$`` are ordinary characters outside character classes; ``\i`` / ``\c``
    name XML name characters (ASCII approximation); Unicode ``\p{..}`` is not supported.
    """
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            pair = pattern[index:index + 2]
            out.append(_XSD_CLASSES.get(pair, pair) if not in_class else pair)
            index += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char in "^$" and not (in_class and char == "^" and pattern[index - 1] == "["):
            char = "\\" + char
        out.append(char)
        index += 1
    return re.compile("".join(out), re.DOTALL)
