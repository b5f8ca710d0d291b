"""RFC 5277 event notifications: streams, bounded per-session queues, the replay log.

:class:`NotificationBus` is owned by the server (``server/app.py`` builds it); the
RFC 6470 base notifications are built by :mod:`~nvo3_netconf.notifications.events`;
``<create-subscription>`` is ``protocol/ops/subscription.py``.
"""

from nvo3_netconf.notifications.bus import (
    NETCONF,
    NETCONF_STREAM,
    NotificationBus,
    Stream,
    SubscriptionExistsError,
)
from nvo3_netconf.notifications.delivery import (
    NotificationSink,
    QueueLimits,
    Selector,
    Subscription,
    notification_message,
)
from nvo3_netconf.notifications.events import (
    ConfigEdit,
    SessionIdentity,
    config_change,
    session_end,
    session_start,
)
from nvo3_netconf.notifications.replay import LoggedEvent, Replay, ReplayLog
from nvo3_netconf.notifications.times import DateAndTime, format_date_time, parse_date_time

__all__ = [
    "NETCONF",
    "NETCONF_STREAM",
    "ConfigEdit",
    "DateAndTime",
    "LoggedEvent",
    "NotificationBus",
    "NotificationSink",
    "QueueLimits",
    "Replay",
    "ReplayLog",
    "Selector",
    "SessionIdentity",
    "Stream",
    "Subscription",
    "SubscriptionExistsError",
    "config_change",
    "format_date_time",
    "notification_message",
    "parse_date_time",
    "session_end",
    "session_start",
]
