"""Write operations: edit-config, copy-config, delete-config, validate.

RFC 6241 sec. 7.2-7.4 and 8.6.
"""

from __future__ import annotations

import copy

from lxml import etree

from nvo3_netconf.constants import (
    NS_NC,
    Datastore,
    DefaultOperation,
    ErrorOption,
    TestOption,
)
from nvo3_netconf.datastore.changes import adopt
from nvo3_netconf.datastore.store import empty_tree
from nvo3_netconf.errors import InvalidValueError
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.ops.params import datastore_param, enum_param, required_child
from nvo3_netconf.protocol.xml import find_child
from nvo3_netconf.schema import SchemaTree

WRITABLE = (Datastore.RUNNING, Datastore.CANDIDATE)
ALL = (Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP)


def edit_config(ctx: RPCContext, op: etree._Element) -> None:
    """``<edit-config>`` on running or candidate."""
    target = datastore_param(op, "target", WRITABLE)
    assert isinstance(target, Datastore)
    if find_child(op, NS_NC, "url") is not None:
        datastore_param(op, "url", ())  # raises operation-not-supported
    config = required_child(op, "config")
    ctx.server.datastores.edit(
        target,
        config,
        session_id=ctx.session.session_id,
        user=ctx.session.user,
        default_operation=enum_param(op, "default-operation", DefaultOperation,
                                     DefaultOperation.MERGE),
        test_option=enum_param(op, "test-option", TestOption, TestOption.TEST_THEN_SET),
        error_option=enum_param(op, "error-option", ErrorOption, ErrorOption.STOP_ON_ERROR),
    )
    return None


def inline_tree(config: etree._Element, schema: SchemaTree) -> etree._Element:
    """A datastore tree built from an inline ``<config>`` element (copied).

    Unknown elements are kept: validation reports them with their path.
    """
    tree = empty_tree()
    if (config.text or "").strip():
        raise InvalidValueError("Inline <config> must hold elements only.",
                                info={"bad-element": "config"})
    for child in config:
        if isinstance(child.tag, str):
            qname = etree.QName(child)
            adopt(tree, copy.deepcopy(child), schema.root(qname.namespace or "", qname.localname))
    return tree


def copy_config(ctx: RPCContext, op: etree._Element) -> None:
    """``<copy-config>``: a whole datastore replaced by another or by inline content."""
    target = datastore_param(op, "target", ALL)
    source = datastore_param(op, "source", ALL, inline=True)
    assert isinstance(target, Datastore)
    if isinstance(source, Datastore):
        if source is target:
            raise InvalidValueError(
                f"<copy-config> source and target are both {target.value}.",
                info={"bad-element": "target"},
            )
        tree = ctx.server.datastores.snapshot(source)
    else:
        tree = inline_tree(source, ctx.server.schema)
    ctx.server.datastores.replace(
        target, tree, session_id=ctx.session.session_id, user=ctx.session.user
    )
    return None


def delete_config(ctx: RPCContext, op: etree._Element) -> None:
    """``<delete-config>``: only startup can be deleted."""
    target = datastore_param(op, "target", ALL)
    assert isinstance(target, Datastore)
    ctx.server.datastores.delete(target, session_id=ctx.session.session_id)
    return None


def validate(ctx: RPCContext, op: etree._Element) -> None:
    """``<validate>`` (:validate:1.1): a datastore or inline configuration."""
    source = datastore_param(op, "source", ALL, inline=True)
    if isinstance(source, Datastore):
        ctx.server.datastores.validate_datastore(source)
    else:
        ctx.server.datastores.validate_tree(inline_tree(source, ctx.server.schema))
    return None
