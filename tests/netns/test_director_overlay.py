"""End to end with the nDirector pushing everything: three NVEs, the linux data plane, VMs.

The lab is the one of ``scenario.py`` (an underlay, agents nve1..nve3 with hypervisors
hv1..hv3 signalling on ``tes0``, VMs ``a`` and ``b`` of tenant-a's vn-blue behind nve1 and
nve2, ``c`` of tenant-b's vn-red behind nve3), but no configuration is sent to an agent
directly: the nDirector's registry holds the tenants, VNs, vServers and VMs,
``Director.apply`` provisions the NVEs, and a :class:`Reactor` follows the hypervisors'
associations with mapping population. The tests share one lab and run in file order;
the last one migrates ``a`` to nve3 for good.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from nvo3_netconf.constants import NS_ACL, NS_NVO3_POLICY
from nvo3_netconf.dataplane.scenario import ADDRESSES, TENANTS, VMS, Overlay, vm_ref
from nvo3_netconf.dataplane.topology import ADMIN, PASSWORD, DirectController, Lab, parse_ping
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.inventory import NVERecord
from nvo3_netconf.director.migration import Coordinator, Migration, Phase
from nvo3_netconf.director.reactor import Reactor, ReactorEvent
from nvo3_netconf.director.registry import (
    VNIC,
    Policy,
    PolicyKind,
    Tenant,
    VMRecord,
    VNAttachment,
    VNRecord,
    VServer,
)
from nvo3_netconf.tes import VNIC as TES_VNIC
from nvo3_netconf.tes import AssociationParams, HostKeyPolicy
from nvo3_netconf.tes import VNAttachment as TES_VN

pytestmark = pytest.mark.slow

VAP_INTERFACE = "tes0"  # the hypervisor-facing interface the lab plugs VMs into
VNS = {"vn-blue": (5001, (100, 199)), "vn-red": (5002, (200, 299))}


@dataclass
class Directed:
    """The lab, its nDirector and reactor, and the hypervisors' TES clients."""

    lab: Lab
    director: Director
    reactor: Reactor
    hypervisors: Overlay  # only its TES clients (``client``) and ``vid_of`` are used
    events: list[ReactorEvent]

    def settle(self, where: dict[str, str], timeout: float = 30.0) -> None:
        """Wait until the registry has each VM associated behind its NVE, all applied."""
        registry, deadline = self.director.registry, time.monotonic() + timeout
        while time.monotonic() < deadline:
            vms = {v.vm_id: v for v in registry.vms()}
            if all(vms[str(vm_ref(n).vm_id)].nve == nve
                   and vms[str(vm_ref(n).vm_id)].state == "associated"
                   for n, nve in where.items()) and not self.director.plan():
                return
            time.sleep(0.1)
        raise AssertionError(f"the nDirector did not settle on {where}: "
                             f"{[(e.kind, e.nve, e.message) for e in self.events]}")

    def fdb(self, nve: str) -> str:
        """``bridge fdb`` of nve's vn-blue VXLAN device."""
        return self.lab.run("bridge", "fdb", "show", "dev", "vx-5001",
                            netns=self.lab.nves[nve].netns).stdout

    def links(self, nve: str) -> str:
        return self.lab.run("ip", "link", netns=self.lab.nves[nve].netns).stdout


def _acl(deny_icmp: bool) -> str:
    deny = ('<ace><name>deny-icmp</name><matches><ipv4><protocol>1</protocol></ipv4>'
            '</matches><actions><forwarding>drop</forwarding></actions></ace>'
            if deny_icmp else "")
    return (f'<acl xmlns="{NS_ACL}"><name>a-in</name><type>ipv4-acl-type</type><aces>'
            f'{deny}<ace><name>count-all</name><actions><forwarding>accept</forwarding>'
            '</actions></ace></aces></acl>')


def _qos(rate: int | None) -> str:
    limit = f"<rate-limit><cir>{rate}</cir><cbs>32768</cbs></rate-limit>" if rate else ""
    return (f'<qos-profile xmlns="{NS_NVO3_POLICY}"><name>a-qos</name>{limit}'
            "<marking><dscp>46</dscp></marking></qos-profile>")


def _params(name: str) -> AssociationParams:
    _, vn, mac, ip = VMS[name]
    return AssociationParams(vm_ref(name), TENANTS[vn],
                             vns=(TES_VN(vn, vnics=(TES_VNIC(mac, (ip,)),)),))


def _provision(lab: Lab, director: Director) -> None:
    """Inventory, tenants, VNs, vServers (one per hypervisor) and VMs; then apply."""
    secret = lab.workdir / "director-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    registry = director.registry
    for name, host in lab.nves.items():
        director.inventory.add(NVERecord(
            name, "127.0.0.1", host.port, username=ADMIN, password_file=secret,
            underlay_address=host.address, hostkey_policy=HostKeyPolicy.ACCEPT_ANY))
        registry.put_vserver(VServer(f"vs{name[-1]}", name, f"hv{name[-1]}", VAP_INTERFACE))
    for tenant in sorted(set(TENANTS.values())):
        registry.put_tenant(Tenant(tenant))
    for vn, (vnid, (start, end)) in VNS.items():
        registry.put_vn(VNRecord(vn, vnid, TENANTS[vn], vid_start=start, vid_end=end))
    registry.put_policy(Policy(PolicyKind.ACL, "a-in", _acl(deny_icmp=False)))
    registry.put_policy(Policy(PolicyKind.QOS, "a-qos", _qos(None)))
    for name, (nve, vn, mac, ip) in VMS.items():
        policies = (VNAttachment(vn, ingress_acls=("a-in",), qos_profile="a-qos"),
                    ) if name == "a" else ()
        registry.register(VMRecord(str(vm_ref(name).vm_id), TENANTS[vn],
                                   vserver=f"vs{nve[-1]}", vnics=(VNIC(mac, vn, (ip,)),),
                                   policies=policies))
    outcome = director.apply()
    assert outcome.ok, [(r.nve, r.error_message) for r in outcome.results]


@pytest.fixture(scope="module")
def directed(lab: Lab) -> Iterator[Directed]:
    """The lab configured by the nDirector, VMs associated by their hypervisors, plugged."""
    for name, number in ADDRESSES.items():
        lab.add_nve(name, number)
    lab.write_users([f"hv{n[-1]}" for n in ADDRESSES])
    lab.start_agents()
    events: list[ReactorEvent] = []
    director = Director(lab.workdir / "ndirector.sqlite", timeout=60, attempts=2)
    hypervisors = Overlay(lab, DirectController(lab.nves))
    reactor: Reactor | None = None
    try:
        _provision(lab, director)
        reactor = Reactor(director, report=events.append).start()
        assert reactor.wait_connected(30)
        directed = Directed(lab, director, reactor, hypervisors, events)
        for name, (where, _, mac, ip) in VMS.items():
            vm = lab.add_vm(name, mac, ip)
            reply = hypervisors.client(where).associate(_params(name))
            lab.plug(vm, lab.nves[where], VAP_INTERFACE, hypervisors.vid_of(reply))
        directed.settle({n: VMS[n][0] for n in VMS})
        yield directed
    except Exception:
        for nve in lab.nves.values():
            if nve.agent is not None:
                print(f"--- agent of {nve.name}:\n{nve.agent.log_tail()}")
        raise
    finally:
        if reactor is not None:
            reactor.stop()
        hypervisors.close()
        director.close()


def test_the_director_provisions_only_the_nves_of_each_vn(directed: Directed) -> None:
    lab = directed.lab
    # vn-blue lives on nve1 and nve2 only, vn-red on nve3 only (tenant isolation)
    assert "vx-5001" in directed.links("nve1") and "vx-5001" in directed.links("nve2")
    assert "vx-5001" not in directed.links("nve3") and "vx-5002" in directed.links("nve3")
    assert "vx-5002" not in directed.links("nve1")
    # the mapping the reactor populated after the associations, and the flood list
    fdb1 = directed.fdb("nve1")
    assert f"{VMS['b'][2]} dst {lab.nves['nve2'].address} self permanent" in fdb1
    assert f"00:00:00:00:00:00 dst {lab.nves['nve2'].address} self permanent" in fdb1
    assert f"dst {lab.nves['nve3'].address}" not in fdb1
    assert f"{VMS['a'][2]} dst {lab.nves['nve1'].address} self permanent" in directed.fdb("nve2")
    details = lab.run("ip", "-d", "link", "show", "vx-5001",
                      netns=lab.nves["nve1"].netns).stdout
    assert "vxlan id 5001 local 192.0.2.11" in details and "dstport 4789" in details
    assert any(e.kind == "applied" and e.outcome is not None and e.outcome.ok
               for e in directed.events)


def test_vms_of_one_vn_ping_each_other_over_vxlan(directed: Directed) -> None:
    lab, a, b = directed.lab, directed.lab.vms["a"], directed.lab.vms["b"]
    assert lab.ping(a, b.ip) == (3, 3)
    assert lab.ping(b, a.ip) == (3, 3)


def test_a_vm_of_another_tenant_cannot_reach_them(directed: Directed) -> None:
    lab = directed.lab
    a, b, c = (lab.vms[n] for n in "abc")
    assert lab.ping(c, a.ip, count=2, wait=0.5)[1] == 0
    assert lab.ping(c, b.ip, count=2, wait=0.5)[1] == 0
    assert lab.ping(a, c.ip, count=2, wait=0.5)[1] == 0
    assert lab.ping(a, b.ip, count=1)[1] == 1  # while the VN still works


def _push(directed: Directed, kind: PolicyKind, name: str, xml: str) -> None:
    directed.director.registry.put_policy(Policy(kind, name, xml))
    outcome = directed.director.apply()
    assert outcome.ok and [p.nve for p in outcome.plans] == ["nve1"], outcome.to_json()


def test_an_acl_the_director_changes_stops_icmp_while_tcp_passes(directed: Directed) -> None:
    lab, a, b = directed.lab, directed.lab.vms["a"], directed.lab.vms["b"]
    assert lab.ping(a, b.ip, count=1)[1] == 1
    _push(directed, PolicyKind.ACL, "a-in", _acl(deny_icmp=True))
    try:
        assert lab.ping(a, b.ip, count=3, wait=0.5)[1] == 0
        assert lab.ping(b, a.ip, count=3, wait=0.5)[1] == 0
        assert lab.tcp_exchange(a, b)
    finally:
        _push(directed, PolicyKind.ACL, "a-in", _acl(deny_icmp=False))
    assert lab.ping(a, b.ip, count=1)[1] == 1


def test_a_qos_limit_the_director_pushes_shows_in_the_throughput(directed: Directed) -> None:
    lab, a, b = directed.lab, directed.lab.vms["a"], directed.lab.vms["b"]
    unlimited = lab.throughput(a, b)
    _push(directed, PolicyKind.QOS, "a-qos", _qos(4_000_000))
    try:
        limited = lab.throughput(a, b)
    finally:
        _push(directed, PolicyKind.QOS, "a-qos", _qos(None))
    assert 4_000_000 * 0.4 < limited < 4_000_000 * 1.25, f"{limited / 1e6:.1f} Mbit/s"
    assert unlimited > 4 * limited


def _plug_when_emigrated(directed: Directed, name: str, destination: str
                         ) -> Callable[[Migration], None]:
    """A coordinator progress hook: the hypervisor re-attaches the VM's namespace.

    Once the source stopped forwarding for the VM (emigrated), the port the destination
    reserved for it (``tes0.<vid>``, made at pre-associate) becomes the VM's ``eth0``.
    """
    lab = directed.lab

    def progress(m: Migration) -> None:
        if m.phase is not Phase.EMIGRATED:
            return
        ends = re.findall(rf"^\d+: {VAP_INTERFACE}\.(\d+)@", directed.links(destination),
                          re.M)
        assert len(ends) == 1, directed.links(destination)
        lab.plug(lab.vms[name], lab.nves[destination], VAP_INTERFACE, int(ends[0]))

    return progress


def test_a_vm_the_director_migrates_keeps_talking(directed: Directed) -> None:
    """Scenario B: the coordinator moves ``a`` from nve1 to nve3; b pings it throughout."""
    lab, a, b = directed.lab, directed.lab.vms["a"], directed.lab.vms["b"]
    interval = 0.01
    pinger = lab.spawn("ping", "-n", "-q", "-i", str(interval), "-c", "400", "-W", "1",
                       a.ip, netns=b.netns)
    time.sleep(1.0)
    coordinator = Coordinator(directed.director,
                              progress=_plug_when_emigrated(directed, "a", "nve3"))
    [moved] = coordinator.migrate([str(vm_ref("a").vm_id)], "nve3")
    output, _ = pinger.communicate(timeout=30)
    assert moved.phase is Phase.DONE and moved.result == "success", moved.reason
    sent, received = parse_ping(output.decode())
    print(f"during the migration: {sent - received} of {sent} pings lost "
          f"(every {interval * 1000:.0f} ms)")
    assert sent >= 300 and received > 0, output.decode()
    # no more than 400 ms worth of pings lost (issue 9), with slack for a loaded machine
    assert (sent - received) * interval <= 0.4, f"{sent - received} of {sent} lost"
    assert a.nve is lab.nves["nve3"]
    assert lab.ping(b, a.ip) == (3, 3)
    assert lab.ping(a, b.ip) == (3, 3)
    # the registry and every NVE follow: nve2 maps a to nve3, nve1 holds nothing of it
    assert directed.director.registry.lookup(str(vm_ref("a").vm_id)) == ("vs3", "nve3")
    assert directed.director.plan() == []
    assert f"{VMS['a'][2]} dst {lab.nves['nve3'].address} self permanent" \
        in directed.fdb("nve2")
    assert "vx-5001" not in directed.links("nve1")
    assert f"{VMS['b'][2]} dst {lab.nves['nve2'].address} self permanent" \
        in directed.fdb("nve3")
    assert lab.ping(lab.vms["c"], a.ip, count=2, wait=0.5)[1] == 0  # still isolated
