"""One timer thread per server, reading time from an injected clock.

Confirmed-commit timeouts (RFC 6241 sec. 8.4), VM aging and keep-alive timers all go
through a :class:`Scheduler`. Time comes from a :class:`Clock`; tests inject a
:class:`ManualClock` and advance it instead of sleeping.

Public classes: :class:`Clock`, :class:`SystemClock`, :class:`ManualClock`,
:class:`Scheduler`, :class:`TimerHandle`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger(__name__)


class Clock(Protocol):
    """Where the server reads the time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines)."""

    def time(self) -> float:
        """Seconds since the epoch (timestamps shown to people and peers)."""


class SystemClock:
    """The real clocks of the operating system."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def time(self) -> float:
        """``time.time()``."""
        return time.time()


class ManualClock:
    """A clock that moves only when told to; wakes the schedulers attached to it."""

    def __init__(self, start: float = 1_000_000.0, epoch: float = 1_790_000_000.0) -> None:
        self._now = start
        self._epoch_offset = epoch - start
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        """The current manual time."""
        with self._lock:
            return self._now

    def time(self) -> float:
        """The manual time on the epoch scale."""
        with self._lock:
            return self._now + self._epoch_offset

    def advance(self, seconds: float) -> None:
        """Move time forward and run every timer now due."""
        with self._lock:
            self._now += seconds
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def attach(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every :meth:`advance` (used by :class:`Scheduler`)."""
        with self._lock:
            self._listeners.append(listener)


@dataclass(order=True)
class TimerHandle:
    """A scheduled call; pass it to :meth:`Scheduler.cancel`."""

    deadline: float
    sequence: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Scheduler:
    """Runs callbacks at deadlines of an injected clock on one daemon thread.

    Callbacks run on the scheduler thread, one at a time; an exception in one is
    logged and does not stop the others. Use as a context manager or call :meth:`stop`.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._heap: list[TimerHandle] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._manual = isinstance(self.clock, ManualClock)
        if isinstance(self.clock, ManualClock):
            self.clock.attach(self._run_due_now)
        self._thread = threading.Thread(target=self._run, name="nvo3-scheduler", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` ``delay`` seconds from now on the scheduler's clock."""
        return self.call_at(self.clock.monotonic() + delay, callback)

    def call_at(self, deadline: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` when the clock's monotonic time reaches ``deadline``."""
        handle = TimerHandle(deadline, next(self._counter), callback)
        with self._cond:
            heapq.heappush(self._heap, handle)
            self._cond.notify()
        return handle

    def cancel(self, handle: TimerHandle | None) -> None:
        """Cancel a scheduled call (no effect if it already ran)."""
        if handle is not None:
            handle.cancelled = True

    def stop(self) -> None:
        """Stop the thread; pending calls are dropped."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pop_due(self) -> list[TimerHandle]:
        now = self.clock.monotonic()
        due: list[TimerHandle] = []
        while self._heap and self._heap[0].deadline <= now:
            handle = heapq.heappop(self._heap)
            if not handle.cancelled:
                due.append(handle)
        return due

    def _run_due_now(self) -> None:
        """Run due callbacks in the caller's thread (a manual clock just advanced)."""
        with self._cond:
            due = self._pop_due()
        self._invoke(due)

    def _invoke(self, due: list[TimerHandle]) -> None:
        for handle in due:
            try:
                handle.callback()
            except Exception:  # a timer's failure must not kill the others
                logger.exception("timer callback failed")

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                due = self._pop_due()
                if not due:
                    timeout = None
                    if self._heap and not self._manual:
                        timeout = max(0.0, self._heap[0].deadline - self.clock.monotonic())
                    self._cond.wait(timeout)
                    continue
            self._invoke(due)
