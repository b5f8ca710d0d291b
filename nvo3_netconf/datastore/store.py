"""The configuration datastores of one server: running, candidate and startup.

Implements the datastore side of RFC 6241: sec. 7.2 edit-config (test-option,
error-option), 7.3 copy-config, 7.4 delete-config, 7.5/7.6 lock and unlock (with the
candidate rule of sec. 8.3.5.2), 8.3.4 commit and discard-changes, 8.4 confirmed commit
(via :mod:`nvo3_netconf.datastore.confirmed`), 8.6 validate, 8.7 startup.

A tree held here is never mutated: a change builds a working copy, applies the edit,
validates the whole result with libyang, persists it when it is running or startup,
and only then swaps the reference. A failure at any step leaves every datastore as it
was. Readers take a reference under the lock and read without it.

Public classes: :class:`DatastoreManager`, :class:`CommitListener`.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from nvo3_netconf.constants import (
    NS_NC,
    Datastore,
    DefaultOperation,
    ErrorOption,
    ErrorType,
    TestOption,
)
from nvo3_netconf.datastore.edit import Change, apply_edit
from nvo3_netconf.datastore.persist import DatastoreFiles, atomic_remove, atomic_write
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
from nvo3_netconf.schema import SchemaTree, SchemaValidationError, Validator

logger = logging.getLogger(__name__)

SessionId = int
"""A NETCONF session-id (RFC 6241 sec. 8.1); 0 stands for the server itself."""

DATA_TAG = f"{{{NS_NC}}}data"


def empty_tree() -> etree._Element:
    """A datastore root with no configuration."""
    return etree.Element(DATA_TAG, nsmap={None: NS_NC})


def serialize_tree(tree: etree._Element) -> bytes:
    """The top-level nodes of a datastore, as the bytes libyang and the files hold."""
    return b"".join(etree.tostring(child) for child in tree)


@dataclass(frozen=True)
class CommitEvent:
    """What a listener learns after a datastore changed.

    Attributes:
        datastore: the datastore that changed.
        changes: the typed change list (empty when computed changes are unknown,
            e.g. after copy-config).
        session_id: who made the change (0: the server, e.g. a confirmed-commit rollback).
        user: that session's user name, if any.
        tree: the new content.
    """

    datastore: Datastore
    changes: tuple[Change, ...]
    session_id: SessionId
    user: str | None
    tree: etree._Element


CommitListener = Callable[[CommitEvent], None]
"""Called after a datastore changed (never while the datastore lock is held)."""


class DatastoreManager:
    """Holds the three datastores, their locks, persistence and validation.

    Args:
        validator: validates whole datastores.
        schema: the schema view used by the edit engine.
        files: where running and startup persist; None keeps them in memory only.
        load_startup: on start, running is loaded from startup (True) or from the
            last committed running (False; falls back to startup when absent).
    """

    def __init__(
        self,
        *,
        validator: Validator,
        schema: SchemaTree,
        files: DatastoreFiles | None = None,
        load_startup: bool = False,
    ) -> None:
        self._validator = validator
        self._schema = schema
        self._files = files
        self._mutex = threading.RLock()
        self._locks: dict[Datastore, SessionId] = {}
        self._listeners: list[CommitListener] = []
        self._candidate_modified_by: set[SessionId] = set()
        self._trees: dict[Datastore, etree._Element] = {}
        self._load(load_startup)

    # ----------------------------------------------------------------- reading
    @property
    def schema(self) -> SchemaTree:
        """The schema view of the datastores."""
        return self._schema

    def tree(self, datastore: Datastore) -> etree._Element:
        """The current content of a datastore (read only: never mutate it)."""
        with self._mutex:
            return self._trees[datastore]

    def tree_running(self) -> etree._Element:
        """The current running configuration."""
        return self.tree(Datastore.RUNNING)

    def add_listener(self, listener: CommitListener) -> None:
        """Be told of every change to running and startup (and candidate)."""
        self._listeners.append(listener)

    @property
    def candidate_modified(self) -> bool:
        """True while candidate holds changes not committed nor discarded."""
        with self._mutex:
            return self._trees[Datastore.CANDIDATE] is not self._trees[Datastore.RUNNING]

    def lock_owner(self, datastore: Datastore) -> SessionId | None:
        """The session holding ``datastore``'s lock, if any."""
        with self._mutex:
            return self._locks.get(datastore)

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
                raise LockDeniedError(
                    "The candidate datastore holds changes that were neither committed nor "
                    "discarded; use <discard-changes/> before locking it.",
                    info={"session-id": "0"},
                )
            self._locks[datastore] = session_id
            logger.info("session %s locked %s", session_id, datastore.value)

    def unlock(self, datastore: Datastore, session_id: SessionId) -> None:
        """Release a lock this session holds (RFC 6241 sec. 7.6).

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
            del self._locks[datastore]
            logger.info("session %s unlocked %s", session_id, datastore.value)

    def release_session(self, session_id: SessionId) -> None:
        """Drop every lock of a session that ended (RFC 6241 sec. 7.5, 7.9)."""
        with self._mutex:
            for datastore, holder in list(self._locks.items()):
                if holder == session_id:
                    del self._locks[datastore]
                    logger.info("session %s ended: %s unlocked", session_id, datastore.value)

    def check_writable(self, datastore: Datastore, session_id: SessionId) -> None:
        """Refuse a write to a datastore another session has locked.

        Raises:
            InUseError: the lock is held by another session.
        """
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
    ) -> tuple[Change, ...]:
        """edit-config (RFC 6241 sec. 7.2) on running or candidate.

        With ``continue-on-error`` the edits that succeed are kept when the result is
        valid and the errors are raised together afterwards (``RPCErrors``).

        Returns:
            The changes made (empty for test-only).

        Raises:
            RPCError, RPCErrors: the edit is refused; nothing changed.
        """
        if datastore is Datastore.STARTUP:
            raise OperationNotSupportedError(
                "edit-config cannot target startup; use copy-config.", type_=ErrorType.PROTOCOL
            )
        with self._mutex:
            self.check_writable(datastore, session_id)
            work = copy.deepcopy(self._trees[datastore])
            collected: list[RPCError] = []
            try:
                changes = apply_edit(
                    work,
                    config,
                    self._schema,
                    default_operation=default_operation,
                    error_option=error_option,
                )
            except RPCErrors as errors:
                if error_option is not ErrorOption.CONTINUE_ON_ERROR:
                    raise
                collected.extend(errors.errors)
                changes = list(getattr(errors, "changes", ()))
            if test_option is not TestOption.SET:
                self._validate(work)
            if collected:
                if test_option is not TestOption.TEST_ONLY and changes:
                    self._install(datastore, work, tuple(changes), session_id, user)
                raise RPCErrors(collected)
            if test_option is TestOption.TEST_ONLY:
                return ()
            if not changes:
                return ()
            event = self._install(datastore, work, tuple(changes), session_id, user)
        self._notify(event)
        return event.changes

    def replace(
        self,
        datastore: Datastore,
        tree: etree._Element,
        *,
        session_id: SessionId,
        user: str | None = None,
        changes: Iterable[Change] = (),
    ) -> None:
        """copy-config into a datastore (RFC 6241 sec. 7.3), validated first.

        Raises:
            RPCError: the content is invalid or the datastore is locked by another session.
        """
        with self._mutex:
            self.check_writable(datastore, session_id)
            self._validate(tree)
            event = self._install(datastore, tree, tuple(changes), session_id, user)
        self._notify(event)

    def delete(self, datastore: Datastore, *, session_id: SessionId) -> None:
        """delete-config (RFC 6241 sec. 7.4): only startup may be deleted.

        Raises:
            RPCError: the target is running or candidate, or is locked by another session.
        """
        if datastore is not Datastore.STARTUP:
            raise OperationFailedError(
                f"delete-config cannot target {datastore.value}; only startup can be deleted.",
                type_=ErrorType.PROTOCOL,
            )
        with self._mutex:
            self.check_writable(datastore, session_id)
            event = self._install(datastore, empty_tree(), (), session_id, None)
        self._notify(event)

    def commit(self, *, session_id: SessionId, user: str | None = None) -> tuple[Change, ...]:
        """Make candidate the running configuration (RFC 6241 sec. 8.3.4.1).

        Raises:
            RPCError: running is locked by another session, or candidate is invalid.
        """
        with self._mutex:
            self.check_writable(Datastore.RUNNING, session_id)
            candidate = self._trees[Datastore.CANDIDATE]
            if candidate is self._trees[Datastore.RUNNING]:
                return ()
            self._validate(candidate)
            event = self._install(Datastore.RUNNING, candidate, (), session_id, user)
        self._notify(event)
        return event.changes

    def discard_changes(self) -> None:
        """Revert candidate to running (RFC 6241 sec. 8.3.4.2)."""
        with self._mutex:
            self._trees[Datastore.CANDIDATE] = self._trees[Datastore.RUNNING]
            self._candidate_modified_by.clear()

    def restore_running(self, tree: etree._Element, *, reason: str) -> None:
        """Put back a previous running configuration (confirmed-commit rollback).

        The candidate is reset to it as well (RFC 6241 sec. 8.4.1).
        """
        with self._mutex:
            event = self._install(Datastore.RUNNING, tree, (), 0, None)
            self._trees[Datastore.CANDIDATE] = tree
        logger.info("running configuration restored: %s", reason)
        self._notify(event)

    def validate_tree(self, tree: etree._Element) -> None:
        """Validate a whole datastore content (RFC 6241 sec. 8.6).

        Raises:
            RPCError: the content is invalid.
        """
        self._validate(tree)

    # --------------------------------------------------------------- internals
    def _validate(self, tree: etree._Element) -> None:
        try:
            self._validator.validate(serialize_tree(tree))
        except SchemaValidationError as error:
            raise error.to_rpc_error() from None

    def _install(
        self,
        datastore: Datastore,
        tree: etree._Element,
        changes: tuple[Change, ...],
        session_id: SessionId,
        user: str | None,
    ) -> CommitEvent:
        """Persist (running, startup) then swap in ``tree``; caller holds the mutex."""
        if datastore is not Datastore.CANDIDATE:
            self._persist(datastore, tree)
        previous_running = self._trees.get(Datastore.RUNNING)
        self._trees[datastore] = tree
        if datastore is Datastore.RUNNING:
            candidate = self._trees.get(Datastore.CANDIDATE)
            if candidate is None or candidate is previous_running or candidate is tree:
                self._trees[Datastore.CANDIDATE] = tree
                self._candidate_modified_by.clear()
        elif datastore is Datastore.CANDIDATE:
            self._candidate_modified_by.add(session_id)
        return CommitEvent(datastore, changes, session_id, user, tree)

    def _persist(self, datastore: Datastore, tree: etree._Element) -> None:
        if self._files is None:
            return
        path = self._files.running if datastore is Datastore.RUNNING else self._files.startup
        try:
            if datastore is Datastore.STARTUP and len(tree) == 0:
                atomic_remove(path)
            else:
                atomic_write(path, etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
        except OSError as error:
            logger.error("cannot persist %s to %s: %s", datastore.value, path, error)
            raise ResourceDeniedError(
                f"The {datastore.value} configuration could not be saved "
                f"({error.strerror or error}); nothing was changed.",
                type_=ErrorType.APPLICATION,
            ) from None

    def _notify(self, event: CommitEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not undo a commit
                logger.exception("commit listener failed")

    def _load(self, load_startup: bool) -> None:
        running = startup = None
        if self._files is not None:
            self._files.ensure()
            startup = self._read(self._files.startup)
            if not load_startup:
                running = self._read(self._files.running)
        startup = startup if startup is not None else empty_tree()
        if running is None:
            running = startup
            if self._files is not None and len(running):
                self._persist(Datastore.RUNNING, running)
        self._trees = {
            Datastore.STARTUP: startup,
            Datastore.RUNNING: running,
            Datastore.CANDIDATE: running,
        }

    def _read(self, path: Path) -> etree._Element | None:
        if not path.exists():
            return None
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
        tree = etree.parse(str(path), parser).getroot()
        if tree.tag != DATA_TAG:
            raise ConfigError(f"{path} is not a datastore file (root {tree.tag}).")
        try:
            self._validator.validate(serialize_tree(tree))
        except SchemaValidationError as error:
            raise ConfigError(f"{path} holds invalid configuration: {error}") from None
        return tree
