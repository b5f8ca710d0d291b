"""Error details on the wire, under both framings (RFC 6241 sec. 4.3 and Appendix A).

kill-session, lock and unlock refusals, XPath filter errors, unknown operations and
an rpc without message-id: error-type, error-tag, error-info and a message a person
understands, and the session goes on.
"""

from __future__ import annotations

import pytest
from lxml import etree

from nvo3_netconf.constants import CAP_BASE_10, CAP_BASE_11
from tests.functional.conftest import PASSWORD
from tests.functional.raw import RawSession
from tests.functional.replies import (
    NC,
    NT,
    call,
    get_config,
    is_ok,
    one_error,
    stored_items,
    wire_errors,
)


def lock(datastore: str) -> str:
    return f'<lock xmlns="{NC}"><target><{datastore}/></target></lock>'


def unlock(datastore: str) -> str:
    return f'<unlock xmlns="{NC}"><target><{datastore}/></target></unlock>'


def kill(session_id: str) -> str:
    return f'<kill-session xmlns="{NC}"><session-id>{session_id}</session-id></kill-session>'


# ------------------------------------------------------------------- kill-session
def test_kill_session_of_ones_own_session_is_invalid_value(connect) -> None:
    m = connect()
    error = one_error(call(m, kill(m.session_id)))
    assert (error.type, error.tag) == ("application", "invalid-value")
    assert error.info == {"bad-element": "session-id"}
    assert "close-session" in error.message
    assert stored_items(m) == []  # the session goes on


def test_kill_session_of_an_unknown_session_is_invalid_value(connect) -> None:
    m = connect()
    unknown = str(int(m.session_id) + 1000)
    error = one_error(call(m, kill(unknown)))
    assert (error.type, error.tag) == ("application", "invalid-value")
    assert error.info == {"bad-element": "session-id"}
    assert error.message == f"There is no session {unknown}."


# ------------------------------------------------------------------ lock, unlock
@pytest.mark.parametrize("datastore", ["running", "startup"])
def test_lock_held_by_another_session_is_lock_denied_naming_the_holder(
    connect, datastore: str
) -> None:
    holder, other = connect(), connect()
    assert is_ok(call(holder, lock(datastore)))
    error = one_error(call(other, lock(datastore)))
    assert (error.type, error.tag) == ("protocol", "lock-denied")
    assert error.info == {"session-id": holder.session_id}
    assert f"locked by session {holder.session_id}" in error.message
    error = one_error(call(holder, lock(datastore)))  # the holder's second lock too
    assert (error.tag, error.info) == ("lock-denied", {"session-id": holder.session_id})


def test_unlock_of_a_lock_not_held_is_operation_failed(connect) -> None:
    """RFC 6241 sec. 7.6 names no error-tag: the server answers operation-failed."""
    m = connect()
    error = one_error(call(m, unlock("running")))
    assert (error.type, error.tag) == ("protocol", "operation-failed")
    assert error.message == "Cannot unlock the running datastore: it is not locked."


def test_unlock_of_another_sessions_lock_fails_and_the_lock_stays(connect) -> None:
    holder, other, third = connect(), connect(), connect()
    assert is_ok(call(holder, lock("running")))
    error = one_error(call(other, unlock("running")))
    assert (error.type, error.tag) == ("protocol", "operation-failed")
    assert error.message == (
        f"Cannot unlock the running datastore: it is locked by session {holder.session_id}.")
    error = one_error(call(third, lock("running")))
    assert (error.tag, error.info) == ("lock-denied", {"session-id": holder.session_id})
    assert is_ok(call(holder, unlock("running")))


# ------------------------------------------------------------------ XPath filter
@pytest.mark.parametrize(("select", "reason"), [
    pytest.param("/nt:top/nt:item[", "Invalid expression", id="syntax"),
    pytest.param("/zz:top", "namespace prefix 'zz' is not declared", id="undeclared-prefix"),
])
@pytest.mark.parametrize("operation", ["get", "get-config"])
def test_xpath_filter_errors_are_invalid_value(
    connect, operation: str, select: str, reason: str
) -> None:
    m = connect()
    source = "<source><running/></source>" if operation == "get-config" else ""
    reply = call(m, f'<{operation} xmlns="{NC}">{source}<filter type="xpath" '
                    f'xmlns:nt="{NT}" select="{select}"/></{operation}>')
    error = one_error(reply)
    assert (error.type, error.tag) == ("protocol", "invalid-value")
    assert error.message == f"Invalid XPath filter '{select}': {reason}."
    assert stored_items(m) == []  # the session goes on


# ------------------------------------------------------------------- rpc envelope
def test_unknown_operation_is_operation_not_supported(connect) -> None:
    m = connect()
    error = one_error(call(m, f'<frobnicate xmlns="{NC}"/>'))
    assert (error.type, error.tag, error.severity) == (
        "protocol", "operation-not-supported", "error")
    assert error.info == {"bad-element": "frobnicate"}
    assert "frobnicate" in error.message
    assert wire_errors(call(m, get_config())) == []


@pytest.fixture(params=["base:1.1", "base:1.0"])
def raw_session(request: pytest.FixtureRequest, agent):
    """A raw session (it may send what ncclient never would) with the parameter's framing."""
    session = RawSession(agent.port, "admin", PASSWORD)
    session.hello((CAP_BASE_10, CAP_BASE_11) if request.param == "base:1.1" else (CAP_BASE_10,))
    yield session
    session.close()


def test_rpc_without_message_id_is_missing_attribute(raw_session: RawSession) -> None:
    raw_session.send(f'<rpc xmlns="{NC}"><get-config><source><running/></source>'
                     "</get-config></rpc>".encode())
    reply = etree.fromstring(raw_session.read())
    assert reply.get("message-id") is None
    error = one_error(reply)
    assert (error.type, error.tag, error.severity) == ("rpc", "missing-attribute", "error")
    assert error.info == {"bad-attribute": "message-id", "bad-element": "rpc"}
    assert "message-id" in error.message
    raw_session.send(f'<rpc xmlns="{NC}" message-id="2"><get-config><source><running/>'
                     "</source></get-config></rpc>".encode())
    assert etree.fromstring(raw_session.read()).get("message-id") == "2"
