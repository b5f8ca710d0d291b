"""The benchmark's requests, built with lxml (RFC 6241 sec. 7.1, 7.2 and 6).

Every request targets the list ``/nt:bulk/nt:entry`` (key ``id``, leaf ``value``) of the
test module ``tests/yang/modules/nvo3-test@2026-11-21.yang``, which both servers load.
Operations are returned serialized (``bytes``) so building them stays outside timings.
"""

from __future__ import annotations

import re

from lxml import etree

NS_NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS_TEST = "urn:nvo3-netconf:yang:nvo3-test"
MODULE = "nvo3-test"

_ENTRY = re.compile(rb"<(?:[\w.-]+:)?entry[\s>]")


def _nc(tag: str) -> str:
    return f"{{{NS_NC}}}{tag}"


def _t(tag: str) -> str:
    return f"{{{NS_TEST}}}{tag}"


def value_of(i: int, generation: int = 0) -> str:
    """The ``value`` leaf of entry ``i`` (a realistic mapping-sized string)."""
    return f"vm-{i:08d}.tenant-{i % 97:02d}.gen-{generation}"


def _target(parent: etree._Element, tag: str) -> None:
    etree.SubElement(etree.SubElement(parent, _nc(tag)), _nc("running"))


def entries_config(start: int, count: int, generation: int = 0) -> etree._Element:
    """A ``<config>`` holding ``count`` entries from id ``start``."""
    config = etree.Element(_nc("config"), nsmap={None: NS_NC})
    bulk = etree.SubElement(config, _t("bulk"), nsmap={None: NS_TEST})
    for i in range(start, start + count):
        entry = etree.SubElement(bulk, _t("entry"))
        etree.SubElement(entry, _t("id")).text = str(i)
        etree.SubElement(entry, _t("value")).text = value_of(i, generation)
    return config


def edit_config(config: etree._Element) -> bytes:
    """``<edit-config>`` of ``config`` on running, default-operation merge."""
    op = etree.Element(_nc("edit-config"), nsmap={None: NS_NC})
    _target(op, "target")
    op.append(config)
    return etree.tostring(op)


def merge_entries(start: int, count: int, generation: int = 0) -> bytes:
    """Merge ``count`` entries from id ``start`` into running."""
    return edit_config(entries_config(start, count, generation))


def remove_all() -> bytes:
    """Remove the whole ``bulk`` container (no error when it is absent)."""
    config = etree.Element(_nc("config"), nsmap={None: NS_NC})
    etree.SubElement(config, _t("bulk"), {_nc("operation"): "remove"},
                     nsmap={None: NS_TEST, "nc": NS_NC})
    return edit_config(config)


def get_config(entry_id: int | None = None) -> bytes:
    """``<get-config>`` of running: one entry by key with a subtree filter, or everything."""
    op = etree.Element(_nc("get-config"), nsmap={None: NS_NC})
    _target(op, "source")
    if entry_id is not None:
        filt = etree.SubElement(op, _nc("filter"), type="subtree")
        bulk = etree.SubElement(filt, _t("bulk"), nsmap={None: NS_TEST})
        etree.SubElement(etree.SubElement(bulk, _t("entry")), _t("id")).text = str(entry_id)
    return etree.tostring(op)


def count_entries(reply: bytes) -> int:
    """How many ``entry`` elements a reply holds (a plausibility check, not a parse)."""
    return len(_ENTRY.findall(reply))
