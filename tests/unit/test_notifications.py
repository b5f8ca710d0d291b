"""RFC 5277 notifications without a socket: the bus, queues, the replay log, filters.

The sink standing in for a NETCONF session records the messages it is given (and can
be made to block, like a session whose peer stops reading); time comes from a
:class:`ManualClock`.
"""

from __future__ import annotations

import time
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from nvo3_netconf.constants import (
    CAP_BASE_10,
    NS_NC,
    NS_NC_NOTIF,
    NS_NOTIF,
    FramingVersion,
    TerminationReason,
)
from nvo3_netconf.errors import BadAttributeError, InvalidValueError
from nvo3_netconf.notifications import (
    LoggedEvent,
    NotificationBus,
    QueueLimits,
    ReplayLog,
    SessionIdentity,
    Stream,
    SubscriptionExistsError,
    config_change,
    format_date_time,
    notification_message,
    parse_date_time,
    session_end,
)
from nvo3_netconf.protocol.dispatch import Dispatcher, RPCContext
from nvo3_netconf.protocol.messages import build_hello, build_rpc
from nvo3_netconf.protocol.ops.subscription import notification_selector
from nvo3_netconf.protocol.session import NetconfSession, SessionInfo
from nvo3_netconf.scheduler import ManualClock, Scheduler
from nvo3_netconf.transport.framing import encode_message

NS_EX = "urn:example:events"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"


class Sink:
    """Collects messages; with ``blocked`` cleared, send_message waits like a full window."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.cond = threading.Condition()
        self.open = threading.Event()
        self.open.set()
        self.closed = threading.Event()

    def send_message(self, body: bytes) -> bool:
        self.open.wait()
        if self.closed.is_set():
            return False
        with self.cond:
            self.messages.append(body)
            self.cond.notify_all()
        return True

    def close(self) -> None:
        self.closed.set()
        self.open.set()

    def wait_for(self, count: int, timeout: float = 10) -> list[etree._Element]:
        """The first ``count`` notifications (parsed); fails if they do not come."""
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.messages) >= count, timeout), (
                f"{len(self.messages)} of {count} notifications arrived")
            return [etree.fromstring(m) for m in self.messages[:count]]


def event(name: str, value: str = "") -> etree._Element:
    root = etree.Element(f"{{{NS_EX}}}{name}", nsmap={None: NS_EX})
    etree.SubElement(root, f"{{{NS_EX}}}value").text = value
    return root


def content_of(notification: etree._Element) -> etree._Element:
    """The content element of a ``<notification>``."""
    assert notification.tag == f"{{{NS_NOTIF}}}notification"
    return notification[1]


def summary(notification: etree._Element) -> str:
    """``name`` or ``name=value`` of a notification, for comparing sequences."""
    content = content_of(notification)
    value = content.findtext(f"{{{NS_EX}}}value")
    name = etree.QName(content).localname
    return f"{name}={value}" if value else name


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def scheduler(clock: ManualClock) -> Iterator[Scheduler]:
    with Scheduler(clock) as running:
        yield running


def new_log(path: Path, clock: ManualClock, **bounds: int) -> ReplayLog:
    return ReplayLog(path, max_records=bounds.get("records", 1000),
                     max_bytes=bounds.get("bytes", 1 << 20), now=clock.time)


@pytest.fixture
def bus(tmp_path: Path, clock: ManualClock, scheduler: Scheduler) -> Iterator[NotificationBus]:
    with NotificationBus(clock=clock, log=new_log(tmp_path / "n.log", clock),
                         scheduler=scheduler, limits=QueueLimits(messages=8)) as running:
        yield running


# --------------------------------------------------------------------- times
def test_date_and_time_round_trip() -> None:
    assert format_date_time(1_790_000_000.25) == "2026-09-21T14:13:20.250000Z"
    assert parse_date_time("2026-09-21T14:13:20.25Z") == 1_790_000_000.25
    assert parse_date_time("2026-09-21T16:13:20+02:00") == 1_790_000_000
    assert parse_date_time("2026-09-21T14:13:20-00:00") == 1_790_000_000


@pytest.mark.parametrize("text", ["2026-09-21", "2026-09-21T14:13:20", "yesterday",
                                  "2026-13-21T14:13:20Z", "2026-09-21T14:13:20.Z"])
def test_date_and_time_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date_time(text)


def test_notification_message_wraps_serialized_content() -> None:
    message = etree.fromstring(notification_message(1_790_000_000.0,
                                                    etree.tostring(event("e", "1"))))
    assert message.findtext(f"{{{NS_NOTIF}}}eventTime") == "2026-09-21T14:13:20.000000Z"
    assert summary(message) == "e=1"


# ----------------------------------------------------------------- replay log
def logged(seq: int, time: float, stream: str = "NETCONF", size: int = 0) -> LoggedEvent:
    return LoggedEvent(seq, time, stream, etree.tostring(event("e", str(seq) + "x" * size)))


def replayed(log: ReplayLog, start: float = 0, stop: float | None = None,
             streams: frozenset[str] | None = None) -> list[int]:
    with log.replay(start=start, stop=stop, streams=streams) as replay:
        return [e.seq for e in replay]


def test_replay_log_survives_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    log = new_log(tmp_path / "n.log", clock)
    created = log.creation_time
    log.append([logged(1, 10.0), logged(2, 20.0, "nve")])
    log.close()
    clock.advance(100)
    again = new_log(tmp_path / "n.log", clock)
    assert again.creation_time == created
    assert again.last_seq == 2
    with again.replay(start=0, stop=None, streams=None) as replay:
        events = list(replay)
    assert [(e.seq, e.time, e.stream) for e in events] == [(1, 10.0, "NETCONF"), (2, 20.0, "nve")]
    assert etree.fromstring(events[1].content).findtext(f"{{{NS_EX}}}value") == "2"
    again.close()


def test_replay_log_appends_are_flushed_by_sync_and_close(tmp_path: Path,
                                                          clock: ManualClock) -> None:
    log = new_log(tmp_path / "n.log", clock)
    assert not log.unsynced
    log.append([logged(1, 10.0)])
    assert log.unsynced  # written (a crash of the process loses nothing), not flushed
    log.sync()
    assert not log.unsynced
    log.append([logged(2, 20.0)])
    log.close()
    assert not log.unsynced
    assert replayed(new_log(tmp_path / "n.log", clock)) == [1, 2]


def test_bus_flushes_the_replay_log_once_events_stop(tmp_path: Path, clock: ManualClock,
                                                    scheduler: Scheduler) -> None:
    log = new_log(tmp_path / "n.log", clock)
    with NotificationBus(clock=clock, log=log, scheduler=scheduler) as bus:
        for n in range(20):
            bus.publish(event("e", str(n)))
        deadline = time.monotonic() + 5
        while log.unsynced or len(log) < 20:
            assert time.monotonic() < deadline, "the replay log was not flushed"
            time.sleep(0.005)
    assert replayed(new_log(tmp_path / "n.log", clock)) == list(range(1, 21))


def test_without_subscribers_events_reach_the_log_in_batches(
        tmp_path: Path, clock: ManualClock, scheduler: Scheduler) -> None:
    """Nobody waits for them: one wake-up of the dispatcher serves many events."""
    log = new_log(tmp_path / "n.log", clock)
    with NotificationBus(clock=clock, log=log, scheduler=scheduler) as bus:
        batches: list[int] = []
        handle = bus._handle_batch  # noqa: SLF001 - counting the dispatcher's batches

        def counted(batch: list) -> None:  # type: ignore[type-arg]
            batches.append(len(batch))
            handle(batch)

        bus._handle_batch = counted  # type: ignore[method-assign]  # noqa: SLF001
        for n in range(50):
            bus.publish(event("e", str(n)))
        deadline = time.monotonic() + 5
        while len(log) < 50:
            assert time.monotonic() < deadline, "the events never reached the log"
            time.sleep(0.005)
        assert sum(batches) == 50 and len(batches) < 25, batches
        # A subscriber: its events are taken at once (no batching delay to wait out).
        sink = Sink()
        bus.subscribe(1, sink).activate()
        bus.publish(event("live"))
        assert [summary(n) for n in sink.wait_for(1)] == ["live"]
    assert replayed(new_log(tmp_path / "n.log", clock)) == list(range(1, 52))


def test_replay_log_selects_the_window_and_stream(tmp_path: Path, clock: ManualClock) -> None:
    log = new_log(tmp_path / "n.log", clock)
    log.append([logged(1, 10.0), logged(2, 20.0, "nve"), logged(3, 30.0), logged(4, 40.0)])
    assert replayed(log, start=20) == [2, 3, 4]
    assert replayed(log, start=20, stop=30) == [2, 3]
    assert replayed(log, start=0, streams=frozenset({"nve"})) == [2]
    assert replayed(log, start=41) == []
    log.close()


def test_replay_log_drops_the_oldest_past_its_record_bound(tmp_path: Path,
                                                           clock: ManualClock) -> None:
    log = new_log(tmp_path / "n.log", clock, records=3)
    for seq in range(1, 21):
        log.append([logged(seq, float(seq))])
    assert replayed(log) == [18, 19, 20]
    # dropped records are also gone from the file (rewritten at twice the bound)
    assert (tmp_path / "n.log").stat().st_size < 7 * len(logged(20, 20.0).encode())
    log.close()
    assert replayed(new_log(tmp_path / "n.log", clock, records=3)) == [18, 19, 20]


def test_replay_log_drops_the_oldest_past_its_byte_bound(tmp_path: Path,
                                                         clock: ManualClock) -> None:
    record = len(logged(1, 1.0, size=1000).encode())
    log = new_log(tmp_path / "n.log", clock, bytes=3 * record + 10)
    for seq in range(1, 11):
        log.append([logged(seq, float(seq), size=1000)])
    assert replayed(log) == [8, 9, 10]
    assert log.size <= 3 * record + 10
    log.close()
    # a smaller bound on restart applies at once
    smaller = new_log(tmp_path / "n.log", clock, bytes=2 * record + 10)
    assert replayed(smaller) == [9, 10]
    smaller.close()


def test_replay_log_cuts_a_torn_tail(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "n.log"
    log = new_log(path, clock)
    log.append([logged(1, 1.0), logged(2, 2.0)])
    log.close()
    intact = path.stat().st_size
    with path.open("ab") as handle:  # a crash in the middle of appending record 3
        handle.write(logged(3, 3.0).encode()[:25])
    again = new_log(path, clock)
    assert replayed(again) == [1, 2]
    assert path.stat().st_size == intact
    again.append([logged(3, 3.0)])
    assert replayed(again) == [1, 2, 3]
    again.close()


def test_replay_log_with_a_corrupt_record_keeps_what_precedes(tmp_path: Path,
                                                              clock: ManualClock) -> None:
    path = tmp_path / "n.log"
    log = new_log(path, clock)
    log.append([logged(1, 1.0), logged(2, 2.0), logged(3, 3.0)])
    log.close()
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # a bit flip in the last record: its checksum fails
    path.write_bytes(bytes(data))
    assert replayed(new_log(path, clock)) == [1, 2]


def test_replay_log_with_an_unreadable_header_starts_anew(tmp_path: Path,
                                                          clock: ManualClock) -> None:
    path = tmp_path / "n.log"
    path.write_bytes(b"nvo3-repl")  # torn while being created
    clock.advance(5)
    log = new_log(path, clock)
    assert log.creation_time == clock.time()
    assert replayed(log) == []
    log.append([logged(1, 1.0)])
    assert replayed(log) == [1]
    log.close()


def test_a_replay_reads_its_snapshot_despite_a_rewrite(tmp_path: Path,
                                                       clock: ManualClock) -> None:
    log = new_log(tmp_path / "n.log", clock, records=2)
    log.append([logged(1, 1.0), logged(2, 2.0)])
    with log.replay(start=0, stop=None, streams=None) as replay:
        for seq in range(3, 10):  # drops 1 and 2, rewrites the file
            log.append([logged(seq, float(seq))])
        assert [e.seq for e in replay] == [1, 2]
    log.close()


# ------------------------------------------------------------------------ bus
def test_subscriber_gets_what_is_published_after_it_subscribed(bus: NotificationBus) -> None:
    bus.publish(event("before"))
    sink = Sink()
    bus.subscribe(1, sink).activate()
    bus.publish(event("after", "1"))
    bus.publish(event("after", "2"), 1_790_000_500.0)
    received = sink.wait_for(2)
    assert [summary(n) for n in received] == ["after=1", "after=2"]
    assert received[1].findtext(f"{{{NS_NOTIF}}}eventTime") == "2026-09-21T14:21:40.000000Z"


def test_nothing_is_sent_before_activation(bus: NotificationBus) -> None:
    sink = Sink()
    subscription = bus.subscribe(1, sink)
    bus.publish(event("e", "1"))
    assert bus.flush(10)
    assert sink.messages == []
    subscription.activate()
    assert [summary(n) for n in sink.wait_for(1)] == ["e=1"]


def test_streams_route_events(bus: NotificationBus) -> None:
    bus.add_stream(Stream("nve", "NVE events", replay=False))
    everything, nve_only = Sink(), Sink()
    bus.subscribe(1, everything).activate()
    bus.subscribe(2, nve_only, stream="nve").activate()
    bus.publish(event("base"))
    bus.publish(event("vm"), stream="nve")
    assert [summary(n) for n in everything.wait_for(2)] == ["base", "vm"]
    assert [summary(n) for n in nve_only.wait_for(1)] == ["vm"]
    with pytest.raises(ValueError):
        bus.publish(event("x"), stream="nope")
    with pytest.raises(ValueError):
        bus.subscribe(3, Sink(), stream="nve", start_time=0.0)  # no replay on "nve"


def test_streams_state_lists_the_streams(bus: NotificationBus) -> None:
    bus.add_stream(Stream("nve", "NVE events", replay=False))
    state = bus.streams_state()
    ns = {"m": NS_NC_NOTIF}
    assert state.xpath("m:streams/m:stream/m:name/text()", namespaces=ns) == ["NETCONF", "nve"]
    assert state.xpath("m:streams/m:stream/m:replaySupport/text()",
                       namespaces=ns) == ["true", "false"]
    assert state.xpath("m:streams/m:stream[m:name='NETCONF']/m:replayLogCreationTime/text()",
                       namespaces=ns) == ["2026-09-21T14:13:20.000000Z"]


def test_one_subscription_per_subscriber(bus: NotificationBus) -> None:
    bus.subscribe(1, Sink())
    with pytest.raises(SubscriptionExistsError):
        bus.subscribe(1, Sink())
    bus.unsubscribe(1)
    bus.subscribe(1, Sink())


def test_content_must_have_a_namespace(bus: NotificationBus) -> None:
    with pytest.raises(ValueError):
        bus.publish(etree.Element("plain"))


def test_deferred_content_is_built_on_the_bus_thread(bus: NotificationBus) -> None:
    threads: list[str] = []

    def build() -> etree._Element:
        threads.append(threading.current_thread().name)
        return event("built")

    def broken() -> etree._Element:
        raise RuntimeError("a bug in a builder")

    sink = Sink()
    bus.subscribe(1, sink).activate()
    bus.publish_deferred(broken)  # logged and skipped; the bus goes on
    bus.publish_deferred(build)
    assert [summary(n) for n in sink.wait_for(1)] == ["built"]
    assert threads == ["nvo3-notifications"]


def test_replay_then_replay_complete_then_live(bus: NotificationBus,
                                               clock: ManualClock) -> None:
    start = clock.time()
    bus.publish(event("old", "1"), start - 10)
    bus.publish(event("old", "2"), start)
    clock.advance(5)
    bus.publish(event("old", "3"))
    sink = Sink()
    bus.subscribe(1, sink, start_time=start).activate()
    bus.publish(event("new"))
    received = sink.wait_for(4)
    assert [summary(n) for n in received] == ["old=2", "old=3", "replayComplete", "new"]
    assert etree.QName(content_of(received[2])).namespace == NS_NC_NOTIF


def test_replay_with_a_past_stop_time_completes(bus: NotificationBus,
                                                clock: ManualClock) -> None:
    t0 = clock.time()
    for i in range(4):
        bus.publish(event("e", str(i)), t0 + 10 * i)
    clock.advance(100)
    sink = Sink()
    bus.subscribe(1, sink, start_time=t0 + 10, stop_time=t0 + 20).activate()
    received = sink.wait_for(4)
    assert [summary(n) for n in received] == ["e=1", "e=2", "replayComplete",
                                              "notificationComplete"]
    sink2 = Sink()
    with sink.cond:  # the subscription ended: the subscriber may subscribe again
        sink.cond.wait_for(lambda: bus.subscription(1) is None, 10)
    bus.subscribe(1, sink2).activate()
    bus.publish(event("later"))
    assert [summary(n) for n in sink2.wait_for(1)] == ["later"]


def test_stop_time_in_the_future_ends_when_the_clock_gets_there(
        bus: NotificationBus, clock: ManualClock) -> None:
    now = clock.time()
    sink = Sink()
    bus.subscribe(1, sink, start_time=now, stop_time=now + 60).activate()
    bus.publish(event("live"))
    clock.advance(61)  # the stopTime timer fires
    bus.publish(event("too-late"))
    received = sink.wait_for(3)
    assert [summary(n) for n in received] == ["replayComplete", "live", "notificationComplete"]
    assert bus.flush(10)
    assert len(sink.messages) == 3


def test_replay_neither_misses_nor_repeats_events_published_meanwhile(
        tmp_path: Path, clock: ManualClock) -> None:
    total = 3000
    go = threading.Event()
    # room for every event in the log and in the queue: this test is about order
    with NotificationBus(clock=clock, log=new_log(tmp_path / "n.log", clock, records=total),
                         limits=QueueLimits(messages=total + 10)) as bus:

        def publisher() -> None:
            for i in range(total):
                if i == 200:
                    go.set()
                bus.publish(event("e", str(i)))

        thread = threading.Thread(target=publisher)
        thread.start()
        go.wait(10)
        sink = Sink()
        bus.subscribe(1, sink, start_time=clock.time()).activate()
        thread.join()
        received = [summary(n) for n in sink.wait_for(total + 1)]
    received.remove("replayComplete")
    assert received == [f"e={i}" for i in range(total)]


def test_events_survive_a_restart_of_the_bus(tmp_path: Path, clock: ManualClock) -> None:
    with NotificationBus(clock=clock, log=new_log(tmp_path / "n.log", clock)) as first:
        first.publish(event("kept", "1"))
        first.publish(event("kept", "2"))
    with NotificationBus(clock=clock, log=new_log(tmp_path / "n.log", clock)) as second:
        sink = Sink()
        second.subscribe(1, sink, start_time=0.0).activate()
        second.publish(event("new"))
        assert [summary(n) for n in sink.wait_for(4)] == ["kept=1", "kept=2",
                                                          "replayComplete", "new"]


def test_a_subscriber_that_stops_reading_is_dropped(bus: NotificationBus) -> None:
    slow, fast = Sink(), Sink()
    slow.open.clear()  # its peer does not read: the first send blocks
    bus.subscribe("slow", slow).activate()
    bus.subscribe("fast", fast).activate()
    published = threading.Event()

    def publish_all() -> None:
        for i in range(50):
            bus.publish(event("e", str(i)))
            if i % 4 == 3:  # bursts the reading subscriber's queue (8) can hold
                fast.wait_for(i + 1)
        published.set()

    threading.Thread(target=publish_all).start()
    assert published.wait(10)  # publishing never waited for the slow subscriber
    assert slow.closed.wait(10)  # its queue (8 messages) overflowed: session closed
    assert bus.subscription("slow") is None
    assert len(fast.wait_for(50)) == 50  # the other subscriber got everything
    assert bus.subscription("fast") is not None


def test_the_byte_bound_of_a_queue_drops_too(tmp_path: Path, clock: ManualClock) -> None:
    limits = QueueLimits(messages=1000, bytes=4000)
    with NotificationBus(clock=clock, limits=limits) as bus:
        slow = Sink()
        slow.open.clear()
        bus.subscribe(1, slow).activate()
        for i in range(20):
            bus.publish(event("e", str(i) + "x" * 500))
        assert slow.closed.wait(10)
        assert bus.subscription(1) is None


def test_a_filter_selects_notifications(bus: NotificationBus) -> None:
    flt = etree.fromstring(
        f'<filter xmlns="{NS_NOTIF}" type="subtree"><wanted xmlns="{NS_EX}"/></filter>')
    sink = Sink()
    bus.subscribe(1, sink, selector=notification_selector(flt)).activate()
    bus.publish(event("unwanted", "1"))
    bus.publish(event("wanted", "2"))
    assert [summary(n) for n in sink.wait_for(1)] == ["wanted=2"]


# ---------------------------------------------------------------------- filters
def selects(filter_xml: str, content: etree._Element) -> etree._Element | None:
    flt = etree.fromstring(filter_xml)
    return notification_selector(flt)(content)


def test_subtree_filter_with_a_content_match() -> None:
    flt = (f'<filter xmlns="{NS_NC}" type="subtree"><e xmlns="{NS_EX}">'
           f"<value>red</value></e></filter>")
    assert selects(flt, event("e", "red")) is not None
    assert selects(flt, event("e", "blue")) is None
    assert selects(flt, event("other", "red")) is None


def test_subtree_filter_returns_what_it_selects() -> None:
    content = event("e", "v")
    etree.SubElement(content, f"{{{NS_EX}}}extra").text = "x"
    selected = selects(f'<filter type="subtree"><e xmlns="{NS_EX}"><extra/></e></filter>',
                       content)
    assert selected is not None
    assert [etree.QName(c).localname for c in selected] == ["extra"]


def test_xpath_filter() -> None:
    flt = (f'<filter xmlns:ex="{NS_EX}" type="xpath" '
           f'select="/ex:e[ex:value=&quot;red&quot;]"/>')
    assert selects(flt, event("e", "red")) is not None
    assert selects(flt, event("e", "blue")) is None


def test_invalid_filters_are_refused_at_once() -> None:
    with pytest.raises(BadAttributeError):
        notification_selector(etree.fromstring('<filter type="regex"/>'))
    with pytest.raises(InvalidValueError):
        notification_selector(etree.fromstring('<filter type="xpath" select="/a["/>'))


# ------------------------------------------------------------ RFC 6470 content
class Edit:
    def __init__(self, operation: str, path: str, namespaces: dict[str, str]) -> None:
        self.operation, self.path, self.namespaces = operation, path, namespaces


def test_config_change_lists_edits_with_their_namespaces() -> None:
    root = config_change(
        datastore="running",
        changed_by=SessionIdentity("admin", 7, "127.0.0.1"),
        edits=[Edit("create", "/ex:top/ex:item[ex:name='a']", {"ex": NS_EX}),
               Edit("move", "/ex:top/ex:order[.='b']", {"ex": NS_EX})],
    )
    parsed = etree.fromstring(etree.tostring(root))  # as a subscriber reads it
    ns = {"n": NCN}
    assert parsed.xpath("n:changed-by/n:username/text()", namespaces=ns) == ["admin"]
    assert parsed.xpath("n:changed-by/n:session-id/text()", namespaces=ns) == ["7"]
    assert parsed.xpath("n:changed-by/n:source-host/text()", namespaces=ns) == ["127.0.0.1"]
    assert parsed.findtext(f"{{{NCN}}}datastore") == "running"
    targets = parsed.findall(f"{{{NCN}}}edit/{{{NCN}}}target")
    assert targets[0].text == "/ex:top/ex:item[ex:name='a']"
    assert targets[0].nsmap["ex"] == NS_EX
    assert parsed.xpath("n:edit/n:operation/text()", namespaces=ns) == ["create", "replace"]


def test_config_change_by_the_server() -> None:
    root = config_change(datastore="startup", changed_by=None, edits=[])
    assert root.find(f"{{{NCN}}}changed-by/{{{NCN}}}server") is not None
    assert root.find(f"{{{NCN}}}edit") is None


def test_session_end_names_the_killer_and_skips_non_ip_hosts() -> None:
    killed = session_end(SessionIdentity("op", 3, "openssh"), TerminationReason.KILLED,
                         killed_by=1)
    assert killed.findtext(f"{{{NCN}}}killed-by") == "1"
    assert killed.findtext(f"{{{NCN}}}termination-reason") == "killed"
    assert killed.find(f"{{{NCN}}}source-host") is None
    closed = session_end(SessionIdentity("op", 3, "::1"), TerminationReason.CLOSED,
                         killed_by=1)
    assert closed.find(f"{{{NCN}}}killed-by") is None
    assert closed.findtext(f"{{{NCN}}}source-host") == "::1"


# ------------------------------------------------------- session hooks (sans-I/O)
class RecordingLink:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def send(self, data: bytes) -> bool:
        self.sent.append(data)
        return not self.closed

    def close(self) -> None:
        self.closed = True


def make_session(handlers: dict) -> tuple[NetconfSession, RecordingLink]:
    link = RecordingLink()
    session = NetconfSession(
        info=SessionInfo(session_id=5, user="admin", peer="127.0.0.1"), link=link,
        capabilities=(CAP_BASE_10,),
        dispatcher=Dispatcher(handlers, server=None, known_namespaces={NS_NC, NS_EX}),
        on_close=lambda s: None, max_message_size=1 << 20,
    )
    session.start()
    session.data_received(encode_message(build_hello((CAP_BASE_10,)), FramingVersion.EOM))
    return session, link


def rpc(name: str) -> bytes:
    return encode_message(build_rpc("1", etree.Element(f"{{{NS_EX}}}{name}")),
                          FramingVersion.EOM)


def test_after_reply_runs_once_the_reply_is_sent() -> None:
    seen: list[int] = []

    def subscribe(ctx: RPCContext, op: etree._Element) -> None:
        ctx.session.after_reply(lambda: seen.append(len(link.sent)))
        return None

    def refuse(ctx: RPCContext, op: etree._Element) -> None:
        ctx.session.after_reply(lambda: seen.append(-1))
        raise InvalidValueError("no")

    session, link = make_session({(NS_EX, "subscribe"): subscribe, (NS_EX, "refuse"): refuse})
    session.data_received(rpc("subscribe"))
    assert seen == [2]  # hello and the <ok/> were sent before the callback ran
    assert b"<ok/>" in link.sent[1]
    session.data_received(rpc("refuse"))
    session.data_received(rpc("subscribe"))
    assert seen == [2, 4]  # a refused operation's callback is dropped


def test_send_message_counts_notifications() -> None:
    session, link = make_session({})
    assert session.send_message(b"<notification/>")
    assert session.info.out_notifications == 1
    session.close()
    assert not session.send_message(b"<notification/>")


@pytest.mark.parametrize(("act", "reason"), [
    (lambda s: s.close_after_reply(), TerminationReason.CLOSED),
    (lambda s: None, TerminationReason.DROPPED),
    (lambda s: s.close(TerminationReason.KILLED, killed_by=9), TerminationReason.KILLED),
])
def test_sessions_record_why_they_ended(act, reason: TerminationReason) -> None:
    def noop(ctx: RPCContext, op: etree._Element) -> None:
        return None

    session, link = make_session({(NS_EX, "noop"): noop})
    act(session)
    session.data_received(rpc("noop"))
    session.connection_lost()
    assert session.info.termination_reason is reason
    assert session.info.killed_by == (9 if reason is TerminationReason.KILLED else None)


def test_a_bad_hello_is_recorded() -> None:
    link = RecordingLink()
    session = NetconfSession(
        info=SessionInfo(session_id=5, user="admin", peer="127.0.0.1"), link=link,
        capabilities=(CAP_BASE_10,), dispatcher=Dispatcher({}, server=None, known_namespaces=set()),
        on_close=lambda s: None, max_message_size=1 << 20,
    )
    session.data_received(encode_message(b"<hello/>", FramingVersion.EOM))
    session.connection_lost()
    assert session.info.termination_reason is TerminationReason.BAD_HELLO
