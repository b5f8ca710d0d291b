"""The TES client's messages, sans-I/O.

Every request validates against nvo3-tes, replies and notifications parse into typed
values, and the nvo3-tes command line reads its options.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import libyang
import pytest
from libyang.util import DataType
from lxml import etree

from nvo3_netconf.cli import tes as cli
from nvo3_netconf.constants import NS_NC, NS_NOTIF
from nvo3_netconf.protocol.messages import build_rpc
from nvo3_netconf.protocol.xml import Element, parse_xml
from nvo3_netconf.schema import YangContext
from nvo3_netconf.tes import (
    VNIC,
    AcknowledgeLocalChange,
    Assignment,
    Associate,
    AssociationParams,
    ConnectionParams,
    Emigrate,
    FilterFormat,
    HostKeyPolicy,
    Immigrate,
    ImmigrationPhase,
    Indication,
    InvalidReplyError,
    KeepAlive,
    LocalChange,
    LocalChangeCause,
    MigrationPeer,
    MigrationPhase,
    MigrationProgress,
    MigrationRole,
    Notification,
    PreAssociate,
    Reply,
    ReplyReason,
    Request,
    Result,
    Resume,
    SignallingFailure,
    Subscription,
    Suspend,
    Terminate,
    TESOperation,
    VMAgedOut,
    VMEvent,
    VMIdFormat,
    VMRef,
    VMState,
    VMStateChanged,
    VNAttachment,
    VNPolicies,
    event_to_dict,
    parse_notification,
    parse_reply,
)
from nvo3_netconf.tes.params import NS_TES, NS_TYPES, normalize_mac
from tests.conftest import ROOT, STANDARD_DIR, YANG_DIR

VM = VMRef("6F1C2A4E-0000-4000-8000-00000000000A")
MAC1, MAC2 = "52:54:00:aa:bb:01", "52:54:00:aa:bb:02"


@pytest.fixture(scope="module")
def yang() -> Iterator[YangContext]:
    with YangContext.load([YANG_DIR, STANDARD_DIR]) as context:
        yield context


def rpc_text(request: Request | Subscription) -> str:
    return build_rpc("101", request.to_element()).decode()


def validate_rpc(yang: YangContext, text: str) -> str:
    """Parse ``<rpc>`` as libyang does for NETCONF, validate its input; return the op name."""
    op = yang.libyang.parse_op_mem("xml", text, DataType.RPC_NETCONF)
    try:
        op.validate_op(DataType.RPC_YANG)
        return str(op.name())
    finally:
        op.free()


def blue(*vnics: VNIC, policies: VNPolicies | None = None) -> VNAttachment:
    return VNAttachment("vn-blue", vnics=vnics or (VNIC(MAC1),), policies=policies)


def params(*vns: VNAttachment, **kwargs: object) -> AssociationParams:
    return AssociationParams(VM, "tenant-a", vns=vns, **kwargs)  # type: ignore[arg-type]


FULL = params(
    VNAttachment("vn-blue", 5001, (
        VNIC(MAC1, ("10.0.0.5", "2001:DB8::5"), requested_vid=101, requested_pcp=3),
        VNIC(MAC2),
    ), VNPolicies(("web-in", "common-in"), ("web-out",), "gold")),
    VNAttachment(vnid=5002, vnics=(VNIC("52:54:00:aa:bb:03", requested_vid=0),)),
    group_id=7, vcenter_id="vc-1", vserver_id="hv-12", interface="eth1",
)

REQUESTS: dict[str, Request] = {
    "pre-associate": PreAssociate(params(blue())),
    "pre-associate full, reserve": PreAssociate(FULL, reserve_resources=True),
    "pre-associate immigration": PreAssociate(params(blue()),
                                              indications=frozenset({Indication.IMMIGRATION})),
    "pre-associate keep-alive, no vn": PreAssociate(
        params(), indications=frozenset({Indication.KEEP_ALIVE})),
    "associate": Associate(params(blue())),
    "associate full": Associate(FULL),
    "associate vid format": Associate(params(
        blue(VNIC(requested_vid=200), VNIC(requested_vid=0)), filter_format=FilterFormat.VID)),
    "associate groupid-vid": Associate(params(
        blue(VNIC(group_id=9, requested_vid=300)), filter_format=FilterFormat.GROUPID_VID)),
    "associate groupid-mac-vid, group of the VM": Associate(params(
        blue(), group_id=4, filter_format=FilterFormat.GROUPID_MAC_VID)),
    "associate suspension, no vn": Associate(params(),
                                             indications=frozenset({Indication.SUSPENSION})),
    "associate resume + keep-alive": Associate(
        params(blue()), indications=frozenset({Indication.RESUME, Indication.KEEP_ALIVE})),
    "associate emigration": Associate(params(), indications=frozenset({Indication.EMIGRATION})),
    "associate immigration": Associate(params(blue()),
                                       indications=frozenset({Indication.IMMIGRATION})),
    "suspend": Suspend(VM),
    "resume": Resume(VM),
    "terminate": Terminate(VM),
    "keep-alive": KeepAlive(VM),
    "keep-alive mac vm id": KeepAlive(VMRef("52-54-00-00-00-AA", VMIdFormat.MAC)),
    "keep-alive ipv4 vm id": KeepAlive(VMRef("192.0.2.7", VMIdFormat.IPV4)),
    "keep-alive ipv6 vm id": KeepAlive(VMRef("2001:DB8:0:0::7", VMIdFormat.IPV6)),
    "keep-alive local vm id": KeepAlive(VMRef("web-01.prod", VMIdFormat.LOCAL)),
    "emigrate": Emigrate(VM),
    "emigrate with destination": Emigrate(VM, MigrationPeer("mig-1", "192.0.2.2", "hv-20")),
    "immigrate": Immigrate(params(blue())),
    "immigrate pre-associate phase": Immigrate(
        FULL, ImmigrationPhase.PRE_ASSOCIATE, reserve_resources=True,
        source=MigrationPeer("mig-1", "2001:db8::1")),
    "acknowledge success": AcknowledgeLocalChange(VM, 42),
    "acknowledge fail": AcknowledgeLocalChange(VM, 43, Result.FAIL, ReplyReason.BUSY,
                                               "the vSwitch is reconfiguring"),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_request_is_a_valid_rpc_of_the_model(yang: YangContext, name: str) -> None:
    request = REQUESTS[name]
    assert validate_rpc(yang, rpc_text(request)) == request.operation.value


def test_every_tes_rpc_is_covered() -> None:
    assert {r.operation for r in REQUESTS.values()} == set(TESOperation)


def test_the_validation_refuses_what_the_model_refuses(yang: YangContext) -> None:
    """The check above is meaningful: libyang applies the model's must rules."""
    text = rpc_text(REQUESTS["associate"])
    broken = [
        text.replace("<vm-id>6f1c2a4e", "<vm-id>6F1C2A4E"),  # vm-id-format mismatch
        text.replace("<filter-format>mac-vid", "<filter-format>vid"),  # MAC in vid format
        text.replace("<requested-vid>0", "<requested-vid>4095"),
        text.replace("<tenant>tenant-a</tenant>", ""),
    ]
    for candidate in broken:
        with pytest.raises(libyang.LibyangError):
            validate_rpc(yang, candidate)


def test_request_xml_is_exact() -> None:
    op = REQUESTS["pre-associate full, reserve"].to_element()
    names = [etree.QName(c).localname for c in op]
    assert names == ["vm-id", "vm-id-format", "tenant", "group-id", "vcenter-id",
                     "vserver-id", "interface", "filter-format", "vn", "vn",
                     "reserve-resources"]
    vn = op.find(f"{{{NS_TES}}}vn")
    assert vn is not None
    assert [etree.QName(c).localname for c in vn] == ["vn-name", "vnid", "policies", "vnic",
                                                      "vnic"]
    acl = vn.findall(f"{{{NS_TES}}}policies/{{{NS_TES}}}ingress-acl")
    assert [a.text for a in acl] == ["web-in", "common-in"]  # ordered-by user
    vnic = vn.find(f"{{{NS_TES}}}vnic")
    assert vnic is not None
    assert [(etree.QName(c).localname, c.text) for c in vnic] == [
        ("mac", MAC1), ("ip-address", "10.0.0.5"), ("ip-address", "2001:db8::5"),
        ("requested-vid", "101"), ("requested-pcp", "3")]
    assert op.findtext(f"{{{NS_TES}}}vm-id") == "6f1c2a4e-0000-4000-8000-00000000000a"


def test_null_vid_is_sent_as_zero() -> None:
    op = REQUESTS["associate"].to_element()
    assert op.findtext(f".//{{{NS_TES}}}requested-vid") == "0"


def test_acknowledge_reason_is_a_prefixed_identityref() -> None:
    op = REQUESTS["acknowledge fail"].to_element()
    reason = op.find(f"{{{NS_TES}}}reason")
    assert reason is not None
    prefix, _, name = (reason.text or "").partition(":")
    assert reason.nsmap[prefix] == NS_TYPES and name == "busy"


@pytest.mark.parametrize("build, message", [
    (lambda: Associate(params()), "needs a VN"),
    (lambda: PreAssociate(params()), "needs a VN"),
    (lambda: Immigrate(params()), "at least one VN"),
    (lambda: Associate(params(blue()), frozenset({Indication.SUSPENSION,
                                                   Indication.RESUME})), "at most one"),
    (lambda: PreAssociate(params(blue()), indications=frozenset({Indication.SUSPENSION})),
     "cannot carry"),
    (lambda: params(blue(VNIC())), "needs a MAC"),
    (lambda: params(blue(), filter_format=FilterFormat.VID), "carries no MAC"),
    (lambda: params(blue(VNIC(requested_vid=5)), filter_format=FilterFormat.GROUPID_VID),
     "needs a GroupID"),
    (lambda: params(blue(VNIC(MAC1), VNIC(MAC1.upper()))), "given twice"),
    (lambda: params(blue(), blue()), "given twice"),
    (lambda: VNAttachment(vnics=(VNIC(MAC1),)), "name, its VNID or both"),
    (lambda: VNAttachment("vn-blue"), "at least one vNIC"),
    (lambda: VNAttachment("-bad", vnics=(VNIC(MAC1),)), "VN name"),
    (lambda: VNAttachment(vnid=0, vnics=(VNIC(MAC1),)), "VNID 0"),
    (lambda: VNIC(MAC1, requested_vid=4095), "VID 4095"),
    (lambda: VNIC(MAC1, requested_pcp=8), "PCP 8"),
    (lambda: VNIC("52:54:00:aa:bb"), "not a MAC"),
    (lambda: VNIC(MAC1, ("10.0.0.300",)), "not an IP"),
    (lambda: VNIC(MAC1, ("fe80::1%eth0",)), "no zone"),
    (lambda: VMRef("fe80::1%eth0", VMIdFormat.IPV6), "ipv6 format"),
    (lambda: VMRef("not-a-uuid"), "uuid format"),
    (lambda: VMRef("has space", VMIdFormat.LOCAL), "no white space"),
    (lambda: AcknowledgeLocalChange(VM, 1, Result.SUCCESS, ReplyReason.BUSY), "only"),
    (lambda: MigrationPeer(peer_nve="nve-2"), "not an IP"),
])
def test_invalid_parameters_are_refused_before_sending(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("text", ["52:54:00:AA:BB:01", "52-54-00-aa-bb-01", "525400aabb01"])
def test_mac_addresses_are_normalized(text: str) -> None:
    assert normalize_mac(text) == MAC1


# -- replies ----------------------------------------------------------------------------

def reply_output(body: str) -> tuple[Element, ...]:
    root = parse_xml(f'<rpc-reply xmlns="{NS_NC}" message-id="1" '
                     f'xmlns:t="{NS_TES}">{body}</rpc-reply>'.encode())
    return tuple(root)


def test_success_reply_with_assignments() -> None:
    output = reply_output(
        f'<result xmlns="{NS_TES}">success</result>'
        f'<vm-state xmlns="{NS_TES}">associated</vm-state>'
        f'<keep-alive-interval xmlns="{NS_TES}">30</keep-alive-interval>'
        f'<aging-time xmlns="{NS_TES}">300</aging-time>'
        f'<assignment xmlns="{NS_TES}"><vn-name>vn-blue</vn-name><vnid>5001</vnid>'
        f"<mac>52:54:00:AA:BB:01</mac><vid>101</vid><pcp>0</pcp></assignment>"
        f'<assignment xmlns="{NS_TES}"><vn-name>vn-red</vn-name><group-id>4</group-id>'
        f"<vid>102</vid></assignment>"
    )
    reply = parse_reply(TESOperation.ASSOCIATE, VM, output)
    assert reply == Reply(
        TESOperation.ASSOCIATE, VM, Result.SUCCESS, vm_state=VMState.ASSOCIATED,
        keep_alive_interval=30, aging_time=300, assignments=(
            Assignment(101, "vn-blue", 5001, MAC1, pcp=0),
            Assignment(102, "vn-red", group_id=4),
        ))
    assert reply.ok and reply.check() is reply
    assert reply.to_dict() == {
        "operation": "associate",
        "vm": {"vm-id": VM.vm_id, "format": "uuid"},
        "result": "success", "vm-state": "associated", "keep-alive-interval": 30,
        "aging-time": 300,
        "assignments": [
            {"vid": 101, "vn-name": "vn-blue", "vnid": 5001, "mac": MAC1, "pcp": 0},
            {"vid": 102, "vn-name": "vn-red", "group-id": 4},
        ],
    }


def test_fail_reply_reason_is_an_identity_resolved_by_namespace() -> None:
    output = reply_output(
        f'<result xmlns="{NS_TES}">fail</result>'
        f'<reason xmlns="{NS_TES}" xmlns:x="{NS_TYPES}">x:failed-authorization</reason>'
        f'<error-message xmlns="{NS_TES}">hv1 may not act for tenant-b</error-message>'
    )
    reply = parse_reply(TESOperation.ASSOCIATE, VM, output)
    assert reply.result is Result.FAIL and not reply.ok
    assert reply.reason is ReplyReason.FAILED_AUTHORIZATION
    assert reply.vm_state is None
    with pytest.raises(SignallingFailure, match="failed-authorization") as caught:
        reply.check()
    assert caught.value.reply is reply


def test_unknown_derived_reason_is_kept_as_text() -> None:
    output = reply_output(
        f'<result xmlns="{NS_TES}">fail</result>'
        f'<reason xmlns="{NS_TES}" xmlns:v="urn:vendor">v:disk-on-fire</reason>')
    assert parse_reply(TESOperation.SUSPEND, VM, output).reason == "urn:vendor:disk-on-fire"


def test_acknowledge_ok_reply_is_success() -> None:
    reply = parse_reply(TESOperation.ACKNOWLEDGE_LOCAL_CHANGE, VM, ())
    assert reply.result is Result.SUCCESS and reply.assignments == ()


@pytest.mark.parametrize("body", [
    "",
    f'<vm-state xmlns="{NS_TES}">associated</vm-state>',
    f'<result xmlns="{NS_TES}">maybe</result>',
    f'<result xmlns="{NS_TES}">success</result><vm-state xmlns="{NS_TES}">gone</vm-state>',
    f'<result xmlns="{NS_TES}">success</result><assignment xmlns="{NS_TES}"/>',
])
def test_replies_that_break_the_model_are_reported(body: str) -> None:
    with pytest.raises(InvalidReplyError):
        parse_reply(TESOperation.ASSOCIATE, VM, reply_output(body) if body else ())


# -- notifications ----------------------------------------------------------------------

def notification(body: str, stamp: str = "2026-11-21T10:00:00Z") -> str:
    return (f'<notification xmlns="{NS_NOTIF}"><eventTime>{stamp}</eventTime>'
            f"{body}</notification>")


STATE_CHANGED = notification(
    f'<vm-state-changed xmlns="{NS_TES}"><vm-id>{VM.vm_id}</vm-id><tenant>tenant-a</tenant>'
    f"<vn><vn-name>vn-blue</vn-name><vnid>5001</vnid><active>true</active>"
    f"<vnic><mac>{MAC1}</mac><ip-address>10.0.0.5</ip-address><vid>101</vid><pcp>0</pcp>"
    f"</vnic></vn><old-state>pre-associated</old-state><new-state>associated</new-state>"
    f"<event>associate</event><tes-identity>hv1</tes-identity></vm-state-changed>")
AGED_OUT = notification(
    f'<vm-aged-out xmlns="{NS_TES}"><vm-id>{VM.vm_id}</vm-id><last-state>suspended'
    f"</last-state><idle-time>301</idle-time><last-event>suspend</last-event>"
    f"<last-refresh>2026-11-21T09:55:00Z</last-refresh></vm-aged-out>")
LOCAL_CHANGE = notification(
    f'<local-change xmlns="{NS_TES}"><vm-id>{VM.vm_id}</vm-id><change-id>7</change-id>'
    f"<tes-identity>hv1</tes-identity><cause>vid-reassigned</cause><change>"
    f"<vn-name>vn-blue</vn-name><mac>{MAC1}</mac><old-vid>101</old-vid><new-vid>205</new-vid>"
    f"</change></local-change>")
MIGRATION = notification(
    f'<migration-progress xmlns="{NS_TES}"><vm-id>{VM.vm_id}</vm-id><role>destination</role>'
    f"<phase>immigration-failed</phase><peer><migration-id>mig-1</migration-id>"
    f"<peer-nve>192.0.2.1</peer-nve></peer><result>fail</result>"
    f'<reason xmlns:n="{NS_TYPES}">n:insufficient-resources</reason></migration-progress>')
CONFIG_CHANGE = notification(
    '<netconf-config-change xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-notifications">'
    "<changed-by><username>admin</username><session-id>3</session-id></changed-by>"
    "<datastore>running</datastore><edit><target>/a</target><operation>merge</operation></edit>"
    "<edit><target>/b</target><operation>delete</operation></edit></netconf-config-change>")


@pytest.mark.parametrize("text", [STATE_CHANGED, AGED_OUT, LOCAL_CHANGE, MIGRATION])
def test_sample_notifications_are_valid_for_the_model(yang: YangContext, text: str) -> None:
    node = yang.libyang.parse_op_mem("xml", text, DataType.NOTIF_NETCONF)
    try:
        node.validate_op(DataType.NOTIF_YANG)
    finally:
        node.free()


def test_vm_state_changed_is_parsed() -> None:
    event = parse_notification(parse_xml(STATE_CHANGED.encode()))
    assert isinstance(event, VMStateChanged)
    assert event.event_time == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert (event.vm, event.event, event.old_state, event.new_state) == (
        VM, VMEvent.ASSOCIATE, VMState.PRE_ASSOCIATED, VMState.ASSOCIATED)
    assert event.tes_identity == "hv1" and event.migrating is False
    (vn,) = event.vns
    assert (vn.vn_name, vn.vnid, vn.active) == ("vn-blue", 5001, True)
    assert vn.vnics[0].vid == 101 and vn.vnics[0].ip_addresses == ("10.0.0.5",)


def test_aged_out_local_change_and_migration_are_parsed() -> None:
    aged = parse_notification(parse_xml(AGED_OUT.encode()))
    assert isinstance(aged, VMAgedOut)
    assert (aged.last_state, aged.idle_time, aged.last_event) == (
        VMState.SUSPENDED, 301, VMEvent.SUSPEND)
    change = parse_notification(parse_xml(LOCAL_CHANGE.encode()))
    assert isinstance(change, LocalChange)
    assert (change.change_id, change.cause) == (7, LocalChangeCause.VID_REASSIGNED)
    assert (change.changes[0].old_vid, change.changes[0].new_vid) == (101, 205)
    migration = parse_notification(parse_xml(MIGRATION.encode()))
    assert isinstance(migration, MigrationProgress)
    assert (migration.role, migration.phase, migration.result, migration.reason) == (
        MigrationRole.DESTINATION, MigrationPhase.IMMIGRATION_FAILED, Result.FAIL,
        ReplyReason.INSUFFICIENT_RESOURCES)
    assert migration.peer == MigrationPeer("mig-1", "192.0.2.1")


def test_other_notifications_become_plain_data() -> None:
    event = parse_notification(parse_xml(CONFIG_CHANGE.encode()))
    assert isinstance(event, Notification)
    assert event.name == "netconf-config-change"
    assert event.content == {
        "changed-by": {"username": "admin", "session-id": "3"},
        "datastore": "running",
        "edit": [{"target": "/a", "operation": "merge"},
                 {"target": "/b", "operation": "delete"}],
    }
    done = parse_notification(parse_xml(notification(
        '<notificationComplete xmlns="urn:ietf:params:xml:ns:netmod:notification"/>').encode()))
    assert isinstance(done, Notification) and done.name == "notificationComplete"


def test_events_convert_to_json() -> None:
    event = parse_notification(parse_xml(LOCAL_CHANGE.encode()))
    data = event_to_dict(event)
    assert list(data)[:2] == ["name", "event-time"]
    assert data["change-id"] == 7 and data["cause"] == "vid-reassigned"
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("text", [
    notification("").replace("<eventTime>2026-11-21T10:00:00Z</eventTime>", ""),
    notification(""),
    notification(f'<vm-aged-out xmlns="{NS_TES}"><vm-id>{VM.vm_id}</vm-id></vm-aged-out>'),
    notification(f'<vm-state-changed xmlns="{NS_TES}"><vm-id>x</vm-id>'
                 "<event>associate</event></vm-state-changed>"),
    notification("", stamp="yesterday"),
])
def test_broken_notifications_are_reported(text: str) -> None:
    with pytest.raises(InvalidReplyError):
        parse_notification(parse_xml(text.encode()))


def test_subscriptions_are_valid_create_subscription_rpcs(yang: YangContext) -> None:
    start = datetime(2026, 11, 21, 9, tzinfo=UTC)
    plain = Subscription()
    by_event = Subscription.for_events(("vm-state-changed", "local-change"), vm=VM,
                                       stream="NETCONF", start_time=start,
                                       stop_time=datetime(2026, 11, 21, 10, tzinfo=UTC))
    xpath = Subscription(xpath="/t:vm-aged-out", namespaces={"t": NS_TES})
    for subscription in (plain, by_event, xpath):
        assert validate_rpc(yang, rpc_text(subscription)) == "create-subscription"
    op = by_event.to_element()
    selectors = op.find(f"{{{NS_NOTIF}}}filter")
    assert selectors is not None and selectors.get("type") == "subtree"
    assert [etree.QName(s).localname for s in selectors] == ["vm-state-changed", "local-change"]
    assert selectors[0].findtext(f"{{{NS_TES}}}vm-id") == VM.vm_id
    assert op.findtext(f"{{{NS_NOTIF}}}startTime") == "2026-11-21T09:00:00Z"
    filt = xpath.to_element().find(f"{{{NS_NOTIF}}}filter")
    assert filt is not None and filt.get("select") == "/t:vm-aged-out"
    assert filt.nsmap["t"] == NS_TES
    with pytest.raises(ValueError):
        Subscription.for_events(("vm-moved",))
    with pytest.raises(ValueError):
        Subscription(stop_time=start)


# -- the command line -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    (f"{MAC1}@vn-blue", ("vn-blue", None, VNIC(MAC1))),
    (f"{MAC1}@vn-blue:101", ("vn-blue", None, VNIC(MAC1, requested_vid=101))),
    (f"{MAC1}@vn-blue:101/3", ("vn-blue", None, VNIC(MAC1, requested_vid=101,
                                                     requested_pcp=3))),
    (f"{MAC1}@vn-blue/5", ("vn-blue", None, VNIC(MAC1, requested_pcp=5))),
    (f"{MAC1}@vn-blue:0", ("vn-blue", None, VNIC(MAC1))),
    (f"{MAC1}@vn-blue=5001:101", ("vn-blue", 5001, VNIC(MAC1, requested_vid=101))),
    (f"{MAC1}@=5001", (None, 5001, VNIC(MAC1))),
    ("@vn-blue:200/1", ("vn-blue", None, VNIC(requested_vid=200, requested_pcp=1))),
    ("52-54-00-AA-BB-01@dc1:vn:blue", ("dc1:vn:blue", None, VNIC(MAC1))),
    ("52-54-00-AA-BB-01@dc1:vn:blue:7", ("dc1:vn:blue", None, VNIC(MAC1, requested_vid=7))),
])
def test_vnic_option_forms(text: str, expected: tuple[object, ...]) -> None:
    assert cli.parse_vnic(text) == expected


@pytest.mark.parametrize("text", [
    "vn-blue", f"{MAC1}@", f"{MAC1}@vn-blue/x", f"{MAC1}@=x", f"{MAC1}@vn-blue:4095",
    f"{MAC1}@vn-blue/8", "52:54:00@vn-blue", f"{MAC1}@:101",
])
def test_bad_vnic_options_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        cli.parse_vnic(text)


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:8300", ("127.0.0.1", 8300)), ("nve1", ("nve1", 830)),
    ("[2001:db8::1]:8300", ("2001:db8::1", 8300)), ("[2001:db8::1]", ("2001:db8::1", 830)),
])
def test_nve_option_forms(text: str, expected: tuple[str, int]) -> None:
    assert cli.parse_nve(text) == expected


def test_association_options_become_parameters() -> None:
    args = cli.build_parser().parse_args([
        "--nve", "n:1", "--user", "hv1", "associate", "--vm", VM.vm_id.upper(),
        "--tenant", "tenant-a", "--vnic", f"{MAC1}@vn-blue:101/3", "--vnic", f"{MAC2}@vn-blue",
        "--vnic", "52:54:00:aa:bb:03@=5002", "--ip", f"{MAC1}=10.0.0.5",
        "--acl-in", "vn-blue=web-in", "--acl-in", "vn-blue=common-in",
        "--acl-out", "5002=out", "--qos", "vn-blue=gold", "--group-id", "7",
        "--vserver", "hv-12", "--indication", "keep-alive",
    ])
    assert cli.build_association(args) == params(
        VNAttachment("vn-blue", vnics=(
            VNIC(MAC1, ("10.0.0.5",), requested_vid=101, requested_pcp=3), VNIC(MAC2)),
            policies=VNPolicies(("web-in", "common-in"), (), "gold")),
        VNAttachment(vnid=5002, vnics=(VNIC("52:54:00:aa:bb:03"),),
                     policies=VNPolicies((), ("out",))),
        group_id=7, vserver_id="hv-12",
    )


@pytest.mark.parametrize("argv", [
    [],
    ["associate", "--vm", VM.vm_id, "--tenant", "t", "--vnic", f"{MAC1}@vn"],  # no --nve
    ["--nve", "n", "associate", "--vm", VM.vm_id, "--tenant", "t"],  # no --user
    ["--nve", "n", "--user", "u", "associate", "--tenant", "t"],  # no --vm
    ["--nve", "n", "--user", "u", "associate", "--vm", "x", "--tenant", "t",
     "--vnic", f"{MAC1}@vn"],  # not a UUID
    ["--nve", "n", "--user", "u", "associate", "--vm", VM.vm_id, "--tenant", "t"],  # no VN
    ["--nve", "n", "--user", "u", "associate", "--vm", VM.vm_id, "--tenant", "t",
     "--vnic", f"{MAC1}@vn", "--qos", "other=gold"],  # policy for a VN not attached
    ["--nve", "n", "--user", "u", "associate", "--vm", VM.vm_id, "--tenant", "t",
     "--vnic", f"{MAC1}@vn", "--ip", f"{MAC2}=10.0.0.1"],  # IP for an unknown vNIC
    ["--nve", "n:x", "--user", "u", "suspend", "--vm", VM.vm_id],
    ["--nve", "n", "--user", "u", "suspend", "--vm", VM.vm_id, "--bogus"],
    ["--nve", "n", "--user", "u", "watch", "--xpath", "/x", "--event", "vm-aged-out"],
    ["--nve", "n", "--user", "u", "--hostkey-policy", "pinned", "suspend", "--vm", VM.vm_id],
])
def test_usage_errors_exit_1_without_connecting(argv: list[str], capsys, monkeypatch) -> None:
    for name in ("NVO3_NVE", "NVO3_TES_USER", "NVO3_TES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and "nvo3-tes" in err


def test_unreachable_nve_exits_1(capsys) -> None:
    argv = ["--nve", "127.0.0.1:1", "--user", "hv1", "--password", "x", "--timeout", "5",
            "keep-alive", "--vm", VM.vm_id]
    assert cli.main(argv) == 1
    assert "cannot connect to 127.0.0.1:1" in capsys.readouterr().err


def test_reply_text() -> None:
    ok = Reply(TESOperation.ASSOCIATE, VM, Result.SUCCESS, vm_state=VMState.ASSOCIATED,
               keep_alive_interval=30, aging_time=300,
               assignments=(Assignment(101, "vn-blue", mac=MAC1, pcp=0),
                            Assignment(7, vnid=5002)))
    assert cli.format_reply(ok).splitlines() == [
        f"SUCCESS  associate  vm {VM.vm_id} associated",
        f"  vn-blue {MAC1} → VID 101 PCP 0",
        "  vnid 5002 → VID 7",
        "  keep-alive every 30 s, aging 300 s",
    ]
    fail = Reply(TESOperation.SUSPEND, VM, Result.FAIL, ReplyReason.INVALID_STATE,
                 "only an associated VM can be suspended", VMState.PRE_ASSOCIATED)
    assert cli.format_reply(fail).splitlines() == [
        f"FAIL  suspend  vm {VM.vm_id}  invalid-state  (vm pre-associated)",
        "  only an associated VM can be suspended",
    ]


def test_event_text() -> None:
    line = cli.format_event(parse_notification(parse_xml(STATE_CHANGED.encode())))
    assert line == (f"2026-11-21T10:00:00Z  vm-state-changed  vm {VM.vm_id}  associate: "
                    "pre-associated → associated  by hv1")
    line = cli.format_event(parse_notification(parse_xml(LOCAL_CHANGE.encode())))
    assert line.endswith(f"change 7 vid-reassigned: vn-blue {MAC1} VID 101 → 205")


# -- the project's example messages -----------------------------------------------------

EXAMPLES = ROOT / "examples" / "data"


def example(name: str) -> Element:
    return parse_xml((EXAMPLES / name).read_bytes())


def test_example_replies_parse() -> None:
    success = parse_reply(TESOperation.ASSOCIATE, VM, tuple(example("reply-associate-success.xml")))
    assert success.ok and success.vm_state is VMState.ASSOCIATED
    assert [(a.vn_name, a.mac, a.vid, a.pcp) for a in success.assignments] == [
        ("alice-web", "52:54:00:a1:00:01", 101, 5), ("alice-db", "52:54:00:a1:00:02", 150, 3)]
    fail = parse_reply(TESOperation.ASSOCIATE, VM, tuple(example("reply-associate-fail.xml")))
    assert fail.reason is ReplyReason.FAILED_AUTHORIZATION
    assert fail.error_message and "tenant bob" in fail.error_message


@pytest.mark.parametrize("name, kind", [
    ("notif-vm-state-changed.xml", VMStateChanged), ("notif-vm-aged-out.xml", VMAgedOut),
    ("notif-local-change.xml", LocalChange), ("notif-migration-progress.xml", MigrationProgress),
    ("notif-mapping-changed.xml", Notification),
])
def test_example_notifications_parse(name: str, kind: type) -> None:
    root = etree.Element(f"{{{NS_NOTIF}}}notification", nsmap={None: NS_NOTIF})
    etree.SubElement(root, f"{{{NS_NOTIF}}}eventTime").text = "2026-11-21T10:00:00+01:00"
    root.append(example(name))
    event = parse_notification(root)
    assert isinstance(event, kind)
    assert event.event_time.utcoffset() is not None
    json.dumps(event_to_dict(event))


@pytest.mark.parametrize("text", [
    "AAAAE2VjZHNh", "ecdsa-sha2-nistp256 AAAAE2VjZHNh nve1",
    "[192.0.2.1]:830 ecdsa-sha2-nistp256 AAAAE2VjZHNh",
])
def test_pinned_host_key_forms(text: str) -> None:
    params = ConnectionParams("nve1", host_key=text, hostkey_policy=HostKeyPolicy.PINNED)
    assert params.host_key == "AAAAE2VjZHNh"


def test_connection_parameter_checks() -> None:
    with pytest.raises(ValueError, match="needs the host key"):
        ConnectionParams("nve1", hostkey_policy=HostKeyPolicy.PINNED)
    with pytest.raises(ValueError, match="not an SSH public key"):
        ConnectionParams("nve1", host_key="ecdsa-sha2-nistp256")
    with pytest.raises(ValueError, match="port"):
        ConnectionParams("nve1", port=0)
    assert ConnectionParams("2001:db8::1", 8300).peer == "[2001:db8::1]:8300"
    assert "secret" not in repr(ConnectionParams("nve1", password="secret"))
