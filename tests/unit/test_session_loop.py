"""The session loop: many sessions served by few threads, none held up by another.

Sessions here are real pipes (as handed over by ``nvo3-nve-subsystem``) driven through
:class:`PipeLink`; the protocol session is replaced by a line-echo handler, so what is
tested is the loop alone: order, hand-over of the lead when one session takes long,
closing from any side, failures and stop. The NETCONF path over OpenSSH is tested in
``tests/functional/test_openssh.py``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest

from nvo3_netconf.transport.loop import LoopSession, SessionLoop
from nvo3_netconf.transport.unix import PipeLink

WAIT = 10.0  # seconds before a test gives up on an event that must happen


class EchoHandler:
    """Answers every line with the line upper-cased; ``hook`` runs before each answer."""

    def __init__(self, link: PipeLink, hook: Callable[[bytes], None] | None = None) -> None:
        self.link = link
        self.hook = hook
        self.lost = threading.Event()
        self.lost_calls = 0
        self._pending = b""

    def data_received(self, data: bytes) -> None:
        self._pending += data
        while b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            if self.hook is not None:
                self.hook(line)
            self.link.send(line.upper() + b"\n")

    def connection_lost(self) -> None:
        self.lost_calls += 1
        self.lost.set()


class Peer:
    """The client's end of a session's two pipes."""

    def __init__(self) -> None:
        self.to_agent_read, self.to_agent = os.pipe()
        self.from_agent, self.from_agent_write = os.pipe()
        self.link = PipeLink(self.to_agent_read, self.from_agent_write)
        self.finished = threading.Event()
        self._buffer = b""

    def session(self, handler: EchoHandler) -> LoopSession:
        def finish() -> None:
            self.link.release()
            self.finished.set()

        return LoopSession(read_fd=self.link.read_fd, read=self.link.read_now,
                           handler=handler, link=self.link, label="test peer",
                           wake_fd=self.link.wake_fd, finish=finish)

    def ask(self, line: bytes) -> bytes:
        os.write(self.to_agent, line + b"\n")
        return self.answer()

    def answer(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = os.read(self.from_agent, 4096)
            if not chunk:
                raise EOFError("the agent closed the session")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def close(self) -> None:
        for fd in (self.to_agent, self.from_agent):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def loop() -> Iterator[SessionLoop]:
    running = SessionLoop(stall=0.02)
    yield running
    running.stop()


def start(loop: SessionLoop, hook: Callable[[bytes], None] | None = None
          ) -> tuple[Peer, EchoHandler]:
    peer = Peer()
    handler = EchoHandler(peer.link, hook)
    loop.add(peer.session(handler))
    return peer, handler


def test_many_sessions_are_answered_in_order_by_few_threads(loop: SessionLoop) -> None:
    sessions = [start(loop) for _ in range(16)]
    failures: list[str] = []

    def client(peer: Peer, n: int) -> None:
        for i in range(50):
            answer = peer.ask(b"s%d-m%d" % (n, i))
            if answer != b"S%d-M%d" % (n, i):
                failures.append(f"session {n} message {i}: {answer!r}")

    threads = [threading.Thread(target=client, args=(peer, n))
               for n, (peer, _) in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not failures
    assert len(loop) == 16
    assert loop.workers <= 3  # one leader, at most two idle followers
    for peer, _ in sessions:
        peer.close()


def test_a_session_that_takes_long_does_not_hold_up_the_others(loop: SessionLoop) -> None:
    other_answered = threading.Event()
    slow_waited: list[bool] = []

    def wait_for_the_other(line: bytes) -> None:
        if line == b"slow":
            slow_waited.append(other_answered.wait(WAIT))

    slow, _ = start(loop, wait_for_the_other)
    fast, _ = start(loop)
    os.write(slow.to_agent, b"slow\n")  # its handler now waits for the other session
    assert fast.ask(b"quick") == b"QUICK"
    other_answered.set()
    assert slow.answer() == b"SLOW"
    assert slow_waited == [True]
    # Both sessions go on in order afterwards.
    assert slow.ask(b"a") == b"A" and fast.ask(b"b") == b"B"
    slow.close()
    fast.close()


def test_closing_the_link_from_another_thread_ends_the_session(loop: SessionLoop) -> None:
    peer, handler = start(loop)
    assert peer.ask(b"x") == b"X"
    peer.link.close()  # kill-session, shutdown, the send watchdog
    assert handler.lost.wait(WAIT) and peer.finished.wait(WAIT)
    assert handler.lost_calls == 1
    with pytest.raises(OSError):
        os.fstat(peer.to_agent_read)  # the agent's descriptors are released
    assert os.read(peer.from_agent, 10) == b""  # the peer sees the end
    assert len(loop) == 0
    peer.close()


def test_closing_while_a_request_runs_ends_the_session_after_it(loop: SessionLoop) -> None:
    entered, release = threading.Event(), threading.Event()

    def block(line: bytes) -> None:
        entered.set()
        release.wait(WAIT)

    peer, handler = start(loop, block)
    os.write(peer.to_agent, b"long\n")
    assert entered.wait(WAIT)
    peer.link.close()
    release.set()
    assert handler.lost.wait(WAIT) and peer.finished.wait(WAIT)
    assert handler.lost_calls == 1
    peer.close()


def test_the_peer_ending_its_stream_ends_the_session(loop: SessionLoop) -> None:
    peer, handler = start(loop)
    assert peer.ask(b"x") == b"X"
    os.close(peer.to_agent)
    assert handler.lost.wait(WAIT) and peer.finished.wait(WAIT)
    peer.close()


def test_a_failing_session_ends_alone(loop: SessionLoop) -> None:
    def fail(line: bytes) -> None:
        if line == b"boom":
            raise RuntimeError("a bug in one session")

    broken, broken_handler = start(loop, fail)
    healthy, healthy_handler = start(loop)
    os.write(broken.to_agent, b"boom\n")
    assert broken_handler.lost.wait(WAIT)
    assert healthy.ask(b"still here") == b"STILL HERE"
    assert not healthy_handler.lost.is_set()
    broken.close()
    healthy.close()


def test_stop_ends_every_session_and_thread() -> None:
    loop = SessionLoop()
    sessions = [start(loop) for _ in range(3)]
    for peer, _ in sessions:
        assert peer.ask(b"x") == b"X"
    loop.stop()
    assert loop.workers == 0
    for peer, handler in sessions:
        assert handler.lost.is_set() and peer.finished.is_set()
        assert os.read(peer.from_agent, 10) == b""
        peer.close()
    with pytest.raises(RuntimeError):
        start(loop)
