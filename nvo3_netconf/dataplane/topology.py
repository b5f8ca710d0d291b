"""Test beds made of network namespaces: an underlay, NVE hosts running agents, VMs.

Used by the end-to-end tests (``tests/netns``) and the demo (``make demo``). A
:class:`Lab` creates, and removes in :meth:`Lab.close` whatever happens, everything it
makes:

- an underlay namespace ``<prefix>-ul`` with a bridge ``br0`` (the data-centre fabric);
- per NVE a namespace ``<prefix>-<name>`` whose ``ul0`` is a veth to the underlay bridge
  holding the NVE's underlay address, and an agent (``nvo3-nve serve`` as a child
  process of the caller) with the ``linux`` data plane programming that namespace. The
  agent itself runs in the caller's namespace and listens on 127.0.0.1, so NETCONF
  clients reach it directly; only its data plane lives in the NVE's namespace;
- per VM a namespace ``<prefix>-<name>``. The hypervisor's part is :meth:`Lab.plug`:
  after the NVE assigned the VM a VID on its VAP interface, the agent has made the veth
  pair ``<if>-<vid>`` / ``<if>.<vid>``; ``plug`` moves ``<if>.<vid>`` into the VM's
  namespace as ``eth0`` with the vNIC's MAC and IP. Moving a VM (:meth:`Lab.plug` onto
  another NVE) deletes its old ``eth0`` (the old pair goes with it) and plugs the new one
  in one ``ip -batch``.

Configuration reaches the agents through a controller: :class:`DirectController` pushes
it to each agent with ncclient (edit-config on candidate, then commit). An nDirector-
driven variant only needs another controller with the same methods.

The namespace prefix carries the creating process's id; :func:`sweep_stale` removes the
namespaces of a lab whose process is gone (a run killed before its clean-up).

Public names: :class:`Lab`, :class:`NVEHost`, :class:`VMHost`, :class:`AgentProcess`,
:class:`DirectController`, :class:`VNSpec`, :func:`netns_unavailable`,
:func:`sweep_stale`, :func:`nve_config`, :func:`mapping_config`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nvo3_netconf.constants import (
    NS_ACL,
    NS_NC,
    NS_NVO3_MAPPING,
    NS_NVO3_NVE,
    NS_NVO3_POLICY,
    NS_NVO3_VN,
)

__all__ = [
    "AgentProcess",
    "DirectController",
    "Lab",
    "NVEHost",
    "VMHost",
    "VNSpec",
    "mapping_config",
    "netns_unavailable",
    "nve_config",
    "sweep_stale",
]

LAB_PREFIX = "nvo3"
PASSWORD = "nvo3-lab-password"
ADMIN = "admin"
Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def netns_unavailable() -> str | None:
    """Why network-namespace test beds cannot run here (None: they can)."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root (with CAP_NET_ADMIN)"
    for tool, package in (("ip", "iproute2"), ("tc", "iproute2"), ("nft", "nftables"),
                          ("ping", "iputils-ping")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package {package})"
    probe = f"{LAB_PREFIX}-probe-{os.getpid()}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        return f"cannot create a network namespace: {result.stderr.strip()}"
    try:
        made = subprocess.run(["ip", "-n", probe, "link", "add", "p0", "type", "vxlan", "id",
                               "1", "dstport", "4789"], capture_output=True, text=True,
                              check=False)
        if made.returncode != 0:
            return f"the kernel cannot make VXLAN devices: {made.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def sweep_stale(log: Log = _quiet) -> None:
    """Remove the namespaces of labs whose creating process no longer runs."""
    pattern = re.compile(rf"^{LAB_PREFIX}(\d+)-")
    for name in _netns_list():
        match = pattern.match(name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            log(f"removing stale namespace {name}")
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _netns_list() -> list[str]:
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


# ---------------------------------------------------------------- hosts
@dataclass
class AgentProcess:
    """An ``nvo3-nve serve`` child process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log_file: Path

    def log_tail(self, lines: int = 30) -> str:
        """The end of the agent's log."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class NVEHost:
    """An NVE: its namespace, underlay address and agent."""

    name: str
    netns: str
    address: str
    agent: AgentProcess | None = None

    @property
    def port(self) -> int:
        """The agent's NETCONF port."""
        assert self.agent is not None, f"no agent runs for {self.name}"
        return self.agent.port


@dataclass
class VMHost:
    """A VM: its namespace and vNIC."""

    name: str
    netns: str
    mac: str
    ip: str
    prefix: int = 24
    nve: NVEHost | None = None
    port: str | None = None


@dataclass(frozen=True)
class VNSpec:
    """A VN instance for :func:`nve_config`."""

    name: str
    vnid: int
    tenant: str
    vids: tuple[int, int]
    interface: str = "tes0"
    flood: tuple[str, ...] = ()


class Lab:
    """Network namespaces, veth links and agents, all removed by :meth:`close`.

    Args:
        workdir: where agents keep their state, users file and logs.
        log: called with each step, for narration (the demo) or debugging.
    """

    def __init__(self, workdir: Path, *, log: Log = _quiet, subnet: str = "192.0.2") -> None:
        self.workdir = workdir
        self.log = log
        self.prefix = f"{LAB_PREFIX}{os.getpid()}"
        self.subnet = subnet
        self.namespaces: list[str] = []
        self.agents: list[AgentProcess] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.nves: dict[str, NVEHost] = {}
        self.vms: dict[str, VMHost] = {}
        self.underlay: str | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.users_file = workdir / "users.toml"

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every agent and process started, delete every namespace made."""
        try:
            for process in [*self.processes, *(a.process for a in self.agents)]:
                try:
                    _stop(process)
                except Exception:  # keep cleaning up
                    pass
        finally:
            self.processes.clear()
            self.agents.clear()
            for name in reversed(self.namespaces):
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
            self.namespaces.clear()

    # ----------------------------------------------------------------- shell
    def run(self, *argv: str, netns: str | None = None, check: bool = True,
            timeout: float = 30.0, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command (in a namespace); raise with its output when it fails."""
        full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
        result = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                                input=stdin, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(full)} failed ({result.returncode}): "
                               f"{result.stderr.strip() or result.stdout.strip()}")
        return result

    def spawn(self, *argv: str, netns: str | None = None) -> subprocess.Popen[bytes]:
        """Start a background process (in a namespace); :meth:`close` stops it."""
        full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
        process = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def ip_batch(self, netns: str, commands: Iterable[str]) -> None:
        """Run ``ip`` commands in one process (fast, in order)."""
        self.run("ip", "-n", netns, "-batch", "-", stdin="\n".join(commands) + "\n")

    def netns(self, name: str) -> str:
        """Create the namespace ``<prefix>-<name>`` (loopback up, IPv6 off)."""
        full = f"{self.prefix}-{name}"
        self.run("ip", "netns", "add", full)
        self.namespaces.append(full)
        self.ip_batch(full, ["link set lo up"])
        self.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1", netns=full)
        return full

    # --------------------------------------------------------------- topology
    def add_underlay(self) -> str:
        """The underlay namespace with its bridge ``br0``."""
        self.underlay = self.netns("ul")
        self.ip_batch(self.underlay, ["link add br0 type bridge", "link set br0 up"])
        self.log(f"underlay: namespace {self.underlay}, bridge br0 ({self.subnet}.0/24)")
        return self.underlay

    def add_nve(self, name: str, host: int) -> NVEHost:
        """An NVE namespace linked to the underlay bridge, address ``<subnet>.<host>``."""
        if self.underlay is None:
            self.add_underlay()
        assert self.underlay is not None
        netns = self.netns(name)
        address = f"{self.subnet}.{host}"
        link = f"u-{name}"[:15]
        self.run("ip", "link", "add", link, "netns", self.underlay, "type", "veth",
                 "peer", "name", "ul0", "netns", netns)
        self.ip_batch(self.underlay, [f"link set {link} master br0 up"])
        self.ip_batch(netns, [f"addr add {address}/24 dev ul0", "link set ul0 up"])
        nve = NVEHost(name, netns, address)
        self.nves[name] = nve
        self.log(f"NVE {name}: namespace {netns}, underlay address {address} on ul0")
        return nve

    def add_vm(self, name: str, mac: str, ip: str, prefix: int = 24) -> VMHost:
        """A VM namespace (its vNIC comes with :meth:`plug`)."""
        vm = VMHost(name, self.netns(name), mac.lower(), ip, prefix)
        self.vms[name] = vm
        return vm

    def plug(self, vm: VMHost, nve: NVEHost, interface: str, vid: int) -> None:
        """Attach ``vm`` to the VAP port the agent of ``nve`` made for ``vid``.

        The VM's previous vNIC (on another NVE) is deleted with its veth pair, then the
        port's hypervisor end becomes the VM's ``eth0``.
        """
        from nvo3_netconf.dataplane.model import ifname

        peer = ifname(interface, vid, sep=".")
        if vm.nve is not None:
            self.ip_batch(vm.netns, ["link del eth0"])
        self.ip_batch(nve.netns, [f"link set {peer} netns {vm.netns}"])
        self.ip_batch(vm.netns, [
            f"link set {peer} name eth0",
            f"link set eth0 address {vm.mac}",
            f"addr add {vm.ip}/{vm.prefix} dev eth0",
            "link set eth0 up",
        ])
        vm.nve, vm.port = nve, ifname(interface, vid)
        self.log(f"VM {vm.name} ({vm.ip}, {vm.mac}) plugged into {nve.name}: "
                 f"{peer} -> {vm.netns}:eth0")

    # ----------------------------------------------------------------- agents
    def write_users(self, users: Sequence[str]) -> None:
        """A users file: ``admin`` and the TES identities, one shared password."""
        from nvo3_netconf.server.auth import hash_password

        digest = hash_password(PASSWORD)
        lines = []
        for user in (ADMIN, *users):
            group = "admin" if user == ADMIN else "tes"
            lines += [f"[users.{user}]", f'password-hash = "{digest}"', f'groups = ["{group}"]', ""]
        self.users_file.write_text("\n".join(lines), encoding="utf-8")

    def start_agent(self, nve: NVEHost, *, timeout: float = 60.0) -> AgentProcess:
        """Start ``nvo3-nve serve`` with the linux data plane on ``nve``'s namespace."""
        if not self.users_file.exists():
            self.write_users([])
        state = self.workdir / nve.name
        state.mkdir(parents=True, exist_ok=True)
        port_file = state / "port"
        port_file.unlink(missing_ok=True)
        log_file = state / "agent.log"
        argv = [sys.executable, "-m", "nvo3_netconf.cli.nve", "-v", "serve",
                "--listen", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
                "--state-dir", str(state / "state"), "--users-file", str(self.users_file),
                "--dataplane", "linux", "--dataplane-netns", nve.netns,
                "--dataplane-underlay-interface", "ul0"]
        with log_file.open("wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        agent = AgentProcess(process, 0, log_file)
        self.agents.append(agent)
        deadline = time.monotonic() + timeout
        while True:
            if port_file.exists() and port_file.read_text().strip():
                agent.port = int(port_file.read_text())
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent of {nve.name} did not start:\n"
                                   f"{agent.log_tail()}")
            time.sleep(0.05)
        nve.agent = agent
        self.log(f"agent of {nve.name}: NETCONF on 127.0.0.1:{agent.port}, data plane in "
                 f"{nve.netns}")
        return agent

    def start_agents(self) -> None:
        """Start the agents of every NVE that has none, in parallel."""
        from concurrent.futures import ThreadPoolExecutor

        pending = [n for n in self.nves.values() if n.agent is None]
        with ThreadPoolExecutor(max_workers=max(1, len(pending))) as pool:
            for future in [pool.submit(self.start_agent, n) for n in pending]:
                future.result()

    # ------------------------------------------------------------------ probes
    def ping(self, vm: VMHost, address: str, *, count: int = 3, interval: float = 0.2,
             wait: float = 1.0) -> tuple[int, int]:
        """Ping from a VM: (transmitted, received)."""
        result = self.run("ping", "-n", "-q", "-c", str(count), "-i", str(interval),
                          "-W", str(wait), address, netns=vm.netns, check=False,
                          timeout=count * interval + wait + 10)
        return parse_ping(result.stdout)

    def reachable(self, vm: VMHost, address: str, *, tries: int = 10) -> bool:
        """True once one ping of a few gets an answer."""
        for _ in range(tries):
            if self.ping(vm, address, count=1, wait=0.5)[1]:
                return True
        return False

    def tcp_exchange(self, client: VMHost, server: VMHost, *, port: int = 5001,
                     timeout: float = 3.0) -> bool:
        """True if a TCP connection from ``client`` to ``server`` carries a message."""
        script = (
            "import socket,sys\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('{server.ip}', {port})); s.listen(1); s.settimeout({timeout + 2})\n"
            "c,_=s.accept(); c.sendall(c.recv(64).upper()); c.close()\n"
        )
        listener = self.spawn(sys.executable, "-c", script, netns=server.netns)
        try:
            ask = (
                "import socket,time\n"
                f"end=time.time()+{timeout}\n"
                "while True:\n"
                "    try:\n"
                f"        c=socket.create_connection(('{server.ip}', {port}), timeout=1); break\n"
                "    except OSError:\n"
                "        if time.time()>end: raise\n"
                "        time.sleep(0.1)\n"
                "c.sendall(b'nvo3'); print(c.recv(64).decode())\n"
            )
            result = self.run(sys.executable, "-c", ask, netns=client.netns, check=False,
                              timeout=timeout + 5)
            return result.stdout.strip() == "NVO3"
        finally:
            _stop(listener)

    def throughput(self, client: VMHost, server: VMHost, *, seconds: float = 2.0) -> float:
        """TCP throughput from ``client`` to ``server`` in bit/s, measured with iperf3."""
        import json

        server_process = self.spawn("iperf3", "-s", "-1", "-B", server.ip, netns=server.netns)
        try:
            for _ in range(50):
                result = self.run("iperf3", "-c", server.ip, "-t", str(seconds), "-J",
                                  netns=client.netns, check=False, timeout=seconds + 20)
                report: dict[str, Any] = json.loads(result.stdout or "{}")
                received = report.get("end", {}).get("sum_received")
                if result.returncode == 0 and received is not None:
                    return float(received["bits_per_second"])
                time.sleep(0.1)  # the server is not listening yet
            raise RuntimeError(f"iperf3 failed: {result.stdout[-400:]}")
        finally:
            _stop(server_process)


def parse_ping(text: str) -> tuple[int, int]:
    """(transmitted, received) from ping's summary."""
    match = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _stop(process: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


# -------------------------------------------------------------- configuration
def _config(body: str) -> str:
    return f'<config xmlns="{NS_NC}">{body}</config>'


def nve_config(
    nve_id: str, address: str, vns: Iterable[VNSpec], tes: Iterable[tuple[str, Sequence[str]]],
    *, acls: str = "", qos: str = "",
) -> str:
    """An NVE's base configuration: identity, underlay address, tenants, VNs, TESs.

    Args:
        nve_id: the NVE's identifier.
        address: its underlay address.
        vns: the VN instances (one VAP each, on ``interface`` with the VID range).
        tes: (TES user, tenants it may signal for); each signals on interface ``tes0``.
        acls: ``<acl>`` elements (RFC 8519) to configure.
        qos: ``<qos-profile>`` elements to configure.
    """
    vns = list(vns)
    tenants = sorted({vn.tenant for vn in vns})
    vn_xml = "".join(
        f"<vn-instance><name>{vn.name}</name><vnid>{vn.vnid}</vnid>"
        f"<tenant>{vn.tenant}</tenant>"
        + "".join(f"<flood-list>{r}</flood-list>" for r in vn.flood if r != address)
        + f"<vap><name>{vn.interface}-{vn.name}</name><interface>{vn.interface}</interface>"
        f"<vid-range><start>{vn.vids[0]}</start><end>{vn.vids[1]}</end></vid-range></vap>"
        "</vn-instance>"
        for vn in vns
    )
    tes_xml = "".join(
        f"<tes><name>{name}</name>" + "".join(f"<tenant>{t}</tenant>" for t in allowed)
        + "<interface>tes0</interface></tes>"
        for name, allowed in tes
    )
    body = (
        f'<tenants xmlns="{NS_NVO3_VN}">'
        + "".join(f"<tenant><tenant-id>{t}</tenant-id></tenant>" for t in tenants)
        + f'</tenants><vn-instances xmlns="{NS_NVO3_VN}">{vn_xml}</vn-instances>'
        f'<nve xmlns="{NS_NVO3_NVE}"><nve-id>{nve_id}</nve-id>'
        f"<underlay-address>{address}</underlay-address>"
        f"<signalling><tes-authorization>{tes_xml}</tes-authorization></signalling></nve>"
    )
    if acls:
        body += f'<acls xmlns="{NS_ACL}">{acls}</acls>'
    if qos:
        body += f'<qos-profiles xmlns="{NS_NVO3_POLICY}">{qos}</qos-profiles>'
    return _config(body)


def mapping_config(entries: Iterable[tuple[str, str, str, Sequence[str]]]) -> str:
    """Mapping entries ``(vn, mac, remote NVE, inner IPs)`` to merge into running."""
    by_vn: dict[str, list[str]] = {}
    for vn, mac, remote, ips in entries:
        by_vn.setdefault(vn, []).append(
            f"<entry><inner-mac>{mac}</inner-mac>"
            + "".join(f"<inner-ip>{ip}</inner-ip>" for ip in ips)
            + f"<remote-nve>{remote}</remote-nve><origin>controller</origin></entry>")
    body = "".join(f"<vn><name>{vn}</name>{''.join(e)}</vn>" for vn, e in by_vn.items())
    return _config(f'<mappings xmlns="{NS_NVO3_MAPPING}">{body}</mappings>')


@dataclass
class DirectController:
    """Pushes configuration to the agents over NETCONF (ncclient): edit-config + commit."""

    nves: dict[str, NVEHost]
    user: str = ADMIN
    password: str = PASSWORD
    sessions: dict[str, Any] = field(default_factory=dict)

    def session(self, nve: str) -> Any:
        """An open ncclient session to an NVE's agent (kept for reuse)."""
        from ncclient import manager

        session = self.sessions.get(nve)
        if session is None or not session.connected:
            session = manager.connect(
                host="127.0.0.1", port=self.nves[nve].port, username=self.user,
                password=self.password, hostkey_verify=False, look_for_keys=False,
                allow_agent=False, timeout=30)
            self.sessions[nve] = session
        return session

    def push(self, nve: str, config: str, *, operation: str = "merge") -> None:
        """Edit candidate and commit (raises ncclient's RPCError when refused)."""
        session = self.session(nve)
        try:
            session.edit_config(target="candidate", config=config,
                                default_operation=operation)
            session.commit()
        except Exception:
            session.discard_changes()
            raise

    def push_all(self, config: str, nves: Iterable[str] | None = None) -> None:
        """Push the same change to several NVEs at once (one thread each)."""
        from concurrent.futures import ThreadPoolExecutor

        names = list(nves) if nves is not None else list(self.nves)
        for name in names:
            self.session(name)
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            for future in [pool.submit(self.push, n, config) for n in names]:
                future.result()

    def close(self) -> None:
        """Close every session."""
        for session in self.sessions.values():
            try:
                session.close_session()
            except Exception:
                pass
        self.sessions.clear()
