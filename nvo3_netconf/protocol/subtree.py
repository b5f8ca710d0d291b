"""Subtree filtering (RFC 6241 sec. 6).

Implements namespace selection with the ``xmlns=""`` wildcard (sec. 6.2.1), attribute
match expressions (sec. 6.2.2), containment nodes (sec. 6.2.3), selection nodes
(sec. 6.2.4), content match nodes (sec. 6.2.5) and the sibling-set processing of
sec. 6.3, so that each example of sec. 6.4 gives the reply shown there.

Public names: :func:`apply_subtree_filter` and :data:`Lookup`.

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

Cost: the filter is classified once per call into plain slotted objects, each holding
what its evaluation needs (tag, selector, its content match and other children, the
values a list index could use). The children of a data node are then scanned once per
filter node that reaches it, in C where lxml allows it; a list entry tested only by
content match nodes (``<entry><id>5</id></entry>``, the usual key lookup) is decided
without building any intermediate selection. A server holding key indexes of its lists
can pass a :data:`Lookup` so that such a filter costs O(1) instead of a scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeAlias, cast

from lxml import etree

from nvo3_netconf.constants import NS_NC
from nvo3_netconf.protocol.selection import KeysOf, Selection, copy_selection, merge_selections

__all__ = ["Lookup", "apply_subtree_filter"]

Lookup: TypeAlias = Callable[
    [etree._Element, str, Mapping[str, str]], "Sequence[etree._Element] | None"
]
"""Optional index hook: the candidate entries of a list, found by key.

``lookup(parent, tag, matches)`` is called for a containment node of the filter that
has content match children, before the children of the data node ``parent`` are
scanned for it:

- ``parent``: a data element of the tree being filtered (never modified);
- ``tag``: the Clark-notation tag (``"{namespace}name"``) of the wanted children; the
  hook is never called for a namespace wildcard (sec. 6.2.1);
- ``matches``: ``{Clark tag: value}``, one item per content match child of the filter
  node (sec. 6.2.5), e.g. ``{"{urn:x}id": "5"}``. It must not be modified.

A child qualifies when, for every item, it has a child element with that tag whose
text, stripped of leading and trailing XML whitespace, equals the value as a string.
(The hook is not called when a value is a ``prefix:name`` whose prefix is declared in
the filter, since such a value also matches other prefixes bound to the same
namespace; other values containing ``:`` are compared literally, so an index keyed on
prefix-resolved values should return ``None`` for them.)

The hook returns either ``None`` ("no index for this": the children are scanned as
usual) or a sequence holding at least every qualifying child of ``parent``, in any
order. Extra elements are harmless: the exact rules of RFC 6241 are applied to what it
returns, and elements that are not children of ``parent`` with that tag are ignored.
It is called under the same lock as the filter and must not modify the tree.
"""

_PREFILTER_MIN = 4
"""Children a parent needs before the content-match prefilter is worth evaluating."""

_PREFILTERS: dict[tuple[object, ...], etree.XPath] = {}
"""Compiled prefilter steps by filter shape (the names of a node and of its content match
children, and which of those have a QName value).

lxml serializes concurrent evaluations of one compiled XPath, so sharing is safe.
"""

_PREFILTERS_MAX = 256
"""Shapes kept at most; the cache is emptied when full (clients choose the shapes)."""

_WALK_MAX = 4
"""Children an entry may have for content matches to walk them in Python.

Below this, stepping through the siblings is cheaper than setting up lxml's tag
iterator; above, the iterator skips the non-matching children in C.
"""

_XML_SPACE = " \t\r\n"  # XML 1.0 S production; str.strip() alone would also strip NBSP
_SPACE_RUN = re.compile(r"[ \t\r\n]+")


class _FilterNode:
    """One element of a subtree filter, classified once before evaluation.

    The node types of sec. 6.2.3 to 6.2.5 are told apart by ``value`` (non-empty for a
    content match node) and ``matches`` and ``others`` (not both empty for a containment
    node); a node with none of them is a selection node.
    """

    __slots__ = (
        "namespace",
        "local",
        "tag",
        "selector",
        "attributes",
        "value",
        "value_qname",
        "matches",
        "others",
        "keys",
        "_prefilter",
    )

    namespace: str | None  # None: any namespace (sec. 6.2.1 wildcard)
    local: str
    tag: str | None  # "{ns}name", None for the wildcard
    selector: str  # lxml tag selector: "{ns}name", or "{*}name" for the wildcard
    attributes: tuple[tuple[str, str], ...]
    value: str  # stripped content of a content match node, "" otherwise
    value_qname: tuple[str, str] | None  # (namespace, name) if value is a resolvable QName
    matches: tuple[_FilterNode, ...]  # the content match children
    others: tuple[_FilterNode, ...]  # the containment and selection children
    keys: dict[str, str] | None  # what a Lookup receives, or None if it cannot be used
    _prefilter: tuple[etree.XPath, dict[str, str]] | None

    def __init__(self, element: etree._Element, indexed: bool) -> None:
        """Classify ``element`` and, recursively, its child elements.

        ``indexed`` tells whether a :data:`Lookup` will be used (see :attr:`keys`).
        """
        tag: str = element.tag  # type: ignore[assignment]  # elements only
        namespace: str | None
        text: str | None
        if tag[0] == "{":
            end = tag.find("}")
            namespace = tag[1:end]
            local = tag[end + 1 :]
            if not namespace or namespace == NS_NC:
                namespace = None
        else:
            namespace, local = None, tag
        self.namespace = namespace
        self.local = local
        if namespace is None:
            self.tag = None
            self.selector = "{*}" + local
        else:
            self.tag = self.selector = tag
        attributes = element.items()
        self.attributes = tuple(attributes) if attributes else ()
        self.value_qname = None
        self._prefilter = None
        self.keys = None
        if len(element):
            matches: list[_FilterNode] = []
            others: list[_FilterNode] = []
            for child in element:
                if isinstance(child.tag, str):
                    node = _FilterNode(child, indexed)
                    (matches if node.value else others).append(node)
            if matches or others:
                self.value = ""
                self.matches = tuple(matches)
                self.others = tuple(others)
                if indexed and matches and namespace is not None:
                    self.keys = _lookup_keys(self.matches)
                return
            text = "".join(element.itertext())  # text and comments or PIs only
        else:
            text = element.text
        self.matches = self.others = ()
        value = text.strip(_XML_SPACE) if text else ""
        self.value = value
        if value and ":" in value:
            self.value_qname = _resolve_qname(element, value)

    def candidates(
        self, parent: etree._Element, lookup: Lookup | None = None
    ) -> Iterable[etree._Element]:
        """The children of ``parent`` with the right name and attributes.

        With a ``lookup``, a node with content match children first asks it for the
        candidates (see :data:`Lookup`). Otherwise such a node narrows a long list down
        with :meth:`prefilter`, an XPath evaluated in C: picking one entry of a list then
        costs no Python work per entry. It is used for parents with at least
        :data:`_PREFILTER_MIN` children (below, a scan in Python costs less). Both accept
        a superset of what the content match nodes accept, and :func:`_select` still
        applies the exact rules.
        """
        found: Iterable[etree._Element]
        if lookup is not None and self.keys is not None:
            indexed = lookup(parent, cast(str, self.tag), self.keys)
            if indexed is not None:
                found = self._own(parent, indexed)
                if not self.attributes:
                    return found
                return [c for c in found if all(c.get(n) == v for n, v in self.attributes)]
        if self.matches and len(parent) >= _PREFILTER_MIN:
            step, variables = self.prefilter()
            found = cast("list[etree._Element]", step(parent, **variables))
        else:
            found = parent.iterchildren(self.selector)
        if not self.attributes:
            return found
        return [c for c in found if all(c.get(n) == v for n, v in self.attributes)]

    def _own(
        self, parent: etree._Element, indexed: Sequence[etree._Element]
    ) -> list[etree._Element]:
        """The distinct children of ``parent`` with this node's tag among ``indexed``."""
        tag = self.tag
        if len(indexed) == 1:
            only = indexed[0]
            return [only] if only.tag == tag and only.getparent() is parent else []
        own = dict.fromkeys(c for c in indexed if c.tag == tag and c.getparent() is parent)
        return list(own)

    def content_matches(self, element: etree._Element) -> bool:
        """Tell whether ``element`` is a leaf whose content equals this node's value.

        The content is the XPath string-value (all text, comments excluded), stripped of
        leading and trailing XML whitespace.
        """
        text: str | None
        if len(element):
            if next(element.iterchildren(etree.Element), None) is not None:
                return False  # a content match node stands for a leaf (sec. 6.2.5)
            text = "".join(element.itertext())
        else:
            text = element.text  # the whole string-value of a childless element
            if text is None:
                return False  # the value of a content match node is never empty
        value = self.value
        if text == value:
            return True
        text = text.strip(_XML_SPACE)
        if text == value:
            return True
        if self.value_qname is None or ":" not in text:
            return False
        prefix, name = text.split(":", 1)
        return (element.nsmap.get(prefix), name) == self.value_qname

    def has_match(self, parent: etree._Element) -> bool:
        """Tell whether a child of ``parent`` satisfies this content match node."""
        tag = self.tag
        if tag is not None and not self.attributes and len(parent) <= _WALK_MAX:
            value = self.value
            child = parent[0] if len(parent) else None
            while child is not None:
                if child.tag == tag:
                    if not len(child):
                        text = child.text
                        if text is not None and (text == value or text.strip(_XML_SPACE) == value):
                            return True
                        if self.value_qname is None:
                            child = child.getnext()
                            continue
                    if self.content_matches(child):
                        return True
                child = child.getnext()
            return False
        for child in self.candidates(parent):
            if self.content_matches(child):
                return True
        return False

    def prefilter(self) -> tuple[etree.XPath, dict[str, str]]:
        """XPath ``child::`` step selecting the candidates whose content matches may be true.

        For each content match child ``<c>v</c>`` the step requires a child ``c`` whose
        whitespace-normalized string-value equals ``v`` normalized; if ``v`` is a QName, a
        matching local part after any prefix is accepted too. Whatever the exact test of
        :meth:`content_matches` accepts, this accepts.

        Returns:
            The compiled step and the values of its variables. The values are variables,
            so the step depends only on the names in the filter: compiled steps are kept
            in :data:`_PREFILTERS` and shared by all filters of that shape.
        """
        if self._prefilter is None:
            variables: dict[str, str] = {}
            shape: list[object] = [self.tag or self.local]  # "{" starts only a tag
            for number, child in enumerate(self.matches):
                variables[f"v{number}"] = _normalize_space(child.value)
                if child.value_qname is not None:
                    variables[f"q{number}"] = child.value_qname[1]
                shape.append(child.tag or child.local)
                shape.append(child.value_qname is not None)
            key = tuple(shape)
            step = _PREFILTERS.get(key)
            if step is None:
                step = self._compile_prefilter()
                if len(_PREFILTERS) >= _PREFILTERS_MAX:
                    _PREFILTERS.clear()
                _PREFILTERS[key] = step
            self._prefilter = step, variables
        return self._prefilter

    def _compile_prefilter(self) -> etree.XPath:
        """Compile the step of :meth:`prefilter`, with variables ``$vN`` and ``$qN``."""
        prefixes: dict[str, str] = {}
        tests = []
        for number, child in enumerate(self.matches):
            test = f"normalize-space() = $v{number}"
            if child.value_qname is not None:
                test += f" or substring-after(normalize-space(), ':') = $q{number}"
            tests.append(f"[{_name_test(child, prefixes)}[{test}]]")
        expression = _name_test(self, prefixes) + "".join(tests)
        namespaces = {prefix: namespace for namespace, prefix in prefixes.items()}
        return etree.XPath(expression, namespaces=namespaces, smart_strings=False)


def apply_subtree_filter(
    data: etree._Element,
    filter_el: etree._Element | None,
    *,
    keys_of: KeysOf | None = None,
    lookup: Lookup | None = None,
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
        lookup: optional index hook returning the candidate entries of a list by the
            values of the filter's content match nodes (see :data:`Lookup`); the result
            is the same with or without it.

    Returns:
        A new element with the tag and namespace declarations of ``data`` holding the
        selected data.
    """
    if filter_el is None:
        return copy_selection(data, True)
    indexed = lookup is not None
    nodes = [_FilterNode(child, indexed) for child in filter_el if isinstance(child.tag, str)]
    if not nodes:
        return copy_selection(data, None)
    return copy_selection(data, _select_top_level(data, nodes, lookup), keys_of=keys_of)


def _lookup_keys(matches: tuple[_FilterNode, ...]) -> dict[str, str] | None:
    """The ``matches`` argument of a :data:`Lookup`, or None when it cannot be given."""
    keys: dict[str, str] = {}
    for match in matches:
        if match.tag is None or match.value_qname is not None or match.tag in keys:
            return None
        keys[match.tag] = match.value
    return keys


def _name_test(node: _FilterNode, prefixes: dict[str, str]) -> str:
    if node.namespace is None:
        return f"*[local-name() = {_literal(node.local)}]"
    prefix = prefixes.setdefault(node.namespace, f"n{len(prefixes)}")
    return f"{prefix}:{node.local}"


def _normalize_space(text: str) -> str:
    if " " in text or "\n" in text or "\t" in text or "\r" in text:
        return _SPACE_RUN.sub(" ", text).strip(" ")
    return text


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


def _select_top_level(
    data: etree._Element, nodes: Sequence[_FilterNode], lookup: Lookup | None
) -> Selection | None:
    """Process the root sibling sets: one per namespace (sec. 6.3)."""
    sibling_sets: dict[str | None, Sequence[_FilterNode]]
    if len(nodes) == 1:  # the usual filter: one sibling set of one node
        sibling_sets = {nodes[0].namespace: nodes}
    else:
        by_namespace: dict[str | None, list[_FilterNode]] = {}
        for node in nodes:
            by_namespace.setdefault(node.namespace, []).append(node)
        sibling_sets = dict(by_namespace)
    result: Selection | None = None
    for namespace, sibling_set in sibling_sets.items():
        matches: list[_FilterNode] = []
        others: list[_FilterNode] = []
        for node in sibling_set:
            (matches if node.value else others).append(node)
        selection = _select(data, tuple(matches), tuple(others), lookup)
        if selection is True and namespace is not None:
            # "All nodes at this level" of this sibling set: the module's top-level nodes.
            selection = dict.fromkeys(data.iterchildren(f"{{{namespace}}}*"), True)
        if selection:
            result = selection if result is None else merge_selections(result, selection)
    return result


def _select(
    parent: etree._Element,
    matches: tuple[_FilterNode, ...],
    others: tuple[_FilterNode, ...],
    lookup: Lookup | None,
) -> Selection | None:
    """Apply one sibling set of filter nodes to the children of ``parent`` (sec. 6.2.5).

    Args:
        parent: the data element whose children the sibling set is matched against.
        matches: the content match nodes of the sibling set.
        others: its containment and selection nodes.
        lookup: the optional index hook.

    Returns:
        ``True`` when all of ``parent`` is selected, a dict of selected children, or
        ``None`` when nothing is.
    """
    selected: dict[etree._Element, Selection] = {}
    for node in matches:
        hits = [child for child in node.candidates(parent) if node.content_matches(child)]
        if not hits:
            return None  # one false content match excludes the whole sibling set
        for hit in hits:
            selected[hit] = True
    if not others:
        # Only content match nodes, all true: every sibling and its subtree.
        return True if matches else None
    for node in others:
        node_matches = node.matches
        node_others = node.others
        if node_others:  # a containment node: its sibling set applied to each child
            for child in node.candidates(parent, lookup):
                child_selection = _select(child, node_matches, node_others, lookup)
                if child_selection is not None:
                    previous = selected.get(child)
                    selected[child] = (
                        child_selection
                        if previous is None
                        else merge_selections(previous, child_selection)
                    )
        elif node_matches:  # content match nodes only: all true selects the whole child
            for child in node.candidates(parent, lookup):
                for match in node_matches:
                    if not match.has_match(child):
                        break
                else:
                    selected[child] = True
        else:  # a selection node: the children with its name, whole
            for child in node.candidates(parent, lookup):
                selected[child] = True
    return selected or None
