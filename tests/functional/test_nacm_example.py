"""The example access policy (``examples/nacm/``) in a real agent, role by role, over SSH.

The agent gets the example users file (each password hash replaced by the test
password's, the recovery user given a fresh key) and the example NVE configuration;
the administrator loads ``examples/nacm/nacm.xml`` while the bootstrap policy still
lets the ``admin`` group do everything. Each test then proves what one role may and
may not do: the administrator, the read-only monitoring group, the operator of one
tenant, the hypervisors (TES group) and the recovery user.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError as NcRPCError

from nvo3_netconf.server.auth import UserDatabase, hash_password
from nvo3_netconf.server.config import ServerConfig
from tests.functional.conftest import PASSWORD, ROOT, Agent
from nvo3_netconf.scheduler import ManualClock

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
N = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
VM = "urn:nvo3-netconf:yang:nvo3-vm"
VN = "urn:nvo3-netconf:yang:nvo3-vn"
NVE = "urn:nvo3-netconf:yang:nvo3-nve"
TES = "urn:nvo3-netconf:yang:nvo3-tes"
MAP = "urn:nvo3-netconf:yang:nvo3-mapping"
POL = "urn:nvo3-netconf:yang:nvo3-policy"
ACL = "urn:ietf:params:xml:ns:yang:ietf-access-control-list"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
EXAMPLES = ROOT / "examples"
ALICE_VM = "6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a01"
BOB_VM = "0b0b0b0b-0000-4000-8000-000000000009"
NEW_VM = "11111111-2222-4333-8444-555555555555"


def fragment(path: Path) -> str:
    """An example document without its leading comment."""
    text = path.read_text()
    return text.split("-->", 1)[1] if text.lstrip().startswith("<!--") else text


def config(body: str) -> str:
    return f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>'


@pytest.fixture
def recovery_key(tmp_path: Path) -> Path:
    key = paramiko.ECDSAKey.generate(bits=256)
    path = tmp_path / "recovery_key"
    key.write_private_key_file(str(path))
    (tmp_path / "recovery_key.pub").write_text(f"{key.get_name()} {key.get_base64()} test\n")
    return path


@pytest.fixture
def example(tmp_path: Path, recovery_key: Path) -> Iterator[Agent]:
    """An agent with the example users, NVE configuration and access policy."""
    entries = tomllib.loads((EXAMPLES / "nacm" / "users.toml").read_text())["users"]
    digest = hash_password(PASSWORD)
    for name, entry in entries.items():
        if "password-hash" in entry:
            entry["password-hash"] = digest
    entries["recovery"]["authorized-keys"] = [
        (recovery_key.parent / "recovery_key.pub").read_text().strip()]
    settings = tomllib.loads((EXAMPLES / "nacm" / "nve.toml").read_text())
    server_config = ServerConfig(
        listen="127.0.0.1", port=0, state_dir=tmp_path / "state",
        nacm_recovery_user=settings["nacm-recovery-user"],
        nacm_bootstrap_group=settings["nacm-bootstrap-group"],
    )
    agent = Agent(server_config, UserDatabase.from_mapping(entries), ManualClock()).start()
    try:
        with agent.connect(user="admin") as m:
            m.edit_config(target="running",
                          config=config(fragment(EXAMPLES / "data" / "nve-full.xml")))
            m.edit_config(target="running", config=config(
                f'<nve xmlns="{NVE}"><signalling><tes-authorization><tes><name>hv1</name>'
                "<tenant>alice</tenant><tenant>bob</tenant><interface>eth1</interface>"
                "<interface>eth2</interface></tes></tes-authorization></signalling></nve>"))
            m.edit_config(target="running",
                          config=config(fragment(EXAMPLES / "nacm" / "nacm.xml")))
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def login(example: Agent) -> Iterator[Callable[[str], manager.Manager]]:
    opened: list[manager.Manager] = []

    def _login(user: str) -> manager.Manager:
        session = example.connect(user=user)
        opened.append(session)
        return session

    yield _login
    for session in opened:
        if session.connected:
            try:
                session.close_session()
            except Exception:  # noqa: BLE001 - closed by the agent meanwhile
                pass


def data(reply: object) -> etree._Element:
    return etree.fromstring(reply.data_xml.encode())  # type: ignore[attr-defined]


def top(tree: etree._Element) -> set[str]:
    return {etree.QName(child).localname for child in tree}


def vm_tenants(tree: etree._Element, container: str = "vms") -> dict[str, str]:
    return {vm.findtext(f"{{{VM}}}vm-id") or "": vm.findtext(f"{{{VM}}}tenant") or ""
            for vm in tree.iterfind(f"{{{VM}}}{container}/{{{VM}}}vm")}


def denied(call: Callable[[], object]) -> NcRPCError:
    with pytest.raises(NcRPCError) as info:
        call()
    assert info.value.tag == "access-denied"
    return info.value


def associate(vm_id: str, tenant: str, vn: str, mac: str) -> etree._Element:
    return etree.fromstring(
        f'<associate xmlns="{TES}"><vm-id>{vm_id}</vm-id><tenant>{tenant}</tenant>'
        f"<vn><vn-name>{vn}</vn-name><vnic><mac>{mac}</mac></vnic></vn></associate>")


def result(reply: object) -> str:
    tree = etree.fromstring(reply.xml.encode())  # type: ignore[attr-defined]
    return tree.findtext(f".//{{{TES}}}result") or ""


def admin_view(login: Callable[[str], manager.Manager]) -> etree._Element:
    return data(login("admin").get_config(source="running"))


# ---------------------------------------------------------------------- admin
def test_admin_reads_and_changes_everything(login: Callable[[str], manager.Manager]) -> None:
    m = login("admin")
    everything = data(m.get_config(source="running"))
    assert {"nacm", "nve", "tenants", "vn-instances", "vms", "vm-groups", "acls",
            "qos-profiles", "mappings"} <= top(everything)
    assert set(vm_tenants(everything).values()) == {"alice", "bob"}
    m.edit_config(target="running", config=config(
        f'<nve xmlns="{NVE}"><description>changed by admin</description></nve>'))
    m.edit_config(target="running", config=config(
        f'<vms xmlns="{VM}"><vm><vm-id>{BOB_VM}</vm-id><description>admin was here'
        "</description></vm></vms>"))
    counters = data(m.get(filter=("subtree", f'<nacm xmlns="{N}"><denied-operations/>'
                                             "</nacm>")))
    assert counters.findtext(f"{{{N}}}nacm/{{{N}}}denied-operations") == "0"


# ----------------------------------------------------------------- monitoring
def test_monitoring_reads_all_but_the_policy_and_changes_nothing(
        login: Callable[[str], manager.Manager]) -> None:
    m = login("monitor")
    seen = data(m.get_config(source="running"))
    assert "nacm" not in top(seen)
    assert {"nve", "tenants", "vn-instances", "vms", "mappings"} <= top(seen)
    assert set(vm_tenants(seen).values()) == {"alice", "bob"}
    state = data(m.get())
    assert "netconf-state" in top(state) and "nacm" not in top(state)
    for call in (
        lambda: m.edit_config(target="running", config=config(
            f'<nve xmlns="{NVE}"><description>x</description></nve>')),
        lambda: m.lock(target="running"),
        lambda: m.commit(),
        lambda: m.dispatch(associate(NEW_VM, "alice", "alice-web", "52:54:00:a1:00:77")),
    ):
        error = denied(call)
        assert error.type == "protocol"
    error = denied(lambda: m.edit_config(target="running", config=config("")))
    assert error.path == "/nc:rpc/nc:edit-config"
    assert "changed" not in (admin_view(login).findtext(f"{{{NVE}}}nve/{{{NVE}}}description")
                             or "")


# --------------------------------------------------------------- tenant alice
def test_tenant_operator_sees_only_its_tenant(login: Callable[[str], manager.Manager]) -> None:
    m = login("alice-ops")
    seen = data(m.get_config(source="running"))
    assert top(seen) == {"tenants", "vn-instances", "vm-groups", "vms", "acls",
                         "qos-profiles"}
    assert set(vm_tenants(seen).values()) == {"alice"}
    assert ALICE_VM in vm_tenants(seen) and BOB_VM not in vm_tenants(seen)
    assert {e.text for e in seen.iterfind(f"{{{VN}}}tenants/{{{VN}}}tenant/{{{VN}}}tenant-id")
            } == {"alice"}
    assert {e.findtext(f"{{{VN}}}tenant")
            for e in seen.iterfind(f"{{{VN}}}vn-instances/{{{VN}}}vn-instance")} == {"alice"}
    # Asking for bob's VM by name gives what asking for a VM that does not exist gives.
    by_key = data(m.get_config(source="running", filter=(
        "subtree", f'<vms xmlns="{VM}"><vm><vm-id>{BOB_VM}</vm-id></vm></vms>')))
    missing = data(m.get_config(source="running", filter=(
        "subtree", f'<vms xmlns="{VM}"><vm><vm-id>{NEW_VM}</vm-id></vm></vms>')))
    assert etree.tostring(by_key) == etree.tostring(missing)
    assert len(by_key) == 0
    # Nor can a content match on a hidden node reveal anything.
    by_tenant = data(m.get_config(source="running", filter=(
        "xpath", ({"vm": VM}, "/vm:vms/vm:vm[vm:tenant='bob']"))))
    assert len(by_tenant) == 0


def test_tenant_operator_changes_only_its_own_vms(
        login: Callable[[str], manager.Manager]) -> None:
    m = login("alice-ops")
    m.edit_config(target="running", config=config(
        f'<vms xmlns="{VM}"><vm><vm-id>{NEW_VM}</vm-id><tenant>alice</tenant>'
        "<description>alice's new VM</description></vm></vms>"))
    m.edit_config(target="running", config=config(
        f'<vms xmlns="{VM}"><vm><vm-id>{ALICE_VM}</vm-id><description>edited by alice'
        "</description></vm></vms>"))
    before = etree.tostring(admin_view(login))
    # bob's VM: every kind of change is refused, and the error does not name it
    for body in (
        f"<vm><vm-id>{BOB_VM}</vm-id><description>mine</description></vm>",
        f'<vm nc:operation="delete"><vm-id>{BOB_VM}</vm-id></vm>',
        f"<vm><vm-id>{BOB_VM}</vm-id><tenant>alice</tenant></vm>",
        f'<vm nc:operation="delete"><vm-id>{BOB_VM[:-1]}8</vm-id></vm>',  # no such VM
        # a merge that would change nothing must not tell either
        f"<vm><vm-id>{BOB_VM}</vm-id><tenant>bob</tenant></vm>",
        f'<vm nc:operation="remove"><vm-id>{BOB_VM}</vm-id></vm>',
        f'<vm nc:operation="remove"><vm-id>{BOB_VM[:-1]}8</vm-id></vm>',
    ):
        error = denied(lambda body=body: m.edit_config(
            target="running", config=config(f'<vms xmlns="{VM}">{body}</vms>')))
        assert error.type == "application"
        assert error.path is None
    # a VM for bob, or alice's own VM given to bob, or the NVE's settings
    for body in (
        f'<vms xmlns="{VM}"><vm><vm-id>{NEW_VM[:-1]}6</vm-id><tenant>bob</tenant></vm></vms>',
        f'<vms xmlns="{VM}"><vm><vm-id>{ALICE_VM}</vm-id><tenant>bob</tenant></vm></vms>',
        f'<nve xmlns="{NVE}"><description>mine</description></nve>',
    ):
        denied(lambda body=body: m.edit_config(target="running", config=config(body)))
    # One denied node refuses the whole edit: alice's part is not applied either.
    denied(lambda: m.edit_config(target="running", config=config(
        f'<vms xmlns="{VM}"><vm><vm-id>{ALICE_VM}</vm-id><description>half</description>'
        f"</vm><vm><vm-id>{BOB_VM}</vm-id><description>half</description></vm></vms>")))
    assert etree.tostring(admin_view(login)) == before
    m.edit_config(target="running", config=config(
        f'<vms xmlns="{VM}"><vm nc:operation="delete"><vm-id>{NEW_VM}</vm-id></vm></vms>'))


def test_tenant_operator_through_candidate_and_commit(
        login: Callable[[str], manager.Manager]) -> None:
    m = login("alice-ops")
    m.edit_config(target="candidate", config=config(
        f'<vms xmlns="{VM}"><vm><vm-id>{NEW_VM}</vm-id><tenant>alice</tenant></vm></vms>'))
    m.commit()
    assert NEW_VM in vm_tenants(data(m.get_config(source="running")))
    # Copying running (as alice sees it) over candidate would delete bob's entries.
    denied(lambda: m.copy_config(source="running", target="candidate"))
    # kill-session and delete-config need a rule that names them
    denied(lambda: m.delete_config(target="startup"))
    other = login("monitor")
    denied(lambda: m.dispatch(etree.fromstring(
        f'<kill-session xmlns="{NC}"><session-id>{other.session_id}</session-id>'
        "</kill-session>")))


def test_tenant_operator_reads_its_vm_state_and_notifications_only(
        login: Callable[[str], manager.Manager]) -> None:
    alice, monitor, hv = login("alice-ops"), login("monitor"), login("hv1")
    alice.create_subscription()
    monitor.create_subscription()
    assert result(hv.dispatch(associate(BOB_VM, "bob", "bob-app", "52:54:00:b0:00:09"))) == \
        "success"
    assert result(hv.dispatch(associate(ALICE_VM, "alice", "alice-web",
                                        "52:54:00:a1:00:01"))) == "success"
    state = data(alice.get(filter=("subtree", f'<vm-state xmlns="{VM}"/>')))
    assert vm_tenants(state, "vm-state") == {ALICE_VM: "alice"}
    assert set(vm_tenants(data(monitor.get(filter=("subtree", f'<vm-state xmlns="{VM}"/>'))),
                          "vm-state").values()) == {"alice", "bob"}

    def changes(m: manager.Manager) -> list[str]:
        found = []
        while True:
            note = m.take_notification(block=True, timeout=3)
            if note is None:
                return found
            content = etree.fromstring(note.notification_xml.encode())
            for changed in content.iter(f"{{{TES}}}vm-state-changed"):
                found.append(changed.findtext(f"{{{TES}}}tenant") or "")

    assert changes(alice) == ["alice"]
    assert sorted(changes(monitor)) == ["alice", "bob"]


# ---------------------------------------------------------------------- TES
def test_tes_group_may_only_signal(login: Callable[[str], manager.Manager]) -> None:
    hv = login("hv1")
    hv.create_subscription()
    assert result(hv.dispatch(associate(ALICE_VM, "alice", "alice-web",
                                        "52:54:00:a1:00:01"))) == "success"
    note = hv.take_notification(block=True, timeout=10)
    assert note is not None and "vm-state-changed" in note.notification_xml
    for call in (
        lambda: hv.get_config(source="running"),
        lambda: hv.get(),
        lambda: hv.edit_config(target="running", config=config(
            f'<nve xmlns="{NVE}"><description>x</description></nve>')),
        lambda: hv.lock(target="running"),
    ):
        assert denied(call).type == "protocol"
    # No config-change or session notification reaches it: only its own module's.
    login("admin").edit_config(target="running", config=config(
        f'<nve xmlns="{NVE}"><description>y</description></nve>'))
    assert hv.take_notification(block=True, timeout=2) is None


# ------------------------------------------------------------------ recovery
def test_recovery_user_bypasses_the_policy(example: Agent, recovery_key: Path,
                                           login: Callable[[str], manager.Manager]) -> None:
    # Lock everyone out, administrators included...
    login("admin").edit_config(target="running", config=config(
        f'<nacm xmlns="{N}"><rule-list nc:operation="replace"><name>admin</name>'
        "<group>admin</group><rule><name>nothing</name><access-operations>*"
        "</access-operations><action>deny</action></rule></rule-list></nacm>"))
    admin = login("admin")
    denied(lambda: admin.get_config(source="running"))
    # ...and repair it as the recovery user, who logs in with its key.
    with manager.connect(host="127.0.0.1", port=example.port, username="recovery",
                         key_filename=str(recovery_key), hostkey_verify=False,
                         look_for_keys=False, allow_agent=False, timeout=30) as m:
        assert "nacm" in top(data(m.get_config(source="running")))
        m.edit_config(target="running", config=config(
            f'<nacm xmlns="{N}"><rule-list nc:operation="replace"><name>admin</name>'
            "<group>admin</group><rule><name>all</name><access-operations>*"
            "</access-operations><action>permit</action></rule></rule-list></nacm>"))
        counters = data(m.get(filter=("subtree", f'<nacm xmlns="{N}"/>')))
    assert int(counters.findtext(f"{{{N}}}nacm/{{{N}}}denied-operations") or 0) >= 1
    assert "nacm" in top(data(login("admin").get_config(source="running")))
