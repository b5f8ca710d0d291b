"""Network-namespace test beds: skipped, with the reason, where they cannot run.

They need Linux, root with CAP_NET_ADMIN, iproute2, nftables and iputils-ping (CI runs
as root: they run there). Everything a test bed creates — namespaces, veth links, agent
processes — is removed at teardown, also when a test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nvo3_netconf.dataplane.scenario import Overlay, build
from nvo3_netconf.dataplane.topology import Lab, netns_unavailable, sweep_stale

REASON = netns_unavailable()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if REASON is None:
        return
    marker = pytest.mark.skip(reason=f"network-namespace tests cannot run here: {REASON}")
    for item in items:
        if "tests/netns/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(marker)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """An empty lab; its namespaces and processes go away after the module."""
    sweep_stale()
    lab = Lab(Path(tmp_path_factory.mktemp("lab")))
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def overlay(lab: Lab) -> Iterator[Overlay]:
    """The three-NVE scenario (``tests/netns/scenario.py``), built once per module."""
    built = None
    try:
        built = build(lab)
        yield built
    except Exception:
        for nve in lab.nves.values():
            if nve.agent is not None:
                print(f"--- agent of {nve.name}:\n{nve.agent.log_tail()}")
        raise
    finally:
        if built is not None:
            built.close()
