"""Send an operation with ncclient and read its reply as lxml, errors and all.

ncclient raises on the first ``<rpc-error>`` and keeps little of it; these helpers
return the reply element and every ``<rpc-error>`` with its fields, so tests can assert
error-type, error-tag, error-app-tag, error-path (with its namespace bindings),
error-message and error-info exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from ncclient import manager
from ncclient.operations import RaiseMode

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NT = "urn:nvo3-netconf:yang:nvo3-test"
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
X = {"nc": NC, "nt": NT}


@dataclass(frozen=True)
class WireError:
    """One ``<rpc-error>`` as it came over the wire."""

    type: str
    tag: str
    severity: str
    message: str
    app_tag: str | None = None
    path: str | None = None
    path_namespaces: dict[str, str] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)


def call(session: manager.Manager, operation: str) -> etree._Element:
    """The ``<rpc-reply>`` to ``operation`` (XML text), whether it holds errors or not."""
    mode = session.raise_mode
    session.raise_mode = RaiseMode.NONE
    try:
        reply = session.dispatch(etree.fromstring(operation))
    finally:
        session.raise_mode = mode
    root = etree.fromstring(reply.xml.encode())
    assert root.tag == f"{{{NC}}}rpc-reply", reply.xml
    return root


def is_ok(reply: etree._Element) -> bool:
    return reply.find("nc:ok", X) is not None and not wire_errors(reply)


def wire_errors(reply: etree._Element) -> list[WireError]:
    """Every ``<rpc-error>`` of a reply, in order."""
    return [_wire_error(element) for element in reply.iterfind("nc:rpc-error", X)]


def _wire_error(element: etree._Element) -> WireError:
    def text(name: str) -> str | None:
        child = element.find(f"nc:{name}", X)
        return None if child is None else (child.text or "").strip()

    path = element.find("nc:error-path", X)
    info = element.find("nc:error-info", X)
    return WireError(
        type=text("error-type") or "",
        tag=text("error-tag") or "",
        severity=text("error-severity") or "",
        message=text("error-message") or "",
        app_tag=text("error-app-tag"),
        path=text("error-path"),
        path_namespaces={k: v for k, v in path.nsmap.items() if k} if path is not None else {},
        info={etree.QName(child).localname: (child.text or "").strip()
              for child in info} if info is not None else {},
    )


def one_error(reply: etree._Element) -> WireError:
    """The single ``<rpc-error>`` of a reply (fails if there are none or several)."""
    errors = wire_errors(reply)
    assert len(errors) == 1, etree.tostring(reply)
    return errors[0]


def edit_config(body: str, *, target: str = "running", **params: str) -> str:
    """An ``<edit-config>`` of ``body`` under ``/nt:top`` (``nc`` bound for attributes).

    ``params`` are default-operation, test-option and error-option, with ``_`` for ``-``.
    """
    options = "".join(f"<{name.replace('_', '-')}>{value}</{name.replace('_', '-')}>"
                      for name, value in params.items())
    return (f'<edit-config xmlns="{NC}"><target><{target}/></target>{options}'
            f'<config><top xmlns="{NT}" xmlns:nc="{NC}">{body}</top></config></edit-config>')


def get_config(source: str = "running", extra: str = "") -> str:
    return f'<get-config xmlns="{NC}"><source><{source}/></source>{extra}</get-config>'


def config_of(session: manager.Manager, source: str = "running") -> bytes:
    """The ``<data>`` of a get-config, serialized canonically (to compare before/after)."""
    data = call(session, get_config(source)).find("nc:data", X)
    assert data is not None
    return etree.tostring(data, method="c14n")


def item_names(reply: etree._Element) -> list[str]:
    return [str(name) for name in reply.xpath("//nt:item/nt:name/text()", namespaces=X)]


def stored_items(session: manager.Manager, source: str = "running") -> list[str]:
    return item_names(call(session, get_config(source)))
