"""Where the NVE's notifications go: the :class:`NotificationSink` interface.

The NVE builds each notification's content element (``<vm-state-changed>``...,
:mod:`nvo3_netconf.nve.notices`) and hands it to its sinks in the order the events
happened. The RFC 5277 notification bus (``nvo3_netconf.notifications``) is one: it
wraps the content in ``<notification>`` with an ``eventTime``, logs it for replay and
queues it to subscribers. The sink contract: ``publish`` must not block on a slow
subscriber and must not call back into the NVE service; the element is the sink's to
keep (each sink gets its own copy).

Public names: :class:`NotificationSink`.
"""

from __future__ import annotations

from typing import Protocol

from lxml import etree

__all__ = ["NotificationSink"]


class NotificationSink(Protocol):
    """Receives the content of every notification the NVE emits."""

    def publish(self, content: etree._Element) -> None:
        """Take one notification's content element (its eventTime is now)."""
