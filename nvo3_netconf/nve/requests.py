"""TES signalling messages as typed values, read from RPC input libyang has validated.

The nvo3-tes RPCs (seed 003 sec. 3.3; IEEE 802.1Qbg clause 41 parameters) become a
:class:`Signal`: the operation, the VM, the :class:`AssociationParameters` of
pre-associate / associate / immigrate (VNs with their filter entries and policy names),
the indications (VDP M-bit and S-bit, keep-alive, resume, emigration), the immigration
phase and the migration peer. ``acknowledge-local-change`` becomes an
:class:`Acknowledgement`. Input is the operation element as libyang prints it with every
default (so absent leaves with defaults are present); MAC addresses are lower-cased,
since the NVE compares them as strings.

Public names: :class:`Operation`, :class:`Indication`, :class:`FilterFormat`,
:class:`FilterEntry`, :class:`VNRequest`, :class:`AssociationParameters`,
:class:`MigrationPeer`, :class:`Signal`, :class:`Acknowledgement`, :func:`read_signal`,
:func:`read_acknowledgement`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from nvo3_netconf.constants import NS_NVO3_TES, NS_NVO3_TYPES
from nvo3_netconf.nve.lifecycle import ImmigrationPhase, ReplyReason, Result
from nvo3_netconf.nve.settings import PolicyNames, read_policy_names
from nvo3_netconf.signalling import (
    FilterFormat,
    Indication,
    Operation,
)

__all__ = [
    "Acknowledgement",
    "AssociationParameters",
    "FilterEntry",
    "FilterFormat",
    "Indication",
    "MigrationPeer",
    "Operation",
    "Signal",
    "VNRequest",
    "read_acknowledgement",
    "read_signal",
]

_T = NS_NVO3_TES



@dataclass(frozen=True)
class FilterEntry:
    """One ``vnic`` entry: a vNIC and/or a VID request (VDP filter info)."""

    mac: str | None = None
    ip_addresses: tuple[str, ...] = ()
    group_id: int | None = None
    requested_vid: int = 0
    requested_pcp: int | None = None


@dataclass(frozen=True)
class VNRequest:
    """A VN the VM attaches to, as signalled: name and/or VNID, policies, entries."""

    vn_name: str | None = None
    vnid: int | None = None
    policies: PolicyNames | None = None
    entries: tuple[FilterEntry, ...] = ()

    def label(self) -> str:
        """How to name the VN in a message to a person."""
        if self.vn_name is not None:
            return self.vn_name
        return f"VNID {self.vnid}"


@dataclass(frozen=True)
class AssociationParameters:
    """The ``association-parameters`` grouping, plus the reservation flag."""

    tenant: str
    group_id: int | None = None
    vcenter_id: str | None = None
    vserver_id: str | None = None
    interface: str | None = None
    filter_format: FilterFormat = FilterFormat.MAC_VID
    vns: tuple[VNRequest, ...] = ()
    reserve: bool = False


@dataclass(frozen=True)
class MigrationPeer:
    """The other end of a migration (``migration-peer``)."""

    migration_id: str | None = None
    peer_nve: str | None = None
    peer_vserver: str | None = None


@dataclass(frozen=True)
class Signal:
    """One lifecycle message from a TES.

    Attributes:
        operation: the RPC.
        vm_id: the VM (VSIID) in its canonical text form.
        vm_id_format: the VSIID format.
        parameters: association parameters (pre-associate, associate, immigrate).
        indications: the indications present.
        phase: the immigration phase (immigrate only).
        peer: the migration's other end (emigrate destination, immigrate source).
    """

    operation: Operation
    vm_id: str
    vm_id_format: str = "uuid"
    parameters: AssociationParameters | None = None
    indications: frozenset[Indication] = frozenset()
    phase: ImmigrationPhase | None = None
    peer: MigrationPeer | None = None


@dataclass(frozen=True)
class Acknowledgement:
    """``acknowledge-local-change``: the TES's answer to a local-change notification."""

    vm_id: str
    change_id: int
    result: Result
    reason: ReplyReason | None = None
    error_message: str | None = None


def _q(name: str) -> str:
    return f"{{{_T}}}{name}"


def _text(parent: etree._Element, name: str) -> str | None:
    value = parent.findtext(_q(name))
    return value.strip() if value is not None else None


def _int(parent: etree._Element, name: str) -> int | None:
    value = _text(parent, name)
    return int(value) if value else None


def _mac(value: str | None) -> str | None:
    return value.lower() if value else None


def read_signal(op: etree._Element) -> Signal:
    """The :class:`Signal` of a validated nvo3-tes lifecycle RPC element.

    Args:
        op: the operation element, with its defaults filled in.

    Returns:
        The typed message.
    """
    operation = Operation(etree.QName(op).localname)
    parameters = None
    if operation in (Operation.PRE_ASSOCIATE, Operation.ASSOCIATE, Operation.IMMIGRATE):
        parameters = _read_parameters(op)
    indications = op.find(_q("indications"))
    present = frozenset(
        Indication(etree.QName(child).localname)
        for child in (indications if indications is not None else ())
        if isinstance(child.tag, str)
    )
    phase = None
    if operation is Operation.IMMIGRATE:
        phase = ImmigrationPhase(_text(op, "phase") or "associate")
    peer_el = op.find(_q("destination" if operation is Operation.EMIGRATE else "source"))
    peer = None
    if peer_el is not None and len(peer_el):
        peer = MigrationPeer(
            migration_id=_text(peer_el, "migration-id"),
            peer_nve=_text(peer_el, "peer-nve"),
            peer_vserver=_text(peer_el, "peer-vserver"),
        )
    return Signal(
        operation=operation,
        vm_id=_text(op, "vm-id") or "",
        vm_id_format=_text(op, "vm-id-format") or "uuid",
        parameters=parameters,
        indications=present,
        phase=phase,
        peer=peer,
    )


def _read_parameters(op: etree._Element) -> AssociationParameters:
    vns = []
    for vn in op.iterfind(_q("vn")):
        policies_el = vn.find(_q("policies"))
        policies = read_policy_names(policies_el, _T) if policies_el is not None else None
        if policies is not None and policies.empty:
            policies = None
        entries = tuple(
            FilterEntry(
                mac=_mac(_text(vnic, "mac")),
                ip_addresses=tuple(
                    (e.text or "").strip() for e in vnic.iterfind(_q("ip-address"))
                ),
                group_id=_int(vnic, "group-id"),
                requested_vid=_int(vnic, "requested-vid") or 0,
                requested_pcp=_int(vnic, "requested-pcp"),
            )
            for vnic in vn.iterfind(_q("vnic"))
        )
        vns.append(VNRequest(
            vn_name=_text(vn, "vn-name"), vnid=_int(vn, "vnid"),
            policies=policies, entries=entries,
        ))
    return AssociationParameters(
        tenant=_text(op, "tenant") or "",
        group_id=_int(op, "group-id"),
        vcenter_id=_text(op, "vcenter-id"),
        vserver_id=_text(op, "vserver-id"),
        interface=_text(op, "interface"),
        filter_format=FilterFormat(_text(op, "filter-format") or "mac-vid"),
        vns=tuple(vns),
        reserve=_text(op, "reserve-resources") == "true",
    )


def read_acknowledgement(op: etree._Element) -> Acknowledgement:
    """The :class:`Acknowledgement` of a validated ``acknowledge-local-change`` element."""
    reason = None
    reason_el = op.find(_q("reason"))
    if reason_el is not None and reason_el.text:
        prefix, _, name = reason_el.text.strip().rpartition(":")
        if reason_el.nsmap.get(prefix or None) == NS_NVO3_TYPES or not prefix:
            reason = ReplyReason(name)
    return Acknowledgement(
        vm_id=_text(op, "vm-id") or "",
        change_id=_int(op, "change-id") or 0,
        result=Result(_text(op, "result") or "success"),
        reason=reason,
        error_message=_text(op, "error-message"),
    )
