"""Confirmed commit, :confirmed-commit:1.1 (RFC 6241 sec. 8.4).

A ``<commit><confirmed/>`` applies candidate to running and keeps the previous running
as a rollback point until a confirming commit arrives. Without confirmation the
rollback happens when the timeout (default 600 s) expires, when ``<cancel-commit>`` is
received, or when the session that issued it ends — unless ``<persist>`` was given, in
which case the rollback point survives the session and a server restart, and only a
request carrying the matching ``<persist-id>`` may confirm or cancel it (sec. 8.4.5.1).
A follow-up confirmed commit keeps the original rollback point and restarts the timer.

Crash safety: the rollback point is written to ``confirmed-commit.xml`` *before* the new
running configuration becomes durable, for every confirmed commit, persisted or not. A
crash can therefore never leave an unconfirmed configuration in place without its
rollback point. After a restart a persisted confirmed commit is resumed (its timer
re-armed, or rolled back at once if its deadline passed while the agent was down); a
non-persisted one is rolled back at once, as the session that issued it ended with the
crash (RFC 6241 sec. 8.4.1).

Public class: :class:`ConfirmedCommits`.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass

from lxml import etree

from nvo3_netconf.constants import ErrorType
from nvo3_netconf.datastore.persist import DatastoreFiles, atomic_remove, atomic_write
from nvo3_netconf.datastore.store import DATA_TAG, DatastoreManager, TreeCheck
from nvo3_netconf.errors import InvalidValueError, OperationFailedError, ResourceDeniedError
from nvo3_netconf.scheduler import Scheduler, TimerHandle

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600
_ROOT = "confirmed-commit"


@dataclass
class PendingCommit:
    """A confirmed commit waiting for confirmation.

    Attributes:
        rollback: running as it was before the first confirmed commit.
        session_id: the session that issued it.
        persist: the persist token, when given.
        deadline: wall-clock time (epoch seconds) of the automatic rollback.
        timer: the scheduled rollback.
    """

    rollback: etree._Element
    session_id: int
    persist: str | None
    deadline: float
    timer: TimerHandle | None = None


class ConfirmedCommits:
    """The confirmed-commit state of one server."""

    def __init__(
        self,
        datastores: DatastoreManager,
        scheduler: Scheduler,
        files: DatastoreFiles | None,
    ) -> None:
        self._datastores = datastores
        self._scheduler = scheduler
        self._files = files
        self._lock = threading.RLock()
        self.pending: PendingCommit | None = None
        self._restore()

    def commit(
        self,
        *,
        session_id: int,
        user: str | None,
        confirmed: bool,
        timeout: int = DEFAULT_TIMEOUT,
        persist: str | None = None,
        persist_id: str | None = None,
        authorize: TreeCheck | None = None,
    ) -> None:
        """Handle a ``<commit>`` with its confirmed-commit parameters.

        ``authorize`` (NACM) vets the change of running's content.

        Raises:
            RPCError: the commit fails, or confirms a commit it may not confirm.
        """
        with self._lock:
            pending = self.pending
            if pending is not None:
                self._check_owner(pending, session_id, persist_id, "confirm")
            elif persist_id is not None:
                raise InvalidValueError(
                    "There is no confirmed commit in progress to confirm with this persist-id.",
                    info={"bad-element": "persist-id"},
                )
            if not confirmed:
                self._datastores.commit(session_id=session_id, user=user, authorize=authorize)
                if pending is not None:
                    self._scheduler.cancel(pending.timer)
                    self.pending = None
                    self._forget()
                    logger.info("confirmed commit confirmed by session %s", session_id)
                return
            deadline = self._scheduler.clock.time() + timeout
            saved: list[PendingCommit] = []

            def save_rollback_point(previous: etree._Element) -> None:
                # Under the datastore lock, before the new running is written.
                rollback = pending.rollback if pending is not None else copy.deepcopy(previous)
                new = PendingCommit(rollback, session_id, persist, deadline)
                self._save(new)
                saved.append(new)

            try:
                self._datastores.commit(session_id=session_id, user=user, authorize=authorize,
                                        before_persist=save_rollback_point)
            except BaseException:
                if saved:  # the commit failed after the rollback point was written
                    self._restore_file(pending)
                raise
            if pending is not None:
                self._scheduler.cancel(pending.timer)
            self.pending = saved[0]
            self.pending.timer = self._scheduler.call_later(timeout, self._on_timeout)
            logger.info("confirmed commit by session %s, rollback in %s s", session_id, timeout)

    def cancel(self, *, session_id: int, persist_id: str | None) -> None:
        """``<cancel-commit>`` (RFC 6241 sec. 8.4.4.1).

        Raises:
            RPCError: no confirmed commit is pending, or the requester may not cancel it.
        """
        with self._lock:
            pending = self.pending
            if pending is None:
                raise OperationFailedError(
                    "There is no confirmed commit in progress to cancel.",
                    type_=ErrorType.PROTOCOL,
                )
            self._check_owner(pending, session_id, persist_id, "cancel")
            self._rollback("cancel-commit")

    def session_ended(self, session_id: int) -> None:
        """Roll back a non-persisted confirmed commit whose session ended."""
        with self._lock:
            pending = self.pending
            if pending is not None and pending.persist is None and pending.session_id == session_id:
                self._rollback(f"session {session_id} ended before confirming")

    # ---------------------------------------------------------------- internals
    def _check_owner(
        self, pending: PendingCommit, session_id: int, persist_id: str | None, verb: str
    ) -> None:
        if pending.persist is not None:
            if persist_id != pending.persist:
                raise InvalidValueError(
                    f"To {verb} this persisted confirmed commit, give its persist-id.",
                    info={"bad-element": "persist-id"},
                )
        elif persist_id is not None:
            raise InvalidValueError(
                "The confirmed commit in progress was not persisted; persist-id does not apply.",
                info={"bad-element": "persist-id"},
            )
        elif pending.session_id != session_id:
            raise OperationFailedError(
                f"A confirmed commit of session {pending.session_id} is in progress; only that "
                f"session can {verb} it.",
                type_=ErrorType.PROTOCOL,
                info={"session-id": str(pending.session_id)},
            )

    def _on_timeout(self) -> None:
        with self._lock:
            if self.pending is not None:
                self._rollback("confirm-timeout expired")

    def _rollback(self, reason: str) -> None:
        pending = self.pending
        assert pending is not None
        self._scheduler.cancel(pending.timer)
        self.pending = None
        self._datastores.restore_running(pending.rollback, reason=reason)
        self._forget()

    def _save(self, pending: PendingCommit) -> None:
        """Write the rollback point durably.

        Raises:
            ResourceDeniedError: it could not be written (disk full...); nothing changed.
        """
        if self._files is None:
            return
        attributes = {"deadline": repr(pending.deadline), "session-id": str(pending.session_id)}
        if pending.persist is not None:
            attributes["persist"] = pending.persist
        root = etree.Element(_ROOT, attributes)
        root.append(etree.fromstring(etree.tostring(pending.rollback)))
        try:
            atomic_write(self._files.confirmed_commit, etree.tostring(root))
        except OSError as error:
            logger.error("cannot save the confirmed commit's rollback point: %s", error)
            raise ResourceDeniedError(
                "The rollback point of the confirmed commit could not be saved "
                f"({error.strerror or error}); nothing was changed.",
                type_=ErrorType.APPLICATION,
            ) from None

    def _restore_file(self, pending: PendingCommit | None) -> None:
        """Put the file back as it was before a failed commit (best effort)."""
        try:
            if pending is None:
                self._forget()
            else:
                self._save(pending)
        except (OSError, ResourceDeniedError):
            logger.exception("cannot restore %s", self._files and self._files.confirmed_commit)

    def _forget(self) -> None:
        if self._files is not None:
            atomic_remove(self._files.confirmed_commit)

    def _restore(self) -> None:
        """After a restart: resume or perform the rollback of a confirmed commit."""
        if self._files is None or not self._files.confirmed_commit.exists():
            return
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
        try:
            root = etree.parse(str(self._files.confirmed_commit), parser).getroot()
        except etree.XMLSyntaxError:
            root = None
        rollback = root.find(DATA_TAG) if root is not None else None
        if root is None or root.tag != _ROOT or rollback is None:
            # atomic_write never leaves a partial file: this is not ours to interpret.
            logger.error("ignoring unreadable %s", self._files.confirmed_commit)
            return
        deadline = float(root.get("deadline", "0"))
        persist = root.get("persist")
        self.pending = PendingCommit(rollback, 0, persist, deadline)
        if persist is None:
            self._rollback("the session that issued the confirmed commit ended (restart)")
            return
        remaining = deadline - self._scheduler.clock.time()
        if remaining <= 0:
            self._rollback("confirm-timeout expired while the server was down")
            return
        self.pending.timer = self._scheduler.call_later(remaining, self._on_timeout)
        logger.info("persisted confirmed commit resumed, rollback in %.0f s", remaining)
