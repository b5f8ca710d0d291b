"""The configuration datastores of one server: running, candidate and startup.

Implements the datastore side of RFC 6241: sec. 7.2 edit-config (test-option,
error-option), 7.3 copy-config, 7.4 delete-config, 7.5/7.6 lock and unlock (with the
candidate rules of sec. 7.5 and 8.3.5.2: a modified candidate cannot be locked, and
releasing the candidate's lock, by <unlock> or by the end of the session, discards its
outstanding changes), 8.3.4 commit and discard-changes, 8.6 validate, 8.7 startup;
confirmed commit builds on it (:mod:`nvo3_netconf.datastore.confirmed`).

Cost follows the change, not the datastore: an edit is applied in place with an undo
journal and persistent list indexes, validated, made durable by appending it to a
write-ahead log, and rolled back exactly if any step fails — so a failed operation
leaves every datastore as it was. The candidate shares running's tree until its first
edit; a commit then swaps the candidate's tree in and logs the candidate's edits. One
mutex guards all datastores; readers use :meth:`DatastoreManager.reading`.

A running change reaches the forwarding plane through a :class:`RunningApplier`
(``set_applier``) *before* it is made durable: the applier carries it out or raises an
``<rpc-error>`` (the change is then refused and the datastores stay as they were), and
is told afterwards whether the change stuck (``commit``) or not (``abort``: it undoes
its part). Listeners, by contrast, only learn of changes that are done.

Public names: :class:`DatastoreManager`, :class:`CommitEvent`, :data:`CommitListener`,
:class:`RunningApplier`, :class:`AppliedChange`.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from lxml import etree

from nvo3_netconf.constants import (
    NS_NC,
    Datastore,
    DefaultOperation,
    ErrorOption,
    ErrorType,
    TestOption,
)
from nvo3_netconf.datastore.changes import PartialEditError, settle_prefixes
from nvo3_netconf.datastore.edit import Change, KeyIndexes, apply_edit, entries_by_key
from nvo3_netconf.datastore.persist import DatastoreFiles, atomic_remove, atomic_write
from nvo3_netconf.datastore.undo import UndoJournal
from nvo3_netconf.datastore.wal import EditRecord, WriteAheadLog
from nvo3_netconf.errors import (
    ConfigError,
    InUseError,
    LockDeniedError,
    OperationFailedError,
    OperationNotSupportedError,
    ResourceDeniedError,
    RPCError,
    RPCErrors,
)
from nvo3_netconf.schema import (
    NodeKind,
    SchemaNode,
    SchemaTree,
    SchemaValidationError,
    Validator,
)
from nvo3_netconf.schema.instances import InstanceCache

logger = logging.getLogger(__name__)

SessionId = int
"""A NETCONF session-id (RFC 6241 sec. 8.1); 0 stands for the server itself."""

DATA_TAG = f"{{{NS_NC}}}data"
_MIN_COMPACTION = 1 << 20


def empty_tree() -> etree._Element:
    """A datastore root with no configuration."""
    return etree.Element(DATA_TAG, nsmap={None: NS_NC})


def serialize_tree(tree: etree._Element) -> bytes:
    """The top-level nodes of a datastore, as libyang reads them."""
    return b"".join(etree.tostring(child) for child in tree)


class ChangeValidator(Protocol):
    """Validates a datastore after an edit at a cost proportional to the edit."""

    def validate_changes(
        self, tree: etree._Element, changes: Sequence[Change], *, cache: InstanceCache | None
    ) -> None:
        """Raise SchemaValidationError when the edited tree is invalid.

        ``cache`` holds indexes of ``tree`` kept across edits; the validator updates it
        with the changes and restores it when it raises.
        """


@dataclass(frozen=True)
class CommitEvent:
    """What a listener learns after a datastore changed.

    Attributes:
        datastore: the datastore that changed.
        changes: the typed change list (empty when not computed, e.g. copy-config).
        session_id: who made the change (0: the server, e.g. a confirmed-commit rollback).
        user: that session's user name, if any.
    """

    datastore: Datastore
    changes: tuple[Change, ...]
    session_id: SessionId
    user: str | None


CommitListener = Callable[[CommitEvent], None]
"""Called after a datastore changed, outside the datastore lock."""

ChangeCheck = Callable[[etree._Element, Sequence[Change]], None]
"""Vets an edit (NACM): the edited tree and its changes; raises RPCError to refuse it."""

TreeCheck = Callable[[etree._Element, etree._Element], None]
"""Vets replacing a datastore's content (NACM): current and new; raises to refuse it."""

Constraint = Callable[[etree._Element], None]
"""A rule of the server that the modules cannot state (e.g. a configured limit on a
count of list entries): checks a datastore's content; raises RPCError to refuse it."""


class AppliedChange(Protocol):
    """A running change an applier carried out, waiting to know whether it stuck."""

    def commit(self) -> None:
        """The change is durable and visible: keep it."""

    def abort(self) -> None:
        """The change failed after the applier's part: undo that part."""


class RunningApplier(Protocol):
    """Carries each new running configuration into something outside the datastore.

    Called under the datastore lock, after validation and before the change is made
    durable; it must not call back into the datastores.
    """

    def prepare(self, running: etree._Element, changes: Sequence[Change] | None) -> AppliedChange:
        """Carry out the change to ``running`` (do not keep the tree).

        Args:
            running: the new running tree.
            changes: what changed from the running in force (None: not known; compare
                everything).

        Raises:
            RPCError: the change cannot be carried out; nothing outside was changed.
        """


class _NothingApplied:
    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


_NOTHING = _NothingApplied()


@dataclass(eq=False)
class _Tree:
    """A datastore's content, the key indexes of its lists and the validator's indexes."""

    element: etree._Element
    indexes: KeyIndexes = field(default_factory=dict)
    cache: InstanceCache = field(default_factory=InstanceCache)

    def forget_indexes(self) -> None:
        """Drop every index (after a rollback of changes they may have seen)."""
        self.indexes.clear()
        self.cache.clear()


class DatastoreManager:
    """Holds the three datastores, their locks, persistence and validation.

    Args:
        validator: validates whole datastores.
        schema: the schema view used by the edit engine.
        files: where running and startup persist; None keeps them in memory only.
        load_startup: on start, running is loaded from startup (True) or from the
            last committed running (False; startup when there is none).
        incremental: validates an edit by what it changed (full validation otherwise).
    """

    def __init__(
        self,
        *,
        validator: Validator,
        schema: SchemaTree,
        files: DatastoreFiles | None = None,
        load_startup: bool = False,
        incremental: ChangeValidator | None = None,
    ) -> None:
        self._validator = validator
        self._schema = schema
        self._files = files
        self._incremental = incremental
        self._mutex = threading.RLock()
        self._locks: dict[Datastore, SessionId] = {}
        self._listeners: list[CommitListener] = []
        self._constraints: list[Constraint] = []
        self._applier: RunningApplier | None = None
        self._generation = 0  # see the generation property
        self._running_version = 0  # counts running's changes
        self._candidate_version = 0  # running's version when candidate diverged (-1: none)
        self._wal = WriteAheadLog(files.directory / "running.wal") if files else None
        self._snapshot_size = 0
        self._seq = 0  # sequence number of the last edit running includes
        self._candidate_log: list[EditRecord] = []
        self._candidate_base = 0  # running's seq when candidate diverged
        self._candidate_changes: list[Change] = []
        self._candidate_checked = True  # every candidate edit was validated
        # Open sessions that changed candidate since it last followed running, the most
        # recent last (an ended session is dropped: a lock-denied names who is left).
        self._candidate_editors: list[SessionId] = []
        self._running, self._startup = self._load(load_startup)
        self._candidate = self._running

    # ----------------------------------------------------------------- reading
    @property
    def generation(self) -> int:
        """A number that changes whenever any datastore's content may have changed.

        Read it under :meth:`reading`: what was read there belongs to that generation.
        """
        return self._generation

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the datastores for a change; the generation moves on, even on failure."""
        with self._mutex:
            try:
                yield
            finally:
                self._generation += 1

    @property
    def schema(self) -> SchemaTree:
        """The schema view of the datastores."""
        return self._schema

    @contextmanager
    def reading(self, datastore: Datastore) -> Iterator[etree._Element]:
        """Hold the datastores still while reading one (do not mutate it)."""
        with self._mutex:
            yield self._tree(datastore).element

    def snapshot(self, datastore: Datastore) -> etree._Element:
        """A private copy of a datastore's content."""
        with self._mutex:
            return copy.deepcopy(self._tree(datastore).element)

    def entry_lookup(
        self, datastore: Datastore
    ) -> Callable[[etree._Element, str, Mapping[str, str]], Sequence[etree._Element] | None]:
        """A key lookup into ``datastore``'s list indexes, for filters (under :meth:`reading`).

        The returned function answers "the entries of list ``tag`` under ``parent``
        whose keys equal these content-match values" in O(1) from the edit engine's
        index; it returns None (scan instead) when the values do not give every key.
        """
        tree = self._tree(datastore)

        def lookup(
            parent: etree._Element, tag: str, matches: Mapping[str, str]
        ) -> Sequence[etree._Element] | None:
            snode = self._child_schema(parent, tag)
            if snode is None or snode.kind is not NodeKind.LIST:
                return None
            values = []
            for name in snode.keys:
                value = matches.get(f"{{{snode.namespace}}}{name}")
                if value is None or ":" in value:
                    return None
                values.append(value.strip(" \t\r\n"))
            entry = entries_by_key(tree.indexes, parent, snode).get(tuple(values))
            # A miss may be a key stored with insignificant whitespace: let the filter
            # scan rather than answer "no entry" from the index.
            return [entry] if entry is not None else None

        return lookup

    def _child_schema(self, parent: etree._Element, tag: str) -> SchemaNode | None:
        chain: list[str] = []
        current: etree._Element | None = parent
        while current is not None and current.tag != DATA_TAG:
            chain.append(cast(str, current.tag))  # ancestors are elements: str tags
            current = current.getparent()
        nodes = self._schema.roots
        for item in reversed(chain):
            node = nodes.get(_split(item))
            if node is None:
                return None
            nodes = node.children
        return nodes.get(_split(tag))

    def add_listener(self, listener: CommitListener) -> None:
        """Be told of every change to a datastore."""
        self._listeners.append(listener)

    def add_constraint(self, constraint: Constraint) -> None:
        """Check ``constraint`` wherever a datastore's content is validated.

        It runs after the schema validation of every edit, copy-config, commit and
        <validate>, so a configuration breaking it is refused and nothing changes.
        """
        with self._mutex:
            self._constraints.append(constraint)

    def set_applier(
        self, applier: RunningApplier | None, start: Callable[[etree._Element], None] | None = None
    ) -> None:
        """Carry every running change through ``applier`` before it is committed.

        Args:
            applier: the applier (None: none).
            start: called first with running, under the lock (e.g. to reconcile).
        """
        with self._writing():
            if start is not None:
                start(self._running.element)
            self._applier = applier

    def _apply_running(
        self, tree: etree._Element, changes: Sequence[Change] | None
    ) -> AppliedChange:
        if self._applier is None:
            return _NOTHING
        return self._applier.prepare(tree, changes)

    @property
    def candidate_modified(self) -> bool:
        """True while candidate holds changes not committed nor discarded."""
        with self._mutex:
            return self._candidate is not self._running

    @property
    def candidate_editor(self) -> SessionId:
        """The open session that last changed candidate since it followed running.

        0 when candidate holds no changes, or none of the sessions that made them is
        still open, or they came from the server itself.
        """
        with self._mutex:
            if self._candidate is self._running or not self._candidate_editors:
                return 0
            return self._candidate_editors[-1]

    def locks(self) -> dict[Datastore, SessionId]:
        """A snapshot of every held lock."""
        with self._mutex:
            return dict(self._locks)

    # ------------------------------------------------------------------ locks
    def lock(self, datastore: Datastore, session_id: SessionId) -> None:
        """Lock a datastore for a session (RFC 6241 sec. 7.5).

        Raises:
            LockDeniedError: it is locked (error-info session-id names the holder),
                or it is candidate and holds uncommitted changes (sec. 8.3.5.2).
        """
        with self._mutex:
            holder = self._locks.get(datastore)
            if holder is not None:
                raise LockDeniedError(
                    f"The {datastore.value} datastore is already locked by session {holder}.",
                    info={"session-id": str(holder)},
                )
            if datastore is Datastore.CANDIDATE and self.candidate_modified:
                editor = self.candidate_editor
                raise LockDeniedError(_modified_candidate(editor, session_id),
                                      info={"session-id": str(editor)})
            self._locks[datastore] = session_id
            logger.info("session %s locked %s", session_id, datastore.value)

    def unlock(self, datastore: Datastore, session_id: SessionId) -> None:
        """Release a lock this session holds (RFC 6241 sec. 7.6).

        Releasing candidate's lock discards candidate's outstanding changes, as
        :meth:`discard_changes` does (RFC 6241 sec. 8.3.5.2); a confirmed commit in
        progress is neither confirmed nor cancelled by it.

        Raises:
            OperationFailedError: the datastore is not locked by this session.
        """
        with self._mutex:
            holder = self._locks.get(datastore)
            if holder != session_id:
                reason = "is not locked" if holder is None else f"is locked by session {holder}"
                raise OperationFailedError(
                    f"Cannot unlock the {datastore.value} datastore: it {reason}.",
                    type_=ErrorType.PROTOCOL,
                )
            self._release(datastore, session_id)

    def close(self) -> None:
        """Close the files kept open (the agent stops); a later commit opens them again."""
        with self._mutex:
            if self._wal is not None:
                self._wal.close()

    def release_session(self, session_id: SessionId) -> None:
        """Drop every lock of a session that ended (RFC 6241 sec. 7.5, 7.9).

        Its lock on candidate is released as by <unlock>: candidate's outstanding
        changes are discarded (sec. 8.3.5.2). Changes it made to candidate without
        holding its lock stay; a later lock-denied no longer names the session.
        """
        with self._mutex:
            for datastore, holder in list(self._locks.items()):
                if holder == session_id:
                    self._release(datastore, session_id)
            if session_id in self._candidate_editors:
                self._candidate_editors.remove(session_id)

    def _release(self, datastore: Datastore, session_id: SessionId) -> None:
        """Drop a held lock; candidate's changes go with candidate's lock (sec. 8.3.5.2)."""
        del self._locks[datastore]
        logger.info("session %s unlocked %s", session_id, datastore.value)
        if datastore is Datastore.CANDIDATE and self._candidate is not self._running:
            with self._writing():
                self._discard_candidate()
            logger.info("candidate changes of session %s discarded with its lock", session_id)

    def _check_writable(self, datastore: Datastore, session_id: SessionId) -> None:
        holder = self._locks.get(datastore)
        if holder is not None and holder != session_id:
            raise InUseError(
                f"The {datastore.value} datastore is locked by session {holder}.",
                type_=ErrorType.PROTOCOL,
                info={"session-id": str(holder)},
            )

    # ----------------------------------------------------------------- writing
    def edit(
        self,
        datastore: Datastore,
        config: etree._Element,
        *,
        session_id: SessionId,
        user: str | None = None,
        default_operation: DefaultOperation = DefaultOperation.MERGE,
        test_option: TestOption = TestOption.TEST_THEN_SET,
        error_option: ErrorOption = ErrorOption.STOP_ON_ERROR,
        authorize: ChangeCheck | None = None,
    ) -> tuple[Change, ...]:
        """edit-config (RFC 6241 sec. 7.2) on running or candidate.

        With ``continue-on-error`` the edits that succeed are kept when the result is
        valid and the errors are raised together afterwards (``RPCErrors``).
        ``authorize`` (NACM) sees the edited tree and the changes before validation and
        refuses the whole edit by raising.

        Returns:
            The changes made (empty for test-only).

        Raises:
            RPCError, RPCErrors: the edit is refused; nothing changed.
        """
        if datastore is Datastore.STARTUP:
            raise OperationNotSupportedError(
                "edit-config cannot target startup; use copy-config.", type_=ErrorType.PROTOCOL
            )
        with self._writing():
            self._check_writable(datastore, session_id)
            diverged = datastore is Datastore.CANDIDATE and self._candidate is self._running
            if diverged:
                self._diverge_candidate()
            tree = self._tree(datastore)
            journal = UndoJournal()
            errors: list[RPCError] = []
            applied: AppliedChange = _NOTHING
            try:
                try:
                    changes = apply_edit(
                        tree.element, config, self._schema,
                        default_operation=default_operation, error_option=error_option,
                        journal=journal, indexes=tree.indexes,
                    )
                except PartialEditError as partial:
                    errors.extend(partial.errors)
                    changes = list(partial.changes)
                if authorize is not None and changes:
                    authorize(tree.element, changes)
                # test-option "set" defers validation to the commit for candidate only:
                # running is always valid at the end of an edit (RFC 7950 sec. 8.3.3), or
                # a restart could not load it.
                if test_option is not TestOption.SET or datastore is Datastore.RUNNING:
                    try:
                        if datastore is Datastore.CANDIDATE and not self._candidate_checked:
                            # An earlier "set" left candidate unchecked: test all of it.
                            self._validate_full(tree.element)
                        else:
                            self._validate_edit(tree, changes)
                    except (RPCError, RPCErrors) as refused:
                        raise _reported_with(errors, refused) from None
                elif changes:
                    tree.cache.clear()  # changes it never saw
                if test_option is TestOption.TEST_ONLY or not changes:
                    self._undo(tree, journal)
                    if diverged:
                        self._candidate = self._running
                    if errors:
                        raise RPCErrors(errors)
                    return ()
                record = EditRecord(0, config, default_operation, error_option)
                if datastore is Datastore.RUNNING:
                    applied = self._apply_running(tree.element, changes)
                    self._log_running(record, changes)
                    self._running_version += 1
                else:
                    self._candidate_log.append(record)
                    self._candidate_changes.extend(changes)
                    self._candidate_checked = test_option is not TestOption.SET
                    self._note_candidate_editor(session_id)
            except BaseException:
                applied.abort()
                self._undo(tree, journal)
                if diverged:
                    self._candidate = self._running
                raise
            applied.commit()
            event = CommitEvent(datastore, tuple(changes), session_id, user)
        self._notify(event)
        if errors:
            raise RPCErrors(errors)
        return event.changes

    def replace(
        self,
        datastore: Datastore,
        tree: etree._Element,
        *,
        session_id: SessionId,
        user: str | None = None,
        authorize: TreeCheck | None = None,
    ) -> None:
        """copy-config into a datastore (RFC 6241 sec. 7.3), validated first.

        ``authorize`` (NACM) sees the current and the new content first.

        Raises:
            RPCError: the content is invalid or the datastore is locked by another session.
        """
        with self._writing():
            self._check_writable(datastore, session_id)
            if authorize is not None:
                authorize(self._tree(datastore).element, tree)
            self._validate_full(tree)
            new = _Tree(copy.deepcopy(tree))
            applied = (self._apply_running(new.element, None) if datastore is Datastore.RUNNING
                       else _NOTHING)
            try:
                self._install(datastore, new)
            except BaseException:
                applied.abort()
                raise
            applied.commit()
            if datastore is Datastore.CANDIDATE:
                self._note_candidate_editor(session_id)
            event = CommitEvent(datastore, (), session_id, user)
        self._notify(event)

    def delete(
        self, datastore: Datastore, *, session_id: SessionId, authorize: TreeCheck | None = None
    ) -> None:
        """delete-config (RFC 6241 sec. 7.4): only startup may be deleted.

        Raises:
            RPCError: the target is running or candidate, or is locked by another session.
        """
        if datastore is not Datastore.STARTUP:
            raise OperationFailedError(
                f"delete-config cannot target {datastore.value}; only startup can be deleted.",
                type_=ErrorType.PROTOCOL,
            )
        with self._writing():
            self._check_writable(datastore, session_id)
            empty = _Tree(empty_tree())
            if authorize is not None:
                authorize(self._tree(datastore).element, empty.element)
            self._install(datastore, empty)
            event = CommitEvent(datastore, (), session_id, None)
        self._notify(event)

    def commit(
        self,
        *,
        session_id: SessionId,
        user: str | None = None,
        keep_previous: bool = False,
        authorize: TreeCheck | None = None,
        before_persist: Callable[[etree._Element], None] | None = None,
    ) -> etree._Element | None:
        """Make candidate the running configuration (RFC 6241 sec. 8.3.4.1).

        Args:
            session_id: the committing session.
            user: its user.
            keep_previous: return running as it was before (a confirmed commit's
                rollback point); it is never mutated afterwards.
            authorize: NACM's check of running's content replaced by candidate's.
            before_persist: called with running as it is before the commit, once the
                candidate is known valid and before anything is written, applied or
                changed (a confirmed commit saves its rollback point there, so that no
                crash can leave the new running durable without it); if it raises, the
                commit is abandoned and nothing changes. It must not keep the element.

        Returns:
            The previous running when ``keep_previous``, else None.

        Raises:
            RPCError: running is locked by another session, or candidate is invalid.
        """
        with self._writing():
            self._check_writable(Datastore.RUNNING, session_id)
            self._check_writable(Datastore.CANDIDATE, session_id)
            previous = self._running
            if self._candidate is self._running:
                if before_persist is not None:
                    before_persist(previous.element)
                return copy.deepcopy(previous.element) if keep_previous else None
            candidate = self._candidate
            if authorize is not None:
                authorize(previous.element, candidate.element)
            if not self._candidate_checked:
                self._validate_full(candidate.element)
            if before_persist is not None:
                before_persist(previous.element)
            exact = self._candidate_version == self._running_version
            applied = self._apply_running(
                candidate.element, tuple(self._candidate_changes) if exact else None)
            try:
                if self._candidate_base == self._seq and self._wal is not None:
                    self._append_records(self._candidate_log)
                    self._running = candidate
                    self._running_version += 1
                    self._maybe_compact()
                else:
                    self._install(Datastore.RUNNING, candidate)
            except BaseException:
                applied.abort()
                raise
            applied.commit()
            self._candidate = self._running
            changes = tuple(self._candidate_changes)
            self._reset_candidate_log()
            event = CommitEvent(Datastore.RUNNING, changes, session_id, user)
        self._notify(event)
        return previous.element if keep_previous else None

    def discard_changes(self, *, session_id: SessionId) -> None:
        """Revert candidate to running (RFC 6241 sec. 8.3.4.2).

        Raises:
            InUseError: another session holds the candidate's lock.
        """
        with self._writing():
            self._check_writable(Datastore.CANDIDATE, session_id)
            self._discard_candidate()

    def restore_running(self, tree: etree._Element, *, reason: str) -> None:
        """Put back a previous running configuration (confirmed-commit rollback).

        The candidate is reset to it as well (RFC 6241 sec. 8.4.1).
        """
        with self._writing():
            restored = _Tree(tree)
            try:
                applied = self._apply_running(restored.element, None)
            except RPCError as error:  # the rollback happens all the same
                logger.error("running restored (%s) but not applied: %s", reason, error)
                applied = _NOTHING
            try:
                self._install(Datastore.RUNNING, restored)
            except BaseException:
                applied.abort()
                raise
            applied.commit()
            self._candidate = self._running
            self._reset_candidate_log()
            event = CommitEvent(Datastore.RUNNING, (), 0, None)
        logger.info("running configuration restored: %s", reason)
        self._notify(event)

    def validate_datastore(self, datastore: Datastore) -> None:
        """Validate a datastore as a whole (RFC 6241 sec. 8.6).

        Raises:
            RPCError: the content is invalid.
        """
        with self._mutex:
            self._validate_full(self._tree(datastore).element)

    def validate_tree(self, tree: etree._Element) -> None:
        """Validate inline content as a whole datastore (RFC 6241 sec. 8.6).

        Raises:
            RPCError: the content is invalid.
        """
        self._validate_full(tree)

    # --------------------------------------------------------------- internals
    def _tree(self, datastore: Datastore) -> _Tree:
        if datastore is Datastore.RUNNING:
            return self._running
        if datastore is Datastore.CANDIDATE:
            return self._candidate
        return self._startup

    def _diverge_candidate(self) -> None:
        self._candidate = _Tree(copy.deepcopy(self._running.element))
        self._candidate_base = self._seq
        self._candidate_version = self._running_version
        self._candidate_checked = True

    def _discard_candidate(self) -> None:
        """Candidate follows running again (caller is in :meth:`_writing`)."""
        self._candidate = self._running
        self._reset_candidate_log()

    def _reset_candidate_log(self) -> None:
        """Forget candidate's edits: it follows running again."""
        self._candidate_log = []
        self._candidate_changes = []
        self._candidate_checked = True
        self._candidate_editors = []

    def _note_candidate_editor(self, session_id: SessionId) -> None:
        if session_id == 0:  # the server itself: no session to name
            return
        if session_id in self._candidate_editors:
            self._candidate_editors.remove(session_id)
        self._candidate_editors.append(session_id)

    def _undo(self, tree: _Tree, journal: UndoJournal) -> None:
        if len(journal):
            journal.rollback()
            tree.forget_indexes()

    def _validate_edit(self, tree: _Tree, changes: Sequence[Change]) -> None:
        if self._incremental is None:
            self._validate_full(tree.element)
            return
        try:
            self._incremental.validate_changes(tree.element, changes, cache=tree.cache)
        except SchemaValidationError as error:
            raise error.to_rpc_error() from None
        self._check_constraints(tree.element)

    def _validate_full(self, tree: etree._Element) -> None:
        try:
            self._validator.validate(serialize_tree(tree))
        except SchemaValidationError as error:
            raise error.to_rpc_error() from None
        self._check_constraints(tree)

    def _check_constraints(self, tree: etree._Element) -> None:
        for constraint in self._constraints:
            constraint(tree)

    def _log_running(self, record: EditRecord, changes: Sequence[Change]) -> None:
        if self._wal is None:
            return
        self._append_records([record])
        self._maybe_compact()

    def _append_records(self, records: Sequence[EditRecord]) -> None:
        """Log edits in one durable append (all or none of them survive a crash)."""
        assert self._wal is not None
        numbered = [
            EditRecord(self._seq + i, r.config, r.default_operation, r.error_option)
            for i, r in enumerate(records, start=1)
        ]
        try:
            self._wal.append(numbered)
        except OSError as error:
            raise _persist_error(Datastore.RUNNING, error) from None
        self._seq += len(numbered)

    def _maybe_compact(self) -> None:
        assert self._wal is not None
        if self._wal.size > max(_MIN_COMPACTION, self._snapshot_size // 2):
            try:
                self._write_snapshot(self._running.element)
            except RPCError:
                # The log already holds every acknowledged edit; compaction can wait.
                logger.warning("running snapshot failed; keeping the log for now")

    def _install(self, datastore: Datastore, tree: _Tree) -> None:
        """Persist (running, startup) then swap in ``tree``; caller holds the mutex."""
        if datastore is Datastore.RUNNING:
            if self._files is not None:
                self._seq += 1
                try:
                    self._write_snapshot(tree.element)
                except BaseException:
                    self._seq -= 1
                    raise
            previous = self._running
            self._running = tree
            self._running_version += 1
            if self._candidate is previous:
                self._candidate = tree
        elif datastore is Datastore.STARTUP:
            self._write_startup(tree.element)
            self._startup = tree
        else:
            self._candidate = tree
            self._candidate_base = -1  # not a sequence of logged edits
            self._candidate_version = -1  # nor known changes from running
            self._candidate_checked = True

    def _write_snapshot(self, element: etree._Element) -> None:
        assert self._files is not None and self._wal is not None
        content = (
            f'<data xmlns="{NS_NC}" seq="{self._seq}">'.encode()
            + serialize_tree(element)
            + b"</data>"
        )
        try:
            atomic_write(self._files.running, content)
        except OSError as error:
            raise _persist_error(Datastore.RUNNING, error) from None
        self._snapshot_size = len(content)
        try:
            self._wal.reset()
        except OSError as error:
            # The snapshot is durable and carries its seq: the records left in the log
            # are older and will be skipped on replay. Not a failure of the change.
            logger.warning("cannot empty %s after a snapshot: %s", self._wal.path, error)

    def _write_startup(self, element: etree._Element) -> None:
        if self._files is None:
            return
        try:
            if len(element) == 0:
                atomic_remove(self._files.startup)
            else:
                atomic_write(self._files.startup,
                             f'<data xmlns="{NS_NC}">'.encode() + serialize_tree(element)
                             + b"</data>")
        except OSError as error:
            raise _persist_error(Datastore.STARTUP, error) from None

    def _notify(self, event: CommitEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not undo a commit
                logger.exception("commit listener failed")

    def _load(self, load_startup: bool) -> tuple[_Tree, _Tree]:
        if self._files is None:
            empty = _Tree(empty_tree())
            return empty, _Tree(empty_tree())
        self._files.ensure()
        startup = self._read(self._files.startup)
        running = None
        if not load_startup:
            running = self._read(self._files.running)
        if running is not None:
            self._seq = int(running.attrib.pop("seq", "0"))
            self._snapshot_size = self._files.running.stat().st_size
            tree = _Tree(running)
            replayed = self._replay(tree)
            if replayed:
                self._validate_loaded(tree.element, self._files.running)
            return tree, _Tree(startup if startup is not None else empty_tree())
        base = copy.deepcopy(startup) if startup is not None else empty_tree()
        tree = _Tree(base)
        assert self._wal is not None
        self._wal.reset()
        self._seq += 1
        self._write_snapshot(tree.element)
        return tree, _Tree(startup if startup is not None else empty_tree())

    def _replay(self, tree: _Tree) -> int:
        """Apply the logged edits newer than the snapshot; returns how many."""
        assert self._wal is not None
        count = 0
        for record in self._wal.records():
            if record.seq <= self._seq:
                continue
            try:
                apply_edit(tree.element, record.config, self._schema,
                           default_operation=record.default_operation,
                           error_option=record.error_option, indexes=tree.indexes)
            except PartialEditError:
                pass  # it was acknowledged that way: same partial result
            except RPCError as error:
                raise ConfigError(f"logged edit {record.seq} no longer applies: {error}") from None
            self._seq = record.seq
            count += 1
        return count

    def _read(self, path: Path) -> etree._Element | None:
        if not path.exists():
            return None
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
        try:
            tree = etree.parse(str(path), parser).getroot()
        except etree.XMLSyntaxError as error:
            raise ConfigError(f"{path} is not readable XML: {error}") from None
        if tree.tag != DATA_TAG:
            raise ConfigError(f"{path} is not a datastore file (root {tree.tag!s}).")
        # Files written before every default namespace was bound to a prefix as well.
        prefixes = {namespace: prefix for prefix, namespace in self._schema.prefixes.items()}
        for child in list(tree):
            if isinstance(child.tag, str):
                qname = etree.QName(child)
                settle_prefixes(child, self._schema.root(qname.namespace or "", qname.localname),
                                prefixes)
        self._validate_loaded(tree, path)
        return tree

    def _validate_loaded(self, tree: etree._Element, path: Path) -> None:
        try:
            self._validator.validate(serialize_tree(tree))
        except SchemaValidationError as error:
            raise ConfigError(f"{path} holds invalid configuration: {error}") from None


def _split(tag: str) -> tuple[str, str]:
    namespace, _, name = tag[1:].partition("}") if tag[:1] == "{" else ("", "", tag)
    return namespace, name


def _modified_candidate(editor: SessionId, requester: SessionId) -> str:
    """The message of a lock refused because candidate holds changes (sec. 7.5)."""
    if editor == 0:
        whose = "changes of a session that has ended (or of the server itself)"
    elif editor == requester:
        whose = f"changes this session ({editor}) made"
    else:
        whose = f"changes of session {editor}"
    return (f"The candidate datastore holds {whose} that were neither committed nor "
            "discarded, so it cannot be locked; <commit/> or <discard-changes/> them first.")


def _persist_error(datastore: Datastore, error: OSError) -> RPCError:
    logger.error("cannot persist %s: %s", datastore.value, error)
    return ResourceDeniedError(
        f"The {datastore.value} configuration could not be saved "
        f"({error.strerror or error}); nothing was changed.",
        type_=ErrorType.APPLICATION,
    )


def _reported_with(
    errors: Sequence[RPCError], refused: RPCError | RPCErrors
) -> RPCError | RPCErrors:
    """``refused`` with the ``errors`` met before it (continue-on-error).

    RFC 6241 sec. 7.2: with continue-on-error every error is recorded and reported; when
    the edit is then refused as a whole (its result is invalid) the reply still names
    the errors of the parts that were skipped. (Raised from an ``except`` clause rather
    than a context manager: the edit path pays nothing when nothing is refused.)
    """
    if not errors:
        return refused
    more = refused.errors if isinstance(refused, RPCErrors) else [refused]
    return RPCErrors([*errors, *more])
