"""The operation table: ``(namespace, name)`` -> handler, built per server.

Handlers are registered explicitly by the composition root (``server/app.py``); an
operation nobody registered is answered ``operation-not-supported`` when its namespace
belongs to a loaded module, and ``unknown-namespace`` otherwise (RFC 6241 Appendix A).
Before a handler runs, the operation's parameters are checked against the YANG
``input`` of its ``rpc`` (:class:`~nvo3_netconf.protocol.ops.params.OperationInput`:
an unknown, repeated or conflicting parameter is refused, so no handler ever sees one
and nothing changes), then the NACM exec check runs.

Public names: :class:`Dispatcher`, :class:`RPCContext`, :data:`OperationHandler`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

from nvo3_netconf.constants import ErrorType
from nvo3_netconf.errors import OperationNotSupportedError, UnknownNamespaceError
from nvo3_netconf.protocol.ops.params import operation_inputs
from nvo3_netconf.protocol.xml import local_name, namespace_of

if TYPE_CHECKING:
    from nvo3_netconf.protocol.message_key import ReceivedMessage
    from nvo3_netconf.protocol.session import NetconfSession
    from nvo3_netconf.schema import SchemaTree


@dataclass(frozen=True)
class RPCContext:
    """What a handler gets besides its operation element.

    Attributes:
        session: the requesting session (id, user, close()).
        server: the server's shared state (datastores, schema, sessions...).
        access: what the exec check decided the user may do (NACM's access object,
            under the configuration in force when the request arrived), if it ran.
        message: the request's message as received; a handler whose reply depends
            only on the request, the datastores and the user's access may store the
            reply by its key (:class:`~nvo3_netconf.protocol.message_key.ReceivedMessage`)
            for the session's ``cached_reply``.
    """

    session: NetconfSession
    server: Any
    access: Any = None
    message: ReceivedMessage | None = None


OperationHandler = Callable[
    [RPCContext, etree._Element], Sequence[etree._Element] | bytes | None
]
"""Runs one operation; returns the reply's content (elements, or already serialized
by ``messages.serialize_content``), or None for ``<ok/>``."""

AccessCheck = Callable[["NetconfSession", str, str], Any]
"""Raises ``AccessDeniedError`` when the session may not invoke (namespace, name);
returns the access object it decided with (kept in the :class:`RPCContext`)."""


class Dispatcher:
    """Looks up and runs handlers.

    Args:
        handlers: ``(namespace, name)`` -> handler.
        server: passed to every handler in its :class:`RPCContext`.
        known_namespaces: namespaces of the loaded modules.
        access_check: optional NACM exec check, run before the handler.
        schema: the loaded modules' schema: the parameters of each operation it defines
            are checked against the rpc's input before anything else (none without it).
    """

    def __init__(
        self,
        handlers: Mapping[tuple[str, str], OperationHandler],
        *,
        server: Any,
        known_namespaces: set[str],
        access_check: AccessCheck | None = None,
        schema: SchemaTree | None = None,
    ) -> None:
        self._handlers = dict(handlers)
        self._server = server
        self._known = known_namespaces
        self._access_check = access_check
        self._inputs = (
            {} if schema is None
            else operation_inputs(schema, self._handlers, known_namespaces)
        )

    def operations(self) -> list[tuple[str, str]]:
        """Every registered ``(namespace, name)``."""
        return list(self._handlers)

    def dispatch(
        self, session: NetconfSession, operation: etree._Element, *,
        message: ReceivedMessage | None = None,
    ) -> Sequence[etree._Element] | bytes | None:
        """Run the handler of ``operation`` (``message``: see :class:`RPCContext`).

        Raises:
            RPCError: unknown operation, unknown or repeated parameter, access denied,
                or the handler's own refusal.
        """
        namespace = namespace_of(operation) or ""
        name = local_name(operation)
        handler = self._handlers.get((namespace, name))
        if handler is None:
            if namespace not in self._known:
                raise UnknownNamespaceError(
                    f"The operation <{name}> is in namespace {namespace!r}, which no module "
                    "of this server defines.",
                    type_=ErrorType.PROTOCOL,
                    info={"bad-element": name, "bad-namespace": namespace},
                )
            raise OperationNotSupportedError(
                f"The operation <{name}> is not supported by this server.",
                type_=ErrorType.PROTOCOL,
                info={"bad-element": name},
            )
        checker = self._inputs.get((namespace, name))
        if checker is not None:
            checker.check(operation)
        access = None
        if self._access_check is not None:
            access = self._access_check(session, namespace, name)
        return handler(RPCContext(session, self._server, access, message), operation)
