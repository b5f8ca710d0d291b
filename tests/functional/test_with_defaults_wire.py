"""RFC 6243 with-defaults over SSH, under both framings.

``/nt:top/nt:mode`` has the default ``fast``. Each retrieval mode is checked on the
three states that tell them apart (sec. 3): the leaf not set, set to its default, and
set to another value; report-all-tagged marks a default with the ``default`` attribute
in ``urn:ietf:params:xml:ns:netconf:default:1.0`` (sec. 6). The server's basic mode is
explicit, so a leaf a client set to its default value is explicitly set data and is not
tagged (Appendix A.3.2: "If the server's basic mode is 'explicit', then only data nodes
that are not explicitly set data are tagged").
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from lxml import etree

from tests.functional.replies import (
    NC,
    NT,
    WD,
    X,
    call,
    config_of,
    edit_config,
    get_config,
    is_ok,
    one_error,
)
from tests.functional.test_protocol import item

DEFAULT_ATTRIBUTE = "{urn:ietf:params:xml:ns:netconf:default:1.0}default"
TOP = f'<filter type="subtree"><top xmlns="{NT}"/></filter>'

# stored mode -> retrieval mode -> (value reported or None, tagged as a default)
EXPECTED: dict[str | None, dict[str | None, tuple[str | None, bool]]] = {
    None: {None: (None, False), "explicit": (None, False), "trim": (None, False),
           "report-all": ("fast", False), "report-all-tagged": ("fast", True)},
    "fast": {None: ("fast", False), "explicit": ("fast", False), "trim": (None, False),
             "report-all": ("fast", False), "report-all-tagged": ("fast", False)},
    "slow": {None: ("slow", False), "explicit": ("slow", False), "trim": ("slow", False),
             "report-all": ("slow", False), "report-all-tagged": ("slow", False)},
}
CASES = [(stored, mode) for stored, modes in EXPECTED.items() for mode in modes]


def with_defaults(mode: str | None) -> str:
    return "" if mode is None else f'<with-defaults xmlns="{WD}">{mode}</with-defaults>'


def reported_mode(reply: etree._Element) -> tuple[str | None, bool]:
    """The mode leaf's value in a reply (None if absent) and whether it is tagged."""
    leaves = reply.xpath("//nt:top/nt:mode", namespaces=X)
    assert len(leaves) <= 1
    if not leaves:
        return None, False
    tag = leaves[0].get(DEFAULT_ATTRIBUTE)
    assert tag in (None, "true")
    return leaves[0].text, tag == "true"


def agent_with_mode(connect, stored: str | None):
    m = connect()
    mode = "" if stored is None else f"<mode>{stored}</mode>"
    assert is_ok(call(m, edit_config(item("a", 1) + mode)))
    return m


def test_hello_announces_basic_mode_explicit_and_the_other_modes(connect) -> None:
    m = connect()
    [cap] = [c for c in m.server_capabilities
             if c.startswith("urn:ietf:params:netconf:capability:with-defaults:1.0?")]
    params = parse_qs(cap.split("?", 1)[1])
    assert params["basic-mode"] == ["explicit"]
    assert set(params["also-supported"][0].split(",")) == {
        "report-all", "report-all-tagged", "trim"}


@pytest.mark.parametrize(("stored", "mode"), CASES)
def test_get_config_with_defaults(connect, stored: str | None, mode: str | None) -> None:
    m = agent_with_mode(connect, stored)
    reply = call(m, get_config("running", TOP + with_defaults(mode)))
    assert reported_mode(reply) == EXPECTED[stored][mode]


@pytest.mark.parametrize("mode", ["report-all-tagged", "trim"])
def test_get_with_defaults(connect, mode: str) -> None:
    m = agent_with_mode(connect, "fast")
    reply = call(m, f'<get xmlns="{NC}">{TOP}{with_defaults(mode)}</get>')
    assert reported_mode(reply) == EXPECTED["fast"][mode]


def test_copy_config_with_defaults_copies_the_datastore_as_stored(connect) -> None:
    m = agent_with_mode(connect, None)
    assert is_ok(call(m, f'<copy-config xmlns="{NC}"><target><startup/></target>'
                         "<source><running/></source>"
                         f"{with_defaults('report-all')}</copy-config>"))
    assert config_of(m, "startup") == config_of(m, "running")
    assert reported_mode(call(m, get_config("startup"))) == (None, False)


@pytest.mark.parametrize("operation", [
    pytest.param(get_config("running", with_defaults("report-none")), id="get-config"),
    pytest.param(f'<get xmlns="{NC}">{with_defaults("")}</get>', id="get"),
    pytest.param(f'<copy-config xmlns="{NC}"><target><startup/></target>'
                 f'<source><running/></source>{with_defaults("all")}</copy-config>',
                 id="copy-config"),
])
def test_unsupported_mode_is_invalid_value(connect, operation: str) -> None:
    m = agent_with_mode(connect, None)
    startup = config_of(m, "startup")
    error = one_error(call(m, operation))
    assert (error.type, error.tag) == ("application", "invalid-value")
    assert error.info == {"bad-element": "with-defaults"}
    assert "with-defaults mode" in error.message
    assert config_of(m, "startup") == startup
