"""The edits of one candidate commit are logged under one checksum: all or none survive."""

from __future__ import annotations

from nvo3_netconf.constants import Datastore
from tests.unit.test_edit import config
from tests.unit.test_store import (  # noqa: F401
    content,
    entry,
    item,
    manager,
    parts,
    records_of,
)


def test_a_commit_cut_anywhere_replays_entirely_or_not_at_all(parts, tmp_path) -> None:  # noqa: F811
    m = manager(parts, tmp_path)
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    before = content(m)
    wal = tmp_path / "running.wal"
    good = records_of(wal)
    for n in range(3):  # three candidate edits, one commit
        m.edit(Datastore.CANDIDATE, config(entry(n, "x" * 3000)), session_id=1)
    m.commit(session_id=1)
    after = content(m)
    logged = records_of(wal)
    assert logged.startswith(good) and len(logged) > len(good) + 9000
    # A fatal signal can end the append's write between any two pages: try every cut,
    # in the space the log reserved (zeros after the cut) and past the file's end.
    for cut in range(len(good), len(logged), 509):
        for rest in (b"\0" * (len(logged) - cut + 100), b""):
            wal.write_bytes(logged[:cut] + rest)
            assert content(manager(parts, tmp_path)) == before, cut
    wal.write_bytes(logged)
    assert content(manager(parts, tmp_path)) == after
