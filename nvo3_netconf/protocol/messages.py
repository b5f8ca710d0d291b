"""NETCONF messages <-> dataclasses: hello, rpc, rpc-reply, rpc-error, notification.

Implements RFC 6241 sec. 4.1 (``<rpc>`` and its ``message-id``), sec. 4.2 (``<rpc-reply>``
echoing every attribute of the ``<rpc>``), sec. 4.3 (``<rpc-error>``), sec. 4.4 (``<ok>``),
sec. 8.1 (``<hello>`` and capability exchange) and RFC 5277 sec. 4 (``<notification>``).

Public names:

- :class:`Hello`, :func:`parse_hello`, :func:`build_hello`;
- :class:`RPCRequest`, :func:`parse_rpc`, :func:`build_rpc`, :func:`rpc_attributes`;
- :func:`build_rpc_reply`, :func:`build_rpc_error_reply`, :func:`build_notification`;
- :class:`RPCReply`, :func:`parse_rpc_reply`, :func:`parse_rpc_error` (client side).

Builders take parsed elements and return bytes ready for
:func:`nvo3_netconf.transport.framing.encode_message`. Body elements handed to a builder
are *moved* into the message (lxml semantics): pass elements you own, never nodes of a
committed datastore tree.

A rejected ``<rpc>`` is still answered (RFC 6241 sec. 4.1): the session catches the
:class:`~nvo3_netconf.errors.RPCError` from :func:`parse_rpc` and replies with
``build_rpc_error_reply(rpc_attributes(root), [error])``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, TypeAlias

from lxml import etree

from nvo3_netconf.constants import NS_NC, NS_NOTIF, ErrorSeverity, ErrorType
from nvo3_netconf.errors import (
    BadElementError,
    InfoElement,
    MissingAttributeError,
    MissingElementError,
    RPCError,
    UnknownElementError,
    UnknownNamespaceError,
)
from nvo3_netconf.protocol.xml import (
    NS_XML,
    Element,
    child_text,
    element,
    find_child,
    local_name,
    namespace_of,
    qname,
    sub,
    to_bytes,
)

__all__ = [
    "Hello",
    "RPCReply",
    "RPCRequest",
    "SessionId",
    "build_hello",
    "build_notification",
    "build_rpc",
    "build_rpc_error_reply",
    "build_rpc_reply",
    "parse_hello",
    "parse_rpc",
    "parse_rpc_error",
    "parse_rpc_reply",
    "rpc_attributes",
]

SessionId: TypeAlias = int
"""A NETCONF session identifier, 1..4294967295 (RFC 6241 sec. 8.1, ``session-id-type``)."""

MAX_SESSION_ID: Final = 4_294_967_295

_PATH_PREFIX: Final = re.compile(r"([A-Za-z_][\w.-]*):(?!:)")


@dataclass(frozen=True)
class Hello:
    """A ``<hello>`` message (RFC 6241 sec. 8.1).

    Attributes:
        capabilities: the capability URIs, in the order sent.
        session_id: the session id a server assigns; ``None`` in a client's hello.
    """

    capabilities: tuple[str, ...]
    session_id: SessionId | None = None


@dataclass(frozen=True, eq=False)
class RPCRequest:
    """One ``<rpc>`` (RFC 6241 sec. 4.1).

    Attributes:
        message_id: the ``message-id`` attribute.
        attributes: every attribute of ``<rpc>`` (Clark notation), to echo in the reply.
        operation: the operation element, the only child of ``<rpc>``.
        name: the operation's local name, e.g. ``edit-config``.
        namespace: the operation's namespace URI (``""`` if it has none).
    """

    message_id: str
    attributes: Mapping[str, str]
    operation: Element
    name: str
    namespace: str


@dataclass(frozen=True, eq=False)
class RPCReply:
    """One ``<rpc-reply>`` as a client sees it (RFC 6241 sec. 4.2-4.4).

    Attributes:
        message_id: the echoed ``message-id``; ``None`` if the reply has none.
        attributes: every attribute of ``<rpc-reply>`` (Clark notation).
        ok: the reply holds ``<ok/>``.
        data: the other child elements (``<data>``, RPC output), in order.
        errors: the ``<rpc-error>`` elements, warnings included, as typed errors.
    """

    message_id: str | None
    attributes: Mapping[str, str]
    ok: bool
    data: tuple[Element, ...]
    errors: tuple[RPCError, ...]

    @property
    def failed(self) -> bool:
        """True if any rpc-error has severity ``error`` (warnings alone do not fail)."""
        return any(e.severity is ErrorSeverity.ERROR for e in self.errors)


def _check_root(el: Element, name: str) -> None:
    """Raise unless ``el`` is ``<name>`` in the base namespace."""
    if el.tag == f"{{{NS_NC}}}{name}":
        return
    if local_name(el) != name:
        raise UnknownElementError(
            f"Expected a <{name}> element, got <{local_name(el)}>.",
            type_=ErrorType.PROTOCOL,
            info={"bad-element": local_name(el)},
        )
    if namespace_of(el) != NS_NC:
        raise UnknownNamespaceError(
            f"<{name}> must be in the namespace {NS_NC}.",
            info={"bad-element": name, "bad-namespace": namespace_of(el) or ""},
        )


def parse_hello(el: Element, *, from_server: bool) -> Hello:
    """Read a ``<hello>`` received from a peer (RFC 6241 sec. 8.1).

    No reply is sent to a bad hello: the receiver closes the session. The errors raised
    name what was wrong, for the log.

    Args:
        el: the parsed root element.
        from_server: the hello comes from a server, so it must carry a ``<session-id>``;
            a client's hello must not.

    Returns:
        The capabilities and session id.

    Raises:
        UnknownElementError: the root is not ``<hello>``, or a client sent a session-id.
        UnknownNamespaceError: ``<hello>`` is not in the base namespace.
        MissingElementError: no capability, or a server's hello lacks its session-id.
        BadElementError: an empty capability or an invalid session-id.
    """
    _check_root(el, "hello")
    container = find_child(el, NS_NC, "capabilities")
    capabilities: list[str] = []
    if container is not None:
        for cap in container.iterchildren(qname(NS_NC, "capability")):
            uri = (cap.text or "").strip()
            if not uri:
                raise BadElementError(
                    "A <capability> element is empty.", info={"bad-element": "capability"}
                )
            capabilities.append(uri)
    if not capabilities:
        raise MissingElementError(
            "The <hello> announces no capability.", info={"bad-element": "capabilities"}
        )
    text = child_text(el, NS_NC, "session-id")
    if not from_server:
        if text is not None:
            raise UnknownElementError(
                "A client's <hello> must not contain a <session-id> (RFC 6241 sec. 8.1).",
                type_=ErrorType.PROTOCOL,
                info={"bad-element": "session-id"},
            )
        return Hello(tuple(capabilities))
    if text is None:
        raise MissingElementError(
            "The server's <hello> has no <session-id>.", info={"bad-element": "session-id"}
        )
    text = text.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_SESSION_ID:
        raise BadElementError(f"Invalid session-id {text!r}.", info={"bad-element": "session-id"})
    return Hello(tuple(capabilities), int(text))


def build_hello(capabilities: Iterable[str], session_id: SessionId | None = None) -> bytes:
    """Build a ``<hello>`` (RFC 6241 sec. 8.1).

    Args:
        capabilities: the capability URIs to announce, at least one.
        session_id: the session id; a server passes it, a client passes ``None``.

    Returns:
        The serialized message.

    Raises:
        ValueError: no capability, or a session id out of 1..4294967295.
    """
    root = element(NS_NC, "hello")
    container = sub(root, NS_NC, "capabilities")
    for uri in capabilities:
        sub(container, NS_NC, "capability", uri)
    if not len(container):
        raise ValueError("a hello must announce at least one capability")
    if session_id is not None:
        if not 1 <= session_id <= MAX_SESSION_ID:
            raise ValueError(f"session-id {session_id} is out of 1..{MAX_SESSION_ID}")
        sub(root, NS_NC, "session-id", str(session_id))
    return to_bytes(root, xml_declaration=True)


def rpc_attributes(el: Element) -> dict[str, str]:
    """Return the attributes of a received ``<rpc>`` (Clark notation) for echoing.

    Use it to answer an ``<rpc>`` that :func:`parse_rpc` rejected.

    Args:
        el: the received root element.
    """
    return {str(k): str(v) for k, v in el.attrib.items()}


def parse_rpc(el: Element) -> RPCRequest:
    """Read a received ``<rpc>`` (RFC 6241 sec. 4.1).

    Args:
        el: the parsed root element.

    Returns:
        The request, with its operation element.

    Raises:
        UnknownElementError: the root is not ``<rpc>``, or ``<rpc>`` holds more than one
            element.
        UnknownNamespaceError: ``<rpc>`` is not in the base namespace.
        MissingAttributeError: no ``message-id`` (error-info ``bad-attribute`` =
            ``message-id``, ``bad-element`` = ``rpc``).
        MissingElementError: ``<rpc>`` holds no operation.
    """
    _check_root(el, "rpc")
    attributes = rpc_attributes(el)
    message_id = attributes.get("message-id")
    if message_id is None:
        raise MissingAttributeError(
            "The <rpc> element has no message-id attribute.",
            type_=ErrorType.RPC,
            info={"bad-attribute": "message-id", "bad-element": "rpc"},
        )
    children = el.iterchildren(etree.Element)  # elements only: no comment, no PI
    operation = next(children, None)
    if operation is None:
        raise MissingElementError("The <rpc> element contains no operation.")
    second = next(children, None)
    if second is not None:
        extra = local_name(second)
        raise UnknownElementError(
            f"The <rpc> element contains more than one operation (<{extra}>).",
            type_=ErrorType.PROTOCOL,
            info={"bad-element": extra},
        )
    return RPCRequest(
        message_id=message_id,
        attributes=MappingProxyType(attributes),
        operation=operation,
        name=local_name(operation),
        namespace=namespace_of(operation) or "",
    )


def build_rpc(
    message_id: str,
    operation: Element,
    *,
    attributes: Mapping[str, str] | None = None,
) -> bytes:
    """Build an ``<rpc>`` (RFC 6241 sec. 4.1); ``operation`` is moved into it.

    Args:
        message_id: the ``message-id`` attribute.
        operation: the operation element.
        attributes: further attributes of ``<rpc>`` (Clark notation for namespaced ones).

    Returns:
        The serialized message.
    """
    root = _envelope("rpc", {**(attributes or {}), "message-id": message_id})
    root.append(operation)
    return to_bytes(root, xml_declaration=True)


def _envelope(name: str, attributes: Mapping[str, str]) -> Element:
    """Create ``<name xmlns=base>`` carrying ``attributes``, ``message-id`` first."""
    root = element(NS_NC, name)
    if "message-id" in attributes:
        root.set("message-id", attributes["message-id"])
    for key, value in attributes.items():
        if key != "message-id":
            root.set(key, value)
    return root


def build_rpc_reply(
    attributes: Mapping[str, str], body: Sequence[Element] | bytes = ()
) -> bytes:
    """Build an ``<rpc-reply>`` (RFC 6241 sec. 4.2, 4.4).

    Args:
        attributes: every attribute of the request's ``<rpc>``, echoed as required.
        body: the reply content (``<data>``, RPC output), moved into the reply, or that
            content already serialized (:func:`serialize_content`); empty means success
            without data, answered ``<ok/>``.

    Returns:
        The serialized message.
    """
    if not body:
        return _reply_start(attributes) + b"<ok/></rpc-reply>"
    if isinstance(body, bytes):
        return _reply_start(attributes) + body + b"</rpc-reply>"
    root = _envelope("rpc-reply", attributes)
    for el in body:
        root.append(el)
    return to_bytes(root, xml_declaration=True)


_DEFAULT_NC = f' xmlns="{NS_NC}"'.encode()
_PLAIN_ID = re.compile(r'[^&<>"\t\n\r]*')


def serialize_content(el: Element) -> bytes:
    """``el`` (a base-namespace element such as ``<data>``) as bytes for :func:`build_rpc_reply`.

    The declaration of the base namespace as default, which the ``<rpc-reply>`` around
    it already makes, is left out.
    """
    raw = to_bytes(el)
    name_end = raw.find(b" ")
    if name_end > 0 and raw.startswith(_DEFAULT_NC, name_end) and b":" not in raw[:name_end]:
        return raw[:name_end] + raw[name_end + len(_DEFAULT_NC):]
    return raw


def _reply_start(attributes: Mapping[str, str]) -> bytes:
    """The XML declaration and the ``<rpc-reply ...>`` start tag echoing ``attributes``."""
    message_id = attributes.get("message-id")
    if len(attributes) == 1 and message_id is not None and _PLAIN_ID.fullmatch(message_id):
        return (b"<?xml version='1.0' encoding='UTF-8'?>\n<rpc-reply xmlns=\"" + NS_NC.encode()
                + b'" message-id="' + message_id.encode() + b'">')
    empty = to_bytes(_envelope("rpc-reply", attributes), xml_declaration=True)
    assert empty.endswith(b"/>")
    return empty[:-2] + b">"


def build_rpc_error_reply(attributes: Mapping[str, str], errors: Iterable[RPCError]) -> bytes:
    """Build an ``<rpc-reply>`` holding one ``<rpc-error>`` per error (RFC 6241 sec. 4.3).

    Each ``<rpc-error>`` has error-type, error-tag, error-severity, then when known
    error-app-tag, error-path (declaring the prefixes of ``path_namespaces``),
    error-message (``xml:lang="en"``) and error-info. error-info keys in plain names
    (``bad-element``, ``session-id``...) are base-namespace elements; keys in Clark
    notation keep their own namespace.

    Args:
        attributes: every attribute of the request's ``<rpc>``, echoed as required.
        errors: the errors to report, at least one.

    Returns:
        The serialized message.

    Raises:
        ValueError: ``errors`` is empty.
    """
    root = _envelope("rpc-reply", attributes)
    for error in errors:
        _append_rpc_error(root, error)
    if not len(root):
        raise ValueError("an error reply needs at least one error")
    return to_bytes(root, xml_declaration=True)


def _append_rpc_error(parent: Element, error: RPCError) -> None:
    """Append ``error`` as an ``<rpc-error>`` child of ``parent``."""
    node = sub(parent, NS_NC, "rpc-error")
    sub(node, NS_NC, "error-type", error.type.value)
    sub(node, NS_NC, "error-tag", error.tag.value)
    sub(node, NS_NC, "error-severity", error.severity.value)
    if error.app_tag:
        sub(node, NS_NC, "error-app-tag", error.app_tag)
    if error.path:
        nsmap = {prefix: ns for prefix, ns in error.path_namespaces.items() if prefix}
        path = etree.SubElement(node, qname(NS_NC, "error-path"), nsmap=nsmap)
        path.text = error.path
    if error.message:
        message = sub(node, NS_NC, "error-message", error.message)
        message.set(qname(NS_XML, "lang"), "en")
    if error.info or error.info_elements:
        info = sub(node, NS_NC, "error-info")
        for key, value in error.info.items():
            tag = key if key.startswith("{") else qname(NS_NC, key)
            etree.SubElement(info, tag).text = value
        for item in error.info_elements:
            nsmap = {prefix: ns for prefix, ns in item.namespaces.items() if prefix}
            nsmap[None] = item.namespace  # type: ignore[index]  # lxml: None is the default
            etree.SubElement(info, qname(item.namespace, item.name), nsmap=nsmap).text = item.text


def build_notification(event_time: datetime, content: Element) -> bytes:
    """Build a ``<notification>`` (RFC 5277 sec. 4); ``content`` is moved into it.

    Args:
        event_time: when the event happened; must carry a time zone.
        content: the notification content element (in its module's namespace).

    Returns:
        The serialized message.

    Raises:
        ValueError: ``event_time`` is naive.
    """
    if event_time.tzinfo is None or event_time.utcoffset() is None:
        raise ValueError("eventTime needs a time zone (RFC 3339 date-time)")
    stamp = event_time.isoformat()
    if event_time.utcoffset() == timedelta(0):
        stamp = stamp.removesuffix("+00:00") + "Z"
    root = element(NS_NOTIF, "notification")
    sub(root, NS_NOTIF, "eventTime", stamp)
    root.append(content)
    return to_bytes(root, xml_declaration=True)


def parse_rpc_reply(el: Element) -> RPCReply:
    """Read a received ``<rpc-reply>`` (client side).

    Args:
        el: the parsed root element.

    Returns:
        The reply, with its ``<rpc-error>`` elements rebuilt as typed errors.

    Raises:
        UnknownElementError: the root is not ``<rpc-reply>``.
        UnknownNamespaceError: ``<rpc-reply>`` is not in the base namespace.
    """
    _check_root(el, "rpc-reply")
    attributes = rpc_attributes(el)
    ok = False
    data: list[Element] = []
    errors: list[RPCError] = []
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.tag == qname(NS_NC, "rpc-error"):
            errors.append(parse_rpc_error(child))
        elif child.tag == qname(NS_NC, "ok"):
            ok = True
        else:
            data.append(child)
    return RPCReply(
        message_id=attributes.get("message-id"),
        attributes=MappingProxyType(attributes),
        ok=ok,
        data=tuple(data),
        errors=tuple(errors),
    )


def parse_rpc_error(el: Element) -> RPCError:
    """Rebuild one received ``<rpc-error>`` as the matching :class:`RPCError` subclass.

    An unknown error-tag becomes ``OperationFailedError``; an error-type missing, unknown
    or not allowed with the tag becomes the tag's default type. error-info children in
    the base namespace are keyed by local name, others in Clark notation.

    Args:
        el: an ``<rpc-error>`` element.

    Returns:
        The typed error (not raised).
    """
    tag = (child_text(el, NS_NC, "error-tag") or "").strip()
    message = child_text(el, NS_NC, "error-message")
    kwargs: dict[str, object] = {}
    try:
        kwargs["type_"] = ErrorType((child_text(el, NS_NC, "error-type") or "").strip())
    except ValueError:
        pass
    try:
        kwargs["severity"] = ErrorSeverity((child_text(el, NS_NC, "error-severity") or "").strip())
    except ValueError:
        pass
    app_tag = child_text(el, NS_NC, "error-app-tag")
    if app_tag:
        kwargs["app_tag"] = app_tag.strip()
    path_el = find_child(el, NS_NC, "error-path")
    if path_el is not None and path_el.text and path_el.text.strip():
        path = path_el.text.strip()
        kwargs["path"] = path
        used = set(_PATH_PREFIX.findall(path))
        kwargs["path_namespaces"] = {
            prefix: ns for prefix, ns in path_el.nsmap.items() if prefix in used
        }
    info_el = find_child(el, NS_NC, "error-info")
    if info_el is not None:
        info: dict[str, str] = {}
        elements: list[InfoElement] = []
        for item in info_el:
            if isinstance(item.tag, str):
                namespace = namespace_of(item)
                key = local_name(item) if namespace == NS_NC else item.tag
                text = (item.text or "").strip()
                info[key] = text
                if namespace and namespace != NS_NC:
                    used = set(_PATH_PREFIX.findall(text))
                    elements.append(InfoElement(
                        namespace, local_name(item), text,
                        {p: ns for p, ns in item.nsmap.items() if p is not None and p in used}))
        kwargs["info"] = info
        if elements:
            kwargs["info_elements"] = tuple(elements)
    return RPCError.new(tag, message if message else tag or "unknown error", **kwargs)
