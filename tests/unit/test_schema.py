"""The schema layer: structured validation errors (RFC 7950 sec. 15) and the schema view."""

from __future__ import annotations

import pytest

from nvo3_netconf.constants import ErrorTag, ErrorType
from nvo3_netconf.errors import DataMissingError
from nvo3_netconf.schema import (
    DataKind,
    NodeKind,
    SchemaTree,
    SchemaValidationError,
    Validator,
    YangContext,
)

NS = "urn:nvo3-netconf:yang:nvo3-test"


def item(name: str, number: int | None = 1, extra: str = "<small/>", owner: str = "") -> str:
    num = f"<number>{number}</number>" if number is not None else ""
    own = f"<owner>{owner}</owner>" if owner else ""
    return f"<item><name>{name}</name>{num}{own}{extra}</item>"


def top(*children: str) -> str:
    return f'<top xmlns="{NS}">' + "".join(children) + "</top>"


VALID = top(item("a", 1, owner="t1"), item("b", 2, "<big-size>3</big-size>"),
            "<ref><id>1</id><item>a</item><owner>t1</owner></ref>")

CASES = [
    # (document, error-tag, app-tag, libyang path, message fragment, error-path)
    (top(item("a", 0)), ErrorTag.INVALID_VALUE, None,
     "/nvo3-test:top/item[name='a']/number", 'value "0" is out of the allowed range',
     "/nt:top/nt:item[nt:name='a']/nt:number"),
    (top(item("a", 1), item("b", 1)), ErrorTag.OPERATION_FAILED, "data-not-unique",
     "/nvo3-test:top/item[name='b']", 'Unique data leaf(s) "number"',
     "/nt:top/nt:item[nt:name='b']"),
    (top(*(item(f"i{n}", n + 1) for n in range(6))), ErrorTag.OPERATION_FAILED,
     "too-many-elements", None, 'Too many "item" instances', "/nt:top/nt:item"),
    (top("<ref><id>1</id><item>zz</item></ref>"), ErrorTag.DATA_MISSING, "instance-required",
     "/nvo3-test:top/ref[id='1']/item", 'Invalid leafref value "zz"',
     "/nt:top/nt:ref[nt:id='1']/nt:item"),
    (top(item("a", 1, owner="t1"), "<ref><id>1</id><item>a</item><owner>t2</owner></ref>"),
     ErrorTag.OPERATION_FAILED, "owner-mismatch", "/nvo3-test:top/ref[id='1']/owner",
     "belongs to another owner", "/nt:top/nt:ref[nt:id='1']/nt:owner"),
    (top(item("b", 2), item("a", None)), ErrorTag.DATA_MISSING, None,
     "/nvo3-test:top/item[name='a']/number", 'Mandatory node "number"',
     "/nt:top/nt:item[nt:name='a']/nt:number"),
    (top(item("b", 2), item("a", 1, extra="")), ErrorTag.DATA_MISSING, "missing-choice",
     "/nvo3-test:top/item[name='a']", 'Mandatory choice "kind"', "/nt:top/nt:item[nt:name='a']"),
    (top("<bogus>1</bogus>"), ErrorTag.UNKNOWN_ELEMENT, None, "/nvo3-test:top",
     'Node "bogus" not found', "/nt:top"),
    (top("<stats><count>1</count></stats>"), ErrorTag.INVALID_VALUE, None, None,
     'state node "stats"', "/nt:top/nt:stats"),
]


@pytest.fixture(scope="module")
def validator(test_context: YangContext) -> Validator:
    return Validator(test_context)


def test_valid_document_passes(validator: Validator) -> None:
    validator.validate(VALID)


@pytest.mark.parametrize(("doc", "tag", "app_tag", "path", "fragment", "error_path"), CASES)
def test_violation_is_reported_precisely(
    validator: Validator, doc: str, tag: ErrorTag, app_tag: str | None, path: str | None,
    fragment: str, error_path: str | None,
) -> None:
    with pytest.raises(SchemaValidationError) as info:
        validator.validate(doc)
    issue = info.value.issues[0]
    assert issue.error_tag is tag
    assert issue.app_tag == app_tag
    if path is not None:
        assert issue.path == path
    assert fragment in issue.message
    assert issue.error_path == error_path
    assert dict(issue.path_namespaces) == ({"nt": NS} if error_path else {})


def test_issue_becomes_typed_rpc_error_with_path_namespaces(validator: Validator) -> None:
    with pytest.raises(SchemaValidationError) as info:
        validator.validate(top("<ref><id>1</id><item>zz</item></ref>"))
    error = info.value.to_rpc_error()
    assert isinstance(error, DataMissingError)
    assert error.type is ErrorType.APPLICATION
    assert error.app_tag == "instance-required"
    assert error.path == "/nt:top/nt:ref[nt:id='1']/nt:item"
    assert error.path_namespaces == {"nt": NS}



def test_operational_data_allows_state(validator: Validator) -> None:
    validator.validate(top("<stats><count>1</count></stats>"), DataKind.OPERATIONAL)


def test_schema_tree_describes_lists_defaults_and_choices(test_context: YangContext) -> None:
    tree = SchemaTree(test_context)
    top_node = tree.root(NS, "top")
    assert top_node is not None and top_node.kind is NodeKind.CONTAINER
    item_node = top_node.child(NS, "item")
    assert item_node is not None
    assert item_node.kind is NodeKind.LIST and item_node.keys == ("name",)
    assert item_node.child(NS, "name").is_key
    assert item_node.child(NS, "tag").ordered_by_user
    assert item_node.child(NS, "big-size").choices == (("kind", "big"),)
    assert item_node.child(NS, "small").choices == (("kind", "small"),)
    assert top_node.child(NS, "mode").defaults == ("fast",)
    assert not top_node.child(NS, "stats").config
    assert item_node.path == "/nt:top/nt:item"


def test_module_source_served_for_get_schema(test_context: YangContext) -> None:
    text = test_context.module_source("nvo3-test")
    assert text.startswith("module nvo3-test")
    assert test_context.module("nvo3-test").revision == "2026-11-21"
    with pytest.raises(KeyError):
        test_context.module_source("nvo3-test", "1999-01-01")
    assert "<module-set>" in test_context.yang_library_xml("7")


def test_yang_library_lists_every_datastore_and_is_valid(test_context: YangContext) -> None:
    """RFC 8525: one ``datastore`` entry per datastore the server supports.

    Each names a schema of the library; the whole library (and modules-state) is valid.
    """
    from lxml import etree

    lib = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
    text = test_context.yang_library_xml("7")
    Validator(test_context).validate(text, DataKind.OPERATIONAL)
    root = etree.fromstring(f"<x>{text}</x>")
    x = {"l": lib}
    names = {}
    for entry in root.xpath("l:yang-library/l:datastore", namespaces=x):
        name = entry.find(f"{{{lib}}}name")
        prefix, _, identity = name.text.partition(":")
        assert name.nsmap[prefix] == "urn:ietf:params:xml:ns:yang:ietf-datastores"
        names[identity] = entry.findtext(f"{{{lib}}}schema")
    assert set(names) == {"running", "candidate", "startup"}
    assert set(names.values()) == set(root.xpath("l:yang-library/l:schema/l:name/text()",
                                                 namespaces=x))
    assert root.xpath("string(l:yang-library/l:content-id)", namespaces=x) == "7"
    assert root.xpath("string(l:modules-state/l:module-set-id)", namespaces=x) == "7"
    # a datastore naming a schema the library lacks is refused by the model's leafref
    broken = text.replace("<schema>complete</schema>", "<schema>nothing</schema>", 1)
    with pytest.raises(SchemaValidationError):
        Validator(test_context).validate(broken, DataKind.OPERATIONAL)
