"""Does an NVE still hold what the director gave it? Item-by-item comparison.

:func:`compare` looks each :class:`~.render.Item` up in an NVE's ``<data>`` (by its
ancestors and key) and compares content, not text: the order of children and the
prefixes of identity values do not matter (RFC 7950 sec. 9.10.3), values do.

:func:`extras` finds entries the NVE holds in the lists the director manages that the
director did not give it (someone added them by hand).

Public names: :class:`Difference`, :func:`compare`, :func:`extras`, :func:`find`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from nvo3_netconf.director.render import Item, Step
from nvo3_netconf.protocol.xml import Element, local_name, namespace_of

__all__ = ["Difference", "compare", "extras", "find"]


@dataclass(frozen=True)
class Difference:
    """One item that differs: ``missing`` on the NVE, ``changed`` there, or ``added``.

    ``found`` is the NVE's version of a ``changed`` or ``added`` item.
    """

    key: str
    kind: str
    detail: str = ""
    found: Item | None = None

    def to_json(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {"path": self.key, "kind": self.kind, "detail": self.detail}


def find(data: Element, item: Item) -> Element | None:
    """The item's element in ``data`` (a ``<data>`` or ``<config>``), if present."""
    node: Element | None = data
    for step in item.ancestors:
        assert node is not None
        node = next((child for child in node
                     if child.tag == f"{{{step.namespace}}}{step.name}"
                     and all(child.findtext(f"{{{step.namespace}}}{leaf}") == value
                             for leaf, value in step.keys)), None)
        if node is None:
            return None
    assert node is not None
    wanted = item.element()
    if item.merge:
        return next((c for c in node if c.tag == wanted.tag), None)
    key = wanted[0]
    return next((c for c in node if c.tag == wanted.tag
                 and c.findtext(str(key.tag)) == key.text), None)


def _parent(data: Element, ancestors: tuple[Step, ...]) -> Element | None:
    node: Element | None = data
    for step in ancestors:
        assert node is not None
        node = next((child for child in node
                     if child.tag == f"{{{step.namespace}}}{step.name}"
                     and all(child.findtext(f"{{{step.namespace}}}{leaf}") == value
                             for leaf, value in step.keys)), None)
        if node is None:
            return None
    return node


def extras(data: Element, items: Iterable[Item]) -> list[Difference]:
    """Entries of the lists ``items`` live in that are not among ``items``."""
    items = list(items)
    known = {item.key for item in items}
    lists: dict[tuple[tuple[Step, ...], str], tuple[str, str]] = {}
    for item in items:
        if item.merge:
            continue
        el = item.element()
        prefix = item.key.rsplit("[", 1)[0]
        lists[(item.ancestors, str(el.tag))] = (prefix, local_name(el[0]))
    found = []
    for (ancestors, tag), (prefix, key_leaf) in sorted(lists.items(), key=lambda kv: kv[1]):
        parent = _parent(data, ancestors)
        if parent is None:
            continue
        for entry in parent:
            if entry.tag != tag or not len(entry):
                continue
            key = f"{prefix}[{key_leaf}={entry[0].text}]"
            if key not in known:
                copy = etree.fromstring(etree.tostring(entry))
                parent_key = next((i.parent for i in items if i.ancestors == ancestors),
                                  None)
                found.append(Difference(key, "added", "not given by the director",
                                        Item(key, ancestors, etree.tostring(copy),
                                             parent=parent_key)))
    return found


def _leaves(el: Element, path: str = "") -> list[tuple[str, str]]:
    """(path, value) of every leaf under ``el``, sorted; identity prefixes resolved.

    A value without a prefix is read in the default namespace (RFC 7950 sec. 9.10.3),
    on both sides of a comparison, so plain strings still compare equal.
    """
    out: list[tuple[str, str]] = []
    for child in el:
        if not isinstance(child.tag, str):
            continue
        here = f"{path}/{namespace_of(child)}:{local_name(child)}"
        if len(child):
            out.extend(_leaves(child, here))
            continue
        text = (child.text or "").strip()
        prefix, sep, rest = text.partition(":")
        nsmap = child.nsmap or {}
        if sep and prefix and prefix in nsmap:
            text = f"{nsmap[prefix]}:{rest}"
        elif not sep and None in nsmap:
            text = f"{nsmap[None]}:{text}"  # an identity in the default namespace
        out.append((here, text))
    return sorted(out)


def compare(data: Element, items: Iterable[Item]) -> list[Difference]:
    """The items of ``items`` that ``data`` lacks or holds differently."""
    items = list(items)
    parents = {item.parent for item in items if item.parent is not None}
    differences = []
    for item in items:
        found = find(data, item)
        if found is None:
            differences.append(Difference(item.key, "missing"))
            continue
        wanted = _leaves(item.element())
        have = _leaves(found)
        if item.merge or item.key in parents:  # its children are items of their own
            lacking = sorted(set(wanted) - set(have))
            if lacking:
                differences.append(Difference(item.key, "changed", ", ".join(
                    f"{_short(p)}={_value(v)}" for p, v in lacking), _as_item(item, found)))
        elif wanted != have:
            extra = sorted(set(have) - set(wanted))
            lacking = sorted(set(wanted) - set(have))
            detail = "; ".join(filter(None, [
                "expected " + ", ".join(f"{_short(p)}={_value(v)}" for p, v in lacking)
                if lacking else "",
                "found " + ", ".join(f"{_short(p)}={_value(v)}" for p, v in extra)
                if extra else ""]))
            differences.append(Difference(item.key, "changed", detail, _as_item(item, found)))
    return differences


def _as_item(item: Item, found: Element) -> Item:
    """``item`` with the NVE's version of its element."""
    return Item(item.key, item.ancestors, etree.tostring(found), item.merge, item.parent)


def _short(path: str) -> str:
    """``/ns:a/ns:b`` -> ``a/b``."""
    return "/".join(step.rsplit(":", 1)[-1] for step in path.strip("/").split("/"))


def _value(value: str) -> str:
    """A normalized value without its namespace."""
    return value.rsplit(":", 1)[-1] if value.startswith(("urn:", "http")) else value
