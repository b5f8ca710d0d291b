"""``<close-session>`` and ``<kill-session>`` (RFC 6241 sec. 7.8, 7.9)."""

from __future__ import annotations

from lxml import etree

from nvo3_netconf.constants import NS_NC
from nvo3_netconf.errors import InvalidValueError, MissingElementError
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.xml import child_text


def close_session(ctx: RPCContext, op: etree._Element) -> None:
    """End the requesting session gracefully, after the ``<ok/>`` reply.

    Its locks and its unpersisted confirmed commit are released before the reply
    (RFC 6241 sec. 7.8), so a client that got the ``<ok/>`` finds them released.
    """
    ctx.server.release_session(ctx.session.session_id)
    ctx.session.close_after_reply()
    return None


def kill_session(ctx: RPCContext, op: etree._Element) -> None:
    """Abort another session: its operations stop and its locks are released."""
    text = child_text(op, NS_NC, "session-id")
    if text is None:
        raise MissingElementError("<kill-session> needs a <session-id>.",
                                  info={"bad-element": "session-id"})
    try:
        target = int(text.strip())
    except ValueError:
        raise InvalidValueError(f"Session id {text!r} is not a number.",
                                info={"bad-element": "session-id"}) from None
    if target == ctx.session.session_id:
        raise InvalidValueError(
            "A session cannot kill itself; use <close-session>.",
            info={"bad-element": "session-id"},
        )
    if not ctx.server.kill_session(target, killed_by=ctx.session.session_id):
        raise InvalidValueError(f"There is no session {target}.",
                                info={"bad-element": "session-id"})
    return None
