"""The NACM configuration (RFC 8341 sec. 3.5, module ``ietf-netconf-acm``) as Python data.

:func:`parse_config` turns the ``/nacm`` container of running into a frozen
:class:`NacmConfig`: the global switches and defaults (``enable-nacm``,
``read-default``, ``write-default``, ``exec-default``, ``enable-external-groups``),
the groups (``/nacm/groups``) and the rule-lists with their rules, in order. Nothing
here decides anything about a request; :mod:`nvo3_netconf.nacm.engine` does.

Rule paths (leaf ``path``, type ``node-instance-identifier``, RFC 8341 sec. 3.5.2) are
compiled into :class:`NodePath`: a sequence of :class:`Step`, each a qualified node
name and its predicates. As in an instance-identifier (RFC 7950 sec. 9.13), a
predicate is ``[prefix:leaf='value']``, ``[.='value']`` (a leaf-list entry) or ``[n]``
(a position); key predicates may be left out (the path then stands for every
instance). Two extensions, both evaluated against the data:

- a ``[prefix:leaf='value']`` predicate may name any child leaf (or leaf-list) of a
  list entry or container, not only a key: ``/vm:vms/vm:vm[vm:tenant='alice']``
  selects the VMs of tenant alice (our VM and VN lists are keyed by id and name, the
  tenant is a plain leaf);
- the value may be the variable ``$USER`` (RFC 8341 sec. 3.5.2 binds it to the
  session's user name): ``[vm:tenant=$USER]``.

Prefixes are resolved with the namespace declarations in scope on the ``path``
element (as RFC 8341 says), then as module names (JSON style, ``/nvo3-vm:vms``), then
as the prefixes the modules themselves declare. A name without a prefix is in its
parent's namespace. A path that cannot be compiled makes its rule *broken*: a
broken permit rule matches nothing, a broken deny rule matches every data node of its
module (a mistake in the policy never opens access).

Public names: :class:`Access`, :class:`RuleKind`, :class:`Predicate`, :class:`Step`,
:class:`NodePath`, :class:`PathError`, :func:`parse_path`, :func:`parse_access`,
:class:`Rule`, :class:`RuleList`, :class:`NacmConfig`, :func:`parse_config`,
:data:`DEFAULT_CONFIG`, :func:`bootstrap_rule_list`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntFlag, StrEnum
from types import MappingProxyType

from lxml import etree

from nvo3_netconf.constants import NS_NACM

logger = logging.getLogger(__name__)

_N = f"{{{NS_NACM}}}"


class Access(IntFlag):
    """The access operations of RFC 8341 sec. 3.2.2 (``access-operations-type`` bits)."""

    CREATE = 1
    READ = 2
    UPDATE = 4
    DELETE = 8
    EXEC = 16
    WRITE = CREATE | UPDATE | DELETE
    ALL = CREATE | READ | UPDATE | DELETE | EXEC


_ACCESS_BITS = {"create": Access.CREATE, "read": Access.READ, "update": Access.UPDATE,
                "delete": Access.DELETE, "exec": Access.EXEC}


def parse_access(text: str | None) -> Access:
    """The value of ``access-operations``: ``*`` or space-separated bit names."""
    text = (text or "*").strip()
    if text == "*":
        return Access.ALL
    result = Access(0)
    for word in text.split():
        bit = _ACCESS_BITS.get(word)
        if bit is None:
            raise ValueError(f"unknown access operation {word!r}")
        result |= bit
    return result


class RuleKind(StrEnum):
    """Which case of the ``rule-type`` choice a rule uses (none: it matches every request)."""

    ANY = "any"
    RPC = "protocol-operation"
    NOTIFICATION = "notification"
    DATA = "data-node"


class PathError(ValueError):
    """A ``node-instance-identifier`` that cannot be compiled."""


@dataclass(frozen=True)
class Predicate:
    """One predicate of a path step.

    Attributes:
        namespace / name: the child leaf it tests; ``name`` is None for ``[.='v']``
            (the value of the leaf-list entry itself) and for a position.
        value: the literal compared with (None with ``$USER`` or a position).
        user: the value is the ``$USER`` variable.
        position: ``[n]``: the n-th instance (1-based) among its siblings.
        resolved: ``value`` with its prefix replaced by ``{namespace}`` when it looks
            like a prefixed name (identityref values), else None.
    """

    namespace: str | None
    name: str | None
    value: str | None = None
    user: bool = False
    position: int | None = None
    resolved: str | None = None


@dataclass(frozen=True)
class Step:
    """One node of a path: ``(namespace, name)`` and its predicates."""

    namespace: str
    name: str
    predicates: tuple[Predicate, ...] = ()

    @property
    def qname(self) -> tuple[str, str]:
        """``(namespace, name)``."""
        return (self.namespace, self.name)


@dataclass(frozen=True)
class NodePath:
    """A compiled ``node-instance-identifier``: the node it names and its descendants."""

    text: str
    steps: tuple[Step, ...]

    def __len__(self) -> int:
        return len(self.steps)


_NAME = r"[A-Za-z_][\w.-]*"
_TOKEN = re.compile(
    rf"""\s*(?:
        (?P<slash>/)
      | (?P<qname>(?:{_NAME}:)?{_NAME})
      | (?P<open>\[)
      | (?P<close>\])
      | (?P<eq>=)
      | (?P<dot>\.)
      | (?P<number>\d+)
      | (?P<user>\$USER\b)
      | '(?P<single>[^']*)'
      | "(?P<double>[^"]*)"
    )""",
    re.VERBOSE,
)
_PREFIXED_VALUE = re.compile(rf"^({_NAME}):({_NAME})$")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise PathError(f"unexpected {text[position:position + 10]!r} in path {text!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_path(
    text: str,
    resolve: Callable[[str], str | None],
) -> NodePath:
    """Compile a rule's ``path``.

    Args:
        text: the expression, e.g. ``/vm:vms/vm:vm[vm:tenant='alice']``.
        resolve: prefix -> namespace (None when unknown).

    Raises:
        PathError: the syntax is wrong or a prefix is unknown.
    """
    tokens = _tokens(text)
    if not tokens or tokens[0][0] != "slash":
        raise PathError(f"path {text!r} is not absolute")
    if len(tokens) == 1:
        return NodePath(text, ())  # "/": every data node
    steps: list[Step] = []
    index = 0
    parent_namespace: str | None = None

    def qualified(token: str) -> tuple[str, str]:
        prefix, _, name = token.rpartition(":")
        if prefix:
            namespace = resolve(prefix)
            if namespace is None:
                raise PathError(f"unknown prefix {prefix!r} in path {text!r}")
            return namespace, name
        if parent_namespace is None:
            raise PathError(f"the first node of path {text!r} needs a prefix")
        return parent_namespace, name

    while index < len(tokens):
        kind, value = tokens[index]
        if kind != "slash":
            raise PathError(f"expected '/' in path {text!r}")
        index += 1
        if index >= len(tokens) or tokens[index][0] != "qname":
            raise PathError(f"expected a node name in path {text!r}")
        namespace, name = qualified(tokens[index][1])
        index += 1
        predicates: list[Predicate] = []
        while index < len(tokens) and tokens[index][0] == "open":
            predicate, index = _predicate(tokens, index + 1, text, namespace, qualified, resolve)
            predicates.append(predicate)
        steps.append(Step(namespace, name, tuple(predicates)))
        parent_namespace = namespace
    return NodePath(text, tuple(steps))


def _predicate(
    tokens: list[tuple[str, str]],
    index: int,
    text: str,
    namespace: str,
    qualified: Callable[[str], tuple[str, str]],
    resolve: Callable[[str], str | None],
) -> tuple[Predicate, int]:
    def take(*kinds: str) -> tuple[str, str]:
        nonlocal index
        if index >= len(tokens) or tokens[index][0] not in kinds:
            raise PathError(f"malformed predicate in path {text!r}")
        token = tokens[index]
        index += 1
        return token

    kind, value = take("qname", "dot", "number")
    if kind == "number":
        take("close")
        position = int(value)
        if position < 1:
            raise PathError(f"position {position} in path {text!r} is not positive")
        return Predicate(None, None, position=position), index
    if kind == "dot":
        leaf_ns, leaf = None, None
    else:
        leaf_ns, leaf = qualified(value) if ":" in value else (namespace, value)
    take("eq")
    kind, literal = take("single", "double", "user")
    take("close")
    if kind == "user":
        return Predicate(leaf_ns, leaf, user=True), index
    resolved = None
    match = _PREFIXED_VALUE.match(literal.strip())
    if match is not None:
        uri = resolve(match.group(1))
        if uri is not None:
            resolved = f"{{{uri}}}{match.group(2)}"
    return Predicate(leaf_ns, leaf, value=literal, resolved=resolved), index


@dataclass(frozen=True)
class Rule:
    """One ``/nacm/rule-list/rule`` (RFC 8341 sec. 3.5.2).

    Attributes:
        name: the rule's name.
        module: ``module-name`` (``*``: any module).
        kind: the ``rule-type`` case used.
        target: ``rpc-name`` / ``notification-name`` (``*`` allowed), for those kinds.
        path: the compiled ``path``, for data-node rules (None when broken).
        access: ``access-operations``.
        permit: ``action`` is permit.
        broken: the path could not be compiled (see the module docstring).
    """

    name: str
    module: str = "*"
    kind: RuleKind = RuleKind.ANY
    target: str = "*"
    path: NodePath | None = None
    access: Access = Access.ALL
    permit: bool = False
    broken: bool = False

    def module_matches(self, module: str) -> bool:
        """``module-name`` is ``*`` or ``module``."""
        return self.module == "*" or self.module == module

    @property
    def depth(self) -> int:
        """How many path steps a data node must match (0: any data node)."""
        return len(self.path) if self.path is not None else 0


@dataclass(frozen=True)
class RuleList:
    """One ``/nacm/rule-list``: the groups it applies to and its rules, in order."""

    name: str
    groups: tuple[str, ...]
    rules: tuple[Rule, ...]

    def applies_to(self, groups: frozenset[str]) -> bool:
        """True when one of the user's groups is listed (``*``: any group)."""
        if not groups:
            return False
        return any(g == "*" or g in groups for g in self.groups)


@dataclass(frozen=True)
class NacmConfig:
    """The whole ``/nacm`` configuration, with RFC 8341's defaults where it is silent.

    Attributes:
        enable: ``enable-nacm``.
        read_default / write_default / exec_default: permit (True) or deny.
        external_groups: ``enable-external-groups`` (the users file's groups count).
        groups: group name -> its user names (``/nacm/groups``).
        rule_lists: the rule-lists, in configuration order.
        configured: running holds at least one rule-list.
    """

    enable: bool = True
    read_default: bool = True
    write_default: bool = False
    exec_default: bool = True
    external_groups: bool = True
    groups: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    rule_lists: tuple[RuleList, ...] = ()

    @property
    def configured(self) -> bool:
        """True when at least one rule-list is configured."""
        return bool(self.rule_lists)

    def groups_of(self, user: str, external: Iterable[str] = ()) -> frozenset[str]:
        """The user's groups: NACM groups naming them, plus ``external`` when enabled."""
        found = {name for name, users in self.groups.items() if user in users}
        if self.external_groups:
            found.update(external)
        return frozenset(found)


DEFAULT_CONFIG = NacmConfig()
"""RFC 8341's initial state: enabled, read and exec permitted, writes denied, no rules."""


def bootstrap_rule_list(group: str) -> RuleList:
    """The implicit rule-list in force while running configures none: ``group`` may do all."""
    return RuleList(
        name="bootstrap", groups=(group,),
        rules=(Rule(name="bootstrap-permit-all", access=Access.ALL, permit=True),),
    )


def parse_config(
    nacm: etree._Element | None, resolve_module: Callable[[str], str | None]
) -> NacmConfig:
    """Read a ``/nacm`` element (from running) into a :class:`NacmConfig`.

    Args:
        nacm: the ``<nacm>`` element, or None when running has none.
        resolve_module: module name or module prefix -> namespace, for rule paths
            (tried after the prefixes declared on the ``path`` element).
    """
    if nacm is None:
        return DEFAULT_CONFIG

    def flag(name: str, default: bool, true: str = "true") -> bool:
        text = nacm.findtext(_N + name)
        return default if text is None else text.strip() == true

    groups: dict[str, frozenset[str]] = {}
    for group in nacm.iterfind(f"{_N}groups/{_N}group"):
        name = (group.findtext(_N + "name") or "").strip()
        users = frozenset((u.text or "").strip() for u in group.iterfind(_N + "user-name"))
        groups[name] = users
    rule_lists = tuple(
        RuleList(
            name=(element.findtext(_N + "name") or "").strip(),
            groups=tuple((g.text or "").strip() for g in element.iterfind(_N + "group")),
            rules=tuple(_rule(r, resolve_module) for r in element.iterfind(_N + "rule")),
        )
        for element in nacm.iterfind(_N + "rule-list")
    )
    return NacmConfig(
        enable=flag("enable-nacm", True),
        read_default=flag("read-default", True, "permit"),
        write_default=flag("write-default", False, "permit"),
        exec_default=flag("exec-default", True, "permit"),
        external_groups=flag("enable-external-groups", True),
        groups=MappingProxyType(groups),
        rule_lists=rule_lists,
    )


def _rule(element: etree._Element, resolve_module: Callable[[str], str | None]) -> Rule:
    name = (element.findtext(_N + "name") or "").strip()
    permit = (element.findtext(_N + "action") or "deny").strip() == "permit"
    try:
        access = parse_access(element.findtext(_N + "access-operations"))
    except ValueError as error:
        logger.warning("NACM rule %s: %s; the rule is ignored", name, error)
        access = Access(0)
    values = {
        "module": (element.findtext(_N + "module-name") or "*").strip(),
        "access": access,
        "permit": permit,
    }
    rpc = element.findtext(_N + "rpc-name")
    notification = element.findtext(_N + "notification-name")
    path_el = element.find(_N + "path")
    if rpc is not None:
        return Rule(name, kind=RuleKind.RPC, target=rpc.strip(), **values)  # type: ignore[arg-type]
    if notification is not None:
        return Rule(name, kind=RuleKind.NOTIFICATION, target=notification.strip(),
                    **values)  # type: ignore[arg-type]
    if path_el is not None:
        nsmap = {p: u for p, u in path_el.nsmap.items() if p is not None}

        def resolve(prefix: str) -> str | None:
            return nsmap.get(prefix) or resolve_module(prefix)

        try:
            path = parse_path((path_el.text or "").strip(), resolve)
        except PathError as error:
            logger.warning("NACM rule %s: %s; it %s", name, error,
                           "matches nothing" if permit else "denies its whole module")
            return Rule(name, kind=RuleKind.DATA, broken=True, **values)  # type: ignore[arg-type]
        return Rule(name, kind=RuleKind.DATA, path=path, **values)  # type: ignore[arg-type]
    return Rule(name, **values)  # type: ignore[arg-type]
