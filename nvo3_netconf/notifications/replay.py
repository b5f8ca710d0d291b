r"""The persisted replay log of RFC 5277 sec. 3.2 (replay) and 2.1.1 (startTime/stopTime).

Every notification of a stream that supports replay is appended here by the bus's
dispatcher thread; a ``<create-subscription>`` with ``startTime`` reads back the events
whose ``eventTime`` lies in its window. The log is bounded by a number of records and a
number of bytes: past either, the oldest records are dropped. It survives restarts.

File format (``notifications.log`` in the state directory)::

    nvo3-replay-log 1 <creation time, epoch seconds>\n
    <length:8 hex><crc32:8 hex>\n<payload>\n          one record per event
    payload = <seq> <eventTime, epoch seconds> <stream>\n<content XML>

Appends are written before the events are handed to subscribers, so a crash of the
agent loses none, and made durable (``fdatasync``) by :meth:`ReplayLog.sync`, which the
bus calls once events stop coming or at the latest ``LOG_SYNC_DELAY`` after the first
unsynced one: a stream of commits then costs one flush per group of events instead of
a second flush per commit beside the datastore's own (``datastore/wal.py``); a power
loss can take the last fraction of a second of events, never the configuration. A torn
last record (a crash during an append) is cut off when the log is opened. Dropping the
oldest records is logical at once and physical when the file has grown to twice the
bounds: the kept records are then rewritten to a new file that atomically replaces the old one
(temporary file, fsync, ``os.replace``, fsync of the directory), so a crash leaves
either log. A reader (:class:`Replay`) holds its own descriptor of the file as it was
when it started, so it is not disturbed by a later rewrite.

``replayLogCreationTime`` (RFC 5277 sec. 3.2.1) is the header's time: when the log
was created, kept across rewrites, renewed only if the file had to be recreated.

Public names: :class:`LoggedEvent`, :class:`ReplayLog`, :class:`Replay`.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from nvo3_netconf.datastore.persist import sync_directory

logger = logging.getLogger(__name__)

_MAGIC = b"nvo3-replay-log 1 "
_RECORD_HEADER = 17  # 8 hex length + 8 hex crc + "\n"


@dataclass(frozen=True)
class LoggedEvent:
    """One notification as logged.

    Attributes:
        seq: the bus's sequence number (strictly increasing, across restarts too).
        time: its ``eventTime``, epoch seconds.
        stream: the stream it was published on.
        content: the serialized notification content (its top-level element).
    """

    seq: int
    time: float
    stream: str
    content: bytes

    def encode(self) -> bytes:
        """The record's bytes, framed and checksummed."""
        payload = b"%d %s %s\n%s" % (self.seq, repr(self.time).encode(),
                                      self.stream.encode(), self.content)
        return b"%08x%08x\n%s\n" % (len(payload), zlib.crc32(payload), payload)


@dataclass(frozen=True)
class _Entry:
    """Where a record lies in the file (the log keeps these, not the content)."""

    seq: int
    time: float
    stream: str
    offset: int
    size: int


class Replay:
    """The events of one replay, read from a snapshot of the log.

    Iterate to get :class:`LoggedEvent` s in log order; close (or use ``with``) to
    release the file descriptor. Records that fail their checksum are skipped.
    """

    def __init__(self, fd: int | None, entries: Sequence[_Entry]) -> None:
        self._fd = fd
        self._entries = list(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LoggedEvent]:
        for entry in self._entries:
            if self._fd is None:
                return
            data = os.pread(self._fd, entry.size, entry.offset)
            decoded = _decode(data, 0)
            if decoded is None:
                logger.warning("replay: record %d is unreadable; skipped", entry.seq)
                continue
            yield decoded[0]

    def close(self) -> None:
        """Release the file descriptor."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class ReplayLog:
    """The bounded, persisted log of one server's notifications.

    Args:
        path: the log file (created if absent; its directory must exist).
        max_records: most records kept.
        max_bytes: most bytes of records kept.
        now: the time source for a new log's creation time (epoch seconds).

    Raises:
        OSError: the file cannot be read or created.
    """

    def __init__(self, path: Path, *, max_records: int, max_bytes: int,
                 now: Callable[[], float]) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("the replay log needs room for at least one record")
        self.path = path
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: deque[_Entry] = deque()
        self._bytes = 0  # bytes of the kept records
        self._file_records = 0  # records physically in the file
        self._fd: int | None = None
        self._unsynced = False  # records written, not yet flushed (see sync)
        self.creation_time = now()
        self.last_seq = 0
        self._open(now)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes of the records kept (the bound applies to this)."""
        with self._lock:
            return self._bytes

    def replay(self, *, start: float, stop: float | None,
               streams: frozenset[str] | None) -> Replay:
        """The records with ``start <= eventTime`` (``<= stop``) of these streams.

        Args:
            start: the subscription's startTime.
            stop: its stopTime, if any.
            streams: the streams wanted; None for all (the NETCONF stream).

        Returns:
            A :class:`Replay` over a snapshot: records appended later are not in it.
        """
        with self._lock:
            entries = [
                e for e in self._entries
                if e.time >= start and (stop is None or e.time <= stop)
                and (streams is None or e.stream in streams)
            ]
            fd = os.open(self.path, os.O_RDONLY) if entries else None
        return Replay(fd, entries)

    # ------------------------------------------------------------------ writing
    @property
    def unsynced(self) -> bool:
        """True when appended records wait for :meth:`sync`."""
        return self._unsynced

    def sync(self) -> None:
        """Make every appended record durable.

        Raises:
            OSError: the fsync failed.
        """
        with self._lock:
            if self._fd is not None and self._unsynced:
                self._unsynced = False
                os.fdatasync(self._fd)

    def append(self, events: Sequence[LoggedEvent]) -> None:
        """Append events (durable after :meth:`sync`), then drop the oldest past the bounds.

        Raises:
            OSError: the write failed; the file is cut back to where it was.
        """
        if not events:
            return
        records = [event.encode() for event in events]
        with self._lock:
            assert self._fd is not None
            start = os.lseek(self._fd, 0, os.SEEK_END)
            try:
                _write_all(self._fd, b"".join(records))
                self._unsynced = True
            except OSError:
                try:
                    os.ftruncate(self._fd, start)
                except OSError:
                    pass
                raise
            offset = start
            for event, record in zip(events, records, strict=True):
                self._entries.append(_Entry(event.seq, event.time, event.stream, offset,
                                            len(record)))
                self._bytes += len(record)
                offset += len(record)
                self.last_seq = max(self.last_seq, event.seq)
            self._file_records += len(records)
            self._trim()
            if (self._file_records > 2 * self.max_records
                    or offset > 2 * self.max_bytes + 4096):
                self._rewrite()

    def close(self) -> None:
        """Make the records durable and close the file."""
        try:
            self.sync()
        except OSError as error:
            logger.error("replay log %s: cannot sync (%s)", self.path, error)
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # ---------------------------------------------------------------- internals
    def _trim(self) -> None:
        while self._entries and (len(self._entries) > self.max_records
                                 or self._bytes > self.max_bytes):
            dropped = self._entries.popleft()
            self._bytes -= dropped.size

    def _open(self, now: Callable[[], float]) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        creation = _read_header(data)
        if creation is None:
            if data:
                logger.warning("%s: unreadable header; starting a new replay log", self.path)
            self.creation_time = now()
            self._rewrite_with(b"")
            return
        self.creation_time = creation
        pos = data.index(b"\n") + 1
        while pos < len(data):
            decoded = _decode(data, pos)
            if decoded is None:
                logger.warning("%s: ignoring a torn record at byte %d (crash during write)",
                               self.path, pos)
                with open(self.path, "r+b") as handle:
                    handle.truncate(pos)
                    os.fsync(handle.fileno())
                break
            event, end = decoded
            self._entries.append(_Entry(event.seq, event.time, event.stream, pos, end - pos))
            self._bytes += end - pos
            self.last_seq = max(self.last_seq, event.seq)
            pos = end
        self._file_records = len(self._entries)
        self._trim()
        if len(self._entries) < self._file_records:
            self._rewrite()
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def _rewrite(self) -> None:
        """Rewrite the file with only the kept records (atomically)."""
        reader = os.open(self.path, os.O_RDONLY)
        try:
            body = b"".join(os.pread(reader, e.size, e.offset) for e in self._entries)
        finally:
            os.close(reader)
        self._rewrite_with(body)

    def _rewrite_with(self, body: bytes) -> None:
        header = _MAGIC + repr(self.creation_time).encode() + b"\n"
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, header + body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        sync_directory(self.path.parent)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._unsynced = False  # the new file was flushed whole
        offset = len(header)
        moved: deque[_Entry] = deque()
        for entry in self._entries:
            moved.append(_Entry(entry.seq, entry.time, entry.stream, offset, entry.size))
            offset += entry.size
        self._entries = moved
        self._file_records = len(moved)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_header(data: bytes) -> float | None:
    end = data.find(b"\n")
    if not data.startswith(_MAGIC) or end < 0:
        return None
    try:
        return float(data[len(_MAGIC):end])
    except ValueError:
        return None


def _decode(data: bytes, pos: int) -> tuple[LoggedEvent, int] | None:
    """The record at ``pos`` and the position after it; None if torn or corrupt."""
    try:
        length = int(data[pos:pos + 8], 16)
        crc = int(data[pos + 8:pos + 16], 16)
    except ValueError:
        return None
    start = pos + _RECORD_HEADER
    payload = data[start:start + length]
    if len(payload) != length or data[start + length:start + length + 1] != b"\n":
        return None
    if zlib.crc32(payload) != crc:
        return None
    head, _, content = payload.partition(b"\n")
    try:
        seq_text, time_text, stream = head.decode().split(" ", 2)
        event = LoggedEvent(int(seq_text), float(time_text), stream, content)
    except (UnicodeDecodeError, ValueError):
        return None
    return event, start + length + 1
