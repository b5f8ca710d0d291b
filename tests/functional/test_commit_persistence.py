"""Confirmed commit (RFC 6241 sec. 8.4) and persistence across agent restarts.

Every test but the host key's runs under base:1.1 and base:1.0 framing (the ``connect``
fixture); the agent's clock is manual, so no test waits for a real timeout.
"""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError as NcRPCError

from tests.functional.replies import call, one_error, stored_items
from tests.functional.test_protocol import NC, config, item, names


def confirmed_commit(m, *, timeout: int | None = None, persist: str | None = None,
                     persist_id: str | None = None):
    confirming = persist_id is not None and timeout is None and persist is None
    parts = [] if confirming else ["<confirmed/>"]
    if timeout is not None:
        parts.append(f"<confirm-timeout>{timeout}</confirm-timeout>")
    if persist is not None:
        parts.append(f"<persist>{persist}</persist>")
    if persist_id is not None:
        parts.append(f"<persist-id>{persist_id}</persist-id>")
    return m.dispatch(etree.fromstring(f'<commit xmlns="{NC}">{"".join(parts)}</commit>'))


def test_confirmed_commit_rolls_back_on_timeout(connect, agent) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    m.commit()
    m.edit_config(target="candidate", config=config(item("b", 2)))
    confirmed_commit(m, timeout=60)
    assert names(m.get_config(source="running")) == ["a", "b"]
    agent.clock.advance(59)
    assert names(m.get_config(source="running")) == ["a", "b"]
    agent.clock.advance(2)
    assert names(m.get_config(source="running")) == ["a"]
    assert names(m.get_config(source="candidate")) == ["a"]
    m.close_session()


def test_follow_up_confirmed_commit_keeps_original_rollback_point(connect, agent) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    confirmed_commit(m, timeout=30)
    m.edit_config(target="candidate", config=config(item("b", 2)))
    confirmed_commit(m, timeout=30)
    agent.clock.advance(31)
    assert names(m.get_config(source="running")) == []
    m.close_session()


def test_confirming_commit_makes_it_permanent(connect, agent) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    confirmed_commit(m, timeout=10)
    m.commit()
    agent.clock.advance(100)
    assert names(m.get_config(source="running")) == ["a"]
    m.close_session()


def test_session_end_rolls_back_unconfirmed_commit(connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    confirmed_commit(m, timeout=600)
    m.close_session()
    other = connect()
    assert names(other.get_config(source="running")) == []
    other.close_session()


def test_cancel_commit(connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    confirmed_commit(m, timeout=600)
    m.dispatch(etree.fromstring(f'<cancel-commit xmlns="{NC}"/>'))
    assert names(m.get_config(source="running")) == []
    with pytest.raises(NcRPCError) as info:
        m.dispatch(etree.fromstring(f'<cancel-commit xmlns="{NC}"/>'))
    assert info.value.tag == "operation-failed"
    m.close_session()


def test_only_the_committing_session_confirms_or_cancels(connect) -> None:
    """RFC 6241 sec. 8.4.5.1/8.4.5.2: without persist, another session can do neither."""
    m, other = connect(), connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    confirmed_commit(m, timeout=600)
    for operation in (f'<commit xmlns="{NC}"/>', f'<cancel-commit xmlns="{NC}"/>'):
        error = one_error(call(other, operation))
        assert (error.type, error.tag) == ("protocol", "operation-failed")
        assert error.info == {"session-id": m.session_id}
    assert stored_items(other) == ["a"]
    m.commit()
    assert stored_items(other) == ["a"]


def test_wrong_persist_id_is_refused_and_the_right_one_cancels(connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    confirmed_commit(m, timeout=600, persist="tok-3")
    other = connect()
    for operation in ("commit", "cancel-commit"):
        for persist_id in ("<persist-id>wrong</persist-id>", ""):
            error = one_error(call(other, f'<{operation} xmlns="{NC}">{persist_id}</{operation}>'))
            assert (error.tag, error.info) == ("invalid-value", {"bad-element": "persist-id"})
    assert stored_items(other) == ["a"]
    call(other, f'<cancel-commit xmlns="{NC}"><persist-id>tok-3</persist-id></cancel-commit>')
    assert stored_items(other) == []
    assert stored_items(other, "candidate") == []


def test_persisted_confirmed_commit_needs_persist_id_and_survives_restart(connect, agent) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    confirmed_commit(m, timeout=120, persist="tok-1")
    m.close_session()  # persisted: the session's end does not roll back
    agent.restart()
    other = connect()
    assert names(other.get_config(source="running")) == ["a"]
    with pytest.raises(NcRPCError) as info:
        other.commit()
    assert info.value.tag == "invalid-value"
    agent.clock.advance(121)  # the timer was re-armed after the restart
    assert names(other.get_config(source="running")) == []
    other.close_session()


def test_persist_id_confirms_from_another_session(connect, agent) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    confirmed_commit(m, timeout=120, persist="tok-2")
    other = connect()
    confirmed_commit(other, persist_id="tok-2")
    agent.clock.advance(500)
    assert names(other.get_config(source="running")) == ["a"]
    m.close_session()
    other.close_session()


def test_running_and_startup_survive_restart(connect, agent) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    m.copy_config(source="running", target="startup")
    m.edit_config(target="running", config=config(item("b", 2)))
    m.close_session()
    agent.restart()
    m = connect()
    assert names(m.get_config(source="running")) == ["a", "b"]
    assert names(m.get_config(source="startup")) == ["a"]
    m.close_session()
    # Starting from startup instead of the last running:
    agent.config = agent.config.with_overrides(load="startup")
    agent.restart()
    m = connect()
    assert names(m.get_config(source="running")) == ["a"]
    m.close_session()


def test_host_key_is_kept_across_restarts(agent) -> None:
    path = agent.config.host_key_path
    first = path.read_bytes()
    agent.restart()
    assert path.read_bytes() == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"
