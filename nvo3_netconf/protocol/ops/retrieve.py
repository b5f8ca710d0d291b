"""Retrieval: ``<get>`` and ``<get-config>`` (RFC 6241 sec. 7.1, 7.7).

With subtree and XPath filters (sec. 6, 8.9) and RFC 6243 with-defaults. Under NACM
(RFC 8341 sec. 3.4.5) what the user may not read is removed first, so a filter sees only
what the user may read and cannot reveal that the rest exists.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from lxml import etree

from nvo3_netconf.constants import NS_NC, Datastore
from nvo3_netconf.nacm import access_for
from nvo3_netconf.protocol.defaults import apply_with_defaults
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.filters import Lookup, apply_filter
from nvo3_netconf.protocol.message_key import ReceivedMessage
from nvo3_netconf.protocol.messages import build_rpc_reply, serialize_content
from nvo3_netconf.protocol.ops.params import datastore_param, with_defaults_param
from nvo3_netconf.protocol.reply_cache import ReplyCache, request_key
from nvo3_netconf.protocol.xml import find_child
from nvo3_netconf.schema import NodeKind, SchemaNode, SchemaTree

ALL_DATASTORES = (Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP)

_Identity = (
    tuple[tuple[str, str]]
    | tuple[tuple[str, str], str | None]
    | tuple[tuple[str, str], tuple[str, ...]]
)
"""How :func:`merge_trees` matches a child: its name, plus a leaf-list value or list keys."""


def get_config(ctx: RPCContext, op: etree._Element) -> bytes:
    """``<get-config>``: configuration of one datastore, filtered (serialized ``<data>``).

    The reply is kept for a request asked again in the same generation of the
    datastores by a user with the same access. A message of the plain form of
    :mod:`~nvo3_netconf.protocol.message_key` is stored by its key in
    ``ctx.server.message_replies``, where the session looks before parsing the next
    message that differs only in message-id (so it was looked up already). Any other
    message is stored and looked up by the ``<get-config>`` element itself (source,
    filter and with-defaults) in ``ctx.server.config_replies``. Only valid requests
    are ever stored, so a stored one needs no second look at its parameters.
    """
    access = access_for(ctx)
    datastores = ctx.server.datastores
    replies: ReplyCache = ctx.server.config_replies
    by_message = None
    by_request = None
    if replies.enabled:
        by_message = None if ctx.message is None else ctx.message.key
        if by_message is None:
            by_request = (access, request_key(op))
            with datastores.reading(Datastore.RUNNING):
                reply = replies.get(datastores.generation, by_request)
                if reply is not None:
                    return reply
    source = datastore_param(op, "source", ALL_DATASTORES)
    assert isinstance(source, Datastore)
    flt = find_child(op, NS_NC, "filter")
    mode = with_defaults_param(op)
    schema: SchemaTree = ctx.server.schema
    with datastores.reading(source) as tree:
        generation = datastores.generation
        view = apply_with_defaults(tree, schema, mode, config_only=True)
        if access is not None:
            view = access.prune(view, owned=view is not tree)
        lookup = datastores.entry_lookup(source) if view is tree else None
        reply = serialize_content(_filtered(view, flt, schema, lookup))
        if by_request is not None:
            replies.put(generation, by_request, reply)
        elif by_message is not None:
            ctx.server.message_replies.put(generation, (access, by_message.rest), reply)
        return reply


def config_reply_by_message(server: Any, user: str, message: ReceivedMessage) -> bytes | None:
    """The whole reply to ``message`` when it repeats a stored ``<get-config>`` of ``user``.

    What the session asks before parsing a message (``NetconfSession`` ``cached_reply``):
    ``server.message_replies`` holds the answers of earlier messages that differed only
    in message-id (:func:`~nvo3_netconf.protocol.message_key.message_key`), under the
    same rules as ``server.config_replies``: per generation of the datastores, and per
    access object, so a stored reply passed the exec check and the read rules of
    exactly the user's current access. Costs a length test while nothing is stored.
    """
    replies: ReplyCache = server.message_replies
    if not len(replies):
        return None
    key = message.key
    if key is None:
        return None
    nacm = server.nacm
    access = None if nacm is None else nacm.access(user)
    datastores = server.datastores
    with datastores.reading(Datastore.RUNNING):
        content = replies.get(datastores.generation, (access, key.rest))
    if content is None:
        return None
    return build_rpc_reply({"message-id": key.message_id}, content)


def get(ctx: RPCContext, op: etree._Element) -> Sequence[etree._Element]:
    """``<get>``: running configuration and state data, filtered.

    The filter selects from configuration and state together (RFC 6241 sec. 7.7): a
    predicate or content match on a configuration leaf also selects the state beside
    it. So the top-level nodes holding both (``/vn:vn-instances``, ``/nve:nve``...) are
    merged before they are filtered; the others are filtered apart, the configuration
    ones with the datastore's index.
    """
    flt = find_child(op, NS_NC, "filter")
    mode = with_defaults_param(op)
    schema: SchemaTree = ctx.server.schema
    datastores = ctx.server.datastores
    access = access_for(ctx)
    state = ctx.server.operational_tree(ctx.session, flt)
    if access is not None:
        state = access.prune(state, owned=True)
    stateful = {_identity(child, schema.roots) for child in state if isinstance(child.tag, str)}
    with datastores.reading(Datastore.RUNNING) as running:
        view = apply_with_defaults(running, schema, mode, config_only=False)
        if access is not None:
            view = access.prune(view, owned=view is not running)
        lookup = datastores.entry_lookup(Datastore.RUNNING) if view is running else None
        config_part = _filtered(view, flt, schema, lookup)
        both = [child for child in view
                if isinstance(child.tag, str) and _identity(child, schema.roots) in stateful]
        combined = etree.Element(f"{{{NS_NC}}}data")
        combined.extend(copy.deepcopy(child) for child in both)
    if both:
        shared = {_identity(child, schema.roots) for child in both}
        for child in list(config_part):
            if isinstance(child.tag, str) and _identity(child, schema.roots) in shared:
                config_part.remove(child)
    merge_trees(combined, state, schema.roots)
    merge_trees(config_part, _filtered(combined, flt, schema), schema.roots)
    return [config_part]


def _filtered(
    tree: etree._Element,
    flt: etree._Element | None,
    schema: SchemaTree,
    lookup: Lookup | None = None,
) -> etree._Element:
    result = apply_filter(tree, flt, keys_of=_keys_callback(schema), lookup=lookup)
    result.tag = f"{{{NS_NC}}}data"
    return result


def _keys_callback(schema: SchemaTree):  # type: ignore[no-untyped-def]
    def keys_of(element: etree._Element) -> tuple[str, ...]:
        node = schema_node_of(element, schema)
        if node is None or node.kind is not NodeKind.LIST:
            return ()
        return tuple(f"{{{node.namespace}}}{key}" for key in node.keys)

    return keys_of


def schema_node_of(element: etree._Element, schema: SchemaTree) -> SchemaNode | None:
    """The schema node of a data element (walking up to its top-level ancestor)."""
    chain = []
    current: etree._Element | None = element
    while current is not None and current.tag != f"{{{NS_NC}}}data":
        chain.append(current)
        current = current.getparent()
    node: SchemaNode | None = None
    nodes = schema.roots
    for item in reversed(chain):
        qname = etree.QName(item)
        node = nodes.get((qname.namespace or "", qname.localname))
        if node is None:
            return None
        nodes = node.children
    return node


def merge_trees(
    target: etree._Element, source: etree._Element, nodes: dict[tuple[str, str], SchemaNode]
) -> None:
    """Merge ``source``'s children into ``target`` (state beside configuration).

    Containers merge recursively; list entries merge when their keys match; anything
    else is appended. ``source`` is consumed.
    """
    index: dict[_Identity, etree._Element] = {}
    for child in target:
        if isinstance(child.tag, str):
            index.setdefault(_identity(child, nodes), child)
    for child in list(source):
        if not isinstance(child.tag, str):
            continue
        identity = _identity(child, nodes)
        existing = index.get(identity)
        node = nodes.get(identity[0]) if identity else None
        if existing is not None and node is not None and node.kind in (
            NodeKind.CONTAINER, NodeKind.LIST
        ):
            merge_trees(existing, child, node.children)
        elif existing is not None and node is not None:
            continue  # a key or leaf both sides hold: keep one
        else:
            target.append(child)
            index.setdefault(identity, child)


def _identity(element: etree._Element, nodes: dict[tuple[str, str], SchemaNode]) -> _Identity:
    qname = etree.QName(element)
    key = (qname.namespace or "", qname.localname)
    node = nodes.get(key)
    if node is None or node.kind is not NodeKind.LIST:
        if node is not None and node.kind is NodeKind.LEAF_LIST:
            return (key, element.text)
        return (key,)
    values = tuple(
        (element.findtext(f"{{{node.namespace}}}{k}") or "").strip() for k in node.keys
    )
    return (key, values)
