"""The candidate's lock and its outstanding changes, end to end over SSH.

RFC 6241 sec. 8.3.5.2: the changes made to a locked candidate are discarded when the
lock is released, by ``<unlock>`` or by the end of the session (``<close-session>``,
``<kill-session>``, a dropped connection), as ``<discard-changes>`` does; changes made
without the lock stay. Sec. 7.5: a modified candidate cannot be locked; the lock-denied
names the session that made the changes (0 once none of them is open, Appendix A).
Sec. 8.4: discarding the candidate neither confirms nor cancels a confirmed commit in
progress. Each test runs under base:1.1 and base:1.0 framing (the ``connect`` fixture).
"""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError as NcRPCError

from tests.functional.conftest import Agent
from tests.functional.test_commit_persistence import confirmed_commit
from tests.functional.test_notifications import NCN, content, take_named
from tests.functional.test_protocol import config, item, names


def candidate(m: manager.Manager) -> list[str]:
    return names(m.get_config(source="candidate"))


def running(m: manager.Manager) -> list[str]:
    return names(m.get_config(source="running"))


def refused_lock(m: manager.Manager) -> tuple[str, str]:
    """The error-info session-id and the message of ``m``'s refused lock on candidate."""
    with pytest.raises(NcRPCError) as info:
        m.lock(target="candidate")
    assert info.value.tag == "lock-denied"
    assert info.value.type == "protocol"
    ids = etree.fromstring(info.value.info.encode()).xpath("//*[local-name()='session-id']/text()")
    assert len(ids) == 1, info.value.info
    return ids[0], info.value.message


def locked_and_edited(connect) -> manager.Manager:
    """A session holding candidate's lock, with ``b`` in candidate over running's ``a``."""
    holder = connect()
    holder.edit_config(target="running", config=config(item("a", 1)))
    holder.lock(target="candidate")
    holder.edit_config(target="candidate", config=config(item("b", 2)))
    assert candidate(holder) == ["a", "b"]  # a get-config of candidate, kept in the cache
    return holder


def test_unlock_discards_the_candidates_changes(connect) -> None:
    holder, other = locked_and_edited(connect), connect()
    assert refused_lock(other)[0] == holder.session_id  # locked by the holder
    holder.unlock(target="candidate")
    assert candidate(holder) == candidate(other) == running(other) == ["a"]
    other.lock(target="candidate")  # unmodified: granted
    other.unlock(target="candidate")


def test_close_session_discards_the_candidates_changes(connect) -> None:
    holder, other = locked_and_edited(connect), connect()
    holder.close_session()
    # The lock went before the <ok/>: no waiting for the connection to close.
    other.lock(target="candidate")
    assert candidate(other) == running(other) == ["a"]


def test_kill_session_discards_the_candidates_changes_and_releases_the_lock(connect) -> None:
    holder, other = locked_and_edited(connect), connect()
    with pytest.raises(NcRPCError) as info:
        other.discard_changes()
    assert info.value.tag == "in-use"
    other.kill_session(holder.session_id)
    other.lock(target="candidate")
    assert candidate(other) == running(other) == ["a"]


def test_a_dropped_connection_discards_the_candidates_changes(connect) -> None:
    watcher = connect()
    watcher.create_subscription(filter=("subtree", f'<netconf-session-end xmlns="{NCN}"/>'))
    holder, other = locked_and_edited(connect), connect()
    holder._session.close()  # the transport goes away without <close-session>
    # The server publishes the session-end once the session's locks are released; its
    # arrival (or a failure after the notification tests' WAIT) ends the wait.
    end = content(take_named(watcher, "netconf-session-end"))
    assert end.findtext(f"{{{NCN}}}session-id") == str(holder.session_id)
    assert end.findtext(f"{{{NCN}}}termination-reason") == "dropped"
    other.lock(target="candidate")
    assert candidate(other) == running(other) == ["a"]


def test_changes_made_without_the_lock_survive_the_session(connect) -> None:
    writer, other = connect(), connect()
    writer.edit_config(target="candidate", config=config(item("b", 2)))
    writer.close_session()
    assert candidate(other) == ["b"]
    assert running(other) == []
    session_id, message = refused_lock(other)
    assert session_id == "0"  # RFC 6241 Appendix A: no open session made them
    assert "a session that has ended" in message
    other.commit()
    assert running(other) == ["b"]
    other.lock(target="candidate")


def test_lock_denied_on_a_modified_candidate_names_the_modifying_session(connect) -> None:
    first, second, locker = connect(), connect(), connect()
    first.edit_config(target="candidate", config=config(item("a", 1)))
    second.edit_config(target="candidate", config=config(item("b", 2)))
    session_id, message = refused_lock(locker)
    assert session_id == second.session_id  # the most recent modifier
    assert (f"The candidate datastore holds changes of session {second.session_id} that "
            "were neither committed nor discarded") in message
    second.close_session()
    assert refused_lock(locker)[0] == first.session_id  # the most recent one still open
    session_id, message = refused_lock(first)  # its own changes: refused all the same
    assert session_id == first.session_id
    assert f"this session ({first.session_id})" in message
    locker.discard_changes()
    locker.lock(target="candidate")


def test_unlock_neither_confirms_nor_cancels_a_confirmed_commit(connect, agent: Agent) -> None:
    holder = locked_and_edited(connect)
    confirmed_commit(holder, timeout=60)
    holder.edit_config(target="candidate", config=config(item("c", 3)))
    holder.unlock(target="candidate")
    # "c" is discarded; the confirmed commit of "b" is still in force, not rolled back...
    assert candidate(holder) == running(holder) == ["a", "b"]
    agent.clock.advance(61)
    # ...nor confirmed: its timeout rolls it back.
    assert candidate(holder) == running(holder) == ["a"]


def test_a_confirming_commit_after_the_unlock_confirms(connect, agent: Agent) -> None:
    holder = locked_and_edited(connect)
    confirmed_commit(holder, timeout=60)
    holder.edit_config(target="candidate", config=config(item("c", 3)))
    holder.unlock(target="candidate")
    holder.commit()  # confirms what the confirmed commit made, without the discarded "c"
    agent.clock.advance(61)
    assert candidate(holder) == running(holder) == ["a", "b"]


def test_a_persisted_confirmed_commit_outlives_its_sessions_discarded_candidate(
        connect, agent: Agent) -> None:
    holder, other = locked_and_edited(connect), connect()
    confirmed_commit(holder, timeout=60, persist="token")
    holder.edit_config(target="candidate", config=config(item("c", 3)))
    holder.close_session()
    # The candidate's "c" went with the lock; the persisted commit of "b" stays pending.
    assert candidate(other) == running(other) == ["a", "b"]
    other.lock(target="candidate")
    agent.clock.advance(61)
    assert candidate(other) == running(other) == ["a"]


def test_a_confirmed_commit_rolled_back_with_its_session_leaves_candidate_unlocked(
        connect) -> None:
    holder, other = locked_and_edited(connect), connect()
    confirmed_commit(holder, timeout=60)
    holder.edit_config(target="candidate", config=config(item("c", 3)))
    other.kill_session(holder.session_id)
    assert candidate(other) == running(other) == ["a"]  # RFC 6241 sec. 8.4.1 rollback
    other.lock(target="candidate")
    other.edit_config(target="candidate", config=config(item("d", 4)))
    other.commit()
    assert running(other) == ["a", "d"]

