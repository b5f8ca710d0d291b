"""Subtree filtering (RFC 6241 sec. 6).

Implements namespace selection with the ``xmlns=""`` wildcard (sec. 6.2.1), attribute
match expressions (sec. 6.2.2), containment nodes (sec. 6.2.3), selection nodes
(sec. 6.2.4), content match nodes (sec. 6.2.5) and the sibling-set processing of
sec. 6.3, so that each example of sec. 6.4 gives the reply shown there.

Public function: :func:`apply_subtree_filter`.

Where RFC 6241 leaves room, this module decides:

- A filter element in the NETCONF base namespace is a namespace wildcard, like one with
  no namespace: no YANG data node lives in that namespace, and an unqualified element
  inside an ``<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`` inherits it.
- Content is compared after stripping leading and trailing whitespace on both sides
  (sec. 6.2.5 strips the filter side). When the texts differ but both are ``prefix:name``
  and the prefixes resolve to the same namespace, the values match: this is how an
  identityref written with another prefix than the datastore's compares equal.
- A containment node is output only when something below it is selected, so a filter
  that matches nothing returns an empty ``<data/>``, not empty containers.
- Several filter nodes matching the same data node (sec. 6.4.7 has three ``<user>``) are
  evaluated independently and their outputs merged.
- Top-level filter nodes form one sibling set per namespace (sec. 6.3), so a top-level
  content match that is alone in its namespace selects that module's top-level nodes.
- Text of an element that also has child elements (mixed content, unsupported by
  sec. 6.2.5) is ignored: the element is a containment node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import cast

from lxml import etree

from nvo3_netconf.constants import NS_NC
from nvo3_netconf.protocol.selection import KeysOf, Selection, copy_selection, merge_selections

_PREFILTER_MIN = 32
"""Children a parent needs before a content-match prefilter is worth compiling."""

_XML_SPACE = " \t\r\n"  # XML 1.0 S production; str.strip() alone would also strip NBSP


class _Kind(Enum):
    """The node types of RFC 6241 sec. 6.2.3 to 6.2.5."""

    CONTAINMENT = "containment"
    SELECTION = "selection"
    CONTENT_MATCH = "content-match"


@dataclass(frozen=True, slots=True)
class _FilterNode:
    """One element of a subtree filter, classified once before evaluation."""

    kind: _Kind
    namespace: str | None  # None: any namespace (sec. 6.2.1 wildcard)
    local: str
    selector: str  # lxml tag selector: "{ns}name", or "{*}name" for the wildcard
    attributes: tuple[tuple[str, str], ...]
    value: str  # stripped content of a content match node, "" otherwise
    value_qname: tuple[str, str] | None  # (namespace, name) if value is a resolvable QName
    children: tuple[_FilterNode, ...]
    prefilter: tuple[str, dict[str, str]] | None = field(default=None, compare=False)

    def candidates(self, parent: etree._Element) -> Iterable[etree._Element]:
        """The children of ``parent`` with the right name and attributes.

        A containment node with content match children narrows a long list down with
        :attr:`prefilter`, an XPath evaluated in C: picking one entry of a long list
        then costs no Python work per entry. It is compiled only for parents with at
        least :data:`_PREFILTER_MIN` children (compiling costs more than scanning a
        short list). The prefilter accepts a superset of what the content match nodes
        accept, and :func:`_select` still applies the exact rules.
        """
        found: Iterable[etree._Element]
        if self.prefilter is not None and len(parent) >= _PREFILTER_MIN:
            expression, namespaces = self.prefilter
            found = cast(
                "list[etree._Element]", parent.xpath(expression, namespaces=namespaces)
            )
        else:
            found = parent.iterchildren(self.selector)
        if not self.attributes:
            return found
        return [c for c in found if all(c.get(n) == v for n, v in self.attributes)]

    def content_matches(self, element: etree._Element) -> bool:
        """Tell whether ``element`` is a leaf whose content equals this node's value.

        The content is the XPath string-value (all text, comments excluded), stripped of
        leading and trailing XML whitespace.
        """
        if next(element.iterchildren(etree.Element), None) is not None:
            return False  # a content match node stands for a leaf (sec. 6.2.5)
        text = "".join(element.itertext()).strip(_XML_SPACE)
        if text == self.value:
            return True
        if self.value_qname is None or ":" not in text:
            return False
        prefix, name = text.split(":", 1)
        return (element.nsmap.get(prefix), name) == self.value_qname


def apply_subtree_filter(
    data: etree._Element,
    filter_el: etree._Element | None,
    *,
    keys_of: KeysOf | None = None,
) -> etree._Element:
    """Apply a subtree filter to a data tree (RFC 6241 sec. 6).

    Nothing in ``data`` is modified and nothing unselected is copied: the work is one
    pass over the children of each data node a filter node reaches, plus copying the
    output. This makes it suitable under a datastore read lock.

    Args:
        data: the datastore content, e.g. ``<data xmlns="urn:ietf:params:xml:ns:netconf:
            base:1.0">`` whose children are top-level data nodes.
        filter_el: the ``<filter>`` element; its child elements are the filter. ``None``
            means no filter at all and returns a copy of everything (sec. 6.4.1); a filter
            without child elements selects nothing (sec. 6.4.2).
        keys_of: optional schema callback; when given, the key leaves of list entries
            that are output partially are included too (sec. 6.2.5 allows it).

    Returns:
        A new element with the tag and namespace declarations of ``data`` holding the
        selected data.
    """
    if filter_el is None:
        return copy_selection(data, True)
    nodes = [_compile(child) for child in filter_el.iterchildren(etree.Element)]
    return copy_selection(data, _select_top_level(data, nodes), keys_of=keys_of)


def _compile(element: etree._Element) -> _FilterNode:
    qname = etree.QName(element)
    namespace = None if qname.namespace in (None, NS_NC) else qname.namespace
    children = tuple(_compile(child) for child in element.iterchildren(etree.Element))
    value = "" if children else "".join(element.itertext()).strip(_XML_SPACE)
    if children:
        kind = _Kind.CONTAINMENT
    elif value:
        kind = _Kind.CONTENT_MATCH
    else:
        kind = _Kind.SELECTION
    node = _FilterNode(
        kind=kind,
        namespace=namespace,
        local=qname.localname,
        selector=f"{{{namespace or '*'}}}{qname.localname}",
        attributes=tuple((str(name), str(text)) for name, text in element.attrib.items()),
        value=value,
        value_qname=_resolve_qname(element, value),
        children=children,
    )
    if any(child.kind is _Kind.CONTENT_MATCH for child in children):
        node = replace(node, prefilter=_prefilter(node))
    return node


def _prefilter(node: _FilterNode) -> tuple[str, dict[str, str]]:
    """XPath ``child::`` step selecting the candidates whose content matches may be true.

    For each content match child ``<c>v</c>`` the step requires a child ``c`` whose
    whitespace-normalized string-value equals ``v`` normalized; if ``v`` is a QName, a
    matching local part after any prefix is accepted too. Whatever the exact test of
    :meth:`_FilterNode.content_matches` accepts, this accepts.
    """
    prefixes: dict[str, str] = {}
    tests = []
    for child in node.children:
        if child.kind is not _Kind.CONTENT_MATCH:
            continue
        text = "normalize-space()"
        test = f"{text} = {_literal(_normalize_space(child.value))}"
        if child.value_qname is not None:
            test += f" or substring-after({text}, ':') = {_literal(child.value_qname[1])}"
        tests.append(f"[{_name_test(child, prefixes)}[{test}]]")
    expression = _name_test(node, prefixes) + "".join(tests)
    return expression, {p: ns for ns, p in prefixes.items()}


def _name_test(node: _FilterNode, prefixes: dict[str, str]) -> str:
    if node.namespace is None:
        return f"*[local-name() = {_literal(node.local)}]"
    prefix = prefixes.setdefault(node.namespace, f"n{len(prefixes)}")
    return f"{prefix}:{node.local}"


def _normalize_space(text: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", text).strip(" ")


def _literal(text: str) -> str:
    """``text`` as an XPath 1.0 string literal (which has no escape syntax)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in text.split("'")) + ")"


def _resolve_qname(element: etree._Element, value: str) -> tuple[str, str] | None:
    prefix, colon, name = value.partition(":")
    if not colon or not prefix or not name or any(c in _XML_SPACE for c in value):
        return None
    namespace = element.nsmap.get(prefix)
    return (namespace, name) if namespace else None


def _select_top_level(data: etree._Element, nodes: Sequence[_FilterNode]) -> Selection | None:
    """Process the root sibling sets: one per namespace (sec. 6.3)."""
    by_namespace: dict[str | None, list[_FilterNode]] = {}
    for node in nodes:
        by_namespace.setdefault(node.namespace, []).append(node)
    result: Selection | None = None
    for namespace, sibling_set in by_namespace.items():
        selection = _select(data, sibling_set)
        if selection is True and namespace is not None:
            # "All nodes at this level" of this sibling set: the module's top-level nodes.
            selection = dict.fromkeys(data.iterchildren(f"{{{namespace}}}*"), True)
        if selection:
            result = merge_selections(result, selection)
    return result


def _select(parent: etree._Element, nodes: Sequence[_FilterNode]) -> Selection | None:
    """Apply one sibling set of filter nodes to the children of ``parent`` (sec. 6.2.5).

    Returns:
        ``True`` when all of ``parent`` is selected, a dict of selected children, or
        ``None`` when nothing is.
    """
    selected: dict[etree._Element, Selection] = {}
    for node in nodes:
        if node.kind is _Kind.CONTENT_MATCH:
            hits = [child for child in node.candidates(parent) if node.content_matches(child)]
            if not hits:
                return None  # one false content match excludes the whole sibling set
            selected.update(dict.fromkeys(hits, True))
    others = [node for node in nodes if node.kind is not _Kind.CONTENT_MATCH]
    if not others:
        # Only content match nodes, all true: every sibling and its subtree.
        return True if nodes else None
    for node in others:
        for child in node.candidates(parent):
            child_selection = (
                True if node.kind is _Kind.SELECTION else _select(child, node.children)
            )
            if child_selection is not None:
                selected[child] = merge_selections(selected.get(child), child_selection)
    return selected or None
