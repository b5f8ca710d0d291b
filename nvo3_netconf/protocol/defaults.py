"""RFC 6243 with-defaults retrieval modes over datastore trees.

The server's basic mode is ``explicit`` (sec. 3.3): datastores hold what was set, so
that mode returns them as they are. :func:`report_all` adds every default the schema
defines where its parent exists (sec. 3.1), tagging them with ``wd:default="true"``
for ``report-all-tagged`` (sec. 3.4); :func:`trim` drops leaves equal to their default
(sec. 3.2). Each returns a new tree; the input is never changed.
"""

from __future__ import annotations

import copy

from lxml import etree

from nvo3_netconf.constants import NS_WD_ATTR, WithDefaults
from nvo3_netconf.schema import NodeKind, SchemaNode, SchemaTree

_DEFAULT_ATTR = f"{{{NS_WD_ATTR}}}default"


def apply_with_defaults(
    tree: etree._Element, schema: SchemaTree, mode: WithDefaults | None, *, config_only: bool
) -> etree._Element:
    """The view of ``tree`` a with-defaults mode asks for (``tree`` itself when nothing to do)."""
    if mode in (None, WithDefaults.EXPLICIT):
        return tree
    result = copy.deepcopy(tree)
    if mode is WithDefaults.TRIM:
        _trim(result, schema.roots)
    else:
        tagged = mode is WithDefaults.REPORT_ALL_TAGGED
        _add_defaults(result, schema.roots, tagged=tagged, config_only=config_only)
        if tagged:
            _tag_explicit_defaults(result, schema.roots)
    return result


def _children_schema(
    parent: etree._Element, nodes: dict[tuple[str, str], SchemaNode]
) -> list[tuple[etree._Element, SchemaNode]]:
    pairs = []
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        node = nodes.get((qname.namespace or "", qname.localname))
        if node is not None:
            pairs.append((child, node))
    return pairs


def _active_cases(
    parent: etree._Element, nodes: dict[tuple[str, str], SchemaNode]
) -> set[tuple[str, str]]:
    active: set[tuple[str, str]] = set()
    for _, node in _children_schema(parent, nodes):
        active.update(node.choices)
    return active


def _add_defaults(
    parent: etree._Element, nodes: dict[tuple[str, str], SchemaNode], *, tagged: bool,
    config_only: bool,
) -> None:
    present = {(etree.QName(c).namespace or "", etree.QName(c).localname)
               for c in parent if isinstance(c.tag, str)}
    active = _active_cases(parent, nodes)
    active_choices = {choice for choice, _ in active}
    for qname, node in nodes.items():
        if config_only and not node.config:
            continue
        # A node inside a choice gets its default only in the case already in use.
        if any(choice in active_choices and (choice, case) not in active
               for choice, case in node.choices):
            continue
        if node.choices and not all((c, k) in active for c, k in node.choices):
            continue
        if qname in present:
            continue
        if node.kind is NodeKind.LEAF and node.defaults:
            leaf = etree.SubElement(parent, f"{{{node.namespace}}}{node.name}",
                                    nsmap=node.default_namespaces or None)
            leaf.text = node.defaults[0]
            if tagged:
                leaf.set(_DEFAULT_ATTR, "true")
        elif node.kind is NodeKind.LEAF_LIST and node.defaults:
            for value in node.defaults:
                leaf = etree.SubElement(parent, f"{{{node.namespace}}}{node.name}")
                leaf.text = value
                if tagged:
                    leaf.set(_DEFAULT_ATTR, "true")
        elif node.kind is NodeKind.CONTAINER and not node.presence and _has_defaults(node):
            container = etree.SubElement(parent, f"{{{node.namespace}}}{node.name}")
            _add_defaults(container, node.children, tagged=tagged, config_only=config_only)
    for child, node in _children_schema(parent, nodes):
        if node.kind in (NodeKind.CONTAINER, NodeKind.LIST):
            _add_defaults(child, node.children, tagged=tagged, config_only=config_only)


def _has_defaults(node: SchemaNode) -> bool:
    return any(
        n.defaults and not n.choices for n in node.walk()
        if n is not node and n.kind in (NodeKind.LEAF, NodeKind.LEAF_LIST)
    )


def _tag_explicit_defaults(
    parent: etree._Element, nodes: dict[tuple[str, str], SchemaNode]
) -> None:
    for child, node in _children_schema(parent, nodes):
        if node.kind is NodeKind.LEAF and node.defaults and (child.text or "") == node.defaults[0]:
            child.set(_DEFAULT_ATTR, "true")
        elif node.kind in (NodeKind.CONTAINER, NodeKind.LIST):
            _tag_explicit_defaults(child, node.children)


def _trim(parent: etree._Element, nodes: dict[tuple[str, str], SchemaNode]) -> None:
    for child, node in _children_schema(parent, nodes):
        if node.kind is NodeKind.LEAF and node.defaults and (child.text or "") == node.defaults[0]:
            parent.remove(child)
        elif node.kind in (NodeKind.CONTAINER, NodeKind.LIST):
            _trim(child, node.children)
