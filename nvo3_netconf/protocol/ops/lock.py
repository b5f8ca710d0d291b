"""``<lock>`` and ``<unlock>`` (RFC 6241 sec. 7.5, 7.6)."""

from __future__ import annotations

from lxml import etree

from nvo3_netconf.constants import Datastore
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.ops.params import datastore_param

ALL = (Datastore.RUNNING, Datastore.CANDIDATE, Datastore.STARTUP)


def lock(ctx: RPCContext, op: etree._Element) -> None:
    """Lock a datastore for the requesting session."""
    target = datastore_param(op, "target", ALL)
    assert isinstance(target, Datastore)
    ctx.server.datastores.lock(target, ctx.session.session_id)
    ctx.server.lock_acquired(target)
    return None


def unlock(ctx: RPCContext, op: etree._Element) -> None:
    """Release a lock held by the requesting session."""
    target = datastore_param(op, "target", ALL)
    assert isinstance(target, Datastore)
    ctx.server.datastores.unlock(target, ctx.session.session_id)
    return None
