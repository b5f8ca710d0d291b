"""The parameters a TES (hypervisor) signals to its NVE, as typed values.

Mirrors the groupings of ``yang/nvo3-tes@2026-11-21.yang``: ``vm-reference``
(:class:`VMRef`), ``association-parameters`` (:class:`AssociationParams` holding
:class:`VNAttachment`, :class:`VNIC` and :class:`VNPolicies`) and ``migration-peer``
(:class:`MigrationPeer`), after draft-gu-nvo3-tes-nve-mechanism-01 sec. 3.3 and 5.1.1
(VDP, IEEE 802.1Qbg-2012 clause 41).

The closed sets of the model are enums: :class:`VMIdFormat`, :class:`FilterFormat`,
:class:`Indication`, :class:`ImmigrationPhase`, :class:`TESOperation`, and those the NVE
answers with: :class:`Result`, :class:`ReplyReason` (the identities derived from
``nvo3t:reply-reason``), :class:`VMState`, :class:`VMEvent`.

Values are checked and put in the canonical form the NVE compares (lower-case UUID and
MAC, RFC 5952 IPv6) when the dataclass is built; a value the model would refuse raises
``ValueError`` here, before anything is sent. Everything else (authorization, whether a
VN exists, resources) is the NVE's to decide.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from nvo3_netconf.signalling import (
    FilterFormat,
    ImmigrationPhase,
    Indication,
    Operation,
    ReplyReason,
    Result,
    VMEvent,
    VMState,
)

TESOperation = Operation
"""The RPCs of nvo3-tes (the signalling operations)."""

__all__ = [
    "NS_TES",
    "NS_TYPES",
    "PCP",
    "VID",
    "VNID",
    "AssociationParams",
    "FilterFormat",
    "GroupId",
    "ImmigrationPhase",
    "Indication",
    "MacAddress",
    "MigrationPeer",
    "ReplyReason",
    "Result",
    "TESOperation",
    "TenantId",
    "VMId",
    "VMIdFormat",
    "VMEvent",
    "VMRef",
    "VMState",
    "VNAttachment",
    "VNIC",
    "VNName",
    "VNPolicies",
    "normalize_mac",
]

VMId: TypeAlias = str
"""A VM identifier (VDP VSIID), in the text form of its :class:`VMIdFormat` (nvo3-types
``vm-id``; IEEE 802.1Qbg-2012 clause 41.2.6)."""

TenantId: TypeAlias = str
"""A tenant identifier (nvo3-types ``tenant-id``; draft-fw-nvo3-server2vcenter-00 3.5)."""

VNName: TypeAlias = str
"""A VN name (nvo3-types ``vn-name``; draft-gu-nvo3-tes-nve-mechanism-01 sec. 2)."""

VNID: TypeAlias = int
"""A 24-bit Virtual Network Identifier, 1..16777215 (RFC 7348 sec. 5)."""

VID: TypeAlias = int
"""An IEEE 802.1Q VLAN identifier, 1..4094; 0 is the null VID of a request."""

PCP: TypeAlias = int
"""An IEEE 802.1Q priority code point, 0..7."""

GroupId: TypeAlias = int
"""A VDP GroupID, 32 bits (IEEE 802.1Qbg-2012 clause 41.2.9)."""

MacAddress: TypeAlias = str
"""An IEEE 802 MAC address, lower-case and colon-separated (RFC 6991 ``mac-address``)."""

NS_TES: Final = "urn:nvo3-netconf:yang:nvo3-tes"
"""Namespace of the nvo3-tes module (RPCs and notifications)."""

NS_TYPES: Final = "urn:nvo3-netconf:yang:nvo3-types"
"""Namespace of nvo3-types, where the ``reply-reason`` identities live."""

MAX_VNID: Final = 16_777_215
MAX_VID: Final = 4094
MAX_PCP: Final = 7
MAX_GROUP_ID: Final = 4_294_967_295
_MAC: Final = re.compile(r"[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")



class VMIdFormat(StrEnum):
    """The VSIID format of a VM identifier (nvo3-types ``vm-id-format``)."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    MAC = "mac"
    UUID = "uuid"
    LOCAL = "local"




def normalize_mac(text: str) -> MacAddress:
    """Return a MAC address in the lower-case colon-separated form of RFC 6991.

    Accepts ``:``, ``-`` or no separators, in either case.

    Args:
        text: the address as written by a person or a program.

    Raises:
        ValueError: ``text`` is not a 48-bit MAC address.
    """
    lowered = text.strip().lower()
    if not _MAC.fullmatch(lowered):
        raise ValueError(f"{text!r} is not a MAC address (write it as 52:54:00:aa:bb:01)")
    digits = lowered.replace(":", "").replace("-", "")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _ip_no_zone(text: str) -> str:
    """The canonical text of an IP address without zone (RFC 6991 ip-address-no-zone)."""
    if "%" in text:
        raise ValueError(f"{text!r}: an IP address here carries no zone")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


def _check_range(what: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"{what} {value} is outside {low}..{high}")


def _check_name(what: str, value: str | None) -> None:
    if value is not None and not _NAME.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} must have 1 to 64 letters, digits, '.', '_', ':' or '-' "
            "and start with a letter or digit"
        )


def _check_string(what: str, value: str | None, max_length: int = 64) -> None:
    if value is not None and not 1 <= len(value) <= max_length:
        raise ValueError(f"{what} must have 1 to {max_length} characters")


def _canonical_vm_id(vm_id: str, fmt: VMIdFormat) -> str:
    try:
        if fmt is VMIdFormat.UUID:
            return str(uuid.UUID(vm_id))
        if fmt is VMIdFormat.MAC:
            return normalize_mac(vm_id)
        if fmt is VMIdFormat.IPV4:
            return str(ipaddress.IPv4Address(vm_id))
        if fmt is VMIdFormat.IPV6:
            if "%" in vm_id:
                raise ValueError(vm_id)
            return ipaddress.IPv6Address(vm_id).compressed
    except ValueError:
        raise ValueError(f"VM id {vm_id!r} is not in the {fmt.value} format") from None
    if not 1 <= len(vm_id) <= 64 or any(c.isspace() for c in vm_id):
        raise ValueError(f"VM id {vm_id!r} must have 1 to 64 characters and no white space")
    return vm_id


@dataclass(frozen=True)
class VMRef:
    """The VM a message is about (grouping ``vm-reference``).

    Attributes:
        vm_id: the identifier, put in its canonical text form when built.
        format: its VSIID format.
    """

    vm_id: VMId
    format: VMIdFormat = VMIdFormat.UUID

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", VMIdFormat(self.format))
        object.__setattr__(self, "vm_id", _canonical_vm_id(self.vm_id, self.format))


@dataclass(frozen=True)
class VNIC:
    """A filter entry: a vNIC of the VM in one VN, and the tag requested for it.

    Attributes:
        mac: the vNIC's MAC address (required by the MAC filter formats, forbidden by
            the others); normalized to lower-case colon form.
        ip_addresses: the vNIC's IP addresses, in canonical form.
        group_id: the entry's GroupID (GroupID formats), if not the VM's.
        requested_vid: the VID asked for; ``None`` or 0 (the null VID) lets the NVE
            assign one from the VAP's range.
        requested_pcp: the PCP asked for; the NVE may override it.
    """

    mac: MacAddress | None = None
    ip_addresses: tuple[str, ...] = ()
    group_id: GroupId | None = None
    requested_vid: VID | None = None
    requested_pcp: PCP | None = None

    def __post_init__(self) -> None:
        if self.mac is not None:
            object.__setattr__(self, "mac", normalize_mac(self.mac))
        object.__setattr__(self, "ip_addresses",
                           tuple(_ip_no_zone(ip) for ip in self.ip_addresses))
        _check_range("requested VID", self.requested_vid, 0, MAX_VID)
        _check_range("requested PCP", self.requested_pcp, 0, MAX_PCP)
        _check_range("GroupID", self.group_id, 0, MAX_GROUP_ID)


@dataclass(frozen=True)
class VNPolicies:
    """The policies of the VM in one VN, by name (grouping ``pol:vn-policy-names``).

    Attributes:
        ingress_acls: RFC 8519 ACL names applied, in order, to traffic from the VM.
        egress_acls: ACL names applied, in order, to traffic delivered to the VM.
        qos_profile: the QoS profile's name.
    """

    ingress_acls: tuple[str, ...] = ()
    egress_acls: tuple[str, ...] = ()
    qos_profile: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ingress_acls", tuple(self.ingress_acls))
        object.__setattr__(self, "egress_acls", tuple(self.egress_acls))
        for name in (*self.ingress_acls, *self.egress_acls):
            _check_string("an ACL name", name)
        _check_string("a QoS profile name", self.qos_profile)

    @property
    def empty(self) -> bool:
        """True if no policy is named."""
        return not (self.ingress_acls or self.egress_acls or self.qos_profile)


@dataclass(frozen=True)
class VNAttachment:
    """A VN the VM attaches to, with its vNICs and policies there (list ``vn``).

    Attributes:
        vn_name: the VN name; ``vn_name``, ``vnid`` or both (designating the same VN).
        vnid: the VNID.
        vnics: the filter entries, at least one.
        policies: the policies in this VN; ``None`` leaves the configured ones.
    """

    vn_name: VNName | None = None
    vnid: VNID | None = None
    vnics: tuple[VNIC, ...] = ()
    policies: VNPolicies | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "vnics", tuple(self.vnics))
        if self.vn_name is None and self.vnid is None:
            raise ValueError("a VN is identified by its name, its VNID or both")
        _check_name("VN name", self.vn_name)
        _check_range("VNID", self.vnid, 1, MAX_VNID)
        if not self.vnics:
            raise ValueError(f"VN {self.label} needs at least one vNIC (filter entry)")

    @property
    def label(self) -> str:
        """The VN as a person names it: its name, else ``vnid N``."""
        return self.vn_name if self.vn_name is not None else f"vnid {self.vnid}"


@dataclass(frozen=True)
class AssociationParams:
    """What a (pre-)association or immigration carries (``association-parameters``).

    Attributes:
        vm: the VM.
        tenant: the VM's tenant; every VN must belong to it.
        vns: the VNs the VM attaches to.
        group_id: the VM's GroupID (GroupID filter formats).
        vcenter_id: the vCenter that manages the VM.
        vserver_id: the vServer (hypervisor) that hosts it.
        interface: the NVE interface the VM's traffic arrives on; ``None`` uses the one
            configured for the TES.
        filter_format: the VDP filter format of the vNIC entries.
    """

    vm: VMRef
    tenant: TenantId
    vns: tuple[VNAttachment, ...] = ()
    group_id: GroupId | None = None
    vcenter_id: str | None = None
    vserver_id: str | None = None
    interface: str | None = None
    filter_format: FilterFormat = FilterFormat.MAC_VID

    def __post_init__(self) -> None:
        object.__setattr__(self, "vns", tuple(self.vns))
        object.__setattr__(self, "filter_format", FilterFormat(self.filter_format))
        _check_name("tenant", self.tenant)
        _check_range("GroupID", self.group_id, 0, MAX_GROUP_ID)
        _check_string("vCenter id", self.vcenter_id)
        _check_string("vServer id", self.vserver_id)
        _check_string("interface", self.interface)
        _check_unique("VN name", (vn.vn_name for vn in self.vns))
        _check_unique("VNID", (vn.vnid for vn in self.vns))
        fmt = self.filter_format
        for vn in self.vns:
            _check_unique(f"MAC address in VN {vn.label}", (v.mac for v in vn.vnics))
            for vnic in vn.vnics:
                if fmt.has_mac and vnic.mac is None:
                    raise ValueError(
                        f"the {fmt.value} filter format needs a MAC address for every vNIC "
                        f"(VN {vn.label})"
                    )
                if not fmt.has_mac and vnic.mac is not None:
                    raise ValueError(f"the {fmt.value} filter format carries no MAC address")
                if fmt.has_group and vnic.group_id is None and self.group_id is None:
                    raise ValueError(
                        f"the {fmt.value} filter format needs a GroupID, for the VM or the vNIC"
                    )


def _check_unique(what: str, values: Iterable[object]) -> None:
    seen: set[object] = set()
    for value in values:
        if value is None:
            continue
        if value in seen:
            raise ValueError(f"{what} {value} is given twice")
        seen.add(value)


@dataclass(frozen=True)
class MigrationPeer:
    """The other end of a migration (grouping ``migration-peer``).

    Attributes:
        migration_id: the coordinator's identifier of the migration.
        peer_nve: the underlay address of the NVE at the other end.
        peer_vserver: the vServer at the other end.
    """

    migration_id: str | None = None
    peer_nve: str | None = None
    peer_vserver: str | None = None

    def __post_init__(self) -> None:
        _check_string("migration id", self.migration_id)
        _check_string("peer vServer", self.peer_vserver)
        if self.peer_nve is not None:
            object.__setattr__(self, "peer_nve", _ip_no_zone(self.peer_nve))

    @property
    def empty(self) -> bool:
        """True if nothing about the peer is known."""
        return self.migration_id is None and self.peer_nve is None and self.peer_vserver is None

