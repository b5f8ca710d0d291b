"""``Validator.validate_operation``: RPC input, RPC output and notifications with libyang."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from nvo3_netconf.constants import ErrorTag
from nvo3_netconf.schema import OperationKind, SchemaValidationError, Validator, YangContext
from tests.conftest import ROOT, STANDARD_DIR, YANG_DIR

T = "urn:nvo3-netconf:yang:nvo3-tes"
VM1 = "6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a01"
EXAMPLES = ROOT / "examples" / "data"
KINDS = {"rpc": OperationKind.RPC, "reply": OperationKind.REPLY,
         "notif": OperationKind.NOTIFICATION}


@pytest.fixture(scope="module")
def validator() -> Iterator[Validator]:
    with YangContext.load([YANG_DIR, STANDARD_DIR]) as context:
        yield Validator(context)


def body(path: Path) -> bytes:
    root = etree.fromstring(path.read_bytes(), etree.XMLParser(remove_comments=True))
    return etree.tostring(root)


@pytest.mark.parametrize("path", sorted(
    p for p in EXAMPLES.glob("*.xml") if p.name.split("-")[0] in KINDS
), ids=lambda p: p.name)
def test_the_examples_validate(validator: Validator, path: Path) -> None:
    validator.validate_operation(body(path), KINDS[path.name.split("-")[0]])


def test_rpc_input_comes_back_with_its_defaults(validator: Validator) -> None:
    out = validator.validate_rpc(
        f'<associate xmlns="{T}"><vm-id>{VM1}</vm-id><tenant>a</tenant><vn><vn-name>b'
        "</vn-name><vnic><mac>52:54:00:00:00:01</mac></vnic></vn></associate>")
    root = etree.fromstring(out)
    assert root.findtext(f"{{{T}}}filter-format") == "mac-vid"
    assert root.findtext(f"{{{T}}}vm-id-format") == "uuid"
    assert root.findtext(f"{{{T}}}vn/{{{T}}}vnic/{{{T}}}requested-vid") == "0"


@pytest.mark.parametrize(("xml", "tag", "app_tag", "path", "bad"), [
    (f'<suspend xmlns="{T}"><vm-id>{VM1}</vm-id><colour/></suspend>',
     ErrorTag.UNKNOWN_ELEMENT, None, "/tes:suspend", "colour"),
    (f'<suspend xmlns="{T}"/>', ErrorTag.MISSING_ELEMENT, None, "/tes:suspend/tes:vm-id",
     "vm-id"),
    (f'<associate xmlns="{T}"><vm-id>{VM1}</vm-id><tenant>a</tenant><vn><vn-name>b</vn-name>'
     "<vnic><requested-pcp>9</requested-pcp></vnic></vn></associate>",
     ErrorTag.INVALID_VALUE, "pcp-out-of-range",
     "/tes:associate/tes:vn[1]/tes:vnic[1]/tes:requested-pcp", None),
    (f'<associate xmlns="{T}"><vm-id>{VM1}</vm-id><tenant>a</tenant><indications>'
     "<suspension/><resume/></indications></associate>",
     ErrorTag.OPERATION_FAILED, "conflicting-indications", "/tes:associate/tes:indications",
     None),
])
def test_rpc_input_errors(
    validator: Validator, xml: str, tag: ErrorTag, app_tag: str | None, path: str,
    bad: str | None,
) -> None:
    with pytest.raises(SchemaValidationError) as info:
        validator.validate_rpc(xml)
    error = info.value.to_rpc_error()
    assert (error.tag, error.app_tag, error.path) == (tag, app_tag, path)
    assert error.info.get("bad-element") == bad
    assert error.path_namespaces == {"tes": T}


def test_reply_reason_only_with_fail(validator: Validator) -> None:
    ok = f'<associate xmlns="{T}"><result>success</result></associate>'
    validator.validate_operation(ok, OperationKind.REPLY)
    with pytest.raises(SchemaValidationError):  # fail needs its reason
        validator.validate_operation(ok.replace("success", "fail"), OperationKind.REPLY)
