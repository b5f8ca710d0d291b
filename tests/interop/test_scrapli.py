"""scrapli-netconf (classic scrapli, paramiko transport) against the agent.

scrapli-netconf's ``system`` transport (OpenSSH's client) does not work against a server
that offers NETCONF as an SSH subsystem, so the paramiko transport is used. Errors do not
raise: every response is checked with ``.failed``. Its ``get(filter_type="xpath")``
declares no namespace for the prefixes of the expression (RFC 6241 sec. 8.9 resolves them
with the declarations in scope, so the agent refuses it); an XPath filter with its
namespace goes through ``rpc()``. It has no notification API, so subscriptions are not
tested. Every test runs with base:1.1 and base:1.0 (``preferred_netconf_version``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ncclient.operations.rpc import RPCError

from tests.interop.conftest import (
    FRAMINGS,
    NC,
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

driver = pytest.importorskip(
    "scrapli_netconf.driver",
    reason="scrapli-netconf is not installed (make setup installs it with the test extra)")
constants = pytest.importorskip("scrapli_netconf.constants")

pytestmark = pytest.mark.interop


@pytest.fixture(params=FRAMINGS)
def framing(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def conn(nve: Agent, framing: str) -> Iterator[Any]:
    connection = driver.NetconfDriver(
        host="127.0.0.1", port=nve.port, auth_username=USER, auth_password=PASSWORD,
        auth_strict_key=False, transport="paramiko",
        preferred_netconf_version=framing.removeprefix("base:"),
        timeout_socket=30, timeout_transport=30, timeout_ops=30)
    connection.open()
    try:
        yield connection
    finally:
        connection.close()


def ok(response: Any) -> Any:
    """``response`` after checking it is no error (scrapli does not raise)."""
    assert not response.failed, response.result
    return response


def data_of(response: Any) -> Any:
    """The ``<data>`` element of a reply."""
    (data,) = ok(response).xml_result.xpath("//nc:data", namespaces=X)
    return data


def test_hello_and_capabilities(conn: Any, framing: str) -> None:
    version = {"base:1.1": constants.NetconfVersion.VERSION_1_1,
               "base:1.0": constants.NetconfVersion.VERSION_1_0}[framing]
    assert conn.netconf_version == version
    caps = set(conn.server_capabilities)
    for cap in ("urn:ietf:params:netconf:base:1.1",
                "urn:ietf:params:netconf:capability:candidate:1.0",
                "urn:ietf:params:netconf:capability:xpath:1.0", VN_CAPABILITY):
        assert cap in caps


def test_edit_config_merge_from_file(conn: Any, control) -> None:
    seed(control, f'<tenants xmlns="{NS_VN}"><tenant><tenant-id>bob</tenant-id></tenant>'
                  "</tenants>")
    # As the README shows it: the file's text inside a bare <config>.
    ok(conn.edit_config(config=f"<config>{TENANT_XML.read_text()}</config>", target="running"))
    assert tenants(running(control)) == {"alice": "Alice Gaming Ltd", "bob": None}


def test_get_config(conn: Any, control) -> None:
    seed(control, TENANT_XML, VN_XML)
    data = data_of(conn.get_config(source="running"))
    assert vns(data) == {"alice-web": "10010"}


def test_subtree_filtered_get(conn: Any, control) -> None:
    seed(control, TENANT_XML, VN_XML, SECOND_VN)
    data = data_of(conn.get(filter_=f'<vn-instances xmlns="{NS_VN}"><vn-instance>'
                                    "<name>alice-web</name></vn-instance></vn-instances>",
                            filter_type="subtree"))
    assert vns(data) == {"alice-web": "10010"}
    assert data.xpath("//vn:vn-instance/vn:state/vn:oper-status/text()", namespaces=X)


def test_xpath_filtered_get(conn: Any, control) -> None:
    seed(control, TENANT_XML, VN_XML, SECOND_VN)
    select = "/vn:vn-instances/vn:vn-instance[vn:vnid=10020]"
    data = data_of(conn.rpc(f'<get xmlns="{NC}"><filter type="xpath" xmlns:vn="{NS_VN}" '
                            f'select="{select}"/></get>'))
    assert vns(data) == {"alice-db": "10020"}
    # Its own xpath filter leaves "vn" undeclared: refused, with a message saying so.
    refused = conn.get(filter_=select, filter_type="xpath")
    assert refused.failed
    assert "namespace prefix 'vn' is not declared" in refused.result


def test_lock_and_unlock(conn: Any, control) -> None:
    ok(conn.lock(target="candidate"))
    assert lock_holder(control) is not None
    with pytest.raises(RPCError) as info:  # another session may not take it meanwhile
        control.lock(target="candidate")
    assert info.value.tag == "lock-denied"
    ok(conn.unlock(target="candidate"))
    assert lock_holder(control) is None


def test_candidate_edit_and_commit(conn: Any, control) -> None:
    ok(conn.edit_config(config=config_of(TENANT_XML, VN_XML), target="candidate"))
    assert vns(running(control)) == {}
    ok(conn.commit())
    assert vns(running(control)) == {"alice-web": "10010"}


def test_rpc_error_is_failed_not_raised(conn: Any) -> None:
    response = conn.edit_config(config=config_of(
        f'<vn-instances xmlns="{NS_VN}"><vn-instance><name>x</name></vn-instance>'
        "</vn-instances>"), target="running")
    assert response.failed
    assert response.xml_result.xpath("//nc:rpc-error/nc:error-tag/text()",
                                     namespaces=X) == ["data-missing"]
