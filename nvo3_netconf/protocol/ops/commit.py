"""Commit operations: ``<commit>``, ``<discard-changes>``, ``<cancel-commit>``.

RFC 6241 sec. 8.3.4 and 8.4 (:confirmed-commit:1.1).
"""

from __future__ import annotations

from lxml import etree

from nvo3_netconf.constants import NS_NC, Datastore
from nvo3_netconf.datastore.confirmed import DEFAULT_TIMEOUT
from nvo3_netconf.errors import InvalidValueError
from nvo3_netconf.nacm import Access, access_for
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.ops.edit import opaque_errors
from nvo3_netconf.protocol.xml import child_text, find_child


def commit(ctx: RPCContext, op: etree._Element) -> None:
    """Commit candidate to running, optionally as a confirmed commit.

    A ``<confirm-timeout>`` without ``<confirmed/>`` is accepted (its value still has
    to be valid) and has no effect: the ietf-netconf input (RFC 6241 Appendix C)
    defines the leaf with ``default "600"`` and no ``when`` or ``must`` tying it to
    ``confirmed``, so every ``<commit>`` holds a confirm-timeout, given or not, and RFC
    6241 sec. 8.4.5.1 only says what it means for a confirmed commit. libyang accepts
    such an input, and so does the parameter check (``ops/params.py``); refusing it
    would refuse a request the schema allows.
    """
    confirmed = find_child(op, NS_NC, "confirmed") is not None
    timeout_text = child_text(op, NS_NC, "confirm-timeout")
    timeout = DEFAULT_TIMEOUT
    if timeout_text is not None:
        try:
            timeout = int(timeout_text.strip())
        except ValueError:
            timeout = 0
        if not 1 <= timeout <= 4294967295:
            raise InvalidValueError(
                f"confirm-timeout must be a number of seconds from 1 to 4294967295, "
                f"not {timeout_text!r}.",
                info={"bad-element": "confirm-timeout"},
            )
    persist = child_text(op, NS_NC, "persist")
    persist_id = child_text(op, NS_NC, "persist-id")
    # NACM (RFC 8341): the committer needs write access to what differs in running.
    access = access_for(ctx)
    check = access is not None and not access.unrestricted(Access.WRITE)
    with opaque_errors(ctx, access, Datastore.CANDIDATE):
        ctx.server.confirmed.commit(
            session_id=ctx.session.session_id,
            user=ctx.session.user,
            confirmed=confirmed,
            timeout=timeout,
            persist=persist.strip() if persist is not None else None,
            persist_id=persist_id.strip() if persist_id is not None else None,
            authorize=access.check_trees if access is not None and check else None,
        )
    return None


def discard_changes(ctx: RPCContext, op: etree._Element) -> None:
    """Revert candidate to the running configuration."""
    ctx.server.datastores.discard_changes(session_id=ctx.session.session_id)
    return None


def cancel_commit(ctx: RPCContext, op: etree._Element) -> None:
    """Cancel an ongoing confirmed commit, restoring the previous running."""
    persist_id = child_text(op, NS_NC, "persist-id")
    ctx.server.confirmed.cancel(
        session_id=ctx.session.session_id,
        persist_id=persist_id.strip() if persist_id is not None else None,
    )
    return None
