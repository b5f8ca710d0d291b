"""The migration journal: every VM migration and how far it got, in the store.

Written by the coordinator (:mod:`.migration`) at each phase change (one SQLite
transaction each), read by the controller (VMs being migrated are staged at their
destination, and the coordinator, not the NVEs' notifications, moves them) and by
``ndirector vm migrations``.

Public names: :class:`Migration`, :class:`MigrationLog`, :class:`Phase`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from nvo3_netconf.director.db import Database

__all__ = ["Migration", "MigrationLog", "Phase"]

_SCHEMA: Final = ("""CREATE TABLE IF NOT EXISTS migration (
        id TEXT PRIMARY KEY, batch TEXT NOT NULL, vm_id TEXT NOT NULL,
        source TEXT NOT NULL, source_vserver TEXT, destination TEXT NOT NULL,
        destination_vserver TEXT, phase TEXT NOT NULL, result TEXT, reason TEXT,
        dynamic TEXT, started REAL NOT NULL, updated REAL NOT NULL)""",
                  "CREATE INDEX IF NOT EXISTS migration_vm ON migration(vm_id)")


class Phase(StrEnum):
    """How far a migration got."""

    STARTED = "started"
    PREPARED = "prepared"
    RESERVED = "reserved"
    EMIGRATED = "emigrated"
    IMMIGRATED = "immigrated"
    SWITCHED = "switched"
    DONE = "done"
    """Released at the source: SUCCESS."""
    ROLLED_BACK = "rolled-back"
    """FAIL: the VM is where it was."""

    @property
    def final(self) -> bool:
        """Nothing is left to do."""
        return self in (Phase.DONE, Phase.ROLLED_BACK)


@dataclass
class Migration:
    """One VM's migration, as recorded.

    Attributes:
        id: the migration id (also sent to the NVEs as ``migration-id``).
        batch: the batch it was started in.
        vm_id: the VM.
        source: the NVE it leaves; ``source_vserver`` its vServer there.
        destination: the NVE it goes to; ``destination_vserver`` its vServer there.
        phase: how far it got.
        result: ``success`` or ``fail`` once final.
        reason: why it failed, or notes (release pending...).
        dynamic: the dynamic state read from the source NVE.
    """

    id: str
    batch: str
    vm_id: str
    source: str
    source_vserver: str | None
    destination: str
    destination_vserver: str | None
    phase: Phase = Phase.STARTED
    result: str | None = None
    reason: str | None = None
    dynamic: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    updated: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": self.id, "batch": self.batch, "vm": self.vm_id, "source": self.source,
                "source-vserver": self.source_vserver, "destination": self.destination,
                "destination-vserver": self.destination_vserver, "phase": self.phase.value,
                "result": self.result, "reason": self.reason, "dynamic": self.dynamic,
                "started": self.started, "updated": self.updated}


class MigrationLog:
    """Migrations in the store: every phase change is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure("migration", _SCHEMA)

    def save(self, m: Migration) -> None:
        """Record ``m`` as it is now."""
        m.updated = time.time()
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO migration VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (m.id, m.batch, m.vm_id, m.source, m.source_vserver, m.destination,
                        m.destination_vserver, m.phase.value, m.result, m.reason,
                        json.dumps(m.dynamic), m.started, m.updated))

    def all(self) -> list[Migration]:
        """Every migration, newest first."""
        rows = self.db.query("SELECT id, batch, vm_id, source, source_vserver, destination, "
                             "destination_vserver, phase, result, reason, dynamic, started, "
                             "updated FROM migration ORDER BY started DESC, vm_id")
        return [Migration(r[0], r[1], r[2], r[3], r[4], r[5], r[6], Phase(r[7]), r[8], r[9],
                          json.loads(r[10] or "{}"), r[11], r[12]) for r in rows]

    def active(self) -> list[Migration]:
        """The migrations not finished."""
        return [m for m in self.all() if not m.phase.final]

    def staged(self) -> dict[str, tuple[str, str | None]]:
        """VM -> (NVE, vServer) where a migration keeps a copy of the VM's configuration.

        Before the switch, the destination (staged there); after it and until the
        source released the VM, the source (so that it may still be signalled there).
        """
        copies: dict[str, tuple[str, str | None]] = {}
        for m in self.active():
            if m.phase is Phase.SWITCHED:
                copies[m.vm_id] = (m.source, m.source_vserver)
            else:
                copies[m.vm_id] = (m.destination, m.destination_vserver)
        return copies
