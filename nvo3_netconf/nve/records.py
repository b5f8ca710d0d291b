"""What the NVE remembers about each VM it holds state for.

Seed 003 sec. 3.4.3: "Both Hypervisor and NVE need to record the state".

A :class:`VMRecord` is created by the first successful pre-associate, associate or
immigrate and dropped by terminate or aging; it is mutated only by the NVE service under
its lock. Times are kept twice: epoch seconds for people and peers (``*_time``) and the
clock's monotonic seconds for deadlines (``refresh_mono``).

Public names: :class:`VMRecord`, :class:`MigrationInfo`, :class:`LastEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass

from nvo3_netconf.nve.lifecycle import ReplyReason, Result, VMEvent, VMState
from nvo3_netconf.nve.requests import FilterFormat
from nvo3_netconf.nve.resources import Allocation
from nvo3_netconf.scheduler import TimerHandle

__all__ = ["LastEvent", "MigrationInfo", "VMRecord"]


@dataclass(frozen=True)
class MigrationInfo:
    """The migration a VM is part of, as this NVE sees it (``vm-state/vm/migration``)."""

    direction: str  # "immigration" or "emigration"
    start_time: float
    migration_id: str | None = None
    peer_nve: str | None = None
    peer_vserver: str | None = None


@dataclass(frozen=True)
class LastEvent:
    """The last lifecycle event processed for a VM and the answer given."""

    event: VMEvent
    time: float
    result: Result
    reason: ReplyReason | None = None
    message: str | None = None


@dataclass(eq=False)
class VMRecord:
    """The NVE's state for one VM."""

    vm_id: str
    vm_id_format: str
    tenant: str
    state: VMState
    allocation: Allocation
    tes: str
    state_change_time: float
    refresh_time: float
    refresh_mono: float
    filter_format: FilterFormat = FilterFormat.MAC_VID
    group_id: int | None = None
    vcenter_id: str | None = None
    vserver_id: str | None = None
    association_time: float | None = None
    migrating: bool = False
    migration: MigrationInfo | None = None
    last_event: LastEvent | None = None
    timer: TimerHandle | None = None
    expiry_mono: float | None = None
    pending_change: int | None = None

    @property
    def active(self) -> bool:
        """True when the VM forwards: only an associated VM does."""
        return self.state is VMState.ASSOCIATED
