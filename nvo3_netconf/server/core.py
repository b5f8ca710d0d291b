"""The state one NETCONF server shares between its sessions.

:class:`NetconfServer` is what operation handlers see as ``ctx.server``: the YANG
context and schema view, the datastores, confirmed commits, the session registry
(kill-session, RFC 6241 sec. 7.9), capabilities (sec. 8) and the operational data of
``<get>`` (RFC 6022 monitoring, RFC 8525 YANG library, plus registered providers).
It owns no socket: ``server/app.py`` wires it to the SSH transport.

It also feeds the notification bus with the RFC 6470 base notifications: a
``netconf-config-change`` for every change of running or startup (built on the bus's
thread from the typed change list, so an editor waits for none of it), and
``netconf-session-start`` / ``netconf-session-end`` from the session lifecycle.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence

from lxml import etree

from nvo3_netconf.constants import NS_NC, Datastore, TerminationReason
from nvo3_netconf.datastore.confirmed import ConfirmedCommits
from nvo3_netconf.datastore.store import CommitEvent, DatastoreManager, empty_tree
from nvo3_netconf.nacm import Nacm, UserAccess
from nvo3_netconf.notifications import (
    NotificationBus,
    SessionIdentity,
    config_change,
    session_end,
    session_start,
)
from nvo3_netconf.protocol.dispatch import Dispatcher, OperationHandler
from nvo3_netconf.protocol.message_key import ReceivedMessage
from nvo3_netconf.protocol.ops.retrieve import config_reply_by_message
from nvo3_netconf.protocol.reply_cache import MAX_ENTRIES, ReplyCache
from nvo3_netconf.protocol.session import Link, NetconfSession, SessionInfo
from nvo3_netconf.scheduler import Scheduler, TimerHandle
from nvo3_netconf.schema import SchemaTree, YangContext
from nvo3_netconf.server.memory import LARGE_MESSAGE, HeapTrimmer
from nvo3_netconf.server.monitoring import netconf_state

logger = logging.getLogger(__name__)

StateProvider = Callable[[NetconfSession], Sequence[etree._Element]]
"""Returns top-level operational data elements for ``<get>`` (fresh elements)."""


class NetconfServer:
    """Sessions, datastores and everything else the operations act on.

    Args:
        yang: the compiled YANG context.
        schema: the schema view of ``yang``.
        datastores: running, candidate, startup.
        scheduler: timers (confirmed commit...).
        confirmed: confirmed-commit state.
        capabilities: the hello capabilities.
        handlers: the operation table.
        max_message_size: largest message accepted from a peer.
        notifications: the notification bus (RFC 5277); the server publishes the RFC 6470
            base notifications on it and ends a session's subscription with the session.
        nacm: RFC 8341 access control (None: none). The dispatcher checks every
            operation against it; the operations check their data (``ctx.server.nacm``).
        hello_timeout: seconds a new session may take to send its ``<hello>`` before it is
            closed (termination-reason ``timeout``); 0 waits for ever.
        reply_cache_entries: get-config replies kept for repeated requests (0: none).
    """

    def __init__(
        self,
        *,
        yang: YangContext,
        schema: SchemaTree,
        datastores: DatastoreManager,
        scheduler: Scheduler,
        confirmed: ConfirmedCommits,
        capabilities: Sequence[str],
        handlers: dict[tuple[str, str], OperationHandler],
        max_message_size: int,
        notifications: NotificationBus,
        nacm: Nacm | None = None,
        hello_timeout: float = 0.0,
        reply_cache_entries: int = MAX_ENTRIES,
    ) -> None:
        self.yang = yang
        self.schema = schema
        self.datastores = datastores
        self.scheduler = scheduler
        self.confirmed = confirmed
        self.capabilities = tuple(capabilities)
        self.max_message_size = max_message_size
        self.notifications = notifications
        self.hello_timeout = hello_timeout
        self._hello_timers: dict[int, TimerHandle] = {}
        self.start_time = scheduler.clock.time()
        self._ids = itertools.count(1)
        self._sessions: dict[int, NetconfSession] = {}
        self._lock = threading.Lock()
        self._state_providers: list[StateProvider] = []
        self._lock_times: dict[Datastore, float] = {}
        self.counters = {"in-sessions": 0, "dropped-sessions": 0, "in-bad-hellos": 0}
        self._trim = HeapTrimmer()
        # Used under datastores.reading(), which also serializes it.
        self.config_replies = ReplyCache(max_entries=reply_cache_entries)
        self.message_replies = ReplyCache(max_entries=reply_cache_entries)  # same rules
        known = {m.namespace for m in yang.modules} | {NS_NC}
        self.nacm = nacm
        self.dispatcher = Dispatcher(
            handlers, server=self, known_namespaces=known,
            access_check=self._check_exec if nacm is not None else None, schema=schema,
        )
        datastores.add_listener(self._on_commit)

    def _check_exec(self, session: NetconfSession, namespace: str, name: str) -> UserAccess:
        """RFC 8341 sec. 3.4.4: may the session's user invoke this operation?"""
        assert self.nacm is not None
        access = self.nacm.access(session.user)
        access.check_exec(namespace, name)
        return access

    def lock_acquired(self, datastore: Datastore) -> None:
        """Note when ``datastore`` was locked (RFC 6022 ``locked-time``)."""
        with self._lock:
            self._lock_times[datastore] = self.scheduler.clock.time()

    def _cached_reply(self, session: NetconfSession, message: ReceivedMessage) -> bytes | None:
        return config_reply_by_message(self, session.user, message)

    # ---------------------------------------------------------------- sessions
    def open_session(self, link: Link, user: str, peer: str) -> NetconfSession:
        """Create, register and start a session for a new channel."""
        info = SessionInfo(
            session_id=next(self._ids), user=user, peer=peer,
            login_time=self.scheduler.clock.time(),
        )
        session = NetconfSession(
            info=info,
            link=link,
            capabilities=self.capabilities,
            dispatcher=self.dispatcher,
            on_close=self._session_closed,
            max_message_size=self.max_message_size,
            after_large_message=self._trim,
            large_message=LARGE_MESSAGE,
            on_established=self._session_started,
            cached_reply=self._cached_reply if self.config_replies.enabled else None,
            message_scope=self.notifications.holding(),
        )
        with self._lock:
            self._sessions[info.session_id] = session
            self.counters["in-sessions"] += 1
            if self.hello_timeout > 0:
                self._hello_timers[info.session_id] = self.scheduler.call_later(
                    self.hello_timeout, lambda: self._hello_expired(session)
                )
        session.start()
        return session

    def _hello_expired(self, session: NetconfSession) -> None:
        with self._lock:
            self._hello_timers.pop(session.session_id, None)
        if not session.established:
            logger.info("session %s of %s sent no <hello> in %s s: closing",
                        session.session_id, session.user, self.hello_timeout)
            session.close(TerminationReason.TIMEOUT)

    def _cancel_hello_timer(self, session: NetconfSession) -> None:
        with self._lock:
            handle = self._hello_timers.pop(session.session_id, None)
        self.scheduler.cancel(handle)

    def sessions(self) -> list[NetconfSession]:
        """The open sessions."""
        with self._lock:
            return list(self._sessions.values())

    def kill_session(self, session_id: int, *, killed_by: int) -> bool:
        """Abort a session (RFC 6241 sec. 7.9); False when there is no such session."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            return False
        logger.info("session %s killed by session %s", session_id, killed_by)
        with self._lock:
            self.counters["dropped-sessions"] += 1
        session.close(TerminationReason.KILLED, killed_by=killed_by)
        # Release at once; the transport's later report is then a no-op.
        session.connection_lost()
        return True

    def release_session(self, session_id: int) -> None:
        """Give up what a session holds: its confirmed commit, then its locks.

        A confirmed commit it issued without ``<persist>`` is rolled back (RFC 6241
        sec. 8.4.1) while its locks still keep other sessions out, so the rollback's
        reset of candidate cannot hit another session's freshly locked candidate; then
        its locks are released, candidate's with candidate's outstanding changes
        (sec. 8.3.5.2). Called when the session ends and by ``<close-session>`` before
        its reply (sec. 7.8); a second call finds nothing left to release.
        """
        try:
            self.confirmed.session_ended(session_id)
        finally:
            self.datastores.release_session(session_id)

    def _session_started(self, session: NetconfSession) -> None:
        self._cancel_hello_timer(session)
        self.notifications.publish(session_start(_identity(session)))

    def _session_closed(self, session: NetconfSession) -> None:
        self._cancel_hello_timer(session)
        with self._lock:
            self._sessions.pop(session.session_id, None)
        self.notifications.unsubscribe(session.session_id)
        self.release_session(session.session_id)
        reason = session.info.termination_reason or TerminationReason.DROPPED
        logger.info("session %s of %s closed (%s)", session.session_id, session.user,
                    reason.value)
        # A channel that never completed its hello was no NETCONF session, unless the
        # hello itself was the fault (RFC 6470 termination-reason bad-hello).
        if session.established or reason is TerminationReason.BAD_HELLO:
            self.notifications.publish(
                session_end(_identity(session), reason, killed_by=session.info.killed_by)
            )

    def close_all(self) -> None:
        """Close every session (shutdown)."""
        for session in self.sessions():
            session.close(TerminationReason.OTHER)
            session.connection_lost()

    # --------------------------------------------------------- operational data
    def add_state_provider(self, provider: StateProvider) -> None:
        """Contribute operational data to ``<get>``."""
        self._state_providers.append(provider)

    def operational_tree(
        self, session: NetconfSession, flt: etree._Element | None
    ) -> etree._Element:
        """Every piece of state data, in a fresh ``<data>`` tree."""
        tree = empty_tree()
        tree.append(self._monitoring())
        for element in etree.fromstring(
            f"<x>{self.yang.yang_library_xml(self.yang.content_id)}</x>"
        ):
            tree.append(element)
        for provider in self._state_providers:
            for element in provider(session):
                tree.append(element)
        return tree

    def _monitoring(self) -> etree._Element:
        sessions = [s.info for s in self.sessions()]
        counters = dict(self.counters)
        for name, attr in (("in-rpcs", "in_rpcs"), ("in-bad-rpcs", "in_bad_rpcs"),
                           ("out-rpc-errors", "out_rpc_errors"),
                           ("out-notifications", "out_notifications")):
            counters[name] = counters.get(name, 0) + sum(getattr(s, attr) for s in sessions)
        locks = self.datastores.locks()
        with self._lock:
            lock_times = dict(self._lock_times)
        return netconf_state(
            capabilities=self.capabilities,
            locks=locks,
            lock_times=lock_times,
            modules=self.yang.served_modules,
            sessions=sessions,
            start_time=self.start_time,
            counters=counters,
        )

    def _on_commit(self, event: CommitEvent) -> None:
        logger.info("%s changed by session %s (%d changes)", event.datastore.value,
                    event.session_id, len(event.changes))
        if event.datastore is Datastore.CANDIDATE:
            return  # RFC 6470 reports running and startup only
        changed_by: SessionIdentity | None = None
        if event.session_id:
            with self._lock:
                session = self._sessions.get(event.session_id)
            changed_by = SessionIdentity(
                user=event.user or (session.user if session is not None else ""),
                session_id=event.session_id,
                host=session.info.peer if session is not None else None,
            )
        datastore, changes = event.datastore.value, event.changes
        # The XML of 10,000 edits is built on the bus's thread, not the editor's.
        self.notifications.publish_deferred(
            lambda: config_change(datastore=datastore, changed_by=changed_by, edits=changes)
        )


def _identity(session: NetconfSession) -> SessionIdentity:
    return SessionIdentity(user=session.user, session_id=session.session_id,
                           host=session.info.peer)
