"""edit-config parameters over SSH (RFC 6241 sec. 7.2), under both framings.

error-option, default-operation, the operation attribute and test-option, each
asserted by the rpc-errors on the wire (type, tag, error-path) and by the datastore
content afterwards. RFC 6241 leaves open what ``stop-on-error`` keeps of the part of
an edit before its error; this server keeps none of it (README: a failed operation
leaves every datastore as it was), so only ``continue-on-error`` applies in part.
"""

from __future__ import annotations

import pytest

from tests.functional.replies import (
    NT,
    X,
    call,
    config_of,
    edit_config,
    get_config,
    is_ok,
    one_error,
    stored_items,
    wire_errors,
)
from tests.functional.test_protocol import item

PATH_A = "/nt:top/nt:item[nt:name='a']"


def seeded(connect, *entries: str):
    """A session on an agent whose running holds ``entries`` (default: item a, number 1)."""
    m = connect()
    assert is_ok(call(m, edit_config("".join(entries) or item("a", 1))))
    return m


def assert_node_error(error, tag: str, path: str) -> None:
    """An application error about the node at ``path`` (prefix nt bound to the module)."""
    assert (error.type, error.tag, error.severity) == ("application", tag, "error")
    assert error.path == path
    assert error.path_namespaces["nt"] == NT


# ------------------------------------------------------------------ error-option
@pytest.mark.parametrize("error_option", [None, "stop-on-error"])
def test_stop_on_error_reports_the_first_error_and_applies_nothing(
    connect, error_option: str | None
) -> None:
    """stop-on-error (the default): one error, and nothing of the edit is stored.

    The delete of zz after the failing create is never reached; neither b before it
    nor c after it is stored.
    """
    m = seeded(connect)
    options = {"error_option": error_option} if error_option else {}
    reply = call(m, edit_config(
        item("b", 2) + item("a", 1, op="create") + item("c", 3) + item("zz", 9, op="delete"),
        **options))
    assert_node_error(one_error(reply), "data-exists", PATH_A)
    assert stored_items(m) == ["a"]


def test_continue_on_error_applies_the_valid_parts_and_reports_every_error(connect) -> None:
    m = seeded(connect)
    reply = call(m, edit_config(
        item("b", 2) + item("a", 1, op="create") + item("c", 3) + item("zz", 9, op="delete"),
        error_option="continue-on-error"))
    created, deleted = wire_errors(reply)
    assert_node_error(created, "data-exists", PATH_A)
    assert_node_error(deleted, "data-missing", "/nt:top/nt:item[nt:name='zz']")
    assert reply.find("nc:ok", X) is None
    assert stored_items(m) == ["a", "b", "c"]


def test_continue_on_error_with_an_invalid_result_changes_nothing_and_names_every_error(
    connect,
) -> None:
    """An edit whose applied parts are invalid is refused whole, naming every error.

    The parts that applied make number 1 non-unique; the reply names the skipped
    create too (RFC 6241 sec. 7.2: every error is recorded).
    """
    m = seeded(connect)
    before = config_of(m)
    reply = call(m, edit_config(item("b", 1) + item("a", 1, op="create"),
                                error_option="continue-on-error"))
    skipped, invalid = wire_errors(reply)
    assert_node_error(skipped, "data-exists", PATH_A)
    assert (invalid.tag, invalid.app_tag) == ("operation-failed", "data-not-unique")
    assert config_of(m) == before


@pytest.mark.parametrize("target", ["running", "candidate"])
def test_rollback_on_error_restores_the_whole_target(connect, target: str) -> None:
    m = seeded(connect)
    before = config_of(m, target)
    reply = call(m, edit_config(
        item("b", 2) + '<mode nc:operation="replace">slow</mode>'
        + item("a", 1, op="create") + item("c", 3),
        target=target, error_option="rollback-on-error"))
    assert_node_error(one_error(reply), "data-exists", PATH_A)
    assert config_of(m, target) == before
    assert stored_items(m, "running") == ["a"]


# ------------------------------------------------------------- default-operation
def test_default_operation_merge_keeps_what_the_edit_does_not_name(connect) -> None:
    m = seeded(connect, item("a", 1, extra="<small/><owner>x</owner>"))
    assert is_ok(call(m, edit_config("<item><name>a</name><tag>t</tag></item>",
                                     default_operation="merge")))
    stored = call(m, get_config())
    assert stored.xpath("//nt:item/nt:owner/text()", namespaces=X) == ["x"]
    assert stored.xpath("//nt:item/nt:tag/text()", namespaces=X) == ["t"]


def test_default_operation_replace_replaces_the_whole_datastore(connect) -> None:
    m = seeded(connect, item("a", 1), "<mode>slow</mode>")
    assert is_ok(call(m, edit_config(item("b", 2), default_operation="replace")))
    stored = call(m, get_config())
    assert stored.xpath("//nt:top/*/self::nt:item/nt:name/text()", namespaces=X) \
        == ["b"]
    assert stored.xpath("//nt:mode", namespaces=X) == []


@pytest.mark.parametrize(("body", "path"), [
    pytest.param(item("q", 4), "/nt:top/nt:item[nt:name='q']", id="missing-entry"),
    pytest.param("<item><name>a</name><owner>x</owner></item>", PATH_A + "/nt:owner",
                 id="missing-leaf-of-an-entry"),
])
def test_default_operation_none_does_not_create_missing_nodes(
    connect, body: str, path: str
) -> None:
    """RFC 6241 sec. 7.2: data with no level in the datastore is data-missing.

    That is, data without an operation attribute under default-operation none.
    """
    m = seeded(connect)
    before = config_of(m)
    reply = call(m, edit_config(body, default_operation="none"))
    assert_node_error(one_error(reply), "data-missing", path)
    assert config_of(m) == before


def test_default_operation_none_applies_only_explicit_operations(connect) -> None:
    m = seeded(connect, item("a", 1), item("b", 2))
    assert is_ok(call(m, edit_config(
        item("n", 5, op="merge") + item("a", 1, op="delete")
        + '<item><name>b</name><owner nc:operation="create">o</owner></item>',
        default_operation="none")))
    stored = call(m, get_config())
    assert stored.xpath("//nt:item/nt:name/text()", namespaces=X) == ["b", "n"]
    assert stored.xpath("//nt:item[nt:name='b']/nt:owner/text()", namespaces=X) \
        == ["o"]
    assert stored.xpath("//nt:item[nt:name='b']/nt:number/text()", namespaces=X) \
        == ["2"]


# --------------------------------------------------------- operation attribute
def test_merge_and_replace_of_an_existing_entry(connect) -> None:
    m = seeded(connect, item("a", 1, extra="<small/><owner>x</owner><tag>t1</tag>"))
    assert is_ok(call(m, edit_config(
        '<item nc:operation="merge"><name>a</name><tag>t2</tag></item>')))
    assert _leaves(m, "a") == {"number": ["1"], "owner": ["x"], "tag": ["t1", "t2"]}
    assert is_ok(call(m, edit_config(
        '<item nc:operation="replace"><name>a</name><number>7</number><big-size>3</big-size>'
        "</item>")))
    assert _leaves(m, "a") == {"number": ["7"], "owner": [], "tag": []}


def test_create_of_an_existing_leaf_is_data_exists(connect) -> None:
    m = seeded(connect, item("a", 1, extra="<small/><owner>x</owner>"))
    before = config_of(m)
    reply = call(m, edit_config(
        '<item><name>a</name><owner nc:operation="create">y</owner></item>'))
    assert_node_error(one_error(reply), "data-exists", PATH_A + "/nt:owner")
    assert config_of(m) == before


def test_delete_of_a_missing_leaf_is_data_missing_and_remove_is_not(connect) -> None:
    m = seeded(connect)
    before = config_of(m)
    reply = call(m, edit_config(
        '<item><name>a</name><owner nc:operation="delete"/></item>'))
    assert_node_error(one_error(reply), "data-missing", PATH_A + "/nt:owner")
    assert config_of(m) == before
    assert is_ok(call(m, edit_config(
        '<item><name>a</name><owner nc:operation="remove"/></item>'
        + item("zz", 9, op="remove"))))
    assert config_of(m) == before


def test_delete_and_remove_of_existing_nodes(connect) -> None:
    m = seeded(connect, item("a", 1, extra="<small/><owner>x</owner>"), item("b", 2))
    assert is_ok(call(m, edit_config(
        '<item><name>a</name><owner nc:operation="delete"/></item>'
        + item("b", 2, op="remove"))))
    assert stored_items(m) == ["a"]
    assert _leaves(m, "a")["owner"] == []


def test_operation_none_is_not_an_operation_attribute_value(connect) -> None:
    """``none`` is a default-operation value only (RFC 6241 sec. 7.2).

    bad-attribute, with the attribute and the element in error-info.
    """
    m = seeded(connect)
    reply = call(m, edit_config(item("a", 1, op="none")))
    error = one_error(reply)
    assert (error.type, error.tag) == ("protocol", "bad-attribute")
    assert error.path == PATH_A
    assert error.info == {"bad-attribute": "operation", "bad-element": "item"}


# ----------------------------------------------------------------- test-option
@pytest.mark.parametrize("target", ["running", "candidate"])
def test_test_only_reports_errors_and_changes_nothing(connect, target: str) -> None:
    m = seeded(connect)
    before = config_of(m, target)
    assert is_ok(call(m, edit_config(item("b", 2), target=target, test_option="test-only")))
    assert config_of(m, target) == before
    reply = call(m, edit_config(item("b", 1), target=target, test_option="test-only"))
    assert (one_error(reply).tag, one_error(reply).app_tag) == (
        "operation-failed", "data-not-unique")
    assert config_of(m, target) == before


@pytest.mark.parametrize("test_option", ["test-then-set", "set"])
def test_test_then_set_and_set_apply_a_valid_edit(connect, test_option: str) -> None:
    m = seeded(connect)
    assert is_ok(call(m, edit_config(item("b", 2), test_option=test_option)))
    assert stored_items(m) == ["a", "b"]


@pytest.mark.parametrize("test_option", ["test-then-set", "set"])
def test_running_refuses_an_invalid_edit_whatever_the_test_option(
    connect, test_option: str
) -> None:
    m = seeded(connect)
    before = config_of(m)
    reply = call(m, edit_config(item("b", 1), test_option=test_option))
    assert (one_error(reply).tag, one_error(reply).app_tag) == (
        "operation-failed", "data-not-unique")
    assert config_of(m) == before


def _leaves(m, name: str) -> dict[str, list[str]]:
    """number, owner and tag values of item ``name`` in running."""
    stored = call(m, get_config())
    entry = f"//nt:item[nt:name='{name}']"
    return {leaf: [str(v) for v in stored.xpath(f"{entry}/nt:{leaf}/text()",
                                                namespaces=X)]
            for leaf in ("number", "owner", "tag")}
