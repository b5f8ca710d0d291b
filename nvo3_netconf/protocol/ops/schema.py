"""``<get-schema>`` (RFC 6022 sec. 3.1): the YANG source of any module served."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from nvo3_netconf.constants import NS_MONITORING
from nvo3_netconf.errors import InvalidValueError, MissingElementError
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.xml import child_text


def get_schema(ctx: RPCContext, op: etree._Element) -> Sequence[etree._Element]:
    """Return the text of a module (format ``yang`` only)."""
    identifier = child_text(op, NS_MONITORING, "identifier")
    if not identifier:
        raise MissingElementError("<get-schema> needs an <identifier>.",
                                  info={"bad-element": "identifier"})
    version = child_text(op, NS_MONITORING, "version") or None
    fmt = (child_text(op, NS_MONITORING, "format") or "yang").strip()
    if fmt.split(":")[-1] != "yang":
        raise InvalidValueError(f"Schema format {fmt!r} is not available; use yang.",
                                info={"bad-element": "format"})
    try:
        text = ctx.server.yang.module_source(identifier.strip(), version and version.strip())
    except KeyError:
        wanted = identifier + (f"@{version}" if version else "")
        raise InvalidValueError(f"No schema {wanted} on this server.",
                                info={"bad-element": "identifier"}) from None
    data = etree.Element(f"{{{NS_MONITORING}}}data", nsmap={None: NS_MONITORING})
    data.text = text
    return [data]
