"""The nvo3 YANG modules: lint cleanliness, example documents, and rule-by-rule rejection.

Every own module in ``yang/`` must be clean under ``pyang --strict --lint`` and
``yanglint``; the examples in ``examples/data/`` must validate; each document of
``tests/data/invalid/`` breaks exactly one rule and must be rejected with a precise
message and data path, both by ``yanglint`` and by the agent's own
:class:`nvo3_netconf.schema.YangContext` / :class:`Validator` (which also yields the
NETCONF error-tag and error-app-tag).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.yang import nvo3_invalid_docs

ROOT = Path(__file__).resolve().parents[2]
YANG = ROOT / "yang"
STD = YANG / "standard"
EXAMPLES = ROOT / "examples" / "data"
INVALID = ROOT / "tests" / "data" / "invalid"
PYANG = Path(sys.executable).parent / "pyang"
OWN_MODULES = sorted(YANG.glob("nvo3-*.yang"))

needs_yanglint = pytest.mark.skipif(shutil.which("yanglint") is None, reason="no yanglint")

_ERROR = re.compile(r'libyang err : (?P<message>.*?) \((?:Data|Schema) location "(?P<path>[^"]*)"')


def yanglint(kind: str, *files: Path, merge: bool = False) -> subprocess.CompletedProcess[str]:
    """Run yanglint over all project modules and ``files`` as data of type ``kind``."""
    args = ["yanglint", "-p", str(STD), "-p", str(YANG), "-t", kind]
    if merge:
        args.append("-m")
    args += [str(p) for p in sorted(YANG.glob("*.yang"))] + [str(f) for f in files]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False)


def first_error(stderr: str) -> tuple[str, str]:
    """The (message, data path) of the first libyang error in yanglint's output."""
    match = _ERROR.search(stderr)
    assert match, f"no libyang error with a location in: {stderr!r}"
    return match["message"], match["path"]


# ---------------------------------------------------------------------------
# Schema cleanliness
# ---------------------------------------------------------------------------


def test_own_modules_exist() -> None:
    names = {p.name.split("@")[0] for p in OWN_MODULES}
    assert names == {
        "nvo3-types",
        "nvo3-vn",
        "nvo3-nve",
        "nvo3-policy",
        "nvo3-vm",
        "nvo3-mapping",
        "nvo3-tes",
        "nvo3-nacm-deviations",
    }
    for path in OWN_MODULES:
        assert path.name.endswith("@2026-11-21.yang"), path.name


@pytest.mark.skipif(not PYANG.exists(), reason="no pyang in the environment")
def test_pyang_strict_lint_is_clean() -> None:
    result = subprocess.run(
        [str(PYANG), "--strict", "--lint", "-p", f"{STD}:{YANG}", *map(str, YANG.glob("*.yang"))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout + result.stderr == ""


@needs_yanglint
def test_yanglint_schema_is_clean() -> None:
    result = subprocess.run(
        ["yanglint", "-p", str(STD), "-p", str(YANG), *map(str, YANG.glob("*.yang"))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout + result.stderr == ""


@needs_yanglint
@pytest.mark.parametrize("module", OWN_MODULES, ids=lambda p: p.name.split("@")[0])
def test_each_module_compiles_alone(module: Path) -> None:
    """A module pulls in what it needs, whatever the load order (libyang implements on import)."""
    result = subprocess.run(
        ["yanglint", "-p", str(STD), "-p", str(YANG), str(module)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# ---------------------------------------------------------------------------
# Statement-level conventions (pyang's parsed modules)
# ---------------------------------------------------------------------------

#: Statements that must carry a description (data, RPC and notification nodes and
#: every named definition).
_NEEDS_DESCRIPTION = {
    "module",
    "revision",
    "container",
    "leaf",
    "leaf-list",
    "list",
    "choice",
    "case",
    "anydata",
    "anyxml",
    "rpc",
    "action",
    "notification",
    "typedef",
    "identity",
    "grouping",
    "feature",
    "enum",
    "bit",
}


def _pyang_modules() -> list[object]:
    pyang_context = pytest.importorskip("pyang.context")
    pyang_repository = pytest.importorskip("pyang.repository")
    repo = pyang_repository.FileRepository(f"{STD}:{YANG}", use_env=False)
    ctx = pyang_context.Context(repo)
    modules = [ctx.add_module(str(p), p.read_text(encoding="utf-8")) for p in OWN_MODULES]
    ctx.validate()
    assert all(m is not None for m in modules)
    return modules


def _walk(stmt: object) -> Iterator[object]:
    yield stmt
    for sub in stmt.substmts:  # type: ignore[attr-defined]
        yield from _walk(sub)


def test_every_node_has_a_description() -> None:
    missing = [
        f"{s.pos}: {s.keyword} {s.arg}"
        for module in _pyang_modules()
        for s in _walk(module)
        if s.keyword in _NEEDS_DESCRIPTION and s.search_one("description") is None
    ]
    assert missing == []


def test_error_app_tag_convention() -> None:
    """Type-restriction app-tags end in -out-of-range/-malformed; must app-tags never do.

    The agent maps the former to error-tag invalid-value (RFC 7950 sec. 8.3.1) and the
    latter to operation-failed (RFC 7950 sec. 15.4); see the nvo3-types description.
    """
    type_suffixes = ("-out-of-range", "-malformed")
    wrong = []
    seen = 0
    for module in _pyang_modules():
        for stmt in _walk(module):
            if stmt.keyword != "error-app-tag":
                continue
            seen += 1
            is_type = stmt.parent.keyword in ("range", "length", "pattern")
            if is_type != stmt.arg.endswith(type_suffixes):
                wrong.append(f"{stmt.pos}: {stmt.parent.keyword} -> {stmt.arg}")
    assert seen > 20
    assert wrong == []


# ---------------------------------------------------------------------------
# Valid examples (yanglint)
# ---------------------------------------------------------------------------


@needs_yanglint
def test_full_configuration_is_valid() -> None:
    result = yanglint("config", EXAMPLES / "nve-full.xml")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@needs_yanglint
def test_full_configuration_has_everything() -> None:
    """The example exercises every top-level container and the required variety."""
    text = (EXAMPLES / "nve-full.xml").read_text(encoding="utf-8")
    for element in (
        "<nve ",
        "<tenants ",
        "<vn-instances ",
        "<acls ",
        "<qos-profiles ",
        "<vm-groups ",
        "<vms ",
        "<mappings ",
    ):
        assert element in text
    assert text.count("<vm>") >= 12
    assert text.count("<tenant>\n") >= 2
    for encapsulation in ("vn:vxlan", "vn:geneve", "vn:nvgre", "vn:mpls-over-gre"):
        assert encapsulation in text
    assert "<flood-list>" in text and "<multicast-group>" in text


@needs_yanglint
def test_operational_state_is_valid() -> None:
    result = yanglint("data", EXAMPLES / "nve-full.xml", EXAMPLES / "nve-state.xml", merge=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


_MESSAGE_KINDS = {"rpc": "rpc", "reply": "reply", "notif": "notif"}


@needs_yanglint
@pytest.mark.parametrize(
    "example",
    sorted(p for p in EXAMPLES.glob("*.xml") if p.name.split("-")[0] in _MESSAGE_KINDS),
    ids=lambda p: p.stem,
)
def test_signalling_examples_are_valid(example: Path) -> None:
    result = yanglint(_MESSAGE_KINDS[example.name.split("-")[0]], example)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# ---------------------------------------------------------------------------
# Invalid documents (yanglint)
# ---------------------------------------------------------------------------

VM1 = "/nvo3-vm:vms/vm[vm-id='6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a01']"
VNIC1 = f"{VM1}/vnic[mac='52:54:00:a1:00:01']"
ALICE_WEB = "/nvo3-vn:vn-instances/vn-instance[name='alice-web']"

#: file stem -> (yanglint data type, message fragment, exact data path,
#:               error-tag, error-app-tag reported by the agent's validator)
INVALID_CASES: dict[str, tuple[str, str, str, str, str | None]] = {
    "vnid-zero": (
        "config",
        "A VNID is a 24-bit value in 1..16777215",
        f"{ALICE_WEB}/vnid",
        "invalid-value",
        "vnid-out-of-range",
    ),
    "vnid-too-big": (
        "config",
        "A VNID is a 24-bit value in 1..16777215",
        f"{ALICE_WEB}/vnid",
        "invalid-value",
        "vnid-out-of-range",
    ),
    "vid-4095": (
        "config",
        "A requested VID lies in 1..4094, or is 0 (the null VID)",
        f"{VNIC1}/vid",
        "invalid-value",
        "vid-out-of-range",
    ),
    "pcp-8": (
        "config",
        "A PCP (802.1Q priority code point) lies in 0..7.",
        f"{VNIC1}/pcp",
        "invalid-value",
        "pcp-out-of-range",
    ),
    "malformed-mac": (
        "config",
        'Unsatisfied pattern - "52:54:00:zz:00:01" does not conform',
        f"{VM1}/vnic/mac",
        "invalid-value",
        None,
    ),
    "vnic-unknown-vn": (
        "config",
        'Invalid leafref value "alice-nowhere" - no target instance',
        f"{VNIC1}/vn",
        "data-missing",
        "instance-required",
    ),
    "duplicate-vnid": (
        "config",
        'Unique data leaf(s) "vnid" not satisfied',
        "/nvo3-vn:vn-instances/vn-instance[name='bob-app']",
        "operation-failed",
        "data-not-unique",
    ),
    "vm-vn-other-tenant": (
        "config",
        "The vNIC attaches to a VN of another tenant than the VM's.",
        f"{VNIC1}/vn",
        "operation-failed",
        "vn-tenant-mismatch",
    ),
    "policy-missing-acl": (
        "config",
        'Invalid leafref value "alice-web-out" - no target instance "/acl:acls/acl:acl/acl:name"',
        f"{VM1}/vn-policy[vn='alice-web']/ingress-acl[.='alice-web-out']",
        "data-missing",
        "instance-required",
    ),
    "mapping-unknown-vn": (
        "config",
        'Invalid leafref value "carol-web" - no target instance',
        "/nvo3-mapping:mappings/vn[name='carol-web']/name",
        "data-missing",
        "instance-required",
    ),
    "vid-range-reversed": (
        "config",
        "The end of a VID range must not be lower than its start.",
        f"{ALICE_WEB}/vap[name='eth1-web']/vid-range[start='100']/end",
        "operation-failed",
        "invalid-vid-range",
    ),
    "vid-outside-vap": (
        "config",
        "The VID lies outside every VID range of the vNIC's VAP.",
        f"{VNIC1}/vid",
        "operation-failed",
        "vid-outside-vap-ranges",
    ),
    "vm-id-format-mismatch": (
        "config",
        "The vm-id is not a lower-case UUID although its vm-id-format is 'uuid'.",
        "/nvo3-vm:vms/vm[vm-id='vm-one']/vm-id",
        "operation-failed",
        "vm-id-format-mismatch",
    ),
    "multicast-group-unicast": (
        "config",
        "The multicast group must be an IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast",
        f"{ALICE_WEB}/multicast-group",
        "operation-failed",
        "not-a-multicast-address",
    ),
    "mpls-vnid-too-big": (
        "config",
        "With the mpls-over-gre encapsulation the VNID is an MPLS label",
        f"{ALICE_WEB}/vnid",
        "operation-failed",
        "vnid-not-mpls-label",
    ),
    "mapping-origin-learned": (
        "config",
        "A configured mapping entry cannot have origin 'learned'",
        "/nvo3-mapping:mappings/vn[name='alice-web']/entry[inner-mac='52:54:00:a2:00:01']/origin",
        "operation-failed",
        "learned-origin-configured",
    ),
    "aging-below-keepalive": (
        "config",
        "The aging time must be longer than the keep-alive interval",
        "/nvo3-nve:nve/vm-aging/aging-time",
        "operation-failed",
        "aging-shorter-than-keep-alive",
    ),
    "rpc-associate-no-vn": (
        "rpc",
        "An associate without keep-alive, suspension, resume or emigration indication "
        "must carry at least one VN.",
        "/nvo3-tes:associate",
        "operation-failed",
        "no-vn",
    ),
    "rpc-vn-not-identified": (
        "rpc",
        "Each VN must be identified by vn-name or vnid.",
        "/nvo3-tes:associate/vn[1]",
        "operation-failed",
        "vn-not-identified",
    ),
    "rpc-mac-vid-without-mac": (
        "rpc",
        "The mac-vid and groupid-mac-vid filter formats need a MAC address",
        "/nvo3-tes:associate/vn[1]/vnic[1]",
        "operation-failed",
        "filter-format-needs-mac",
    ),
    "rpc-groupid-format-without-group": (
        "rpc",
        "The groupid-vid and groupid-mac-vid filter formats need a group-id",
        "/nvo3-tes:pre-associate/vn[1]/vnic[1]",
        "operation-failed",
        "filter-format-needs-group",
    ),
    "rpc-conflicting-indications": (
        "rpc",
        "At most one of the immigration, suspension, resume and emigration indications",
        "/nvo3-tes:associate/indications",
        "operation-failed",
        "conflicting-indications",
    ),
    "rpc-vm-id-format-mismatch": (
        "rpc",
        "The vm-id is not a lower-case colon-separated MAC address",
        "/nvo3-tes:suspend/vm-id",
        "operation-failed",
        "vm-id-format-mismatch",
    ),
    "rpc-requested-vid-4095": (
        "rpc",
        "A requested VID lies in 1..4094, or is 0 (the null VID)",
        "/nvo3-tes:associate/vn[1]/vnic[1]/requested-vid",
        "invalid-value",
        "vid-out-of-range",
    ),
}

CONFIG_CASES = sorted(k for k, v in INVALID_CASES.items() if v[0] == "config")


def _schema_layer_params() -> list[object]:
    """Every configuration case, for the agent's own schema layer."""
    return [pytest.param(case, id=case) for case in CONFIG_CASES]


def test_every_invalid_document_is_in_the_table() -> None:
    on_disk = {p.stem for p in INVALID.glob("*.xml")}
    assert on_disk == set(INVALID_CASES)


def test_invalid_documents_match_their_generator() -> None:
    expected = nvo3_invalid_docs.render()
    for name, text in expected.items():
        assert (INVALID / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python tests/yang/nvo3_invalid_docs.py"
        )
    assert set(expected) == {p.name for p in INVALID.glob("*.xml")}


@needs_yanglint
def test_base_of_invalid_documents_is_valid(tmp_path: Path) -> None:
    """So that each configuration case breaks exactly the one rule it substitutes."""
    base = tmp_path / "base.xml"
    base.write_text(nvo3_invalid_docs.base_document(), encoding="utf-8")
    result = yanglint("config", base)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@needs_yanglint
@pytest.mark.parametrize("case", sorted(INVALID_CASES))
def test_yanglint_rejects_invalid_document(case: str) -> None:
    kind, fragment, path, _tag, _app_tag = INVALID_CASES[case]
    result = yanglint(kind, INVALID / f"{case}.xml")
    assert result.returncode != 0
    message, data_path = first_error(result.stderr)
    assert fragment in message
    assert data_path == path
    # Messages are single sentences, not YANG-indented multi-line text.
    assert "\n" not in message


# ---------------------------------------------------------------------------
# The agent's own schema layer (nvo3_netconf.schema)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Iterator[object]:
    """A Validator over a context implementing the nvo3 modules and RFC 8519.

    ietf-access-control-list is named explicitly so that its features (and with them
    identities such as ipv4-acl-type) are enabled; see
    test_default_context_accepts_acl_types for the default load.
    """
    schema = pytest.importorskip("nvo3_netconf.schema")
    modules = [p.name.split("@")[0] for p in OWN_MODULES] + ["ietf-access-control-list"]
    with schema.YangContext.load([YANG, STD], modules=modules) as ctx:
        yield schema.Validator(ctx)


def test_schema_layer_accepts_full_configuration(validator: object) -> None:
    from nvo3_netconf.schema import DataKind

    validator.validate(  # type: ignore[attr-defined]
        (EXAMPLES / "nve-full.xml").read_text(encoding="utf-8"), DataKind.CONFIG
    )


@needs_yanglint
def test_schema_layer_accepts_operational_data(validator: object) -> None:
    from nvo3_netconf.schema import DataKind

    merged = subprocess.run(
        [
            "yanglint",
            "-p",
            str(STD),
            "-p",
            str(YANG),
            "-t",
            "data",
            "-m",
            "-f",
            "xml",
            *map(str, sorted(YANG.glob("*.yang"))),
            str(EXAMPLES / "nve-full.xml"),
            str(EXAMPLES / "nve-state.xml"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    validator.validate(merged, DataKind.OPERATIONAL)  # type: ignore[attr-defined]


def test_schema_layer_rejects_state_in_configuration(validator: object) -> None:
    from nvo3_netconf.schema import DataKind, SchemaValidationError

    with pytest.raises(SchemaValidationError):
        validator.validate(  # type: ignore[attr-defined]
            (EXAMPLES / "nve-state.xml").read_text(encoding="utf-8"), DataKind.CONFIG
        )


@pytest.mark.parametrize("case", _schema_layer_params())
def test_schema_layer_rejects_invalid_document(validator: object, case: str) -> None:
    from nvo3_netconf.schema import DataKind, SchemaValidationError

    _kind, fragment, path, tag, app_tag = INVALID_CASES[case]
    with pytest.raises(SchemaValidationError) as caught:
        validator.validate(  # type: ignore[attr-defined]
            (INVALID / f"{case}.xml").read_text(encoding="utf-8"), DataKind.CONFIG
        )
    issue = caught.value.issues[0]
    assert fragment in issue.message
    assert issue.path == path
    assert issue.app_tag == app_tag
    assert issue.error_tag.value == tag


def test_default_context_accepts_acl_types() -> None:
    schema = pytest.importorskip("nvo3_netconf.schema")
    with schema.YangContext.load([YANG, STD]) as ctx:
        schema.Validator(ctx).validate(
            (EXAMPLES / "nve-full.xml").read_text(encoding="utf-8"), schema.DataKind.CONFIG
        )
