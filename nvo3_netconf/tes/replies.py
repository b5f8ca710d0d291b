"""The NVE's answer to a signalling message, parsed into a typed :class:`Reply`.

Reads the ``signalling-reply`` output of the nvo3-tes RPCs
(draft-gu-nvo3-tes-nve-mechanism-01 sec. 3.3 "Response", 3.4.1.1 REQUIREMENT-4 and
3.4.1.2 REQUIREMENT-5): SUCCESS or FAIL with a reason, the VM's state, its timers and
the VID and PCP assigned per VN and vNIC (:class:`Assignment`).

An ``<rpc-error>`` is not a reply: :mod:`nvo3_netconf.tes.connection` raises it as the
typed :class:`~nvo3_netconf.errors.RPCError`. A FAIL is a reply; :meth:`Reply.check`
turns it into :class:`SignallingFailure` for callers that prefer an exception.

Public names: :class:`Reply`, :class:`Assignment`, :func:`parse_reply`,
:class:`SignallingFailure`, :class:`InvalidReplyError`, :func:`plain`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TypeVar

from nvo3_netconf.errors import Nvo3Error
from nvo3_netconf.protocol.xml import Element, child_text, local_name, namespace_of
from nvo3_netconf.tes.params import (
    NS_TES,
    NS_TYPES,
    PCP,
    VID,
    VNID,
    GroupId,
    MacAddress,
    ReplyReason,
    Result,
    TESOperation,
    VMRef,
    VMState,
    VNName,
)

__all__ = [
    "Assignment",
    "InvalidReplyError",
    "Reply",
    "SignallingFailure",
    "enum_value",
    "parse_reason",
    "parse_reply",
    "plain",
]


E = TypeVar("E", bound=Enum)


class InvalidReplyError(Nvo3Error):
    """A message from the NVE does not follow the nvo3-tes model."""


@dataclass(frozen=True)
class Assignment:
    """A local tag the NVE assigned to one filter entry (list ``assignment``).

    Attributes:
        vid: the VID the TES must tag the vNIC's traffic with.
        vn_name: the VN.
        vnid: the VN's VNID.
        mac: the vNIC's MAC address, if the entry has one.
        group_id: the entry's GroupID, if it has one.
        pcp: the PCP to tag with.
    """

    vid: VID
    vn_name: VNName | None = None
    vnid: VNID | None = None
    mac: MacAddress | None = None
    group_id: GroupId | None = None
    pcp: PCP | None = None


@dataclass(frozen=True)
class Reply:
    """The NVE's answer to one signalling message.

    ``acknowledge-local-change`` has no output: its reply is SUCCESS and nothing else.

    Attributes:
        operation: the RPC answered.
        vm: the VM the request was about.
        result: SUCCESS or FAIL.
        reason: why it failed: a :class:`ReplyReason`, or the identity's name as a
            string when the NVE uses one derived from ``reply-reason`` that this client
            does not know.
        error_message: a sentence for a person.
        vm_state: the VM's state after processing; ``None`` if the NVE holds none.
        keep_alive_interval: seconds between the keep-alives the NVE expects.
        aging_time: seconds the NVE keeps an idle VM (0: never).
        assignments: the VIDs and PCPs assigned, per VN and filter entry.
    """

    operation: TESOperation
    vm: VMRef
    result: Result
    reason: ReplyReason | str | None = None
    error_message: str | None = None
    vm_state: VMState | None = None
    keep_alive_interval: int | None = None
    aging_time: int | None = None
    assignments: tuple[Assignment, ...] = ()

    @property
    def ok(self) -> bool:
        """True if the result is SUCCESS."""
        return self.result is Result.SUCCESS

    def check(self) -> Reply:
        """Return the reply if it is SUCCESS.

        Raises:
            SignallingFailure: the result is FAIL.
        """
        if not self.ok:
            raise SignallingFailure(self)
        return self

    def to_dict(self) -> dict[str, object]:
        """The reply as JSON-ready data, keyed by the model's (hyphenated) names."""
        data = plain(self)
        assert isinstance(data, dict)
        return data


class SignallingFailure(Nvo3Error):
    """The NVE answered FAIL; ``reply`` holds the whole answer."""

    def __init__(self, reply: Reply) -> None:
        reason = reply.reason.value if isinstance(reply.reason, ReplyReason) else reply.reason
        text = f"{reply.operation.value} of VM {reply.vm.vm_id} failed: {reason}"
        if reply.error_message:
            text += f" ({reply.error_message})"
        super().__init__(text)
        self.reply = reply


def parse_reply(operation: TESOperation, vm: VMRef, output: Sequence[Element]) -> Reply:
    """Read the output elements of an ``<rpc-reply>`` (its children other than ``<ok/>``).

    Args:
        operation: the RPC that was sent.
        vm: the VM it was about.
        output: the reply's child elements; empty for an ``<ok/>`` reply.

    Returns:
        The parsed reply.

    Raises:
        InvalidReplyError: the output lacks ``result`` or holds a value the model forbids.
    """
    if not output:
        if operation is TESOperation.ACKNOWLEDGE_LOCAL_CHANGE:
            return Reply(operation=operation, vm=vm, result=Result.SUCCESS)
        raise InvalidReplyError(f"the NVE answered {operation.value} without a result")
    leaves: dict[str, Element] = {}
    assignments: list[Assignment] = []
    for el in output:
        if namespace_of(el) != NS_TES:
            continue  # another module's augmentation: not ours to read
        if local_name(el) == "assignment":
            assignments.append(_assignment(el))
        else:
            leaves[local_name(el)] = el
    if "result" not in leaves:
        raise InvalidReplyError(f"the NVE answered {operation.value} without a result")
    return Reply(
        operation=operation,
        vm=vm,
        result=enum_value(Result, _text(leaves["result"]), "result"),
        reason=parse_reason(leaves["reason"]) if "reason" in leaves else None,
        error_message=leaves["error-message"].text if "error-message" in leaves else None,
        vm_state=(enum_value(VMState, _text(leaves["vm-state"]), "vm-state")
                  if "vm-state" in leaves else None),
        keep_alive_interval=_int(leaves.get("keep-alive-interval"), "keep-alive-interval"),
        aging_time=_int(leaves.get("aging-time"), "aging-time"),
        assignments=tuple(assignments),
    )


def _assignment(el: Element) -> Assignment:
    vid = _int(el.find(f"{{{NS_TES}}}vid"), "vid")
    if vid is None:
        raise InvalidReplyError("an assignment of the NVE's reply has no vid")
    mac = child_text(el, NS_TES, "mac")
    return Assignment(
        vid=vid,
        vn_name=child_text(el, NS_TES, "vn-name"),
        vnid=_int(el.find(f"{{{NS_TES}}}vnid"), "vnid"),
        mac=mac.strip().lower() if mac else None,
        group_id=_int(el.find(f"{{{NS_TES}}}group-id"), "group-id"),
        pcp=_int(el.find(f"{{{NS_TES}}}pcp"), "pcp"),
    )


def _text(el: Element) -> str:
    return (el.text or "").strip()


def _int(el: Element | None, name: str) -> int | None:
    if el is None:
        return None
    try:
        return int(_text(el))
    except ValueError:
        raise InvalidReplyError(f"{name} {_text(el)!r} is not a number") from None


def enum_value(cls: type[E], text: str, name: str) -> E:
    """Read an enumeration leaf's text as ``cls``.

    Args:
        cls: the enum.
        text: the leaf's text.
        name: the leaf's name, for the error.

    Raises:
        InvalidReplyError: the text is not one of the enum's values.
    """
    try:
        return cls(text)
    except ValueError:
        raise InvalidReplyError(f"{name} {text!r} is not a value the model allows") from None


def parse_reason(el: Element) -> ReplyReason | str:
    """Read a ``reply-reason`` identityref (RFC 7950 sec. 9.10.3).

    Args:
        el: the leaf, whose prefix is resolved against its in-scope namespaces.

    Returns:
        The :class:`ReplyReason`, or ``module-namespace:name`` text for an identity
        this client does not know.
    """
    prefix, _, name = _text(el).rpartition(":")
    namespace = el.nsmap.get(prefix or None)
    if namespace in (NS_TYPES, None) or prefix == "nvo3-types":
        try:
            return ReplyReason(name)
        except ValueError:
            pass
    return f"{namespace or prefix}:{name}"


def plain(value: object) -> object:
    """Convert dataclasses, enums, tuples and datetimes to JSON-ready data.

    Field names become the model's hyphenated names; ``None`` and empty tuples are left
    out.

    Args:
        value: what to convert.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None or item == ():
                continue
            out[f.name.replace("_", "-")] = plain(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (tuple, list, frozenset)):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, frozenset) else items
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value
