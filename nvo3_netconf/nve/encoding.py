"""How the NVE's values are written in XML.

RFC 6991 date-and-time, YANG booleans, nvo3-types identityrefs, and a leaf helper that
skips absent values.

Public names: :func:`timestamp`, :func:`leaf`, :func:`reason_leaf`, :func:`container`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from nvo3_netconf.constants import NS_NVO3_TYPES
from nvo3_netconf.nve.lifecycle import ReplyReason
from nvo3_netconf.protocol.xml import sub

__all__ = ["container", "leaf", "reason_leaf", "timestamp"]


def timestamp(epoch: float) -> str:
    """An RFC 6991 ``date-and-time`` in UTC, whole seconds (``2026-11-21T09:00:05Z``)."""
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def leaf(parent: etree._Element, ns: str, name: str, value: object) -> None:
    """Append ``<name>value</name>`` unless ``value`` is None (booleans as true/false)."""
    if value is None:
        return
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    sub(parent, ns, name, text)


def container(parent: etree._Element, ns: str, name: str) -> etree._Element:
    """Append and return an empty child element."""
    return sub(parent, ns, name)


def reason_leaf(parent: etree._Element, ns: str, name: str, reason: ReplyReason | None) -> None:
    """Append an identityref to an ``nvo3t:reply-reason`` identity, prefix declared."""
    if reason is None:
        return
    element = etree.SubElement(
        parent, f"{{{ns}}}{name}", nsmap={"nvo3t": NS_NVO3_TYPES}
    )
    element.text = f"nvo3t:{reason.value}"
