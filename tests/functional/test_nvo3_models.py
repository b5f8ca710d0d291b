"""The agent with the NVO3 models: the full example configuration, identityref values
through edits, rollbacks and copy-config, and YANG constraint errors of the models.
"""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError as NcRPCError

from nvo3_netconf.schema import Validator, YangContext
from tests.conftest import ROOT, STANDARD_DIR, YANG_DIR
from tests.functional.test_protocol import NC

VN = "urn:nvo3-netconf:yang:nvo3-vn"
EXAMPLE = (ROOT / "examples" / "data" / "nve-full.xml").read_text(encoding="utf-8")


def vn_config(encapsulation: str, *, attr: str = "") -> str:
    # xmlns:e sits on <config>: lxml (in ncclient) would drop it from <encapsulation>,
    # whose ancestors declare the same URI, before the request is even sent.
    return (
        f'<config xmlns="{NC}" xmlns:e="{VN}"><tenants xmlns="{VN}"><tenant>'
        f"<tenant-id>t1</tenant-id></tenant></tenants>"
        f'<vn-instances xmlns="{VN}" xmlns:nc="{NC}"><vn-instance{attr}>'
        f"<name>blue</name><vnid>100</vnid><tenant>t1</tenant>"
        f"<encapsulation>{encapsulation}</encapsulation>"
        f"</vn-instance></vn-instances></config>"
    )


def copy_inline(m, content: str) -> None:
    """<copy-config> from inline content (ncclient has no form for it)."""
    m.dispatch(etree.fromstring(
        f'<copy-config xmlns="{NC}"><target><running/></target><source>'
        f"<config>{content}</config></source></copy-config>"))


def encapsulation(m) -> str:
    root = etree.fromstring(m.get_config(source="running").data_xml.encode())
    leaf = root.find(f".//{{{VN}}}encapsulation")
    assert leaf is not None
    prefix, _, name = leaf.text.rpartition(":")
    return f"{{{leaf.nsmap[prefix or None]}}}{name}"


def test_full_example_configuration_is_accepted_and_returned_valid(connect) -> None:
    m = connect()
    copy_inline(m, EXAMPLE)
    data = m.get_config(source="running").data_xml
    with YangContext.load([YANG_DIR, STANDARD_DIR]) as context:
        body = b"".join(etree.tostring(c) for c in etree.fromstring(data.encode()))
        Validator(context).validate(body)


def test_identityref_survives_replace_rollback_and_copy(connect) -> None:
    m = connect()
    m.edit_config(target="running", config=vn_config("e:vxlan"))
    assert encapsulation(m) == f"{{{VN}}}vxlan"
    m.edit_config(target="running", config=vn_config("e:geneve"))
    assert encapsulation(m) == f"{{{VN}}}geneve"
    with pytest.raises(NcRPCError):  # fails after the leaf was replaced: rolled back
        m.edit_config(target="running", config=vn_config("e:nvgre").replace(
            "<vnid>100</vnid>", "<vnid>0</vnid>"))
    assert encapsulation(m) == f"{{{VN}}}geneve"
    m.copy_config(source="running", target="startup")
    m.copy_config(source="startup", target="candidate")
    m.commit()
    assert encapsulation(m) == f"{{{VN}}}geneve"


def test_vn_of_another_tenant_is_refused_by_the_model(connect) -> None:
    m = connect()
    copy_inline(m, EXAMPLE)
    root = etree.fromstring(EXAMPLE.join(["<x>", "</x>"]).encode())
    vm_ns = "urn:nvo3-netconf:yang:nvo3-vm"
    vm = root.find(f"{{{vm_ns}}}vms/{{{vm_ns}}}vm")
    vnic = vm.find(f"{{{vm_ns}}}vnic")
    other = "bob-app" if "alice" in vnic.findtext(f"{{{vm_ns}}}vn") else "alice-web"
    vm_id, mac = vm.findtext(f"{{{vm_ns}}}vm-id"), vnic.findtext(f"{{{vm_ns}}}mac")
    # the vNIC's VAP belongs to its old VN: remove it so only the tenant rule is broken
    edit = (f'<config xmlns="{NC}" xmlns:nc="{NC}"><vms xmlns="{vm_ns}"><vm><vm-id>{vm_id}'
            f"</vm-id><vnic><mac>{mac}</mac><vn>{other}</vn>"
            '<vap nc:operation="remove"/><vid nc:operation="remove"/></vnic></vm></vms></config>')
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=edit)
    assert info.value.tag == "operation-failed"
    assert info.value.app_tag is not None
    assert "another tenant" in info.value.message
    assert info.value.path.strip() == (f"/vm:vms/vm:vm[vm:vm-id='{vm_id}']"
                                       f"/vm:vnic[vm:mac='{mac}']/vm:vn")


def test_get_filter_on_a_config_leaf_keeps_the_state_beside_it(connect) -> None:
    """<get> filters configuration and state together (RFC 6241 sec. 7.7).

    A predicate or content match on ``vnid`` (configuration) selects the VN's ``state``
    too; netconf-console2 and yangcli found it missing.
    """
    m = connect()
    m.edit_config(target="running", config=vn_config("e:vxlan"))
    x = {"vn": VN}
    for flt in (("xpath", ({"vn": VN}, "/vn:vn-instances/vn:vn-instance[vn:vnid=100]")),
                ("subtree", f'<vn-instances xmlns="{VN}"><vn-instance><vnid>100</vnid>'
                            "</vn-instance></vn-instances>")):
        data = m.get(filter=flt).data_ele
        assert data.xpath("//vn:vn-instance/vn:name/text()", namespaces=x) == ["blue"]
        assert data.xpath("//vn:vn-instance/vn:state/vn:oper-status/text()",
                          namespaces=x) == ["up"], flt[0]
    # A match on state selects the configuration beside it; a miss selects nothing.
    data = m.get(filter=("xpath", ({"vn": VN},
                                   "/vn:vn-instances/vn:vn-instance[vn:state/vn:vm-count=0]"))
                 ).data_ele
    assert data.xpath("//vn:vn-instance/vn:vnid/text()", namespaces=x) == ["100"]
    data = m.get(filter=("xpath", ({"vn": VN}, "/vn:vn-instances/vn:vn-instance[vn:vnid=7]"))
                 ).data_ele
    assert len(data) == 0


NVE = "urn:nvo3-netconf:yang:nvo3-nve"


def vns_config(*names: str, max_vns: int | None = None, operation: str = "merge") -> str:
    """VN instances of tenant t1 (VNIDs 100, 101...), and max-vns when given."""
    return (f'<config xmlns="{NC}">{vns_content(*names, max_vns=max_vns, operation=operation)}'
            "</config>")


def vns_content(*names: str, max_vns: int | None = None, operation: str = "merge") -> str:
    """What :func:`vns_config` holds, without <config>."""
    entries = "".join(f"<vn-instance><name>{name}</name><vnid>{100 + i}</vnid>"
                      "<tenant>t1</tenant></vn-instance>" for i, name in enumerate(names))
    limit = ("" if max_vns is None else f'<nve xmlns="{NVE}"><resource-limits>'
             f"<max-vns>{max_vns}</max-vns></resource-limits></nve>")
    return (f'<tenants xmlns="{VN}"><tenant><tenant-id>t1</tenant-id></tenant></tenants>'
            f'{limit}<vn-instances xmlns="{VN}" xmlns:nc="{NC}" nc:operation="{operation}">'
            f"{entries}</vn-instances>")


def vn_names(m, source: str = "running") -> list[str]:
    root = etree.fromstring(m.get_config(source=source).data_xml.encode())
    return root.xpath("//vn:vn-instance/vn:name/text()", namespaces={"vn": VN})


def check_too_many(info: pytest.ExceptionInfo[NcRPCError], victim: str, count: int,
                   maximum: int) -> None:
    error = info.value
    assert error.tag == "operation-failed"
    assert error.app_tag == "too-many-elements"
    assert error.path is not None
    assert error.path.strip() == f"/vn:vn-instances/vn:vn-instance[vn:name='{victim}']"
    assert f"{count} are configured" in error.message and f"at most {maximum}" in error.message
    assert "max-vns" in error.message


def test_max_vns_refuses_a_configuration_with_more_vn_instances(connect) -> None:
    """max-vns (/nve:nve/resource-limits) is enforced on edit, commit, copy and validate."""
    m = connect()
    m.edit_config(target="running", config=vns_config("a", "b", max_vns=2))
    before = m.get_config(source="running").data_xml
    # edit-config on running: one more VN than the limit
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=vns_config("c").replace("<vnid>100<",
                                                                         "<vnid>102<"))
    check_too_many(info, "c", 3, 2)
    assert m.get_config(source="running").data_xml == before
    # lowering the limit below the VNs in place
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="running", config=vns_config(max_vns=1))
    check_too_many(info, "b", 2, 1)
    assert m.get_config(source="running").data_xml == before
    # the limit counts, not a VN in particular: a replace to two other VNs is fine
    m.edit_config(target="running", config=vns_config("x", "y", operation="replace"))
    assert vn_names(m) == ["x", "y"]
    # candidate: a test-then-set edit is refused, one with test-option set is refused by
    # <validate> and <commit>, and running does not change
    with pytest.raises(NcRPCError) as info:
        m.edit_config(target="candidate", config=vns_config("x", "y", "z"))
    check_too_many(info, "z", 3, 2)
    m.edit_config(target="candidate", config=vns_config("x", "y", "z"), test_option="set")
    with pytest.raises(NcRPCError) as info:
        m.validate(source="candidate")
    check_too_many(info, "z", 3, 2)
    with pytest.raises(NcRPCError) as info:
        m.commit()
    check_too_many(info, "z", 3, 2)
    m.discard_changes()
    assert vn_names(m) == ["x", "y"]
    # copy-config of inline content
    with pytest.raises(NcRPCError) as info:
        copy_inline(m, vns_content("p", "q", "r", max_vns=2))
    check_too_many(info, "r", 3, 2)
    assert vn_names(m) == ["x", "y"]
    # raising the limit lets the third VN in
    m.edit_config(target="running", config=vns_config("x", "y", "z", max_vns=3))
    assert vn_names(m) == ["x", "y", "z"]
