"""An XPath 1.0 parser (W3C XPath 1.0 sec. 2, 3) producing a small syntax tree.

The YANG XPath translator (:mod:`nvo3_netconf.schema.yang_xpath`) rewrites must, when
and leafref path expressions (RFC 7950 sec. 6.4) from this tree. Lexical structure follows
XPath 1.0 sec. 3.7: a ``*`` or a name after an operand is an operator, a name followed by
``(`` is a function (or a node type test) and one followed by ``::`` an axis.

Public names: :func:`parse`, :class:`XPathTranslationError` and the node classes
:class:`Step`, :class:`Path`, :class:`Call`, :class:`Binary`, :class:`Negate`,
:class:`Literal`, :class:`Number` (``Call("", (e,))`` is a parenthesized expression).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NCNAME = r"[^\W\d][\w.\-\u00b7]*"
_TOKEN = re.compile(
    rf"""
    (?P<literal>"[^"]*"|'[^']*')
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<slash>//?)
    | (?P<dots>\.\.?)
    | (?P<axis>::)
    | (?P<op>!=|<=|>=|[<>=|+\-])
    | (?P<punct>[(\[\],@)])
    | (?P<star>\*)
    | (?P<variable>\$(?:{_NCNAME}:)?{_NCNAME})
    | (?P<name>{_NCNAME}(?::(?:{_NCNAME}|\*))?)
    """,
    re.VERBOSE,
)
_NODE_TYPES = frozenset({"node", "text", "comment", "processing-instruction"})


class XPathTranslationError(ValueError):
    """The expression is not valid XPath 1.0 or uses something we cannot translate."""


@dataclass(frozen=True)
class Step:
    """A location step: axis, node test and predicates.

    ``test`` is ``name``, ``prefix:name``, ``*``, ``prefix:*`` or a node type test such as
    ``node()``; ``.`` and ``..`` are ``self::node()`` and ``parent::node()``.
    """

    axis: str
    test: str
    predicates: tuple[object, ...] = ()


@dataclass(frozen=True)
class Path:
    """A location path, or a filter expression (``primary`` with ``filters``) and steps."""

    absolute: bool
    steps: tuple[Step, ...]
    primary: object | None = None
    filters: tuple[object, ...] = ()


@dataclass(frozen=True)
class Call:
    """A function call (name ``""``: a parenthesized expression)."""

    name: str
    args: tuple[object, ...]


@dataclass(frozen=True)
class Binary:
    """An operator between two operands (``or``, ``and``, ``=``, ``<``, ``+``, ``|``...)."""

    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: object


@dataclass(frozen=True)
class Literal:
    """A string literal (without its quotes)."""

    value: str


@dataclass(frozen=True)
class Number:
    """A number, as written."""

    text: str


class _Parser:
    """Recursive descent over the XPath 1.0 grammar (W3C XPath 1.0 sec. 2, 3)."""

    def __init__(self, expression: str) -> None:
        self.source = expression
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while True:
            while position < len(expression) and expression[position] in " \t\r\n":
                position += 1
            if position == len(expression):
                break
            match = _TOKEN.match(expression, position)
            if match is None or match.lastgroup is None:
                raise XPathTranslationError(f"unexpected character at offset {position}")
            self.tokens.append((match.lastgroup, match.group()))
            position = match.end()
        self.index = 0

    def parse(self) -> object:
        tree = self.expr()
        if self.index != len(self.tokens):
            raise XPathTranslationError(f"unexpected {self.peek()[1]!r}")
        return tree

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        index = self.index + ahead
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self, text: str | None = None) -> str:
        kind, value = self.peek()
        if kind == "end" or (text is not None and value != text):
            raise XPathTranslationError(f"expected {text or 'a token'}, found {value!r}")
        self.index += 1
        return value

    def binary(self, operators: tuple[str, ...], operand: str) -> object:
        parse = getattr(self, operand)
        left = parse()
        while self.peek()[1] in operators and self.peek()[0] in ("op", "name", "star"):
            op = self.take()
            left = Binary(op, left, parse())
        return left

    def expr(self) -> object:
        return self.binary(("or",), "and_expr")

    def and_expr(self) -> object:
        return self.binary(("and",), "equality")

    def equality(self) -> object:
        return self.binary(("=", "!="), "relational")

    def relational(self) -> object:
        return self.binary(("<", "<=", ">", ">="), "additive")

    def additive(self) -> object:
        return self.binary(("+", "-"), "multiplicative")

    def multiplicative(self) -> object:
        return self.binary(("*", "div", "mod"), "unary")

    def unary(self) -> object:
        if self.peek() == ("op", "-"):
            self.take()
            return Negate(self.unary())
        return self.binary(("|",), "path")

    def starts_step(self) -> bool:
        kind, value = self.peek()
        if kind in ("dots", "star") or value == "@":
            return True
        if kind != "name":
            return False
        following = self.peek(1)[1]
        return following != "(" or value in _NODE_TYPES

    def path(self) -> object:
        kind, value = self.peek()
        if kind == "slash":
            self.take()
            steps: list[Step] = []
            if value == "//":
                steps.append(Step("descendant-or-self", "node()"))
                steps.extend(self.relative())
            elif self.starts_step():
                steps.extend(self.relative())
            return Path(True, tuple(steps))
        if self.starts_step():
            return Path(False, tuple(self.relative()))
        primary = self.primary()
        filters: list[object] = []
        while self.peek()[1] == "[":
            filters.append(self.predicate())
        if self.peek()[0] != "slash":
            return primary if not filters else Path(False, (), primary, tuple(filters))
        separator = self.take()
        steps = [Step("descendant-or-self", "node()")] if separator == "//" else []
        steps.extend(self.relative())
        return Path(False, tuple(steps), primary, tuple(filters))

    def relative(self) -> list[Step]:
        steps = [self.step()]
        while self.peek()[0] == "slash":
            if self.take() == "//":
                steps.append(Step("descendant-or-self", "node()"))
            steps.append(self.step())
        return steps

    def step(self) -> Step:
        kind, value = self.peek()
        if kind == "dots":
            self.take()
            return Step("self" if value == "." else "parent", "node()")
        axis = "child"
        if value == "@":
            self.take()
            axis = "attribute"
        elif kind == "name" and self.peek(1)[0] == "axis":
            axis = self.take()
            self.take("::")
        kind, value = self.peek()
        if kind not in ("name", "star"):
            raise XPathTranslationError(f"expected a node test, found {value!r}")
        test = self.take()
        if test in _NODE_TYPES and self.peek()[1] == "(":
            self.take("(")
            if self.peek()[0] == "literal":
                self.take()
            self.take(")")
            test += "()"
        predicates: list[object] = []
        while self.peek()[1] == "[":
            predicates.append(self.predicate())
        return Step(axis, test, tuple(predicates))

    def predicate(self) -> object:
        self.take("[")
        inner = self.expr()
        self.take("]")
        return inner

    def primary(self) -> object:
        kind, value = self.peek()
        if kind == "literal":
            self.take()
            return Literal(value[1:-1])
        if kind == "number":
            self.take()
            return Number(value)
        if kind == "variable":
            raise XPathTranslationError(f"variable {value} is not defined")
        if value == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return Call("", (inner,))  # a parenthesized expression
        if kind == "name" and self.peek(1)[1] == "(":
            name = self.take()
            self.take("(")
            args: list[object] = []
            if self.peek()[1] != ")":
                args.append(self.expr())
                while self.peek()[1] == ",":
                    self.take()
                    args.append(self.expr())
            self.take(")")
            return Call(name, tuple(args))
        raise XPathTranslationError(f"unexpected {value or 'end of expression'!r}")


def parse(expression: str) -> object:
    """The syntax tree of an XPath 1.0 expression.

    Raises:
        XPathTranslationError: the expression is not valid XPath 1.0 (or uses a variable).
    """
    return _Parser(expression).parse()
