"""netconf-console2's command line against the agent.

netconf-console2 (ncclient underneath) always takes base:1.1 when the server offers it:
its ``--version`` option is declared but does nothing, so base:1.0 cannot be forced and
only base:1.1 is tested. It prints an ``<rpc-error>`` on stdout and exits 255.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.interop.conftest import (
    NC,
    NS_MON,
    NS_VN,
    PASSWORD,
    SECOND_VN,
    TENANT_XML,
    USER,
    VN_CAPABILITY,
    VN_XML,
    Agent,
    X,
    config_changes,
    lock_holder,
    running,
    seed,
    tenants,
    vns,
    xml_documents,
)

NCC = shutil.which("netconf-console2",
                   path=os.pathsep.join([str(Path(sys.executable).parent),
                                         os.environ.get("PATH", "")]))

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(NCC is None, reason="netconf-console2 is not installed "
                                           "(make setup installs it with the test extra)"),
]


def ncc(agent: Agent, *args: str, status: int = 0) -> list[etree._Element]:
    """Run netconf-console2 with ``args``; the XML documents it printed."""
    assert NCC is not None
    argv = [NCC, "--host", "127.0.0.1", "--port", str(agent.port), "-u", USER,
            "-p", PASSWORD, *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == status, output
    documents = xml_documents(done.stdout)
    if status == 0:
        assert not [d for d in documents if d.tag == f"{{{NC}}}rpc-error"], output
    return documents


def oks(documents: list[etree._Element]) -> int:
    return sum(d.tag == f"{{{NC}}}ok" for d in documents)


def test_hello_and_capabilities(nve: Agent) -> None:
    (hello,) = ncc(nve, "--hello")
    assert hello.tag == f"{{{NC}}}hello"
    caps = hello.xpath("//nc:capability/text()", namespaces=X)
    for cap in ("urn:ietf:params:netconf:base:1.1",
                "urn:ietf:params:netconf:capability:candidate:1.0",
                "urn:ietf:params:netconf:capability:xpath:1.0",
                "urn:ietf:params:netconf:capability:notification:1.0",
                VN_CAPABILITY):
        assert cap in caps


def test_edit_config_merge_from_file(nve: Agent, control) -> None:
    seed(control, f'<tenants xmlns="{NS_VN}"><tenant><tenant-id>bob</tenant-id></tenant>'
                  "</tenants>")
    assert oks(ncc(nve, "--edit-config", str(TENANT_XML))) == 1
    assert tenants(running(control)) == {"alice": "Alice Gaming Ltd", "bob": None}


def test_get_config(nve: Agent, control) -> None:
    seed(control, TENANT_XML, VN_XML)
    (data,) = ncc(nve, "--get-config")
    assert vns(data) == {"alice-web": "10010"}
    assert tenants(data) == {"alice": "Alice Gaming Ltd"}


def test_subtree_filtered_get(nve: Agent, control) -> None:
    """``--filter`` turns a simple path into a subtree filter."""
    seed(control, TENANT_XML, VN_XML, SECOND_VN)
    (data,) = ncc(nve, "--ns", f"vn={NS_VN}", "--get", "--filter",
                  "/vn:vn-instances/vn:vn-instance[vn:name='alice-web']")
    assert vns(data) == {"alice-web": "10010"}
    assert data.xpath("//vn:vn-instance/vn:state/vn:oper-status/text()", namespaces=X)


def test_xpath_filtered_get(nve: Agent, control) -> None:
    seed(control, TENANT_XML, VN_XML, SECOND_VN)
    (data,) = ncc(nve, "--ns", f"vn={NS_VN}", "--get", "-x",
                  "/vn:vn-instances/vn:vn-instance[vn:vnid=10020]")
    assert vns(data) == {"alice-db": "10020"}


def test_lock_and_unlock(nve: Agent, control) -> None:
    """The lock shows in netconf-state while held (read in the same session)."""
    locked, state, unlocked = ncc(nve, "--db", "candidate", "--ns", f"m={NS_MON}", "--lock",
                                  "--get", "/m:netconf-state/m:datastores", "--unlock")
    assert oks([locked, unlocked]) == 2
    assert state.xpath("//m:datastore[m:name='candidate']/m:locks/m:global-lock"
                       "/m:locked-by-session/text()", namespaces=X)
    assert lock_holder(control) is None


def test_candidate_edit_and_commit(nve: Agent, control) -> None:
    documents = ncc(nve, "--db", "candidate", "--edit-config", str(TENANT_XML), str(VN_XML),
                    "--commit")
    assert oks(documents) == 2
    assert vns(running(control)) == {"alice-web": "10010"}


def test_notification_subscription(nve: Agent) -> None:
    """Subscribe, change running in the same session (interleave), wait for the event."""
    documents = ncc(nve, "--create-subscription", "--edit-config", str(TENANT_XML),
                    "--sleep", "2")
    changes = config_changes(documents)
    assert ["/vn:tenants"] in changes, [etree.tostring(d).decode() for d in documents]


def test_rpc_error_is_printed_with_status_255(nve: Agent, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(f'<vn-instances xmlns="{NS_VN}"><vn-instance><name>x</name>'
                   "</vn-instance></vn-instances>")
    documents = ncc(nve, "--edit-config", str(bad), status=255)
    errors = [d for d in documents if d.tag == f"{{{NC}}}rpc-error"]
    assert [e.findtext("nc:error-tag", namespaces=X) for e in errors] == ["data-missing"]
