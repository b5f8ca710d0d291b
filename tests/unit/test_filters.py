"""Unit tests of nvo3_netconf.protocol.filters: subtree (RFC 6241 sec. 6) and XPath (sec. 8.9).

Every example of RFC 6241 sec. 6.4 (``tests/data/filters/rfc6241-6.4.*.request.xml`` and
``.reply.xml``) is run against ``tests/data/filters/rfc6241-datastore.xml`` and compared
with the reply printed in the RFC, structurally: tags, attributes, stripped text and
child order, ignoring prefixes, namespace declaration placement and indentation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from nvo3_netconf.constants import NS_NC, ErrorTag, ErrorType
from nvo3_netconf.errors import BadAttributeError, InvalidValueError, MissingAttributeError
from nvo3_netconf.protocol.filters import (
    FilterType,
    KeysOf,
    Lookup,
    apply_filter,
    apply_subtree_filter,
    apply_xpath_filter,
)
from nvo3_netconf.protocol.xpath import anchor_absolute_paths

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "filters"
CFG = "http://example.com/schema/1.2/config"
STATS = "http://example.com/schema/1.2/stats"
KEYS = {f"{{{CFG}}}user": (f"{{{CFG}}}name",), f"{{{CFG}}}group": (f"{{{CFG}}}name",)}

Shape = tuple[str, tuple[tuple[str, str], ...], str, tuple["Shape", ...]]


# --------------------------------------------------------------------------- helpers


def parse(text: str | bytes) -> etree._Element:
    """Parse trusted test XML."""
    return etree.fromstring(text.encode() if isinstance(text, str) else text)


def shape(element: etree._Element) -> Shape:
    """Structure of an element: what a NETCONF peer can observe, minus prefixes."""
    return (
        str(element.tag),
        tuple(sorted((str(k), str(v)) for k, v in element.attrib.items())),
        _own_text(element),
        tuple(shape(child) for child in element.iterchildren(etree.Element)),
    )


def _own_text(element: etree._Element) -> str:
    if next(element.iterchildren(etree.Element), None) is None:
        return "".join(element.itertext()).strip()  # a leaf: comments do not split it
    return (element.text or "").strip()


def assert_reply(actual: etree._Element, expected_data_xml: str) -> None:
    """Compare a filter result with the ``<data>`` of an RFC reply."""
    expected = parse(expected_data_xml)
    assert shape(actual) == shape(expected), etree.tostring(actual, pretty_print=True).decode()


def data_reply(body: str) -> str:
    """Wrap reply content the way RFC 6241 prints it."""
    return f'<data xmlns="{NS_NC}">{body}</data>'


def subtree(body: str, attributes: str = 'type="subtree"') -> etree._Element:
    """Build a ``<filter>`` as it arrives inside an ``<rpc>`` (inheriting the NC namespace)."""
    rpc = parse(
        f'<rpc message-id="101" xmlns="{NS_NC}"><get-config><source><running/></source>'
        f"<filter {attributes}>{body}</filter></get-config></rpc>"
    )
    found = rpc.find(f".//{{{NS_NC}}}filter")
    assert found is not None
    return found


def keys_of(entry: etree._Element) -> Sequence[str] | None:
    """Schema stand-in: users and groups are lists keyed by name."""
    return KEYS.get(str(entry.tag))


@pytest.fixture
def datastore() -> Iterator[etree._Element]:
    """The RFC 6241 sec. 6.4 datastore; the test fails if a filter modified it."""
    data = etree.parse(str(DATA_DIR / "rfc6241-datastore.xml")).getroot()
    before = etree.tostring(data)
    yield data
    assert etree.tostring(data) == before, "a filter modified the datastore"


# ------------------------------------------------------- RFC 6241 sec. 6.4 examples

USER_ROOT = (
    "<user><name>root</name><type>superuser</type><full-name>Charlie Root</full-name>"
    "<company-info><dept>1</dept><id>1</id></company-info></user>"
)
USER_FRED = (
    "<user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name>"
    "<company-info><dept>2</dept><id>2</id></company-info></user>"
)
USER_BARNEY = (
    "<user><name>barney</name><type>admin</type><full-name>Barney Rubble</full-name>"
    "<company-info><dept>2</dept><id>3</id></company-info></user>"
)
ALL_USERS = f'<top xmlns="{CFG}"><users>{USER_ROOT}{USER_FRED}{USER_BARNEY}</users></top>'

RFC_6_4_EXAMPLES = sorted(
    path.name.removesuffix(".request.xml") for path in DATA_DIR.glob("rfc6241-6.4.*.request.xml")
)


def test_every_rfc6241_section_6_4_example_is_present() -> None:
    assert RFC_6_4_EXAMPLES == [
        "rfc6241-6.4.2",
        "rfc6241-6.4.3",
        "rfc6241-6.4.3-alternative",
        "rfc6241-6.4.4",
        "rfc6241-6.4.5",
        "rfc6241-6.4.6",
        "rfc6241-6.4.7",
        "rfc6241-6.4.8",
    ]


@pytest.mark.parametrize("example", RFC_6_4_EXAMPLES)
def test_rfc6241_section_6_4_examples(datastore: etree._Element, example: str) -> None:
    """Request and reply of each example, as printed in RFC 6241, in tests/data/filters."""
    request = etree.parse(str(DATA_DIR / f"{example}.request.xml")).getroot()
    reply = etree.parse(str(DATA_DIR / f"{example}.reply.xml")).getroot()
    filter_el = request.find(f"*/{{{NS_NC}}}filter")
    expected = reply.find(f"{{{NS_NC}}}data")
    assert filter_el is not None and expected is not None
    assert shape(apply_subtree_filter(datastore, filter_el)) == shape(expected)
    assert shape(apply_filter(datastore, filter_el)) == shape(expected)


def test_6_4_1_no_filter_returns_everything(datastore: etree._Element) -> None:
    result = apply_subtree_filter(datastore, None)
    assert shape(result) == shape(datastore)
    assert result is not datastore
    assert apply_filter(datastore, None).getparent() is None


@pytest.mark.parametrize("content", ["", "\n   \n", "<!-- nothing here -->"])
def test_6_4_2_empty_filter_selects_nothing(datastore: etree._Element, content: str) -> None:
    result = apply_subtree_filter(datastore, subtree(content))
    assert result.tag == f"{{{NS_NC}}}data"
    assert len(result) == 0 and not (result.text or "").strip()


SUBTREE_CASES = etree.parse(str(DATA_DIR / "subtree-cases.xml")).getroot()


@pytest.mark.parametrize(
    "case_id", [str(case.get("id")) for case in SUBTREE_CASES.iterchildren("case")]
)
def test_subtree_cases_with_own_datastore(case_id: str) -> None:
    """The cases of tests/data/filters/subtree-cases.xml."""
    case = SUBTREE_CASES.find(f"case[@id='{case_id}']")
    assert case is not None
    data = case.find(f"datastore/{{{NS_NC}}}data")
    filter_el = case.find(f"{{{NS_NC}}}filter")
    expected = case.find(f"expected/{{{NS_NC}}}data")
    assert data is not None and filter_el is not None and expected is not None
    before = etree.tostring(data)
    assert shape(apply_subtree_filter(data, filter_el)) == shape(expected)
    assert etree.tostring(data) == before


# ------------------------------------------------------------- namespace selection


def test_namespace_selects_only_that_namespace(datastore: etree._Element) -> None:
    result = apply_subtree_filter(datastore, subtree(f'<top xmlns="{CFG}"/>'))
    assert [child.tag for child in result] == [f"{{{CFG}}}top"]
    assert shape(result[0]) == shape(datastore[0])


def test_empty_namespace_is_a_wildcard(datastore: etree._Element) -> None:
    result = apply_subtree_filter(datastore, subtree('<top xmlns=""/>'))
    assert [child.tag for child in result] == [f"{{{CFG}}}top", f"{{{STATS}}}top"]


def test_wildcard_applies_at_every_level(datastore: etree._Element) -> None:
    flt = subtree('<top xmlns=""><users><user><name>fred</name></user></users></top>')
    assert_reply(
        apply_subtree_filter(datastore, flt),
        data_reply(f'<top xmlns="{CFG}"><users>{USER_FRED}</users></top>'),
    )


def test_unqualified_element_inheriting_netconf_namespace_is_a_wildcard(
    datastore: etree._Element,
) -> None:
    # <users> inherits xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" from <rpc>.
    flt = subtree("<top><users/></top>")
    assert_reply(apply_subtree_filter(datastore, flt), data_reply(ALL_USERS))


# ------------------------------------------------------------------ content match


def test_multiple_content_matches_are_anded(datastore: etree._Element) -> None:
    both = subtree(
        f'<top xmlns="{CFG}"><users><user><type>admin</type><name>fred</name></user></users></top>'
    )
    assert_reply(
        apply_subtree_filter(datastore, both),
        data_reply(f'<top xmlns="{CFG}"><users>{USER_FRED}</users></top>'),
    )


USERS_PATH = f'<top xmlns="{CFG}"><users><user>{{}}</user></users></top>'
STATS_PATH = f'<t:top xmlns:t="{STATS}"><t:interfaces>{{}}</t:interfaces></t:top>'


@pytest.mark.parametrize(
    "filter_body",
    [
        pytest.param('<top xmlns="urn:example:other"/>', id="other-namespace"),
        pytest.param(f'<top xmlns=""><users xmlns="{STATS}"/></top>', id="inner-namespace"),
        pytest.param(USERS_PATH.format("<name>wilma</name>"), id="no-such-key"),
        pytest.param(USERS_PATH.format("<type>admin</type><name>root</name>"), id="and"),
        pytest.param(USERS_PATH.format("<full-name>Fred  Flintstone</full-name>"), id="inner-ws"),
        pytest.param(USERS_PATH.format("<company-info>2</company-info>"), id="not-a-leaf"),
        pytest.param(
            f'<top xmlns="{CFG}"><users><user name="fred"/></users></top>', id="no-attribute"
        ),
        pytest.param(STATS_PATH.format('<t:interface t:ifName="eth9"/>'), id="attribute-value"),
        pytest.param(STATS_PATH.format('<t:interface ifName="eth0"/>'), id="attribute-namespace"),
    ],
)
def test_filter_selecting_nothing_returns_empty_data(
    datastore: etree._Element, filter_body: str
) -> None:
    """No match anywhere: no empty containers either."""
    result = apply_subtree_filter(datastore, subtree(filter_body))
    assert len(result) == 0 and result.tag == f"{{{NS_NC}}}data"


def test_content_match_on_non_key_leaf(datastore: etree._Element) -> None:
    flt = subtree(f'<top xmlns="{CFG}"><users><user><type>admin</type></user></users></top>')
    assert_reply(
        apply_subtree_filter(datastore, flt),
        data_reply(f'<top xmlns="{CFG}"><users>{USER_FRED}{USER_BARNEY}</users></top>'),
    )


def test_content_match_in_nested_container(datastore: etree._Element) -> None:
    flt = subtree(
        f'<top xmlns="{CFG}"><users><user><company-info><dept>2</dept></company-info>'
        "<name/></user></users></top>"
    )
    assert_reply(
        apply_subtree_filter(datastore, flt),
        data_reply(
            f'<top xmlns="{CFG}"><users>'
            "<user><name>root</name></user>"
            "<user><name>fred</name><company-info><dept>2</dept><id>2</id></company-info>"
            "</user><user><name>barney</name><company-info><dept>2</dept><id>3</id>"
            "</company-info></user></users></top>"
        ),
    )


def test_content_match_whitespace_is_stripped(datastore: etree._Element) -> None:
    flt = subtree(
        f'<top xmlns="{CFG}"><users><user><name>\n  fred  </name><type/></user></users></top>'
    )
    assert_reply(
        apply_subtree_filter(datastore, flt),
        data_reply(
            f'<top xmlns="{CFG}"><users><user><name>fred</name><type>admin</type>'
            "</user></users></top>"
        ),
    )


def test_whitespace_only_element_is_a_selection_node(datastore: etree._Element) -> None:
    flt = subtree(f'<top xmlns="{CFG}"><users>\n   </users></top>')
    assert_reply(apply_subtree_filter(datastore, flt), data_reply(ALL_USERS))


def test_content_match_is_output_even_if_containment_sibling_selects_nothing(
    datastore: etree._Element,
) -> None:
    flt = subtree(
        f'<top xmlns="{CFG}"><users><user><name>fred</name><company-info><phone/>'
        "</company-info></user></users></top>"
    )
    assert_reply(
        apply_subtree_filter(datastore, flt),
        data_reply(f'<top xmlns="{CFG}"><users><user><name>fred</name></user></users></top>'),
    )


def test_identityref_content_matches_through_namespace_not_prefix() -> None:
    data = parse(
        data_reply(
            '<interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces" '
            'xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">'
            "<interface><name>eth0</name><type>ianaift:ethernetCsmacd</type></interface>"
            "<interface><name>lo</name><type>ianaift:softwareLoopback</type></interface>"
            "</interfaces>"
        )
    )
    flt = subtree(
        '<interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces" '
        'xmlns:ift="urn:ietf:params:xml:ns:yang:iana-if-type">'
        "<interface><type>ift:ethernetCsmacd</type><name/></interface></interfaces>"
    )
    result = apply_subtree_filter(data, flt)
    assert [leaf.text for leaf in result.iter("{*}name")] == ["eth0"]
    # The prefix used in the value is still declared in the reply.
    type_leaf = next(result.iter("{*}type"))
    assert type_leaf.nsmap["ianaift"] == "urn:ietf:params:xml:ns:yang:iana-if-type"


# -------------------------------------------------------------- attribute match


def test_attribute_match_on_containment_node(datastore: etree._Element) -> None:
    flt = subtree(
        f'<t:top xmlns:t="{STATS}"><t:interfaces><t:interface t:ifName="eth1">'
        "<t:ifOutOctets/></t:interface></t:interfaces></t:top>"
    )
    assert_reply(
        apply_subtree_filter(datastore, flt),
        data_reply(
            f'<t:top xmlns:t="{STATS}"><t:interfaces><t:interface t:ifName="eth1">'
            "<t:ifOutOctets>2000</t:ifOutOctets></t:interface></t:interfaces></t:top>"
        ),
    )


# ----------------------------------------------------- output assembly, keys, copies


def test_overlapping_filter_nodes_are_merged_in_document_order(
    datastore: etree._Element,
) -> None:
    flt = subtree(
        f'<top xmlns="{CFG}"><users>'
        "<user><name>fred</name><full-name/></user>"
        "<user><name>fred</name><type/></user>"
        "<user><name>root</name><company-info><id/></company-info></user>"
        "</users></top>"
    )
    assert_reply(
        apply_subtree_filter(datastore, flt),
        data_reply(
            f'<top xmlns="{CFG}"><users>'
            "<user><name>root</name><company-info><id>1</id></company-info></user>"
            "<user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name>"
            "</user></users></top>"
        ),
    )


def test_keys_of_adds_list_keys_to_partial_entries(datastore: etree._Element) -> None:
    flt = subtree(f'<top xmlns="{CFG}"><users><user><type/></user></users></top>')
    without = apply_subtree_filter(datastore, flt)
    assert [child.tag for child in without.iter()].count(f"{{{CFG}}}name") == 0
    assert_reply(
        apply_subtree_filter(datastore, flt, keys_of=keys_of),
        data_reply(
            f'<top xmlns="{CFG}"><users>'
            "<user><name>root</name><type>superuser</type></user>"
            "<user><name>fred</name><type>admin</type></user>"
            "<user><name>barney</name><type>admin</type></user></users></top>"
        ),
    )


def test_result_is_independent_of_datastore(datastore: etree._Element) -> None:
    result = apply_subtree_filter(datastore, subtree(f'<top xmlns="{CFG}"><users/></top>'))
    for element in result.iter():
        element.text = "changed"  # the fixture checks the datastore did not change
    assert result.getparent() is None


def test_comments_in_filter_are_ignored(datastore: etree._Element) -> None:
    flt = subtree(
        f'<top xmlns="{CFG}"><!-- users --><users><user><name>fr<!-- x -->ed</name></user>'
        "</users></top>"
    )
    assert_reply(
        apply_subtree_filter(datastore, flt),
        data_reply(f'<top xmlns="{CFG}"><users>{USER_FRED}</users></top>'),
    )


def test_wildcard_list_with_content_match_and_attribute(datastore: etree._Element) -> None:
    flt = subtree(
        '<top xmlns=""><interfaces><interface xmlns:t="http://example.com/schema/1.2/stats" '
        't:ifName="eth1"><ifInOctets>1000</ifInOctets></interface></interfaces></top>'
    )
    result = apply_subtree_filter(datastore, flt)
    assert [e.get(f"{{{STATS}}}ifName") for e in result.iter(f"{{{STATS}}}interface")] == ["eth1"]
    no_match = subtree(
        '<top xmlns=""><interfaces><interface xmlns:t="http://example.com/schema/1.2/stats" '
        't:ifName="eth0"><ifInOctets>1000</ifInOctets></interface></interfaces></top>'
    )
    assert len(apply_subtree_filter(datastore, no_match)) == 0


LEAF_TEXT = st.text(alphabet=" \t\n'\":ab\u00a0", max_size=6)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(LEAF_TEXT, min_size=1, max_size=6), wanted=LEAF_TEXT)
def test_content_match_on_list_entries_agrees_with_the_rule(values: list[str], wanted: str) -> None:
    """Entries whose leaf equals the value after stripping XML whitespace, and only those."""
    data = etree.Element(f"{{{NS_NC}}}data")
    table = etree.SubElement(data, "{urn:t}table")
    for number, value in enumerate(values):
        entry = etree.SubElement(table, "{urn:t}entry")
        etree.SubElement(entry, "{urn:t}v").text = value
        etree.SubElement(entry, "{urn:t}n").text = str(number)
    flt = etree.Element(f"{{{NS_NC}}}filter")
    entry_filter = etree.SubElement(etree.SubElement(flt, "{urn:t}table"), "{urn:t}entry")
    etree.SubElement(entry_filter, "{urn:t}v").text = wanted
    etree.SubElement(entry_filter, "{urn:t}n")
    xml_space = " \t\r\n"
    if wanted.strip(xml_space):
        expected = [
            str(n) for n, v in enumerate(values) if v.strip(xml_space) == wanted.strip(xml_space)
        ]
    else:  # whitespace-only content: a selection node, every entry is selected
        expected = [str(n) for n in range(len(values))]
    result = apply_subtree_filter(data, flt)
    assert [n.text for n in result.iter("{urn:t}n")] == expected


# ------------------------------------------- long lists, and the index lookup hook

XML_SPACE = " \t\r\n"


def _long_list(values: Sequence[str]) -> etree._Element:
    """A datastore with one list entry per value, long enough for the prefilter."""
    entries = "".join(
        f"<entry><k>{value}</k><n>{number}</n></entry>" for number, value in enumerate(values)
    )
    return parse(data_reply(f'<t xmlns="urn:t" xmlns:p="urn:p" xmlns:q="urn:p">{entries}</t>'))


def _selected_numbers(data: etree._Element, filter_el: etree._Element) -> list[str]:
    return [str(n.text) for n in apply_subtree_filter(data, filter_el).iter("{urn:t}n")]


def test_long_list_filters_of_one_shape_with_different_values() -> None:
    """Compiled prefilters are shared by shape: the values must still be each filter's."""
    data = _long_list(["a", "b", " c ", "a", "d\n", "e", 'O\'Hara "Jo"', "p:x", "q:x", "r:x"])
    body = '<t xmlns="urn:t"><entry><k>{}</k><n/></entry></t>'
    assert _selected_numbers(data, subtree(body.format("a"))) == ["0", "3"]
    assert _selected_numbers(data, subtree(body.format("b"))) == ["1"]
    assert _selected_numbers(data, subtree(body.format("c"))) == ["2"]
    assert _selected_numbers(data, subtree(body.format("\n d "))) == ["4"]
    assert _selected_numbers(data, subtree(body.format('O\'Hara "Jo"'))) == ["6"]
    assert _selected_numbers(data, subtree(body.format("zz"))) == []
    # A QName value matches through its namespace: p and q are both urn:p, r is unbound.
    qname = '<t xmlns="urn:t" xmlns:s="urn:p"><entry><k>s:x</k><n/></entry></t>'
    assert _selected_numbers(data, subtree(qname)) == ["7", "8"]
    assert _selected_numbers(data, subtree(body.format("r:x"))) == ["9"]
    wildcard = '<t xmlns=""><entry><k>a</k><n/></entry></t>'
    assert _selected_numbers(data, subtree(wildcard)) == ["0", "3"]


def test_long_list_content_match_needs_a_leaf_and_ignores_comments() -> None:
    data = _long_list(["a", "a<x/>", "a<!-- c -->", "<!-- c -->a", "a<!-- c -->b", "b", "c"])
    flt = subtree('<t xmlns="urn:t"><entry><k>a</k><n/></entry></t>')
    assert _selected_numbers(data, flt) == ["0", "2", "3"]


Matches = dict[str, str]
Entries = list[etree._Element]


class FakeIndex:
    """A dict-based :data:`Lookup`: list entries by the text of their leaves.

    Like the server's key index, it answers from a dict built on first use per (parent,
    tag). It records its calls. With ``superset`` it also returns every other entry, the
    parent and all its descendants: the filter must still give the exact answer. With
    ``unindexed`` it returns None for everything, so the filter scans.
    """

    def __init__(self, *, superset: bool = False, unindexed: bool = False) -> None:
        self.superset = superset
        self.unindexed = unindexed
        self.calls: list[tuple[etree._Element, str, Matches]] = []
        self._indexes: dict[tuple[etree._Element, str], dict[tuple[str, str], Entries]] = {}

    def __call__(
        self, parent: etree._Element, tag: str, matches: Mapping[str, str]
    ) -> Sequence[etree._Element] | None:
        self.calls.append((parent, tag, dict(matches)))
        if self.unindexed:
            return None
        index = self._indexes.get((parent, tag))
        if index is None:
            index = {}
            for entry in parent.iterchildren(tag):
                for leaf in entry.iterchildren(etree.Element):
                    if next(leaf.iterchildren(etree.Element), None) is None:
                        text = "".join(leaf.itertext()).strip(XML_SPACE)
                        index.setdefault((str(leaf.tag), text), []).append(entry)
            self._indexes[(parent, tag)] = index
        found: Entries | None = None
        for item in matches.items():
            hits = index.get(item, [])
            found = hits if found is None else [e for e in found if e in hits]
        result = list(found or [])
        if self.superset:
            everything = [*parent.iterchildren(tag), parent, *parent.iter()]
            result = [*reversed(everything), *result]
        return result


def _hook_cases() -> Iterator[tuple[str, etree._Element, etree._Element]]:
    """(id, data, filter) of every subtree filter case of this module with its own data."""
    for example in RFC_6_4_EXAMPLES:
        request = etree.parse(str(DATA_DIR / f"{example}.request.xml")).getroot()
        filter_el = request.find(f"*/{{{NS_NC}}}filter")
        assert filter_el is not None
        yield example, etree.parse(str(DATA_DIR / "rfc6241-datastore.xml")).getroot(), filter_el
    for case in SUBTREE_CASES.iterchildren("case"):
        data = case.find(f"datastore/{{{NS_NC}}}data")
        filter_el = case.find(f"{{{NS_NC}}}filter")
        assert data is not None and filter_el is not None
        yield str(case.get("id")), data, filter_el


HOOK_FILTER_BODIES = [
    USERS_PATH.format("<name>fred</name>"),
    USERS_PATH.format("<name>wilma</name>"),
    USERS_PATH.format("<type>admin</type>"),
    USERS_PATH.format("<type>admin</type><name>fred</name>"),
    USERS_PATH.format("<type>admin</type><name>root</name>"),
    USERS_PATH.format("<name>\n  fred  </name><type/>"),
    USERS_PATH.format("<name>fred</name><company-info><phone/></company-info>"),
    USERS_PATH.format("<company-info><dept>2</dept></company-info><name/>"),
    USERS_PATH.format("<full-name>Fred  Flintstone</full-name>"),
    USERS_PATH.format("<company-info>2</company-info>"),
    USERS_PATH.format("<name>fr<!-- x -->ed</name>"),
    USERS_PATH.format("<name>fred</name><name>root</name>"),
    f'<top xmlns="{CFG}"><users><user><name>fred</name><full-name/></user>'
    "<user><name>fred</name><type/></user>"
    "<user><name>root</name><company-info><id/></company-info></user></users></top>",
    f'<top xmlns="{CFG}"><users><user name="fred"><name>fred</name></user></users></top>',
    '<top xmlns=""><users><user><name>fred</name></user></users></top>',
    f'<top xmlns="{CFG}"><users><user><name xmlns="">fred</name></user></users></top>',
    STATS_PATH.format("<t:interface><t:ifInOctets>1000</t:ifInOctets></t:interface>"),
    STATS_PATH.format(
        '<t:interface t:ifName="eth1"><t:ifInOctets>1000</t:ifInOctets></t:interface>'
    ),
    f'<top xmlns="{CFG}"><groups><group><name>admin</name></group></groups>'
    f"<users><user><type>admin</type></user></users></top>",
]
HOOK_CASES = [
    *_hook_cases(),
    *(
        (
            f"inline-{number}",
            etree.parse(str(DATA_DIR / "rfc6241-datastore.xml")).getroot(),
            subtree(body),
        )
        for number, body in enumerate(HOOK_FILTER_BODIES)
    ),
]


@pytest.mark.parametrize("superset", [False, True], ids=["exact", "superset"])
@pytest.mark.parametrize(
    ("data", "filter_el"),
    [pytest.param(data, filter_el, id=case_id) for case_id, data, filter_el in HOOK_CASES],
)
def test_lookup_gives_the_same_result(
    data: etree._Element, filter_el: etree._Element, superset: bool
) -> None:
    """With an index answering exactly or with a superset, the output is unchanged."""
    before = etree.tostring(data)
    expected = etree.tostring(apply_subtree_filter(data, filter_el))
    index = FakeIndex(superset=superset)
    assert etree.tostring(apply_subtree_filter(data, filter_el, lookup=index)) == expected
    assert etree.tostring(apply_filter(data, filter_el, lookup=FakeIndex())) == expected
    with_keys = etree.tostring(apply_subtree_filter(data, filter_el, keys_of=keys_of))
    assert (
        etree.tostring(apply_subtree_filter(data, filter_el, keys_of=keys_of, lookup=index))
        == with_keys
    )
    unindexed = FakeIndex(unindexed=True)
    assert etree.tostring(apply_subtree_filter(data, filter_el, lookup=unindexed)) == expected
    assert etree.tostring(data) == before


def test_lookup_is_asked_for_a_list_entry_by_key(datastore: etree._Element) -> None:
    index = FakeIndex()
    flt = subtree(USERS_PATH.format("<name> fred </name>"))
    assert_reply(
        apply_subtree_filter(datastore, flt, lookup=index),
        data_reply(f'<top xmlns="{CFG}"><users>{USER_FRED}</users></top>'),
    )
    users = datastore.find(f"{{{CFG}}}top/{{{CFG}}}users")
    assert index.calls == [(users, f"{{{CFG}}}user", {f"{{{CFG}}}name": "fred"})]


def test_lookup_receives_every_content_match_and_its_answer_is_checked(
    datastore: etree._Element,
) -> None:
    users = datastore.find(f"{{{CFG}}}top/{{{CFG}}}users")
    assert users is not None
    calls: list[tuple[str, Matches]] = []

    def every_user(
        parent: etree._Element, tag: str, matches: Mapping[str, str]
    ) -> list[etree._Element]:
        calls.append((tag, dict(matches)))
        assert parent is users
        return list(parent)  # a superset: root, fred and barney

    flt = subtree(USERS_PATH.format("<type>admin</type><name>barney</name><full-name/>"))
    assert_reply(
        apply_subtree_filter(datastore, flt, lookup=every_user),
        data_reply(
            f'<top xmlns="{CFG}"><users><user><name>barney</name><type>admin</type>'
            "<full-name>Barney Rubble</full-name></user></users></top>"
        ),
    )
    assert calls == [(f"{{{CFG}}}user", {f"{{{CFG}}}type": "admin", f"{{{CFG}}}name": "barney"})]


def test_lookup_answer_outside_the_parent_or_with_another_tag_is_ignored(
    datastore: etree._Element,
) -> None:
    # Matching entries, but of another list: a copy of the users and a <group> holding a
    # <name>fred</name>, plus elements of the right list with the wrong tag.
    copied = parse(data_reply(ALL_USERS)).find(f"{{{CFG}}}top/{{{CFG}}}users")
    assert copied is not None
    group = parse(f'<group xmlns="{CFG}"><name>fred</name></group>')

    def elsewhere(
        parent: etree._Element, tag: str, matches: Mapping[str, str]
    ) -> list[etree._Element]:
        return [*copied, group, *parent.iter(f"{{{CFG}}}name")]

    flt = subtree(USERS_PATH.format("<name>fred</name>"))
    assert len(apply_subtree_filter(datastore, flt, lookup=elsewhere)) == 0
    assert len(apply_subtree_filter(datastore, flt, lookup=lambda p, t, m: [])) == 0
    assert len(apply_subtree_filter(datastore, flt, lookup=lambda p, t, m: [copied[1]])) == 0


def test_lookup_answer_with_another_tag_is_ignored() -> None:
    data = parse(
        data_reply(
            '<users xmlns="urn:u"><user><name>wilma</name></user>'
            "<admin><name>fred</name></admin></users>"
        )
    )
    admin = data[0][1]
    flt = subtree('<users xmlns="urn:u"><user><name>fred</name></user></users>')
    assert len(apply_subtree_filter(data, flt)) == 0
    for answer in ([admin], [*data[0]]):
        assert len(apply_subtree_filter(data, flt, lookup=_answering(answer))) == 0


def _answering(answer: Entries) -> Lookup:
    """A lookup that always gives ``answer``."""
    return lambda parent, tag, matches: answer


def test_lookup_answer_still_needs_the_attributes(datastore: etree._Element) -> None:
    interfaces = datastore.find(f"{{{STATS}}}top/{{{STATS}}}interfaces")
    assert interfaces is not None
    index = FakeIndex(superset=True)
    flt = subtree(
        STATS_PATH.format(
            '<t:interface t:ifName="eth0"><t:ifInOctets>1000</t:ifInOctets></t:interface>'
        )
    )
    assert len(apply_subtree_filter(datastore, flt, lookup=index)) == 0  # 1000 is eth1's
    assert [call[1:] for call in index.calls] == [
        (f"{{{STATS}}}interface", {f"{{{STATS}}}ifInOctets": "1000"})
    ]


@pytest.mark.parametrize(
    "filter_body",
    [
        pytest.param(
            '<top xmlns=""><users><user><name>fred</name></user></users></top>', id="wildcard"
        ),
        pytest.param(
            f'<top xmlns="{CFG}"><users><user><name xmlns="">fred</name></user></users></top>',
            id="wildcard-content-match",
        ),
        pytest.param(USERS_PATH.format("<name>fred</name><name>root</name>"), id="same-leaf-twice"),
        pytest.param(
            f'<top xmlns="{CFG}" xmlns:c="{CFG}"><users><user><type>c:admin</type></user>'
            "</users></top>",
            id="qname-value",
        ),
        pytest.param(USERS_PATH.format("<type/>"), id="no-content-match"),
        pytest.param(f'<top xmlns="{CFG}"><users/></top>', id="selection-only"),
    ],
)
def test_lookup_is_not_asked_what_it_cannot_answer(
    datastore: etree._Element, filter_body: str
) -> None:
    index = FakeIndex()
    flt = subtree(filter_body)
    expected = etree.tostring(apply_subtree_filter(datastore, flt))
    assert etree.tostring(apply_subtree_filter(datastore, flt, lookup=index)) == expected
    assert index.calls == []


def test_lookup_is_not_used_by_xpath_filters(datastore: etree._Element) -> None:
    index = FakeIndex()
    flt = parse(
        f'<filter xmlns="{NS_NC}" xmlns:t="{CFG}" type="xpath" '
        "select=\"/t:top/t:users/t:user[t:name='fred']\"/>"
    )
    assert_reply(
        apply_filter(datastore, flt, lookup=index),
        data_reply(f'<top xmlns="{CFG}"><users>{USER_FRED}</users></top>'),
    )
    assert index.calls == []


def test_lookup_picks_one_entry_of_a_long_list_without_scanning() -> None:
    data = _scale_datastore(5_000)
    table = data[0][0]
    by_id = {str(entry[0].text): entry for entry in table}
    calls: list[Matches] = []

    def key_index(
        parent: etree._Element, tag: str, matches: Mapping[str, str]
    ) -> list[etree._Element] | None:
        calls.append(dict(matches))
        if parent is not table:
            return None
        entry = by_id.get(matches.get("{urn:example:scale}id", ""))
        return [] if entry is None else [entry]

    flt = subtree(
        '<top xmlns="urn:example:scale"><entries><entry><id>4321</id><value/></entry>'
        "</entries></top>"
    )
    assert_reply(
        apply_subtree_filter(data, flt, lookup=key_index),
        data_reply(
            '<top xmlns="urn:example:scale"><entries><entry><id>4321</id>'
            "<value>value-4321</value></entry></entries></top>"
        ),
    )
    assert calls == [{"{urn:example:scale}id": "4321"}]
    # Where the hook's answer differs from the data, its answer wins: nothing was scanned.
    by_id["4321"] = table[7]
    result = apply_subtree_filter(data, flt, lookup=key_index)
    assert len(result) == 0


# ------------------------------------------------------------ XPath (sec. 8.9)

XPATH_NS = {"t": CFG, "s": STATS}


def xpath(data: etree._Element, select: str, *, keys_of: KeysOf | None = None) -> etree._Element:
    """Run an XPath filter with the t:/s: prefixes of the tests."""
    return apply_xpath_filter(data, select, XPATH_NS, keys_of=keys_of)


def test_xpath_rfc6241_8_9_example_key_predicate(datastore: etree._Element) -> None:
    # RFC 6241 sec. 8.9.5.1 prints an abbreviated entry; the selected node's whole
    # subtree is returned.
    flt = parse(
        f'<filter xmlns="{NS_NC}" xmlns:t="{CFG}" type="xpath" '
        "select=\"/t:top/t:users/t:user[t:name='fred']\"/>"
    )
    assert_reply(
        apply_filter(datastore, flt),
        data_reply(f'<top xmlns="{CFG}"><users>{USER_FRED}</users></top>'),
    )


def test_xpath_union(datastore: etree._Element) -> None:
    result = xpath(
        datastore,
        "/t:top/t:users/t:user[t:name='barney']/t:type | /s:top/s:interfaces/s:interface"
        "[@s:ifName='eth0']",
    )
    assert_reply(
        result,
        data_reply(
            f'<top xmlns="{CFG}"><users><user><type>admin</type></user></users></top>'
            f'<t:top xmlns:t="{STATS}"><t:interfaces><t:interface t:ifName="eth0">'
            "<t:ifInOctets>45621</t:ifInOctets><t:ifOutOctets>774344</t:ifOutOctets>"
            "</t:interface></t:interfaces></t:top>"
        ),
    )


def test_xpath_descendant(datastore: etree._Element) -> None:
    assert_reply(
        xpath(datastore, "//t:id"),
        data_reply(
            f'<top xmlns="{CFG}"><users>'
            "<user><company-info><id>1</id></company-info></user>"
            "<user><company-info><id>2</id></company-info></user>"
            "<user><company-info><id>3</id></company-info></user></users></top>"
        ),
    )


def test_xpath_keys_of_ancestor_list_entries(datastore: etree._Element) -> None:
    assert_reply(
        xpath(datastore, "//t:id", keys_of=keys_of),
        data_reply(
            f'<top xmlns="{CFG}"><users>'
            "<user><name>root</name><company-info><id>1</id></company-info></user>"
            "<user><name>fred</name><company-info><id>2</id></company-info></user>"
            "<user><name>barney</name><company-info><id>3</id></company-info></user>"
            "</users></top>"
        ),
    )


def test_xpath_relative_path_starts_at_root(datastore: etree._Element) -> None:
    assert_reply(
        xpath(datastore, "t:top/t:groups"),
        data_reply(f'<top xmlns="{CFG}"><groups><group><name>admin</name></group></groups></top>'),
    )


def test_xpath_absolute_path_inside_predicate(datastore: etree._Element) -> None:
    result = xpath(
        datastore, "/t:top/t:users/t:user[t:type = /t:top/t:groups/t:group/t:name]/t:name"
    )
    assert [e.text for e in result.iter(f"{{{CFG}}}name")] == ["fred", "barney"]


@pytest.mark.parametrize("select", ["/", ".", "/t:top/..", "/*/.."])
def test_xpath_root_selects_everything(datastore: etree._Element, select: str) -> None:
    assert shape(xpath(datastore, select)) == shape(datastore)


def test_xpath_top_level_wildcard(datastore: etree._Element) -> None:
    result = xpath(datastore, "/*")
    assert shape(result) == shape(datastore)
    assert len(xpath(datastore, "/*[false()]")) == 0


def test_xpath_text_and_attribute_select_their_element(datastore: etree._Element) -> None:
    assert_reply(
        xpath(datastore, "/t:top/t:users/t:user/t:name[. = 'root']/text()"),
        data_reply(f'<top xmlns="{CFG}"><users><user><name>root</name></user></users></top>'),
    )
    result = xpath(datastore, "//s:interface/@s:ifName[. = 'eth1']")
    assert [e.get(f"{{{STATS}}}ifName") for e in result.iter(f"{{{STATS}}}interface")] == ["eth1"]
    assert len(list(result.iter(f"{{{STATS}}}ifInOctets"))) == 1


def test_xpath_empty_node_set(datastore: etree._Element) -> None:
    result = xpath(datastore, "/t:top/t:users/t:user[t:name='wilma']")
    assert len(result) == 0 and result.tag == f"{{{NS_NC}}}data"


def test_xpath_default_namespace_of_filter_is_ignored(datastore: etree._Element) -> None:
    filter_nsmap: dict[str | None, str] = {None: CFG}
    result = apply_xpath_filter(datastore, "/top", filter_nsmap)
    assert len(result) == 0


@pytest.mark.parametrize(
    ("select", "kind"),
    [
        ("count(/t:top/t:users/t:user)", "a number"),
        ("/t:top/t:users/t:user/t:name = 'fred'", "a boolean"),
        ("string(/t:top/t:users/t:user/t:name)", "a string"),
        ("'/t:top'", "a string"),
    ],
)
def test_xpath_non_node_set_is_invalid_value(
    datastore: etree._Element, select: str, kind: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        xpath(datastore, select)
    error = caught.value
    assert error.tag is ErrorTag.INVALID_VALUE
    assert error.type is ErrorType.PROTOCOL
    assert select in error.message and kind in error.message and "node-set" in error.message


@pytest.mark.parametrize("select", ["/t:top/t:users[", "/t:top/", "", "/t:top#x", "t:top t:x"])
def test_xpath_syntax_error(datastore: etree._Element, select: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        xpath(datastore, select)
    assert caught.value.type is ErrorType.PROTOCOL
    assert repr(select) in caught.value.message


def test_xpath_unknown_prefix(datastore: etree._Element) -> None:
    with pytest.raises(InvalidValueError, match=r"prefix 'x' is not declared") as caught:
        xpath(datastore, "/t:top/x:users")
    assert "/t:top/x:users" in caught.value.message


@pytest.mark.parametrize("select", ["$root/t:top", "/t:top[t:users = $x]"])
def test_xpath_variables_are_refused(datastore: etree._Element, select: str) -> None:
    with pytest.raises(InvalidValueError, match="variable"):
        xpath(datastore, select)


def test_xpath_unknown_function(datastore: etree._Element) -> None:
    with pytest.raises(InvalidValueError, match="Unregistered function"):
        xpath(datastore, "/t:top[current()]")


def test_xpath_on_nested_data_ignores_nodes_outside_it(datastore: etree._Element) -> None:
    reply = parse(f'<rpc-reply xmlns="{NS_NC}"/>')
    reply.append(etree.fromstring(etree.tostring(datastore)))
    data = reply[0]
    assert shape(xpath(data, "/t:top/t:users/../..")) == shape(data)
    assert len(xpath(data, "/..")) == 0
    assert_reply(
        xpath(data, "/t:top/t:groups"),
        data_reply(f'<top xmlns="{CFG}"><groups><group><name>admin</name></group></groups></top>'),
    )


@pytest.mark.parametrize(
    ("expression", "anchored"),
    [
        ("/t:a", "$root/t:a"),
        ("//t:a", "$root//t:a"),
        ("/", "$root"),
        ("/ | /t:a", "$root | $root/t:a"),
        ("t:a/t:b//t:c", "t:a/t:b//t:c"),
        ("/t:a[/t:b = '/x']/t:c", "$root/t:a[$root/t:b = '/x']/t:c"),
        ("count(/t:a) > 1 or //t:b", "count($root/t:a) > 1 or $root//t:b"),
        ("2 * /t:a", "2 * $root/t:a"),
        ("/*/t:a", "$root/*/t:a"),
        ("*/t:a", "*/t:a"),
        ("/@t:x", "$root/@t:x"),
        ("/child::t:a/..", "$root/child::t:a/.."),
        ("/node()", "$root/node()"),
        ("(/t:a)[1]/t:b", "($root/t:a)[1]/t:b"),
        ("t:a[t:b-c - 1 = /t:d]", "t:a[t:b-c - 1 = $root/t:d]"),
        ("/t:and/t:div div /t:mod", "$root/t:and/t:div div $root/t:mod"),
        ("/and", "$root/and"),
        ('"a/b"', '"a/b"'),
        (".//t:a", ".//t:a"),
    ],
)
def test_anchor_absolute_paths(expression: str, anchored: str) -> None:
    assert anchor_absolute_paths(expression, {"t"}) == anchored


# ------------------------------------------------------------- apply_filter dispatch


def test_apply_filter_defaults_to_subtree(datastore: etree._Element) -> None:
    flt = subtree(f'<top xmlns="{CFG}"><users/></top>', attributes="")
    assert_reply(apply_filter(datastore, flt), data_reply(ALL_USERS))
    assert FilterType("subtree") is FilterType.SUBTREE


def test_apply_filter_xpath_needs_select(datastore: etree._Element) -> None:
    with pytest.raises(MissingAttributeError) as caught:
        apply_filter(datastore, subtree("", attributes='type="xpath"'))
    assert caught.value.type is ErrorType.PROTOCOL
    assert caught.value.info == {"bad-attribute": "select", "bad-element": "filter"}


@pytest.mark.parametrize("xpath_enabled", [True, False])
def test_apply_filter_rejects_unknown_type(datastore: etree._Element, xpath_enabled: bool) -> None:
    with pytest.raises(BadAttributeError) as caught:
        apply_filter(
            datastore, subtree("", attributes='type="jsonpath"'), xpath_enabled=xpath_enabled
        )
    assert caught.value.info == {"bad-attribute": "type", "bad-element": "filter"}
    assert caught.value.type is ErrorType.PROTOCOL


def test_apply_filter_xpath_when_not_advertised(datastore: etree._Element) -> None:
    flt = subtree("", attributes='type="xpath" select="/"')
    with pytest.raises(BadAttributeError, match="'subtree'"):
        apply_filter(datastore, flt, xpath_enabled=False)
    assert shape(apply_filter(datastore, flt)) == shape(datastore)


# ---------------------------------------------------------------- properties, scale

NAMES = ["root", "fred", "barney", "wilma"]
FIELDS = ["type", "full-name", "company-info"]


@st.composite
def user_filters(draw: st.DrawFn) -> str:
    """A random <users> filter of containment, selection and content match nodes."""
    entries = []
    for _ in range(draw(st.integers(0, 3))):
        parts = []
        if draw(st.booleans()):
            parts.append(f"<name>{draw(st.sampled_from(NAMES))}</name>")
        if draw(st.booleans()):
            parts.append(f"<type>{draw(st.sampled_from(['admin', 'superuser']))}</type>")
        for field in draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True)):
            parts.append(
                "<company-info><dept/></company-info>"
                if field == "company-info" and draw(st.booleans())
                else f"<{field}/>"
            )
        entries.append(f"<user>{''.join(parts)}</user>")
    return f'<top xmlns="{CFG}"><users>{"".join(entries)}</users></top>'


def _is_sub_shape(small: Shape, big: Shape) -> bool:
    """Every element of ``small`` exists, in order, at the same place in ``big``."""
    if small[:3] != big[:3]:
        return False
    remaining = iter(big[3])
    return all(any(_is_sub_shape(child, other) for other in remaining) for child in small[3])


@settings(max_examples=150, deadline=None)
@given(body=user_filters())
def test_subtree_output_is_a_subset_and_filtering_is_idempotent(body: str) -> None:
    data = etree.parse(str(DATA_DIR / "rfc6241-datastore.xml")).getroot()
    flt = subtree(body)
    once = apply_subtree_filter(data, flt)
    assert _is_sub_shape(shape(once), shape(data))
    assert shape(apply_subtree_filter(once, flt)) == shape(once)


def _scale_datastore(entries: int) -> etree._Element:
    data = etree.Element(f"{{{NS_NC}}}data", nsmap={None: NS_NC})
    top = etree.SubElement(data, "{urn:example:scale}top", nsmap={None: "urn:example:scale"})
    table = etree.SubElement(top, "{urn:example:scale}entries")
    for number in range(entries):
        entry = etree.SubElement(table, "{urn:example:scale}entry")
        etree.SubElement(entry, "{urn:example:scale}id").text = str(number)
        etree.SubElement(entry, "{urn:example:scale}value").text = f"value-{number}"
    return data


@pytest.mark.slow
def test_one_key_out_of_100000_entries() -> None:
    data = _scale_datastore(100_000)
    expected = data_reply(
        '<top xmlns="urn:example:scale"><entries><entry><id>73456</id>'
        "<value>value-73456</value></entry></entries></top>"
    )
    flt = subtree(
        '<top xmlns="urn:example:scale"><entries><entry><id>73456</id></entry></entries></top>'
    )
    assert_reply(apply_subtree_filter(data, flt), expected)
    selected = apply_xpath_filter(
        data, "/s:top/s:entries/s:entry[s:id='73456']", {"s": "urn:example:scale"}
    )
    assert_reply(selected, expected)
