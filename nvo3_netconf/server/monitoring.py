"""RFC 6022 ``netconf-state``: capabilities, datastores, schemas, sessions, statistics."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from lxml import etree

from nvo3_netconf.constants import NS_MONITORING, Datastore
from nvo3_netconf.protocol.session import SessionInfo
from nvo3_netconf.schema import ModuleInfo


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def netconf_state(
    *,
    capabilities: Iterable[str],
    locks: dict[Datastore, int],
    lock_times: dict[Datastore, float],
    modules: Iterable[ModuleInfo],
    sessions: Iterable[SessionInfo],
    start_time: float,
    counters: dict[str, int],
) -> etree._Element:
    """Build the ``netconf-state`` container."""
    m = f"{{{NS_MONITORING}}}"
    root = etree.Element(m + "netconf-state", nsmap={None: NS_MONITORING})

    def leaf(parent: etree._Element, name: str, text: object) -> etree._Element:
        el = etree.SubElement(parent, m + name)
        el.text = str(text)
        return el

    caps = etree.SubElement(root, m + "capabilities")
    for uri in capabilities:
        leaf(caps, "capability", uri)
    stores = etree.SubElement(root, m + "datastores")
    for datastore in Datastore:
        store = etree.SubElement(stores, m + "datastore")
        leaf(store, "name", datastore.value)
        holder = locks.get(datastore)
        if holder is not None:
            # RFC 6022: the lock-info leaves sit inside the case's container.
            lock = etree.SubElement(etree.SubElement(store, m + "locks"), m + "global-lock")
            leaf(lock, "locked-by-session", holder)
            leaf(lock, "locked-time", _timestamp(lock_times.get(datastore, start_time)))
    schemas = etree.SubElement(root, m + "schemas")
    for module in modules:
        schema = etree.SubElement(schemas, m + "schema")
        leaf(schema, "identifier", module.name)
        leaf(schema, "version", module.revision)
        leaf(schema, "format", "yang")
        leaf(schema, "namespace", module.namespace)
        leaf(schema, "location", "NETCONF")
    session_list = etree.SubElement(root, m + "sessions")
    for info in sessions:
        session = etree.SubElement(session_list, m + "session")
        leaf(session, "session-id", info.session_id)
        leaf(session, "transport", info.transport)
        leaf(session, "username", info.user)
        leaf(session, "source-host", info.peer)
        leaf(session, "login-time", _timestamp(info.login_time))
        leaf(session, "in-rpcs", info.in_rpcs)
        leaf(session, "in-bad-rpcs", info.in_bad_rpcs)
        leaf(session, "out-rpc-errors", info.out_rpc_errors)
        leaf(session, "out-notifications", info.out_notifications)
    stats = etree.SubElement(root, m + "statistics")
    leaf(stats, "netconf-start-time", _timestamp(start_time))
    for name in ("in-bad-hellos", "in-sessions", "dropped-sessions", "in-rpcs", "in-bad-rpcs",
                 "out-rpc-errors", "out-notifications"):
        leaf(stats, name, counters.get(name, 0))
    return root
