"""Write operations: edit-config, copy-config, delete-config, validate.

RFC 6241 sec. 7.2-7.4 and 8.6, with RFC 6243's ``wd:default`` attribute in the
configuration input (sec. 4.5.1, 4.5.2), under RFC 8341 NACM: an edit needs create,
update and delete access to each node it changes, a copy to each node it makes
different (a copy from running to startup needs none, RFC 8341 sec. 3.2.4); the whole
request is refused with ``access-denied`` otherwise, and nothing changes. A copy from a
datastore copies what the user may read of it. An error about a node the user may not
read is reported as ``access-denied``, without its path: it does not reveal that the
node exists.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from lxml import etree

from nvo3_netconf.constants import (
    NS_NC,
    Datastore,
    DefaultOperation,
    ErrorOption,
    ErrorType,
    TestOption,
)
from nvo3_netconf.datastore.changes import adopt
from nvo3_netconf.datastore.store import empty_tree
from nvo3_netconf.errors import AccessDeniedError, InvalidValueError, RPCError, RPCErrors
from nvo3_netconf.nacm import Access, UserAccess, access_for
from nvo3_netconf.protocol.defaults import return_tagged_to_defaults
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.ops.params import (
    datastore_param,
    enum_param,
    required_child,
    with_defaults_param,
)
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
    access = access_for(ctx)
    restricted = access is not None and not access.unrestricted(Access.WRITE)
    if access is not None:
        # Nodes the edit names must be readable, even if it leaves them as they are.
        # (Checked apart from the edit: its listeners must run without the lock.)
        with ctx.server.datastores.reading(target) as tree:
            access.check_request(tree, config)
    with opaque_errors(ctx, access, target):
        ctx.server.datastores.edit(
            target,
            config,
            session_id=ctx.session.session_id,
            user=ctx.session.user,
            default_operation=enum_param(op, "default-operation", DefaultOperation,
                                         DefaultOperation.MERGE),
            test_option=enum_param(op, "test-option", TestOption, TestOption.TEST_THEN_SET),
            error_option=enum_param(op, "error-option", ErrorOption, ErrorOption.STOP_ON_ERROR),
            authorize=access.check_changes if access is not None and restricted else None,
        )
    return None


@contextmanager
def opaque_errors(
    ctx: RPCContext, access: UserAccess | None, datastore: Datastore
) -> Iterator[None]:
    """Re-raise an error about a node the user may not read as a bare access-denied.

    The node is looked for in ``datastore``: an error must not reveal that a node the
    user may not read exists (RFC 8341 sec. 3.4.3).
    """
    try:
        yield
    except (RPCError, RPCErrors) as error:
        if access is None or access.unrestricted(Access.READ):
            raise
        hidden = _hide_unreadable(ctx, access, datastore, error)
        if hidden is error:
            raise
        raise hidden from None


def _hide_unreadable(
    ctx: RPCContext, access: UserAccess, datastore: Datastore, error: RPCError | RPCErrors
) -> RPCError | RPCErrors:
    """``error`` with every rpc-error about a node the user may not read made opaque."""
    errors = error.errors if isinstance(error, RPCErrors) else [error]
    result: list[RPCError] = []
    changed = False
    with ctx.server.datastores.reading(datastore) as tree:
        for item in errors:
            if item.path and not isinstance(item, AccessDeniedError) and not (
                access.path_readable(tree, item.path, item.path_namespaces)
            ):
                item = AccessDeniedError("Access denied.", type_=ErrorType.APPLICATION)
                changed = True
            result.append(item)
    if not changed:
        return error
    return RPCErrors(result) if isinstance(error, RPCErrors) else result[0]


def inline_tree(config: etree._Element, schema: SchemaTree) -> etree._Element:
    """A datastore tree built from an inline ``<config>`` element (copied).

    Unknown elements are kept: validation reports them with their path. RFC 6243
    ``wd:default`` attributes are applied and dropped (sec. 4.5.1, see
    :func:`~nvo3_netconf.protocol.defaults.return_tagged_to_defaults`): a node tagged
    ``true`` is returned to its default, i.e. left out.
    """
    tree = empty_tree()
    if (config.text or "").strip():
        raise InvalidValueError("Inline <config> must hold elements only.",
                                info={"bad-element": "config"})
    prefixes = {namespace: prefix for prefix, namespace in schema.prefixes.items()}
    for child in config:
        if isinstance(child.tag, str):
            qname = etree.QName(child)
            adopt(tree, copy.deepcopy(child), schema.root(qname.namespace or "", qname.localname),
                  prefixes)
    return_tagged_to_defaults(tree, schema)
    return tree


def copy_config(ctx: RPCContext, op: etree._Element) -> None:
    """``<copy-config>``: a whole datastore replaced by another or by inline content."""
    target = datastore_param(op, "target", ALL)
    source = datastore_param(op, "source", ALL, inline=True)
    assert isinstance(target, Datastore)
    # RFC 6243 adds <with-defaults> to the input of copy-config. Datastores are copied
    # as stored (no :url target here), but the mode is checked like any input value.
    with_defaults_param(op)
    access = access_for(ctx)
    # Saving running to startup needs exec access only (RFC 8341 sec. 3.2.4).
    save = source is Datastore.RUNNING and target is Datastore.STARTUP
    if isinstance(source, Datastore):
        if source is target:
            raise InvalidValueError(
                f"<copy-config> source and target are both {target.value}.",
                info={"bad-element": "target"},
            )
        tree = ctx.server.datastores.snapshot(source)
        if access is not None and not save:
            tree = access.prune(tree, owned=True)  # what the user may not read is not copied
    else:
        tree = inline_tree(source, ctx.server.schema)
    check = access is not None and not save and not access.unrestricted(Access.WRITE)
    with opaque_errors(ctx, access, target):
        ctx.server.datastores.replace(
            target, tree, session_id=ctx.session.session_id, user=ctx.session.user,
            authorize=access.check_trees if access is not None and check else None,
        )
    return None


def delete_config(ctx: RPCContext, op: etree._Element) -> None:
    """``<delete-config>``: only startup can be deleted."""
    target = datastore_param(op, "target", ALL)
    assert isinstance(target, Datastore)
    access = access_for(ctx)
    check = access is not None and not access.unrestricted(Access.WRITE)
    ctx.server.datastores.delete(
        target, session_id=ctx.session.session_id,
        authorize=access.check_trees if access is not None and check else None,
    )
    return None


def validate(ctx: RPCContext, op: etree._Element) -> None:
    """``<validate>`` (:validate:1.1): a datastore or inline configuration."""
    source = datastore_param(op, "source", ALL, inline=True)
    with opaque_errors(ctx, access_for(ctx),
                       source if isinstance(source, Datastore) else Datastore.RUNNING):
        if isinstance(source, Datastore):
            ctx.server.datastores.validate_datastore(source)
        else:
            ctx.server.datastores.validate_tree(inline_tree(source, ctx.server.schema))
    return None
