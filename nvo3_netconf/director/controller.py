"""The nDirector's Python API: :class:`Director`.

A :class:`Director` owns the store (inventory, registry, what each NVE holds) and the
session pool. Changing the intent (the registry) changes nothing on the network until
:meth:`Director.apply`, which renders every NVE's configuration (:mod:`.render`), diffs it
with what each NVE holds (:mod:`.plan`) and pushes the differences to the NVEs that need
them as one network-wide transaction (:mod:`.transaction`). :meth:`Director.handle`
folds an NVE notification into the registry (a VM associated, terminated, aged out);
:mod:`.reactor` does that continuously.

The CLI (:mod:`nvo3_netconf.cli.director`) is a thin layer over this class.

Public names: :class:`Director`, :class:`ApplyOutcome`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from nvo3_netconf.constants import Datastore
from nvo3_netconf.director.adopt import adopt
from nvo3_netconf.director.db import Database, StoreError
from nvo3_netconf.director.drift import Difference, compare, extras
from nvo3_netconf.director.inventory import Inventory
from nvo3_netconf.director.journal import MigrationLog
from nvo3_netconf.director.plan import AppliedItems, NVEPlan, diff
from nvo3_netconf.director.pool import SessionPool
from nvo3_netconf.director.registry import VNIC, Registry
from nvo3_netconf.director.render import Item, render
from nvo3_netconf.director.transaction import (
    DEFAULT_CONFIRM_TIMEOUT,
    NetworkTransaction,
    NetworkTransactionError,
    Result,
    Step,
)
from nvo3_netconf.tes.events import Event, VMAgedOut, VMStateChanged

__all__ = ["ApplyOutcome", "Director"]

logger = logging.getLogger(__name__)

_CLOCK_SLACK: Final = 1.0
"""Seconds of clock difference tolerated between the director and its NVEs."""


@dataclass
class ApplyOutcome:
    """What :meth:`Director.apply` did.

    Attributes:
        plans: the NVEs that had something to change, with their item changes.
        results: each of those NVEs' transaction result.
        dry_run: nothing was changed.
        notes: what ``repair(from_device=True)`` adopted and left.
    """

    plans: list[NVEPlan] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every NVE that had a change holds it (or validated it, in a dry run)."""
        return all(r.ok for r in self.results)

    @property
    def none_reachable(self) -> bool:
        """Every NVE failed to connect."""
        return bool(self.results) and all(r.unreachable for r in self.results)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        results = {r.nve: r.to_json() for r in self.results}
        return {"dry-run": self.dry_run, "ok": self.ok, "notes": list(self.notes),
                "nves": [{**p.to_json(), "result": results.get(p.nve)} for p in self.plans]}


class Director:
    """The controller.

    Args:
        store: the SQLite store's path, or an open :class:`Database`.
        timeout: seconds to connect to an NVE and to wait for each reply.
        workers: NVEs handled at once.
        confirm_timeout: the confirmed commit's timeout of each transaction.
        attempts: connection attempts per use of an NVE's session.
        progress: called with each NVE's result after each transaction step.
    """

    def __init__(
        self,
        store: Path | str | Database,
        *,
        timeout: float = 30.0,
        workers: int = 16,
        confirm_timeout: int = DEFAULT_CONFIRM_TIMEOUT,
        attempts: int = 3,
        progress: Callable[[Step, Result], None] | None = None,
    ) -> None:
        self._owned = not isinstance(store, Database)
        self.db = store if isinstance(store, Database) else Database(store)
        self.inventory = Inventory(self.db)
        self.registry = Registry(self.db)
        self.applied = AppliedItems(self.db)
        self.migrations = MigrationLog(self.db)
        self.pool = SessionPool(self.inventory, timeout=timeout, attempts=attempts,
                                workers=workers)
        self.workers = workers
        self.confirm_timeout = confirm_timeout
        self.progress = progress
        self._apply_lock = threading.RLock()

    # -- intent -> network -------------------------------------------------------------

    def render(self) -> dict[str, dict[str, Item]]:
        """Every NVE's wanted items, from the store."""
        registry = self.registry
        return render(self.inventory.list(), tenants=registry.tenants(), vns=registry.vns(),
                      policies=registry.policies(), groups=registry.groups(),
                      vservers=registry.vservers(), vms=registry.vms(),
                      staged=self.migrations.staged())

    def plan(self, nves: Iterable[str] | None = None) -> list[NVEPlan]:
        """The changes each NVE (of ``nves``; default all) needs, for those that need some."""
        wanted = self.render()
        selected = sorted(wanted) if nves is None else sorted(set(nves))
        for name in selected:
            if name not in wanted:
                self.inventory.get(name)  # raises for an unknown NVE
        plans = [diff(name, self.applied.held(name), wanted.get(name, {}))
                 for name in selected]
        return [p for p in plans if p]

    def apply(self, nves: Iterable[str] | None = None, *, dry_run: bool = False,
              full: bool = False) -> ApplyOutcome:
        """Push what changed to the NVEs that need it, as one network-wide transaction.

        Args:
            nves: only these NVEs (default: all).
            dry_run: validate on the NVEs and report each one's diff; change nothing.
            full: resend every item, as if the NVEs held nothing (after a restart).

        Returns:
            The plans and per-NVE results; NVEs that succeeded remember their new items
            even when others failed after the commit point.
        """
        with self._apply_lock:
            if full:
                wanted = self.render()
                names = sorted(wanted) if nves is None else sorted(set(nves))
                plans = [diff(n, {}, wanted.get(n, {})) for n in names]
                plans = [p for p in plans if p]
            else:
                plans = self.plan(nves)
            return self._run(plans, dry_run=dry_run)

    def _run(self, plans: list[NVEPlan], *, dry_run: bool) -> ApplyOutcome:
        """Push ``plans`` as one transaction; remember what reached each NVE."""
        with self._apply_lock:
            outcome = ApplyOutcome(plans=plans, dry_run=dry_run)
            if not plans:
                return outcome
            transaction = NetworkTransaction(
                self.pool.clients(p.nve for p in plans),
                {p.nve: p.config() for p in plans}, undo={p.nve: p.undo() for p in plans},
                confirm_timeout=self.confirm_timeout, max_workers=self.workers,
                progress=self.progress)
            try:
                outcome.results = transaction.run(dry_run=dry_run)
            except NetworkTransactionError as error:
                outcome.results = error.results
            if not dry_run:
                done = {r.nve for r in outcome.results if r.ok}
                for plan in plans:
                    if plan.nve in done:
                        self.applied.record(plan)
            logger.info("applied %d item changes to %d NVEs: %s", sum(p.count for p in plans),
                        len(plans), "ok" if outcome.ok else "some failed")
            return outcome

    def check(self, nve: str) -> list[Difference]:
        """What ``nve``'s running configuration lacks, holds differently, or holds besides.

        Compares what the director intends for it (rendered now) with its running
        configuration, read over its session: ``missing``, ``changed`` and ``added``
        (an entry of a list the director manages that it did not give).
        """
        wanted = self.render().get(nve)
        if wanted is None:
            self.inventory.get(nve)
            return []
        running = self.pool.client(nve).connect().get_config(Datastore.RUNNING)
        return compare(running, wanted.values()) + extras(running, wanted.values())

    def sync_check(self, nves: Iterable[str] | None = None) -> dict[str, list[Difference]
                                                                     | Exception]:
        """:meth:`check` on each NVE (default all), concurrently."""
        names = sorted(set(nves)) if nves is not None else [
            r.name for r in self.inventory.list()]
        return self.pool.map(lambda client: self.check(client.name), names)

    def repair(self, nves: Iterable[str] | None = None, *, from_device: bool = False,
               dry_run: bool = False) -> ApplyOutcome:
        """Make NVEs match the director again, as one network-wide transaction.

        Missing and changed items are put back and added entries removed. With
        ``from_device`` nothing is sent: the NVEs' view is taken as the truth for what
        they hold (the director remembers it, and stops reporting those differences;
        the registry is not changed, so a later change of the intent still applies).
        """
        with self._apply_lock:
            checked = self.sync_check(nves)
        failed = [f"{n}: {e}" for n, e in checked.items() if isinstance(e, Exception)]
        if failed:
            raise StoreError("cannot read every NVE: " + "; ".join(failed))
        wanted = self.render()
        plans = []
        for nve, differences in sorted(checked.items()):
            assert not isinstance(differences, Exception)
            if not differences:
                continue
            plan = NVEPlan(nve)
            items = wanted.get(nve, {})
            for d in differences:
                if d.kind == "missing":
                    plan.added.append(items[d.key])
                elif d.kind == "changed" and d.found is not None:
                    plan.changed.append((d.found, items[d.key]))
                elif d.kind == "added" and d.found is not None:
                    plan.removed.append(d.found)
            plans.append(plan)
        if from_device:
            adopted: list[str] = []
            for nve, differences in sorted(checked.items()):
                assert not isinstance(differences, Exception)
                taken, left = adopt(self.registry, differences)
                adopted += [f"{nve}: adopted {key}" for key in taken]
                adopted += [f"{nve}: kept {reason}" for reason in left]
            return ApplyOutcome(plans=plans, dry_run=True, notes=adopted)
        return self._run(plans, dry_run=dry_run)

    # -- NVE notifications -> registry -------------------------------------------------

    def handle(self, nve: str, event: Event) -> bool:
        """Fold an NVE's notification into the registry; True when the registry changed.

        ``vm-state-changed`` places the VM behind ``nve`` in its new state (a VM the
        registry does not know is added as discovered); a VM terminated there, or
        ``vm-aged-out``, is no longer active there. Other notifications change nothing,
        and neither do those about a VM the coordinator is migrating (it moves it).
        """
        vm = getattr(event, "vm", None)
        if vm is not None and self._during_migration(vm.vm_id, event):
            logger.info("%s: %s about VM %s, signalled during its migration: left to the "
                        "coordinator", nve, event.name, vm.vm_id)
            return False
        if isinstance(event, VMStateChanged):
            state = event.new_state.value if event.new_state is not None else "terminated"
            return self._record(nve, event.vm.vm_id, state, event.tenant, event.vns,
                                event.tes_identity)
        if isinstance(event, VMAgedOut):
            return self._record(nve, event.vm.vm_id, "aged-out", event.tenant, event.vns,
                                event.tes_identity)
        return False

    def _during_migration(self, vm_id: str, event: Event) -> bool:
        """The VM is being migrated, or the event happened while it was (a late one)."""
        when = event.event_time.timestamp()
        for m in self.migrations.all():
            if m.vm_id != vm_id:
                continue
            if not m.phase.final or m.started - _CLOCK_SLACK <= when <= (
                    m.updated + _CLOCK_SLACK):
                return True
        return False

    def _record(self, nve: str, vm_id: str, state: str, tenant: str | None,
                vns: Sequence[Any], tes: str | None) -> bool:
        vnics = [VNIC(str(nic.mac), str(vn.vn_name), tuple(nic.ip_addresses),
                      int(nic.vid) if nic.vid is not None else None)
                 for vn in vns for nic in vn.vnics if nic.mac is not None]
        vserver = next((v.vserver_id for v in self.registry.vservers()
                        if v.nve == nve and v.tes_name == tes), None)
        try:
            before = self.registry.vm(vm_id)
        except StoreError:
            before = None
        try:
            after = self.registry.record_state(nve, vm_id, state, tenant=tenant,
                                               vnics=vnics, vserver=vserver)
        except StoreError as error:
            logger.warning("%s reported VM %s (%s): %s", nve, vm_id, state, error)
            return False
        changed = before is None or (before.nve, before.state, before.vnics) != (
            after.nve, after.state, after.vnics)
        logger.info("%s: VM %s is %s%s", nve, vm_id, state, "" if changed else " (no change)")
        return changed

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the sessions and the store."""
        self.pool.close()
        if self._owned:
            self.db.close()

    def __enter__(self) -> Director:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
