"""Fixtures of the interoperability tests: third-party NETCONF clients against our agent.

The agent is the functional tests' (:class:`tests.functional.conftest.Agent`, the same
accounts and password) with only the project's modules, as ``nvo3-nve serve`` runs it.
One agent serves a whole test module; :func:`nve` empties its running and candidate
datastores before each test, so tests do not see each other's data; the ``control``
ncclient session (one per module) prepares data and reads the results back.

The clients edit with the files of ``examples/interop/``, which the README's commands
use too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager

from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.config import ServerConfig
from tests.functional.conftest import PASSWORD, Agent, users  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
YANG_DIR = ROOT / "yang"
EXAMPLES = ROOT / "examples" / "interop"
TENANT_XML = EXAMPLES / "tenant.xml"
VN_XML = EXAMPLES / "vn.xml"
USER = "admin"

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS_VN = "urn:nvo3-netconf:yang:nvo3-vn"
NS_MON = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NS_NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NS_NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
X = {"vn": NS_VN, "m": NS_MON, "n": NS_NCN, "e": NS_NOTIF, "nc": NC}

#: The revision of nvo3-vn, from its file name (``yang/nvo3-vn@<revision>.yang``).
VN_REVISION = next(YANG_DIR.glob("nvo3-vn@*.yang")).stem.split("@", 1)[1]
VN_CAPABILITY = f"{NS_VN}?module=nvo3-vn&revision={VN_REVISION}"

#: Both framings of RFC 6242; tests parametrize over them where the client can force 1.0.
FRAMINGS = ["base:1.1", "base:1.0"]

#: What the tests add before a client reads: the examples' VN plus a second one, so a
#: filter that selects one of them shows it filters.
SECOND_VN = (f'<vn-instances xmlns="{NS_VN}"><vn-instance><name>alice-db</name>'
             "<vnid>10020</vnid><tenant>alice</tenant></vn-instance></vn-instances>")


@pytest.fixture(scope="module")
def module_agent(tmp_path_factory: pytest.TempPathFactory, users) -> Iterator[Agent]:  # noqa: F811
    """One agent for the test module, with the project's modules, on a free port."""
    config = ServerConfig(listen="127.0.0.1", port=0,
                          state_dir=tmp_path_factory.mktemp("nve") / "state")
    agent = Agent(config, users, ManualClock()).start()
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def control(module_agent: Agent) -> Iterator[manager.Manager]:
    """An ncclient session to the module's agent that sets up and checks (not under test)."""
    with module_agent.connect() as session:
        yield session


@pytest.fixture
def nve(module_agent: Agent, control: manager.Manager) -> Agent:
    """The module's agent with empty running and candidate datastores."""
    control.edit_config(target="running", default_operation="replace",
                        config=f'<config xmlns="{NC}"/>')
    control.discard_changes()
    return module_agent


def config_of(*parts: Path | str) -> str:
    """A ``<config>`` holding the root elements of files and XML strings, in order."""
    roots = []
    for part in parts:
        text = part.read_text() if isinstance(part, Path) else part
        roots.append(etree.tostring(etree.fromstring(text.encode())).decode())
    return f'<config xmlns="{NC}">{"".join(roots)}</config>'


def seed(control: manager.Manager, *parts: Path | str) -> None:
    """Merge files or XML strings into running."""
    control.edit_config(target="running", config=config_of(*parts))


def running(control: manager.Manager) -> etree._Element:
    """The ``<data>`` of running."""
    return control.get_config(source="running").data_ele


def tenants(data: etree._Element) -> dict[str, str | None]:
    """tenant-id -> name of the tenants in a ``<data>`` element."""
    return {t.findtext("vn:tenant-id", namespaces=X): t.findtext("vn:name", namespaces=X)
            for t in data.xpath("//vn:tenants/vn:tenant", namespaces=X)}


def vns(data: etree._Element) -> dict[str, str | None]:
    """Name -> vnid of the VN instances in a ``<data>`` element."""
    return {v.findtext("vn:name", namespaces=X): v.findtext("vn:vnid", namespaces=X)
            for v in data.xpath("//vn:vn-instances/vn:vn-instance", namespaces=X)}


def lock_holder(control: manager.Manager, datastore: str = "candidate") -> str | None:
    """The session id holding ``datastore``'s lock, or None (RFC 6022 netconf-state)."""
    data = control.get(filter=("subtree", f'<netconf-state xmlns="{NS_MON}"><datastores/>'
                                          "</netconf-state>")).data_ele
    held = data.xpath(f"//m:datastore[m:name='{datastore}']/m:locks/m:global-lock"
                      "/m:locked-by-session/text()", namespaces=X)
    return held[0] if held else None


def xml_documents(text: str) -> list[etree._Element]:
    """Every XML document in ``text`` (a client's output), each parsed.

    A document starts at an XML declaration or, without one, at a line opening an
    element at the left margin.
    """
    starts = [m.start() for m in re.finditer(r"(?m)^(<\?xml[^>]*\?>|<[A-Za-z])", text)]
    documents: list[etree._Element] = []
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        chunk = re.sub(r"^<\?xml[^>]*\?>", "", text[start:end].strip())
        if chunk:
            documents.append(etree.fromstring(chunk.encode()))
    return documents


def config_changes(documents: list[etree._Element]) -> list[list[str]]:
    """The edit targets of each RFC 6470 netconf-config-change among ``documents``."""
    found = []
    for document in documents:
        for change in document.xpath("descendant-or-self::n:netconf-config-change",
                                     namespaces=X):
            found.append(change.xpath("n:edit/n:target/text()", namespaces=X))
    return found

