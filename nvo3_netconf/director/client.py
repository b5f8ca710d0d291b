"""One NETCONF session from the nDirector to one NVE: :class:`DeviceClient`.

The session is :class:`~nvo3_netconf.tes.connection.NetconfConnection` (ncclient's SSH
and hello, requests framed and written by the caller's thread, so no 0.1 s poll tick);
this module adds the configuration operations the director needs (RFC 6241 sec. 7 and
8.3-8.4: lock, unlock, edit-config, validate, commit with confirmed-commit, cancel-commit,
discard-changes, get-config) and reconnection with exponential backoff.

Errors the NVE sends arrive as the project's typed :class:`~nvo3_netconf.errors.RPCError`
subclasses (rebuilt by ``RPCError.new`` while parsing the reply), with the error-tag,
error-path and message exactly as the NVE sent them. Transport failures raise
:class:`~nvo3_netconf.tes.connection.NVEConnectionError`; the client then treats the
session as dead and :meth:`DeviceClient.connect` opens a new one.

Public names: :class:`DeviceClient`, :data:`ConfigSource`.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, TypeAlias

from nvo3_netconf.constants import (
    CAP_CANDIDATE,
    CAP_CONFIRMED_COMMIT,
    CAP_VALIDATE,
    NS_NC,
    Datastore,
)
from nvo3_netconf.errors import LockDeniedError, RPCError
from nvo3_netconf.protocol.messages import RPCReply
from nvo3_netconf.protocol.xml import Element, element, local_name, namespace_of, parse_xml, sub
from nvo3_netconf.tes.connection import (
    ConnectionParams,
    NetconfConnection,
    NVEConnectionError,
)
from nvo3_netconf.tes.replies import Reply, parse_reply
from nvo3_netconf.tes.requests import Request

__all__ = ["ConfigSource", "DeviceClient"]

logger = logging.getLogger(__name__)

ConfigSource: TypeAlias = "Element | bytes | str"
"""A ``<config>`` element (RFC 6241 sec. 7.2), or its XML text."""

_CONFIG: Final = f"{{{NS_NC}}}config"


def _as_config(config: ConfigSource) -> Element:
    """A fresh ``<config>`` element in the base namespace holding ``config``'s content."""
    if isinstance(config, str):
        config = config.encode("utf-8")
    root = parse_xml(config) if isinstance(config, bytes) else copy.deepcopy(config)
    if root.tag == _CONFIG:
        return root
    if local_name(root) == "config" and namespace_of(root) is None:
        wrapper = element(NS_NC, "config")
        wrapper.extend(list(root))
        return wrapper
    wrapper = element(NS_NC, "config")
    wrapper.append(root)  # a bare top-level data node
    return wrapper


def _target(parent: Element, name: str, datastore: Datastore | str) -> None:
    sub(sub(parent, NS_NC, name), NS_NC, str(Datastore(datastore)))


class DeviceClient:
    """The director's session to one NVE; reconnects with backoff.

    Thread-safe for independent calls (the connection is); a transaction drives one
    client from one worker at a time.

    Args:
        name: the NVE's inventory name (used in messages).
        params: where and as whom to connect.
        attempts: connection attempts per :meth:`connect` (at least 1).
        backoff: seconds before the second attempt, doubled after each failure ...
        max_backoff: ... up to this.
        sleep: waits between attempts (injected by tests).
    """

    def __init__(
        self,
        name: str,
        params: ConnectionParams,
        *,
        attempts: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.params = params
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._lock = threading.Lock()
        self._connection: NetconfConnection | None = None

    # -- session -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """A session is open (as far as the client knows: not yet failed)."""
        return self._connection is not None

    @property
    def capabilities(self) -> frozenset[str]:
        """The NVE's capabilities from its ``<hello>`` (empty when not connected)."""
        connection = self._connection
        return connection.capabilities if connection is not None else frozenset()

    @property
    def session_id(self) -> int | None:
        """The NVE's session id of the open session."""
        connection = self._connection
        return connection.session_id if connection is not None else None

    def supports(self, capability: str) -> bool:
        """The NVE announced ``capability`` (with or without parameters)."""
        return any(c.split("?", 1)[0] == capability for c in self.capabilities)

    @property
    def has_candidate(self) -> bool:
        """``:candidate`` and ``:confirmed-commit:1.1`` are both announced."""
        return self.supports(CAP_CANDIDATE) and self.supports(CAP_CONFIRMED_COMMIT)

    def connect(self) -> DeviceClient:
        """Open the session unless one is open, retrying with exponential backoff.

        A session found lost (the NVE restarted, the network broke) is replaced; within
        a transaction only its first step connects, so a later step never moves to a
        new session silently.

        Raises:
            NVEConnectionError: every attempt failed (the last attempt's error).
        """
        with self._lock:
            if self._connection is not None:
                if not self._connection.ended:
                    return self
                logger.info("%s: the session was lost; opening a new one", self.name)
                self._connection = None
            delay = self.backoff
            for attempt in range(1, self.attempts + 1):
                try:
                    self._connection = NetconfConnection.open(self.params)
                    return self
                except NVEConnectionError as error:
                    if attempt == self.attempts:
                        raise
                    logger.info("%s: attempt %d to connect failed (%s); retrying in %.2f s",
                                self.name, attempt, error, delay)
                    self._sleep(delay)
                    delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the session (``<close-session>``); idempotent."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def call(self, operation: Element, *, timeout: float | None = None) -> RPCReply:
        """Send one operation on the open session (opening one if none is open).

        A request never silently moves to a new session: locks and confirmed commits
        belong to the session that took them. After a transport failure the session is
        dropped, and the next :meth:`connect` (or call) opens a new one.

        Raises:
            RPCError: the NVE answered with an ``<rpc-error>`` (typed by its tag).
            RPCErrors: with several.
            NVEConnectionError: the session failed.
        """
        connection = self._connection
        if connection is None:
            connection = self.connect()._connection
            assert connection is not None
        try:
            return connection.call(operation, timeout=timeout)
        except NVEConnectionError:
            with self._lock:
                if self._connection is connection:
                    self._connection = None
            try:
                connection.close()
            except Exception as error:  # noqa: BLE001 - the session is already broken
                logger.debug("%s: closing a failed session: %r", self.name, error)
            raise

    # -- operations (RFC 6241 sec. 7, 8.3, 8.4) --------------------------------------------

    def lock(self, target: Datastore | str = Datastore.CANDIDATE) -> None:
        """``<lock>`` the datastore."""
        operation = element(NS_NC, "lock")
        _target(operation, "target", target)
        self.call(operation)

    def unlock(self, target: Datastore | str = Datastore.CANDIDATE) -> None:
        """``<unlock>`` the datastore."""
        operation = element(NS_NC, "unlock")
        _target(operation, "target", target)
        self.call(operation)

    def edit_config(
        self,
        config: ConfigSource,
        *,
        target: Datastore | str = Datastore.CANDIDATE,
        default_operation: str | None = None,
        test_option: str | None = None,
        error_option: str | None = None,
    ) -> None:
        """``<edit-config>`` with ``config`` (a ``<config>`` element or its XML)."""
        operation = element(NS_NC, "edit-config")
        _target(operation, "target", target)
        for name, value in (("default-operation", default_operation),
                            ("test-option", test_option), ("error-option", error_option)):
            if value is not None:
                sub(operation, NS_NC, name, str(value))
        operation.append(_as_config(config))
        self.call(operation)

    def validate(self, source: Datastore | str = Datastore.CANDIDATE) -> None:
        """``<validate>`` the datastore (needs ``:validate``; a no-op without it)."""
        if self.capabilities and not self.supports(CAP_VALIDATE):
            logger.info("%s does not announce :validate; validation is left to commit",
                        self.name)
            return
        operation = element(NS_NC, "validate")
        _target(operation, "source", source)
        self.call(operation)

    def commit(
        self,
        *,
        confirmed: bool = False,
        confirm_timeout: int | None = None,
        persist: str | None = None,
        persist_id: str | None = None,
    ) -> None:
        """``<commit>``: plain, confirmed (with timeout and persist), or confirming.

        A plain ``commit()`` on the session that made a confirmed commit confirms it;
        ``persist_id`` confirms one made with ``persist`` from any session.
        """
        operation = element(NS_NC, "commit")
        if confirmed:
            sub(operation, NS_NC, "confirmed")
            if confirm_timeout is not None:
                sub(operation, NS_NC, "confirm-timeout", str(int(confirm_timeout)))
            if persist is not None:
                sub(operation, NS_NC, "persist", persist)
        if persist_id is not None:
            sub(operation, NS_NC, "persist-id", persist_id)
        self.call(operation)

    def cancel_commit(self, persist_id: str | None = None) -> None:
        """``<cancel-commit>`` the ongoing confirmed commit (RFC 6241 sec. 8.4.9)."""
        operation = element(NS_NC, "cancel-commit")
        if persist_id is not None:
            sub(operation, NS_NC, "persist-id", persist_id)
        self.call(operation)

    def discard_changes(self) -> None:
        """``<discard-changes>``: reset the candidate to running."""
        self.call(element(NS_NC, "discard-changes"))

    def get_config(
        self,
        source: Datastore | str = Datastore.RUNNING,
        *,
        subtree: ConfigSource | None = None,
        xpath: str | None = None,
    ) -> Element:
        """``<get-config>``; returns the ``<data>`` element.

        Args:
            source: the datastore.
            subtree: a subtree filter: an element (or its XML) put inside ``<filter>``.
            xpath: an XPath filter (needs ``:xpath``); not with ``subtree``.
        """
        if subtree is not None and xpath is not None:
            raise ValueError("give a subtree or an XPath filter, not both")
        operation = element(NS_NC, "get-config")
        _target(operation, "source", source)
        if subtree is not None:
            node = subtree.encode("utf-8") if isinstance(subtree, str) else subtree
            node = parse_xml(node) if isinstance(node, bytes) else copy.deepcopy(node)
            sub(operation, NS_NC, "filter").append(node)
            operation[-1].set("type", "subtree")
        elif xpath is not None:
            flt = sub(operation, NS_NC, "filter")
            flt.set("type", "xpath")
            flt.set("select", xpath)
        reply = self.call(operation)
        for data in reply.data:
            if data.tag == f"{{{NS_NC}}}data":
                return data
        return element(NS_NC, "data")

    def signal(self, request: Request, *, timeout: float | None = None) -> Reply:
        """Send a TES signalling RPC (nvo3-tes) as the migration coordinator.

        The NVE authorizes the director's user like any TES (its ``tes-authorization``
        entry, which the director renders for itself).

        Returns:
            The NVE's reply (SUCCESS or FAIL with a reason; FAIL does not raise).
        """
        reply = self.call(request.to_element(), timeout=timeout)
        return parse_reply(request.operation, request.vm, reply.data)

    def ping(self) -> None:
        """One cheap round trip to check the session.

        ``<get-config>`` of running with an empty filter selects nothing (RFC 6241
        sec. 6.4.2).
        """
        operation = element(NS_NC, "get-config")
        _target(operation, "source", Datastore.RUNNING)
        sub(operation, NS_NC, "filter").set("type", "subtree")
        self.call(operation)

    def lock_state(self, datastore: Datastore | str = Datastore.CANDIDATE) -> str:
        """Probe the datastore's lock by taking and releasing it at once.

        Returns:
            ``"free"``, ``"locked by session N"`` (from the ``lock-denied`` error-info),
            or the error-tag the NVE answered.
        """
        try:
            self.lock(datastore)
        except LockDeniedError as error:
            holder = error.info.get("session-id")
            return f"locked by session {holder}" if holder else "locked"
        except RPCError as error:
            return str(error.tag.value)
        self.unlock(datastore)
        return "free"

    def __repr__(self) -> str:
        return f"DeviceClient({self.name!r}, {self.params.peer})"

    def __enter__(self) -> DeviceClient:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
