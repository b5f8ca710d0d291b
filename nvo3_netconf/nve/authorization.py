"""Who may signal what: TES identity, tenants, VN ownership (seed 003 sec. 3.3.1 and 4).

The TES identity is the NETCONF user of the signalling session (the SSH user name,
nvo3-types ``tes-identity``). ``/nve:nve/signalling/tes-authorization/tes[name]`` lists
the tenants a TES may signal VMs for; a TES not listed may signal nothing. A VM belongs
to one tenant and may only be bound to VNs of that tenant: "a poisoned hypervisor may
modify the VN Name ... in order to associate with a VN that it doesn't belong to"
(sec. 4) is answered ``failed-authorization`` and changes nothing. A VN the NVE does not
know, or a VN name and VNID that designate different VNs, is ``unknown-vn``.

Every check raises :class:`~nvo3_netconf.nve.refusal.Refusal`; none has side effects.

Public names: :func:`authorize_tes`, :func:`authorize_vm`, :func:`resolve_vn`.
"""

from __future__ import annotations

from nvo3_netconf.nve.lifecycle import ReplyReason
from nvo3_netconf.nve.refusal import Refusal
from nvo3_netconf.nve.requests import VNRequest
from nvo3_netconf.nve.settings import NVESettings, TESEntry, VNInstance

__all__ = ["authorize_tes", "authorize_vm", "resolve_vn"]

_AUTH = ReplyReason.FAILED_AUTHORIZATION


def authorize_tes(settings: NVESettings, tes: str, tenant: str | None = None) -> TESEntry:
    """The TES's authorization entry, checking it may act for ``tenant`` (if given).

    Raises:
        Refusal: failed-authorization, the TES is not listed or not for this tenant.
    """
    entry = settings.tes.get(tes)
    if entry is None:
        raise Refusal(_AUTH, f"TES {tes!r} is not authorized to signal to this NVE.")
    if tenant is not None and tenant not in entry.tenants:
        raise Refusal(_AUTH, f"TES {tes!r} is not authorized for tenant {tenant!r}.")
    return entry


def authorize_vm(
    settings: NVESettings, vm_id: str, tenant: str, known_tenant: str | None
) -> None:
    """Check a VM is signalled with its own tenant.

    Args:
        settings: the configuration (its VM profiles).
        vm_id: the VM.
        tenant: the tenant the message names.
        known_tenant: the tenant of the state the NVE holds for the VM, if any.

    Raises:
        Refusal: failed-authorization, the VM belongs to another tenant (per its state
            or its configured profile).
    """
    profile = settings.vms.get(vm_id)
    for owner in (known_tenant, profile.tenant if profile is not None else None):
        if owner is not None and owner != tenant:
            raise Refusal(
                _AUTH, f"VM {vm_id} belongs to tenant {owner!r}, not to {tenant!r}."
            )


def resolve_vn(settings: NVESettings, request: VNRequest, tenant: str) -> VNInstance:
    """The VN instance a request names, checking it belongs to ``tenant``.

    Raises:
        Refusal: unknown-vn (no such VN, or name and VNID disagree), or
            failed-authorization (the VN belongs to another tenant).
    """
    by_name = settings.vns.get(request.vn_name) if request.vn_name is not None else None
    by_vnid = settings.vn_by_vnid(request.vnid) if request.vnid is not None else None
    if request.vn_name is not None and by_name is None:
        raise Refusal(ReplyReason.UNKNOWN_VN, f"VN {request.vn_name!r} is not known here.")
    if request.vnid is not None and by_vnid is None:
        raise Refusal(ReplyReason.UNKNOWN_VN, f"No VN has VNID {request.vnid} here.")
    if by_name is not None and by_vnid is not None and by_name is not by_vnid:
        raise Refusal(
            ReplyReason.UNKNOWN_VN,
            f"VN {request.vn_name!r} has VNID {by_name.vnid}, not {request.vnid}.",
        )
    vn = by_name or by_vnid
    assert vn is not None  # the model requires vn-name or vnid
    if vn.tenant != tenant:
        raise Refusal(
            _AUTH, f"VN {vn.name} belongs to tenant {vn.tenant}, not to the VM's tenant "
            f"{tenant}.",
        )
    return vn
