"""The kernel objects of the Linux data plane, as plain values, and the plan between two sets.

A :class:`KernelModel` is everything the agent wants in its network namespace, one frozen
object per kernel object (a bridge, a VXLAN device, a VAP port, an fdb entry, an
nftables chain, a rate limiter). Each object has an *identity* (:attr:`KernelObject.key`)
made of what cannot be changed in place — including its parent's identity, so that a
VXLAN device re-created with another local address takes its fdb entries along — and
*attributes* that can (a port's up/down state, an fdb entry's remote address, an ACL's
rules). Two models are compared by :func:`plan`: objects only in the old are deleted,
objects only in the new are created, objects whose attributes differ are modified. The
plan deletes first (children before parents) and then creates and modifies (parents
before children), so a name freed by a deletion can be taken by a creation, and it is
reversible: :func:`inverse` undoes a prefix of it, which is how a failed apply leaves the
kernel as it was.

Every object also belongs to a *scope* (a VN by name, or an ACL by name): the applier
rebuilds only the scopes a commit's change list touches (:mod:`.applier`).

Public names: :class:`KernelObject` and its kinds, :class:`VMPort`, :class:`KernelModel`,
:class:`Op`, :class:`OpKind`, :func:`plan`, :func:`inverse`, :func:`ifname`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import ClassVar

__all__ = [
    "AclChain",
    "Bridge",
    "Flood",
    "KernelModel",
    "KernelObject",
    "LocalMac",
    "Mark",
    "Neighbour",
    "Op",
    "OpKind",
    "Port",
    "PortAcls",
    "RateLimit",
    "RemoteMac",
    "Scope",
    "VMPort",
    "Vxlan",
    "ifname",
    "inverse",
    "plan",
]

IFNAMSIZ = 15
"""Longest Linux interface name (IFNAMSIZ - 1)."""

Scope = tuple[str, str]
"""``("vn", name)`` or ``("acl", name)``: the part of the configuration an object comes from."""


def ifname(*parts: str | int, sep: str = "-") -> str:
    """An interface name from ``parts``; a long first part is replaced by a short hash.

    ``ifname("br", 5001)`` is ``br-5001``; ``ifname("a-very-long-interface", 100)`` is
    ``h1a2b3c4-100`` (Linux names hold at most 15 characters).
    """
    text = [str(p) for p in parts]
    name = sep.join(text)
    if len(name) <= IFNAMSIZ:
        return name
    digest = "h" + hashlib.sha1(text[0].encode()).hexdigest()[:7]
    name = sep.join([digest, *text[1:]])
    if len(name) > IFNAMSIZ:
        name = "h" + hashlib.sha1(sep.join(text).encode()).hexdigest()[: IFNAMSIZ - 1]
    return name


# ------------------------------------------------------------------- VM ports
@dataclass(frozen=True)
class VMPort:
    """A local VM's attachment to one VN through one VID of a VAP (from the NVE service).

    Attributes:
        vm_id: the VM.
        vn: the VN's name.
        vap: the VAP's name (its admin-state is read from the configuration).
        interface: the VAP's NVE interface.
        vid: the local VID assigned on that interface.
        macs: the vNIC MACs behind this VID (lower case).
        ip_addresses: their IP addresses.
        pcp: the 802.1Q priority assigned (0: none).
        ingress_acl: ACLs on the traffic received from the VM, in order.
        egress_acl: ACLs on the traffic delivered to the VM, in order.
        qos_profile: the QoS profile of the VM in this VN.
        active: the VM forwards (associated); otherwise its port is down.
    """

    vm_id: str
    vn: str
    vap: str
    interface: str
    vid: int
    macs: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    pcp: int = 0
    ingress_acl: tuple[str, ...] = ()
    egress_acl: tuple[str, ...] = ()
    qos_profile: str | None = None
    active: bool = True

    @property
    def port_name(self) -> str:
        """The bridge side of the VAP's veth pair: ``<interface>-<vid>``."""
        return ifname(self.interface, self.vid, sep="-")

    @property
    def peer_name(self) -> str:
        """The hypervisor side of the veth pair: ``<interface>.<vid>``."""
        return ifname(self.interface, self.vid, sep=".")


# ------------------------------------------------------------------- objects
@dataclass(frozen=True)
class KernelObject:
    """Base of every kernel object: identity fields, attributes, scope, order."""

    RANK: ClassVar[int] = 0
    """Creation order: parents have lower ranks than their children."""
    IDENTITY: ClassVar[tuple[str, ...]] = ()
    """Fields that make the object's identity; the others (except ``scope``) can change."""
    NFT: ClassVar[bool] = False
    """True for nftables objects (the backend applies them in one transaction)."""

    scope: Scope

    @property
    def key(self) -> tuple[object, ...]:
        """The identity: kind and identity fields."""
        return (type(self).__name__, *(getattr(self, name) for name in self.IDENTITY))

    def attributes(self) -> tuple[object, ...]:
        """The values that can change in place."""
        return tuple(
            getattr(self, f.name) for f in fields(self)
            if f.name not in self.IDENTITY and f.name != "scope"
        )

    def describe(self) -> str:
        """A short description for messages and logs."""
        return type(self).__name__.lower()


@dataclass(frozen=True)
class Bridge(KernelObject):
    """The Linux bridge of one VN: ``br-<vnid>``."""

    RANK: ClassVar[int] = 10
    IDENTITY: ClassVar[tuple[str, ...]] = ("name",)
    name: str
    up: bool = True

    def describe(self) -> str:  # noqa: D102
        return f"bridge {self.name}"


@dataclass(frozen=True)
class Vxlan(KernelObject):
    """The VXLAN device of one VN: ``vx-<vnid>``, a port of the VN's bridge.

    Learning is off (the fdb is programmed from the mapping table) and ARP/ND proxy is
    on (answers from the neighbour entries of the mapping's inner addresses).
    """

    RANK: ClassVar[int] = 20
    IDENTITY: ClassVar[tuple[str, ...]] = ("name", "vnid", "local", "port", "device", "group")
    name: str
    vnid: int
    local: str
    port: int = 4789
    device: str | None = None
    group: str | None = None
    bridge: str = ""
    up: bool = True

    def describe(self) -> str:  # noqa: D102
        return f"VXLAN device {self.name} (VNI {self.vnid}, local {self.local}:{self.port})"


@dataclass(frozen=True)
class Port(KernelObject):
    """A VAP port: a veth pair, ``name`` in the VN's bridge, ``peer`` for the hypervisor.

    The hypervisor moves the peer into the VM's namespace; deleting the port deletes both.
    """

    RANK: ClassVar[int] = 30
    IDENTITY: ClassVar[tuple[str, ...]] = ("name", "peer")
    name: str
    peer: str
    bridge: str = ""
    up: bool = True
    peer_mac: str | None = None
    label: str = ""

    def describe(self) -> str:  # noqa: D102
        return f"VAP port {self.name}"


@dataclass(frozen=True)
class RateLimit(KernelObject):
    """A token-bucket limit of the traffic received from a VM on its port.

    The port's ingress is redirected (tc ``mirred``) to an IFB device whose root qdisc is
    a TBF with the committed rate and burst (and the peak rate when given): with ``queue``
    equal to the burst excess is dropped (policing), with a longer queue it is delayed
    (shaping).
    """

    RANK: ClassVar[int] = 40
    IDENTITY: ClassVar[tuple[str, ...]] = ("port", "ifb")
    port: str
    ifb: str
    rate: int = 0
    """bits per second"""
    burst: int = 16384
    """bytes"""
    peak: int | None = None
    peak_burst: int | None = None
    queue: int = 16384
    """bytes that may wait (TBF ``limit``)"""

    def describe(self) -> str:  # noqa: D102
        return f"rate limit on {self.port}"


@dataclass(frozen=True)
class LocalMac(KernelObject):
    """A static bridge fdb entry: a local vNIC's MAC on its VAP port."""

    RANK: ClassVar[int] = 50
    IDENTITY: ClassVar[tuple[str, ...]] = ("port", "bridge", "mac")
    port: str
    bridge: str
    mac: str

    def describe(self) -> str:  # noqa: D102
        return f"fdb entry {self.mac} on {self.port}"


@dataclass(frozen=True)
class RemoteMac(KernelObject):
    """A mapping entry: MAC -> remote NVE, a static fdb entry of the VXLAN device."""

    RANK: ClassVar[int] = 60
    IDENTITY: ClassVar[tuple[str, ...]] = ("vxlan", "mac")
    vxlan: tuple[object, ...]
    """the key of the VXLAN device"""
    mac: str
    remote: str = ""

    @property
    def device(self) -> str:
        """The VXLAN device's name."""
        return str(self.vxlan[1])

    def describe(self) -> str:  # noqa: D102
        return f"fdb entry {self.mac} -> {self.remote} on {self.device}"


@dataclass(frozen=True)
class Flood(KernelObject):
    """Head-end replication to one remote NVE: an all-zero-MAC fdb entry."""

    RANK: ClassVar[int] = 70
    IDENTITY: ClassVar[tuple[str, ...]] = ("vxlan", "remote")
    vxlan: tuple[object, ...]
    remote: str

    @property
    def device(self) -> str:
        """The VXLAN device's name."""
        return str(self.vxlan[1])

    def describe(self) -> str:  # noqa: D102
        return f"flood entry -> {self.remote} on {self.device}"


@dataclass(frozen=True)
class Neighbour(KernelObject):
    """An inner IP of a mapping entry, answered by the VXLAN device's ARP/ND proxy."""

    RANK: ClassVar[int] = 80
    IDENTITY: ClassVar[tuple[str, ...]] = ("vxlan", "ip")
    vxlan: tuple[object, ...]
    ip: str
    mac: str = ""

    @property
    def device(self) -> str:
        """The VXLAN device's name."""
        return str(self.vxlan[1])

    def describe(self) -> str:  # noqa: D102
        return f"neighbour {self.ip} -> {self.mac} on {self.device}"


@dataclass(frozen=True)
class AclChain(KernelObject):
    """An RFC 8519 ACL as an nftables chain (``acl/<name>``): one rule per ACE, in order.

    ``rules`` are nftables JSON expression lists, serialized (hashable) by :mod:`.nft`.
    """

    RANK: ClassVar[int] = 90
    IDENTITY: ClassVar[tuple[str, ...]] = ("name",)
    NFT: ClassVar[bool] = True
    name: str
    rules: tuple[str, ...] = ()

    def describe(self) -> str:  # noqa: D102
        return f"ACL chain {self.name!r}"


@dataclass(frozen=True)
class PortAcls(KernelObject):
    """The ACLs of one port and direction (``in``: from the VM, ``out``: to the VM)."""

    RANK: ClassVar[int] = 100
    IDENTITY: ClassVar[tuple[str, ...]] = ("port", "direction")
    NFT: ClassVar[bool] = True
    port: str
    direction: str
    acls: tuple[str, ...] = ()

    def describe(self) -> str:  # noqa: D102
        return f"{self.direction}bound ACLs of {self.port}"


@dataclass(frozen=True)
class Mark(KernelObject):
    """Marking of a port's traffic: DSCP of the VM's IP packets, priority (PCP) of both."""

    RANK: ClassVar[int] = 110
    IDENTITY: ClassVar[tuple[str, ...]] = ("port",)
    NFT: ClassVar[bool] = True
    port: str
    dscp: int | None = None
    priority: int | None = None

    def describe(self) -> str:  # noqa: D102
        return f"marking on {self.port}"


# --------------------------------------------------------------------- models
class KernelModel(Mapping[tuple[object, ...], KernelObject]):
    """An immutable set of kernel objects, by key."""

    def __init__(self, objects: Iterable[KernelObject] = ()) -> None:
        self._objects: dict[tuple[object, ...], KernelObject] = {}
        for obj in objects:
            if obj.key in self._objects and self._objects[obj.key] != obj:
                raise ValueError(f"two different {obj.describe()} in one model")
            self._objects[obj.key] = obj

    def __getitem__(self, key: tuple[object, ...]) -> KernelObject:
        return self._objects[key]

    def __iter__(self) -> Iterator[tuple[object, ...]]:
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def __repr__(self) -> str:
        return f"KernelModel({len(self)} objects)"

    def objects(self) -> list[KernelObject]:
        """Every object, parents first."""
        return sorted(self._objects.values(), key=lambda o: (o.RANK, repr(o.key)))

    def of(self, kind: type[KernelObject]) -> list[KernelObject]:
        """The objects of one kind."""
        return [o for o in self.objects() if isinstance(o, kind)]

    def scopes(self) -> set[Scope]:
        """Every scope some object belongs to."""
        return {o.scope for o in self._objects.values()}

    def without(self, scopes: set[Scope]) -> KernelModel:
        """The objects outside ``scopes``."""
        return KernelModel(o for o in self._objects.values() if o.scope not in scopes)

    def within(self, scopes: set[Scope]) -> KernelModel:
        """The objects inside ``scopes``."""
        return KernelModel(o for o in self._objects.values() if o.scope in scopes)

    def merged(self, other: KernelModel) -> KernelModel:
        """This model plus ``other`` (whose objects win)."""
        kept = [o for k, o in self._objects.items() if k not in other]
        return KernelModel([*kept, *other.values()])


# ----------------------------------------------------------------------- plans
class OpKind(StrEnum):
    """What an operation does to one kernel object."""

    CREATE = "create"
    DELETE = "delete"
    MODIFY = "modify"


@dataclass(frozen=True)
class Op:
    """One step of a plan: create ``new``, delete ``old`` or change ``old`` into ``new``."""

    kind: OpKind
    old: KernelObject | None = None
    new: KernelObject | None = None

    @property
    def target(self) -> KernelObject:
        """The object acted on (the new one, or the deleted one)."""
        obj = self.new if self.new is not None else self.old
        assert obj is not None
        return obj

    def __str__(self) -> str:
        return f"{self.kind.value} {self.target.describe()}"


def plan(old: Mapping[tuple[object, ...], KernelObject],
         new: Mapping[tuple[object, ...], KernelObject]) -> list[Op]:
    """The operations that turn ``old`` into ``new``.

    Deletions come first (children before parents), then creations and modifications
    (parents before children).
    """
    deletes = [Op(OpKind.DELETE, old=o) for k, o in old.items() if k not in new]
    changes: list[Op] = []
    for key, obj in new.items():
        before = old.get(key)
        if before is None:
            changes.append(Op(OpKind.CREATE, new=obj))
        elif before.attributes() != obj.attributes():
            changes.append(Op(OpKind.MODIFY, old=before, new=obj))
    deletes.sort(key=lambda op: (-op.target.RANK, repr(op.target.key)))
    changes.sort(key=lambda op: (op.target.RANK, repr(op.target.key)))
    return deletes + changes


def inverse(done: Iterable[Op]) -> list[Op]:
    """The operations that undo ``done`` (applied in order), in the order to apply them."""
    undo: list[Op] = []
    for op in reversed(list(done)):
        if op.kind is OpKind.CREATE:
            undo.append(Op(OpKind.DELETE, old=op.new))
        elif op.kind is OpKind.DELETE:
            undo.append(Op(OpKind.CREATE, new=op.old))
        else:
            undo.append(Op(OpKind.MODIFY, old=op.new, new=op.old))
    return undo
