"""The edit-config engine (RFC 6241 sec. 7.2; RFC 7950 sec. 7.5-7.10, 15.7), sans I/O.

Each test builds a datastore tree and a ``<config>`` from XML text, applies the edit and
compares the resulting tree structurally, the Change list exactly (operation, path) and
every error's type, tag, path, path namespaces and error-info.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from nvo3_netconf.constants import (
    NS_NC,
    NS_YANG_1,
    DefaultOperation,
    ErrorOption,
    ErrorType,
)
from nvo3_netconf.datastore.changes import quote_literal, resolve_prefixes
from nvo3_netconf.datastore.edit import Change, ChangeOp, PartialEditError, apply_edit
from nvo3_netconf.errors import (
    BadAttributeError,
    BadElementError,
    DataExistsError,
    DataMissingError,
    InvalidValueError,
    MissingAttributeError,
    MissingElementError,
    RPCError,
    UnknownAttributeError,
    UnknownElementError,
    UnknownNamespaceError,
)
from nvo3_netconf.schema import SchemaTree, YangContext

NS = "urn:nvo3-netconf:yang:nvo3-test"
NSS = {"nt": NS}
CREATE, DELETE, REPLACE, MOVE = ChangeOp.CREATE, ChangeOp.DELETE, ChangeOp.REPLACE, ChangeOp.MOVE
ITEM_A = "<item><name>a</name><number>1</number><small/></item>"
ITEM_B = "<item><name>b</name><number>2</number><big-size>3</big-size></item>"


@pytest.fixture(scope="module")
def schema(test_context: YangContext) -> SchemaTree:
    return SchemaTree(test_context)


# ------------------------------------------------------------------- helpers
def parse(text: str) -> etree._Element:
    return etree.fromstring(text, etree.XMLParser(remove_blank_text=True))


def top(*children: str, attrs: str = "") -> str:
    return f'<top xmlns="{NS}"{attrs}>' + "".join(children) + "</top>"


def data_of(*children: str, extra: str = "") -> etree._Element:
    """A datastore root holding ``<top>`` with ``children`` (no top if none) and ``extra``."""
    inner = (top(*children) if children else "") + extra
    return parse(f'<data xmlns="{NS_NC}">{inner}</data>')


def config(body: str) -> etree._Element:
    return parse(
        f'<config xmlns="{NS_NC}" xmlns:nc="{NS_NC}" xmlns:yang="{NS_YANG_1}" '
        f'xmlns:tp="{NS}">{body}</config>'
    )


def canon(element: etree._Element) -> tuple[Any, ...]:
    """Structure of an element: tag, stripped text and children, in document order."""
    children = tuple(canon(c) for c in element if isinstance(c.tag, str))
    return (element.tag, (element.text or "").strip(), children)


def assert_tree(data: etree._Element, expected: etree._Element) -> None:
    assert canon(data) == canon(expected), etree.tostring(data).decode()


def summary(changes: list[Change]) -> list[tuple[ChangeOp, str]]:
    return [(c.operation, c.path) for c in changes]


def run(
    schema: SchemaTree, data: etree._Element, body: str, **options: Any
) -> list[tuple[ChangeOp, str]]:
    return summary(apply_edit(data, config(body), schema, **options))


def check_error(
    error: RPCError,
    cls: type[RPCError],
    path: str | None,
    info: dict[str, str],
    type_: ErrorType = ErrorType.APPLICATION,
    app_tag: str | None = None,
) -> None:
    assert type(error) is cls, repr(error)
    assert error.type is type_
    assert error.path == path
    assert error.info == info
    assert error.app_tag == app_tag
    assert error.path_namespaces == (NSS if path else {})
    assert error.message.endswith(".")


# ------------------------------------------------- every operation x existence
P_ITEM_A = "/nt:top/nt:item[nt:name='a']"
OPERATION_CASES = [
    # id, initial top children, edit top children, expected top children | error, changes
    ("leaf-merge-absent", [ITEM_A], ["<mode>slow</mode>"], [ITEM_A, "<mode>slow</mode>"],
     [(CREATE, "/nt:top/nt:mode")]),
    ("leaf-merge-other", ["<mode>fast</mode>"], ["<mode>slow</mode>"], ["<mode>slow</mode>"],
     [(REPLACE, "/nt:top/nt:mode")]),
    ("leaf-merge-same", ["<mode>fast</mode>"], ["<mode>fast</mode>"], ["<mode>fast</mode>"], []),
    ("leaf-replace-absent", [ITEM_A], ['<mode nc:operation="replace">slow</mode>'],
     [ITEM_A, "<mode>slow</mode>"], [(CREATE, "/nt:top/nt:mode")]),
    ("leaf-replace-present", ["<mode>fast</mode>"], ['<mode nc:operation="replace">slow</mode>'],
     ["<mode>slow</mode>"], [(REPLACE, "/nt:top/nt:mode")]),
    ("leaf-replace-same", ["<mode>fast</mode>"], ['<mode nc:operation="replace">fast</mode>'],
     ["<mode>fast</mode>"], []),
    ("leaf-create-absent", [ITEM_A], ['<mode nc:operation="create">slow</mode>'],
     [ITEM_A, "<mode>slow</mode>"], [(CREATE, "/nt:top/nt:mode")]),
    ("leaf-create-present", ["<mode>fast</mode>"], ['<mode nc:operation="create">slow</mode>'],
     (DataExistsError, "/nt:top/nt:mode"), None),
    ("leaf-delete-present", [ITEM_A, "<mode>fast</mode>"], ['<mode nc:operation="delete"/>'],
     [ITEM_A], [(DELETE, "/nt:top/nt:mode")]),
    ("leaf-delete-absent", [ITEM_A], ['<mode nc:operation="delete"/>'],
     (DataMissingError, "/nt:top/nt:mode"), None),
    ("leaf-remove-present", [ITEM_A, "<mode>fast</mode>"], ['<mode nc:operation="remove"/>'],
     [ITEM_A], [(DELETE, "/nt:top/nt:mode")]),
    ("leaf-remove-absent", [ITEM_A], ['<mode nc:operation="remove"/>'], [ITEM_A], []),
    ("entry-merge-absent", [ITEM_A], [ITEM_B], [ITEM_A, ITEM_B],
     [(CREATE, "/nt:top/nt:item[nt:name='b']")]),
    ("entry-merge-present", [ITEM_A], ["<item><name>a</name><number>7</number></item>"],
     ["<item><name>a</name><number>7</number><small/></item>"],
     [(REPLACE, P_ITEM_A + "/nt:number")]),
    ("entry-replace-present", ["<item><name>a</name><number>1</number><owner>o</owner>"
                               "<small/></item>"],
     ['<item nc:operation="replace"><name>a</name><number>1</number><small/></item>'],
     [ITEM_A], [(DELETE, P_ITEM_A + "/nt:owner")]),
    ("entry-replace-absent", [ITEM_A], [ITEM_B.replace("<item>", '<item nc:operation="replace">')],
     [ITEM_A, ITEM_B], [(CREATE, "/nt:top/nt:item[nt:name='b']")]),
    ("entry-create-absent", [ITEM_A], [ITEM_B.replace("<item>", '<item nc:operation="create">')],
     [ITEM_A, ITEM_B], [(CREATE, "/nt:top/nt:item[nt:name='b']")]),
    ("entry-create-present", [ITEM_A], ['<item nc:operation="create"><name>a</name></item>'],
     (DataExistsError, P_ITEM_A), None),
    ("entry-delete-present", [ITEM_A, ITEM_B],
     ['<item nc:operation="delete"><name>a</name></item>'], [ITEM_B], [(DELETE, P_ITEM_A)]),
    ("entry-delete-absent", [ITEM_B], ['<item nc:operation="delete"><name>a</name></item>'],
     (DataMissingError, P_ITEM_A), None),
    ("entry-remove-present", [ITEM_A, ITEM_B],
     ['<item nc:operation="remove"><name>a</name></item>'], [ITEM_B], [(DELETE, P_ITEM_A)]),
    ("entry-remove-absent", [ITEM_B], ['<item nc:operation="remove"><name>a</name></item>'],
     [ITEM_B], []),
    ("presence-create-absent", [ITEM_A], ['<opts nc:operation="create"/>'], [ITEM_A, "<opts/>"],
     [(CREATE, "/nt:top/nt:opts")]),
    ("presence-create-present", ["<opts/>"], ['<opts nc:operation="create"/>'],
     (DataExistsError, "/nt:top/nt:opts"), None),
    ("presence-merge-present", ["<opts/>"], ["<opts><level>3</level></opts>"],
     ["<opts><level>3</level></opts>"], [(CREATE, "/nt:top/nt:opts/nt:level")]),
    ("presence-delete-present", [ITEM_A, "<opts><level>3</level></opts>"],
     ['<opts nc:operation="delete"/>'], [ITEM_A], [(DELETE, "/nt:top/nt:opts")]),
    ("presence-delete-absent", [ITEM_A], ['<opts nc:operation="delete"/>'],
     (DataMissingError, "/nt:top/nt:opts"), None),
    ("presence-replace-present", ["<opts><level>3</level></opts>"],
     ['<opts nc:operation="replace"/>'], ["<opts/>"], [(DELETE, "/nt:top/nt:opts/nt:level")]),
    ("container-delete-removes-children", [ITEM_A, "<settings><note>n</note><deep><value>v"
                                           "</value></deep></settings>"],
     ['<settings nc:operation="delete"/>'], [ITEM_A], [(DELETE, "/nt:top/nt:settings")]),
    ("container-replace-drops-unmentioned", ["<settings><note>n</note><deep><value>v</value>"
                                             "</deep></settings>"],
     ['<settings nc:operation="replace"><note>m</note></settings>'],
     ["<settings><note>m</note></settings>"],
     [(DELETE, "/nt:top/nt:settings/nt:deep"), (REPLACE, "/nt:top/nt:settings/nt:note")]),
]


@pytest.mark.parametrize(
    ("initial", "edit", "expected", "changes"),
    [pytest.param(*case[1:], id=case[0]) for case in OPERATION_CASES],
)
def test_operation_on_existing_and_absent_nodes(
    schema: SchemaTree, initial: list[str], edit: list[str], expected: Any,
    changes: list[tuple[ChangeOp, str]] | None,
) -> None:
    data = data_of(*initial)
    if isinstance(expected, tuple):
        cls, path = expected
        with pytest.raises(cls) as info:
            run(schema, data, top(*edit))
        check_error(info.value, cls, path, {})
        return
    assert run(schema, data, top(*edit)) == changes
    assert_tree(data, data_of(*expected))


# ---------------------------------------------------------- default-operation
def test_default_none_only_navigates(schema: SchemaTree) -> None:
    data = data_of(ITEM_A, ITEM_B, "<mode>fast</mode>")
    body = top("<mode>slow</mode>", '<item nc:operation="delete"><name>b</name></item>',
               "<item><name>a</name><number>9</number></item>")
    changes = run(schema, data, body, default_operation=DefaultOperation.NONE)
    assert changes == [(DELETE, "/nt:top/nt:item[nt:name='b']")]
    assert_tree(data, data_of(ITEM_A, "<mode>fast</mode>"))


@pytest.mark.parametrize(
    ("initial", "body", "path"),
    [
        pytest.param([], top('<mode nc:operation="create">slow</mode>'), "/nt:top", id="parent"),
        pytest.param([ITEM_A], top("<item><name>z</name></item>"),
                     "/nt:top/nt:item[nt:name='z']", id="entry"),
        pytest.param([ITEM_A], top("<label>x</label>"), "/nt:top/nt:label[.='x']",
                     id="leaf-list"),
    ],
)
def test_default_none_missing_node_is_data_missing(
    schema: SchemaTree, initial: list[str], body: str, path: str
) -> None:
    data = data_of(*initial)
    with pytest.raises(DataMissingError) as info:
        run(schema, data, body, default_operation=DefaultOperation.NONE)
    check_error(info.value, DataMissingError, path, {})


def test_default_none_with_explicit_create(schema: SchemaTree) -> None:
    data = data_of(ITEM_A)
    body = top(ITEM_B.replace("<item>", '<item nc:operation="create">'))
    assert run(schema, data, body, default_operation=DefaultOperation.NONE) == [
        (CREATE, "/nt:top/nt:item[nt:name='b']")
    ]
    assert_tree(data, data_of(ITEM_A, ITEM_B))


def test_default_replace_replaces_whole_datastore(schema: SchemaTree) -> None:
    bulk = f'<bulk xmlns="{NS}"><entry><id>1</id></entry></bulk>'
    data = data_of(ITEM_A, ITEM_B, "<mode>fast</mode>", extra=bulk)
    body = top("<item><name>a</name><number>5</number><small/></item>")
    changes = run(schema, data, body, default_operation=DefaultOperation.REPLACE)
    assert changes == [
        (DELETE, "/nt:bulk"),
        (DELETE, "/nt:top/nt:item[nt:name='b']"),
        (DELETE, "/nt:top/nt:mode"),
        (REPLACE, P_ITEM_A + "/nt:number"),
    ]
    assert_tree(data, data_of("<item><name>a</name><number>5</number><small/></item>"))


def test_default_replace_with_explicit_merge_keeps_unmentioned_children(
    schema: SchemaTree,
) -> None:
    data = data_of(ITEM_A, "<mode>fast</mode>")
    body = top("<label>x</label>", attrs=' xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"'
               ' nc:operation="merge"')
    assert run(schema, data, body, default_operation=DefaultOperation.REPLACE) == [
        (CREATE, "/nt:top/nt:label[.='x']")
    ]
    assert_tree(data, data_of(ITEM_A, "<mode>fast</mode>", "<label>x</label>"))


def test_merge_creates_parents_as_one_change(schema: SchemaTree) -> None:
    data = data_of()
    body = top("<settings><deep><value>v</value></deep></settings>", ITEM_A)
    changes = apply_edit(data, config(body), schema)
    assert summary(changes) == [(CREATE, "/nt:top")]
    assert changes[0].new is data[0] and changes[0].old is None
    assert changes[0].namespaces == NSS and changes[0].schema.name == "top"
    assert_tree(data, data_of("<settings><deep><value>v</value></deep></settings>", ITEM_A))


# ------------------------------------------------------------ inheritance
def test_replace_inherits_to_nested_containers(schema: SchemaTree) -> None:
    data = data_of(ITEM_A, ITEM_B, "<settings><note>n</note><deep><value>v</value></deep>"
                   "</settings>")
    body = top("<settings><deep><value>w</value></deep></settings>", ITEM_A,
               attrs=' xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace"')
    assert run(schema, data, body) == [
        (DELETE, "/nt:top/nt:item[nt:name='b']"),
        (DELETE, "/nt:top/nt:settings/nt:note"),
        (REPLACE, "/nt:top/nt:settings/nt:deep/nt:value"),
    ]
    assert_tree(data, data_of(ITEM_A, "<settings><deep><value>w</value></deep></settings>"))


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param(top('<item nc:operation="delete"><name>a</name>'
                         '<owner nc:operation="create">o</owner></item>'),
                     P_ITEM_A + "/nt:owner", id="create-under-delete"),
        pytest.param(top('<settings nc:operation="remove"><deep nc:operation="merge"/>'
                         "</settings>"), "/nt:top/nt:settings/nt:deep", id="merge-under-remove"),
        pytest.param(top('<item nc:operation="delete"><name>a</name>'
                         '<tag nc:operation="replace">x</tag></item>'),
                     P_ITEM_A + "/nt:tag", id="replace-under-delete"),
    ],
)
def test_creating_inside_deleted_node_is_bad_attribute(
    schema: SchemaTree, body: str, path: str
) -> None:
    data = data_of(ITEM_A, "<settings><note>n</note></settings>")
    with pytest.raises(BadAttributeError) as info:
        run(schema, data, body)
    name = path.rsplit(":", 1)[1]
    check_error(info.value, BadAttributeError, path,
                {"bad-attribute": "operation", "bad-element": name}, ErrorType.PROTOCOL)


def test_delete_inside_deleted_node_is_allowed(schema: SchemaTree) -> None:
    data = data_of(ITEM_A, ITEM_B)
    body = top('<item nc:operation="delete"><name>a</name><owner nc:operation="remove"/></item>')
    assert run(schema, data, body) == [(DELETE, P_ITEM_A)]


def test_delete_inside_created_node_is_data_missing(schema: SchemaTree) -> None:
    data = data_of(ITEM_A)
    body = top('<item nc:operation="create"><name>c</name><number>3</number>'
               '<owner nc:operation="delete"/></item>')
    with pytest.raises(DataMissingError) as info:
        run(schema, data, body)
    check_error(info.value, DataMissingError, "/nt:top/nt:item[nt:name='c']/nt:owner", {})


def test_remove_inside_created_node_is_a_no_op(schema: SchemaTree) -> None:
    data = data_of(ITEM_A)
    body = top('<item nc:operation="create"><name>c</name><number>3</number><small/>'
               '<owner nc:operation="remove"/></item>')
    assert run(schema, data, body) == [(CREATE, "/nt:top/nt:item[nt:name='c']")]
    assert_tree(data, data_of(ITEM_A, "<item><name>c</name><number>3</number><small/></item>"))


@pytest.mark.parametrize("value", ["none", "bogus", "MERGE"])
def test_invalid_operation_value_is_bad_attribute(schema: SchemaTree, value: str) -> None:
    with pytest.raises(BadAttributeError) as info:
        run(schema, data_of(ITEM_A), top(f'<mode nc:operation="{value}">slow</mode>'))
    check_error(info.value, BadAttributeError, "/nt:top/nt:mode",
                {"bad-attribute": "operation", "bad-element": "mode"}, ErrorType.PROTOCOL)


def test_unknown_netconf_attribute_is_unknown_attribute(schema: SchemaTree) -> None:
    with pytest.raises(UnknownAttributeError) as info:
        run(schema, data_of(ITEM_A), top('<mode nc:op="merge">slow</mode>'))
    check_error(info.value, UnknownAttributeError, "/nt:top/nt:mode",
                {"bad-attribute": "op", "bad-element": "mode"}, ErrorType.PROTOCOL)


# ------------------------------------------------------------------ list keys
@pytest.mark.parametrize(
    ("initial", "body", "path", "key"),
    [
        pytest.param([], top("<item><number>1</number></item>"), "/nt:top/nt:item", "name",
                     id="single-key"),
        pytest.param(["<vn><id>1</id></vn>"],
                     top("<vn><id>1</id><port><name>p</name><vlan>3</vlan></port></vn>"),
                     "/nt:top/nt:vn[nt:id='1']/nt:port", "unit", id="second-of-two-keys"),
        pytest.param([ITEM_A], top('<item nc:operation="delete"><owner>o</owner></item>'),
                     "/nt:top/nt:item", "name", id="delete-without-key"),
    ],
)
def test_missing_key_is_missing_element(
    schema: SchemaTree, initial: list[str], body: str, path: str, key: str
) -> None:
    with pytest.raises(MissingElementError) as info:
        run(schema, data_of(*initial), body)
    check_error(info.value, MissingElementError, path, {"bad-element": key})


def test_nested_two_key_list(schema: SchemaTree) -> None:
    data = data_of("<vn><id>1</id><port><name>p</name><unit>0</unit><vlan>3</vlan></port></vn>")
    body = top("<vn><id>1</id><port><unit>0</unit><name>p</name><vlan>4</vlan></port>"
               "<port><name>p</name><unit>1</unit></port></vn>")
    assert run(schema, data, body) == [
        (REPLACE, "/nt:top/nt:vn[nt:id='1']/nt:port[nt:name='p'][nt:unit='0']/nt:vlan"),
        (CREATE, "/nt:top/nt:vn[nt:id='1']/nt:port[nt:name='p'][nt:unit='1']"),
    ]
    # keys are stored first, in key order, whatever the request's order
    assert_tree(data, data_of("<vn><id>1</id><port><name>p</name><unit>0</unit><vlan>4</vlan>"
                              "</port><port><name>p</name><unit>1</unit></port></vn>"))


@pytest.mark.parametrize("op", ["delete", "create", "replace", "remove"])
def test_key_leaf_operation_other_than_entry_is_rejected(schema: SchemaTree, op: str) -> None:
    data = data_of(ITEM_A)
    body = top(f'<item><name nc:operation="{op}">a</name><number>3</number></item>')
    with pytest.raises(BadAttributeError) as info:
        run(schema, data, body)
    check_error(info.value, BadAttributeError, P_ITEM_A + "/nt:name",
                {"bad-attribute": "operation", "bad-element": "name"}, ErrorType.PROTOCOL)


@pytest.mark.parametrize("op", ["merge", "delete"])
def test_key_leaf_operation_equal_to_entry_or_merge_is_accepted(
    schema: SchemaTree, op: str
) -> None:
    data = data_of(ITEM_A, ITEM_B)
    entry_op = "delete" if op == "delete" else "merge"
    body = top(f'<item nc:operation="{entry_op}"><name nc:operation="{op}">a</name></item>')
    expected = [(DELETE, P_ITEM_A)] if op == "delete" else []
    assert run(schema, data, body) == expected


def test_key_leaf_given_twice_is_bad_element(schema: SchemaTree) -> None:
    """An attempt to change a key inside its entry: the second value is refused."""
    data = data_of(ITEM_A)
    with pytest.raises(BadElementError) as info:
        run(schema, data, top("<item><name>a</name><name>b</name></item>"))
    check_error(info.value, BadElementError, P_ITEM_A + "/nt:name", {"bad-element": "name"})


def test_other_key_value_identifies_another_entry(schema: SchemaTree) -> None:
    """A key cannot be changed: another value names another entry, which merge creates."""
    data = data_of(ITEM_A)
    body = top("<item><name>a2</name><number>1</number><small/></item>")
    assert run(schema, data, body) == [(CREATE, "/nt:top/nt:item[nt:name='a2']")]
    assert_tree(data, data_of(ITEM_A, "<item><name>a2</name><number>1</number><small/></item>"))


# ------------------------------------------------------------------ leaf-lists
@pytest.mark.parametrize(
    ("edit", "expected", "changes"),
    [
        pytest.param("<label>z</label>", ["x", "y", "z"], [(CREATE, "/nt:top/nt:label[.='z']")],
                     id="merge-new"),
        pytest.param("<label>x</label>", ["x", "y"], [], id="merge-existing"),
        pytest.param('<label nc:operation="replace">y</label>', ["x", "y"], [],
                     id="replace-existing-entry-only"),
        pytest.param('<label nc:operation="delete">x</label>', ["y"],
                     [(DELETE, "/nt:top/nt:label[.='x']")], id="delete-by-value"),
        pytest.param('<label nc:operation="remove">q</label>', ["x", "y"], [], id="remove-absent"),
    ],
)
def test_leaf_list_entries_matched_by_value(
    schema: SchemaTree, edit: str, expected: list[str], changes: list[tuple[ChangeOp, str]]
) -> None:
    data = data_of("<label>x</label>", "<label>y</label>")
    assert run(schema, data, top(edit)) == changes
    assert_tree(data, data_of(*(f"<label>{v}</label>" for v in expected)))


@pytest.mark.parametrize(
    ("edit", "cls", "path"),
    [
        ('<label nc:operation="delete">q</label>', DataMissingError, "/nt:top/nt:label[.='q']"),
        ('<label nc:operation="create">x</label>', DataExistsError, "/nt:top/nt:label[.='x']"),
    ],
)
def test_leaf_list_entry_errors(schema: SchemaTree, edit: str, cls: type[RPCError],
                                path: str) -> None:
    with pytest.raises(cls) as info:
        run(schema, data_of("<label>x</label>"), top(edit))
    check_error(info.value, cls, path, {})


# ----------------------------------------------------------- ordered-by user
RULES = ["<rule><name>r1</name></rule>", "<rule><name>r2</name></rule>",
         "<rule><name>r3</name></rule>"]


def rules(*names: str) -> list[str]:
    return [f"<rule><name>{n}</name></rule>" for n in names]


def path_rule(name: str) -> str:
    return f"/nt:top/nt:rule[nt:name='{name}']"


@pytest.mark.parametrize(
    ("edit", "order", "changes"),
    [
        pytest.param('<rule><name>n</name></rule>', ["r1", "r2", "r3", "n"],
                     [(CREATE, path_rule("n"))], id="new-defaults-to-last"),
        pytest.param('<rule yang:insert="first"><name>n</name></rule>', ["n", "r1", "r2", "r3"],
                     [(CREATE, path_rule("n"))], id="create-first"),
        pytest.param('<rule yang:insert="last"><name>n</name></rule>', ["r1", "r2", "r3", "n"],
                     [(CREATE, path_rule("n"))], id="create-last"),
        pytest.param('<rule yang:insert="before" yang:key="[tp:name=\'r2\']"><name>n</name></rule>',
                     ["r1", "n", "r2", "r3"], [(CREATE, path_rule("n"))], id="create-before"),
        pytest.param('<rule yang:insert="after" yang:key="[name=&quot;r2&quot;]"><name>n</name>'
                     '</rule>', ["r1", "r2", "n", "r3"], [(CREATE, path_rule("n"))],
                     id="create-after-unprefixed-double-quoted"),
        pytest.param('<rule yang:insert="first"><name>r3</name></rule>', ["r3", "r1", "r2"],
                     [(MOVE, path_rule("r3"))], id="move-first"),
        pytest.param('<rule yang:insert="last"><name>r1</name><action>a</action></rule>',
                     ["r2", "r3", "r1"],
                     [(CREATE, path_rule("r1") + "/nt:action"), (MOVE, path_rule("r1"))],
                     id="merge-and-move-last"),
        pytest.param('<rule yang:insert="after" yang:key="[tp:name=\'r3\']"><name>r1</name>'
                     '</rule>', ["r2", "r3", "r1"], [(MOVE, path_rule("r1"))], id="move-after"),
        pytest.param('<rule yang:insert="before" yang:key="[tp:name=\'r2\']"><name>r1</name>'
                     '</rule>', ["r1", "r2", "r3"], [], id="already-there-no-move"),
        pytest.param('<rule yang:insert="first"><name>r1</name></rule>', ["r1", "r2", "r3"], [],
                     id="already-first-no-move"),
        pytest.param('<rule yang:insert="after" yang:key="[tp:name=\'r2\']"><name>r2</name>'
                     "</rule>", ["r1", "r2", "r3"], [], id="after-itself-no-move"),
        pytest.param('<rule yang:insert="first"><name>a</name></rule>'
                     '<rule yang:insert="first"><name>b</name></rule>',
                     ["b", "a", "r1", "r2", "r3"],
                     [(CREATE, path_rule("a")), (CREATE, path_rule("b"))],
                     id="applied-one-at-a-time"),
    ],
)
def test_ordered_by_user_list_insert(
    schema: SchemaTree, edit: str, order: list[str], changes: list[tuple[ChangeOp, str]]
) -> None:
    data = data_of(*RULES)
    assert run(schema, data, top(edit)) == changes
    assert [rule.findtext(f"{{{NS}}}name") for rule in data[0]] == order


@pytest.mark.parametrize(
    ("edit", "changes"),
    [
        pytest.param('<rule yang:insert="first"><name>r3</name></rule>'
                     '<rule yang:insert="last"><name>r3</name></rule>', [], id="moved-back"),
        pytest.param('<rule yang:insert="first"><name>r3</name></rule>'
                     '<rule yang:insert="after" yang:key="[tp:name=\'r1\']"><name>r3</name>'
                     "</rule>", [(MOVE, path_rule("r3"))], id="moved-twice-one-move"),
        pytest.param('<rule yang:insert="first"><name>r3</name></rule>'
                     '<rule nc:operation="delete"><name>r3</name></rule>',
                     [(DELETE, path_rule("r3"))], id="moved-then-deleted"),
    ],
)
def test_entry_moved_twice_gives_its_net_change(
    schema: SchemaTree, edit: str, changes: list[tuple[ChangeOp, str]]
) -> None:
    assert run(schema, data_of(*RULES), top(edit)) == changes


def test_move_change_carries_the_moved_element(schema: SchemaTree) -> None:
    data = data_of(*RULES)
    (change,) = apply_edit(data, config(top('<rule yang:insert="first"><name>r2</name></rule>')),
                           schema)
    assert change.operation is MOVE and change.old is None
    assert change.new is not None and change.new.getprevious() is None
    assert change.new.findtext(f"{{{NS}}}name") == "r2"


@pytest.mark.parametrize(
    ("edit", "order", "changes"),
    [
        pytest.param('<tag yang:insert="first">t3</tag>', ["t3", "t1", "t2"],
                     [(MOVE, P_ITEM_A + "/nt:tag[.='t3']")], id="move-first"),
        pytest.param('<tag yang:insert="before" yang:value="t2">n</tag>', ["t1", "n", "t2", "t3"],
                     [(CREATE, P_ITEM_A + "/nt:tag[.='n']")], id="create-before"),
        pytest.param('<tag yang:insert="after" yang:value="t1">t3</tag>', ["t1", "t3", "t2"],
                     [(MOVE, P_ITEM_A + "/nt:tag[.='t3']")], id="move-after"),
        pytest.param("<tag>n</tag>", ["t1", "t2", "t3", "n"],
                     [(CREATE, P_ITEM_A + "/nt:tag[.='n']")], id="new-last"),
    ],
)
def test_ordered_by_user_leaf_list_insert(
    schema: SchemaTree, edit: str, order: list[str], changes: list[tuple[ChangeOp, str]]
) -> None:
    tags = "".join(f"<tag>{t}</tag>" for t in ("t1", "t2", "t3"))
    data = data_of(f"<item><name>a</name><number>1</number>{tags}<small/></item>")
    assert run(schema, data, top(f"<item><name>a</name>{edit}</item>")) == changes
    item = data[0][0]
    assert [t.text for t in item.iterchildren(f"{{{NS}}}tag")] == order


@pytest.mark.parametrize(
    ("edit", "cls", "info", "app_tag"),
    [
        pytest.param('<rule yang:insert="after" yang:key="[tp:name=\'zz\']"><name>n</name></rule>',
                     BadAttributeError, {"bad-attribute": "key", "bad-element": "rule"},
                     "missing-instance", id="missing-key-instance"),
        pytest.param('<rule yang:insert="before"><name>n</name></rule>', MissingAttributeError,
                     {"bad-attribute": "key", "bad-element": "rule"}, None, id="no-key-attribute"),
        pytest.param('<rule yang:insert="middle"><name>n</name></rule>', BadAttributeError,
                     {"bad-attribute": "insert", "bad-element": "rule"}, None, id="bad-insert"),
        pytest.param('<rule yang:insert="after" yang:key="name=\'r1\'"><name>n</name></rule>',
                     BadAttributeError, {"bad-attribute": "key", "bad-element": "rule"}, None,
                     id="malformed-key"),
        pytest.param('<rule yang:insert="after" yang:value="r1"><name>n</name></rule>',
                     UnknownAttributeError, {"bad-attribute": "value", "bad-element": "rule"},
                     None, id="value-on-list"),
    ],
)
def test_insert_attribute_errors(
    schema: SchemaTree, edit: str, cls: type[RPCError], info: dict[str, str],
    app_tag: str | None,
) -> None:
    data = data_of(*RULES)
    with pytest.raises(cls) as raised:
        run(schema, data, top(edit))
    check_error(raised.value, cls, path_rule("n"), info, app_tag=app_tag)
    assert_tree(data, data_of(*RULES))


def test_missing_leaf_list_anchor_is_missing_instance(schema: SchemaTree) -> None:
    data = data_of("<item><name>a</name><number>1</number><tag>t1</tag><small/></item>")
    body = top('<item><name>a</name><tag yang:insert="after" yang:value="zz">n</tag></item>')
    with pytest.raises(BadAttributeError) as info:
        run(schema, data, body)
    check_error(info.value, BadAttributeError, P_ITEM_A + "/nt:tag[.='n']",
                {"bad-attribute": "value", "bad-element": "tag"}, app_tag="missing-instance")


def test_insert_on_system_ordered_list_is_unknown_attribute(schema: SchemaTree) -> None:
    with pytest.raises(UnknownAttributeError) as info:
        run(schema, data_of(ITEM_A), top('<label yang:insert="first">x</label>'))
    check_error(info.value, UnknownAttributeError, "/nt:top/nt:label[.='x']",
                {"bad-attribute": "insert", "bad-element": "label"})


@pytest.mark.parametrize(
    ("edit_order", "moves"),
    [
        pytest.param(["r1", "r2", "r3"], [], id="same-order"),
        pytest.param(["r2", "r3", "r1"], ["r1"], id="rotate-one-move"),
        pytest.param(["r3", "r2", "r1"], ["r3", "r2"], id="reverse-two-moves"),
        pytest.param(["r3", "n", "r1"], ["r3"], id="drop-add-and-move"),
    ],
)
def test_replace_takes_the_edit_order_with_fewest_moves(
    schema: SchemaTree, edit_order: list[str], moves: list[str]
) -> None:
    data = data_of(*RULES)
    body = top(*rules(*edit_order), attrs=f' xmlns:nc="{NS_NC}" nc:operation="replace"')
    changes = run(schema, data, body)
    assert [p for op, p in changes if op is MOVE] == [path_rule(n) for n in moves]
    dropped = [n for n in ("r1", "r2", "r3") if n not in edit_order]
    added = [n for n in edit_order if n not in ("r1", "r2", "r3")]
    assert [p for op, p in changes if op is DELETE] == [path_rule(n) for n in dropped]
    assert [p for op, p in changes if op is CREATE] == [path_rule(n) for n in added]
    assert_tree(data, data_of(*rules(*edit_order)))


# --------------------------------------------------------------------- choices
def test_choice_case_switch_deletes_other_case(schema: SchemaTree) -> None:
    data = data_of(ITEM_A)
    body = top("<item><name>a</name><big-size>9</big-size></item>")
    assert run(schema, data, body) == [
        (DELETE, P_ITEM_A + "/nt:small"),
        (CREATE, P_ITEM_A + "/nt:big-size"),
    ]
    assert_tree(data, data_of("<item><name>a</name><number>1</number><big-size>9</big-size>"
                              "</item>"))


@pytest.mark.parametrize(
    ("edit", "kept", "deleted"),
    [
        pytest.param("<vlan-id>5</vlan-id>", ["<vlan-id>5</vlan-id>"],
                     ["tunnel-name", "vni"], id="outer-case-switch"),
        pytest.param("<gre-key>5</gre-key>",
                     ["<tunnel-name>t</tunnel-name>", "<gre-key>5</gre-key>"], ["vni"],
                     id="inner-case-switch-keeps-outer-case"),
        pytest.param("<tunnel-name>u</tunnel-name>",
                     ["<tunnel-name>u</tunnel-name>", "<vni>7</vni>"], [],
                     id="same-case-no-deletion"),
    ],
)
def test_nested_choice_case_switch(
    schema: SchemaTree, edit: str, kept: list[str], deleted: list[str]
) -> None:
    data = data_of("<tunnel-name>t</tunnel-name>", "<vni>7</vni>")
    changes = run(schema, data, top(edit))
    assert [p for op, p in changes if op is DELETE] == [f"/nt:top/nt:{n}" for n in deleted]
    assert_tree(data, data_of(*kept))


def test_later_case_in_same_request_wins_without_trace(schema: SchemaTree) -> None:
    data = data_of(ITEM_B)
    body = top("<item><name>b</name><small/><big-size>4</big-size></item>")
    assert run(schema, data, body) == [(REPLACE, "/nt:top/nt:item[nt:name='b']/nt:big-size")]
    assert_tree(data, data_of("<item><name>b</name><number>2</number><big-size>4</big-size>"
                              "</item>"))


# ------------------------------------------------------ unknown and bad input
@pytest.mark.parametrize(
    ("body", "cls", "path", "info"),
    [
        pytest.param(top("<bogus>1</bogus>"), UnknownElementError, "/nt:top",
                     {"bad-element": "bogus"}, id="unknown-element"),
        pytest.param(top("<item><name>a</name><bogus/></item>"), UnknownElementError, P_ITEM_A,
                     {"bad-element": "bogus"}, id="unknown-element-in-entry"),
        pytest.param(f'<bogus xmlns="{NS}"/>', UnknownElementError, None,
                     {"bad-element": "bogus"}, id="unknown-top-level"),
        pytest.param('<foo xmlns="urn:example:nowhere"/>', UnknownNamespaceError, None,
                     {"bad-element": "foo", "bad-namespace": "urn:example:nowhere"},
                     id="unknown-namespace"),
        pytest.param(top('<x:mode xmlns:x="urn:example:nowhere">1</x:mode>'),
                     UnknownNamespaceError, "/nt:top",
                     {"bad-element": "mode", "bad-namespace": "urn:example:nowhere"},
                     id="unknown-namespace-nested"),
        pytest.param(top('<item nc:operation="delete"><name>a</name><bogus/></item>'),
                     UnknownElementError, P_ITEM_A, {"bad-element": "bogus"},
                     id="unknown-element-in-deleted-entry"),
        pytest.param(top("<stats><count>1</count></stats>"), InvalidValueError, "/nt:top/nt:stats",
                     {"bad-element": "stats"}, id="state-node"),
        pytest.param(top("oops<mode>fast</mode>"), BadElementError, "/nt:top",
                     {"bad-element": "top"}, id="text-in-container"),
        pytest.param(top("<mode>fast<x/></mode>"), BadElementError, "/nt:top/nt:mode",
                     {"bad-element": "mode"}, id="element-in-leaf"),
    ],
)
def test_bad_content_errors(
    schema: SchemaTree, body: str, cls: type[RPCError], path: str | None, info: dict[str, str]
) -> None:
    with pytest.raises(cls) as raised:
        run(schema, data_of(ITEM_A), body)
    check_error(raised.value, cls, path, info)


def test_data_exists_path_quotes_key_values(schema: SchemaTree) -> None:
    data = data_of("<item><name>it's</name><number>1</number><small/></item>")
    with pytest.raises(DataExistsError) as info:
        run(schema, data, top("<item nc:operation=\"create\"><name>it's</name></item>"))
    check_error(info.value, DataExistsError, "/nt:top/nt:item[nt:name=\"it's\"]", {})


@pytest.mark.parametrize(
    ("value", "literal"),
    [("a", "'a'"), ("it's", '"it\'s"'), ("x'y\"z", "concat('x', \"'\", 'y\"z')"), ("", "''")],
)
def test_quote_literal(value: str, literal: str) -> None:
    assert quote_literal(value) == literal


# --------------------------------------------------------------- error-option
def test_continue_on_error_collects_errors_and_applies_the_rest(schema: SchemaTree) -> None:
    data = data_of(ITEM_A, "<mode>fast</mode>")
    body = top(
        '<item nc:operation="create"><name>a</name></item>',
        "<mode>slow</mode>",
        '<label nc:operation="delete">zz</label>',
        ITEM_B,
    )
    with pytest.raises(PartialEditError) as info:
        run(schema, data, body, error_option=ErrorOption.CONTINUE_ON_ERROR)
    errors = info.value.errors
    assert [type(e) for e in errors] == [DataExistsError, DataMissingError]
    check_error(errors[0], DataExistsError, P_ITEM_A, {})
    check_error(errors[1], DataMissingError, "/nt:top/nt:label[.='zz']", {})
    assert summary(list(info.value.changes)) == [
        (REPLACE, "/nt:top/nt:mode"), (CREATE, "/nt:top/nt:item[nt:name='b']")
    ]
    assert_tree(data, data_of(ITEM_A, "<mode>slow</mode>", ITEM_B))


def test_continue_on_error_inside_a_created_entry(schema: SchemaTree) -> None:
    data = data_of(ITEM_A)
    body = top("<item><name>c</name><number>3</number><bogus/><small/></item>")
    with pytest.raises(PartialEditError) as info:
        run(schema, data, body, error_option=ErrorOption.CONTINUE_ON_ERROR)
    (error,) = info.value.errors
    check_error(error, UnknownElementError, "/nt:top/nt:item[nt:name='c']",
                {"bad-element": "bogus"})
    assert summary(list(info.value.changes)) == [(CREATE, "/nt:top/nt:item[nt:name='c']")]


@pytest.mark.parametrize("option", [ErrorOption.STOP_ON_ERROR, ErrorOption.ROLLBACK_ON_ERROR])
def test_stop_and_rollback_raise_the_first_error(schema: SchemaTree, option: ErrorOption) -> None:
    body = top('<item nc:operation="create"><name>a</name></item>',
               '<label nc:operation="delete">zz</label>')
    with pytest.raises(DataExistsError):
        run(schema, data_of(ITEM_A), body, error_option=option)


# ---------------------------------------------------------- change exactness
def test_created_entry_is_one_change_with_the_live_element(schema: SchemaTree) -> None:
    data = data_of(ITEM_A)
    (change,) = apply_edit(data, config(top(ITEM_B)), schema)
    assert change.operation is CREATE and change.path == "/nt:top/nt:item[nt:name='b']"
    assert change.new is data[0][1] and change.old is None
    assert change.schema.name == "item" and change.namespaces == NSS


def test_deleted_subtree_is_returned_detached(schema: SchemaTree) -> None:
    data = data_of(ITEM_A, "<settings><note>n</note></settings>")
    (change,) = apply_edit(data, config(top('<settings nc:operation="delete"/>')), schema)
    assert change.operation is DELETE and change.new is None
    assert change.old is not None and change.old.getparent() is None
    assert change.old.findtext(f"{{{NS}}}note") == "n"


def test_replaced_leaf_keeps_old_element(schema: SchemaTree) -> None:
    data = data_of("<mode>fast</mode>")
    (change,) = apply_edit(data, config(top("<mode>slow</mode>")), schema)
    assert change.old is not None and change.old.text == "fast"
    assert change.new is not None and change.new.text == "slow"
    assert change.new.getparent() is data[0]


def test_identical_replace_of_entry_is_no_change(schema: SchemaTree) -> None:
    data = data_of(ITEM_A, ITEM_B)
    body = top(ITEM_A.replace("<item>", '<item nc:operation="replace">'))
    assert run(schema, data, body) == []
    assert_tree(data, data_of(ITEM_A, ITEM_B))


def test_create_then_delete_in_one_request_leaves_no_trace(schema: SchemaTree) -> None:
    data = data_of(ITEM_A)
    body = top(ITEM_B, '<item nc:operation="delete"><name>b</name></item>')
    assert run(schema, data, body) == []
    assert_tree(data, data_of(ITEM_A))


def test_leaf_created_then_changed_is_one_create(schema: SchemaTree) -> None:
    data = data_of(ITEM_A)
    changes = apply_edit(data, config(top("<mode>fast</mode>", "<mode>slow</mode>")), schema)
    assert summary(changes) == [(CREATE, "/nt:top/nt:mode")]
    assert changes[0].new is not None and changes[0].new.text == "slow"


def test_empty_non_presence_container_is_not_stored(schema: SchemaTree) -> None:
    data = data_of()
    assert run(schema, data, top("<settings/>")) == []
    assert len(data) == 0


def test_container_left_empty_is_removed_silently(schema: SchemaTree) -> None:
    data = data_of(ITEM_A, "<settings><deep><value>v</value></deep></settings>")
    body = top('<settings><deep><value nc:operation="delete"/></deep></settings>')
    assert run(schema, data, body) == [(DELETE, "/nt:top/nt:settings/nt:deep/nt:value")]
    assert_tree(data, data_of(ITEM_A))


def test_empty_presence_container_is_stored(schema: SchemaTree) -> None:
    data = data_of()
    assert run(schema, data, top("<opts/>")) == [(CREATE, "/nt:top")]
    assert_tree(data, data_of("<opts/>"))


def test_empty_leaf_has_no_text(schema: SchemaTree) -> None:
    data = data_of()
    run(schema, data, top("<item><name>e</name><number>1</number><small/></item>"))
    small = data[0][0][2]
    assert small.tag == f"{{{NS}}}small" and small.text is None


# ------------------------------------------------------------ prefixed values
def reparse(data: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(data))


def test_identityref_prefix_survives_serialization(schema: SchemaTree) -> None:
    data = data_of()
    run(schema, data, top("<proto>tp:vxlan</proto>"))  # tp is bound on <config> only
    proto = reparse(data).find(f"{{{NS}}}top/{{{NS}}}proto")
    assert proto is not None and resolved(proto) == f"{{{NS}}}vxlan"


def resolved(leaf: etree._Element) -> str:
    """An identityref value as ``{namespace}name``, whatever prefix (or none) it uses."""
    prefix, _, name = (leaf.text or "").rpartition(":")
    return f"{{{leaf.nsmap[prefix or None]}}}{name}"


def test_identityref_value_survives_moves_and_rollback(schema: SchemaTree) -> None:
    """Lxml drops a leaf's xmlns:p when an ancestor declares the same URI; the stored
    value must not depend on such a declaration.
    """
    from nvo3_netconf.datastore.undo import UndoJournal

    data = data_of()
    run(schema, data, top(f'<proto xmlns:c="{NS}">c:vxlan</proto><rule><name>r1</name></rule>'))
    journal = UndoJournal()
    apply_edit(data, config(top(f'<proto xmlns:c="{NS}">c:geneve</proto>')), schema,
               journal=journal)
    proto = reparse(data).find(f"{{{NS}}}top/{{{NS}}}proto")
    assert proto is not None and resolved(proto) == f"{{{NS}}}geneve"
    journal.rollback()
    proto = reparse(data).find(f"{{{NS}}}top/{{{NS}}}proto")
    assert proto is not None and resolved(proto) == f"{{{NS}}}vxlan"


def test_instance_identifier_prefixes_survive_serialization(schema: SchemaTree) -> None:
    data = data_of()
    body = top('<target xmlns:q="urn:ietf:params:xml:ns:yang:ietf-netconf-acm">'
               "/tp:top/tp:item[tp:name='a']/q:x</target>")
    run(schema, data, body)
    target = reparse(data).find(f"{{{NS}}}top/{{{NS}}}target")
    assert target is not None
    # Whatever prefixes the stored value uses, they resolve to the same namespaces.
    acm = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
    assert resolve_prefixes(target.text or "", target.nsmap) == (
        f"/{{{NS}}}top/{{{NS}}}item[{{{NS}}}name='a']/{{{acm}}}x")


def test_instance_identifier_naming_its_container_survives_rollback(schema: SchemaTree) -> None:
    """A value's prefix naming its container's namespace survives a rollback.

    The prefix is declared where the value is kept: an undone edit that re-inserts the
    leaf or its container does not lose it.
    """
    from nvo3_netconf.datastore.undo import UndoJournal

    data = data_of()
    run(schema, data, top(f'<target xmlns:x="{NS}">/x:top/x:item[x:name=\'a\']</target>'
                          "<rule><name>r1</name></rule>"))
    expected = f"/{{{NS}}}top/{{{NS}}}item[{{{NS}}}name='a']"
    for body in (top(attrs=f' xmlns:nc="{NS_NC}" nc:operation="replace"'),
                 top(f'<target xmlns:nc="{NS_NC}" nc:operation="delete"/>'),
                 top(f'<target xmlns:x="{NS}">/x:top</target>')):
        journal = UndoJournal()
        apply_edit(data, config(body), schema, journal=journal)
        journal.rollback()
        target = reparse(data).find(f"{{{NS}}}top/{{{NS}}}target")
        assert target is not None
        assert resolve_prefixes(target.text or "", target.nsmap) == expected, body


def test_bind_prefixes_rebuilds_a_container_that_only_has_a_default_namespace(
    schema: SchemaTree,
) -> None:
    """Trees stored before the prefix binding (or copied in) get it, values rewritten."""
    from nvo3_netconf.datastore.changes import settle_prefixes

    data = parse(f'<data xmlns="{NS_NC}"><top xmlns="{NS}"><rule><name>r1</name></rule>'
                 f'<target xmlns:x="{NS}">/x:top/x:rule[x:name=\'r1\']</target></top></data>')
    old = data[0]
    prefixes = {namespace: prefix for prefix, namespace in schema.prefixes.items()}
    new = settle_prefixes(old, schema.root(NS, "top"), prefixes)
    assert new is not old and data[0] is new
    assert new.nsmap == {None: NS, "nt": NS}
    target = new.find(f"{{{NS}}}target")
    assert target is not None and target.text == "/nt:top/nt:rule[nt:name='r1']"
    assert settle_prefixes(new, schema.root(NS, "top"), prefixes) is new  # already bound


def test_unprefixed_identityref_keeps_its_default_namespace(schema: SchemaTree) -> None:
    data = data_of()
    body = top(f'<x:proto xmlns:x="{NS}" xmlns="urn:example:ids">vxlan</x:proto>')
    run(schema, data, body)
    proto = reparse(data).find(f"{{{NS}}}top/{{{NS}}}proto")
    assert proto is not None and resolved(proto) == "{urn:example:ids}vxlan"


def test_same_identity_under_another_prefix_is_no_change(schema: SchemaTree) -> None:
    data = data_of()
    run(schema, data, top("<proto>tp:vxlan</proto>"))
    body = top(f'<proto xmlns:other="{NS}">other:vxlan</proto>')
    assert run(schema, data, body) == []
    assert run(schema, data, top("<proto>tp:geneve</proto>")) == [
        (REPLACE, "/nt:top/nt:proto")
    ]


# ------------------------------------------------------------------- big lists
def test_many_entries_with_deletes_and_recreates_in_one_edit(schema: SchemaTree) -> None:
    existing = "".join(f"<entry><id>{i}</id><value>v</value></entry>" for i in range(300))
    data = data_of(extra=f'<bulk xmlns="{NS}">{existing}</bulk>')
    edits = "".join(f"<entry><id>{i}</id><value>w</value></entry>" for i in range(250, 400))
    edits += '<entry nc:operation="delete"><id>0</id></entry>'
    edits += '<entry nc:operation="create"><id>0</id></entry>'
    changes = run(schema, data, f'<bulk xmlns="{NS}">{edits}</bulk>')
    assert len(changes) == 50 + 100 + 2
    assert changes[-2:] == [(DELETE, "/nt:bulk/nt:entry[nt:id='0']"),
                            (CREATE, "/nt:bulk/nt:entry[nt:id='0']")]
    ids = [e.findtext(f"{{{NS}}}id") for e in data[0]]
    assert len(ids) == len(set(ids)) == 400


# ---------------------------------------------------------------- net effect
@pytest.mark.parametrize(
    ("edit", "changes"),
    [
        pytest.param('<mode nc:operation="delete"/><mode nc:operation="create">slow</mode>',
                     [(REPLACE, "/nt:top/nt:mode")], id="delete-create-is-replace"),
        pytest.param('<mode nc:operation="delete"/><mode nc:operation="create">fast</mode>',
                     [], id="delete-create-same-value"),
        pytest.param("<mode>slow</mode><mode>fast</mode>", [], id="changed-and-back"),
        pytest.param('<mode>slow</mode><mode nc:operation="delete"/>',
                     [(DELETE, "/nt:top/nt:mode")], id="changed-then-deleted"),
    ],
)
def test_leaf_touched_twice_gives_its_net_change(
    schema: SchemaTree, edit: str, changes: list[tuple[ChangeOp, str]]
) -> None:
    data = data_of(ITEM_A, "<mode>fast</mode>")
    result = apply_edit(data, config(top(edit)), schema)
    assert summary(result) == changes
    for change in result:  # old is always the original element
        assert change.old is not None and change.old.text == "fast"


# ------------------------------------------------------------------- anydata
def test_anydata_is_stored_and_compared_whole(schema: SchemaTree) -> None:
    data = data_of()
    blob = '<blob nc:operation="merge"><a xmlns="urn:example:any">1</a><b/></blob>'
    assert run(schema, data, top(blob)) == [(CREATE, "/nt:top")]
    stored = data[0][0]
    assert stored.get(f"{{{NS_NC}}}operation") is None
    assert [c.tag for c in stored] == ["{urn:example:any}a", f"{{{NS}}}b"]
    assert run(schema, data, top(blob)) == []
    assert run(schema, data, top("<blob><a>2</a></blob>")) == [(REPLACE, "/nt:top/nt:blob")]
    assert [c.tag for c in data[0][0]] == [f"{{{NS}}}a"]
