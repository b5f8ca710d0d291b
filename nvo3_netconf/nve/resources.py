"""The NVE's finite resources: local VIDs per VAP, MAC bindings, ACL entries, limits.

:class:`ResourceTable` knows what every VM holds and plans a VM's new holdings
*without changing anything* (:meth:`ResourceTable.plan`); the service then swaps the old
holdings for the new in one call (:meth:`ResourceTable.apply`). A refused plan raises
:class:`~nvo3_netconf.nve.refusal.Refusal` before anything is touched, so nothing is ever
half-installed (DESIGN.md; seed 003 sec. 3.3.1 "NON-SUFFICIENT RESOURCES").

Rules:

- Local VIDs (IEEE 802.1Q, seed 003 sec. 3.4.1.1 REQUIREMENT-4) are unique per NVE
  interface: a VID on an interface maps to one VN, and is held by one VM in it. A filter
  entry with the null VID (0) gets the VID the VM already holds for it, else the lowest
  free VID of its VAP's ranges; the null-VID entries of one VM in one VN share one VID.
  A requested VID is honoured when free; held by another VM (or by the same VM for
  another VN) it is a clash: ``conflicting-policies``.
- A MAC address is bound to one VM per VN; another VM signalling it in the same VN is
  ``conflicting-policies``.
- Limits (``/nve:nve/resource-limits``): MACs, ACL entries (the ACEs of the VM's ACLs,
  per VN and direction, counted while resources are reserved), mappings in effect (the
  configured ones plus one per local MAC when an underlay address is set), distinct VIDs
  per VAP, VMs per NVE and per TES (:func:`check_vm_limits`). Past one:
  ``insufficient-resources``. A limit only refuses a change that grows the usage.
- The VN instances are configuration: ``max-vns`` is checked whenever a datastore is
  validated (:func:`check_vn_limit`, a datastore constraint), like a YANG
  ``max-elements``: ``operation-failed`` with app-tag ``too-many-elements``.
- Resources (VIDs, ACL entries) are reserved by an association and by a pre-association
  with resource reservation (VDP "Pre-Associate with resource reservation"); a plain
  pre-association holds the VM's MACs only.

Public names: :class:`Assignment`, :class:`Allocation`, :class:`ResourceTable`,
:func:`check_vm_limits`, :func:`check_vn_limit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from lxml import etree

from nvo3_netconf.constants import NS_NVO3_NVE, NS_NVO3_VN
from nvo3_netconf.datastore.changes import quote_literal
from nvo3_netconf.errors import OperationFailedError
from nvo3_netconf.nve.attachments import Desired, DesiredVN
from nvo3_netconf.nve.lifecycle import ReplyReason
from nvo3_netconf.nve.refusal import Refusal
from nvo3_netconf.nve.settings import VAP, Limits, NVESettings, TESEntry

__all__ = ["Allocation", "Assignment", "ResourceTable", "check_vm_limits", "check_vn_limit"]

_CONFLICT = ReplyReason.CONFLICTING_POLICIES
_SHORT = ReplyReason.INSUFFICIENT_RESOURCES

_VN_INSTANCES = f"{{{NS_NVO3_VN}}}vn-instances"
_VN_INSTANCE = f"{{{NS_NVO3_VN}}}vn-instance"
_VN_NAME = f"{{{NS_NVO3_VN}}}name"
_MAX_VNS = (f"{{{NS_NVO3_NVE}}}nve/{{{NS_NVO3_NVE}}}resource-limits"
            f"/{{{NS_NVO3_NVE}}}max-vns")


def check_vn_limit(tree: etree._Element) -> None:
    """Refuse a configuration with more VN instances than ``max-vns`` allows.

    Args:
        tree: a datastore's content (its ``<data>`` root).

    Raises:
        OperationFailedError: error-app-tag ``too-many-elements`` (as for a YANG
            max-elements, RFC 7950 sec. 15.2), error-path the first VN instance past
            the limit.
    """
    instances = tree.find(_VN_INSTANCES)
    if instances is None:
        return
    text = tree.findtext(_MAX_VNS)
    maximum = int(text) if text and text.strip().isdigit() else Limits.max_vns
    if len(instances) <= maximum:  # every child counted: cheap, and enough in general
        return
    count = sum(1 for _ in instances.iterchildren(_VN_INSTANCE))
    if count <= maximum:
        return
    victim = next(islice(instances.iterchildren(_VN_INSTANCE), maximum, None))
    name = victim.findtext(_VN_NAME) or ""
    raise OperationFailedError(
        f"Too many VN instances: {count} are configured and the NVE takes at most "
        f"{maximum} (/nve:nve/resource-limits/max-vns); VN {name!r} and those after it "
        "exceed the limit.",
        path=f"/vn:vn-instances/vn:vn-instance[vn:name={quote_literal(name)}]",
        path_namespaces={"vn": NS_NVO3_VN},
        app_tag="too-many-elements",
    )


@dataclass(frozen=True)
class Assignment:
    """What one filter entry got: the VAP, the local VID (None: not reserved) and PCP."""

    vn: str
    vnid: int
    vap: str
    interface: str
    mac: str | None
    ip_addresses: tuple[str, ...]
    group_id: int | None
    requested_vid: int
    vid: int | None
    pcp: int
    index: int = 0
    """Position of the entry in its VN's list (identifies entries without MAC)."""


@dataclass(frozen=True)
class Allocation:
    """A VM's holdings: its desired attachment and, per entry, what it was given."""

    desired: Desired
    assignments: tuple[Assignment, ...]
    reserved: bool

    @property
    def acl_entries(self) -> int:
        """ACEs installed for the VM (only while resources are reserved)."""
        return self.desired.acl_entries if self.reserved else 0

    def vids(self) -> frozenset[tuple[str, int, str, str]]:
        """``(interface, vid, vn, vap)`` of every VID held."""
        return frozenset(
            (a.interface, a.vid, a.vn, a.vap) for a in self.assignments if a.vid is not None
        )

    def macs(self) -> frozenset[tuple[str, str]]:
        """``(vn, mac)`` of every MAC bound."""
        return self.desired.macs()

    def for_vn(self, vn: str) -> Iterator[Assignment]:
        """The assignments of one VN, in order."""
        return (a for a in self.assignments if a.vn == vn)


def check_vm_limits(
    settings: NVESettings, *, vms: int, tes: TESEntry, tes_vms: int
) -> None:
    """Check one more VM fits (per NVE and per TES).

    Args:
        settings: the limits.
        vms: VMs with state on the NVE now.
        tes: the signalling TES.
        tes_vms: VMs with state the TES signalled now.

    Raises:
        Refusal: insufficient-resources.
    """
    if vms + 1 > settings.limits.max_vms:
        raise Refusal(_SHORT, f"The NVE already holds its maximum of "
                      f"{settings.limits.max_vms} VMs.")
    if tes.max_vms is not None and tes_vms + 1 > tes.max_vms:
        raise Refusal(_SHORT, f"TES {tes.name} already has its maximum of {tes.max_vms} VMs "
                      "on this NVE.")


class ResourceTable:
    """Who holds which VID and MAC, and the totals; not thread-safe (the service locks)."""

    def __init__(self) -> None:
        self._vid_owner: dict[tuple[str, int], tuple[str, str]] = {}
        self._vap_vids: dict[tuple[str, str], dict[int, str]] = {}
        self._mac_owner: dict[tuple[str, str], str] = {}
        self._acl_entries = 0

    # ----------------------------------------------------------------- reading
    @property
    def macs(self) -> int:
        """Local MACs bound."""
        return len(self._mac_owner)

    @property
    def acl_entries(self) -> int:
        """ACL entries installed."""
        return self._acl_entries

    @property
    def vids(self) -> int:
        """VIDs in use over all VAPs."""
        return len(self._vid_owner)

    def vids_on(self, vn: str, vap: str) -> list[int]:
        """The VIDs of a VAP in use, sorted."""
        return sorted(self._vap_vids.get((vn, vap), {}))

    def vms_on(self, vn: str, vap: str) -> int:
        """How many VMs hold a VID of a VAP."""
        return len(set(self._vap_vids.get((vn, vap), {}).values()))

    def mac_owner(self, vn: str, mac: str) -> str | None:
        """The VM a MAC is bound to in a VN."""
        return self._mac_owner.get((vn, mac))

    # ---------------------------------------------------------------- planning
    def plan(
        self, vm_id: str, desired: Desired, *, reserve: bool, previous: Allocation | None,
        settings: NVESettings,
    ) -> Allocation:
        """The holdings ``vm_id`` would have with ``desired``, replacing ``previous``.

        Nothing changes; pass the result to :meth:`apply`.

        Args:
            vm_id: the VM.
            desired: what it asks for (resolved under ``settings``).
            reserve: reserve resources (VIDs, ACL entries), or only bind MACs.
            previous: its current holdings, released by the swap.
            settings: the configuration ``desired`` was resolved under.

        Returns:
            The new allocation.

        Raises:
            Refusal: conflicting-policies or insufficient-resources.
        """
        for vn, mac in sorted(desired.macs()):
            owner = self._mac_owner.get((vn, mac))
            if owner is not None and owner != vm_id:
                raise Refusal(_CONFLICT, f"MAC {mac} is already bound to VM {owner} in "
                              f"VN {vn}.")
        assignments: list[Assignment] = []
        if reserve:
            vids = self._allocate(vm_id, desired, previous, settings)
        for dvn in desired.vns:
            for index, entry in enumerate(dvn.entries):
                assignments.append(Assignment(
                    vn=dvn.vn, vnid=dvn.vnid, vap=dvn.vap, interface=dvn.interface,
                    mac=entry.mac, ip_addresses=entry.ip_addresses, group_id=entry.group_id,
                    requested_vid=entry.requested_vid,
                    vid=vids[(dvn.vn, index)] if reserve else None,
                    pcp=entry.pcp, index=index,
                ))
        allocation = Allocation(desired, tuple(assignments), reserve)
        self._check_totals(allocation, previous, settings)
        return allocation

    def _allocate(
        self, vm_id: str, desired: Desired, previous: Allocation | None, settings: NVESettings
    ) -> dict[tuple[str, int], int]:
        planned: dict[tuple[str, int], str] = {}  # (interface, vid) -> vn, in this plan
        result: dict[tuple[str, int], int] = {}
        # Requested VIDs first, so that a clash is reported before an exhaustion.
        for dvn in desired.vns:
            for index, entry in enumerate(dvn.entries):
                if entry.wanted_vid:
                    self._claim(vm_id, dvn, entry.wanted_vid, planned)
                    result[(dvn.vn, index)] = entry.wanted_vid
        held: dict[tuple[str, tuple[object, ...]], int] = {}
        if previous is not None and previous.reserved:
            for a in previous.assignments:
                if a.vid is not None:
                    key = ("mac", a.mac) if a.mac else ("entry", a.group_id, a.index)
                    held[(a.vn, key)] = a.vid
        for dvn in desired.vns:
            vap = _vap_of(settings, dvn)
            shared: int | None = None
            for index, entry in enumerate(dvn.entries):
                if entry.wanted_vid:
                    continue
                if shared is None:
                    before = held.get((dvn.vn, entry.key(index)))
                    shared = self._free_vid(vm_id, dvn, vap, before, planned)
                    planned[(dvn.interface, shared)] = dvn.vn
                result[(dvn.vn, index)] = shared
        self._check_vaps(vm_id, desired, planned, settings.limits.max_vids_per_vap)
        return result

    def _owner(self, vm_id: str, interface: str, vid: int) -> tuple[str, str] | None:
        """Who else holds ``vid`` on ``interface`` (the VM's own holdings are released)."""
        owner = self._vid_owner.get((interface, vid))
        return None if owner is None or owner[0] == vm_id else owner

    def _claim(
        self, vm_id: str, dvn: DesiredVN, vid: int, planned: dict[tuple[str, int], str]
    ) -> None:
        other_vn = planned.get((dvn.interface, vid))
        owner = self._owner(vm_id, dvn.interface, vid)
        if owner is not None or (other_vn is not None and other_vn != dvn.vn):
            holder = f"VM {owner[0]} in VN {owner[1]}" if owner else f"this VM in VN {other_vn}"
            raise Refusal(_CONFLICT, f"VID {vid} on interface {dvn.interface} is already "
                          f"assigned to {holder}.")
        planned[(dvn.interface, vid)] = dvn.vn

    def _free_vid(
        self, vm_id: str, dvn: DesiredVN, vap: VAP, before: int | None,
        planned: dict[tuple[str, int], str],
    ) -> int:
        def free(vid: int) -> bool:
            other_vn = planned.get((dvn.interface, vid))
            return self._owner(vm_id, dvn.interface, vid) is None and other_vn in (
                None, dvn.vn)

        if before is not None and vap.contains(before) and free(before):
            return before
        for vid in vap.vids():
            if free(vid):
                return vid
        raise Refusal(_SHORT, f"No free VID is left in the ranges of VAP {vap.name} of VN "
                      f"{dvn.vn}.")

    def _check_vaps(
        self, vm_id: str, desired: Desired, planned: dict[tuple[str, int], str], limit: int
    ) -> None:
        for dvn in desired.vns:
            mine = {vid for (interface, vid), vn in planned.items()
                    if vn == dvn.vn and interface == dvn.interface}
            others = {vid for vid, vm in self._vap_vids.get((dvn.vn, dvn.vap), {}).items()
                      if vm != vm_id}
            before = set(self._vap_vids.get((dvn.vn, dvn.vap), {}))
            after = mine | others
            if len(after) > limit and len(after) > len(before):
                raise Refusal(_SHORT, f"VAP {dvn.vap} of VN {dvn.vn} already uses its "
                              f"maximum of {limit} VIDs.")

    def _check_totals(
        self, allocation: Allocation, previous: Allocation | None, settings: NVESettings
    ) -> None:
        limits = settings.limits
        old_macs = len(previous.macs()) if previous is not None else 0
        macs = self.macs - old_macs + len(allocation.macs())
        if macs > limits.max_macs and macs > self.macs:
            raise Refusal(_SHORT, f"The NVE already holds its maximum of {limits.max_macs} "
                          "local MAC addresses.")
        old_acl = previous.acl_entries if previous is not None else 0
        acl = self._acl_entries - old_acl + allocation.acl_entries
        if acl > limits.max_acl_entries and acl > self._acl_entries:
            raise Refusal(_SHORT, f"Installing the VM's ACLs would exceed the NVE's maximum "
                          f"of {limits.max_acl_entries} ACL entries.")
        if settings.underlay_address is not None:
            mappings = len(settings.mappings) + macs
            if mappings > limits.max_mappings and macs > self.macs:
                raise Refusal(_SHORT, f"The NVE already has its maximum of "
                              f"{limits.max_mappings} mapping entries.")

    # ----------------------------------------------------------------- applying
    def apply(self, vm_id: str, old: Allocation | None, new: Allocation | None) -> None:
        """Swap a VM's holdings: release ``old``, take ``new`` (either may be None)."""
        if old is not None:
            for interface, vid, vn, vap in old.vids():
                if self._vid_owner.get((interface, vid)) == (vm_id, vn):
                    del self._vid_owner[(interface, vid)]
                vap_vids = self._vap_vids.get((vn, vap))
                if vap_vids is not None and vap_vids.get(vid) == vm_id:
                    del vap_vids[vid]
                    if not vap_vids:
                        del self._vap_vids[(vn, vap)]
            for key in old.macs():
                if self._mac_owner.get(key) == vm_id:
                    del self._mac_owner[key]
            self._acl_entries -= old.acl_entries
        if new is not None:
            for interface, vid, vn, vap in new.vids():
                self._vid_owner[(interface, vid)] = (vm_id, vn)
                self._vap_vids.setdefault((vn, vap), {})[vid] = vm_id
            for key in new.macs():
                self._mac_owner[key] = vm_id
            self._acl_entries += new.acl_entries

    # ------------------------------------------------------------ local change
    def reassign(
        self, vm_id: str, allocation: Allocation, settings: NVESettings,
        pcps: dict[tuple[str, int], int],
    ) -> Allocation:
        """The allocation after a configuration change (seed 003 sec. 3.3.9).

        A held VID that no longer lies in its VAP's ranges is replaced by a free one
        (None when the VAP or its VN is gone, or no VID is free); PCPs become ``pcps``.
        Nothing changes; pass the result to :meth:`apply`.
        """
        planned: dict[tuple[str, int], str] = {}
        moved: dict[tuple[str, int], int | None] = {}
        for a in allocation.assignments:
            if a.vid is not None and _still_valid(settings, a):
                planned[(a.interface, a.vid)] = a.vn
        assignments = []
        for a in allocation.assignments:
            vid = a.vid
            if vid is not None and not _still_valid(settings, a):
                if (a.vn, vid) not in moved:
                    moved[(a.vn, vid)] = self._replacement(vm_id, settings, a, planned)
                vid = moved[(a.vn, vid)]
            assignments.append(Assignment(
                vn=a.vn, vnid=a.vnid, vap=a.vap, interface=a.interface, mac=a.mac,
                ip_addresses=a.ip_addresses, group_id=a.group_id,
                requested_vid=a.requested_vid, vid=vid,
                pcp=pcps.get((a.vn, a.index), a.pcp), index=a.index,
            ))
        return Allocation(allocation.desired.with_pcps(pcps), tuple(assignments),
                          allocation.reserved)

    def _replacement(
        self, vm_id: str, settings: NVESettings, a: Assignment,
        planned: dict[tuple[str, int], str],
    ) -> int | None:
        vn = settings.vns.get(a.vn)
        vap = vn.vap(a.vap) if vn is not None else None
        if vap is None:
            return None
        for vid in vap.vids():
            if self._owner(vm_id, a.interface, vid) is None and planned.get(
                (a.interface, vid)
            ) in (None, a.vn):
                planned[(a.interface, vid)] = a.vn
                return vid
        return None


def _vap_of(settings: NVESettings, dvn: DesiredVN) -> VAP:
    """The VAP of an attachment (resolved earlier: the configuration may have changed)."""
    vn = settings.vns.get(dvn.vn)
    if vn is None:
        raise Refusal(ReplyReason.UNKNOWN_VN, f"VN {dvn.vn} no longer exists on this NVE.")
    vap = vn.vap(dvn.vap)
    if vap is None or vap.interface != dvn.interface:
        raise Refusal(ReplyReason.INVALID_PARAMETERS,
                      f"VAP {dvn.vap} of VN {dvn.vn} no longer exists on {dvn.interface}.")
    return vap


def _still_valid(settings: NVESettings, a: Assignment) -> bool:
    vn = settings.vns.get(a.vn)
    vap = vn.vap(a.vap) if vn is not None else None
    return vap is not None and vap.interface == a.interface and a.vid is not None and (
        vap.contains(a.vid))
