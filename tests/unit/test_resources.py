"""Resolution of signalled attachments and the NVE's resource table.

VID allocation per VAP, PCP choice, limits, conflicts, and atomicity (a refused plan
changes nothing).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from lxml import etree

from nvo3_netconf.errors import OperationFailedError
from nvo3_netconf.nve.attachments import Desired, resolve
from nvo3_netconf.nve.lifecycle import ReplyReason
from nvo3_netconf.nve.refusal import Refusal
from nvo3_netconf.nve.requests import AssociationParameters, FilterEntry, FilterFormat, VNRequest
from nvo3_netconf.nve.resources import Allocation, ResourceTable, check_vm_limits, check_vn_limit
from nvo3_netconf.nve.settings import (
    VAP,
    GroupProfile,
    Limits,
    MappingEntry,
    NVESettings,
    PolicyNames,
    TESEntry,
    VMProfile,
    VNICProfile,
    VNInstance,
)

TES = TESEntry("hv1", tenants=frozenset({"alice"}), interfaces=("eth1",))
VM1, VM2, VM3 = "vm-1", "vm-2", "vm-3"


def settings(**overrides: object) -> NVESettings:
    base = NVESettings(
        tes={"hv1": TES},
        tenants=frozenset({"alice", "bob"}),
        vns={
            "web": VNInstance("web", 100, "alice", vaps=(
                VAP("web-1", "eth1", ((100, 102),)),
                VAP("web-2", "eth2", ((100, 101), (150, 150))),
            )),
            "db": VNInstance("db", 200, "alice", vaps=(VAP("db-1", "eth1", ((200, 209),)),)),
            "bob": VNInstance("bob", 300, "bob", vaps=(VAP("bob-1", "eth1", ((300, 309),)),)),
        },
        acl_entries={"in": 3, "out": 2},
        qos_pcp={"gold": 5, "plain": None},
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def params(*vns: VNRequest, tenant: str = "alice", **kw: object) -> AssociationParameters:
    return AssociationParameters(tenant=tenant, vns=vns, **kw)  # type: ignore[arg-type]


def vn(name: str, *entries: FilterEntry, policies: PolicyNames | None = None) -> VNRequest:
    return VNRequest(vn_name=name, entries=entries, policies=policies)


def nic(mac: str | None, vid: int = 0, pcp: int | None = None) -> FilterEntry:
    return FilterEntry(mac=mac, requested_vid=vid, requested_pcp=pcp)


def desire(s: NVESettings, vm: str, p: AssociationParameters, tes: TESEntry = TES) -> Desired:
    return resolve(s, vm, p, tes)


def install(
    table: ResourceTable, s: NVESettings, vm: str, p: AssociationParameters, *,
    reserve: bool = True, previous: Allocation | None = None,
) -> Allocation:
    allocation = table.plan(vm, desire(s, vm, p), reserve=reserve, previous=previous,
                            settings=s)
    table.apply(vm, previous, allocation)
    return allocation


def snapshot(table: ResourceTable) -> tuple[object, ...]:
    return (dict(table._vid_owner), {k: dict(v) for k, v in table._vap_vids.items()},
            dict(table._mac_owner), table.acl_entries)


def refused(reason: ReplyReason) -> pytest.RaisesExc[Refusal]:
    return pytest.raises(Refusal, check=lambda e: e.reason is reason)


# ------------------------------------------------------------------- VIDs
def test_null_vid_takes_the_lowest_free_vid_of_the_vap() -> None:
    s, table = settings(), ResourceTable()
    a1 = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"))))
    a2 = install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:02"))))
    assert [a.vid for a in a1.assignments] == [100]
    assert [a.vid for a in a2.assignments] == [101]
    assert (a1.assignments[0].vap, a1.assignments[0].interface) == ("web-1", "eth1")
    assert table.vids_on("web", "web-1") == [100, 101]
    assert table.vms_on("web", "web-1") == 2


def test_requested_vid_is_honoured_when_free() -> None:
    s, table = settings(), ResourceTable()
    a = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01", vid=102))))
    assert a.assignments[0].vid == 102
    assert a.assignments[0].requested_vid == 102
    b = install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:02"))))
    assert b.assignments[0].vid == 100


def test_requested_vid_outside_the_vap_ranges_is_invalid() -> None:
    s = settings()
    with refused(ReplyReason.INVALID_PARAMETERS):
        desire(s, VM1, params(vn("web", nic("52:54:00:00:00:01", vid=140))))


def test_requested_vid_held_by_another_vm_is_a_clash() -> None:
    s, table = settings(), ResourceTable()
    install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01", vid=101))))
    before = snapshot(table)
    with refused(ReplyReason.CONFLICTING_POLICIES):
        install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:02", vid=101))))
    assert snapshot(table) == before


def test_vid_is_per_interface() -> None:
    s, table = settings(), ResourceTable()
    install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01", vid=100))))
    other = install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:02", vid=100)),
                                          interface="eth2"))
    assert (other.assignments[0].interface, other.assignments[0].vid) == ("eth2", 100)


def test_one_vm_cannot_use_one_vid_for_two_vns_of_an_interface() -> None:
    s = settings(vns={
        "web": VNInstance("web", 100, "alice", vaps=(VAP("w", "eth1", ((100, 110),)),)),
        "db": VNInstance("db", 200, "alice", vaps=(VAP("d", "eth1", ((100, 110),)),)),
    })
    table = ResourceTable()
    with refused(ReplyReason.CONFLICTING_POLICIES):
        install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01", vid=105)),
                                      vn("db", nic("52:54:00:00:00:02", vid=105))))
    both = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01")),
                                         vn("db", nic("52:54:00:00:00:02"))))
    assert [a.vid for a in both.assignments] == [100, 101]


def test_null_vid_entries_of_one_vm_in_one_vn_share_a_vid() -> None:
    s, table = settings(), ResourceTable()
    a = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"),
                                         nic("52:54:00:00:00:02"))))
    assert [x.vid for x in a.assignments] == [100, 100]
    assert table.vids == 1


def test_exhausted_vap_is_insufficient_resources_and_changes_nothing() -> None:
    s, table = settings(), ResourceTable()
    for i in range(3):
        install(table, s, f"vm-{i}", params(vn("web", nic(f"52:54:00:00:00:0{i}"))))
    before = snapshot(table)
    with refused(ReplyReason.INSUFFICIENT_RESOURCES):
        install(table, s, VM3, params(vn("db", nic("52:54:00:00:01:01")),
                                      vn("web", nic("52:54:00:00:01:02"))))
    assert snapshot(table) == before, "the db part must not be half-installed"


def test_max_vids_per_vap() -> None:
    s, table = settings(limits=Limits(max_vids_per_vap=1)), ResourceTable()
    install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"))))
    with refused(ReplyReason.INSUFFICIENT_RESOURCES):
        install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:02"))))


def test_replace_keeps_the_vid_the_vm_holds() -> None:
    s, table = settings(), ResourceTable()
    other = install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:02"))))  # 100
    first = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"))))
    assert first.assignments[0].vid == 101
    table.apply(VM2, other, None)  # 100 is free again: VM1 keeps 101 all the same
    second = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01")),
                                           vn("db", nic("52:54:00:00:00:03"))),
                     previous=first)
    assert [a.vid for a in second.assignments] == [101, 200]
    assert table.vids_on("web", "web-1") == [101]


def test_pre_association_without_reservation_holds_macs_only() -> None:
    s, table = settings(), ResourceTable()
    p = params(vn("web", nic("52:54:00:00:00:01"), policies=PolicyNames(("in",), ("out",))))
    a = install(table, s, VM1, p, reserve=False)
    assert [x.vid for x in a.assignments] == [None]
    assert (table.vids, table.macs, table.acl_entries) == (0, 1, 0)
    b = install(table, s, VM1, p, reserve=True, previous=a)
    assert [x.vid for x in b.assignments] == [100]
    assert (table.vids, table.macs, table.acl_entries) == (1, 1, 5)


def test_release_frees_everything() -> None:
    s, table = settings(), ResourceTable()
    a = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"),
                                         policies=PolicyNames(("in",)))))
    table.apply(VM1, a, None)
    assert snapshot(table) == ({}, {}, {}, 0)


# ------------------------------------------------------------------- MACs, limits
def test_mac_bound_to_another_vm_in_the_same_vn_conflicts() -> None:
    s, table = settings(), ResourceTable()
    install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"))))
    before = snapshot(table)
    with refused(ReplyReason.CONFLICTING_POLICIES):
        install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:01"))))
    assert snapshot(table) == before
    install(table, s, VM2, params(vn("db", nic("52:54:00:00:00:01"))))  # other VN: fine


def test_max_macs() -> None:
    s, table = settings(limits=Limits(max_macs=2)), ResourceTable()
    install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"))))
    with refused(ReplyReason.INSUFFICIENT_RESOURCES):
        install(table, s, VM2, params(vn("db", nic("52:54:00:00:00:02"),
                                         nic("52:54:00:00:00:03"))))
    assert table.macs == 1


def test_max_acl_entries() -> None:
    s, table = settings(limits=Limits(max_acl_entries=5)), ResourceTable()
    p = PolicyNames(("in",))
    install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"), policies=p)))
    with refused(ReplyReason.INSUFFICIENT_RESOURCES):
        install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:02"), policies=p)))
    assert table.acl_entries == 3


def test_max_mappings_counts_configured_and_local_entries() -> None:
    mappings = (MappingEntry("web", "52:54:00:99:00:01", "192.0.2.2"),)
    s = settings(underlay_address="192.0.2.1", mappings=mappings,
                 limits=Limits(max_mappings=2))
    table = ResourceTable()
    install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"))))
    with refused(ReplyReason.INSUFFICIENT_RESOURCES):
        install(table, s, VM2, params(vn("web", nic("52:54:00:00:00:02"))))


def test_vm_limits_per_nve_and_per_tes() -> None:
    s = settings(limits=Limits(max_vms=2))
    check_vm_limits(s, vms=1, tes=TES, tes_vms=1)
    with refused(ReplyReason.INSUFFICIENT_RESOURCES):
        check_vm_limits(s, vms=2, tes=TES, tes_vms=0)
    with refused(ReplyReason.INSUFFICIENT_RESOURCES):
        check_vm_limits(settings(), vms=0, tes=replace(TES, max_vms=1), tes_vms=1)


# ----------------------------------------------------------- resolution, PCP, policies
def test_vn_of_another_tenant_is_failed_authorization() -> None:
    with refused(ReplyReason.FAILED_AUTHORIZATION):
        desire(settings(), VM1, params(vn("bob", nic("52:54:00:00:00:01"))))


def test_unknown_vn_and_mismatched_vnid() -> None:
    with refused(ReplyReason.UNKNOWN_VN):
        desire(settings(), VM1, params(vn("nope", nic("52:54:00:00:00:01"))))
    with refused(ReplyReason.UNKNOWN_VN):
        desire(settings(), VM1, params(VNRequest("web", 200, None, (nic("52:54:00:00:00:01"),))))
    same = desire(settings(), VM1, params(VNRequest(None, 100, None, (nic("52:54:00:00:00:01"),))))
    assert same == desire(settings(), VM1, params(vn("web", nic("52:54:00:00:00:01"))))


def test_unknown_policy() -> None:
    with refused(ReplyReason.UNKNOWN_POLICY):
        desire(settings(), VM1, params(vn("web", nic(None), policies=PolicyNames(("x",)))))
    with refused(ReplyReason.UNKNOWN_POLICY):
        desire(settings(), VM1, params(vn("web", nic(None),
                                          policies=PolicyNames(qos_profile="x"))))


def test_policies_differing_from_the_provisioned_ones_conflict() -> None:
    profile = VMProfile(VM1, "alice", policies={"web": PolicyNames(("in",))})
    s = settings(vms={VM1: profile})
    with refused(ReplyReason.CONFLICTING_POLICIES):
        desire(s, VM1, params(vn("web", nic(None), policies=PolicyNames(("out",)))))
    inherited = desire(s, VM1, params(vn("web", nic(None))))
    assert inherited.vns[0].policies == PolicyNames(("in",))
    assert inherited.acl_entries == 3


def test_pcp_marking_then_configured_then_group_then_requested() -> None:
    group = GroupProfile(7, "alice", pcp={"web": 2})
    profile = VMProfile(VM1, "alice", group_id=7,
                        vnics=(VNICProfile("52:54:00:00:00:01", "web", pcp=4),))
    s = settings(vms={VM1: profile}, groups={7: group})

    def pcp(vm: str, policies: PolicyNames | None, requested: int | None,
            mac: str = "52:54:00:00:00:01") -> int:
        d = desire(s, vm, params(vn("web", nic(mac, pcp=requested), policies=policies)))
        return d.vns[0].entries[0].pcp

    assert pcp(VM1, PolicyNames(qos_profile="gold"), 1) == 5
    assert pcp(VM1, PolicyNames(qos_profile="plain"), 1) == 4
    assert pcp(VM2, None, None) == 0
    assert pcp(VM2, None, 6) == 6
    d = desire(s, VM2, params(vn("web", nic("52:54:00:00:00:09")), group_id=7))
    assert d.vns[0].entries[0].pcp == 2


def test_vap_choice() -> None:
    s = settings()
    assert desire(s, VM1, params(vn("web", nic(None)), interface="eth2")).vns[0].vap == "web-2"
    assert desire(s, VM1, params(vn("web", nic(None)))).vns[0].vap == "web-1"  # TES eth1
    with refused(ReplyReason.INVALID_PARAMETERS):
        desire(s, VM1, params(vn("web", nic(None)), interface="eth9"))
    lonely = TESEntry("hv2", tenants=frozenset({"alice"}))
    assert desire(s, VM1, params(vn("db", nic(None))), lonely).vns[0].vap == "db-1"
    with refused(ReplyReason.INVALID_PARAMETERS):
        desire(s, VM1, params(vn("web", nic(None))), lonely)  # two VAPs, no hint


def test_configured_vid_and_vap_of_the_profile_are_used() -> None:
    profile = VMProfile(VM1, "alice", vnics=(
        VNICProfile("52:54:00:00:00:01", "web", vap="web-2", vid=150),))
    s, table = settings(vms={VM1: profile}), ResourceTable()
    a = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"))))
    assert (a.assignments[0].vap, a.assignments[0].vid) == ("web-2", 150)


def test_require_vm_profile() -> None:
    profile = VMProfile(VM1, "alice", vnics=(VNICProfile("52:54:00:00:00:01", "web"),))
    s = settings(vms={VM1: profile}, require_vm_profile=True)
    desire(s, VM1, params(vn("web", nic("52:54:00:00:00:01"))))
    for vm, request in ((VM2, vn("web", nic("52:54:00:00:00:01"))),
                        (VM1, vn("web", nic("52:54:00:00:00:02"))),
                        (VM1, vn("db", nic("52:54:00:00:00:01")))):
        with refused(ReplyReason.INVALID_PARAMETERS):
            desire(s, vm, params(request))


def test_groupid_filter_format_takes_the_vm_group() -> None:
    d = desire(settings(), VM1, params(vn("web", nic(None)), group_id=9,
                                       filter_format=FilterFormat.GROUPID_VID))
    assert d.vns[0].entries[0].group_id == 9


# ----------------------------------------------------------------- local change
def test_reassign_after_a_vid_range_change() -> None:
    s, table = settings(), ResourceTable()
    a = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01", vid=101)),
                                      vn("db", nic("52:54:00:00:00:02"))))
    shrunk = replace(s, vns={**s.vns, "web": VNInstance("web", 100, "alice", vaps=(
        VAP("web-1", "eth1", ((110, 112),)),))})
    b = table.reassign(VM1, a, shrunk, {})
    assert [x.vid for x in b.assignments] == [110, 200]
    table.apply(VM1, a, b)
    assert table.vids_on("web", "web-1") == [110]
    gone = replace(shrunk, vns={k: v for k, v in shrunk.vns.items() if k != "db"})
    c = table.reassign(VM1, b, gone, {("web", 0): 6})
    assert [(x.vid, x.pcp) for x in c.assignments] == [(110, 6), (None, 0)]


def test_reserving_after_the_vap_was_removed_is_refused() -> None:
    s, table = settings(), ResourceTable()
    a = install(table, s, VM1, params(vn("web", nic("52:54:00:00:00:01"))), reserve=False)
    without = replace(s, vns={**s.vns, "web": VNInstance("web", 100, "alice", vaps=(
        VAP("web-2", "eth2", ((100, 101),)),))})
    with refused(ReplyReason.INVALID_PARAMETERS):
        table.plan(VM1, a.desired, reserve=True, previous=a, settings=without)
    gone = replace(s, vns={k: v for k, v in s.vns.items() if k != "web"})
    with refused(ReplyReason.UNKNOWN_VN):
        table.plan(VM1, a.desired, reserve=True, previous=a, settings=gone)


def _vn_tree(count: int, max_vns: int | None) -> etree._Element:
    vn = "urn:nvo3-netconf:yang:nvo3-vn"
    nve = "urn:nvo3-netconf:yang:nvo3-nve"
    limit = ("" if max_vns is None else f'<nve xmlns="{nve}"><resource-limits>'
             f"<max-vns>{max_vns}</max-vns></resource-limits></nve>")
    entries = "".join(f"<vn-instance><name>v{i}</name></vn-instance>" for i in range(count))
    return etree.fromstring(f'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">{limit}'
                            f'<vn-instances xmlns="{vn}">{entries}</vn-instances></data>')


def test_vn_limit_counts_the_vn_instances_against_max_vns() -> None:
    check_vn_limit(_vn_tree(0, None))
    check_vn_limit(_vn_tree(3, 3))
    check_vn_limit(_vn_tree(4000, None))  # the default of max-vns
    with pytest.raises(OperationFailedError) as info:
        check_vn_limit(_vn_tree(4001, None))
    assert info.value.app_tag == "too-many-elements"
    assert info.value.path == "/vn:vn-instances/vn:vn-instance[vn:name='v4000']"
    with pytest.raises(OperationFailedError) as info:
        check_vn_limit(_vn_tree(3, 1))
    assert info.value.path == "/vn:vn-instances/vn:vn-instance[vn:name='v1']"
    assert "3 are configured" in str(info.value) and "at most 1" in str(info.value)
