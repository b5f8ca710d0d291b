"""VM migration coordination (seed 002's "middle" solution; seed 001, Alice travels).

The nDirector is the coordinator. For a batch of VMs moving to a destination NVE:

1. **prepare** — the VMs are staged at the destination (:mod:`.render`): their profiles,
   policies, VNs and the other VMs' mappings go to the destination in one transaction;
   a conflicting policy or any invalid data is refused there before anything moved.
   Every other NVE still points at the source.
2. per VM, concurrently: read the **dynamic state** the source NVE holds for it
   (``/vm-state/vm``: lifecycle state, assigned PCPs); **reserve** at the destination
   (``immigrate``, pre-associate phase, with resource reservation: a destination short
   of resources answers ``insufficient-resources`` here); **emigrate** at the source
   (inactive, kept); **immigrate** (associate phase) at the destination with the PCPs
   carried over, and suspend it there if it was suspended.
3. **switch** — the VMs that got this far move in the registry, and one transaction
   points every NVE of their VNs at the destination: each NVE gets its changes for the
   whole batch at once, not one per VM.
4. **release** — ``terminate`` at the source, only now that the destination confirmed;
   then one transaction removes the VMs' configuration from their sources.

A failure before the switch undoes that VM: ``terminate`` at the destination if it
immigrated, ``associate`` at the source again (emigration keeps everything for this),
and its staging is removed from the destination; every other NVE was never touched. A
failed switch transaction undoes the whole batch the same way. Every step is recorded
in the store (:class:`MigrationLog`), so :meth:`Coordinator.recover` can finish (after
the switch) or undo (before it) what a stopped nDirector left in the middle.

Public names: :class:`Coordinator` (:class:`~.journal.Migration` and
:class:`~.journal.Phase` are re-exported).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from nvo3_netconf.constants import NS_NC, NS_NVO3_VM
from nvo3_netconf.director.client import DeviceClient
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.db import StoreError
from nvo3_netconf.director.journal import Migration, MigrationLog, Phase
from nvo3_netconf.director.registry import VMRecord
from nvo3_netconf.errors import Nvo3Error
from nvo3_netconf.protocol.xml import element, local_name, sub
from nvo3_netconf.tes.params import (
    VNIC,
    AssociationParams,
    ImmigrationPhase,
    MigrationPeer,
    VMRef,
    VNAttachment,
)
from nvo3_netconf.tes.params import VMIdFormat as _Format
from nvo3_netconf.tes.replies import Reply
from nvo3_netconf.tes.requests import Associate, Emigrate, Immigrate, Suspend, Terminate

__all__ = ["Coordinator", "Migration", "Phase"]

logger = logging.getLogger(__name__)

class Coordinator:
    """Migrates VMs between NVEs for a :class:`~.controller.Director`.

    Args:
        director: the controller (its store, sessions and transactions).
        workers: VMs signalled at once.
        progress: called with each migration after each phase change.
    """

    def __init__(self, director: Director, *, workers: int = 16,
                 progress: Callable[[Migration], None] | None = None) -> None:
        self.director = director
        self.log = MigrationLog(director.db)
        self.workers = max(1, workers)
        self._progress = progress

    # -- the API -------------------------------------------------------------------------

    def migrate(self, vm_ids: Iterable[str], destination: str, *,
                vserver: str | None = None) -> list[Migration]:
        """Migrate VMs to ``destination`` (on ``vserver``, default its first vServer).

        Returns:
            One :class:`Migration` per VM, final: ``done`` (SUCCESS) or ``rolled-back``
            (FAIL, with the reason).

        Raises:
            StoreError: an unknown VM, NVE or vServer, a VM without a location, a VM
                already at the destination or already migrating (nothing started).
        """
        registry = self.director.registry
        self.director.inventory.get(destination)
        target = self._vserver(destination, vserver)
        busy = {m.vm_id for m in self.log.active()}
        batch = uuid.uuid4().hex[:12]
        migrations: list[Migration] = []
        for vm_id in dict.fromkeys(vm_ids):
            vm = registry.vm(vm_id)
            if vm.nve is None:
                raise StoreError(f"VM {vm_id} has no location to migrate from")
            if vm.nve == destination:
                raise StoreError(f"VM {vm_id} is already behind {destination}")
            if vm_id in busy:
                raise StoreError(f"VM {vm_id} is already migrating")
            migrations.append(Migration(f"{batch}-{len(migrations) + 1}", batch, vm_id,
                                        vm.nve, vm.vserver, destination, target,
                                        started=time.time()))
        for m in migrations:
            self._save(m)
        self._prepare(migrations)
        moving = [m for m in migrations if m.phase is Phase.PREPARED]
        self._parallel(self._signal, moving)
        self._switch([m for m in moving if m.phase is Phase.IMMIGRATED])
        switched = [m for m in migrations if m.phase is Phase.SWITCHED]
        self._parallel(self._release, switched)
        if any(m.phase is Phase.DONE for m in switched):
            self._clean_up_sources(switched)
        self._clean_up_failed(migrations)
        return migrations

    def recover(self) -> list[Migration]:
        """Finish or undo the migrations a stopped nDirector left unfinished."""
        unfinished = self.log.active()
        for m in unfinished:
            if m.phase is Phase.DONE:
                continue
            if m.phase is Phase.STARTED:
                m.phase, m.result = Phase.ROLLED_BACK, "fail"
                m.reason = "the nDirector stopped before the destination was prepared"
                self._save(m)
            elif m.phase is Phase.SWITCHED:
                self._release(m)
            else:
                self._fail(m, m.reason or "the nDirector stopped during the migration")
        self._clean_up_sources(unfinished)
        self._clean_up_failed(unfinished)
        return unfinished

    # -- phases --------------------------------------------------------------------------

    def _prepare(self, migrations: Sequence[Migration]) -> None:
        destinations = {m.destination for m in migrations}
        outcome = self.director.apply(destinations)
        failure = "; ".join(f"{r.nve}: {r.error_message}" for r in outcome.results if not r.ok)
        for m in migrations:
            if outcome.ok:
                m.phase = Phase.PREPARED
                self._save(m)
            else:
                self._fail(m, f"the destination refused the VM's configuration ({failure})")

    def _signal(self, m: Migration) -> None:
        registry = self.director.registry
        vm = registry.vm(m.vm_id)
        source = self.director.pool.client(m.source)
        target = self.director.pool.client(m.destination)
        peer = MigrationPeer(m.id, self._underlay(m.destination), m.destination_vserver)
        back = MigrationPeer(m.id, self._underlay(m.source), m.source_vserver)
        try:
            m.dynamic = self._dynamic_state(source, vm)
            params = self._params(vm, m.destination_vserver, m.dynamic)
            self._expect(target.signal(Immigrate(params, ImmigrationPhase.PRE_ASSOCIATE,
                                                 True, back)), "reserve at the destination")
            m.phase = Phase.RESERVED
            self._save(m)
            self._expect(source.signal(Emigrate(_ref(vm), peer)), "emigrate at the source")
            m.phase = Phase.EMIGRATED
            self._save(m)
            self._expect(target.signal(Immigrate(params, ImmigrationPhase.ASSOCIATE, False,
                                                 back)), "immigrate at the destination")
            if m.dynamic.get("state") == "suspended":
                self._expect(target.signal(Suspend(_ref(vm))), "suspend at the destination")
            m.phase = Phase.IMMIGRATED
            self._save(m)
        except (Nvo3Error, OSError, _Refused) as error:
            self._fail(m, str(error))

    def _switch(self, migrations: Sequence[Migration]) -> None:
        if not migrations:
            return
        registry = self.director.registry
        before = {m.vm_id: registry.vm(m.vm_id) for m in migrations}
        for m in migrations:
            vm = before[m.vm_id]
            state = "suspended" if m.dynamic.get("state") == "suspended" else "associated"
            registry.register(replace(vm, vserver=m.destination_vserver,
                                      nve=None if m.destination_vserver else m.destination))
            registry.record_state(m.destination, m.vm_id, state, tenant=vm.tenant)
            m.phase = Phase.SWITCHED
            self._save(m)
        outcome = self.director.apply()
        if outcome.ok:
            return
        failure = "; ".join(f"{r.nve}: {r.error_message}" for r in outcome.results if not r.ok)
        for m in migrations:
            registry.register(before[m.vm_id])
            previous = before[m.vm_id]
            registry.record_state(m.source, m.vm_id, previous.state or "associated",
                                  tenant=previous.tenant)
            m.phase = Phase.IMMIGRATED
            self._fail(m, f"switching the mappings failed ({failure})")

    def _release(self, m: Migration) -> None:
        try:
            client = self.director.pool.client(m.source)
            vm = self.director.registry.vm(m.vm_id)
            self._expect(client.signal(Terminate(_ref(vm))), "terminate at the source")
            m.phase, m.result, m.reason = Phase.DONE, "success", None
        except (Nvo3Error, OSError, _Refused) as error:
            m.reason = f"release at the source pending: {error}"
        self._save(m)

    def _fail(self, m: Migration, reason: str) -> None:
        """Undo ``m``'s signalling (the staging goes in :meth:`_clean_up_failed`)."""
        notes = [reason]
        vm = self.director.registry.vm(m.vm_id)
        if m.phase in (Phase.RESERVED, Phase.EMIGRATED, Phase.IMMIGRATED):
            notes += self._try(lambda: self.director.pool.client(m.destination).signal(
                Terminate(_ref(vm))), "terminate at the destination")
        if m.phase in (Phase.EMIGRATED, Phase.IMMIGRATED):
            params = self._params(vm, m.source_vserver, m.dynamic)
            notes += self._try(lambda: self.director.pool.client(m.source).signal(
                Associate(params)), "associate again at the source")
        m.phase, m.result, m.reason = Phase.ROLLED_BACK, "fail", "; ".join(notes)
        self._save(m)

    def _clean_up_sources(self, migrations: Sequence[Migration]) -> None:
        """Remove the released VMs' configuration from their sources (one transaction)."""
        outcome = self.director.apply({m.source for m in migrations if m.phase is Phase.DONE})
        if not outcome.ok:
            for m in migrations:
                if m.phase is Phase.DONE:
                    m.reason = "its configuration stays on the source until the next apply"
                    self._save(m)

    def _clean_up_failed(self, migrations: Sequence[Migration]) -> None:
        """Remove the staging of failed migrations from their destinations."""
        failed = {m.destination for m in migrations if m.phase is Phase.ROLLED_BACK}
        if not failed:
            return
        outcome = self.director.apply(failed)
        if not outcome.ok:
            for m in migrations:
                if m.phase is Phase.ROLLED_BACK and m.destination in {
                        r.nve for r in outcome.results if not r.ok}:
                    m.reason = (f"{m.reason}; removing its configuration from "
                                f"{m.destination} is pending (unreachable)")
                    self._save(m)

    # -- helpers -------------------------------------------------------------------------

    def _save(self, m: Migration) -> None:
        self.log.save(m)
        logger.info("migration %s of VM %s: %s%s", m.id, m.vm_id, m.phase.value,
                    f" ({m.reason})" if m.reason else "")
        if self._progress is not None:
            self._progress(m)

    def _parallel(self, action: Callable[[Migration], None],
                  migrations: Sequence[Migration]) -> None:
        if not migrations:
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(migrations)),
                                thread_name_prefix="ndirector-migrate") as pool:
            list(pool.map(action, migrations))

    def _vserver(self, nve: str, vserver: str | None) -> str | None:
        servers = [v for v in self.director.registry.vservers() if v.nve == nve]
        if vserver is not None:
            if vserver not in {v.vserver_id for v in servers}:
                raise StoreError(f"vServer {vserver} is not behind {nve}")
            return vserver
        return servers[0].vserver_id if servers else None

    def _underlay(self, nve: str) -> str | None:
        return self.director.inventory.get(nve).underlay_address

    def _dynamic_state(self, client: DeviceClient, vm: VMRecord) -> dict[str, Any]:
        """What the source NVE holds for the VM: state, VAPs, VIDs and PCPs."""
        get = element(NS_NC, "get")
        flt = sub(get, NS_NC, "filter")
        flt.set("type", "subtree")
        sub(sub(sub(flt, NS_NVO3_VM, "vm-state"), NS_NVO3_VM, "vm"), NS_NVO3_VM,
            "vm-id", vm.vm_id)
        reply = client.connect().call(get)
        state: dict[str, Any] = {"state": None, "vns": []}
        q = f"{{{NS_NVO3_VM}}}"
        for node in (n for data in reply.data for n in data.iter(f"{q}vm")):
            state["state"] = node.findtext(f"{q}state")
            for vn in node.iterfind(f"{q}vn"):
                entries = [{local_name(child): child.text for child in nic}
                           for nic in vn.iterfind(f"{q}vnic")]
                state["vns"].append({"vn": vn.findtext(f"{q}vn-name"),
                                     "vap": vn.findtext(f"{q}vap"), "entries": entries})
        return state

    def _params(self, vm: VMRecord, vserver: str | None,
                dynamic: dict[str, Any]) -> AssociationParams:
        pcps = {e.get("mac"): int(e["assigned-pcp"]) for vn in dynamic.get("vns", ())
                for e in vn.get("entries", ()) if e.get("assigned-pcp") not in (None, "")}
        interface = None
        if vserver is not None:
            interface = self.director.registry.vserver(vserver).interface
        vns = []
        for vn_name in vm.vns:
            nics = tuple(VNIC(n.mac, n.ip_addresses, requested_pcp=pcps.get(n.mac))
                         for n in vm.vnics if n.vn == vn_name)
            vns.append(VNAttachment(vn_name, vnics=nics))
        return AssociationParams(_ref(vm), vm.tenant, vns=tuple(vns),
                                 vcenter_id=vm.vcenter_id, vserver_id=vserver,
                                 interface=interface)

    @staticmethod
    def _expect(reply: Reply, what: str) -> None:
        if not reply.ok:
            reason = getattr(reply.reason, "value", reply.reason)
            raise _Refused(f"{what}: FAIL {reason}: {reply.error_message or ''}".rstrip(": "))

    @staticmethod
    def _try(action: Callable[[], Reply], what: str) -> list[str]:
        try:
            reply = action()
        except (Nvo3Error, OSError) as error:
            return [f"{what} failed: {error}"]
        return [] if reply.ok else [f"{what}: FAIL {reply.error_message or reply.reason}"]


class _Refused(Exception):
    """An NVE answered FAIL to a signalling request."""


def _ref(vm: VMRecord) -> VMRef:
    return VMRef(vm.vm_id, _Format(vm.vm_id_format))
