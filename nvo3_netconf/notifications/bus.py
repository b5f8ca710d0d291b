"""The notification bus of one server: event streams, the replay log, subscriptions.

Implements the server side of RFC 5277: event streams (sec. 3.2; the ``NETCONF``
stream carries every notification of the server, sec. 3.2.3), delivery to each
subscription (sec. 2.1, 2.2), replay from a persisted log (sec. 3.3, 3.4), and the
stream list of the ``nc-notifications`` module (sec. 3.2.1, ``/netconf/streams``).

Threads, and why publishing costs the publisher almost nothing:

- :meth:`NotificationBus.publish` (or :meth:`~NotificationBus.publish_deferred`, which
  takes a function building the content) stamps the event with its time and a
  sequence number and appends it to the bus's inbox. It never serializes, filters,
  writes or sends, and never waits for a subscriber.
- One dispatcher thread takes events off the inbox in order, builds deferred content,
  serializes each event once, appends it to the replay log (durably) and offers it to
  every live subscription. It never blocks on a peer.
- Each subscription has a bounded queue and a delivery thread
  (:class:`~nvo3_netconf.notifications.delivery.Subscription`) that filters and sends;
  a subscriber whose queue overflows is dropped: its session is closed and logged.

A request that publishes (a commit's ``netconf-config-change``) runs inside
:meth:`NotificationBus.holding`: its events are queued at once, in order, but the
dispatcher is woken only when the request is over, after its reply was sent, so the
dispatcher's work does not compete for the CPU (and the interpreter) with the reply.
While nobody subscribes, an event only has to reach the replay log (itself flushed
within :data:`LOG_SYNC_DELAY`), so the dispatcher takes events in batches, at most
:data:`QUIET_DELAY` after the first: one wake-up and one write for many commits.
A subscription, a flush or an event while someone subscribes is taken at once.

Subscribing goes through the inbox too, so the replay snapshot of a new subscription
and the start of its live events are taken at one instant of the event sequence:
every event is either replayed or delivered live, never both and never neither.

Public names: :class:`NotificationBus`, :class:`Stream`, :data:`NETCONF_STREAM`,
:class:`SubscriptionExistsError`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from types import TracebackType

from lxml import etree

from nvo3_netconf.constants import NS_NC_NOTIF
from nvo3_netconf.errors import Nvo3Error
from nvo3_netconf.notifications.delivery import (
    NotificationSink,
    QueueLimits,
    Selector,
    Subscription,
)
from nvo3_netconf.notifications.replay import LoggedEvent, Replay, ReplayLog
from nvo3_netconf.notifications.times import format_date_time
from nvo3_netconf.scheduler import Clock, Scheduler

logger = logging.getLogger(__name__)

NETCONF = "NETCONF"

LOG_SYNC_DELAY = 0.05
"""Seconds the replay log may hold written, unflushed events (see ``replay.py``)."""
LOG_SYNC_IDLE = 0.002
"""Seconds without a new event after which the replay log is flushed at once."""
QUIET_DELAY = 0.01
"""Seconds an event may wait for the dispatcher while there is no subscription."""


@dataclass(frozen=True)
class Stream:
    """An event stream (RFC 5277 sec. 3.2).

    Attributes:
        name: its name (``NETCONF`` is the default stream, sec. 3.2.3).
        description: what it carries, for ``/netconf/streams``.
        replay: whether its events are logged for replay (sec. 3.2.1 replaySupport).
    """

    name: str
    description: str
    replay: bool = True


NETCONF_STREAM = Stream(
    NETCONF,
    "Every notification of this server: the NETCONF base notifications of RFC 6470 "
    "and the NVE's own (RFC 5277 sec. 3.2.3).",
)


class SubscriptionExistsError(Nvo3Error):
    """The subscriber already has a subscription (RFC 5277 sec. 6.5)."""


@dataclass(frozen=True)
class _Pending:
    seq: int
    time: float
    stream: str
    content: etree._Element | None
    build: Callable[[], etree._Element] | None


@dataclass(frozen=True)
class _Register:
    subscription: Subscription


@dataclass(frozen=True)
class _Complete:
    subscription: Subscription


@dataclass(frozen=True)
class _Flush:
    done: threading.Event


_Item = _Pending | _Register | _Complete | _Flush


class NotificationBus:
    """Streams, the replay log and the subscriptions of one server.

    Args:
        clock: where event times come from (tests inject a manual clock).
        log: the replay log; None disables replay.
        scheduler: runs stopTime timers; without one, a subscription with a stopTime in
            the future ends at the first later event.
        limits: the bounds of each subscriber's queue.
        streams: the streams offered besides ``NETCONF``.

    Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        log: ReplayLog | None = None,
        scheduler: Scheduler | None = None,
        limits: QueueLimits | None = None,
        streams: Iterable[Stream] = (),
    ) -> None:
        self.clock = clock
        self.limits = limits or QueueLimits()
        self._log = log
        self._scheduler = scheduler
        self._streams: dict[str, Stream] = {NETCONF: NETCONF_STREAM}
        for stream in streams:
            self.add_stream(stream)
        self._cond = threading.Condition()
        self._held = threading.local()  # depth, wake: see holding()
        self._hold = _Hold(self)
        self._inbox: deque[_Item] = deque()
        self._due = math.inf  # when the dispatcher must take the inbox (monotonic)
        self._last_event = 0.0  # when the last event was published (monotonic)
        self._seq = log.last_seq if log is not None else 0
        self._closed = False
        self._lock = threading.Lock()
        self._subscriptions: dict[Hashable, Subscription] = {}
        self._thread = threading.Thread(target=self._run, name="nvo3-notifications",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ streams
    def add_stream(self, stream: Stream) -> None:
        """Offer another stream (e.g. the NVE's); its events also go to ``NETCONF``.

        Raises:
            ValueError: a stream of that name exists, or the name has a blank.
        """
        if stream.name in self._streams or not stream.name or " " in stream.name:
            raise ValueError(f"cannot add stream {stream.name!r}")
        self._streams = {**self._streams, stream.name: stream}

    def stream(self, name: str) -> Stream | None:
        """The stream called ``name``, if offered."""
        return self._streams.get(name)

    def streams(self) -> tuple[Stream, ...]:
        """Every stream offered."""
        return tuple(self._streams.values())

    def replay_supported(self, stream: Stream) -> bool:
        """Whether ``stream``'s events can be replayed."""
        return stream.replay and self._log is not None

    def streams_state(self) -> etree._Element:
        """``/manageEvent:netconf/streams`` of the nc-notifications module (RFC 5277 3.2.1)."""
        ns = NS_NC_NOTIF
        root = etree.Element(f"{{{ns}}}netconf", nsmap={None: ns})
        streams = etree.SubElement(root, f"{{{ns}}}streams")
        for stream in self.streams():
            entry = etree.SubElement(streams, f"{{{ns}}}stream")
            etree.SubElement(entry, f"{{{ns}}}name").text = stream.name
            etree.SubElement(entry, f"{{{ns}}}description").text = stream.description
            replay = self.replay_supported(stream)
            etree.SubElement(entry, f"{{{ns}}}replaySupport").text = str(replay).lower()
            if replay:
                assert self._log is not None
                etree.SubElement(entry, f"{{{ns}}}replayLogCreationTime").text = (
                    format_date_time(self._log.creation_time)
                )
        return root

    # --------------------------------------------------------------- publishing
    def publish(self, content: etree._Element, event_time: float | None = None, *,
                stream: str = NETCONF) -> None:
        """Send a notification to every subscriber of ``stream`` (and of ``NETCONF``).

        Args:
            content: the notification's top-level element, in its module's namespace
                (e.g. ``<netconf-config-change xmlns=...>``). The bus owns it from now on:
                do not modify it.
            event_time: when the event happened (epoch seconds; default: now).
            stream: the stream it belongs to.

        Raises:
            ValueError: unknown stream, or ``content`` has no namespace.
        """
        if etree.QName(content).namespace is None:
            raise ValueError("notification content must be namespace-qualified")
        self._post_event(stream, event_time, content, None)

    def publish_deferred(self, build: Callable[[], etree._Element],
                         event_time: float | None = None, *, stream: str = NETCONF) -> None:
        """Like :meth:`publish`, but ``build()`` makes the content on the bus's thread.

        For content that is costly to build (a config-change of 10,000 edits): the
        publisher only hands over what ``build`` captured, which must not change later.
        """
        self._post_event(stream, event_time, None, build)

    def _post_event(self, stream: str, event_time: float | None,
                    content: etree._Element | None,
                    build: Callable[[], etree._Element] | None) -> None:
        if stream not in self._streams:
            raise ValueError(f"unknown stream {stream!r}")
        when = self.clock.time() if event_time is None else event_time
        with self._cond:
            if self._closed:
                logger.debug("bus closed: notification dropped")
                return
            self._seq += 1
            self._inbox.append(_Pending(self._seq, when, stream, content, build))
            now = time.monotonic()
            self._last_event = now
            due = now + QUIET_DELAY if not self._subscriptions else now
            if due >= self._due:
                return  # the dispatcher is already due as early
            self._due = due
            if getattr(self._held, "depth", 0):
                self._held.wake = True  # when the hold ends
            else:
                self._cond.notify()

    def holding(self) -> _Hold:
        """A context in which this thread's events wake the dispatcher only at its end.

        Re-entrant and per thread; the events keep their order and sequence numbers.
        A :meth:`flush` or subscription inside still wakes the dispatcher at once.
        """
        return self._hold

    def _release_hold(self) -> None:
        held = self._held
        held.depth -= 1
        if not held.depth and getattr(held, "wake", False):
            held.wake = False
            with self._cond:
                self._cond.notify()

    def _post(self, item: _Item) -> None:
        with self._cond:
            if self._closed:
                if isinstance(item, _Flush):
                    item.done.set()
                return
            self._inbox.append(item)
            self._due = 0.0
            self._cond.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event published so far is logged and queued to subscribers.

        Returns:
            False on timeout.
        """
        done = threading.Event()
        self._post(_Flush(done))
        return done.wait(timeout)

    # ------------------------------------------------------------ subscriptions
    def subscribe(
        self,
        key: Hashable,
        sink: NotificationSink,
        *,
        stream: str = NETCONF,
        selector: Selector | None = None,
        start_time: float | None = None,
        stop_time: float | None = None,
    ) -> Subscription:
        """Create a subscription; it sends nothing until activated.

        Args:
            key: the subscriber (a session id): one subscription per key.
            sink: where messages go.
            stream: the stream subscribed to.
            selector: the filter, if any.
            start_time: replay logged events from this time (RFC 5277 sec. 2.1.1).
            stop_time: end the subscription at this time (needs ``start_time``).

        Returns:
            The subscription; call :meth:`Subscription.activate` after the reply.

        Raises:
            SubscriptionExistsError: ``key`` already has a subscription.
            ValueError: unknown stream, or replay asked of a stream without it.
        """
        known = self._streams.get(stream)
        if known is None:
            raise ValueError(f"unknown stream {stream!r}")
        if start_time is not None and not self.replay_supported(known):
            raise ValueError(f"stream {stream!r} does not support replay")
        subscription = Subscription(
            key=key, sink=sink, stream=stream,
            streams=None if stream == NETCONF else frozenset({stream}),
            selector=selector, start_time=start_time, stop_time=stop_time,
            limits=self.limits, clock=self.clock, on_end=self._ended,
        )
        with self._lock:
            if key in self._subscriptions:
                raise SubscriptionExistsError(f"{key} already has a subscription")
            self._subscriptions[key] = subscription
        self._post(_Register(subscription))
        if stop_time is not None:
            now = self.clock.time()
            if stop_time <= now:
                self._post(_Complete(subscription))
            elif self._scheduler is not None:
                subscription.timer = self._scheduler.call_at(
                    self.clock.monotonic() + (stop_time - now),
                    lambda: self._post(_Complete(subscription)),
                )
        logger.info("subscription of %s to %s created%s", key, stream,
                    " (replay)" if start_time is not None else "")
        return subscription

    def subscription(self, key: Hashable) -> Subscription | None:
        """The current subscription of ``key``, if any."""
        with self._lock:
            return self._subscriptions.get(key)

    def unsubscribe(self, key: Hashable) -> None:
        """End ``key``'s subscription without completion notifications (session closed)."""
        with self._lock:
            subscription = self._subscriptions.pop(key, None)
        if subscription is not None:
            self._stop(subscription)

    def _ended(self, subscription: Subscription) -> None:
        """A subscription's thread finished (stopTime, or its session went away)."""
        with self._lock:
            if self._subscriptions.get(subscription.key) is subscription:
                del self._subscriptions[subscription.key]
        if self._scheduler is not None:
            self._scheduler.cancel(subscription.timer)

    def _stop(self, subscription: Subscription) -> None:
        subscription.cancel()
        if self._scheduler is not None:
            self._scheduler.cancel(subscription.timer)

    def _drop(self, subscription: Subscription) -> None:
        """The subscriber does not keep up: end its subscription and its session."""
        with self._lock:
            if self._subscriptions.get(subscription.key) is subscription:
                del self._subscriptions[subscription.key]
        subscription.live = False
        logger.warning(
            "session %s does not read its notifications (%d queued, limits %d messages / "
            "%d bytes): closing it", subscription.key, subscription.queued,
            self.limits.messages, self.limits.bytes,
        )
        self._stop(subscription)
        # Closing a channel may wait for the SSH transport: not on this thread.
        threading.Thread(target=subscription.sink.close, name="nvo3-notifications-drop",
                         daemon=True).start()

    # --------------------------------------------------------------- dispatcher
    def _run(self) -> None:
        unsynced_since: float | None = None  # when the replay log got unflushed records
        while True:
            with self._cond:
                while not self._closed:
                    now = time.monotonic()
                    if self._inbox and now >= self._due:
                        break
                    wake = self._due if self._inbox else math.inf
                    if unsynced_since is not None:
                        # Flush once quiet for a moment, or once waited long enough.
                        flush_at = min(unsynced_since + LOG_SYNC_DELAY,
                                       max(self._last_event, unsynced_since) + LOG_SYNC_IDLE)
                        if now >= flush_at:
                            break
                        wake = min(wake, flush_at)
                    self._cond.wait(None if wake == math.inf else wake - now)
                batch = list(self._inbox)
                self._inbox.clear()
                self._due = math.inf
            if unsynced_since is not None and (
                    not batch or time.monotonic() - unsynced_since >= LOG_SYNC_DELAY):
                self._sync_log()
                unsynced_since = None
            if not batch:
                if self._closed:
                    return
                continue
            self._handle_batch(batch)
            if unsynced_since is None and self._log is not None and self._log.unsynced:
                unsynced_since = time.monotonic()

    def _sync_log(self) -> None:
        assert self._log is not None
        try:
            self._log.sync()
        except OSError as error:
            logger.error("replay log %s: cannot flush (%s)", self._log.path, error)

    def _handle_batch(self, batch: list[_Item]) -> None:
        events: list[LoggedEvent] = []
        for item in batch:
            try:
                if isinstance(item, _Pending):
                    event = self._materialize(item)
                    if event is not None:
                        events.append(event)
                    continue
                self._dispatch(events)
                events = []
                self._control(item)
            except Exception:  # the dispatcher must survive any one event
                logger.exception("notification dispatch failed")
        try:
            self._dispatch(events)
        except Exception:
            logger.exception("notification dispatch failed")

    def _materialize(self, item: _Pending) -> LoggedEvent | None:
        content = item.content
        if item.build is not None:
            try:
                content = item.build()
            except Exception:
                logger.exception("building notification %d failed; dropped", item.seq)
                return None
        assert content is not None
        if etree.QName(content).namespace is None:
            logger.error("notification %d has no namespace; dropped", item.seq)
            return None
        return LoggedEvent(item.seq, item.time, item.stream, etree.tostring(content))

    def _dispatch(self, events: list[LoggedEvent]) -> None:
        if not events:
            return
        if self._log is not None:
            logged = [e for e in events if self._streams[e.stream].replay]
            try:
                self._log.append(logged)
            except OSError as error:
                logger.error("replay log %s: cannot append (%s); events not logged",
                             self._log.path, error)
        with self._lock:
            live = [s for s in self._subscriptions.values() if s.live]
        for subscription in live:
            for event in events:
                if not subscription.live:
                    break
                if not subscription.wants(event):
                    continue
                if subscription.stop_time is not None and event.time > subscription.stop_time:
                    subscription.live = False
                    subscription.finish()
                elif not subscription.offer(event):
                    self._drop(subscription)

    def _control(self, item: _Item) -> None:
        if isinstance(item, _Register):
            subscription = item.subscription
            with self._lock:
                current = self._subscriptions.get(subscription.key) is subscription
            if not current:
                subscription.registered(None)
                return
            replay: Replay | None = None
            if subscription.start_time is not None and self._log is not None:
                replay = self._log.replay(start=subscription.start_time,
                                          stop=subscription.stop_time,
                                          streams=subscription.streams)
            subscription.live = True
            subscription.registered(replay)
        elif isinstance(item, _Complete):
            if item.subscription.live:
                item.subscription.live = False
                item.subscription.finish()
        elif isinstance(item, _Flush):
            item.done.set()

    # ------------------------------------------------------------------- close
    def close(self) -> None:
        """Deliver what is published to the log, end every subscription, stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)
        with self._lock:
            subscriptions = list(self._subscriptions.values())
            self._subscriptions.clear()
        for subscription in subscriptions:
            self._stop(subscription)
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> NotificationBus:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _Hold:
    """The context manager of :meth:`NotificationBus.holding` (one per bus)."""

    __slots__ = ("_bus",)

    def __init__(self, bus: NotificationBus) -> None:
        self._bus = bus

    def __enter__(self) -> None:
        held = self._bus._held
        held.depth = getattr(held, "depth", 0) + 1

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._bus._release_hold()
