"""RFC 8341 NACM: rule paths, the configuration, and the decisions of the rule matcher.

The decisions run against the project's real modules and the example NVE
configuration (``examples/data/nve-full.xml``), edited through a DatastoreManager, so
that writes are judged on the edit engine's own change lists.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from lxml import etree

from nvo3_netconf.constants import NS_NACM, NS_NC, NS_NVO3_VM, NS_NVO3_VN, Datastore
from nvo3_netconf.datastore.store import DatastoreManager
from nvo3_netconf.errors import AccessDeniedError, RPCError
from nvo3_netconf.nacm import (
    Access,
    Nacm,
    PathError,
    RuleKind,
    parse_access,
    parse_config,
    parse_path,
)
from nvo3_netconf.schema import SchemaTree, Validator, YangContext
from tests.conftest import ROOT, STANDARD_DIR, YANG_DIR

VM, VN, N = NS_NVO3_VM, NS_NVO3_VN, NS_NACM
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
TES = "urn:nvo3-netconf:yang:nvo3-tes"
ALICE_VM = "6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a01"
MODULES = {"nvo3-vm": VM, "vm": VM, "nvo3-vn": VN, "vn": VN, "ietf-netconf-acm": N,
           "nvo3-nve": "urn:nvo3-netconf:yang:nvo3-nve"}


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def yang() -> Iterator[YangContext]:
    with YangContext.load([YANG_DIR, STANDARD_DIR]) as context:
        yield context


@pytest.fixture(scope="module")
def schema(yang: YangContext) -> SchemaTree:
    return SchemaTree(yang)


def example_config() -> etree._Element:
    text = (ROOT / "examples" / "data" / "nve-full.xml").read_text().split("-->", 1)[1]
    return etree.fromstring(f'<config xmlns="{NS_NC}">{text}</config>',
                            etree.XMLParser(remove_blank_text=True))


@pytest.fixture(scope="module")
def loaded(yang: YangContext, schema: SchemaTree) -> DatastoreManager:
    datastores = DatastoreManager(validator=Validator(yang), schema=schema)
    datastores.edit(Datastore.RUNNING, example_config(), session_id=1)
    return datastores


@pytest.fixture
def datastores(loaded: DatastoreManager, yang: YangContext, schema: SchemaTree
               ) -> DatastoreManager:
    """A fresh manager holding the example configuration (copied, cheap)."""
    fresh = DatastoreManager(validator=Validator(yang), schema=schema)
    fresh.replace(Datastore.RUNNING, loaded.snapshot(Datastore.RUNNING), session_id=1)
    return fresh


def nacm_xml(body: str, **leaves: str) -> etree._Element:
    extra = "".join(f"<{k.replace('_', '-')}>{v}</{k.replace('_', '-')}>"
                    for k, v in leaves.items())
    return etree.fromstring(
        f'<nacm xmlns="{N}" xmlns:vm="{VM}" xmlns:vn="{VN}" xmlns:tes="{TES}">'
        f"{extra}{body}</nacm>")


def rule_list(name: str, group: str, *rules: str) -> str:
    return f"<rule-list><name>{name}</name><group>{group}</group>{''.join(rules)}</rule-list>"


def rule(name: str, action: str, *, module: str = "*", ops: str = "*", path: str = "",
         rpc: str = "", notification: str = "") -> str:
    target = (f"<path>{path}</path>" if path else f"<rpc-name>{rpc}</rpc-name>" if rpc
              else f"<notification-name>{notification}</notification-name>"
              if notification else "")
    return (f"<rule><name>{name}</name><module-name>{module}</module-name>{target}"
            f"<access-operations>{ops}</access-operations><action>{action}</action></rule>")


def make_nacm(schema: SchemaTree, config: etree._Element | None, *,
              groups: dict[str, tuple[str, ...]] | None = None, recovery: str | None = None,
              bootstrap: str | None = None) -> Nacm:
    return Nacm(schema=schema, read_config=lambda: copy.deepcopy(config), modules=MODULES,
                external_groups=lambda user: (groups or {}).get(user, ()),
                recovery_user=recovery, bootstrap_group=bootstrap)


TENANT_ALICE = rule_list(
    "alice", "tenant-alice",
    rule("own-vms", "permit", path="/vm:vms/vm:vm[vm:tenant='alice']"),
    rule("other-vms", "deny", path="/vm:vms/vm:vm"),
    rule("own-vns", "permit", path="/vn:vn-instances/vn:vn-instance[vn:tenant=$USER]"),
    rule("other-vns", "deny", path="/vn:vn-instances/vn:vn-instance"),
    rule("own-vm-state", "permit", ops="read",
         path="/vm:vm-state/vm:vm[vm:tenant='alice']"),
    rule("no-vm-state", "deny", path="/vm:vm-state/vm:vm"),
    rule("own-tenant", "permit", ops="read", path="/vn:tenants/vn:tenant[vn:tenant-id='alice']"),
    rule("config-changes", "permit", ops="read", module="ietf-netconf-notifications",
         notification="netconf-config-change"),
    rule("nothing-else", "deny", ops="create read update delete"),
)


@pytest.fixture
def tenant(schema: SchemaTree) -> Nacm:
    return make_nacm(schema, nacm_xml(TENANT_ALICE), groups={"alice": ("tenant-alice",)})


def edit(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NS_NC}" xmlns:nc="{NS_NC}">{body}</config>')


# ----------------------------------------------------------------- rule paths
def test_path_prefixes_come_from_the_declarations_then_module_names() -> None:
    nsmap = {"v": VM}
    path = parse_path("/v:vms/v:vm[v:vm-id='x']/vnic", lambda p: nsmap.get(p) or MODULES.get(p))
    assert [s.qname for s in path.steps] == [(VM, "vms"), (VM, "vm"), (VM, "vnic")]
    predicate = path.steps[1].predicates[0]
    assert (predicate.namespace, predicate.name, predicate.value) == (VM, "vm-id", "x")
    json_style = parse_path("/nvo3-vm:vms/vm", MODULES.get)
    assert json_style.steps[1].qname == (VM, "vm")


def test_path_predicates_user_leaf_list_and_position() -> None:
    path = parse_path("/vm:vms/vm:vm[vm:tenant=$USER][vm:vm-id=\"a'b\"]/vm:vnic[2]"
                      "/vm:ip-address[.='10.0.0.1']", MODULES.get)
    tenant, vm_id = path.steps[1].predicates
    assert tenant.user and tenant.name == "tenant"
    assert vm_id.value == "a'b"
    assert path.steps[2].predicates[0].position == 2
    assert path.steps[3].predicates[0].name is None
    assert path.steps[3].predicates[0].value == "10.0.0.1"
    assert len(parse_path("/", MODULES.get)) == 0


@pytest.mark.parametrize("text", [
    "vm:vms", "/zz:vms", "/vms", "/vm:vms[", "/vm:vms/vm:vm[vm:tenant]", "/vm:vms/vm:vm[0]",
    "/vm:vms/vm:vm[vm:tenant=alice]", "/vm:vms//vm:vm",
])
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(PathError):
        parse_path(text, MODULES.get)


def test_access_operations() -> None:
    assert parse_access("*") == Access.ALL
    assert parse_access(None) == Access.ALL
    assert parse_access("read exec") == Access.READ | Access.EXEC
    with pytest.raises(ValueError):
        parse_access("read write")


def test_configuration_with_defaults_groups_and_rule_kinds() -> None:
    config = parse_config(nacm_xml(
        "<groups><group><name>ops</name><user-name>ann</user-name><user-name>bo</user-name>"
        "</group></groups>"
        + rule_list("l", "ops", rule("a", "permit", rpc="get"),
                    rule("b", "deny", notification="*"),
                    rule("c", "permit", path="/vm:vms"),
                    rule("d", "deny", path="/nosuch:x"),
                    rule("e", "permit", ops="read update")),
        write_default="permit", enable_external_groups="false"), MODULES.get)
    assert config.enable and config.read_default and config.write_default
    assert config.exec_default and not config.external_groups
    assert config.groups_of("ann", external=("admin",)) == frozenset({"ops"})
    kinds = [(r.name, r.kind, r.broken) for r in config.rule_lists[0].rules]
    assert kinds == [("a", RuleKind.RPC, False), ("b", RuleKind.NOTIFICATION, False),
                     ("c", RuleKind.DATA, False), ("d", RuleKind.DATA, True),
                     ("e", RuleKind.ANY, False)]
    assert config.rule_lists[0].rules[4].access == Access.READ | Access.UPDATE


# ------------------------------------------------------------------------ exec
def test_exec_defaults_of_rfc_8341(schema: SchemaTree) -> None:
    user = make_nacm(schema, None).access("someone")
    assert user.exec_allowed(NS_NC, "get-config")
    assert user.exec_allowed(TES, "associate")
    assert not user.exec_allowed(NS_NC, "kill-session")  # hard-wired default deny
    assert not user.exec_allowed(NS_NC, "delete-config")
    closed = make_nacm(schema, nacm_xml("", exec_default="deny")).access("someone")
    assert not closed.exec_allowed(NS_NC, "get")
    assert closed.exec_allowed(NS_NC, "close-session")  # always allowed


def test_exec_rules_in_order_by_rpc_and_module(schema: SchemaTree) -> None:
    config = nacm_xml(rule_list(
        "tes", "tes",
        rule("tes-rpcs", "permit", module="nvo3-tes", ops="exec", rpc="*"),
        rule("kill", "permit", rpc="kill-session", ops="exec"),
        rule("rest", "deny", ops="exec"),
    ))
    user = make_nacm(schema, config, groups={"hv": ("tes",)}).access("hv")
    assert user.exec_allowed(TES, "associate") and user.exec_allowed(TES, "keep-alive")
    assert user.exec_allowed(NS_NC, "kill-session")
    assert not user.exec_allowed(NS_NC, "get")
    assert user.exec_allowed(NS_NC, "close-session")
    outsider = make_nacm(schema, config).access("nobody")  # no group: the defaults
    assert outsider.exec_allowed(NS_NC, "get") and not outsider.exec_allowed(NS_NC, "kill-session")


def test_denied_exec_is_access_denied_with_the_operation_as_path(schema: SchemaTree) -> None:
    nacm = make_nacm(schema, nacm_xml(rule_list("t", "tes", rule("x", "deny", rpc="*",
                                                                   ops="exec"))),
                     groups={"hv": ("tes",)})
    with pytest.raises(AccessDeniedError) as info:
        nacm.access("hv").check_exec(TES, "associate")
    assert info.value.type.value == "protocol"
    assert info.value.path == "/nc:rpc/nvo3-tes:associate"
    assert info.value.path_namespaces == {"nc": NS_NC, "nvo3-tes": TES}
    assert nacm.counters.denied_operations == 1


def test_recovery_user_and_disabled_nacm_bypass_everything(schema: SchemaTree) -> None:
    deny_all = nacm_xml(rule_list("all", "*", rule("no", "deny")), exec_default="deny")
    nacm = make_nacm(schema, deny_all, groups={"root": ("x",), "ann": ("x",)}, recovery="root")
    assert nacm.access("root").exec_allowed(NS_NC, "kill-session")
    assert nacm.access("root").unrestricted(Access.ALL)
    assert not nacm.access("ann").exec_allowed(NS_NC, "get")
    off = make_nacm(schema, nacm_xml("", enable_nacm="false", exec_default="deny"))
    assert off.access("ann").exec_allowed(NS_NC, "kill-session")


def test_bootstrap_group_only_while_no_rule_list_is_configured(schema: SchemaTree) -> None:
    groups = {"root": ("admin",)}
    fresh = make_nacm(schema, None, groups=groups, bootstrap="admin")
    assert fresh.access("root").unrestricted(Access.WRITE)
    assert not fresh.access("ann").unrestricted(Access.WRITE)
    configured = make_nacm(schema, nacm_xml(rule_list("m", "mon", rule("r", "permit",
                                                                        ops="read"))),
                           groups=groups, bootstrap="admin")
    assert not configured.access("root").unrestricted(Access.WRITE)


def test_external_groups_can_be_turned_off(schema: SchemaTree) -> None:
    body = rule_list("a", "admin", rule("all", "permit"))
    on = make_nacm(schema, nacm_xml(body), groups={"ann": ("admin",)})
    off = make_nacm(schema, nacm_xml(body, enable_external_groups="false"),
                    groups={"ann": ("admin",)})
    assert on.access("ann").unrestricted(Access.WRITE)
    assert not off.access("ann").unrestricted(Access.WRITE)


# ------------------------------------------------------------------------ read
def test_read_pruning_keeps_only_the_tenants_own_entries(
        datastores: DatastoreManager, tenant: Nacm) -> None:
    with datastores.reading(Datastore.RUNNING) as tree:
        before = etree.tostring(tree)
        view = tenant.access("alice").prune(tree, owned=False)
        assert etree.tostring(tree) == before  # the datastore is never touched
    assert view is not tree
    tenants = {e.findtext(f"{{{VM}}}tenant") for e in view.iter(f"{{{VM}}}vm")}
    assert tenants == {"alice"}
    assert {e.findtext(f"{{{VN}}}tenant") for e in view.iter(f"{{{VN}}}vn-instance")} == {"alice"}
    assert [e.text for e in view.iterfind(f"{{{VN}}}tenants/{{{VN}}}tenant/{{{VN}}}tenant-id")
            ] == ["alice"]
    # Everything else is hidden, and empty containers do not betray it.
    assert [etree.QName(c).localname for c in view] == ["tenants", "vn-instances", "vms"]


def test_read_defaults_hide_nacm_but_not_the_rest(datastores: DatastoreManager,
                                                  schema: SchemaTree) -> None:
    nacm = make_nacm(schema, None)
    with datastores.reading(Datastore.RUNNING) as tree:
        assert nacm.access("anyone").prune(tree, owned=False) is tree  # nothing to hide
        copied = copy.deepcopy(tree)
    copied.append(nacm_xml(rule_list("x", "y", rule("z", "permit"))))
    pruned = nacm.access("anyone").prune(copied, owned=True)
    assert pruned.find(f"{{{N}}}nacm") is None and pruned.find(f"{{{VM}}}vms") is not None


def test_a_list_entry_whose_key_is_hidden_is_hidden(datastores: DatastoreManager,
                                                    schema: SchemaTree) -> None:
    nacm = make_nacm(schema, nacm_xml(rule_list(
        "k", "g", rule("no-key", "deny", ops="read", path="/vn:tenants/vn:tenant/vn:tenant-id"))),
        groups={"u": ("g",)})
    with datastores.reading(Datastore.RUNNING) as tree:
        view = nacm.access("u").prune(tree, owned=False)
    assert view.find(f"{{{VN}}}tenants") is None
    assert view.find(f"{{{VN}}}vn-instances") is not None


def test_read_default_deny(datastores: DatastoreManager, schema: SchemaTree) -> None:
    nacm = make_nacm(schema, nacm_xml(rule_list(
        "r", "g", rule("vns", "permit", ops="read", path="/vn:vn-instances")),
        read_default="deny"), groups={"u": ("g",)})
    with datastores.reading(Datastore.RUNNING) as tree:
        view = nacm.access("u").prune(tree, owned=False)
    assert [etree.QName(c).localname for c in view] == ["vn-instances"]
    assert len(view.findall(f"{{{VN}}}vn-instances/{{{VN}}}vn-instance")) == 5


def test_path_readable_treats_unknown_data_as_a_deny(datastores: DatastoreManager,
                                                     tenant: Nacm) -> None:
    alice = tenant.access("alice")
    ns = {"vm": VM}
    with datastores.reading(Datastore.RUNNING) as tree:
        assert alice.path_readable(tree, f"/vm:vms/vm:vm[vm:vm-id='{ALICE_VM}']", ns)
        bob_vm = next(e for e in tree.iter(f"{{{VM}}}vm")
                      if e.findtext(f"{{{VM}}}tenant") == "bob").findtext(f"{{{VM}}}vm-id")
        assert not alice.path_readable(tree, f"/vm:vms/vm:vm[vm:vm-id='{bob_vm}']", ns)
        # A VM that does not exist: its tenant is unknown, so it is not readable.
        assert not alice.path_readable(tree, "/vm:vms/vm:vm[vm:vm-id='nope']", ns)
        assert alice.path_readable(tree, "/nvo3-vn:tenants/tenant[tenant-id='alice']", {})


# ----------------------------------------------------------------------- write
def vm_edit(vm_id: str, tenant: str, *, op: str = "", extra: str = "") -> etree._Element:
    attr = f' nc:operation="{op}"' if op else ""
    return edit(f'<vms xmlns="{VM}"><vm{attr}><vm-id>{vm_id}</vm-id><tenant>{tenant}</tenant>'
                f"{extra}</vm></vms>")


NEW_VM = "11111111-2222-4333-8444-555555555555"


def bob_vm(datastores: DatastoreManager) -> str:
    with datastores.reading(Datastore.RUNNING) as tree:
        return next(e.findtext(f"{{{VM}}}vm-id") or "" for e in tree.iter(f"{{{VM}}}vm")
                    if e.findtext(f"{{{VM}}}tenant") == "bob")


def write(datastores: DatastoreManager, nacm: Nacm, user: str, config: etree._Element) -> None:
    datastores.edit(Datastore.RUNNING, config, session_id=2, user=user,
                    authorize=nacm.access(user).check_changes)


def test_tenant_creates_changes_and_deletes_its_own_vms(datastores: DatastoreManager,
                                                        tenant: Nacm) -> None:
    write(datastores, tenant, "alice", vm_edit(NEW_VM, "alice", extra="<description>x"
                                               "</description>"))
    write(datastores, tenant, "alice", vm_edit(NEW_VM, "alice",
                                               extra="<description>y</description>"))
    write(datastores, tenant, "alice", vm_edit(NEW_VM, "alice", op="delete"))
    assert tenant.counters.denied_data_writes == 0


@pytest.mark.parametrize("case", ["create-for-bob", "change-bobs", "delete-bobs",
                                  "steal-bobs", "give-away", "global-settings"])
def test_tenant_cannot_touch_anything_else(datastores: DatastoreManager, tenant: Nacm,
                                           case: str) -> None:
    other = bob_vm(datastores)
    config = {
        "create-for-bob": vm_edit(NEW_VM, "bob"),
        "change-bobs": vm_edit(other, "bob", extra="<description>mine</description>"),
        "delete-bobs": vm_edit(other, "bob", op="delete"),
        "steal-bobs": vm_edit(other, "alice"),
        "give-away": vm_edit(ALICE_VM, "bob"),
        "global-settings": edit('<nve xmlns="urn:nvo3-netconf:yang:nvo3-nve">'
                                "<description>x</description></nve>"),
    }[case]
    before = datastores.snapshot(Datastore.RUNNING)
    with pytest.raises(AccessDeniedError) as info:
        write(datastores, tenant, "alice", config)
    assert info.value.type.value == "application"
    assert etree.tostring(datastores.snapshot(Datastore.RUNNING)) == etree.tostring(before)
    assert tenant.counters.denied_data_writes == 1
    if case in ("change-bobs", "delete-bobs", "steal-bobs"):
        assert info.value.path is None  # alice may not know that bob's VM exists
    if case == "give-away":
        assert info.value.path == f"/vm:vms/vm:vm[vm:vm-id='{ALICE_VM}']/vm:tenant"


def test_default_deny_write_needs_an_explicit_rule(datastores: DatastoreManager,
                                                   schema: SchemaTree) -> None:
    tes_auth = edit('<nve xmlns="urn:nvo3-netconf:yang:nvo3-nve"><signalling>'
                    "<tes-authorization><tes><name>hv9</name></tes></tes-authorization>"
                    "</signalling></nve>")
    writers = make_nacm(schema, nacm_xml("", write_default="permit"))
    with pytest.raises(AccessDeniedError):
        write(datastores, writers, "ann", tes_auth)
    write(datastores, writers, "ann", edit('<nve xmlns="urn:nvo3-netconf:yang:nvo3-nve">'
                                           "<description>ok</description></nve>"))
    explicit = make_nacm(schema, nacm_xml(rule_list("a", "sec", rule(
        "tes", "permit", path="/nvo3-nve:nve/nvo3-nve:signalling")), write_default="permit"),
        groups={"ann": ("sec",)})
    write(datastores, explicit, "ann", tes_auth)


def test_write_rules_per_access_operation(datastores: DatastoreManager,
                                          schema: SchemaTree) -> None:
    nacm = make_nacm(schema, nacm_xml(rule_list(
        "w", "g", rule("update-only", "permit", ops="update", path="/vm:vms/vm:vm/vm:description"))),
        groups={"u": ("g",)})
    write(datastores, nacm, "u", vm_edit(ALICE_VM, "alice",
                                         extra="<description>new</description>"))
    with pytest.raises(AccessDeniedError):  # deleting it is not updating it
        write(datastores, nacm, "u", edit(f'<vms xmlns="{VM}"><vm><vm-id>{ALICE_VM}</vm-id>'
                                          '<description nc:operation="delete"/></vm></vms>'))


def test_test_only_and_failed_edits_are_checked_too(datastores: DatastoreManager,
                                                    tenant: Nacm) -> None:
    with pytest.raises(AccessDeniedError):
        datastores.edit(Datastore.RUNNING, vm_edit(NEW_VM, "bob"), session_id=2,
                        authorize=tenant.access("alice").check_changes,
                        test_option=__import__("nvo3_netconf.constants").constants.TestOption.TEST_ONLY)


def test_copy_differences_are_checked_node_by_node(datastores: DatastoreManager,
                                                   tenant: Nacm) -> None:
    alice = tenant.access("alice")
    current = datastores.snapshot(Datastore.RUNNING)
    alice.check_trees(current, copy.deepcopy(current))  # nothing differs: nothing needed
    mine = copy.deepcopy(current)
    description = mine.find(f".//{{{VM}}}vm/{{{VM}}}description")
    assert description is not None
    description.text = "changed by alice"
    alice.check_trees(current, mine)
    others = copy.deepcopy(current)
    for vm in others.iter(f"{{{VM}}}vm"):
        if vm.findtext(f"{{{VM}}}tenant") == "bob":
            vm.getparent().remove(vm)  # type: ignore[union-attr]
            break
    with pytest.raises(AccessDeniedError):
        alice.check_trees(current, others)


# ---------------------------------------------------------------- notifications
def notification(xml: str) -> etree._Element:
    return etree.fromstring(xml)


def test_notification_rules_by_name_and_by_path_predicate(schema: SchemaTree) -> None:
    config = nacm_xml(rule_list(
        "n", "tenant-alice",
        rule("mine", "permit", ops="read", path="/tes:vm-state-changed[tes:tenant='alice']"),
        rule("others", "deny", ops="read", notification="vm-state-changed"),
        rule("sessions", "deny", ops="read", module="ietf-netconf-notifications",
             notification="*"),
    ))
    nacm = make_nacm(schema, config, groups={"alice": ("tenant-alice",)})
    alice = nacm.access("alice")

    def changed(tenant: str) -> etree._Element:
        return notification(f'<vm-state-changed xmlns="{TES}"><vm-id>x</vm-id>'
                            f"<tenant>{tenant}</tenant><event>associate</event>"
                            "</vm-state-changed>")

    assert alice.filter_notification(changed("alice")) is not None
    assert alice.filter_notification(changed("bob")) is None
    start = notification(f'<netconf-session-start xmlns="{NCN}"><username>x</username>'
                         "<session-id>1</session-id></netconf-session-start>")
    assert alice.filter_notification(start) is None
    assert nacm.counters.denied_notifications == 2
    assert nacm.access("other").filter_notification(start) is not None  # read-default


def test_config_change_keeps_only_readable_edits(datastores: DatastoreManager,
                                                 tenant: Nacm) -> None:
    other = bob_vm(datastores)
    content = notification(
        f'<netconf-config-change xmlns="{NCN}" xmlns:vm="{VM}"><datastore>running</datastore>'
        f"<edit><target>/vm:vms/vm:vm[vm:vm-id='{ALICE_VM}']</target>"
        "<operation>replace</operation></edit>"
        f"<edit><target>/vm:vms/vm:vm[vm:vm-id='{other}']</target>"
        "<operation>replace</operation></edit></netconf-config-change>")
    alice = tenant.access("alice")
    kept = alice.filter_notification(copy.deepcopy(content),
                                     running=lambda: datastores.reading(Datastore.RUNNING))
    assert kept is not None
    targets = [t.text for t in kept.iter(f"{{{NCN}}}target")]
    assert targets == [f"/vm:vms/vm:vm[vm:vm-id='{ALICE_VM}']"]
    only_bob = copy.deepcopy(content)
    only_bob.remove(only_bob.find(f"{{{NCN}}}edit"))  # type: ignore[arg-type]
    assert alice.filter_notification(
        only_bob, running=lambda: datastores.reading(Datastore.RUNNING)) is None


def test_rpc_error_is_an_rpc_error() -> None:
    assert issubclass(AccessDeniedError, RPCError)


def test_first_entry_creates_its_container_without_a_rule_for_it(
        yang: YangContext, schema: SchemaTree, tenant: Nacm) -> None:
    """A non-presence container has no data of its own: creating /vms needs no rule."""
    empty = DatastoreManager(validator=Validator(yang), schema=schema)
    base = example_config()
    for element in base.findall(f"{{{VM}}}vms") + base.findall(f"{{{VM}}}vm-groups"):
        base.remove(element)
    empty.edit(Datastore.RUNNING, base, session_id=1)
    write(empty, tenant, "alice", vm_edit(NEW_VM, "alice"))
    write(empty, tenant, "alice", vm_edit(NEW_VM, "alice", op="delete"))
    with empty.reading(Datastore.RUNNING) as tree:
        assert tree.find(f"{{{VM}}}vms") is None


def test_broken_rules_never_open_access(datastores: DatastoreManager,
                                        schema: SchemaTree) -> None:
    config = nacm_xml(rule_list(
        "b", "g",
        rule("bad-permit", "permit", path="/vm:vms/vm:vm[vm:tenant="),
        rule("bad-deny", "deny", module="nvo3-vn", path="/nosuch:x"),
    ), write_default="permit")
    user = make_nacm(schema, config, groups={"u": ("g",)}).access("u")
    with datastores.reading(Datastore.RUNNING) as tree:
        view = user.prune(tree, owned=False)
    assert view.find(f"{{{VN}}}vn-instances") is None  # the whole module is denied
    assert view.find(f"{{{VM}}}vms") is not None       # the bad permit changed nothing
    with pytest.raises(AccessDeniedError):
        write(datastores, make_nacm(schema, config, groups={"u": ("g",)}), "u",
              edit(f'<tenants xmlns="{VN}"><tenant><tenant-id>carol</tenant-id></tenant>'
                   "</tenants>"))


def test_moving_an_ordered_entry_needs_update(datastores: DatastoreManager,
                                              schema: SchemaTree) -> None:
    both = rule_list("one", "x", rule("r", "permit", ops="read")) + \
        rule_list("two", "x", rule("r", "permit", ops="read"))
    datastores.edit(Datastore.RUNNING, edit(
        f'<nacm xmlns="{N}">{both}</nacm>'), session_id=1)
    move = edit(f'<nacm xmlns="{N}" xmlns:yang="urn:ietf:params:xml:ns:yang:1">'
                '<rule-list yang:insert="first"><name>two</name></rule-list></nacm>')
    creators = make_nacm(schema, nacm_xml(rule_list(
        "sec", "sec", rule("policy", "permit", ops="create read", module="ietf-netconf-acm"))),
        groups={"ann": ("sec",)})
    with pytest.raises(AccessDeniedError):
        write(datastores, creators, "ann", copy.deepcopy(move))
    updaters = make_nacm(schema, nacm_xml(rule_list(
        "sec", "sec", rule("policy", "permit", ops="update", module="ietf-netconf-acm"))),
        groups={"ann": ("sec",)})
    write(datastores, updaters, "ann", move)
    with datastores.reading(Datastore.RUNNING) as tree:
        assert [e.text for e in tree.iterfind(f"{{{N}}}nacm/{{{N}}}rule-list/{{{N}}}name")] \
            == ["two", "one"]


def test_an_edit_may_not_name_what_the_user_may_not_read(datastores: DatastoreManager,
                                                         tenant: Nacm) -> None:
    alice = tenant.access("alice")
    other = bob_vm(datastores)
    with datastores.reading(Datastore.RUNNING) as tree:
        alice.check_request(tree, vm_edit(ALICE_VM, "alice"))       # hers, unchanged
        alice.check_request(tree, vm_edit(NEW_VM, "alice"))         # a new one of hers
        for config in (vm_edit(other, "bob"),                       # no-op merge
                       vm_edit(NEW_VM, "bob"),                      # a new one of bob's
                       edit(f'<vms xmlns="{VM}"><vm nc:operation="remove">'  # tenant
                            "<vm-id>no-such-vm</vm-id></vm></vms>"),            # unknown
                       edit('<nve xmlns="urn:nvo3-netconf:yang:nvo3-nve">'
                            "<nve-id>nve1</nve-id></nve>")):
            with pytest.raises(AccessDeniedError) as info:
                alice.check_request(tree, config)
            assert info.value.path is None
    assert tenant.counters.denied_data_writes == 4
