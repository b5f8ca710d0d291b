"""Datastore persistence: write-ahead log, snapshots, crash leftovers, exact rollback."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from nvo3_netconf.constants import Datastore, DefaultOperation, ErrorOption, TestOption
from nvo3_netconf.datastore.persist import DatastoreFiles
from nvo3_netconf.datastore.store import DatastoreManager, serialize_tree
from nvo3_netconf.datastore.wal import RESERVE, EditRecord, WriteAheadLog
from nvo3_netconf.errors import RPCError
from nvo3_netconf.schema import SchemaTree, Validator, YangContext
from tests.unit.test_edit import config

NS = "urn:nvo3-netconf:yang:nvo3-test"


def entry(n: int, value: str = "v", op: str = "") -> str:
    attr = f" nc:operation='{op}'" if op else ""
    return f"<bulk xmlns='{NS}'><entry{attr}><id>{n}</id><value>{value}</value></entry></bulk>"


def item(name: str, number: int, op: str = "") -> str:
    attr = f" nc:operation='{op}'" if op else ""
    return f"<top xmlns='{NS}'><item{attr}><name>{name}</name><number>{number}</number><small/></item></top>"


@pytest.fixture(scope="module")
def parts(test_context: YangContext) -> tuple[Validator, SchemaTree]:
    return Validator(test_context), SchemaTree(test_context)


def manager(parts, path: Path, **kwargs) -> DatastoreManager:
    validator, schema = parts
    return DatastoreManager(validator=validator, schema=schema, files=DatastoreFiles(path),
                            **kwargs)


def content(m: DatastoreManager, ds: Datastore = Datastore.RUNNING) -> bytes:
    with m.reading(ds) as tree:
        return serialize_tree(tree)


def test_edits_survive_restart_through_the_log(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    for n in range(20):
        m.edit(Datastore.RUNNING, config(entry(n)), session_id=1)
    m.edit(Datastore.RUNNING, config(entry(3, op="delete")), session_id=1)
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    before = content(m)
    assert (tmp_path / "running.wal").stat().st_size > 0
    assert content(manager(parts, tmp_path)) == before


def test_failed_edit_changes_nothing_in_memory_or_on_disk(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    before, log = content(m), (tmp_path / "running.wal").read_bytes()
    with pytest.raises(RPCError):  # unique number clash, found by validation after the edit
        m.edit(Datastore.RUNNING, config(item("b", 1)), session_id=1)
    with pytest.raises(RPCError):
        m.edit(Datastore.RUNNING, config(item("a", 1, "create")), session_id=1,
               error_option=ErrorOption.ROLLBACK_ON_ERROR)
    assert content(m) == before
    assert (tmp_path / "running.wal").read_bytes() == log
    m.edit(Datastore.RUNNING, config(item("b", 2)), session_id=1)  # indexes still right
    assert b"<name>b</name>" in content(m)


def records_of(wal: Path) -> bytes:
    """The log's records, without the zeroed space it reserves past them."""
    return wal.read_bytes().rstrip(b"\0")  # every record ends with a newline


@pytest.mark.parametrize("reserved", [True, False])
def test_torn_last_record_is_ignored_and_cut(parts, tmp_path, reserved: bool) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    expected = content(m)
    wal = tmp_path / "running.wal"
    good = records_of(wal)
    torn = EditRecord(99, config(entry(2)), DefaultOperation.MERGE,
                      ErrorOption.STOP_ON_ERROR).encode()
    # The crash came during the append: in the reserved space, or past the file's end.
    tail = b"\0" * 4096 if reserved else b""
    wal.write_bytes(good + torn[: len(torn) // 2] + tail)
    assert content(manager(parts, tmp_path)) == expected
    assert wal.read_bytes() == good


def test_the_log_writes_in_reserved_space_and_ends_at_the_first_zero(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    wal = tmp_path / "running.wal"
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    assert wal.stat().st_size == len(records_of(wal)) + RESERVE
    for n in range(300):  # more than the reserve: it is extended as needed
        m.edit(Datastore.RUNNING, config(entry(n, "x" * 200)), session_id=1)
    records = records_of(wal)
    assert RESERVE < len(records) <= wal.stat().st_size <= len(records) + 2 * RESERVE
    assert WriteAheadLog(wal).size == len(records)
    assert content(manager(parts, tmp_path)) == content(m)


def test_snapshot_then_crash_before_log_reset_applies_nothing_twice(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    saved_log = (tmp_path / "running.wal").read_bytes()
    m.edit(Datastore.RUNNING, config(item("b", 2)), session_id=1)
    expected = content(m)
    # Force a snapshot (as compaction does) and restore the old log beside it, as if the
    # process died between writing running.xml and emptying running.wal.
    m._write_snapshot(m._running.element)  # noqa: SLF001 - white-box crash simulation
    (tmp_path / "running.wal").write_bytes(saved_log)
    assert content(manager(parts, tmp_path)) == expected


def test_candidate_commit_is_logged_and_reloaded(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.CANDIDATE, config(item("a", 1)), session_id=1)
    m.edit(Datastore.CANDIDATE, config(item("b", 2)), session_id=1)
    assert content(m) == b""
    m.commit(session_id=1)
    assert not m.candidate_modified
    assert content(manager(parts, tmp_path)) == content(m)


def test_failed_candidate_edit_leaves_candidate_unmodified(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    with pytest.raises(RPCError):
        m.edit(Datastore.CANDIDATE, config(item("a", 0)), session_id=1)
    assert not m.candidate_modified
    m.lock(Datastore.CANDIDATE, 2)


def test_log_is_compacted_into_a_snapshot(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    wal = WriteAheadLog(tmp_path / "running.wal")
    big = "".join(f"<entry><id>{i}</id><value>{'x' * 40}</value></entry>" for i in range(100))
    for round_ in range(150):
        m.edit(Datastore.RUNNING, config(f"<bulk xmlns='{NS}'>{big}</bulk>"), session_id=1,
               default_operation=DefaultOperation.MERGE)
        m.edit(Datastore.RUNNING, config(entry(1000 + round_)), session_id=1)
    assert wal.size < 1 << 21
    assert content(manager(parts, tmp_path)) == content(m)


class FullDisk(WriteAheadLog):
    """A log whose disk is full: the fault-injection seam for persistence failures."""

    def append(self, records) -> None:
        raise OSError(28, "No space left on device")


def test_full_disk_fails_the_edit_and_changes_nothing(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    before = content(m)
    m._wal = FullDisk(tmp_path / "running.wal")  # noqa: SLF001 - fault injection
    with pytest.raises(RPCError) as info:
        m.edit(Datastore.RUNNING, config(item("b", 2)), session_id=1)
    assert info.value.tag.value == "resource-denied"
    assert "No space left on device" in info.value.message
    assert content(m) == before
    m.edit(Datastore.CANDIDATE, config(item("b", 2)), session_id=1)
    with pytest.raises(RPCError):
        m.commit(session_id=1)
    assert content(m) == before
    assert m.candidate_modified


def test_generation_moves_on_with_every_change_and_only_then(parts, tmp_path) -> None:
    """What caches of datastore content (the get-config reply cache) rely on."""
    m = manager(parts, tmp_path)
    seen = [m.generation]

    def moved() -> bool:
        seen.append(m.generation)
        return seen[-1] != seen[-2]

    content(m)
    m.lock(Datastore.RUNNING, 1)
    m.unlock(Datastore.RUNNING, 1)
    m.validate_datastore(Datastore.RUNNING)
    assert not moved()  # reads, locks and validation change nothing
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    assert moved()
    with pytest.raises(RPCError):  # refused and undone: moving on anyway is harmless
        m.edit(Datastore.RUNNING, config(item("b", 1)), session_id=1)
    assert moved()
    m.edit(Datastore.CANDIDATE, config(item("c", 3)), session_id=1)
    assert moved()
    m.discard_changes(session_id=1)
    assert moved()
    m.edit(Datastore.CANDIDATE, config(item("c", 3)), session_id=1)
    previous = m.commit(session_id=1, keep_previous=True)
    assert moved()
    with m.reading(Datastore.RUNNING) as tree:
        m.replace(Datastore.STARTUP, tree, session_id=1)
    assert moved()
    m.delete(Datastore.STARTUP, session_id=1)
    assert moved()
    assert previous is not None
    m.restore_running(previous, reason="test")
    assert moved()


# ------------------------------------------- candidate lock (RFC 6241 sec. 7.5, 8.3.5.2)
def lock_denied(m: DatastoreManager, session_id: int) -> RPCError:
    """The error of ``session_id``'s refused lock on candidate."""
    with pytest.raises(RPCError) as info:
        m.lock(Datastore.CANDIDATE, session_id)
    assert info.value.tag.value == "lock-denied"
    return info.value


def test_unlocking_candidate_discards_its_changes_as_discard_changes_does(
        parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.RUNNING, config(item("a", 1)), session_id=1)
    running = content(m)
    m.lock(Datastore.CANDIDATE, 1)
    m.edit(Datastore.CANDIDATE, config(item("b", 2)), session_id=1)
    generation = m.generation
    m.unlock(Datastore.CANDIDATE, 1)
    assert m.generation != generation  # what a cached get-config of candidate relies on
    assert not m.candidate_modified
    assert content(m, Datastore.CANDIDATE) == content(m) == running
    m.lock(Datastore.CANDIDATE, 2)  # another session may lock it now
    # The candidate follows running again: an edit diverges it afresh, then commits.
    m.edit(Datastore.CANDIDATE, config(item("c", 3)), session_id=2)
    m.commit(session_id=2)
    assert b"<name>b</name>" not in content(m) and b"<name>c</name>" in content(m)
    m.unlock(Datastore.CANDIDATE, 2)  # nothing left to discard
    assert content(manager(parts, tmp_path)) == content(m)


def test_unlocking_an_unmodified_candidate_or_running_changes_nothing(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    generation = m.generation
    m.lock(Datastore.CANDIDATE, 1)
    m.unlock(Datastore.CANDIDATE, 1)
    assert m.generation == generation
    # Candidate changes made without candidate's lock stay when running's lock goes.
    m.lock(Datastore.RUNNING, 1)
    m.edit(Datastore.CANDIDATE, config(item("b", 2)), session_id=1)
    m.unlock(Datastore.RUNNING, 1)
    assert m.candidate_modified


@pytest.mark.parametrize("copy", [False, True], ids=["edit-config", "copy-config"])
def test_a_session_ending_with_candidates_lock_discards_its_changes(
        parts, tmp_path, copy: bool) -> None:
    m = manager(parts, tmp_path)
    m.lock(Datastore.CANDIDATE, 7)
    m.lock(Datastore.RUNNING, 7)
    if copy:
        m.replace(Datastore.CANDIDATE, config(item("b", 2)), session_id=7)
    else:
        m.edit(Datastore.CANDIDATE, config(item("b", 2)), session_id=7)
    assert lock_denied(m, 8).info == {"session-id": "7"}  # locked by 7
    m.release_session(7)
    assert m.locks() == {}
    assert not m.candidate_modified
    assert content(m, Datastore.CANDIDATE) == b""
    m.lock(Datastore.CANDIDATE, 8)


def test_changes_without_candidates_lock_survive_their_session(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.CANDIDATE, config(item("b", 2)), session_id=3)
    m.release_session(3)
    assert m.candidate_modified
    assert b"<name>b</name>" in content(m, Datastore.CANDIDATE)


def test_lock_denied_on_modified_candidate_names_the_last_open_editor(parts, tmp_path) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.CANDIDATE, config(item("a", 1)), session_id=3)
    m.edit(Datastore.CANDIDATE, config(item("b", 2)), session_id=4)
    m.edit(Datastore.CANDIDATE, config(item("c", 3)), session_id=3)  # 3 is the latest again
    m.edit(Datastore.CANDIDATE, config(item("c", 3)), session_id=5)  # no change: no editor
    m.edit(Datastore.CANDIDATE, config(item("d", 4)), session_id=6,
           test_option=TestOption.TEST_ONLY)  # neither
    with pytest.raises(RPCError):  # nor a refused edit
        m.edit(Datastore.CANDIDATE, config(item("e", 0)), session_id=6)
    error = lock_denied(m, 9)
    assert error.info == {"session-id": "3"}
    assert error.type.value == "protocol"
    assert "holds changes of session 3 that were neither committed nor discarded" \
        in error.message
    assert "this session (3)" in lock_denied(m, 3).message  # its own changes: still refused
    m.release_session(3)
    assert lock_denied(m, 9).info == {"session-id": "4"}
    m.release_session(4)
    error = lock_denied(m, 9)
    assert error.info == {"session-id": "0"}  # RFC 6241 Appendix A: no session holds it
    assert "a session that has ended" in error.message
    m.replace(Datastore.CANDIDATE, config(item("x", 9)), session_id=5)
    assert lock_denied(m, 9).info == {"session-id": "5"}
    m.edit(Datastore.CANDIDATE, config(item("y", 8)), session_id=0)  # the server itself
    assert m.candidate_editor == 5


@pytest.mark.parametrize("reset", ["commit", "discard", "restore"])
def test_a_reset_candidate_forgets_its_editors(parts, tmp_path, reset: str) -> None:
    m = manager(parts, tmp_path)
    m.edit(Datastore.CANDIDATE, config(item("a", 1)), session_id=3)
    assert m.candidate_editor == 3
    if reset == "commit":
        m.commit(session_id=4)
    elif reset == "discard":
        m.discard_changes(session_id=4)
    else:
        with m.reading(Datastore.RUNNING) as tree:
            m.restore_running(copy.deepcopy(tree), reason="test")
    assert m.candidate_editor == 0
    m.edit(Datastore.CANDIDATE, config(item("b", 2)), session_id=5)
    assert lock_denied(m, 9).info == {"session-id": "5"}
