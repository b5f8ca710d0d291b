"""End to end: three NVEs with the linux data plane, configured over NETCONF, and VMs.

See ``scenario.py`` for the topology. The tests share one overlay and run in file order;
each one that changes the configuration or a VM's state puts it back, except the last
(migration), which moves VM ``a`` for good.
"""

from __future__ import annotations

import re
import time

import pytest
from ncclient.operations import RPCError as NcclientRPCError

from nvo3_netconf.constants import NS_ACL, NS_NC, NS_NVO3_NVE, NS_NVO3_POLICY, NS_NVO3_VN
from nvo3_netconf.dataplane.scenario import VMS, Overlay, vm_ref
from nvo3_netconf.dataplane.topology import parse_ping

pytestmark = pytest.mark.slow


def _counter(overlay: Overlay, nve: str, device: str, key: str) -> int:
    out = overlay.lab.run("ip", "-s", "-j", "link", "show", device,
                          netns=overlay.nve(nve).netns).stdout
    import json

    return int(json.loads(out)[0]["stats64"][key]["packets"])


def test_vms_of_one_vn_ping_each_other_over_vxlan(overlay: Overlay) -> None:
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    encapsulated = _counter(overlay, "nve1", "vx-5001", "tx")
    assert lab.ping(a, b.ip) == (3, 3)
    assert lab.ping(b, a.ip) == (3, 3)
    assert _counter(overlay, "nve1", "vx-5001", "tx") >= encapsulated + 3
    # The kernel objects are the ones the configuration describes.
    fdb = lab.run("bridge", "fdb", "show", "dev", "vx-5001",
                  netns=overlay.nve("nve1").netns).stdout
    assert f"{VMS['b'][2]} dst {overlay.nve('nve2').address} self permanent" in fdb
    assert f"00:00:00:00:00:00 dst {overlay.nve('nve3').address} self permanent" in fdb
    details = lab.run("ip", "-d", "link", "show", "vx-5001",
                      netns=overlay.nve("nve1").netns).stdout
    assert "vxlan id 5001 local 192.0.2.11" in details and "dstport 4789" in details


def test_a_vm_of_another_tenant_cannot_reach_them(overlay: Overlay) -> None:
    lab, a, b, c = overlay.lab, overlay.vm("a"), overlay.vm("b"), overlay.vm("c")
    assert lab.ping(c, a.ip, count=2, wait=0.5)[1] == 0
    assert lab.ping(c, b.ip, count=2, wait=0.5)[1] == 0
    assert lab.ping(a, c.ip, count=2, wait=0.5)[1] == 0
    assert lab.ping(a, b.ip, count=1)[1] == 1  # while the VN still works


ACL_DENY_ICMP = f"""
<config xmlns="{NS_NC}"><acls xmlns="{NS_ACL}">
  <acl xmlns:nc="{NS_NC}" nc:operation="replace"><name>a-in</name><type>ipv4-acl-type</type><aces>
    <ace><name>deny-icmp</name>
      <matches><ipv4><protocol>1</protocol></ipv4></matches>
      <actions><forwarding>drop</forwarding></actions></ace>
    <ace><name>count-all</name><actions><forwarding>accept</forwarding></actions></ace>
  </aces></acl>
</acls></config>
"""
ACL_ALLOW_ALL = f"""
<config xmlns="{NS_NC}"><acls xmlns="{NS_ACL}">
  <acl xmlns:nc="{NS_NC}" nc:operation="replace"><name>a-in</name><type>ipv4-acl-type</type><aces>
    <ace><name>count-all</name><actions><forwarding>accept</forwarding></actions></ace>
  </aces></acl>
</acls></config>
"""


def test_an_acl_denying_icmp_stops_the_ping_while_tcp_passes(overlay: Overlay) -> None:
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    assert lab.ping(a, b.ip, count=1)[1] == 1
    overlay.controller.push("nve1", ACL_DENY_ICMP)
    try:
        assert lab.ping(a, b.ip, count=3, wait=0.5)[1] == 0
        assert lab.ping(b, a.ip, count=3, wait=0.5)[1] == 0  # a's echo replies are ICMP
        assert lab.tcp_exchange(a, b)
        rules = lab.run("nft", "list", "chain", "bridge", "nvo3", "acl/a-in",
                        netns=overlay.nve("nve1").netns).stdout
        dropped = re.search(r"ip protocol icmp counter packets (\d+)", rules)
        assert dropped is not None and int(dropped.group(1)) >= 3
    finally:
        overlay.controller.push("nve1", ACL_ALLOW_ALL)
    assert lab.ping(a, b.ip, count=1)[1] == 1


def _qos(rate: int | None) -> str:
    limit = (f"<rate-limit><cir>{rate}</cir><cbs>32768</cbs></rate-limit>"
             if rate else "")
    return (f'<config xmlns="{NS_NC}"><qos-profiles xmlns="{NS_NVO3_POLICY}">'
            f'<qos-profile xmlns:nc="{NS_NC}" nc:operation="replace"><name>a-qos</name>'
            f"{limit}<marking><dscp>46</dscp></marking></qos-profile>"
            "</qos-profiles></config>")


def test_a_qos_rate_limit_shows_in_the_measured_throughput(overlay: Overlay) -> None:
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    unlimited = lab.throughput(a, b)
    overlay.controller.push("nve1", _qos(4_000_000))
    try:
        limited = lab.throughput(a, b)
        qdisc = lab.run("tc", "qdisc", "show", netns=overlay.nve("nve1").netns).stdout
        assert "tbf" in qdisc and "rate 4Mbit" in qdisc
    finally:
        overlay.controller.push("nve1", _qos(None))
    assert limited < 4_000_000 * 1.25, f"{limited / 1e6:.1f} Mbit/s with a 4 Mbit/s limit"
    assert limited > 4_000_000 * 0.4
    assert unlimited > 4 * limited
    assert lab.throughput(a, b) > 4 * limited  # the limit is gone again


def test_a_suspended_vm_is_cut_off_until_it_resumes(overlay: Overlay) -> None:
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    overlay.client("nve2").suspend(vm_ref("b")).check()
    try:
        state = lab.run("ip", "-j", "link", "show", "tes0-100",
                        netns=overlay.nve("nve2").netns).stdout
        assert '"operstate":"DOWN"' in state.replace(" ", "")
        assert lab.ping(a, b.ip, count=2, wait=0.5)[1] == 0
    finally:
        overlay.client("nve2").resume(vm_ref("b")).check()
    assert lab.reachable(a, b.ip)


def test_a_commit_the_data_plane_refuses_fails_and_changes_nothing(overlay: Overlay) -> None:
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    session = overlay.controller.session("nve1")
    netns = overlay.nve("nve1").netns
    def vxlans() -> list[str]:  # ifindex, name, VNI, local address, port of each
        out = lab.run("ip", "-d", "link", "show", "type", "vxlan", netns=netns).stdout
        return re.findall(r"^\d+: \S+|vxlan id \d+ local \S+ .*?dstport \d+", out, re.M)

    before = vxlans()
    # The underlay address does not exist in the namespace: the VXLAN devices cannot be
    # re-created with it. The plan fails half-way and is undone.
    moved = (f'<config xmlns="{NS_NC}"><nve xmlns="{NS_NVO3_NVE}">'
             "<underlay-address>192.0.2.99</underlay-address></nve></config>")
    with pytest.raises(NcclientRPCError) as refused:
        session.edit_config(target="running", config=moved)
    assert refused.value.tag == "operation-failed"
    assert "192.0.2.99" in str(refused.value)
    running = session.get_config(source="running").data_xml
    assert "192.0.2.99" not in running
    assert vxlans() == before and len(before) == 4
    assert lab.ping(a, b.ip, count=2)[1] == 2
    # An encapsulation the data plane does not implement.
    nvgre = (f'<config xmlns="{NS_NC}"><vn-instances xmlns="{NS_NVO3_VN}"><vn-instance>'
             "<name>vn-green</name><vnid>5003</vnid><tenant>tenant-a</tenant>"
             "<encapsulation>nvgre</encapsulation></vn-instance></vn-instances></config>")
    with pytest.raises(NcclientRPCError) as refused:
        overlay.controller.push("nve1", nvgre)
    assert "nvgre" in str(refused.value)
    assert "br-5003" not in lab.run("ip", "link", netns=netns).stdout


def test_a_vm_moved_to_another_nve_keeps_its_ping(overlay: Overlay) -> None:
    """Scenario B: ``a`` moves from nve1 to nve3 while ``b`` pings it every 10 ms."""
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    interval, budget = 0.01, 0.4
    pinger = lab.spawn("ping", "-n", "-q", "-i", str(interval), "-c", "400", "-W", "1",
                       a.ip, netns=b.netns)
    time.sleep(1.0)
    moved = overlay.migrate("a", "nve1", "nve3")
    output, _ = pinger.communicate(timeout=30)
    sent, received = parse_ping(output.decode())
    lost = sent - received
    assert sent >= 300, output.decode()
    assert lost * interval <= budget, (
        f"{lost} of {sent} pings lost ({lost * interval * 1000:.0f} ms; the move took "
        f"{moved * 1000:.0f} ms)")
    assert lab.ping(b, a.ip) == (3, 3)
    # nve1 holds nothing of a any more; nve3 forwards to it locally.
    assert "tes0-100" not in lab.run("ip", "link", netns=overlay.nve("nve1").netns).stdout
    fdb3 = lab.run("bridge", "fdb", "show", "dev", "vx-5001",
                   netns=overlay.nve("nve3").netns).stdout
    assert VMS["a"][2] not in fdb3
