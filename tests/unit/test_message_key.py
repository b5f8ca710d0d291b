"""A message split around its message-id (protocol/message_key.py)."""

from __future__ import annotations

import pytest
from lxml import etree

from nvo3_netconf.protocol.message_key import message_key
from nvo3_netconf.protocol.messages import parse_rpc

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
GET = b"<get-config><source><running/></source></get-config></rpc>"


@pytest.mark.parametrize("message", [
    b'<rpc xmlns="%s" message-id="7">' % NC.encode() + GET,
    b"<?xml version='1.0' encoding='UTF-8'?>\n<rpc xmlns='%s' message-id='7'>" % NC.encode()
    + GET,
    b'<?xml version="1.0" encoding="UTF-8"?><nc:rpc xmlns:nc="%s" message-id="7">'
    b"<nc:get-config><nc:source><nc:running/></nc:source></nc:get-config></nc:rpc>"
    % NC.encode(),
    b'\n <rpc\n message-id = "7"\txmlns="%s" >' % NC.encode() + GET,
])
def test_the_plain_forms_give_the_id_a_parser_reads(message: bytes) -> None:
    key = message_key(message)
    assert key is not None
    assert key.message_id == parse_rpc(etree.fromstring(message.strip())).message_id == "7"
    assert key.rest[0] + b"7" + key.rest[1] == message


def test_messages_differing_only_in_message_id_share_a_key() -> None:
    def make(mid: bytes, body: bytes = GET) -> bytes:
        return b'<rpc xmlns="%s" message-id="%s">' % (NC.encode(), mid) + body

    first, second = message_key(make(b"1")), message_key(make(b"urn:uuid:a b-2"))
    assert first is not None and second is not None
    assert first.rest == second.rest
    assert second.message_id == "urn:uuid:a b-2"
    other = message_key(make(b"1", GET.replace(b"running", b"candidate")))
    assert other is not None and other.rest != first.rest


@pytest.mark.parametrize("message", [
    b'<rpc message-id="1" foo="x"><get/></rpc>',  # another attribute: the reply echoes it
    b'<rpc xmlns:p="urn:x" p:foo="x" message-id="1"><get/></rpc>',
    b'<rpc message-id="a&amp;b"><get/></rpc>',  # an entity
    b'<rpc message-id="a\tb"><get/></rpc>',  # normalized to a space by a parser
    b"<rpc message-id='a\"b'><get/></rpc>",  # a quote the reply would escape
    b'<rpc message-id="a>b"><get/></rpc>',
    b'<rpc message-id="\xc3\xa9"><get/></rpc>',  # not ASCII
    b'<rpc message-id="1" message-id="2"><get/></rpc>',  # not well-formed
    b'<rpc><get/></rpc>',  # no message-id
    b'<rpc nc:message-id="1" xmlns:nc="urn:x"><get/></rpc>',
    b'<rpcx message-id="1"><get/></rpc>',
    b'<hello message-id="1"/>',
    b'\xef\xbb\xbf<rpc message-id="1"><get/></rpc>',  # a byte-order mark
    b'<!-- c --><rpc message-id="1"><get/></rpc>',
    b'<rpc message-id="1"',
    b"",
])
def test_other_forms_take_the_normal_path(message: bytes) -> None:
    assert message_key(message) is None


def test_a_received_message_computes_its_key_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from nvo3_netconf.protocol import message_key as module

    calls: list[bytes] = []
    real = module.message_key

    def counting(message: bytes) -> object:
        calls.append(message)
        return real(message)

    monkeypatch.setattr(module, "message_key", counting)
    message = b'<rpc xmlns="%s" message-id="9">' % NC.encode() + GET
    received = module.ReceivedMessage(message)
    assert calls == []  # nothing computed until asked
    first = received.key
    assert first is not None and first.message_id == "9"
    assert received.key is first and calls == [message]
    plain = module.ReceivedMessage(b"<rpc><get/></rpc>")
    assert plain.key is None and plain.key is None
    assert len(calls) == 2
