"""What a VM asks to be attached to, resolved against the configuration.

Turns the signalled :class:`~nvo3_netconf.nve.requests.AssociationParameters` into a
:class:`Desired` attachment (seed 003 sec. 3.3.1/3.3.2: "obtain VM's network properties
and policies"): each VN resolved and authorized for the VM's tenant, the VAP the VM
attaches through, the policies (signalled, or from the VM's configured profile or group),
and per filter entry the VID wanted (signalled, or configured; 0 lets the NVE choose) and
the PCP. Two :class:`Desired` values compare equal exactly when a repeated (pre-)associate
carries "the same" parameters (sec. 3.2.3), whatever the form of the request (VN by name
or VNID, policies given or inherited).

Choices:

- PCP: the QoS profile's PCP marking when it sets one, else the configured vNIC PCP,
  else the VM group's PCP for the VN, else the PCP the TES requested, else 0. A PCP the
  VM picks is not trusted (sec. 3.4.1.2), so the network's settings come first.
- VAP: the VN's VAP on the interface the request names; else on the VAP the VM's profile
  configures; else on one of the TES's interfaces (``tes-authorization``); else the VN's
  only VAP. None -> ``invalid-parameters``.
- Policies signalled for a VN that differ from the ones provisioned for the VM (its
  profile, or its group) conflict with "other existed policies on NVE" (sec. 3.3.1):
  ``conflicting-policies``. A name that is not configured is ``unknown-policy``.
- With ``require-vm-profile`` the VM must be configured and its VNs and MACs must be
  the configured ones (``invalid-parameters``).

Public names: :class:`DesiredEntry`, :class:`DesiredVN`, :class:`Desired`,
:func:`resolve`, :func:`pcp_for`, :func:`current_pcps`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nvo3_netconf.nve.authorization import resolve_vn
from nvo3_netconf.nve.lifecycle import ReplyReason
from nvo3_netconf.nve.refusal import Refusal
from nvo3_netconf.nve.requests import AssociationParameters, FilterEntry, FilterFormat
from nvo3_netconf.nve.settings import (
    VAP,
    NVESettings,
    PolicyNames,
    TESEntry,
    VMProfile,
    VNInstance,
)

__all__ = ["Desired", "DesiredEntry", "DesiredVN", "current_pcps", "pcp_for", "resolve"]

_INVALID = ReplyReason.INVALID_PARAMETERS


@dataclass(frozen=True)
class DesiredEntry:
    """One filter entry, resolved.

    Attributes:
        mac: the vNIC's MAC (lower case), if the filter format carries one.
        ip_addresses: the vNIC's IP addresses.
        group_id: the entry's GroupID (GroupID filter formats).
        requested_vid: the VID the TES asked for (0: null VID).
        wanted_vid: the VID to use: requested, else configured, else 0 (NVE chooses).
        requested_pcp: the PCP the TES asked for.
        pcp: the PCP to tag with (see :func:`pcp_for`).
    """

    mac: str | None
    ip_addresses: tuple[str, ...]
    group_id: int | None
    requested_vid: int
    wanted_vid: int
    requested_pcp: int | None
    pcp: int

    def key(self, index: int) -> tuple[object, ...]:
        """Identifies the entry across two versions of an attachment."""
        return ("mac", self.mac) if self.mac else ("entry", self.group_id, index)


@dataclass(frozen=True)
class DesiredVN:
    """The VM's attachment to one VN: where, with which policies, which entries."""

    vn: str
    vnid: int
    vap: str
    interface: str
    policies: PolicyNames
    acl_entries: int
    entries: tuple[DesiredEntry, ...]


@dataclass(frozen=True)
class Desired:
    """Everything the VM asked for, resolved; equality means "same parameters"."""

    filter_format: FilterFormat
    group_id: int | None
    vns: tuple[DesiredVN, ...]

    @property
    def acl_entries(self) -> int:
        """ACEs the VM's policies install (per VN and direction)."""
        return sum(vn.acl_entries for vn in self.vns)

    def macs(self) -> frozenset[tuple[str, str]]:
        """``(vn, mac)`` of every entry that has a MAC."""
        return frozenset((vn.vn, e.mac) for vn in self.vns for e in vn.entries if e.mac)

    def with_pcps(self, pcps: dict[tuple[str, int], int]) -> Desired:
        """A copy whose entries ``(vn, index)`` get new PCPs."""
        vns = []
        for vn in self.vns:
            entries = tuple(
                replace(e, pcp=pcps.get((vn.vn, i), e.pcp)) for i, e in enumerate(vn.entries)
            )
            vns.append(replace(vn, entries=entries))
        return replace(self, vns=tuple(vns))


def resolve(
    settings: NVESettings, vm_id: str, params: AssociationParameters, tes: TESEntry
) -> Desired:
    """Resolve and check what ``params`` ask for ``vm_id``.

    Args:
        settings: the running configuration.
        vm_id: the VM.
        params: the signalled parameters (tenant already authorized for the TES).
        tes: the signalling TES's authorization entry (its interfaces).

    Returns:
        The desired attachment.

    Raises:
        Refusal: unknown-vn, failed-authorization, unknown-policy, invalid-parameters
            or conflicting-policies.
    """
    profile = settings.vms.get(vm_id)
    if settings.require_vm_profile and profile is None:
        raise Refusal(_INVALID, f"VM {vm_id} has no configured profile on this NVE, which "
                      "accepts only configured VMs.")
    group_id = params.group_id
    if group_id is None and profile is not None:
        group_id = profile.group_id
    vns: list[DesiredVN] = []
    seen: set[str] = set()
    for request in params.vns:
        vn = resolve_vn(settings, request, params.tenant)
        if vn.name in seen:
            raise Refusal(_INVALID, f"VN {vn.name} is named twice in the request.")
        seen.add(vn.name)
        if settings.require_vm_profile:
            _check_profile(vm_id, vn, request.entries, profile)
        policies = _policies(settings, vm_id, vn.name, request.policies, profile, group_id)
        vap = _vap(vn, params.interface, profile, tes)
        entries = tuple(
            _entry(settings, vm_id, vn, vap, policies, entry, params, group_id, profile)
            for entry in request.entries
        )
        acl_entries = sum(settings.acl_entries[name] for name in policies.acl_names())
        vns.append(DesiredVN(vn.name, vn.vnid, vap.name, vap.interface, policies, acl_entries,
                             entries))
    return Desired(params.filter_format, group_id, tuple(vns))


def _check_profile(
    vm_id: str, vn: VNInstance, entries: tuple[FilterEntry, ...], profile: VMProfile | None
) -> None:
    assert profile is not None
    configured = {v.mac for v in profile.vnics if v.vn == vn.name}
    if not configured:
        raise Refusal(_INVALID, f"VM {vm_id} is not configured in VN {vn.name}.")
    for entry in entries:
        if entry.mac is not None and entry.mac not in configured:
            raise Refusal(_INVALID, f"MAC {entry.mac} is not a configured vNIC of VM {vm_id} "
                          f"in VN {vn.name}.")


def _provisioned(
    settings: NVESettings, vn: str, profile: VMProfile | None, group_id: int | None
) -> PolicyNames | None:
    if profile is not None and vn in profile.policies:
        return profile.policies[vn]
    group = settings.groups.get(group_id) if group_id is not None else None
    if group is not None and vn in group.policies:
        return group.policies[vn]
    return None


def _policies(
    settings: NVESettings, vm_id: str, vn: str, signalled: PolicyNames | None,
    profile: VMProfile | None, group_id: int | None,
) -> PolicyNames:
    provisioned = _provisioned(settings, vn, profile, group_id)
    if signalled is not None and provisioned is not None and not provisioned.empty and (
        signalled != provisioned
    ):
        raise Refusal(
            ReplyReason.CONFLICTING_POLICIES,
            f"The policies signalled for VM {vm_id} in VN {vn} differ from the ones "
            "provisioned for it on this NVE.",
        )
    policies = signalled or provisioned or PolicyNames()
    for name in policies.acl_names():
        if name not in settings.acl_entries:
            raise Refusal(ReplyReason.UNKNOWN_POLICY, f"ACL {name!r} is not configured.")
    if policies.qos_profile is not None and policies.qos_profile not in settings.qos_pcp:
        raise Refusal(ReplyReason.UNKNOWN_POLICY,
                      f"QoS profile {policies.qos_profile!r} is not configured.")
    return policies


def _vap(vn: VNInstance, interface: str | None, profile: VMProfile | None, tes: TESEntry) -> VAP:
    if not vn.vaps:
        raise Refusal(_INVALID, f"VN {vn.name} has no VAP on this NVE.")
    if interface is not None:
        vap = vn.vap_on([interface])
        if vap is None:
            raise Refusal(_INVALID, f"VN {vn.name} has no VAP on interface {interface}.")
        return vap
    if profile is not None:
        for vnic in profile.vnics:
            if vnic.vn == vn.name and vnic.vap is not None:
                configured = vn.vap(vnic.vap)
                if configured is not None:
                    return configured
    if tes.interfaces:
        vap = vn.vap_on(tes.interfaces)
        if vap is None:
            raise Refusal(_INVALID, f"VN {vn.name} has no VAP on the interfaces of TES "
                          f"{tes.name} ({', '.join(tes.interfaces)}).")
        return vap
    if len(vn.vaps) == 1:
        return vn.vaps[0]
    raise Refusal(_INVALID, f"VN {vn.name} has several VAPs and neither the request nor "
                  f"the authorization of TES {tes.name} names an interface.")


def _entry(
    settings: NVESettings, vm_id: str, vn: VNInstance, vap: VAP, policies: PolicyNames,
    entry: FilterEntry, params: AssociationParameters, group_id: int | None,
    profile: VMProfile | None,
) -> DesiredEntry:
    configured = None
    if profile is not None and entry.mac is not None:
        configured = next(
            (v for v in profile.vnics if v.vn == vn.name and v.mac == entry.mac), None
        )
    wanted = entry.requested_vid
    if not wanted and configured is not None and configured.vap in (None, vap.name):
        wanted = configured.vid
    if wanted and not vap.contains(wanted):
        raise Refusal(_INVALID, f"VID {wanted} lies outside every VID range of VAP "
                      f"{vap.name} of VN {vn.name}.")
    entry_group = None
    if params.filter_format in (FilterFormat.GROUPID_VID, FilterFormat.GROUPID_MAC_VID):
        entry_group = entry.group_id if entry.group_id is not None else group_id
    pcp = pcp_for(settings, vn.name, policies, configured.pcp if configured else None,
                  group_id, entry.requested_pcp)
    return DesiredEntry(
        mac=entry.mac,
        ip_addresses=entry.ip_addresses,
        group_id=entry_group,
        requested_vid=entry.requested_vid,
        wanted_vid=wanted,
        requested_pcp=entry.requested_pcp,
        pcp=pcp,
    )


def pcp_for(
    settings: NVESettings, vn: str, policies: PolicyNames, configured_pcp: int | None,
    group_id: int | None, requested_pcp: int | None,
) -> int:
    """The PCP a VM's entry is tagged with in ``vn`` (order: see the module docstring)."""
    if policies.qos_profile is not None:
        marking = settings.qos_pcp.get(policies.qos_profile)
        if marking is not None:
            return marking
    if configured_pcp is not None:
        return configured_pcp
    group = settings.groups.get(group_id) if group_id is not None else None
    if group is not None and vn in group.pcp:
        return group.pcp[vn]
    if requested_pcp is not None:
        return requested_pcp
    return 0


def current_pcps(settings: NVESettings, vm_id: str, desired: Desired) -> dict[tuple[str, int], int]:
    """The PCP every entry ``(vn, index)`` of ``desired`` gets under ``settings`` now.

    Used after a configuration change (a QoS profile's marking, a profile's PCP) to find
    the PCPs that changed (seed 003 sec. 3.3.9).
    """
    profile = settings.vms.get(vm_id)
    result: dict[tuple[str, int], int] = {}
    for vn in desired.vns:
        for index, entry in enumerate(vn.entries):
            configured = None
            if profile is not None and entry.mac is not None:
                configured = next(
                    (v.pcp for v in profile.vnics if v.vn == vn.vn and v.mac == entry.mac), None
                )
            result[(vn.vn, index)] = pcp_for(
                settings, vn.vn, vn.policies, configured, desired.group_id, entry.requested_pcp
            )
    return result
