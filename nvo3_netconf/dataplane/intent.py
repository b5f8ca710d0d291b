"""What the running configuration asks of the data plane, read into frozen values.

:func:`read_intent` reads a running ``<data>`` tree into a :class:`NetworkIntent`: the
NVE's underlay address (``/nve:nve/underlay-address``), every VN instance with its VNID,
encapsulation, UDP port, administrative state, flooding (head-end replication list or
underlay multicast group) and VAPs (``/vn:vn-instances``), the configured mapping entries
(``/map:mappings``), the RFC 8519 ACLs with their ACEs flattened (``/acl:acls``) and the
QoS profiles (``/pol:qos-profiles``). The models' defaults are applied here.

Public names: :class:`NetworkIntent`, :class:`VNIntent`, :class:`MappingIntent`,
:class:`Ace`, :class:`QosProfile`, :func:`read_intent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from nvo3_netconf.constants import (
    NS_ACL,
    NS_NVO3_MAPPING,
    NS_NVO3_NVE,
    NS_NVO3_POLICY,
    NS_NVO3_VN,
)

__all__ = ["Ace", "MappingIntent", "NetworkIntent", "QosProfile", "VNIntent", "read_intent"]

VXLAN_PORT = 4789


@dataclass(frozen=True)
class MappingIntent:
    """A configured mapping entry: inner MAC (and IPs) behind a remote NVE."""

    mac: str
    remote: str
    inner_ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class VNIntent:
    """A VN instance as the data plane needs it."""

    name: str
    vnid: int
    tenant: str = ""
    admin_up: bool = True
    encapsulation: str = "vxlan"
    udp_port: int | None = None
    flood_list: tuple[str, ...] = ()
    multicast_group: str | None = None
    vaps: Mapping[str, bool] = field(default_factory=dict)
    """VAP name -> administratively up."""
    mappings: tuple[MappingIntent, ...] = ()


@dataclass(frozen=True)
class Ace:
    """One RFC 8519 ACE: its matches flattened to ``("ipv4/protocol", "1")`` pairs."""

    name: str
    matches: tuple[tuple[str, str], ...] = ()
    action: str = "accept"
    log: bool = False

    def get(self, path: str) -> str | None:
        """The value of one flattened match, if given."""
        return next((value for key, value in self.matches if key == path), None)

    def has(self, prefix: str) -> bool:
        """True if some match lies under ``prefix`` (e.g. ``tcp``)."""
        return any(key == prefix or key.startswith(prefix + "/") for key, _ in self.matches)


@dataclass(frozen=True)
class QosProfile:
    """A QoS profile: rate limit and marking."""

    name: str
    cir: int | None = None
    """committed rate in bits/s; None: no rate limit"""
    cbs: int = 16384
    pir: int | None = None
    pbs: int | None = None
    shaping: bool = False
    pcp: int | None = None
    dscp: int | None = None


@dataclass(frozen=True)
class NetworkIntent:
    """Everything the data plane reads from running."""

    underlay_address: str | None = None
    vns: Mapping[str, VNIntent] = field(default_factory=dict)
    acls: Mapping[str, tuple[Ace, ...]] = field(default_factory=dict)
    qos: Mapping[str, QosProfile] = field(default_factory=dict)


def _q(ns: str, *names: str) -> str:
    return "/".join(f"{{{ns}}}{n}" for n in names)


def _text(parent: etree._Element | None, ns: str, *names: str) -> str | None:
    if parent is None:
        return None
    value = parent.findtext(_q(ns, *names))
    return value.strip() if value is not None else None


def _texts(parent: etree._Element, ns: str, name: str) -> tuple[str, ...]:
    return tuple((e.text or "").strip() for e in parent.iterfind(_q(ns, name)))


def _local(value: str | None) -> str | None:
    """An identityref's name without its prefix."""
    return value.rsplit(":", 1)[-1] if value else value


def read_intent(tree: etree._Element) -> NetworkIntent:
    """Read the data plane's intent from a running ``<data>`` tree."""
    nve = tree.find(_q(NS_NVO3_NVE, "nve"))
    return NetworkIntent(
        underlay_address=_text(nve, NS_NVO3_NVE, "underlay-address"),
        vns=_read_vns(tree),
        acls=_read_acls(tree),
        qos=_read_qos(tree),
    )


def _read_vns(tree: etree._Element) -> dict[str, VNIntent]:
    v, m = NS_NVO3_VN, NS_NVO3_MAPPING
    mappings: dict[str, list[MappingIntent]] = {}
    for vn in tree.iterfind(_q(m, "mappings", "vn")):
        name = _text(vn, m, "name") or ""
        for entry in vn.iterfind(_q(m, "entry")):
            mappings.setdefault(name, []).append(MappingIntent(
                mac=(_text(entry, m, "inner-mac") or "").lower(),
                remote=_text(entry, m, "remote-nve") or "",
                inner_ips=_texts(entry, m, "inner-ip"),
            ))
    result: dict[str, VNIntent] = {}
    for entry in tree.iterfind(_q(v, "vn-instances", "vn-instance")):
        name = _text(entry, v, "name") or ""
        port = _text(entry, v, "udp-port")
        result[name] = VNIntent(
            name=name,
            vnid=int(_text(entry, v, "vnid") or 0),
            tenant=_text(entry, v, "tenant") or "",
            admin_up=_text(entry, v, "admin-state") != "down",
            encapsulation=_local(_text(entry, v, "encapsulation")) or "vxlan",
            udp_port=int(port) if port else None,
            flood_list=_texts(entry, v, "flood-list"),
            multicast_group=_text(entry, v, "multicast-group"),
            vaps={
                _text(vap, v, "name") or "": _text(vap, v, "admin-state") != "down"
                for vap in entry.iterfind(_q(v, "vap"))
            },
            mappings=tuple(mappings.get(name, ())),
        )
    return result


def _flatten(element: etree._Element, prefix: str, out: list[tuple[str, str]]) -> None:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        path = f"{prefix}/{name}" if prefix else name
        if len(child):
            _flatten(child, path, out)
        else:
            out.append((path, (child.text or "").strip()))


def _read_acls(tree: etree._Element) -> dict[str, tuple[Ace, ...]]:
    a = NS_ACL
    result: dict[str, tuple[Ace, ...]] = {}
    for acl in tree.iterfind(_q(a, "acls", "acl")):
        aces = []
        for ace in acl.iterfind(_q(a, "aces", "ace")):
            matches: list[tuple[str, str]] = []
            found = ace.find(_q(a, "matches"))
            if found is not None:
                _flatten(found, "", matches)
            aces.append(Ace(
                name=_text(ace, a, "name") or "",
                matches=tuple(matches),
                action=_local(_text(ace, a, "actions", "forwarding")) or "accept",
                log=_local(_text(ace, a, "actions", "logging")) == "log-syslog",
            ))
        result[_text(acl, a, "name") or ""] = tuple(aces)
    return result


def _read_qos(tree: etree._Element) -> dict[str, QosProfile]:
    p = NS_NVO3_POLICY
    result: dict[str, QosProfile] = {}
    for profile in tree.iterfind(_q(p, "qos-profiles", "qos-profile")):
        name = _text(profile, p, "name") or ""
        rate = profile.find(_q(p, "rate-limit"))

        def number(*names: str, parent: etree._Element | None = rate) -> int | None:
            value = _text(parent, p, *names)
            return int(value) if value else None

        result[name] = QosProfile(
            name=name,
            cir=number("cir"),
            cbs=number("cbs") or 16384,
            pir=number("pir"),
            pbs=number("pbs"),
            shaping=_text(rate, p, "mode") == "shaping",
            pcp=number("marking", "pcp", parent=profile),
            dscp=number("marking", "dscp", parent=profile),
        )
    return result
