"""The NETCONF protocol of the NVE agent, end to end over SSH with ncclient.

Each test runs under base:1.1 and base:1.0 framing (the ``connect`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError as NcRPCError

NS = "urn:nvo3-netconf:yang:nvo3-test"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
X = {"nt": NS}


def config(*items: str, mode: str | None = None) -> str:
    body = "".join(items)
    mode_leaf = f"<mode>{mode}</mode>" if mode else ""
    return (f'<config xmlns="{NC}"><top xmlns="{NS}" '
            f'xmlns:nc="{NC}">{mode_leaf}{body}</top></config>')


def item(name: str, number: int, op: str | None = None, extra: str = "<small/>") -> str:
    attr = f' nc:operation="{op}"' if op else ""
    return f"<item{attr}><name>{name}</name><number>{number}</number>{extra}</item>"


def names(reply: object) -> list[str]:
    root = etree.fromstring(reply.xml.encode())  # type: ignore[attr-defined]
    return root.xpath("//nt:item/nt:name/text()", namespaces=X)


def test_hello_announces_capabilities_and_modules(connect) -> None:
    m = connect()
    caps = list(m.server_capabilities)
    for cap in ("urn:ietf:params:netconf:base:1.1", "urn:ietf:params:netconf:capability:candidate:1.0",
                "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
                "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
                "urn:ietf:params:netconf:capability:validate:1.1",
                "urn:ietf:params:netconf:capability:startup:1.0",
                "urn:ietf:params:netconf:capability:xpath:1.0"):
        assert cap in caps
    assert any(c.startswith(f"{NS}?module=nvo3-test&revision=2026-11-21") for c in caps)
    assert int(m.session_id) >= 1


def test_hello_names_the_deviations_of_each_module(connect) -> None:
    """RFC 7950 sec. 5.6.4: a deviated module's URI lists its deviation modules."""
    m = connect()
    params = {}
    for cap in m.server_capabilities:
        if "?module=" in cap:
            query = parse_qs(cap.split("?", 1)[1])
            params[query["module"][0]] = query
    assert params["ietf-netconf-acm"]["deviations"] == ["nvo3-nacm-deviations"]
    assert "deviations" not in params["nvo3-nacm-deviations"]
    assert "deviations" not in params["nvo3-test"]


def test_edit_then_get_config_round_trip(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1), item("b", 2)))
    assert names(m.get_config(source="running")) == ["a", "b"]
    # the candidate follows an unmodified running
    assert names(m.get_config(source="candidate")) == ["a", "b"]


def test_create_existing_is_data_exists_with_path(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=config(item("a", 1, op="create")))
    assert info.value.tag == "data-exists"
    assert info.value.type == "application"
    assert info.value.path.strip() == "/nt:top/nt:item[nt:name='a']"


def test_delete_missing_is_data_missing(connect) -> None:
    m = connect()
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=config(item("zz", 1, op="delete")))
    assert info.value.tag == "data-missing"


def test_invalid_value_is_refused_and_nothing_changes(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    before = m.get_config(source="running").data_xml
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=config(item("b", 0)))
    assert info.value.tag == "invalid-value"
    # RFC 7950 sec. 9.13.2: every step, key names included, prefixed; prefixes declared
    assert info.value.path.strip() == "/nt:top/nt:item[nt:name='b']/nt:number"
    path = info.value.xml.find(f"{{{NC}}}error-path")
    assert path is not None and path.nsmap["nt"] == NS
    assert "out of the allowed range" in info.value.message
    assert m.get_config(source="running").data_xml == before


def test_unique_violation_reports_rfc7950_app_tag(connect) -> None:
    m = connect()
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=config(item("a", 5), item("b", 5)))
    assert info.value.tag == "operation-failed"
    assert info.value.app_tag == "data-not-unique"


def test_test_only_validates_without_applying(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)), test_option="test-only")
    assert names(m.get_config(source="running")) == []


def test_lock_denied_names_the_holder_and_kill_session_releases(connect) -> None:
    first, second = connect(), connect()
    first.lock(target="running")
    with pytest.raises(NcRPCError) as info:
        second.lock(target="running")
    assert info.value.tag == "lock-denied"
    assert f"<session-id>{first.session_id}</session-id>" in info.value.info
    with pytest.raises(NcRPCError) as info:
        second.edit_config(target="running", config=config(item("a", 1)))
    assert info.value.tag == "in-use"
    second.kill_session(first.session_id)
    second.lock(target="running")
    second.unlock(target="running")


def test_unlock_without_lock_fails(connect) -> None:
    m = connect()
    with pytest.raises(NcRPCError) as info:
        m.unlock(target="candidate")
    assert info.value.tag == "operation-failed"


def test_candidate_commit_and_discard(connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    assert names(m.get_config(source="running")) == []
    m.commit()
    assert names(m.get_config(source="running")) == ["a"]
    m.edit_config(target="candidate", config=config(item("b", 2)))
    m.discard_changes()
    assert names(m.get_config(source="candidate")) == ["a"]


def test_lock_on_modified_candidate_is_denied(connect) -> None:
    writer, locker = connect(), connect()
    writer.edit_config(target="candidate", config=config(item("a", 1)))
    with pytest.raises(NcRPCError) as info:
        locker.lock(target="candidate")
    assert info.value.tag == "lock-denied"
    # RFC 6241 sec. 7.5: the session whose changes stand in the way (0 would say "not
    # a NETCONF session", Appendix A).
    assert f"<session-id>{writer.session_id}</session-id>" in info.value.info
    assert f"changes of session {writer.session_id}" in info.value.message


def test_commit_of_invalid_candidate_changes_nothing(connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=config(item("a", 1)))
    m.commit()
    with pytest.raises(NcRPCError):
        m.edit_config(target="candidate", config=config(item("b", 1)))
    assert names(m.get_config(source="running")) == ["a"]


def test_copy_running_to_startup_and_delete_startup(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    m.copy_config(source="running", target="startup")
    assert names(m.get_config(source="startup")) == ["a"]
    m.delete_config(target="startup")
    assert names(m.get_config(source="startup")) == []
    with pytest.raises(NcRPCError) as info:
        m.delete_config(target="running")
    assert info.value.tag == "operation-failed"


def test_validate_inline_and_datastore(connect) -> None:
    m = connect()
    m.validate(source="running")
    bad = config(item("a", 1, extra=""))
    with pytest.raises(NcRPCError) as info:
        m.validate(source=etree.fromstring(bad))
    assert info.value.tag == "data-missing"


def test_subtree_and_xpath_filters(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1), item("b", 2)))
    flt = f'<top xmlns="{NS}"><item><name>b</name></item></top>'
    assert names(m.get_config(source="running", filter=("subtree", flt))) == ["b"]
    # ncclient's ("xpath", (select, namespaces)) form breaks on lxml 6; send it by hand.
    reply = m.dispatch(etree.fromstring(
        f'<get xmlns="{NC}"><filter type="xpath" xmlns:nt="{NS}" '
        'select="/nt:top/nt:item[nt:number=1]"/></get>'))
    assert names(reply) == ["a"]


def test_get_reports_monitoring_state(connect, agent) -> None:
    m = connect()
    agent.clock.advance(90)  # the lock is taken after the server started
    locked_at = agent.clock.time()
    m.lock(target="candidate")
    agent.clock.advance(5)
    reply = m.get(filter=("subtree",
        '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"/>'))
    root = etree.fromstring(reply.xml.encode())
    mon = {"m": "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"}
    sessions = root.xpath("//m:session/m:session-id/text()", namespaces=mon)
    assert m.session_id in sessions
    assert root.xpath("//m:datastore[m:name='candidate']/m:locks/m:global-lock"
                      "/m:locked-by-session/text()", namespaces=mon) == [m.session_id]
    locked_time = root.xpath("//m:datastore[m:name='candidate']/m:locks/m:global-lock"
                             "/m:locked-time/text()", namespaces=mon)
    expected = datetime.fromtimestamp(locked_at, tz=UTC).isoformat().replace("+00:00", "Z")
    assert locked_time == [expected]
    assert "nvo3-test" in root.xpath("//m:schema/m:identifier/text()", namespaces=mon)


def test_get_output_is_valid_against_the_served_modules(connect, agent) -> None:
    """All of <get> (config, NVE state, netconf-state with a lock, YANG library) is valid.

    yangcli found the RFC 6022 lock leaves outside their ``global-lock`` container.
    """
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    m.lock(target="candidate")
    data = m.get().data_ele
    xml = "".join(etree.tostring(child, encoding="unicode") for child in data)
    assert "locked-by-session" in xml
    # RFC 8525: the YANG library names each datastore and the schema it supports
    lib = {"l": "urn:ietf:params:xml:ns:yang:ietf-yang-library"}
    datastores = {(n.nsmap[n.text.split(":")[0]], n.text.split(":")[1])
                  for n in data.xpath("l:yang-library/l:datastore/l:name", namespaces=lib)}
    ds = "urn:ietf:params:xml:ns:yang:ietf-datastores"
    assert datastores == {(ds, "running"), (ds, "candidate"), (ds, "startup")}
    tree = agent.server.netconf.yang.libyang.parse_data_mem(
        xml, "xml", strict=True, validate_present=True)
    assert tree is not None
    tree.free()


def test_get_schema_returns_module_text(connect) -> None:
    m = connect()
    reply = m.get_schema("nvo3-test", version="2026-11-21")
    assert reply.data.startswith("module nvo3-test")
    with pytest.raises(NcRPCError) as info:
        m.get_schema("no-such-module")
    assert info.value.tag == "invalid-value"


def test_yang_library_capability_and_schema_list_name_every_module(connect) -> None:
    """RFC 7950 sec. 5.6.4: clients (yangcli) learn import-only modules from /modules-state.

    The hello carries yang-library:1.0 with the module-set-id of /modules-state; the
    RFC 6022 schema list names the same modules, import-only ones (ietf-inet-types)
    included; libyang's internal module ``yang`` is in neither and not served.
    """
    m = connect()
    lib = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
    mon = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
    caps = [c for c in m.server_capabilities
            if c.startswith("urn:ietf:params:netconf:capability:yang-library:1.0?")]
    assert len(caps) == 1
    params = dict(p.split("=", 1) for p in caps[0].split("?", 1)[1].split("&"))
    assert params["revision"] == "2019-01-04"
    root = etree.fromstring(m.get(filter=("subtree",
        f'<modules-state xmlns="{lib}"/>')).xml.encode())
    x = {"l": lib, "m": mon}
    assert root.xpath("string(//l:modules-state/l:module-set-id)", namespaces=x) \
        == params["module-set-id"]
    library = {(e.findtext(f"{{{lib}}}name"), e.findtext(f"{{{lib}}}revision"))
               for e in root.xpath("//l:modules-state/l:module", namespaces=x)}
    assert ("ietf-inet-types", "2013-07-15") in library
    assert ("nvo3-test", "2026-11-21") in library
    assert "yang" not in {name for name, _ in library}
    root = etree.fromstring(m.get(filter=("subtree",
        f'<netconf-state xmlns="{mon}"><schemas/></netconf-state>')).xml.encode())
    schemas = {(e.findtext(f"{{{mon}}}identifier"), e.findtext(f"{{{mon}}}version"))
               for e in root.xpath("//m:schema", namespaces=x)}
    assert schemas == library
    assert m.get_schema("ietf-inet-types", version="2013-07-15").data.startswith(
        "module ietf-inet-types")
    with pytest.raises(NcRPCError) as info:
        m.get_schema("yang")
    assert info.value.tag == "invalid-value"


def test_with_defaults_modes(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1), mode="fast"))
    wd = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
    explicit = m.get_config(source="running").xml
    assert "<mode>fast</mode>" in explicit
    trimmed = m.dispatch(etree.fromstring(
        f'<get-config xmlns="{NC}"><source><running/></source>'
        f'<with-defaults xmlns="{wd}">trim</with-defaults></get-config>')).xml
    assert "mode" not in trimmed
    m.edit_config(target="running", config=config(
        f'<mode xmlns:nc="{NC}" nc:operation="delete"/>'))
    full = m.dispatch(etree.fromstring(
        f'<get-config xmlns="{NC}"><source><running/></source>'
        f'<with-defaults xmlns="{wd}">report-all-tagged</with-defaults></get-config>')).xml
    assert 'default="true"' in full and ">fast<" in full


def test_unknown_operation(connect) -> None:
    m = connect()
    with pytest.raises(NcRPCError) as info:
        m.dispatch(etree.fromstring(f'<frobnicate xmlns="{NC}"/>'))
    assert info.value.tag == "operation-not-supported"
    with pytest.raises(NcRPCError) as info:
        m.dispatch(etree.fromstring('<frobnicate xmlns="urn:example:nothing"/>'))
    assert info.value.tag == "unknown-namespace"


def test_rollback_on_error_leaves_running_unchanged(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=config(item("a", 1)))
    with pytest.raises(NcRPCError):
        m.edit_config(target="running", error_option="rollback-on-error",
                      config=config(item("b", 2), item("a", 1, op="create")))
    assert names(m.get_config(source="running")) == ["a"]


def test_close_session(connect) -> None:
    m = connect()
    m.close_session()
    assert not m.connected


def test_candidate_locked_by_another_session_blocks_commit_and_discard(connect) -> None:
    owner, other = connect(), connect()
    owner.lock(target="candidate")
    owner.edit_config(target="candidate", config=config(item("a", 1)))
    for operation in (other.commit, other.discard_changes):
        with pytest.raises(NcRPCError) as info:
            operation()
        assert info.value.tag == "in-use"
    owner.commit()
    assert names(other.get_config(source="running")) == ["a"]


def _target_value(reply: object) -> tuple[str | None, str]:
    """The namespace of the prefix of /nt:top/nt:target's value, and the value."""
    root = etree.fromstring(reply.xml.encode())  # type: ignore[attr-defined]
    leaves = root.xpath("//nt:top/nt:target", namespaces=X)
    assert len(leaves) == 1, reply
    value = leaves[0].text
    return leaves[0].nsmap.get(value.split(":", 1)[0].lstrip("/")), value


def test_undone_edits_keep_the_prefixes_of_stored_values(connect, agent) -> None:
    """A value's prefix naming its container's own namespace survives undone edits.

    An instance-identifier keeps its prefix declaration through edits that are undone
    (test-only, refused), in every get-config form and across a restart (RFC 7950
    sec. 9.13.2).
    """
    m = connect()
    m.dispatch(etree.fromstring(
        f'<copy-config xmlns="{NC}"><target><running/></target><source><config>'
        f'<top xmlns="{NS}"><item><name>a</name><number>1</number><small/></item></top>'
        "</config></source></copy-config>"))
    m.edit_config(target="running", config=(
        f'<config xmlns="{NC}" xmlns:x="{NS}"><top xmlns="{NS}">'
        "<target>/x:top/x:item[x:name='a']</target><proto>x:vxlan</proto></top></config>"))
    m.validate(source="running")
    # Undone edits: a test-only replace of the container, a replace refused by validation.
    m.edit_config(target="running", test_option="test-only", config=(
        f'<config xmlns="{NC}"><top xmlns="{NS}" xmlns:nc="{NC}" nc:operation="replace"/>'
        "</config>"))
    with pytest.raises(NcRPCError):
        m.edit_config(target="running", config=(
            f'<config xmlns="{NC}"><top xmlns="{NS}" xmlns:nc="{NC}" nc:operation="replace">'
            "<item><name>a</name><number>5</number></item>"
            "<item><name>b</name><number>5</number></item></top></config>"))  # not unique
    m.validate(source="running")
    unfiltered = m.get_config(source="running")
    subtree = m.get_config(source="running",
                           filter=("subtree", f'<top xmlns="{NS}"><target/></top>'))
    xpath = m.dispatch(etree.fromstring(
        f'<get-config xmlns="{NC}"><source><running/></source><filter type="xpath" '
        f'xmlns:nt="{NS}" select="/nt:top/nt:target"/></get-config>'))
    for reply in (unfiltered, subtree, xpath):
        namespace, value = _target_value(reply)
        assert namespace == NS, value
        assert value.endswith(":top/" + value.split("/")[2])  # one prefix throughout
    m.close_session()
    agent.restart()
    m = agent.connect()
    try:
        m.validate(source="running")
        assert _target_value(m.get_config(source="running"))[0] == NS
    finally:
        m.close_session()
