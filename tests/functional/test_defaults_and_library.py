"""RFC 6243 ``wd:default`` in configuration input, and RFC 8525 YANG library datastores.

End to end over SSH with ncclient; each test runs under base:1.1 and base:1.0 framing
(the ``connect`` fixture).

RFC 6243 sec. 2.3.3, 4.5.1, 4.5.2 (the server announces report-all-tagged): a node
tagged ``wd:default="true"`` in edit-config or copy-config input is a request to return
it to its default, i.e. to remove it; its value must equal the schema default, else
``invalid-value``; under edit-config the effective operation must be create, merge or
replace. The attribute is never stored. A report-all-tagged reply can so be fed back.
"""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError as NcRPCError

NS = "urn:nvo3-netconf:yang:nvo3-test"
NSC = "urn:nvo3-netconf:yang:nvo3-test-constraints"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
WD = "urn:ietf:params:xml:ns:netconf:default:1.0"
NCWD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
LIB = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
X = {"nt": NS, "ntc": NSC, "wd": WD, "l": LIB}

ITEM = "<item><name>a</name><number>1</number><tag>x</tag><small/></item>"


def config(body: str) -> str:
    return (f'<config xmlns="{NC}"><top xmlns="{NS}" xmlns:nc="{NC}" '
            f'xmlns:wd="{WD}">{body}</top></config>')


def get_config(m, source: str = "running", mode: str | None = None) -> etree._Element:
    """The ``<data>`` of a get-config, with the with-defaults mode given."""
    wd = f'<with-defaults xmlns="{NCWD}">{mode}</with-defaults>' if mode else ""
    reply = m.dispatch(etree.fromstring(
        f'<get-config xmlns="{NC}"><source><{source}/></source>{wd}</get-config>'))
    assert "netconf:default:1.0" not in reply.xml or mode == "report-all-tagged"
    data = etree.fromstring(reply.xml.encode()).find(f"{{{NC}}}data")
    assert data is not None
    return data


def copy_inline(m, content: str, target: str, extra: str = "") -> None:
    """``<copy-config>`` of inline ``<config>`` content (sent as written)."""
    m.dispatch(etree.fromstring(
        f'<copy-config xmlns="{NC}"><target><{target}/></target>'
        f"<source>{content}</source>{extra}</copy-config>"))


def canon(element: etree._Element) -> tuple:
    """Structure, text and attributes of an element, children sorted."""
    children = sorted(canon(c) for c in element if isinstance(c.tag, str))
    return (element.tag, (element.text or "").strip(), sorted(element.attrib.items()),
            tuple(children))


def mode_of(m, source: str = "running") -> list[str]:
    return get_config(m, source).xpath("nt:top/nt:mode/text()", namespaces=X)


def test_tagged_leaf_with_another_value_is_invalid_value(connect) -> None:
    """RFC 6243 sec. 4.5.2: the tagged value MUST equal the schema default (fast)."""
    m = connect()
    m.edit_config(target="running", config=config(ITEM + "<mode>fast</mode>"))
    before = canon(get_config(m))
    for value in ("true", "1"):
        with pytest.raises(NcRPCError) as info:
            m.edit_config(target="running",
                          config=config(f'<mode wd:default="{value}">slow</mode>'))
        assert info.value.tag == "invalid-value"
        assert info.value.type == "application"
        assert info.value.path.strip() == "/nt:top/nt:mode"
        assert "fast" in info.value.message
    # the same for copy-config (sec. 4.5.1) and validate of inline content
    for operation in (lambda c: copy_inline(m, c, "candidate"),
                      lambda c: m.validate(source=etree.fromstring(c))):
        with pytest.raises(NcRPCError) as info:
            operation(config(ITEM + '<mode wd:default="true">slow</mode>'))
        assert info.value.tag == "invalid-value"
        assert info.value.path.strip() == "/nt:top/nt:mode"
    assert canon(get_config(m)) == before
    assert canon(get_config(m, "candidate")) == before


def test_tagged_leaf_with_the_default_value_returns_it_to_its_default(connect) -> None:
    """RFC 6243 sec. 4.5.2: "remove it from the configuration datastore"."""
    m = connect()
    m.edit_config(target="running", config=config(ITEM + "<mode>slow</mode>"))
    m.edit_config(target="running", config=config('<mode wd:default="true">fast</mode>'))
    assert mode_of(m) == []  # removed: the default is in use again
    tagged = get_config(m, mode="report-all-tagged")
    assert tagged.xpath("nt:top/nt:mode[@wd:default='true']/text()", namespaces=X) == ["fast"]
    # merge or replace of an absent node, or create of one: nothing is created
    for op in ("merge", "replace", "create"):
        m.edit_config(target="running", config=config(
            f'<mode nc:operation="{op}" wd:default="1">fast</mode>'))
        assert mode_of(m) == []
    # "if 'create' is the effective operation, then the create request must be valid
    # on its own (e.g., current data node MUST NOT exist)"
    m.edit_config(target="running", config=config("<mode>fast</mode>"))
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=config(
            '<mode nc:operation="create" wd:default="true">fast</mode>'))
    assert info.value.tag == "data-exists"
    assert mode_of(m) == ["fast"]


def test_default_attribute_needs_create_merge_or_replace(connect) -> None:
    """RFC 6243 sec. 4.5.2: another effective operation is invalid-value."""
    m = connect()
    m.edit_config(target="running", config=config(ITEM + "<mode>slow</mode>"))
    for body, options in (
        ('<mode nc:operation="delete" wd:default="true">fast</mode>', {}),
        ('<mode nc:operation="remove" wd:default="false">fast</mode>', {}),
        ('<mode wd:default="true">fast</mode>', {"default_operation": "none"}),
    ):
        with pytest.raises(NcRPCError) as info:
            m.edit_config(target="running", config=config(body), **options)
        assert info.value.tag == "invalid-value"
        assert info.value.path.strip() == "/nt:top/nt:mode"
    assert mode_of(m) == ["slow"]


def test_default_false_is_an_ordinary_value_and_bad_values_are_refused(connect) -> None:
    """RFC 6243 sec. 6: xs:boolean, 'true'/'1' and 'false'/'0'; never stored."""
    m = connect()
    m.edit_config(target="running", config=config(ITEM))
    for value in ("false", "0"):
        m.edit_config(target="running",
                      config=config(f'<mode wd:default="{value}">slow</mode>'))
        assert mode_of(m) == ["slow"]
        m.edit_config(target="running",
                      config=config(f'<mode wd:default="{value}">fast</mode>'))
        assert mode_of(m) == ["fast"]
    assert not get_config(m).xpath("//@wd:default", namespaces=X)
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=config('<mode wd:default="yes">slow</mode>'))
    assert info.value.tag == "bad-attribute"
    assert info.value.path.strip() == "/nt:top/nt:mode"
    assert info.value.info is not None and "<bad-attribute>default</bad-attribute>" in \
        info.value.info
    # nodes with no schema default cannot be returned to one
    for body in ('<item wd:default="true"><name>a</name></item>',
                 '<item><name>a</name><owner wd:default="true">o</owner></item>',
                 '<item><name wd:default="true">a</name></item>'):
        with pytest.raises(NcRPCError) as info:
            m.edit_config(target="running", config=config(body))
        assert info.value.tag == "invalid-value"
    assert mode_of(m) == ["fast"]


def test_report_all_tagged_output_fed_back_through_copy_and_edit_config(connect) -> None:
    """The use case of RFC 6243's tagged input: a report-all-tagged reply written back.

    Server-filled defaults come back tagged (mode, the nvo3-test-constraints limits),
    so copying them into a datastore leaves them out; a leaf a client set to its
    default value is reported untagged (Appendix A.3.2, explicit basic mode) and stays
    explicitly set. No ``default`` attribute is stored.
    """
    m = connect()
    m.edit_config(target="running", config=config(ITEM))
    m.edit_config(target="running", config=(
        f'<config xmlns="{NC}"><limits xmlns="{NSC}"><strict>false</strict></limits>'
        "</config>"))
    explicit = canon(get_config(m))
    tagged = get_config(m, mode="report-all-tagged")
    assert tagged.xpath("nt:top/nt:mode[@wd:default='true']/text()", namespaces=X) == ["fast"]
    assert tagged.xpath("ntc:limits/ntc:keep-alive/@wd:default", namespaces=X) == ["true"]
    assert tagged.xpath("ntc:limits/ntc:strict/@wd:default", namespaces=X) == []
    assert tagged.xpath("ntc:limits/ntc:counters/ntc:max-tenants/@wd:default",
                        namespaces=X) == ["true"]
    element = etree.Element(f"{{{NC}}}config")
    element.extend(tagged)
    content = etree.tostring(element).decode()

    copy_inline(m, content, "candidate")
    assert canon(get_config(m, "candidate")) == explicit
    # sec. 4.5.1: <with-defaults> "MUST be silently ignored" when copying to a datastore
    copy_inline(m, content, "startup",
                f'<with-defaults xmlns="{NCWD}">report-all-tagged</with-defaults>')
    assert canon(get_config(m, "startup")) == explicit
    m.validate(source=etree.fromstring(content))

    # edit-config: a candidate changed since then gets its defaults back by a merge...
    m.edit_config(target="candidate", config=config("<mode>slow</mode>"))
    m.edit_config(target="candidate", config=(
        f'<config xmlns="{NC}"><limits xmlns="{NSC}"><keep-alive>20</keep-alive>'
        "</limits></config>"))
    m.edit_config(target="candidate", config=content)
    assert canon(get_config(m, "candidate")) == explicit
    # ... and by a replace of the whole datastore
    m.edit_config(target="candidate", config=config("<mode>slow</mode>"))
    m.edit_config(target="candidate", config=content, default_operation="replace")
    assert canon(get_config(m, "candidate")) == explicit
    m.commit()
    assert canon(get_config(m)) == explicit
    for source in ("running", "candidate", "startup"):
        assert not get_config(m, source).xpath("//@wd:default", namespaces=X)


def test_yang_library_lists_the_datastores(connect) -> None:
    """RFC 8525: one datastore entry per datastore, each naming a schema of the library.

    "The server MUST instantiate one entry in this list per specific datastore it
    supports." Running, candidate and startup; no operational (no NMDA get-data).
    """
    m = connect()
    reply = m.get(filter=("subtree", f'<yang-library xmlns="{LIB}"><datastore/></yang-library>'))
    data = reply.data_ele
    entries = data.xpath("l:yang-library/l:datastore", namespaces=X)
    names = set()
    for entry in entries:
        name = entry.find(f"{{{LIB}}}name")
        assert name is not None and name.text is not None
        prefix, _, identity = name.text.partition(":")
        assert name.nsmap[prefix] == DS
        names.add(identity)
    assert names == {"running", "candidate", "startup"}
    assert data.xpath("l:yang-library/l:module-set", namespaces=X) == []  # filtered out
    schemas = m.get(filter=("subtree",
        f'<yang-library xmlns="{LIB}"><schema/><content-id/></yang-library>')).data_ele
    defined = set(schemas.xpath("l:yang-library/l:schema/l:name/text()", namespaces=X))
    used = {e.findtext(f"{{{LIB}}}schema") for e in entries}
    assert used and used <= defined
    # every module set the schema names exists
    sets = set(schemas.xpath("l:yang-library/l:schema/l:module-set/text()", namespaces=X))
    full = m.get(filter=("subtree", f'<yang-library xmlns="{LIB}"/>')).data_ele
    assert sets <= set(full.xpath("l:yang-library/l:module-set/l:name/text()", namespaces=X))
    # content-id is the module-set-id announced in the hello (yang-library:1.0)
    cap = next(c for c in m.server_capabilities
               if c.startswith("urn:ietf:params:netconf:capability:yang-library:1.0?"))
    params = dict(p.split("=", 1) for p in cap.split("?", 1)[1].split("&"))
    assert schemas.xpath("string(l:yang-library/l:content-id)", namespaces=X) == \
        params["module-set-id"]
