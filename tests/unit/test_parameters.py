"""The check of operations' parameters against their YANG input (``protocol/ops/params.py``).

Unknown, repeated and conflicting parameters of the base operations (RFC 6241 sec. 7,
Appendix A), the RFC 6243 / RFC 6022 / RFC 5277 ones, the TES signalling RPCs, and a
test module's RPC with a keyed list, nested choices, a leaf-list and anydata; the
dispatcher runs the check before the NACM exec check and the handler.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from nvo3_netconf.constants import (
    NS_MONITORING,
    NS_NC,
    NS_NOTIF,
    NS_NVO3_TES,
    NS_WITH_DEFAULTS,
    ErrorType,
)
from nvo3_netconf.errors import (
    AccessDeniedError,
    BadElementError,
    MissingElementError,
    OperationNotSupportedError,
    RPCError,
    UnknownElementError,
    UnknownNamespaceError,
)
from nvo3_netconf.protocol.dispatch import Dispatcher, RPCContext
from nvo3_netconf.protocol.ops.params import OperationInput, datastore_param, operation_inputs
from nvo3_netconf.schema import SchemaTree, YangContext
from tests.conftest import STANDARD_DIR, YANG_DIR

NS_PT = "urn:nvo3-netconf:yang:params-test"
WD = NS_WITH_DEFAULTS
VM = "6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a01"
NC_PATH = {"nc": NS_NC}

PARAMS_TEST = """
module params-test {
  yang-version 1.1;
  namespace "urn:nvo3-netconf:yang:params-test";
  prefix pt;
  revision 2026-11-21;
  rpc configure {
    input {
      leaf-list tag { type string; }
      list route {
        key "prefix vrf";
        leaf prefix { type string; }
        leaf vrf { type string; }
        leaf metric { type uint32; }
      }
      choice how {
        case quick { leaf fast { type empty; } }
        case careful {
          container plan {
            leaf step { type string; }
            choice order {
              leaf first { type empty; }
              leaf last { type empty; }
            }
          }
          leaf notes { type string; }
        }
      }
      anydata extra;
    }
  }
}
"""


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YangContext]:
    """The server modules, the project's own (nvo3-tes) and ``params-test``."""
    extra: Path = tmp_path_factory.mktemp("yang")
    (extra / "params-test@2026-11-21.yang").write_text(PARAMS_TEST)
    with YangContext.load([STANDARD_DIR, YANG_DIR, extra]) as ctx:
        yield ctx


@pytest.fixture(scope="module")
def inputs(context: YangContext) -> dict[tuple[str, str], OperationInput]:
    schema = SchemaTree(context)
    known = {m.namespace for m in context.modules} | {NS_NC}
    return operation_inputs(schema, list(schema.rpcs), known)


def op(text: str) -> etree._Element:
    return etree.fromstring(text)


def check(inputs: dict[tuple[str, str], OperationInput], text: str) -> None:
    element = op(text)
    qname = etree.QName(element)
    inputs[(qname.namespace or "", qname.localname)].check(element)


def refusal(inputs: dict[tuple[str, str], OperationInput], text: str) -> RPCError:
    with pytest.raises(RPCError) as info:
        check(inputs, text)
    assert info.value.type is ErrorType.PROTOCOL
    return info.value


def nc(name: str, body: str = "") -> str:
    return f'<{name} xmlns="{NS_NC}">{body}</{name}>'


RUNNING = "<source><running/></source>"


# ------------------------------------------------------------------ accepted
@pytest.mark.parametrize("text", [
    nc("get"),
    nc("get", f'<filter type="subtree"><top xmlns="urn:x"><a/><a/></top></filter>'
              f'<with-defaults xmlns="{WD}">trim</with-defaults>'),
    nc("get-config", RUNNING),
    nc("get-config", f"<!-- a comment --><source><candidate/></source><?pi x?>"
                     f'<filter type="xpath" select="/a"/><with-defaults xmlns="{WD}">'
                     "report-all</with-defaults>"),
    nc("edit-config", "<target><running/></target><default-operation>none"
                      "</default-operation><test-option>set</test-option><error-option>"
                      "rollback-on-error</error-option><config><a/><a/></config>"),
    nc("copy-config", "<target><startup/></target><source><config><x/></config></source>"
                      f'<with-defaults xmlns="{WD}">explicit</with-defaults>'),
    nc("delete-config", "<target><startup/></target>"),
    nc("validate", "<source><config/></source>"),
    nc("lock", "<target><candidate/></target>"),
    nc("unlock", "<target><running/></target>"),
    nc("commit", "<confirmed/><confirm-timeout>60</confirm-timeout><persist>p</persist>"),
    nc("commit", "<confirm-timeout>60</confirm-timeout>"),  # allowed by the YANG input
    nc("commit", "<persist-id>p</persist-id>"),
    nc("cancel-commit", "<persist-id>p</persist-id>"),
    nc("discard-changes"),
    nc("close-session"),
    nc("kill-session", "<session-id>4</session-id>"),
    f'<get-schema xmlns="{NS_MONITORING}"><identifier>a</identifier><version>1</version>'
    "<format>yang</format></get-schema>",
    f'<create-subscription xmlns="{NS_NOTIF}"><stream>NETCONF</stream><filter/>'
    "<startTime>2026-01-01T00:00:00Z</startTime><stopTime>2026-01-02T00:00:00Z</stopTime>"
    "</create-subscription>",
    # ncclient's <filter> in the base namespace
    f'<create-subscription xmlns="{NS_NOTIF}"><filter xmlns="{NS_NC}"/></create-subscription>',
    f'<associate xmlns="{NS_NVO3_TES}"><vm-id>{VM}</vm-id><tenant>t</tenant>'
    "<vn><vn-name>a</vn-name><vnic><mac>m1</mac><ip-address>1</ip-address><ip-address>2"
    "</ip-address></vnic><vnic><mac>m2</mac></vnic></vn><vn><vn-name>b</vn-name></vn>"
    "<indications><keep-alive>true</keep-alive></indications></associate>",
    f'<configure xmlns="{NS_PT}"><tag>a</tag><tag>b</tag><route><prefix>p</prefix>'
    "<vrf>v</vrf></route><route><prefix>q</prefix><vrf>v</vrf></route><plan><step>1"
    "</step><first/></plan><notes>n</notes><extra><any/><any/></extra></configure>",
])
def test_valid_parameters_pass(inputs: dict[tuple[str, str], OperationInput], text: str) -> None:
    check(inputs, text)


@pytest.mark.parametrize("text", [
    # left to the readers, which answer more precisely (see the module docstring)
    nc("edit-config", "<target><startup/></target><config/>"),  # bad-element
    nc("edit-config", "<target><running/></target><url>file:///x</url>"),  # not supported
    nc("delete-config", "<target><running/></target>"),  # operation-failed
    nc("copy-config", "<target><url>file:///x</url></target><source><running/></source>"),
    nc("validate", "<source><url>file:///x</url></source>"),
    nc("lock", "<target><url>file:///x</url></target>"),
    nc("get-config", "<source><url>file:///x</url></source>"),
])
def test_datastores_and_url_are_left_to_the_readers(
    inputs: dict[tuple[str, str], OperationInput], text: str
) -> None:
    check(inputs, text)


# ------------------------------------------------------------ unknown element
@pytest.mark.parametrize(("text", "bad", "path"), [
    (nc("get-config", RUNNING + "<bogus/>"), "bogus", "/nc:get-config"),
    (nc("get", "<bogus/>"), "bogus", "/nc:get"),
    (nc("edit-config", "<target><running/></target><config/><bogus/>"), "bogus",
     "/nc:edit-config"),
    (nc("lock", "<target><running/></target><bogus/>"), "bogus", "/nc:lock"),
    (nc("close-session", "<foo/>"), "foo", "/nc:close-session"),
    (nc("discard-changes", "<foo>1</foo>"), "foo", "/nc:discard-changes"),
    # an element of the base namespace that this operation does not take
    (nc("get", "<source><running/></source>"), "source", "/nc:get"),
    # with-defaults belongs to its own namespace
    (nc("get", "<with-defaults>trim</with-defaults>"), "with-defaults", "/nc:get"),
    # with-defaults augments get, get-config and copy-config only (RFC 6243 sec. 4.5)
    (nc("edit-config", f'<target><running/></target><with-defaults xmlns="{WD}">trim'
                       "</with-defaults>"), "with-defaults", "/nc:edit-config"),
    (nc("get-config", "<source><running/><bogus/></source>"), "bogus",
     "/nc:get-config/nc:source"),
    (nc("get-config", "<bogus/>" + RUNNING), "bogus", "/nc:get-config"),
    # in no namespace
    (f'<get xmlns:n="{NS_NC}"><bogus/></get>'.replace("<get", "<n:get").replace(
        "</get>", "</n:get>"), "bogus", "/nc:get"),
])
def test_unknown_element(
    inputs: dict[tuple[str, str], OperationInput], text: str, bad: str, path: str
) -> None:
    error = refusal(inputs, text)
    assert isinstance(error, UnknownElementError)
    assert error.info == {"bad-element": bad}
    assert (error.path, error.path_namespaces) == (path, NC_PATH)
    assert "unexpected element" in error.message


def test_an_element_of_a_known_module_elsewhere_is_unknown_element(
    inputs: dict[tuple[str, str], OperationInput],
) -> None:
    error = refusal(inputs, nc("get", f'<stream xmlns="{NS_NOTIF}"/>'))
    assert isinstance(error, UnknownElementError)
    assert error.info == {"bad-element": "stream"}


@pytest.mark.parametrize(("text", "path", "namespaces"), [
    (nc("get-config", RUNNING + '<x xmlns="urn:example:nowhere"/>'),
     "/nc:get-config", NC_PATH),
    (nc("copy-config", '<target><running xmlns="urn:example:nowhere"/></target>'),
     "/nc:copy-config/nc:target", NC_PATH),
    (f'<keep-alive xmlns="{NS_NVO3_TES}"><vm-id>{VM}</vm-id><x xmlns="urn:example:nowhere"/>'
     "</keep-alive>", "/tes:keep-alive", {"tes": NS_NVO3_TES}),
])
def test_unknown_namespace(
    inputs: dict[tuple[str, str], OperationInput], text: str, path: str,
    namespaces: dict[str, str],
) -> None:
    error = refusal(inputs, text)
    assert isinstance(error, UnknownNamespaceError)
    assert error.info["bad-namespace"] == "urn:example:nowhere"
    assert error.info["bad-element"] in ("x", "running")
    assert (error.path, error.path_namespaces) == (path, namespaces)


# --------------------------------------------------------- repeated parameter
@pytest.mark.parametrize(("text", "bad", "path"), [
    (nc("get-config", RUNNING + "<filter/><filter/>"), "filter",
     "/nc:get-config/nc:filter"),
    (nc("get-config", RUNNING + RUNNING), "source", "/nc:get-config/nc:source"),
    (nc("get-config", "<source><running/><running/></source>"), "running",
     "/nc:get-config/nc:source/nc:running"),
    (nc("edit-config", "<target><running/></target><target><running/></target><config/>"),
     "target", "/nc:edit-config/nc:target"),
    (nc("edit-config", "<target><running/></target><config/><config/>"), "config",
     "/nc:edit-config/nc:config"),
    (nc("edit-config", "<target><running/></target><test-option>set</test-option>"
                       "<test-option>test-only</test-option><config/>"), "test-option",
     "/nc:edit-config/nc:test-option"),
    (nc("kill-session", "<session-id>1</session-id><session-id>2</session-id>"),
     "session-id", "/nc:kill-session/nc:session-id"),
    (nc("commit", "<confirmed/><confirmed/>"), "confirmed", "/nc:commit/nc:confirmed"),
])
def test_repeated_parameter_is_bad_element(
    inputs: dict[tuple[str, str], OperationInput], text: str, bad: str, path: str
) -> None:
    error = refusal(inputs, text)
    assert isinstance(error, BadElementError)
    assert error.info == {"bad-element": bad}
    assert (error.path, error.path_namespaces) == (path, NC_PATH)
    assert "more than once" in error.message


def test_repeated_parameter_of_another_module_names_its_module(
    inputs: dict[tuple[str, str], OperationInput],
) -> None:
    wd = f'<with-defaults xmlns="{WD}">trim</with-defaults>'
    error = refusal(inputs, nc("get", wd + wd))
    assert isinstance(error, BadElementError)
    assert error.path == "/nc:get/ncwd:with-defaults"
    assert error.path_namespaces == {**NC_PATH, "ncwd": WD}


def test_get_schema_and_create_subscription(
    inputs: dict[tuple[str, str], OperationInput],
) -> None:
    error = refusal(inputs, f'<get-schema xmlns="{NS_MONITORING}"><identifier>a</identifier>'
                            "<identifier>b</identifier></get-schema>")
    assert isinstance(error, BadElementError)
    assert error.path == "/ncm:get-schema/ncm:identifier"
    error = refusal(inputs, f'<get-schema xmlns="{NS_MONITORING}"><identifier>a</identifier>'
                            "<bogus/></get-schema>")
    assert isinstance(error, UnknownElementError)
    # the base-namespace alias of <filter> is the same parameter
    error = refusal(inputs, f'<create-subscription xmlns="{NS_NOTIF}"><filter/>'
                            f'<filter xmlns="{NS_NC}"/></create-subscription>')
    assert isinstance(error, BadElementError)
    assert error.path == "/ncEvent:create-subscription/ncEvent:filter"
    error = refusal(inputs, f'<create-subscription xmlns="{NS_NOTIF}"><replay/>'
                            "</create-subscription>")
    assert isinstance(error, UnknownElementError)
    assert error.info == {"bad-element": "replay"}


# ------------------------------------------------------------------ choices
@pytest.mark.parametrize(("text", "bad", "path"), [
    (nc("lock", "<target><running/><candidate/></target>"), "candidate",
     "/nc:lock/nc:target/nc:candidate"),
    (nc("copy-config", "<target><startup/></target><source><running/><config/></source>"),
     "config", "/nc:copy-config/nc:source/nc:config"),
    (nc("copy-config", "<target><startup/><url>file:///x</url></target>"), "url",
     "/nc:copy-config/nc:target/nc:url"),
    (nc("edit-config", "<target><running/></target><config/><url>file:///x</url>"), "url",
     "/nc:edit-config/nc:url"),
])
def test_two_cases_of_one_choice_are_bad_element(
    inputs: dict[tuple[str, str], OperationInput], text: str, bad: str, path: str
) -> None:
    error = refusal(inputs, text)
    assert isinstance(error, BadElementError)
    assert error.info == {"bad-element": bad}
    assert error.path == path
    assert "exclude each other" in error.message


# -------------------------------------------- a module's RPC: lists, choices
def pt(body: str) -> str:
    return f'<configure xmlns="{NS_PT}">{body}</configure>'


@pytest.mark.parametrize(("text", "kind", "bad", "path"), [
    (pt("<fast/><notes>n</notes>"), BadElementError, "notes", "/pt:configure/pt:notes"),
    (pt("<plan><step>1</step></plan><fast/>"), BadElementError, "fast",
     "/pt:configure/pt:fast"),
    (pt("<plan><first/><last/></plan>"), BadElementError, "last",
     "/pt:configure/pt:plan/pt:last"),
    (pt("<plan><step>1</step><step>2</step></plan>"), BadElementError, "step",
     "/pt:configure/pt:plan/pt:step"),
    (pt("<route><prefix>p</prefix><vrf>v</vrf><metric>1</metric><metric>2</metric></route>"),
     BadElementError, "metric", "/pt:configure/pt:route[pt:prefix='p'][pt:vrf='v']/pt:metric"),
    (pt("<route><prefix>it's</prefix><vrf>v</vrf><colour/></route>"), UnknownElementError,
     "colour", "/pt:configure/pt:route[pt:prefix=\"it's\"][pt:vrf='v']"),
    (pt("<plan><colour/></plan>"), UnknownElementError, "colour", "/pt:configure/pt:plan"),
    (pt("<extra/><extra/>"), BadElementError, "extra", "/pt:configure/pt:extra"),
])
def test_a_module_rpc_is_checked_by_its_yang_input(
    inputs: dict[tuple[str, str], OperationInput], text: str, kind: type[RPCError], bad: str,
    path: str,
) -> None:
    error = refusal(inputs, text)
    assert type(error) is kind
    assert error.info == {"bad-element": bad}
    assert (error.path, error.path_namespaces) == (path, {"pt": NS_PT})


def test_tes_rpc_nested_lists_are_checked_with_positions(
    inputs: dict[tuple[str, str], OperationInput],
) -> None:
    error = refusal(inputs, f'<associate xmlns="{NS_NVO3_TES}"><vm-id>{VM}</vm-id>'
                            "<vn><vn-name>a</vn-name></vn><vn><vn-name>b</vn-name><vnic>"
                            "<mac>1</mac></vnic><vnic><mac>2</mac><mac>3</mac></vnic></vn>"
                            "</associate>")
    assert isinstance(error, BadElementError)
    assert error.path == "/tes:associate/tes:vn[2]/tes:vnic[2]/tes:mac"
    error = refusal(inputs, f'<keep-alive xmlns="{NS_NVO3_TES}"><vm-id>{VM}</vm-id>'
                            f"<vm-id>{VM}</vm-id></keep-alive>")
    assert isinstance(error, BadElementError)
    assert error.path == "/tes:keep-alive/tes:vm-id"


def test_operations_the_schema_does_not_define_are_left_out(context: YangContext) -> None:
    schema = SchemaTree(context)
    table = operation_inputs(schema, [(NS_NC, "get"), (NS_NC, "frobnicate"), ("urn:x", "y")],
                             {NS_NC})
    assert list(table) == [(NS_NC, "get")]


# --------------------------------------------------------------- the readers
def test_datastore_param_names_the_second_of_two_datastores() -> None:
    with pytest.raises(BadElementError) as info:
        datastore_param(op(nc("lock", "<target><running/><startup/></target>")), "target", ())
    assert info.value.info == {"bad-element": "startup"}
    with pytest.raises(MissingElementError):
        datastore_param(op(nc("lock", "<target/>")), "target", ())
    with pytest.raises(OperationNotSupportedError):
        datastore_param(op(nc("lock", "<target><url>x</url></target>")), "target", ())


# --------------------------------------------------------------- the dispatcher
class _Session:
    session_id = 1
    user = "u"


def test_dispatcher_checks_before_the_exec_check_and_the_handler(context: YangContext) -> None:
    ran: list[str] = []

    def handler(ctx: RPCContext, element: etree._Element) -> None:
        ran.append("handler")

    def deny(session: object, namespace: str, name: str) -> None:
        ran.append("access")
        raise AccessDeniedError("no")

    dispatcher = Dispatcher({(NS_NC, "lock"): handler}, server=None,
                            known_namespaces={NS_NC}, access_check=deny,
                            schema=SchemaTree(context))
    with pytest.raises(UnknownElementError):
        dispatcher.dispatch(_Session(), op(nc("lock", "<target><running/></target><x/>")))  # type: ignore[arg-type]
    assert ran == []
    with pytest.raises(AccessDeniedError):
        dispatcher.dispatch(_Session(), op(nc("lock", "<target><running/></target>")))  # type: ignore[arg-type]
    assert ran == ["access"]


def test_dispatcher_without_a_schema_checks_nothing() -> None:
    ran: list[str] = []
    dispatcher = Dispatcher({(NS_NC, "lock"): lambda ctx, element: ran.append("handler")},
                            server=None, known_namespaces={NS_NC})
    dispatcher.dispatch(_Session(), op(nc("lock", "<x/>")))  # type: ignore[arg-type]
    assert ran == ["handler"]
