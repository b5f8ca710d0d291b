"""Configuration and VM ports to kernel objects: the pure heart of the Linux data plane.

:func:`translate` turns a :class:`~.intent.NetworkIntent` (running) and the local VMs'
:class:`~.model.VMPort` values (the NVE service's lifecycle state) into the
:class:`~.model.KernelModel` the namespace must hold:

======================================  ==============================================
configuration / state                   kernel objects
======================================  ==============================================
VN instance (VNID, admin-state)         bridge ``br-<vnid>``, up while the VN is up
  with ``/nve:nve/underlay-address``    VXLAN device ``vx-<vnid>``: VNI = VNID, local =
                                        the underlay address, UDP port (4789 unless
                                        ``udp-port``), underlay multicast ``group``;
                                        learning off, ARP/ND proxy on, outer DSCP
                                        inherited; a port of the VN's bridge
  ``flood-list`` (head-end repl.)       one all-zero-MAC fdb entry per remote NVE
mapping entry (MAC -> remote NVE)       a static fdb entry of the VXLAN device (and of
                                        the bridge), unless an *associated* local VM
                                        holds the MAC (the local attachment wins)
  its inner IPs                         neighbour entries answered by the ARP/ND proxy
VM port (VM, VN, interface, VID)        veth pair ``<if>-<vid>`` (bridge side) /
                                        ``<if>.<vid>`` (for the hypervisor), up only
                                        while the VM is associated, its VAP and VN up;
                                        then a static fdb entry per vNIC MAC
  its QoS profile's rate limit          IFB ``q<if>-<vid>`` with a TBF (cir, cbs, pir,
                                        pbs); policing: a queue of one burst
  its ingress / egress ACLs             nftables chains ``in/<port>``, ``out/<port>``
  DSCP marking, assigned PCP            nftables chain ``mark/<port>``
RFC 8519 ACL                            nftables chain ``acl/<name>``, a rule per ACE
======================================  ==============================================

What this data plane cannot do is refused with a :class:`TranslationError` that names
the node at fault: an encapsulation other than VXLAN, an underlay multicast group
without an underlay interface, a match RFC 8519 allows but nftables' bridge family
cannot express. The applier turns it into the commit's ``<rpc-error>``.

Public names: :class:`TranslationError`, :func:`translate`, :func:`vn_scope`,
:func:`acl_scope`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from nvo3_netconf.dataplane.intent import VXLAN_PORT, NetworkIntent, QosProfile, VNIntent
from nvo3_netconf.dataplane.model import (
    AclChain,
    Bridge,
    Flood,
    KernelModel,
    KernelObject,
    LocalMac,
    Mark,
    Neighbour,
    Port,
    PortAcls,
    RateLimit,
    RemoteMac,
    Scope,
    VMPort,
    Vxlan,
    ifname,
)
from nvo3_netconf.dataplane.nft import UnsupportedMatch, acl_rules

__all__ = ["TranslationError", "acl_scope", "translate", "vn_scope"]

SHAPING_QUEUE_SECONDS = 0.1
"""How much traffic a shaping rate limit may queue, in seconds at the peak rate."""


class TranslationError(ValueError):
    """The configuration asks for something this data plane cannot do."""


def vn_scope(name: str) -> Scope:
    """The scope of a VN's objects (bridge, VXLAN, fdb, its VM ports)."""
    return ("vn", name)


def acl_scope(name: str) -> Scope:
    """The scope of an ACL's chain."""
    return ("acl", name)


def translate(
    intent: NetworkIntent,
    ports: Iterable[VMPort],
    *,
    underlay_device: str | None = None,
    scopes: set[Scope] | None = None,
) -> KernelModel:
    """The kernel objects for ``intent`` and the local VMs' ``ports``.

    Args:
        intent: the running configuration.
        ports: the ports of the local VMs (any lifecycle state that holds a VID).
        underlay_device: the interface VXLAN devices are bound to (needed for multicast).
        scopes: build only these scopes (None: everything).

    Raises:
        TranslationError: the configuration asks for what this data plane cannot do.
    """
    objects: list[KernelObject] = []
    by_vn: dict[str, list[VMPort]] = {}
    for port in ports:
        by_vn.setdefault(port.vn, []).append(port)
    for name, vn in sorted(intent.vns.items()):
        if scopes is None or vn_scope(name) in scopes:
            objects.extend(_vn_objects(intent, vn, by_vn.get(name, []), underlay_device))
    for name, aces in sorted(intent.acls.items()):
        if scopes is None or acl_scope(name) in scopes:
            try:
                rules = acl_rules(name, aces)
            except UnsupportedMatch as error:
                raise TranslationError(str(error)) from None
            objects.append(AclChain(acl_scope(name), name, rules))
    try:
        return KernelModel(objects)
    except ValueError as error:
        raise TranslationError(str(error)) from None


def _vn_objects(
    intent: NetworkIntent, vn: VNIntent, ports: list[VMPort], underlay_device: str | None
) -> list[KernelObject]:
    scope = vn_scope(vn.name)
    bridge = Bridge(scope, ifname("br", vn.vnid), up=vn.admin_up)
    objects: list[KernelObject] = [bridge]
    if vn.encapsulation != "vxlan":
        raise TranslationError(
            f"VN {vn.name} uses the {vn.encapsulation} encapsulation; the linux data plane "
            "implements vxlan only")
    local_active = {mac for p in ports if p.active for mac in p.macs}
    local = intent.underlay_address
    if local is not None:
        objects.extend(_overlay(vn, scope, bridge, local, underlay_device, local_active))
    names: set[str] = set()
    for port in sorted(ports, key=lambda p: (p.interface, p.vid)):
        if port.port_name in names:
            raise TranslationError(f"two VMs hold VID {port.vid} on interface "
                                   f"{port.interface} in VN {vn.name}")
        names.add(port.port_name)
        objects.extend(_port_objects(intent, vn, scope, bridge, port))
    return objects


def _overlay(
    vn: VNIntent, scope: Scope, bridge: Bridge, local: str, device: str | None,
    local_active: set[str],
) -> list[KernelObject]:
    family = ipaddress.ip_address(local).version
    if vn.multicast_group is not None and device is None:
        raise TranslationError(
            f"VN {vn.name} floods to underlay multicast group {vn.multicast_group}, which "
            "needs the agent's dataplane-underlay-interface")
    for address in (*vn.flood_list, *(m.remote for m in vn.mappings),
                    *([vn.multicast_group] if vn.multicast_group else [])):
        if ipaddress.ip_address(address).version != family:
            raise TranslationError(
                f"VN {vn.name}: underlay address {address} is not of the family of this "
                f"NVE's underlay address {local}")
    vxlan = Vxlan(scope, ifname("vx", vn.vnid), vn.vnid, local, vn.udp_port or VXLAN_PORT,
                  device, vn.multicast_group, bridge.name, up=vn.admin_up)
    objects: list[KernelObject] = [vxlan]
    for remote in dict.fromkeys(vn.flood_list):
        if remote != local:
            objects.append(Flood(scope, vxlan.key, remote))
    ips: set[str] = set()
    for mapping in sorted(vn.mappings, key=lambda m: m.mac):
        if mapping.mac in local_active or mapping.remote == local:
            continue  # the local attachment wins (nvo3-mapping: inactive, local-vm)
        objects.append(RemoteMac(scope, vxlan.key, mapping.mac, mapping.remote))
        for ip in mapping.inner_ips:
            if ip not in ips:
                ips.add(ip)
                objects.append(Neighbour(scope, vxlan.key, ip, mapping.mac))
    return objects


def _rate_limit(profile: QosProfile, port: VMPort, name: str, scope: Scope) -> RateLimit:
    assert profile.cir is not None
    peak = profile.pir if profile.pir is not None and profile.pir > profile.cir else None
    queue = profile.cbs
    if profile.shaping:
        queue = max(profile.cbs, int((peak or profile.cir) / 8 * SHAPING_QUEUE_SECONDS))
    return RateLimit(scope, name, ifname("q" + port.interface, port.vid), profile.cir,
                     profile.cbs, peak, (profile.pbs or 2048) if peak else None, queue)


def _port_objects(
    intent: NetworkIntent, vn: VNIntent, scope: Scope, bridge: Bridge, port: VMPort
) -> list[KernelObject]:
    name = port.port_name
    up = port.active and vn.admin_up and vn.vaps.get(port.vap, True)
    objects: list[KernelObject] = [Port(
        scope, name, port.peer_name, bridge.name, up,
        port.macs[0] if len(port.macs) == 1 else None,
        f"vm {port.vm_id} vn {vn.name} vid {port.vid}",
    )]
    if port.active:  # an inactive VM's MAC is reached as the mapping says (or not at all)
        objects.extend(LocalMac(scope, name, bridge.name, mac)
                       for mac in dict.fromkeys(port.macs))
    profile = intent.qos.get(port.qos_profile) if port.qos_profile else None
    if profile is not None and profile.cir is not None:
        objects.append(_rate_limit(profile, port, name, scope))
    for direction, acls in (("in", port.ingress_acl), ("out", port.egress_acl)):
        present = tuple(a for a in acls if a in intent.acls)
        if present:
            objects.append(PortAcls(scope, name, direction, present))
    dscp = profile.dscp if profile is not None else None
    priority = port.pcp or None
    if dscp is not None or priority is not None:
        objects.append(Mark(scope, name, dscp, priority))
    return objects
