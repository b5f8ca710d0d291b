"""Notifications from the NVE (RFC 5277), parsed into typed events.

The four notifications of nvo3-tes (draft-gu-nvo3-tes-nve-mechanism-01 sec. 3.3.8,
3.3.9, 3.4.3) become :class:`VMStateChanged`, :class:`VMAgedOut`, :class:`LocalChange`
(the one a TES answers with ``acknowledge-local-change``) and
:class:`MigrationProgress`; any other notification (RFC 6470 config changes,
nvo3-mapping, RFC 5277 ``replayComplete`` / ``notificationComplete``) becomes a
:class:`Notification` holding its content as plain data. :data:`Event` is their union;
:func:`parse_notification` reads one ``<notification>`` element.

:class:`Subscription` describes a ``<create-subscription>`` (RFC 5277 sec. 2.1.1) and
builds it with :meth:`Subscription.to_element`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import TypeAlias, TypeVar

from lxml import etree

from nvo3_netconf.constants import NS_NOTIF
from nvo3_netconf.protocol.xml import (
    Element,
    child_text,
    element,
    local_name,
    namespace_of,
    qname,
    sub,
)
from nvo3_netconf.signalling import (
    MigrationPhase,
)
from nvo3_netconf.tes.params import (
    NS_TES,
    PCP,
    VID,
    VNID,
    MacAddress,
    MigrationPeer,
    ReplyReason,
    Result,
    VMEvent,
    VMIdFormat,
    VMRef,
    VMState,
    VNName,
)
from nvo3_netconf.tes.replies import InvalidReplyError, enum_value, parse_reason, plain

__all__ = [
    "TES_NOTIFICATIONS",
    "Event",
    "LocalChange",
    "LocalChangeCause",
    "MigrationPhase",
    "MigrationProgress",
    "MigrationRole",
    "Notification",
    "Subscription",
    "TagChange",
    "VMAgedOut",
    "VMStateChanged",
    "VNICSummary",
    "VNSummary",
    "event_to_dict",
    "parse_notification",
]

E = TypeVar("E", bound=Enum)

TES_NOTIFICATIONS = ("vm-state-changed", "vm-aged-out", "local-change", "migration-progress")
"""The notification names of nvo3-tes."""


class LocalChangeCause(StrEnum):
    """Why the NVE changed a VID or PCP it had returned (``local-change/cause``)."""

    VID_REASSIGNED = "vid-reassigned"
    PCP_CHANGED = "pcp-changed"
    VAP_CHANGED = "vap-changed"
    OTHER = "other"


class MigrationRole(StrEnum):
    """This NVE's role in a migration."""

    SOURCE = "source"
    DESTINATION = "destination"



@dataclass(frozen=True)
class VNICSummary:
    """A filter entry of a VM in a notification: addresses and the tag assigned."""

    mac: MacAddress | None = None
    ip_addresses: tuple[str, ...] = ()
    vid: VID | None = None
    pcp: PCP | None = None


@dataclass(frozen=True)
class VNSummary:
    """A VN a VM attaches to, as a notification reports it."""

    vn_name: VNName
    vnid: VNID | None = None
    active: bool | None = None
    vnics: tuple[VNICSummary, ...] = ()


@dataclass(frozen=True)
class VMStateChanged:
    """``vm-state-changed``: a VM's lifecycle state changed (sec. 3.4.3)."""

    event_time: datetime
    vm: VMRef
    event: VMEvent
    old_state: VMState | None = None
    new_state: VMState | None = None
    tenant: str | None = None
    tes_identity: str | None = None
    migrating: bool = False
    vns: tuple[VNSummary, ...] = ()
    name: str = field(default="vm-state-changed", init=False)


@dataclass(frozen=True)
class VMAgedOut:
    """``vm-aged-out``: an idle VM was aged out and its resources released (3.3.8)."""

    event_time: datetime
    vm: VMRef
    last_state: VMState
    idle_time: int
    last_event: VMEvent | None = None
    last_refresh: str | None = None
    tenant: str | None = None
    tes_identity: str | None = None
    vns: tuple[VNSummary, ...] = ()
    name: str = field(default="vm-aged-out", init=False)


@dataclass(frozen=True)
class TagChange:
    """One changed assignment of a :class:`LocalChange`."""

    vn_name: VNName
    vnid: VNID | None = None
    mac: MacAddress | None = None
    old_vid: VID | None = None
    new_vid: VID | None = None
    old_pcp: PCP | None = None
    new_pcp: PCP | None = None


@dataclass(frozen=True)
class LocalChange:
    """``local-change``: tags the NVE returned changed (sec. 3.3.9).

    The TES answers with ``TESClient.acknowledge_local_change(event.vm, event.change_id)``.
    """

    event_time: datetime
    vm: VMRef
    change_id: int
    cause: LocalChangeCause
    changes: tuple[TagChange, ...]
    tes_identity: str | None = None
    name: str = field(default="local-change", init=False)


@dataclass(frozen=True)
class MigrationProgress:
    """``migration-progress``: a migration step on this NVE, for the coordinator."""

    event_time: datetime
    vm: VMRef
    role: MigrationRole
    phase: MigrationPhase
    result: Result
    reason: ReplyReason | str | None = None
    error_message: str | None = None
    tenant: str | None = None
    peer: MigrationPeer | None = None
    name: str = field(default="migration-progress", init=False)


@dataclass(frozen=True)
class Notification:
    """Any other notification: its name, namespace and content as plain data.

    Attributes:
        event_time: the ``eventTime``.
        name: the content element's local name (``netconf-config-change``,
            ``replayComplete``...).
        namespace: its namespace.
        content: child elements by local name: text for a leaf, a dict for a container
            or list entry, a list when a name repeats.
    """

    event_time: datetime
    name: str
    namespace: str
    content: Mapping[str, object] = field(default_factory=dict)


Event: TypeAlias = VMStateChanged | VMAgedOut | LocalChange | MigrationProgress | Notification
"""Anything :func:`parse_notification` returns."""


@dataclass(frozen=True)
class Subscription:
    """A ``<create-subscription>`` request (RFC 5277 sec. 2.1.1).

    Attributes:
        stream: the stream; ``None`` is the default ``NETCONF`` stream.
        subtree: subtree filter content (RFC 6241 sec. 6), e.g. ``<vm-state-changed
            xmlns="urn:nvo3-netconf:yang:nvo3-tes"/>``; copied into the request.
        xpath: an XPath filter (``:xpath`` capability); prefixes from ``namespaces``.
        namespaces: prefix -> namespace for ``xpath``.
        start_time: replay from this time (needs a time zone).
        stop_time: stop at this time; the NVE then sends ``notificationComplete``.
    """

    stream: str | None = None
    subtree: tuple[Element, ...] = ()
    xpath: str | None = None
    namespaces: Mapping[str, str] = field(default_factory=dict)
    start_time: datetime | None = None
    stop_time: datetime | None = None

    def __post_init__(self) -> None:
        if self.subtree and self.xpath:
            raise ValueError("a subscription filter is a subtree or an XPath, not both")
        for stamp in (self.start_time, self.stop_time):
            if stamp is not None and stamp.tzinfo is None:
                raise ValueError("startTime and stopTime need a time zone")
        if self.stop_time is not None and self.start_time is None:
            raise ValueError("stopTime needs startTime (RFC 5277 sec. 2.1.1)")

    @classmethod
    def for_events(cls, names: tuple[str, ...] = (), *, vm: VMRef | None = None,
                   stream: str | None = None, start_time: datetime | None = None,
                   stop_time: datetime | None = None) -> Subscription:
        """A subtree filter selecting nvo3-tes notifications by name and/or VM.

        Args:
            names: notification names of nvo3-tes (all four when empty and ``vm`` given).
            vm: only notifications about this VM (content match on ``vm-id``).
            stream: the stream.
            start_time: replay start.
            stop_time: replay stop.

        Raises:
            ValueError: a name is not an nvo3-tes notification.
        """
        for name in names:
            if name not in TES_NOTIFICATIONS:
                raise ValueError(f"{name!r} is not a notification of nvo3-tes")
        if not names and vm is not None:
            names = TES_NOTIFICATIONS
        subtree = []
        for name in names:
            selector = element(NS_TES, name)
            if vm is not None:
                sub(selector, NS_TES, "vm-id", vm.vm_id)
            subtree.append(selector)
        return cls(stream=stream, subtree=tuple(subtree), start_time=start_time,
                   stop_time=stop_time)

    def to_element(self) -> Element:
        """Build the ``<create-subscription>`` element."""
        op = element(NS_NOTIF, "create-subscription")
        if self.stream is not None:
            sub(op, NS_NOTIF, "stream", self.stream)
        if self.subtree:
            filt = sub(op, NS_NOTIF, "filter")
            filt.set("type", "subtree")
            for selector in self.subtree:
                filt.append(_copy(selector))
        elif self.xpath is not None:
            filt = etree.SubElement(op, qname(NS_NOTIF, "filter"),
                                    nsmap=dict(self.namespaces) or None)
            filt.set("type", "xpath")
            filt.set("select", self.xpath)
        if self.start_time is not None:
            sub(op, NS_NOTIF, "startTime", _rfc3339(self.start_time))
        if self.stop_time is not None:
            sub(op, NS_NOTIF, "stopTime", _rfc3339(self.stop_time))
        return op


def _copy(el: Element) -> Element:
    return etree.fromstring(etree.tostring(el))


def _rfc3339(stamp: datetime) -> str:
    text = stamp.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def parse_notification(root: Element) -> Event:
    """Read one ``<notification>`` (RFC 5277 sec. 4).

    Args:
        root: the parsed message.

    Returns:
        A typed event for the nvo3-tes notifications, else a :class:`Notification`.

    Raises:
        InvalidReplyError: the message is not a notification, lacks ``eventTime`` or
            content, or an nvo3-tes notification breaks its model.
    """
    if root.tag != qname(NS_NOTIF, "notification"):
        raise InvalidReplyError("the message is not an RFC 5277 notification")
    stamp = child_text(root, NS_NOTIF, "eventTime")
    if not stamp:
        raise InvalidReplyError("the notification has no eventTime")
    try:
        event_time = datetime.fromisoformat(stamp.strip())
    except ValueError:
        raise InvalidReplyError(f"eventTime {stamp!r} is not an RFC 3339 date-time") from None
    if event_time.tzinfo is None:
        event_time = event_time.replace(tzinfo=UTC)
    content = [c for c in root if isinstance(c.tag, str) and c.tag != qname(NS_NOTIF,
                                                                            "eventTime")]
    if not content:
        raise InvalidReplyError("the notification has no content")
    body = content[0]
    name = local_name(body)
    if namespace_of(body) == NS_TES and name in _PARSERS:
        return _PARSERS[name](event_time, body)
    data = _to_plain(body)
    return Notification(event_time=event_time, name=name, namespace=namespace_of(body) or "",
                        content=data if isinstance(data, dict) else {})


def _vm(el: Element) -> VMRef:
    vm_id = child_text(el, NS_TES, "vm-id")
    if not vm_id:
        raise InvalidReplyError(f"{local_name(el)} has no vm-id")
    fmt = enum_value(VMIdFormat, (child_text(el, NS_TES, "vm-id-format") or "uuid").strip(),
                     "vm-id-format")
    try:
        return VMRef(vm_id.strip(), fmt)
    except ValueError as error:
        raise InvalidReplyError(str(error)) from None


def _opt_text(el: Element, name: str) -> str | None:
    text = child_text(el, NS_TES, name)
    return text.strip() if text is not None else None


def _opt_int(el: Element, name: str) -> int | None:
    text = _opt_text(el, name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidReplyError(f"{name} {text!r} is not a number") from None


def _opt_enum(el: Element, name: str, cls: type[E]) -> E | None:
    text = _opt_text(el, name)
    return None if text is None else enum_value(cls, text, name)


def _req_enum(el: Element, name: str, cls: type[E]) -> E:
    value = _opt_enum(el, name, cls)
    if value is None:
        raise InvalidReplyError(f"{local_name(el)} has no {name}")
    return value


def _bool(text: str | None) -> bool | None:
    return None if text is None else text == "true"


def _vns(el: Element) -> tuple[VNSummary, ...]:
    vns = []
    for vn in el.iterchildren(qname(NS_TES, "vn")):
        vnics = tuple(
            VNICSummary(
                mac=_opt_text(v, "mac"),
                ip_addresses=tuple((ip.text or "").strip()
                                   for ip in v.iterchildren(qname(NS_TES, "ip-address"))),
                vid=_opt_int(v, "vid"),
                pcp=_opt_int(v, "pcp"),
            )
            for v in vn.iterchildren(qname(NS_TES, "vnic"))
        )
        vns.append(VNSummary(vn_name=_opt_text(vn, "vn-name") or "", vnid=_opt_int(vn, "vnid"),
                             active=_bool(_opt_text(vn, "active")), vnics=vnics))
    return tuple(vns)


def _state_changed(event_time: datetime, el: Element) -> VMStateChanged:
    return VMStateChanged(
        event_time=event_time, vm=_vm(el), event=_req_enum(el, "event", VMEvent),
        old_state=_opt_enum(el, "old-state", VMState),
        new_state=_opt_enum(el, "new-state", VMState),
        tenant=_opt_text(el, "tenant"), tes_identity=_opt_text(el, "tes-identity"),
        migrating=_bool(_opt_text(el, "migrating")) or False, vns=_vns(el),
    )


def _aged_out(event_time: datetime, el: Element) -> VMAgedOut:
    idle_time = _opt_int(el, "idle-time")
    if idle_time is None:
        raise InvalidReplyError("vm-aged-out has no idle-time")
    return VMAgedOut(
        event_time=event_time, vm=_vm(el), last_state=_req_enum(el, "last-state", VMState),
        idle_time=idle_time, last_event=_opt_enum(el, "last-event", VMEvent),
        last_refresh=_opt_text(el, "last-refresh"), tenant=_opt_text(el, "tenant"),
        tes_identity=_opt_text(el, "tes-identity"), vns=_vns(el),
    )


def _local_change(event_time: datetime, el: Element) -> LocalChange:
    change_id = _opt_int(el, "change-id")
    if change_id is None:
        raise InvalidReplyError("local-change has no change-id")
    changes = tuple(
        TagChange(
            vn_name=_opt_text(c, "vn-name") or "", vnid=_opt_int(c, "vnid"),
            mac=_opt_text(c, "mac"), old_vid=_opt_int(c, "old-vid"),
            new_vid=_opt_int(c, "new-vid"), old_pcp=_opt_int(c, "old-pcp"),
            new_pcp=_opt_int(c, "new-pcp"),
        )
        for c in el.iterchildren(qname(NS_TES, "change"))
    )
    return LocalChange(event_time=event_time, vm=_vm(el), change_id=change_id,
                       cause=_req_enum(el, "cause", LocalChangeCause),
                       changes=changes, tes_identity=_opt_text(el, "tes-identity"))


def _migration(event_time: datetime, el: Element) -> MigrationProgress:
    peer_el = el.find(qname(NS_TES, "peer"))
    peer = None
    if peer_el is not None:
        try:
            peer = MigrationPeer(_opt_text(peer_el, "migration-id"),
                                 _opt_text(peer_el, "peer-nve"),
                                 _opt_text(peer_el, "peer-vserver"))
        except ValueError as error:
            raise InvalidReplyError(str(error)) from None
    reason_el = el.find(qname(NS_TES, "reason"))
    return MigrationProgress(
        event_time=event_time, vm=_vm(el),
        role=_req_enum(el, "role", MigrationRole), phase=_req_enum(el, "phase", MigrationPhase),
        result=_req_enum(el, "result", Result),
        reason=parse_reason(reason_el) if reason_el is not None else None,
        error_message=child_text(el, NS_TES, "error-message"),
        tenant=_opt_text(el, "tenant"), peer=peer,
    )


_PARSERS: dict[str, Callable[[datetime, Element], Event]] = {
    "vm-state-changed": _state_changed,
    "vm-aged-out": _aged_out,
    "local-change": _local_change,
    "migration-progress": _migration,
}


def _to_plain(el: Element) -> object:
    """Element -> text (leaf) or dict by local name (repeated names become lists)."""
    kids = [c for c in el if isinstance(c.tag, str)]
    if not kids:
        return (el.text or "").strip()
    out: dict[str, object] = {}
    for child in kids:
        key, value = local_name(child), _to_plain(child)
        if key not in out:
            out[key] = value
            continue
        existing = out[key]
        if isinstance(existing, list):
            existing.append(value)
        else:
            out[key] = [existing, value]
    return out


def event_to_dict(event: Event) -> dict[str, object]:
    """An event as JSON-ready data (``name`` and ``event-time`` first)."""
    data = plain(event)
    assert isinstance(data, dict)
    head = {"name": event.name, "event-time": event.event_time.isoformat()}
    return {**head, **{k: v for k, v in data.items() if k not in ("name", "event-time")}}

