"""Giving memory back to the operating system after large requests.

glibc keeps freed heap memory for reuse, so after one 12 MB edit-config (whose parsed
request briefly takes ten times that) the agent would keep that peak resident forever.
``malloc_trim(0)`` returns the free pages; it costs a few milliseconds, so the session
calls it only after a message or reply above a size threshold.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

LARGE_MESSAGE = 4 * 1024 * 1024
"""Bytes above which a message or reply is followed by a trim."""


class HeapTrimmer:
    """Calls glibc's ``malloc_trim``; does nothing where it does not exist."""

    def __init__(self) -> None:
        self._trim = None
        name = ctypes.util.find_library("c")
        if name:
            try:
                self._trim = ctypes.CDLL(name).malloc_trim
            except (OSError, AttributeError):
                logger.debug("malloc_trim is not available")

    def __call__(self) -> None:
        """Release free heap memory to the operating system."""
        if self._trim is not None:
            self._trim(0)
