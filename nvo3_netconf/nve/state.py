"""Operational data of the NVE behaviour, for ``<get>`` (config false nodes).

- ``/vm:vm-state``: every VM with state: lifecycle state, times, TES, reservation,
  migration, last event and its answer, timers, and per VN the VAP, activity, policies
  and per filter entry the requested and assigned VID and PCP (seed 003 sec. 3.4.3);
- ``/nve:nve/resources`` and ``/nve:nve/signalling-statistics``;
- ``/map:mapping-table`` (see :mod:`nvo3_netconf.nve.forwarding`);
- apart (:func:`nested_state_elements`), the state inside configuration lists:
  ``/vn:vn-instances/vn-instance/state`` and ``.../vap/state`` (no traffic counters:
  this agent has no data plane) and ``/vm:vm-groups/vm-group/member-count``.

Public names: :class:`EventCounters`, :class:`StateSources`, :func:`state_elements`,
:func:`nested_state_elements`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from nvo3_netconf.constants import NS_NVO3_MAPPING, NS_NVO3_NVE, NS_NVO3_VM, NS_NVO3_VN
from nvo3_netconf.nve.encoding import container, leaf, reason_leaf, timestamp
from nvo3_netconf.nve.forwarding import ForwardingView
from nvo3_netconf.nve.lifecycle import ReplyReason, Result, VMEvent
from nvo3_netconf.nve.records import VMRecord
from nvo3_netconf.nve.resources import ResourceTable
from nvo3_netconf.nve.settings import NVESettings, PolicyNames
from nvo3_netconf.protocol.xml import element

__all__ = ["EventCounters", "StateSources", "nested_state_elements", "state_elements"]


@dataclass
class EventCounters:
    """``signalling-statistics/event``: one kind of event."""

    received: int = 0
    succeeded: int = 0
    failed: int = 0
    last_failure_reason: ReplyReason | None = None

    def count(self, result: Result, reason: ReplyReason | None) -> None:
        """Count one message and its answer."""
        self.received += 1
        if result is Result.SUCCESS:
            self.succeeded += 1
        else:
            self.failed += 1
            self.last_failure_reason = reason


@dataclass(frozen=True)
class StateSources:
    """What the state is built from (read under the service's lock)."""

    settings: NVESettings
    records: Sequence[VMRecord]
    resources: ResourceTable
    forwarding: ForwardingView
    mapping_times: Mapping[tuple[str, str], float]
    statistics: Mapping[VMEvent, EventCounters]
    discontinuity_time: float
    now: float
    """Epoch seconds."""
    now_mono: float
    """The clock's monotonic seconds (timers)."""


def state_elements(src: StateSources) -> list[etree._Element]:
    """The top-level operational containers, fresh: nve, vm-state, mapping-table."""
    return [_nve(src), _vm_state(src), _mapping_table(src)]


def nested_state_elements(src: StateSources) -> list[etree._Element]:
    """The state nested in configuration lists, each entry with its key.

    That is ``vn-instance/state``, ``vn-instance/vap/state`` and ``vm-group/member-count``.

    Not served by ``<get>`` yet: ``protocol/ops/retrieve.py`` ``merge_trees`` appends the
    key leaves of a merged list entry a second time, which would make the reply invalid.
    """
    elements = []
    if src.settings.vns:
        elements.append(_vn_instances(src))
    groups = _vm_groups(src)
    if groups is not None:
        elements.append(groups)
    return elements


def _nve(src: StateSources) -> etree._Element:
    n = NS_NVO3_NVE
    root = element(n, "nve")
    resources = container(root, n, "resources")
    leaf(resources, n, "vms", len(src.records))
    leaf(resources, n, "macs", src.resources.macs)
    leaf(resources, n, "acl-entries", src.resources.acl_entries)
    leaf(resources, n, "mappings", len(src.forwarding))
    leaf(resources, n, "vns", len(src.settings.vns))
    leaf(resources, n, "vids", src.resources.vids)
    statistics = container(root, n, "signalling-statistics")
    leaf(statistics, n, "discontinuity-time", timestamp(src.discontinuity_time))
    for event in VMEvent:
        counters = src.statistics.get(event)
        if counters is None:
            continue
        entry = container(statistics, n, "event")
        leaf(entry, n, "name", event.value)
        leaf(entry, n, "received", counters.received)
        leaf(entry, n, "succeeded", counters.succeeded)
        leaf(entry, n, "failed", counters.failed)
        reason_leaf(entry, n, "last-failure-reason", counters.last_failure_reason)
    return root


def _policies(parent: etree._Element, ns: str, policies: PolicyNames) -> None:
    node = container(parent, ns, "policies")
    for name in policies.ingress_acl:
        leaf(node, ns, "ingress-acl", name)
    for name in policies.egress_acl:
        leaf(node, ns, "egress-acl", name)
    leaf(node, ns, "qos-profile", policies.qos_profile)


def _vm_state(src: StateSources) -> etree._Element:
    m = NS_NVO3_VM
    root = element(m, "vm-state")
    for record in sorted(src.records, key=lambda r: r.vm_id):
        vm = container(root, m, "vm")
        leaf(vm, m, "vm-id", record.vm_id)
        leaf(vm, m, "vm-id-format", record.vm_id_format)
        leaf(vm, m, "tenant", record.tenant)
        leaf(vm, m, "group-id", record.group_id)
        leaf(vm, m, "vcenter-id", record.vcenter_id)
        leaf(vm, m, "vserver-id", record.vserver_id)
        leaf(vm, m, "configured", record.vm_id in src.settings.vms)
        leaf(vm, m, "state", record.state.value)
        leaf(vm, m, "state-change-time", timestamp(record.state_change_time))
        if record.association_time is not None:
            leaf(vm, m, "association-time", timestamp(record.association_time))
        leaf(vm, m, "tes-identity", record.tes)
        leaf(vm, m, "filter-format", record.filter_format.value)
        leaf(vm, m, "resources-reserved", record.allocation.reserved)
        leaf(vm, m, "migrating", record.migrating)
        if record.migrating and record.migration is not None:
            info = record.migration
            migration = container(vm, m, "migration")
            leaf(migration, m, "direction", info.direction)
            leaf(migration, m, "migration-id", info.migration_id)
            leaf(migration, m, "peer-nve", info.peer_nve)
            leaf(migration, m, "peer-vserver", info.peer_vserver)
            leaf(migration, m, "start-time", timestamp(info.start_time))
        if record.last_event is not None:
            last = record.last_event
            node = container(vm, m, "last-event")
            leaf(node, m, "event", last.event.value)
            leaf(node, m, "time", timestamp(last.time))
            leaf(node, m, "result", last.result.value)
            reason_leaf(node, m, "reason", last.reason)
            leaf(node, m, "error-message", last.message)
        timers = container(vm, m, "timers")
        leaf(timers, m, "last-refresh", timestamp(record.refresh_time))
        if record.expiry_mono is not None:
            remaining = max(0, record.expiry_mono - src.now_mono)
            leaf(timers, m, "expiry-time", timestamp(src.now + remaining))
            leaf(timers, m, "remaining", int(remaining))
        for dvn in record.allocation.desired.vns:
            vn = container(vm, m, "vn")
            leaf(vn, m, "vn-name", dvn.vn)
            leaf(vn, m, "vnid", dvn.vnid)
            leaf(vn, m, "vap", dvn.vap)
            leaf(vn, m, "active", record.active)
            _policies(vn, m, dvn.policies)
            for a in record.allocation.for_vn(dvn.vn):
                vnic = container(vn, m, "vnic")
                leaf(vnic, m, "mac", a.mac)
                for address in a.ip_addresses:
                    leaf(vnic, m, "ip-address", address)
                leaf(vnic, m, "group-id", a.group_id)
                leaf(vnic, m, "requested-vid", a.requested_vid)
                leaf(vnic, m, "assigned-vid", a.vid)
                leaf(vnic, m, "assigned-pcp", a.pcp if a.vid is not None else None)
    return root


def _vn_instances(src: StateSources) -> etree._Element:
    v = NS_NVO3_VN
    root = element(v, "vn-instances")
    vms: dict[str, int] = {}
    macs: dict[str, set[str]] = {}
    for record in src.records:
        for dvn in record.allocation.desired.vns:
            vms[dvn.vn] = vms.get(dvn.vn, 0) + 1
            macs.setdefault(dvn.vn, set()).update(
                e.mac for e in dvn.entries if e.mac is not None)
    mappings: dict[str, int] = {}
    for entry in src.forwarding.entries():
        mappings[entry.vn] = mappings.get(entry.vn, 0) + 1
        macs.setdefault(entry.vn, set()).add(entry.inner_mac)
    for vn in src.settings.vns.values():
        node = container(root, v, "vn-instance")
        leaf(node, v, "name", vn.name)
        for vap in vn.vaps:
            vap_node = container(node, v, "vap")
            leaf(vap_node, v, "name", vap.name)
            state = container(vap_node, v, "state")
            leaf(state, v, "oper-status", "up" if vn.admin_up and vap.admin_up else "down")
            for vid in src.resources.vids_on(vn.name, vap.name):
                leaf(state, v, "vid-in-use", vid)
            leaf(state, v, "vm-count", src.resources.vms_on(vn.name, vap.name))
        state = container(node, v, "state")
        leaf(state, v, "oper-status", "up" if vn.admin_up else "down")
        leaf(state, v, "vm-count", vms.get(vn.name, 0))
        leaf(state, v, "mac-count", len(macs.get(vn.name, ())))
        leaf(state, v, "mapping-count", mappings.get(vn.name, 0))
    return root


def _vm_groups(src: StateSources) -> etree._Element | None:
    if not src.settings.groups:
        return None
    m = NS_NVO3_VM
    root = element(m, "vm-groups")
    for group_id in sorted(src.settings.groups):
        members = sum(1 for p in src.settings.vms.values() if p.group_id == group_id)
        node = container(root, m, "vm-group")
        leaf(node, m, "group-id", group_id)
        leaf(node, m, "member-count", members)
    return root


def _mapping_table(src: StateSources) -> etree._Element:
    p = NS_NVO3_MAPPING
    root = element(p, "mapping-table")
    current: etree._Element | None = None
    current_vn = None
    for entry in src.forwarding.entries():
        if entry.vn != current_vn:
            current_vn = entry.vn
            current = container(root, p, "vn")
            leaf(current, p, "name", entry.vn)
            leaf(current, p, "vnid", entry.vnid)
        assert current is not None
        node = container(current, p, "entry")
        leaf(node, p, "inner-mac", entry.inner_mac)
        for address in entry.inner_ips:
            leaf(node, p, "inner-ip", address)
        leaf(node, p, "remote-nve", entry.remote_nve)
        leaf(node, p, "vm-id", entry.vm_id)
        leaf(node, p, "origin", entry.origin)
        leaf(node, p, "active", entry.active)
        leaf(node, p, "inactive-reason", entry.inactive_reason)
        updated = src.mapping_times.get((entry.vn, entry.inner_mac))
        if updated is not None:
            leaf(node, p, "last-update", timestamp(updated))
    return root
