r"""Change-driven validation of a configuration datastore (RFC 7950 sec. 8, 15; RFC 6241 sec. 7.2).

Full validation (:class:`~nvo3_netconf.schema.validate.Validator`) parses and checks the
whole datastore after every edit: its cost follows the datastore. :class:`IncrementalValidator`
reaches the same verdict for an edited tree knowing the edit's changes (the ``Change``
list of :func:`nvo3_netconf.datastore.edit.apply_edit`), re-checking only what the changes
can affect, so its cost follows the change and the instances that depend on it:

- values of created and replaced nodes: libyang parses just those subtrees (with their
  ancestors' keys) and reports type errors exactly as a full parse does (sec. 9);
- ``when`` (sec. 7.21.5) and ``must`` (sec. 7.5.3) on the changed nodes, on the nodes of
  created subtrees (implicit non-presence containers and defaults included, as libyang
  evaluates them) and, through the dependencies of each expression, on the instances that
  read a changed node; dependencies outside the instance's own pivot mean all instances
  of the node;
- leafref ``require-instance`` (sec. 9.9.3) of created or replaced leafrefs, and of the
  leafrefs that referred to a value a change removed (found by value, not by scan);
  instance-identifiers (sec. 9.13) after any deletion;
- ``unique`` (sec. 7.8.3) of touched list entries, ``max-elements`` after creations and
  ``min-elements`` after deletions (sec. 7.7.5), mandatory leaves and choices (sec. 7.6.5,
  7.9.4) in created subtrees and wherever a node was deleted (sec. 3, "mandatory node").

The first failure is reported as libyang reports it: the checks run in libyang's order
(parse errors, then ``when``, then leafrefs, both last-first, then per module a depth-first
walk with ``must`` before the schema checks of each level), with its messages, its data
paths and the RFC 7950 sec. 15 error-tag / error-app-tag pairs of
:mod:`nvo3_netconf.schema.validate`.

Cost: with an :class:`~nvo3_netconf.schema.instances.InstanceCache` kept per datastore
tree, lookups by key, by value and by ``unique`` values are dictionary accesses, so a
one-entry edit costs the same on 100,000 entries as on one. The first call with a fresh
cache (or every call without one) builds the indexes it needs: one pass over each list
involved, in Python.

Fallback rule: libyang validates the whole datastore instead when

- the edit is broad: more than ``max_changes`` changes (default 1000), or created and
  deleted subtrees holding more than ``max_nodes`` elements together (default 20,000);
- an expression of the loaded modules could not be translated
  (:attr:`~nvo3_netconf.schema.rules.Rules.unsupported`, logged at start-up): every edit;
- an evaluation fails (an XPath error, a prefix bound twice in a created subtree).

Not covered (differences from libyang that remain):

- XPath compares stored text, libyang canonical values: ``. = 'x:foo'`` on an identityref
  or ``'05'`` against ``5`` under a string comparison may differ (``derived-from()``,
  leafref targets, keys and ``unique`` values are compared canonically);
- a ``when`` on a node sees the node itself, not the empty dummy of sec. 7.21.5;
  ``..`` from a default or implicit container inside an expression selects nothing; a
  ``when`` on a default below an implicit container is assumed true;
- expressions with ``//``, ``*`` or axes other than child, parent and self are evaluated
  correctly but without named inputs: re-evaluated on every edit, on every instance;
  defaults are not added on those steps;
- ``re-match()`` uses Python regular expressions (XSD ``\p{..}`` blocks unsupported);
- leafref members of union types are not checked for ``require-instance``;
- after any deletion every instance-identifier with ``require-instance`` is re-checked.

Public names: :class:`IncrementalValidator`, :class:`ChangeLike`,
:class:`~nvo3_netconf.schema.instances.InstanceCache`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from lxml import etree

from nvo3_netconf.schema.checks import ChangeCheck
from nvo3_netconf.schema.context import YangContext
from nvo3_netconf.schema.instances import Element, InstanceCache, Locator
from nvo3_netconf.schema.nodes import SchemaNode, SchemaTree
from nvo3_netconf.schema.paths import PathReader
from nvo3_netconf.schema.rules import Rule, Rules
from nvo3_netconf.schema.validate import DataKind, SchemaValidationError, Validator
from nvo3_netconf.schema.xpath_runtime import XPathLibrary
from nvo3_netconf.schema.yang_xpath import Dependency

__all__ = ["ChangeLike", "IncrementalValidator", "InstanceCache"]

logger = logging.getLogger(__name__)


class ChangeLike(Protocol):
    """What the validator reads of a :class:`nvo3_netconf.datastore.changes.Change`.

    ``operation`` is ``"create"``, ``"delete"``, ``"replace"`` or ``"move"`` (the values of
    ``ChangeOp``); ``old`` is the detached element of a delete or replace, ``new`` the
    element in the tree of a create, replace or move.
    """

    @property
    def operation(self) -> str:
        """``create``, ``delete``, ``replace`` or ``move``."""

    @property
    def path(self) -> str:
        """The node's instance path (RFC 7950 sec. 9.13), prefixes in ``namespaces``."""

    @property
    def namespaces(self) -> Mapping[str, str]:
        """Prefix -> namespace for ``path``."""

    @property
    def schema(self) -> SchemaNode:
        """The node's schema."""

    @property
    def old(self) -> Element | None:
        """The node before the change (detached), for delete and replace."""

    @property
    def new(self) -> Element | None:
        """The node in the edited tree, for create, replace and move."""


class IncrementalValidator:
    """Validates an edited configuration datastore from the edit's changes.

    Thread-safe: per-call state lives in the call; compiled expressions are shared.

    Args:
        context: the compiled libyang context.
        schema: the schema view of that context.
        max_changes: more changes than this are validated in full.
        max_nodes: created and deleted subtrees holding more elements than this (in
            total) are validated in full.
    """

    def __init__(
        self,
        context: YangContext,
        schema: SchemaTree,
        *,
        max_changes: int = 1000,
        max_nodes: int = 20000,
    ) -> None:
        self._full = Validator(context, schema)
        self.paths = PathReader(schema.roots, {**schema.rpcs, **schema.notifications},
                                {m.name: m.namespace for m in context.modules})
        self.rules = Rules(context, schema)
        self.locator = Locator(schema.roots, self.rules.kind_of, self.rules.modules)
        self.xpath = XPathLibrary(self.rules, self.locator)
        self.max_changes = max_changes
        self.max_nodes = max_nodes
        for node, expression, reason in self.rules.unsupported:
            logger.warning("%s: cannot translate %r (%s); edits are validated in full",
                           node.path, expression, reason)
        self.triggers = _Triggers(self.rules)
        for translation in self.rules.all_translations():
            self.xpath.compile(translation)

    def validate_changes(
        self,
        tree: Element,
        changes: Sequence[ChangeLike],
        *,
        cache: InstanceCache | None = None,
    ) -> None:
        """Check that ``tree`` (already edited) is valid, given the edit's ``changes``.

        Args:
            tree: the datastore root ``<data>`` holding the whole configuration after the
                edit; it is only read.
            changes: the changes the edit made, as ``apply_edit`` returns them.
            cache: indexes of ``tree`` kept across edits (see :class:`InstanceCache`);
                without one, the indexes this call needs are built and dropped.

        Raises:
            SchemaValidationError: the edited tree breaks the schema (the first issue,
                as full libyang validation would report it).
        """
        if not changes:
            return
        if self._too_broad(changes):
            logger.debug("edit too broad for incremental validation: validating in full")
            if cache is not None:
                cache.clear()  # the changes were not applied to it: rebuilt on demand
            self._validate_fully(tree)
            return
        work = cache if cache is not None else InstanceCache()
        work.begin()
        try:
            issue = ChangeCheck(self, tree, changes, work).run()
        except (etree.XPathError, RecursionError, ValueError, KeyError) as error:
            work.clear()  # its state is unknown: rebuilt on demand
            logger.debug("incremental validation failed (%s): validating in full", error)
            self._validate_fully(tree)
            return
        if issue is not None:
            work.rollback()
            raise SchemaValidationError((issue,))
        work.commit()

    def _too_broad(self, changes: Sequence[ChangeLike]) -> bool:
        if len(changes) > self.max_changes:
            return True
        if self.rules.unsupported:
            return True  # an untranslated expression may read anything
        budget = self.max_nodes
        for change in changes:
            for element in (change.old, change.new):
                if element is None or change.operation in ("replace", "move"):
                    continue
                for _ in element.iter():
                    budget -= 1
                    if budget < 0:
                        return True
        return False

    def _validate_fully(self, tree: Element) -> None:
        self._full.validate(b"".join(etree.tostring(child) for child in tree), DataKind.CONFIG)


class _Triggers:
    """Which constraints a change at a schema node may affect (precomputed)."""

    def __init__(self, rules: Rules) -> None:
        self.by_node: dict[SchemaNode, list[tuple[Rule, Dependency]]] = {}
        self.always: list[Rule] = []
        for rule, dependencies in rules.dependent_rules():
            if dependencies is None:
                self.always.append(rule)
                continue
            for dependency in dependencies:
                self._add(rule, dependency)
                self._add_implicit(rules, rule, dependency)

    def _add(self, rule: Rule, dependency: Dependency) -> None:
        node: SchemaNode | None = dependency.node
        while node is not None:
            self.by_node.setdefault(node, []).append((rule, dependency))
            node = node.parent
        if dependency.subtree:
            for below in dependency.node.walk():
                if below is not dependency.node:
                    self.by_node.setdefault(below, []).append((rule, dependency))

    def _add_implicit(self, rules: Rules, rule: Rule, dependency: Dependency) -> None:
        """What decides whether a default (or implicit container) read by ``rule`` exists.

        A default exists only in the active or default case of its choice (RFC 7950
        sec. 7.9.3) and only while its ``when`` holds (sec. 7.21.5): nodes of the other
        cases and the inputs of those ``when`` are inputs of the rule too.
        """
        node: SchemaNode | None = dependency.node
        while node is not None and rules.is_defaultable(node):
            for choice, case in rules.choices.get(node, ()):
                for other, members in choice.cases.items():
                    if other == case:
                        continue
                    for member in members:
                        self._add(rule, Dependency(member, dependency.pivot, True))
            for when in rules.whens.get(node, ()):
                for input_ in when.real.dependencies or ():
                    self._add(rule, Dependency(input_.node, None, input_.subtree))
            node = node.parent
