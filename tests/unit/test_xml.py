"""The hardened XML parser and the element helpers of nvo3_netconf.protocol.xml."""

from __future__ import annotations

import pytest
from lxml import etree

from nvo3_netconf.constants import NS_NC
from nvo3_netconf.errors import MalformedMessageError
from nvo3_netconf.protocol.xml import (
    DEFAULT_MAX_DEPTH,
    child_text,
    children,
    element,
    find_child,
    local_name,
    namespace_of,
    parse_xml,
    qname,
    sub,
    to_bytes,
)

LOL = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


def nest(depth: int) -> bytes:
    return b"<a>" * depth + b"</a>" * depth


# --- refused input --------------------------------------------------------------------


def test_billion_laughs_refused() -> None:
    with pytest.raises(MalformedMessageError) as info:
        parse_xml(LOL)
    assert "lollol" not in info.value.message


def test_billion_laughs_small_variant_refused() -> None:
    # Small enough to pass libxml2's amplification guard: caught as a DTD.
    data = b'<!DOCTYPE a [<!ENTITY x "xx">]><a>&x;&x;</a>'
    with pytest.raises(MalformedMessageError, match="document type declaration"):
        parse_xml(data)


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<foo>&xxe;</foo>",
        b'<!DOCTYPE foo [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><foo/>',
        b'<!DOCTYPE foo SYSTEM "file:///etc/passwd"><foo/>',
        b'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]><foo>&xxe;</foo>',
        b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1">'
        b'<get><filter xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="file:///etc/passwd" parse="text"/></filter></get></rpc>',
    ],
)
def test_external_entities_never_read(data: bytes) -> None:
    try:
        root = parse_xml(data)
    except MalformedMessageError as exc:
        assert "root:" not in exc.message
    else:  # XInclude is not processed: the element stays as it was
        assert b"root:" not in to_bytes(root)


def test_xxe_content_never_appears() -> None:
    data = b'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>'
    with pytest.raises(MalformedMessageError, match="document type declaration") as info:
        parse_xml(data)
    assert "root:" not in str(info.value)


@pytest.mark.parametrize(
    "data",
    [b"<!DOCTYPE rpc><rpc/>", b'<?xml version="1.0"?>\n<!DOCTYPE rpc [<!ELEMENT rpc ANY>]><rpc/>'],
)
def test_dtd_refused(data: bytes) -> None:
    with pytest.raises(MalformedMessageError, match=r"RFC 6241 sec\. 3\.2"):
        parse_xml(data)


def test_undefined_entity_refused() -> None:
    with pytest.raises(MalformedMessageError, match="not well-formed"):
        parse_xml(b"<a>&foo;</a>")


def test_depth_limit() -> None:
    assert DEFAULT_MAX_DEPTH == 64
    assert local_name(parse_xml(nest(64))) == "a"
    with pytest.raises(MalformedMessageError, match="deeper than 64 levels"):
        parse_xml(nest(65))
    with pytest.raises(MalformedMessageError):
        parse_xml(nest(10_000))  # libxml2's own limit, before any tree is built


def test_depth_limit_configurable() -> None:
    parse_xml(nest(5), max_depth=5)
    with pytest.raises(MalformedMessageError, match="deeper than 4 levels"):
        parse_xml(nest(5), max_depth=4)
    parse_xml(nest(200), max_depth=256)


def test_deep_branch_in_wide_document() -> None:
    data = b"<r>" + b"<x/>" * 1000 + nest(64) + b"</r>"
    with pytest.raises(MalformedMessageError, match="deeper"):
        parse_xml(data)


@pytest.mark.parametrize(
    "data",
    [
        b"<a>\xff</a>",  # invalid UTF-8
        b"<a>\xc3</a>",  # truncated sequence
        b"<a>\xed\xa0\x80</a>",  # encoded surrogate
        b'<a x="\xe9"/>',  # Latin-1 byte in an attribute
        b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>',  # not UTF-8 at all
        "<a/>".encode("utf-16"),
    ],
)
def test_invalid_utf8_refused(data: bytes) -> None:
    with pytest.raises(MalformedMessageError, match="not well-formed UTF-8 XML"):
        parse_xml(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"<a>", b"<a></b>", b"text", b"<a/><b/>", b"<a>\x00</a>", b"<a x='1' x='2'/>"],
)
def test_not_well_formed_refused(data: bytes) -> None:
    with pytest.raises(MalformedMessageError) as info:
        parse_xml(data)
    assert info.value.tag.value == "malformed-message"
    assert info.value.type.value == "rpc"
    assert info.value.message.endswith(".")


def test_error_message_is_bounded() -> None:
    name = b"n" * 5000
    with pytest.raises(MalformedMessageError) as info:
        parse_xml(b"<" + name + b"></x>")
    assert len(info.value.message) < 400


def test_error_message_names_line_and_column() -> None:
    with pytest.raises(MalformedMessageError, match=r"line 2, column \d+"):
        parse_xml(b"<a>\n<b></c></a>")


# --- accepted input -------------------------------------------------------------------


def test_utf8_and_bom_accepted() -> None:
    assert parse_xml("<a>é€😀</a>".encode()).text == "é€😀"
    assert parse_xml(b"\xef\xbb\xbf<a/>").tag == "a"
    assert parse_xml(b'<?xml version="1.0" encoding="UTF-8"?><a/>').tag == "a"


def test_leading_whitespace_ignored() -> None:
    assert parse_xml(b'\n  <?xml version="1.0"?><a/>').tag == "a"


def test_predefined_and_character_references() -> None:
    assert parse_xml(b"<a>&lt;&amp;&#233;&#x20AC;</a>").text == "<&é€"


def test_blank_text_between_elements_dropped_leaf_text_kept() -> None:
    root = parse_xml(b"<a>\n  <b>  </b>\n  <c> x </c>\n  <d/>\n</a>")
    assert to_bytes(root) == b"<a><b>  </b><c> x </c><d/></a>"
    assert root.text is None


def test_comments_and_processing_instructions_dropped() -> None:
    root = parse_xml(b"<a><!-- note --><?pi x?><b>1<!--c-->2</b></a>")
    assert to_bytes(root) == b"<a><b>12</b></a>"


def test_cdata_becomes_text() -> None:
    assert parse_xml(b"<a><![CDATA[<x>&]]></a>").text == "<x>&"


def test_flat_12_mb_document_accepted() -> None:
    """A 100,000-entry edit is about 12 MB; libxml2's non-huge limits must not refuse it."""
    entry = (
        b"<vm><name>vm-%06d</name><vnid>%d</vnid><mac>02:00:00:00:00:01</mac>"
        b"<ip>192.0.2.1</ip><state>running</state><profile>default</profile></vm>"
    )
    items = b"".join(entry % (i, i) for i in range(100_000))
    data = (
        b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1">'
        b"<edit-config><target><running/></target><config>"
        b'<vms xmlns="urn:example:vms">' + items + b"</vms></config></edit-config></rpc>"
    )
    assert len(data) > 12_000_000
    root = parse_xml(data)
    vms = root[0][1][0]
    assert len(vms) == 100_000
    assert child_text(vms[99_999], "urn:example:vms", "name") == "vm-099999"


def test_large_text_node_within_limit() -> None:
    assert len(parse_xml(b"<a>" + b"x" * 5_000_000 + b"</a>").text or "") == 5_000_000


def test_each_parse_uses_a_new_parser() -> None:
    first = parse_xml(b"<a/>")
    second = parse_xml(b"<b/>")
    assert first.getroottree() is not second.getroottree()


# --- helpers --------------------------------------------------------------------------


def test_qname_and_names() -> None:
    assert qname(NS_NC, "rpc") == f"{{{NS_NC}}}rpc"
    assert qname(None, "rpc") == "rpc"
    assert qname("", "rpc") == "rpc"
    el = etree.Element(qname("urn:x", "leaf"))
    assert local_name(el) == "leaf"
    assert namespace_of(el) == "urn:x"
    plain = etree.Element("plain")
    assert local_name(plain) == "plain"
    assert namespace_of(plain) is None
    assert local_name(etree.Comment("c")) == ""


def test_element_sub_and_to_bytes() -> None:
    root = element(NS_NC, "rpc")
    get = sub(root, NS_NC, "get")
    sub(get, "urn:x", "leaf", "é<&")
    sub(get, "urn:x", "empty")
    out = to_bytes(root)
    assert out == (
        b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get>'
        b'<leaf xmlns="urn:x">\xc3\xa9&lt;&amp;</leaf><empty xmlns="urn:x"/></get></rpc>'
    )
    assert parse_xml(out)[0][0].tag == "{urn:x}leaf"
    assert to_bytes(root, xml_declaration=True).startswith(
        b"<?xml version='1.0' encoding='UTF-8'?>"
    )


def test_element_nsmap_and_tail() -> None:
    root = element("urn:x", "top", nsmap={"x": "urn:x"})
    assert to_bytes(root) == b'<x:top xmlns:x="urn:x"/>'
    assert element(None, "bare", "t").text == "t"
    parent = etree.Element("p")
    child = sub(parent, None, "c")
    child.tail = "tail"
    assert to_bytes(child) == b"<c/>"
    inner = sub(root, "urn:x", "inner")
    assert to_bytes(root) == b'<x:top xmlns:x="urn:x"><x:inner/></x:top>'
    with pytest.raises(ValueError, match="un-namespaced"):
        sub(element(NS_NC, "rpc"), None, "bare")
    assert inner.getparent() is root


def test_children_in_namespace() -> None:
    root = parse_xml(b'<r xmlns="urn:a" xmlns:b="urn:b"><x/><b:y/><z>1</z><b:w/></r>')
    assert [local_name(c) for c in children(root, "urn:a")] == ["x", "z"]
    assert [local_name(c) for c in children(root, "urn:b")] == ["y", "w"]
    assert list(children(root, "urn:none")) == []
    assert find_child(root, "urn:b", "w") is not None
    assert find_child(root, "urn:a", "w") is None
    assert child_text(root, "urn:a", "z") == "1"
    assert child_text(root, "urn:a", "x") == ""
    assert child_text(root, "urn:a", "missing") is None
