"""Reading the parameters of the base operations (RFC 6241 sec. 7, RFC 6243 sec. 4).

Each reader raises the RPC-layer error RFC 6241 Appendix A names for a missing or
wrong parameter, with error-info ``bad-element`` naming it.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from lxml import etree

from nvo3_netconf.constants import NS_NC, NS_WITH_DEFAULTS, Datastore, WithDefaults
from nvo3_netconf.errors import (
    BadElementError,
    InvalidValueError,
    MissingElementError,
    OperationNotSupportedError,
)
from nvo3_netconf.protocol.xml import find_child, local_name, namespace_of

_E = TypeVar("_E", bound=Enum)
_DATASTORE_TAGS: dict[object, Datastore] = {
    f"{{{NS_NC}}}{datastore.value}": datastore for datastore in Datastore
}


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
        BadElementError: it names a datastore not allowed here.
        OperationNotSupportedError: it names a ``<url>`` (the :url capability is not offered).
    """
    container = required_child(op, name)
    choices = list(container.iterchildren(etree.Element))
    if len(choices) == 1:  # the usual case: a datastore this operation takes
        known = _DATASTORE_TAGS.get(choices[0].tag)
        if known is not None and known in allowed:
            return known
    if len(choices) != 1:
        raise MissingElementError(
            f"<{name}> must name exactly one datastore.", info={"bad-element": name}
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
