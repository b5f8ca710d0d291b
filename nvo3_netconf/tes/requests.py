"""The nvo3-tes RPCs a TES sends, as frozen dataclasses that build their XML.

One class per RPC of ``yang/nvo3-tes@2026-11-21.yang`` (draft-gu-nvo3-tes-nve-mechanism-01
sec. 3.3): :class:`PreAssociate`, :class:`Associate`, :class:`Suspend`, :class:`Resume`,
:class:`Emigrate`, :class:`Immigrate`, :class:`Terminate`, :class:`KeepAlive` and
:class:`AcknowledgeLocalChange`; :data:`Request` is their union.

Each has ``operation`` (a :class:`~nvo3_netconf.tes.params.TESOperation`), ``vm`` and
``to_element()``, which returns a new operation element for ``<rpc>`` (RFC 6241 sec.
4.1) with the input parameters as child elements in the order the ``input`` statement
defines them (RFC 7950 sec. 7.14.4). Building is sans-I/O; the rules the model's
``must`` statements on indications express are checked when the request is built and
raise ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, TypeAlias

from lxml import etree

from nvo3_netconf.protocol.xml import Element, element, qname, sub
from nvo3_netconf.tes.params import (
    NS_TES,
    NS_TYPES,
    AssociationParams,
    ImmigrationPhase,
    Indication,
    MigrationPeer,
    ReplyReason,
    Result,
    TESOperation,
    VMRef,
)

__all__ = [
    "AcknowledgeLocalChange",
    "Associate",
    "Emigrate",
    "Immigrate",
    "KeepAlive",
    "PreAssociate",
    "Request",
    "Resume",
    "Suspend",
    "Terminate",
]

_PRE_ASSOCIATE_INDICATIONS = (Indication.IMMIGRATION, Indication.KEEP_ALIVE)
_ASSOCIATE_INDICATIONS = (
    Indication.IMMIGRATION,
    Indication.KEEP_ALIVE,
    Indication.SUSPENSION,
    Indication.RESUME,
    Indication.EMIGRATION,
)
_EXCLUSIVE = frozenset(
    {Indication.IMMIGRATION, Indication.SUSPENSION, Indication.RESUME, Indication.EMIGRATION}
)
_VN_OPTIONAL = frozenset(
    {Indication.KEEP_ALIVE, Indication.SUSPENSION, Indication.RESUME, Indication.EMIGRATION}
)


def _operation(op: TESOperation) -> Element:
    return element(NS_TES, op.value)


def _leaf(parent: Element, name: str, value: object) -> None:
    """Append ``<name>value</name>`` in the nvo3-tes namespace unless ``value`` is None."""
    if value is None:
        return
    if isinstance(value, Enum):
        text = str(value.value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    sub(parent, NS_TES, name, text)


def _add_vm(parent: Element, vm: VMRef) -> None:
    _leaf(parent, "vm-id", vm.vm_id)
    _leaf(parent, "vm-id-format", vm.format)


def _add_association(parent: Element, params: AssociationParams) -> None:
    """Append the ``association-parameters`` grouping, in schema order."""
    _add_vm(parent, params.vm)
    _leaf(parent, "tenant", params.tenant)
    _leaf(parent, "group-id", params.group_id)
    _leaf(parent, "vcenter-id", params.vcenter_id)
    _leaf(parent, "vserver-id", params.vserver_id)
    _leaf(parent, "interface", params.interface)
    _leaf(parent, "filter-format", params.filter_format)
    for vn in params.vns:
        vn_el = sub(parent, NS_TES, "vn")
        _leaf(vn_el, "vn-name", vn.vn_name)
        _leaf(vn_el, "vnid", vn.vnid)
        if vn.policies is not None and not vn.policies.empty:
            policies = sub(vn_el, NS_TES, "policies")
            for name in vn.policies.ingress_acls:
                _leaf(policies, "ingress-acl", name)
            for name in vn.policies.egress_acls:
                _leaf(policies, "egress-acl", name)
            _leaf(policies, "qos-profile", vn.policies.qos_profile)
        for vnic in vn.vnics:
            vnic_el = sub(vn_el, NS_TES, "vnic")
            _leaf(vnic_el, "mac", vnic.mac)
            for ip in vnic.ip_addresses:
                _leaf(vnic_el, "ip-address", ip)
            _leaf(vnic_el, "group-id", vnic.group_id)
            _leaf(vnic_el, "requested-vid", vnic.requested_vid or 0)
            _leaf(vnic_el, "requested-pcp", vnic.requested_pcp)


def _add_indications(parent: Element, chosen: frozenset[Indication],
                     order: tuple[Indication, ...]) -> None:
    if not chosen:
        return
    container = sub(parent, NS_TES, "indications")
    for indication in order:
        if indication in chosen:
            sub(container, NS_TES, indication.value)


def _add_peer(parent: Element, name: str, peer: MigrationPeer | None) -> None:
    if peer is None or peer.empty:
        return
    container = sub(parent, NS_TES, name)
    _leaf(container, "migration-id", peer.migration_id)
    _leaf(container, "peer-nve", peer.peer_nve)
    _leaf(container, "peer-vserver", peer.peer_vserver)


def _indication_set(values: frozenset[Indication], allowed: tuple[Indication, ...],
                    op: TESOperation) -> frozenset[Indication]:
    chosen = frozenset(Indication(v) for v in values)
    refused = chosen.difference(allowed)
    if refused:
        names = ", ".join(sorted(i.value for i in refused))
        raise ValueError(f"{op.value} cannot carry the indication(s) {names}")
    return chosen


@dataclass(frozen=True)
class PreAssociate:
    """VM pre-association (sec. 3.3.1): install without activating.

    Attributes:
        params: the VM, tenant, VNs, vNICs and policies.
        reserve_resources: also reserve VIDs and table entries for the associate.
        indications: ``IMMIGRATION`` (Immigration Pre-Asso) and/or ``KEEP_ALIVE``.
    """

    operation: ClassVar[TESOperation] = TESOperation.PRE_ASSOCIATE
    params: AssociationParams
    reserve_resources: bool = False
    indications: frozenset[Indication] = frozenset()

    def __post_init__(self) -> None:
        chosen = _indication_set(self.indications, _PRE_ASSOCIATE_INDICATIONS, self.operation)
        object.__setattr__(self, "indications", chosen)
        if not self.params.vns and Indication.KEEP_ALIVE not in chosen:
            raise ValueError("a pre-associate without keep-alive indication needs a VN")

    @property
    def vm(self) -> VMRef:
        """The VM the request is about."""
        return self.params.vm

    def to_element(self) -> Element:
        """Build the ``<pre-associate>`` element."""
        op = _operation(self.operation)
        _add_association(op, self.params)
        if self.reserve_resources:
            _leaf(op, "reserve-resources", True)
        _add_indications(op, self.indications, _PRE_ASSOCIATE_INDICATIONS)
        return op


@dataclass(frozen=True)
class Associate:
    """VM association (sec. 3.3.2): install and activate, or refresh.

    Attributes:
        params: the VM, tenant, VNs, vNICs and policies.
        indications: at most one of ``IMMIGRATION``, ``SUSPENSION``, ``RESUME`` and
            ``EMIGRATION``, plus optionally ``KEEP_ALIVE``; with one of them the VNs may be
            left out (except for immigration).
    """

    operation: ClassVar[TESOperation] = TESOperation.ASSOCIATE
    params: AssociationParams
    indications: frozenset[Indication] = frozenset()

    def __post_init__(self) -> None:
        chosen = _indication_set(self.indications, _ASSOCIATE_INDICATIONS, self.operation)
        object.__setattr__(self, "indications", chosen)
        if len(chosen & _EXCLUSIVE) > 1:
            raise ValueError(
                "at most one of the immigration, suspension, resume and emigration "
                "indications can be given"
            )
        if not self.params.vns and not chosen & _VN_OPTIONAL:
            raise ValueError(
                "an associate without keep-alive, suspension, resume or emigration "
                "indication needs a VN"
            )

    @property
    def vm(self) -> VMRef:
        """The VM the request is about."""
        return self.params.vm

    def to_element(self) -> Element:
        """Build the ``<associate>`` element."""
        op = _operation(self.operation)
        _add_association(op, self.params)
        _add_indications(op, self.indications, _ASSOCIATE_INDICATIONS)
        return op


@dataclass(frozen=True)
class _VMOnly:
    """A request carrying only the VM reference."""

    operation: ClassVar[TESOperation]
    vm: VMRef

    def to_element(self) -> Element:
        """Build the operation element."""
        op = _operation(self.operation)
        _add_vm(op, self.vm)
        return op


@dataclass(frozen=True)
class Suspend(_VMOnly):
    """VM suspension (sec. 3.3.3): inactivate, keep resources. Attribute: ``vm``."""

    operation: ClassVar[TESOperation] = TESOperation.SUSPEND


@dataclass(frozen=True)
class Resume(_VMOnly):
    """VM resume (sec. 3.3.4): activate a suspended VM again. Attribute: ``vm``."""

    operation: ClassVar[TESOperation] = TESOperation.RESUME


@dataclass(frozen=True)
class Terminate(_VMOnly):
    """VM termination (sec. 3.3.7): release everything. Attribute: ``vm``."""

    operation: ClassVar[TESOperation] = TESOperation.TERMINATE


@dataclass(frozen=True)
class KeepAlive(_VMOnly):
    """Keep-alive (sec. 3.3.8): refresh the VM's aging timer. Attribute: ``vm``."""

    operation: ClassVar[TESOperation] = TESOperation.KEEP_ALIVE


@dataclass(frozen=True)
class Emigrate:
    """VM emigration (sec. 3.3.5): inactivate, keep until terminate.

    Attributes:
        vm: the VM leaving.
        destination: where it goes, if known.
    """

    operation: ClassVar[TESOperation] = TESOperation.EMIGRATE
    vm: VMRef
    destination: MigrationPeer | None = None

    def to_element(self) -> Element:
        """Build the ``<emigrate>`` element."""
        op = _operation(self.operation)
        _add_vm(op, self.vm)
        _add_peer(op, "destination", self.destination)
        return op


@dataclass(frozen=True)
class Immigrate:
    """VM immigration (sec. 3.3.6): a (pre-)association flagged as a migration.

    Attributes:
        params: the VM, tenant, VNs (at least one), vNICs and policies.
        phase: Immigration (Pre-Asso) or (Asso).
        reserve_resources: with the pre-associate phase, also reserve resources.
        source: where the VM comes from, if known.
    """

    operation: ClassVar[TESOperation] = TESOperation.IMMIGRATE
    params: AssociationParams
    phase: ImmigrationPhase = ImmigrationPhase.ASSOCIATE
    reserve_resources: bool = False
    source: MigrationPeer | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", ImmigrationPhase(self.phase))
        if not self.params.vns:
            raise ValueError("an immigrate needs at least one VN")

    @property
    def vm(self) -> VMRef:
        """The VM the request is about."""
        return self.params.vm

    def to_element(self) -> Element:
        """Build the ``<immigrate>`` element."""
        op = _operation(self.operation)
        _add_association(op, self.params)
        _leaf(op, "phase", self.phase)
        if self.reserve_resources:
            _leaf(op, "reserve-resources", True)
        _add_peer(op, "source", self.source)
        return op


@dataclass(frozen=True)
class AcknowledgeLocalChange:
    """The TES's answer to a local-change notification (sec. 3.3.9).

    Attributes:
        vm: the VM of the notification.
        change_id: the notification's ``change-id``.
        result: whether the TES applied the changed tags.
        reason: why not, with ``Result.FAIL``.
        error_message: an explanation for a person.
    """

    operation: ClassVar[TESOperation] = TESOperation.ACKNOWLEDGE_LOCAL_CHANGE
    vm: VMRef
    change_id: int
    result: Result = Result.SUCCESS
    reason: ReplyReason | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "result", Result(self.result))
        if self.reason is not None:
            object.__setattr__(self, "reason", ReplyReason(self.reason))
            if self.result is Result.SUCCESS:
                raise ValueError("a reason is only given with result FAIL")
        if not 0 <= self.change_id < 2**64:
            raise ValueError(f"change-id {self.change_id} is not a uint64")

    def to_element(self) -> Element:
        """Build the ``<acknowledge-local-change>`` element."""
        op = _operation(self.operation)
        _add_vm(op, self.vm)
        _leaf(op, "change-id", self.change_id)
        _leaf(op, "result", self.result)
        if self.reason is not None:
            # identityref (RFC 7950 sec. 9.10.3): the prefix is declared on the leaf
            reason = etree.SubElement(op, qname(NS_TES, "reason"), nsmap={"nvo3t": NS_TYPES})
            reason.text = f"nvo3t:{self.reason.value}"
        _leaf(op, "error-message", self.error_message)
        return op


Request: TypeAlias = (
    PreAssociate | Associate | Suspend | Resume | Emigrate | Immigrate | Terminate | KeepAlive
    | AcknowledgeLocalChange
)
"""Any nvo3-tes request."""
