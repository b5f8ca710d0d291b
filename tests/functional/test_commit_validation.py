"""No operation makes running (or startup) invalid, whatever the candidate holds.

Candidate is validated as a whole before each change like every datastore, except
under ``test-option set``, which defers its validation to the commit (RFC 6241 sec.
8.3, RFC 7950 sec. 8.3.3). These tests store an invalid candidate that way and check
that commit, confirmed commit, copy-config and validate refuse it with the RFC 7950
sec. 15 error-tag and error-app-tag, over SSH under both framings, and that running,
startup and candidate are byte for byte what they were. The next test-then-set edit
validates the whole candidate again, so it too is refused until the candidate is
repaired.
"""

from __future__ import annotations

import pytest

from tests.functional.replies import (
    NC,
    call,
    config_of,
    edit_config,
    is_ok,
    one_error,
    wire_errors,
)
from tests.functional.test_protocol import item

SEED = item("a", 1, extra="<small/><owner>x</owner>")

# What makes the candidate invalid, and the error-tag and error-app-tag it must get.
INVALID = [
    pytest.param(item("c", 3, extra=""), "data-missing", "missing-choice",
                 id="mandatory-choice"),
    pytest.param(item("b", 1), "operation-failed", "data-not-unique", id="unique"),
    pytest.param("<ref><id>2</id><item>zz</item></ref>", "data-missing", "instance-required",
                 id="leafref"),
    pytest.param("<ref><id>1</id><item>a</item><owner>y</owner></ref>", "operation-failed",
                 "owner-mismatch", id="must"),
]

REFUSED = [
    pytest.param(f'<commit xmlns="{NC}"/>', id="commit"),
    pytest.param(f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>60</confirm-timeout>'
                 "</commit>", id="confirmed-commit"),
    pytest.param(f'<copy-config xmlns="{NC}"><target><running/></target>'
                 "<source><candidate/></source></copy-config>", id="copy-to-running"),
    pytest.param(f'<copy-config xmlns="{NC}"><target><startup/></target>'
                 "<source><candidate/></source></copy-config>", id="copy-to-startup"),
    pytest.param(f'<validate xmlns="{NC}"><source><candidate/></source></validate>',
                 id="validate"),
]


def every_datastore(m) -> dict[str, bytes]:
    return {name: config_of(m, name) for name in ("running", "candidate", "startup")}


@pytest.mark.parametrize(("content", "tag", "app_tag"), INVALID)
@pytest.mark.parametrize("operation", REFUSED)
def test_invalid_candidate_is_refused_and_nothing_changes(
    connect, operation: str, content: str, tag: str, app_tag: str
) -> None:
    m = connect()
    assert is_ok(call(m, edit_config(SEED)))
    assert is_ok(call(m, f'<copy-config xmlns="{NC}"><target><startup/></target>'
                         "<source><running/></source></copy-config>"))
    assert is_ok(call(m, edit_config(content, target="candidate", test_option="set")))
    before = every_datastore(m)
    assert before["candidate"] != before["running"]
    error = one_error(call(m, operation))
    assert (error.type, error.tag, error.app_tag) == ("application", tag, app_tag)
    assert error.path
    assert every_datastore(m) == before


def test_refused_confirmed_commit_arms_no_rollback(connect) -> None:
    m = connect()
    assert is_ok(call(m, edit_config(item("c", 3, extra=""), target="candidate",
                                     test_option="set")))
    assert wire_errors(call(m, f'<commit xmlns="{NC}"><confirmed/></commit>'))
    error = one_error(call(m, f'<cancel-commit xmlns="{NC}"/>'))
    assert error.tag == "operation-failed"
    assert "no confirmed commit" in error.message.lower()


def test_a_valid_edit_on_top_of_an_invalid_candidate_is_refused_until_repaired(
    connect,
) -> None:
    """test-then-set validates the whole candidate: what was left invalid must be fixed."""
    m = connect()
    assert is_ok(call(m, edit_config(item("c", 3, extra=""), target="candidate",
                                     test_option="set")))
    before = config_of(m, "candidate")
    error = one_error(call(m, edit_config(item("d", 4), target="candidate")))
    assert (error.tag, error.app_tag) == ("data-missing", "missing-choice")
    assert config_of(m, "candidate") == before
    assert is_ok(call(m, edit_config(
        '<item><name>c</name><small/></item>', target="candidate")))
    assert is_ok(call(m, f'<commit xmlns="{NC}"/>'))
    assert config_of(m, "running") == config_of(m, "candidate")
