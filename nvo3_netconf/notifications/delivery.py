"""One subscription (RFC 5277 sec. 2.1.1): its bounded queue and its delivery thread.

The bus's dispatcher thread offers each event to every live subscription
(:meth:`Subscription.offer`); the offer only appends a reference to the shared,
already-serialized event to the subscription's queue and never blocks. The
subscription's own thread takes events off the queue, applies the subscription's
filter (RFC 5277 sec. 3.6) and sends the ``<notification>`` (sec. 4) through its sink,
the NETCONF session, whose send may block as long as the peer does not read: only
this thread waits then. When the queue is full (too many messages or too many bytes
waiting) the offer fails and the bus drops the subscriber.

A replay subscription first sends the logged events of its window, then
``<replayComplete>``, then the live events queued meanwhile (sec. 3.3); with a
``stopTime`` it ends with ``<notificationComplete>`` (sec. 2.2.1, 3.4). Nothing is sent
before :meth:`Subscription.activate`, which the session calls once the ``<ok/>`` of
``<create-subscription>`` is on the wire.

Public names: :class:`Subscription`, :class:`QueueLimits`, :class:`NotificationSink`,
:data:`Selector`, :func:`notification_message`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from lxml import etree

from nvo3_netconf.constants import NS_NC_NOTIF, NS_NOTIF
from nvo3_netconf.notifications.replay import LoggedEvent, Replay
from nvo3_netconf.notifications.times import format_date_time
from nvo3_netconf.scheduler import Clock, TimerHandle

logger = logging.getLogger(__name__)

Selector = Callable[[etree._Element], etree._Element | None]
"""A subscription's filter: the notification content it sends, or None to skip it.

Called on the subscription's thread with a private copy of the content element (which
it may modify or return); it may raise, which skips the notification (logged).
"""


class NotificationSink(Protocol):
    """Where a subscription's messages go: the subscribing NETCONF session."""

    def send_message(self, body: bytes) -> bool:
        """Send one complete message; False once the session is gone (may block)."""

    def close(self) -> None:
        """End the session (the subscriber is dropped)."""


@dataclass(frozen=True)
class QueueLimits:
    """How much may wait for one subscriber before it is dropped.

    Attributes:
        messages: notifications queued.
        bytes: bytes of notification content queued (one larger notification is still
            accepted into an empty queue).
    """

    messages: int = 1024
    bytes: int = 64 * 1024 * 1024


class _Marker(Enum):
    COMPLETE = "complete"


def notification_message(event_time: float, content: bytes) -> bytes:
    """The ``<notification>`` message (RFC 5277 sec. 4) around serialized content.

    The envelope is built with lxml; the content, serialized once for every subscriber
    and the replay log (with its own namespace declarations), is put in unparsed.
    """
    envelope = etree.Element(f"{{{NS_NOTIF}}}notification", nsmap={None: NS_NOTIF})
    etree.SubElement(envelope, f"{{{NS_NOTIF}}}eventTime").text = format_date_time(event_time)
    head = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    closing = b"</notification>"
    assert head.endswith(closing)
    return head[: -len(closing)] + content + closing


def _signal(name: str) -> bytes:
    """``<replayComplete/>`` or ``<notificationComplete/>`` (nc-notifications module)."""
    return etree.tostring(etree.Element(f"{{{NS_NC_NOTIF}}}{name}", nsmap={None: NS_NC_NOTIF}))


class Subscription:
    """The subscription of one session.

    Created by :meth:`NotificationBus.subscribe`; the bus calls :meth:`registered`,
    :meth:`offer`, :meth:`finish` and :meth:`cancel` from its dispatcher thread.

    Attributes:
        key: the subscriber's identity on the bus (the session id).
        sink: the session.
        stream: the stream subscribed to.
        streams: the event streams it receives (None: all, the NETCONF stream).
        start_time / stop_time: the replay window (epoch seconds), if any.
        timer: the stopTime timer, if one is scheduled.
    """

    def __init__(
        self,
        *,
        key: Hashable,
        sink: NotificationSink,
        stream: str,
        streams: frozenset[str] | None,
        selector: Selector | None,
        start_time: float | None,
        stop_time: float | None,
        limits: QueueLimits,
        clock: Clock,
        on_end: Callable[[Subscription], None],
    ) -> None:
        self.key = key
        self.sink = sink
        self.stream = stream
        self.streams = streams
        self.start_time = start_time
        self.stop_time = stop_time
        self.timer: TimerHandle | None = None
        self.live = False  # receives events from the dispatcher (dispatcher thread only)
        self._selector = selector
        self._limits = limits
        self._clock = clock
        self._on_end = on_end
        self._cond = threading.Condition()
        self._queue: deque[LoggedEvent | _Marker] = deque()
        self._queued_bytes = 0
        self._replay: Replay | None = None
        self._registered = threading.Event()
        self._cancelled = False
        self._thread: threading.Thread | None = None
        self._log = logging.LoggerAdapter(logger, {"session_id": key})

    # ------------------------------------------------------------ from the bus
    def wants(self, event: LoggedEvent) -> bool:
        """Whether ``event`` belongs to this subscription's stream."""
        return self.streams is None or event.stream in self.streams

    def registered(self, replay: Replay | None) -> None:
        """The bus took the replay snapshot and started offering live events."""
        with self._cond:
            if self._cancelled:
                if replay is not None:
                    replay.close()
                return
            self._replay = replay
        self._registered.set()

    def offer(self, event: LoggedEvent) -> bool:
        """Queue a live event; False when the queue is full (drop the subscriber)."""
        with self._cond:
            if self._cancelled:
                return True
            size = len(event.content)
            if self._queue and (len(self._queue) >= self._limits.messages
                                or self._queued_bytes + size > self._limits.bytes):
                return False
            self._queue.append(event)
            self._queued_bytes += size
            self._cond.notify()
        return True

    def finish(self) -> None:
        """End at stopTime: send what is queued, then ``<notificationComplete>``."""
        with self._cond:
            self._queue.append(_Marker.COMPLETE)
            self._cond.notify()

    def cancel(self) -> None:
        """End without completion notifications (session closed or subscriber dropped)."""
        with self._cond:
            self._cancelled = True
            self._queue.clear()
            self._queued_bytes = 0
            replay, started = self._replay, self._thread is not None
            if not started:
                self._replay = None
            self._cond.notify()
        if replay is not None and not started:
            replay.close()
        self._registered.set()

    @property
    def queued(self) -> int:
        """Notifications waiting to be sent."""
        with self._cond:
            return len(self._queue)

    # -------------------------------------------------------- from the session
    def activate(self) -> None:
        """Start delivering (the ``<ok/>`` reply has been sent)."""
        with self._cond:
            if self._cancelled or self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"nvo3-subscription-{self.key}", daemon=True
            )
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the delivery thread to end (tests, shutdown)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ---------------------------------------------------------------- internals
    def _run(self) -> None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        try:
            self._registered.wait()
            with self._cond:
                replay, self._replay = self._replay, None
                cancelled = self._cancelled
            if cancelled:
                if replay is not None:
                    replay.close()
                return
            if replay is not None:
                with replay:
                    for event in replay:
                        if self._cancelled or not self._deliver(event, parser):
                            return
                if not self._send_signal("replayComplete"):
                    return
            while True:
                with self._cond:
                    while not self._queue and not self._cancelled:
                        self._cond.wait()
                    if self._cancelled:
                        return
                    item = self._queue.popleft()
                    if isinstance(item, LoggedEvent):
                        self._queued_bytes -= len(item.content)
                if item is _Marker.COMPLETE:
                    # Leave the bus first: a new subscription may follow at once.
                    self._on_end(self)
                    self._send_signal("notificationComplete")
                    self._log.info("subscription ended at its stopTime")
                    return
                assert isinstance(item, LoggedEvent)
                if self.stop_time is not None and item.time > self.stop_time:
                    continue
                if not self._deliver(item, parser):
                    return
        except Exception:  # a bug here must not go unnoticed nor kill the server
            self._log.exception("notification delivery failed")
        finally:
            self._on_end(self)

    def _deliver(self, event: LoggedEvent, parser: etree.XMLParser) -> bool:
        content = event.content
        if self._selector is not None:
            try:
                selected = self._selector(etree.fromstring(content, parser))
            except Exception:
                self._log.exception("filtering notification %d failed; not sent", event.seq)
                return True
            if selected is None:
                return True
            content = etree.tostring(selected)
        return self.sink.send_message(notification_message(event.time, content))

    def _send_signal(self, name: str) -> bool:
        return self.sink.send_message(notification_message(self._clock.time(), _signal(name)))
