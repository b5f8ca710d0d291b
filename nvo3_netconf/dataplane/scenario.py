"""The three-NVE scenario of the end-to-end tests (``tests/netns``) and ``make demo``.

Three NVEs on one underlay (192.0.2.0/24), each with an agent running the linux data plane
in its namespace and one hypervisor TES (``hv1``..``hv3``) signalling on ``tes0``:

- tenant-a's VN ``vn-blue`` (VNID 5001, VIDs 100-199) and tenant-b's ``vn-red`` (VNID
  5002, VIDs 200-299) on every NVE, with head-end replication to the other two;
- VM ``a`` (vn-blue, 198.51.100.1) behind nve1, ``b`` (vn-blue, .2) behind nve2 and ``c``
  (vn-red, same subnet, .3) behind nve3;
- the controller (configuration pushed with ncclient) gives every NVE the same mapping
  table: each VM's MAC and IP behind its NVE's underlay address.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from nvo3_netconf.dataplane.topology import (
    PASSWORD,
    DirectController,
    Lab,
    NVEHost,
    VMHost,
    VNSpec,
    mapping_config,
    nve_config,
)
from nvo3_netconf.tes import (
    VNIC,
    AssociationParams,
    ConnectionParams,
    HostKeyPolicy,
    ImmigrationPhase,
    TESClient,
    VMRef,
    VNAttachment,
    VNPolicies,
)

ADDRESSES = {"nve1": 11, "nve2": 12, "nve3": 13}
TENANTS = {"vn-blue": "tenant-a", "vn-red": "tenant-b"}
VM_IDS = {"a": 1, "b": 2, "c": 3}
VMS = {  # name: (nve, vn, mac, ip)
    "a": ("nve1", "vn-blue", "52:54:00:00:0a:01", "198.51.100.1"),
    "b": ("nve2", "vn-blue", "52:54:00:00:0b:02", "198.51.100.2"),
    "c": ("nve3", "vn-red", "52:54:00:00:0c:03", "198.51.100.3"),
}
ACLS = """
<acl><name>a-in</name><type>ipv4-acl-type</type><aces>
  <ace><name>count-all</name><actions><forwarding>accept</forwarding></actions></ace>
</aces></acl>
"""
QOS = "<qos-profile><name>a-qos</name></qos-profile>"


def vm_ref(name: str) -> VMRef:
    """The VM identifier of a scenario VM."""
    return VMRef(f"6f1c2a4e-0000-4000-8000-{VM_IDS[name]:012x}")


@dataclass
class Overlay:
    """The running scenario: the lab, its controller and TES clients."""

    lab: Lab
    controller: DirectController
    tes: dict[str, TESClient] = field(default_factory=dict)

    def vm(self, name: str) -> VMHost:
        """A VM by name."""
        return self.lab.vms[name]

    def nve(self, name: str) -> NVEHost:
        """An NVE by name."""
        return self.lab.nves[name]

    def client(self, nve: str) -> TESClient:
        """The TES client of the hypervisor behind ``nve`` (``hv1``..)."""
        client = self.tes.get(nve)
        if client is None:
            host = self.nve(nve)
            params = ConnectionParams("127.0.0.1", host.port, username=f"hv{nve[-1]}",
                                      password=PASSWORD,
                                      hostkey_policy=HostKeyPolicy.ACCEPT_ANY, timeout=30.0)
            client = TESClient(params).open()
            self.tes[nve] = client
        return client

    def params(self, name: str) -> AssociationParams:
        """What the hypervisor signals for a VM (``a`` with its ACL and QoS profile)."""
        _, vn, mac, ip = VMS[name]
        policies = VNPolicies(ingress_acls=("a-in",), qos_profile="a-qos") if name == "a" \
            else None
        return AssociationParams(vm_ref(name), TENANTS[vn], vns=(
            VNAttachment(vn, vnics=(VNIC(mac, (ip,)),), policies=policies),))

    def vid_of(self, reply: Any) -> int:
        """The VID a successful reply assigned."""
        return int(reply.check().assignments[0].vid)

    def mappings(self, where: dict[str, str]) -> str:
        """The mapping table with each VM behind the NVE ``where`` names."""
        return mapping_config(
            (VMS[name][1], VMS[name][2], self.nve(nve).address, (VMS[name][3],))
            for name, nve in where.items())

    def migrate(self, name: str, source: str, destination: str) -> float:
        """Move a VM between NVEs (scenario B); returns how long the cut-over took (s).

        The destination reserves the VM's port (immigrate, pre-associate), the source
        stops forwarding for it (emigrate), the hypervisor re-attaches the VM's
        namespace, the destination activates it (immigrate, associate), the controller
        points every NVE's mapping at the destination, and the source releases it.
        """
        params = self.params(name)
        reply = self.client(destination).immigrate(
            params, phase=ImmigrationPhase.PRE_ASSOCIATE, reserve_resources=True)
        vid = self.vid_of(reply)
        started = time.monotonic()
        self.client(source).emigrate(vm_ref(name)).check()
        self.lab.plug(self.vm(name), self.nve(destination), "tes0", vid)
        self.client(destination).immigrate(params, phase=ImmigrationPhase.ASSOCIATE).check()
        self.controller.push_all(self.mappings({name: destination}))
        took = time.monotonic() - started
        self.client(source).terminate(vm_ref(name)).check()
        return took

    def close(self) -> None:
        """Close the TES clients and the controller's sessions."""
        for client in self.tes.values():
            try:
                client.close()
            except Exception:
                pass
        self.controller.close()


def build(lab: Lab) -> Overlay:
    """Namespaces, agents, configuration, VMs associated and plugged."""
    for name, number in ADDRESSES.items():
        lab.add_nve(name, number)
    lab.write_users([f"hv{n[-1]}" for n in ADDRESSES])
    lab.start_agents()
    addresses = tuple(n.address for n in lab.nves.values())
    vns = [VNSpec("vn-blue", 5001, "tenant-a", (100, 199), flood=addresses),
           VNSpec("vn-red", 5002, "tenant-b", (200, 299), flood=addresses)]
    overlay = Overlay(lab, DirectController(lab.nves))
    for name, host in lab.nves.items():
        overlay.controller.push(name, nve_config(
            name, host.address, vns, [(f"hv{name[-1]}", ["tenant-a", "tenant-b"])],
            acls=ACLS, qos=QOS))
    overlay.controller.push_all(overlay.mappings({n: VMS[n][0] for n in VMS}))
    for name, (where, _, mac, ip) in VMS.items():
        vm = lab.add_vm(name, mac, ip)
        reply = overlay.client(where).associate(overlay.params(name))
        lab.plug(vm, overlay.nve(where), "tes0", overlay.vid_of(reply))
    return overlay
