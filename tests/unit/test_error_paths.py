"""Error-paths of validation errors: XML instance-identifiers (RFC 7950 sec. 9.13.2, 15).

libyang writes ``/nvo3-test:top/item[name='a']/number`` (RFC 7951 sec. 6.11: module names,
only where the module changes); an ``<error-path>`` is an XPath expression in which every
node name, key names included, carries a declared prefix. Both validators (full libyang
validation and the incremental one, which must agree) report the same XML path, the
prefixes it uses and the RFC 7950 sec. 15 error-info.
"""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from nvo3_netconf.constants import NS_YANG_1
from nvo3_netconf.datastore.edit import apply_edit
from nvo3_netconf.errors import InfoElement, OperationFailedError
from nvo3_netconf.protocol.messages import build_rpc_error_reply, parse_rpc_reply
from nvo3_netconf.schema import SchemaTree, SchemaValidationError, Validator, YangContext
from nvo3_netconf.schema.incremental import IncrementalValidator
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode
from nvo3_netconf.schema.paths import PathReader, Step, instance_identifier, quote_literal
from nvo3_netconf.schema.validate import ValidationIssue

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
T = "urn:nvo3-netconf:yang:nvo3-test"
C = "urn:nvo3-netconf:yang:nvo3-test-constraints"
NT = {"nt": T}
NTC = {"ntc": C}
BOTH = {"nt": T, "ntc": C}
NCOP = f'xmlns:nc="{NC}"'


@pytest.fixture(scope="module")
def schema(test_context: YangContext) -> SchemaTree:
    return SchemaTree(test_context)


@pytest.fixture(scope="module")
def reader(schema: SchemaTree, test_context: YangContext) -> PathReader:
    return PathReader(schema.roots, {**schema.rpcs, **schema.notifications},
                      {m.name: m.namespace for m in test_context.modules})


@pytest.fixture(scope="module")
def incremental(test_context: YangContext, schema: SchemaTree) -> IncrementalValidator:
    return IncrementalValidator(test_context, schema)


@pytest.fixture(scope="module")
def full(test_context: YangContext) -> Validator:
    return Validator(test_context)


def text(reader: PathReader, path: str) -> tuple[str, dict[str, str]]:
    steps = reader.data_path(path)
    assert steps is not None, path
    return instance_identifier(steps, reader.modules)


# ------------------------------------------------------------------ reading paths
@pytest.mark.parametrize(("libyang", "xml", "namespaces"), [
    ("/nvo3-test:top/item[name='a']/number", "/nt:top/nt:item[nt:name='a']/nt:number", NT),
    ("/nvo3-test:top/label[.='x y']", "/nt:top/nt:label[.='x y']", NT),
    ("/nvo3-test:top/vn[id='1']/port[name='e0'][unit='2']/vlan",
     "/nt:top/nt:vn[nt:id='1']/nt:port[nt:name='e0'][nt:unit='2']/nt:vlan", NT),
    # a step crossing into an augmenting module's namespace
    ("/nvo3-test:top/nvo3-test-constraints:slow-factor", "/nt:top/ntc:slow-factor", BOTH),
    # libyang quotes a value holding ' with "; a value holding both kinds too (unescaped)
    ("/nvo3-test:top/item[name=\"it's\"]/number", "/nt:top/nt:item[nt:name=\"it's\"]/nt:number",
     NT),
    ("/nvo3-test:top/item[name=\"it's \"x\"\"]/number",
     "/nt:top/nt:item[nt:name=concat('it', \"'\", 's \"x\"')]/nt:number", NT),
    ("/nvo3-test:top/item[name='a]/b']", "/nt:top/nt:item[nt:name='a]/b']", NT),
    ("/nvo3-test-constraints:reservations/slot[tenant='a'][index='1']/pointer",
     "/ntc:reservations/ntc:slot[ntc:tenant='a'][ntc:index='1']/ntc:pointer", NTC),
])
def test_libyang_data_paths_become_xml_instance_identifiers(
    reader: PathReader, libyang: str, xml: str, namespaces: dict[str, str],
) -> None:
    assert text(reader, libyang) == (xml, namespaces)


@pytest.mark.parametrize("path", [
    "/nvo3-test:top/nothing", "/unknown-module:top", "nvo3-test:top", "/nvo3-test:top/item[name=",
    "/nvo3-test:top/item[name='a'",
])
def test_unreadable_paths_give_none(reader: PathReader, path: str) -> None:
    assert reader.data_path(path) is None


def test_keys_are_reordered_and_positions_kept(reader: PathReader) -> None:
    steps = reader.data_path("/nvo3-test:top/vn[id='1']/port[unit='2'][name='e0']")
    assert steps is not None and steps[-1].values == ("e0", "2")
    positional = reader.data_path("/nvo3-test:top/vn[3]")
    assert positional is not None and positional[-1].position == 3
    assert instance_identifier(positional)[0] == "/nt:top/nt:vn[3]"


@pytest.mark.parametrize(("path", "nodes", "choice"), [
    ("/nvo3-test-constraints:pool/owner/name", ["pool", "owner", "name"], None),
    # the implicit case of a leaf is named like the leaf
    ("/nvo3-test:top/item/kind/small/small", ["top", "item", "small"], None),
    ("/nvo3-test:top/item/kind", ["top", "item"], "kind"),
    ("/nvo3-test:top/encap/tunnel/tunnel-kind/vni/vni", ["top", "vni"], None),
    ("/nvo3-test:top/encap/tunnel/tunnel-kind", ["top"], "tunnel-kind"),
])
def test_schema_paths_skip_choices_and_cases(
    reader: PathReader, path: str, nodes: list[str], choice: str | None,
) -> None:
    found = reader.schema_path(path)
    assert found is not None
    assert [n.name for n in found[0]] == nodes
    assert found[1] == choice


def test_unique_leaves_below_a_list(reader: PathReader) -> None:
    tenant = reader.roots[(C, "tenant")]
    below = reader.below(tenant, "site/region")
    assert below is not None and [n.name for n in below] == ["site", "region"]
    assert reader.below(tenant, "nothing") is None


def test_identity_key_values_keep_a_declared_prefix() -> None:
    key = SchemaNode("color", "urn:c", "mod-c", "c", NodeKind.LEAF, prefixed_value=True)
    entry = SchemaNode("paint", "urn:c", "mod-c", "c", NodeKind.LIST, keys=("color",),
                       children={("urn:c", "color"): key})
    path, namespaces = instance_identifier([Step(entry, ("mod-i:red",))],
                                           {"mod-i": "urn:i", "mod-c": "urn:c"})
    assert path == "/c:paint[c:color='mod-i:red']"
    assert namespaces == {"c": "urn:c", "mod-i": "urn:i"}


def test_quote_literal_picks_a_quote_the_value_lacks() -> None:
    assert quote_literal("a") == "'a'"
    assert quote_literal("it's") == '"it\'s"'
    assert quote_literal("it's \"x\"") == "concat('it', \"'\", 's \"x\"')"


# ------------------------------------------------------------ both validators
def tenant(name: str, inner: str = "") -> str:
    return f'<tenant xmlns="{C}"><name>{name}</name>{inner}</tenant>'


def top(inner: str) -> str:
    return f'<top xmlns="{T}">{inner}</top>'


def item(name: str, number: int | None = 1, extra: str = "<small/>") -> str:
    value = "" if number is None else f"<number>{number}</number>"
    return f"<item><name>{name}</name>{value}{extra}</item>"


POOL = (f'<pool xmlns="{C}"><low>1</low><high>5</high><reserved>2</reserved><random/>'
        "<owner><name>o</name></owner></pool>")


Info = tuple[tuple[str, str, str, dict[str, str]], ...]


def non_unique(namespaces: dict[str, str], *paths: str) -> Info:
    return tuple((NS_YANG_1, "non-unique", p, namespaces) for p in paths)


def missing_choice(name: str) -> Info:
    return ((NS_YANG_1, "missing-choice", name, {}),)


# (id, setup edits, edit, error-tag, app-tag, error-path, namespaces, error-info)
CASES = [
    ("invalid-value", (), top(item("b", 0)), "invalid-value", None,
     "/nt:top/nt:item[nt:name='b']/nt:number", NT, ()),
    ("invalid-value-quote-in-key", (), top(item("it's", 0)), "invalid-value", None,
     "/nt:top/nt:item[nt:name=\"it's\"]/nt:number", NT, ()),
    ("invalid-value-both-quotes-in-key", (), top(item("it's \"x\"", 0)), "invalid-value", None,
     "/nt:top/nt:item[nt:name=concat('it', \"'\", 's \"x\"')]/nt:number", NT, ()),
    ("invalid-value-augment", (), top(f'<mode>slow</mode><slow-factor xmlns="{C}">900'
                                      "</slow-factor>"),
     "invalid-value", None, "/nt:top/ntc:slow-factor", BOTH, ()),
    ("when-augment", (), top(f'<slow-factor xmlns="{C}">2</slow-factor>'), "operation-failed",
     None, "/nt:top/ntc:slow-factor", BOTH, ()),
    ("must-violation", (), POOL.replace("<high>5</high>", "<high>0</high>"), "operation-failed",
     "must-violation", "/ntc:pool/ntc:high", NTC, ()),
    ("must-implicit-container", (), f'<limits xmlns="{C}"><strict>true</strict></limits>',
     "operation-failed", "strict-needs-tenants", "/ntc:limits/ntc:counters", NTC, ()),
    ("unique", (tenant("a", "<vlan>5</vlan>"),), tenant("b", "<vlan>5</vlan>"),
     "operation-failed", "data-not-unique", "/ntc:tenant[ntc:name='b']", NTC,
     non_unique(NTC, "/ntc:tenant[ntc:name='b']/ntc:vlan")),
    ("unique-two-leaves", (tenant("a", "<site><region>r</region><zone>z</zone></site>"),),
     tenant("b'", "<site><region>r</region><zone>z</zone></site>"), "operation-failed",
     "data-not-unique", "/ntc:tenant[ntc:name=\"b'\"]", NTC,
     non_unique(NTC, "/ntc:tenant[ntc:name=\"b'\"]/ntc:site/ntc:region",
                "/ntc:tenant[ntc:name=\"b'\"]/ntc:site/ntc:zone")),
    ("leafref", (), top("<ref><id>1</id><item>zz</item></ref>"), "data-missing",
     "instance-required", "/nt:top/nt:ref[nt:id='1']/nt:item", NT, ()),
    ("instance-identifier", (tenant("a"),), f'<reservations xmlns="{C}" xmlns:c="{C}"><slot>'
     "<tenant>a</tenant><index>1</index><pointer>/c:tenant[c:name='b']</pointer></slot>"
     "</reservations>", "data-missing", "instance-required",
     "/ntc:reservations/ntc:slot[ntc:tenant='a'][ntc:index='1']/ntc:pointer", NTC, ()),
    ("too-many-list", tuple(tenant(f"t{i}") for i in range(6)), tenant("t6"),
     "operation-failed", "too-many-elements", "/ntc:tenant", NTC, ()),
    ("too-many-nested", (), tenant("a", "".join(f"<member><id>{i}</id></member>"
                                                for i in range(4))),
     "operation-failed", "too-many-elements", "/ntc:tenant[ntc:name='a']/ntc:member", NTC, ()),
    ("too-many-leaf-list", (POOL,), f'<pool xmlns="{C}"><reserved>3</reserved><reserved>4'
     "</reserved><reserved>5</reserved></pool>", "operation-failed", "too-many-elements",
     "/ntc:pool/ntc:reserved", NTC, ()),
    ("too-few-none-left", (POOL,), f'<pool xmlns="{C}"><reserved {NCOP} '
     'nc:operation="delete">2</reserved></pool>', "operation-failed", "too-few-elements",
     "/ntc:pool/ntc:reserved", NTC, ()),
    ("too-few-one-left", (), f'<quorum xmlns="{C}"><voter>v</voter></quorum>',
     "operation-failed", "too-few-elements", "/ntc:quorum/ntc:voter", NTC, ()),
    ("mandatory-leaf", (), top(item("a", None)), "data-missing", None,
     "/nt:top/nt:item[nt:name='a']/nt:number", NT, ()),
    ("mandatory-in-np-container-in-presence", (),
     f'<pool xmlns="{C}"><low>1</low><high>5</high><reserved>1</reserved><sequential/></pool>',
     "data-missing", None, "/ntc:pool/ntc:owner/ntc:name", NTC, ()),
    ("mandatory-deleted-in-container", (POOL,), f'<pool xmlns="{C}"><owner><name {NCOP} '
     'nc:operation="delete"/></owner></pool>', "data-missing", None,
     "/ntc:pool/ntc:owner/ntc:name", NTC, ()),
    ("mandatory-top-level", (), f'<strict-mode xmlns="{C}">true</strict-mode>', "data-missing",
     None, "/ntc:operator", NTC, ()),
    # the first entry lacks the leaf too, but its case (fibre) is not the one holding it
    ("mandatory-in-active-case", (f'<link xmlns="{C}"><id>1</id><wavelength>1310</wavelength>'
                                  "</link>",),
     f'<link xmlns="{C}"><id>2</id><pairs>4</pairs></link>', "data-missing", None,
     "/ntc:link[ntc:id='2']/ntc:gauge", NTC, ()),
    ("missing-choice", (), top(item("a", extra="")), "data-missing", "missing-choice",
     "/nt:top/nt:item[nt:name='a']", NT, missing_choice("kind")),
    ("missing-choice-deleted", (POOL,), f'<pool xmlns="{C}"><random {NCOP} '
     'nc:operation="delete"/></pool>', "data-missing", "missing-choice", "/ntc:pool", NTC,
     missing_choice("allocation")),
]


# The error-path names a node that is not stored: a missing one, a list left empty, an
# implicit non-presence container (RFC 7950 sec. 7.5.1).
ABSENT = {"mandatory-leaf", "mandatory-in-np-container-in-presence",
          "mandatory-deleted-in-container", "mandatory-top-level", "too-few-none-left",
          "must-implicit-container", "mandatory-in-active-case"}


def select(data: etree._Element, path: str, namespaces: dict[str, str]) -> list[object]:
    """``path`` evaluated with the datastore's top-level nodes as the root's children."""
    found = etree.XPath("$root" + path, namespaces=namespaces)(data, root=data)
    assert isinstance(found, list)
    return found


def verdict(error: SchemaValidationError) -> tuple[object, ...]:
    issue = error.issues[0]
    assert issue.error_tag is not None
    return (issue.error_tag.value, issue.app_tag, issue.error_path, dict(issue.path_namespaces),
            tuple((i.namespace, i.name, i.text, dict(i.namespaces)) for i in issue.info))


@pytest.mark.parametrize(("case", "setup", "body", "tag", "app_tag", "path", "namespaces",
                          "info"), CASES, ids=[case[0] for case in CASES])
def test_both_validators_report_the_xml_error_path(
    schema: SchemaTree, incremental: IncrementalValidator, full: Validator, case: str,
    setup: tuple[str, ...], body: str, tag: str, app_tag: str | None, path: str,
    namespaces: dict[str, str], info: Info,
) -> None:
    tree = etree.Element(f"{{{NC}}}data", nsmap={None: NC})
    for edit in setup:
        changes = apply_edit(tree, etree.fromstring(f'<config xmlns="{NC}">{edit}</config>'),
                             schema)
        incremental.validate_changes(tree, changes)
    work = copy.deepcopy(tree)
    changes = apply_edit(work, etree.fromstring(f'<config xmlns="{NC}">{body}</config>'), schema)
    with pytest.raises(SchemaValidationError) as by_changes:
        incremental.validate_changes(work, changes)
    with pytest.raises(SchemaValidationError) as in_full:
        full.validate(b"".join(etree.tostring(child) for child in work))
    expected = (tag, app_tag, path, namespaces, info)
    assert verdict(by_changes.value) == expected
    assert verdict(in_full.value) == expected
    # Evaluated against the tree the edit would give, the path selects the node at fault.
    selected = select(work, path, namespaces)
    assert (not selected) if case in ABSENT else selected
    if case.startswith("unique"):
        assert len(selected) == 1
        for _, _, leaf, prefixes in info:
            assert len(select(work, leaf, prefixes)) == 1


def test_missing_choice_at_the_top_level_has_no_error_path() -> None:
    issue = ValidationIssue('Mandatory choice "c" data do not exist.', None, None,
                            "missing-choice")
    located = issue.located([], {}, ())
    assert located.error_path is None and located.path_namespaces == ()


def test_rpc_error_carries_error_path_and_yang_error_info(full: Validator) -> None:
    with pytest.raises(SchemaValidationError) as info:
        full.validate(top(item("a", 5) + item("b'", 5)))
    error = info.value.to_rpc_error()
    assert isinstance(error, OperationFailedError)
    assert error.app_tag == "data-not-unique"
    assert error.path == "/nt:top/nt:item[nt:name=\"b'\"]"
    assert error.path_namespaces == NT
    assert error.info_elements == (
        InfoElement(NS_YANG_1, "non-unique", "/nt:top/nt:item[nt:name=\"b'\"]/nt:number", NT),)
    reply = etree.fromstring(build_rpc_error_reply({"message-id": "1"}, [error]))
    element = reply.find(f"{{{NC}}}rpc-error/{{{NC}}}error-info/{{{NS_YANG_1}}}non-unique")
    assert element is not None and element.nsmap["nt"] == T
    again = parse_rpc_reply(reply).errors[0]
    assert again.info_elements == error.info_elements
    assert again.path == error.path and again.path_namespaces == NT
