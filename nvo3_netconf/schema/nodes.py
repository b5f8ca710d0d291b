"""A compact, immutable view of the compiled schema tree for the datastore code.

The edit-config engine (RFC 6241 sec. 7.2), the filters and the with-defaults logic
(RFC 6243) need to know, for an element met in XML, what it is in YANG: container or
list (and its keys, RFC 7950 sec. 7.8.2), leaf-list, leaf with a default, presence,
``ordered-by user`` (sec. 7.7.7), ``config false`` (sec. 7.21.1), and to which choice
and case it belongs (sec. 7.9: creating a node of one case removes the others).
:class:`SchemaTree` builds that view once from libyang, so the hot paths look up plain
Python objects by ``(namespace, name)`` and never call into libyang.

Public classes: :class:`NodeKind`, :class:`SchemaNode`, :class:`SchemaTree`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from _libyang import ffi, lib

from nvo3_netconf.schema.context import YangContext

QName = tuple[str, str]
"""``(namespace, local-name)`` of an XML element (RFC 7950 sec. 7.1.3 namespace)."""


class NodeKind(StrEnum):
    """The YANG statement a schema node comes from (RFC 7950 sec. 7)."""

    CONTAINER = "container"
    LIST = "list"
    LEAF = "leaf"
    LEAF_LIST = "leaf-list"
    ANYXML = "anyxml"
    ANYDATA = "anydata"
    RPC = "rpc"
    ACTION = "action"
    NOTIFICATION = "notification"
    INPUT = "input"
    OUTPUT = "output"


_KINDS = {
    lib.LYS_CONTAINER: NodeKind.CONTAINER,
    lib.LYS_LIST: NodeKind.LIST,
    lib.LYS_LEAF: NodeKind.LEAF,
    lib.LYS_LEAFLIST: NodeKind.LEAF_LIST,
    lib.LYS_ANYXML: NodeKind.ANYXML,
    lib.LYS_ANYDATA: NodeKind.ANYDATA,
    lib.LYS_RPC: NodeKind.RPC,
    lib.LYS_ACTION: NodeKind.ACTION,
    lib.LYS_NOTIF: NodeKind.NOTIFICATION,
    lib.LYS_INPUT: NodeKind.INPUT,
    lib.LYS_OUTPUT: NodeKind.OUTPUT,
}


@dataclass(eq=False)
class SchemaNode:
    """One data, rpc or notification node of the compiled schema.

    Attributes:
        name: the node's identifier.
        namespace: namespace of the module defining the node.
        module: name of that module.
        prefix: that module's prefix (used in error-paths).
        kind: which YANG statement defines it.
        config: False for ``config false`` nodes (state data).
        keys: local names of a list's keys, in order (same namespace as the list).
        ordered_by_user: ``ordered-by user`` list or leaf-list.
        presence: a presence container.
        mandatory: ``mandatory true`` leaf, choice or anydata.
        defaults: canonical default value(s) of a leaf or leaf-list.
        default_namespaces: prefix -> namespace for identityref defaults.
        choices: ``((choice, case), ...)`` from the nearest data ancestor down to it.
        prefixed_value: the leaf's value may name XML namespace prefixes (identityref,
            instance-identifier, or a union holding one, RFC 7950 sec. 9.10.3, 9.13.2).
        path_value: the value may be an instance-identifier or an XPath expression
            (``yang:xpath1.0``, NACM's ``node-instance-identifier``), whose node names
            must all carry a prefix (an identityref may rely on the default namespace).
        nacm_default_deny: ``write`` or ``all`` when the node carries RFC 8341's
            ``nacm:default-deny-write`` / ``nacm:default-deny-all`` (``""`` otherwise).
        parent: the data (or rpc/notification) parent, None at top level.
        children: child nodes by qualified name.
        cnode: libyang's compiled node (``struct lysc_node *``), valid while the context
            lives; None for nodes made here (rpc input and output).
    """

    name: str
    namespace: str
    module: str
    prefix: str
    kind: NodeKind
    config: bool = True
    keys: tuple[str, ...] = ()
    ordered_by_user: bool = False
    presence: bool = False
    mandatory: bool = False
    defaults: tuple[str, ...] = ()
    default_namespaces: dict[str, str] = field(default_factory=dict)
    choices: tuple[tuple[str, str], ...] = ()
    prefixed_value: bool = False
    path_value: bool = False
    nacm_default_deny: str = ""
    parent: SchemaNode | None = None
    children: dict[QName, SchemaNode] = field(default_factory=dict)
    cnode: Any = field(default=None, repr=False)

    @property
    def qname(self) -> QName:
        """``(namespace, name)`` of the node."""
        return (self.namespace, self.name)

    @property
    def is_key(self) -> bool:
        """True for a key leaf of its parent list."""
        return (
            self.parent is not None
            and self.parent.kind is NodeKind.LIST
            and self.kind is NodeKind.LEAF
            and self.namespace == self.parent.namespace
            and self.name in self.parent.keys
        )

    def child(self, namespace: str, name: str) -> SchemaNode | None:
        """The child called ``name`` in ``namespace``, or None."""
        return self.children.get((namespace, name))

    @property
    def path(self) -> str:
        """The schema path with module prefixes, e.g. ``/nvo3-vn:vns/nvo3-vn:vn``."""
        parts: list[str] = []
        node: SchemaNode | None = self
        while node is not None:
            if node.kind not in (NodeKind.INPUT, NodeKind.OUTPUT):
                parts.append(f"{node.prefix}:{node.name}")
            node = node.parent
        return "/" + "/".join(reversed(parts))

    def walk(self) -> Iterator[SchemaNode]:
        """This node and every descendant, depth first."""
        yield self
        for child in self.children.values():
            yield from child.walk()


class SchemaTree:
    """Every top-level data node, rpc and notification of a :class:`YangContext`."""

    def __init__(self, context: YangContext) -> None:
        self._ctx = context.libyang
        self.roots: dict[QName, SchemaNode] = {}
        self.rpcs: dict[QName, SchemaNode] = {}
        self.notifications: dict[QName, SchemaNode] = {}
        self.prefixes: dict[str, str] = {}
        for module in context.modules:
            if not module.implemented:
                continue
            self.prefixes[module.prefix] = module.namespace
        for module in context.modules:
            if not module.implemented:
                continue
            compiled = lib.ly_ctx_get_module_latest(self._ctx.cdata, module.name.encode())
            if compiled == ffi.NULL or compiled.compiled == ffi.NULL:
                continue
            for node in self._children(ffi.NULL, compiled.compiled, None, 0):
                target = {
                    NodeKind.RPC: self.rpcs,
                    NodeKind.ACTION: self.rpcs,
                    NodeKind.NOTIFICATION: self.notifications,
                }.get(node.kind, self.roots)
                target[node.qname] = node

    def root(self, namespace: str, name: str) -> SchemaNode | None:
        """The top-level data node called ``name`` in ``namespace``, or None."""
        return self.roots.get((namespace, name))

    def walk(self) -> Iterator[SchemaNode]:
        """Every data node, depth first."""
        for root in self.roots.values():
            yield from root.walk()

    def _children(
        self, parent_c: object, module_c: object, parent: SchemaNode | None, options: int
    ) -> Iterator[SchemaNode]:
        last = ffi.NULL
        while True:
            last = lib.lys_getnext(last, parent_c, module_c, options)
            if last == ffi.NULL:
                return
            kind = _KINDS.get(last.nodetype)
            if kind is None:
                continue
            node = self._make(last, kind, parent)
            if kind in (NodeKind.RPC, NodeKind.ACTION):
                for inout_kind, getnext in (
                    (NodeKind.INPUT, 0),
                    (NodeKind.OUTPUT, lib.LYS_GETNEXT_OUTPUT),
                ):
                    inout = SchemaNode(
                        name=inout_kind.value,
                        namespace=node.namespace,
                        module=node.module,
                        prefix=node.prefix,
                        kind=inout_kind,
                        parent=node,
                    )
                    inout.children = {
                        c.qname: c for c in self._children(last, ffi.NULL, inout, getnext)
                    }
                    node.children[(node.namespace, inout_kind.value)] = inout
            elif kind not in (NodeKind.LEAF, NodeKind.LEAF_LIST, NodeKind.ANYXML, NodeKind.ANYDATA):
                node.children = {c.qname: c for c in self._children(last, ffi.NULL, node, 0)}
            yield node

    def _make(self, cnode: object, kind: NodeKind, parent: SchemaNode | None) -> SchemaNode:
        c = cnode  # struct lysc_node *
        module = c.module  # type: ignore[attr-defined]
        flags = int(c.flags)  # type: ignore[attr-defined]
        node = SchemaNode(
            name=ffi.string(c.name).decode(),  # type: ignore[attr-defined]
            namespace=ffi.string(module.ns).decode(),
            module=ffi.string(module.name).decode(),
            prefix=ffi.string(module.prefix).decode(),
            kind=kind,
            config=not (flags & lib.LYS_CONFIG_R),
            ordered_by_user=bool(flags & lib.LYS_ORDBY_USER),
            presence=kind is NodeKind.CONTAINER and bool(flags & lib.LYS_PRESENCE),
            mandatory=bool(flags & lib.LYS_MAND_TRUE),
            choices=_choices_of(c),
            nacm_default_deny=_nacm_default_deny(c),
            parent=parent,
            cnode=c,
        )
        if kind is NodeKind.LIST:
            node.keys = tuple(_list_keys(c))
        elif kind is NodeKind.LEAF:
            leaf = ffi.cast("struct lysc_node_leaf *", c)
            node.prefixed_value = _names_prefixes(leaf.type) or _is_xpath(leaf.type)
            node.path_value = _names_prefixes(leaf.type, lib.LY_TYPE_INST) or _is_xpath(leaf.type)
            if leaf.dflt != ffi.NULL:
                node.defaults = (self._canonical(leaf.dflt),)
        elif kind is NodeKind.LEAF_LIST:
            leaflist = ffi.cast("struct lysc_node_leaflist *", c)
            node.prefixed_value = _names_prefixes(leaflist.type) or _is_xpath(leaflist.type)
            node.path_value = (_names_prefixes(leaflist.type, lib.LY_TYPE_INST)
                               or _is_xpath(leaflist.type))
            if leaflist.dflts != ffi.NULL:
                count = ffi.cast("uint64_t *", leaflist.dflts)[-1]
                node.defaults = tuple(self._canonical(leaflist.dflts[i]) for i in range(count))
        if node.defaults:
            node.default_namespaces = self._identity_namespaces(node.defaults)
        return node

    def _canonical(self, value: object) -> str:
        text = lib.lyd_value_get_canonical(self._ctx.cdata, value)
        return ffi.string(text).decode() if text != ffi.NULL else ""

    def _identity_namespaces(self, values: tuple[str, ...]) -> dict[str, str]:
        """Prefix -> namespace for canonical identityref values ``module:identity``."""
        found: dict[str, str] = {}
        for value in values:
            if ":" not in value:
                continue
            module_name = value.split(":", 1)[0]
            module = lib.ly_ctx_get_module_latest(self._ctx.cdata, module_name.encode())
            if module != ffi.NULL:
                found[module_name] = ffi.string(module.ns).decode()
        return found


def _names_prefixes(ctype: object, *bases: int) -> bool:
    """True for the given base types, directly or as members of a union.

    The default base types are identityref and instance-identifier.
    """
    wanted = bases or (lib.LY_TYPE_IDENT, lib.LY_TYPE_INST)
    base = ctype.basetype  # type: ignore[attr-defined]
    if base in wanted:
        return True
    if base == lib.LY_TYPE_UNION:
        members = ffi.cast("struct lysc_type_union *", ctype).types
        count = ffi.cast("uint64_t *", members)[-1] if members != ffi.NULL else 0
        return any(_names_prefixes(members[i], *wanted) for i in range(count))
    return False


_NACM_MODULE = "ietf-netconf-acm"
_XPATH_PLUGINS = ("xpath1.0", "node-instance-identifier")


def _nacm_default_deny(cnode: object) -> str:
    """``all``, ``write`` or ``""``: the node's RFC 8341 default-deny extension."""
    exts = ffi.cast("struct lysc_ext_instance *", cnode.exts)  # type: ignore[attr-defined]
    if exts == ffi.NULL:
        return ""
    found = ""
    for i in range(ffi.cast("uint64_t *", exts)[-1]):
        definition = getattr(exts[i], "def")
        if definition == ffi.NULL or definition.module == ffi.NULL:
            continue
        if ffi.string(definition.module.name).decode() != _NACM_MODULE:
            continue
        name = ffi.string(definition.name).decode()
        if name == "default-deny-all":
            return "all"
        if name == "default-deny-write":
            found = "write"
    return found


def _is_xpath(ctype: object) -> bool:
    """True for a string type whose values are XPath expressions with prefixes.

    libyang gives ``yang:xpath1.0`` and NACM's ``node-instance-identifier`` type plugins
    of their own; a plugin (``struct lyplg_type``, opaque to the bindings) starts with
    its id string.
    """
    plugin = ctype.plugin  # type: ignore[attr-defined]
    if plugin == ffi.NULL or ctype.basetype != lib.LY_TYPE_STRING:  # type: ignore[attr-defined]
        return False
    ident = ffi.cast("char **", plugin)[0]
    if ident == ffi.NULL:
        return False
    text = ffi.string(ident).decode(errors="replace")
    return any(name in text for name in _XPATH_PLUGINS)


def _list_keys(cnode: object) -> Iterator[str]:
    child = lib.lysc_node_child(cnode)
    while child != ffi.NULL and int(child.flags) & lib.LYS_KEY:
        yield ffi.string(child.name).decode()
        child = child.next


def _choices_of(cnode: object) -> tuple[tuple[str, str], ...]:
    """The (choice, case) pairs between ``cnode`` and its nearest data ancestor."""
    pairs: list[tuple[str, str]] = []
    parent = cnode.parent  # type: ignore[attr-defined]
    case = None
    while parent != ffi.NULL and parent.nodetype in (lib.LYS_CHOICE, lib.LYS_CASE):
        if parent.nodetype == lib.LYS_CASE:
            case = ffi.string(parent.name).decode()
        else:
            pairs.append((ffi.string(parent.name).decode(), case or ""))
            case = None
        parent = parent.parent
    return tuple(reversed(pairs))
