"""RFC 8341 NACM in a real agent over SSH: exec, read, write and notification access.

The agent of ``conftest.py`` has the users admin, operator and monitor, each in the
group of its name (users file groups). Until a rule-list is configured the bootstrap
policy lets the ``admin`` group do everything and RFC 8341's defaults hold for the
others (read and exec permitted, write denied, kill-session and delete-config
denied). Tests then install rule-lists as admin and check each access operation, the
``access-denied`` errors (error-type protocol for an operation, application for data;
an error-path only where the user may know the node), pruning that reveals nothing,
the defaults, the recovery user and the ``denied-*`` counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError as NcRPCError

from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from tests.functional.conftest import TEST_YANG, Agent
from tests.functional.test_protocol import NC, NS, config, item, names

N = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
X = {"nt": NS, "n": N}

Connect = Callable[..., manager.Manager]


@pytest.fixture
def nc(agent: Agent) -> Iterator[Connect]:
    opened: list[manager.Manager] = []

    def _connect(user: str = "admin") -> manager.Manager:
        session = agent.connect(user=user)
        opened.append(session)
        return session

    yield _connect
    for session in opened:
        if session.connected:
            try:
                session.close_session()
            except Exception:  # noqa: BLE001 - a killed session may not know it yet
                pass


def policy(*rule_lists: str, **leaves: str) -> str:
    """A ``<config>`` setting /nacm (replacing what is there) to these rule-lists."""
    extra = "".join(f"<{k.replace('_', '-')}>{v}</{k.replace('_', '-')}>"
                    for k, v in leaves.items())
    return (f'<config xmlns="{NC}"><nacm xmlns="{N}" xmlns:nt="{NS}" xmlns:nc="{NC}" '
            f'nc:operation="replace">{extra}{"".join(rule_lists)}</nacm></config>')


def rule_list(name: str, group: str, *rules: str) -> str:
    return f"<rule-list><name>{name}</name><group>{group}</group>{''.join(rules)}</rule-list>"


def rule(name: str, action: str, *, module: str = "*", ops: str = "*", path: str = "",
         rpc: str = "", notification: str = "") -> str:
    target = (f"<path>{path}</path>" if path else f"<rpc-name>{rpc}</rpc-name>" if rpc
              else f"<notification-name>{notification}</notification-name>"
              if notification else "")
    return (f"<rule><name>{name}</name><module-name>{module}</module-name>{target}"
            f"<access-operations>{ops}</access-operations><action>{action}</action></rule>")


ADMIN = rule_list("admin", "admin", rule("all", "permit"))


def denied(call: Callable[[], object]) -> NcRPCError:
    with pytest.raises(NcRPCError) as info:
        call()
    assert info.value.tag == "access-denied"
    return info.value


def counters(m: manager.Manager) -> dict[str, int]:
    root = etree.fromstring(m.get(filter=("subtree", f'<nacm xmlns="{N}"/>')).xml.encode())
    return {name: int(root.xpath(f"string(//n:nacm/n:{name})", namespaces=X) or -1)
            for name in ("denied-operations", "denied-data-writes", "denied-notifications")}


# -------------------------------------------------------------------- defaults
def test_defaults_admin_writes_others_read_and_execute(nc: Connect) -> None:
    admin, operator = nc("admin"), nc("operator")
    admin.edit_config(target="running", config=config(item("a", 1)))
    assert names(operator.get_config(source="running")) == ["a"]
    error = denied(lambda: operator.edit_config(target="running", config=config(item("b", 2))))
    assert error.type == "application"
    assert names(admin.get_config(source="running")) == ["a"]
    # kill-session is denied unless a rule permits it; close-session never is.
    victim = nc("monitor")
    error = denied(lambda: operator.dispatch(etree.fromstring(
        f'<kill-session xmlns="{NC}"><session-id>{victim.session_id}</session-id>'
        "</kill-session>")))
    assert error.type == "protocol"
    assert error.path == "/nc:rpc/nc:kill-session"
    assert victim.connected
    operator.close_session()
    assert counters(admin) == {"denied-operations": 1, "denied-data-writes": 1,
                               "denied-notifications": 0}


def test_nacm_itself_is_hidden_by_default_deny_all(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=policy(ADMIN, rule_list(
        "ops", "operator", rule("any", "permit", ops="read"))))
    assert admin.get_config(source="running").data_ele.find(f"{{{N}}}nacm") is not None
    seen = nc("monitor").get_config(source="running").data_ele
    assert seen.find(f"{{{N}}}nacm") is None
    # An explicit rule opens it: operator's "read everything" rule matches /nacm.
    state = nc("operator").get(filter=("subtree", f'<nacm xmlns="{N}"/>')).data_ele
    assert state.find(f"{{{N}}}nacm/{{{N}}}rule-list") is not None
    assert nc("monitor").get(filter=("subtree", f'<nacm xmlns="{N}"/>')).data_ele.find(
        f"{{{N}}}nacm") is None


def test_bootstrap_policy_ends_with_the_first_rule_list(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=policy(rule_list(
        "mon", "monitor", rule("read", "permit", ops="read"))))
    # The policy no longer gives admin anything: RFC 8341's defaults apply to it.
    denied(lambda: admin.edit_config(target="running", config=config(item("a", 1))))


# ------------------------------------------------------------------------ exec
def test_exec_rules_defaults_and_order(nc: Connect) -> None:
    nc("admin").edit_config(target="running", config=policy(ADMIN, rule_list(
        "ops", "operator",
        rule("kill", "permit", rpc="kill-session", ops="exec"),
        rule("no-locks", "deny", module="ietf-netconf", rpc="lock", ops="exec"),
        rule("no-tes", "deny", module="nvo3-tes", rpc="*", ops="exec"),
    ), exec_default="deny"))
    operator, monitor = nc("operator"), nc("monitor")
    error = denied(lambda: operator.lock(target="running"))
    assert (error.type, error.path) == ("protocol", "/nc:rpc/nc:lock")
    error = denied(lambda: operator.dispatch(etree.fromstring(
        '<keep-alive xmlns="urn:nvo3-netconf:yang:nvo3-tes"><vm-id>x</vm-id></keep-alive>')))
    assert error.path == "/nc:rpc/nvo3-tes:keep-alive"
    denied(lambda: operator.get_config(source="running"))  # exec-default deny
    denied(lambda: monitor.get())
    operator.dispatch(etree.fromstring(
        f'<kill-session xmlns="{NC}"><session-id>{monitor.session_id}</session-id>'
        "</kill-session>"))
    operator.close_session()  # always permitted


def test_enable_nacm_false_turns_it_all_off(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=policy(
        ADMIN, enable_nacm="false", exec_default="deny"))
    operator = nc("operator")
    operator.edit_config(target="running", config=config(item("a", 1)))
    assert operator.get_config(source="running").data_ele.find(f"{{{N}}}nacm") is not None


# ------------------------------------------------------------------------ read
def test_read_rules_prune_without_revealing(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=config(
        item("a", 1, extra="<owner>ann</owner><small/>"),
        item("secret", 2, extra="<owner>bo</owner><small/>")))
    admin.edit_config(target="running", config=policy(ADMIN, rule_list(
        "ops", "operator",
        rule("no-secret", "deny", ops="read", path="/nt:top/nt:item[nt:name='secret']"),
        rule("no-owners", "deny", ops="read", path="/nt:top/nt:item/nt:owner"),
    )))
    operator = nc("operator")
    assert names(operator.get_config(source="running")) == ["a"]
    assert names(operator.get()) == ["a"]
    root = operator.get_config(source="running").data_ele
    assert root.xpath("//nt:owner", namespaces=X) == []
    # The hidden entry, asked for by key, by content or by XPath, is simply absent.
    for flt in (("subtree", f'<top xmlns="{NS}"><item><name>secret</name></item></top>'),
                ("subtree", f'<top xmlns="{NS}"><item><owner>bo</owner></item></top>'),
                ("xpath", ({"nt": NS}, "/nt:top/nt:item[nt:number=2]"))):
        assert len(operator.get_config(source="running", filter=flt).data_ele) == 0
    # report-all adds no default inside what is hidden, nor anything revealing it.
    reply = operator.get_config(source="running", with_defaults="report-all")
    assert names(reply) == ["a"]
    assert names(admin.get_config(source="running")) == ["a", "secret"]


def test_read_default_deny(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=config(item("a", 1)))
    admin.edit_config(target="running", config=policy(ADMIN, read_default="deny"))
    seen = nc("monitor").get()
    assert len(seen.data_ele) == 0


# ----------------------------------------------------------------------- write
def test_write_rules_per_operation_with_error_path(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=config(item("a", 1)))
    admin.edit_config(target="running", config=policy(ADMIN, rule_list(
        "ops", "operator",
        rule("create-items", "permit", ops="create read", path="/nt:top/nt:item"),
        rule("renumber", "permit", ops="update", path="/nt:top/nt:item/nt:number"),
    )))
    operator = nc("operator")
    operator.edit_config(target="running", config=config(    # create, descendants too
        item("b", 2, extra="<owner>me</owner><small/>")))
    operator.edit_config(target="running", config=config(item("b", 3)))   # update number
    error = denied(lambda: operator.edit_config(target="running", config=config(
        '<item><name>b</name><owner>you</owner></item>')))              # update owner
    assert error.type == "application"
    assert error.path == "/nt:top/nt:item[nt:name='b']/nt:owner"
    error = denied(lambda: operator.edit_config(target="running", config=config(
        item("a", 1, op="delete"))))                                     # delete
    assert error.path == "/nt:top/nt:item[nt:name='a']"
    assert names(admin.get_config(source="running")) == ["a", "b"]
    assert counters(admin)["denied-data-writes"] == 2


def test_default_operation_replace_is_checked_as_deletes(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=config(item("a", 1), item("b", 2)))
    admin.edit_config(target="running", config=policy(ADMIN, rule_list(
        "ops", "operator",
        rule("own-b", "permit", path="/nt:top/nt:item[nt:name='b']"),
        rule("hide-others", "deny", path="/nt:top/nt:item"),
    ), write_default="permit"))
    operator = nc("operator")
    assert names(operator.get_config(source="running")) == ["b"]
    # Replacing everything with what operator sees would delete the hidden item a.
    error = denied(lambda: operator.edit_config(
        target="running", default_operation="replace", config=config(item("b", 5))))
    assert error.path is None  # a is hidden: the error must not name it
    # Creating the hidden item is refused as access-denied, not data-exists...
    error = denied(lambda: operator.edit_config(target="running",
                                                config=config(item("a", 9, op="create"))))
    assert error.path is None
    # ...and deleting an item that does not exist answers the same as a hidden one.
    for name in ("a", "zz"):
        error = denied(lambda name=name: operator.edit_config(
            target="running", config=config(item(name, 1, op="delete"))))
        assert error.path is None
    assert names(admin.get_config(source="running")) == ["a", "b"]


def test_default_deny_write_node_needs_an_explicit_rule(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=policy(ADMIN, write_default="permit"))
    operator = nc("operator")
    nve = "urn:nvo3-netconf:yang:nvo3-nve"
    operator.edit_config(target="running", config=(
        f'<config xmlns="{NC}"><nve xmlns="{nve}"><description>x</description></nve></config>'))
    denied(lambda: operator.edit_config(target="running", config=(
        f'<config xmlns="{NC}"><nve xmlns="{nve}"><signalling><tes-authorization><tes>'
        "<name>hv9</name></tes></tes-authorization></signalling></nve></config>")))


def test_candidate_commit_and_copies_are_checked_on_what_differs(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=config(item("a", 1)))
    admin.edit_config(target="running", config=policy(ADMIN, rule_list(
        "ops", "operator", rule("items", "permit", path="/nt:top/nt:item[nt:name='o']"))))
    operator = nc("operator")
    # A commit of someone else's candidate change needs write access to it.
    admin.edit_config(target="candidate", config=config(item("a", 7)))
    error = denied(lambda: operator.commit())
    assert error.type == "application"
    operator.discard_changes()
    operator.edit_config(target="candidate", config=config(item("o", 2)))
    operator.commit()
    assert names(admin.get_config(source="running")) == ["a", "o"]
    # running to startup needs exec access only (RFC 8341 sec. 3.2.4)...
    operator.copy_config(source="running", target="startup")
    # ...and delete-config is denied unless a rule names it.
    denied(lambda: operator.delete_config(target="startup"))
    admin.delete_config(target="startup")
    # A copy from a datastore copies what operator may read: it would delete /nacm.
    error = denied(lambda: operator.copy_config(source="running", target="candidate"))
    assert error.path is None
    admin.copy_config(source="running", target="candidate")


def test_recovery_user_bypasses_nacm(tmp_path: Path, users: UserDatabase) -> None:
    agent = Agent(ServerConfig(listen="127.0.0.1", port=0, state_dir=tmp_path / "state",
                               yang_dirs=(TEST_YANG,), nacm_recovery_user="monitor"),
                  users, ManualClock()).start()
    try:
        with agent.connect(user="admin") as admin:
            admin.edit_config(target="running", config=policy(rule_list(
                "nobody", "admin", rule("nothing", "deny")), exec_default="deny",
                read_default="deny"))
            denied(lambda: admin.get_config(source="running"))
        with agent.connect(user="monitor") as recovery:
            recovery.edit_config(target="running", config=config(item("a", 1)))
            assert recovery.get_config(source="running").data_ele.find(f"{{{N}}}nacm") \
                is not None
            assert counters(recovery)["denied-operations"] == 1
    finally:
        agent.stop()


# --------------------------------------------------------------- notifications
def test_notifications_are_authorized_per_subscriber(nc: Connect) -> None:
    admin = nc("admin")
    admin.edit_config(target="running", config=config(item("a", 1)))
    admin.edit_config(target="running", config=policy(ADMIN, rule_list(
        "ops", "operator",
        rule("no-sessions", "deny", module="ietf-netconf-notifications", ops="read",
             notification="netconf-session-start"),
        rule("hide-secret", "deny", ops="read", path="/nt:top/nt:item[nt:name='secret']"),
    )))
    operator, monitor = nc("operator"), nc("monitor")
    operator.create_subscription()
    monitor.create_subscription()
    nc("admin")  # a session start: monitor hears of it, operator does not
    admin.edit_config(target="running", config=config(item("secret", 2)))
    admin.edit_config(target="running", config=config(item("b", 3)))

    def received(m: manager.Manager) -> list[str]:
        found = []
        while (note := m.take_notification(block=True, timeout=3)) is not None:
            content = etree.fromstring(note.notification_xml.encode())
            event = content[1]
            targets = [t.text for t in event.iter(f"{{{NCN}}}target")]
            found.append(etree.QName(event).localname + "".join(
                f" {t.rsplit('=', 1)[-1]}" for t in targets if t))
        return found

    assert received(operator) == ["netconf-config-change 'b']"]
    assert received(monitor) == ["netconf-session-start", "netconf-config-change 'secret']",
                                 "netconf-config-change 'b']"]
    assert counters(admin)["denied-notifications"] == 2
