"""The NVE's forwarding plane: what the agent commits, carried into a real data plane.

Layers, each a module:

- ``intent``: the running configuration read into frozen values;
- ``model``: kernel objects as values, and the plan (with its inverse) between two sets;
- ``nft``: RFC 8519 ACLs and marking as nftables JSON;
- ``translate``: configuration + the local VMs' ports -> kernel objects (pure);
- ``backend``: the backend interface with its all-or-nothing executor; a memory backend;
- ``linux``: the ``linux`` backend (pyroute2, nftables, tc) in a network namespace;
- ``applier``: fed by each commit's change list and by the VM lifecycle;
- ``topology``: network-namespace test beds (hosts, NVEs, VMs) for tests and the demo.

The agent chooses its backend in its configuration (``dataplane = "none" | "linux"``,
``nvo3_netconf.server.config``); ``none`` builds nothing and keeps the agent a datastore.

Public names: :func:`build_applier`, :data:`BACKENDS`.
"""

from __future__ import annotations

from nvo3_netconf.dataplane.applier import DataplaneApplier
from nvo3_netconf.dataplane.backend import Backend, DataplaneError, MemoryBackend
from nvo3_netconf.dataplane.model import VMPort

__all__ = [
    "BACKENDS",
    "Backend",
    "DataplaneApplier",
    "DataplaneError",
    "MemoryBackend",
    "VMPort",
    "build_applier",
]

BACKENDS = ("none", "linux")
"""The backends an agent can be configured with."""


def build_applier(
    kind: str, *, netns: str | None = None, underlay_device: str | None = None
) -> DataplaneApplier | None:
    """The applier of a backend kind (None for ``none``).

    Raises:
        ValueError: an unknown kind.
    """
    if kind == "none":
        return None
    if kind == "linux":
        from nvo3_netconf.dataplane.linux import LinuxBackend

        backend = LinuxBackend(netns, underlay_device=underlay_device)
        return DataplaneApplier(backend, underlay_device=underlay_device)
    raise ValueError(f"unknown data plane {kind!r} (one of: {', '.join(BACKENDS)})")
