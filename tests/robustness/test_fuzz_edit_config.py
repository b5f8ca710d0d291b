"""Fuzzing the edit-config path through a real protocol session.

Random configuration documents, shaped loosely by the test module's schema (right and
wrong element names, values at and beyond their types' bounds, keys that collide,
``nc:operation`` and ``yang:insert`` attributes, every default-operation, test-option and
error-option), are sent as ``<edit-config>`` rpcs to a real :class:`NetconfSession` of a
running agent: bytes in through the framing, replies out through it. Properties:

- every rpc is answered, with its message-id, by ``<ok/>`` or well-formed rpc-errors
  (RFC 6241 error-type, error-tag and error-severity), never by the generic internal
  failure, and the session stays open;
- an edit answered with an error (other than with continue-on-error) leaves running and
  candidate exactly as they were;
- running validates after every edit (whatever the test-option: a restart must be able
  to load it), candidate after every edit that was validated.

``make test`` runs a bounded number of examples; ``make fuzz`` many more.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from nvo3_netconf.constants import (
    CAP_BASE_10,
    CAP_BASE_11,
    ErrorSeverity,
    ErrorTag,
    ErrorType,
    FramingVersion,
)
from nvo3_netconf.protocol.messages import build_hello
from nvo3_netconf.protocol.session import NetconfSession
from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.app import RunningServer, build_server
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from nvo3_netconf.transport.framing import FrameDecoder, encode_message
from tests.functional.conftest import TEST_YANG
from tests.robustness.fuzzing import fuzz_settings

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NT = "urn:nvo3-netconf:yang:nvo3-test"
YANG = "urn:ietf:params:xml:ns:yang:1"
E = {"nc": NC}
INTERNAL = b"The server failed to process the request."
TYPES = {t.value for t in ErrorType}
TAGS = {t.value for t in ErrorTag}
SEVERITIES = {s.value for s in ErrorSeverity}

BASE = (f'<top xmlns="{NT}"><item><name>a</name><number>1</number><small/></item>'
        "<item><name>b</name><number>2</number><big-size>7</big-size><tag>x</tag><tag>y</tag>"
        "</item><rule><name>r1</name></rule><rule><name>r2</name></rule>"
        "<settings><note>n</note></settings></top>"
        f'<bulk xmlns="{NT}"><entry><id>1</id><value>v</value></entry></bulk>')


class MemoryLink:
    """A session's outgoing side, kept in memory."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def send(self, data: bytes) -> bool:
        if self.closed:
            return False
        self.data += data
        return True

    def close(self) -> None:
        self.closed = True


class Client:
    """One protocol session of the agent, driven byte by byte."""

    def __init__(self, server: RunningServer) -> None:
        self.link = MemoryLink()
        self.session: NetconfSession = server.netconf.open_session(self.link, "admin", "fuzz")
        self.decoder = FrameDecoder()
        self.ids = itertools.count(1)
        self.session.data_received(encode_message(build_hello((CAP_BASE_10, CAP_BASE_11)),
                                                  FramingVersion.EOM))
        self._take()  # the server's hello
        self.decoder.switch_to_chunked()

    def _take(self) -> bytes:
        self.decoder.receive_data(bytes(self.link.data))
        self.link.data.clear()
        message = self.decoder.next_message()
        assert message is not None, "no reply"
        assert self.decoder.next_message() is None, "more than one reply"
        return message

    def call(self, operation: str) -> tuple[str, bytes]:
        message_id = str(next(self.ids))
        body = f'<rpc xmlns="{NC}" message-id="{message_id}">{operation}</rpc>'.encode()
        self.session.data_received(encode_message(body, FramingVersion.CHUNKED, max_chunk_size=97))
        assert not self.link.closed, "the session was closed"
        return message_id, self._take()

    def ok(self, operation: str) -> bytes:
        _, reply = self.call(operation)
        assert b"<rpc-error>" not in reply, reply[:600]
        return reply

    def config(self, source: str) -> bytes:
        reply = self.ok(f"<get-config><source><{source}/></source></get-config>")
        data = etree.fromstring(reply).find("nc:data", E)
        assert data is not None
        return etree.tostring(data, method="c14n")


def check_reply(message_id: str, reply: bytes) -> list[dict[str, str]]:
    """The reply is well-formed: returns its rpc-errors (empty for <ok/>)."""
    assert INTERNAL not in reply, reply[:800]
    root = etree.fromstring(reply)
    assert root.tag == f"{{{NC}}}rpc-reply"
    assert root.get("message-id") == message_id
    errors = []
    for err in root.iterfind("nc:rpc-error", E):
        fields = {etree.QName(c).localname: (c.text or "").strip() for c in err}
        assert fields.get("error-type") in TYPES, fields
        assert fields.get("error-tag") in TAGS, fields
        assert fields.get("error-severity") in SEVERITIES, fields
        errors.append(fields)
    if not errors:
        assert [etree.QName(c).localname for c in root] == ["ok"], reply[:600]
    return errors


# ------------------------------------------------------------------ strategies
SCHEMA: dict[str, list[str]] = {
    "top": ["mode", "item*", "ref*", "stats", "proto", "target", "blob", "label*", "rule*",
            "opts", "settings", "vn*", "tunnel-name", "vni", "gre-key", "vlan-id"],
    "item": ["name", "number", "owner", "tag*", "small", "big-size"],
    "ref": ["id", "item", "owner"],
    "stats": ["count"],
    "rule": ["name", "action"],
    "opts": ["level"],
    "settings": ["note", "deep"],
    "deep": ["value"],
    "vn": ["id", "port*"],
    "port": ["name", "unit", "vlan"],
    "bulk": ["entry*"],
    "entry": ["id", "value"],
    "blob": ["anything"],
}
ALL_NAMES = sorted({n.rstrip("*") for names in SCHEMA.values() for n in names} | set(SCHEMA)
                   | {"junk", "item2"})
VALUES = st.one_of(
    st.sampled_from(["a", "b", "c", "r1", "r2", "x", "y", "0", "1", "2", "7", "-1", "255", "256",
                     "65535", "65536", "4294967295", "4294967296", "16777215", "16777216",
                     "fast", "slow", "medium", "true", "nt:vxlan", "nt:geneve", "nt:nope",
                     "zz:vxlan", "/x:y", "/nt:top/nt:item[nt:name='a']", "", " ", "n" * 33]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
            max_size=12),
)
OPERATIONS = ["merge", "replace", "create", "delete", "remove", "explode"]
INSERTS = ["first", "last", "before", "after", "sideways"]


@st.composite
def node(draw: st.DrawFn, name: str, depth: int) -> str:
    attrs = ""
    if draw(st.integers(0, 4)) == 0:
        attrs += f" nc:operation={quoteattr(draw(st.sampled_from(OPERATIONS)))}"
    if name in ("item", "rule", "tag", "label") and draw(st.integers(0, 4)) == 0:
        where = draw(st.sampled_from(INSERTS))
        attrs += f" yang:insert={quoteattr(where)}"
        if where in ("before", "after", "sideways"):
            if name in ("item", "rule"):
                key = draw(st.sampled_from(["a", "b", "r1", "r2", "zz"]))
                attrs += f" yang:key={quoteattr(f'[nt:name={key!r}]')}"
            else:
                attrs += f" yang:value={quoteattr(draw(st.sampled_from(['x', 'y', 'q'])))}"
    children = SCHEMA.get(name)
    if children is None or depth > 4:
        return f"<{name}{attrs}>{escape(draw(VALUES))}</{name}>"
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 9)) == 0:
            child = draw(st.sampled_from(ALL_NAMES))  # somewhere it does not belong
        else:
            child = draw(st.sampled_from(children)).rstrip("*")
        parts.append(draw(node(child, depth + 1)))
    return f"<{name}{attrs}>{''.join(parts)}</{name}>"


@st.composite
def edit_rpc(draw: st.DrawFn) -> tuple[str, str, str]:
    """(edit-config operation, target, error-option)."""
    roots = []
    for _ in range(draw(st.integers(0, 2))):
        root = draw(st.sampled_from(["top", "top", "bulk", "junk"]))
        namespace = draw(st.sampled_from([NT, NT, NT, "urn:example:nowhere"]))
        roots.append(draw(node(root, 1)).replace(f"<{root}", f'<{root} xmlns="{namespace}"', 1))
    target = draw(st.sampled_from(["running", "candidate"]))
    params = ""
    default = draw(st.sampled_from([None, "merge", "replace", "none", "bogus"]))
    if default:
        params += f"<default-operation>{default}</default-operation>"
    test = draw(st.sampled_from([None, "test-then-set", "set", "test-only"]))
    if test:
        params += f"<test-option>{test}</test-option>"
    error = draw(st.sampled_from([None, "stop-on-error", "continue-on-error",
                                  "rollback-on-error"]))
    if error:
        params += f"<error-option>{error}</error-option>"
    operation = (f"<edit-config><target><{target}/></target>{params}"
                 f'<config xmlns:nc="{NC}" xmlns:yang="{YANG}" xmlns:nt="{NT}">'
                 f"{''.join(roots)}</config></edit-config>")
    return operation, target, f"{error}/{test}"


# ------------------------------------------------------------------ the test
@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, users: UserDatabase) -> Iterator[RunningServer]:
    state = tmp_path_factory.mktemp("fuzz-edit") / "state"
    config = ServerConfig(listen="127.0.0.1", port=0, state_dir=Path(state),
                          yang_dirs=(TEST_YANG,), hello_timeout=0)
    server = build_server(config, users=users, clock=ManualClock())
    try:
        yield server
    finally:
        server.stop()


@fuzz_settings(60)
@given(edits=st.lists(edit_rpc(), min_size=1, max_size=4))
def test_edit_config_answers_well_and_changes_nothing_on_error(
    agent: RunningServer, edits: list[tuple[str, str, str]]
) -> None:
    client = Client(agent)
    try:
        client.ok("<discard-changes/>")
        client.ok(f"<copy-config><target><running/></target><source><config>{BASE}</config>"
                  "</source></copy-config>")
        client.ok("<discard-changes/>")
        unvalidated = False
        for operation, target, options in edits:
            before = {name: client.config(name) for name in ("running", "candidate")}
            message_id, reply = client.call(operation)
            errors = check_reply(message_id, reply)
            error_option, test_option = options.split("/")
            if errors and error_option != "continue-on-error":
                after = {name: client.config(name) for name in ("running", "candidate")}
                assert after == before, (operation, reply)
            # Running is valid after every edit, whatever the test-option (RFC 7950
            # sec. 8.3.3); candidate once no edit skipped validation (test-option set).
            client.ok("<validate><source><running/></source></validate>")
            unvalidated |= test_option == "set" and target == "candidate"
            if not errors and not unvalidated:
                client.ok("<validate><source><candidate/></source></validate>")
    finally:
        client.session.close()
        client.session.connection_lost()


def test_undone_edit_keeps_instance_identifier_prefixes(agent: RunningServer) -> None:
    """Found by the fuzzer (make fuzz): running loses the meaning of a stored value."""
    client = Client(agent)
    try:
        client.ok("<discard-changes/>")
        client.ok(f"<copy-config><target><running/></target><source><config>{BASE}</config>"
                  "</source></copy-config>")
        client.ok(f'<edit-config><target><running/></target><config xmlns:nt="{NT}">'
                  f"<top xmlns=\"{NT}\"><target>/nt:top/nt:item[nt:name='a']</target></top>"
                  "</config></edit-config>")
        client.ok("<validate><source><running/></source></validate>")
        client.call(f"<edit-config><target><running/></target><test-option>test-only"
                    f'</test-option><config xmlns:nc="{NC}"><top xmlns="{NT}" '
                    'nc:operation="replace"/></config></edit-config>')
        client.ok("<validate><source><running/></source></validate>")
    finally:
        client.session.close()
        client.session.connection_lost()
