"""The NVE inventory: which NVEs the nDirector manages and how it reaches them.

A part of the nDirector's SQLite store (:class:`~nvo3_netconf.director.db.Database`):
every change is one transaction, on disk before the call returns.

Secrets are not copied into the database: an NVE record names the *file* holding the
password (first line) or the SSH private key, as the operator gave it.

Public names: :class:`Inventory`, :class:`NVERecord`, :class:`InventoryError`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from nvo3_netconf.director.db import Database, StoreError
from nvo3_netconf.tes.connection import DEFAULT_PORT, ConnectionParams, HostKeyPolicy

__all__ = ["Inventory", "InventoryError", "NVERecord"]

_SCHEMA: Final = ("""
CREATE TABLE IF NOT EXISTS nve (
    name             TEXT PRIMARY KEY,
    address          TEXT NOT NULL,
    port             INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    username         TEXT NOT NULL,
    password_file    TEXT,
    key_file         TEXT,
    data_centre      TEXT,
    underlay_address TEXT,
    hostkey_policy   TEXT NOT NULL DEFAULT 'known-hosts',
    host_key         TEXT
)
""",)


class InventoryError(StoreError):
    """An inventory change was refused (duplicate or unknown name, bad store)."""


@dataclass(frozen=True)
class NVERecord:
    """One NVE the director manages.

    Attributes:
        name: its unique inventory name.
        address: its NETCONF address (name or IP).
        port: its NETCONF port.
        username: the SSH user the director logs in as.
        password_file: a file whose first line is the password (or the key passphrase).
        key_file: an SSH private key file.
        data_centre: the data centre it is in.
        underlay_address: its underlay (tunnel) address.
        hostkey_policy: how its SSH host key is checked.
        host_key: the pinned host key (``pinned`` policy).
    """

    name: str
    address: str
    port: int = DEFAULT_PORT
    username: str = "admin"
    password_file: Path | None = None
    key_file: Path | None = None
    data_centre: str | None = None
    underlay_address: str | None = None
    hostkey_policy: HostKeyPolicy = HostKeyPolicy.KNOWN_HOSTS
    host_key: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an NVE needs a name")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is outside 1..65535")
        object.__setattr__(self, "hostkey_policy", HostKeyPolicy(self.hostkey_policy))
        for attr in ("password_file", "key_file"):
            value = getattr(self, attr)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, attr, Path(value))

    def connection_params(self, *, timeout: float = 30.0) -> ConnectionParams:
        """The parameters to connect with (reads the password file now).

        Raises:
            InventoryError: the password file cannot be read.
        """
        password = None
        if self.password_file is not None:
            try:
                lines = self.password_file.read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise InventoryError(f"{self.name}: cannot read the password file "
                                     f"{self.password_file}: {error.strerror}") from None
            password = lines[0] if lines else ""
        return ConnectionParams(
            host=self.address, port=self.port, username=self.username, password=password,
            key_file=self.key_file, hostkey_policy=self.hostkey_policy,
            host_key=self.host_key, timeout=timeout,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (paths as strings)."""
        data = asdict(self)
        for key in ("password_file", "key_file"):
            data[key] = str(data[key]) if data[key] is not None else None
        data["hostkey_policy"] = self.hostkey_policy.value
        return data


_COLUMNS: Final = ("name", "address", "port", "username", "password_file", "key_file",
                   "data_centre", "underlay_address", "hostkey_policy", "host_key")


def _row_to_record(row: tuple[Any, ...]) -> NVERecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    return NVERecord(**values)


class Inventory:
    """The NVE table. Thread-safe; use as a context manager or :meth:`close` it.

    Args:
        store: the SQLite file, or an open :class:`Database` shared with other parts
            (then :meth:`close` leaves it open).
    """

    def __init__(self, store: Path | str | Database) -> None:
        self._owned = not isinstance(store, Database)
        try:
            self.db = store if isinstance(store, Database) else Database(store)
            self.db.ensure("inventory", _SCHEMA)
        except StoreError as error:
            raise InventoryError(str(error)) from None
        self.path = self.db.path

    def add(self, record: NVERecord) -> None:
        """Add an NVE.

        Raises:
            InventoryError: an NVE of that name exists.
        """
        values = record.to_json()
        try:
            with self.db.transaction() as db:
                db.execute(f"INSERT INTO nve ({', '.join(_COLUMNS)}) VALUES "
                           f"({', '.join('?' * len(_COLUMNS))})",
                           [values[c] for c in _COLUMNS])
        except sqlite3.IntegrityError:
            raise InventoryError(f"an NVE named {record.name!r} exists") from None

    def update(self, record: NVERecord) -> None:
        """Replace the NVE of ``record.name``.

        Raises:
            InventoryError: there is none.
        """
        values = record.to_json()
        with self.db.transaction() as db:
            cursor = db.execute(
                f"UPDATE nve SET {', '.join(f'{c} = ?' for c in _COLUMNS[1:])} WHERE name = ?",
                [values[c] for c in _COLUMNS[1:]] + [record.name])
            if cursor.rowcount == 0:
                raise InventoryError(f"no NVE named {record.name!r}")

    def remove(self, name: str) -> None:
        """Remove an NVE.

        Raises:
            InventoryError: there is none of that name.
        """
        with self.db.transaction() as db:
            if db.execute("DELETE FROM nve WHERE name = ?", (name,)).rowcount == 0:
                raise InventoryError(f"no NVE named {name!r}")

    def get(self, name: str) -> NVERecord:
        """The NVE of that name.

        Raises:
            InventoryError: there is none.
        """
        rows = self.db.query(f"SELECT {', '.join(_COLUMNS)} FROM nve WHERE name = ?", (name,))
        row = rows[0] if rows else None
        if row is None:
            raise InventoryError(f"no NVE named {name!r}")
        return _row_to_record(row)

    def list(self) -> list[NVERecord]:
        """Every NVE, by name."""
        rows = self.db.query(f"SELECT {', '.join(_COLUMNS)} FROM nve ORDER BY name")
        return [_row_to_record(row) for row in rows]

    def close(self) -> None:
        """Close the database if this inventory opened it (idempotent)."""
        if self._owned:
            self.db.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
