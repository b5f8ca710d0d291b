"""The content of the notifications the NVE emits (nvo3-tes and nvo3-mapping).

Each builder returns the notification's own element (``<vm-state-changed>``...), which a
:class:`~nvo3_netconf.nve.sink.NotificationSink` wraps in an RFC 5277 ``<notification>``
with its ``eventTime``:

- ``vm-state-changed`` (seed 003 sec. 3.4.3): a VM's state changed, from or to none;
- ``vm-aged-out`` (sec. 3.3.8): an idle VM was removed;
- ``local-change`` (sec. 3.3.9): the VID or PCP the NVE returned to the TES changed;
- ``migration-progress`` (seed 002): a migration step on this NVE;
- ``mapping-changed`` (seed 001): an entry of the mapping table in effect changed.

Public names: :func:`vm_state_changed`, :func:`vm_aged_out`, :func:`local_change`,
:class:`TagChange`, :func:`migration_progress`, :func:`mapping_changed`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from nvo3_netconf.constants import NS_NVO3_MAPPING, NS_NVO3_TES
from nvo3_netconf.nve.encoding import container, leaf, reason_leaf, timestamp
from nvo3_netconf.nve.forwarding import MappingView
from nvo3_netconf.nve.lifecycle import MigrationPhase, ReplyReason, Result, VMEvent, VMState
from nvo3_netconf.nve.records import VMRecord
from nvo3_netconf.nve.requests import MigrationPeer
from nvo3_netconf.protocol.xml import element

__all__ = [
    "TagChange",
    "local_change",
    "mapping_changed",
    "migration_progress",
    "vm_aged_out",
    "vm_state_changed",
]

_T = NS_NVO3_TES


def _summary(root: etree._Element, record: VMRecord, active: bool) -> None:
    """The ``vm-summary`` grouping: identity and attachments of the VM."""
    leaf(root, _T, "vm-id", record.vm_id)
    leaf(root, _T, "vm-id-format", record.vm_id_format)
    leaf(root, _T, "tenant", record.tenant)
    for dvn in record.allocation.desired.vns:
        vn = container(root, _T, "vn")
        leaf(vn, _T, "vn-name", dvn.vn)
        leaf(vn, _T, "vnid", dvn.vnid)
        leaf(vn, _T, "active", active)
        for a in record.allocation.for_vn(dvn.vn):
            vnic = container(vn, _T, "vnic")
            leaf(vnic, _T, "mac", a.mac)
            for address in a.ip_addresses:
                leaf(vnic, _T, "ip-address", address)
            leaf(vnic, _T, "vid", a.vid)
            leaf(vnic, _T, "pcp", a.pcp if a.vid is not None else None)


def vm_state_changed(
    record: VMRecord, *, old: VMState | None, new: VMState | None, event: VMEvent,
    tes: str | None,
) -> etree._Element:
    """``vm-state-changed`` for ``record`` (as it is after the change, or was before it)."""
    root = element(_T, "vm-state-changed")
    _summary(root, record, new is VMState.ASSOCIATED)
    leaf(root, _T, "old-state", old.value if old is not None else None)
    leaf(root, _T, "new-state", new.value if new is not None else None)
    leaf(root, _T, "event", event.value)
    leaf(root, _T, "tes-identity", tes)
    leaf(root, _T, "migrating", record.migrating)
    return root


def vm_aged_out(record: VMRecord, *, idle_time: int) -> etree._Element:
    """``vm-aged-out`` for the record of a VM just aged out."""
    root = element(_T, "vm-aged-out")
    _summary(root, record, False)
    leaf(root, _T, "last-state", record.state.value)
    leaf(root, _T, "idle-time", idle_time)
    if record.last_event is not None:
        leaf(root, _T, "last-event", record.last_event.event.value)
    leaf(root, _T, "last-refresh", timestamp(record.refresh_time))
    leaf(root, _T, "tes-identity", record.tes)
    return root


@dataclass(frozen=True)
class TagChange:
    """One changed assignment of a local change."""

    vn: str
    vnid: int | None
    mac: str | None
    old_vid: int | None
    new_vid: int | None
    old_pcp: int | None
    new_pcp: int | None


def local_change(
    record: VMRecord, *, change_id: int, cause: str, changes: list[TagChange]
) -> etree._Element:
    """``local-change``: the indicators the TES was given for ``record`` changed."""
    root = element(_T, "local-change")
    leaf(root, _T, "vm-id", record.vm_id)
    leaf(root, _T, "vm-id-format", record.vm_id_format)
    leaf(root, _T, "change-id", change_id)
    leaf(root, _T, "tes-identity", record.tes)
    leaf(root, _T, "cause", cause)
    for change in changes:
        node = container(root, _T, "change")
        leaf(node, _T, "vn-name", change.vn)
        leaf(node, _T, "vnid", change.vnid)
        leaf(node, _T, "mac", change.mac)
        leaf(node, _T, "old-vid", change.old_vid)
        leaf(node, _T, "new-vid", change.new_vid)
        leaf(node, _T, "old-pcp", change.old_pcp)
        leaf(node, _T, "new-pcp", change.new_pcp)
    return root


def migration_progress(
    *, vm_id: str, vm_id_format: str, tenant: str | None, phase: MigrationPhase,
    peer: MigrationPeer | None, result: Result, reason: ReplyReason | None = None,
    message: str | None = None,
) -> etree._Element:
    """``migration-progress``: a migration step reached (or refused) on this NVE."""
    root = element(_T, "migration-progress")
    leaf(root, _T, "vm-id", vm_id)
    leaf(root, _T, "vm-id-format", vm_id_format)
    leaf(root, _T, "tenant", tenant)
    role = "source" if phase.value.startswith("emigration") else "destination"
    leaf(root, _T, "role", role)
    leaf(root, _T, "phase", phase.value)
    if peer is not None:
        node = container(root, _T, "peer")
        leaf(node, _T, "migration-id", peer.migration_id)
        leaf(node, _T, "peer-nve", peer.peer_nve)
        leaf(node, _T, "peer-vserver", peer.peer_vserver)
    leaf(root, _T, "result", result.value)
    reason_leaf(root, _T, "reason", reason)
    leaf(root, _T, "error-message", message)
    return root


def mapping_changed(
    operation: str, before: MappingView | None, after: MappingView | None
) -> etree._Element:
    """``mapping-changed``: an entry of the table in effect was added/removed/modified."""
    m = NS_NVO3_MAPPING
    current = after if after is not None else before
    assert current is not None
    root = element(m, "mapping-changed")
    leaf(root, m, "vn-name", current.vn)
    leaf(root, m, "vnid", current.vnid)
    leaf(root, m, "inner-mac", current.inner_mac)
    leaf(root, m, "operation", operation)
    for address in current.inner_ips:
        leaf(root, m, "inner-ip", address)
    leaf(root, m, "remote-nve", current.remote_nve)
    if before is not None and after is not None and before.remote_nve != after.remote_nve:
        leaf(root, m, "previous-remote-nve", before.remote_nve)
    leaf(root, m, "origin", current.origin)
    leaf(root, m, "active", current.active if after is not None else False)
    return root
