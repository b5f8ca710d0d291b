"""A network-wide configuration transaction over a set of NVEs.

Each step runs on every NVE concurrently in a bounded ``ThreadPoolExecutor`` and the
next step starts only when every NVE finished the previous one (RFC 6241 sec. 8.3-8.4):

1. ``connect``; an NVE without ``:candidate`` and ``:confirmed-commit:1.1`` fails here,
2. ``lock`` the candidate, 3. ``discard-changes`` (a stale candidate), 4. ``edit-config``
   the candidate with that NVE's configuration, 5. ``validate``,
6. ``confirmed-commit`` with a confirm-timeout (running changes, revertible),
7. ``check``: one cheap RPC on every session, so an NVE lost after step 6 is found
   before any NVE is confirmed, 8. ``confirming-commit``, 9. ``unlock``.

If any NVE fails at steps 1-7, every NVE that got that far is rolled back:
``cancel-commit`` where a confirmed commit is pending, ``discard-changes`` where the
candidate was edited, ``unlock`` where it was locked. An NVE whose session broke rolls
back by itself (the confirmed commit is cancelled and the locked candidate discarded when
the session ends, RFC 6241 sec. 8.4.1 and 8.3.5.2). Step 8 is the commit point: if one
NVE fails there after others confirmed, the others keep the change, and the results say
so (``ok`` per NVE).

An NVE without ``:candidate`` or ``:confirmed-commit:1.1`` (but with
``:writable-running``) gets the best equivalent, and its result says so: its running
datastore is locked, the edit is checked with ``test-option test-only`` where it
announces ``:validate:1.1``, and applied at step 6 with ``error-option
rollback-on-error`` where it announces ``:rollback-on-error`` (all or nothing on that
NVE). A later failure elsewhere undoes it with the inverse edit given as ``undo``; without
one it keeps the change, and its result says that too.

One NVE's failure never aborts the others' work on a step; it is recorded in that NVE's
:class:`Result` (step reached, error-tag, error-path, message as the NVE sent them), and
:class:`NetworkTransactionError` carrying every result is raised at the end.

``dry_run=True`` stops after ``validate``: each result carries the unified diff between
the running configuration and the edited candidate, and the candidate is discarded.

Public names: :class:`NetworkTransaction`, :class:`Result`, :class:`Step`,
:class:`NetworkTransactionError`.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from lxml import etree

from nvo3_netconf.constants import (
    CAP_ROLLBACK_ON_ERROR,
    CAP_VALIDATE,
    CAP_WRITABLE_RUNNING,
    Datastore,
)
from nvo3_netconf.director.client import ConfigSource, DeviceClient
from nvo3_netconf.errors import Nvo3Error, RPCError, RPCErrors
from nvo3_netconf.protocol.xml import Element
from nvo3_netconf.tes.connection import NVEConnectionError

__all__ = ["CapabilityError", "NetworkTransaction", "NetworkTransactionError", "Result", "Step"]

logger = logging.getLogger(__name__)

DEFAULT_CONFIRM_TIMEOUT: Final = 120
_LOCK_ATTEMPTS: Final = 5
_LOCK_RETRY_FIRST: Final = 0.1
_BUSY_TAGS: Final = frozenset({"lock-denied", "in-use", "resource-denied"})
DEFAULT_WORKERS: Final = 16
_OTHER_FAILED: Final = "rolled back: another NVE failed"


class Step(StrEnum):
    """The steps of a transaction, in order."""

    CONNECT = "connect"
    LOCK = "lock"
    DISCARD = "discard-changes"
    EDIT = "edit-config"
    VALIDATE = "validate"
    DIFF = "diff"
    COMMIT = "confirmed-commit"
    CHECK = "check"
    CONFIRM = "confirming-commit"
    UNLOCK = "unlock"
    DONE = "done"


@dataclass
class Result:
    """What happened on one NVE.

    Attributes:
        nve: the NVE's name.
        ok: it holds the change (or, in a dry run, the change validated).
        step: the last step it reached: the one that failed when not ``ok``.
        error_tag: the ``error-tag`` the NVE sent (``None`` for transport failures).
        error_path: the ``error-path`` it sent.
        error_message: its ``error-message``, or the transport failure.
        rolled_back: its partial change was undone (or it had none).
        diff: the dry run's unified diff (running -> candidate).
        notes: further facts (rollback failures, the commit point passed...).
    """

    nve: str
    ok: bool = False
    step: Step = Step.CONNECT
    error_tag: str | None = None
    error_path: str | None = None
    error_message: str | None = None
    rolled_back: bool = False
    diff: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def unreachable(self) -> bool:
        """It failed to connect (not merely rolled back because another NVE failed)."""
        return not self.ok and self.step is Step.CONNECT and self.error_message != _OTHER_FAILED

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"nve": self.nve, "ok": self.ok, "step": self.step.value,
                "error-tag": self.error_tag, "error-path": self.error_path,
                "error-message": self.error_message, "rolled-back": self.rolled_back,
                "diff": self.diff, "notes": list(self.notes)}


class NetworkTransactionError(Nvo3Error):
    """Some NVE failed; ``results`` holds every NVE's :class:`Result`."""

    def __init__(self, results: list[Result]) -> None:
        self.results = results
        failed = [r for r in results if not r.ok]
        super().__init__(
            f"{len(failed)} of {len(results)} NVEs failed: "
            + "; ".join(f"{r.nve} at {r.step}: {r.error_message}" for r in failed))

    @property
    def failed(self) -> list[Result]:
        """The results of the NVEs that failed."""
        return [r for r in self.results if not r.ok]

    @property
    def none_reachable(self) -> bool:
        """Every NVE failed to connect."""
        return all(r.unreachable for r in self.results)


@dataclass
class _Device:
    """One NVE's progress; touched only by the worker running its current step."""

    client: DeviceClient
    config: ConfigSource
    result: Result
    locked: bool = False
    edited: bool = False
    pending_commit: bool = False
    confirmed: bool = False
    broken: bool = False
    running_only: bool = False
    undo: ConfigSource | None = None
    applied_running: bool = False

    @property
    def locked_datastore(self) -> Datastore:
        return Datastore.RUNNING if self.running_only else Datastore.CANDIDATE


def _record(device: _Device, step: Step, error: Exception) -> None:
    result = device.result
    result.ok = False
    result.step = step
    if isinstance(error, RPCErrors):
        first = error.errors[0]
        result.error_tag, result.error_path = first.tag.value, first.path
        result.error_message = "; ".join(e.message for e in error.errors)
    elif isinstance(error, RPCError):
        result.error_tag, result.error_path = error.tag.value, error.path
        result.error_message = error.message
    else:
        result.error_message = str(error)
    if isinstance(error, NVEConnectionError):
        device.broken = True


def _pretty(data: Element) -> list[str]:
    """``<data>``'s children indented, one line per element, for diffing."""
    data = etree.fromstring(etree.tostring(data))
    for node in data.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        node.tail = None
    etree.indent(data, space="  ")
    lines: list[str] = []
    for child in data:
        lines.extend(etree.tostring(child, encoding="unicode").splitlines())
    return lines


def _as_data(config: ConfigSource) -> Element:
    """``config``'s content as an element list root (for :func:`_pretty`)."""
    if isinstance(config, str):
        config = config.encode("utf-8")
    return etree.fromstring(config) if isinstance(config, bytes) else config


def unified_diff(nve: str, running: Element, candidate: Element) -> str:
    """The unified diff of two ``<data>`` elements ('' when equal)."""
    return "".join(line + ("" if line.endswith("\n") else "\n") for line in difflib.unified_diff(
        _pretty(running), _pretty(candidate), fromfile=f"{nve}:running",
        tofile=f"{nve}:candidate", lineterm=""))


class NetworkTransaction:
    """Apply per-NVE configurations to a set of NVEs, all or nothing.

    Args:
        clients: NVE name -> its client (connected on demand; not closed here).
        configs: NVE name -> its ``<config>``; every name must have a client.
        undo: NVE name -> the ``<config>`` that reverts its ``configs`` entry, for NVEs
            that may lack a candidate (see the module).
        confirm_timeout: the confirmed commit's timeout in seconds.
        persist: a persist token (RFC 6241 sec. 8.4.5.1) for the confirmed commit; the
            confirming commit and cancel-commit then give it as ``persist-id``.
        max_workers: the pool's bound.
        before_step: called with each step before it starts on the NVEs (progress, or
            tests that break an NVE between steps).
        progress: called with each NVE's result after each step.
    """

    def __init__(
        self,
        clients: Mapping[str, DeviceClient],
        configs: Mapping[str, ConfigSource],
        *,
        undo: Mapping[str, ConfigSource] | None = None,
        confirm_timeout: int = DEFAULT_CONFIRM_TIMEOUT,
        persist: str | None = None,
        max_workers: int = DEFAULT_WORKERS,
        before_step: Callable[[Step], None] | None = None,
        progress: Callable[[Step, Result], None] | None = None,
    ) -> None:
        missing = sorted(set(configs) - set(clients))
        if missing:
            raise ValueError(f"no client for {', '.join(missing)}")
        if not configs:
            raise ValueError("a transaction needs at least one NVE")
        self._devices = [_Device(clients[name], configs[name], Result(name),
                                 undo=(undo or {}).get(name))
                         for name in sorted(configs)]
        self.confirm_timeout = confirm_timeout
        self.persist = persist
        self.max_workers = max(1, max_workers)
        self._before_step = before_step
        self._progress = progress

    @classmethod
    def same_config(cls, clients: Mapping[str, DeviceClient], config: ConfigSource,
                    **kwargs: Any) -> NetworkTransaction:
        """A transaction applying one configuration to every client."""
        return cls(clients, dict.fromkeys(clients, config), **kwargs)

    def run(self, *, dry_run: bool = False) -> list[Result]:
        """Run the transaction.

        Returns:
            Every NVE's result (all ``ok``).

        Raises:
            NetworkTransactionError: some NVE failed; no NVE keeps a partial change
                unless the failure came at the confirming commit (see the module).
        """
        workers = min(self.max_workers, len(self._devices))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ndirector") as pool:
            self._pool = pool
            prepare = [(Step.CONNECT, self._connect), (Step.LOCK, self._lock),
                       (Step.DISCARD, self._discard), (Step.EDIT, self._edit),
                       (Step.VALIDATE, self._validate)]
            if dry_run:
                prepare.append((Step.DIFF, self._diff))
            else:
                prepare += [(Step.COMMIT, self._commit), (Step.CHECK, self._check)]
            for step, action in prepare:
                if not self._step(step, action):
                    self._rollback(failed=True)
                    raise NetworkTransactionError(self.results)
            if dry_run:
                self._rollback(failed=False)
                return self.results
            self._step(Step.CONFIRM, self._confirm)
            confirmed = [d for d in self._devices if d.confirmed]
            if len(confirmed) < len(self._devices):
                for device in confirmed:
                    device.result.notes.append(
                        "committed: another NVE failed after the commit point")
                self._rollback(failed=True)
            else:
                self._step(Step.UNLOCK, self._unlock, fail=False)
            for device in self._devices:
                if device.result.ok:
                    device.result.step = Step.DONE
        if any(not r.ok for r in self.results):
            raise NetworkTransactionError(self.results)
        return self.results

    @property
    def results(self) -> list[Result]:
        """Every NVE's result, by name."""
        return [d.result for d in self._devices]

    # -- the engine ----------------------------------------------------------------------

    def _step(self, step: Step, action: Callable[[_Device], None], *, fail: bool = True) -> bool:
        """Run ``action`` on every NVE still ok; False if any failed."""
        if self._before_step is not None:
            self._before_step(step)
        active = [d for d in self._devices if d.result.ok or step is Step.CONNECT]

        def work(device: _Device) -> None:
            device.result.step = step
            try:
                action(device)
                device.result.ok = True
            except (Nvo3Error, OSError) as error:
                if fail:
                    _record(device, step, error)
                else:
                    device.result.notes.append(f"{step}: {error}")
                logger.info("%s failed at %s: %s", device.result.nve, step, error)
            if self._progress is not None:
                self._progress(step, device.result)

        list(self._pool.map(work, active))
        return all(d.result.ok for d in self._devices)

    def _rollback(self, *, failed: bool) -> None:
        """Undo every NVE's partial change, concurrently; record what could not be.

        With ``failed``, an NVE that did not confirm is marked failed (its change is gone).
        """
        def undo(device: _Device) -> None:
            result = device.result
            if device.running_only and device.applied_running and not device.confirmed:
                device.broken = False  # undone below, on a new session if need be
            if device.broken:
                result.rolled_back = not device.confirmed
                if device.locked or device.edited or device.pending_commit:
                    result.notes.append("session lost: the NVE discards the change itself")
                return
            undone = True
            actions: list[tuple[str, Callable[[], None]]] = []
            if device.running_only:
                if device.applied_running and not device.confirmed:
                    if device.undo is None:
                        undone = False
                        result.notes.append("running-only NVE: the change stays (no undo "
                                            "edit was given)")
                    else:
                        undo_config = device.undo
                        actions.append(("undo edit", lambda: device.client.edit_config(
                            undo_config, target=Datastore.RUNNING)))
                if device.locked:
                    actions.append(("unlock", lambda: device.client.unlock(
                        Datastore.RUNNING)))
            if device.pending_commit:
                actions.append(("cancel-commit",
                                lambda: device.client.cancel_commit(self.persist)))
            if not device.running_only and (device.edited or device.locked):
                actions.append(("discard-changes", device.client.discard_changes))
            if not device.running_only and device.locked:
                actions.append(("unlock", device.client.unlock))
            for name, action in actions:
                try:
                    action()
                except (Nvo3Error, OSError) as error:
                    undone = False
                    result.notes.append(f"rollback {name} failed: {error}")
            device.pending_commit = device.edited = device.locked = False
            device.applied_running = False
            if device.confirmed:
                return
            result.rolled_back = undone
            if failed and result.ok:
                result.ok = False
                result.error_message = _OTHER_FAILED

        list(self._pool.map(undo, self._devices))

    # -- the steps -----------------------------------------------------------------------

    def _connect(self, device: _Device) -> None:
        device.broken = False
        client = device.client
        client.connect()
        if client.has_candidate:
            return
        if not client.supports(CAP_WRITABLE_RUNNING):
            raise _unsupported(client.name)
        if not device.running_only:
            device.running_only = True
            how = ("rollback-on-error" if client.supports(CAP_ROLLBACK_ON_ERROR)
                   else "no rollback-on-error: a failing edit may apply in part")
            device.result.notes.append(
                f"running-only NVE (no :candidate/:confirmed-commit): edit-config on "
                f"running with {how}; undone by an inverse edit if another NVE fails")

    def _lock(self, device: _Device) -> None:
        """Lock, retrying a short while when the datastore is busy.

        RFC 6241 sec. 7.5: another session's short-lived lock, or a server still busy
        with the last change (yuma123 refuses a lock meanwhile), is worth a retry.
        """
        delay = _LOCK_RETRY_FIRST
        for attempt in range(1, _LOCK_ATTEMPTS + 1):
            try:
                device.client.lock(device.locked_datastore)
                break
            except RPCError as error:
                if attempt == _LOCK_ATTEMPTS or error.tag.value not in _BUSY_TAGS:
                    raise
                logger.info("%s: lock refused (%s: %s); retrying in %.1f s",
                            device.result.nve, error.tag.value, error.message, delay)
                time.sleep(delay)
                delay *= 2
        device.locked = True

    def _discard(self, device: _Device) -> None:
        if not device.running_only:
            device.client.discard_changes()

    def _edit(self, device: _Device) -> None:
        if device.running_only:
            if device.client.supports(CAP_VALIDATE):
                device.client.edit_config(device.config, target=Datastore.RUNNING,
                                          test_option="test-only")
            return
        device.edited = True
        device.client.edit_config(device.config, target=Datastore.CANDIDATE)

    def _validate(self, device: _Device) -> None:
        if not device.running_only:
            device.client.validate(Datastore.CANDIDATE)

    def _diff(self, device: _Device) -> None:
        running = device.client.get_config(Datastore.RUNNING)
        if device.running_only:
            device.result.notes.append("running-only NVE: the diff shows the edit to send")
            device.result.diff = "".join(f"+{line}\n" for line in _pretty(
                _as_data(device.config)))
            return
        candidate = device.client.get_config(Datastore.CANDIDATE)
        device.result.diff = unified_diff(device.result.nve, running, candidate)

    def _commit(self, device: _Device) -> None:
        if device.running_only:
            rollback = device.client.supports(CAP_ROLLBACK_ON_ERROR)
            device.client.edit_config(
                device.config, target=Datastore.RUNNING,
                error_option="rollback-on-error" if rollback else None)
            device.applied_running = True
            return
        device.client.commit(confirmed=True, confirm_timeout=self.confirm_timeout,
                             persist=self.persist)
        device.pending_commit = True

    def _check(self, device: _Device) -> None:
        device.client.ping()

    def _confirm(self, device: _Device) -> None:
        if not device.running_only:
            device.client.commit(persist_id=self.persist)
        device.pending_commit = False
        device.edited = False
        device.confirmed = True

    def _unlock(self, device: _Device) -> None:
        device.client.unlock(device.locked_datastore)
        device.locked = False


class CapabilityError(Nvo3Error):
    """The NVE lacks a capability the transaction needs."""


def _unsupported(name: str) -> CapabilityError:
    return CapabilityError(
        f"{name} lacks :candidate with :confirmed-commit:1.1, and :writable-running")
