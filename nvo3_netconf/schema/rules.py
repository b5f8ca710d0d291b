"""The constraints of the compiled schema, read once from libyang for incremental checks.

:class:`Rules` walks every implemented module's compiled tree (libyang's ``lysc``) next to
the :class:`~nvo3_netconf.schema.nodes.SchemaTree` and records, per schema node, what
RFC 7950 makes the data obey: ``must`` (sec. 7.5.3) and ``when`` (sec. 7.21.5, with the
context node libyang computed for ``uses`` and ``augment``, and the ``when`` of enclosing
choices and cases), leafref paths and ``require-instance`` (sec. 9.9), instance-identifier
``require-instance`` (sec. 9.13), ``unique`` (sec. 7.8.3), ``min-elements`` /
``max-elements`` (sec. 7.7.5), mandatory leaves and choices (sec. 7.6.5, 7.9.4) seen
through non-presence containers (sec. 7.5.1), choice default cases (sec. 7.9.3), how
values compare (sec. 9) and the identity hierarchy (sec. 7.18.2). XPath expressions are
translated by :mod:`nvo3_netconf.schema.yang_xpath`; one that cannot be is listed in
:attr:`Rules.unsupported` and makes the validator fall back to full validation.

The libyang structures themselves are read in :mod:`nvo3_netconf.schema.lysc`.

Public names: :class:`Rules`, :class:`MustRule`, :class:`WhenRule`, :class:`LeafrefRule`,
:class:`ChoiceRule`, :class:`Requirement`, :class:`RequirementKind`, :data:`Rule`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from _libyang import ffi, lib

from nvo3_netconf.schema.context import YangContext
from nvo3_netconf.schema.instances import ValueKind
from nvo3_netconf.schema.lysc import (
    CData,
    default_case,
    derived_identities,
    expression_prefixes,
    node_whens,
    schema_children,
    sized,
    text,
)
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode, SchemaTree
from nvo3_netconf.schema.xpath_parser import XPathTranslationError
from nvo3_netconf.schema.yang_xpath import (
    Dependency,
    NodeRegistry,
    Translation,
    defaultable,
    translate,
)

_INTEGER_TYPES = frozenset({2, 3, 4, 5, 16, 17, 18, 19})  # LY_TYPE_UINT8.. / INT8..
_DATA = lib.LYS_CONTAINER | lib.LYS_LIST | lib.LYS_LEAF | lib.LYS_LEAFLIST | \
    lib.LYS_ANYXML | lib.LYS_ANYDATA


@dataclass(frozen=True)
class MustRule:
    """A ``must`` of a data node.

    Attributes:
        owner: the node whose instances it constrains.
        source: the expression as written.
        message: the model's error-message, or None.
        app_tag: the model's error-app-tag, or None.
        variants: translation ``k`` evaluates the rule on a virtual instance from the
            real node ``k`` levels above it (0: a real instance).
    """

    owner: SchemaNode
    source: str
    message: str | None
    app_tag: str | None
    variants: tuple[Translation, ...]


@dataclass(frozen=True)
class WhenRule:
    """A ``when`` conditioning the instances of ``owner``.

    Attributes:
        owner: the data node (for a choice's or case's ``when``: each data node in it).
        source: the expression as written.
        context: the schema of the context node (None: the root).
        real: the translation evaluated at the context instance.
        virtual: for a ``when`` on the node itself, the translation deciding whether a
            default instance exists, evaluated at its parent (None otherwise).
    """

    owner: SchemaNode
    source: str
    context: SchemaNode | None
    real: Translation
    virtual: Translation | None


@dataclass(frozen=True)
class LeafrefRule:
    """A leafref leaf or leaf-list (RFC 7950 sec. 9.9).

    Attributes:
        owner: the leafref node.
        source: the path as written.
        path: the path, a node-set translation evaluated with ``current()`` the leaf.
        keyed: the same path selecting only targets equal to ``current()`` when the
            target is a list's only key (one index lookup), else None.
        target: the target schema node, if it could be resolved.
        require_instance: RFC 7950 sec. 9.9.3.
        simple: the path is absolute without predicates (target found by value index).
    """

    owner: SchemaNode
    source: str
    path: Translation
    keyed: Translation | None
    target: SchemaNode | None
    require_instance: bool
    simple: bool


@dataclass(frozen=True)
class ChoiceRule:
    """A choice: its cases' data nodes and what an active case requires."""

    name: str
    mandatory: bool
    default_case: str | None
    cases: Mapping[str, tuple[SchemaNode, ...]]
    requirements: Mapping[str, tuple[Requirement, ...]]


class RequirementKind(StrEnum):
    """What a :class:`Requirement` asks of a parent instance."""

    MANDATORY = "mandatory"  # a mandatory leaf or anydata (RFC 7950 sec. 7.6.5)
    CHOICE = "choice"  # a choice: mandatory, or the requirements of its active case
    MIN_ELEMENTS = "min-elements"  # a list or leaf-list (sec. 7.7.5)
    CONTAINER = "container"  # a non-presence container: its own requirements apply


@dataclass(frozen=True)
class Requirement:
    """Something an instance of a parent must contain (RFC 7950 sec. 3 "mandatory node").

    Attributes:
        kind: what is required.
        node: the schema node (None for a choice).
        choice: the choice, for ``choice``.
        inner: a container's requirements.
    """

    kind: RequirementKind
    node: SchemaNode | None
    choice: ChoiceRule | None = None
    inner: tuple[Requirement, ...] = ()


Rule = MustRule | WhenRule | LeafrefRule
"""A rule whose XPath reads other nodes, re-evaluated when they change."""


@dataclass
class _Raw:
    """What pass 1 reads from libyang about one data node."""

    cnode: CData
    choices: list[tuple[ChoiceRule, str]] = field(default_factory=list)
    whens: list[tuple[CData, SchemaNode]] = field(default_factory=list)  # lysc_when, owner


class Rules:
    """Every constraint of the implemented modules, by schema node.

    Args:
        context: the compiled libyang context.
        schema: the schema view built from it.
    """

    def __init__(self, context: YangContext, schema: SchemaTree) -> None:
        self.schema = schema
        self.context_cdata = context.libyang.cdata
        self.registry = NodeRegistry()
        self.modules: dict[str, str] = {m.namespace: m.name for m in context.modules}
        self.module_order: dict[str, int] = {}
        self.musts: dict[SchemaNode, tuple[MustRule, ...]] = {}
        self.whens: dict[SchemaNode, tuple[WhenRule, ...]] = {}
        self.leafrefs: dict[SchemaNode, LeafrefRule] = {}
        self.instance_identifiers: list[SchemaNode] = []
        self.referrers: dict[SchemaNode, list[LeafrefRule]] = {}
        self.uniques: dict[SchemaNode, tuple[tuple[tuple[SchemaNode, ...], ...], ...]] = {}
        self.unique_leaves: dict[SchemaNode, list[SchemaNode]] = {}  # node in a chain -> lists
        self.min_elements: dict[SchemaNode, int] = {}
        self.max_elements: dict[SchemaNode, int] = {}
        self.requirements: dict[SchemaNode | str, tuple[Requirement, ...]] = {}
        self.choices: dict[SchemaNode, tuple[tuple[ChoiceRule, str], ...]] = {}
        self.kinds: dict[SchemaNode, ValueKind] = {}
        self.enums: dict[SchemaNode, dict[str, int]] = {}
        self.derived: dict[str, frozenset[str]] = {}
        self.order: dict[SchemaNode, int] = {}
        self.unsupported: list[tuple[SchemaNode, str, str]] = []
        self._by_cnode: dict[object, SchemaNode] = {}
        self._raw: dict[SchemaNode, _Raw] = {}
        self._leafref_targets: dict[SchemaNode, SchemaNode] = {}
        modules = []
        for info in context.modules:
            module = lib.ly_ctx_get_module_latest(context.libyang.cdata, info.name.encode())
            if module == ffi.NULL:
                continue
            self._read_identities(module)
            if info.implemented and module.compiled != ffi.NULL:
                self.module_order[info.name] = len(self.module_order)
                modules.append((info.name, module))
        for name, module in modules:
            self.requirements[name] = self._level(ffi.NULL, module.compiled, None, [])
        self._number_siblings()
        for node, raw in self._raw.items():
            self._read_leafref(node, raw)
        for node, raw in self._raw.items():
            self._read_musts(node, raw)
            self._readnode_whens(node, raw)
        self._raw.clear()
        self._implicit_musts: dict[SchemaNode, bool] = {}
        for root in schema.roots.values():
            self._mark_implicit_musts(root)

    def _mark_implicit_musts(self, node: SchemaNode) -> bool:
        below = False
        for child in node.children.values():
            below = self._mark_implicit_musts(child) or below
        mark = defaultable(node) and (node in self.musts or (
            node.kind is NodeKind.CONTAINER and below))
        self._implicit_musts[node] = mark
        return mark

    def has_implicit_musts(self, node: SchemaNode) -> bool:
        """True if an implicit instance of ``node`` (or below it) carries a ``must``."""
        return self._implicit_musts.get(node, False)

    def is_defaultable(self, node: SchemaNode) -> bool:
        """True if the accessible tree may hold ``node`` without it being stored."""
        return defaultable(node)

    def requires(self, node: SchemaNode) -> bool:
        """True if ``node`` takes part in a mandatory or min-elements requirement."""
        return node.mandatory or node in self.min_elements or any(
            choice.mandatory for choice, _ in self.choices.get(node, ()))

    # ------------------------------------------------------------------ walking
    def _level(
        self, cparent: CData, module: CData, parent: SchemaNode | None,
        choices: list[tuple[ChoiceRule, str]],
    ) -> tuple[Requirement, ...]:
        """Read the data children of one parent (through choices); their requirements."""
        requirements: list[Requirement] = []
        for cnode in schema_children(cparent, module, lib.LYS_GETNEXT_WITHCHOICE):
            if cnode.nodetype == lib.LYS_CHOICE:
                if int(cnode.flags) & lib.LYS_CONFIG_R:
                    continue
                choice = self._choice(cnode, parent, choices)
                requirements.append(Requirement(RequirementKind.CHOICE, None, choice))
                continue
            if not cnode.nodetype & _DATA or int(cnode.flags) & lib.LYS_CONFIG_R:
                continue
            key = (text(cnode.module.ns), text(cnode.name))
            node = parent.children.get(key) if parent is not None else self.schema.roots.get(key)
            if node is None:
                continue
            requirements.extend(self._node(cnode, node, choices))
        return tuple(requirements)

    def _choice(
        self, cchoice: CData, parent: SchemaNode | None,
        choices: list[tuple[ChoiceRule, str]],
    ) -> ChoiceRule:
        name = text(cchoice.name)
        cases: dict[str, tuple[SchemaNode, ...]] = {}
        requirements: dict[str, tuple[Requirement, ...]] = {}
        rule = ChoiceRule(name, bool(int(cchoice.flags) & lib.LYS_MAND_TRUE),
                          default_case(cchoice), cases, requirements)
        for ccase in schema_children(cchoice, ffi.NULL, lib.LYS_GETNEXT_WITHCASE):
            case = text(ccase.name)
            before = set(self._raw)
            inner = [*choices, (rule, case)]
            requirements[case] = self._level(ccase, ffi.NULL, parent, inner)
            cases[case] = tuple(n for n in self._raw if n not in before and n.parent is parent)
            for node in cases[case]:
                self._raw[node].whens[:0] = [(w, node) for w in node_whens(ccase)]
            self._raw_choicenode_whens(cchoice, cases[case])
        return rule

    def _raw_choicenode_whens(self, cchoice: CData, nodes: tuple[SchemaNode, ...]) -> None:
        for node in nodes:
            self._raw[node].whens[:0] = [(w, node) for w in node_whens(cchoice)]

    def _node(
        self, cnode: CData, node: SchemaNode, choices: list[tuple[ChoiceRule, str]]
    ) -> list[Requirement]:
        self._by_cnode[cnode] = node
        raw = self._raw[node] = _Raw(cnode, list(choices))
        raw.whens.extend((w, node) for w in node_whens(cnode))
        if choices:
            self.choices[node] = tuple(choices)
        requirements: list[Requirement] = []
        kind = node.kind
        if kind in (NodeKind.CONTAINER, NodeKind.LIST):
            inner = self._level(cnode, ffi.NULL, node, [])
            self.requirements[node] = inner
            if kind is NodeKind.CONTAINER and not node.presence and inner:
                requirements.append(Requirement(RequirementKind.CONTAINER, node, None, inner))
        if kind is NodeKind.LIST:
            clist = ffi.cast("struct lysc_node_list *", cnode)
            self._limits(node, int(clist.min), int(clist.max))
            self._read_uniques(node, clist)
        elif kind is NodeKind.LEAF_LIST:
            cleaflist = ffi.cast("struct lysc_node_leaflist *", cnode)
            self._limits(node, int(cleaflist.min), int(cleaflist.max))
            self._read_type(node, cleaflist.type)
        elif kind is NodeKind.LEAF:
            self._read_type(node, ffi.cast("struct lysc_node_leaf *", cnode).type)
        if node.mandatory and kind in (NodeKind.LEAF, NodeKind.ANYDATA, NodeKind.ANYXML):
            requirements.append(Requirement(RequirementKind.MANDATORY, node))
        if self.min_elements.get(node):
            requirements.append(Requirement(RequirementKind.MIN_ELEMENTS, node))
        return requirements

    def _limits(self, node: SchemaNode, minimum: int, maximum: int) -> None:
        if minimum:
            self.min_elements[node] = minimum
        if maximum and maximum < 0xFFFFFFFF:
            self.max_elements[node] = maximum

    def _number_siblings(self) -> None:
        """Schema order among siblings (libyang keeps data siblings in that order)."""
        per_module: dict[str, int] = {}
        for root in self.schema.roots.values():
            self.order[root] = per_module.get(root.module, 0)
            per_module[root.module] = self.order[root] + 1
        for root in self.schema.roots.values():
            for node in root.walk():
                for index, child in enumerate(node.children.values()):
                    self.order[child] = index

    # -------------------------------------------------------------------- types
    def _read_type(self, node: SchemaNode, ctype: CData) -> None:
        basetype = int(ctype.basetype)
        if basetype == lib.LY_TYPE_LEAFREF:
            leafref = ffi.cast("struct lysc_type_leafref *", ctype)
            basetype = int(leafref.realtype.basetype)
        if basetype in _INTEGER_TYPES:
            self.kinds[node] = ValueKind.INTEGER
        elif basetype == lib.LY_TYPE_DEC64:
            self.kinds[node] = ValueKind.DECIMAL
        elif basetype == lib.LY_TYPE_IDENT:
            self.kinds[node] = ValueKind.IDENTITY
        elif basetype == lib.LY_TYPE_ENUM:
            enum = ffi.cast("struct lysc_type_enum *", ctype)
            items = enum.enums
            if items != ffi.NULL:
                count = sized(items)
                self.enums[node] = {
                    text(items[i].name): int(items[i].value) for i in range(count)
                }
        elif basetype == lib.LY_TYPE_INST:
            instid = ffi.cast("struct lysc_type_instanceid *", ctype)
            if instid.require_instance:
                self.instance_identifiers.append(node)

    def all_translations(self) -> Iterator[Translation]:
        """Every translated expression (to compile them up front)."""
        for musts in self.musts.values():
            for must in musts:
                yield from must.variants
        for whens in self.whens.values():
            for when in whens:
                yield when.real
                if when.virtual is not None:
                    yield when.virtual
        for leafref in self.leafrefs.values():
            yield leafref.path
            if leafref.keyed is not None:
                yield leafref.keyed

    def dependent_rules(self) -> Iterator[tuple[Rule, tuple[Dependency, ...] | None]]:
        """``(rule, dependencies)`` for every must, when and leafref."""
        for musts in self.musts.values():
            for must in musts:
                yield must, must.variants[0].dependencies
        for whens in self.whens.values():
            for when in whens:
                yield when, when.real.dependencies
        for leafref in self.leafrefs.values():
            if leafref.require_instance:
                yield leafref, leafref.path.dependencies

    def kind_of(self, node: SchemaNode) -> ValueKind:
        """How the values of a leaf or leaf-list compare."""
        return self.kinds.get(node, ValueKind.TEXT)

    def _read_uniques(self, node: SchemaNode, clist: CData) -> None:
        uniques = clist.uniques
        if uniques == ffi.NULL:
            return
        specs: list[tuple[tuple[SchemaNode, ...], ...]] = []
        for i in range(sized(uniques)):
            leaves = uniques[i]
            chains: list[tuple[SchemaNode, ...]] = []
            for j in range(sized(leaves)):
                chain = _path_from(node, ffi.cast("struct lysc_node *", leaves[j]))
                if chain is None:
                    return
                chains.append(chain)
                for member in chain:
                    if node not in self.unique_leaves.setdefault(member, []):
                        self.unique_leaves[member].append(node)
            specs.append(tuple(chains))
        self.uniques[node] = tuple(specs)

    def _read_identities(self, module: CData) -> None:
        direct = derived_identities(module)
        for name in direct or ():
            self.derived[name] = frozenset(_closure(name, direct or {}, self.derived))

    # -------------------------------------------------------------- expressions
    def _prefixes(self, cprefixes: CData, node: SchemaNode) -> tuple[dict[str, str], str]:
        """The prefixes of an expression, and the namespace of unprefixed names.

        Unprefixed names belong to the module of the node the expression is on, also in
        a grouping used by another module (RFC 7950 sec. 6.4.1; libyang's ``cur_mod``).
        """
        prefixes = expression_prefixes(cprefixes)
        return prefixes, node.namespace

    def _translate(
        self, text: str, cprefixes: CData, node: SchemaNode, context: SchemaNode | None,
        *, levels: tuple[SchemaNode, ...] = (), as_boolean: bool = True,
        default: str | None = None,
    ) -> Translation:
        prefixes, own = self._prefixes(cprefixes, node)
        default = default or own
        return translate(
            text, roots=self.schema.roots, prefixes=prefixes, default_namespace=default,
            context=context, registry=self.registry, identity_module=self.modules,
            leafref_targets=self._leafref_targets, levels=levels, as_boolean=as_boolean,
        )

    def _read_leafref(self, node: SchemaNode, raw: _Raw) -> None:
        if node.kind not in (NodeKind.LEAF, NodeKind.LEAF_LIST):
            return
        ctype = ffi.cast("struct lysc_node_leaf *", raw.cnode).type if node.kind is \
            NodeKind.LEAF else ffi.cast("struct lysc_node_leaflist *", raw.cnode).type
        if int(ctype.basetype) != lib.LY_TYPE_LEAFREF:
            return
        leafref = ffi.cast("struct lysc_type_leafref *", ctype)
        source = text(lib.lyxp_get_expr(leafref.path))
        default = text(leafref.cur_mod.ns) if leafref.cur_mod != ffi.NULL else None
        try:
            path = self._translate(source, leafref.prefixes, node, node, as_boolean=False,
                                   default=default)
        except XPathTranslationError as error:
            self.unsupported.append((node, source, str(error)))
            return
        target = path.result
        keyed = None
        if target is not None and target.is_key and target.parent is not None \
                and len(target.parent.keys) == 1 and "[" not in source:
            head, _, last = source.rpartition("/")
            try:
                keyed = self._translate(f"{head}[{last} = current()]/{last}", leafref.prefixes,
                                        node, node, as_boolean=False, default=default)
            except XPathTranslationError:
                keyed = None
        simple = source.startswith("/") and "[" not in source
        rule = LeafrefRule(node, source, path, keyed, target, bool(leafref.require_instance),
                           simple)
        self.leafrefs[node] = rule
        if target is not None:
            self._leafref_targets[node] = target
            if rule.require_instance:
                self.referrers.setdefault(target, []).append(rule)

    def _read_musts(self, node: SchemaNode, raw: _Raw) -> None:
        if node.kind is NodeKind.ANYXML or node.kind is NodeKind.ANYDATA:
            return
        musts = lib.lysc_node_musts(raw.cnode)
        if musts == ffi.NULL:
            return
        chain = _virtual_chain(node)
        rules: list[MustRule] = []
        for i in range(sized(musts)):
            must = musts[i]
            source = text(lib.lyxp_get_expr(must.cond))
            try:
                variants = [self._translate(source, must.prefixes, node, node)]
                for k in range(1, len(chain) + 1):
                    top = chain[-k].parent
                    variants.append(self._translate(source, must.prefixes, node, top,
                                                    levels=tuple(chain[-k:])))
            except XPathTranslationError as error:
                self.unsupported.append((node, source, str(error)))
                continue
            rules.append(MustRule(
                node, source,
                text(must.emsg) or None,
                text(must.eapptag) or None,
                tuple(variants),
            ))
        if rules:
            self.musts[node] = tuple(rules)

    def _readnode_whens(self, node: SchemaNode, raw: _Raw) -> None:
        rules: list[WhenRule] = []
        for cwhen, owner in raw.whens:
            source = text(lib.lyxp_get_expr(cwhen.cond))
            cnode = cwhen.context
            context = self._by_cnode.get(cnode) if cnode != ffi.NULL else None
            try:
                real = self._translate(source, cwhen.prefixes, owner, context)
                virtual = None
                if context is owner:
                    virtual = self._translate(source, cwhen.prefixes, owner, owner.parent,
                                              levels=(owner,))
            except XPathTranslationError as error:
                self.unsupported.append((owner, source, str(error)))
                continue
            rules.append(WhenRule(owner, source, context, real, virtual))
        if rules:
            self.whens[node] = tuple(rules)


def _closure(name: str, direct: Mapping[str, list[str]], done: Mapping[str, frozenset[str]]) \
        -> set[str]:
    found: set[str] = set()
    stack = list(direct.get(name, ()))
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        if current in done:
            found |= done[current]
        else:
            stack.extend(direct.get(current, ()))
    return found


def _path_from(top: SchemaNode, cleaf: CData) -> tuple[SchemaNode, ...] | None:
    """The schema nodes from below list ``top`` down to the unique leaf ``cleaf``."""
    names: list[tuple[str, str]] = []
    cnode = cleaf
    while cnode != ffi.NULL:
        if cnode.nodetype & _DATA:
            key = (text(cnode.module.ns),
                   text(cnode.name))
            if key == top.qname and len(names) > 0:
                break
            names.append(key)
        cnode = cnode.parent
    chain: list[SchemaNode] = []
    current = top
    for key in reversed(names):
        child = current.children.get(key)
        if child is None:
            return None
        chain.append(child)
        current = child
    return tuple(chain)


def _virtual_chain(node: SchemaNode) -> list[SchemaNode]:
    """The defaultable nodes from ``node`` up (it, then non-presence containers above).

    A ``must`` on such a node is evaluated on its implicit instances too.
    """
    chain: list[SchemaNode] = []
    current: SchemaNode | None = node
    while current is not None and current.config and (
        (current.kind is NodeKind.CONTAINER and not current.presence)
        or (current.kind in (NodeKind.LEAF, NodeKind.LEAF_LIST) and current.defaults
            and not chain)
    ):
        chain.insert(0, current)
        current = current.parent
    return chain
