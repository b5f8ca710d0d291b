"""RFC 6243 with-defaults: retrieval modes over datastore trees, and tagged input.

The server's basic mode is ``explicit`` (sec. 2.3, 3.3): datastores hold what was set,
so that mode returns them as they are. :func:`apply_with_defaults` adds every default
the schema defines where its parent exists (``report-all``, sec. 3.1), tagging them
with ``wd:default="true"`` for ``report-all-tagged`` (sec. 3.4), or drops leaves equal
to their default (``trim``, sec. 3.2). It returns a new tree; the input is never
changed.

Which nodes are tagged: Appendix A.3.2, "The actual data nodes tagged by the server
depend on the default-handling basic mode used by the server. Only the data nodes
that are considered to be default data will be tagged. [...] If the server's basic
mode is 'explicit', then only data nodes that are not explicitly set data are
tagged." Explicitly set data is "Data that is set to any value by a NETCONF client
[...] Any value set by the NETCONF server that is not the schema defined default value
is also considered explicitly set data" (sec. 1.1). So a configuration leaf, which
only clients set, is reported untagged even when it holds its default value; tagged
are the defaults the server fills in and state leaves (set by the server) that hold
their schema default.

Tagged input: a server supporting ``report-all-tagged`` "MUST also accept the
'default' XML attribute within configuration input to the <edit-config> or
<copy-config> operations" (sec. 3.4). The edit engine handles it for edit-config
(:func:`nvo3_netconf.datastore.edit.default_attribute` quotes the rules);
:func:`return_tagged_to_defaults` applies them to the inline content of copy-config
(sec. 4.5.1) and of validate, so that a ``report-all-tagged`` reply can be fed back.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from lxml import etree

from nvo3_netconf.constants import ErrorType, WithDefaults
from nvo3_netconf.datastore.changes import NO_NAMESPACES, bind_prefix, quote_literal
from nvo3_netconf.datastore.edit import DEFAULT_ATTR, default_attribute, not_default
from nvo3_netconf.errors import BadAttributeError, InvalidValueError
from nvo3_netconf.schema import NodeKind, SchemaNode, SchemaTree

_DEFAULT_ATTR = DEFAULT_ATTR


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
        if tagged and not config_only:
            _tag_state_defaults(result, schema.roots)
    return result


def return_tagged_to_defaults(tree: etree._Element, schema: SchemaTree) -> None:
    """Apply the ``default`` attributes of inline copy-config content, in place.

    RFC 6243 sec. 4.5.1: "If the server supports the 'report-all-tagged' mode, then the
    'default' attribute defined in Section 6 also impacts the <copy-config> operation.
    If the 'default' attribute is present and set to 'true' or '1', then the server
    MUST treat the new data node as a request to return that node to its default
    value (i.e., remove it from the configuration datastore). The data node within
    the NETCONF message MUST contain a value in this case, which MUST be equal to the
    schema default value. If not, the server MUST return an <rpc-error> response with
    an 'invalid-value' error-tag."

    So a node tagged true is dropped from the content (a leaf equal to its default, a
    leaf-list entry equal to one of its defaults), and a non-presence container left
    empty by that is dropped too; every ``default`` attribute is removed, so none is
    stored. Unknown and state nodes are left for validation to report.

    Args:
        tree: a datastore root (``<data>``) holding the content.
        schema: the schema view.

    Raises:
        RPCError: bad-attribute for a value that is no ``xs:boolean``; invalid-value for
            ``true`` on a node whose value is not its schema default (or that has none).
    """
    _strip_tags(tree, schema.roots, "", NO_NAMESPACES)


def _strip_tags(
    parent: etree._Element, nodes: dict[tuple[str, str], SchemaNode], path: str,
    namespaces: Mapping[str, str],
) -> bool:
    """Process the children of ``parent``; True when some tagged child was removed."""
    removed = False
    for child, node in _children_schema(parent, nodes):
        if not node.config:
            continue
        prefix, nss = bind_prefix(namespaces, node)
        where = f"{path}/{prefix}:{node.name}"
        if node.kind is NodeKind.LIST:
            for key in node.keys:
                text = child.findtext(f"{{{node.namespace}}}{key}") or ""
                where += f"[{prefix}:{key}={quote_literal(text)}]"
        elif node.kind is NodeKind.LEAF_LIST:
            where += f"[.={quote_literal(child.text or '')}]"
        raw = child.get(DEFAULT_ATTR)
        if raw is not None:
            value = default_attribute(raw)
            if value is None:
                raise BadAttributeError(
                    f"default=\"{raw}\" on {node.name} is not true, false, 1 or 0 "
                    "(RFC 6243 sec. 6).", type_=ErrorType.APPLICATION, path=where,
                    path_namespaces=nss,
                    info={"bad-attribute": "default", "bad-element": node.name},
                )
            del child.attrib[DEFAULT_ATTR]
            if value:
                problem = not_default(child, node, "4.5.1")
                if problem is not None:
                    raise InvalidValueError(
                        problem, type_=ErrorType.APPLICATION, path=where,
                        path_namespaces=nss, info={"bad-element": node.name},
                    )
                parent.remove(child)
                removed = True
                continue
        if node.kind in (NodeKind.CONTAINER, NodeKind.LIST) and _strip_tags(
            child, node.children, where, nss
        ) and node.kind is NodeKind.CONTAINER and not node.presence and not len(child):
            parent.remove(child)  # a non-presence container holds nothing of its own
            removed = True
    return removed


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
            if not len(container):
                # Its defaults all sit in list entries, none of which exists: a
                # non-presence container with nothing in it is not reported.
                parent.remove(container)
    for child, node in _children_schema(parent, nodes):
        if node.kind in (NodeKind.CONTAINER, NodeKind.LIST):
            _add_defaults(child, node.children, tagged=tagged, config_only=config_only)


def _has_defaults(node: SchemaNode) -> bool:
    return any(
        n.defaults and not n.choices for n in node.walk()
        if n is not node and n.kind in (NodeKind.LEAF, NodeKind.LEAF_LIST)
    )


def _tag_state_defaults(
    parent: etree._Element, nodes: dict[tuple[str, str], SchemaNode]
) -> None:
    """Tag the state leaves the server set to their schema default (default data)."""
    for child, node in _children_schema(parent, nodes):
        if (node.kind is NodeKind.LEAF and not node.config and node.defaults
                and child.get(_DEFAULT_ATTR) is None
                and (child.text or "") == node.defaults[0]):
            child.set(_DEFAULT_ATTR, "true")
        elif node.kind in (NodeKind.CONTAINER, NodeKind.LIST):
            _tag_state_defaults(child, node.children)


def _trim(parent: etree._Element, nodes: dict[tuple[str, str], SchemaNode]) -> None:
    for child, node in _children_schema(parent, nodes):
        if node.kind is NodeKind.LEAF and node.defaults and (child.text or "") == node.defaults[0]:
            parent.remove(child)
        elif node.kind in (NodeKind.CONTAINER, NodeKind.LIST):
            _trim(child, node.children)
