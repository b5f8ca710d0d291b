"""The error hierarchy of nvo3-netconf.

``Nvo3Error`` is the root. :class:`RPCError` is one ``<rpc-error>`` (RFC 6241 sec. 4.3);
there is one subclass per error-tag of RFC 6241 Appendix A, each fixing its tag and the
error-types the appendix allows. :class:`RPCErrors` carries several in one reply.
:class:`FramingError` is raised by the RFC 6242 framer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from nvo3_netconf.constants import ErrorSeverity, ErrorTag, ErrorType

_ALL_TYPES = frozenset(ErrorType)
_PROTO_APP = frozenset({ErrorType.PROTOCOL, ErrorType.APPLICATION})


class Nvo3Error(Exception):
    """Root of every error raised by this package."""


class FramingError(Nvo3Error):
    """A byte stream violates RFC 6242 framing (chunk syntax or size limits)."""


class ConfigError(Nvo3Error):
    """A configuration file or option is invalid."""


@dataclass(frozen=True)
class InfoElement:
    """One ``error-info`` child in a namespace of its own.

    E.g. RFC 7950 sec. 15.1's
    ``<non-unique xmlns="urn:ietf:params:xml:ns:yang:1">/t:a[t:k='x']/t:b</non-unique>``.

    Attributes:
        namespace: the element's namespace (declared as its default namespace).
        name: its local name.
        text: its text.
        namespaces: prefix -> namespace for the prefixes the text uses (an
            instance-identifier's), declared on the element.
    """

    namespace: str
    name: str
    text: str
    namespaces: Mapping[str, str] = field(default_factory=dict)


class RPCError(Nvo3Error):
    """One ``<rpc-error>`` (RFC 6241 sec. 4.3); each subclass fixes the error-tag.

    Attributes:
        message: the ``error-message``, a sentence a person understands.
        type: the ``error-type`` (checked against the tag's allowed types).
        path: the ``error-path``: an absolute XPath of the node at fault, if any.
        app_tag: the ``error-app-tag`` (e.g. RFC 7950 sec. 15 ``must-violation``).
        info: ``error-info`` children, name -> text (``bad-element``, ``session-id``...).
        info_elements: further ``error-info`` children in their own namespaces, in order
            (a name may repeat: one ``non-unique`` per leaf, RFC 7950 sec. 15.1).
        severity: ``error`` or ``warning``.
    """

    tag: ClassVar[ErrorTag] = ErrorTag.OPERATION_FAILED
    allowed_types: ClassVar[frozenset[ErrorType]] = _ALL_TYPES
    default_type: ClassVar[ErrorType] = ErrorType.APPLICATION
    _registry: ClassVar[dict[ErrorTag, type[RPCError]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        RPCError._registry[cls.tag] = cls

    def __init__(
        self,
        message: str,
        *,
        type_: ErrorType | None = None,
        path: str | None = None,
        app_tag: str | None = None,
        info: Mapping[str, str] | None = None,
        severity: ErrorSeverity = ErrorSeverity.ERROR,
        path_namespaces: Mapping[str, str] | None = None,
        info_elements: Iterable[InfoElement] = (),
    ) -> None:
        super().__init__(message)
        type_ = type_ or self.default_type
        if type_ not in self.allowed_types:
            raise ValueError(f"error-type {type_.value} is not allowed with {self.tag.value}")
        self.message = message
        self.type = type_
        self.path = path
        self.app_tag = app_tag
        self.info: dict[str, str] = dict(info or {})
        self.severity = severity
        self.path_namespaces: dict[str, str] = dict(path_namespaces or {})
        self.info_elements: tuple[InfoElement, ...] = tuple(info_elements)

    @classmethod
    def new(
        cls,
        tag: ErrorTag | str,
        message: str,
        **kwargs: object,
    ) -> RPCError:
        """Build the subclass registered for ``tag`` (used to rebuild received errors).

        Args:
            tag: the error-tag, as enum or string.
            message: the error-message.
            **kwargs: the keyword arguments of :class:`RPCError`.

        Returns:
            An instance of the matching subclass (plain ``OperationFailedError`` if unknown).
        """
        try:
            tag = ErrorTag(tag)
        except ValueError:
            tag = ErrorTag.OPERATION_FAILED
        subclass = cls._registry.get(tag, OperationFailedError)
        error_type = kwargs.pop("type_", None)
        if isinstance(error_type, ErrorType) and error_type not in subclass.allowed_types:
            error_type = None
        return subclass(message, type_=error_type, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, type={self.type.value}, "
            f"path={self.path!r}, app_tag={self.app_tag!r})"
        )


class InUseError(RPCError):
    """The resource is already in use (e.g. a lock held by another session)."""

    tag = ErrorTag.IN_USE
    allowed_types = _PROTO_APP


class InvalidValueError(RPCError):
    """A value is not acceptable for its parameter or node."""

    tag = ErrorTag.INVALID_VALUE
    allowed_types = _PROTO_APP


class TooBigError(RPCError):
    """A request or reply is too large for the implementation to handle."""

    tag = ErrorTag.TOO_BIG
    allowed_types = _ALL_TYPES


class MissingAttributeError(RPCError):
    """An expected attribute is missing."""

    tag = ErrorTag.MISSING_ATTRIBUTE
    allowed_types = frozenset({ErrorType.RPC, ErrorType.PROTOCOL, ErrorType.APPLICATION})
    default_type = ErrorType.RPC


class BadAttributeError(RPCError):
    """An attribute value is not correct."""

    tag = ErrorTag.BAD_ATTRIBUTE
    allowed_types = frozenset({ErrorType.RPC, ErrorType.PROTOCOL, ErrorType.APPLICATION})
    default_type = ErrorType.RPC


class UnknownAttributeError(RPCError):
    """An unexpected attribute is present."""

    tag = ErrorTag.UNKNOWN_ATTRIBUTE
    allowed_types = frozenset({ErrorType.RPC, ErrorType.PROTOCOL, ErrorType.APPLICATION})
    default_type = ErrorType.RPC


class MissingElementError(RPCError):
    """An expected element is missing."""

    tag = ErrorTag.MISSING_ELEMENT
    allowed_types = _PROTO_APP
    default_type = ErrorType.PROTOCOL


class BadElementError(RPCError):
    """An element value is not correct."""

    tag = ErrorTag.BAD_ELEMENT
    allowed_types = _PROTO_APP
    default_type = ErrorType.PROTOCOL


class UnknownElementError(RPCError):
    """An unexpected element is present."""

    tag = ErrorTag.UNKNOWN_ELEMENT
    allowed_types = _PROTO_APP


class UnknownNamespaceError(RPCError):
    """An unexpected namespace is present."""

    tag = ErrorTag.UNKNOWN_NAMESPACE
    allowed_types = _PROTO_APP
    default_type = ErrorType.PROTOCOL


class AccessDeniedError(RPCError):
    """Access to the requested protocol operation or data model is denied."""

    tag = ErrorTag.ACCESS_DENIED
    allowed_types = _PROTO_APP
    default_type = ErrorType.PROTOCOL


class LockDeniedError(RPCError):
    """A lock is held by another entity; error-info carries its session-id."""

    tag = ErrorTag.LOCK_DENIED
    allowed_types = frozenset({ErrorType.PROTOCOL})
    default_type = ErrorType.PROTOCOL


class ResourceDeniedError(RPCError):
    """Insufficient resources to complete the request."""

    tag = ErrorTag.RESOURCE_DENIED
    allowed_types = _ALL_TYPES


class RollbackFailedError(RPCError):
    """A rollback was requested and could not be completed."""

    tag = ErrorTag.ROLLBACK_FAILED
    allowed_types = _PROTO_APP


class DataExistsError(RPCError):
    """create was requested on data that already exists."""

    tag = ErrorTag.DATA_EXISTS
    allowed_types = frozenset({ErrorType.APPLICATION})


class DataMissingError(RPCError):
    """delete was requested on data that does not exist, or a required instance is missing."""

    tag = ErrorTag.DATA_MISSING
    allowed_types = frozenset({ErrorType.APPLICATION})


class OperationNotSupportedError(RPCError):
    """The operation is not supported by this implementation."""

    tag = ErrorTag.OPERATION_NOT_SUPPORTED
    allowed_types = _PROTO_APP
    default_type = ErrorType.PROTOCOL


class OperationFailedError(RPCError):
    """The operation failed for a reason not covered by another error-tag."""

    tag = ErrorTag.OPERATION_FAILED
    allowed_types = _ALL_TYPES


class PartialOperationError(RPCError):
    """Obsolete in RFC 6241; kept so that a received one can be represented."""

    tag = ErrorTag.PARTIAL_OPERATION
    allowed_types = frozenset({ErrorType.APPLICATION})


class MalformedMessageError(RPCError):
    """A message could not be parsed (base:1.1 only, RFC 6241 Appendix A)."""

    tag = ErrorTag.MALFORMED_MESSAGE
    allowed_types = frozenset({ErrorType.RPC})
    default_type = ErrorType.RPC


class RPCErrors(Nvo3Error):
    """Several ``<rpc-error>`` elements in one reply (e.g. continue-on-error)."""

    def __init__(self, errors: Iterable[RPCError]) -> None:
        self.errors: tuple[RPCError, ...] = tuple(errors)
        super().__init__("; ".join(e.message for e in self.errors))
