"""From the nDirector's intent to what each NVE must hold: keyed configuration items.

:func:`render` turns the registry and the inventory into, per NVE, a set of
:class:`Item` — each one list entry (or the merged leaves of ``/nve:nve``) of the NVE's
running configuration, with a stable key and its exact XML:

- policy enforcement: the VM profiles of the VMs behind the NVE (their vNICs and
  per-VN ACL/QoS policies), the ACLs (RFC 8519) and QoS profiles they use, their VM
  groups, the tenants and the VN instances they attach to (a VAP per vServer interface,
  with the VN's VID range) and the TES authorization of the vServers behind the NVE;
- mapping population: for every VN the NVE serves, one entry per vNIC of the VN's
  active VMs behind *other* NVEs (inner MAC and IPs -> that NVE's underlay address), and
  the other serving NVEs' underlay addresses as the VN's head-end replication list.

An NVE serves a VN when a VM of the VN is placed behind it or the VN names it. It gets
nothing of the VNs it does not serve, nor of their tenants (tenant isolation).

A VM being migrated (``staged``: VM -> destination NVE and vServer) is provisioned on
the destination too — profile, policies, VN and the other VMs' mappings — while every
mapping and flood list still points at its source, until the coordinator moves it. The
director's own NETCONF user is authorized as a TES for the NVE's tenants, so that it can
signal emigrate/immigrate/terminate as the migration coordinator.

Two renderings compare item by item (:mod:`.plan`), so a VM that joins, leaves or moves
changes exactly the items that differ, on exactly the NVEs that hold them.

Public names: :class:`Item`, :class:`Step`, :func:`render`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from lxml import etree

from nvo3_netconf.constants import (
    NS_ACL,
    NS_NVO3_MAPPING,
    NS_NVO3_NVE,
    NS_NVO3_POLICY,
    NS_NVO3_VM,
    NS_NVO3_VN,
)
from nvo3_netconf.director.inventory import NVERecord
from nvo3_netconf.director.registry import (
    Policy,
    PolicyKind,
    Tenant,
    VMGroup,
    VMRecord,
    VNAttachment,
    VNRecord,
    VServer,
)
from nvo3_netconf.protocol.xml import Element, element, parse_xml, sub

__all__ = ["Item", "Step", "render"]

_VN_PREFIX: Final = "vn"


@dataclass(frozen=True)
class Step:
    """One ancestor of an item: a container, or a list entry with its key leaves."""

    namespace: str
    name: str
    keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Item:
    """One piece of an NVE's configuration the nDirector owns.

    Attributes:
        key: a stable, readable path (``/vn-instances/vn-instance[name=blue]``).
        ancestors: the containers and list entries above it, outermost first.
        xml: the item's element, serialized (what is compared and sent).
        merge: merged into what the NVE holds (``/nve:nve`` leaves), never replaced
            nor removed; list entries are replaced whole and removed when gone.
        parent: the key of an item it lives inside (removed with it).
    """

    key: str
    ancestors: tuple[Step, ...]
    xml: bytes = field(repr=False)
    merge: bool = False
    parent: str | None = None

    def element(self) -> Element:
        """A fresh copy of the item's element."""
        return parse_xml(self.xml)


def _item(key: str, ancestors: Sequence[Step], el: Element, *, merge: bool = False,
          parent: str | None = None) -> Item:
    return Item(key, tuple(ancestors), etree.tostring(el), merge, parent)


def _leaf(parent: Element, ns: str, name: str, value: object | None) -> None:
    if value is not None:
        sub(parent, ns, name, str(value))


@dataclass
class _Intent:
    """The registry and inventory, indexed for rendering."""

    nves: Mapping[str, NVERecord]
    tenants: Mapping[str, Tenant]
    vns: Mapping[str, VNRecord]
    policies: Mapping[tuple[PolicyKind, str], Policy]
    groups: Mapping[int, VMGroup]
    vservers: Mapping[str, VServer]
    vms: Sequence[VMRecord]
    staged: Mapping[str, tuple[str, str | None]]

    def placed(self) -> dict[str, list[VMRecord]]:
        by_nve: dict[str, list[VMRecord]] = defaultdict(list)
        for vm in self.vms:
            if vm.nve is not None and vm.nve in self.nves:
                by_nve[vm.nve].append(vm)
        return by_nve

    def staged_at(self) -> dict[str, list[VMRecord]]:
        """Destination NVE -> copies of the VMs migrating to it (not active there)."""
        by_nve: dict[str, list[VMRecord]] = defaultdict(list)
        for vm in self.vms:
            target = self.staged.get(vm.vm_id)
            if target is not None and target[0] in self.nves and target[0] != vm.nve:
                by_nve[target[0]].append(replace(vm, nve=target[0], vserver=target[1],
                                                 state=None))
        return by_nve

    def serving(self, placed: Mapping[str, Sequence[VMRecord]]) -> dict[str, set[str]]:
        """VN name -> the NVEs serving it."""
        serving: dict[str, set[str]] = defaultdict(set)
        for nve, vms in placed.items():
            for vm in vms:
                for vn_name in vm.vns:
                    serving[vn_name].add(nve)
        for record in self.vns.values():
            serving[record.name].update(n for n in record.nves if n in self.nves)
        return serving


def render(
    nves: Iterable[NVERecord],
    *,
    tenants: Iterable[Tenant],
    vns: Iterable[VNRecord],
    policies: Iterable[Policy],
    groups: Iterable[VMGroup],
    vservers: Iterable[VServer],
    vms: Iterable[VMRecord],
    staged: Mapping[str, tuple[str, str | None]] | None = None,
) -> dict[str, dict[str, Item]]:
    """Every NVE's items, by NVE name and item key.

    Args:
        nves: the inventory.
        tenants: the tenants.
        vns: the VN instances.
        policies: the ACLs and QoS profiles.
        groups: the VM groups.
        vservers: the vServers and the NVEs they are behind.
        vms: the VM registry.
        staged: VMs being migrated: VM id -> (destination NVE, destination vServer).
    """
    intent = _Intent(
        nves={n.name: n for n in nves}, tenants={t.tenant_id: t for t in tenants},
        vns={v.name: v for v in vns}, policies={(p.kind, p.name): p for p in policies},
        groups={g.group_id: g for g in groups}, vservers={v.vserver_id: v for v in vservers},
        vms=list(vms), staged=dict(staged or {}))
    placed = intent.placed()
    serving = intent.serving(placed)
    served_by: dict[str, set[str]] = defaultdict(set)
    for vn_name, holders in serving.items():
        for nve in holders:
            served_by[nve].add(vn_name)
    arriving = intent.staged_at()
    for nve, copies in arriving.items():
        for vm in copies:
            served_by[nve].update(vm.vns)
    mappings = _mapping_entries(intent, serving)
    result: dict[str, dict[str, Item]] = {}
    for name, record in intent.nves.items():
        items: dict[str, Item] = {}
        _NVEView(intent, record, [*placed.get(name, []), *arriving.get(name, [])],
                 served_by[name] & set(intent.vns), serving, items).render(mappings)
        result[name] = items
    return result


_Entry = tuple[str, str, Item]
"""A mapping entry of a VN: (hosting NVE, VM id, the entry's item)."""


def _mapping_entries(intent: _Intent, serving: Mapping[str, set[str]]
                     ) -> dict[str, list[_Entry]]:
    """VN -> the mapping entry of every active vNIC, built once for every NVE."""
    entries: dict[str, list[_Entry]] = defaultdict(list)
    for vm in intent.vms:
        if not vm.active or vm.nve is None or vm.nve not in intent.nves:
            continue
        remote = intent.nves[vm.nve].underlay_address
        if remote is None:
            continue
        for vnic in vm.vnics:
            if vnic.vn not in serving:
                continue
            wrapper_key = f"/mappings/vn[name={vnic.vn}]"
            entry = element(NS_NVO3_MAPPING, "entry")
            sub(entry, NS_NVO3_MAPPING, "inner-mac", vnic.mac)
            for ip in vnic.ip_addresses:
                sub(entry, NS_NVO3_MAPPING, "inner-ip", ip)
            sub(entry, NS_NVO3_MAPPING, "remote-nve", remote)
            sub(entry, NS_NVO3_MAPPING, "vm-id", vm.vm_id)
            sub(entry, NS_NVO3_MAPPING, "origin", "controller")
            path = (Step(NS_NVO3_MAPPING, "mappings"),
                    Step(NS_NVO3_MAPPING, "vn", (("name", vnic.vn),)))
            entries[vnic.vn].append((vm.nve, vm.vm_id, _item(
                f"{wrapper_key}/entry[inner-mac={vnic.mac}]", path, entry,
                parent=wrapper_key)))
    return entries


@dataclass
class _NVEView:
    """Renders one NVE's items."""

    intent: _Intent
    nve: NVERecord
    vms: Sequence[VMRecord]
    vns: set[str]
    serving: Mapping[str, set[str]]
    items: dict[str, Item]

    def render(self, mappings: Mapping[str, Sequence[_Entry]]) -> None:
        self._nve_settings()
        tenants: set[str] = set()
        interfaces: dict[str, set[str]] = defaultdict(set)
        acls: set[str] = set()
        qos: set[str] = set()
        groups: set[int] = set()
        for vm in self.vms:
            tenants.add(vm.tenant)
            vserver = self.intent.vservers.get(vm.vserver or "")
            for vn in vm.vns:
                if vserver is not None and vserver.nve == self.nve.name:
                    interfaces[vn].add(vserver.interface)
            attachments = list(vm.policies)
            if vm.group_id is not None and vm.group_id in self.intent.groups:
                groups.add(vm.group_id)
                attachments += self.intent.groups[vm.group_id].attachments
            for a in attachments:
                if a.vn in self.vns:
                    acls.update(a.ingress_acls + a.egress_acls)
                    if a.qos_profile:
                        qos.add(a.qos_profile)
            self._vm(vm)
        self._tes_authorization(tenants)
        for served in sorted(self.vns):
            record = self.intent.vns[served]
            tenants.add(record.tenant)
            self._vn(record, sorted(interfaces.get(served, ())))
            self._mapping(record, mappings.get(served, ()))
        for tenant in sorted(tenants):
            self._tenant(tenant)
        for name in sorted(acls):
            self._policy(PolicyKind.ACL, name)
        for name in sorted(qos):
            self._policy(PolicyKind.QOS, name)
        for gid in sorted(groups):
            self._group(self.intent.groups[gid])

    def _add(self, item: Item) -> None:
        self.items[item.key] = item

    def _nve_settings(self) -> None:
        nve = element(NS_NVO3_NVE, "nve")
        sub(nve, NS_NVO3_NVE, "nve-id", self.nve.name)
        _leaf(nve, NS_NVO3_NVE, "data-center", self.nve.data_centre)
        _leaf(nve, NS_NVO3_NVE, "underlay-address", self.nve.underlay_address)
        self._add(_item("/nve", (), nve, merge=True))

    def _tes_authorization(self, vm_tenants: set[str]) -> None:
        path = (Step(NS_NVO3_NVE, "nve"), Step(NS_NVO3_NVE, "signalling"),
                Step(NS_NVO3_NVE, "tes-authorization"))
        by_tes: dict[str, list[VServer]] = defaultdict(list)
        for vserver in self.intent.vservers.values():
            if vserver.nve == self.nve.name:
                by_tes[vserver.tes_name].append(vserver)
        hosted: dict[str, set[str]] = defaultdict(set)
        for vm in self.vms:
            if vm.vserver:
                hosted[vm.vserver].add(vm.tenant)
        director = self.nve.username
        all_tenants = {t for v in by_tes.values() for s in v for t in s.tenants}
        all_tenants |= {t for ts in hosted.values() for t in ts}
        if all_tenants & set(self.intent.tenants) and director not in by_tes:
            by_tes[director] = []
        for tes_name, vservers in sorted(by_tes.items()):
            tenants = sorted({t for v in vservers for t in (*v.tenants,
                                                             *hosted[v.vserver_id])}
                             & set(self.intent.tenants))
            if tes_name == director:  # the migration coordinator, for every tenant
                tenants = sorted(all_tenants & set(self.intent.tenants))
                vservers = [v for vs in by_tes.values() for v in vs]
            vm_tenants.update(tenants)
            tes = element(NS_NVO3_NVE, "tes")
            sub(tes, NS_NVO3_NVE, "name", tes_name)
            if len(vservers) == 1 and tes_name != director:
                sub(tes, NS_NVO3_NVE, "vserver-id", vservers[0].vserver_id)
            for tenant in tenants:
                sub(tes, NS_NVO3_NVE, "tenant", tenant)
            for interface in sorted({v.interface for v in vservers}):
                sub(tes, NS_NVO3_NVE, "interface", interface)
            self._add(_item(f"/nve/signalling/tes-authorization/tes[name={tes_name}]",
                            path, tes))

    def _tenant(self, tenant_id: str) -> None:
        tenant = self.intent.tenants.get(tenant_id)
        el = element(NS_NVO3_VN, "tenant")
        sub(el, NS_NVO3_VN, "tenant-id", tenant_id)
        if tenant is not None:
            _leaf(el, NS_NVO3_VN, "name", tenant.name)
            _leaf(el, NS_NVO3_VN, "description", tenant.description)
        self._add(_item(f"/tenants/tenant[tenant-id={tenant_id}]",
                        (Step(NS_NVO3_VN, "tenants"),), el))

    def _vn(self, vn: VNRecord, interfaces: Sequence[str]) -> None:
        el = etree.Element(f"{{{NS_NVO3_VN}}}vn-instance", nsmap={None: NS_NVO3_VN,
                                                                  _VN_PREFIX: NS_NVO3_VN})
        sub(el, NS_NVO3_VN, "name", vn.name)
        sub(el, NS_NVO3_VN, "vnid", str(vn.vnid))
        sub(el, NS_NVO3_VN, "tenant", vn.tenant)
        _leaf(el, NS_NVO3_VN, "description", vn.description)
        sub(el, NS_NVO3_VN, "type", vn.vn_type)
        sub(el, NS_NVO3_VN, "encapsulation", f"{_VN_PREFIX}:{vn.encapsulation}")
        sub(el, NS_NVO3_VN, "admin-state", vn.admin_state)
        if vn.flooding == "multicast":
            sub(el, NS_NVO3_VN, "multicast-group", vn.multicast_group)
        elif vn.flooding == "head-end":
            for address in sorted({self.intent.nves[n].underlay_address or ""
                                   for n in self.serving.get(vn.name, ())
                                   if n != self.nve.name} - {""}):
                sub(el, NS_NVO3_VN, "flood-list", address)
        for interface in interfaces:
            vap = sub(el, NS_NVO3_VN, "vap")
            sub(vap, NS_NVO3_VN, "name", f"{interface}-{vn.name}"[:64])
            sub(vap, NS_NVO3_VN, "interface", interface)
            vids = sub(vap, NS_NVO3_VN, "vid-range")
            sub(vids, NS_NVO3_VN, "start", str(vn.vid_start))
            sub(vids, NS_NVO3_VN, "end", str(vn.vid_end))
        self._add(_item(f"/vn-instances/vn-instance[name={vn.name}]",
                        (Step(NS_NVO3_VN, "vn-instances"),), el))

    def _mapping(self, vn: VNRecord, entries: Sequence[_Entry]) -> None:
        wrapper_key = f"/mappings/vn[name={vn.name}]"
        wrapper = element(NS_NVO3_MAPPING, "vn")
        sub(wrapper, NS_NVO3_MAPPING, "name", vn.name)
        self._add(_item(wrapper_key, (Step(NS_NVO3_MAPPING, "mappings"),), wrapper))
        for hosting, vm_id, item in entries:
            arriving = self.intent.staged.get(vm_id, ("",))[0] == self.nve.name
            if hosting != self.nve.name and not arriving:
                self._add(item)

    def _policy(self, kind: PolicyKind, name: str) -> None:
        policy = self.intent.policies.get((kind, name))
        if policy is None:
            return
        el = parse_xml(policy.xml.encode("utf-8"))
        if kind is PolicyKind.ACL:
            self._add(_item(f"/acls/acl[name={name}]", (Step(NS_ACL, "acls"),), el))
        else:
            self._add(_item(f"/qos-profiles/qos-profile[name={name}]",
                            (Step(NS_NVO3_POLICY, "qos-profiles"),), el))

    def _attachment(self, parent: Element, tag: str, a: VNAttachment,
                    pcp: bool) -> None:
        el = sub(parent, NS_NVO3_VM, tag)
        sub(el, NS_NVO3_VM, "vn", a.vn)
        if pcp:
            _leaf(el, NS_NVO3_VM, "pcp", a.pcp)
        for name in a.ingress_acls:
            sub(el, NS_NVO3_VM, "ingress-acl", name)
        for name in a.egress_acls:
            sub(el, NS_NVO3_VM, "egress-acl", name)
        _leaf(el, NS_NVO3_VM, "qos-profile", a.qos_profile)

    def _group(self, group: VMGroup) -> None:
        el = element(NS_NVO3_VM, "vm-group")
        sub(el, NS_NVO3_VM, "group-id", str(group.group_id))
        _leaf(el, NS_NVO3_VM, "name", group.name)
        sub(el, NS_NVO3_VM, "tenant", group.tenant)
        _leaf(el, NS_NVO3_VM, "vcenter-id", group.vcenter_id)
        _leaf(el, NS_NVO3_VM, "vserver-id", group.vserver_id)
        for a in group.attachments:
            if a.vn in self.vns:
                self._attachment(el, "vn-attachment", a, pcp=True)
        self._add(_item(f"/vm-groups/vm-group[group-id={group.group_id}]",
                        (Step(NS_NVO3_VM, "vm-groups"),), el))

    def _vm(self, vm: VMRecord) -> None:
        el = element(NS_NVO3_VM, "vm")
        sub(el, NS_NVO3_VM, "vm-id", vm.vm_id)
        sub(el, NS_NVO3_VM, "vm-id-format", vm.vm_id_format)
        _leaf(el, NS_NVO3_VM, "description", vm.description)
        sub(el, NS_NVO3_VM, "tenant", vm.tenant)
        _leaf(el, NS_NVO3_VM, "vcenter-id", vm.vcenter_id)
        _leaf(el, NS_NVO3_VM, "vserver-id", vm.vserver)
        if vm.group_id is not None and vm.group_id in self.intent.groups:
            sub(el, NS_NVO3_VM, "group-id", str(vm.group_id))
        for vnic in vm.vnics:
            nic = sub(el, NS_NVO3_VM, "vnic")
            sub(nic, NS_NVO3_VM, "mac", vnic.mac)
            for ip in vnic.ip_addresses:
                sub(nic, NS_NVO3_VM, "ip-address", ip)
            sub(nic, NS_NVO3_VM, "vn", vnic.vn)
        for a in vm.policies:
            if a.vn in self.vns and a.has_policy:
                self._attachment(el, "vn-policy", a, pcp=False)
        self._add(_item(f"/vms/vm[vm-id={vm.vm_id}]", (Step(NS_NVO3_VM, "vms"),), el))
