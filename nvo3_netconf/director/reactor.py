"""Event-driven control: NVE notifications in, registry updates and transactions out.

:class:`Reactor` keeps one notification session per NVE (RFC 5277
``<create-subscription>``, separate from the configuration sessions), reconnecting with
exponential backoff. After a reconnect it asks for a replay from the last event it saw,
so nothing signalled while the session was down is missed (where the NVE keeps a replay
log). On every (re)connect it reads the NVE's ``netconf-start-time`` (RFC 6022): a
changed start time means the NVE restarted. Whenever an NVE comes back (restarted or
only reconnected) the reactor checks it against the intent (missing, changed and added
items) and, when it drifted — an NVE that came back empty, or was edited meanwhile —
repairs it (``repair``, on by default) and reports it.

One thread reacts: it waits for the first event, collects those that arrive within
``batch_window`` seconds, folds them all into the registry
(:meth:`~.controller.Director.handle`) and makes one :meth:`~.controller.Director.apply`:
a burst of associations becomes one transaction, not one per VM.

Public names: :class:`Reactor`, :class:`ReactorEvent`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from nvo3_netconf.constants import NS_MONITORING, NS_NC
from nvo3_netconf.director.controller import ApplyOutcome, Director
from nvo3_netconf.director.inventory import InventoryError
from nvo3_netconf.errors import Nvo3Error
from nvo3_netconf.protocol.xml import element, sub
from nvo3_netconf.tes.connection import NetconfConnection, NVEConnectionError
from nvo3_netconf.tes.events import Event, Subscription, parse_notification

__all__ = ["Reactor", "ReactorEvent"]

logger = logging.getLogger(__name__)

_POLL: Final = 0.2


@dataclass(frozen=True)
class ReactorEvent:
    """Something the reactor saw or did, for a person (``ndirector run``) or a test.

    Attributes:
        kind: ``connected``, ``disconnected``, ``restarted``, ``reconnected``,
            ``notification``,
            ``applied``, ``repaired`` or ``error``.
        nve: the NVE concerned (``None`` for a network-wide transaction).
        message: what happened, in words.
        event: the notification, for ``notification``.
        outcome: the transaction's outcome, for ``applied`` and ``repaired``.
        time: when (seconds since the epoch).
    """

    kind: str
    nve: str | None
    message: str
    event: Event | None = None
    outcome: ApplyOutcome | None = None
    time: float = field(default_factory=time.time)


class Reactor:
    """Watches every NVE of the inventory and keeps the network following the registry.

    Args:
        director: the controller.
        batch_window: seconds to wait for more events before reacting to a burst.
        backoff: the first wait before reconnecting (doubled up to ``max_backoff``).
        max_backoff: the longest wait.
        repair: resend everything to an NVE found without its configuration.
        report: called with each :class:`ReactorEvent` (from the reactor's threads).
        react: fold notifications into the registry and push; ``False`` only reports
            them (``ndirector watch``), changing nothing.
    """

    def __init__(self, director: Director, *, batch_window: float = 0.05,
                 backoff: float = 0.2, max_backoff: float = 10.0, repair: bool = True,
                 report: Callable[[ReactorEvent], None] | None = None,
                 react: bool = True) -> None:
        self.director = director
        self.react = react
        self.batch_window = batch_window
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.repair = repair
        self._report = report
        self._events: queue.Queue[tuple[str, Event | _Restarted]] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._start_times: dict[str, str] = {}
        self._connected: dict[str, threading.Event] = {}
        self.applied = threading.Event()
        """Set after each reaction's transaction (tests wait on it)."""

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Reactor:
        """Start watching every NVE of the inventory, and reacting."""
        for record in self.director.inventory.list():
            self._connected[record.name] = threading.Event()
            self._spawn(f"watch-{record.name}", self._watch, record.name)
        self._spawn("react", self._react)
        return self

    def wait_connected(self, timeout: float = 30.0) -> bool:
        """Every NVE's notification session is up (subscribed)."""
        deadline = time.monotonic() + timeout
        return all(e.wait(max(0.0, deadline - time.monotonic()))
                   for e in self._connected.values())

    def stop(self) -> None:
        """Stop every thread (each ends within a poll interval)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"ndirector-{name}",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)

    def _emit(self, event: ReactorEvent) -> None:
        logger.info("%s %s: %s", event.kind, event.nve or "network", event.message)
        if self._report is not None:
            self._report(event)

    # -- one NVE's notification session --------------------------------------------------

    def _watch(self, nve: str) -> None:
        delay = self.backoff
        last_event: datetime | None = None
        first = True
        while not self._stop.is_set():
            try:
                params = self.director.inventory.get(nve).connection_params(
                    timeout=self.director.pool.timeout)
                connection = NetconfConnection.open(params)
            except (NVEConnectionError, InventoryError) as error:
                self._connected[nve].clear()
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff)
                logger.debug("%s: cannot connect for notifications: %s", nve, error)
                continue
            delay = self.backoff
            try:
                restarted = self._check_start(nve, connection)
                replay = last_event if not restarted else None
                connection.call(Subscription(start_time=replay).to_element())
                self._connected[nve].set()
                self._emit(ReactorEvent("connected", nve, "subscribed to notifications"
                                        + (f" (replay from {replay.isoformat()})"
                                           if replay else "")))
                if restarted or not first:
                    self._events.put((nve, _Restarted(restarted)))
                first = False
                while not self._stop.is_set():
                    root = connection.next_notification(_POLL)
                    if root is None:
                        continue
                    event = parse_notification(root)
                    last_event = event.event_time
                    self._events.put((nve, event))
            except (Nvo3Error, OSError) as error:
                self._connected[nve].clear()
                self._emit(ReactorEvent("disconnected", nve, str(error)))
            finally:
                connection.close()

    def _check_start(self, nve: str, connection: NetconfConnection) -> bool:
        """Read ``netconf-start-time``; True if it changed since the last connection."""
        get = element(NS_NC, "get")
        flt = sub(get, NS_NC, "filter")
        flt.set("type", "subtree")
        state = sub(flt, NS_MONITORING, "netconf-state")
        sub(sub(state, NS_MONITORING, "statistics"), NS_MONITORING, "netconf-start-time")
        started = None
        for data in connection.call(get).data:
            started = data.findtext(f".//{{{NS_MONITORING}}}netconf-start-time")
        previous = self._start_times.get(nve)
        if started is not None:
            self._start_times[nve] = started
        return previous is not None and started is not None and started != previous

    # -- reacting ------------------------------------------------------------------------

    def _react(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._events.get(timeout=_POLL)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + self.batch_window
            while (left := deadline - time.monotonic()) > 0:
                try:
                    batch.append(self._events.get(timeout=left))
                except queue.Empty:
                    break
            try:
                self._handle(batch)
            except Exception as error:  # noqa: BLE001 - the reactor keeps running
                logger.exception("reacting to %d events failed", len(batch))
                self._emit(ReactorEvent("error", None, f"reacting failed: {error}"))
            self.applied.set()

    def _handle(self, batch: list[tuple[str, Event | _Restarted]]) -> None:
        changed = False
        for nve, event in batch:
            if isinstance(event, _Restarted):
                if self.react:
                    self._on_reconnect(nve, event.restarted)
                else:
                    self._emit(ReactorEvent("restarted" if event.restarted else "reconnected",
                                            nve, "came back"))
                continue
            self._emit(ReactorEvent("notification", nve, _describe(event), event=event))
            if self.react:
                changed |= self.director.handle(nve, event)
        if changed:
            outcome = self.director.apply()
            self._emit(ReactorEvent(
                "applied", None, f"{sum(p.count for p in outcome.plans)} item changes on "
                f"{len(outcome.plans)} NVEs: {'ok' if outcome.ok else 'FAILED'}",
                outcome=outcome))

    def _on_reconnect(self, nve: str, restarted: bool) -> None:
        """An NVE came back: check it against the intent; repair it if it drifted."""
        kind = "restarted" if restarted else "reconnected"
        try:
            differences = self.director.check(nve)
        except (Nvo3Error, OSError) as error:
            self._emit(ReactorEvent("error", nve, f"{kind}; checking it failed: {error}"))
            return
        counts = {k: sum(1 for d in differences if d.kind == k)
                  for k in ("missing", "changed", "added")}
        summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "in sync"
        self._emit(ReactorEvent(kind, nve, f"{kind}; {summary}"))
        if differences and self.repair:
            outcome = self.director.repair([nve])
            self._emit(ReactorEvent(
                "repaired", nve, f"repaired {sum(p.count for p in outcome.plans)} items: "
                f"{'ok' if outcome.ok else 'FAILED'}", outcome=outcome))


@dataclass(frozen=True)
class _Restarted:
    """Queue marker: the NVE's notification session came back (after a restart?)."""

    restarted: bool


def _describe(event: Event) -> str:
    vm = getattr(event, "vm", None)
    state = getattr(event, "new_state", None)
    parts = [event.name]
    if vm is not None:
        parts.append(f"VM {vm.vm_id}")
    if state is not None:
        parts.append(f"-> {state.value}")
    return " ".join(parts)
