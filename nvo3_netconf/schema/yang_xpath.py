"""YANG XPath 1.0 expressions (RFC 7950 sec. 6.4, 10) translated for lxml, with their inputs.

``must`` (sec. 7.5.3), ``when`` (sec. 7.21.5) and leafref ``path`` (sec. 9.9.2) are XPath 1.0
evaluated on YANG's accessible tree (sec. 6.4.1). :func:`translate` parses one expression
and rewrites it so that libxml2, through lxml, evaluates it on the datastore's lxml tree:

- The root. Absolute paths start at the variable ``$root``, bound to the ``<data>``
  element whose children are the top-level nodes (the approach of
  :func:`nvo3_netconf.protocol.xpath.anchor_absolute_paths`, redone here on the parsed
  expression because the schema layer may not import the protocol layer).
- Names. Prefixes are those of the module defining the expression (libyang's resolved
  prefix list); unprefixed names belong to the module of the current node (sec. 6.4.1);
  both are rewritten to prefixes of our own, bound to the namespaces.
- Defaults. The accessible tree holds default leaves and leaf-lists and non-presence
  containers (sec. 6.4.1, 7.6.1, 7.7.2, 7.5.1), which the stored tree does not. A child
  step to such a node becomes ``yx:dflt(<path so far>, <id>)``, a function returning the
  real children or, when there are none, virtual ones built from the schema.
- Functions. ``current()`` (sec. 10.1.1) becomes ``$current``; ``deref()``,
  ``derived-from()``, ``derived-from-or-self()``, ``re-match()``, ``enum-value()`` and
  ``bit-is-set()`` (sec. 10.2 to 10.6) become ``yx:`` extension functions.
- Keyed lookups. A list step whose predicates compare every key with a value that does
  not depend on the entry (``list[name = current()/../ref]``) becomes
  ``yx:entries(<parents>, <id>, <key values>...)``, answered from an index rather than
  by scanning the list.

The translation also says which schema nodes the expression reads (:class:`Dependency`),
so a constraint is re-evaluated only when one of them changes, and only on the instances
that can see the change. Constructs whose inputs cannot be named (``//``, ``*``, axes
other than child / parent / self, unknown names) make the dependencies unknown.

Public names: :func:`translate`, :class:`Translation`, :class:`Dependency`,
:class:`XPathTranslationError`, :data:`FUNCTIONS_NS`, :class:`NodeRegistry`,
:func:`defaultable`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nvo3_netconf.schema.nodes import NodeKind, SchemaNode
from nvo3_netconf.schema.xpath_parser import (
    Binary,
    Call,
    Literal,
    Negate,
    Number,
    Path,
    Step,
    XPathTranslationError,
    parse,
)

FUNCTIONS_NS = "urn:nvo3-netconf:xpath-functions"
"""Namespace of our extension functions (prefix ``yx`` in translated expressions)."""

YangXPath = str
"""An XPath 1.0 expression as written in a YANG module (RFC 7950 sec. 6.4)."""

_XPATH_FUNCTIONS = frozenset({
    "last", "position", "count", "id", "local-name", "namespace-uri", "name", "string",
    "concat", "starts-with", "contains", "substring-before", "substring-after", "substring",
    "string-length", "normalize-space", "translate", "boolean", "not", "true", "false",
    "lang", "number", "sum", "floor", "ceiling", "round",
})
_YANG_FUNCTIONS = frozenset({
    "deref", "derived-from", "derived-from-or-self", "re-match", "enum-value", "bit-is-set",
})
_DEFAULTABLE_KINDS = (NodeKind.LEAF, NodeKind.LEAF_LIST, NodeKind.CONTAINER)


@dataclass(frozen=True)
class Dependency:
    """A schema node an expression reads, and how far from the context it looks.

    Attributes:
        node: the schema node read (the last step of a path).
        pivot: the highest ancestor-or-self of the context node's schema that the path
            passes through; only instances under the same pivot instance see a change.
            None when the path starts at the root (or goes through ``deref()``).
        subtree: the node's whole content matters (it is not a leaf or leaf-list).
    """

    node: SchemaNode
    pivot: SchemaNode | None
    subtree: bool


class NodeRegistry:
    """Numbers schema nodes so translated expressions can name them in function calls."""

    def __init__(self) -> None:
        self._ids: dict[SchemaNode, int] = {}
        self.nodes: list[SchemaNode] = []

    def id_of(self, node: SchemaNode) -> int:
        """The number of ``node``, assigned on first use."""
        known = self._ids.get(node)
        if known is None:
            known = self._ids[node] = len(self.nodes)
            self.nodes.append(node)
        return known


@dataclass(frozen=True)
class Translation:
    """An expression rewritten for lxml.

    Attributes:
        source: the expression as written in the module.
        text: the lxml expression (uses ``$root``, ``$current`` and ``yx:`` functions).
        namespaces: prefix -> namespace for ``text``.
        dependencies: the schema nodes read, or None when they cannot be named.
        result: the schema node a path expression selects, if known (leafref paths).
    """

    source: YangXPath
    text: str
    namespaces: Mapping[str, str]
    dependencies: tuple[Dependency, ...] | None
    result: SchemaNode | None = None


# ----------------------------------------------------------------------- translation
_ROOT = "/"  # the position of the root node
Position = SchemaNode | str | None  # a schema node, _ROOT, or None when unknown


@dataclass
class _Walk:
    """Where a path being translated is: its text so far, schema position, pivot."""

    text: str
    position: Position
    pivot: Position
    pending: list[SchemaNode] = field(default_factory=list)


class _Translator:
    def __init__(
        self,
        *,
        roots: Mapping[tuple[str, str], SchemaNode],
        prefixes: Mapping[str, str],
        default_namespace: str,
        context: Position,
        levels: Sequence[SchemaNode],
        registry: NodeRegistry,
        identity_module: Mapping[str, str],
        leafref_targets: Mapping[SchemaNode, SchemaNode],
    ) -> None:
        self.roots = roots
        self.prefixes = prefixes
        self.default_namespace = default_namespace
        self.context = context  # the real context node's schema
        self.levels = list(levels)  # virtual descents from it to the true context node
        self.current = (context, self.levels)  # what current() stands for (sec. 10.1.1)
        self.base_pivot: Position = None  # the outer path's pivot, inside a predicate
        self.leafref_targets = leafref_targets
        self.registry = registry
        self.identity_module = identity_module  # namespace -> module name
        self.aliases: dict[str, str] = {}
        self.dependencies: list[Dependency] = []
        self.unknown = False

    # -- names
    def alias(self, namespace: str) -> str:
        alias = self.aliases.get(namespace)
        if alias is None:
            alias = self.aliases[namespace] = f"n{len(self.aliases)}"
        return alias

    def qname(self, test: str) -> tuple[str, str]:
        prefix, _, local = test.rpartition(":")
        if not prefix:
            return self.default_namespace, local
        namespace = self.prefixes.get(prefix)
        if namespace is None:
            raise XPathTranslationError(f"prefix {prefix!r} is not declared")
        return namespace, local

    # -- expressions
    def expr(self, node: object) -> str:
        if isinstance(node, Literal):
            quote = "'" if "'" not in node.value else '"'
            return f"{quote}{node.value}{quote}"
        if isinstance(node, Number):
            return node.text
        if isinstance(node, Negate):
            return f"-({self.expr(node.operand)})"
        if isinstance(node, Binary):
            return f"({self.expr(node.left)} {node.op} {self.expr(node.right)})"
        if isinstance(node, Call):
            return self.call(node)[0]
        assert isinstance(node, Path)
        return self.path(node).text

    def call(self, node: Call) -> tuple[str, _Walk | None]:
        """The call's text, and where it leaves a path if it yields schema nodes."""
        name, args = node.name, node.args
        if name == "":
            return f"({self.expr(args[0])})", None
        if name == "current":
            walk = self.start("$current")
            self.materialize(walk)
            self.depend(walk)
            return walk.text, walk
        if name == "deref":
            inner = self.path_of(args[0])
            target = self.leafref_targets.get(inner.position) if isinstance(
                inner.position, SchemaNode) else None
            walk = _Walk(f"yx:deref({inner.text})", target, _ROOT)
            if target is not None:
                self.dependencies.append(Dependency(target, None, False))
            else:
                self.unknown = True
            return walk.text, walk
        if name in ("derived-from", "derived-from-or-self"):
            if len(args) != 2 or not isinstance(args[1], Literal):
                raise XPathTranslationError(f"{name}() needs a literal identity")
            namespace, local = self.qname(args[1].value)
            module = self.identity_module.get(namespace)
            if module is None:
                raise XPathTranslationError(f"no module for identity {args[1].value!r}")
            self_too = "true()" if name.endswith("or-self") else "false()"
            return (f"yx:derived-from({self.expr(args[0])}, '{module}:{local}', {self_too})",
                    None)
        if name in _YANG_FUNCTIONS:
            return f"yx:{name}({', '.join(self.expr(a) for a in args)})", None
        if name not in _XPATH_FUNCTIONS:
            raise XPathTranslationError(f"unknown function {name}()")
        return f"{name}({', '.join(self.expr(a) for a in args)})", None

    def path_of(self, node: object) -> _Walk:
        if isinstance(node, Path):
            return self.path(node)
        if isinstance(node, Call):
            text, walk = self.call(node)
            return walk or _Walk(text, None, None)
        return _Walk(self.expr(node), None, None)

    def start(self, text: str) -> _Walk:
        """A walk at the context node (``.``) or at ``current()``, virtual levels pending."""
        if text == "$current":
            context, levels = self.current
            pivot: Position = levels[-1] if levels else context
        else:
            context, levels = self.context, self.levels
            pivot = _higher(levels[-1] if levels else context, self.base_pivot) \
                if self.base_pivot is not None else (levels[-1] if levels else context)
        position = levels[-1] if levels else context
        return _Walk(text, position, pivot, list(levels))

    def materialize(self, walk: _Walk) -> None:
        """Descend through the pending virtual levels (``yx:dflt`` calls)."""
        for level in walk.pending:
            walk.text = f"yx:dflt({walk.text}, {self.registry.id_of(level)})"
        walk.pending = []

    def path(self, node: Path) -> _Walk:
        if node.absolute:
            walk = _Walk("$root", _ROOT, _ROOT)
        elif node.primary is not None and not (
                isinstance(node.primary, Call) and node.primary.name == "current"
                and not node.filters):
            text, inner = self.call(node.primary) if isinstance(node.primary, Call) else (
                self.expr(node.primary), None)
            walk = inner or _Walk(text, None, None)
            if node.filters:
                self.materialize(walk)
                walk.text = f"({walk.text})" + "".join(
                    f"[{self.predicate(f, walk.position, walk.pivot)}]" for f in node.filters
                )
        elif isinstance(node.primary, Call) and node.primary.name == "current" \
                and not node.filters:
            walk = self.start("$current")
        else:
            walk = self.start(".")
        for step in node.steps:
            self.step(walk, step)
        if node.steps or node.primary is None:
            self.materialize(walk)
            self.depend(walk)
        return walk

    def depend(self, walk: _Walk) -> None:
        position = walk.position
        if isinstance(position, SchemaNode):
            subtree = position.kind not in (NodeKind.LEAF, NodeKind.LEAF_LIST)
            pivot = walk.pivot if isinstance(walk.pivot, SchemaNode) else None
            self.dependencies.append(Dependency(position, pivot, subtree))
        else:
            self.unknown = True

    def step(self, walk: _Walk, step: Step) -> None:
        if step.axis == "parent" and step.test == "node()" and not step.predicates:
            if walk.pending:
                walk.pending.pop()
                # Pending levels exist only for walks from the (virtual) context node
                # or current(), which start at the same real node.
                walk.position = walk.pending[-1] if walk.pending else self.current[0]
            else:
                walk.text = _join(walk.text, "..")
                walk.position = _parent(walk.position)
            walk.pivot = _higher(walk.pivot, walk.position)
            return
        if step.axis == "self" and step.test == "node()" and not step.predicates:
            return
        self.materialize(walk)
        if step.axis != "child" or step.test in ("*", "node()") or step.test.endswith(":*"):
            walk.text = _join(walk.text, self.raw_step(step, None))
            walk.position = walk.position if step.test == "text()" else None
            if step.test != "text()":
                self.unknown = True
            return
        namespace, local = self.qname(step.test)
        child = _child(self.roots, walk.position, namespace, local)
        parent_position, parent_pivot = walk.position, walk.pivot
        walk.position = child
        if child is None:
            self.unknown = True
        keyed = self.keyed(walk, child, step, parent_position, parent_pivot)
        if keyed is not None:
            walk.text = keyed
        elif child is not None and defaultable(child):
            preds = "".join(f"[{self.predicate(p, child, walk.pivot)}]" for p in step.predicates)
            walk.text = f"yx:dflt({walk.text}, {self.registry.id_of(child)}){preds}"
        else:
            walk.text = _join(walk.text, self.raw_step(step, child, namespace, local, walk.pivot))

    def raw_step(
        self, step: Step, child: Position, namespace: str = "", local: str = "",
        pivot: Position = None,
    ) -> str:
        if namespace:
            test = f"{self.alias(namespace)}:{local}"
        elif ":" in step.test and not step.test.endswith("()"):
            prefix, _, rest = step.test.partition(":")
            test = f"{self.alias(self.qname(prefix + ':x')[0])}:{rest}"
        else:
            test = step.test
        axis = "" if step.axis == "child" else "@" if step.axis == "attribute" else \
            f"{step.axis}::"
        preds = "".join(f"[{self.predicate(p, child, pivot)}]" for p in step.predicates)
        return f"{axis}{test}{preds}"

    def predicate(self, node: object, position: Position, pivot: Position) -> str:
        """A predicate's text; its relative paths start at ``position``.

        Those paths see the instance the outer path reached, so their pivot is no lower
        than the outer path's (``pivot``); paths from ``current()`` keep their own.
        """
        saved = (self.context, self.levels, self.base_pivot)
        self.context, self.levels = position, []
        self.base_pivot = pivot if pivot is not None else _ROOT
        try:
            return self.expr(node)
        finally:
            self.context, self.levels, self.base_pivot = saved

    def keyed(
        self, walk: _Walk, child: SchemaNode | None, step: Step, parent: Position,
        pivot: Position,
    ) -> str | None:
        """``yx:entries(...)`` for a list step selecting one entry by all its keys."""
        if child is None or child.kind is not NodeKind.LIST or not child.keys:
            return None
        values: dict[str, object] = {}
        rest: list[object] = []
        for predicate in step.predicates:
            for term in _conjuncts(predicate):
                key = self.key_term(term, child)
                if key is None or key[0] in values:
                    rest.append(term)
                else:
                    values[key[0]] = key[1]
        if set(values) != set(child.keys):
            return None
        args = ", ".join(self.expr(values[k]) for k in child.keys)
        self.dependencies.extend(
            Dependency(child.children[(child.namespace, k)], _pivot_of(pivot), False)
            for k in child.keys
        )
        text = f"yx:entries({walk.text}, {self.registry.id_of(child)}, {args})"
        if rest:
            text += "".join(f"[{self.predicate(t, child, pivot)}]" for t in rest)
        return text

    def key_term(self, term: object, entry: SchemaNode) -> tuple[str, object] | None:
        """``(key, value expression)`` when ``term`` is ``key = value`` (either order)."""
        if not isinstance(term, Binary) or term.op != "=":
            return None
        for side, other in ((term.left, term.right), (term.right, term.left)):
            if (isinstance(side, Path) and not side.absolute and side.primary is None
                    and len(side.steps) == 1 and side.steps[0].axis == "child"
                    and not side.steps[0].predicates and _context_free(other)):
                namespace, local = self.qname(side.steps[0].test)
                if namespace == entry.namespace and local in entry.keys:
                    return local, other
        return None


def _conjuncts(node: object) -> list[object]:
    if isinstance(node, Binary) and node.op == "and":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _context_free(node: object) -> bool:
    """True if ``node`` does not depend on the context node (the list entry)."""
    if isinstance(node, Literal | Number):
        return True
    if isinstance(node, Path):
        if node.absolute:
            return True
        return isinstance(node.primary, Call) and node.primary.name == "current"
    if isinstance(node, Call):
        return node.name == "current" or (
            node.name not in ("position", "last", "")
            and all(_context_free(a) for a in node.args) and bool(node.args)
        )
    return False


def _join(text: str, step: str) -> str:
    return step if text == "." else f"{text}/{step}"


def _parent(position: Position) -> Position:
    if isinstance(position, SchemaNode):
        return position.parent if position.parent is not None else _ROOT
    return None


def _depth(position: Position) -> int:
    if position == _ROOT:
        return 0
    if not isinstance(position, SchemaNode):
        return -1
    depth = 1
    node = position.parent
    while node is not None:
        depth += 1
        node = node.parent
    return depth


def _higher(a: Position, b: Position) -> Position:
    """The shallower of two positions (unknown and root win)."""
    if a is None or b is None:
        return None
    return a if _depth(a) <= _depth(b) else b


def _pivot_of(position: Position) -> SchemaNode | None:
    return position if isinstance(position, SchemaNode) else None


def _child(
    roots: Mapping[tuple[str, str], SchemaNode], position: Position, namespace: str, local: str
) -> SchemaNode | None:
    if position == _ROOT:
        return roots.get((namespace, local))
    if isinstance(position, SchemaNode):
        return position.children.get((namespace, local))
    return None


def defaultable(node: SchemaNode) -> bool:
    """True if the accessible tree may hold the node without it being stored."""
    if not node.config or node.kind not in _DEFAULTABLE_KINDS:
        return False
    if node.kind is NodeKind.CONTAINER:
        return not node.presence
    return bool(node.defaults)


def translate(
    expression: YangXPath,
    *,
    roots: Mapping[tuple[str, str], SchemaNode],
    prefixes: Mapping[str, str],
    default_namespace: str,
    context: SchemaNode | None,
    registry: NodeRegistry,
    identity_module: Mapping[str, str],
    leafref_targets: Mapping[SchemaNode, SchemaNode],
    levels: Sequence[SchemaNode] = (),
    as_boolean: bool = True,
) -> Translation:
    """Translate one YANG XPath expression for lxml.

    Args:
        expression: the expression as written in the module.
        roots: the top-level schema nodes by ``(namespace, name)``.
        prefixes: the expression's prefixes (from the module that defines it).
        default_namespace: the namespace of unprefixed names (sec. 6.4.1).
        context: the schema of the node the expression is evaluated on (None: root).
        registry: numbers the schema nodes named in ``yx:`` calls.
        identity_module: namespace -> module name, for identity literals.
        leafref_targets: leafref schema node -> target schema node (for ``deref()``).
        levels: when the context node is virtual (an implicit non-presence container or
            default leaf), the schema nodes from the real node the evaluation starts at
            down to it; ``context`` is then that real node's schema.
        as_boolean: wrap the result in ``boolean()`` (must, when) or keep a node-set.

    Returns:
        The translation.

    Raises:
        XPathTranslationError: the expression cannot be parsed or translated.
    """
    tree = parse(expression)
    translator = _Translator(
        roots=roots, prefixes=prefixes, default_namespace=default_namespace,
        context=context if context is not None else _ROOT, levels=levels,
        registry=registry, identity_module=identity_module, leafref_targets=leafref_targets,
    )
    walk = translator.path_of(tree)
    text = f"boolean({walk.text})" if as_boolean else walk.text
    namespaces = {alias: uri for uri, alias in translator.aliases.items()}
    namespaces["yx"] = FUNCTIONS_NS
    result = walk.position if isinstance(walk.position, SchemaNode) else None
    deps = None if translator.unknown else tuple(dict.fromkeys(translator.dependencies))
    return Translation(expression, text, namespaces, deps, result)
