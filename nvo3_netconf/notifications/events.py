"""The NETCONF base notifications of RFC 6470 (module ``ietf-netconf-notifications``).

Builders for the content elements the server publishes on the ``NETCONF`` stream:
:func:`config_change` (sec. 2.2.2 ``netconf-config-change``), :func:`session_start`
(``netconf-session-start``) and :func:`session_end` (``netconf-session-end``, with the
termination reasons of :class:`~nvo3_netconf.constants.TerminationReason`).

They know nothing of the datastore or the session classes: a change is anything with
an ``operation``, an instance-identifier ``path`` and the ``namespaces`` binding its
prefixes (:class:`ConfigEdit`), a session is a :class:`SessionIdentity`.

Public names: :class:`ConfigEdit`, :class:`SessionIdentity`, :func:`config_change`,
:func:`session_start`, :func:`session_end`.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from nvo3_netconf.constants import NS_NC_NOTIFICATIONS, TerminationReason

NCN = NS_NC_NOTIFICATIONS

# ChangeOp (datastore/changes.py) -> nc:edit-operation-type. A move of an ordered-by user
# entry has no operation of its own in RFC 6470: it is reported as replace.
_OPERATIONS = {"create": "create", "delete": "delete", "replace": "replace",
               "move": "replace", "merge": "merge", "remove": "remove"}


class ConfigEdit(Protocol):
    """One change of a datastore (``datastore.changes.Change`` is one)."""

    @property
    def operation(self) -> str:
        """create, delete, replace or move."""

    @property
    def path(self) -> str:
        """The changed node's instance-identifier, with prefixes."""

    @property
    def namespaces(self) -> Mapping[str, str]:
        """Prefix -> namespace for every prefix of :attr:`path`."""


@dataclass(frozen=True)
class SessionIdentity:
    """The ``common-session-parms`` of RFC 6470 (user, session-id, source-host).

    Attributes:
        user: the session's user name.
        session_id: its id (0: not a NETCONF session).
        host: the peer's address; left out of the notification when not an IP address.
    """

    user: str
    session_id: int
    host: str | None = None


def _element(tag: str) -> etree._Element:
    return etree.Element(f"{{{NCN}}}{tag}", nsmap={None: NCN})


def _leaf(parent: etree._Element, tag: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NCN}}}{tag}")
    child.text = text
    return child


def _session_parms(parent: etree._Element, who: SessionIdentity) -> None:
    _leaf(parent, "username", who.user)
    _leaf(parent, "session-id", str(who.session_id))
    host = _source_host(who.host) if who.host else None
    if host is not None:
        _leaf(parent, "source-host", host)


@functools.lru_cache(maxsize=256)
def _source_host(host: str) -> str | None:
    """``host`` as an ``inet:ip-address`` (canonical), or None when it is not one."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def config_change(*, datastore: str, changed_by: SessionIdentity | None,
                  edits: Iterable[ConfigEdit]) -> etree._Element:
    """``<netconf-config-change>`` (RFC 6470 sec. 2.2.2).

    Args:
        datastore: ``running`` or ``startup``.
        changed_by: the session that made the change; None when the server did (e.g. a
            confirmed commit that timed out), reported as ``<server/>``.
        edits: the changes, one ``<edit>`` each; none when they are not known (e.g.
            copy-config), which the module allows.

    Returns:
        The content element.
    """
    root = _element("netconf-config-change")
    by = etree.SubElement(root, f"{{{NCN}}}changed-by")
    if changed_by is None:
        etree.SubElement(by, f"{{{NCN}}}server")
    else:
        _session_parms(by, changed_by)
    _leaf(root, "datastore", datastore)
    edit_tag, target_tag, operation_tag = (f"{{{NCN}}}edit", f"{{{NCN}}}target",
                                           f"{{{NCN}}}operation")
    sub = etree.SubElement
    for change in edits:
        edit = sub(root, edit_tag)
        # The instance-identifier's prefixes are declared where the value is.
        target = sub(edit, target_tag, nsmap=dict(change.namespaces))
        target.text = change.path
        operation = str(getattr(change.operation, "value", change.operation))
        sub(edit, operation_tag).text = _OPERATIONS.get(operation, "replace")
    return root


def session_start(who: SessionIdentity) -> etree._Element:
    """``<netconf-session-start>`` (RFC 6470 sec. 2.2.4)."""
    root = _element("netconf-session-start")
    _session_parms(root, who)
    return root


def session_end(who: SessionIdentity, reason: TerminationReason, *,
                killed_by: int | None = None) -> etree._Element:
    """``<netconf-session-end>`` (RFC 6470 sec. 2.2.5).

    Args:
        who: the session that ended.
        reason: why.
        killed_by: the session that killed it (only with ``killed``).
    """
    root = _element("netconf-session-end")
    _session_parms(root, who)
    if reason is TerminationReason.KILLED and killed_by is not None:
        _leaf(root, "killed-by", str(killed_by))
    _leaf(root, "termination-reason", reason.value)
    return root
