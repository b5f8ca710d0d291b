"""Many sessions, few threads: the event loop of the agent's descriptor-based sessions.

A thread per session spends more CPU handing the interpreter lock around than on the
requests themselves once several sessions are busy (8 sessions of small reads: about
50 us per request of lock convoys and wake-ups). :class:`SessionLoop` serves every
session from one ``epoll`` set with the *leader/followers* pattern: one thread, the
leader, waits for ready descriptors and runs each session's bytes through its handler
itself, so a small request costs a read, the handler and a write, and a busy loop
takes several ready sessions per wake-up.

A request that takes long (a large edit, a reply the peer reads slowly, a lock wait)
must not hold the others up: a monitor promotes another thread to leader once the
current one has been inside one session for :data:`STALL` seconds, and the old leader
rejoins the followers when it is done. A session's descriptors are armed one-shot, so
one session is never served by two threads at once and its requests stay in order.

Public names: :class:`SessionLoop`, :class:`LoopSession`, :data:`STALL`.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from nvo3_netconf.transport.ssh import RECV_SIZE, SessionHandler, StreamLink

logger = logging.getLogger(__name__)

STALL = 0.02
"""Seconds the leader may spend in one session before another thread leads."""
MAX_IDLE_FOLLOWERS = 2
"""Idle threads kept for the next promotion; more exit."""

_ARMED = select.EPOLLIN | select.EPOLLONESHOT


@dataclass(eq=False)
class LoopSession:
    """One session the loop serves.

    Attributes:
        read_fd: the descriptor the peer's bytes arrive on.
        read: reads up to N bytes without blocking: ``b""`` at the end of the stream,
            BlockingIOError when nothing is there.
        handler: the protocol session fed with the bytes.
        link: the session's outgoing side; once closed, the loop ends the session.
        label: names the peer in the log.
        wake_fd: a descriptor that becomes readable when ``link`` is closed from
            another thread (None when closing the link already ends the stream).
        finish: called once after the session ended, to release what it holds.
    """

    read_fd: int
    read: Callable[[int], bytes]
    handler: SessionHandler
    link: StreamLink
    label: str
    wake_fd: int | None = None
    finish: Callable[[], None] = lambda: None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _busy: bool = False
    _ended: bool = False
    _missed: list[int] = field(default_factory=list)  # events that came while busy

    @property
    def fds(self) -> tuple[int, ...]:
        """Every descriptor the loop watches for this session."""
        return (self.read_fd,) if self.wake_fd is None else (self.read_fd, self.wake_fd)


class SessionLoop:
    """Serves :class:`LoopSession` objects from one epoll set (leader/followers).

    Args:
        stall: seconds in one session before another thread takes over the others.
        name: prefix of the threads' names.
    """

    def __init__(self, *, stall: float = STALL, name: str = "netconf-io") -> None:
        if stall <= 0:
            raise ValueError("stall must be positive")
        self._stall = stall
        self._name = name
        self._poller = select.epoll()
        self._stop_read, self._stop_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._poller.register(self._stop_read, select.EPOLLIN)
        self._sessions: dict[int, LoopSession] = {}
        self._ready: deque[tuple[int, int]] = deque()
        self._cond = threading.Condition()
        self._leader: threading.Thread | None = None
        self._busy: dict[threading.Thread, float] = {}  # thread -> when its session began
        self._threads: set[threading.Thread] = set()
        self._idle = 0
        self._stopping = False
        self._monitor: threading.Thread | None = None

    # ------------------------------------------------------------------ public
    def add(self, session: LoopSession) -> None:
        """Start serving ``session`` (its bytes may already be waiting)."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("the session loop is stopped")
            for fd in session.fds:
                self._sessions[fd] = session
                self._poller.register(fd, _ARMED)
            if not self._threads:
                self._spawn()
            if self._monitor is None:
                self._monitor = threading.Thread(target=self._watch, daemon=True,
                                                 name=f"{self._name}-monitor")
                self._monitor.start()
            self._cond.notify_all()

    def __len__(self) -> int:
        """Sessions served now."""
        return len(self._open_sessions())

    def _open_sessions(self) -> list[LoopSession]:
        """Each session once (a session is registered under each of its descriptors)."""
        with self._cond:
            return list({id(s): s for s in self._sessions.values()}.values())

    @property
    def workers(self) -> int:
        """Threads serving sessions now (the leader and idle followers)."""
        with self._cond:
            return len(self._threads)

    def stop(self) -> None:
        """Stop every thread, then end the sessions still open (their links closed)."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
            threads = list(self._threads)
            monitor = self._monitor
        for session in self._open_sessions():
            session.link.close()  # also wakes a thread blocked sending to its peer
        os.write(self._stop_write, b"x")
        me = threading.current_thread()
        for thread in [*threads, monitor]:
            if thread is not None and thread is not me:
                thread.join(timeout=5)
        for session in self._open_sessions():
            self._end(session)
        self._poller.close()
        os.close(self._stop_read)
        os.close(self._stop_write)

    # ----------------------------------------------------------------- threads
    def _spawn(self) -> None:
        """Start a worker thread (called with the condition held)."""
        thread = threading.Thread(target=self._work, daemon=True, name=f"{self._name}-worker")
        self._threads.add(thread)
        thread.start()

    def _work(self) -> None:
        me = threading.current_thread()
        try:
            while self._await_leadership(me):
                self._lead(me)
        except Exception:  # a loop thread must never die silently
            logger.exception("session loop thread failed")
        finally:
            with self._cond:
                self._threads.discard(me)
                if self._leader is me:
                    self._leader = None
                    if not self._stopping:
                        self._spawn()

    def _await_leadership(self, me: threading.Thread) -> bool:
        """Wait until this thread leads; False when it should exit instead."""
        with self._cond:
            while not self._stopping:
                if self._leader is None or self._leader is me:
                    self._leader = me
                    return True
                if self._idle >= MAX_IDLE_FOLLOWERS:
                    return False
                self._idle += 1
                try:
                    self._cond.wait()
                finally:
                    self._idle -= 1
            return False

    def _lead(self, me: threading.Thread) -> None:
        """Serve ready sessions for as long as this thread is the leader."""
        while self._leader is me and not self._stopping:
            if not self._ready:
                try:
                    events = self._poller.poll()
                except InterruptedError:
                    continue
                except (OSError, ValueError):  # closed by stop()
                    return
                self._ready.extend(events)
                continue
            fd, _events = self._ready.popleft()
            if fd == self._stop_read:
                return
            session = self._sessions.get(fd)
            if session is None:
                continue
            # Only this thread writes its own entry (no lock needed on the hot path).
            self._busy[me] = time.monotonic()
            try:
                self._serve(session, fd)
            finally:
                del self._busy[me]

    def _watch(self) -> None:
        """Promote a new leader when the current one is held by one session."""
        with self._cond:
            while not self._stopping:
                self._cond.wait(self._stall / 2 if self._sessions else None)
                leader = self._leader
                since = self._busy.get(leader) if leader is not None else None
                if since is None or self._stopping or time.monotonic() - since < self._stall:
                    continue
                self._leader = None
                if self._idle:
                    self._cond.notify_all()
                else:
                    self._spawn()

    # ---------------------------------------------------------------- sessions
    def _serve(self, session: LoopSession, fd: int) -> None:
        """Run what arrived for ``session`` on ``fd``, then re-arm or end it."""
        with session._lock:
            if session._ended:
                return
            if session._busy:  # the thread serving it re-arms this event afterwards
                session._missed.append(fd)
                return
            session._busy = True
        ended = False
        try:
            if fd == session.read_fd and not session.link.closed:
                ended = self._feed(session)
        finally:
            with session._lock:
                session._busy = False
                missed, session._missed = session._missed, []
        if ended or session.link.closed:
            self._end(session)
            return
        for armed in {fd, *missed}:
            try:
                self._poller.modify(armed, _ARMED)
            except (OSError, ValueError):
                pass  # ended meanwhile

    def _feed(self, session: LoopSession) -> bool:
        """Give the session what is waiting; True when its stream has ended."""
        try:
            data = session.read(RECV_SIZE)
        except BlockingIOError:
            return False
        except (OSError, EOFError):
            return True
        if not data:
            return True
        try:
            session.handler.data_received(data)
        except Exception:  # never let one session's bug take the others down
            logger.exception("session of %s failed", session.label)
            return True
        return False

    def _end(self, session: LoopSession) -> None:
        """Forget ``session``, close its link and tell its handler (once)."""
        with session._lock:
            if session._ended:
                return
            session._ended = True
        with self._cond:
            for fd in session.fds:
                if self._sessions.get(fd) is session:
                    del self._sessions[fd]
                    try:
                        self._poller.unregister(fd)
                    except (OSError, ValueError):
                        pass
        session.link.close()
        for step in (session.handler.connection_lost, session.finish):
            try:
                step()
            except Exception:
                logger.exception("ending the session of %s failed", session.label)
