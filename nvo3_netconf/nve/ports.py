"""The VM ports the NVE asks its forwarding plane for, from a VM's state and holdings.

A VM that holds local VIDs (associated, or pre-associated with resource reservation,
suspended, emigrating, immigrating) gets one :class:`~nvo3_netconf.dataplane.VMPort` per
VN and VID: its VAP port in the data plane. Only an associated VM's ports are up
(DESIGN.md: only associated VMs forward); a VM without state has none, so a terminated
or aged-out VM's ports are removed.

Public names: :class:`PortSink`, :func:`vm_ports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nvo3_netconf.dataplane.model import VMPort
from nvo3_netconf.nve.lifecycle import VMState
from nvo3_netconf.nve.resources import Allocation, Assignment

__all__ = ["PortSink", "vm_ports"]


class PortSink(Protocol):
    """The forwarding plane, as the NVE service sees it."""

    def update_vm(self, vm_id: str, ports: Sequence[VMPort]) -> None:
        """Make the VM's ports these (none: remove them); raise if it cannot."""


def vm_ports(vm_id: str, state: VMState | None, allocation: Allocation | None) -> tuple[
        VMPort, ...]:
    """The ports of a VM in ``state`` holding ``allocation`` (None: no state)."""
    if state is None or allocation is None or not allocation.reserved:
        return ()
    groups: dict[tuple[str, str, int], list[Assignment]] = {}
    for assignment in allocation.assignments:
        if assignment.vid is not None:
            key = (assignment.vn, assignment.interface, assignment.vid)
            groups.setdefault(key, []).append(assignment)
    policies = {vn.vn: vn.policies for vn in allocation.desired.vns}
    ports = []
    for (vn, interface, vid), assignments in sorted(groups.items()):
        names = policies.get(vn)
        ports.append(VMPort(
            vm_id=vm_id, vn=vn, vap=assignments[0].vap, interface=interface, vid=vid,
            macs=tuple(dict.fromkeys(a.mac for a in assignments if a.mac)),
            ip_addresses=tuple(dict.fromkeys(ip for a in assignments for ip in a.ip_addresses)),
            pcp=assignments[0].pcp,
            ingress_acl=names.ingress_acl if names else (),
            egress_acl=names.egress_acl if names else (),
            qos_profile=names.qos_profile if names else None,
            active=state is VMState.ASSOCIATED,
        ))
    return tuple(ports)
