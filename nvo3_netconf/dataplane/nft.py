"""RFC 8519 ACLs and marking as nftables (JSON) in the NVE's namespace.

One table, ``bridge nvo3``, holds everything (the agent owns it and nothing else):

- base chains on the bridge ``forward`` hook: ``acl-in`` (priority 0) sends a frame
  received from a VAP port to that port's chain through the verdict map ``@in``
  (``iifname vmap``); ``acl-out`` (priority 10) does the same with ``@out`` for the
  port a frame leaves by; ``mark`` (priority 100) runs ``@mark`` on what VMs send;
- per ACL a chain ``acl/<name>`` with one rule per ACE, in order, each counting its
  packets: ``accept`` ends the evaluation of the direction, ``drop`` (and ``reject``,
  which the bridge family cannot answer: it drops) drops the frame, a frame no ACE
  matches goes on with the port's next ACL and is accepted after the last one;
- per VAP port and direction a chain ``in/<port>`` or ``out/<port>`` that jumps to the
  port's ACLs in order;
- per marked port a chain ``mark/<port>`` that sets the DSCP of the VM's IPv4 and IPv6
  packets and the priority (``meta priority``, the kernel's carrier of the 802.1Q PCP)
  of its frames. Marking runs after the ACLs, which see the VM's own DSCP.

Two directions run in two base chains so that an ingress ``accept`` does not skip the
egress ACLs of a local destination (an nftables ``accept`` is final for its base chain
only). Ports are added to and removed from the verdict maps as elements, ACL and port
chains are flushed and refilled: every change is incremental, and the backend sends
all of one apply's nftables changes as one atomic transaction (``nft -j -f -``).

Public names: :data:`FAMILY`, :data:`TABLE`, :func:`ace_rules`, :func:`acl_rules`,
:func:`table_commands`, :func:`op_commands`, :class:`UnsupportedMatch`.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from nvo3_netconf.dataplane.intent import Ace
from nvo3_netconf.dataplane.model import AclChain, Mark, Op, OpKind, PortAcls

__all__ = [
    "FAMILY",
    "TABLE",
    "UnsupportedMatch",
    "ace_rules",
    "acl_rules",
    "op_commands",
    "table_commands",
]

FAMILY = "bridge"
TABLE = "nvo3"

Expr = dict[str, Any]
Command = dict[str, Any]

_ETHERTYPES = {
    "ipv4": "ip", "arp": "arp", "ipv6": "ip6", "c-vlan": "vlan", "s-vlan": "8021ad",
    "rarp": 0x8035, "mpls": 0x8847, "lldp": 0x88CC,
}
_OPERATORS = {"eq": "==", "neq": "!=", "lte": "<=", "gte": ">="}
_TCP_FLAGS = ("cwr", "ece", "urg", "ack", "psh", "rst", "syn", "fin")
_IP_FIELDS = {  # flattened path under ipv4/ipv6 -> (ip field, ip6 field)
    "dscp": ("dscp", "dscp"),
    "ecn": ("ecn", "ecn"),
    "length": ("length", "length"),
    "ttl": ("ttl", "hoplimit"),
    "protocol": ("protocol", "nexthdr"),
    "ihl": ("hdrlength", None),
    "identification": ("id", None),
    "flow-label": (None, "flowlabel"),
}
_TCP_FIELDS = {
    "sequence-number": "sequence", "acknowledgement-number": "ackseq",
    "data-offset": "doff", "window-size": "window", "urgent-pointer": "urgptr",
}


class UnsupportedMatch(ValueError):
    """An ACE matches on something this data plane cannot express."""


def _payload(protocol: str, field: str) -> Expr:
    return {"payload": {"protocol": protocol, "field": field}}


def _match(left: Expr, right: object, op: str = "==") -> Expr:
    return {"match": {"op": op, "left": left, "right": right}}


def _meta(key: str) -> Expr:
    return {"meta": {"key": key}}


def _network(value: str) -> object:
    network = ipaddress.ip_network(value, strict=False)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return {"prefix": {"addr": str(network.network_address), "len": network.prefixlen}}


def _mac_match(field: str, address: str, mask: str | None) -> Expr:
    left = _payload("ether", field)
    if mask and mask.lower() != "ff:ff:ff:ff:ff:ff":
        return _match({"&": [left, mask.lower()]}, address.lower())
    return _match(left, address.lower())


def _ethertype(value: str) -> object:
    if value in _ETHERTYPES:
        return _ETHERTYPES[value]
    try:
        return int(value, 0)
    except ValueError:
        raise UnsupportedMatch(f"ethertype {value!r}") from None


def _ports(ace: Ace, proto: str, which: str) -> list[Expr]:
    base = f"{proto}/{which}"
    field = "sport" if which == "source-port" else "dport"
    operator = ace.get(f"{base}/operator")
    port = ace.get(f"{base}/port")
    lower = ace.get(f"{base}/lower-port")
    upper = ace.get(f"{base}/upper-port")
    if port is not None:
        return [_match(_payload(proto, field), int(port), _OPERATORS[operator or "eq"])]
    if lower is not None:
        if upper is None or upper == lower:
            return [_match(_payload(proto, field), int(lower))]
        return [_match(_payload(proto, field), {"range": [int(lower), int(upper)]})]
    return []


def _l3(ace: Ace, version: str) -> list[Expr]:
    proto = "ip" if version == "ipv4" else "ip6"
    exprs: list[Expr] = [_match(_meta("protocol"), proto)]
    for key, value in ace.matches:
        if not key.startswith(version + "/"):
            continue
        name = key.split("/", 1)[1]
        if name in ("destination-ipv4-network", "destination-ipv6-network"):
            exprs.append(_match(_payload(proto, "daddr"), _network(value)))
        elif name in ("source-ipv4-network", "source-ipv6-network"):
            exprs.append(_match(_payload(proto, "saddr"), _network(value)))
        elif name in _IP_FIELDS and _IP_FIELDS[name][version == "ipv6"] is not None:
            field = _IP_FIELDS[name][version == "ipv6"]
            assert field is not None
            exprs.append(_match(_payload(proto, field), int(value)))
        elif name == "offset" and version == "ipv4":
            exprs.append(_match({"&": [_payload("ip", "frag-off"), 0x1FFF]}, int(value)))
        else:
            raise UnsupportedMatch(f"{version} {name}")
    return exprs


def _l4(ace: Ace, family: str | None) -> list[list[Expr]]:
    """Expressions of the L4 matches; one list per rule (ICMP without L3: two rules)."""
    for proto in ("tcp", "udp"):
        if not ace.has(proto):
            continue
        exprs = [_match(_meta("l4proto"), proto)]
        exprs += _ports(ace, proto, "source-port") + _ports(ace, proto, "destination-port")
        for key, value in ace.matches:
            if not key.startswith(proto + "/") or key.split("/")[1] in (
                "source-port", "destination-port"
            ):
                continue
            name = key.split("/", 1)[1]
            if proto == "tcp" and name in _TCP_FIELDS:
                exprs.append(_match(_payload("tcp", _TCP_FIELDS[name]), int(value)))
            elif proto == "tcp" and name == "flags":
                flags = [f for f in value.split() if f in _TCP_FLAGS]
                if len(flags) != len(value.split()):
                    raise UnsupportedMatch(f"tcp flags {value!r}")
                mask: object = flags[0] if len(flags) == 1 else {"|": flags}
                exprs.append(_match({"&": [_payload("tcp", "flags"), mask]}, mask))
            elif proto == "udp" and name == "length":
                exprs.append(_match(_payload("udp", "length"), int(value)))
            else:
                raise UnsupportedMatch(f"{proto} {name}")
        return [exprs]
    if not ace.has("icmp"):
        return [[]]
    rules = []
    versions = [family] if family else ["ipv4", "ipv6"]
    for version in versions:
        proto, l4proto = ("icmp", "icmp") if version == "ipv4" else ("icmpv6", "ipv6-icmp")
        exprs = [_match(_meta("l4proto"), l4proto)]
        for key, value in ace.matches:
            if not key.startswith("icmp/"):
                continue
            name = key.split("/", 1)[1]
            if name not in ("type", "code"):
                raise UnsupportedMatch(f"icmp {name}")
            exprs.append(_match(_payload(proto, name), int(value)))
        rules.append(exprs)
    return rules


def ace_rules(ace: Ace, acl: str) -> list[list[Expr]]:
    """The nftables rules (expression lists) of one ACE: matches, counter, log, verdict.

    Raises:
        UnsupportedMatch: a match this data plane cannot express (the message names it).
    """
    l2: list[Expr] = []
    for key, value in ace.matches:
        if not key.startswith("eth/"):
            continue
        name = key.split("/", 1)[1]
        if name == "destination-mac-address":
            l2.append(_mac_match("daddr", value, ace.get("eth/destination-mac-address-mask")))
        elif name == "source-mac-address":
            l2.append(_mac_match("saddr", value, ace.get("eth/source-mac-address-mask")))
        elif name == "ethertype":
            l2.append(_match(_payload("ether", "type"), _ethertype(value)))
        elif not name.endswith("-mask"):
            raise UnsupportedMatch(f"eth {name}")
    for key, _ in ace.matches:
        top = key.split("/", 1)[0]
        if top not in ("eth", "ipv4", "ipv6", "tcp", "udp", "icmp"):
            raise UnsupportedMatch(top)
    family = "ipv4" if ace.has("ipv4") else "ipv6" if ace.has("ipv6") else None
    l3 = _l3(ace, family) if family else []
    tail: list[Expr] = [{"counter": None}]
    if ace.log:
        tail.append({"log": {"prefix": f"nvo3 {acl}/{ace.name} "[:127]}})
    tail.append({"accept": None} if ace.action == "accept" else {"drop": None})
    return [l2 + l3 + l4 + tail for l4 in _l4(ace, family)]


def acl_rules(name: str, aces: tuple[Ace, ...]) -> tuple[str, ...]:
    """Every rule of an ACL's chain, serialized (hashable, comparable).

    Raises:
        UnsupportedMatch: with the ACE's name in the message.
    """
    rules: list[str] = []
    for ace in aces:
        try:
            expressions = ace_rules(ace, name)
        except UnsupportedMatch as error:
            raise UnsupportedMatch(
                f"ACE {ace.name!r} of ACL {name!r} matches on {error}, which the linux data "
                "plane does not implement"
            ) from None
        rules.extend(json.dumps(e, sort_keys=True) for e in expressions)
    return tuple(rules)


# ------------------------------------------------------------------- commands
def _obj(kind: str, **values: object) -> Command:
    return {kind: {"family": FAMILY, "table": TABLE, **values}}


def table_commands() -> list[Command]:
    """Create the table, its verdict maps and base chains (idempotent: ``add``)."""
    commands: list[Command] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}]
    for name in ("in", "out", "mark"):
        commands.append({"add": _obj("map", name=name, type="ifname", map="verdict")})
    for name, priority, key, vmap in (
        ("acl-in", 0, "iifname", "@in"), ("acl-out", 10, "oifname", "@out"),
        ("mark", 100, "iifname", "@mark"),
    ):
        commands.append({"add": _obj("chain", name=name, type="filter", hook="forward",
                                     prio=priority, policy="accept")})
        commands.append({"flush": _obj("chain", name=name)})
        commands.append({"add": _obj("rule", chain=name, expr=[
            {"vmap": {"key": _meta(key), "data": vmap}}])})
    return commands


def base_chain_commands(*, delete: bool = False) -> list[Command]:
    """Delete, or add, the base chains only (the maps and regular chains stay)."""
    names = ("acl-in", "acl-out", "mark")
    if delete:
        return [{"delete": _obj("chain", name=name)} for name in names]
    return [c for c in table_commands() if "chain" in c.get("add", {})
            or "chain" in c.get("flush", {}) or "rule" in c.get("add", {})]


def _rules(chain: str, rules: list[list[Expr]]) -> list[Command]:
    return [{"add": _obj("rule", chain=chain, expr=expr)} for expr in rules]


def _acl_chain(name: str) -> str:
    return f"acl/{name}"


def _port_rules(obj: PortAcls) -> list[list[Expr]]:
    return [[{"jump": {"target": _acl_chain(acl)}}] for acl in obj.acls]


def _mark_rules(obj: Mark) -> list[list[Expr]]:
    rules: list[list[Expr]] = []
    if obj.dscp is not None:
        for proto in ("ip", "ip6"):
            rules.append([_match(_meta("protocol"), proto),
                          {"mangle": {"key": _payload(proto, "dscp"), "value": obj.dscp}}])
    if obj.priority is not None:
        rules.append([{"mangle": {"key": _meta("priority"), "value": f"0:{obj.priority}"}}])
    return rules


def _chain_of(obj: AclChain | PortAcls | Mark) -> tuple[str, str | None, list[list[Expr]]]:
    """(chain name, verdict map holding it or None, its rules)."""
    if isinstance(obj, AclChain):
        return _acl_chain(obj.name), None, [json.loads(r) for r in obj.rules]
    if isinstance(obj, PortAcls):
        return f"{obj.direction}/{obj.port}", obj.direction, _port_rules(obj)
    return f"mark/{obj.port}", "mark", _mark_rules(obj)


def op_commands(op: Op) -> list[Command]:
    """The nftables commands of one operation on an nftables object."""
    target = op.target
    assert isinstance(target, AclChain | PortAcls | Mark)
    chain, vmap, rules = _chain_of(target)
    element = None
    if vmap is not None:
        port = target.port  # type: ignore[union-attr]
        element = _obj("element", name=vmap, elem=[[port, {"jump": {"target": chain}}]])
    if op.kind is OpKind.CREATE:
        commands = [{"add": _obj("chain", name=chain)}, *_rules(chain, rules)]
        if element is not None:
            commands.append({"add": element})
        return commands
    if op.kind is OpKind.MODIFY:
        return [{"flush": _obj("chain", name=chain)}, *_rules(chain, rules)]
    commands = []
    if element is not None:
        commands.append({"delete": _obj("element", name=vmap,
                                        elem=[target.port])})  # type: ignore[union-attr]
    commands += [{"flush": _obj("chain", name=chain)}, {"delete": _obj("chain", name=chain)}]
    return commands
