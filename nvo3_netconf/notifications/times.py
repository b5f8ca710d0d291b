"""``yang:date-and-time`` values (RFC 6991 sec. 3, RFC 3339 sec. 5.6) <-> epoch seconds.

``eventTime`` (RFC 5277 sec. 4), ``startTime`` / ``stopTime`` (sec. 2.1.1) and
``replayLogCreationTime`` (sec. 3.2.1) are all of this type. Times are kept as epoch
seconds (floats) inside the server, as the injected clock gives them.

Public names: :data:`DateAndTime`, :func:`format_date_time`, :func:`parse_date_time`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

DateAndTime = str
"""An RFC 3339 ``date-time`` as ``ietf-yang-types:date-and-time`` restricts it."""

# ietf-yang-types@2013-07-15 typedef date-and-time, pattern.
_DATE_AND_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z"
)


def format_date_time(epoch: float) -> DateAndTime:
    """``epoch`` in UTC with microseconds, e.g. ``2026-09-21T10:13:20.000000Z``."""
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")
    return stamp.removesuffix("+00:00") + "Z"


def parse_date_time(text: str) -> float:
    """The epoch seconds of a ``date-and-time`` value.

    ``-00:00`` (offset unknown, RFC 3339 sec. 4.3) is read as UTC; fractions beyond
    microseconds are cut.

    Raises:
        ValueError: ``text`` does not match the type's pattern or is not a real date.
    """
    text = text.strip()
    match = _DATE_AND_TIME.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date-and-time (RFC 3339)")
    fraction = match.group(1) or ""
    zone = match.group(2)
    head = text[: match.start(1)] if fraction else text[: match.start(2)]
    fraction = fraction[:7]  # "." and at most six digits
    zone = "+00:00" if zone in ("Z", "-00:00") else zone
    return datetime.fromisoformat(head + fraction + zone).timestamp()
