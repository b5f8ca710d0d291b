"""The effective forwarding view: the mapping table in effect (``/map:mapping-table``).

Entries come from the configured mappings (``/map:mappings``, origin static or
controller: remote VMs behind other NVEs) and from the VMs attached to this NVE (one
entry per local MAC, pointing at this NVE's own underlay address, origin ``learned``:
what the nDirector distributes to the other NVEs, seed 001). Only associated VMs are
active (DESIGN.md); the rest of the view follows:

- a local VM's entry is active only while the VM is associated; otherwise inactive with
  reason ``vm-inactive`` (pre-associated, suspended, emigrating, immigrating);
- a configured entry for a MAC that an *associated* local VM holds is inactive with
  reason ``local-vm`` (the local attachment wins, e.g. after an immigration); while the
  local VM is inactive (emigrating...) the configured entry is used, and shown in place
  of the local one (one entry per MAC; the configured one takes precedence);
- every entry of a VN that is administratively down is inactive with reason ``vn-down``;
- local entries exist only when ``/nve:nve/underlay-address`` is set (it is their target).

:class:`ForwardingView` keeps the table and reports what changed, for ``mapping-changed``.

Public names: :class:`MappingView`, :class:`LocalAttachment`, :class:`ForwardingView`,
:data:`MappingKey`, :data:`Difference`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nvo3_netconf.nve.settings import MappingEntry, NVESettings

__all__ = ["Difference", "ForwardingView", "LocalAttachment", "MappingKey", "MappingView"]

MappingKey = tuple[str, str]
"""``(vn name, inner MAC)``: identifies an entry of the table."""


@dataclass(frozen=True)
class MappingView:
    """One entry of the mapping table in effect."""

    vn: str
    vnid: int | None
    inner_mac: str
    remote_nve: str
    inner_ips: tuple[str, ...] = ()
    vm_id: str | None = None
    origin: str = "static"
    active: bool = True
    inactive_reason: str | None = None


@dataclass(frozen=True)
class LocalAttachment:
    """A local VM's MAC in a VN, as the forwarding view needs it."""

    vm_id: str
    ip_addresses: tuple[str, ...]
    active: bool


LocalLookup = Callable[[MappingKey], LocalAttachment | None]
"""Returns the local VM bound to ``(vn, mac)``, if any."""

Difference = tuple[str, MappingView | None, MappingView | None]
"""``(operation, before, after)``: operation is added, removed or modified."""


class ForwardingView:
    """The mapping table in effect; not thread-safe (the service locks)."""

    def __init__(self) -> None:
        self._settings = NVESettings()
        self._configured: dict[MappingKey, MappingEntry] = {}
        self._table: dict[MappingKey, MappingView] = {}

    def __len__(self) -> int:
        return len(self._table)

    def entries(self) -> list[MappingView]:
        """Every entry, by VN then MAC."""
        return [self._table[key] for key in sorted(self._table)]

    def rebuild(
        self, settings: NVESettings, local_keys: Iterable[MappingKey], local: LocalLookup
    ) -> list[Difference]:
        """Recompute everything under new settings; returns what changed."""
        self._settings = settings
        self._configured = {(m.vn, m.inner_mac): m for m in settings.mappings}
        keys = set(self._table) | set(self._configured) | set(local_keys)
        return self.update(keys, local)

    def update(self, keys: Iterable[MappingKey], local: LocalLookup) -> list[Difference]:
        """Recompute the entries of ``keys`` (MACs of VMs that changed); what changed."""
        differences: list[Difference] = []
        for key in sorted(set(keys)):
            before = self._table.get(key)
            after = self._entry(key, local(key))
            if after is None:
                if before is not None:
                    del self._table[key]
                    differences.append(("removed", before, None))
            else:
                self._table[key] = after
                if before is None:
                    differences.append(("added", None, after))
                elif before != after:
                    differences.append(("modified", before, after))
        return differences

    def _entry(self, key: MappingKey, attachment: LocalAttachment | None) -> MappingView | None:
        vn_name, mac = key
        vn = self._settings.vns.get(vn_name)
        vnid = vn.vnid if vn is not None else None
        configured = self._configured.get(key)
        if configured is not None:
            view = MappingView(vn_name, vnid, mac, configured.remote_nve, configured.inner_ips,
                               configured.vm_id, configured.origin)
            if attachment is not None and attachment.active:
                view = _inactive(view, "local-vm")
        elif attachment is not None and self._settings.underlay_address is not None:
            view = MappingView(vn_name, vnid, mac, self._settings.underlay_address,
                               attachment.ip_addresses, attachment.vm_id, "learned",
                               attachment.active,
                               None if attachment.active else "vm-inactive")
        else:
            return None
        if vn is None or not vn.admin_up:
            view = _inactive(view, "vn-down")
        return view


def _inactive(view: MappingView, reason: str) -> MappingView:
    return MappingView(view.vn, view.vnid, view.inner_mac, view.remote_nve, view.inner_ips,
                       view.vm_id, view.origin, False, reason)
