"""Byte-level behaviour: hello negotiation, malformed messages, message-id rules."""

from __future__ import annotations

import pytest

from nvo3_netconf.constants import CAP_BASE_10, CAP_BASE_11
from tests.functional.conftest import PASSWORD
from tests.functional.raw import RawSession

GET = b'<rpc message-id="7" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:x="urn:x" x:tag="keep"><get-config><source><running/></source></get-config></rpc>'


@pytest.fixture
def raw(agent):
    sessions: list[RawSession] = []

    def _open() -> RawSession:
        session = RawSession(agent.port, "admin", PASSWORD)
        sessions.append(session)
        return session

    yield _open
    for session in sessions:
        session.close()


@pytest.mark.parametrize("caps", [(CAP_BASE_10,), (CAP_BASE_10, CAP_BASE_11)])
def test_reply_echoes_every_rpc_attribute(raw, caps) -> None:
    s = raw()
    s.hello(caps)
    s.send(GET)
    reply = s.read()
    assert b'message-id="7"' in reply and b'tag="keep"' in reply and b"<data" in reply


def test_server_hello_has_session_id_and_both_bases(raw) -> None:
    s = raw()
    assert b"<session-id>" in s.server_hello
    assert CAP_BASE_10.encode() in s.server_hello and CAP_BASE_11.encode() in s.server_hello


def test_hello_without_common_base_closes_the_session(raw) -> None:
    s = raw()
    s.hello(("urn:ietf:params:netconf:base:2.0",))
    s.send(GET)
    assert s.closed_by_server()


def test_rpc_before_hello_closes_the_session(raw) -> None:
    s = raw()
    s.send(GET)
    assert s.closed_by_server()


def test_missing_message_id_is_answered_with_missing_attribute(raw) -> None:
    s = raw()
    s.hello()
    s.send(b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>')
    reply = s.read()
    assert b"<error-tag>missing-attribute</error-tag>" in reply
    assert b"<bad-attribute>message-id</bad-attribute>" in reply


def test_malformed_xml_under_base11_gets_malformed_message_and_session_survives(raw) -> None:
    s = raw()
    s.hello()
    s.send(b"<rpc message-id='1' xmlns='urn:ietf:params:xml:ns:netconf:base:1.0'><get></rpc>")
    assert b"<error-tag>malformed-message</error-tag>" in s.read()
    s.send(GET)
    assert b"<data" in s.read()


def test_malformed_xml_under_base10_closes_the_session(raw) -> None:
    s = raw()
    s.hello((CAP_BASE_10,))
    s.send(b"<rpc message-id='1'><get></rpc>")
    assert s.closed_by_server()


def test_bad_chunk_header_gets_malformed_message_then_close(raw) -> None:
    s = raw()
    s.hello()
    s.send_raw(b"\n#abc\n")
    reply = s.read()
    assert b"<error-tag>malformed-message</error-tag>" in reply
    assert s.closed_by_server()


def test_doctype_is_refused(raw) -> None:
    s = raw()
    s.hello()
    s.send(b'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY x "y">]>' + GET)
    assert b"<error-tag>malformed-message</error-tag>" in s.read()


def test_wrong_password_is_refused(agent) -> None:
    import paramiko

    with pytest.raises(paramiko.AuthenticationException):
        RawSession(agent.port, "admin", "wrong")
    with pytest.raises(paramiko.AuthenticationException):
        RawSession(agent.port, "nobody", PASSWORD)
