"""A fleet of real NVE agents for nDirector tests, and a Director registered with them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lxml import etree

from nvo3_netconf.constants import NS_NC
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.inventory import NVERecord
from nvo3_netconf.director.registry import Policy, PolicyKind, Tenant, VNRecord, VServer
from nvo3_netconf.protocol.xml import element, sub
from nvo3_netconf.scheduler import ManualClock
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from nvo3_netconf.tes import ConnectionParams, HostKeyPolicy, TESClient
from nvo3_netconf.tes.connection import NetconfConnection

from .conftest import PASSWORD, TEST_YANG, Agent

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
VN = "urn:nvo3-netconf:yang:nvo3-vn"
VM = "urn:nvo3-netconf:yang:nvo3-vm"
MAP = "urn:nvo3-netconf:yang:nvo3-mapping"
ACL = "urn:ietf:params:xml:ns:yang:ietf-access-control-list"
NVE_NS = "urn:nvo3-netconf:yang:nvo3-nve"
POL = "urn:nvo3-netconf:yang:nvo3-policy"
TES_USER = "operator"

ACL_WEB_IN = f"""<acl xmlns="{ACL}"><name>web-in</name><type>ipv4-acl-type</type><aces>
<ace><name>http</name><matches><ipv4><protocol>6</protocol></ipv4><tcp><destination-port>
<operator>eq</operator><port>80</port></destination-port></tcp></matches>
<actions><forwarding>accept</forwarding></actions></ace></aces></acl>"""
QOS_GOLD = f"""<qos-profile xmlns="{POL}"><name>gold</name><rate-limit><cir>100000000</cir>
</rate-limit><marking><pcp>5</pcp></marking></qos-profile>"""


def underlay(n: int) -> str:
    return f"192.0.2.{n}"


@contextmanager
def fleet(tmp_path: Path, users: UserDatabase, count: int) -> Iterator[dict[str, Agent]]:
    """``count`` agents nve1..nveN on free ports; all stopped at the end."""
    started: dict[str, Agent] = {}
    try:
        for n in range(1, count + 1):
            config = ServerConfig(listen="127.0.0.1", port=0, state_dir=tmp_path / f"nve{n}",
                                  yang_dirs=(TEST_YANG,))
            started[f"nve{n}"] = Agent(config, users, ManualClock()).start()
        yield started
    finally:
        for agent in started.values():
            agent.stop()


def register_fleet(director: Director, agents: dict[str, Agent], tmp_path: Path) -> None:
    """Put every agent in the inventory (with its underlay address and a vServer)."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    for n, (name, agent) in enumerate(sorted(agents.items()), start=1):
        director.inventory.add(NVERecord(
            name, "127.0.0.1", agent.port, username="admin", password_file=secret,
            data_centre="dc1" if n <= 2 else "dc2", underlay_address=underlay(n),
            hostkey_policy=HostKeyPolicy.ACCEPT_ANY))
        director.registry.put_vserver(VServer(f"vs{n}", name, TES_USER, "eth1"))


def tenant_alice(director: Director) -> None:
    """Tenants alice and bob, VNs web (alice) and red (bob), an ACL and a QoS profile."""
    registry = director.registry
    registry.put_tenant(Tenant("alice", "Alice Gaming Ltd"))
    registry.put_tenant(Tenant("bob"))
    registry.put_vn(VNRecord("web", 10010, "alice", vid_start=100, vid_end=199))
    registry.put_vn(VNRecord("red", 20010, "bob", vid_start=200, vid_end=299))
    registry.put_policy(Policy(PolicyKind.ACL, "web-in", ACL_WEB_IN, "alice"))
    registry.put_policy(Policy(PolicyKind.QOS, "gold", QOS_GOLD, "alice"))


@contextmanager
def alice_director(tmp_path: Path, agents: dict[str, Agent]) -> Iterator[Director]:
    """A Director over ``agents`` (register_fleet) with alice's VNs and policies."""
    with Director(tmp_path / "ndirector.sqlite", timeout=60, attempts=2) as director:
        register_fleet(director, agents, tmp_path)
        tenant_alice(director)
        yield director


def tes(agent: Agent) -> TESClient:
    return TESClient(ConnectionParams("127.0.0.1", agent.port, username=TES_USER,
                                      password=PASSWORD,
                                      hostkey_policy=HostKeyPolicy.ACCEPT_ANY)).open()


def running(agent: Agent) -> bytes:
    """The agent's running configuration, read over a fresh session."""
    params = ConnectionParams("127.0.0.1", agent.port, username="admin", password=PASSWORD,
                              hostkey_policy=HostKeyPolicy.ACCEPT_ANY)
    with NetconfConnection.open(params) as connection:
        op = element(NS_NC, "get-config")
        sub(sub(op, NS_NC, "source"), NS_NC, "running")
        reply = connection.call(op)
    return b"".join(etree.tostring(d) for d in reply.data)


def mappings(agent: Agent) -> dict[tuple[str, str], str]:
    """(VN, inner MAC) -> remote NVE of the agent's configured mapping entries."""
    root = etree.fromstring(running(agent))
    out = {}
    for vn in root.iter(f"{{{MAP}}}vn"):
        for entry in vn.iter(f"{{{MAP}}}entry"):
            out[(vn.findtext(f"{{{MAP}}}name"), entry.findtext(f"{{{MAP}}}inner-mac"))] = (
                entry.findtext(f"{{{MAP}}}remote-nve"))
    return out


def names(agent: Agent, ns: str, tag: str, key: str) -> set[str]:
    """The keys of the list entries ``tag`` in the agent's running configuration."""
    root = etree.fromstring(running(agent))
    return {el.findtext(f"{{{ns}}}{key}") for el in root.iter(f"{{{ns}}}{tag}")}
