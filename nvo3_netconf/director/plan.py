"""What must change on each NVE: item diffs, the edit-configs that make them, and memory.

:class:`AppliedItems` remembers, in the store, the items (:class:`~.render.Item`) each NVE
holds since the last transaction that reached it. :func:`diff` compares that with a new
rendering: an :class:`NVEPlan` per NVE lists the items added, changed and removed, and
builds the ``<config>`` that applies exactly those (RFC 6241 sec. 7.2: list
entries replaced whole or removed by key; ``/nve:nve`` leaves merged) and the one that
undoes them (used where an NVE has no candidate to roll back).

Public names: :class:`AppliedItems`, :class:`NVEPlan`, :func:`diff`, :func:`edit_config`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from nvo3_netconf.constants import NS_NC
from nvo3_netconf.director.db import Database
from nvo3_netconf.director.render import Item, Step
from nvo3_netconf.protocol.xml import Element, element, local_name, namespace_of, sub

__all__ = ["AppliedItems", "NVEPlan", "diff", "edit_config"]

_OPERATION: Final = f"{{{NS_NC}}}operation"

_SCHEMA: Final = ("""CREATE TABLE IF NOT EXISTS applied (
        nve TEXT NOT NULL, key TEXT NOT NULL, ancestors TEXT NOT NULL, xml BLOB NOT NULL,
        merge INTEGER NOT NULL, parent TEXT, PRIMARY KEY (nve, key))""",)


@dataclass
class NVEPlan:
    """One NVE's changes: items added, changed (old, new) and removed."""

    nve: str
    added: list[Item] = field(default_factory=list)
    changed: list[tuple[Item, Item]] = field(default_factory=list)
    removed: list[Item] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    @property
    def count(self) -> int:
        """How many items change."""
        return len(self.added) + len(self.changed) + len(self.removed)

    def config(self) -> Element:
        """The ``<config>`` applying the changes."""
        return edit_config([*self.added, *(new for _, new in self.changed)], self.removed)

    def undo(self) -> Element:
        """The ``<config>`` putting back what the NVE held before :meth:`config`."""
        restore = [*self.removed, *(old for old, _ in self.changed)]
        return edit_config(restore, [i for i in self.added if not i.merge])

    def lines(self) -> list[str]:
        """``+ key``, ``~ key``, ``- key`` per item, by key."""
        marks = [("+", i.key) for i in self.added] + [("~", n.key) for _, n in self.changed]
        marks += [("-", i.key) for i in self.removed]
        return [f"{mark} {key}" for mark, key in sorted(marks, key=lambda m: m[1])]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {"nve": self.nve, "added": sorted(i.key for i in self.added),
                "changed": sorted(n.key for _, n in self.changed),
                "removed": sorted(i.key for i in self.removed)}


def diff(nve: str, held: Mapping[str, Item], wanted: Mapping[str, Item]) -> NVEPlan:
    """The plan taking an NVE from the items it ``held`` to the ones ``wanted``."""
    plan = NVEPlan(nve)
    for key, item in wanted.items():
        old = held.get(key)
        if old is None:
            plan.added.append(item)
        elif old.xml != item.xml:
            plan.changed.append((old, item))
    plan.removed = [item for key, item in held.items()
                    if key not in wanted and not item.merge]
    return plan


def edit_config(items: Iterable[Item], remove: Iterable[Item]) -> Element:
    """A ``<config>`` that replaces (or merges) ``put`` and removes ``remove``.

    Removals inside an item that is removed too are left out (the parent takes them).
    The prefixes the items declare are declared on ``<config>``: identity values such
    as ``vn:vxlan`` keep their meaning wherever lxml moves the declarations.
    """
    put = [(item, item.element()) for item in items]
    nsmap: dict[str | None, str] = {None: NS_NC}
    nsmap.update((prefix, uri) for _, el in put for prefix, uri in el.nsmap.items() if prefix)
    config = element(NS_NC, "config", nsmap=nsmap)
    removed = list(remove)
    gone = {i.key for i in removed}
    for item in removed:
        if item.parent in gone:
            continue
        source = item.element()
        target = _place(config, item.ancestors)
        stub = sub(target, namespace_of(source), local_name(source))
        key = source[0]
        sub(stub, namespace_of(key), local_name(key), key.text)
        stub.set(_OPERATION, "remove")
    for item, el in put:
        if not item.merge:
            el.set(_OPERATION, "replace")
        _place(config, item.ancestors).append(el)
    return config


def _place(config: Element, ancestors: Sequence[Step]) -> Element:
    """The element for the innermost ancestor, created under ``config`` if missing."""
    node = config
    for step in ancestors:
        found = None
        for child in node:
            if child.tag != f"{{{step.namespace}}}{step.name}":
                continue
            if all(child.findtext(f"{{{step.namespace}}}{leaf}") == value
                   for leaf, value in step.keys):
                found = child
                break
        if found is None:
            found = sub(node, step.namespace, step.name)
            for leaf, value in step.keys:
                sub(found, step.namespace, leaf, value)
        node = found
    return node


class AppliedItems:
    """The items each NVE held after the last transaction that reached it.

    Kept in memory too, and re-read only when another connection (another ``ndirector``
    process) changed the store: SQLite's ``data_version`` tells.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure("applied", _SCHEMA)
        self._cache: dict[str, dict[str, Item]] = {}
        self._version: object = None

    def _fresh(self) -> None:
        version = self.db.query("PRAGMA data_version")[0][0]
        if version != self._version:
            self._cache.clear()
            self._version = version

    def held(self, nve: str) -> dict[str, Item]:
        """The NVE's items, by key (empty for an NVE never configured)."""
        self._fresh()
        cached = self._cache.get(nve)
        if cached is not None:
            return dict(cached)
        rows = self.db.query("SELECT key, ancestors, xml, merge, parent FROM applied "
                             "WHERE nve = ?", (nve,))
        steps: dict[str, tuple[Step, ...]] = {}
        items = {}
        for key, ancestors, xml, merge, parent in rows:
            path = steps.get(ancestors)
            if path is None:
                path = steps[ancestors] = tuple(
                    Step(s[0], s[1], tuple(map(tuple, s[2]))) for s in json.loads(ancestors))
            items[key] = Item(key, path, bytes(xml), bool(merge), parent)
        self._cache[nve] = items
        return dict(items)

    def record(self, plan: NVEPlan) -> None:
        """The NVE now holds what ``plan`` made of it."""
        held = self.held(plan.nve)
        with self.db.transaction() as db:
            for item in plan.removed:
                db.execute("DELETE FROM applied WHERE nve = ? AND key = ?",
                           (plan.nve, item.key))
                held.pop(item.key, None)
            put = [*plan.added, *(new for _, new in plan.changed)]
            db.executemany(
                "INSERT OR REPLACE INTO applied VALUES (?, ?, ?, ?, ?, ?)",
                [(plan.nve, i.key,
                  json.dumps([[s.namespace, s.name, [list(k) for k in s.keys]]
                              for s in i.ancestors]),
                  i.xml, int(i.merge), i.parent) for i in put])
            held.update((i.key, i) for i in put)
        self._fresh()
        self._cache[plan.nve] = held
