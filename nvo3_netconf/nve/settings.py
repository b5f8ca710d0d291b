"""The running configuration as the NVE behaviour needs it: a frozen, typed snapshot.

:func:`read_settings` reads the committed running tree once (after each relevant commit)
into an :class:`NVESettings`: resource limits, VM aging and TES authorization
(``/nve:nve``), tenants, VN instances and their VAPs with VID ranges (``/vn:*``), the
ACE count of every RFC 8519 ACL, the PCP marking of every QoS profile, the VM profiles
and groups (``/vm:*``) and the configured mapping entries (``/map:mappings``). Defaults
of the models are applied here, since a datastore only holds what was set.

Public names: :class:`NVESettings`, :class:`Limits`, :class:`Aging`, :class:`TESEntry`,
:class:`VNInstance`, :class:`VAP`, :class:`VMProfile`, :class:`VNICProfile`,
:class:`GroupProfile`, :class:`PolicyNames`, :class:`MappingEntry`, :func:`read_settings`,
:func:`is_relevant`, :data:`WATCHED_NAMESPACES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from lxml import etree

from nvo3_netconf.constants import (
    NS_ACL,
    NS_NVO3_MAPPING,
    NS_NVO3_NVE,
    NS_NVO3_POLICY,
    NS_NVO3_VM,
    NS_NVO3_VN,
)

__all__ = [
    "WATCHED_NAMESPACES",
    "Aging",
    "GroupProfile",
    "Limits",
    "MappingEntry",
    "NVESettings",
    "PolicyNames",
    "TESEntry",
    "VAP",
    "VMProfile",
    "VNICProfile",
    "VNInstance",
    "is_relevant",
    "read_settings",
]

WATCHED_NAMESPACES = frozenset({
    NS_NVO3_NVE, NS_NVO3_VN, NS_NVO3_VM, NS_NVO3_POLICY, NS_NVO3_MAPPING, NS_ACL,
})
"""Namespaces of the top-level nodes the snapshot is read from."""


@dataclass(frozen=True)
class Limits:
    """``/nve:nve/resource-limits`` with the model's defaults."""

    max_vms: int = 4096
    max_macs: int = 16384
    max_acl_entries: int = 8192
    max_mappings: int = 65536
    max_vns: int = 4000
    max_vids_per_vap: int = 4094


@dataclass(frozen=True)
class Aging:
    """``/nve:nve/vm-aging`` (seconds; 0 disables aging or the emigration hold)."""

    aging_time: int = 300
    keep_alive_interval: int = 60
    emigration_hold_time: int = 0


@dataclass(frozen=True)
class TESEntry:
    """One ``/nve:nve/signalling/tes-authorization/tes``: a TES identity and its rights."""

    name: str
    vserver_id: str | None = None
    tenants: frozenset[str] = frozenset()
    interfaces: tuple[str, ...] = ()
    max_vms: int | None = None


@dataclass(frozen=True)
class VAP:
    """A Virtual Access Point of a VN instance: an interface and its local VID ranges."""

    name: str
    interface: str
    ranges: tuple[tuple[int, int], ...]
    admin_up: bool = True

    def contains(self, vid: int) -> bool:
        """True when ``vid`` lies in one of the VAP's ranges."""
        return any(start <= vid <= end for start, end in self.ranges)

    def vids(self) -> Iterator[int]:
        """Every VID of the ranges, lowest first."""
        for start, end in sorted(self.ranges):
            yield from range(start, end + 1)


@dataclass(frozen=True)
class VNInstance:
    """A VN instance: name, VNID, owning tenant, admin state and VAPs."""

    name: str
    vnid: int
    tenant: str
    admin_up: bool = True
    vaps: tuple[VAP, ...] = ()

    def vap(self, name: str) -> VAP | None:
        """The VAP called ``name``, if any."""
        return next((v for v in self.vaps if v.name == name), None)

    def vap_on(self, interfaces: Iterable[str]) -> VAP | None:
        """The first VAP (in configuration order) on one of ``interfaces``."""
        wanted = set(interfaces)
        return next((v for v in self.vaps if v.interface in wanted), None)


@dataclass(frozen=True)
class PolicyNames:
    """ACL and QoS profile names applied to a VM in one VN (``vn-policy-names``)."""

    ingress_acl: tuple[str, ...] = ()
    egress_acl: tuple[str, ...] = ()
    qos_profile: str | None = None

    @property
    def empty(self) -> bool:
        """True when no policy is named."""
        return not (self.ingress_acl or self.egress_acl or self.qos_profile)

    def acl_names(self) -> tuple[str, ...]:
        """Every ACL named, ingress first."""
        return self.ingress_acl + self.egress_acl


@dataclass(frozen=True)
class VNICProfile:
    """A configured vNIC of a VM profile (``/vm:vms/vm/vnic``)."""

    mac: str
    vn: str
    ip_addresses: tuple[str, ...] = ()
    vap: str | None = None
    vid: int = 0
    pcp: int | None = None


@dataclass(frozen=True)
class VMProfile:
    """A configured VM (``/vm:vms/vm``)."""

    vm_id: str
    tenant: str
    group_id: int | None = None
    vcenter_id: str | None = None
    vserver_id: str | None = None
    vnics: tuple[VNICProfile, ...] = ()
    policies: Mapping[str, PolicyNames] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupProfile:
    """A configured VM group (``/vm:vm-groups/vm-group``)."""

    group_id: int
    tenant: str
    vcenter_id: str | None = None
    vserver_id: str | None = None
    pcp: Mapping[str, int] = field(default_factory=dict)
    policies: Mapping[str, PolicyNames] = field(default_factory=dict)


@dataclass(frozen=True)
class MappingEntry:
    """A configured mapping entry (``/map:mappings/vn/entry``)."""

    vn: str
    inner_mac: str
    remote_nve: str
    inner_ips: tuple[str, ...] = ()
    vm_id: str | None = None
    origin: str = "static"


@dataclass(frozen=True)
class NVESettings:
    """Everything the NVE behaviour reads from the running configuration.

    The mappings are read-only by convention (the snapshot is replaced, never changed).
    """

    underlay_address: str | None = None
    limits: Limits = Limits()
    aging: Aging = Aging()
    require_vm_profile: bool = False
    tes: Mapping[str, TESEntry] = field(default_factory=dict)
    tenants: frozenset[str] = frozenset()
    vns: Mapping[str, VNInstance] = field(default_factory=dict)
    acl_entries: Mapping[str, int] = field(default_factory=dict)
    """ACL name -> number of ACEs."""
    qos_pcp: Mapping[str, int | None] = field(default_factory=dict)
    """QoS profile name -> its PCP marking (None: the profile does not mark PCP)."""
    vms: Mapping[str, VMProfile] = field(default_factory=dict)
    groups: Mapping[int, GroupProfile] = field(default_factory=dict)
    mappings: tuple[MappingEntry, ...] = ()

    def vn_by_vnid(self, vnid: int) -> VNInstance | None:
        """The VN instance with this VNID, if any."""
        return next((vn for vn in self.vns.values() if vn.vnid == vnid), None)


def is_relevant(namespace: str | None) -> bool:
    """True when a top-level node of this namespace feeds the snapshot."""
    return namespace in WATCHED_NAMESPACES


# ------------------------------------------------------------------- reading
def _q(ns: str, *names: str) -> str:
    return "/".join(f"{{{ns}}}{n}" for n in names)


def _text(parent: etree._Element | None, ns: str, *names: str) -> str | None:
    if parent is None:
        return None
    value = parent.findtext(_q(ns, *names))
    return value.strip() if value is not None else None


def _int(parent: etree._Element | None, ns: str, *names: str, default: int) -> int:
    value = _text(parent, ns, *names)
    return int(value) if value else default


def _opt_int(parent: etree._Element | None, ns: str, *names: str) -> int | None:
    value = _text(parent, ns, *names)
    return int(value) if value else None


def _texts(parent: etree._Element, ns: str, name: str) -> tuple[str, ...]:
    return tuple((e.text or "").strip() for e in parent.iterfind(_q(ns, name)))


def read_policy_names(parent: etree._Element | None, ns: str) -> PolicyNames:
    """Policy names under ``parent`` (``vn-policy-refs`` or ``vn-policy-names``)."""
    if parent is None:
        return PolicyNames()
    return PolicyNames(
        ingress_acl=_texts(parent, ns, "ingress-acl"),
        egress_acl=_texts(parent, ns, "egress-acl"),
        qos_profile=_text(parent, ns, "qos-profile"),
    )


def read_settings(tree: etree._Element) -> NVESettings:
    """Read the snapshot from a datastore root (do not hold on to ``tree``).

    Args:
        tree: the running datastore's ``<data>`` element.

    Returns:
        The settings, with the models' defaults for what is not configured.
    """
    nve = tree.find(_q(NS_NVO3_NVE, "nve"))
    limits_el = nve.find(_q(NS_NVO3_NVE, "resource-limits")) if nve is not None else None
    aging_el = nve.find(_q(NS_NVO3_NVE, "vm-aging")) if nve is not None else None
    n = NS_NVO3_NVE
    limits = Limits(
        max_vms=_int(limits_el, n, "max-vms", default=Limits.max_vms),
        max_macs=_int(limits_el, n, "max-macs", default=Limits.max_macs),
        max_acl_entries=_int(limits_el, n, "max-acl-entries", default=Limits.max_acl_entries),
        max_mappings=_int(limits_el, n, "max-mappings", default=Limits.max_mappings),
        max_vns=_int(limits_el, n, "max-vns", default=Limits.max_vns),
        max_vids_per_vap=_int(limits_el, n, "max-vids-per-vap",
                              default=Limits.max_vids_per_vap),
    )
    aging = Aging(
        aging_time=_int(aging_el, n, "aging-time", default=Aging.aging_time),
        keep_alive_interval=_int(aging_el, n, "keep-alive-interval",
                                 default=Aging.keep_alive_interval),
        emigration_hold_time=_int(aging_el, n, "emigration-hold-time",
                                  default=Aging.emigration_hold_time),
    )
    return NVESettings(
        underlay_address=_text(nve, n, "underlay-address"),
        limits=limits,
        aging=aging,
        require_vm_profile=_text(nve, n, "signalling", "require-vm-profile") == "true",
        tes=_read_tes(nve),
        tenants=frozenset(_texts_under(tree, NS_NVO3_VN, ("tenants", "tenant"), "tenant-id")),
        vns=_read_vns(tree),
        acl_entries=_read_acls(tree),
        qos_pcp=_read_qos(tree),
        vms=_read_vms(tree),
        groups=_read_groups(tree),
        mappings=_read_mappings(tree),
    )


def _texts_under(
    tree: etree._Element, ns: str, path: tuple[str, ...], leaf: str
) -> Iterator[str]:
    for entry in tree.iterfind(_q(ns, *path)):
        value = _text(entry, ns, leaf)
        if value is not None:
            yield value


def _read_tes(nve: etree._Element | None) -> dict[str, TESEntry]:
    result: dict[str, TESEntry] = {}
    if nve is None:
        return result
    n = NS_NVO3_NVE
    for entry in nve.iterfind(_q(n, "signalling", "tes-authorization", "tes")):
        name = _text(entry, n, "name") or ""
        result[name] = TESEntry(
            name=name,
            vserver_id=_text(entry, n, "vserver-id"),
            tenants=frozenset(_texts(entry, n, "tenant")),
            interfaces=_texts(entry, n, "interface"),
            max_vms=_opt_int(entry, n, "max-vms"),
        )
    return result


def _read_vns(tree: etree._Element) -> dict[str, VNInstance]:
    v = NS_NVO3_VN
    result: dict[str, VNInstance] = {}
    for entry in tree.iterfind(_q(v, "vn-instances", "vn-instance")):
        vaps = []
        for vap in entry.iterfind(_q(v, "vap")):
            ranges = []
            for vid_range in vap.iterfind(_q(v, "vid-range")):
                start = _int(vid_range, v, "start", default=0)
                ranges.append((start, _int(vid_range, v, "end", default=start)))
            vaps.append(VAP(
                name=_text(vap, v, "name") or "",
                interface=_text(vap, v, "interface") or "",
                ranges=tuple(ranges),
                admin_up=_text(vap, v, "admin-state") != "down",
            ))
        name = _text(entry, v, "name") or ""
        result[name] = VNInstance(
            name=name,
            vnid=_int(entry, v, "vnid", default=0),
            tenant=_text(entry, v, "tenant") or "",
            admin_up=_text(entry, v, "admin-state") != "down",
            vaps=tuple(vaps),
        )
    return result


def _read_acls(tree: etree._Element) -> dict[str, int]:
    a = NS_ACL
    return {
        _text(acl, a, "name") or "": len(acl.findall(_q(a, "aces", "ace")))
        for acl in tree.iterfind(_q(a, "acls", "acl"))
    }


def _read_qos(tree: etree._Element) -> dict[str, int | None]:
    p = NS_NVO3_POLICY
    return {
        _text(profile, p, "name") or "": _opt_int(profile, p, "marking", "pcp")
        for profile in tree.iterfind(_q(p, "qos-profiles", "qos-profile"))
    }


def _read_vms(tree: etree._Element) -> dict[str, VMProfile]:
    m = NS_NVO3_VM
    result: dict[str, VMProfile] = {}
    for vm in tree.iterfind(_q(m, "vms", "vm")):
        vm_id = _text(vm, m, "vm-id") or ""
        vnics = tuple(
            VNICProfile(
                mac=(_text(vnic, m, "mac") or "").lower(),
                vn=_text(vnic, m, "vn") or "",
                ip_addresses=_texts(vnic, m, "ip-address"),
                vap=_text(vnic, m, "vap"),
                vid=_int(vnic, m, "vid", default=0),
                pcp=_opt_int(vnic, m, "pcp"),
            )
            for vnic in vm.iterfind(_q(m, "vnic"))
        )
        policies = {
            _text(entry, m, "vn") or "": read_policy_names(entry, m)
            for entry in vm.iterfind(_q(m, "vn-policy"))
        }
        result[vm_id] = VMProfile(
            vm_id=vm_id,
            tenant=_text(vm, m, "tenant") or "",
            group_id=_opt_int(vm, m, "group-id"),
            vcenter_id=_text(vm, m, "vcenter-id"),
            vserver_id=_text(vm, m, "vserver-id"),
            vnics=vnics,
            policies=policies,
        )
    return result


def _read_groups(tree: etree._Element) -> dict[int, GroupProfile]:
    m = NS_NVO3_VM
    result: dict[int, GroupProfile] = {}
    for group in tree.iterfind(_q(m, "vm-groups", "vm-group")):
        group_id = _int(group, m, "group-id", default=0)
        pcp: dict[str, int] = {}
        policies: dict[str, PolicyNames] = {}
        for attachment in group.iterfind(_q(m, "vn-attachment")):
            vn = _text(attachment, m, "vn") or ""
            value = _opt_int(attachment, m, "pcp")
            if value is not None:
                pcp[vn] = value
            policies[vn] = read_policy_names(attachment, m)
        result[group_id] = GroupProfile(
            group_id=group_id,
            tenant=_text(group, m, "tenant") or "",
            vcenter_id=_text(group, m, "vcenter-id"),
            vserver_id=_text(group, m, "vserver-id"),
            pcp=pcp,
            policies=policies,
        )
    return result


def _read_mappings(tree: etree._Element) -> tuple[MappingEntry, ...]:
    p = NS_NVO3_MAPPING
    entries = []
    for vn in tree.iterfind(_q(p, "mappings", "vn")):
        name = _text(vn, p, "name") or ""
        for entry in vn.iterfind(_q(p, "entry")):
            entries.append(MappingEntry(
                vn=name,
                inner_mac=(_text(entry, p, "inner-mac") or "").lower(),
                remote_nve=_text(entry, p, "remote-nve") or "",
                inner_ips=_texts(entry, p, "inner-ip"),
                vm_id=_text(entry, p, "vm-id"),
                origin=_text(entry, p, "origin") or "static",
            ))
    return tuple(entries)
