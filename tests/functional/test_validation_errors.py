"""Validation errors over SSH: error-tag, error-app-tag, error-path and error-info.

RFC 6241 sec. 4.3: the error-path is an absolute XPath expression; as an XML
instance-identifier (RFC 7950 sec. 9.13.2) every node name, key names in predicates
included, carries a prefix declared on the ``<error-path>`` element. RFC 7950 sec. 15 sets
the error-tag, error-app-tag, error-path and error-info of each constraint.

Each case is refused twice: by an ``<edit-config>`` of running (the incremental
validator) and by a ``<validate>`` of a candidate holding the same edit (made with
test-option ``set``, which defers validation: libyang validates the whole datastore).
Both errors must be the same, and the error-path, evaluated with the prefixes declared on
the element, selects the node at fault in the candidate's ``<get-config>``: the datastore
the edit would give. Every test runs under base:1.1 and base:1.0 framing (``connect``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError as NcRPCError

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
YANG = "urn:ietf:params:xml:ns:yang:1"
T = "urn:nvo3-netconf:yang:nvo3-test"
C = "urn:nvo3-netconf:yang:nvo3-test-constraints"
NT = {"nt": T}
NTC = {"ntc": C}
PREFIX = re.compile(r"([A-Za-z_][\w.-]*):(?=[A-Za-z_])")


def config(body: str) -> str:
    return f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>'


def top(inner: str) -> str:
    return f'<top xmlns="{T}">{inner}</top>'


def item(name: str, number: int | None = 1, extra: str = "<small/>") -> str:
    value = "" if number is None else f"<number>{number}</number>"
    return f"<item><name>{name}</name>{value}{extra}</item>"


def tenant(name: str, inner: str = "") -> str:
    return f'<tenant xmlns="{C}"><name>{name}</name>{inner}</tenant>'


POOL = (f'<pool xmlns="{C}"><low>1</low><high>5</high><reserved>2</reserved><random/>'
        "<owner><name>o</name></owner></pool>")


def used_prefixes(text: str) -> set[str]:
    """The prefixes of a path, outside its quoted values."""
    return set(PREFIX.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "", text)))


def declared(element: etree._Element) -> dict[str, str]:
    """The namespace declarations made on ``element`` itself (not inherited)."""
    parent = element.getparent()
    inherited = parent.nsmap if parent is not None else {}
    return {p: ns for p, ns in element.nsmap.items()
            if p is not None and inherited.get(p) != ns}


def select(data: etree._Element, path: str, namespaces: dict[str, str]) -> list[Any]:
    """``path`` evaluated with the ``<data>`` children as the top-level nodes."""
    found = etree.XPath("$root" + path, namespaces=namespaces)(data, root=data)
    assert isinstance(found, list)
    return found


class Reported:
    """What one ``<rpc-error>`` says, read from its XML."""

    def __init__(self, error: NcRPCError) -> None:
        raw = error.xml
        assert raw.tag == f"{{{NC}}}rpc-error"
        self.tag = raw.findtext(f"{{{NC}}}error-tag")
        self.app_tag = raw.findtext(f"{{{NC}}}error-app-tag")
        path = raw.find(f"{{{NC}}}error-path")
        self.path: str | None = None
        self.namespaces: dict[str, str] = {}
        if path is not None:
            self.path = (path.text or "").strip()
            own = declared(path)
            used = used_prefixes(self.path)
            assert used <= set(own), f"undeclared prefixes in {self.path}: {used - set(own)}"
            self.namespaces = {p: own[p] for p in sorted(used)}
        self.info: list[tuple[str, str, dict[str, str]]] = []
        info = raw.find(f"{{{NC}}}error-info")
        for child in info if info is not None else ():
            if etree.QName(child).namespace == NC:
                continue
            text = (child.text or "").strip()
            namespaces = {p: child.nsmap[p] for p in sorted(used_prefixes(text))}
            self.info.append((f"{{{etree.QName(child).namespace}}}{etree.QName(child).localname}",
                              text, namespaces))

    def key(self) -> tuple[Any, ...]:
        return self.tag, self.app_tag, self.path, self.namespaces, self.info


def non_unique(namespaces: dict[str, str], *paths: str) -> list[tuple[str, str, dict[str, str]]]:
    return [(f"{{{YANG}}}non-unique", p, namespaces) for p in paths]


def missing_choice(name: str) -> list[tuple[str, str, dict[str, str]]]:
    return [(f"{{{YANG}}}missing-choice", name, {})]


# (id, setup in running, edit, error-tag, error-app-tag, error-path, namespaces, error-info,
#  whether the path selects a stored node)
CASES = [
    ("invalid-value", (), top(item("b", 0)), "invalid-value", None,
     "/nt:top/nt:item[nt:name='b']/nt:number", NT, [], True),
    ("invalid-value-quote-in-key", (), top(item("it's", 0)), "invalid-value", None,
     "/nt:top/nt:item[nt:name=\"it's\"]/nt:number", NT, [], True),
    ("invalid-value-both-quotes-in-key", (), top(item("it's \"x\"", 0)), "invalid-value",
     None, "/nt:top/nt:item[nt:name=concat('it', \"'\", 's \"x\"')]/nt:number", NT, [], True),
    ("invalid-value-in-augment", (), top(f'<mode>slow</mode><slow-factor xmlns="{C}">900'
                                         "</slow-factor>"),
     "invalid-value", None, "/nt:top/ntc:slow-factor", {"nt": T, "ntc": C}, [], True),
    ("must-violation", (), POOL.replace("<high>5</high>", "<high>0</high>"),
     "operation-failed", "must-violation", "/ntc:pool/ntc:high", NTC, [], True),
    ("data-not-unique", (tenant("a", "<vlan>5</vlan>"),), tenant("b", "<vlan>5</vlan>"),
     "operation-failed", "data-not-unique", "/ntc:tenant[ntc:name='b']", NTC,
     non_unique(NTC, "/ntc:tenant[ntc:name='b']/ntc:vlan"), True),
    ("data-not-unique-two-leaves", (tenant("a", "<site><region>r</region><zone>z</zone>"
                                            "</site>"),),
     tenant("b'c", "<site><region>r</region><zone>z</zone></site>"), "operation-failed",
     "data-not-unique", "/ntc:tenant[ntc:name=\"b'c\"]", NTC,
     non_unique(NTC, "/ntc:tenant[ntc:name=\"b'c\"]/ntc:site/ntc:region",
                "/ntc:tenant[ntc:name=\"b'c\"]/ntc:site/ntc:zone"), True),
    ("instance-required-leafref", (), top("<ref><id>1</id><item>zz</item></ref>"),
     "data-missing", "instance-required", "/nt:top/nt:ref[nt:id='1']/nt:item", NT, [], True),
    ("instance-required-instance-identifier", (tenant("a"),),
     f'<reservations xmlns="{C}" xmlns:c="{C}"><slot><tenant>a</tenant><index>1</index>'
     "<pointer>/c:tenant[c:name='b']</pointer></slot></reservations>", "data-missing",
     "instance-required",
     "/ntc:reservations/ntc:slot[ntc:tenant='a'][ntc:index='1']/ntc:pointer", NTC, [], True),
    ("missing-choice", (), top(item("a", extra="")), "data-missing", "missing-choice",
     "/nt:top/nt:item[nt:name='a']", NT, missing_choice("kind"), True),
    ("missing-choice-in-presence-container", (), POOL.replace("<random/>", ""),
     "data-missing", "missing-choice", "/ntc:pool", NTC, missing_choice("allocation"), True),
    ("too-many-elements", tuple(tenant(f"t{i}") for i in range(6)), tenant("t6"),
     "operation-failed", "too-many-elements", "/ntc:tenant", NTC, [], True),
    ("too-many-elements-leaf-list", (POOL,), f'<pool xmlns="{C}"><reserved>3</reserved>'
     "<reserved>4</reserved><reserved>5</reserved></pool>", "operation-failed",
     "too-many-elements", "/ntc:pool/ntc:reserved", NTC, [], True),
    ("too-few-elements", (), f'<quorum xmlns="{C}"><voter>v</voter></quorum>',
     "operation-failed", "too-few-elements", "/ntc:quorum/ntc:voter", NTC, [], True),
    ("too-few-elements-none-left", (POOL,), f'<pool xmlns="{C}"><reserved '
     'nc:operation="delete">2</reserved></pool>', "operation-failed", "too-few-elements",
     "/ntc:pool/ntc:reserved", NTC, [], False),
    ("mandatory-leaf", (), top(item("a", None)), "data-missing", None,
     "/nt:top/nt:item[nt:name='a']/nt:number", NT, [], False),
    ("mandatory-leaf-in-container-in-presence-container", (),
     f'<pool xmlns="{C}"><low>1</low><high>5</high><reserved>1</reserved><sequential/></pool>',
     "data-missing", None, "/ntc:pool/ntc:owner/ntc:name", NTC, [], False),
    ("mandatory-leaf-at-top-level", (), f'<strict-mode xmlns="{C}">true</strict-mode>',
     "data-missing", None, "/ntc:operator", NTC, [], False),
    ("mandatory-leaf-in-active-case", (f'<link xmlns="{C}"><id>1</id><wavelength>1310'
                                       "</wavelength></link>",),
     f'<link xmlns="{C}"><id>2</id><pairs>4</pairs></link>', "data-missing", None,
     "/ntc:link[ntc:id='2']/ntc:gauge", NTC, [], False),
]


def refuse(call: Callable[[], object]) -> Reported:
    with pytest.raises(NcRPCError) as info:
        call()
    return Reported(info.value)


@pytest.mark.parametrize(("setup", "body", "tag", "app_tag", "path", "namespaces", "info",
                          "stored"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_validation_error_names_the_node_at_fault(
    connect: Callable[..., Any], setup: tuple[str, ...], body: str, tag: str,
    app_tag: str | None, path: str, namespaces: dict[str, str],
    info: list[tuple[str, str, dict[str, str]]], stored: bool,
) -> None:
    m = connect()
    for edit in setup:
        m.edit_config(target="running", config=config(edit))
    before = m.get_config(source="running").data_xml
    expected = (tag, app_tag, path, namespaces, info)

    # the incremental validator refuses the edit of running
    assert refuse(lambda: m.edit_config(target="running", config=config(body))).key() == \
        expected
    assert m.get_config(source="running").data_xml == before

    # libyang's full validation refuses the candidate holding the same edit
    m.edit_config(target="candidate", config=config(body), test_option="set")
    assert refuse(lambda: m.validate(source="candidate")).key() == expected
    assert refuse(lambda: m.commit()).key() == expected

    # the error-path and each non-unique leaf select nodes of the datastore the edit gives
    data = m.get_config(source="candidate").data_ele
    selected = select(data, path, namespaces)
    if stored:
        assert len(selected) == 1 or app_tag == "too-many-elements"
        if app_tag == "too-many-elements":  # the list as a whole: every entry
            assert len(selected) > 1
    else:
        assert selected == []
    for _, leaf, prefixes in info:
        if leaf.startswith("/"):
            assert len(select(data, leaf, prefixes)) == 1
    m.discard_changes()


def test_missing_mandatory_leaf_under_a_presence_container_names_the_leaf(connect) -> None:
    """A mandatory leaf in a non-presence container inside a presence container.

    The presence container exists, its non-presence child holding the mandatory leaf does
    not: the error-path names the missing leaf through the implicit container.
    """
    m = connect()
    error = refuse(lambda: m.edit_config(target="running", config=config(
        f'<pool xmlns="{C}"><low>1</low><high>5</high><reserved>1</reserved><sequential/>'
        "</pool>")))
    assert (error.tag, error.app_tag) == ("data-missing", None)
    assert error.path == "/ntc:pool/ntc:owner/ntc:name"
    assert error.namespaces == NTC
    # with the container present but empty, the same
    error = refuse(lambda: m.edit_config(target="running", config=config(
        f'<pool xmlns="{C}"><low>1</low><high>5</high><reserved>1</reserved><sequential/>'
        "<owner/></pool>")))
    assert error.path == "/ntc:pool/ntc:owner/ntc:name"
