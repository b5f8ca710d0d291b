"""The one XML toolbox: a hardened parser for peer input and element helpers.

Implements the message rules of RFC 6241 sec. 3: messages are well-formed XML encoded
in UTF-8, and document type declarations must not appear (sec. 3.2). Anything else is
reported as ``malformed-message`` (RFC 6241 Appendix A), never repaired.

Public names:

- :func:`parse_xml`: bytes from a peer -> root element, or
  :class:`~nvo3_netconf.errors.MalformedMessageError`;
- :func:`make_parser`: the hardened :class:`lxml.etree.XMLParser` behind it;
- :func:`qname`, :func:`local_name`, :func:`namespace_of`: names in Clark notation;
- :func:`element`, :func:`sub`, :func:`to_bytes`: building and serializing;
- :func:`children`, :func:`find_child`, :func:`child_text`: reading by namespace;
- :data:`DEFAULT_MAX_DEPTH`, :data:`NS_XML`, the alias :data:`Element`.

Error mapping: every rejection raises ``MalformedMessageError`` (error-type ``rpc``)
carrying a sentence for the peer. The session sends it as an ``<rpc-error>`` under
``:base:1.1``; under ``:base:1.0``, where that tag must not be sent, it closes the session,
as it does for a ``FramingError``. No separate exception type is needed.

Parser settings, and why:

- ``resolve_entities=False``, ``load_dtd=False``, ``no_network=True``: no entity is
  expanded and nothing is fetched, so neither external entities (XXE) nor "billion
  laughs" expansion can happen; a document carrying a DTD is then refused outright.
- ``huge_tree=False``: keeps libxml2's own safety limits (a text node of at most 10 MB,
  nesting of at most 256). They concern single nodes and depth, not document size, so
  a flat 12 MB edit of 100,000 entries parses.
- ``remove_blank_text=True``: drops whitespace-only text *between* elements; libxml2
  keeps a whitespace-only text that is an element's whole content, so leaf values such
  as ``<description> </description>`` survive.
- ``remove_comments``, ``remove_pis``: comments and processing instructions are not data.
- ``encoding="utf-8"``: decoding is forced to UTF-8 whatever the XML declaration says,
  so invalid UTF-8 and other encodings are reported.
- ``collect_ids=False``: no ``xml:id`` hash table (faster on large documents).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final, TypeAlias

from lxml import etree

from nvo3_netconf.errors import MalformedMessageError

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "NS_XML",
    "Element",
    "child_text",
    "children",
    "element",
    "find_child",
    "local_name",
    "make_parser",
    "namespace_of",
    "parse_xml",
    "qname",
    "sub",
    "to_bytes",
]

Element: TypeAlias = etree._Element
"""An lxml element; the type every helper here takes and returns."""

NS_XML: Final = "http://www.w3.org/XML/1998/namespace"
"""The ``xml:`` namespace (for ``xml:lang`` on ``error-message``)."""

DEFAULT_MAX_DEPTH: Final = 64
"""Deepest element nesting accepted, the ``<rpc>`` element being depth 1.

The deepest NETCONF content in common YANG models (OpenConfig BGP, for one) is about 25
levels under ``<rpc>``; 64 leaves margin and keeps recursive tree walks far below
Python's recursion limit. libxml2 refuses depth over 256 on its own.
"""

_WHITESPACE: Final = b" \t\r\n"
_MAX_DETAIL: Final = 200  # libxml2 quotes names from the input; keep the sentence short


def make_parser() -> etree.XMLParser:
    """Build the hardened parser (settings explained in the module docstring).

    A new parser per document: parsers hold state and are not shared between threads.

    Returns:
        A new :class:`lxml.etree.XMLParser`.
    """
    return etree.XMLParser(
        encoding="utf-8",
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=True,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        recover=False,
    )


def parse_xml(
    data: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, parser: etree.XMLParser | None = None
) -> Element:
    """Parse one message received from a peer.

    Whitespace before the document is ignored (some peers send a newline after
    ``]]>]]>``).

    Args:
        data: the message as framed by the transport.
        max_depth: the deepest element nesting accepted (root = 1).
        parser: a parser from :func:`make_parser` to reuse (a session keeps one; never
            shared between threads); by default a new one.

    Returns:
        The root element.

    Raises:
        MalformedMessageError: the bytes are not well-formed UTF-8 XML, carry a document
            type declaration, or nest deeper than ``max_depth``.
    """
    if data[:1] in (b" ", b"\t", b"\r", b"\n"):
        data = data.lstrip(_WHITESPACE)
    try:
        root = etree.fromstring(data, parser if parser is not None else make_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedMessageError(_syntax_error_message(exc)) from None
    # The parser reads UTF-8 only, where a declaration is always spelt "<!DOCTYPE".
    if b"<!DOCTYPE" in data and _has_doctype(root):
        raise MalformedMessageError(
            "The message contains a document type declaration, which NETCONF forbids "
            "(RFC 6241 sec. 3.2)."
        )
    if data.count(b"<") > max_depth and _deeper_than(root, max_depth):
        raise MalformedMessageError(f"The message nests elements deeper than {max_depth} levels.")
    return root


def _has_doctype(root: Element) -> bool:
    docinfo = root.getroottree().docinfo
    return bool(docinfo.doctype or docinfo.internalDTD is not None
                or docinfo.externalDTD is not None)


def _syntax_error_message(exc: etree.XMLSyntaxError) -> str:
    """Describe a libxml2 error in one sentence that reveals nothing about the server."""
    entry = exc.error_log.last_error if len(exc.error_log) else None
    if entry is None:
        return "The message is not well-formed XML."
    text = entry.message.strip().rstrip(".")
    if len(text) > _MAX_DETAIL:
        text = text[:_MAX_DETAIL] + "..."
    where = f"line {entry.line}, column {entry.column}"
    return f"The message is not well-formed UTF-8 XML: {text} ({where})."


def _deeper_than(root: Element, max_depth: int) -> bool:
    """Tell whether any element sits deeper than ``max_depth`` (root = 1).

    One XPath ``/*/*/...`` of ``max_depth + 1`` steps, evaluated in C: each step visits
    only the elements of the level before, so the cost is linear in the document.
    """
    if max_depth >= 256:
        return False  # libxml2 already refused anything deeper
    steps = etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")
    return bool(steps(root))


def qname(ns: str | None, local: str) -> str:
    """Return ``{ns}local`` (Clark notation), or ``local`` if ``ns`` is None or empty.

    Args:
        ns: the namespace URI.
        local: the local name.
    """
    return f"{{{ns}}}{local}" if ns else local


def local_name(el: Element) -> str:
    """Return the local name of an element (its tag without the namespace).

    Args:
        el: the element.
    """
    tag = el.tag
    if not isinstance(tag, str):  # comment or processing instruction
        return ""
    return tag.rpartition("}")[2]


def namespace_of(el: Element) -> str | None:
    """Return the namespace URI of an element, or ``None`` if it has none.

    Args:
        el: the element.
    """
    tag = el.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1 : tag.index("}")]
    return None


def element(
    ns: str | None,
    local: str,
    text: str | None = None,
    *,
    nsmap: Mapping[str | None, str] | None = None,
) -> Element:
    """Create a root element; by default its namespace is declared as the default one.

    Args:
        ns: the namespace URI.
        local: the local name.
        text: the text content, if any.
        nsmap: namespace declarations (prefix -> URI); default ``{None: ns}``.

    Returns:
        The new element.
    """
    if nsmap is None:
        nsmap = {None: ns} if ns else {}
    el = etree.Element(qname(ns, local), nsmap=dict(nsmap))
    if text is not None:
        el.text = text
    return el


def sub(parent: Element, ns: str | None, local: str, text: str | None = None) -> Element:
    """Append a child element to ``parent``.

    A child in another namespace than its parent declares it as its default namespace
    (``<leaf xmlns="urn:x">``), as NETCONF peers usually write, rather than lxml's
    generated ``ns0:`` prefixes.

    Args:
        parent: the parent element.
        ns: the child's namespace URI; ``None`` only under a parent without a default
            namespace (lxml cannot undeclare one).
        local: the child's local name.
        text: the child's text content, if any.

    Returns:
        The new child.

    Raises:
        ValueError: ``ns`` is empty and ``parent`` has a default namespace in scope.
    """
    if ns:
        if namespace_of(parent) == ns:
            child = etree.SubElement(parent, f"{{{ns}}}{local}")
        else:
            child = etree.SubElement(parent, f"{{{ns}}}{local}", nsmap={None: ns})
    else:
        if parent.nsmap.get(None):
            raise ValueError(f"cannot add un-namespaced <{local}> under a default namespace")
        child = etree.SubElement(parent, local)
    if text is not None:
        child.text = text
    return child


def to_bytes(el: Element, *, xml_declaration: bool = False) -> bytes:
    """Serialize an element as UTF-8, without pretty printing and without its tail.

    Args:
        el: the element to serialize.
        xml_declaration: prefix ``<?xml version='1.0' encoding='UTF-8'?>``.

    Returns:
        The serialized bytes.
    """
    return etree.tostring(el, encoding="UTF-8", xml_declaration=xml_declaration, with_tail=False)


def children(el: Element, ns: str) -> Iterator[Element]:
    """Iterate over the child elements of ``el`` that are in namespace ``ns``.

    Args:
        el: the parent element.
        ns: the namespace URI.
    """
    return el.iterchildren(f"{{{ns}}}*")


def find_child(el: Element, ns: str | None, local: str) -> Element | None:
    """Return the first child of ``el`` named ``{ns}local``, or ``None``.

    Args:
        el: the parent element.
        ns: the child's namespace URI.
        local: the child's local name.
    """
    # iterchildren(tag) matches in C; find() would compile an ElementPath first.
    return next(el.iterchildren(qname(ns, local)), None)


def child_text(el: Element, ns: str | None, local: str) -> str | None:
    """Return the text of the first child named ``{ns}local``; ``""`` if it is empty.

    Args:
        el: the parent element.
        ns: the child's namespace URI.
        local: the child's local name.

    Returns:
        The text, ``""`` for an empty child, ``None`` if there is no such child.
    """
    child = find_child(el, ns, local)
    if child is None:
        return None
    return child.text or ""
