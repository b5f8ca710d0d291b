"""``<create-subscription>`` (RFC 5277 sec. 2.1.1) and the filtering of notifications.

Parameters (module ``notifications``): ``stream`` (default ``NETCONF``), ``filter``
(subtree or XPath, as in RFC 6241 sec. 6 and 8.9, applied to each notification's
content, RFC 5277 sec. 3.6), ``startTime`` and ``stopTime`` (replay, sec. 3.3).

Errors, as RFC 5277 names them:

- ``stopTime`` without ``startTime``: ``missing-element``, error-info
  ``<bad-element>startTime</bad-element>`` (sec. 2.1.1);
- ``startTime`` later than the current time: ``bad-element`` (startTime);
- ``stopTime`` earlier than ``startTime``: ``bad-element`` (stopTime);
- replay asked of a stream that does not support it: ``operation-failed`` (sec. 2.1.1);
- a subscription already active on the session: ``operation-failed`` (sec. 6.5);
- a stream that does not exist: the RFC says only that the request fails; it is
  ``invalid-value`` with ``<bad-element>stream</bad-element>``;
- a filter of invalid syntax: the errors of ``<get>``'s filter (``bad-attribute``,
  ``missing-attribute``, ``invalid-value``);
- a time that is not a ``yang:date-and-time``: ``bad-element``;
- an unknown parameter (``unknown-element``, ``unknown-namespace``) or one given twice
  (``bad-element``): refused before the handler runs, by the dispatcher's check of the
  parameters against the ``create-subscription`` input (``ops/params.py``), which also
  takes ``<filter>`` in the base namespace, as ncclient sends it.

All are error-type ``protocol``. Notifications start after the ``<ok/>``; the session
keeps accepting operations meanwhile (the :interleave capability, RFC 5277 sec. 6).

Under NACM each notification, live or replayed, is first authorized for the session's
user as the configuration stands when it is sent (RFC 8341 sec. 3.4.6); the filter
then applies to what the user may receive.

Public names: :func:`create_subscription`, :func:`notification_selector`.
"""

from __future__ import annotations

from lxml import etree

from nvo3_netconf.constants import NS_NC, Datastore, ErrorType
from nvo3_netconf.datastore.store import DatastoreManager
from nvo3_netconf.errors import (
    BadElementError,
    InvalidValueError,
    MissingElementError,
    OperationFailedError,
)
from nvo3_netconf.nacm import Nacm
from nvo3_netconf.notifications import (
    NETCONF,
    NotificationBus,
    Selector,
    SubscriptionExistsError,
    parse_date_time,
)
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.filters import apply_filter
from nvo3_netconf.protocol.xml import local_name

PROTOCOL = ErrorType.PROTOCOL
_DATA = f"{{{NS_NC}}}data"


def create_subscription(ctx: RPCContext, op: etree._Element) -> None:
    """Subscribe the session to a stream; notifications follow the ``<ok/>`` reply.

    Raises:
        RPCError: see the module docstring for each case.
    """
    params = _parameters(op)
    bus: NotificationBus = ctx.server.notifications
    session = ctx.session
    if bus.subscription(session.session_id) is not None:
        raise _already_subscribed()
    stream_el = params.get("stream")
    name = (stream_el.text or "").strip() if stream_el is not None else NETCONF
    stream = bus.stream(name)
    if stream is None:
        offered = ", ".join(s.name for s in bus.streams())
        raise InvalidValueError(
            f"There is no event stream {name!r}; this server offers {offered}.",
            type_=PROTOCOL, info={"bad-element": "stream"},
        )
    start = _time(params.get("startTime"), "startTime")
    stop = _time(params.get("stopTime"), "stopTime")
    if stop is not None and start is None:
        raise MissingElementError(
            "A stopTime needs a startTime: stopTime only ends a replay subscription.",
            type_=PROTOCOL, info={"bad-element": "startTime"},
        )
    if start is not None and start > bus.clock.time():
        raise BadElementError(
            "The startTime is later than the current time; nothing can be replayed from "
            "the future.", type_=PROTOCOL, info={"bad-element": "startTime"},
        )
    if start is not None and stop is not None and stop < start:
        raise BadElementError("The stopTime is earlier than the startTime.",
                              type_=PROTOCOL, info={"bad-element": "stopTime"})
    if start is not None and not bus.replay_supported(stream):
        raise OperationFailedError(f"The stream {name!r} does not support replay.",
                                   type_=PROTOCOL)
    filter_el = params.get("filter")
    selector = notification_selector(filter_el) if filter_el is not None else None
    nacm: Nacm | None = getattr(ctx.server, "nacm", None)
    if nacm is not None:
        selector = _authorized(nacm, session.user, ctx.server.datastores, selector)
    try:
        subscription = bus.subscribe(session.session_id, session, stream=name,
                                     selector=selector, start_time=start, stop_time=stop)
    except SubscriptionExistsError:
        raise _already_subscribed() from None
    session.after_reply(subscription.activate)
    return None


def notification_selector(filter_el: etree._Element) -> Selector:
    """The subscription filter of a ``<filter>`` parameter (RFC 5277 sec. 3.6).

    The filter is applied as to a ``<get>``: to a data tree whose only top-level node is
    the notification's content. A notification is sent with what the filter selects of
    it, and not at all when it selects nothing.

    The filter is checked now (an invalid one fails ``<create-subscription>``) and kept
    serialized; the selector parses its own copy on the thread that calls it.

    Raises:
        RPCError: the filter's type is unknown or its XPath expression is invalid.
    """
    apply_filter(etree.Element(_DATA, nsmap={None: NS_NC}), filter_el)
    serialized = etree.tostring(filter_el)
    parsed: list[etree._Element] = []

    def select(content: etree._Element) -> etree._Element | None:
        if not parsed:
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            parsed.append(etree.fromstring(serialized, parser))
        data = etree.Element(_DATA, nsmap={None: NS_NC})
        data.append(content)
        result = apply_filter(data, parsed[0])
        for child in result:
            if isinstance(child.tag, str):
                return child
        return None

    return select


def _authorized(nacm: Nacm, user: str, datastores: DatastoreManager,
                then: Selector | None) -> Selector:
    """A selector sending only what ``user`` may receive, then applying ``then``."""

    def select(content: etree._Element) -> etree._Element | None:
        allowed = nacm.access(user).filter_notification(
            content, running=lambda: datastores.reading(Datastore.RUNNING))
        if allowed is None:
            return None
        return then(allowed) if then is not None else allowed

    return select


def _parameters(op: etree._Element) -> dict[str, etree._Element]:
    """The parameters by local name: the dispatcher refused unknown and repeated ones."""
    return {local_name(child): child for child in op.iterchildren(etree.Element)}


def _time(element: etree._Element | None, name: str) -> float | None:
    if element is None:
        return None
    try:
        return parse_date_time(element.text or "")
    except ValueError:
        raise BadElementError(
            f"<{name}> must be a date and time as RFC 3339 writes it "
            f"(e.g. 2026-11-21T10:00:00Z), not {element.text!r}.",
            type_=PROTOCOL, info={"bad-element": name},
        ) from None


def _already_subscribed() -> OperationFailedError:
    return OperationFailedError(
        "This session already has a subscription; one session holds one subscription "
        "(open another session for another).", type_=PROTOCOL,
    )
