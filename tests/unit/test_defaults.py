"""RFC 6243 with-defaults, sans I/O: report-all-tagged output and tagged input.

Output (``apply_with_defaults``): in the server's explicit basic mode only default data
is tagged (Appendix A.3.2). Input: a node tagged ``wd:default="true"`` returns to its
default (sec. 2.3.3, 4.5.1, 4.5.2) -- in the edit engine (edit-config) and in
``return_tagged_to_defaults`` (inline copy-config / validate content).
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from nvo3_netconf.constants import NS_NC, DefaultOperation, ErrorType, WithDefaults
from nvo3_netconf.datastore.edit import (
    DEFAULT_ATTR,
    ChangeOp,
    apply_edit,
    default_attribute,
    is_schema_default,
)
from nvo3_netconf.errors import (
    BadAttributeError,
    BadElementError,
    DataExistsError,
    InvalidValueError,
    RPCError,
)
from nvo3_netconf.protocol.defaults import apply_with_defaults, return_tagged_to_defaults
from nvo3_netconf.schema import NodeKind, SchemaNode, SchemaTree, YangContext

NS = "urn:nvo3-netconf:yang:nvo3-test"
NSC = "urn:nvo3-netconf:yang:nvo3-test-constraints"
WD = "urn:ietf:params:xml:ns:netconf:default:1.0"
X = {"nt": NS, "ntc": NSC, "wd": WD}
ITEM_A = "<item><name>a</name><number>1</number><small/></item>"


@pytest.fixture(scope="module")
def schema(test_context: YangContext) -> SchemaTree:
    return SchemaTree(test_context)


def parse(text: str) -> etree._Element:
    return etree.fromstring(text, etree.XMLParser(remove_blank_text=True))


def data_of(body: str) -> etree._Element:
    return parse(f'<data xmlns="{NS_NC}" xmlns:wd="{WD}">{body}</data>')


def top(*children: str) -> str:
    return f'<top xmlns="{NS}">' + "".join(children) + "</top>"


def edit(schema: SchemaTree, data: etree._Element, body: str,
         **options: Any) -> list[tuple[ChangeOp, str]]:
    config = parse(f'<config xmlns="{NS_NC}" xmlns:nc="{NS_NC}" xmlns:wd="{WD}">{body}</config>')
    return [(c.operation, c.path) for c in apply_edit(data, config, schema, **options)]


def canon(element: etree._Element) -> tuple[Any, ...]:
    children = tuple(canon(c) for c in element if isinstance(c.tag, str))
    return (element.tag, (element.text or "").strip(), sorted(element.attrib.items()), children)


def check(error: RPCError, cls: type[RPCError], path: str, info: dict[str, str]) -> None:
    assert type(error) is cls, repr(error)
    assert error.type is ErrorType.APPLICATION
    assert error.path == path
    assert error.info == info
    assert dict(error.path_namespaces or {}) == {"nt": NS}


# ------------------------------------------------------------------ the attribute
@pytest.mark.parametrize(("raw", "value"), [
    ("true", True), ("1", True), ("false", False), ("0", False), (" true ", True),
    ("TRUE", None), ("yes", None), ("", None), (None, None),
])
def test_default_attribute_is_an_xs_boolean(raw: str | None, value: bool | None) -> None:
    assert default_attribute(raw) is value


def test_is_schema_default_compares_values_as_the_engine_does() -> None:
    ns = "urn:example:ident"
    leaf = SchemaNode("proto", NS, "m", "m", NodeKind.LEAF, defaults=("m:vxlan",),
                      default_namespaces={"m": ns}, prefixed_value=True)
    element = parse(f'<proto xmlns="{NS}" xmlns:x="{ns}">x:vxlan</proto>')
    assert is_schema_default(element, leaf)
    assert is_schema_default(parse(f'<proto xmlns="{ns}">vxlan</proto>'), leaf)
    assert not is_schema_default(parse(f'<proto xmlns="{NS}" xmlns:x="{ns}">x:gre</proto>'), leaf)
    entries = SchemaNode("port", NS, "m", "m", NodeKind.LEAF_LIST, defaults=("80", "443"))
    assert is_schema_default(parse(f'<port xmlns="{NS}">443</port>'), entries)
    assert not is_schema_default(parse(f'<port xmlns="{NS}">8080</port>'), entries)
    no_default = SchemaNode("owner", NS, "m", "m", NodeKind.LEAF)
    assert not is_schema_default(parse(f'<owner xmlns="{NS}"/>'), no_default)


# ----------------------------------------------------------- report-all-tagged output
def test_report_all_tagged_tags_only_default_data(schema: SchemaTree) -> None:
    """Explicit basic mode: a leaf the client set, even to its default, is untagged."""
    tree = data_of(top("<mode>fast</mode>") + f'<limits xmlns="{NSC}"><keep-alive>10'
                   "</keep-alive></limits>")
    view = apply_with_defaults(tree, schema, WithDefaults.REPORT_ALL_TAGGED, config_only=True)
    assert view.xpath("nt:top/nt:mode/@wd:default", namespaces=X) == []
    assert view.xpath("ntc:limits/ntc:keep-alive/@wd:default", namespaces=X) == []
    assert view.xpath("ntc:limits/ntc:strict[@wd:default='true']/text()",
                      namespaces=X) == ["false"]
    assert view.xpath("ntc:limits/ntc:counters/ntc:max-tenants[@wd:default='true']/text()",
                      namespaces=X) == ["4"]
    # without the mode leaf, the server fills it in, tagged
    view = apply_with_defaults(data_of(top(ITEM_A)), schema, WithDefaults.REPORT_ALL_TAGGED,
                               config_only=True)
    assert view.xpath("nt:top/nt:mode[@wd:default='true']/text()", namespaces=X) == ["fast"]


def test_report_all_leaves_out_containers_with_nothing_to_report(schema: SchemaTree) -> None:
    """A non-presence container whose defaults all sit in absent list entries."""
    view = apply_with_defaults(data_of(""), schema, WithDefaults.REPORT_ALL, config_only=True)
    for element in view.iter():
        if element is not view:
            node_has_content = len(element) or (element.text or "").strip()
            assert node_has_content, etree.tostring(element)
    assert view.xpath("nt:top/nt:mode/text()", namespaces=X) == ["fast"]


# ------------------------------------------------------------------ edit-config input
def test_tagged_default_value_removes_the_leaf(schema: SchemaTree) -> None:
    data = data_of(top(ITEM_A, "<mode>slow</mode>"))
    assert edit(schema, data, top('<mode wd:default="true">fast</mode>')) == [
        (ChangeOp.DELETE, "/nt:top/nt:mode")]
    assert canon(data) == canon(data_of(top(ITEM_A)))
    # absent: nothing is created, whatever the creating operation
    for op in ("merge", "replace", "create"):
        assert edit(schema, data, top(f'<mode nc:operation="{op}" wd:default="1">fast</mode>')
                    ) == []
    assert canon(data) == canon(data_of(top(ITEM_A)))


def test_tagged_leaf_under_replace_and_in_a_new_entry(schema: SchemaTree) -> None:
    data = data_of(top(ITEM_A, "<mode>slow</mode>"))
    changes = edit(schema, data, top(ITEM_A, '<mode wd:default="true">fast</mode>'),
                   default_operation=DefaultOperation.REPLACE)
    assert changes == [(ChangeOp.DELETE, "/nt:top/nt:mode")]
    assert canon(data) == canon(data_of(top(ITEM_A)))
    data = data_of("")
    assert edit(schema, data, top(ITEM_A, '<mode wd:default="true">fast</mode>')) == [
        (ChangeOp.CREATE, "/nt:top")]
    assert canon(data) == canon(data_of(top(ITEM_A)))
    assert not data.xpath("//@wd:default", namespaces=X)


def test_tagged_false_is_an_ordinary_value_never_stored(schema: SchemaTree) -> None:
    data = data_of(top(ITEM_A))
    assert edit(schema, data, top('<mode wd:default="false">fast</mode>')) == [
        (ChangeOp.CREATE, "/nt:top/nt:mode")]
    assert canon(data) == canon(data_of(top(ITEM_A, "<mode>fast</mode>")))


def test_tagged_false_anydata_is_stored_without_the_attribute(schema: SchemaTree) -> None:
    data = data_of(top(ITEM_A))
    edit(schema, data, top('<blob wd:default="false"><x wd:default="true">1</x></blob>'))
    blob = data.find(f"{{{NS}}}top/{{{NS}}}blob")
    assert blob is not None and DEFAULT_ATTR not in blob.attrib
    assert blob[0].get(DEFAULT_ATTR) == "true"  # content of anydata is stored as given
    with pytest.raises(InvalidValueError):
        edit(schema, data, top('<blob wd:default="true"><x/></blob>'))


@pytest.mark.parametrize(("body", "options", "cls", "path", "info"), [
    pytest.param(top('<mode wd:default="true">slow</mode>'), {}, InvalidValueError,
                 "/nt:top/nt:mode", {"bad-element": "mode"}, id="not-the-default"),
    pytest.param(top('<mode wd:default="yes">fast</mode>'), {}, BadAttributeError,
                 "/nt:top/nt:mode", {"bad-element": "mode", "bad-attribute": "default"},
                 id="not-a-boolean"),
    pytest.param(top('<mode nc:operation="delete" wd:default="true">fast</mode>'), {},
                 InvalidValueError, "/nt:top/nt:mode", {"bad-element": "mode"}, id="delete"),
    pytest.param(top('<mode nc:operation="remove" wd:default="false">fast</mode>'), {},
                 InvalidValueError, "/nt:top/nt:mode", {"bad-element": "mode"}, id="remove"),
    pytest.param(top('<mode wd:default="true">fast</mode>'),
                 {"default_operation": DefaultOperation.NONE}, InvalidValueError,
                 "/nt:top/nt:mode", {"bad-element": "mode"}, id="none"),
    pytest.param('<top xmlns="urn:nvo3-netconf:yang:nvo3-test" nc:operation="delete">'
                 '<mode wd:default="true">fast</mode></top>', {}, InvalidValueError,
                 "/nt:top/nt:mode", {"bad-element": "mode"}, id="inside-delete"),
    pytest.param(top('<settings wd:default="true"><note>n</note></settings>'), {},
                 InvalidValueError, "/nt:top/nt:settings", {"bad-element": "settings"},
                 id="container"),
    pytest.param(top('<item><name wd:default="true">a</name></item>'), {}, InvalidValueError,
                 "/nt:top/nt:item[nt:name='a']/nt:name", {"bad-element": "name"}, id="key"),
    pytest.param(top('<item><name>a</name><owner wd:default="true">o</owner></item>'), {},
                 InvalidValueError, "/nt:top/nt:item[nt:name='a']/nt:owner",
                 {"bad-element": "owner"}, id="no-default"),
    pytest.param(top('<item nc:operation="delete"><name>a</name>'
                     '<owner nc:operation="remove" wd:default="0">o</owner></item>'), {},
                 InvalidValueError, "/nt:top/nt:item[nt:name='a']/nt:owner",
                 {"bad-element": "owner"}, id="inside-delete-own-remove"),
    pytest.param(top('<mode wd:default="true"><x/></mode>'), {}, BadElementError,
                 "/nt:top/nt:mode", {"bad-element": "mode"}, id="elements-in-leaf"),
])
def test_refused_tags(schema: SchemaTree, body: str, options: dict[str, Any],
                      cls: type[RPCError], path: str, info: dict[str, str]) -> None:
    data = data_of(top(ITEM_A, "<mode>fast</mode>"))
    with pytest.raises(cls) as error:
        edit(schema, data, body, **options)
    check(error.value, cls, path, info)


def test_tagged_create_of_an_existing_leaf_is_data_exists(schema: SchemaTree) -> None:
    data = data_of(top(ITEM_A, "<mode>fast</mode>"))
    with pytest.raises(DataExistsError) as error:
        edit(schema, data, top('<mode nc:operation="create" wd:default="true">fast</mode>'))
    assert error.value.path == "/nt:top/nt:mode"


# ------------------------------------------------------------ copy-config input
def test_inline_content_drops_tagged_nodes_and_every_attribute(schema: SchemaTree) -> None:
    tree = data_of(top(ITEM_A, '<mode wd:default="true">fast</mode>',
                       '<label wd:default="false">x</label>')
                   + f'<limits xmlns="{NSC}"><strict wd:default="1">false</strict>'
                   '<counters><max-tenants wd:default="true">4</max-tenants></counters>'
                   "</limits>")
    return_tagged_to_defaults(tree, schema)
    assert canon(tree) == canon(data_of(top(ITEM_A, "<label>x</label>")))


@pytest.mark.parametrize(("body", "cls", "path", "info"), [
    pytest.param(top('<mode wd:default="true">slow</mode>'), InvalidValueError,
                 "/nt:top/nt:mode", {"bad-element": "mode"}, id="not-the-default"),
    pytest.param(top('<mode wd:default="on">fast</mode>'), BadAttributeError,
                 "/nt:top/nt:mode", {"bad-element": "mode", "bad-attribute": "default"},
                 id="not-a-boolean"),
    pytest.param(top('<item wd:default="true"><name>a</name></item>'), InvalidValueError,
                 "/nt:top/nt:item[nt:name='a']", {"bad-element": "item"}, id="list-entry"),
    pytest.param(top("<item><name>a</name><number>1</number>"
                     '<tag wd:default="true">t</tag></item>'), InvalidValueError,
                 "/nt:top/nt:item[nt:name='a']/nt:tag[.='t']", {"bad-element": "tag"},
                 id="leaf-list-without-default"),
])
def test_inline_content_refuses(schema: SchemaTree, body: str, cls: type[RPCError],
                                path: str, info: dict[str, str]) -> None:
    tree = data_of(body)
    with pytest.raises(cls) as error:
        return_tagged_to_defaults(tree, schema)
    check(error.value, cls, path, info)


def test_inline_round_trip_of_a_report_all_tagged_view(schema: SchemaTree) -> None:
    tree = data_of(top(ITEM_A, "<mode>fast</mode>") + f'<limits xmlns="{NSC}">'
                   "<aging>20</aging></limits>")
    view = apply_with_defaults(tree, schema, WithDefaults.REPORT_ALL_TAGGED, config_only=True)
    assert view.xpath("//@wd:default", namespaces=X)
    return_tagged_to_defaults(view, schema)
    assert canon(view) == canon(tree)
    assert not any(DEFAULT_ATTR in e.attrib for e in view.iter())
