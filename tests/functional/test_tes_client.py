"""The TES client (API and ``nvo3-tes``) against a real agent over SSH.

The agent is configured by edit-config in each test's setup: two tenants, a VN of each
with a VAP on eth1 and its VID range, and ``operator`` authorized as a TES for
tenant-a only. ``operator`` is the hypervisor's SSH user, hence its TES identity.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from nvo3_netconf.cli import tes as cli
from nvo3_netconf.constants import ErrorTag, ErrorType, FramingVersion
from nvo3_netconf.errors import InvalidValueError, OperationFailedError, RPCError
from nvo3_netconf.tes import (
    VNIC,
    AssociationParams,
    ConnectionParams,
    HostKeyPolicy,
    ImmigrationPhase,
    Indication,
    LocalChange,
    LocalChangeCause,
    MigrationPeer,
    NetconfConnection,
    NVEConnectionError,
    ReplyReason,
    Result,
    Subscription,
    TESClient,
    TESOperation,
    VMEvent,
    VMRef,
    VMState,
    VMStateChanged,
    VNAttachment,
)
from nvo3_netconf.tes.params import NS_TES
from nvo3_netconf.transport.ssh import load_or_create_host_key
from tests.functional.conftest import PASSWORD, Agent

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
VN_NS = "urn:nvo3-netconf:yang:nvo3-vn"
NVE_NS = "urn:nvo3-netconf:yang:nvo3-nve"
TES_USER = "operator"
BLUE_VIDS = range(100, 200)

CONFIG = f"""
<config xmlns="{NC}">
  <tenants xmlns="{VN_NS}">
    <tenant><tenant-id>tenant-a</tenant-id></tenant>
    <tenant><tenant-id>tenant-b</tenant-id></tenant>
  </tenants>
  <vn-instances xmlns="{VN_NS}">
    <vn-instance>
      <name>vn-blue</name><vnid>5001</vnid><tenant>tenant-a</tenant>
      <vap><name>eth1-blue</name><interface>eth1</interface>
        <vid-range><start>100</start><end>199</end></vid-range></vap>
    </vn-instance>
    <vn-instance>
      <name>vn-red</name><vnid>5002</vnid><tenant>tenant-b</tenant>
      <vap><name>eth1-red</name><interface>eth1</interface>
        <vid-range><start>200</start><end>299</end></vid-range></vap>
    </vn-instance>
  </vn-instances>
  <nve xmlns="{NVE_NS}"><signalling><tes-authorization>
    <tes><name>{TES_USER}</name><tenant>tenant-a</tenant><interface>eth1</interface></tes>
  </tes-authorization></signalling></nve>
</config>
"""


def vm(n: int) -> VMRef:
    return VMRef(f"6f1c2a4e-0000-4000-8000-{n:012x}")


def mac(n: int) -> str:
    return f"52:54:00:aa:{n // 256:02x}:{n % 256:02x}"


def blue(n: int, *, vid: int | None = None, tenant: str = "tenant-a",
         vn: str = "vn-blue") -> AssociationParams:
    return AssociationParams(vm(n), tenant, vns=(
        VNAttachment(vn, vnics=(VNIC(mac(n), (f"10.0.0.{n % 250 + 1}",),
                                     requested_vid=vid),)),))


@pytest.fixture
def nve(agent: Agent) -> Agent:
    """The agent with tenants, VNs and the TES authorization configured."""
    m = agent.connect()
    try:
        m.edit_config(target="running", config=CONFIG)
    finally:
        m.close_session()
    return agent


def params(agent: Agent, user: str = TES_USER, **kwargs: object) -> ConnectionParams:
    values: dict[str, object] = {
        "username": user, "password": PASSWORD, "hostkey_policy": HostKeyPolicy.ACCEPT_ANY,
        "timeout": 30.0, **kwargs}
    return ConnectionParams("127.0.0.1", agent.port, **values)  # type: ignore[arg-type]


@pytest.fixture(params=[FramingVersion.CHUNKED, FramingVersion.EOM],
                ids=["base:1.1", "base:1.0"])
def tes(request: pytest.FixtureRequest, nve: Agent) -> Iterator[Callable[..., TESClient]]:
    """Open TES clients on the configured agent, with the framing of the parameter."""
    opened: list[TESClient] = []

    def _open(user: str = TES_USER) -> TESClient:
        client = TESClient(params(nve, user, framing=request.param)).open()
        assert client.framing is request.param
        opened.append(client)
        return client

    yield _open
    for client in opened:
        client.close()


# -- the API ----------------------------------------------------------------------------

def test_associate_assigns_a_vid_of_the_vap_range(tes) -> None:
    reply = tes().associate(blue(1))
    assert reply.result is Result.SUCCESS and reply.check() is reply
    assert reply.operation is TESOperation.ASSOCIATE and reply.vm == vm(1)
    assert reply.vm_state is VMState.ASSOCIATED
    (assignment,) = reply.assignments
    assert (assignment.vn_name, assignment.mac) == ("vn-blue", mac(1))
    assert assignment.vid in BLUE_VIDS


def test_requested_vid_is_assigned(tes) -> None:
    reply = tes().associate(blue(2, vid=150))
    assert [a.vid for a in reply.check().assignments] == [150]


def test_lifecycle_through_every_state(tes) -> None:
    client = tes()
    steps = [
        (lambda: client.pre_associate(blue(3)), VMState.PRE_ASSOCIATED),
        (lambda: client.associate(blue(3)), VMState.ASSOCIATED),
        (lambda: client.keep_alive(vm(3)), VMState.ASSOCIATED),
        (lambda: client.suspend(vm(3)), VMState.SUSPENDED),
        (lambda: client.resume(vm(3)), VMState.ASSOCIATED),
        (lambda: client.resume(vm(3)), VMState.ASSOCIATED),  # not suspended: no change
        (lambda: client.emigrate(vm(3), destination=MigrationPeer("mig-1", "192.0.2.2")),
         VMState.EMIGRATING),
        (lambda: client.associate(blue(3)), VMState.ASSOCIATED),  # migration failed
        (lambda: client.associate(blue(3), indications=[Indication.SUSPENSION]),
         VMState.SUSPENDED),
        (lambda: client.terminate(vm(3)), None),
    ]
    for send, state in steps:
        reply = send()
        assert reply.ok, reply
        assert reply.vm_state is state, reply


def test_immigration_in_two_phases(tes) -> None:
    client = tes()
    source = MigrationPeer("mig-7", "192.0.2.9", "hv-9")
    prepared = client.immigrate(blue(4), phase=ImmigrationPhase.PRE_ASSOCIATE, source=source)
    assert prepared.vm_state is VMState.IMMIGRATING
    done = client.immigrate(blue(4), source=source)
    assert done.vm_state is VMState.ASSOCIATED and done.assignments


@pytest.mark.parametrize("send, reason", [
    (lambda c: c.suspend(vm(90)), ReplyReason.UNKNOWN_VM),
    (lambda c: c.keep_alive(vm(90)), ReplyReason.UNKNOWN_VM),
    (lambda c: c.associate(blue(91, tenant="tenant-b", vn="vn-red")),
     ReplyReason.FAILED_AUTHORIZATION),  # a tenant the TES may not act for
    (lambda c: c.associate(blue(92, vn="vn-red")),
     ReplyReason.FAILED_AUTHORIZATION),  # a VN of another tenant
    (lambda c: c.associate(blue(93, vn="vn-nowhere")), ReplyReason.UNKNOWN_VN),
])
def test_fail_replies_carry_the_reason(tes, send, reason: ReplyReason) -> None:
    reply = send(tes())
    assert reply.result is Result.FAIL and reply.reason is reason
    assert reply.error_message
    assert reply.vm_state is None and reply.assignments == ()


def test_a_fail_changes_nothing(tes) -> None:
    client = tes()
    client.pre_associate(blue(5)).check()
    refused = client.suspend(vm(5))  # only an associated VM can be suspended
    assert (refused.result, refused.reason) == (Result.FAIL, ReplyReason.INVALID_STATE)
    assert refused.vm_state is VMState.PRE_ASSOCIATED
    assert client.keep_alive(vm(5)).vm_state is VMState.PRE_ASSOCIATED


def test_a_tes_not_authorized_is_refused(tes) -> None:
    reply = tes("admin").associate(blue(6))
    assert (reply.result, reply.reason) == (Result.FAIL, ReplyReason.FAILED_AUTHORIZATION)


class RawRequest:
    """A request the client's checks would refuse: only the NVE's answer is tested."""

    operation = TESOperation.ASSOCIATE

    def __init__(self, vm_id: str) -> None:
        self.vm = vm(0)
        self.vm_id = vm_id

    def to_element(self) -> etree._Element:
        op = etree.Element(f"{{{NS_TES}}}associate", nsmap={None: NS_TES})
        for name, value in (("vm-id", self.vm_id), ("tenant", "tenant-a")):
            etree.SubElement(op, f"{{{NS_TES}}}{name}").text = value
        vn = etree.SubElement(op, f"{{{NS_TES}}}vn")
        etree.SubElement(vn, f"{{{NS_TES}}}vn-name").text = "vn-blue"
        etree.SubElement(etree.SubElement(vn, f"{{{NS_TES}}}vnic"), f"{{{NS_TES}}}mac").text = \
            mac(0)
        return op


def test_rpc_errors_become_typed_errors(tes) -> None:
    client = tes()
    with pytest.raises(RPCError) as caught:  # a must statement of the model is violated
        client.send(RawRequest("NOT-A-UUID"))  # type: ignore[arg-type]
    error = caught.value
    assert isinstance(error, OperationFailedError)
    assert (error.tag, error.type) == (ErrorTag.OPERATION_FAILED, ErrorType.APPLICATION)
    assert error.app_tag == "vm-id-format-mismatch"
    assert error.path == "/tes:associate/tes:vm-id"
    assert error.path_namespaces == {"tes": NS_TES}
    assert "lower-case UUID" in error.message
    # the session survives the error
    assert client.associate(blue(7)).ok


def test_concurrent_requests_on_one_session(tes) -> None:
    client = tes()
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda n: client.associate(blue(n)), range(100, 140)))
    assert all(r.ok and r.vm == vm(n) for n, r in zip(range(100, 140), replies, strict=True))
    vids = [r.assignments[0].vid for r in replies]
    assert len(set(vids)) == len(vids) and all(v in BLUE_VIDS for v in vids)


def test_watch_yields_typed_notifications(tes) -> None:
    watcher, signaller = tes(), tes()
    watcher.subscribe(Subscription.for_events(("vm-state-changed",), vm=vm(8)))
    signaller.associate(blue(9)).check()  # another VM: filtered out
    signaller.associate(blue(8)).check()
    signaller.terminate(vm(8)).check()
    events = []
    for event in watcher.watch(timeout=10):
        events.append(event)
        if len(events) == 2:
            break
    assert all(isinstance(e, VMStateChanged) and e.vm == vm(8) for e in events)
    first, second = events
    assert isinstance(first, VMStateChanged) and isinstance(second, VMStateChanged)
    assert (first.event, first.old_state, first.new_state) == (
        VMEvent.ASSOCIATE, None, VMState.ASSOCIATED)
    assert first.tes_identity == TES_USER and first.tenant == "tenant-a"
    assert (second.event, second.new_state) == (VMEvent.TERMINATE, None)


MOVE_BLUE_RANGE = f"""
<config xmlns="{NC}" xmlns:nc="{NC}">
  <vn-instances xmlns="{VN_NS}"><vn-instance><name>vn-blue</name>
    <vap><name>eth1-blue</name>
      <vid-range nc:operation="delete"><start>100</start></vid-range>
      <vid-range><start>300</start><end>399</end></vid-range>
    </vap>
  </vn-instance></vn-instances>
</config>
"""


def test_local_change_is_notified_and_acknowledged(nve: Agent, tes) -> None:
    client = tes()
    assert [a.vid for a in client.associate(blue(12, vid=150)).check().assignments] == [150]
    client.subscribe(Subscription.for_events(("local-change",)))
    m = nve.connect()
    try:
        m.edit_config(target="running", config=MOVE_BLUE_RANGE)  # the operator's change
    finally:
        m.close_session()
    event = next(client.watch(timeout=10))
    assert isinstance(event, LocalChange) and event.vm == vm(12)
    assert event.cause is LocalChangeCause.VID_REASSIGNED and event.tes_identity == TES_USER
    (change,) = event.changes
    assert (change.vn_name, change.mac, change.old_vid) == ("vn-blue", mac(12), 150)
    assert change.new_vid in range(300, 400)
    assert client.acknowledge_local_change(event.vm, event.change_id).ok
    assert [a.vid for a in client.keep_alive(vm(12)).assignments] == [change.new_vid]
    with pytest.raises(InvalidValueError) as caught:  # answered already
        client.acknowledge_local_change(event.vm, event.change_id)
    assert caught.value.path == "/tes:acknowledge-local-change/tes:change-id"


def agent_now(agent: Agent) -> datetime:
    """The agent's time: its clock is a manual one, not the wall clock."""
    return datetime.fromtimestamp(agent.clock.time(), UTC)


def test_watch_ends_after_a_replay_with_stop_time(nve: Agent, tes) -> None:
    start = agent_now(nve) - timedelta(minutes=5)
    tes().associate(blue(10)).check()
    watcher = tes()
    watcher.subscribe(Subscription.for_events(
        ("vm-state-changed",), start_time=start, stop_time=agent_now(nve) + timedelta(seconds=1)))
    nve.clock.advance(2)  # past the stop time
    names = [e.name for e in watcher.watch(timeout=10)]
    assert names == ["vm-state-changed", "replayComplete", "notificationComplete"]


def test_pinned_host_key(nve: Agent) -> None:
    key = load_or_create_host_key(nve.config.host_key_path)
    line = f"[127.0.0.1]:{nve.port} {key.get_name()} {key.get_base64()}"  # ssh-keyscan
    with TESClient(params(nve, hostkey_policy=HostKeyPolicy.PINNED, host_key=line)) as client:
        assert client.session_id is not None
        assert client.keep_alive(vm(11)).reason is ReplyReason.UNKNOWN_VM
    other = load_or_create_host_key(nve.config.state_dir / "other_key")
    with pytest.raises(NVEConnectionError, match="host key"):
        TESClient(params(nve, hostkey_policy=HostKeyPolicy.PINNED,
                         host_key=other.get_base64())).open()


def test_wrong_password_is_a_connection_error(nve: Agent) -> None:
    with pytest.raises(NVEConnectionError, match="authentication"):
        TESClient(params(nve, password="wrong")).open()


def test_calls_after_close_fail_cleanly(nve: Agent) -> None:
    connection = NetconfConnection.open(params(nve))
    connection.close()
    connection.close()  # idempotent
    with pytest.raises(NVEConnectionError):
        connection.call(etree.Element(f"{{{NC}}}get", nsmap={None: NC}))
    with pytest.raises(NVEConnectionError):
        TESClient(params(nve)).keep_alive(vm(1))  # never opened


# -- the command line -------------------------------------------------------------------

def run(agent: Agent, *argv: str, user: str = TES_USER) -> list[str]:
    return ["--nve", f"127.0.0.1:{agent.port}", "--user", user, "--password", PASSWORD,
            "--hostkey-policy", "accept-any", *argv]


def test_cli_associate_prints_the_assignment(nve: Agent, capsys) -> None:
    code = cli.main(run(nve, "associate", "--vm", vm(20).vm_id, "--tenant", "tenant-a",
                        "--vnic", f"{mac(20)}@vn-blue:120/2"))
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == f"SUCCESS  associate  vm {vm(20).vm_id} associated"
    assert out[1].startswith(f"  vn-blue {mac(20)} → VID 120")


def test_cli_json_output(nve: Agent, capsys) -> None:
    assert cli.main(run(nve, "--json", "pre-associate", "--vm", vm(21).vm_id,
                        "--tenant", "tenant-a", "--vnic", f"{mac(21)}@vn-blue")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["operation"] == "pre-associate" and data["result"] == "success"
    assert data["vm-state"] == "pre-associated"
    assert cli.main(run(nve, "--json", "terminate", "--vm", vm(21).vm_id)) == 0
    assert json.loads(capsys.readouterr().out)["result"] == "success"


def test_cli_fail_reply_exits_2(nve: Agent, capsys) -> None:
    code = cli.main(run(nve, "suspend", "--vm", vm(22).vm_id))
    out = capsys.readouterr().out
    assert code == 2
    assert out.startswith(f"FAIL  suspend  vm {vm(22).vm_id}  unknown-vm")


def test_cli_fail_reply_json_exits_2(nve: Agent, capsys) -> None:
    code = cli.main(run(nve, "--json", "associate", "--vm", vm(23).vm_id, "--tenant",
                        "tenant-a", "--vnic", f"{mac(23)}@vn-red"))
    assert code == 2
    data = json.loads(capsys.readouterr().out)
    assert (data["result"], data["reason"]) == ("fail", "failed-authorization")


def test_cli_rpc_error_exits_2(nve: Agent, capsys) -> None:
    argv = ("acknowledge", "--vm", vm(27).vm_id, "--change-id", "1")
    assert cli.main(run(nve, *argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "nvo3-tes: rpc-error invalid-value (application) at "
        "/tes:acknowledge-local-change/tes:vm-id: ")
    assert cli.main(run(nve, "--json", *argv)) == 2
    (error,) = json.loads(capsys.readouterr().out)["rpc-error"]
    assert (error["error-tag"], error["error-type"]) == ("invalid-value", "application")
    assert error["error-path"] == "/tes:acknowledge-local-change/tes:vm-id"


def test_cli_bad_password_exits_1(nve: Agent, capsys) -> None:
    argv = run(nve, "keep-alive", "--vm", vm(24).vm_id)
    argv[argv.index("--password") + 1] = "wrong"
    assert cli.main(argv) == 1
    assert "authentication" in capsys.readouterr().err


def test_cli_password_file_and_environment(nve: Agent, capsys, tmp_path, monkeypatch) -> None:
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\n")
    base = ["--nve", f"127.0.0.1:{nve.port}", "--hostkey-policy", "accept-any"]
    assert cli.main([*base, "--user", TES_USER, "--password-file", str(secret),
                     "terminate", "--vm", vm(25).vm_id]) == 0
    monkeypatch.setenv("NVO3_TES_USER", TES_USER)
    monkeypatch.setenv("NVO3_TES_PASSWORD", PASSWORD)
    assert cli.main([*base, "terminate", "--vm", vm(25).vm_id]) == 0
    assert capsys.readouterr().out.count("SUCCESS  terminate") == 2


def test_cli_watch_replays_and_follows(nve: Agent, capsys) -> None:
    since = (agent_now(nve) - timedelta(minutes=1)).isoformat()
    with TESClient(params(nve)) as client:
        client.associate(blue(26)).check()
    done = threading.Event()
    codes: list[int] = []

    def watch() -> None:
        codes.append(cli.main(run(nve, "--json", "watch", "--event", "vm-state-changed",
                                  "--vm", vm(26).vm_id, "--since", since, "--count", "2",
                                  "--idle", "20")))
        done.set()

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        with TESClient(params(nve)) as client:
            # the replayed associate arrives first; the live suspend ends the watch
            client.suspend(vm(26)).check()
        assert done.wait(30)
    finally:
        thread.join(30)
    assert codes == [0]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = [line for line in lines if line["name"] == "vm-state-changed"]
    assert [e["new-state"] for e in events] == ["associated", "suspended"]
