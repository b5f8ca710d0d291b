"""Crash-safe files for committed datastores and server state.

:func:`atomic_write` writes a temporary file in the target's directory, fsyncs it,
renames it over the target with ``os.replace`` (atomic on POSIX) and fsyncs the
directory, so a crash at any instant leaves either the old or the new content, never a
mix and never an empty file. :class:`DatastoreFiles` names the files of one state
directory (``running.xml``, ``startup.xml``, ``confirmed-commit.xml``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


def atomic_write(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` atomically and durably.

    Args:
        path: the file to write; its directory must exist and be writable.
        content: the new content.

    Raises:
        OSError: writing failed (disk full, permissions); ``path`` is unchanged.
    """
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    sync_directory(directory)


def atomic_remove(path: Path) -> None:
    """Remove ``path`` (if present) and make the removal durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Fsync a directory so that renames and unlinks in it survive a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class DatastoreFiles:
    """The files of a state directory.

    Attributes:
        directory: the state directory.
    """

    directory: Path

    @property
    def running(self) -> Path:
        """Committed running configuration."""
        return self.directory / "running.xml"

    @property
    def startup(self) -> Path:
        """Startup configuration (RFC 6241 sec. 8.7)."""
        return self.directory / "startup.xml"

    @property
    def confirmed_commit(self) -> Path:
        """Rollback point of a persisted confirmed commit (RFC 6241 sec. 8.4)."""
        return self.directory / "confirmed-commit.xml"

    def ensure(self) -> None:
        """Create the directory (mode 0700: it holds tenants' configuration)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in self.directory.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
