"""The nDirector's embedded store: one SQLite database at a path from configuration.

Every change is one SQLite transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``). The database
runs in WAL mode with ``synchronous=FULL``, so a change is on disk (the WAL fsynced)
before the call returns: a crash after a method returned loses nothing acknowledged.

The tables belong to the modules that use them (:mod:`.inventory`, :mod:`.registry`,
:mod:`.applied`); each passes its DDL to :meth:`Database.ensure`. The schema only grows
(new tables, new nullable columns), so an older store opens with a newer program.

Public names: :class:`Database`, :class:`StoreError`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from nvo3_netconf.errors import Nvo3Error

__all__ = ["Database", "StoreError"]

SCHEMA_VERSION: Final = 2


class StoreError(Nvo3Error):
    """A store change was refused (duplicate or unknown name, bad reference, bad store)."""


class Database:
    """One SQLite connection shared by the store's parts; thread-safe.

    Args:
        path: the SQLite file (created with its directory if missing).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=10000")
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the store {self.path}: {error}") from None
        self._lock = threading.RLock()
        self._ensured: set[str] = set()
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"the store {self.path} has schema version {version}, "
                                 f"newer than this program's {SCHEMA_VERSION}")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def ensure(self, name: str, statements: Sequence[str],
               columns: Sequence[tuple[str, str, str]] = ()) -> None:
        """Create a part's tables (once per connection) and add missing columns.

        Args:
            name: the part's name (runs its DDL once).
            statements: ``CREATE TABLE IF NOT EXISTS`` / ``CREATE INDEX IF NOT EXISTS``.
            columns: (table, column, declaration) that older stores may lack.
        """
        if name in self._ensured:
            return
        with self.transaction() as db:
            for statement in statements:
                db.execute(statement)
            for table, column, declaration in columns:
                present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        self._ensured.add(name)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested use joins the outer one."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        with self._lock:
            return list(self._db.execute(sql, parameters).fetchall())

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
