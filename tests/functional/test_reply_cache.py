"""Repeated ``<get-config>`` requests are answered from the reply cache, never stale.

The agent keeps the serialized answer of recent get-config requests until any
datastore changes (``protocol/reply_cache.py``). These tests ask the same question
before and after every kind of change, from users with different read access and
with different with-defaults and filter namespaces, and check each answer against
what the datastore holds, and that repeated questions were in fact answered from
the cache.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError as NcRPCError

from nvo3_netconf.errors import ConfigError
from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from tests.functional.conftest import PASSWORD, TEST_YANG, Agent
from tests.functional.test_nacm import ADMIN, policy, rule, rule_list
from tests.functional.raw import RawSession
from tests.functional.test_protocol import NC, NS, config, item, names

WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
ITEMS = ("subtree", f'<top xmlns="{NS}"><item/></top>')


def hits(agent: Agent) -> int:
    assert agent.server is not None
    netconf = agent.server.netconf  # by request, and by message before parsing
    return netconf.config_replies.hits + netconf.message_replies.hits


def read(m: manager.Manager, source: str = "running") -> list[str]:
    return names(m.get_config(source=source, filter=ITEMS))


def test_every_change_of_a_datastore_shows_in_the_next_answer(agent: Agent) -> None:
    m = agent.connect()
    assert read(m) == []
    before = hits(agent)
    assert read(m) == []
    assert hits(agent) == before + 1  # the same question, answered from the cache

    m.edit_config(target="running", config=config(item("a", 1)))
    assert read(m) == ["a"]
    m.edit_config(target="candidate", config=config(item("b", 2)))
    assert read(m, "candidate") == ["a", "b"]
    assert read(m) == ["a"]
    m.discard_changes()
    assert read(m, "candidate") == ["a"]
    m.edit_config(target="candidate", config=config(item("c", 3)))
    m.commit()
    assert read(m) == ["a", "c"]
    m.copy_config(source="running", target="startup")
    assert read(m, "startup") == ["a", "c"]
    m.delete_config(target="startup")
    assert read(m, "startup") == []
    with pytest.raises(NcRPCError):  # refused: running stays as it was
        m.edit_config(target="running", config=config(item("a", 1, op="create")))
    assert read(m) == ["a", "c"]
    m.edit_config(target="running", config=config(item("a", 1, op="delete")))
    assert read(m) == ["c"]
    m.close_session()


def test_confirmed_commit_rollback_shows_in_the_next_answer(agent: Agent) -> None:
    m = agent.connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    m.edit_config(target="candidate", config=config(item("b", 2)))
    m.dispatch(etree.fromstring(
        f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>10</confirm-timeout></commit>'))
    assert read(m) == ["a", "b"]
    assert read(m) == ["a", "b"]
    agent.clock.advance(11)
    assert read(m) == ["a"]
    m.close_session()


def test_answers_depend_on_the_user_and_follow_access_rules(agent: Agent) -> None:
    admin = agent.connect()
    admin.edit_config(target="running", config=config(item("a", 1), item("secret", 2)))
    hide = rule("hide", "deny", ops="read", path="/nt:top/nt:item[nt:name='secret']")
    admin.edit_config(target="running", config=policy(ADMIN, rule_list("ops", "operator", hide)))
    operator = agent.connect(user="operator")
    for _ in range(2):
        assert read(operator) == ["a"]
        assert read(admin) == ["a", "secret"]
    # The rule goes: the operator's next identical question sees the entry.
    admin.edit_config(target="running", config=policy(ADMIN))
    assert read(operator) == ["a", "secret"]
    operator.close_session()
    admin.close_session()


def _get_config(m: manager.Manager, body: str) -> str:
    xml: str = m.dispatch(etree.fromstring(
        f'<get-config xmlns="{NC}"><source><running/></source>{body}</get-config>')).xml
    return xml


def test_answers_depend_on_with_defaults_and_on_filter_prefixes(agent: Agent) -> None:
    m = agent.connect()
    m.edit_config(target="running", config=config(item("a", 1), mode="fast"))
    trim = f'<with-defaults xmlns="{WD}">trim</with-defaults>'
    for _ in range(2):
        assert "<mode>fast</mode>" in _get_config(m, "")
        assert "mode" not in _get_config(m, trim)
    # The same XPath text, its prefix bound to the module or to another namespace.
    select = 'select="/p:top/p:item/p:name"'
    ours = f'<filter xmlns:p="{NS}" type="xpath" {select}/>'
    other = f'<filter xmlns:p="urn:example:other" type="xpath" {select}/>'
    for _ in range(2):
        assert ">a</name>" in _get_config(m, ours)
        assert "item" not in _get_config(m, other)
    m.close_session()


def test_many_sessions_reading_while_one_writes_see_every_commit(agent: Agent) -> None:
    """Readers in parallel threads: each answer is a state running really had."""
    writer = agent.connect()
    readers = [agent.connect() for _ in range(4)]
    # max-elements 5: the writer cycles through states, each one an edit.
    steps = [("add", i) for i in range(5)] + [("delete", i) for i in range(5)]
    states = {tuple(f"e{j}" for j in range(i)) for i in range(6)}
    states |= {tuple(f"e{j}" for j in range(i, 5)) for i in range(6)}
    states.add(("last",))
    seen: list[tuple[str, ...]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def reader(m: manager.Manager) -> None:
        try:
            while not done.is_set():
                seen.append(tuple(sorted(read(m))))
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=reader, args=(m,)) for m in readers]
    for thread in threads:
        thread.start()
    try:
        for _ in range(3):
            for action, i in steps:
                op = "delete" if action == "delete" else None
                writer.edit_config(target="running", config=config(item(f"e{i}", i + 1, op=op)))
        writer.edit_config(target="running", config=config(item("last", 9)))
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures
    assert len(seen) > 10 and set(seen) <= states, set(seen) - states
    for m in readers:  # the next question of every reader sees the last commit
        assert read(m) == ["last"]
    for m in (writer, *readers):
        m.close_session()


def test_a_repeated_message_is_answered_byte_for_byte_before_parsing(agent: Agent) -> None:
    """Messages differing only in message-id: the first is parsed, the others are not."""
    m = agent.connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    raw = RawSession(agent.port, "admin", PASSWORD)
    raw.hello()
    get = (f'<get-config><source><running/></source><filter type="subtree"><top xmlns="{NS}">'
           "<item/></top></filter></get-config>")

    def ask(start: str, body: str = get, end: str = "</rpc>") -> bytes:
        raw.send((start + body + end).encode())
        return raw.read()

    assert agent.server is not None
    by_message = agent.server.netconf.message_replies
    first = ask(f'<rpc xmlns="{NC}" message-id="1">')
    assert b"<name>a</name>" in first
    before = by_message.hits
    for mid in ("2", "urn:uuid:0f-1 x", "3"):
        reply = ask(f'<rpc xmlns="{NC}" message-id="{mid}">')
        assert reply == first.replace(b'message-id="1"', f'message-id="{mid}"'.encode())
    assert by_message.hits == before + 3  # found before parsing
    # A plain message is stored by its key only; the request-level cache is for the rest.
    by_request = agent.server.netconf.config_replies
    assert len(by_request) == 0
    # The forms the key leaves to the parser still echo every attribute as sent, and a
    # repeated one is answered from the request-level cache.
    reply = ask(f'<rpc xmlns="{NC}" message-id="a&amp;b" foo="x">')
    assert b'message-id="a&amp;b"' in reply and b'foo="x"' in reply
    assert b"<name>a</name>" in reply
    before = by_request.hits
    again = ask(f'<rpc xmlns="{NC}" message-id="c" foo="y">')
    assert again == reply.replace(b'message-id="a&amp;b" foo="x"', b'message-id="c" foo="y"')
    assert by_request.hits == before + 1
    reply = ask(f"<nc:rpc xmlns:nc='{NC}' message-id='4'>",
                get.replace("<get-config>", f'<get-config xmlns="{NC}">'), "</nc:rpc>")
    assert b'message-id="4"' in reply and b"<name>a</name>" in reply
    # A refused request is never stored: asked again, it is refused again.
    bad = "<get-config><source><nowhere/></source></get-config>"
    for mid in ("5", "6"):
        reply = ask(f'<rpc xmlns="{NC}" message-id="{mid}">', bad)
        assert b"<rpc-error>" in reply and f'message-id="{mid}"'.encode() in reply
    # A change: the same bytes get the new answer.
    m.edit_config(target="running", config=config(item("b", 2)))
    reply = ask(f'<rpc xmlns="{NC}" message-id="7">')
    assert b"<name>b</name>" in reply and b'message-id="7"' in reply
    raw.close()
    m.close_session()


def test_the_cache_can_be_turned_off(tmp_path: Path, users: UserDatabase) -> None:
    raw = {"listen": "127.0.0.1", "port": 0, "state-dir": str(tmp_path / "state"),
           "yang-dirs": [str(TEST_YANG)], "reply-cache-entries": 0}
    agent = Agent(ServerConfig.from_mapping(raw), users, ManualClock()).start()
    try:
        m = agent.connect()
        m.edit_config(target="running", config=config(item("a", 1)))
        assert read(m) == ["a"] and read(m) == ["a"]
        assert hits(agent) == 0
        assert agent.server is not None
        netconf = agent.server.netconf
        assert len(netconf.config_replies) == len(netconf.message_replies) == 0
        m.close_session()
    finally:
        agent.stop()
    with pytest.raises(ConfigError):
        ServerConfig.from_mapping({**raw, "reply-cache-entries": -1})
