"""Scenario A of DESIGN.md ("cloud gaming"), end to end, in one command.

    .venv/bin/python examples/scenario_a.py

Starts three NVE agents (NETCONF over SSH on free ports of 127.0.0.1, state in a
temporary directory), tells the nDirector about them with the ``ndirector`` CLI (NVEs,
vServers, tenants alice and bob, VNs web and red, alice's ACL and QoS profile, VM1 and
VM2), starts the nDirector's reactor (what ``ndirector run`` does as a daemon), and has
vServer1 associate VM1 with NVE1 as its hypervisor would. NVE1 notifies; the nDirector
enforces VM1's policies on NVE1 and maps VM1 to NVE1's underlay address on NVE2 (VN web)
but not on NVE3 (tenant bob only). Everything it shows is read back from the NVEs; it
stops everything it started and exits 1 if the network is not as scenario A says.
"""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
import shlex
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from nvo3_netconf.cli.director import main as ndirector_main
from nvo3_netconf.cli.tes import format_reply
from nvo3_netconf.constants import (
    NS_ACL,
    NS_NVO3_MAPPING,
    NS_NVO3_POLICY,
    NS_NVO3_VM,
    Datastore,
)
from nvo3_netconf.director.controller import Director
from nvo3_netconf.director.reactor import Reactor, ReactorEvent
from nvo3_netconf.server.app import RunningServer, build_server
from nvo3_netconf.server.auth import UserDatabase, hash_password
from nvo3_netconf.server.config import ServerConfig
from nvo3_netconf.tes import (
    VNIC,
    AssociationParams,
    ConnectionParams,
    HostKeyPolicy,
    TESClient,
    VMRef,
)
from nvo3_netconf.tes import VNAttachment as TESVN

DATA = Path(__file__).resolve().parent / "data"
VM1, VM2 = "6f1c2b9e-3d4a-4e5f-8a7b-000000000001", "6f1c2b9e-3d4a-4e5f-8a7b-000000000002"
MAC1, MAC2 = "52:54:00:a1:00:01", "52:54:00:a1:00:02"
NVES = ("nve1", "nve2", "nve3")


def say(text: str = "") -> None:
    """One line of the narration."""
    print(text, flush=True)


def ndirector(store: Path, *argv: str, show: bool = False) -> None:
    """Run one ``ndirector`` command, narrated; its table too when ``show``."""
    say("   $ ndirector " + shlex.join(argv))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = ndirector_main(["--store", str(store), *argv])
    if show:
        for line in out.getvalue().splitlines():
            say("     " + line)
    if code != 0:
        say(err.getvalue())
        raise SystemExit(f"ndirector {argv[0]} failed with exit code {code}")


@contextlib.contextmanager
def agents(state: Path, users: UserDatabase) -> Iterator[dict[str, RunningServer]]:
    """Three NVE agents on free ports; stopped at the end."""
    started: dict[str, RunningServer] = {}
    try:
        for name in NVES:
            config = ServerConfig(listen="127.0.0.1", port=0, state_dir=state / name)
            started[name] = build_server(config, users=users)
        yield started
    finally:
        for server in started.values():
            server.stop()


def running(director: Director, nve: str) -> etree._Element:
    """The NVE's running configuration, read over the nDirector's session."""
    return director.pool.client(nve).get_config(Datastore.RUNNING)


def vm_policies(data: etree._Element, vm_id: str) -> list[str]:
    """``VN: ingress ACL ..., QoS ...`` for each of the VM's VN policies on that NVE."""
    found = []
    for vm in data.iter(f"{{{NS_NVO3_VM}}}vm"):
        if vm.findtext(f"{{{NS_NVO3_VM}}}vm-id") != vm_id:
            continue
        for policy in vm.iter(f"{{{NS_NVO3_VM}}}vn-policy"):
            acls = [a.text or "" for a in policy.iter(f"{{{NS_NVO3_VM}}}ingress-acl")]
            qos = policy.findtext(f"{{{NS_NVO3_VM}}}qos-profile")
            found.append(f"VN {policy.findtext(f'{{{NS_NVO3_VM}}}vn')}: ingress ACL "
                         f"{', '.join(acls) or '-'}, QoS {qos or '-'}")
    return found


def keys(data: etree._Element, namespace: str, tag: str) -> list[str]:
    """The names of the ``tag`` list entries."""
    return sorted(str(el.findtext(f"{{{namespace}}}name")) for el in data.iter(
        f"{{{namespace}}}{tag}"))


def mappings(data: etree._Element) -> dict[tuple[str, str], str]:
    """(VN, inner MAC) -> remote NVE of the NVE's mapping entries."""
    out = {}
    for vn in data.iter(f"{{{NS_NVO3_MAPPING}}}vn"):
        for entry in vn.iter(f"{{{NS_NVO3_MAPPING}}}entry"):
            out[(str(vn.findtext(f"{{{NS_NVO3_MAPPING}}}name")),
                 str(entry.findtext(f"{{{NS_NVO3_MAPPING}}}inner-mac")))] = str(
                entry.findtext(f"{{{NS_NVO3_MAPPING}}}remote-nve"))
    return out


def port(server: RunningServer) -> int:
    """The agent's NETCONF port."""
    assert server.address is not None
    return server.address[1]


def setup(store: Path, servers: dict[str, RunningServer], secret: Path) -> None:
    """Steps 2 and 3: the nDirector learns the network and the vCenter places the VMs."""
    say("2. The nDirector learns the network (ndirector CLI; nothing pushed yet)")
    for n, name in enumerate(NVES, start=1):
        ndirector(store, "nve", "add", name, "--address", "127.0.0.1", "--port",
                  str(port(servers[name])), "--user", "director", "--password-file",
                  str(secret), "--dc", "dc1", "--underlay", f"192.0.2.{n}",
                  "--hostkey-policy", "accept-any")
        ndirector(store, "vserver", "add", f"vserver{n}", "--nve", name, "--tes-user",
                  f"tes{n}", "--interface", "eth1", "--no-push")
    ndirector(store, "tenant", "add", "alice", "--name", "Alice Gaming Ltd", "--no-push")
    ndirector(store, "tenant", "add", "bob", "--no-push")
    ndirector(store, "vn", "add", "web", "--vnid", "10010", "--tenant", "alice", "--vids",
              "100-199", "--no-push")
    ndirector(store, "vn", "add", "red", "--vnid", "20010", "--tenant", "bob", "--vids",
              "200-299", "--nve", "nve3", "--no-push")
    ndirector(store, "policy", "acl", "add", "web-in", str(DATA / "acl-web-in.xml"),
              "--tenant", "alice", "--no-push")
    ndirector(store, "policy", "qos", "add", "gold", str(DATA / "qos-gold.xml"),
              "--tenant", "alice", "--no-push")
    say()
    say("3. The vCenter places VM1 on vserver1 (behind NVE1) and VM2 on vserver2 (NVE2);")
    say("   one network-wide transaction provisions their profiles")
    for vm, mac, ip, vserver in ((VM1, MAC1, "10.1.0.1", "vserver1"),
                                 (VM2, MAC2, "10.1.0.2", "vserver2")):
        ndirector(store, "vm", "register", vm, "--tenant", "alice", "--vserver", vserver,
                  "--vnic", f"{mac},web,{ip}", "--acl-in", "web:web-in", "--qos", "web:gold",
                  "--no-push")
    ndirector(store, "apply", show=True)
    say()


def associate_vm1(nve_port: int, password: str) -> None:
    """Step 5: vserver1's hypervisor signals VM1's association to NVE1."""
    params = ConnectionParams("127.0.0.1", nve_port, username="tes1", password=password,
                              hostkey_policy=HostKeyPolicy.ACCEPT_ANY)
    with TESClient(params).open() as tes:
        reply = tes.associate(AssociationParams(VMRef(VM1), "alice", vns=(
            TESVN("web", vnics=(VNIC(MAC1, ("10.1.0.1",)),)),)))
    for line in format_reply(reply).splitlines():
        say("   NVE1: " + line.strip())
    reply.check()


def check(director: Director) -> bool:
    """Step 7: what each NVE holds now, read back; True when it is scenario A's outcome."""
    nve1, nve2, nve3 = (running(director, n) for n in NVES)
    policies = vm_policies(nve1, VM1)
    say("   NVE1 enforces VM1's policies: " + ("; ".join(policies) or "NONE"))
    say(f"        ACLs {keys(nve1, NS_ACL, 'acl')}, QoS profiles "
        f"{keys(nve1, NS_NVO3_POLICY, 'qos-profile')}")
    on2 = mappings(nve2).get(("web", MAC1))
    say(f"   NVE2 (VN web) maps VM1: web {MAC1} -> {on2 or 'NOTHING'}")
    on3 = {k: v for k, v in mappings(nve3).items() if k[1] == MAC1}
    say("   NVE3 (tenant bob only) " + ("holds no mapping of VM1: tenant isolation"
                                       if not on3 else f"maps VM1: {on3}  (WRONG)"))
    return (policies == ["VN web: ingress ACL web-in, QoS gold"] and on2 == "192.0.2.1"
            and not on3)


def main() -> int:
    """Run scenario A; 0 when the network ends as the scenario says."""
    # the agents log each client that hangs up without closing its SSH transport
    logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)
    password = secrets.token_urlsafe(16)
    digest = hash_password(password)
    users = UserDatabase.from_mapping(
        {"director": {"password-hash": digest, "groups": ["admin"]},
         **{f"tes{n}": {"password-hash": digest, "groups": ["tes"]} for n in (1, 2, 3)}})
    say("Scenario A (DESIGN.md): VM1 of tenant alice comes up behind NVE1.")
    say()
    with tempfile.TemporaryDirectory(prefix="scenario-a-") as tmp, \
            agents(Path(tmp), users) as servers:
        state = Path(tmp)
        secret = state / "password"
        secret.write_text(password + "\n")
        say(f"1. Three NVE agents (NETCONF over SSH), state in {state}")
        for n, name in enumerate(NVES, start=1):
            say(f"   {name}  127.0.0.1:{port(servers[name])}  underlay 192.0.2.{n}")
        say()
        store = state / "ndirector.sqlite"
        setup(store, servers, secret)

        applied = threading.Event()

        def narrate(event: ReactorEvent) -> None:
            if event.kind == "notification" and event.event is not None and (
                    event.event.name != "vm-state-changed"):
                return  # sessions starting and ending
            say(f"   [reactor] {event.kind} {event.nve or 'network'}: {event.message}")
            if event.kind == "applied":
                applied.set()

        with Director(store, timeout=10) as director:
            say("4. The nDirector subscribes to every NVE's notifications "
                "(ndirector run does this as a daemon)")
            reactor = Reactor(director, report=narrate).start()
            try:
                if not reactor.wait_connected(30):
                    raise SystemExit("the reactor could not subscribe to every NVE")
                say()
                say("5. vserver1 associates VM1 with NVE1 (TES signalling, seed 003)")
                associate_vm1(port(servers["nve1"]), password)
                say()
                say("6. NVE1 notifies; the nDirector reacts")
                if not applied.wait(30):
                    raise SystemExit("the nDirector did not react within 30 s")
            finally:
                reactor.stop()
            say()
            say("7. What the NVEs hold now (read back over NETCONF)")
            ok = check(director)
    say()
    say("Stopped the reactor and the three agents. "
        + ("Scenario A: as expected." if ok else "Scenario A: UNEXPECTED RESULT."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
