"""Hostile input: every case gets its rpc-error or closes that session only.

Each test runs against a real agent over SSH with raw channels (``tests/functional/raw.py``)
and holds a *bystander* session open from the start: after every case the bystander
still gets answers, a new session can still be opened, and the configuration is what it
was. The agent here has a small ``max-message-size`` (64 KiB), a short send timeout and a
short notification queue, so the limits are reached quickly.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree

from nvo3_netconf.constants import CAP_BASE_10, CAP_BASE_11, TerminationReason
from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from tests.functional.conftest import PASSWORD, TEST_YANG, Agent
from tests.functional.raw import RawSession

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NT = "urn:nvo3-netconf:yang:nvo3-test"
MAX_MESSAGE = 64 * 1024
SEND_TIMEOUT = 1.5
HELLO_TIMEOUT = 30.0
E = {"nc": NC, "nt": NT}


def rpc(body: str, message_id: str = "1") -> bytes:
    return f'<rpc xmlns="{NC}" message-id="{message_id}">{body}</rpc>'.encode()


GET_CONFIG = rpc("<get-config><source><running/></source></get-config>")


def edit(config: str, target: str = "running") -> bytes:
    return rpc(f"<edit-config><target><{target}/></target>"
               f'<config xmlns:nc="{NC}">{config}</config></edit-config>')


def top(inner: str) -> str:
    return f'<top xmlns="{NT}">{inner}</top>'


SEED = top("<item><name>seed</name><number>1</number><small/></item>")


def errors(reply: bytes) -> list[dict[str, str]]:
    """The rpc-errors of a reply: error-tag, error-type and error-info children by name."""
    root = etree.fromstring(reply)
    assert root.tag == f"{{{NC}}}rpc-reply", reply[:300]
    found = []
    for err in root.iterfind("nc:rpc-error", E):
        item = {etree.QName(child).localname: (child.text or "").strip() for child in err}
        info = err.find("nc:error-info", E)
        if info is not None:
            item.update({etree.QName(child).localname: (child.text or "").strip()
                         for child in info})
        found.append(item)
    return found


def tags(reply: bytes) -> list[str]:
    return [e["error-tag"] for e in errors(reply)]


def item_names(reply: bytes) -> list[str]:
    return etree.fromstring(reply).xpath("//nt:item/nt:name/text()", namespaces=E)


@dataclass
class Hostile:
    """The agent, a bystander session, and a way to open raw sessions."""

    agent: Agent
    bystander: RawSession
    opened: list[RawSession] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(1000, 10**9)))

    def open(self, *, hello: tuple[str, ...] | None = (CAP_BASE_10, CAP_BASE_11),
             timeout: float = 20, window_size: int | None = None) -> RawSession:
        session = RawSession(self.agent.port, "admin", PASSWORD, window_size=window_size)
        session.channel.settimeout(timeout)
        self.opened.append(session)
        if hello is not None:
            session.hello(hello)
        return session

    def call(self, session: RawSession, body: bytes) -> bytes:
        session.send(body)
        return session.read()

    def served(self) -> None:
        """The bystander still answers, a new session works, the configuration is intact."""
        message_id = str(next(self._ids))
        start = time.monotonic()
        reply = self.call(self.bystander, rpc(
            "<get-config><source><running/></source></get-config>", message_id))
        assert time.monotonic() - start < 10, "the bystander waited"
        assert f'message-id="{message_id}"'.encode() in reply
        assert item_names(reply) == ["seed"], reply[:500]
        fresh = self.open()
        assert item_names(self.call(fresh, GET_CONFIG)) == ["seed"]
        fresh.close()

    def session_count(self) -> int:
        assert self.agent.server is not None
        return len(self.agent.server.netconf.sessions())

    def wait_sessions(self, count: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while self.session_count() != count:
            assert time.monotonic() < deadline, f"{self.session_count()} sessions, not {count}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def under_attack(
    tmp_path_factory: pytest.TempPathFactory, users: UserDatabase
) -> Iterator[tuple[Agent, RawSession]]:
    """One agent for the whole module, and a bystander session that lives through it all."""
    config = ServerConfig(
        listen="127.0.0.1", port=0, state_dir=tmp_path_factory.mktemp("hostile") / "state",
        yang_dirs=(TEST_YANG,), max_message_size=MAX_MESSAGE, send_timeout=SEND_TIMEOUT,
        hello_timeout=HELLO_TIMEOUT, notification_queue=8, notification_queue_bytes=64 * 1024,
    )
    agent = Agent(config, users, ManualClock()).start()
    bystander = RawSession(agent.port, "admin", PASSWORD)
    bystander.hello()
    try:
        yield agent, bystander
    finally:
        bystander.close()
        agent.stop()


@pytest.fixture
def hostile(under_attack: tuple[Agent, RawSession]) -> Iterator[Hostile]:
    agent, bystander = under_attack
    ctx = Hostile(agent, bystander)
    # Every case starts from the same configuration: the seed item only.
    reset = edit(f'<top xmlns="{NT}" nc:operation="replace"><item><name>seed</name>'
                 f'<number>1</number><small/></item></top><bulk xmlns="{NT}" '
                 'nc:operation="remove"/>')
    assert tags(ctx.call(bystander, reset)) == []
    try:
        yield ctx
        ctx.served()
    finally:
        for session in ctx.opened:
            session.close()


# ------------------------------------------------------------------ malformed XML
MALFORMED = [
    pytest.param(b"<rpc message-id='1' xmlns='" + NC.encode() + b"'><get></rpc>", id="mismatched"),
    pytest.param(b"<rpc message-id='1' xmlns='" + NC.encode() + b"'><get/>", id="unclosed"),
    pytest.param(b"<rpc message-id='1' message-id='2'/>", id="duplicate-attribute"),
    pytest.param(b"not xml at all", id="text"),
    pytest.param(b"<rpc message-id='1' xmlns:a='urn:a'><b:get/></rpc>", id="undeclared-prefix"),
    pytest.param(b"<rpc message-id='1'>&undefined;</rpc>", id="undefined-entity"),
    pytest.param(b"<rpc message-id='1'/><rpc message-id='2'/>", id="two-roots"),
    pytest.param(b"<rpc message-id='1'>\x01</rpc>", id="control-char"),
    pytest.param(b"<rpc message-id='1'>\x00</rpc>", id="nul"),
    pytest.param(b"<rpc message-id='1'>&#0;</rpc>", id="nul-reference"),
    pytest.param(b"<?xml version='1.0' encoding='UTF-8'?>", id="declaration-only"),
    pytest.param(b"<rpc message-id='1'><![CDATA[ unterminated </rpc>", id="cdata"),
]


@pytest.mark.parametrize("message", MALFORMED)
def test_malformed_xml_under_base11_gets_malformed_message(
    hostile: Hostile, message: bytes
) -> None:
    s = hostile.open()
    reply = hostile.call(s, message)
    assert tags(reply) == ["malformed-message"]
    assert errors(reply)[0]["error-type"] == "rpc"
    hostile.served()
    # The session itself goes on (the framing was intact).
    assert item_names(hostile.call(s, GET_CONFIG)) == ["seed"]


@pytest.mark.parametrize("message", MALFORMED[:4])
def test_malformed_xml_under_base10_closes_that_session(hostile: Hostile, message: bytes) -> None:
    s = hostile.open(hello=(CAP_BASE_10,))
    s.send(message)
    assert s.closed_by_server()
    hostile.served()


def test_empty_message_is_malformed(hostile: Hostile) -> None:
    s = hostile.open()
    s.send(b"   ")
    assert tags(s.read()) == ["malformed-message"]
    hostile.served()


# ------------------------------------------------------- DTD, entities, XXE
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rpc [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><edit-config>
<target><running/></target><config><top xmlns="urn:nvo3-netconf:yang:nvo3-test">
<settings><note>&lol9;</note></settings></top></config></edit-config></rpc>"""

QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY a "' + b"x" * 20000 + b'">]>'
             b'<rpc message-id="1" xmlns="' + NC.encode() + b'"><get>'
             + b"&a;" * 2000 + b"</get></rpc>")


@pytest.fixture
def secret_file(tmp_path: Path) -> tuple[Path, str]:
    secret = "TOP-SECRET-" + os.urandom(8).hex()
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    return path, secret


def xxe_messages(path: Path) -> dict[str, bytes]:
    uri = path.as_uri()
    nt = NT.encode()
    return {
        "general-entity-in-leaf": (
            f'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY xxe SYSTEM "{uri}">]>'.encode()
            + edit(top("<settings><note>&xxe;</note></settings>"))
        ),
        "general-entity-in-filter": (
            f'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY xxe SYSTEM "{uri}">]>'.encode()
            + rpc('<get><filter type="subtree"><top xmlns="' + NT
                  + '"><settings><note>&xxe;</note></settings></top></filter></get>')
        ),
        "parameter-entity": (
            f'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY % p SYSTEM "{uri}"> %p;]>'.encode()
            + GET_CONFIG
        ),
        "external-dtd": f'<?xml version="1.0"?><!DOCTYPE rpc SYSTEM "{uri}">'.encode() + GET_CONFIG,
        "xinclude": (
            b'<rpc message-id="1" xmlns="' + NC.encode() + b'"><edit-config><target><running/>'
            b'</target><config><top xmlns="' + nt + b'"><settings><note>'
            b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" parse="text" href="'
            + uri.encode() + b'"/></note></settings></top></config></edit-config></rpc>'
        ),
    }


@pytest.mark.parametrize("message", [
    pytest.param(BILLION_LAUGHS, id="billion-laughs"),
    pytest.param(QUADRATIC, id="quadratic-blowup"),
    pytest.param(b'<!DOCTYPE rpc [<!ELEMENT rpc ANY>]>' + GET_CONFIG, id="internal-subset"),
    pytest.param(b'<!DOCTYPE rpc>' + GET_CONFIG, id="bare-doctype"),
])
def test_dtd_and_entity_expansion_refused_quickly(hostile: Hostile, message: bytes) -> None:
    s = hostile.open()
    start = time.monotonic()
    reply = hostile.call(s, message)
    assert time.monotonic() - start < 5
    assert tags(reply) == ["malformed-message"]
    assert b"lollol" not in reply
    hostile.served()


@pytest.mark.parametrize("case", ["general-entity-in-leaf", "general-entity-in-filter",
                                  "parameter-entity", "external-dtd", "xinclude"])
def test_external_entities_are_never_fetched(
    hostile: Hostile, secret_file: tuple[Path, str], case: str
) -> None:
    path, secret = secret_file
    s = hostile.open()
    reply = hostile.call(s, xxe_messages(path)[case])
    assert secret.encode() not in reply
    assert errors(reply), reply[:400]  # refused, whatever the tag
    if case != "xinclude":  # XInclude is well-formed XML: refused by the schema instead
        assert tags(reply) == ["malformed-message"]
    running = hostile.call(s, rpc("<get-config><source><running/></source></get-config>", "2"))
    assert secret.encode() not in running
    everything = hostile.call(s, rpc("<get/>", "3"))
    assert secret.encode() not in everything
    hostile.served()


def test_entity_in_hello_closes_that_session(
    hostile: Hostile, secret_file: tuple[Path, str]
) -> None:
    path, secret = secret_file
    s = hostile.open(hello=None)
    s.send_raw(f'<?xml version="1.0"?><!DOCTYPE hello [<!ENTITY x SYSTEM "{path.as_uri()}">]>'
               f'<hello xmlns="{NC}"><capabilities><capability>&x;</capability>'
               f"</capabilities></hello>]]>]]>".encode())
    assert s.closed_by_server()
    hostile.served()


# ----------------------------------------------------------- size and framing
def test_message_over_the_limit_base11(hostile: Hostile) -> None:
    s = hostile.open()
    note = "x" * (MAX_MESSAGE + 10)
    s.send(edit(top(f"<settings><note>{note}</note></settings>")))
    assert tags(s.read()) == ["malformed-message"]
    assert s.closed_by_server()
    hostile.served()


def test_message_over_the_limit_in_many_small_chunks(hostile: Hostile) -> None:
    s = hostile.open()
    for _ in range(MAX_MESSAGE // 1000 + 2):
        try:
            s.send_raw(b"\n#1000\n" + b"<!-- -->" * 125)
        except OSError:
            break
    assert tags(s.read()) == ["malformed-message"]
    assert s.closed_by_server()
    hostile.served()


def test_message_over_the_limit_base10_closes_that_session(hostile: Hostile) -> None:
    s = hostile.open(hello=(CAP_BASE_10,))
    try:
        s.send_raw(b"<rpc>" + b"x" * (MAX_MESSAGE + 10))
    except OSError:
        pass
    assert s.closed_by_server()
    hostile.served()


def test_oversized_hello_closes_that_session(hostile: Hostile) -> None:
    s = hostile.open(hello=None)
    try:
        s.send_raw(b"<hello>" + b" " * (MAX_MESSAGE + 10))
    except OSError:
        pass
    assert s.closed_by_server()
    hostile.served()


@pytest.mark.parametrize("header", [
    pytest.param(b"\n#4294967295\n", id="rfc-maximum-but-over-limit"),
    pytest.param(b"\n#99999999999999999999\n", id="absurd-digits"),
    pytest.param(b"\n#" + b"9" * 5000, id="endless-digits"),
    pytest.param(b"\n#" + str(MAX_MESSAGE + 1).encode() + b"\n", id="one-over-limit"),
])
def test_absurd_chunk_header(hostile: Hostile, header: bytes) -> None:
    s = hostile.open()
    s.send_raw(header)
    assert tags(s.read()) == ["malformed-message"]
    assert s.closed_by_server()
    hostile.served()


@pytest.mark.parametrize("data", [
    pytest.param(b"#5\nhello\n##\n", id="no-leading-lf"),
    pytest.param(b"\n5\nhello\n##\n", id="no-hash"),
    pytest.param(b"\n#0\n", id="zero-size"),
    pytest.param(b"\n#05\nhello\n##\n", id="leading-zero"),
    pytest.param(b"\n#-5\nhello\n##\n", id="negative"),
    pytest.param(b"\n#5 \nhello\n##\n", id="space"),
    pytest.param(b"\n#+5\nhello\n##\n", id="plus"),
    pytest.param(b"\n##\n", id="end-without-chunk"),
    pytest.param(b"\n#5\nhelloX\n##\n", id="data-longer-than-chunk"),
    pytest.param(b"\n#5\nhello\n#\n", id="bad-end-of-chunks"),
    pytest.param(b"\n#5\nhello\n##X", id="end-of-chunks-without-lf"),
    pytest.param(b"<rpc/>]]>]]>", id="eom-after-chunked-negotiated"),
    pytest.param(b"\n#\xd9\xa3\nabc\n##\n", id="unicode-digit"),
])
def test_invalid_chunked_framing(hostile: Hostile, data: bytes) -> None:
    s = hostile.open()
    s.send_raw(data)
    assert tags(s.read()) == ["malformed-message"]
    assert s.closed_by_server()
    hostile.served()


def test_chunked_framing_split_byte_by_byte_still_works(hostile: Hostile) -> None:
    s = hostile.open()
    framed = b"\n#%d\n%s\n##\n" % (len(GET_CONFIG), GET_CONFIG)
    for i in range(len(framed)):
        s.send_raw(framed[i:i + 1])
    assert item_names(s.read()) == ["seed"]
    hostile.served()


# ------------------------------------------------------------------ hello rules
def test_rpc_before_hello_closes_that_session(hostile: Hostile) -> None:
    s = hostile.open(hello=None)
    s.send(GET_CONFIG)
    assert s.closed_by_server()
    hostile.served()


def test_chunked_rpc_before_hello_closes_that_session(hostile: Hostile) -> None:
    s = hostile.open(hello=None)
    s.send_raw(b"\n#%d\n%s\n##\n" % (len(GET_CONFIG), GET_CONFIG) + b"]]>]]>")
    assert s.closed_by_server()
    hostile.served()


@pytest.mark.parametrize("hello", [
    pytest.param(b"<hello xmlns='" + NC.encode() + b"'><capabilities><capability>"
                 b"urn:ietf:params:netconf:base:2.0</capability></capabilities></hello>",
                 id="no-common-base"),
    pytest.param(b"<hello xmlns='" + NC.encode() + b"'><capabilities/></hello>",
                 id="no-capability"),
    pytest.param(b"<hello xmlns='" + NC.encode() + b"'><capabilities><capability>"
                 + CAP_BASE_11.encode() + b"</capability></capabilities>"
                 b"<session-id>4</session-id></hello>", id="client-session-id"),
    pytest.param(b"<hello xmlns='urn:other'><capabilities><capability>" + CAP_BASE_10.encode()
                 + b"</capability></capabilities></hello>", id="wrong-namespace"),
    pytest.param(b"<hello><capabilities><capability>" + CAP_BASE_10.encode()
                 + b"</capability></capabilities></hello>", id="no-namespace"),
    pytest.param(b"<hello xmlns='" + NC.encode() + b"'><capabilities>", id="malformed"),
    pytest.param(b"\xff\xfe<hello/>", id="invalid-utf8"),
])
def test_bad_hello_closes_that_session(hostile: Hostile, hello: bytes) -> None:
    s = hostile.open(hello=None)
    s.send_raw(hello + b"]]>]]>")
    assert s.closed_by_server()
    hostile.served()


def test_second_hello_is_refused_but_the_session_goes_on(hostile: Hostile) -> None:
    s = hostile.open()
    s.send(b"<hello xmlns='" + NC.encode() + b"'><capabilities><capability>"
           + CAP_BASE_11.encode() + b"</capability></capabilities></hello>")
    assert tags(s.read()) == ["unknown-element"]
    assert item_names(hostile.call(s, GET_CONFIG)) == ["seed"]
    hostile.served()


def test_session_without_hello_is_closed_after_the_hello_timeout(hostile: Hostile) -> None:
    s = hostile.open(hello=None)
    hostile.wait_sessions(2)  # the bystander and the silent one
    silent = [x for x in hostile.agent.server.netconf.sessions() if not x.established]
    assert len(silent) == 1
    hostile.agent.clock.advance(HELLO_TIMEOUT - 1)
    hostile.served()
    assert silent[0].info.termination_reason is None
    hostile.agent.clock.advance(2)
    assert s.closed_by_server()
    assert silent[0].info.termination_reason is TerminationReason.TIMEOUT
    hostile.served()


def test_established_sessions_are_not_timed_out(hostile: Hostile) -> None:
    s = hostile.open()
    assert item_names(hostile.call(s, GET_CONFIG)) == ["seed"]
    hostile.agent.clock.advance(HELLO_TIMEOUT * 10)
    assert item_names(hostile.call(s, GET_CONFIG)) == ["seed"]


# ---------------------------------------------------------------- rpc envelope
def test_rpc_without_message_id(hostile: Hostile) -> None:
    s = hostile.open()
    reply = hostile.call(s, f'<rpc xmlns="{NC}"><get-config><source><running/></source>'
                            f"</get-config></rpc>".encode())
    root = etree.fromstring(reply)
    assert root.get("message-id") is None
    [error] = errors(reply)
    assert error["error-tag"] == "missing-attribute"
    assert error["error-type"] == "rpc"
    assert error["error-severity"] == "error"
    assert error["bad-attribute"] == "message-id"
    assert error["bad-element"] == "rpc"
    hostile.served()


def test_rpc_without_message_id_echoes_its_other_attributes(hostile: Hostile) -> None:
    s = hostile.open()
    reply = hostile.call(s, f'<rpc xmlns="{NC}" xmlns:x="urn:x" x:a="b"><get/></rpc>'.encode())
    assert etree.fromstring(reply).get("{urn:x}a") == "b"
    assert tags(reply) == ["missing-attribute"]
    hostile.served()


@pytest.mark.parametrize(("body", "tag", "info"), [
    pytest.param(f'<frobnicate xmlns="{NC}"/>', "operation-not-supported",
                 {"bad-element": "frobnicate"}, id="unknown-base-operation"),
    pytest.param('<frobnicate xmlns="urn:example:nowhere"/>', "unknown-namespace",
                 {"bad-element": "frobnicate", "bad-namespace": "urn:example:nowhere"},
                 id="unknown-namespace"),
    pytest.param(f'<frobnicate xmlns="{NT}"/>', "operation-not-supported",
                 {"bad-element": "frobnicate"}, id="unknown-operation-of-a-module"),
    pytest.param("<get-config><source><running/></source></get-config>", "unknown-namespace",
                 {}, id="operation-without-namespace"),
    pytest.param(f'<get xmlns="{NC}"/><get xmlns="{NC}"/>', "unknown-element",
                 {"bad-element": "get"}, id="two-operations"),
    pytest.param("", "missing-element", {}, id="no-operation"),
])
def test_unknown_operations(hostile: Hostile, body: str, tag: str, info: dict[str, str]) -> None:
    s = hostile.open()
    reply = hostile.call(s, f'<nc:rpc message-id="9" xmlns:nc="{NC}">{body}</nc:rpc>'.encode())
    assert b'message-id="9"' in reply
    [error] = errors(reply)
    assert error["error-tag"] == tag
    for key, value in info.items():
        assert error[key] == value
    hostile.served()


@pytest.mark.parametrize(("message", "tag"), [
    pytest.param(b'<rpc message-id="1" xmlns="urn:example:nowhere"><get/></rpc>',
                 "unknown-namespace", id="rpc-in-other-namespace"),
    pytest.param(b'<rpc message-id="1"><get/></rpc>', "unknown-namespace", id="rpc-no-namespace"),
    pytest.param(f'<rpc-reply message-id="1" xmlns="{NC}"><ok/></rpc-reply>'.encode(),
                 "unknown-element", id="rpc-reply-from-client"),
    pytest.param(f'<notification xmlns="{NC}"/>'.encode(), "unknown-element", id="notification"),
])
def test_wrong_root_elements(hostile: Hostile, message: bytes, tag: str) -> None:
    s = hostile.open()
    assert tags(hostile.call(s, message)) == [tag]
    hostile.served()


def test_unknown_namespace_in_config(hostile: Hostile) -> None:
    s = hostile.open()
    reply = hostile.call(s, edit('<top xmlns="urn:example:nowhere"><x>1</x></top>'))
    assert tags(reply) in (["unknown-namespace"], ["unknown-element"])
    reply = hostile.call(s, edit(top('<settings><note xmlns="urn:example:other">x</note>'
                                     "</settings>")))
    assert tags(reply) in (["unknown-namespace"], ["unknown-element"])
    hostile.served()


def test_unknown_element_in_config(hostile: Hostile) -> None:
    s = hostile.open()
    reply = hostile.call(s, edit(top("<no-such-leaf>1</no-such-leaf>")))
    assert tags(reply) == ["unknown-element"]
    assert errors(reply)[0]["bad-element"] == "no-such-leaf"
    hostile.served()


# --------------------------------------------------------------- deep nesting
@pytest.mark.parametrize("depth", [70, 300, 5000])
def test_deeply_nested_elements(hostile: Hostile, depth: int) -> None:
    s = hostile.open()
    nested = "<settings>" * depth + "</settings>" * depth
    start = time.monotonic()
    reply = hostile.call(s, edit(top(nested)))
    assert time.monotonic() - start < 5
    assert tags(reply) == ["malformed-message"]
    hostile.served()


def test_deep_nesting_inside_a_filter(hostile: Hostile) -> None:
    s = hostile.open()
    nested = "<a>" * 100 + "</a>" * 100
    reply = hostile.call(s, rpc(f'<get><filter type="subtree">{nested}</filter></get>'))
    assert tags(reply) == ["malformed-message"]
    hostile.served()


def test_many_attributes_and_namespaces(hostile: Hostile) -> None:
    s = hostile.open()
    attrs = " ".join(f'xmlns:p{i}="urn:p{i}" p{i}:a="v"' for i in range(500))
    reply = hostile.call(s, f'<rpc message-id="1" xmlns="{NC}" {attrs}><get-config><source>'
                            f"<running/></source></get-config></rpc>".encode())
    assert item_names(reply) == ["seed"]
    hostile.served()


# ------------------------------------------------------------------ invalid UTF-8
@pytest.mark.parametrize("bad", [
    pytest.param(b"\xff", id="ff"),
    pytest.param(b"\xc0\xaf", id="overlong"),
    pytest.param(b"\xed\xa0\x80", id="surrogate"),
    pytest.param(b"\xe2\x82", id="truncated"),
    pytest.param(b"\xf4\x90\x80\x80", id="above-unicode"),
    pytest.param(b"\x80", id="lone-continuation"),
])
@pytest.mark.parametrize("where", ["leaf", "attribute", "element-name"])
def test_invalid_utf8(hostile: Hostile, bad: bytes, where: str) -> None:
    s = hostile.open()
    if where == "leaf":
        message = edit(top("<settings><note>X</note></settings>")).replace(b"X", bad)
    elif where == "attribute":
        message = GET_CONFIG.replace(b'message-id="1"', b'message-id="' + bad + b'"')
    else:
        message = edit(top("<settings><noteX>1</noteX></settings>")).replace(b"X", bad)
    reply = hostile.call(s, message)
    assert tags(reply) == ["malformed-message"]
    hostile.served()


def test_other_declared_encoding_is_refused(hostile: Hostile) -> None:
    s = hostile.open()
    message = (b"<?xml version='1.0' encoding='ISO-8859-1'?>"
               + edit(top("<settings><note>cafX</note></settings>")).replace(b"X", b"\xe9"))
    assert tags(hostile.call(s, message)) == ["malformed-message"]
    hostile.served()


# ------------------------------------------------------- values outside their types
OUT_OF_TYPE = [
    pytest.param("<item><name>a</name><number>0</number><small/></item>", id="below-range"),
    pytest.param("<item><name>a</name><number>16777216</number><small/></item>",
                 id="above-range"),
    pytest.param("<item><name>a</name><number>99999999999999999999999</number><small/></item>",
                 id="huge-integer"),
    pytest.param("<item><name>a</name><number>-1</number><small/></item>", id="negative-uint"),
    pytest.param("<item><name>a</name><number>1e3</number><small/></item>", id="float"),
    pytest.param("<item><name>a</name><number>twelve</number><small/></item>", id="not-a-number"),
    pytest.param("<item><name>a</name><number></number><small/></item>", id="empty-number"),
    pytest.param(f"<item><name>{'n' * 33}</name><number>2</number><small/></item>",
                 id="string-too-long"),
    pytest.param("<item><name></name><number>2</number><small/></item>", id="string-too-short"),
    pytest.param("<item><name>a</name><number>2</number><small>x</small></item>",
                 id="empty-type-with-value"),
    pytest.param("<mode>medium</mode>", id="bad-enum"),
    pytest.param("<proto>nt:nowhere</proto>", id="unknown-identity"),
    pytest.param("<proto>zz:vxlan</proto>", id="undeclared-prefix"),
    pytest.param("<ref><id>300</id></ref>", id="uint8-overflow"),
    pytest.param("<ref><id>1</id><item>missing</item></ref>", id="dangling-leafref"),
    pytest.param("<opts><level>256</level></opts>", id="uint8-in-presence"),
    pytest.param("<target>/not:an[instance</target>", id="bad-instance-identifier"),
    pytest.param("<item><name>a</name><number>2</number></item>", id="missing-mandatory-choice"),
    pytest.param("<item><number>2</number><small/></item>", id="missing-key"),
    pytest.param("".join(f"<item><name>i{i}</name><number>{i + 10}</number><small/></item>"
                         for i in range(6)), id="max-elements"),
    pytest.param("<item><name>b</name><number>1</number><small/></item>", id="unique-violation"),
    pytest.param("<stats><count>1</count></stats>", id="config-false"),
    # A key given twice in a new entry (found by make fuzz: it was stored as such):
    pytest.param("<rule><name>z</name><name>z</name></rule>", id="key-twice-new-entry"),
    pytest.param("<item><name>z</name><name>z</name><number>3</number><small/></item>",
                 id="key-twice-new-item"),
    # libyang quotes such values in its message cut inside a UTF-8 sequence:
    pytest.param("<target>A\u00a0</target>", id="non-ascii-instance-identifier"),
    pytest.param("<proto>nt:\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9</proto>",
                 id="non-ascii-identityref"),
]


@pytest.mark.parametrize("content", OUT_OF_TYPE)
@pytest.mark.parametrize("target", ["running", "candidate"])
def test_values_outside_their_types_change_nothing(
    hostile: Hostile, content: str, target: str
) -> None:
    s = hostile.open()
    reply = hostile.call(s, edit(top(content), target))
    found = errors(reply)
    assert found, reply[:400]
    assert all(e["error-severity"] == "error" for e in found)
    assert {e["error-tag"] for e in found} <= {
        "invalid-value", "bad-element", "unknown-element", "missing-element", "bad-attribute",
        "operation-failed", "data-missing", "too-big", "unknown-namespace",
    }, found
    for source in ("running", "candidate"):
        get = rpc(f"<get-config><source><{source}/></source></get-config>", "5")
        assert item_names(hostile.call(s, get)) == ["seed"]
    if target == "candidate":
        assert tags(hostile.call(s, rpc("<commit/>", "6"))) == []
    hostile.served()


def test_test_option_set_cannot_make_running_invalid(hostile: Hostile) -> None:
    """Running is validated whatever the test-option: else a restart could not load it."""
    s = hostile.open()
    reply = hostile.call(s, rpc(
        "<edit-config><target><running/></target><test-option>set</test-option>"
        f"<config>{top('<item><name>q</name><small/></item>')}</config></edit-config>"))
    assert tags(reply) == ["data-missing"]
    assert item_names(hostile.call(s, GET_CONFIG)) == ["seed"]
    # On candidate, "set" defers validation to the commit.
    reply = hostile.call(s, rpc(
        "<edit-config><target><candidate/></target><test-option>set</test-option>"
        f"<config>{top('<item><name>q</name><small/></item>')}</config></edit-config>"))
    assert tags(reply) == []
    assert tags(hostile.call(s, rpc("<commit/>"))) == ["data-missing"]
    assert tags(hostile.call(s, rpc("<discard-changes/>"))) == []
    hostile.served()


def test_values_outside_their_types_in_rpc_input(hostile: Hostile) -> None:
    s = hostile.open()
    bad = [
        rpc("<commit><confirmed/><confirm-timeout>0</confirm-timeout></commit>"),
        rpc("<commit><confirmed/><confirm-timeout>-4</confirm-timeout></commit>"),
        rpc("<commit><confirmed/><confirm-timeout>99999999999</confirm-timeout></commit>"),
        rpc("<kill-session><session-id>x</session-id></kill-session>"),
        rpc("<kill-session><session-id>99999999999999</session-id></kill-session>"),
        rpc("<kill-session/>"),
        rpc("<get-config><source><nowhere/></source></get-config>"),
        rpc("<get-config/>"),
        rpc('<get><filter type="xpath" select="///[["/></get>'),
        rpc('<get><filter type="nonsense"/></get>'),
        rpc("<edit-config><target><running/></target><default-operation>melt"
            "</default-operation><config/></edit-config>"),
        rpc("<edit-config><target><running/></target><error-option>x</error-option>"
            "<config/></edit-config>"),
        rpc('<edit-config><target><running/></target><config><top xmlns="' + NT
            + f'" xmlns:nc="{NC}" nc:operation="explode"/></config></edit-config>'),
        rpc("<lock><target><startupx/></target></lock>"),
    ]
    for i, message in enumerate(bad):
        reply = hostile.call(s, message.replace(b'message-id="1"', b'message-id="%d"' % i))
        assert errors(reply), (message, reply[:300])
        assert b'message-id="%d"' % i in reply
    hostile.served()


# ------------------------------------------------------ a client that stops reading
def _big_config(hostile: Hostile) -> None:
    """About 600 KB of configuration, so that each get-config reply is large."""
    for start in range(0, 100, 8):
        part = "".join(f"<entry><id>{i}</id><value>{'v' * 6000}</value></entry>"
                       for i in range(start, min(start + 8, 100)))
        reply = hostile.call(hostile.bystander, edit(f'<bulk xmlns="{NT}">{part}</bulk>'))
        assert tags(reply) == []


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_client_that_stops_reading_is_closed_and_blocks_no_one(hostile: Hostile) -> None:
    _big_config(hostile)
    s = hostile.open()
    s.channel.settimeout(0.5)
    server_sessions = {x.session_id for x in hostile.agent.server.netconf.sessions()}
    sent = 0
    rss_before = _rss_kib()
    deadline = time.monotonic() + 20
    # Keep asking for ~600 KB replies without ever reading one: the SSH window fills,
    # the agent's send stalls, and past the send timeout it closes this session.
    while time.monotonic() < deadline:
        try:
            s.send(GET_CONFIG.replace(b'"1"', b'"%d"' % sent))
            sent += 1
        except (TimeoutError, OSError, EOFError):
            break
        if s.channel.closed or s.channel.eof_received:
            break
    # Meanwhile the others are served, promptly.
    start = time.monotonic()
    hostile.served()
    assert time.monotonic() - start < 5
    stuck = [x for x in hostile.agent.server.netconf.sessions()
             if x.session_id not in server_sessions and x.session_id != 0]
    deadline = time.monotonic() + SEND_TIMEOUT * 10
    while any(x in hostile.agent.server.netconf.sessions() for x in stuck):
        assert time.monotonic() < deadline, "the stalled session was not closed"
        time.sleep(0.1)
    # What the agent took in for it was bounded by the SSH window, not by what was sent.
    assert _rss_kib() - rss_before < 200 * 1024
    hostile.served()


def test_subscriber_that_stops_reading_is_dropped(hostile: Hostile) -> None:
    s = hostile.open(window_size=16 * 1024)  # a small SSH window fills after a few messages
    reply = hostile.call(s, b'<rpc message-id="1" xmlns="' + NC.encode() + b'">'
                            b'<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:'
                            b'notification:1.0"/></rpc>')
    assert tags(reply) == []
    before = len(hostile.agent.server.netconf.sessions())
    # Each edit publishes a netconf-config-change; the subscriber never reads them.
    for i in range(60):
        assert tags(hostile.call(hostile.bystander, edit(top(
            f"<settings><note>{i}</note></settings>")))) == []
    hostile.wait_sessions(before - 1, timeout=SEND_TIMEOUT * 10 + 10)
    assert tags(hostile.call(hostile.bystander, edit(top(
        '<settings nc:operation="remove"/>')))) == []
    hostile.served()


def test_peer_that_stops_reading_tcp_is_cut_off(hostile: Hostile) -> None:
    """A peer that completes SSH then never reads its socket at all."""
    _big_config(hostile)
    import paramiko

    sock = socket.create_connection(("127.0.0.1", hostile.agent.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    transport = paramiko.Transport(sock)
    transport.connect(username="admin", password=PASSWORD)
    # A huge receive window: the agent may send without waiting for window adjustments,
    # so only TCP holds it back once this client stops reading.
    channel = transport.open_session(window_size=2**31 - 1)
    channel.invoke_subsystem("netconf")
    from nvo3_netconf.constants import FramingVersion
    from nvo3_netconf.protocol.messages import build_hello
    from nvo3_netconf.transport.framing import encode_message

    channel.sendall(encode_message(build_hello((CAP_BASE_10,)), FramingVersion.EOM))
    before = len(hostile.agent.server.netconf.sessions())
    # Stop the client's reader: paramiko's transport thread reads the socket, so
    # freeze it by stopping the transport's packetizer from being serviced.
    stop = threading.Event()
    original = transport.packetizer.read_message

    def frozen() -> object:
        stop.wait(60)
        return original()

    transport.packetizer.read_message = frozen  # type: ignore[method-assign]
    for i in range(30):
        try:
            channel.sendall(encode_message(GET_CONFIG.replace(b'"1"', b'"%d"' % i),
                                           FramingVersion.EOM))
        except (OSError, EOFError):
            break
    hostile.served()
    hostile.wait_sessions(before - 1, timeout=SEND_TIMEOUT * 10 + 10)
    stop.set()
    transport.close()
    hostile.served()


def test_peer_that_ignores_the_ssh_window_is_cut_off(
    tmp_path: Path, users: UserDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    """A peer that sends past the SSH window while its session cannot read is cut off.

    paramiko itself buffers whatever arrives; the agent holds peers to the window.
    """
    from paramiko.common import cMSG_CHANNEL_DATA
    from paramiko.message import Message

    config = ServerConfig(listen="127.0.0.1", port=0, state_dir=tmp_path / "state",
                          yang_dirs=(TEST_YANG,), send_timeout=60)
    agent = Agent(config, users, ManualClock()).start()
    bystander = RawSession(agent.port, "admin", PASSWORD)
    bystander.hello()
    try:
        ctx = Hostile(agent, bystander)
        assert tags(ctx.call(bystander, edit(SEED))) == []
        _big_config(ctx)
        s = ctx.open()
        before = ctx.session_count()
        # Replies it never reads: the agent's session blocks sending, and stops reading.
        for i in range(8):
            s.send(GET_CONFIG.replace(b'"1"', b'"%d"' % i))
        time.sleep(1)
        flood = Message()
        flood.add_byte(cMSG_CHANNEL_DATA)
        flood.add_int(s.channel.remote_chanid)
        flood.add_string(b" " * 30000)
        with contextlib.suppress(Exception):
            for _ in range(600):  # 18 MB, far past the 2 MB window
                s.transport._send_user_message(flood)
        ctx.wait_sessions(before - 1, timeout=20)
        assert "ignores the SSH window" in caplog.text
        ctx.served()
        for session in ctx.opened:
            session.close()
    finally:
        bystander.close()
        agent.stop()
