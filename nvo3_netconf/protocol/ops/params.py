"""The parameters of operations: one check of what an operation holds, and readers.

- :class:`OperationInput` is the one check of an operation's parameters, run by the
  dispatcher before the handler (and before the NACM exec check: a server parses a
  request against its schema before it authorizes it). What each operation may hold
  is derived from the YANG ``input`` of its ``rpc`` (RFC 7950 sec. 7.14.2):
  ietf-netconf (RFC 6241 sec. 10, Appendix C) with the RFC 6243 ``with-defaults``
  augments, ``get-schema`` (RFC 6022), ``create-subscription`` (RFC 5277) and the
  loaded modules' own RPCs, the TES signalling of ``nvo3-tes`` among them
  (:func:`operation_inputs`). Refusals (RFC 6241 Appendix A, all error-type
  ``protocol``):

  ============================================  ===================  ==================
  what                                          error-tag            error-info
  ============================================  ===================  ==================
  an element the input does not define          unknown-element      bad-element
  ... in a namespace no module of the server    unknown-namespace    bad-element,
  defines                                                            bad-namespace
  a second instance of a leaf, container or     bad-element          bad-element
  anyxml (two ``<filter>``, two ``<source>``)
  elements of two cases of one choice           bad-element          bad-element (the
  (``<target><running/><candidate/></target>``)                      later one)
  ============================================  ===================  ==================

  The error-path names, as for an unknown node of an edit (``datastore/edit.py``), the
  element holding the unknown element (``/nc:get-config``), or the repeated or
  conflicting element itself (``/nc:get-config/nc:filter``), written as every
  error-path of this server (:mod:`~nvo3_netconf.schema.paths`).

  A repeated parameter is ``bad-element`` rather than ``unknown-element``: the element
  is known, its value (one more instance) is what is wrong. That is what Netopeer2's
  libnetconf2 answers for libyang's "Duplicate instance" and "Data for both cases"
  verdicts (``nc_err_libyang``: ``NC_ERR_BAD_ELEM``, error-type protocol), and what
  ``create-subscription`` here answered already for a repeated parameter.

  Beyond the compiled schema, the check accepts in ietf-netconf's datastore choices
  (``config-source``, ``config-target``) every datastore of the server and ``<url>``,
  and ``<url>`` in edit-config's ``edit-content``: the operation's reader then answers
  more precisely than "unexpected element" (``<startup/>`` as an edit-config target is
  ``bad-element``, a delete-config of running ``operation-failed`` as RFC 6241 sec. 7.4
  has it, ``<url>`` ``operation-not-supported`` as the :url feature is not offered).
  ``create-subscription`` also takes its ``<filter>`` in the base namespace, as
  ncclient sends it.

  Mandatory parameters and values are the handlers' concern (and libyang's, for the
  modules' RPCs). The check costs one dictionary lookup per element it looks at (it
  does not look into anyxml such as ``<filter>`` or ``<config>``): about 1.5 us for a
  small ``<get-config>``, 2 us for an ``<edit-config>``. As it runs before the handler,
  a refused ``<get-config>`` is never stored in the reply caches (``ops/retrieve.py``).

- The readers (:func:`datastore_param`, :func:`with_defaults_param`,
  :func:`enum_param`, :func:`required_child`) each raise the error RFC 6241 Appendix A
  names for a missing or wrong parameter, with error-info ``bad-element`` naming it.

Public names: :class:`OperationInput`, :func:`operation_inputs` and the readers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from lxml import etree

from nvo3_netconf.constants import (
    NS_NC,
    NS_NOTIF,
    NS_WITH_DEFAULTS,
    Datastore,
    ErrorType,
    WithDefaults,
)
from nvo3_netconf.errors import (
    BadElementError,
    InvalidValueError,
    MissingElementError,
    OperationNotSupportedError,
    RPCError,
    UnknownElementError,
    UnknownNamespaceError,
)
from nvo3_netconf.protocol.xml import find_child, local_name, namespace_of
from nvo3_netconf.schema import NodeKind
from nvo3_netconf.schema.paths import NO_NAMESPACES, bind_prefix, quote_literal

if TYPE_CHECKING:
    from nvo3_netconf.schema import SchemaNode, SchemaTree

_E = TypeVar("_E", bound=Enum)
_DATASTORE_TAGS: dict[object, Datastore] = {
    f"{{{NS_NC}}}{datastore.value}": datastore for datastore in Datastore
}

_BEYOND_SCHEMA: dict[str, tuple[str, ...]] = {
    "config-source": (*(d.value for d in Datastore), "url"),
    "config-target": (*(d.value for d in Datastore), "url"),
    "edit-content": ("url",),
}
"""Cases of ietf-netconf's choices accepted beyond the compiled schema, by choice name
(base namespace): the readers answer them (see the module docstring)."""

_ALIASES: dict[tuple[str, str], tuple[tuple[str, str], tuple[str, str]]] = {
    (NS_NOTIF, "create-subscription"): ((NS_NC, "filter"), (NS_NOTIF, "filter")),
}
"""Operation -> (alias, parameter): the alias is the same parameter (ncclient sends
``create-subscription``'s ``<filter>`` in the base namespace)."""

_NESTED = (NodeKind.CONTAINER, NodeKind.LIST)
_REPEATED = (NodeKind.LIST, NodeKind.LEAF_LIST)


class _Parameter:
    """One element an operation's input may hold: a node of its YANG ``input``.

    Attributes:
        name, namespace, module: the node's name, namespace and module name.
        repeat: a list or leaf-list (any number of instances).
        cases: ``(choice key, case)`` for each choice the node is in, the nearest data
            ancestor's first; a choice key is the path of choices and cases down to it.
        inputs: what an instance holds (containers, list entries); None: not looked
            into (leaves, anyxml, anydata).
        keys: a list's key names.
    """

    __slots__ = ("name", "namespace", "module", "repeat", "cases", "inputs", "keys", "node")

    def __init__(
        self, name: str, namespace: str, module: str, *, node: SchemaNode | None = None,
        repeat: bool = False,
        cases: tuple[tuple[tuple[str, ...], str], ...] = (), inputs: _Inputs | None = None,
        keys: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.module = module
        self.repeat = repeat
        self.cases = cases
        self.inputs = inputs
        self.keys = keys
        self.node = node


class _Refusal(Exception):
    """Raised inside the check; :class:`OperationInput` makes the rpc-error of it.

    ``kind`` is ``unknown``, ``repeated`` or ``cases``; ``element`` is the offending
    element, ``first`` the one of the other case (``cases``).
    """

    def __init__(self, kind: str, element: etree._Element,
                 first: etree._Element | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.element = element
        self.first = first


class _Inputs:
    """The elements one element of an operation's input may hold, by Clark tag."""

    __slots__ = ("params",)

    def __init__(self, params: dict[str, _Parameter]) -> None:
        self.params = params

    def check(self, element: etree._Element) -> None:
        """Refuse an unknown child, a repeated one, or children of two cases of a choice.

        One pass over the children (comments and processing instructions are skipped),
        then the same for each child that holds parameters of its own.

        Raises:
            _Refusal: the first offending child.
        """
        params = self.params
        seen: list[_Parameter] = []  # at most one of each parameter: short, by identity
        chosen: dict[tuple[str, ...], tuple[str, etree._Element]] | None = None
        for child in element:
            param = params.get(child.tag)  # type: ignore[arg-type]
            if param is None:
                if isinstance(child.tag, str):
                    raise _Refusal("unknown", child)
                continue
            if not param.repeat:
                if param in seen:
                    raise _Refusal("repeated", child)
                seen.append(param)
            if param.cases:
                if chosen is None:
                    chosen = {}
                for choice, case in param.cases:
                    first = chosen.setdefault(choice, (case, child))
                    if first[0] != case:
                        raise _Refusal("cases", child, first[1])
            if param.inputs is not None:
                param.inputs.check(child)


class OperationInput:
    """What one operation may hold, from its YANG ``input``; :meth:`check` enforces it.

    Args:
        rpc: the operation's ``rpc`` schema node.
        known_namespaces: namespaces of the loaded modules (an element in any other is
            ``unknown-namespace``).
    """

    def __init__(self, rpc: SchemaNode, known_namespaces: Collection[str]) -> None:
        self._name = rpc.name
        self._module = rpc.module
        self._rpc = rpc
        self._known = known_namespaces
        node = rpc.children.get((rpc.namespace, NodeKind.INPUT.value))
        nodes = node.children.values() if node is not None else ()
        self._inputs = _inputs(nodes, beyond=rpc.namespace == NS_NC)
        alias = _ALIASES.get(rpc.qname)
        if alias is not None:
            (alias_ns, alias_name), (ns, name) = alias
            self._inputs.params[f"{{{alias_ns}}}{alias_name}"] = (
                self._inputs.params[f"{{{ns}}}{name}"]
            )

    def check(self, op: etree._Element) -> None:
        """Refuse ``op`` if it holds an element its input does not define, or too many.

        Raises:
            UnknownElementError, UnknownNamespaceError, BadElementError: see the module
                docstring; nothing else is looked at.
        """
        try:
            self._inputs.check(op)
        except _Refusal as refusal:
            raise self._error(op, refusal) from None

    def _error(self, op: etree._Element, refusal: _Refusal) -> RPCError:
        element = refusal.element
        name = local_name(element)
        parent = element.getparent()
        assert parent is not None
        where = (f"<{self._name}>" if parent is op
                 else f"<{local_name(parent)}> of <{self._name}>")
        if refusal.kind == "unknown":
            path, namespaces = self._path(op, parent)
            namespace = namespace_of(element)
            if namespace and namespace not in self._known:
                return UnknownNamespaceError(
                    f"{where} holds an unexpected element <{name}>: its namespace "
                    f"{namespace} is not one of a module of this server.",
                    type_=ErrorType.PROTOCOL, path=path, path_namespaces=namespaces,
                    info={"bad-element": name, "bad-namespace": namespace},
                )
            what = "has no parameter" if parent is op else "holds no element"
            return UnknownElementError(
                f"{where} {what} <{name}>: an unexpected element is present.",
                type_=ErrorType.PROTOCOL, path=path, path_namespaces=namespaces,
                info={"bad-element": name},
            )
        path, namespaces = self._path(op, element)
        if refusal.kind == "repeated":
            message = f"<{name}> is given more than once in {where}, which takes one."
        else:
            assert refusal.first is not None
            message = (f"{where} holds both <{local_name(refusal.first)}> and <{name}>, "
                       "which exclude each other: give one.")
        return BadElementError(message, type_=ErrorType.PROTOCOL, path=path,
                               path_namespaces=namespaces, info={"bad-element": name})

    def _path(
        self, op: etree._Element, element: etree._Element
    ) -> tuple[str, dict[str, str]]:
        """The error-path of ``element`` (``op`` or an element of its input).

        An XML instance-identifier like every error-path of this server
        (:mod:`~nvo3_netconf.schema.paths`): each step prefixed, prefixes declared;
        list entries by key values (by position when keyless).
        """
        chain = []
        current: etree._Element | None = element
        while current is not None and current is not op:
            chain.append(current)
            current = current.getparent()
        prefix, namespaces = bind_prefix(NO_NAMESPACES, self._rpc)
        steps = [f"/{prefix}:{self._name}"]
        inputs: _Inputs | None = self._inputs
        for item in reversed(chain):
            param = inputs.params.get(item.tag) if inputs is not None else None  # type: ignore[arg-type]
            if param is None:  # not reached: only checked elements are named
                break
            if param.node is not None:
                prefix, namespaces = bind_prefix(namespaces, param.node)
            else:  # accepted beyond the schema (<url>): the namespace of its parent's
                prefix = next((bound for bound, uri in namespaces.items()
                               if uri == param.namespace), param.module)
                namespaces = MappingProxyType({**namespaces, prefix: param.namespace})
            step = f"{prefix}:{param.name}"
            if param.repeat and param.inputs is not None:
                step += _entry_predicate(item, param, prefix)
            steps.append(step)
            inputs = param.inputs
        return "".join(steps[:1]) + "".join(f"/{step}" for step in steps[1:]), dict(namespaces)


def _entry_predicate(entry: etree._Element, param: _Parameter, prefix: str) -> str:
    """``[p:key='value']...`` of a list entry, or ``[n]`` for an entry of a keyless list."""
    if not param.keys:
        earlier = entry.itersiblings(entry.tag, preceding=True)  # type: ignore[arg-type]
        return f"[{1 + len(list(earlier))}]"
    predicate = ""
    for key in param.keys:
        value = (entry.findtext(f"{{{param.namespace}}}{key}") or "").strip()
        predicate += f"[{prefix}:{key}={quote_literal(value)}]"
    return predicate


def _inputs(nodes: Iterable[SchemaNode], *, beyond: bool) -> _Inputs:
    """The check of the elements ``nodes`` (schema nodes of one level of an input).

    ``beyond``: also accept :data:`_BEYOND_SCHEMA` (ietf-netconf's operations).
    """
    params: dict[str, _Parameter] = {}
    choices: set[str] = set()
    for node in nodes:
        cases: list[tuple[tuple[str, ...], str]] = []
        key: tuple[str, ...] = ()
        for choice, case in node.choices:
            key += (choice,)
            cases.append((key, case))
            key += (case,)
        if node.choices:
            choices.add(node.choices[0][0])
        params[f"{{{node.namespace}}}{node.name}"] = _Parameter(
            node.name, node.namespace, node.module, node=node,
            repeat=node.kind in _REPEATED, cases=tuple(cases), keys=node.keys,
            inputs=(_inputs(node.children.values(), beyond=beyond)
                    if node.kind in _NESTED else None),
        )
    if beyond:
        for choice in sorted(choices & _BEYOND_SCHEMA.keys()):
            for name in _BEYOND_SCHEMA[choice]:
                params.setdefault(f"{{{NS_NC}}}{name}", _Parameter(
                    name, NS_NC, "ietf-netconf", cases=(((choice,), name),)))
    return _Inputs(params)


def operation_inputs(
    schema: SchemaTree, operations: Iterable[tuple[str, str]],
    known_namespaces: Collection[str],
) -> dict[tuple[str, str], OperationInput]:
    """The :class:`OperationInput` of each of ``operations`` the schema defines.

    Args:
        schema: the loaded modules' schema (its ``rpcs``).
        operations: ``(namespace, name)`` of the operations to check (those with a
            handler); one the schema does not define is left out (not checked).
        known_namespaces: see :class:`OperationInput`.
    """
    result: dict[tuple[str, str], OperationInput] = {}
    for operation in operations:
        rpc = schema.rpcs.get(operation)
        if rpc is not None and rpc.kind is NodeKind.RPC:
            result[operation] = OperationInput(rpc, known_namespaces)
    return result


def required_child(op: etree._Element, name: str) -> etree._Element:
    """The child ``name`` (base namespace) of an operation, which must be present."""
    child = find_child(op, NS_NC, name)
    if child is None:
        raise MissingElementError(
            f"<{local_name(op)}> needs a <{name}> parameter.", info={"bad-element": name}
        )
    return child


def datastore_param(
    op: etree._Element, name: str, allowed: tuple[Datastore, ...], *, inline: bool = False
) -> Datastore | etree._Element:
    """The datastore named by ``<name><running/></name>`` (or inline ``<config>``).

    Args:
        op: the operation element.
        name: ``target`` or ``source``.
        allowed: the datastores this operation accepts.
        inline: also accept ``<config>`` (copy-config, validate): the element is returned.

    Raises:
        MissingElementError: no such parameter or it names nothing.
        BadElementError: it names a datastore not allowed here, or more than one.
        OperationNotSupportedError: it names a ``<url>`` (the :url capability is not offered).
    """
    container = required_child(op, name)
    choices = list(container.iterchildren(etree.Element))
    if len(choices) == 1:  # the usual case: a datastore this operation takes
        known = _DATASTORE_TAGS.get(choices[0].tag)
        if known is not None and known in allowed:
            return known
    if not choices:
        raise MissingElementError(
            f"<{name}> must name a datastore.", info={"bad-element": name}
        )
    if len(choices) > 1:  # cases of one choice (what OperationInput refuses first)
        raise BadElementError(
            f"<{name}> must name exactly one datastore.",
            info={"bad-element": local_name(choices[1])},
        )
    choice = choices[0]
    label = local_name(choice)
    if namespace_of(choice) == NS_NC and label == "config" and inline:
        return choice
    if namespace_of(choice) == NS_NC and label == "url":
        raise OperationNotSupportedError(
            "This server does not offer the :url capability.", info={"bad-element": "url"}
        )
    try:
        datastore = Datastore(label)
    except ValueError:
        datastore = None
    if datastore is None or namespace_of(choice) != NS_NC or datastore not in allowed:
        names = ", ".join(d.value for d in allowed)
        raise BadElementError(
            f"<{name}> names {label!r}; <{local_name(op)}> accepts {names}.",
            info={"bad-element": name},
        )
    return datastore


def with_defaults_param(op: etree._Element) -> WithDefaults | None:
    """The RFC 6243 ``<with-defaults>`` parameter, if present."""
    element = find_child(op, NS_WITH_DEFAULTS, "with-defaults")
    if element is None:
        return None
    try:
        return WithDefaults((element.text or "").strip())
    except ValueError:
        raise InvalidValueError(
            f"Unknown with-defaults mode {element.text!r}.",
            info={"bad-element": "with-defaults"},
        ) from None


def enum_param(op: etree._Element, name: str, enum: type[_E], default: _E) -> _E:
    """A leaf parameter whose value is one of an Enum's values."""
    element = find_child(op, NS_NC, name)
    if element is None:
        return default
    try:
        return enum((element.text or "").strip())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidValueError(
            f"<{name}> must be one of {allowed}, not {element.text!r}.",
            info={"bad-element": name},
        ) from None
