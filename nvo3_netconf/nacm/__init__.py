"""RFC 8341 NETCONF access control (NACM) for the NVE agent.

- :mod:`.rules`: the ``/nacm`` configuration of running as Python data, rule paths;
- :mod:`.trees`: data trees as NACM sees them (paths, old values, differences);
- :mod:`.engine`: the decisions: :class:`Nacm` (one per server: configuration, recovery
  user, counters) hands out a :class:`UserAccess` per request, which checks exec,
  read, write and notification access (RFC 8341 sec. 3.4.4-3.4.6).

The protocol operations call it (``protocol/ops``, the dispatcher's exec check, the
subscription's notification filter); :func:`access_for` is their entry point.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lxml import etree

from nvo3_netconf.constants import NS_NACM, Datastore
from nvo3_netconf.nacm.engine import Counters, Nacm, UserAccess
from nvo3_netconf.nacm.rules import (
    DEFAULT_CONFIG,
    Access,
    NacmConfig,
    NodePath,
    PathError,
    Rule,
    RuleKind,
    RuleList,
    parse_access,
    parse_config,
    parse_path,
)

if TYPE_CHECKING:
    from nvo3_netconf.datastore.store import CommitEvent, DatastoreManager
    from nvo3_netconf.schema import SchemaTree, YangContext

__all__ = [
    "DEFAULT_CONFIG",
    "Access",
    "Counters",
    "Nacm",
    "NacmConfig",
    "NodePath",
    "PathError",
    "Rule",
    "RuleKind",
    "RuleList",
    "UserAccess",
    "access_for",
    "build_nacm",
    "parse_access",
    "parse_config",
    "parse_path",
]


def access_for(ctx: Any) -> UserAccess | None:
    """The access of the user of an operation's session (None: the server has no NACM).

    Args:
        ctx: the operation's ``RPCContext`` (``ctx.server.nacm``, ``ctx.session.user``).
    """
    decided: UserAccess | None = getattr(ctx, "access", None)
    if decided is not None:
        return decided  # the exec check's, for this request
    nacm: Nacm | None = getattr(ctx.server, "nacm", None)
    if nacm is None:
        return None
    return nacm.access(ctx.session.user)


def build_nacm(
    *,
    yang: YangContext,
    schema: SchemaTree,
    datastores: DatastoreManager,
    external_groups: Callable[[str], Iterable[str]],
    recovery_user: str | None,
    bootstrap_group: str | None,
) -> Nacm:
    """The access control of a server whose NACM configuration lives in running.

    The compiled configuration is dropped whenever running changes.
    """
    modules: dict[str, str] = {}
    for module in yang.modules:
        if module.implemented:
            modules.setdefault(module.name, module.namespace)
    for module in yang.modules:
        if module.implemented:
            modules.setdefault(module.prefix, module.namespace)

    def read_config() -> etree._Element | None:
        with datastores.reading(Datastore.RUNNING) as tree:
            element = tree.find(f"{{{NS_NACM}}}nacm")
            return copy.deepcopy(element) if element is not None else None

    nacm = Nacm(schema=schema, read_config=read_config, modules=modules,
                external_groups=external_groups, recovery_user=recovery_user,
                bootstrap_group=bootstrap_group)

    def on_change(event: CommitEvent) -> None:
        if event.datastore is Datastore.RUNNING and _touches_nacm(event):
            nacm.invalidate()

    datastores.add_listener(on_change)
    return nacm


def _touches_nacm(event: CommitEvent) -> bool:
    """Whether a change of running may have changed ``/nacm`` (no change list: it may)."""
    if not event.changes:
        return True
    for change in event.changes:
        node = change.schema
        while node.parent is not None:
            node = node.parent
        if node.namespace == NS_NACM:
            return True
    return False
