"""Unknown and repeated parameters of operations, end to end over SSH (both framings).

RFC 6241 Appendix A: an element an operation's input does not define is
``unknown-element`` (``unknown-namespace`` in a namespace no module of the agent
defines), a parameter given twice or two datastores in one ``<source>``/``<target>``
``bad-element``; each with error-type ``protocol``, ``bad-element`` naming it and an
error-path, and the operation has no effect (``protocol/ops/params.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError as NcRPCError

from tests.functional.conftest import Agent
from tests.functional.test_protocol import NC, NS, config, item, names
from tests.functional.test_tes_signalling import CONFIG as TES_CONFIG
from tests.functional.test_tes_signalling import MAC1, VM, VM1, T, vn

Connect = Callable[..., manager.Manager]
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
MONITORING = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NOWHERE = "urn:example:nowhere"
BOGUS = "<bogus/>"


def nc(name: str, body: str = "") -> etree._Element:
    return etree.fromstring(f'<{name} xmlns="{NC}">{body}</{name}>')


def refused(m: manager.Manager, operation: etree._Element) -> NcRPCError:
    with pytest.raises(NcRPCError) as info:
        m.dispatch(operation)
    assert info.value.type == "protocol"
    return info.value


def assert_unknown(error: NcRPCError, bad: str, path: str) -> None:
    assert error.tag == "unknown-element"
    assert f"<bad-element>{bad}</bad-element>" in error.info
    assert error.path.strip() == path


def assert_bad(error: NcRPCError, bad: str, path: str) -> None:
    assert error.tag == "bad-element"
    assert f"<bad-element>{bad}</bad-element>" in error.info
    assert error.path.strip() == path


def running(m: manager.Manager) -> str:
    data: str = m.get_config(source="running").data_xml
    return data


# ---------------------------------------------------------------- retrieval
def test_get(connect: Connect) -> None:
    m = connect()
    assert_unknown(refused(m, nc("get", BOGUS)), "bogus", "/nc:get")
    assert_bad(refused(m, nc("get", "<filter/><filter/>")), "filter", "/nc:get/nc:filter")
    wd = f'<with-defaults xmlns="{WD}">trim</with-defaults>'
    assert_bad(refused(m, nc("get", wd + wd)), "with-defaults",
               "/nc:get/ncwd:with-defaults")
    # with-defaults belongs to its own namespace, not the base one
    assert_unknown(refused(m, nc("get", "<with-defaults>trim</with-defaults>")),
                   "with-defaults", "/nc:get")
    error = refused(m, nc("get", f'<x xmlns="{NOWHERE}"/>'))
    assert error.tag == "unknown-namespace"
    assert "<bad-element>x</bad-element>" in error.info
    assert f"<bad-namespace>{NOWHERE}</bad-namespace>" in error.info
    assert m.get(filter=("subtree", f'<top xmlns="{NS}"/>')).ok  # the session goes on


def test_get_config(connect: Connect) -> None:
    m = connect()
    source = "<source><running/></source>"
    assert_unknown(refused(m, nc("get-config", source + BOGUS)), "bogus",
                   "/nc:get-config")
    assert_bad(refused(m, nc("get-config", source + "<filter/><filter/>")), "filter",
               "/nc:get-config/nc:filter")
    assert_bad(refused(m, nc("get-config", source + "<source><candidate/></source>")),
               "source", "/nc:get-config/nc:source")
    assert_bad(refused(m, nc("get-config", "<source><running/><candidate/></source>")),
               "candidate", "/nc:get-config/nc:source/nc:candidate")
    assert_unknown(refused(m, nc("get-config", "<source><running/><bogus/></source>")),
                   "bogus", "/nc:get-config/nc:source")
    error = refused(m, nc("get-config", source + f'<x xmlns="{NOWHERE}"/>'))
    assert error.tag == "unknown-namespace"


def test_a_refused_get_config_is_never_answered_from_the_reply_cache(
    connect: Connect, agent: Agent
) -> None:
    """A refused request is not stored: asked again, it is refused again."""
    assert agent.server is not None
    netconf = agent.server.netconf
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    bogus = nc("get-config", "<source><running/></source><bogus/>")
    for _ in range(3):
        assert_unknown(refused(m, bogus), "bogus", "/nc:get-config")
    assert len(netconf.message_replies) == 0 and len(netconf.config_replies) == 0
    # the valid request is cached, and its cached answer does not serve the bogus one
    for _ in range(2):
        assert names(m.get_config(source="running")) == ["a"]
    assert len(netconf.message_replies) + len(netconf.config_replies) == 1
    assert_unknown(refused(m, bogus), "bogus", "/nc:get-config")


# ------------------------------------------------------------------ writing
def test_edit_config_leaves_the_datastore_unchanged(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    before = running(m)
    edit = config(item("b", 2))
    target = "<target><running/></target>"
    assert_unknown(refused(m, nc("edit-config", target + edit + BOGUS)), "bogus",
                   "/nc:edit-config")
    assert_unknown(refused(m, nc("edit-config", BOGUS + target + edit)), "bogus",
                   "/nc:edit-config")
    assert_bad(refused(m, nc("edit-config", target + target + edit)), "target",
               "/nc:edit-config/nc:target")
    assert_bad(refused(m, nc("edit-config", target + edit + config(item("c", 3)))),
               "config", "/nc:edit-config/nc:config")
    assert_bad(refused(m, nc("edit-config", "<target><running/><candidate/></target>" + edit)),
               "candidate", "/nc:edit-config/nc:target/nc:candidate")
    assert_bad(refused(m, nc("edit-config", target + "<default-operation>merge"
                             "</default-operation><default-operation>replace"
                             "</default-operation>" + edit)),
               "default-operation", "/nc:edit-config/nc:default-operation")
    error = refused(m, nc("edit-config", target + edit + f'<x xmlns="{NOWHERE}"/>'))
    assert error.tag == "unknown-namespace"
    assert running(m) == before
    assert names(m.get_config(source="candidate")) == ["a"]
    m.edit_config(target="running", config=edit)  # the same edit, without the extra
    assert names(m.get_config(source="running")) == ["a", "b"]


def test_copy_config(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    body = "<target><startup/></target><source><running/></source>"
    assert_unknown(refused(m, nc("copy-config", body + BOGUS)), "bogus",
                   "/nc:copy-config")
    assert_bad(refused(m, nc("copy-config", "<target><startup/><candidate/></target>"
                                            "<source><running/></source>")),
               "candidate", "/nc:copy-config/nc:target/nc:candidate")
    assert_bad(refused(m, nc("copy-config", body + "<source><candidate/></source>")),
               "source", "/nc:copy-config/nc:source")
    assert names(m.get_config(source="startup")) == []
    m.copy_config(source="running", target="startup")
    assert names(m.get_config(source="startup")) == ["a"]


def test_validate(connect: Connect) -> None:
    m = connect()
    assert_unknown(refused(m, nc("validate", "<source><running/></source>" + BOGUS)),
                   "bogus", "/nc:validate")
    assert_bad(refused(m, nc("validate", "<source><running/>" + config() + "</source>")),
               "config", "/nc:validate/nc:source/nc:config")


def test_commit_and_discard_changes(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    assert_unknown(refused(m, nc("commit", BOGUS)), "bogus", "/nc:commit")
    assert_bad(refused(m, nc("commit", "<confirmed/><confirmed/>")), "confirmed",
               "/nc:commit/nc:confirmed")
    assert names(m.get_config(source="running")) == []  # nothing committed
    assert_unknown(refused(m, nc("discard-changes", BOGUS)), "bogus",
                   "/nc:discard-changes")
    assert names(m.get_config(source="candidate")) == ["a"]  # nothing discarded
    # RFC 6241 / ietf-netconf allow a confirm-timeout without <confirmed/>: a plain
    # commit (nothing waits for a confirmation afterwards).
    assert m.dispatch(nc("commit", "<confirm-timeout>60</confirm-timeout>")).ok
    assert names(m.get_config(source="running")) == ["a"]
    with pytest.raises(NcRPCError):  # no confirmed commit is pending
        m.dispatch(nc("cancel-commit"))


# ---------------------------------------------------------------- locking
def test_lock_and_unlock(connect: Connect) -> None:
    first, second = connect(), connect()
    target = "<target><running/></target>"
    assert_unknown(refused(first, nc("lock", target + BOGUS)), "bogus", "/nc:lock")
    assert_bad(refused(first, nc("lock", "<target><running/><candidate/></target>")),
               "candidate", "/nc:lock/nc:target/nc:candidate")
    assert_bad(refused(first, nc("lock", target + target)), "target",
               "/nc:lock/nc:target")
    second.lock(target="running")  # the refused locks took nothing
    second.unlock(target="running")
    first.lock(target="running")
    assert_unknown(refused(first, nc("unlock", target + BOGUS)), "bogus",
                   "/nc:unlock")
    with pytest.raises(NcRPCError) as info:  # still held by the first session
        second.lock(target="running")
    assert info.value.tag == "lock-denied"
    first.unlock(target="running")


# ---------------------------------------------------------------- sessions
def test_close_session_with_a_parameter_is_refused_and_the_session_goes_on(
    connect: Connect,
) -> None:
    m = connect()
    assert_unknown(refused(m, nc("close-session", "<foo/>")), "foo",
                   "/nc:close-session")
    assert m.connected
    assert names(m.get_config(source="running")) == []


def test_kill_session(connect: Connect) -> None:
    m, other = connect(), connect()
    sid = f"<session-id>{other.session_id}</session-id>"
    assert_unknown(refused(m, nc("kill-session", sid + BOGUS)), "bogus",
                   "/nc:kill-session")
    assert_bad(refused(m, nc("kill-session", sid + f"<session-id>{m.session_id}</session-id>")),
               "session-id", "/nc:kill-session/nc:session-id")
    assert names(other.get_config(source="running")) == []  # not killed


# ------------------------------------------------------------ other modules
def test_get_schema(connect: Connect) -> None:
    m = connect()

    def get_schema(body: str) -> etree._Element:
        return etree.fromstring(f'<get-schema xmlns="{MONITORING}">{body}</get-schema>')

    identifier = "<identifier>ietf-netconf</identifier>"
    assert_unknown(refused(m, get_schema(identifier + BOGUS)), "bogus",
                   "/ncm:get-schema")
    assert_bad(refused(m, get_schema(identifier + "<identifier>nvo3-tes</identifier>")),
               "identifier", "/ncm:get-schema/ncm:identifier")
    assert "module ietf-netconf" in m.dispatch(get_schema(identifier)).xml


def test_create_subscription(connect: Connect) -> None:
    m = connect()

    def subscribe(body: str) -> etree._Element:
        return etree.fromstring(f'<create-subscription xmlns="{NOTIF}">{body}'
                                "</create-subscription>")

    assert_unknown(refused(m, subscribe(BOGUS)), "bogus", "/ncEvent:create-subscription")
    assert_bad(refused(m, subscribe("<stream>NETCONF</stream><stream>NETCONF</stream>")),
               "stream", "/ncEvent:create-subscription/ncEvent:stream")
    # <filter> in either namespace is the one filter parameter
    assert_bad(refused(m, subscribe(f'<filter/><filter xmlns="{NC}"/>')), "filter",
               "/ncEvent:create-subscription/ncEvent:filter")
    error = refused(m, subscribe(f'<x xmlns="{NOWHERE}"/>'))
    assert error.tag == "unknown-namespace"
    m.create_subscription()  # none of the refused ones subscribed


def test_a_tes_signalling_rpc(connect: Connect) -> None:
    """The project's own RPCs are checked by their YANG input too, before the NVE acts."""
    m = connect()
    m.edit_config(target="running", config=TES_CONFIG)

    def associate(extra: str) -> etree._Element:
        return etree.fromstring(f'<associate xmlns="{T}"><vm-id>{VM1}</vm-id>'
                                f"<tenant>alice</tenant>{extra}</associate>")

    web = vn("web", MAC1)
    assert_unknown(refused(m, associate(web + BOGUS)), "bogus", "/tes:associate")
    assert_bad(refused(m, associate(web + "<tenant>bob</tenant>")), "tenant",
               "/tes:associate/tes:tenant")
    nested = f"<vn><vn-name>web</vn-name><vnic><mac>{MAC1}</mac><mac>{MAC1}</mac></vnic></vn>"
    assert_bad(refused(m, associate(nested)), "mac", "/tes:associate/tes:vn[1]/tes:vnic[1]/tes:mac")
    error = refused(m, associate(web + f'<x xmlns="{NOWHERE}"/>'))
    assert error.tag == "unknown-namespace"
    state = f'<vm-state xmlns="{VM}"/>'
    assert VM1 not in m.get(filter=("subtree", state)).data_xml  # nothing was associated
    assert m.dispatch(associate(web)).ok
    assert VM1 in m.get(filter=("subtree", state)).data_xml
