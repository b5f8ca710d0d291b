"""``sync repair --from-device``: take an NVE's view as the truth for the intent.

What the director renders from its registry can be taken back from an NVE's version:
tenants, ACLs (RFC 8519) and QoS profiles are stored as the NVE holds them, VN
instances keep their VNID, tenant, type, encapsulation, admin state and description,
and a VM profile its vNICs' addresses and its per-VN policies. Mapping entries, flood
lists, VAPs, the TES authorization and the NVE's own leaves are derived from where VMs
are and which vServers are behind which NVE: an NVE's version of those cannot become
the intent, and is reported as such; so is an item the NVE lacks.

Public names: :func:`adopt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lxml import etree

from nvo3_netconf.constants import NS_NVO3_VM, NS_NVO3_VN
from nvo3_netconf.director.drift import Difference
from nvo3_netconf.director.registry import Policy, PolicyKind, Registry, Tenant, VNAttachment

__all__ = ["adopt"]

_VN = f"{{{NS_NVO3_VN}}}"
_VM = f"{{{NS_NVO3_VM}}}"


def adopt(registry: Registry, differences: Sequence[Difference]) -> tuple[list[str], list[str]]:
    """Store the NVE's versions of the differing items in the registry.

    Returns:
        The keys adopted, and the keys left (with the reason) that cannot be.
    """
    adopted: list[str] = []
    left: list[str] = []
    for d in differences:
        if d.found is None or d.kind == "missing":
            left.append(f"{d.key}: missing on the NVE (not removed from the intent)")
            continue
        el = d.found.element()
        kind = d.key.split("[", 1)[0]
        name = el[0].text or ""
        if kind == "/acls/acl":
            registry.put_policy(Policy(PolicyKind.ACL, name, etree.tostring(el).decode()))
        elif kind == "/qos-profiles/qos-profile":
            registry.put_policy(Policy(PolicyKind.QOS, name, etree.tostring(el).decode()))
        elif kind == "/tenants/tenant":
            registry.put_tenant(Tenant(name, el.findtext(f"{_VN}name"),
                                       el.findtext(f"{_VN}description")))
        elif kind == "/vn-instances/vn-instance" and d.kind == "changed":
            current = registry.vn(name)
            encapsulation = (el.findtext(f"{_VN}encapsulation") or current.encapsulation)
            registry.put_vn(replace(
                current, vnid=int(el.findtext(f"{_VN}vnid") or current.vnid),
                tenant=el.findtext(f"{_VN}tenant") or current.tenant,
                vn_type=el.findtext(f"{_VN}type") or current.vn_type,
                encapsulation=encapsulation.rsplit(":", 1)[-1],
                admin_state=el.findtext(f"{_VN}admin-state") or current.admin_state,
                description=el.findtext(f"{_VN}description")))
        elif kind == "/vms/vm" and d.kind == "changed":
            vm = registry.vm(name)
            ips = {nic.findtext(f"{_VM}mac"): tuple(ip.text or "" for ip in
                                                     nic.iterfind(f"{_VM}ip-address"))
                   for nic in el.iterfind(f"{_VM}vnic")}
            policies = tuple(VNAttachment(
                p.findtext(f"{_VM}vn") or "",
                tuple(a.text or "" for a in p.iterfind(f"{_VM}ingress-acl")),
                tuple(a.text or "" for a in p.iterfind(f"{_VM}egress-acl")),
                p.findtext(f"{_VM}qos-profile")) for p in el.iterfind(f"{_VM}vn-policy"))
            registry.register(replace(vm, policies=policies, vnics=tuple(
                replace(n, ip_addresses=ips.get(n.mac, n.ip_addresses)) for n in vm.vnics)))
        else:
            left.append(f"{d.key}: derived from VM locations and vServers; "
                        "the director's version stays the intent")
            continue
        adopted.append(d.key)
    return adopted, left
