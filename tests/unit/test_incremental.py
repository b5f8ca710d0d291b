"""Incremental validation reaches full libyang validation's verdict (RFC 7950 sec. 8, 15).

Every check compares :meth:`IncrementalValidator.validate_changes` with
``Validator.validate`` on the same edited tree: same verdict and, for an invalid tree, the
same error-tag, error-app-tag, data path and message. Edits are made with the real edit
engine (``apply_edit``) on trees of the test modules ``nvo3-test`` and
``nvo3-test-constraints``.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from nvo3_netconf.constants import ErrorTag
from nvo3_netconf.datastore.changes import Change
from nvo3_netconf.datastore.edit import apply_edit
from nvo3_netconf.datastore.undo import UndoJournal
from nvo3_netconf.errors import DataMissingError, RPCError, RPCErrors
from nvo3_netconf.schema import SchemaTree, SchemaValidationError, Validator, YangContext
from nvo3_netconf.schema.incremental import IncrementalValidator, InstanceCache
from tests.conftest import ROOT, STANDARD_DIR, YANG_DIR

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
C = "urn:nvo3-netconf:yang:nvo3-test-constraints"
T = "urn:nvo3-netconf:yang:nvo3-test"
NCOP = f'xmlns:nc="{NC}"'

Verdict = tuple[str, str | None, str | None, str, str | None, tuple[tuple[str, str], ...],
                tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]] | None
"""error-tag, app-tag, libyang data path, message, error-path, its namespaces, error-info."""


@pytest.fixture(scope="module")
def schema(test_context: YangContext) -> SchemaTree:
    return SchemaTree(test_context)


@pytest.fixture(scope="module")
def incremental(test_context: YangContext, schema: SchemaTree) -> IncrementalValidator:
    return IncrementalValidator(test_context, schema)


@pytest.fixture(scope="module")
def full(test_context: YangContext) -> Validator:
    return Validator(test_context)


def empty() -> etree._Element:
    return etree.Element(f"{{{NC}}}data", nsmap={None: NC})


def config(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}">{body}</config>')


def verdict_of(error: SchemaValidationError) -> Verdict:
    issue = error.issues[0]
    assert issue.error_tag is not None
    info = tuple((i.name, i.text, tuple(sorted(i.namespaces.items()))) for i in issue.info)
    return (issue.error_tag.value, issue.app_tag, issue.path, issue.message, issue.error_path,
            tuple(sorted(issue.path_namespaces)), info)


def full_verdict(full: Validator, tree: etree._Element) -> Verdict:
    try:
        full.validate(b"".join(etree.tostring(child) for child in tree))
    except SchemaValidationError as error:
        return verdict_of(error)
    return None


def incremental_verdict(validator: IncrementalValidator, tree: etree._Element,
                        changes: list[Change], cache: InstanceCache | None = None) -> Verdict:
    try:
        validator.validate_changes(tree, changes, cache=cache)
    except SchemaValidationError as error:
        return verdict_of(error)
    return None


class Session:
    """A datastore tree edited with the real engine; each edit validated both ways."""

    def __init__(self, schema: SchemaTree, incremental: IncrementalValidator,
                 full: Validator) -> None:
        self.schema, self.incremental, self.full = schema, incremental, full
        self.tree = empty()

    def setup(self, *bodies: str) -> Session:
        for body in bodies:
            assert self.edit(body) is None, body
        return self

    def edit(self, body: str) -> Verdict:
        """Apply ``body`` to a copy; keep it when valid; return the (common) verdict."""
        work = copy.deepcopy(self.tree)
        changes = apply_edit(work, config(body), self.schema)
        expected = full_verdict(self.full, work)
        assert incremental_verdict(self.incremental, work, changes) == expected
        if expected is None:
            self.tree = work
        return expected


@pytest.fixture
def session(schema: SchemaTree, incremental: IncrementalValidator, full: Validator) -> Session:
    return Session(schema, incremental, full)


def tenant(name: str, inner: str = "") -> str:
    return f'<tenant xmlns="{C}"><name>{name}</name>{inner}</tenant>'


POOL = (f'<pool xmlns="{C}"><low>1</low><high>5</high><reserved>2</reserved><random/>'
        "<owner><name>o</name></owner></pool>")
ITEM = (f'<top xmlns="{T}"><item><name>i1</name><number>1</number><owner>t1</owner><small/>'
        "</item></top>")

# (id, setup edits, edit, error-tag, error-app-tag, data path) — None tag: valid.
CASES: list[tuple[str, tuple[str, ...], str, ErrorTag | None, str | None, str | None]] = [
    ("type-range", (), tenant("a", "<vlan>0</vlan>"), ErrorTag.INVALID_VALUE, None,
     "/nvo3-test-constraints:tenant[name='a']/vlan"),
    ("type-identity", (), tenant("a", f"<color xmlns:c='{C}'>c:purple</color>"),
     ErrorTag.INVALID_VALUE, None, "/nvo3-test-constraints:tenant[name='a']/color"),
    ("type-key", (), f'<reservations xmlns="{C}"><slot><tenant>a</tenant><index>300</index>'
     "</slot></reservations>", ErrorTag.INVALID_VALUE, None, None),
    ("must-model-app-tag-default-leaf", (), f'<limits xmlns="{C}"><aging>5</aging></limits>',
     ErrorTag.OPERATION_FAILED, "aging-too-short", "/nvo3-test-constraints:limits/aging"),
    ("must-default-wording", (), POOL.replace("<high>5</high>", "<high>0</high>"),
     ErrorTag.OPERATION_FAILED, "must-violation", "/nvo3-test-constraints:pool/high"),
    ("must-dependency-changed", (f'<limits xmlns="{C}"><aging>20</aging></limits>',),
     f'<limits xmlns="{C}"><keep-alive>30</keep-alive></limits>', ErrorTag.OPERATION_FAILED,
     "aging-too-short", "/nvo3-test-constraints:limits/aging"),
    ("must-implicit-container", (), f'<limits xmlns="{C}"><strict>true</strict></limits>',
     ErrorTag.OPERATION_FAILED, "strict-needs-tenants",
     "/nvo3-test-constraints:limits/counters"),
    ("must-on-default-leaf", (f'<limits xmlns="{C}"><strict>true</strict><counters>'
                              "<max-tenants>5</max-tenants></counters></limits>",),
     f'<limits xmlns="{C}"><keep-alive>70</keep-alive></limits>', ErrorTag.OPERATION_FAILED,
     "keep-alive-too-long", "/nvo3-test-constraints:limits/keep-alive"),
    ("must-deref", (tenant("a", "<vlan>5</vlan>"),), tenant("b", "<vlan>5</vlan><parent>a"
     "</parent>"), ErrorTag.OPERATION_FAILED, "data-not-unique", None),
    ("must-deref-own", (tenant("a", "<vlan>5</vlan>"), tenant("b", "<vlan>6</vlan>")),
     tenant("b", "<parent>a</parent>"), None, None, None),
    ("must-enum-value", (), tenant("a", "<level>12</level>"), ErrorTag.OPERATION_FAILED,
     "level-too-high", "/nvo3-test-constraints:tenant[name='a']/level"),
    ("must-enum-value-ok", (), tenant("a", "<size>large</size><level>12</level>"), None,
     None, None),
    ("must-re-match", (), tenant("a", "<code>AB</code>"), ErrorTag.OPERATION_FAILED,
     "bad-code", "/nvo3-test-constraints:tenant[name='a']/code"),
    ("must-keyed-lookup", (ITEM,), f'<top xmlns="{T}"><ref><id>1</id><item>i1</item>'
     "<owner>t2</owner></ref></top>", ErrorTag.OPERATION_FAILED, "owner-mismatch",
     "/nvo3-test:top/ref[id='1']/owner"),
    ("must-remote-dependency", (ITEM, f'<top xmlns="{T}"><ref><id>1</id><item>i1</item>'
                                "<owner>t1</owner></ref></top>"),
     f'<top xmlns="{T}"><item><name>i1</name><owner>t9</owner></item></top>',
     ErrorTag.OPERATION_FAILED, "owner-mismatch", "/nvo3-test:top/ref[id='1']/owner"),
    ("must-default-in-default-case", (), f'<transport xmlns="{C}"><check-port>4789'
     "</check-port></transport>", ErrorTag.OPERATION_FAILED, "port-clash",
     "/nvo3-test-constraints:transport/check-port"),
    ("when-created", (), tenant("a", "<quota>1</quota>"), ErrorTag.OPERATION_FAILED, None,
     "/nvo3-test-constraints:tenant[name='a']/quota"),
    ("when-dependency-deleted", (tenant("a", "<size>large</size><quota>1</quota>"),),
     tenant("a", f'<size {NCOP} nc:operation="delete"/>'), ErrorTag.OPERATION_FAILED, None,
     "/nvo3-test-constraints:tenant[name='a']/quota"),
    ("when-derived-from", (), tenant("a", f"<color xmlns:c='{C}'>c:blue</color><shade>1"
     "</shade>"), ErrorTag.OPERATION_FAILED, None,
     "/nvo3-test-constraints:tenant[name='a']/shade"),
    ("when-derived-from-ok", (), tenant("a", f"<color xmlns:c='{C}'>c:dark-red</color>"
     "<shade>1</shade>"), None, None, None),
    ("when-bit-is-set", (), tenant("a", "<flags>urgent</flags><auditor>x</auditor>"),
     ErrorTag.OPERATION_FAILED, None, "/nvo3-test-constraints:tenant[name='a']/auditor"),
    ("when-augment", (), f'<top xmlns="{T}"><slow-factor xmlns="{C}">2</slow-factor></top>',
     ErrorTag.OPERATION_FAILED, None, "/nvo3-test:top/nvo3-test-constraints:slow-factor"),
    ("when-augment-dependency", (f'<top xmlns="{T}"><mode>slow</mode><slow-factor '
                                 f'xmlns="{C}">2</slow-factor></top>',),
     f'<top xmlns="{T}"><mode>fast</mode></top>', ErrorTag.OPERATION_FAILED, None,
     "/nvo3-test:top/nvo3-test-constraints:slow-factor"),
    ("when-case", (), f'<transport xmlns="{C}"><tcp-port>1</tcp-port></transport>',
     ErrorTag.OPERATION_FAILED, None, "/nvo3-test-constraints:transport/tcp-port"),
    ("when-uses", (POOL,), f'<pool xmlns="{C}"><address>a</address></pool>',
     ErrorTag.OPERATION_FAILED, None, "/nvo3-test-constraints:pool/address"),
    ("leafref-created", (), f'<reservations xmlns="{C}"><slot><tenant>zz</tenant><index>1'
     "</index></slot></reservations>", ErrorTag.DATA_MISSING, "instance-required",
     "/nvo3-test-constraints:reservations/slot[tenant='zz'][index='1']/tenant"),
    ("leafref-target-deleted", (tenant("a"), f'<reservations xmlns="{C}"><slot><tenant>a'
                                "</tenant><index>1</index></slot></reservations>"),
     f'<tenant xmlns="{C}" {NCOP} nc:operation="delete"><name>a</name></tenant>',
     ErrorTag.DATA_MISSING, "instance-required",
     "/nvo3-test-constraints:reservations/slot[tenant='a'][index='1']/tenant"),
    ("leafref-target-replaced", (tenant("a", "<vlan>5</vlan>"), f'<reservations xmlns="{C}">'
                                 "<slot><tenant>a</tenant><index>1</index><vlan>5</vlan>"
                                 "</slot></reservations>"),
     tenant("a", "<vlan>6</vlan>"), ErrorTag.DATA_MISSING, "instance-required",
     "/nvo3-test-constraints:reservations/slot[tenant='a'][index='1']/vlan"),
    ("leafref-canonical-value", (tenant("a", "<vlan>5</vlan>"),), f'<reservations xmlns="{C}">'
     "<slot><tenant>a</tenant><index>1</index><vlan>05</vlan></slot></reservations>", None,
     None, None),
    ("leafref-no-require-instance", (), f'<reservations xmlns="{C}"><slot><tenant>zz'
     "</tenant><index>1</index><loose>x</loose></slot></reservations>",
     ErrorTag.DATA_MISSING, "instance-required", None),
    ("leafref-relative", (), tenant("a", "<vlan>5</vlan><member><id>1</id><vlan>6</vlan>"
     "</member>"), ErrorTag.DATA_MISSING, "instance-required",
     "/nvo3-test-constraints:tenant[name='a']/member[id='1']/vlan"),
    ("leafref-cross-module", (), tenant("a", "<item>nope</item>"), ErrorTag.DATA_MISSING,
     "instance-required", "/nvo3-test-constraints:tenant[name='a']/item"),
    ("instance-identifier-missing", (tenant("a"),), f'<reservations xmlns="{C}" '
     f"xmlns:c='{C}'><slot><tenant>a</tenant><index>1</index><pointer>/c:tenant[c:name='b']"
     "</pointer></slot></reservations>", ErrorTag.DATA_MISSING, "instance-required",
     "/nvo3-test-constraints:reservations/slot[tenant='a'][index='1']/pointer"),
    ("instance-identifier-target-deleted", (tenant("a"), tenant("b"), f'<reservations '
                                            f"xmlns='{C}' xmlns:c='{C}'><slot><tenant>a"
                                            "</tenant><index>1</index><pointer>/c:tenant"
                                            "[c:name='b']</pointer></slot></reservations>"),
     f'<tenant xmlns="{C}" {NCOP} nc:operation="delete"><name>b</name></tenant>',
     ErrorTag.DATA_MISSING, "instance-required", None),
    ("unique-two-entries", (tenant("a", "<vlan>5</vlan>"),), tenant("b", "<vlan>5</vlan>"),
     ErrorTag.OPERATION_FAILED, "data-not-unique", "/nvo3-test-constraints:tenant[name='b']"),
    ("unique-three-entries", (tenant("a", "<vlan>5</vlan>"), tenant("b", "<vlan>6</vlan>")),
     tenant("c", "<vlan>5</vlan>"), ErrorTag.OPERATION_FAILED, "data-not-unique",
     "/nvo3-test-constraints:tenant[name='a']"),
    ("unique-replaced-value", (tenant("a", "<vlan>5</vlan>"), tenant("b", "<vlan>6</vlan>")),
     tenant("b", "<vlan>5</vlan>"), ErrorTag.OPERATION_FAILED, "data-not-unique", None),
    ("unique-descendants", (tenant("a", "<site><region>r</region><zone>z</zone></site>"),),
     tenant("b", "<site><region>r</region><zone>z</zone></site>"), ErrorTag.OPERATION_FAILED,
     "data-not-unique", None),
    ("unique-incomplete", (tenant("a", "<site><region>r</region></site>"),),
     tenant("b", "<site><region>r</region></site>"), None, None, None),
    ("max-elements-list", tuple(tenant(f"t{i}") for i in range(6)), tenant("t6"),
     ErrorTag.OPERATION_FAILED, "too-many-elements", "/nvo3-test-constraints:tenant[name='t6']"),
    ("max-elements-nested", (), tenant("a", "".join(f"<member><id>{i}</id></member>"
                                                    for i in range(4))),
     ErrorTag.OPERATION_FAILED, "too-many-elements",
     "/nvo3-test-constraints:tenant[name='a']/member[id='3']"),
    ("max-elements-leaf-list", (POOL,), f'<pool xmlns="{C}"><reserved>3</reserved><reserved>4'
     "</reserved><reserved>5</reserved></pool>", ErrorTag.OPERATION_FAILED,
     "too-many-elements", "/nvo3-test-constraints:pool/reserved[.='5']"),
    ("min-elements-deleted", (POOL,), f'<pool xmlns="{C}"><reserved {NCOP} '
     'nc:operation="delete">2</reserved></pool>', ErrorTag.OPERATION_FAILED,
     "too-few-elements", "/nvo3-test-constraints:pool/reserved"),
    ("mandatory-created", (), POOL.replace("<low>1</low>", ""), ErrorTag.OPERATION_FAILED,
     "must-violation", "/nvo3-test-constraints:pool/high"),
    ("mandatory-deleted", (POOL,), f'<pool xmlns="{C}"><owner><name {NCOP} '
     'nc:operation="delete"/></owner></pool>', ErrorTag.DATA_MISSING, None, None),
    ("mandatory-in-container", (), POOL.replace("<owner><name>o</name></owner>", ""),
     ErrorTag.DATA_MISSING, None, None),
    ("mandatory-choice-created", (), POOL.replace("<random/>", ""), ErrorTag.DATA_MISSING,
     "missing-choice", "/nvo3-test-constraints:pool"),
    ("mandatory-choice-deleted", (POOL,), f'<pool xmlns="{C}"><random {NCOP} '
     'nc:operation="delete"/></pool>', ErrorTag.DATA_MISSING, "missing-choice",
     "/nvo3-test-constraints:pool"),
    ("mandatory-top-level-when", (), f'<strict-mode xmlns="{C}">true</strict-mode>',
     ErrorTag.DATA_MISSING, None, None),
    ("mandatory-top-level-deleted", (f'<strict-mode xmlns="{C}">true</strict-mode>'
                                     f'<operator xmlns="{C}">me</operator>',),
     f'<operator xmlns="{C}" {NCOP} nc:operation="delete"/>', ErrorTag.DATA_MISSING, None,
     None),
    ("first-of-two-whens", (), tenant("a", "<quota>1</quota><auditor>x</auditor>"),
     ErrorTag.OPERATION_FAILED, None, "/nvo3-test-constraints:tenant[name='a']/auditor"),
    ("type-before-when", (), tenant("a", "<quota>1</quota><vlan>0</vlan>"),
     ErrorTag.INVALID_VALUE, None, "/nvo3-test-constraints:tenant[name='a']/vlan"),
    ("leafref-before-must", (tenant("a", "<vlan>5</vlan>"),), f'<limits xmlns="{C}"><aging>5'
     f'</aging></limits><reservations xmlns="{C}"><slot><tenant>a</tenant><index>1</index>'
     "<vlan>6</vlan></slot></reservations>", ErrorTag.DATA_MISSING, "instance-required", None),
    ("valid-pool", (), POOL, None, None, None),
    ("valid-bulk", (), f'<bulk xmlns="{T}"><entry><id>1</id><value>x</value></entry></bulk>',
     None, None, None),
]


@pytest.mark.parametrize(("setup", "body", "tag", "app_tag", "path"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_verdict_matches_full_validation(
    session: Session, setup: tuple[str, ...], body: str, tag: ErrorTag | None,
    app_tag: str | None, path: str | None,
) -> None:
    verdict = session.setup(*setup).edit(body)
    if tag is None:
        assert verdict is None
        return
    assert verdict is not None
    assert verdict[0] == tag.value
    assert verdict[1] == app_tag
    if path is not None:
        assert verdict[2] == path


def test_issue_converts_to_the_same_rpc_error(
    schema: SchemaTree, incremental: IncrementalValidator
) -> None:
    tree = empty()
    changes = apply_edit(tree, config(f'<reservations xmlns="{C}"><slot><tenant>zz</tenant>'
                                      "<index>1</index></slot></reservations>"), schema)
    with pytest.raises(SchemaValidationError) as info:
        incremental.validate_changes(tree, changes)
    error = info.value.to_rpc_error()
    assert isinstance(error, DataMissingError)
    assert error.app_tag == "instance-required"
    assert error.path == "/ntc:reservations/ntc:slot[ntc:tenant='zz'][ntc:index='1']/ntc:tenant"
    assert error.path_namespaces == {"ntc": C}


def test_no_changes_is_valid(incremental: IncrementalValidator) -> None:
    incremental.validate_changes(empty(), [])


def test_broad_edit_falls_back_to_full_validation(
    test_context: YangContext, schema: SchemaTree, full: Validator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    narrow = IncrementalValidator(test_context, schema, max_changes=1)
    tree = empty()
    changes = apply_edit(tree, config(tenant("a", "<vlan>0</vlan>") + tenant("b")), schema)
    with caplog.at_level(logging.DEBUG, logger="nvo3_netconf.schema.incremental"):
        assert incremental_verdict(narrow, tree, changes) == full_verdict(full, tree)
    assert "validating in full" in caplog.text


def test_cache_is_restored_when_an_edit_is_refused(
    schema: SchemaTree, incremental: IncrementalValidator,
) -> None:
    tree, cache = empty(), InstanceCache()
    for body in (tenant("a", "<vlan>5</vlan>"), tenant("b", "<vlan>6</vlan>")):
        incremental.validate_changes(tree, apply_edit(tree, config(body), schema), cache=cache)
    journal = UndoJournal()
    changes = apply_edit(tree, config(tenant("c", "<vlan>5</vlan>")), schema, journal=journal)
    with pytest.raises(SchemaValidationError):
        incremental.validate_changes(tree, changes, cache=cache)
    journal.rollback()
    changes = apply_edit(tree, config(tenant("c", "<vlan>7</vlan>")), schema)
    incremental.validate_changes(tree, changes, cache=cache)
    changes = apply_edit(tree, config(f'<reservations xmlns="{C}"><slot><tenant>c</tenant>'
                                      "<index>1</index><vlan>7</vlan></slot></reservations>"),
                         schema)
    incremental.validate_changes(tree, changes, cache=cache)


# ------------------------------------------------------------------ property test
NAMES = ("a", "b", "c")


def random_edit(r: random.Random) -> str:  # noqa: C901 - a table of edit shapes
    """One small edit of the test modules, valid or not."""
    name = r.choice(NAMES)
    remove = f'{NCOP} nc:operation="remove"'
    kind = r.randrange(16)
    if kind == 0:
        parts = []
        if r.random() < .6:
            parts.append(f"<vlan>{r.choice(['0', '1', '2', '02'])}</vlan>")
        if r.random() < .3:
            parts.append(f"<site><region>{r.choice('rs')}</region><zone>z</zone></site>")
        if r.random() < .3:
            parts.append(f"<color xmlns:c='{C}'>c:{r.choice(['red', 'blue', 'purple'])}</color>")
        for leaf, values in (("shade", "12"), ("size", ["small", "large"]), ("quota", "1"),
                             ("level", ["1", "12"]), ("code", ["abc", "AB"]),
                             ("parent", [*NAMES, "zz"]), ("item", ["i1", "zz"])):
            if r.random() < .2:
                parts.append(f"<{leaf}>{r.choice(values)}</{leaf}>")
        if r.random() < .3:
            parts.append("".join(f"<member><id>{i}</id><vlan>{r.choice('12')}</vlan></member>"
                                 for i in r.sample(range(5), r.randrange(1, 5))))
        return tenant(name, "".join(parts))
    if kind == 1:
        return f'<tenant xmlns="{C}" {remove}><name>{name}</name></tenant>'
    if kind == 2:
        leaf = r.choice(["vlan", "size", "color", "site", "parent"])
        return tenant(name, f"<{leaf} {remove}/>")
    if kind == 3:
        extra = f"<vlan>{r.choice('12')}</vlan>" if r.random() < .5 else ""
        if r.random() < .3:
            extra += f"<pointer xmlns:c='{C}'>/c:tenant[c:name='{r.choice(NAMES)}']</pointer>"
        if r.random() < .3:
            extra += "".join(f"<tag>{t}</tag>" for t in r.sample("xyz", r.randrange(1, 4)))
        return (f'<reservations xmlns="{C}"><slot><tenant>{r.choice([*NAMES, "zz"])}</tenant>'
                f"<index>{r.randrange(2)}</index>{extra}</slot></reservations>")
    if kind == 4:
        return (f'<reservations xmlns="{C}"><slot {remove}><tenant>{name}</tenant><index>'
                f"{r.randrange(2)}</index></slot></reservations>")
    if kind == 5:
        leaf, values = r.choice([("keep-alive", "5 30 70"), ("aging", "0 5 20"),
                                 ("strict", "true false")])
        return f'<limits xmlns="{C}"><{leaf}>{r.choice(values.split())}</{leaf}></limits>'
    if kind == 6:
        leaf = r.choice(["keep-alive", "aging", "strict"])
        return f'<limits xmlns="{C}"><{leaf} {remove}/></limits>'
    if kind == 7:
        body = POOL
        for part in ("<low>1</low>", "<random/>", "<owner><name>o</name></owner>"):
            if r.random() < .2:
                body = body.replace(part, "")
        return body.replace("<reserved>2</reserved>", "".join(
            f"<reserved>{v}</reserved>" for v in r.sample([2, 3, 4, 9], r.randrange(0, 4))))
    if kind == 8:
        what = r.choice(["low", "random", "owner", "reserved"])
        value = "2" if what == "reserved" else ""
        return f'<pool xmlns="{C}"><{what} {remove}>{value}</{what}></pool>'
    if kind == 9:
        what = r.choice(["check-port", "tcp-port", "udp-port"])
        return f'<transport xmlns="{C}"><{what}>{r.choice(["4789", "1"])}</{what}></transport>'
    if kind == 10:
        return f'<strict-mode xmlns="{C}">{r.choice(["true", "false"])}</strict-mode>'
    if kind == 11:
        return f'<operator xmlns="{C}" {r.choice([remove, ""])}>me</operator>'
    if kind == 12:
        parts = f"<name>{r.choice(['i1', 'i2'])}</name><number>{r.choice('120')}</number>"
        parts += f"<owner>{r.choice(['t1', 't2'])}</owner>" if r.random() < .5 else ""
        parts += r.choice(["<small/>", "<big-size>3</big-size>", ""])
        return f'<top xmlns="{T}"><item>{parts}</item></top>'
    if kind == 13:
        return f'<top xmlns="{T}"><item {remove}><name>{r.choice(["i1", "i2"])}</name></item></top>'
    if kind == 14:
        owner = f"<owner>{r.choice(['t1', 't2'])}</owner>" if r.random() < .6 else ""
        return (f'<top xmlns="{T}"><ref><id>{r.randrange(2)}</id><item>'
                f"{r.choice(['i1', 'i2', 'zz'])}</item>{owner}</ref></top>")
    return (f'<top xmlns="{T}"><mode>{r.choice(["fast", "slow"])}</mode>'
            + (f'<slow-factor xmlns="{C}">2</slow-factor>' if r.random() < .5 else "") + "</top>")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds=st.lists(st.integers(min_value=0, max_value=2**32), min_size=5, max_size=40))
def test_random_edit_sequences_match_full_validation(
    seeds: list[int], schema: SchemaTree, incremental: IncrementalValidator, full: Validator,
) -> None:
    """Edits applied in place with a persistent cache; refused ones rolled back."""
    tree, cache, indexes = empty(), InstanceCache(), {}  # type: ignore[var-annotated]
    for seed in seeds:
        body = random_edit(random.Random(seed))
        journal = UndoJournal()
        try:
            changes = apply_edit(tree, config(body), schema, journal=journal, indexes=indexes)
        except (RPCError, RPCErrors):
            journal.rollback()
            indexes = {}
            continue
        got = incremental_verdict(incremental, tree, changes, cache)
        expected = full_verdict(full, tree)
        assert got == expected, body
        if expected is not None:
            journal.rollback()
            indexes = {}
            if full_verdict(full, tree) is not None:
                # lxml drops a re-inserted leaf's prefix declaration when it is redundant
                # with an ancestor's, which breaks identityref values: start afresh.
                tree, cache = empty(), InstanceCache()


# ------------------------------------------------------------------------ scale
def hosts(count: int) -> etree._Element:
    tree = empty()
    inventory = etree.SubElement(tree, f"{{{C}}}inventory", nsmap={None: C})
    for i in range(count):
        host = etree.SubElement(inventory, f"{{{C}}}host")
        etree.SubElement(host, f"{{{C}}}name").text = f"h{i}"
        etree.SubElement(host, f"{{{C}}}address").text = f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"
        etree.SubElement(host, f"{{{C}}}tenant").text = f"t{i % 7}"
    return tree


def binding(index: int, host: int) -> etree._Element:
    return config(f'<inventory xmlns="{C}"><binding><id>{index}</id><host>h{host}</host>'
                  f"<tenant>t{host % 7}</tenant></binding></inventory>")


@pytest.mark.slow
def test_single_entry_edit_cost_follows_the_change(
    schema: SchemaTree, incremental: IncrementalValidator, full: Validator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """100,000 hosts vs one: create one binding (a leafref and a keyed must) per edit.

    Prints the median ``validate_changes`` time with a cache kept across edits, the first
    call (it builds the indexes), a call without cache, and full libyang validation.
    No timing is asserted; both verdicts must agree (valid).
    """
    figures = {}
    for count in (1, 100_000):
        tree, cache, indexes = hosts(count), InstanceCache(), {}  # type: ignore[var-annotated]
        changes = apply_edit(tree, binding(0, count - 1), schema, indexes=indexes)
        start = time.perf_counter()
        incremental.validate_changes(tree, changes, cache=cache)
        first = time.perf_counter() - start
        start = time.perf_counter()
        incremental.validate_changes(tree, changes)
        uncached = time.perf_counter() - start
        times = []
        for index in range(1, 21):
            changes = apply_edit(tree, binding(index, count - 1), schema, indexes=indexes)
            start = time.perf_counter()
            assert incremental_verdict(incremental, tree, changes, cache) is None
            times.append(time.perf_counter() - start)
        host_times = []  # a new host: its unique address checked against all the others
        for index in range(20):
            changes = apply_edit(tree, config(
                f'<inventory xmlns="{C}"><host><name>new{index}</name><address>192.0.2.'
                f"{index}</address><tenant>t0</tenant></host></inventory>"), schema,
                indexes=indexes)
            start = time.perf_counter()
            assert incremental_verdict(incremental, tree, changes, cache) is None
            host_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert full_verdict(full, tree) is None
        figures[count] = (sorted(times)[len(times) // 2], sorted(host_times)[10], first,
                          uncached, time.perf_counter() - start)
    with capsys.disabled():
        for count, (warm, host, first, uncached, whole) in figures.items():
            print(f"\n{count:>7} hosts: validate_changes binding {warm * 1e3:.3f} ms, host "
                  f"{host * 1e3:.3f} ms with a kept cache (first call {first * 1e3:.1f} ms, "
                  f"without cache {uncached * 1e3:.1f} ms); full validation "
                  f"{whole * 1e3:.1f} ms")


# ------------------------------------------------------------------ real modules
@pytest.fixture(scope="module")
def nve_context() -> Iterator[YangContext]:
    with YangContext.load([YANG_DIR, STANDARD_DIR]) as context:
        yield context


def test_every_must_and_when_of_the_real_modules_translates(nve_context: YangContext) -> None:
    validator = IncrementalValidator(nve_context, SchemaTree(nve_context))
    rules = validator.rules
    assert rules.unsupported == []
    expressions = [t for t in rules.all_translations()]
    assert len(expressions) >= 20
    musts = sum(len(m) for m in rules.musts.values())
    whens = sum(len(w) for w in rules.whens.values())
    assert musts >= 10 and whens >= 3
    # Every expression's inputs are known: changes trigger only what depends on them.
    assert all(t.dependencies is not None for t in expressions)


NVE_FULL = ROOT / "examples" / "data" / "nve-full.xml"


def nve_full_config() -> etree._Element:
    text = NVE_FULL.read_bytes().split(b"-->", 1)[-1]
    return etree.fromstring(f'<config xmlns="{NC}">'.encode() + text + b"</config>",
                            etree.XMLParser(remove_blank_text=True))


VN = "urn:nvo3-netconf:yang:nvo3-vn"
ACL = "urn:ietf:params:xml:ns:yang:ietf-access-control-list"
NVE_EDITS = [
    # (edit of the full example, expected to be valid)
    ('<nve xmlns="urn:nvo3-netconf:yang:nvo3-nve"><vm-aging><aging-time>30</aging-time>'
     "</vm-aging></nve>", False),
    ('<nve xmlns="urn:nvo3-netconf:yang:nvo3-nve"><vm-aging><aging-time>3000</aging-time>'
     "</vm-aging></nve>", True),
    # min-elements of a leaf-list in a case: not enforced once the case is empty
    (f'<vn-instances xmlns="{VN}"><vn-instance><name>bob-backup</name><flood-list {NCOP} '
     'nc:operation="delete">198.51.100.7</flood-list></vn-instance></vn-instances>', True),
    # a mandatory leaf in a case (RFC 8519 port range or operator): no error-path
    (f'<acls xmlns="{ACL}"><acl><name>alice-web-in</name><aces><ace><name>allow-http</name>'
     f'<matches><tcp><destination-port><port {NCOP} nc:operation="delete"/>'
     "</destination-port></tcp></matches></ace></aces></acl></acls>", False),
    # a VN still referred to by VM profiles
    (f'<vn-instances xmlns="{VN}"><vn-instance {NCOP} nc:operation="delete"><name>'
     "bob-backup</name></vn-instance></vn-instances>", False),
]


@pytest.mark.skipif(not NVE_FULL.exists(), reason="examples/data/nve-full.xml not present")
def test_full_nve_example_both_ways(nve_context: YangContext) -> None:
    schema = SchemaTree(nve_context)
    validator = IncrementalValidator(nve_context, schema)
    reference = Validator(nve_context)
    tree = empty()
    changes = apply_edit(tree, nve_full_config(), schema)
    assert full_verdict(reference, tree) is None
    assert incremental_verdict(validator, tree, changes) is None
    for body, valid in NVE_EDITS:
        work = copy.deepcopy(tree)
        changes = apply_edit(work, config(body), schema)
        expected = full_verdict(reference, work)
        assert (expected is None) == valid
        assert incremental_verdict(validator, work, changes) == expected


def test_test_modules_are_clean(test_context: YangContext) -> None:
    validator = IncrementalValidator(test_context, SchemaTree(test_context))
    assert validator.rules.unsupported == []
    assert Path(ROOT / "tests" / "yang" / "modules").is_dir()


@pytest.mark.parametrize(("path", "text", "valid"), [
    (("top", "item", "number"), "7", True),
    (("top", "item", "number"), "0", False),  # range 1..16777215
    (("top", "item", "number"), "seven", False),
    (("top", "item", "name"), "x" * 32, True),
    (("top", "item", "name"), "x" * 33, False),  # length 1..32
    (("top", "mode"), "fast", True),
    (("top", "mode"), "quick", False),  # not an enum
    (("top", "ref", "item"), "anything", True),  # leafref: its target is checked apart
])
def test_plain_values_are_checked_by_libyang_without_a_fragment(
    schema: SchemaTree, test_context: YangContext, path: tuple[str, ...], text: str,
    valid: bool,
) -> None:
    from nvo3_netconf.schema.verdicts import _valid_term

    node = schema.roots[(T, path[0])]
    for name in path[1:]:
        node = node.children[(T, name)]
    leaf = etree.Element(f"{{{T}}}{path[-1]}")
    leaf.text = text
    assert _valid_term(test_context.libyang.cdata, node, leaf) is valid


def test_prefixed_values_and_odd_elements_go_to_the_fragment_parser(
    schema: SchemaTree, test_context: YangContext,
) -> None:
    from nvo3_netconf.schema.verdicts import _valid_term

    top = schema.roots[(T, "top")]
    proto = etree.Element(f"{{{T}}}proto", nsmap={"t": T})
    proto.text = "t:tcp"
    assert not _valid_term(test_context.libyang.cdata, top.children[(T, "proto")], proto)
    mode = etree.Element(f"{{{T}}}mode")
    mode.append(etree.Comment("c"))
    mode[0].tail = "fast"
    assert not _valid_term(test_context.libyang.cdata, top.children[(T, "mode")], mode)
