"""ncclient scripted directly (its own API, not the project's client code) against the agent.

Every test runs with base:1.1 and with base:1.0 framing (a device handler that offers
only base:1.0 forces it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ncclient import manager
from ncclient.operations.rpc import RPCError
from ncclient.transport.session import NetconfBase

from tests.functional.conftest import Base10Handler
from tests.interop.conftest import (
    FRAMINGS,
    NS_VN,
    PASSWORD,
    SECOND_VN,
    TENANT_XML,
    USER,
    VN_CAPABILITY,
    VN_XML,
    Agent,
    X,
    config_of,
    lock_holder,
    running,
    seed,
    tenants,
    vns,
)

pytestmark = pytest.mark.interop

WAIT = 20  # seconds a notification may take


def connect(agent: Agent, framing: str) -> manager.Manager:
    params = {"handler": Base10Handler} if framing == "base:1.0" else {"name": "default"}
    return manager.connect(host="127.0.0.1", port=agent.port, username=USER,
                           password=PASSWORD, hostkey_verify=False, look_for_keys=False,
                           allow_agent=False, device_params=params, timeout=30)


@pytest.fixture(params=FRAMINGS)
def framing(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def m(nve: Agent, framing: str) -> Iterator[manager.Manager]:
    with connect(nve, framing) as session:
        yield session


def test_hello_and_capabilities(m: manager.Manager, framing: str) -> None:
    expected = NetconfBase.BASE_11 if framing == "base:1.1" else NetconfBase.BASE_10
    assert m._session._base == expected
    for abbreviation in (":base:1.1", ":candidate", ":xpath", ":notification", ":interleave"):
        assert abbreviation in m.server_capabilities
    assert VN_CAPABILITY in set(m.server_capabilities)
    assert int(m.session_id) > 0


def test_edit_config_merge_from_file(m: manager.Manager, control: manager.Manager) -> None:
    seed(control, '<tenants xmlns="urn:nvo3-netconf:yang:nvo3-vn"><tenant>'
              "<tenant-id>bob</tenant-id></tenant></tenants>")
    reply = m.edit_config(target="running", config=config_of(TENANT_XML))
    assert reply.ok
    assert tenants(running(control)) == {"alice": "Alice Gaming Ltd", "bob": None}


def test_get_config(m: manager.Manager, control: manager.Manager) -> None:
    seed(control, TENANT_XML, VN_XML)
    data = m.get_config(source="running").data_ele
    assert vns(data) == {"alice-web": "10010"}
    assert data.xpath("//vn:vn-instance/vn:state", namespaces=X) == []  # config only


def test_subtree_filtered_get(m: manager.Manager, control: manager.Manager) -> None:
    seed(control, TENANT_XML, VN_XML, SECOND_VN)
    data = m.get(filter=("subtree", f'<vn-instances xmlns="{NS_VN}"><vn-instance>'
                                    "<name>alice-web</name></vn-instance></vn-instances>")).data_ele
    assert vns(data) == {"alice-web": "10010"}
    assert data.xpath("//vn:vn-instance/vn:state/vn:oper-status/text()", namespaces=X)


def test_xpath_filtered_get(m: manager.Manager, control: manager.Manager) -> None:
    seed(control, TENANT_XML, VN_XML, SECOND_VN)
    data = m.get(filter=("xpath", ({"vn": NS_VN},
                                   "/vn:vn-instances/vn:vn-instance[vn:vnid=10020]"))).data_ele
    assert vns(data) == {"alice-db": "10020"}


def test_lock_and_unlock(m: manager.Manager, control: manager.Manager) -> None:
    assert m.lock(target="candidate").ok
    assert lock_holder(control) == m.session_id
    with pytest.raises(RPCError) as info:
        control.lock(target="candidate")
    assert info.value.tag == "lock-denied"
    assert m.unlock(target="candidate").ok
    assert lock_holder(control) is None


def test_candidate_edit_and_commit(m: manager.Manager, control: manager.Manager) -> None:
    m.edit_config(target="candidate", config=config_of(TENANT_XML, VN_XML))
    assert vns(running(control)) == {}
    assert vns(m.get_config(source="candidate").data_ele) == {"alice-web": "10010"}
    assert m.commit().ok
    assert vns(running(control)) == {"alice-web": "10010"}


def test_notification_subscription(m: manager.Manager, control: manager.Manager) -> None:
    assert m.create_subscription().ok
    seed(control, TENANT_XML)
    for _ in range(20):
        notification = m.take_notification(timeout=WAIT)
        assert notification is not None, "no netconf-config-change arrived"
        root = notification.notification_ele
        targets = root.xpath("//n:netconf-config-change/n:edit/n:target/text()", namespaces=X)
        if targets:
            assert targets == ["/vn:tenants"]
            return
    raise AssertionError("no netconf-config-change among 20 notifications")


def test_rpc_error_is_reported(m: manager.Manager) -> None:
    bad = config_of(f'<vn-instances xmlns="{NS_VN}"><vn-instance><name>x</name>'
                    "</vn-instance></vn-instances>")
    with pytest.raises(RPCError) as info:
        m.edit_config(target="running", config=bad)
    assert info.value.tag == "data-missing"
