"""The data plane without a kernel.

Configuration to kernel objects, ACLs to nftables, plans, the applier's scopes and its
all-or-nothing behaviour, and the datastore's hook.
"""

from __future__ import annotations

import json

import pytest
from lxml import etree

from nvo3_netconf.constants import NS_ACL, NS_NVO3_MAPPING, NS_NVO3_NVE, NS_NVO3_POLICY
from nvo3_netconf.constants import NS_NVO3_VN as VN
from nvo3_netconf.dataplane import MemoryBackend
from nvo3_netconf.dataplane.applier import DataplaneApplier, changed_scopes
from nvo3_netconf.dataplane.backend import DataplaneError
from nvo3_netconf.dataplane.intent import Ace, read_intent
from nvo3_netconf.dataplane.model import (
    AclChain,
    Bridge,
    Flood,
    KernelModel,
    LocalMac,
    Mark,
    Neighbour,
    Op,
    OpKind,
    Port,
    PortAcls,
    RateLimit,
    RemoteMac,
    VMPort,
    Vxlan,
    ifname,
    inverse,
    plan,
)
from nvo3_netconf.dataplane.nft import UnsupportedMatch, ace_rules, op_commands
from nvo3_netconf.dataplane.translate import TranslationError, translate
from nvo3_netconf.datastore.changes import Change, ChangeOp
from nvo3_netconf.errors import OperationFailedError

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


def running(*, underlay: str | None = "192.0.2.11", extra_vn: str = "", acl: str = "",
            qos: str = "", mappings: str = "") -> etree._Element:
    nve = (f'<nve xmlns="{NS_NVO3_NVE}"><underlay-address>{underlay}</underlay-address></nve>'
           if underlay else "")
    return etree.fromstring(
        f'<data xmlns="{NC}">{nve}'
        f'<vn-instances xmlns="{VN}"><vn-instance><name>blue</name><vnid>5001</vnid>'
        "<tenant>t</tenant><flood-list>192.0.2.12</flood-list><flood-list>192.0.2.11</flood-list>"
        "<vap><name>v</name><interface>tes0</interface></vap></vn-instance>"
        f"{extra_vn}</vn-instances>"
        f'<mappings xmlns="{NS_NVO3_MAPPING}"><vn><name>blue</name>'
        "<entry><inner-mac>52:54:00:00:0B:02</inner-mac><inner-ip>198.51.100.2</inner-ip>"
        "<remote-nve>192.0.2.12</remote-nve></entry>"
        "<entry><inner-mac>52:54:00:00:0a:01</inner-mac><remote-nve>192.0.2.13</remote-nve>"
        f"</entry>{mappings}</vn></mappings>"
        f'<acls xmlns="{NS_ACL}">{acl}</acls>'
        f'<qos-profiles xmlns="{NS_NVO3_POLICY}">{qos}</qos-profiles></data>')


PORT_A = VMPort("vm-a", "blue", "v", "tes0", 100, ("52:54:00:00:0a:01",), ("198.51.100.1",),
                pcp=3, ingress_acl=("deny-icmp", "missing"), qos_profile="gold")
ACL = ("<acl><name>deny-icmp</name><aces><ace><name>icmp</name><matches><ipv4>"
       "<protocol>1</protocol></ipv4></matches><actions><forwarding>drop</forwarding>"
       "</actions></ace></aces></acl>")
QOS = ("<qos-profile><name>gold</name><rate-limit><cir>4000000</cir></rate-limit>"
       "<marking><dscp>46</dscp></marking></qos-profile>")


# ------------------------------------------------------------- translation
def test_a_vn_becomes_a_bridge_a_vxlan_device_fdb_and_flood_entries() -> None:
    model = translate(read_intent(running()), [])
    bridge, = model.of(Bridge)
    assert bridge == Bridge(("vn", "blue"), "br-5001", True)
    vxlan, = model.of(Vxlan)
    assert (vxlan.name, vxlan.vnid, vxlan.local, vxlan.port, vxlan.bridge) == (
        "vx-5001", 5001, "192.0.2.11", 4789, "br-5001")
    # Head-end replication to the other NVE only; mapping entries as fdb entries.
    assert [f.remote for f in model.of(Flood)] == ["192.0.2.12"]  # type: ignore[attr-defined]
    remote = {m.mac: m.remote for m in model.of(RemoteMac)}  # type: ignore[attr-defined]
    assert remote == {"52:54:00:00:0a:01": "192.0.2.13", "52:54:00:00:0b:02": "192.0.2.12"}
    neighbour, = model.of(Neighbour)
    assert (neighbour.ip, neighbour.mac) == ("198.51.100.2", "52:54:00:00:0b:02")  # type: ignore[attr-defined]


def test_without_an_underlay_address_nothing_is_encapsulated() -> None:
    model = translate(read_intent(running(underlay=None)), [])
    assert [type(o) for o in model.objects()] == [Bridge]


def test_an_associated_vm_gets_a_port_its_policies_and_wins_over_the_mapping() -> None:
    model = translate(read_intent(running(acl=ACL, qos=QOS)), [PORT_A])
    port, = model.of(Port)
    assert (port.name, port.peer, port.bridge, port.up, port.peer_mac) == (  # type: ignore[attr-defined]
        "tes0-100", "tes0.100", "br-5001", True, "52:54:00:00:0a:01")
    assert [o.mac for o in model.of(LocalMac)] == ["52:54:00:00:0a:01"]  # type: ignore[attr-defined]
    # The local attachment wins: no fdb entry sends a's MAC to the remote NVE any more.
    assert {m.mac for m in model.of(RemoteMac)} == {"52:54:00:00:0b:02"}  # type: ignore[attr-defined]
    acls, = model.of(PortAcls)
    assert (acls.port, acls.direction, acls.acls) == ("tes0-100", "in", ("deny-icmp",))  # type: ignore[attr-defined]
    rate, = model.of(RateLimit)
    assert (rate.port, rate.rate, rate.burst, rate.queue) == ("tes0-100", 4_000_000, 16384,  # type: ignore[attr-defined]
                                                             16384)
    assert model.of(Mark) == [Mark(("vn", "blue"), "tes0-100", 46, 3)]
    assert [c.name for c in model.of(AclChain)] == ["deny-icmp"]  # type: ignore[attr-defined]


def test_an_inactive_vm_has_a_port_that_is_down_and_the_mapping_still_applies() -> None:
    suspended = VMPort("vm-a", "blue", "v", "tes0", 100, ("52:54:00:00:0a:01",), active=False)
    model = translate(read_intent(running()), [suspended])
    port, = model.of(Port)
    assert port.up is False  # type: ignore[attr-defined]
    assert not model.of(LocalMac)
    assert "52:54:00:00:0a:01" in {m.mac for m in model.of(RemoteMac)}  # type: ignore[attr-defined]


def test_a_vap_or_vn_down_takes_the_ports_down() -> None:
    tree = running()
    vap = tree.find(f".//{{{VN}}}vap")
    assert vap is not None
    etree.SubElement(vap, f"{{{VN}}}admin-state").text = "down"
    model = translate(read_intent(tree), [PORT_A])
    assert model.of(Port)[0].up is False  # type: ignore[attr-defined]


def test_what_the_data_plane_cannot_do_is_refused_with_the_reason() -> None:
    nvgre = ("<vn-instance><name>green</name><vnid>7</vnid><tenant>t</tenant>"
             "<encapsulation>vn:nvgre</encapsulation></vn-instance>")
    with pytest.raises(TranslationError, match="green uses the nvgre encapsulation"):
        translate(read_intent(running(extra_vn=nvgre)), [])
    group = ("<vn-instance><name>mc</name><vnid>8</vnid><tenant>t</tenant>"
             "<multicast-group>239.1.1.1</multicast-group></vn-instance>")
    with pytest.raises(TranslationError, match="underlay-interface"):
        translate(read_intent(running(extra_vn=group)), [])
    assert translate(read_intent(running(extra_vn=group)), [], underlay_device="ul0").of(Vxlan)
    options = ("<acl><name>x</name><aces><ace><name>opt</name><matches><tcp><options>AQ==</options>"
               "</tcp></matches><actions><forwarding>drop</forwarding></actions></ace></aces>"
               "</acl>")
    with pytest.raises(TranslationError, match="ACE 'opt' of ACL 'x' matches on tcp options"):
        translate(read_intent(running(acl=options)), [])


def test_long_interface_names_are_shortened_to_fit() -> None:
    assert ifname("br", 5001) == "br-5001"
    name = ifname("a-very-long-interface-name", 4094)
    assert len(name) <= 15 and name.endswith("-4094")
    assert ifname("a-very-long-interface-name", 4094) == name


# -------------------------------------------------------------------- nft
def _rule(**matches: str) -> list[dict[str, object]]:
    ace = Ace("x", tuple((k.replace("__", "/").replace("_", "-"), v) for k, v in matches.items()),
              "drop")
    rules = ace_rules(ace, "acl")
    assert len(rules) == 1
    return rules[0]


def test_aces_become_nftables_matches_on_l2_to_l4() -> None:
    rule = _rule(ipv4__source_ipv4_network="10.1.0.0/24", tcp__destination_port__operator="gte",
                 tcp__destination_port__port="1024")
    assert {"match": {"op": "==", "left": {"meta": {"key": "protocol"}}, "right": "ip"}} in rule
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                      "right": {"prefix": {"addr": "10.1.0.0", "len": 24}}}} in rule
    assert {"match": {"op": ">=", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                      "right": 1024}} in rule
    assert rule[-2:] == [{"counter": None}, {"drop": None}]
    mac = _rule(eth__destination_mac_address="52:54:00:00:00:01",
                eth__destination_mac_address_mask="ff:ff:ff:00:00:00", eth__ethertype="ipv4")
    assert {"match": {"op": "==", "left": {"&": [
        {"payload": {"protocol": "ether", "field": "daddr"}}, "ff:ff:ff:00:00:00"]},
        "right": "52:54:00:00:00:01"}} in mac
    ports = _rule(udp__source_port__lower_port="10", udp__source_port__upper_port="20")
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "sport"}},
                      "right": {"range": [10, 20]}}} in ports


def test_icmp_without_l3_matches_icmp_and_icmpv6() -> None:
    rules = ace_rules(Ace("ping", (("icmp/type", "8"),), "drop", log=True), "acl")
    assert len(rules) == 2
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}},
                      "right": 8}} in rules[1]
    assert {"log": {"prefix": "nvo3 acl/ping "}} in rules[0]


def test_unsupported_matches_are_named() -> None:
    with pytest.raises(UnsupportedMatch, match="ingress-interface"):
        ace_rules(Ace("i", (("ingress-interface", "eth0"),)), "acl")


def test_port_chains_jump_to_their_acls_and_join_the_verdict_map() -> None:
    created = op_commands(Op(OpKind.CREATE, new=PortAcls(("vn", "b"), "p-1", "in", ("a", "b"))))
    assert created[0] == {"add": {"chain": {"family": "bridge", "table": "nvo3", "name": "in/p-1"}}}
    assert [c["add"]["rule"]["expr"] for c in created[1:3]] == [
        [{"jump": {"target": "acl/a"}}], [{"jump": {"target": "acl/b"}}]]
    assert created[3]["add"]["element"]["elem"] == [["p-1", {"jump": {"target": "in/p-1"}}]]
    deleted = op_commands(Op(OpKind.DELETE, old=PortAcls(("vn", "b"), "p-1", "in", ("a",))))
    assert deleted[0] == {"delete": {"element": {"family": "bridge", "table": "nvo3",
                                                 "name": "in", "elem": ["p-1"]}}}
    marked = op_commands(Op(OpKind.CREATE, new=Mark(("vn", "b"), "p-1", 46, 5)))
    assert json.dumps(marked).count("dscp") == 2 and '"0:5"' in json.dumps(marked)


# ------------------------------------------------------------------ plans
def test_plans_delete_children_first_and_create_parents_first_and_invert() -> None:
    scope = ("vn", "b")
    old = KernelModel([Bridge(scope, "br-1"), Port(scope, "p", "q", "br-1")])
    new = KernelModel([Bridge(scope, "br-2"), Port(scope, "p", "q", "br-2", up=False)])
    ops = plan(old, new)
    assert [(op.kind, type(op.target).__name__) for op in ops] == [
        (OpKind.DELETE, "Bridge"), (OpKind.CREATE, "Bridge"), (OpKind.MODIFY, "Port")]
    undo = inverse(ops)
    assert [(op.kind, type(op.target).__name__) for op in undo] == [
        (OpKind.MODIFY, "Port"), (OpKind.DELETE, "Bridge"), (OpKind.CREATE, "Bridge")]
    assert plan(new, new) == []


def test_a_vxlan_device_recreated_takes_its_fdb_entries_along() -> None:
    a = translate(read_intent(running()), [])
    b = translate(read_intent(running(underlay="192.0.2.21")), [])
    kinds = {(op.kind, type(op.target).__name__) for op in plan(a, b)}
    assert (OpKind.DELETE, "RemoteMac") in kinds and (OpKind.CREATE, "RemoteMac") in kinds


# ------------------------------------------------------------------ scopes
def _change(path: str, **namespaces: str) -> Change:
    return Change(ChangeOp.CREATE, path, namespaces, None)  # type: ignore[arg-type]


def test_change_lists_name_the_scopes_to_rebuild() -> None:
    vn = _change("/vn:vn-instances/vn:vn-instance[vn:name='blue']/vn:vnid", vn=VN)
    mapping = _change("/map:mappings/map:vn[map:name='red']", map=NS_NVO3_MAPPING)
    acl = _change("/acl:acls/acl:acl[acl:name='deny-icmp']/acl:aces", acl=NS_ACL)
    qos = _change("/pol:qos-profiles/pol:qos-profile[pol:name='gold']", pol=NS_NVO3_POLICY)
    tenant = _change("/vn:tenants/vn:tenant[vn:tenant-id='t']", vn=VN)
    assert changed_scopes([vn, mapping], []) == {("vn", "blue"), ("vn", "red")}
    assert changed_scopes([acl, qos, tenant], [PORT_A]) == {
        ("acl", "deny-icmp"), ("vn", "blue")}
    underlay = _change("/nve:nve/nve:underlay-address", nve=NS_NVO3_NVE)
    assert changed_scopes([underlay], []) is None
    assert changed_scopes([_change("/vn:vn-instances", vn=VN)], []) is None


# ----------------------------------------------------------------- applier
def test_the_applier_applies_only_what_a_commit_changed() -> None:
    backend = MemoryBackend()
    applier = DataplaneApplier(backend)
    applier.start(running())
    assert set(backend.objects) == set(applier.model)
    backend.log.clear()
    new_mapping = ("<entry><inner-mac>52:54:00:00:0c:03</inner-mac>"
                   "<remote-nve>192.0.2.12</remote-nve></entry>")
    change = _change("/map:mappings/map:vn[map:name='blue']/map:entry", map=NS_NVO3_MAPPING)
    applier.prepare(running(mappings=new_mapping), [change]).commit()
    assert [str(op) for op in backend.log] == [
        "create fdb entry 52:54:00:00:0c:03 -> 192.0.2.12 on vx-5001"]


def test_a_failed_apply_is_undone_and_refuses_the_commit() -> None:
    def fail(op: Op) -> None:
        if isinstance(op.target, Vxlan) and op.target.local == "192.0.2.99":
            raise DataplaneError("no such address")

    backend = MemoryBackend()
    applier = DataplaneApplier(backend)
    applier.start(running())
    before = dict(backend.objects)
    backend.fail = fail
    with pytest.raises(OperationFailedError, match="no such address") as refused:
        applier.prepare(running(underlay="192.0.2.99"), None)
    assert "unchanged" in refused.value.message
    assert backend.objects == before
    assert applier.model.keys() == before.keys()
    # An abort after a successful prepare undoes it too.
    backend.fail = None
    applier.prepare(running(underlay="192.0.2.99"), None).abort()
    assert backend.objects == before


def test_vm_updates_install_and_remove_the_ports() -> None:
    backend = MemoryBackend()
    applier = DataplaneApplier(backend)
    applier.start(running(acl=ACL, qos=QOS))
    applier.update_vm("vm-a", [PORT_A])
    assert ("Port", "tes0-100", "tes0.100") in backend.objects
    applier.update_vm("vm-a", [])
    assert not [k for k in backend.objects if k[0] in ("Port", "LocalMac", "RateLimit")]
    assert ("RemoteMac",) + (applier.model.of(Vxlan)[0].key, "52:54:00:00:0a:01") in backend.objects


# ---------------------------------------------------------------- datastore
def test_the_datastore_refuses_a_commit_its_applier_refuses(test_context: object) -> None:
    from nvo3_netconf.constants import Datastore
    from nvo3_netconf.datastore.store import DatastoreManager
    from nvo3_netconf.schema import SchemaTree, Validator, YangContext
    from tests.conftest import STANDARD_DIR, YANG_DIR

    with YangContext.load([YANG_DIR, STANDARD_DIR]) as yang:
        store = DatastoreManager(validator=Validator(yang), schema=SchemaTree(yang))
        backend = MemoryBackend()
        applier = DataplaneApplier(backend)
        store.set_applier(applier, start=applier.start)
        good = etree.fromstring(
            f'<config xmlns="{NC}"><tenants xmlns="{VN}"><tenant><tenant-id>t</tenant-id>'
            f'</tenant></tenants><vn-instances xmlns="{VN}"><vn-instance><name>blue</name>'
            "<vnid>5001</vnid><tenant>t</tenant></vn-instance></vn-instances></config>")
        store.edit(Datastore.RUNNING, good, session_id=1)
        assert ("Bridge", "br-5001") in backend.objects
        bad = etree.fromstring(
            f'<config xmlns="{NC}"><vn-instances xmlns="{VN}"><vn-instance><name>green</name>'
            "<vnid>7</vnid><tenant>t</tenant><encapsulation>nvgre</encapsulation>"
            "</vn-instance></vn-instances></config>")
        store.edit(Datastore.CANDIDATE, bad, session_id=1)
        with pytest.raises(OperationFailedError, match="nvgre"):
            store.commit(session_id=1)
        with store.reading(Datastore.RUNNING) as tree:
            assert b"green" not in etree.tostring(tree)
        assert ("Bridge", "br-7") not in backend.objects
