"""NACM decisions (RFC 8341 sec. 3.4): who may invoke, read, write and be notified of what.

:class:`Nacm` is the server's access control: it keeps the compiled ``/nacm``
configuration of running (recompiled when running changes), the recovery user
(sec. 3.6.1), the groups the users file gives (``enable-external-groups``), the
bootstrap policy and the ``denied-*`` counters. For each request it hands out a
:class:`UserAccess`, which applies the procedures of sec. 3.4:

- :meth:`UserAccess.check_exec`: incoming RPC validation (sec. 3.4.4);
- :meth:`UserAccess.prune` and :meth:`UserAccess.path_readable`: read access to data
  nodes (sec. 3.4.5): what the user may not read is left out of a reply as if it did
  not exist;
- :meth:`UserAccess.check_changes` (an edit-config's typed change list) and
  :meth:`UserAccess.check_trees` (copy-config, commit, delete-config: the difference
  between two datastore contents): create, update and delete access, per node;
  :meth:`UserAccess.check_request`: an edit names only nodes the user may read;
- :meth:`UserAccess.filter_notification`: outgoing notification authorization
  (sec. 3.4.6).

How rules meet data: a data-node rule matches a node when the node is the one its path
names or a descendant of it (sec. 3.4.5), its predicates holding on the data. The
rules applying to a user are walked once per request; each element of a tree carries
the rules whose path still fits it (:data:`Candidates`), so checking a tree costs one
pass and stops early where every descendant gets the same answer.

Two choices where RFC 8341 leaves room, both documented in the README:

- a non-presence container carries no data of its own (RFC 7950 sec. 7.5.1): NACM
  decides on its descendants, and one left empty by pruning is omitted. A rule
  denying ``/vm:vms/vm:vm[...]`` therefore needs no companion rule for ``/vm:vms``;
- while running holds no rule-list at all, the members of the bootstrap group
  (``nacm-bootstrap-group``, default ``admin``) may do everything, so that a new agent
  can be configured; the first rule-list configured ends it.

Public names: :class:`Nacm`, :class:`UserAccess`, :class:`Counters`.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from lxml import etree

from nvo3_netconf.constants import NS_NACM, NS_NC, NS_NC_NOTIFICATIONS, ErrorType
from nvo3_netconf.datastore.changes import Change, ChangeOp
from nvo3_netconf.errors import AccessDeniedError
from nvo3_netconf.nacm.rules import (
    DEFAULT_CONFIG,
    Access,
    NacmConfig,
    PathError,
    Predicate,
    Rule,
    RuleKind,
    Step,
    bootstrap_rule_list,
    parse_config,
    parse_path,
)
from nvo3_netconf.nacm.trees import (
    OldValues,
    Values,
    ancestors,
    diff_trees,
    instance_path,
    plain_values,
    resolve_path,
    split_tag,
    synthetic_values,
)
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode, SchemaTree

logger = logging.getLogger(__name__)

Element = etree._Element
QName = tuple[str, str]

_LEAVES = (NodeKind.LEAF, NodeKind.LEAF_LIST, NodeKind.ANYXML, NodeKind.ANYDATA)
_ALWAYS_ALLOWED = {(NS_NC, "close-session")}
_DEFAULT_DENIED = {(NS_NC, "kill-session"), (NS_NC, "delete-config")}
_MAX_CACHED_ACCESSES = 256  # users whose UserAccess is kept for the configuration in force

Candidate = tuple[Rule, int, bool]
"""A rule that may match a node or its descendants: how many steps of its path the
node's ancestry matched, and whether a predicate could not be decided (unknown data)."""

Candidates = tuple[Candidate, ...]


def _is_np_container(snode: SchemaNode) -> bool:
    return snode.kind is NodeKind.CONTAINER and not snode.presence


class Denied(Exception):
    """A write was refused at one node (internal: becomes an AccessDeniedError)."""

    def __init__(self, chain: list[Element], snode: SchemaNode) -> None:
        super().__init__(snode.path)
        self.chain = chain
        self.snode = snode
        # How the node was before the request, to judge whether the user could see it
        # (None: the request itself named it, as for a create).
        self.seen: tuple[list[Element], Values] | None = None


@dataclass
class Counters:
    """The ``denied-*`` counters of ``/nacm`` (RFC 8341 sec. 3.5.1)."""

    denied_operations: int = 0
    denied_data_writes: int = 0
    denied_notifications: int = 0


class Nacm:
    """The access control of one server.

    Args:
        schema: the schema view (data, rpc and notification nodes).
        read_config: returns the ``/nacm`` element of running (a private copy), or None.
        modules: module name (and module prefix) -> namespace, to resolve rule paths;
            an rpc outside ``schema`` belongs to the module of its namespace.
        external_groups: user name -> the groups the users file gives them.
        recovery_user: the user whose sessions bypass NACM (RFC 8341 sec. 3.6.1).
        bootstrap_group: the group allowed everything while no rule-list is configured
            (None or ``""``: none).
    """

    def __init__(
        self,
        *,
        schema: SchemaTree,
        read_config: Callable[[], Element | None],
        modules: Mapping[str, str],
        external_groups: Callable[[str], Iterable[str]] = lambda user: (),
        recovery_user: str | None = None,
        bootstrap_group: str | None = "admin",
    ) -> None:
        self.schema = schema
        self.recovery_user = recovery_user or None
        self.bootstrap_group = bootstrap_group or None
        self.counters = Counters()
        self._read_config = read_config
        self._modules = dict(modules)
        self._module_of_namespace: dict[str, str] = {}
        for name, namespace in modules.items():
            self._module_of_namespace.setdefault(namespace, name)
        self._external_groups = external_groups
        self._lock = threading.Lock()
        self._config: NacmConfig | None = None
        self._version = 0  # counts invalidations: a stale compilation is not kept
        # One UserAccess per user and external groups, for the compiled configuration it
        # was made from: most requests reuse it (it holds no per-request state).
        self._accesses: dict[tuple[str, frozenset[str]], UserAccess] = {}
        self._deny_levels: dict[int, str] = {}
        self._subtree_modules: dict[int, frozenset[str]] = {}
        self._subtree_deny: dict[int, str] = {}

    # ----------------------------------------------------------- configuration
    def invalidate(self) -> None:
        """Running changed: recompile ``/nacm`` before the next decision."""
        with self._lock:
            self._config = None
            self._version += 1

    def config(self) -> NacmConfig:
        """The compiled configuration in force."""
        with self._lock:
            config, version = self._config, self._version
        if config is not None:
            return config
        element = self._read_config()
        config = parse_config(element, self._modules.get) if element is not None \
            else DEFAULT_CONFIG
        with self._lock:
            if self._version == version:
                self._config = config
        return config

    def namespace_of_prefix(self, prefix: str) -> str | None:
        """The namespace of the module with this name or prefix, if any."""
        return self._modules.get(prefix)

    def module_of(self, namespace: str) -> str:
        """The name of the module whose namespace this is (``""`` if none)."""
        return self._module_of_namespace.get(namespace, "")

    def access(self, user: str) -> UserAccess:
        """The decisions for one request of ``user``, under the configuration in force."""
        config = self.config()
        external = frozenset(self._external_groups(user))
        key = (user, external)
        cached = self._accesses.get(key)
        if cached is not None and cached.config is config:
            return cached
        bypass = not config.enable or (self.recovery_user is not None
                                       and user == self.recovery_user)
        groups = config.groups_of(user, external)
        rule_lists = config.rule_lists
        if not rule_lists and self.bootstrap_group is not None:
            rule_lists = (bootstrap_rule_list(self.bootstrap_group),)
        rules = tuple(rule for rule_list in rule_lists if rule_list.applies_to(groups)
                      for rule in rule_list.rules)
        access = UserAccess(self, config, user, groups, rules, bypass=bypass)
        if len(self._accesses) >= _MAX_CACHED_ACCESSES:
            self._accesses.clear()
        self._accesses[key] = access
        return access

    # ------------------------------------------------------------------ counters
    def count(self, name: str) -> None:
        """Add one to ``denied-operations``, ``denied-data-writes`` or ``denied-notifications``."""
        with self._lock:
            setattr(self.counters, name, getattr(self.counters, name) + 1)

    def state(self) -> Element:
        """The ``/nacm`` counters (config false), for ``<get>``."""
        ns = NS_NACM
        root = etree.Element(f"{{{ns}}}nacm", nsmap={None: ns})
        with self._lock:
            values = (self.counters.denied_operations, self.counters.denied_data_writes,
                      self.counters.denied_notifications)
        for name, value in zip(("denied-operations", "denied-data-writes",
                                "denied-notifications"), values, strict=True):
            etree.SubElement(root, f"{{{ns}}}{name}").text = str(value)
        return root

    # ---------------------------------------------------------- schema helpers
    def deny_level(self, snode: SchemaNode) -> str:
        """The node's effective default-deny extension, inherited from its ancestors."""
        key = id(snode)
        level = self._deny_levels.get(key)
        if level is None:
            parent = self.deny_level(snode.parent) if snode.parent is not None else ""
            level = _stronger(parent, snode.nacm_default_deny)
            self._deny_levels[key] = level
        return level

    def subtree_modules(self, snode: SchemaNode) -> frozenset[str]:
        """The modules defining the node and its descendants."""
        key = id(snode)
        found = self._subtree_modules.get(key)
        if found is None:
            found = frozenset(n.module for n in snode.walk())
            self._subtree_modules[key] = found
        return found

    def subtree_deny(self, snode: SchemaNode) -> str:
        """The strongest default-deny extension within the node's subtree."""
        key = id(snode)
        found = self._subtree_deny.get(key)
        if found is None:
            found = self.deny_level(snode)
            for child in snode.children.values():
                found = _stronger(found, self.subtree_deny(child))
            self._subtree_deny[key] = found
        return found


def _stronger(a: str, b: str) -> str:
    order = {"": 0, "write": 1, "all": 2}
    return a if order[a] >= order[b] else b


class UserAccess:
    """RFC 8341 sec. 3.4 for one user under one configuration.

    Attributes:
        user: the user name.
        groups: the user's groups (NACM groups and, if enabled, the users file's).
        bypass: NACM does not apply (``enable-nacm`` false, or the recovery user).
        rules: the rules of the rule-lists that apply to the groups, in order.
    """

    def __init__(self, nacm: Nacm, config: NacmConfig, user: str, groups: frozenset[str],
                 rules: tuple[Rule, ...], *, bypass: bool) -> None:
        self.nacm = nacm
        self.config = config
        self.user = user
        self.groups = groups
        self.rules = rules
        self.bypass = bypass
        self._data_rules: Candidates = tuple(
            (rule, 0, False) for rule in rules
            if rule.kind in (RuleKind.ANY, RuleKind.DATA) and not (rule.broken and rule.permit)
        )
        # Decisions that depend on nothing but the above (the object is shared by requests).
        self._exec: dict[tuple[str, str], bool] = {}
        self._unrestricted: dict[Access, bool] = {}

    # -------------------------------------------------------------------- exec
    def exec_allowed(self, namespace: str, name: str) -> bool:
        """Whether the user may invoke the operation (RFC 8341 sec. 3.4.4)."""
        key = (namespace, name)
        allowed = self._exec.get(key)
        if allowed is None:
            allowed = self._exec[key] = self._exec_decision(namespace, name)
        return allowed

    def _exec_decision(self, namespace: str, name: str) -> bool:
        if self.bypass or (namespace, name) in _ALWAYS_ALLOWED:
            return True
        module = self._rpc_module(namespace, name)
        for rule in self.rules:
            if not rule.access & Access.EXEC or not rule.module_matches(module):
                continue
            if rule.kind is RuleKind.ANY or (
                rule.kind is RuleKind.RPC and rule.target in ("*", name)
            ):
                return rule.permit
        snode = self.nacm.schema.rpcs.get((namespace, name))
        if snode is not None and snode.nacm_default_deny == "all":
            return False
        if (namespace, name) in _DEFAULT_DENIED:
            return False
        return self.config.exec_default

    def check_exec(self, namespace: str, name: str) -> None:
        """Refuse an operation the user may not invoke.

        Raises:
            AccessDeniedError: error-type protocol, error-path ``/nc:rpc/<operation>``.
        """
        if self.exec_allowed(namespace, name):
            return
        self.nacm.count("denied_operations")
        logger.info("NACM: %s may not invoke %s", self.user, name)
        module = self._rpc_module(namespace, name)
        prefix = "nc" if namespace == NS_NC else (module or "op")
        namespaces = {"nc": NS_NC, prefix: namespace}
        raise AccessDeniedError(
            f"Access denied: you may not invoke <{name}>.",
            type_=ErrorType.PROTOCOL,
            path=f"/nc:rpc/{prefix}:{name}",
            path_namespaces=namespaces,
        )

    def _rpc_module(self, namespace: str, name: str) -> str:
        snode = self.nacm.schema.rpcs.get((namespace, name))
        return snode.module if snode is not None else self.nacm.module_of(namespace)

    # ----------------------------------------------------------- unrestricted
    def unrestricted(self, op: Access) -> bool:
        """True when every data node is allowed ``op`` (nothing to check or prune)."""
        found = self._unrestricted.get(op)
        if found is None:
            found = self._unrestricted[op] = self._unrestricted_decision(op)
        return found

    def _unrestricted_decision(self, op: Access) -> bool:
        if self.bypass:
            return True
        for rule, _, _ in self._data_rules:
            if not rule.access & op:
                continue
            return (rule.permit and rule.access & op == op and rule.depth == 0
                    and not rule.broken and rule.module == "*")
        return False

    # -------------------------------------------------------------- matching
    def _advance(self, candidates: Candidates, qname: QName, element: Element | None,
                 values: Values) -> Candidates:
        result: list[Candidate] = []
        for rule, depth, unsure in candidates:
            if depth == rule.depth:
                result.append((rule, depth, unsure))
                continue
            assert rule.path is not None
            step = rule.path.steps[depth]
            if step.qname != qname:
                continue
            fits = self._step_fits(step, element, values)
            if fits is False:
                continue
            result.append((rule, depth + 1, unsure or fits is None))
        return tuple(result)

    def _step_fits(self, step: Step, element: Element | None, values: Values) -> bool | None:
        answer: bool | None = True
        for predicate in step.predicates:
            fits = self._predicate_fits(predicate, element, values)
            if fits is False:
                return False
            if fits is None:
                answer = None
        return answer

    def _predicate_fits(self, predicate: Predicate, element: Element | None,
                        values: Values) -> bool | None:
        if element is None:
            return None
        if predicate.position is not None:
            if element.getparent() is None:
                return None
            position = 1 + sum(1 for _ in element.itersiblings(str(element.tag), preceding=True))
            return position == predicate.position
        wanted = (self.user if predicate.user else (predicate.value or "")).strip()
        if predicate.name is None:
            found: list[str] | None = [element.text or ""]
        else:
            found = values(element, f"{{{predicate.namespace}}}{predicate.name}")
            if found is None:
                return None
        for text in found or ():
            text = text.strip()
            if text == wanted:
                return True
            if predicate.resolved is not None and ":" in text:
                # An identityref written with another prefix (module prefixes only).
                prefix, _, local = text.partition(":")
                uri = self.nacm.namespace_of_prefix(prefix)
                if uri is not None and f"{{{uri}}}{local}" == predicate.resolved:
                    return True
        return False

    def _verdict(self, op: Access, snode: SchemaNode, candidates: Candidates) -> bool:
        """Step 6-13 of RFC 8341 sec. 3.4.5 for one node."""
        for rule, depth, unsure in candidates:
            if depth != rule.depth or not rule.access & op:
                continue
            if not rule.module_matches(snode.module):
                continue
            if unsure:
                if rule.permit:
                    continue  # a permit never rests on data we could not see
                return False
            return rule.permit
        level = self.nacm.deny_level(snode)
        if op is Access.READ:
            return level != "all" and self.config.read_default
        return level == "" and self.config.write_default

    def _uniform(self, op: Access, snode: SchemaNode, candidates: Candidates) -> bool | None:
        """The answer every descendant of the node gets, when they all get the same one."""
        for rule, depth, _ in candidates:
            if depth != rule.depth:
                return None  # a longer path may still match a descendant
        for rule, _, unsure in candidates:
            if not rule.access & op:
                continue
            if unsure:
                return None
            if rule.module == "*" or self.nacm.subtree_modules(snode) == {rule.module}:
                return rule.permit
            return None
        level = self.nacm.subtree_deny(snode)
        if op is Access.READ:
            if level == "all":
                return None
            return self.config.read_default
        if level:
            return None
        return self.config.write_default

    def _top(self, chain: Sequence[Element], values: Values,
             nodes: Mapping[QName, SchemaNode] | None = None
             ) -> tuple[Candidates, SchemaNode | None]:
        """The candidates and schema node after walking ``chain`` from the top."""
        candidates = self._data_rules
        nodes = self.nacm.schema.roots if nodes is None else nodes
        snode: SchemaNode | None = None
        for element in chain:
            qname = split_tag(str(element.tag))
            snode = nodes.get(qname)
            if snode is None:
                return (), None
            candidates = self._advance(candidates, qname, element, values)
            nodes = snode.children
        return candidates, snode

    # -------------------------------------------------------------------- read
    def prune(self, tree: Element, *, owned: bool) -> Element:
        """The part of a datastore tree (``<data>``) the user may read.

        Args:
            tree: the tree; changed only when ``owned``.
            owned: the caller owns ``tree`` (a fresh copy): prune it in place.

        Returns:
            ``tree`` itself when nothing is hidden (or it was pruned in place), else a
            pruned copy.
        """
        if self.unrestricted(Access.READ):
            return tree
        if not owned:
            if not self._prune_children(tree, self.nacm.schema.roots, self._data_rules,
                                        plain_values, dry=True):
                return tree
            tree = copy.deepcopy(tree)
        self._prune_children(tree, self.nacm.schema.roots, self._data_rules, plain_values,
                             dry=False)
        return tree

    def _prune_children(self, parent: Element, nodes: Mapping[QName, SchemaNode],
                        candidates: Candidates, values: Values, *, dry: bool) -> bool:
        """Remove the children the user may not read; True if any was (would be)."""
        pruned = False
        for child in list(parent):
            if not isinstance(child.tag, str):
                continue
            snode = nodes.get(split_tag(child.tag))
            keep = snode is not None and self._keep(child, snode, candidates, values, dry=dry)
            if not keep:  # False: hidden; None (dry run): a descendant is hidden
                pruned = True
                if dry:
                    return True
                parent.remove(child)
        return pruned

    def _keep(self, element: Element, snode: SchemaNode, candidates: Candidates,
              values: Values, *, dry: bool) -> bool | None:
        """Whether ``element`` stays; its descendants are pruned on the way.

        Returns None in a dry run when the element stays but some descendant would not.
        """
        candidates = self._advance(candidates, snode.qname, element, values)
        if _is_np_container(snode):
            uniform = self._uniform(Access.READ, snode, candidates)
            if uniform is not None:
                return uniform
            had = any(isinstance(c.tag, str) for c in element)
            changed = self._prune_children(element, snode.children, candidates, values, dry=dry)
            if dry:
                return None if changed else True
            return not had or any(isinstance(c.tag, str) for c in element)
        if not self._verdict(Access.READ, snode, candidates):
            return False
        if snode.kind is NodeKind.LIST and snode.keys:
            for key in snode.keys:
                key_node = snode.children.get((snode.namespace, key))
                key_el = element.find(f"{{{snode.namespace}}}{key}")
                if key_node is None or key_el is None:
                    continue
                key_candidates = self._advance(candidates, key_node.qname, key_el, values)
                if not self._verdict(Access.READ, key_node, key_candidates):
                    return False
        if snode.kind in _LEAVES:
            return True
        if self._uniform(Access.READ, snode, candidates) is True:
            return True
        changed = self._prune_children(element, snode.children, candidates, values, dry=dry)
        return None if dry and changed else True

    def chain_readable(self, chain: Sequence[Element], values: Values = plain_values) -> bool:
        """Whether every node from the top down to ``chain[-1]`` may be read."""
        if self.unrestricted(Access.READ):
            return True
        candidates = self._data_rules
        nodes = self.nacm.schema.roots
        for element in chain:
            qname = split_tag(str(element.tag))
            snode = nodes.get(qname)
            if snode is None:
                return False
            candidates = self._advance(candidates, qname, element, values)
            if not _is_np_container(snode) and not self._verdict(Access.READ, snode, candidates):
                return False
            nodes = snode.children
        return True

    def path_readable(self, tree: Element, path: str, namespaces: Mapping[str, str]) -> bool:
        """Whether the node an instance path names may be read (it need not exist).

        Prefixes not in ``namespaces`` are taken as module names or prefixes (libyang
        writes its paths with module names).

        Where the node or an ancestor is missing, what the path's own predicates say is
        known and anything else is unknown: a permit rule never rests on unknown data,
        a deny rule does.
        """
        if self.unrestricted(Access.READ):
            return True
        def resolve(prefix: str) -> str | None:
            return namespaces.get(prefix) or self.nacm.namespace_of_prefix(prefix)

        try:
            compiled = parse_path(path, resolve)
        except PathError:
            return False
        chain, synthetic = resolve_path(tree, compiled)
        return self.chain_readable(chain, synthetic_values(synthetic))

    # ------------------------------------------------------------------- write
    def check_request(self, tree: Element, config: Element) -> None:
        """Refuse an edit that names a node the user may not read.

        An edit that changes nothing still answers: a merge of a hidden node's own
        values succeeds where one of other values is refused. So every node an
        ``<edit-config>``'s ``<config>`` names must be readable: as it is in ``tree``
        if it exists, else as the request describes it (values it does not give are
        unknown, and a permit rule never rests on unknown data). Deleting a node that
        does not exist is then refused as deleting a hidden one is: nothing tells them
        apart.

        Raises:
            AccessDeniedError: (application) such a node is named; counted as a denied
                data write.
        """
        if self.unrestricted(Access.READ):
            return
        indexes: dict[tuple[Element, str], dict[object, Element]] = {}
        requested: set[Element] = set()
        values = _request_values(requested)

        def visit(request: Element, data: Element | None,
                  nodes: Mapping[QName, SchemaNode], candidates: Candidates) -> None:
            for item in request:
                if not isinstance(item.tag, str):
                    continue
                qname = split_tag(item.tag)
                snode = nodes.get(qname)
                if snode is None:
                    continue  # not in the schema: the edit engine refuses it
                found = _existing(data, item, snode, indexes) if data is not None else None
                if found is None:
                    requested.add(item)
                element = found if found is not None else item
                below = self._advance(candidates, qname, element, values)
                if not _is_np_container(snode) and not self._verdict(Access.READ, snode,
                                                                     below):
                    self.nacm.count("denied_data_writes")
                    logger.info("NACM: %s named %s, which they may not read", self.user,
                                snode.path)
                    raise AccessDeniedError(
                        "Access denied: the request names configuration you may not "
                        "change; nothing was changed.", type_=ErrorType.APPLICATION)
                if snode.kind not in _LEAVES:
                    visit(item, found, snode.children, below)

        visit(config, tree, self.nacm.schema.roots, self._data_rules)

    def check_changes(self, tree: Element, changes: Sequence[Change]) -> None:
        """Check an edit's changes, applied in place to ``tree`` (RFC 8341 sec. 3.4.5).

        Created nodes need create access (each node of a created subtree), deleted nodes
        delete access (each node of the deleted subtree, as it was), changed leaves and
        moved entries update access, as they were and as they are.

        Raises:
            AccessDeniedError: (application) any node is denied; nothing is named that
                the user may not read.
        """
        if self.unrestricted(Access.WRITE):
            return
        overlay = OldValues(tree, changes)
        for change in changes:
            try:
                if change.operation is ChangeOp.CREATE:
                    # The request names what it creates: saying where is no news.
                    assert change.new is not None
                    self._check_subtree(Access.CREATE, ancestors(change.new), change.new,
                                        plain_values)
                elif change.operation is ChangeOp.DELETE:
                    assert change.old is not None
                    parents = overlay.parents(change)
                    try:
                        self._check_subtree(Access.DELETE, parents, change.old, overlay.values)
                    except Denied as denied:
                        denied.seen = (denied.chain, overlay.values)
                        raise
                else:
                    assert change.new is not None
                    chain = [*ancestors(change.new), change.new]
                    old = change.old if change.old is not None else change.new
                    old_chain = [*chain[:-1], old]
                    try:
                        self._check_node(Access.UPDATE, chain, plain_values)
                        self._check_node(Access.UPDATE, old_chain, overlay.values)
                    except Denied as denied:
                        denied.seen = (old_chain, overlay.values)
                        raise
            except Denied as denied:
                raise self._write_denied(denied) from None

    def check_trees(self, old: Element, new: Element) -> None:
        """Check the replacement of a datastore's content ``old`` by ``new``.

        Only the nodes that differ are checked (RFC 8341: a copy that changes nothing
        needs no write access).

        Raises:
            AccessDeniedError: (application) any differing node is denied.
        """
        if self.unrestricted(Access.WRITE):
            return
        for op, before, after in diff_trees(old, new, self.nacm.schema.roots):
            try:
                if op is Access.CREATE:
                    assert after is not None
                    self._check_subtree(op, ancestors(after), after, plain_values)
                elif op is Access.DELETE:
                    assert before is not None
                    try:
                        self._check_subtree(op, ancestors(before), before, plain_values)
                    except Denied as denied:
                        denied.seen = (denied.chain, plain_values)
                        raise
                else:
                    assert before is not None and after is not None
                    old_chain = [*ancestors(before), before]
                    try:
                        self._check_node(op, [*ancestors(after), after], plain_values)
                        self._check_node(op, old_chain, plain_values)
                    except Denied as denied:
                        denied.seen = (old_chain, plain_values)
                        raise
            except Denied as denied:
                raise self._write_denied(denied) from None

    def _check_node(self, op: Access, chain: list[Element], values: Values) -> None:
        candidates, snode = self._top(chain, values)
        if snode is None:
            raise Denied(chain, self._unknown(chain))
        if _is_np_container(snode):
            return
        if not self._verdict(op, snode, candidates):
            raise Denied(chain, snode)

    def _check_subtree(self, op: Access, parents: list[Element], element: Element,
                       values: Values) -> None:
        candidates, parent_node = self._top(parents, values)
        nodes = parent_node.children if parent_node is not None else self.nacm.schema.roots
        if parents and parent_node is None:
            raise Denied([*parents, element], self._unknown(parents))
        self._check_element(op, parents, element, nodes, candidates, values)

    def _check_element(self, op: Access, parents: list[Element], element: Element,
                       nodes: Mapping[QName, SchemaNode], candidates: Candidates,
                       values: Values) -> None:
        qname = split_tag(str(element.tag))
        snode = nodes.get(qname)
        chain = [*parents, element]
        if snode is None:
            raise Denied(chain, self._unknown(chain))
        candidates = self._advance(candidates, qname, element, values)
        if not _is_np_container(snode):
            if not self._verdict(op, snode, candidates):
                raise Denied(chain, snode)
            if snode.kind in _LEAVES:
                return
        if self._uniform(op, snode, candidates) is True:
            return
        for child in element:
            if isinstance(child.tag, str):
                self._check_element(op, chain, child, snode.children, candidates, values)

    def _unknown(self, chain: Sequence[Element]) -> SchemaNode:
        qname = split_tag(str(chain[-1].tag))
        return SchemaNode(name=qname[1], namespace=qname[0], module="", prefix="",
                          kind=NodeKind.CONTAINER)

    def _write_denied(self, denied: Denied) -> AccessDeniedError:
        self.nacm.count("denied_data_writes")
        logger.info("NACM: %s may not write %s", self.user, denied.snode.path)
        path: str | None = None
        namespaces: dict[str, str] = {}
        # Name the node only if the user knew it: they could read it, or they named it.
        chain = denied.chain
        known = denied.seen is None or self.chain_readable(*denied.seen)
        if chain and known:
            path, namespaces = instance_path(chain, self.nacm.schema)
        return AccessDeniedError(
            "Access denied: the request would change configuration you may not change; "
            "nothing was changed.",
            type_=ErrorType.APPLICATION, path=path, path_namespaces=namespaces,
        )

    # ------------------------------------------------------------ notifications
    def filter_notification(
        self, content: Element,
        running: Callable[[], AbstractContextManager[Element]] | None = None,
    ) -> Element | None:
        """The notification as the user may receive it, or None (RFC 8341 sec. 3.4.6).

        Args:
            content: the notification's content element (a private copy).
            running: a context manager giving running's tree while held, to judge a
                netconf-config-change's edits.

        The event type needs read access (notification-name rules, rules without a
        type, and data-node rules whose path names the notification, predicates
        included); a ``netconf-config-change`` keeps only the edits whose target the
        user may read, and is dropped when it had some and none is left.
        """
        if self.bypass:
            return content
        qname = split_tag(str(content.tag))
        snode = self.nacm.schema.notifications.get(qname)
        module = snode.module if snode is not None else self.nacm.module_of(qname[0])
        if not self._notification_allowed(content, qname, module, snode):
            self.nacm.count("denied_notifications")
            return None
        if self.unrestricted(Access.READ):
            return content
        if qname == (NS_NC_NOTIFICATIONS, "netconf-config-change") and running is not None:
            edits = content.findall(f"{{{NS_NC_NOTIFICATIONS}}}edit")
            if edits:
                with running() as tree:
                    for edit in edits:
                        target = edit.find(f"{{{NS_NC_NOTIFICATIONS}}}target")
                        text = (target.text or "").strip() if target is not None else ""
                        namespaces = {p: u for p, u in target.nsmap.items() if p} \
                            if target is not None else {}
                        if not text or not self.path_readable(tree, text, namespaces):
                            content.remove(edit)
                if content.find(f"{{{NS_NC_NOTIFICATIONS}}}edit") is None:
                    self.nacm.count("denied_notifications")
                    return None
        return content

    def _notification_allowed(self, content: Element, qname: QName, module: str,
                              snode: SchemaNode | None) -> bool:
        for rule in self.rules:
            if not rule.access & Access.READ or not rule.module_matches(module):
                continue
            if rule.kind is RuleKind.ANY:
                return rule.permit
            if rule.kind is RuleKind.NOTIFICATION and rule.target in ("*", qname[1]):
                return rule.permit
            if rule.kind is RuleKind.DATA:
                if rule.broken:
                    if not rule.permit:
                        return False
                    continue
                assert rule.path is not None
                if len(rule.path) != 1 or rule.path.steps[0].qname != qname:
                    continue
                fits = self._step_fits(rule.path.steps[0], content, plain_values)
                if fits is True:
                    return rule.permit
                if fits is None and not rule.permit:
                    return False
        if snode is not None and snode.nacm_default_deny == "all":
            return False
        return self.config.read_default


def _request_values(requested: set[Element]) -> Values:
    """Values of a mix of data and request elements: what a request omits is unknown."""

    def values(element: Element, tag: str) -> list[str] | None:
        found = plain_values(element, tag)
        if element in requested and not found:
            return None
        return found

    return values


def _existing(parent: Element, item: Element, snode: SchemaNode,
              indexes: dict[tuple[Element, str], dict[object, Element]]) -> Element | None:
    """The data node an edit's element names under ``parent``, if it exists."""
    tag = str(item.tag)
    if snode.kind is NodeKind.LIST and snode.keys:
        key: object = tuple((item.findtext(f"{{{snode.namespace}}}{k}") or "").strip()
                            for k in snode.keys)
    elif snode.kind is NodeKind.LEAF_LIST:
        key = (item.text or "").strip()
    else:
        return parent.find(tag)
    index = indexes.get((parent, tag))
    if index is None:
        index = {}
        for child in parent.iterchildren(tag):
            if snode.kind is NodeKind.LIST:
                own: object = tuple(
                    (child.findtext(f"{{{snode.namespace}}}{k}") or "").strip()
                    for k in snode.keys)
            else:
                own = (child.text or "").strip()
            index.setdefault(own, child)
        indexes[(parent, tag)] = index
    return index.get(key)
