"""RFC 5277 notifications and RFC 6470 base notifications, end to end over SSH.

Each test runs under base:1.1 and base:1.0 framing (the ``connect`` fixture). Event
times come from the agent's manual clock (``agent.clock``).
"""

from __future__ import annotations

from collections.abc import Callable

import paramiko
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError as NcRPCError

from nvo3_netconf.constants import CAP_BASE_10, FramingVersion
from nvo3_netconf.notifications import format_date_time
from nvo3_netconf.protocol.messages import build_hello, build_rpc
from nvo3_netconf.transport.framing import FrameDecoder, encode_message
from tests.functional.conftest import PASSWORD, Agent
from tests.functional.raw import RawSession

NS = "urn:nvo3-netconf:yang:nvo3-test"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
MANAGE = "urn:ietf:params:xml:ns:netmod:notification"
X = {"n": NCN, "nt": NS, "e": NOTIF, "m": MANAGE}
WAIT = 20  # seconds a notification may take to arrive before the test fails

Connect = Callable[..., manager.Manager]


def config(*items: str) -> str:
    return f'<config xmlns="{NC}"><top xmlns="{NS}" xmlns:nc="{NC}">{"".join(items)}</top></config>'


def item(name: str, number: int, op: str | None = None) -> str:
    attr = f' nc:operation="{op}"' if op else ""
    return f"<item{attr}><name>{name}</name><number>{number}</number><small/></item>"


def bulk(start: int, count: int) -> str:
    entries = "".join(f"<entry><id>{i}</id><value>v{i}</value></entry>"
                      for i in range(start, start + count))
    return f'<config xmlns="{NC}"><bulk xmlns="{NS}">{entries}</bulk></config>'


def take(m: manager.Manager) -> etree._Element:
    """The next ``<notification>`` of ``m`` (fails after WAIT seconds)."""
    notification = m.take_notification(timeout=WAIT)
    assert notification is not None, "no notification arrived"
    root = notification.notification_ele
    assert root.tag == f"{{{NOTIF}}}notification"
    assert root.find(f"{{{NOTIF}}}eventTime") is not None
    return root


def content(notification: etree._Element) -> etree._Element:
    return notification[1]


def name(notification: etree._Element) -> str:
    return etree.QName(content(notification)).localname


def take_named(m: manager.Manager, wanted: str) -> etree._Element:
    """The next notification called ``wanted``, skipping others (session-start...)."""
    for _ in range(50):
        notification = take(m)
        if name(notification) == wanted:
            return notification
    raise AssertionError(f"no {wanted} among 50 notifications")


def subscription(*parts: str) -> etree._Element:
    """A raw ``<create-subscription>`` (to send what ncclient refuses to)."""
    return etree.fromstring(f'<create-subscription xmlns="{NOTIF}">{"".join(parts)}'
                            "</create-subscription>")


def when(seconds: float) -> str:
    return format_date_time(seconds)


# ------------------------------------------------------------------- basics
def test_capabilities_announce_notification_and_interleave(connect: Connect) -> None:
    caps = list(connect().server_capabilities)
    assert "urn:ietf:params:netconf:capability:notification:1.0" in caps
    assert "urn:ietf:params:netconf:capability:interleave:1.0" in caps


def test_streams_are_listed_in_get(connect: Connect, agent: Agent) -> None:
    reply = connect().get(filter=("subtree", f'<netconf xmlns="{MANAGE}"/>'))
    root = etree.fromstring(reply.xml.encode())
    stream = root.xpath("//m:netconf/m:streams/m:stream", namespaces=X)
    assert [s.findtext(f"{{{MANAGE}}}name") for s in stream] == ["NETCONF"]
    assert stream[0].findtext(f"{{{MANAGE}}}replaySupport") == "true"
    assert stream[0].findtext(f"{{{MANAGE}}}replayLogCreationTime") == when(agent.clock.time())
    assert stream[0].findtext(f"{{{MANAGE}}}description")


def test_config_change_lists_the_edits(connect: Connect, agent: Agent) -> None:
    watcher, editor = connect(), connect()
    watcher.create_subscription()
    editor.edit_config(target="running", config=config(item("a", 1), item("b", 2)))
    editor.edit_config(target="running", config=config(item("a", 1, op="delete")))
    created = take_named(watcher, "netconf-config-change")
    assert created.findtext(f"{{{NOTIF}}}eventTime") == when(agent.clock.time())
    change = content(created)
    assert change.xpath("n:changed-by/n:username/text()", namespaces=X) == ["admin"]
    assert change.xpath("n:changed-by/n:session-id/text()",
                        namespaces=X) == [str(editor.session_id)]
    assert change.xpath("n:changed-by/n:source-host/text()", namespaces=X) == ["127.0.0.1"]
    assert change.findtext(f"{{{NCN}}}datastore") == "running"
    edits = change.findall(f"{{{NCN}}}edit")
    assert [e.findtext(f"{{{NCN}}}operation") for e in edits] == ["create"]
    target = edits[0].find(f"{{{NCN}}}target")
    assert target.text == "/nt:top"
    assert target.nsmap["nt"] == NS  # the instance-identifier's prefix is bound
    deleted = content(take_named(watcher, "netconf-config-change"))
    assert deleted.xpath("n:edit/n:target/text()", namespaces=X) == [
        "/nt:top/nt:item[nt:name='a']"]
    assert deleted.xpath("n:edit/n:operation/text()", namespaces=X) == ["delete"]


def test_candidate_edits_are_reported_at_commit(connect: Connect) -> None:
    watcher, editor = connect(), connect()
    watcher.create_subscription()
    editor.edit_config(target="candidate", config=config(item("a", 1)))
    editor.commit()
    change = content(take_named(watcher, "netconf-config-change"))
    assert change.findtext(f"{{{NCN}}}datastore") == "running"
    assert change.xpath("n:edit/n:operation/text()", namespaces=X) == ["create"]
    editor.copy_config(source="running", target="startup")
    startup = content(take_named(watcher, "netconf-config-change"))
    assert startup.findtext(f"{{{NCN}}}datastore") == "startup"


def test_session_start_and_end(connect: Connect) -> None:
    watcher = connect()
    watcher.create_subscription()
    closing = connect()
    start = content(take_named(watcher, "netconf-session-start"))
    assert start.findtext(f"{{{NCN}}}session-id") == str(closing.session_id)
    assert start.findtext(f"{{{NCN}}}username") == "admin"
    assert start.findtext(f"{{{NCN}}}source-host") == "127.0.0.1"
    closing.close_session()
    end = content(take_named(watcher, "netconf-session-end"))
    assert end.findtext(f"{{{NCN}}}session-id") == str(closing.session_id)
    assert end.findtext(f"{{{NCN}}}termination-reason") == "closed"
    assert end.find(f"{{{NCN}}}killed-by") is None

    victim = connect(user="operator")
    watcher.kill_session(victim.session_id)
    end = content(take_named(watcher, "netconf-session-end"))
    assert end.findtext(f"{{{NCN}}}username") == "operator"
    assert end.findtext(f"{{{NCN}}}termination-reason") == "killed"
    assert end.findtext(f"{{{NCN}}}killed-by") == str(watcher.session_id)

    dropped = connect()
    dropped._session.close()  # the transport goes away without <close-session>
    end = content(take_named(watcher, "netconf-session-end"))
    assert end.findtext(f"{{{NCN}}}session-id") == str(dropped.session_id)
    assert end.findtext(f"{{{NCN}}}termination-reason") == "dropped"


def test_a_bad_hello_ends_with_bad_hello(connect: Connect, agent: Agent) -> None:
    watcher = connect()
    watcher.create_subscription(filter=("subtree", f'<netconf-session-end xmlns="{NCN}"/>'))
    raw = RawSession(agent.port, "operator", PASSWORD)
    try:
        raw.hello(capabilities=("urn:example:no-base-version",))
        assert raw.closed_by_server()
    finally:
        raw.close()
    end = content(take(watcher))
    assert end.findtext(f"{{{NCN}}}username") == "operator"
    assert end.findtext(f"{{{NCN}}}termination-reason") == "bad-hello"


# ------------------------------------------------------------------- filters
def test_subtree_filter(connect: Connect) -> None:
    watcher, editor = connect(), connect()
    watcher.create_subscription(
        filter=("subtree", f'<netconf-session-end xmlns="{NCN}"/>'))
    editor.edit_config(target="running", config=config(item("a", 1)))  # filtered out
    editor.close_session()
    # the first notification to arrive is the session-end: the change was not sent
    assert name(take(watcher)) == "netconf-session-end"


def test_subtree_filter_with_a_content_match(connect: Connect) -> None:
    watcher, editor = connect(), connect()
    watcher.create_subscription(filter=(
        "subtree",
        f'<netconf-config-change xmlns="{NCN}"><datastore>startup</datastore>'
        "</netconf-config-change>"))
    editor.edit_config(target="running", config=config(item("a", 1)))
    editor.copy_config(source="running", target="startup")
    notification = take(watcher)
    assert content(notification).findtext(f"{{{NCN}}}datastore") == "startup"


def test_xpath_filter(connect: Connect) -> None:
    watcher, editor = connect(), connect()
    watcher.create_subscription(filter=(
        "xpath", ({"ncn": NCN}, "/ncn:netconf-config-change/ncn:edit")))
    editor.edit_config(target="running", config=config(item("a", 1)))
    change = content(take(watcher))
    # what the expression selects, with its ancestors
    assert [etree.QName(c).localname for c in change] == ["edit"]


# -------------------------------------------------------------------- replay
def test_replay_with_start_and_stop_time(connect: Connect, agent: Agent) -> None:
    editor = connect()
    t0 = agent.clock.time()
    editor.edit_config(target="running", config=config(item("a", 1)))
    agent.clock.advance(10)
    editor.edit_config(target="running", config=config(item("b", 2)))
    agent.clock.advance(10)
    editor.edit_config(target="running", config=config(item("c", 3)))

    watcher = connect()
    watcher.create_subscription(start_time=when(t0 + 10), stop_time=when(t0 + 15))
    replayed = take(watcher)
    assert replayed.findtext(f"{{{NOTIF}}}eventTime") == when(t0 + 10)
    assert content(replayed).xpath("n:edit/n:target/text()", namespaces=X) == [
        "/nt:top/nt:item[nt:name='b']"]
    complete = take(watcher)
    assert content(complete).tag == f"{{{MANAGE}}}replayComplete"
    assert content(take(watcher)).tag == f"{{{MANAGE}}}notificationComplete"

    # the subscription is over: the session may subscribe again; replay then live
    watcher.create_subscription(
        filter=("subtree", f'<netconf-config-change xmlns="{NCN}"/>'), start_time=when(t0))
    targets = [content(take(watcher)).xpath("n:edit/n:target/text()", namespaces=X)
               for _ in range(3)]
    assert targets == [["/nt:top"], ["/nt:top/nt:item[nt:name='b']"],
                       ["/nt:top/nt:item[nt:name='c']"]]
    assert name(take(watcher)) == "replayComplete"
    editor.edit_config(target="running", config=config(item("d", 4)))
    live = content(take(watcher))
    assert live.xpath("n:edit/n:target/text()", namespaces=X) == [
        "/nt:top/nt:item[nt:name='d']"]


def test_stop_time_in_the_future_ends_the_subscription_then(
        connect: Connect, agent: Agent) -> None:
    watcher, editor = connect(), connect()
    now = agent.clock.time()
    watcher.create_subscription(
        filter=("subtree", f'<netconf-config-change xmlns="{NCN}"/>'),
        start_time=when(now), stop_time=when(now + 30))
    assert name(take(watcher)) == "replayComplete"
    editor.edit_config(target="running", config=config(item("a", 1)))
    assert name(take(watcher)) == "netconf-config-change"
    agent.clock.advance(31)
    assert name(take(watcher)) == "notificationComplete"


def test_replay_survives_a_restart(connect: Connect, agent: Agent) -> None:
    t0 = agent.clock.time()
    editor = connect()
    editor.edit_config(target="running", config=config(item("a", 1)))
    editor.close_session()
    agent.restart()
    watcher = connect()
    watcher.create_subscription(
        filter=("subtree", f'<netconf-config-change xmlns="{NCN}"/>'), start_time=when(t0))
    assert content(take(watcher)).xpath("n:edit/n:target/text()", namespaces=X) == ["/nt:top"]
    assert name(take(watcher)) == "replayComplete"


# -------------------------------------------------------------------- errors
def rpc_error(m: manager.Manager, request: etree._Element) -> NcRPCError:
    with pytest.raises(NcRPCError) as info:
        m.dispatch(request)
    return info.value


def test_stop_time_without_start_time_is_missing_element(connect: Connect,
                                                         agent: Agent) -> None:
    error = rpc_error(connect(), subscription(f"<stopTime>{when(agent.clock.time())}</stopTime>"))
    assert (error.tag, error.type) == ("missing-element", "protocol")
    assert "<bad-element>startTime</bad-element>" in error.info
    assert error.path is None


def test_start_time_in_the_future_is_bad_element(connect: Connect, agent: Agent) -> None:
    error = rpc_error(connect(),
                      subscription(f"<startTime>{when(agent.clock.time() + 60)}</startTime>"))
    assert (error.tag, error.type) == ("bad-element", "protocol")
    assert "<bad-element>startTime</bad-element>" in error.info


def test_stop_time_before_start_time_is_bad_element(connect: Connect, agent: Agent) -> None:
    now = agent.clock.time()
    error = rpc_error(connect(), subscription(f"<startTime>{when(now - 10)}</startTime>",
                                              f"<stopTime>{when(now - 20)}</stopTime>"))
    assert (error.tag, error.type) == ("bad-element", "protocol")
    assert "<bad-element>stopTime</bad-element>" in error.info


def test_a_time_that_is_not_a_date_and_time_is_bad_element(connect: Connect) -> None:
    error = rpc_error(connect(), subscription("<startTime>yesterday</startTime>"))
    assert (error.tag, error.type) == ("bad-element", "protocol")
    assert "<bad-element>startTime</bad-element>" in error.info


def test_unknown_stream_is_invalid_value(connect: Connect) -> None:
    error = rpc_error(connect(), subscription("<stream>no-such-stream</stream>"))
    assert (error.tag, error.type) == ("invalid-value", "protocol")
    assert "<bad-element>stream</bad-element>" in error.info


def test_a_second_subscription_is_operation_failed(connect: Connect) -> None:
    m = connect()
    m.create_subscription()
    error = rpc_error(m, subscription())
    assert (error.tag, error.type) == ("operation-failed", "protocol")


def test_an_invalid_filter_is_refused(connect: Connect) -> None:
    error = rpc_error(connect(), subscription(f'<filter xmlns="{NOTIF}" type="regex"/>'))
    assert (error.tag, error.type) == ("bad-attribute", "protocol")
    error = rpc_error(connect(), subscription(
        f'<filter xmlns="{NOTIF}" type="xpath" select="/a["/>'))
    assert error.tag == "invalid-value"


def test_an_unknown_parameter_is_unknown_element(connect: Connect) -> None:
    error = rpc_error(connect(), subscription("<replay>yes</replay>"))
    assert (error.tag, error.type) == ("unknown-element", "protocol")
    assert "<bad-element>replay</bad-element>" in error.info


# ---------------------------------------------------------------- interleave
def test_operations_interleave_with_notifications(connect: Connect) -> None:
    m = connect()
    m.create_subscription(filter=("subtree", f'<netconf-config-change xmlns="{NCN}"/>'))
    for i in range(1, 4):
        m.edit_config(target="running", config=config(item(f"i{i}", i)))
        reply = m.get_config(source="running", filter=("subtree", f'<top xmlns="{NS}"/>'))
        assert len(etree.fromstring(reply.xml.encode()).xpath("//nt:item", namespaces=X)) == i
    targets = [content(take(m)).xpath("n:edit/n:target/text()", namespaces=X)
               for _ in range(3)]
    assert targets[1] == ["/nt:top/nt:item[nt:name='i2']"]
    assert targets[2] == ["/nt:top/nt:item[nt:name='i3']"]


# ----------------------------------------------------------- slow subscriber
class SilentSubscriber:
    """A raw SSH client that subscribes, then never reads again (small window)."""

    def __init__(self, port: int) -> None:
        self.transport = paramiko.Transport(("127.0.0.1", port))
        self.transport.connect(username="admin", password=PASSWORD)
        self.channel = self.transport.open_session(window_size=32 * 1024,
                                                   max_packet_size=16 * 1024)
        self.channel.settimeout(WAIT)
        self.channel.invoke_subsystem("netconf")
        self.decoder = FrameDecoder()
        hello = etree.fromstring(self.read())
        self.session_id = hello.findtext(f"{{{NC}}}session-id")
        self.channel.sendall(encode_message(build_hello((CAP_BASE_10,)), FramingVersion.EOM))
        self.channel.sendall(encode_message(build_rpc("1", subscription()), FramingVersion.EOM))
        assert b"<ok/>" in self.read()

    def read(self) -> bytes:
        while True:
            message = self.decoder.next_message()
            if message is not None:
                return message
            data = self.channel.recv(65536)
            if not data:
                raise EOFError("channel closed")
            self.decoder.receive_data(data)

    def close(self) -> None:
        self.transport.close()


def test_a_subscriber_that_stops_reading_blocks_nobody(
        connect: Connect, agent: Agent) -> None:
    agent.stop()
    agent.config = agent.config.with_overrides(notification_queue=4)
    agent.start()
    silent = SilentSubscriber(agent.port)
    try:
        watcher, editor = connect(), connect()
        watcher.create_subscription(
            filter=("subtree", f'<netconf-session-end xmlns="{NCN}"/>'))
        # each change is about 20 kB: the silent client's 32 kB window fills at once,
        # then its queue of 4; its session is closed and the editor goes on
        for n in range(30):
            editor.edit_config(target="running", config=bulk(200 * n, 200))
        end = content(take(watcher))
        assert end.findtext(f"{{{NCN}}}session-id") == silent.session_id
        assert end.findtext(f"{{{NCN}}}termination-reason") == "other"
        assert agent.server is not None
        bus = agent.server.netconf.notifications
        assert bus.subscription(int(silent.session_id)) is None
        editor.edit_config(target="running", config=bulk(10_000, 1))
    finally:
        silent.close()
