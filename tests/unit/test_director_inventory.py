"""The nDirector's SQLite inventory."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nvo3_netconf.director.inventory import Inventory, InventoryError, NVERecord
from nvo3_netconf.tes.connection import HostKeyPolicy


def record(name: str = "nve1", **kwargs: object) -> NVERecord:
    values: dict[str, object] = {"address": "192.0.2.1", "port": 830, "username": "admin",
                                 "password_file": Path("/etc/ndirector/pw"),
                                 "data_centre": "dc1", "underlay_address": "10.0.0.1",
                                 **kwargs}
    return NVERecord(name, **values)  # type: ignore[arg-type]


def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "inventory.sqlite"
    with Inventory(path) as inventory:
        inventory.add(record("nve2"))
        inventory.add(record("nve1", key_file="/k", password_file=None,
                             hostkey_policy="accept-any"))
    with Inventory(path) as inventory:
        assert [r.name for r in inventory.list()] == ["nve1", "nve2"]
        assert inventory.get("nve2") == record("nve2")
        first = inventory.get("nve1")
        assert first.key_file == Path("/k") and first.password_file is None
        assert first.hostkey_policy is HostKeyPolicy.ACCEPT_ANY


def test_store_is_wal_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "inventory.sqlite"
    with Inventory(path) as inventory:
        inventory.add(record())
        # another connection (another process) sees the acknowledged change at once
        other = sqlite3.connect(path)
        assert other.execute("SELECT name FROM nve").fetchall() == [("nve1",)]
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        other.close()
        assert inventory.db.query("PRAGMA synchronous") == [(2,)]  # FULL


def test_duplicates_and_unknown_names_are_refused(tmp_path: Path) -> None:
    with Inventory(tmp_path / "i.sqlite") as inventory:
        inventory.add(record())
        with pytest.raises(InventoryError, match="exists"):
            inventory.add(record(address="192.0.2.9"))
        assert inventory.get("nve1").address == "192.0.2.1"  # the failed add left nothing
        with pytest.raises(InventoryError, match="no NVE"):
            inventory.remove("nve9")
        with pytest.raises(InventoryError, match="no NVE"):
            inventory.get("nve9")
        with pytest.raises(InventoryError, match="no NVE"):
            inventory.update(record("nve9"))
        inventory.update(record(port=1830))
        assert inventory.get("nve1").port == 1830
        inventory.remove("nve1")
        assert inventory.list() == []


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(InventoryError, match="newer"):
        Inventory(path)


def test_bad_records_are_refused() -> None:
    with pytest.raises(ValueError):
        record(port=0)
    with pytest.raises(ValueError):
        record(name="")


def test_connection_params_read_the_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\nignored\n")
    params = record(password_file=secret).connection_params(timeout=5)
    assert params.password == "s3cret" and params.port == 830 and params.timeout == 5
    with pytest.raises(InventoryError, match="password file"):
        record(password_file=tmp_path / "missing").connection_params()
