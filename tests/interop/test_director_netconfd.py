"""The nDirector against a server it did not build: Debian's yuma123 ``netconfd``.

netconfd runs behind a private OpenSSH sshd (``bench/netconfd.py``) with ``--target=
running`` (no ``:candidate``, no ``:confirmed-commit``) and our nvo3-vn, nvo3-mapping and
nvo3-nve modules — yuma123 cannot parse RFC 8519's YANG 1.1 ``if-feature`` expressions,
so nvo3-policy and nvo3-vm (which import ietf-access-control-list) are not loaded; the
director gives such an NVE only VNs and mappings (a VN bound to it, no VMs behind it).
The director degrades as documented: lock running, ``test-only`` check, ``rollback-on-
error`` edit, an inverse edit when another NVE fails — and says so in the result.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from nvo3_netconf.constants import Datastore
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.inventory import NVERecord
from nvo3_netconf.director.registry import VNIC, Tenant, VMRecord, VNRecord
from nvo3_netconf.director.transaction import NetworkTransaction, NetworkTransactionError, Step
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.tes.connection import HostKeyPolicy
from tests.functional.fleet import MAP, fleet, register_fleet, underlay

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from netconfd import NETCONFD, ReferenceServer  # noqa: E402
from processes import make_client_key  # noqa: E402

pytestmark = pytest.mark.interop

VM1, VM2, VM4 = (f"6f1c2b9e-3d4a-4e5f-8a7b-{n:012x}" for n in (1, 2, 4))
MAC1, MAC2, MAC4 = "52:54:00:a1:00:01", "52:54:00:a1:00:02", "52:54:00:a1:00:04"
MODULES = ("nvo3-vn", "nvo3-mapping", "nvo3-nve")


@pytest.fixture
def netconfd() -> Iterator[tuple[ReferenceServer, Path]]:
    if not Path(NETCONFD).exists():
        pytest.skip("netconfd is not installed (Debian package netconfd; make setup)")
    # a short path: netconfd's unix socket lives in it
    workdir = Path(tempfile.mkdtemp(prefix="ncd", dir="/tmp"))
    try:
        modules = workdir / "modules"
        modules.mkdir()
        for path in (ROOT / "yang").glob("*.yang"):
            shutil.copy(path, modules)
        key, public = make_client_key(workdir)
        files = [next(modules.glob(f"{name}@*.yang")) for name in MODULES]
        server = ReferenceServer(workdir / "srv", public_key=public, module=files[0],
                                 extra_modules=tuple(files[1:]), modpath=(modules,))
        (workdir / "srv").mkdir()
        with server:  # starts netconfd and its sshd, stops both
            yield server, key
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def director(tmp_path: Path, users: UserDatabase,
             netconfd: tuple[ReferenceServer, Path]) -> Iterator[Director]:
    server, key = netconfd
    with fleet(tmp_path, users, 2) as agents, Director(tmp_path / "d.sqlite", timeout=60,
                                                       attempts=1) as d:
        register_fleet(d, agents, tmp_path)
        d.inventory.add(NVERecord("nve3", "127.0.0.1", server.port, username=server.user,
                                  key_file=key, underlay_address=underlay(3),
                                  hostkey_policy=HostKeyPolicy.ACCEPT_ANY))
        registry = d.registry
        registry.put_tenant(Tenant("alice"))
        registry.put_vn(VNRecord("web", 10010, "alice", vid_start=100, vid_end=199,
                                 nves=("nve3",)))
        for vm_id, mac, vserver, nve in ((VM1, MAC1, "vs1", "nve1"),
                                         (VM2, MAC2, "vs2", "nve2")):
            registry.register(VMRecord(vm_id, "alice", vserver=vserver,
                                       vnics=(VNIC(mac, "web", ("10.1.0.1",)),)))
            registry.record_state(nve, vm_id, "associated", tenant="alice")
        d.agents = agents  # type: ignore[attr-defined]
        yield d


def netconfd_mappings(director: Director) -> dict[str, str]:
    data = director.pool.client("nve3").connect().get_config(Datastore.RUNNING)
    return {e.findtext(f"{{{MAP}}}inner-mac"): e.findtext(f"{{{MAP}}}remote-nve")
            for e in data.iter(f"{{{MAP}}}entry")}


def test_transaction_including_netconfd_degrades_to_running(director: Director) -> None:
    outcome = director.apply()
    assert outcome.ok, [r.to_json() for r in outcome.results]
    nve3 = next(r for r in outcome.results if r.nve == "nve3")
    assert any("running-only" in note for note in nve3.notes)
    assert netconfd_mappings(director) == {MAC1: underlay(1), MAC2: underlay(2)}
    assert director.check("nve3") == []
    # our agents point their head-end flood lists at netconfd's NVE too
    flood = director.pool.client("nve1").connect().get_config(Datastore.RUNNING)
    assert underlay(3) in etree.tostring(flood).decode()


def test_dry_run_shows_the_edit_and_changes_nothing(director: Director) -> None:
    applied = director.apply()
    assert applied.ok, [r.to_json() for r in applied.results]
    director.registry.register(VMRecord(VM4, "alice", vserver="vs1",
                                        vnics=(VNIC(MAC4, "web", ("10.1.0.4",)),)))
    director.registry.record_state("nve1", VM4, "associated", tenant="alice")
    outcome = director.apply(dry_run=True)
    assert outcome.ok
    nve3 = next(r for r in outcome.results if r.nve == "nve3")
    assert nve3.diff and MAC4 in nve3.diff
    assert MAC4 not in netconfd_mappings(director)


def test_drift_on_netconfd_is_found(director: Director) -> None:
    applied = director.apply()
    assert applied.ok, [r.to_json() for r in applied.results]
    client = director.pool.client("nve3").connect()
    client.edit_config(f"""<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"
        xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><mappings xmlns="{MAP}"><vn>
        <name>web</name><entry nc:operation="delete"><inner-mac>{MAC1}</inner-mac></entry>
        </vn></mappings></config>""", target=Datastore.RUNNING)
    differences = director.check("nve3")
    assert [(d.key, d.kind) for d in differences] == [
        (f"/mappings/vn[name=web]/entry[inner-mac={MAC1}]", "missing")]
    assert director.apply(["nve3"], full=True).ok
    assert director.check("nve3") == []


def test_netconfd_change_is_undone_when_another_nve_fails(director: Director) -> None:
    plans = {p.nve: p for p in director.plan()}
    agents = director.agents  # type: ignore[attr-defined]

    def break_nve1(step: Step) -> None:
        if step is Step.CHECK:
            agents["nve1"].stop()

    transaction = NetworkTransaction(
        director.pool.clients(plans), {n: p.config() for n, p in plans.items()},
        undo={n: p.undo() for n, p in plans.items()}, before_step=break_nve1)
    with pytest.raises(NetworkTransactionError) as info:
        transaction.run()
    results = {r.nve: r for r in info.value.results}
    assert not results["nve1"].ok and results["nve1"].step is Step.CHECK, [
        r.to_json() for r in info.value.results]
    assert not results["nve3"].ok and results["nve3"].rolled_back
    assert netconfd_mappings(director) == {}
