"""``make demo``: the NVE agents drive a real VXLAN overlay, narrated step by step.

Builds the three-NVE scenario (:mod:`.scenario`) out of network namespaces, shows that
what is configured over NETCONF reaches the kernel and is proven by packets — VMs of
one VN talk over VXLAN, another tenant's VM cannot, an ACL drops ICMP while TCP passes,
a QoS rate limit shows in a measured throughput, a VM moves to another NVE while it is
pinged — and tears everything down. Needs root (network namespaces).

Run: ``python -m nvo3_netconf.dataplane.demo`` (``--keep`` leaves the lab up until Enter).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from nvo3_netconf.constants import NS_ACL, NS_NC, NS_NVO3_POLICY
from nvo3_netconf.dataplane.scenario import VMS, Overlay, build
from nvo3_netconf.dataplane.topology import Lab, netns_unavailable, parse_ping, sweep_stale

_step = 0


def say(text: str) -> None:
    """A line of narration."""
    print(textwrap.fill(text, 96, subsequent_indent="    "), flush=True)


def step(title: str) -> None:
    """A numbered step."""
    global _step
    _step += 1
    print(f"\n=== {_step}. {title}", flush=True)


def show(lab: Lab, netns: str, *argv: str, lines: int = 12) -> None:
    """Run a command in a namespace and print (the start of) its output, indented."""
    out = lab.run(*argv, netns=netns, check=False).stdout.rstrip().splitlines()
    print(f"  $ ip netns exec {netns} {' '.join(argv)}")
    for line in out[:lines]:
        print(f"    {line}")
    if len(out) > lines:
        print(f"    ... ({len(out) - lines} more lines)")


def verdict(ok: bool, text: str) -> bool:
    """Print a result line."""
    print(f"  [{'ok' if ok else 'UNEXPECTED'}] {text}", flush=True)
    return ok


def _acl(deny_icmp: bool) -> str:
    deny = ("<ace><name>deny-icmp</name><matches><ipv4><protocol>1</protocol></ipv4>"
            "</matches><actions><forwarding>drop</forwarding></actions></ace>"
            if deny_icmp else "")
    return (f'<config xmlns="{NS_NC}"><acls xmlns="{NS_ACL}"><acl xmlns:nc="{NS_NC}" '
            'nc:operation="replace"><name>a-in</name><type>ipv4-acl-type</type><aces>'
            f"{deny}<ace><name>count-all</name><actions><forwarding>accept</forwarding>"
            "</actions></ace></aces></acl></acls></config>")


def _qos(rate: int | None) -> str:
    limit = f"<rate-limit><cir>{rate}</cir><cbs>32768</cbs></rate-limit>" if rate else ""
    return (f'<config xmlns="{NS_NC}"><qos-profiles xmlns="{NS_NVO3_POLICY}">'
            f'<qos-profile xmlns:nc="{NS_NC}" nc:operation="replace"><name>a-qos</name>'
            f"{limit}</qos-profile></qos-profiles></config>")


def run(lab: Lab) -> bool:
    """The narrated demo; True when every check came out as expected."""
    ok = True
    step("Build the hosts")
    say("An underlay bridge stands for the data-centre fabric. Each NVE is a network "
        "namespace on it with an underlay address; its agent (nvo3-nve serve --dataplane "
        "linux) runs here, listens for NETCONF on 127.0.0.1, and programs the NVE's "
        "namespace. The controller pushes each NVE its configuration with ncclient "
        "(edit-config + commit): tenants, VN instances vn-blue (VNID 5001, tenant-a) and "
        "vn-red (VNID 5002, tenant-b) with head-end replication, and the mapping table "
        "(each VM's MAC and IP behind its NVE). Each hypervisor (TES) associates its VM "
        "and plugs the VM's namespace into the VAP port the NVE made for the VID it "
        "assigned.")
    started = time.monotonic()
    overlay = build(lab)
    try:
        say(f"Built in {time.monotonic() - started:.1f} s.")
        for name, (nve, vn, mac, ip) in VMS.items():
            say(f"  VM {name}: {ip} ({mac}) in {vn}, behind {nve} "
                f"({overlay.nve(nve).address})")
        ok &= _explore(overlay)
        ok &= _connectivity(overlay)
        ok &= _acl_demo(overlay)
        ok &= _qos_demo(overlay)
        ok &= _migration(overlay)
    finally:
        overlay.close()
    return ok


def _explore(overlay: Overlay) -> bool:
    lab, netns = overlay.lab, overlay.nve("nve1").netns
    step("What the agent of nve1 put in its namespace")
    say("Per VN a bridge and a VXLAN device (VNI = VNID, local = the underlay address, "
        "UDP 4789); a's VAP port tes0-100 (VID 100) in vn-blue's bridge:")
    show(lab, netns, "ip", "-br", "link", "show", lines=10)
    say("The mapping entries and the head-end replication list are static fdb entries of "
        "the VXLAN device:")
    show(lab, netns, "bridge", "fdb", "show", "dev", "vx-5001")
    return True


def _connectivity(overlay: Overlay) -> bool:
    lab, a, b, c = overlay.lab, overlay.vm("a"), overlay.vm("b"), overlay.vm("c")
    step("Two VMs of one VN, behind different NVEs, ping each other over VXLAN")
    sent, received = lab.ping(a, b.ip)
    ok = verdict(received == sent, f"a -> b: {received}/{sent} answered")
    step("A VM of another tenant's VN cannot reach them")
    say("c is in vn-red (tenant-b) with an address of the same subnet: its VN is another "
        "bridge and another VNI, so nothing of it reaches vn-blue.")
    sent, received = lab.ping(c, a.ip, count=2, wait=0.5)
    ok &= verdict(received == 0, f"c -> a: {received}/{sent} answered")
    return ok


def _acl_demo(overlay: Overlay) -> bool:
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    step("An ACL denying ICMP stops the ping while TCP still passes")
    say("a was associated with the ingress ACL a-in (RFC 8519). The controller puts an "
        "ACE dropping ICMP in front of it; the commit's change list touches that ACL "
        "only, and the agent rewrites one nftables chain:")
    overlay.controller.push("nve1", _acl(True))
    try:
        show(overlay.lab, overlay.nve("nve1").netns, "nft", "list", "chain", "bridge", "nvo3",
             "acl/a-in")
        sent, received = lab.ping(a, b.ip, count=3, wait=0.5)
        ok = verdict(received == 0, f"ping a -> b: {received}/{sent} answered")
        ok &= verdict(lab.tcp_exchange(a, b), "TCP a -> b: connected and echoed")
    finally:
        overlay.controller.push("nve1", _acl(False))
    sent, received = lab.ping(a, b.ip, count=1)
    ok &= verdict(received == 1, "ACE removed: the ping is answered again")
    return ok


def _qos_demo(overlay: Overlay) -> bool:
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    step("A QoS rate limit shows in the measured throughput")
    free = lab.throughput(a, b)
    say(f"iperf3 a -> b without a limit: {free / 1e6:,.0f} Mbit/s. The controller gives "
        "a's QoS profile a committed rate of 4 Mbit/s (policing); the agent redirects "
        "the port's ingress to an IFB with a token bucket:")
    overlay.controller.push("nve1", _qos(4_000_000))
    try:
        show(lab, overlay.nve("nve1").netns, "tc", "qdisc", "show", "dev", "qtes0-100")
        limited = lab.throughput(a, b)
    finally:
        overlay.controller.push("nve1", _qos(None))
    return verdict(limited < 5_000_000, f"iperf3 a -> b with the limit: {limited / 1e6:.1f} "
                   "Mbit/s")


def _migration(overlay: Overlay) -> bool:
    lab, a, b = overlay.lab, overlay.vm("a"), overlay.vm("b")
    step("Scenario B: a moves to nve3 while b pings it every 10 ms")
    say("nve3 reserves a's port (immigrate, pre-associate); nve1 stops forwarding for it "
        "(emigrate); the hypervisor re-attaches a's namespace at nve3; nve3 activates it "
        "(immigrate, associate); the controller points every NVE's mapping of a's MAC at "
        "nve3; nve1 releases it (terminate).")
    pinger = lab.spawn("ping", "-n", "-q", "-i", "0.01", "-c", "300", "-W", "1", a.ip,
                       netns=b.netns)
    time.sleep(1.0)
    took = overlay.migrate("a", "nve1", "nve3")
    output, _ = pinger.communicate(timeout=30)
    sent, received = parse_ping(output.decode())
    lost = sent - received
    say(f"The move took {took * 1000:.0f} ms.")
    ok = verdict(lost * 10 <= 400, f"{lost} of {sent} pings lost ({lost * 10} ms of "
                 "packets; the budget is 400 ms)")
    show(lab, overlay.nve("nve2").netns, "bridge", "fdb", "show", "dev", "vx-5001", lines=4)
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit status 0 when every check came out as expected."""
    parser = argparse.ArgumentParser(prog="nvo3-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true",
                        help="keep the lab up until Enter is pressed (explore it with ip netns)")
    args = parser.parse_args(argv)
    reason = netns_unavailable()
    if reason is not None:
        print(f"The demo cannot run here: {reason}.", file=sys.stderr)
        return 1
    sweep_stale()
    with tempfile.TemporaryDirectory(prefix="nvo3-demo-") as workdir:
        lab = Lab(Path(workdir), log=lambda text: print(f"  - {text}", flush=True))
        try:
            ok = run(lab)
            if args.keep:
                input(f"\nThe lab is up (namespaces {lab.prefix}-*). Press Enter to end it. ")
        finally:
            step("Tear down")
            lab.close()
            say("Agents stopped, namespaces and links deleted.")
    print("\nEvery check came out as expected." if ok else "\nSome checks did not!")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
