"""yangcli (Debian's yuma123) against the agent, driven by ``--batch-mode --run-script``.

yangcli learns the agent's modules at connect time: the hello's yang-library capability
leads it to ``/modules-state``, and it fetches every module with ``<get-schema>``. Its
own YANG compiler cannot compile ietf-access-control-list (YANG 1.1 ``if-feature``
expressions and ``derived-from-or-self()`` with a prefixed identity), so the modules
importing it (nvo3-policy, and through it nvo3-tes and nvo3-vm) stay unknown to it; the
tests use the VN model (nvo3-vn), which it loads.

yangcli exits 0 even after an error reply, so every run's output is checked for error
replies and for a script it cancelled. Its ``xget`` resolves prefixes only in modules
loaded at start (``--module``), not in the ones it fetched, so the XPath test preloads
nvo3-vn from ``yang/``. It writes ``~/.yuma`` of the passwd entry whatever ``$HOME`` is;
the tests remove that directory afterwards when it was not there before.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.interop.conftest import (
    FRAMINGS,
    NS_VN,
    PASSWORD,
    SECOND_VN,
    TENANT_XML,
    USER,
    VN_REVISION,
    VN_XML,
    YANG_DIR,
    Agent,
    X,
    config_changes,
    lock_holder,
    running,
    seed,
    tenants,
    vns,
)

YANGCLI = shutil.which("yangcli")
YUMA_MODULES = Path("/usr/share/yuma/modules")
PROTOCOLS = {"base:1.1": "netconf1.1", "base:1.0": "netconf1.0"}
VERSION_LINE = {"base:1.1": "Protocol version set to: RFC 6241 (base:1.1)",
                "base:1.0": "Protocol version set to: RFC 4741 (base:1.0)"}
#: Modules yuma123's compiler cannot load (see the module docstring).
BEYOND_YUMA = {"ietf-access-control-list", "nvo3-policy", "nvo3-tes", "nvo3-vm"}

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(YANGCLI is None, reason="yangcli (yuma123) is not installed "
                                               "(make setup installs Debian's yangcli)"),
]


@pytest.fixture(scope="module", autouse=True)
def dot_yuma() -> Iterator[None]:
    """Remove the ``~/.yuma`` yangcli creates, unless it was there before."""
    path = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".yuma"
    existed = path.exists()
    yield
    if not existed:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=FRAMINGS)
def framing(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def yangcli(agent: Agent, framing: str, tmp_path: Path, *commands: str,
            options: tuple[str, ...] = (), error: bool = False) -> str:
    """Run ``commands`` as a yangcli script; its output (stdout and stderr).

    Args:
        agent: the agent to connect to.
        framing: ``base:1.1`` or ``base:1.0``, forced with ``--protocols``.
        tmp_path: where the script and the ``$HOME`` go.
        *commands: the script's lines.
        options: more yangcli parameters.
        error: an error reply is expected (else none may occur).
    """
    assert YANGCLI is not None
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    argv = [YANGCLI, "--batch-mode", "--server=127.0.0.1", f"--ncport={agent.port}",
            f"--user={USER}", f"--password={PASSWORD}", f"--protocols={PROTOCOLS[framing]}",
            "--display-mode=xml", "--timeout=30", *options]
    script = tmp_path / "script.yc"
    script.write_text("\n".join(commands) + "\n")
    argv.append(f"--run-script={script}")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=tmp_path,
                          stdin=subprocess.DEVNULL, env={**os.environ, "HOME": str(home)},
                          check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "NETCONF session established" in output, output
    assert VERSION_LINE[framing] in output, output
    # Modules it could not learn: never for want of a module the agent did not list.
    assert "module not found" not in output, output
    failed = set(re.findall(r"Auto-load for module '([^']+)' failed", output))
    assert failed <= BEYOND_YUMA, output
    if error:
        assert "RPC Error Reply" in output, output
    else:
        assert "RPC Error Reply" not in output, output
        assert "canceled" not in output, output  # "Script '...' canceled" after an error
    return output


def replies(output: str) -> list[etree._Element]:
    """The ``<rpc-reply>`` documents yangcli printed (``--display-mode=xml``)."""
    return [etree.fromstring(m.group(0).encode())
            for m in re.finditer(r"(?s)<rpc-reply\b.*?</rpc-reply>", output)]


def notifications(output: str) -> list[etree._Element]:
    """The ``<notification>`` documents yangcli printed as they came."""
    return [etree.fromstring(m.group(0).encode())
            for m in re.finditer(r"(?s)<notification\b.*?</notification>", output)]


def test_hello_and_capabilities(nve: Agent, framing: str, tmp_path: Path) -> None:
    output = yangcli(nve, framing, tmp_path, "sget /netconf-state/capabilities")
    (reply,) = replies(output)
    assert f"{NS_VN}?module=nvo3-vn&revision={VN_REVISION}" in reply.xpath(
        "//m:capability/text()", namespaces=X)
    protocol = output.split("Server Protocol Capabilities", 1)[1].split("Server Module", 1)[0]
    for cap in ("base:1.0", "base:1.1", "candidate:1.0", "xpath:1.0", "notification:1.0",
                "yang-library:1.0"):
        assert re.search(rf"(?m)^\s+{re.escape(cap)}\s*$", protocol), cap
    assert re.search(rf"(?m)^\s+nvo3-vn@{VN_REVISION}\s*$", output)


def test_edit_config_merge_from_file(nve: Agent, control, framing: str,
                                     tmp_path: Path) -> None:
    seed(control, f'<tenants xmlns="{NS_VN}"><tenant><tenant-id>bob</tenant-id></tenant>'
                  "</tenants>")
    output = yangcli(nve, framing, tmp_path, f"edit-config target=running config=@{TENANT_XML}")
    assert "RPC OK Reply" in output
    assert tenants(running(control)) == {"alice": "Alice Gaming Ltd", "bob": None}


def test_get_config(nve: Agent, control, framing: str, tmp_path: Path) -> None:
    seed(control, TENANT_XML, VN_XML)
    (reply,) = replies(yangcli(nve, framing, tmp_path, "get-config source=running"))
    assert vns(reply) == {"alice-web": "10010"}
    assert tenants(reply) == {"alice": "Alice Gaming Ltd"}


def test_subtree_filtered_get(nve: Agent, control, framing: str, tmp_path: Path) -> None:
    """``sget`` sends a subtree filter built from the path."""
    seed(control, TENANT_XML, VN_XML, SECOND_VN)
    (reply,) = replies(yangcli(nve, framing, tmp_path,
                               "sget /vn-instances/vn-instance[name='alice-web']"))
    assert vns(reply) == {"alice-web": "10010"}
    assert reply.xpath("//vn:vn-instance/vn:state/vn:oper-status/text()", namespaces=X)


def test_xpath_filtered_get(nve: Agent, control, framing: str, tmp_path: Path) -> None:
    seed(control, TENANT_XML, VN_XML, SECOND_VN)
    modpath = ":".join(str(d) for d in (YANG_DIR, YANG_DIR / "standard", YUMA_MODULES))
    (reply,) = replies(yangcli(nve, framing, tmp_path,
                               'xget "/vn:vn-instances/vn:vn-instance[vn:vnid=10020]"',
                               options=(f"--modpath={modpath}", "--module=nvo3-vn")))
    assert vns(reply) == {"alice-db": "10020"}


def test_lock_and_unlock(nve: Agent, control, framing: str, tmp_path: Path) -> None:
    output = yangcli(nve, framing, tmp_path, "lock target=candidate",
                     "sget /netconf-state/datastores", "unlock target=candidate")
    (state,) = replies(output)
    assert state.xpath("//m:datastore[m:name='candidate']/m:locks/m:global-lock"
                       "/m:locked-by-session/text()", namespaces=X)
    assert "has no child node" not in output  # the reply matches ietf-netconf-monitoring
    assert lock_holder(control) is None


def test_candidate_edit_and_commit(nve: Agent, control, framing: str,
                                   tmp_path: Path) -> None:
    yangcli(nve, framing, tmp_path, f"edit-config target=candidate config=@{TENANT_XML}",
            f"edit-config target=candidate config=@{VN_XML}", "commit")
    assert vns(running(control)) == {"alice-web": "10010"}


def test_notification_subscription(nve: Agent, framing: str, tmp_path: Path) -> None:
    """Subscribe, change running in the same session; the event shows as it comes."""
    output = yangcli(nve, framing, tmp_path, "create-subscription",
                     f"edit-config target=running config=@{TENANT_XML}",
                     *["sget /tenants"] * 3)
    assert ["/vn:tenants"] in config_changes(notifications(output)), output


def test_error_reply_with_status_0(nve: Agent, framing: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(f'<vn-instances xmlns="{NS_VN}"><vn-instance><name>x</name>'
                   "</vn-instance></vn-instances>")
    output = yangcli(nve, framing, tmp_path, f"edit-config target=running config=@{bad}",
                     error=True)
    (reply,) = replies(output)
    assert reply.xpath("//nc:rpc-error/nc:error-tag/text()", namespaces=X) == ["data-missing"]
