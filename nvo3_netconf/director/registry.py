"""What the nDirector intends: tenants, VNs, policies, vServers, VM groups and VMs.

The registry is the vCenter-facing half of the nDirector (seeds 000 and 001): a VM is
registered (created or updated with its profile), deregistered, bulk-registered from a
group profile, looked up, relocated, and reports its status and utilisation. It is a part
of the nDirector's SQLite store (:class:`~nvo3_netconf.director.db.Database`); every
method is one transaction, on disk before it returns.

Where a VM is comes from two sources: the vCenter's placement (``register``/``relocate``
name a vServer, and the vServer table says which NVE it is behind) and the NVEs
themselves (a ``vm-state-changed`` notification says the VM is associated *here*;
:meth:`Registry.record_state`). The newest wins.

Public names: :class:`Registry`, :class:`Tenant`, :class:`VNRecord`, :class:`Policy`,
:class:`PolicyKind`, :class:`VServer`, :class:`VNAttachment`, :class:`VMGroup`,
:class:`VNIC`, :class:`VMRecord`, :class:`VMReport`, :class:`VServerLoad`,
:data:`ACTIVE_STATES`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from nvo3_netconf.director.db import Database, StoreError

__all__ = [
    "ACTIVE_STATES",
    "Policy",
    "PolicyKind",
    "Registry",
    "Tenant",
    "VMGroup",
    "VMRecord",
    "VMReport",
    "VNAttachment",
    "VNIC",
    "VNRecord",
    "VServer",
    "VServerLoad",
]

ACTIVE_STATES: Final = frozenset({"associated", "suspended", "emigrating"})
"""Lifecycle states in which other NVEs of the VM's VNs hold a mapping to it."""

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS tenant (
        tenant_id TEXT PRIMARY KEY, name TEXT, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS vn (
        name TEXT PRIMARY KEY, vnid INTEGER NOT NULL UNIQUE,
        tenant TEXT NOT NULL REFERENCES tenant(tenant_id),
        body TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS policy (
        kind TEXT NOT NULL, name TEXT NOT NULL, tenant TEXT, xml TEXT NOT NULL,
        PRIMARY KEY (kind, name))""",
    """CREATE TABLE IF NOT EXISTS vserver (
        vserver_id TEXT PRIMARY KEY, nve TEXT NOT NULL, tes_name TEXT NOT NULL,
        interface TEXT NOT NULL, tenants TEXT NOT NULL DEFAULT '[]')""",
    """CREATE TABLE IF NOT EXISTS vm_group (
        group_id INTEGER PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenant(tenant_id),
        body TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS vm (
        vm_id TEXT PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenant(tenant_id),
        vserver TEXT, nve TEXT, state TEXT, updated REAL NOT NULL, body TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS vm_nve ON vm(nve)",
    """CREATE TABLE IF NOT EXISTS vnic (
        vn TEXT NOT NULL, mac TEXT NOT NULL,
        vm_id TEXT NOT NULL REFERENCES vm(vm_id) ON DELETE CASCADE,
        PRIMARY KEY (vn, mac))""",
    "CREATE INDEX IF NOT EXISTS vnic_vm ON vnic(vm_id)",
    "CREATE INDEX IF NOT EXISTS vm_group_id ON vm(json_extract(body, '$.group_id'))",
    """CREATE TABLE IF NOT EXISTS vm_report (
        vm_id TEXT PRIMARY KEY REFERENCES vm(vm_id) ON DELETE CASCADE,
        time REAL NOT NULL, status TEXT NOT NULL, cpu REAL, memory REAL, disk REAL,
        network REAL)""",
)


class PolicyKind(StrEnum):
    """The kinds of policy the nDirector distributes."""

    ACL = "acl"
    """An RFC 8519 ``<acl>``."""
    QOS = "qos"
    """An nvo3-policy ``<qos-profile>``."""


@dataclass(frozen=True)
class Tenant:
    """A tenant (``/vn:tenants/tenant``)."""

    tenant_id: str
    name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class VNRecord:
    """A VN instance as the nDirector distributes it.

    Attributes:
        name: the globally unique VN name.
        vnid: its 24-bit VNID.
        tenant: the owning tenant.
        vn_type: ``l2`` or ``l3``.
        encapsulation: an nvo3-vn encapsulation identity (``vxlan``, ``geneve``...).
        flooding: ``head-end`` (each NVE gets the others' underlay addresses as its
            flood list), ``multicast`` (``multicast_group``) or ``none``.
        multicast_group: the underlay multicast group for ``multicast``.
        vid_start: the local VIDs NVEs may assign in this VN, from ...
        vid_end: ... to.
        admin_state: ``up`` or ``down``.
        description: free text.
        nves: NVEs that serve the VN even without a VM of it behind them.
    """

    name: str
    vnid: int
    tenant: str
    vn_type: str = "l2"
    encapsulation: str = "vxlan"
    flooding: str = "head-end"
    multicast_group: str | None = None
    vid_start: int = 2
    vid_end: int = 4094
    admin_state: str = "up"
    description: str | None = None
    nves: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.vnid < 2 ** 24:
            raise ValueError(f"VNID {self.vnid} is outside 1..16777215")
        if self.flooding not in ("head-end", "multicast", "none"):
            raise ValueError(f"flooding {self.flooding!r} is not head-end, multicast or none")
        if self.flooding == "multicast" and not self.multicast_group:
            raise ValueError("multicast flooding needs a multicast group")
        if not 1 <= self.vid_start <= self.vid_end <= 4094:
            raise ValueError(f"VID range {self.vid_start}..{self.vid_end} is not within "
                             "1..4094")
        object.__setattr__(self, "nves", tuple(sorted(set(self.nves))))


@dataclass(frozen=True)
class Policy:
    """A named ACL or QoS profile: its YANG instance as XML text."""

    kind: PolicyKind
    name: str
    xml: str
    tenant: str | None = None


@dataclass(frozen=True)
class VServer:
    """A hypervisor host (TES) and the NVE it is behind.

    Attributes:
        vserver_id: its vServer identifier.
        nve: the NVE (inventory name).
        tes_name: the NETCONF user it signals as (its TES identity at the NVE).
        interface: the NVE interface it is attached through (its VMs' VAPs).
        tenants: tenants it may serve besides those of the VMs placed on it.
    """

    vserver_id: str
    nve: str
    tes_name: str
    interface: str
    tenants: tuple[str, ...] = ()


@dataclass(frozen=True)
class VNAttachment:
    """Per-VN settings of a VM or group: PCP and policies."""

    vn: str
    ingress_acls: tuple[str, ...] = ()
    egress_acls: tuple[str, ...] = ()
    qos_profile: str | None = None
    pcp: int | None = None

    @property
    def has_policy(self) -> bool:
        """Some ACL or QoS profile applies."""
        return bool(self.ingress_acls or self.egress_acls or self.qos_profile)


@dataclass(frozen=True)
class VMGroup:
    """A VM group profile (template) for bulk registration (seed 000: group id)."""

    group_id: int
    tenant: str
    name: str | None = None
    vcenter_id: str | None = None
    vserver_id: str | None = None
    attachments: tuple[VNAttachment, ...] = ()


@dataclass(frozen=True)
class VNIC:
    """A VM's virtual NIC: MAC, IP addresses, VN; the VID its NVE assigned."""

    mac: str
    vn: str
    ip_addresses: tuple[str, ...] = ()
    vid: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mac", self.mac.lower())


@dataclass(frozen=True)
class VMRecord:
    """A VM in the registry.

    Attributes:
        vm_id: its identifier (VDP VSIID formats, lower case).
        tenant: its tenant.
        vm_id_format: ``uuid``, ``mac``, ``ipv4``, ``ipv6`` or ``local``.
        vcenter_id: the vCenter managing it.
        vserver: the vServer it is placed on.
        nve: the NVE it is behind (from the vServer, or from the NVE's notification).
        state: its lifecycle state as the NVE last reported it (``None``: not yet
            associated; ``terminated``/``aged-out`` after those).
        group_id: its VM group.
        vnics: its vNICs.
        policies: its per-VN policies (on top of its group's).
        description: free text.
        updated: when the record last changed (seconds since the epoch).
    """

    vm_id: str
    tenant: str
    vm_id_format: str = "uuid"
    vcenter_id: str | None = None
    vserver: str | None = None
    nve: str | None = None
    state: str | None = None
    group_id: int | None = None
    vnics: tuple[VNIC, ...] = ()
    policies: tuple[VNAttachment, ...] = ()
    description: str | None = None
    updated: float = 0.0

    @property
    def active(self) -> bool:
        """Other NVEs of its VNs should map its addresses to its NVE."""
        return self.nve is not None and self.state in ACTIVE_STATES

    @property
    def vns(self) -> tuple[str, ...]:
        """The VNs its vNICs attach to."""
        return tuple(dict.fromkeys(v.vn for v in self.vnics))


@dataclass(frozen=True)
class VMReport:
    """A VM's last report (seed 000 "VM report"): status and utilisation in percent."""

    vm_id: str
    status: str
    cpu: float | None = None
    memory: float | None = None
    disk: float | None = None
    network: float | None = None
    time: float = 0.0


@dataclass(frozen=True)
class VServerLoad:
    """The mean utilisation of a vServer's reporting VMs, in percent."""

    vserver_id: str
    vms: int
    cpu: float
    memory: float
    disk: float
    network: float

    @property
    def peak(self) -> float:
        """The highest of the four means."""
        return max(self.cpu, self.memory, self.disk, self.network)


def _attachment_json(a: VNAttachment) -> dict[str, Any]:
    return {"vn": a.vn, "ingress": list(a.ingress_acls), "egress": list(a.egress_acls),
            "qos": a.qos_profile, "pcp": a.pcp}


def _attachment(data: dict[str, Any]) -> VNAttachment:
    return VNAttachment(data["vn"], tuple(data.get("ingress", ())),
                        tuple(data.get("egress", ())), data.get("qos"), data.get("pcp"))


class Registry:
    """Tenants, VNs, policies, vServers, VM groups and VMs in the store.

    Args:
        db: the store's database.
        clock: seconds since the epoch (injected by tests).
    """

    def __init__(self, db: Database, *, clock: Any = time.time) -> None:
        self.db = db
        self._clock = clock
        db.ensure("registry", _SCHEMA)

    # -- tenants ----------------------------------------------------------------------------

    def put_tenant(self, tenant: Tenant) -> None:
        """Create or update a tenant."""
        with self.db.transaction() as db:
            db.execute("INSERT INTO tenant VALUES (?, ?, ?) ON CONFLICT(tenant_id) DO UPDATE "
                       "SET name = excluded.name, description = excluded.description",
                       (tenant.tenant_id, tenant.name, tenant.description))

    def tenants(self) -> list[Tenant]:
        """Every tenant, by id."""
        return [Tenant(*row) for row in self.db.query(
            "SELECT tenant_id, name, description FROM tenant ORDER BY tenant_id")]

    def tenant(self, tenant_id: str) -> Tenant:
        """The tenant of that id; :class:`StoreError` if none."""
        rows = self.db.query("SELECT tenant_id, name, description FROM tenant "
                             "WHERE tenant_id = ?", (tenant_id,))
        if not rows:
            raise StoreError(f"no tenant {tenant_id!r}")
        return Tenant(*rows[0])

    def remove_tenant(self, tenant_id: str) -> None:
        """Remove a tenant that no VN, group or VM uses."""
        with self.db.transaction() as db:
            for table in ("vn", "vm_group", "vm"):
                if db.execute(f"SELECT 1 FROM {table} WHERE tenant = ?",
                              (tenant_id,)).fetchone():
                    raise StoreError(f"tenant {tenant_id!r} is in use by a {table}")
            if db.execute("DELETE FROM tenant WHERE tenant_id = ?",
                          (tenant_id,)).rowcount == 0:
                raise StoreError(f"no tenant {tenant_id!r}")

    # -- VNs --------------------------------------------------------------------------------

    def put_vn(self, vn: VNRecord) -> None:
        """Create or update a VN.

        Raises:
            StoreError: unknown tenant, or another VN has the VNID.
        """
        self.tenant(vn.tenant)
        body = json.dumps({k: v for k, v in vn.__dict__.items()
                           if k not in ("name", "vnid", "tenant")})
        try:
            with self.db.transaction() as db:
                current = db.execute("SELECT tenant FROM vn WHERE name = ?",
                                     (vn.name,)).fetchone()
                if current and current[0] != vn.tenant and db.execute(
                        "SELECT 1 FROM vnic WHERE vn = ?", (vn.name,)).fetchone():
                    raise StoreError(f"VN {vn.name!r} has VMs: its tenant cannot change")
                db.execute("INSERT INTO vn VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE "
                           "SET vnid = excluded.vnid, tenant = excluded.tenant, "
                           "body = excluded.body", (vn.name, vn.vnid, vn.tenant, body))
        except sqlite3.IntegrityError:
            raise StoreError(f"another VN has VNID {vn.vnid}") from None

    def vns(self) -> list[VNRecord]:
        """Every VN, by name."""
        return [self._vn(row) for row in self.db.query(
            "SELECT name, vnid, tenant, body FROM vn ORDER BY name")]

    def vn(self, name: str) -> VNRecord:
        """The VN of that name; :class:`StoreError` if none."""
        rows = self.db.query("SELECT name, vnid, tenant, body FROM vn WHERE name = ?",
                             (name,))
        if not rows:
            raise StoreError(f"no VN {name!r}")
        return self._vn(rows[0])

    @staticmethod
    def _vn(row: tuple[Any, ...]) -> VNRecord:
        body = json.loads(row[3])
        body["nves"] = tuple(body.get("nves", ()))
        return VNRecord(row[0], row[1], row[2], **body)

    def remove_vn(self, name: str) -> None:
        """Remove a VN that no VM or group uses."""
        with self.db.transaction():
            for vm in self.vms():
                if name in vm.vns or any(p.vn == name for p in vm.policies):
                    raise StoreError(f"VN {name!r} is in use by VM {vm.vm_id}")
            for group in self.groups():
                if any(a.vn == name for a in group.attachments):
                    raise StoreError(f"VN {name!r} is in use by VM group {group.group_id}")
            with self.db.transaction() as db:
                if db.execute("DELETE FROM vn WHERE name = ?", (name,)).rowcount == 0:
                    raise StoreError(f"no VN {name!r}")

    # -- policies ---------------------------------------------------------------------------

    def put_policy(self, policy: Policy) -> None:
        """Create or replace an ACL or QoS profile."""
        if policy.tenant is not None:
            self.tenant(policy.tenant)
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO policy VALUES (?, ?, ?, ?)",
                       (policy.kind.value, policy.name, policy.tenant, policy.xml))

    def policies(self, kind: PolicyKind | None = None) -> list[Policy]:
        """Every policy (of ``kind``), by kind and name."""
        rows = self.db.query("SELECT kind, name, xml, tenant FROM policy ORDER BY kind, name")
        return [Policy(PolicyKind(r[0]), r[1], r[2], r[3]) for r in rows
                if kind is None or r[0] == kind.value]

    def policy(self, kind: PolicyKind, name: str) -> Policy:
        """One policy; :class:`StoreError` if none."""
        rows = self.db.query("SELECT kind, name, xml, tenant FROM policy WHERE kind = ? AND "
                             "name = ?", (kind.value, name))
        if not rows:
            raise StoreError(f"no {kind.value} policy {name!r}")
        row = rows[0]
        return Policy(PolicyKind(row[0]), row[1], row[2], row[3])

    def remove_policy(self, kind: PolicyKind, name: str) -> None:
        """Remove a policy no VM or group uses."""
        with self.db.transaction() as db:
            users = [vm.vm_id for vm in self.vms()
                     if any(name in _names(a, kind) for a in vm.policies)]
            users += [f"group {g.group_id}" for g in self.groups()
                      if any(name in _names(a, kind) for a in g.attachments)]
            if users:
                raise StoreError(f"{kind.value} {name!r} is in use by {', '.join(users)}")
            if db.execute("DELETE FROM policy WHERE kind = ? AND name = ?",
                          (kind.value, name)).rowcount == 0:
                raise StoreError(f"no {kind.value} policy {name!r}")

    # -- vServers ---------------------------------------------------------------------------

    def put_vserver(self, vserver: VServer) -> None:
        """Create or update a vServer (the NVE it is behind, its TES name, interface)."""
        for tenant in vserver.tenants:
            self.tenant(tenant)
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO vserver VALUES (?, ?, ?, ?, ?)",
                       (vserver.vserver_id, vserver.nve, vserver.tes_name,
                        vserver.interface, json.dumps(list(vserver.tenants))))
            for vm in self._vms(db, "WHERE vserver = ?", (vserver.vserver_id,)):
                if vm.nve != vserver.nve:
                    self._write_vm(db, replace(vm, nve=vserver.nve, state=None))

    def vservers(self) -> list[VServer]:
        """Every vServer, by id."""
        return [VServer(r[0], r[1], r[2], r[3], tuple(json.loads(r[4]))) for r in
                self.db.query("SELECT vserver_id, nve, tes_name, interface, tenants "
                              "FROM vserver ORDER BY vserver_id")]

    def vserver(self, vserver_id: str) -> VServer:
        """One vServer; :class:`StoreError` if none."""
        for vserver in self.vservers():
            if vserver.vserver_id == vserver_id:
                return vserver
        raise StoreError(f"no vServer {vserver_id!r} (ndirector vserver add ...)")

    def remove_vserver(self, vserver_id: str) -> None:
        """Remove a vServer no VM is placed on."""
        with self.db.transaction() as db:
            if db.execute("SELECT 1 FROM vm WHERE vserver = ?", (vserver_id,)).fetchone():
                raise StoreError(f"VMs are placed on vServer {vserver_id!r}")
            if db.execute("DELETE FROM vserver WHERE vserver_id = ?",
                          (vserver_id,)).rowcount == 0:
                raise StoreError(f"no vServer {vserver_id!r}")

    # -- VM groups --------------------------------------------------------------------------

    def put_group(self, group: VMGroup) -> None:
        """Create or update a VM group profile."""
        self.tenant(group.tenant)
        self._check_attachments(group.tenant, group.attachments)
        body = json.dumps({"name": group.name, "vcenter": group.vcenter_id,
                           "vserver": group.vserver_id,
                           "attachments": [_attachment_json(a) for a in group.attachments]})
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO vm_group VALUES (?, ?, ?)",
                       (group.group_id, group.tenant, body))

    def groups(self) -> list[VMGroup]:
        """Every VM group, by id."""
        groups = []
        for gid, tenant, body in self.db.query(
                "SELECT group_id, tenant, body FROM vm_group ORDER BY group_id"):
            data = json.loads(body)
            groups.append(VMGroup(gid, tenant, data.get("name"), data.get("vcenter"),
                                  data.get("vserver"),
                                  tuple(_attachment(a) for a in data["attachments"])))
        return groups

    def group(self, group_id: int) -> VMGroup:
        """One VM group; :class:`StoreError` if none."""
        for group in self.groups():
            if group.group_id == group_id:
                return group
        raise StoreError(f"no VM group {group_id}")

    def remove_group(self, group_id: int) -> None:
        """Remove a VM group no VM belongs to."""
        with self.db.transaction() as db:
            if db.execute("SELECT 1 FROM vm WHERE json_extract(body, '$.group_id') = ?",
                          (group_id,)).fetchone():
                raise StoreError(f"VMs belong to group {group_id}")
            if db.execute("DELETE FROM vm_group WHERE group_id = ?",
                          (group_id,)).rowcount == 0:
                raise StoreError(f"no VM group {group_id}")

    # -- VMs --------------------------------------------------------------------------------

    def register(self, vm: VMRecord) -> VMRecord:
        """Create or update a VM's profile (seed 000 "VM registration").

        The VM's NVE follows from its vServer. Its lifecycle state is kept when it stays
        on the same NVE.

        Raises:
            StoreError: unknown tenant, VN, policy, vServer or group; a VN of another
                tenant; a MAC another VM uses in the same VN.
        """
        with self.db.transaction() as db:
            return self._register(db, vm)

    def register_many(self, vms: Sequence[VMRecord]) -> list[VMRecord]:
        """Register several VMs in one transaction (all or none)."""
        with self.db.transaction() as db:
            return [self._register(db, vm) for vm in vms]

    def bulk_register(self, group_id: int, vm_ids: Sequence[str],
                      vnics: Sequence[Sequence[VNIC]], *, vserver: str | None = None,
                      vm_id_format: str = "uuid") -> list[VMRecord]:
        """Register VMs sharing a group profile (seed 000 "bulk registration").

        Args:
            group_id: the group whose tenant, vCenter, vServer and policies they share.
            vm_ids: the VMs.
            vnics: each VM's vNICs (same length as ``vm_ids``).
            vserver: the vServer, if not the group's.
            vm_id_format: their identifier format.
        """
        if len(vnics) != len(vm_ids):
            raise ValueError("one vNIC list per VM")
        group = self.group(group_id)
        return self.register_many([
            VMRecord(vm_id, group.tenant, vm_id_format=vm_id_format,
                     vcenter_id=group.vcenter_id, vserver=vserver or group.vserver_id,
                     group_id=group_id, vnics=tuple(nics))
            for vm_id, nics in zip(vm_ids, vnics, strict=True)])

    def deregister(self, vm_ids: Iterable[str]) -> None:
        """Remove VMs (seed 000 "VM deregistration"); all or none.

        Raises:
            StoreError: naming every VM that is not registered (nothing removed).
        """
        ids = list(dict.fromkeys(vm_ids))
        with self.db.transaction() as db:
            unknown = [i for i in ids
                       if not db.execute("SELECT 1 FROM vm WHERE vm_id = ?", (i,)).fetchone()]
            if unknown:
                raise StoreError(f"not registered: {', '.join(unknown)}")
            db.executemany("DELETE FROM vm WHERE vm_id = ?", [(i,) for i in ids])

    def bulk_deregister(self, group_id: int) -> list[str]:
        """Deregister every VM of a group; returns their ids."""
        ids = [vm.vm_id for vm in self.vms() if vm.group_id == group_id]
        self.group(group_id)
        self.deregister(ids)
        return ids

    def vm(self, vm_id: str) -> VMRecord:
        """One VM; :class:`StoreError` if it is not registered."""
        with self.db.transaction() as db:
            found = self._vms(db, "WHERE vm_id = ?", (vm_id,))
        if not found:
            raise StoreError(f"VM {vm_id!r} is not registered")
        return found[0]

    def vms(self, *, nve: str | None = None) -> list[VMRecord]:
        """Every VM (behind ``nve``), by id."""
        with self.db.transaction() as db:
            if nve is None:
                return self._vms(db, "", ())
            return self._vms(db, "WHERE nve = ?", (nve,))

    def lookup(self, vm_id: str) -> tuple[str | None, str | None]:
        """Which vServer and NVE host the VM (seed 000 "vServer lookup")."""
        vm = self.vm(vm_id)
        return vm.vserver, vm.nve

    def relocate(self, vm_id: str, vserver: str) -> VMRecord:
        """Record a VM's new vServer (seed 000 "relocation"); its NVE follows."""
        with self.db.transaction() as db:
            vm = self.vm(vm_id)
            target = self.vserver(vserver)
            moved = replace(vm, vserver=vserver, nve=target.nve,
                            state=vm.state if target.nve == vm.nve else None,
                            updated=self._clock())
            self._write_vm(db, moved)
            return moved

    def record_state(self, nve: str, vm_id: str, state: str | None, *, tenant: str | None,
                     vnics: Sequence[VNIC] = (), vserver: str | None = None) -> VMRecord:
        """What an NVE reported about a VM: it is (or was) behind that NVE in ``state``.

        A VM the registry does not know is added (discovered from the network). A report
        from another NVE than the VM's moves it there, unless the VM is gone from that
        NVE (``terminated``/``aged-out`` from an NVE the VM already left changes nothing).

        Args:
            nve: the reporting NVE.
            vm_id: the VM.
            state: its new lifecycle state; ``terminated`` or ``aged-out`` when it left.
            tenant: its tenant (from the notification).
            vnics: the vNICs reported (their MACs, addresses and VIDs).
            vserver: its vServer, when the NVE said (the TES identity).
        """
        with self.db.transaction() as db:
            found = self._vms(db, "WHERE vm_id = ?", (vm_id,))
            gone = state in ("terminated", "aged-out")
            if not found:
                if gone or tenant is None:
                    raise StoreError(f"VM {vm_id!r} is not registered")
                if not db.execute("SELECT 1 FROM tenant WHERE tenant_id = ?",
                                  (tenant,)).fetchone():
                    raise StoreError(f"VM {vm_id!r} of unknown tenant {tenant!r}")
                vm = VMRecord(vm_id, tenant, nve=nve, state=state, vserver=vserver,
                              vnics=tuple(vnics), description="discovered from " + nve)
                self._write_vm(db, vm)
                return vm
            vm = found[0]
            if gone and vm.nve != nve:
                return vm
            reported = {n.mac: n for n in vnics}
            merged = tuple(replace(n, vid=reported[n.mac].vid,
                                   ip_addresses=reported[n.mac].ip_addresses or n.ip_addresses)
                           if n.mac in reported else n for n in vm.vnics)
            known = {n.mac for n in vm.vnics}
            merged += tuple(n for n in vnics if n.mac not in known)
            updated = replace(vm, nve=nve, state=state, vnics=merged,
                              vserver=vserver if vserver and vm.nve != nve else vm.vserver,
                              updated=self._clock())
            self._write_vm(db, updated)
            return updated

    # -- reports ----------------------------------------------------------------------------

    def report(self, report: VMReport) -> None:
        """Record a VM's status and utilisation (seed 000 "VM report")."""
        for name in ("cpu", "memory", "disk", "network"):
            value = getattr(report, name)
            if value is not None and not 0 <= value <= 100:
                raise ValueError(f"{name} utilisation {value} is not a percentage")
        with self.db.transaction() as db:
            if not db.execute("SELECT 1 FROM vm WHERE vm_id = ?", (report.vm_id,)).fetchone():
                raise StoreError(f"VM {report.vm_id!r} is not registered")
            db.execute("INSERT OR REPLACE INTO vm_report VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (report.vm_id, report.time or self._clock(), report.status,
                        report.cpu, report.memory, report.disk, report.network))

    def reports(self) -> list[VMReport]:
        """Every VM's last report, by VM."""
        return [VMReport(r[0], r[2], r[3], r[4], r[5], r[6], r[1]) for r in self.db.query(
            "SELECT vm_id, time, status, cpu, memory, disk, network FROM vm_report "
            "ORDER BY vm_id")]

    def vserver_loads(self) -> list[VServerLoad]:
        """Each vServer's mean utilisation over its VMs' last reports."""
        rows = self.db.query(
            "SELECT vm.vserver, COUNT(*), AVG(COALESCE(cpu, 0)), AVG(COALESCE(memory, 0)), "
            "AVG(COALESCE(disk, 0)), AVG(COALESCE(network, 0)) FROM vm_report "
            "JOIN vm USING (vm_id) WHERE vm.vserver IS NOT NULL GROUP BY vm.vserver "
            "ORDER BY vm.vserver")
        return [VServerLoad(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    # -- internals --------------------------------------------------------------------------

    def _register(self, db: sqlite3.Connection, vm: VMRecord) -> VMRecord:
        self.tenant(vm.tenant)
        if vm.group_id is not None:
            group = self.group(vm.group_id)
            if group.tenant != vm.tenant:
                raise StoreError(f"VM {vm.vm_id} of tenant {vm.tenant} cannot join group "
                                 f"{group.group_id} of tenant {group.tenant}")
        nve = vm.nve
        if vm.vserver is not None:
            nve = self.vserver(vm.vserver).nve
        for vnic in vm.vnics:
            if self.vn(vnic.vn).tenant != vm.tenant:
                raise StoreError(f"VM {vm.vm_id} of tenant {vm.tenant} cannot attach to VN "
                                 f"{vnic.vn} of tenant {self.vn(vnic.vn).tenant}")
        self._check_attachments(vm.tenant, vm.policies)
        for vnic in vm.vnics:
            owner = db.execute("SELECT vm_id FROM vnic WHERE vn = ? AND mac = ? AND vm_id != ?",
                               (vnic.vn, vnic.mac, vm.vm_id)).fetchone()
            if owner:
                raise StoreError(f"MAC {vnic.mac} is already used by VM {owner[0]} in VN "
                                 f"{vnic.vn}")
        found = self._vms(db, "WHERE vm_id = ?", (vm.vm_id,))
        previous = found[0] if found else None
        state = previous.state if previous is not None and previous.nve == nve else None
        vids = {n.mac: n.vid for n in previous.vnics} if previous else {}
        vnics = tuple(replace(n, vid=n.vid or vids.get(n.mac)) for n in vm.vnics)
        record = replace(vm, nve=nve, state=state, vnics=vnics, updated=self._clock())
        self._write_vm(db, record)
        return record

    def _check_attachments(self, tenant: str, attachments: Iterable[VNAttachment]) -> None:
        for a in attachments:
            vn = self.vn(a.vn)
            if vn.tenant != tenant:
                raise StoreError(f"VN {a.vn} belongs to tenant {vn.tenant}, not {tenant}")
            for name in (*a.ingress_acls, *a.egress_acls):
                self.policy(PolicyKind.ACL, name)
            if a.qos_profile is not None:
                self.policy(PolicyKind.QOS, a.qos_profile)

    def _write_vm(self, db: sqlite3.Connection, vm: VMRecord) -> None:
        body = json.dumps({
            "vm_id_format": vm.vm_id_format, "vcenter_id": vm.vcenter_id,
            "group_id": vm.group_id, "description": vm.description,
            "vnics": [{"mac": n.mac, "vn": n.vn, "ips": list(n.ip_addresses), "vid": n.vid}
                      for n in vm.vnics],
            "policies": [_attachment_json(a) for a in vm.policies]})
        db.execute("INSERT INTO vm VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(vm_id) DO UPDATE "
                   "SET tenant = excluded.tenant, vserver = excluded.vserver, "
                   "nve = excluded.nve, state = excluded.state, updated = excluded.updated, "
                   "body = excluded.body",
                   (vm.vm_id, vm.tenant, vm.vserver, vm.nve, vm.state,
                    vm.updated or self._clock(), body))
        db.execute("DELETE FROM vnic WHERE vm_id = ?", (vm.vm_id,))
        try:
            db.executemany("INSERT INTO vnic VALUES (?, ?, ?)",
                           [(n.vn, n.mac, vm.vm_id) for n in vm.vnics])
        except sqlite3.IntegrityError:
            raise StoreError(f"VM {vm.vm_id} uses a MAC twice in one VN, or one another "
                             "VM uses") from None

    @staticmethod
    def _vms(db: sqlite3.Connection, where: str, parameters: Sequence[Any]) -> list[VMRecord]:
        rows = db.execute("SELECT vm_id, tenant, vserver, nve, state, updated, body FROM vm "
                          f"{where} ORDER BY vm_id", parameters).fetchall()
        vms = []
        for vm_id, tenant, vserver, nve, state, updated, body in rows:
            data = json.loads(body)
            vms.append(VMRecord(
                vm_id, tenant, vm_id_format=data["vm_id_format"],
                vcenter_id=data["vcenter_id"], vserver=vserver, nve=nve, state=state,
                group_id=data["group_id"],
                vnics=tuple(VNIC(n["mac"], n["vn"], tuple(n["ips"]), n["vid"])
                            for n in data["vnics"]),
                policies=tuple(_attachment(a) for a in data["policies"]),
                description=data["description"], updated=updated))
        return vms


def _names(attachment: VNAttachment, kind: PolicyKind) -> tuple[str, ...]:
    if kind is PolicyKind.ACL:
        return attachment.ingress_acls + attachment.egress_acls
    return (attachment.qos_profile,) if attachment.qos_profile else ()

