"""The ``linux`` backend: bridges, VXLAN, veth VAPs, fdb entries, nftables and tc in a netns.

The agent's process may run anywhere (usually the root namespace, where its SSH listener
is reachable); the backend programs the network namespace named in the agent's
configuration (``dataplane-netns``):

- netlink through pyroute2 (``IPRoute(netns=...)``): links (bridge, vxlan, veth, ifb),
  bridge fdb entries (``NTF_SELF`` on the VXLAN device with the remote address,
  ``NTF_MASTER`` static entries on the bridge) and neighbour entries;
- nftables through ``ip netns exec NS nft -j -f -`` (one JSON transaction per apply:
  :mod:`.nft`);
- tc (iproute2) through ``tc -n NS``: the ingress redirection to an IFB and its TBF.

Every link the backend creates carries an interface alias (``nvo3:bridge``,
``nvo3:vxlan``, ``nvo3:port ...``, ``nvo3:ifb``): that is how a restarted agent
recognizes its objects. On start (:meth:`LinuxBackend.reset`) it removes its VAP ports
and IFBs (VM state does not survive the agent; a deleted port takes the hypervisor's end
with it) and replaces the nftables table; :meth:`LinuxBackend.installed` reads back the
bridges and VXLAN devices with their fdb and neighbour entries, which the applier keeps
when running still asks for them.

Public names: :class:`LinuxBackend`.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nvo3_netconf.dataplane import nft
from nvo3_netconf.dataplane.backend import Backend, DataplaneError
from nvo3_netconf.dataplane.model import (
    Bridge,
    Flood,
    KernelModel,
    KernelObject,
    LocalMac,
    Neighbour,
    Op,
    OpKind,
    Port,
    RateLimit,
    RemoteMac,
    Scope,
    Vxlan,
)

__all__ = ["LinuxBackend"]

logger = logging.getLogger(__name__)

ALIAS = "nvo3:"
NTF_SELF = 0x02
NTF_MASTER = 0x04
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
IFF_UP = 0x1
ZERO_MAC = "00:00:00:00:00:00"
_KERNEL: Scope = ("kernel", "")
_GONE = (errno.ENODEV, errno.ENOENT, errno.ESRCH)


class LinuxBackend(Backend):
    """Programs a Linux network namespace.

    Args:
        netns: the namespace's name (``ip netns``); None: the agent's own namespace.
        underlay_device: the interface VXLAN devices are bound to, if any.
        timeout: seconds an ``nft`` or ``tc`` command may take.
    """

    name = "linux"

    def __init__(
        self, netns: str | None = None, *, underlay_device: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.netns = netns
        self.underlay_device = underlay_device
        self.timeout = timeout
        self._ipr: Any = None
        self._hooked = False
        self._where = f"namespace {netns}" if netns else "the agent's namespace"

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:  # noqa: D102
        if self.netns is not None and not Path("/run/netns", self.netns).exists():
            raise DataplaneError(f"network namespace {self.netns!r} does not exist "
                                 f"(create it with: ip netns add {self.netns})")
        for tool, package in (("nft", "nftables"), ("tc", "iproute2"), ("ip", "iproute2")):
            if shutil.which(tool) is None:
                raise DataplaneError(f"{tool} is not installed (Debian package {package})")
        try:
            from pyroute2 import IPRoute
        except ImportError:  # pragma: no cover - a dependency of the package
            raise DataplaneError("pyroute2 is not installed") from None
        try:
            self._ipr = IPRoute(netns=self.netns) if self.netns else IPRoute()
        except Exception as error:
            raise DataplaneError(f"cannot open netlink in {self._where}: {error}") from None
        if self.underlay_device is not None and not self._lookup(self.underlay_device):
            raise DataplaneError(f"underlay interface {self.underlay_device} does not exist "
                                 f"in {self._where}")
        self._nft(nft.table_commands())
        self._hooked = any(_kind(link) == "bridge" for link in self._ipr.get_links())

    def _rehook(self) -> None:
        """Re-add the nftables base chains once the namespace has a bridge.

        The kernel leaves bridge-family base chains made in a namespace without any
        bridge unhooked; made again afterwards, they see the bridged traffic.
        """
        if not self._hooked:
            self._nft(nft.base_chain_commands(delete=True))
            self._nft(nft.base_chain_commands())
            self._hooked = True

    def close(self) -> None:  # noqa: D102
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    def reset(self) -> None:  # noqa: D102
        for link in self._ipr.get_links():
            alias = link.get_attr("IFLA_IFALIAS") or ""
            if alias.startswith((ALIAS + "port", ALIAS + "ifb")):
                self._del_link(link["index"])
        table = {"family": nft.FAMILY, "name": nft.TABLE}
        # Two transactions: a base chain deleted and re-added in one is left unhooked.
        self._nft([{"add": {"table": table}}, {"delete": {"table": table}}])
        self._nft(nft.table_commands())

    def installed(self) -> KernelModel:  # noqa: D102
        objects: list[KernelObject] = []
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in self._ipr.get_links()}
        for link in self._ipr.get_links():
            alias = link.get_attr("IFLA_IFALIAS") or ""
            name = link.get_attr("IFLA_IFNAME")
            up = bool(link["flags"] & IFF_UP)
            if alias == ALIAS + "bridge":
                objects.append(Bridge(_KERNEL, name, up))
            elif alias == ALIAS + "vxlan":
                vxlan = _read_vxlan(link, names, up)
                if vxlan is not None:
                    objects.append(vxlan)
                    objects.extend(self._read_entries(link["index"], vxlan))
        return KernelModel(objects)

    def _read_entries(self, index: int, vxlan: Vxlan) -> list[KernelObject]:
        objects: list[KernelObject] = []
        macs: set[str] = set()
        for entry in self._ipr.fdb("dump", ifindex=index):
            if entry.get("ifindex") not in (None, index):
                continue
            dst = entry.get_attr("NDA_DST")
            mac = (entry.get_attr("NDA_LLADDR") or "").lower()
            if dst is None or not entry["state"] & NUD_PERMANENT:
                continue
            if mac == ZERO_MAC:
                objects.append(Flood(_KERNEL, vxlan.key, dst))
            elif mac not in macs:
                macs.add(mac)
                objects.append(RemoteMac(_KERNEL, vxlan.key, mac, dst))
        seen = set()
        for neighbour in self._ipr.neigh("dump", ifindex=index):
            ip = neighbour.get_attr("NDA_DST")
            mac = neighbour.get_attr("NDA_LLADDR")
            if ip and mac and neighbour["state"] & NUD_PERMANENT and ip not in seen:
                seen.add(ip)
                objects.append(Neighbour(_KERNEL, vxlan.key, ip, mac.lower()))
        return objects

    # ----------------------------------------------------------------- apply
    def check(self, ops: Sequence[Op]) -> None:  # noqa: D102
        addresses: set[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None
        for op in ops:
            obj = op.new
            if op.kind is not OpKind.CREATE or not isinstance(obj, Vxlan):
                continue
            if addresses is None:
                addresses = {ipaddress.ip_address(a.get_attr("IFA_ADDRESS"))
                             for a in self._ipr.get_addr() if a.get_attr("IFA_ADDRESS")}
            if ipaddress.ip_address(obj.local) not in addresses:
                raise DataplaneError(f"the underlay address {obj.local} (/nve:nve/underlay-"
                                     f"address) is not configured in {self._where}")
            if obj.device is not None and self._lookup(obj.device) is None:
                raise DataplaneError(f"underlay interface {obj.device} does not exist in "
                                     f"{self._where}")

    def apply(self, op: Op) -> None:  # noqa: D102
        target = op.target
        handler = getattr(self, f"_{op.kind.value}_{type(target).__name__.lower()}")
        try:
            handler(op)
        except DataplaneError:
            raise
        except Exception as error:
            code = getattr(error, "code", None)
            if op.kind is OpKind.DELETE and code in _GONE:
                return  # already gone (e.g. the hypervisor deleted the VM's end)
            reason = os.strerror(code) if isinstance(code, int) and code > 0 else str(error)
            raise DataplaneError(f"{op} in {self._where}: {reason}") from error

    def apply_nft(self, ops: Sequence[Op]) -> None:  # noqa: D102
        commands = [command for op in ops for command in nft.op_commands(op)]
        self._nft(commands)

    # ---------------------------------------------------------------- helpers
    def _lookup(self, name: str) -> int | None:
        found = self._ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def _index(self, name: str) -> int:
        index = self._lookup(name)
        if index is None:
            raise DataplaneError(f"interface {name} does not exist in {self._where}")
        return index

    def _del_link(self, index: int) -> None:
        try:
            self._ipr.link("del", index=index)
        except Exception as error:
            if getattr(error, "code", None) not in _GONE:
                raise

    def _set_link(self, name: str, *, alias: str | None = None, master: str | None = None,
                  up: bool | None = None) -> int:
        index = self._index(name)
        if alias is not None:
            self._ipr.link("set", index=index, ifalias=alias)
        if master is not None:
            self._ipr.link("set", index=index, master=self._index(master))
        if up is not None:
            self._ipr.link("set", index=index, state="up" if up else "down")
        return index

    def _run(self, argv: list[str], stdin: str | None = None) -> None:
        try:
            result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                    timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DataplaneError(f"{argv[0]}: {error}") from None
        if result.returncode != 0:
            message = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
            raise DataplaneError(f"{' '.join(argv[:4])}...: {message}")

    def _nft(self, commands: list[dict[str, Any]]) -> None:
        if not commands:
            return
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self._run([*prefix, "nft", "-j", "-f", "-"], json.dumps({"nftables": commands}))

    def _tc(self, *args: str) -> None:
        self._run(["tc", *(["-n", self.netns] if self.netns else []), *args])

    # --------------------------------------------------------------- bridges
    def _create_bridge(self, op: Op) -> None:
        obj = op.new
        assert isinstance(obj, Bridge)
        self._ipr.link("add", ifname=obj.name, kind="bridge")
        self._set_link(obj.name, alias=ALIAS + "bridge", up=obj.up)
        self._rehook()

    def _modify_bridge(self, op: Op) -> None:
        assert isinstance(op.new, Bridge)
        self._set_link(op.new.name, up=op.new.up)

    def _delete_bridge(self, op: Op) -> None:
        assert isinstance(op.old, Bridge)
        index = self._lookup(op.old.name)
        if index is not None:
            self._del_link(index)

    # ----------------------------------------------------------------- VXLAN
    def _create_vxlan(self, op: Op) -> None:
        obj = op.new
        assert isinstance(obj, Vxlan)
        v6 = ipaddress.ip_address(obj.local).version == 6
        self.check([op])
        spec: dict[str, Any] = {
            "ifname": obj.name, "kind": "vxlan", "vxlan_id": obj.vnid,
            "vxlan_port": obj.port, "vxlan_learning": 0, "vxlan_proxy": 1, "vxlan_tos": 1,
            ("vxlan_local6" if v6 else "vxlan_local"): obj.local,
        }
        if obj.device is not None:
            spec["vxlan_link"] = self._index(obj.device)
        if obj.group is not None:
            spec["vxlan_group6" if v6 else "vxlan_group"] = obj.group
        self._ipr.link("add", **spec)
        index = self._set_link(obj.name, alias=ALIAS + "vxlan", master=obj.bridge)
        self._ipr.brport("set", index=index, learning=0)
        self._set_link(obj.name, up=obj.up)

    def _modify_vxlan(self, op: Op) -> None:
        obj = op.new
        assert isinstance(obj, Vxlan)
        self._set_link(obj.name, master=obj.bridge, up=obj.up)

    def _delete_vxlan(self, op: Op) -> None:
        assert isinstance(op.old, Vxlan)
        index = self._lookup(op.old.name)
        if index is not None:
            self._del_link(index)

    # ----------------------------------------------------------------- ports
    def _create_port(self, op: Op) -> None:
        obj = op.new
        assert isinstance(obj, Port)
        self._ipr.link("add", ifname=obj.name, kind="veth", peer=obj.peer)
        self._set_link(obj.name, alias=f"{ALIAS}port {obj.label}".strip(), master=obj.bridge)
        peer = self._lookup(obj.peer)
        if peer is not None:
            if obj.peer_mac:
                self._ipr.link("set", index=peer, address=obj.peer_mac)
            self._ipr.link("set", index=peer, state="up")
        self._set_link(obj.name, up=obj.up)

    def _modify_port(self, op: Op) -> None:
        obj = op.new
        assert isinstance(obj, Port)
        if self._lookup(obj.name) is None:  # the VM's end was deleted: make a new pair
            self._create_port(Op(OpKind.CREATE, new=obj))
            return
        self._set_link(obj.name, alias=f"{ALIAS}port {obj.label}".strip(), master=obj.bridge,
                       up=obj.up)
        peer = self._lookup(obj.peer)
        if peer is not None and obj.peer_mac:
            self._ipr.link("set", index=peer, address=obj.peer_mac)

    def _delete_port(self, op: Op) -> None:
        assert isinstance(op.old, Port)
        index = self._lookup(op.old.name)
        if index is not None:
            self._del_link(index)

    # ----------------------------------------------------------- rate limits
    def _tbf(self, verb: str, obj: RateLimit) -> None:
        args = ["qdisc", verb, "dev", obj.ifb, "root", "handle", "1:", "tbf",
                "rate", f"{obj.rate}bit", "burst", f"{obj.burst}b", "limit", f"{obj.queue}b"]
        if obj.peak is not None:
            args += ["peakrate", f"{obj.peak}bit", "minburst", f"{obj.peak_burst or 2048}b"]
        self._tc(*args)

    def _create_ratelimit(self, op: Op) -> None:
        obj = op.new
        assert isinstance(obj, RateLimit)
        self._ipr.link("add", ifname=obj.ifb, kind="ifb")
        try:
            self._set_link(obj.ifb, alias=ALIAS + "ifb", up=True)
            self._tbf("add", obj)
            self._tc("qdisc", "add", "dev", obj.port, "handle", "ffff:", "ingress")
            self._tc("filter", "add", "dev", obj.port, "parent", "ffff:", "protocol", "all",
                     "prio", "1", "u32", "match", "u32", "0", "0",
                     "action", "mirred", "egress", "redirect", "dev", obj.ifb)
        except Exception:
            self._undo_ratelimit(obj)
            raise

    def _undo_ratelimit(self, obj: RateLimit) -> None:
        try:
            self._tc("qdisc", "del", "dev", obj.port, "handle", "ffff:", "ingress")
        except DataplaneError:
            pass  # not there (or the port is gone)
        index = self._lookup(obj.ifb)
        if index is not None:
            self._del_link(index)

    def _modify_ratelimit(self, op: Op) -> None:
        assert isinstance(op.new, RateLimit)
        self._tbf("replace", op.new)

    def _delete_ratelimit(self, op: Op) -> None:
        assert isinstance(op.old, RateLimit)
        self._undo_ratelimit(op.old)

    # ----------------------------------------------------------- fdb entries
    def _create_localmac(self, op: Op) -> None:
        obj = op.new
        assert isinstance(obj, LocalMac)
        self._ipr.fdb("add", ifindex=self._index(obj.port), lladdr=obj.mac,
                      master=self._index(obj.bridge), flags=NTF_MASTER, state=NUD_NOARP)

    def _modify_localmac(self, op: Op) -> None:  # a LocalMac has no attributes
        pass

    def _delete_localmac(self, op: Op) -> None:
        obj = op.old
        assert isinstance(obj, LocalMac)
        port, bridge = self._lookup(obj.port), self._lookup(obj.bridge)
        if port is not None and bridge is not None:
            self._ipr.fdb("del", ifindex=port, lladdr=obj.mac, master=bridge,
                          flags=NTF_MASTER, state=NUD_NOARP)

    def _create_remotemac(self, op: Op, verb: str = "add") -> None:
        obj = op.new
        assert isinstance(obj, RemoteMac)
        index = self._index(obj.device)
        self._ipr.fdb(verb, ifindex=index, lladdr=obj.mac, dst=obj.remote,
                      flags=NTF_SELF, state=NUD_PERMANENT)
        if verb == "add":
            master = self._ipr.get_links(index)[0].get_attr("IFLA_MASTER")
            if master:
                self._ipr.fdb("replace", ifindex=index, lladdr=obj.mac, master=master,
                              flags=NTF_MASTER, state=NUD_NOARP)

    def _modify_remotemac(self, op: Op) -> None:
        self._create_remotemac(op, "replace")

    def _delete_remotemac(self, op: Op) -> None:
        obj = op.old
        assert isinstance(obj, RemoteMac)
        index = self._lookup(obj.device)
        if index is None:
            return
        self._ipr.fdb("del", ifindex=index, lladdr=obj.mac, dst=obj.remote, flags=NTF_SELF)
        master = self._ipr.get_links(index)[0].get_attr("IFLA_MASTER")
        if master:
            try:
                self._ipr.fdb("del", ifindex=index, lladdr=obj.mac, master=master,
                              flags=NTF_MASTER, state=NUD_NOARP)
            except Exception as error:
                if getattr(error, "code", None) not in _GONE:
                    raise

    def _create_flood(self, op: Op) -> None:
        obj = op.new
        assert isinstance(obj, Flood)
        self._ipr.fdb("append", ifindex=self._index(obj.device), lladdr=ZERO_MAC,
                      dst=obj.remote, flags=NTF_SELF, state=NUD_PERMANENT)

    def _modify_flood(self, op: Op) -> None:  # a Flood has no attributes
        pass

    def _delete_flood(self, op: Op) -> None:
        obj = op.old
        assert isinstance(obj, Flood)
        index = self._lookup(obj.device)
        if index is not None:
            self._ipr.fdb("del", ifindex=index, lladdr=ZERO_MAC, dst=obj.remote,
                          flags=NTF_SELF)

    def _create_neighbour(self, op: Op, verb: str = "add") -> None:
        obj = op.new
        assert isinstance(obj, Neighbour)
        self._ipr.neigh(verb, dst=obj.ip, lladdr=obj.mac, ifindex=self._index(obj.device),
                        state=NUD_PERMANENT)

    def _modify_neighbour(self, op: Op) -> None:
        self._create_neighbour(op, "replace")

    def _delete_neighbour(self, op: Op) -> None:
        obj = op.old
        assert isinstance(obj, Neighbour)
        index = self._lookup(obj.device)
        if index is not None:
            self._ipr.neigh("del", dst=obj.ip, lladdr=obj.mac, ifindex=index)


def _kind(link: Any) -> str | None:
    info = link.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info is not None else None


def _read_vxlan(link: Any, names: dict[int, str], up: bool) -> Vxlan | None:
    info = link.get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    if data is None:
        return None
    local = data.get_attr("IFLA_VXLAN_LOCAL") or data.get_attr("IFLA_VXLAN_LOCAL6")
    group = data.get_attr("IFLA_VXLAN_GROUP") or data.get_attr("IFLA_VXLAN_GROUP6")
    device = names.get(data.get_attr("IFLA_VXLAN_LINK") or 0)
    master = names.get(link.get_attr("IFLA_MASTER") or 0, "")
    if local is None:
        return None
    if group in ("0.0.0.0", "::"):
        group = None
    return Vxlan(_KERNEL, link.get_attr("IFLA_IFNAME"), data.get_attr("IFLA_VXLAN_ID"), local,
                 data.get_attr("IFLA_VXLAN_PORT"), device, group or None, master, up)
