"""NETCONF messages: hello, rpc, rpc-reply, rpc-error and notification, parsed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from nvo3_netconf.constants import (
    CAP_BASE_10,
    CAP_BASE_11,
    CAP_CANDIDATE,
    NS_NC,
    NS_NOTIF,
    ErrorSeverity,
    ErrorTag,
    ErrorType,
)
from nvo3_netconf.errors import (
    BadElementError,
    DataMissingError,
    InfoElement,
    InvalidValueError,
    LockDeniedError,
    MissingAttributeError,
    MissingElementError,
    OperationFailedError,
    RPCError,
    UnknownElementError,
    UnknownNamespaceError,
)
from nvo3_netconf.protocol.messages import (
    Hello,
    build_hello,
    build_notification,
    build_rpc,
    build_rpc_error_reply,
    build_rpc_reply,
    parse_hello,
    parse_rpc,
    parse_rpc_error,
    parse_rpc_reply,
    rpc_attributes,
    serialize_content,
)
from nvo3_netconf.protocol.xml import child_text, element, parse_xml, qname, sub

NC = f"{{{NS_NC}}}"
XMLNS = f'xmlns="{NS_NC}"'


def nc(local: str) -> str:
    return qname(NS_NC, local)


def text_of(el: etree._Element, path: str) -> str | None:
    """Text of the first match of an XPath using the nc: prefix."""
    found = el.xpath(path, namespaces={"nc": NS_NC})
    assert isinstance(found, list)
    if not found:
        return None
    first = found[0]
    assert isinstance(first, etree._Element)
    return first.text


# --- hello (RFC 6241 sec. 8.1) --------------------------------------------------------


def test_hello_round_trip_server() -> None:
    data = build_hello([CAP_BASE_10, CAP_BASE_11, CAP_CANDIDATE], session_id=42)
    root = parse_xml(data)
    assert root.tag == nc("hello")
    assert [c.text for c in root.iter(nc("capability"))] == [
        CAP_BASE_10,
        CAP_BASE_11,
        CAP_CANDIDATE,
    ]
    assert text_of(root, "nc:session-id") == "42"
    assert parse_hello(root, from_server=True) == Hello(
        (CAP_BASE_10, CAP_BASE_11, CAP_CANDIDATE), 42
    )


def test_hello_round_trip_client() -> None:
    root = parse_xml(build_hello([CAP_BASE_11]))
    assert root.find(nc("session-id")) is None
    assert parse_hello(root, from_server=False) == Hello((CAP_BASE_11,), None)


def test_hello_capability_whitespace_trimmed() -> None:
    data = f"<hello {XMLNS}><capabilities><capability>\n  {CAP_BASE_11}\n</capability>"
    data += "</capabilities></hello>"
    assert parse_hello(parse_xml(data.encode()), from_server=False).capabilities == (CAP_BASE_11,)


def test_client_hello_with_session_id_refused() -> None:
    root = parse_xml(build_hello([CAP_BASE_11], session_id=5))
    with pytest.raises(UnknownElementError, match="must not contain a <session-id>") as info:
        parse_hello(root, from_server=False)
    assert info.value.info == {"bad-element": "session-id"}


def test_server_hello_without_session_id_refused() -> None:
    with pytest.raises(MissingElementError, match="no <session-id>"):
        parse_hello(parse_xml(build_hello([CAP_BASE_11])), from_server=True)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "4294967296", "", "١"])
def test_server_hello_bad_session_id(value: str) -> None:
    data = f"<hello {XMLNS}><capabilities><capability>{CAP_BASE_11}</capability>"
    data += f"</capabilities><session-id>{value}</session-id></hello>"
    with pytest.raises(BadElementError, match="session-id"):
        parse_hello(parse_xml(data.encode()), from_server=True)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (f"<hello {XMLNS}/>", MissingElementError),
        (f"<hello {XMLNS}><capabilities/></hello>", MissingElementError),
        (
            f"<hello {XMLNS}><capabilities><capability> </capability></capabilities></hello>",
            BadElementError,
        ),
        (
            "<hello><capabilities><capability>x</capability></capabilities></hello>",
            UnknownNamespaceError,
        ),
        (f"<rpc {XMLNS}/>", UnknownElementError),
    ],
)
def test_bad_hello(data: str, error: type[RPCError]) -> None:
    with pytest.raises(error):
        parse_hello(parse_xml(data.encode()), from_server=False)


def test_build_hello_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one capability"):
        build_hello([])
    with pytest.raises(ValueError, match="session-id"):
        build_hello([CAP_BASE_11], session_id=0)
    with pytest.raises(ValueError, match="session-id"):
        build_hello([CAP_BASE_11], session_id=2**32)


# --- rpc (RFC 6241 sec. 4.1) ----------------------------------------------------------


def test_parse_rpc() -> None:
    data = (
        f'<rpc {XMLNS} message-id="101" xmlns:ex="urn:example" ex:user-id="fred">'
        "<get-config><source><running/></source></get-config></rpc>"
    )
    request = parse_rpc(parse_xml(data.encode()))
    assert request.message_id == "101"
    assert dict(request.attributes) == {"message-id": "101", "{urn:example}user-id": "fred"}
    assert request.name == "get-config"
    assert request.namespace == NS_NC
    assert request.operation.tag == nc("get-config")


def test_parse_rpc_operation_in_other_namespace() -> None:
    data = f'<rpc {XMLNS} message-id="a b"><vm-start xmlns="urn:nvo3"/></rpc>'
    request = parse_rpc(parse_xml(data.encode()))
    assert (request.message_id, request.name, request.namespace) == ("a b", "vm-start", "urn:nvo3")


def test_build_rpc_round_trip() -> None:
    op = element("urn:nvo3", "vm-start")
    sub(op, "urn:nvo3", "name", "vm1")
    data = build_rpc("7", op, attributes={"{urn:example}trace": "on"})
    request = parse_rpc(parse_xml(data))
    assert request.message_id == "7"
    assert request.attributes["{urn:example}trace"] == "on"
    assert request.operation[0].text == "vm1"


def test_missing_message_id() -> None:
    """RFC 6241 sec. 4.1: missing-attribute, type rpc, and the reply is still sent."""
    root = parse_xml(f'<rpc {XMLNS} xmlns:ex="urn:example" ex:x="1"><get/></rpc>'.encode())
    with pytest.raises(MissingAttributeError) as info:
        parse_rpc(root)
    error = info.value
    assert error.type is ErrorType.RPC
    assert error.tag is ErrorTag.MISSING_ATTRIBUTE
    assert error.info == {"bad-attribute": "message-id", "bad-element": "rpc"}

    reply = parse_xml(build_rpc_error_reply(rpc_attributes(root), [error]))
    assert reply.tag == nc("rpc-reply")
    assert reply.get("message-id") is None
    assert reply.get("{urn:example}x") == "1"  # other attributes still echoed
    assert text_of(reply, "nc:rpc-error/nc:error-type") == "rpc"
    assert text_of(reply, "nc:rpc-error/nc:error-tag") == "missing-attribute"
    assert text_of(reply, "nc:rpc-error/nc:error-info/nc:bad-attribute") == "message-id"
    assert text_of(reply, "nc:rpc-error/nc:error-info/nc:bad-element") == "rpc"


@pytest.mark.parametrize(
    ("data", "error", "info"),
    [
        (f'<hello {XMLNS} message-id="1"/>', UnknownElementError, {"bad-element": "hello"}),
        (
            '<rpc message-id="1"><get/></rpc>',
            UnknownNamespaceError,
            {"bad-element": "rpc", "bad-namespace": ""},
        ),
        (
            '<rpc xmlns="urn:other" message-id="1"><get/></rpc>',
            UnknownNamespaceError,
            {"bad-element": "rpc", "bad-namespace": "urn:other"},
        ),
        (f'<rpc {XMLNS} message-id="1"/>', MissingElementError, {}),
        (
            f'<rpc {XMLNS} message-id="1"><get/><lock/></rpc>',
            UnknownElementError,
            {"bad-element": "lock"},
        ),
    ],
)
def test_bad_rpc(data: str, error: type[RPCError], info: dict[str, str]) -> None:
    with pytest.raises(error) as caught:
        parse_rpc(parse_xml(data.encode()))
    assert caught.value.info == info
    assert caught.value.type is ErrorType.PROTOCOL


# --- rpc-reply (RFC 6241 sec. 4.2, 4.4) -----------------------------------------------


def test_ok_reply_echoes_every_attribute() -> None:
    root = parse_xml(
        f'<rpc {XMLNS} message-id="101" xmlns:ex="urn:example" ex:user-id="fred" other="x">'
        "<commit/></rpc>".encode()
    )
    request = parse_rpc(root)
    data = build_rpc_reply(request.attributes)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    reply = parse_xml(data)
    assert reply.tag == nc("rpc-reply")
    assert dict(reply.attrib) == {
        "message-id": "101",
        "{urn:example}user-id": "fred",
        "other": "x",
    }
    assert [child.tag for child in reply] == [nc("ok")]


def test_data_reply() -> None:
    data_el = element(NS_NC, "data")
    sub(sub(data_el, "urn:nvo3", "vms"), "urn:nvo3", "vm", "vm1")
    reply = parse_xml(build_rpc_reply({"message-id": "3"}, [data_el]))
    assert reply.get("message-id") == "3"
    assert [child.tag for child in reply] == [nc("data")]
    assert child_text(reply[0][0], "urn:nvo3", "vm") == "vm1"


@pytest.mark.parametrize("attributes", [
    {"message-id": "3"},
    {"message-id": 'a"b<c>&d\te\nf'},  # escaped as lxml does
    {"message-id": "101", "{urn:example}user-id": "fred", "other": "x"},
    {},
])
def test_serialized_content_gives_the_same_reply(attributes: dict[str, str]) -> None:
    """A reply built from serialized content is byte for byte the one built from elements."""
    def data() -> etree._Element:
        data_el = element(NS_NC, "data")
        top = sub(data_el, "urn:nvo3", "vms")
        top.set("{urn:other}mark", "1")
        sub(top, "urn:nvo3", "vm", "vm1")
        return data_el

    content = serialize_content(data())
    assert content.startswith(b"<data>")  # no second declaration of the base namespace
    assert build_rpc_reply(attributes, content) == build_rpc_reply(attributes, [data()])


@pytest.mark.parametrize("attributes", [
    {"message-id": "3"},
    {"message-id": 'a"b<c>&d\te\nf'},
    {"message-id": "101", "{urn:example}user-id": "fred", "other": "x"},
])
def test_ok_reply_is_what_lxml_serializes(attributes: dict[str, str]) -> None:
    root = etree.Element(nc("rpc-reply"), nsmap={None: NS_NC})
    root.set("message-id", attributes["message-id"])
    for key, value in attributes.items():
        if key != "message-id":
            root.set(key, value)
    etree.SubElement(root, nc("ok"))
    expected = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert build_rpc_reply(attributes) == build_rpc_reply(attributes, []) == expected


def test_serialized_content_in_a_prefixed_base_namespace_stays_valid() -> None:
    data_el = etree.Element(nc("data"), nsmap={"nc": NS_NC})
    etree.SubElement(data_el, "{urn:nvo3}vm", nsmap={None: "urn:nvo3"}).text = "vm1"
    reply = parse_xml(build_rpc_reply({"message-id": "1"}, serialize_content(data_el)))
    assert [child.tag for child in reply] == [nc("data")]
    assert reply[0][0].text == "vm1"


def test_rpc_output_reply_with_several_elements() -> None:
    body = [element("urn:nvo3", "vnid", "5001"), element("urn:nvo3", "state", "up")]
    reply = parse_rpc_reply(parse_xml(build_rpc_reply({"message-id": "9"}, body)))
    assert not reply.ok
    assert [(e.tag, e.text) for e in reply.data] == [
        ("{urn:nvo3}vnid", "5001"),
        ("{urn:nvo3}state", "up"),
    ]


# --- rpc-error (RFC 6241 sec. 4.3) ----------------------------------------------------


def test_error_reply_all_fields() -> None:
    error = InvalidValueError(
        "VNID 99999999 is out of range.",
        path="/nvo3:vns/nvo3:vn[nvo3:name='blue']/nvo3:vnid",
        path_namespaces={"nvo3": "urn:nvo3", "unused": "urn:unused"},
        app_tag="vnid-range",
        info={"bad-element": "vnid", "{urn:nvo3}limit": "16777215"},
    )
    reply = parse_xml(build_rpc_error_reply({"message-id": "5"}, [error]))
    assert reply.get("message-id") == "5"
    (rpc_error,) = reply
    assert [child.tag for child in rpc_error] == [
        nc("error-type"),
        nc("error-tag"),
        nc("error-severity"),
        nc("error-app-tag"),
        nc("error-path"),
        nc("error-message"),
        nc("error-info"),
    ]
    assert text_of(rpc_error, "nc:error-type") == "application"
    assert text_of(rpc_error, "nc:error-tag") == "invalid-value"
    assert text_of(rpc_error, "nc:error-severity") == "error"
    assert text_of(rpc_error, "nc:error-app-tag") == "vnid-range"
    message = rpc_error.find(nc("error-message"))
    assert message is not None
    assert message.text == "VNID 99999999 is out of range."
    assert message.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    info = rpc_error.find(nc("error-info"))
    assert info is not None
    assert [(c.tag, c.text) for c in info] == [
        (nc("bad-element"), "vnid"),
        ("{urn:nvo3}limit", "16777215"),
    ]


def test_error_path_declares_its_prefixes() -> None:
    error = DataMissingError(
        "No such VM.",
        path="/nvo3:vms/nvo3:vm[nvo3:name='vm1']/tes:state",
        path_namespaces={"nvo3": "urn:nvo3", "tes": "urn:tes"},
    )
    reply = parse_xml(build_rpc_error_reply({"message-id": "1"}, [error]))
    path = reply.find(f"{NC}rpc-error/{NC}error-path")
    assert path is not None
    assert path.nsmap["nvo3"] == "urn:nvo3"
    assert path.nsmap["tes"] == "urn:tes"
    # The path resolves with the declarations in scope at the error-path element.
    doc = parse_xml(
        b'<vms xmlns="urn:nvo3" xmlns:t="urn:tes"><vm><name>vm1</name><t:state>on</t:state>'
        b"</vm></vms>"
    )
    assert path.text is not None
    assert doc.xpath(path.text, namespaces={k: v for k, v in path.nsmap.items() if k})
    # Without a path, no error-path element at all.
    bare = parse_xml(build_rpc_error_reply({"message-id": "1"}, [OperationFailedError("x")]))
    assert bare.find(f"{NC}rpc-error/{NC}error-path") is None


def test_yang_error_info_elements_declare_their_namespaces() -> None:
    """RFC 7950 sec. 15.1 / 15.6: non-unique (once per leaf) and missing-choice, yang:1."""
    yang = "urn:ietf:params:xml:ns:yang:1"
    error = OperationFailedError(
        "Unique data leaf(s) not satisfied.", app_tag="data-not-unique",
        path="/n:vms/n:vm[n:name='b']", path_namespaces={"n": "urn:nvo3"},
        info_elements=[
            InfoElement(yang, "non-unique", "/n:vms/n:vm[n:name='b']/n:ip", {"n": "urn:nvo3"}),
            InfoElement(yang, "non-unique", "/n:vms/n:vm[n:name='b']/n:port", {"n": "urn:nvo3"}),
            InfoElement(yang, "missing-choice", "kind"),
        ])
    raw = build_rpc_error_reply({"message-id": "1"}, [error])
    assert b'<missing-choice xmlns="urn:ietf:params:xml:ns:yang:1">kind</missing-choice>' in raw
    reply = parse_xml(raw)
    items = reply.findall(f"{NC}rpc-error/{NC}error-info/{{{yang}}}non-unique")
    assert [i.text for i in items] == ["/n:vms/n:vm[n:name='b']/n:ip",
                                       "/n:vms/n:vm[n:name='b']/n:port"]
    for item in items:  # the default namespace and the path's prefixes, on the element
        assert item.nsmap == {None: yang, "n": "urn:nvo3"}
        assert b'xmlns="urn:ietf:params:xml:ns:yang:1"' in etree.tostring(item)
    parsed = parse_rpc_reply(reply).errors[0]
    assert parsed.info_elements == error.info_elements


def test_lock_denied_session_id_info() -> None:
    error = LockDeniedError(
        "The running datastore is locked by session 4.", info={"session-id": "4"}
    )
    reply = parse_xml(build_rpc_error_reply({"message-id": "8"}, [error]))
    assert text_of(reply, "nc:rpc-error/nc:error-type") == "protocol"
    assert text_of(reply, "nc:rpc-error/nc:error-info/nc:session-id") == "4"


def test_several_errors_and_warning() -> None:
    errors = [
        InvalidValueError("first", type_=ErrorType.PROTOCOL),
        DataMissingError("second", severity=ErrorSeverity.WARNING),
    ]
    reply = parse_xml(build_rpc_error_reply({"message-id": "2"}, errors))
    assert [text_of(e, "nc:error-tag") for e in reply] == ["invalid-value", "data-missing"]
    assert [text_of(e, "nc:error-severity") for e in reply] == ["error", "warning"]


def test_error_reply_needs_an_error() -> None:
    with pytest.raises(ValueError):
        build_rpc_error_reply({"message-id": "1"}, [])


@pytest.mark.parametrize("tag", list(ErrorTag))
def test_every_error_tag_round_trips(tag: ErrorTag) -> None:
    original = RPCError.new(tag, f"message for {tag.value}", info={"bad-element": "x"})
    reply = parse_rpc_reply(parse_xml(build_rpc_error_reply({"message-id": "1"}, [original])))
    (error,) = reply.errors
    assert type(error) is type(original)
    assert error.tag is tag
    assert error.type is original.type
    assert error.message == original.message
    assert error.info == {"bad-element": "x"}
    assert reply.failed


# --- client side: parse_rpc_reply / parse_rpc_error -----------------------------------


def test_parse_ok_reply() -> None:
    reply = parse_rpc_reply(
        parse_xml(f'<rpc-reply {XMLNS} message-id="4"><ok/></rpc-reply>'.encode())
    )
    assert reply.ok
    assert reply.message_id == "4"
    assert reply.data == ()
    assert reply.errors == ()
    assert not reply.failed


def test_parse_error_reply_from_another_server() -> None:
    data = f"""<rpc-reply {XMLNS} message-id="6" xmlns:nc="{NS_NC}">
      <rpc-error>
        <error-type>application</error-type>
        <error-tag>data-missing</error-tag>
        <error-severity>error</error-severity>
        <error-app-tag>instance-required</error-app-tag>
        <error-path xmlns:v="urn:nvo3">
          /v:vms/v:vm[v:name='x']/v:profile
        </error-path>
        <error-message xml:lang="en">Required instance is missing.</error-message>
        <error-info>
          <bad-element>profile</bad-element><v:extra xmlns:v="urn:nvo3">1</v:extra>
        </error-info>
      </rpc-error>
    </rpc-reply>"""
    reply = parse_rpc_reply(parse_xml(data.encode()))
    (error,) = reply.errors
    assert isinstance(error, DataMissingError)
    assert error.app_tag == "instance-required"
    assert error.path == "/v:vms/v:vm[v:name='x']/v:profile"
    assert error.path_namespaces == {"v": "urn:nvo3"}  # nc: is in scope but unused
    assert error.message == "Required instance is missing."
    assert error.info == {"bad-element": "profile", "{urn:nvo3}extra": "1"}


def test_parse_warning_only_reply_does_not_fail() -> None:
    error = InvalidValueError("just so you know", severity=ErrorSeverity.WARNING)
    reply = parse_rpc_reply(parse_xml(build_rpc_error_reply({"message-id": "1"}, [error])))
    assert reply.errors[0].severity is ErrorSeverity.WARNING
    assert not reply.failed


def test_parse_rpc_error_lenient_on_unknown_values() -> None:
    node = parse_xml(
        f"<rpc-error {XMLNS}><error-type>weird</error-type><error-tag>no-such-tag</error-tag>"
        "<error-severity>fatal</error-severity></rpc-error>".encode()
    )
    error = parse_rpc_error(node)
    assert isinstance(error, OperationFailedError)
    assert error.type is ErrorType.APPLICATION
    assert error.severity is ErrorSeverity.ERROR
    assert error.message == "no-such-tag"


def test_parse_rpc_error_type_not_allowed_with_tag() -> None:
    node = parse_xml(
        f"<rpc-error {XMLNS}><error-type>transport</error-type><error-tag>lock-denied</error-tag>"
        "<error-message>locked</error-message></rpc-error>".encode()
    )
    error = parse_rpc_error(node)
    assert isinstance(error, LockDeniedError)
    assert error.type is ErrorType.PROTOCOL


def test_parse_rpc_reply_wrong_root() -> None:
    with pytest.raises(UnknownElementError):
        parse_rpc_reply(parse_xml(f'<rpc {XMLNS} message-id="1"/>'.encode()))


# --- notification (RFC 5277 sec. 4) ---------------------------------------------------


def test_notification_utc() -> None:
    content = element("urn:nvo3", "vm-state-change")
    sub(content, "urn:nvo3", "name", "vm1")
    when = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    root = parse_xml(build_notification(when, content))
    assert root.tag == f"{{{NS_NOTIF}}}notification"
    assert [child.tag for child in root] == [
        f"{{{NS_NOTIF}}}eventTime",
        "{urn:nvo3}vm-state-change",
    ]
    assert root[0].text == "2024-05-06T07:08:09.123000Z"
    assert root[1][0].text == "vm1"
    assert datetime.fromisoformat(root[0].text or "") == when


def test_notification_offset() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=2)))
    root = parse_xml(build_notification(when, element("urn:nvo3", "event")))
    assert root[0].text == "2024-05-06T07:08:09+02:00"


def test_notification_naive_time_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        build_notification(datetime(2024, 1, 1), element("urn:nvo3", "event"))
