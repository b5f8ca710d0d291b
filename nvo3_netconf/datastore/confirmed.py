"""Confirmed commit, :confirmed-commit:1.1 (RFC 6241 sec. 8.4).

A ``<commit><confirmed/>`` applies candidate to running and keeps the previous running
as a rollback point until a confirming commit arrives. Without confirmation the
rollback happens when the timeout (default 600 s) expires, when ``<cancel-commit>`` is
received, or when the session that issued it ends — unless ``<persist>`` was given, in
which case the rollback point survives the session and a server restart, and only a
request carrying the matching ``<persist-id>`` may confirm or cancel it (sec. 8.4.5.1).
A follow-up confirmed commit keeps the original rollback point and restarts the timer.

Public class: :class:`ConfirmedCommits`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from lxml import etree

from nvo3_netconf.constants import ErrorType
from nvo3_netconf.datastore.persist import DatastoreFiles, atomic_remove, atomic_write
from nvo3_netconf.datastore.store import DATA_TAG, DatastoreManager, TreeCheck
from nvo3_netconf.errors import InvalidValueError, OperationFailedError
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
            previous = self._datastores.commit(
                session_id=session_id, user=user, keep_previous=confirmed and pending is None,
                authorize=authorize,
            )
            if pending is not None:
                self._scheduler.cancel(pending.timer)
            if not confirmed:
                self.pending = None
                self._forget()
                if pending is not None:
                    logger.info("confirmed commit confirmed by session %s", session_id)
                return
            rollback = pending.rollback if pending is not None else previous
            assert rollback is not None
            deadline = self._scheduler.clock.time() + timeout
            self.pending = PendingCommit(rollback, session_id, persist, deadline)
            self.pending.timer = self._scheduler.call_later(timeout, self._on_timeout)
            if persist is not None:
                self._save(self.pending)
            else:
                self._forget()
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
        if self._files is None:
            return
        root = etree.Element(_ROOT, {"persist": pending.persist or "",
                                     "deadline": repr(pending.deadline)})
        root.append(etree.fromstring(etree.tostring(pending.rollback)))
        atomic_write(self._files.confirmed_commit, etree.tostring(root))

    def _forget(self) -> None:
        if self._files is not None:
            atomic_remove(self._files.confirmed_commit)

    def _restore(self) -> None:
        """After a restart: resume or perform the rollback of a persisted confirmed commit."""
        if self._files is None or not self._files.confirmed_commit.exists():
            return
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
        root = etree.parse(str(self._files.confirmed_commit), parser).getroot()
        rollback = root.find(DATA_TAG)
        if root.tag != _ROOT or rollback is None:
            logger.error("ignoring unreadable %s", self._files.confirmed_commit)
            return
        deadline = float(root.get("deadline", "0"))
        self.pending = PendingCommit(rollback, 0, root.get("persist") or None, deadline)
        remaining = deadline - self._scheduler.clock.time()
        if remaining <= 0:
            self._rollback("confirm-timeout expired while the server was down")
            return
        self.pending.timer = self._scheduler.call_later(remaining, self._on_timeout)
        logger.info("persisted confirmed commit resumed, rollback in %.0f s", remaining)
