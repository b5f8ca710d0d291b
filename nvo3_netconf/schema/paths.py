"""Instance paths in XML form, for error-paths and change paths (RFC 7950 sec. 9.13.2).

An ``<error-path>`` is an absolute XPath expression (RFC 6241 sec. 4.3); as an XML
instance-identifier every node name carries a prefix declared in scope (RFC 7950
sec. 9.13.2), key names in predicates included: ``/nt:top/nt:item[nt:name='a']/nt:number``
with ``xmlns:nt`` declared on the element. libyang writes its data paths in the JSON
form of RFC 7951 sec. 6.11 (``/nvo3-test:top/item[name='a']/number``: module names, and
only where the module changes), which read as XPath name nodes of no namespace.

The edit engine builds its paths step by step while it walks the request
(:func:`bind_prefix`, :func:`quote_literal`); the validators build theirs from a list of
:class:`Step` with :func:`instance_identifier`, which uses the same two functions, so
both kinds of error read alike. :class:`PathReader` turns libyang's data and schema
paths into steps: only when an error is reported, never on a valid edit.

Public names: :data:`NO_NAMESPACES`, :func:`quote_literal`, :func:`bind_prefix`,
:class:`Step`, :func:`path_step`, :func:`instance_identifier`, :class:`PathReader`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from nvo3_netconf.schema.nodes import NodeKind, QName, SchemaNode

NO_NAMESPACES: Mapping[str, str] = MappingProxyType({})
"""The (read-only, empty) namespaces of the datastore root's path."""

_IDENTITY = re.compile(r"^([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)$")
_NAME = re.compile(r"(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)")
_POSITION = re.compile(r"\[\s*(\d+)\s*\]")
_PREDICATE_START = re.compile(r"\[\s*(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*|\.)\s*=\s*")


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


def bind_prefix(
    namespaces: Mapping[str, str], node: SchemaNode
) -> tuple[str, Mapping[str, str]]:
    """The prefix naming ``node`` in a path, and ``namespaces`` with it bound.

    The module's prefix is used; if another module already took it in this path, the
    module name is. The mappings are read-only, shared by every path below a node:
    ``namespaces`` is returned as is when the prefix is already bound, else extended
    into a new one.
    """
    for prefix in (node.prefix, node.module):
        bound = namespaces.get(prefix)
        if bound == node.namespace:
            return prefix, namespaces
        if bound is None:
            return prefix, MappingProxyType({**namespaces, prefix: node.namespace})
    return node.module, MappingProxyType({**namespaces, node.module: node.namespace})


@dataclass(frozen=True)
class Step:
    """One node of an instance path.

    Attributes:
        node: the schema node.
        values: a list entry's key values (key order) or a leaf-list entry's value; None
            for any other node, or to name a list or leaf-list as a whole (no predicate).
        position: the 1-based position of a key-less list entry (state data).
    """

    node: SchemaNode
    values: tuple[str, ...] | None = None
    position: int | None = None


def path_step(
    namespaces: Mapping[str, str], step: Step, modules: Mapping[str, str] | None = None
) -> tuple[str, Mapping[str, str]]:
    """``prefix:name`` and the predicates of one step, and ``namespaces`` with it bound.

    Key names take the list's prefix (keys are in the list's namespace). A key value of
    the JSON form ``module:identity`` (an identityref, as libyang and the validators
    write it) keeps the module name as its prefix, bound to the module's namespace from
    ``modules`` (module name -> namespace) when that prefix is free.
    """
    node = step.node
    prefix, namespaces = bind_prefix(namespaces, node)
    text = f"{prefix}:{node.name}"
    if step.values is not None and node.kind is NodeKind.LIST:
        for key, value in zip(node.keys, step.values, strict=False):
            key_node = node.children.get((node.namespace, key))
            if key_node is not None and key_node.prefixed_value:
                namespaces = _bind_identity(namespaces, value, modules)
            text += f"[{prefix}:{key}={quote_literal(value)}]"
    elif step.values is not None and node.kind is NodeKind.LEAF_LIST and step.values:
        if node.prefixed_value:
            namespaces = _bind_identity(namespaces, step.values[0], modules)
        text += f"[.={quote_literal(step.values[0])}]"
    elif step.position is not None:
        text += f"[{step.position}]"
    return text, namespaces


def _bind_identity(namespaces: Mapping[str, str], value: str,
                   modules: Mapping[str, str] | None) -> Mapping[str, str]:
    match = _IDENTITY.match(value)
    if match is None or modules is None:
        return namespaces
    namespace = modules.get(match.group(1))
    if namespace is None or match.group(1) in namespaces:
        return namespaces
    return MappingProxyType({**namespaces, match.group(1): namespace})


def instance_identifier(
    steps: Iterable[Step], modules: Mapping[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """The XML instance-identifier of ``steps`` and the namespaces of its prefixes.

    Args:
        steps: the nodes from the top level down.
        modules: module name -> namespace, for identityref key values.

    Returns:
        ``("/nt:top/nt:item[nt:name='a']/nt:number", {"nt": "urn:..."})``; ``("", {})``
        for no steps.
    """
    namespaces: Mapping[str, str] = NO_NAMESPACES
    parts: list[str] = []
    for step in steps:
        text, namespaces = path_step(namespaces, step, modules)
        parts.append(text)
    if not parts:
        return "", {}
    return "/" + "/".join(parts), dict(namespaces)


class PathReader:
    """Reads libyang's data and schema paths into :class:`Step` lists.

    Args:
        roots: the top-level data nodes by qualified name.
        operations: the top-level rpcs and notifications by qualified name.
        modules: module name -> namespace.
    """

    def __init__(self, roots: Mapping[QName, SchemaNode], operations: Mapping[QName, SchemaNode],
                 modules: Mapping[str, str]) -> None:
        self.roots = roots
        self.operations = operations
        self.modules = modules

    def data_path(self, path: str, *, output: bool = False) -> list[Step] | None:
        """The steps of a libyang data path (``/mod:a/b[k='v'][.='x']``), or None.

        Steps without a module name are in their parent's module. A value libyang
        quoted with ``"`` because it holds a ``'`` may hold a ``"`` as well: it ends at
        the ``"]`` followed by another step, predicate or the end. ``output``: an rpc's
        children are its output's (a reply), else its input's.
        """
        steps: list[Step] = []
        index, end = 0, len(path)
        module: str | None = None
        parent: SchemaNode | None = None
        while index < end:
            if path[index] != "/":
                return None
            match = _NAME.match(path, index + 1)
            if match is None:
                return None
            module = match.group(1) or module
            namespace = self.modules.get(module or "")
            if namespace is None:
                return None
            node = self._child(parent, (namespace, match.group(2)), output)
            if node is None:
                return None
            index = match.end()
            predicates: dict[str, str] = {}
            position: int | None = None
            while index < end and path[index] == "[":
                found = _POSITION.match(path, index)
                if found is not None:
                    position, index = int(found.group(1)), found.end()
                    continue
                parsed = _predicate(path, index)
                if parsed is None:
                    return None
                name, value, index = parsed
                predicates[name] = value
            values: tuple[str, ...] | None = None
            if node.kind is NodeKind.LIST and predicates:
                if any(key not in predicates for key in node.keys):
                    return None
                values = tuple(predicates[key] for key in node.keys)
            elif node.kind is NodeKind.LEAF_LIST and "." in predicates:
                values = (predicates["."],)
            steps.append(Step(node, values, position))
            parent = node
        return steps

    def schema_path(self, path: str) -> tuple[list[SchemaNode], str | None] | None:
        """The data nodes a libyang schema path (log form) names, and a trailing choice.

        libyang names choices and cases in these paths
        (``/nvo3-test:top/item/kind/small/small``); they are skipped. When the path ends
        at a choice, its name is returned beside the data nodes above it.
        """
        return self._walk(None, path.lstrip("/").split("/") if path.strip("/") else [])

    def below(self, node: SchemaNode, nodeid: str) -> list[SchemaNode] | None:
        """The data nodes of a descendant schema node id under ``node`` (``site/region``)."""
        found = self._walk(node, nodeid.split("/"))
        if found is None or found[1] is not None:
            return None
        return found[0]

    def _walk(self, start: SchemaNode | None,
              names: Sequence[str]) -> tuple[list[SchemaNode], str | None] | None:
        chain: list[SchemaNode] = []
        parent = start
        module = start.module if start is not None else None
        choice: str | None = None
        case_next = False
        for text in names:
            match = _NAME.fullmatch(text)
            if match is None:
                return None
            module = match.group(1) or module
            if case_next:  # the case below a choice: not a data node
                case_next, choice = False, None
                continue
            namespace = self.modules.get(module or "")
            if namespace is None:
                return None
            if parent is not None and parent.kind in (NodeKind.RPC, NodeKind.ACTION) \
                    and match.group(2) in (NodeKind.INPUT.value, NodeKind.OUTPUT.value):
                parent = parent.children.get((parent.namespace, match.group(2)))
                if parent is None:
                    return None
                continue
            node = self._child(parent, (namespace, match.group(2)), False)
            if node is None:  # a choice (names of data nodes and choices never clash)
                choice, case_next = match.group(2), True
                continue
            chain.append(node)
            parent, choice = node, None
        return chain, choice

    def _child(self, parent: SchemaNode | None, qname: QName, output: bool) -> SchemaNode | None:
        if parent is None:
            return self.roots.get(qname) or self.operations.get(qname)
        if parent.kind in (NodeKind.RPC, NodeKind.ACTION):
            inner = parent.children.get(
                (parent.namespace, NodeKind.OUTPUT.value if output else NodeKind.INPUT.value))
            return inner.children.get(qname) if inner is not None else None
        return parent.children.get(qname)


def _predicate(path: str, index: int) -> tuple[str, str, int] | None:
    """``(name, value, end)`` of the ``[name='value']`` (or ``[.=...]``) at ``index``."""
    match = _PREDICATE_START.match(path, index)
    if match is None:
        return None
    start = match.end()
    if start >= len(path) or path[start] not in "'\"":
        return None
    quote = path[start]
    close = start + 1
    while True:
        close = path.find(quote, close)
        if close < 0:
            return None
        after = close + 1
        while after < len(path) and path[after] in " \t":
            after += 1
        if after < len(path) and path[after] == "]" and (
                quote == "'" or after + 1 == len(path) or path[after + 1] in "/["):
            return match.group(1), path[start + 1:close], after + 1
        close += 1
