"""XPath filtering: the :xpath capability (RFC 6241 sec. 8.9).

Public names: :func:`apply_xpath_filter` and :func:`anchor_absolute_paths`.

The root problem. In NETCONF the XPath root node has the top-level data nodes as its
children (RFC 6241 sec. 8.9.1 takes the XSLT 1.0 sec. 3.1 extension: a root node may
have several element children). The datastore is one lxml tree whose root element is
``<data>``, so to lxml ``/t:top`` means "a document element named t:top" and matches
nothing. Alternatives considered:

- Evaluating through ``etree.ElementTree(data).xpath()`` still leaves ``<data>`` as the
  only child of ``/``; and when ``<data>`` is not its document's root, lxml diverts the
  parent pointers of its children to a temporary document for the duration of the call
  (``_fakeRootDoc`` in lxml's ``proxy.pxi``): unsafe for concurrent readers.
- Evaluating once per top-level subtree gives wrong answers for ``count()``, for
  predicates that refer to another module (``/a:x[/b:y='1']``) and for ``//``.
- Stripping a leading ``/`` is wrong for unions, predicates and function arguments.

Chosen: :func:`anchor_absolute_paths` tokenizes the expression by the lexical rules of
XPath 1.0 sec. 3.7 and rewrites each absolute location path to start at a variable
bound to the ``<data>`` element: ``/p`` becomes ``$root/p``, ``//p`` becomes
``$root//p`` and a bare ``/`` becomes ``$root``, wherever they occur (unions,
predicates, function arguments). The context node is ``<data>`` too, so relative paths
start at the root as well. ``<data>`` thus plays the root node: selecting it (``/``,
``.``, ``/t:top/..``) returns the whole datastore. The tree is only read, never modified.

Limits, documented rather than hidden:

- ``<data>`` is an element where the real root node is not: ``self::*``, ``name(/)``
  or ``/t:top/ancestor::*`` see an element named ``data``.
- Variable references are refused: the data models define no variable bindings
  (sec. 8.9.1), and ``$root`` must stay ours.
- Unprefixed names match only elements in no namespace (XPath 1.0 sec. 2.3); the default
  namespace of the ``<filter>`` element is not applied to them.
- The function library is libxml2's XPath 1.0 core library; YANG functions such as
  ``current()`` or ``derived-from()`` are not available.
- Selected namespace nodes are ignored (lxml does not tell which element owns them).
- Evaluation cost is not bounded: ``//*[count(//*) > 0]`` is quadratic in the datastore
  size and runs under the caller's read lock.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import NamedTuple

from lxml import etree

from nvo3_netconf.constants import ErrorType
from nvo3_netconf.errors import InvalidValueError
from nvo3_netconf.protocol.selection import KeysOf, Selection, copy_selection

XPath = str
"""An XPath 1.0 expression (W3C XPath 1.0; RFC 6241 sec. 8.9)."""

_ROOT_VARIABLE = "root"

_NCNAME = r"[^\W\d][\w.\-\u00b7]*"
_TOKEN = re.compile(
    rf"""
    (?P<literal>"[^"]*"|'[^']*')
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<slash>//?)
    | (?P<dots>\.\.?)
    | (?P<axis>::)
    | (?P<operator>!=|<=|>=|[<>=|+\-])
    | (?P<open>[(\[,@])
    | (?P<close>[)\]])
    | (?P<star>\*)
    | (?P<variable>\$(?:{_NCNAME}:)?{_NCNAME})
    | (?P<name>{_NCNAME}(?::(?:{_NCNAME}|\*))?)
    """,
    re.VERBOSE,
)
_OPERATOR_NAMES = frozenset({"and", "or", "mod", "div"})
_STEP_STARTS = frozenset({"name", "star", "dots"})


class _Token(NamedTuple):
    kind: str
    text: str
    start: int
    end: int


def apply_xpath_filter(
    data: etree._Element,
    select: XPath,
    namespaces: Mapping[str, str] | Mapping[str | None, str],
    *,
    keys_of: KeysOf | None = None,
) -> etree._Element:
    """Apply an XPath filter to a data tree (RFC 6241 sec. 8.9).

    The reply holds each selected node with its whole subtree, and the chain of its
    ancestor elements (tag and attributes only). A selected text node or attribute
    selects the element that holds it. With ``keys_of``, the key leaves of every list
    entry on those chains are included, as sec. 8.9.1 requires ("including any elements
    ... necessary to uniquely identify the subtree"). ``data`` is not modified and only
    the selected parts are copied.

    Args:
        data: the datastore content; its element children are the top-level data nodes.
        select: the ``select`` attribute of the ``<filter>`` element.
        namespaces: the namespace declarations in scope on the ``<filter>`` element, e.g.
            its ``nsmap``; a default (``None`` or ``""``) entry is ignored.
        keys_of: optional schema callback naming the key leaves of a list entry.

    Returns:
        A new element with the tag and namespace declarations of ``data`` holding the
        selected data.

    Raises:
        InvalidValueError: (error-type protocol) the expression is not valid XPath 1.0,
            uses an undeclared prefix, a variable or an unknown function, or evaluates
            to a number, string or boolean instead of a node-set.
    """
    prefixes = {prefix: uri for prefix, uri in namespaces.items() if prefix}
    expression = anchor_absolute_paths(select, prefixes.keys() | {"xml"})
    try:
        compiled = etree.XPath(expression, namespaces=prefixes)
        result = compiled(data, **{_ROOT_VARIABLE: data})
    except etree.XPathError as exc:
        raise _invalid(select, f"{exc}".rstrip(".")) from exc
    if not isinstance(result, list):
        kind = {bool: "a boolean", float: "a number"}.get(type(result), "a string")
        raise _invalid(
            select,
            f"it evaluates to {kind}, but an XPath filter must select a node-set",
        )
    return copy_selection(data, _select_nodes(data, result), keys_of=keys_of)


def anchor_absolute_paths(expression: XPath, prefixes: Collection[str]) -> str:
    """Rewrite the absolute location paths of ``expression`` to start at ``$root``.

    Also checks what lxml would report less clearly: unknown prefixes, variables and
    characters that cannot start an XPath token.

    Args:
        expression: an XPath 1.0 expression.
        prefixes: the namespace prefixes that may be used (``xml`` is not implied).

    Returns:
        The expression with ``/p`` -> ``$root/p``, ``//p`` -> ``$root//p`` and a bare
        ``/`` -> ``$root``; everything else, literals included, is left as written.

    Raises:
        InvalidValueError: a token is invalid or misplaced, a prefix is not declared, or a variable
            is referenced.
    """
    tokens = _tokenize(expression)
    pieces: list[str] = []
    done = 0
    expect_operand = True  # XPath 1.0 sec. 3.7: does the next token start an operand?
    for index, token in enumerate(tokens):
        kind = token.kind
        if kind == "slash" and expect_operand:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if token.text == "//":
                anchored = f"${_ROOT_VARIABLE}//"
            elif following is not None and (
                following.kind in _STEP_STARTS or following.text == "@"
            ):
                anchored = f"${_ROOT_VARIABLE}/"
            else:
                anchored = f"${_ROOT_VARIABLE}"
            pieces += [expression[done : token.start], anchored]
            done = token.end
        elif kind == "variable":
            raise _invalid(expression, f"variable {token.text} is not defined")
        elif kind == "name" and expect_operand and ":" in token.text:
            prefix = token.text.split(":", 1)[0]
            if prefix not in prefixes:
                raise _invalid(expression, f"namespace prefix {prefix!r} is not declared")
        elif kind == "name" and not expect_operand and token.text not in _OPERATOR_NAMES:
            raise _invalid(
                expression, f"an operator is missing before {token.text!r} at offset {token.start}"
            )
        if kind in ("literal", "number", "variable", "close", "dots"):
            expect_operand = False
        elif kind in ("slash", "operator", "open", "axis"):
            expect_operand = True
        elif kind == "star" or kind == "name":
            # A name test / function name when an operand is expected; otherwise the
            # multiply operator or an operator name (and, or, mod, div).
            expect_operand = not expect_operand
    pieces.append(expression[done:])
    return "".join(pieces)


def _tokenize(expression: XPath) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    length = len(expression)
    while True:
        while position < length and expression[position] in " \t\r\n":
            position += 1
        if position == length:
            return tokens
        match = _TOKEN.match(expression, position)
        if match is None or match.lastgroup is None:
            raise _invalid(expression, f"unexpected character at offset {position}")
        tokens.append(_Token(match.lastgroup, match.group(), position, match.end()))
        position = match.end()


def _select_nodes(data: etree._Element, result: list[object]) -> Selection | None:
    """Turn an XPath node-set into a selection of whole subtrees under ``data``."""
    selection: dict[etree._Element, Selection] = {}
    for item in result:
        element = _owner(item)
        if element is None:
            continue
        if element is data:
            return True
        path = [element]
        parent = element.getparent()
        while parent is not None and parent is not data:
            path.append(parent)
            parent = parent.getparent()
        if parent is None:
            continue  # outside data (only possible when data is not a document root)
        level = selection
        for ancestor in reversed(path[1:]):
            below = level.get(ancestor)
            if below is True:
                break  # already selected with its whole subtree
            if below is None:
                below = level[ancestor] = {}
            level = below
        else:
            level[element] = True
    return selection or None


def _owner(item: object) -> etree._Element | None:
    """The element a node-set member stands for; ``None`` for namespace nodes."""
    if isinstance(item, etree._Element):
        # Comments and processing instructions stand for the element that holds them.
        return item if isinstance(item.tag, str) else item.getparent()
    if isinstance(item, etree._ElementUnicodeResult):  # text or attribute value
        owner = item.getparent()
        return owner.getparent() if owner is not None and item.is_tail else owner
    return None


def _invalid(expression: XPath, reason: str) -> InvalidValueError:
    return InvalidValueError(
        f"Invalid XPath filter {expression!r}: {reason}.",
        type_=ErrorType.PROTOCOL,
    )
