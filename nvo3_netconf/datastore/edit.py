"""The edit-config engine: RFC 6241 sec. 7.2 applied to an lxml datastore tree, sans I/O.

:func:`apply_edit` applies the ``<config>`` of an ``<edit-config>`` to a datastore root
(``<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">``) in place and returns the
:class:`~nvo3_netconf.datastore.changes.Change` list. It uses only the
:class:`~nvo3_netconf.schema.nodes.SchemaTree`; the caller validates the result with
libyang, then swaps it in, and discards the working copy on error (no undo log here).

Semantics (RFC 6241 sec. 7.2; RFC 7950 sec. 7.5.8, 7.6.7, 7.7.9, 7.8.6, 7.9, 15.7):

- ``nc:operation`` merge / replace / create / delete / remove inherits down the tree;
  ``none`` exists only as ``default-operation``. Under ``none`` an element without an
  operation only navigates, and one naming a node that does not exist is
  ``data-missing`` (RFC 6241 sec. 7.2: "If the configuration in the <config> parameter
  contains data for which there is not a corresponding level in the target datastore,
  an <rpc-error> is returned with an <error-tag> value of data-missing").
- ``default-operation replace``: the ``<config>`` completely replaces the datastore,
  so top-level nodes it does not mention are deleted too.
- ``replace`` on an existing node deletes the children the edit does not mention, then
  replaces the rest recursively; an ``ordered-by user`` list or leaf-list takes the
  order of the edit. A leaf-list entry is identified by its value: ``replace`` on one
  entry concerns that entry only (RFC 7950 sec. 7.7.9), not the whole leaf-list.
- Inside ``delete`` / ``remove`` only ``delete`` / ``remove`` may appear; a creating
  operation there is ``bad-attribute``. ``delete`` below ``create`` or below a node
  being created is simply ``data-missing``; ``remove`` there is a no-op.
- List entries are matched by every key (``missing-element`` when one is absent,
  RFC 7950 sec. 7.8.7); a key leaf may carry no operation other than its entry's or
  ``merge``. ``yang:insert`` / ``yang:key`` / ``yang:value`` position ``ordered-by
  user`` entries (RFC 7950 sec. 7.7.9, 7.8.6); a missing anchor is ``bad-attribute``
  with error-app-tag ``missing-instance`` (sec. 15.7). New entries of other lists are
  appended in request order.
- Creating a node of one case deletes the nodes of the other cases of the same choice,
  nested choices included (RFC 7950 sec. 7.9.1); those deletions are Changes too.
- A non-presence container carries no data of its own (RFC 7950 sec. 7.5.1): one
  left without children by the edit is removed, without a Change.
- Leaf values are stored as given; prefixes used in a value (identityref,
  instance-identifier) are declared on the stored leaf, and its default namespace is
  the one in effect on the request element, so the value keeps its meaning when the
  tree is serialized. Values are compared with prefixes resolved to namespaces.

Cost: every list or leaf-list a request touches is indexed by key once per parent and
per edit (one scan of its instances), then kept up to date, so merging N entries is
O(N + size of the list); an edit of a single entry of a 100,000-entry list still pays
that one scan.

Public names: :func:`apply_edit`, and from :mod:`~nvo3_netconf.datastore.changes`
:class:`Change`, :class:`ChangeOp`, :class:`PartialEditError`.
"""

from __future__ import annotations

import copy
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from lxml import etree

from nvo3_netconf.constants import (
    NS_NC,
    NS_YANG_1,
    DefaultOperation,
    EditOperation,
    ErrorOption,
    ErrorType,
)
from nvo3_netconf.datastore.changes import (
    Change,
    ChangeLog,
    ChangeOp,
    PartialEditError,
    quote_literal,
)
from nvo3_netconf.errors import (
    BadAttributeError,
    BadElementError,
    DataExistsError,
    DataMissingError,
    InvalidValueError,
    MissingAttributeError,
    MissingElementError,
    RPCError,
    UnknownAttributeError,
    UnknownElementError,
    UnknownNamespaceError,
)
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode, SchemaTree

__all__ = [
    "INSERT_ATTR",
    "KEY_ATTR",
    "OPERATION_ATTR",
    "VALUE_ATTR",
    "Change",
    "ChangeOp",
    "PartialEditError",
    "apply_edit",
]

OPERATION_ATTR = f"{{{NS_NC}}}operation"
INSERT_ATTR = f"{{{NS_YANG_1}}}insert"
KEY_ATTR = f"{{{NS_YANG_1}}}key"
VALUE_ATTR = f"{{{NS_YANG_1}}}value"

Element = etree._Element
Namespaces = dict[str, str]
EntryKey = tuple[str | None, ...] | str
"""A list entry's key values (a tuple) or a leaf-list entry's value, prefixes resolved."""

_NC_PREFIX = f"{{{NS_NC}}}"
_YANG_PREFIX = f"{{{NS_YANG_1}}}"
_DATA_KINDS = frozenset(
    {NodeKind.CONTAINER, NodeKind.LIST, NodeKind.LEAF, NodeKind.LEAF_LIST,
     NodeKind.ANYXML, NodeKind.ANYDATA}
)
_ENTRIES = (NodeKind.LIST, NodeKind.LEAF_LIST)
_VALUES = (NodeKind.LEAF, NodeKind.ANYXML, NodeKind.ANYDATA)
_REMOVING = frozenset({EditOperation.DELETE, EditOperation.REMOVE})
_INSERT_MODES = ("first", "last", "before", "after")
# A "prefix:" inside a value, not preceded by a name character or colon (IPv6, URLs).
_PREFIXED = re.compile(r"(?<![\w.:-])([A-Za-z_][\w.-]*):(?=[A-Za-z_])")
_PREDICATE = re.compile(
    r"""\s*\[\s*(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\]"""
)


def apply_edit(
    data: Element,
    config: Element,
    schema: SchemaTree,
    *,
    default_operation: DefaultOperation = DefaultOperation.MERGE,
    error_option: ErrorOption = ErrorOption.STOP_ON_ERROR,
) -> list[Change]:
    """Apply an ``<edit-config>`` to a datastore tree, in place (RFC 6241 sec. 7.2).

    Args:
        data: the datastore root (a working copy: it is modified even on error).
        config: the request's ``<config>`` element; its children are the edit.
        schema: the schema view of the implemented modules.
        default_operation: the ``default-operation`` parameter.
        error_option: ``stop-on-error`` and ``rollback-on-error`` raise at the first
            error; ``continue-on-error`` applies what it can and raises every error
            together at the end.

    Returns:
        The changes made, in the order they were made.

    Raises:
        RPCError: the first error (``stop-on-error``, ``rollback-on-error``).
        PartialEditError: with ``continue-on-error``, every error and the changes that
            were applied nonetheless (an ``RPCErrors``, even for a single error).
    """
    editor = _Editor(schema, error_option)
    editor.children(
        config,
        data,
        None,
        EditOperation(default_operation.value),
        quiet=False,
        path="",
        nss={},
        replacing=default_operation is DefaultOperation.REPLACE,
        root=True,
    )
    changes = editor.log.changes()
    if editor.errors:
        raise PartialEditError(editor.errors, changes)
    return changes


class _Placed(NamedTuple):
    """An ``ordered-by user`` entry a creating operation produced or met."""

    schema: SchemaNode
    element: Element
    created: bool
    positioned: bool  # carried a yang:insert attribute


class _Editor:
    """The state of one edit: change log, errors, lazily built indexes and caches."""

    def __init__(self, schema: SchemaTree, error_option: ErrorOption) -> None:
        self._schema = schema
        self._known_namespaces = frozenset(schema.prefixes.values())
        self._continue = error_option is ErrorOption.CONTINUE_ON_ERROR
        self.errors: list[RPCError] = []
        self.log = ChangeLog()
        self._indexes: dict[tuple[Element, SchemaNode], dict[EntryKey, Element]] = {}
        self._tags: dict[SchemaNode, str] = {}
        self._key_tags: dict[SchemaNode, tuple[str, ...]] = {}
        self._conflicts: dict[SchemaNode, tuple[SchemaNode, ...]] = {}
        self._split_cache: dict[str, tuple[str, str]] = {}

    # ------------------------------------------------------------------ walking
    def children(
        self,
        edit_parent: Element,
        data_parent: Element,
        schema_parent: SchemaNode | None,
        op: EditOperation,
        *,
        quiet: bool,
        path: str,
        nss: Namespaces,
        replacing: bool = False,
        root: bool = False,
        keys: tuple[str, ...] = (),
    ) -> None:
        """Apply every child of ``edit_parent`` to ``data_parent`` with inherited ``op``.

        ``quiet`` is set below a node this edit created (its own Change covers them);
        ``replacing`` below a ``replace`` of an existing node; ``keys`` are the key tags
        of the list entry being edited (skipped: they identified it).
        """
        text = edit_parent.text
        if text and not text.isspace():
            raise self._text_error(edit_parent, path, nss)
        if replacing:
            self._delete_unmentioned(edit_parent, data_parent, schema_parent, quiet, path, nss)
        ordered: dict[SchemaNode, list[_Placed]] = {}
        for child in edit_parent:
            tail = child.tail
            try:
                if tail and not tail.isspace():
                    raise self._text_error(edit_parent, path, nss)
                if not isinstance(child.tag, str):
                    continue  # comment or processing instruction
                placed = self.node(
                    child, data_parent, schema_parent, op, quiet, path, nss, root, keys
                )
            except RPCError as error:
                if not self._continue:
                    raise
                self.errors.append(error)
                continue
            if replacing and placed is not None:
                ordered.setdefault(placed.schema, []).append(placed)
        for snode, entries in ordered.items():
            if not any(p.positioned for p in entries):
                self._reorder(data_parent, snode, entries, quiet, path, nss)

    def node(
        self,
        edit: Element,
        data_parent: Element,
        schema_parent: SchemaNode | None,
        inherited: EditOperation,
        quiet: bool,
        parent_path: str,
        parent_nss: Namespaces,
        root: bool,
        keys: tuple[str, ...],
    ) -> _Placed | None:
        """Apply one edit element; returns the entry placed, for ``replace`` ordering."""
        tag = str(edit.tag)
        snode = self._resolve(edit, tag, schema_parent, parent_path, parent_nss)
        prefix, nss = _bind(parent_nss, snode)
        base = f"{parent_path}/{prefix}:{snode.name}"
        if not snode.config:
            raise InvalidValueError(
                f"{snode.name} is a state node (config false); it cannot be edited.",
                path=base, info={"bad-element": snode.name}, path_namespaces=nss,
            )
        if tag in keys:
            self._check_key_operation(edit, snode, inherited, base, nss)
            return None
        if edit.keys():
            self._check_attributes(edit, snode, base, nss)
        kind = snode.kind
        key: EntryKey = ""
        key_elements: list[Element] = []
        if kind is NodeKind.LIST:
            key, texts, key_elements = self._edit_key(edit, snode, base, nss)
            path = base + "".join(
                f"[{prefix}:{name}={quote_literal(text)}]"
                for name, text in zip(snode.keys, texts, strict=True)
            )
        elif kind is NodeKind.LEAF_LIST:
            key = _value_key(edit.text, edit)
            path = f"{base}[.={quote_literal(edit.text or '')}]"
        else:
            path = base
        op = self._operation(edit, snode, inherited, path, nss, root)

        index: dict[EntryKey, Element] | None = None
        if kind in _ENTRIES:
            index = self._index(data_parent, snode)
            existing = index.get(key)
        else:
            existing = next(data_parent.iterchildren(tag), None)

        if op in _REMOVING:
            self._check_removed_subtree(edit, snode, op, path, nss)
            if existing is None:
                if op is EditOperation.DELETE:
                    raise DataMissingError(
                        f"{snode.name} cannot be deleted: it does not exist.",
                        path=path, path_namespaces=nss,
                    )
                return None
            self._delete(data_parent, existing, snode, path, nss, quiet, key)
            return None
        if op is EditOperation.NONE:
            if existing is None:
                raise DataMissingError(
                    f"{snode.name} does not exist, and default-operation none does not "
                    "create it; give the element an operation to create it.",
                    path=path, path_namespaces=nss,
                )
            if kind in (NodeKind.CONTAINER, NodeKind.LIST):
                self.children(
                    edit, existing, snode, op, quiet=quiet or self.log.created(existing),
                    path=path, nss=nss, keys=self._key_tags_of(snode),
                )
                self._prune_if_empty(data_parent, existing, snode)
            return None

        insert = None
        if index is not None and snode.ordered_by_user:
            insert = self._insert(edit, snode, index, path, nss)
        if existing is None:
            element = self._create(
                edit, data_parent, snode, op, quiet, path, nss, parent_path, parent_nss,
                key_elements,
            )
            if element is None:
                return None
            if index is not None:
                index[key] = element
                if insert is not None:
                    _place(element, data_parent, self._tag(snode), *insert)
                if snode.ordered_by_user:
                    return _Placed(snode, element, True, insert is not None)
            return None
        if op is EditOperation.CREATE:
            raise DataExistsError(
                f"{snode.name} cannot be created: it already exists.",
                path=path, path_namespaces=nss,
            )
        # merge or replace over an existing node
        if kind in _VALUES:
            self._set_value(edit, existing, data_parent, snode, quiet, path, nss)
            return None
        if kind is not NodeKind.LEAF_LIST:
            self.children(
                edit, existing, snode, op, quiet=quiet or self.log.created(existing),
                path=path, nss=nss, replacing=op is EditOperation.REPLACE,
                keys=self._key_tags_of(snode),
            )
            if self._prune_if_empty(data_parent, existing, snode):
                return None
        if not snode.ordered_by_user:
            return None
        if insert is not None and _place(existing, data_parent, self._tag(snode), *insert):
            self._record_move(existing, snode, quiet, path, nss)
        return _Placed(snode, existing, False, insert is not None)

    # ---------------------------------------------------------------- mutations
    def _create(
        self,
        edit: Element,
        data_parent: Element,
        snode: SchemaNode,
        op: EditOperation,
        quiet: bool,
        path: str,
        nss: Namespaces,
        parent_path: str,
        parent_nss: Namespaces,
        key_elements: list[Element],
    ) -> Element | None:
        """Create the node ``edit`` describes; None for a container left empty."""
        if snode.choices:
            self._delete_other_cases(data_parent, snode, quiet, parent_path, parent_nss)
        kind = snode.kind
        if kind in (NodeKind.LEAF, NodeKind.LEAF_LIST):
            self._check_leaf_content(edit, snode, path, nss)
            element = self._new_leaf(edit, data_parent, snode)
        elif kind in (NodeKind.ANYXML, NodeKind.ANYDATA):
            element = _new_any(edit, data_parent)
        else:
            namespace = snode.namespace
            if self._default_namespace(data_parent) == namespace:
                element = etree.SubElement(data_parent, self._tag(snode))
            else:
                element = etree.SubElement(data_parent, self._tag(snode), nsmap={None: namespace})
            key_tags = self._key_tags_of(snode)
            for key_edit in key_elements:
                key_node = snode.children[self._split(str(key_edit.tag))]
                self._new_leaf(key_edit, element, key_node)
            self.children(
                edit, element, snode, op, quiet=True, path=path, nss=nss, keys=key_tags
            )
            if self._prune_if_empty(data_parent, element, snode):
                return None
        if not quiet:
            self.log.create(Change(ChangeOp.CREATE, path, nss, snode, None, element))
        return element

    def _set_value(
        self,
        edit: Element,
        existing: Element,
        data_parent: Element,
        snode: SchemaNode,
        quiet: bool,
        path: str,
        nss: Namespaces,
    ) -> None:
        """Merge / replace of a leaf or anydata that exists: a REPLACE if it differs."""
        if snode.kind is NodeKind.LEAF:
            self._check_leaf_content(edit, snode, path, nss)
            if _value_key(edit.text, edit) == _value_key(existing.text, existing):
                return
            new = self._new_leaf(edit, data_parent, snode)
        else:
            if _any_content(edit) == _any_content(existing):
                return
            new = _new_any(edit, data_parent)
        data_parent.replace(existing, new)
        if not quiet:
            self.log.replace(Change(ChangeOp.REPLACE, path, nss, snode, existing, new))

    def _delete(
        self,
        data_parent: Element,
        element: Element,
        snode: SchemaNode,
        path: str,
        nss: Namespaces,
        quiet: bool,
        key: EntryKey | None = None,
    ) -> None:
        data_parent.remove(element)
        if snode.kind in _ENTRIES:
            index = self._indexes.get((data_parent, snode))
            if index is not None:
                if key is None:
                    key = self._stored_key(element, snode)
                if index.get(key) is element:
                    del index[key]
        if quiet:
            self.log.discard(element)
        else:
            self.log.delete(Change(ChangeOp.DELETE, path, nss, snode, element, None))

    def _delete_other_cases(
        self,
        data_parent: Element,
        snode: SchemaNode,
        quiet: bool,
        parent_path: str,
        parent_nss: Namespaces,
    ) -> None:
        """RFC 7950 sec. 7.9.1: creating a node of a case deletes the other cases."""
        for other in self._conflicting(snode):
            for element in list(data_parent.iterchildren(self._tag(other))):
                path, nss = self._path_of(element, other, parent_path, parent_nss)
                self._delete(data_parent, element, other, path, nss, quiet)

    def _delete_unmentioned(
        self,
        edit_parent: Element,
        data_parent: Element,
        schema_parent: SchemaNode | None,
        quiet: bool,
        path: str,
        nss: Namespaces,
    ) -> None:
        """First half of ``replace``: delete the children the edit does not mention."""
        singles: set[str] = set()
        entries: dict[SchemaNode, set[EntryKey]] = {}
        for child in edit_parent:
            if not isinstance(child.tag, str):
                continue
            snode = self._lookup(schema_parent, child.tag)
            if snode is None:
                continue  # reported when the element is processed
            if snode.kind is NodeKind.LIST:
                entry_key = self._stored_key(child, snode)
                if None not in entry_key:
                    entries.setdefault(snode, set()).add(entry_key)
            elif snode.kind is NodeKind.LEAF_LIST:
                entries.setdefault(snode, set()).add(_value_key(child.text, child))
            else:
                singles.add(child.tag)
        for element in list(data_parent):
            if not isinstance(element.tag, str):
                continue
            snode = self._lookup(schema_parent, element.tag)
            if snode is None:
                continue
            key: EntryKey | None = None
            if snode.kind is NodeKind.LIST:
                key = self._stored_key(element, snode)
                if key in entries.get(snode, ()):
                    continue
            elif snode.kind is NodeKind.LEAF_LIST:
                key = _value_key(element.text, element)
                if key in entries.get(snode, ()):
                    continue
            elif element.tag in singles:
                continue
            element_path, element_nss = self._path_of(element, snode, path, nss)
            self._delete(data_parent, element, snode, element_path, element_nss, quiet, key)

    def _reorder(
        self,
        data_parent: Element,
        snode: SchemaNode,
        placed: list[_Placed],
        quiet: bool,
        parent_path: str,
        parent_nss: Namespaces,
    ) -> None:
        """Second half of ``replace`` for an ``ordered-by user`` list: the edit's order.

        Entries forming the longest run already in the right relative order stay; the
        others are moved, so the MOVE changes are as few as possible.
        """
        tag = self._tag(snode)
        wanted: list[_Placed] = []
        seen: set[Element] = set()
        for entry in placed:
            if entry.element not in seen and entry.element.getparent() is data_parent:
                seen.add(entry.element)
                wanted.append(entry)
        position = {element: i for i, element in enumerate(data_parent.iterchildren(tag))}
        keep = _longest_increasing(
            [p.element for p in wanted if not p.created], position.__getitem__
        )
        previous: Element | None = None
        for entry in wanted:
            element = entry.element
            if element not in keep:
                mode = "first" if previous is None else "after"
                if _place(element, data_parent, tag, mode, previous) and not entry.created:
                    path, nss = self._path_of(element, snode, parent_path, parent_nss)
                    self._record_move(element, snode, quiet, path, nss)
            previous = element

    def _record_move(
        self, element: Element, snode: SchemaNode, quiet: bool, path: str, nss: Namespaces
    ) -> None:
        if not quiet:
            self.log.move(Change(ChangeOp.MOVE, path, nss, snode, None, element))

    def _prune_if_empty(self, data_parent: Element, element: Element, snode: SchemaNode) -> bool:
        """Remove a non-presence container left without children (no Change)."""
        if snode.kind is not NodeKind.CONTAINER or snode.presence or len(element):
            return False
        data_parent.remove(element)
        self.log.discard(element)
        return True

    def _new_leaf(self, edit: Element, data_parent: Element, snode: SchemaNode) -> Element:
        """A leaf or leaf-list entry under ``data_parent`` with the value of ``edit``.

        The stored element declares the prefixes its value uses and, if needed, the
        default namespace in effect on ``edit`` (an unprefixed identityref refers to
        it, RFC 7950 sec. 9.10.3).
        """
        text = edit.text
        nsmap: dict[str | None, str] = {}
        wanted = snode.namespace if edit.prefix is None else edit.nsmap.get(None)
        if wanted is not None and wanted != self._default_namespace(data_parent):
            nsmap[None] = wanted
        if text and ":" in text:
            edit_nsmap = edit.nsmap
            for prefix in _PREFIXED.findall(text):
                uri = edit_nsmap.get(prefix)
                if uri is not None:
                    nsmap[prefix] = uri
        if nsmap:
            element = etree.SubElement(data_parent, self._tag(snode), nsmap=nsmap)
        else:
            element = etree.SubElement(data_parent, self._tag(snode))
        if text is not None:
            element.text = text
        return element

    # ------------------------------------------------------------------ checks
    def _resolve(
        self,
        edit: Element,
        tag: str,
        schema_parent: SchemaNode | None,
        parent_path: str,
        parent_nss: Namespaces,
    ) -> SchemaNode:
        snode = self._lookup(schema_parent, tag)
        if snode is not None:
            return snode
        namespace, name = self._split(tag)
        where = f"under {schema_parent.name}" if schema_parent else "at the top level"
        if namespace and namespace not in self._known_namespaces:
            raise UnknownNamespaceError(
                f"{name} is in namespace {namespace}, which no implemented module defines.",
                type_=ErrorType.APPLICATION,
                path=parent_path or None,
                info={"bad-element": name, "bad-namespace": namespace},
                path_namespaces=parent_nss,
            )
        raise UnknownElementError(
            f"{name} is not a configuration node {where}.",
            path=parent_path or None,
            info={"bad-element": name},
            path_namespaces=parent_nss,
        )

    def _operation(
        self,
        edit: Element,
        snode: SchemaNode,
        inherited: EditOperation,
        path: str,
        nss: Namespaces,
        root: bool,
    ) -> EditOperation:
        raw = edit.get(OPERATION_ATTR)
        if raw is None:
            return inherited
        op = _parse_operation(raw, snode, path, nss)
        if not root and inherited in _REMOVING and op not in _REMOVING:
            raise _incompatible(op, inherited, snode, path, nss)
        return op

    def _check_key_operation(
        self, edit: Element, snode: SchemaNode, inherited: EditOperation, path: str,
        nss: Namespaces,
    ) -> None:
        raw = edit.get(OPERATION_ATTR)
        if raw is None:
            return
        op = _parse_operation(raw, snode, path, nss)
        if op is not inherited and op is not EditOperation.MERGE:
            raise BadAttributeError(
                f"Key leaf {snode.name} cannot have operation '{raw}': a key identifies its "
                "list entry and changes only with the entry.",
                type_=ErrorType.PROTOCOL,
                path=path,
                info={"bad-attribute": "operation", "bad-element": snode.name},
                path_namespaces=nss,
            )

    def _check_removed_subtree(
        self, edit: Element, snode: SchemaNode, op: EditOperation, path: str, nss: Namespaces
    ) -> None:
        """Inside delete / remove: known nodes, and only delete / remove operations."""
        for child in edit:
            if not isinstance(child.tag, str):
                continue
            child_node = self._resolve(child, child.tag, snode, path, nss)
            prefix, child_nss = _bind(nss, child_node)
            child_path = f"{path}/{prefix}:{child_node.name}"
            raw = child.get(OPERATION_ATTR)
            if raw is not None:
                child_op = _parse_operation(raw, child_node, child_path, child_nss)
                if child_op not in _REMOVING:
                    raise _incompatible(child_op, op, child_node, child_path, child_nss)
            if child_node.kind in (NodeKind.CONTAINER, NodeKind.LIST):
                self._check_removed_subtree(child, child_node, op, child_path, child_nss)

    def _check_attributes(
        self, edit: Element, snode: SchemaNode, path: str, nss: Namespaces
    ) -> None:
        """Attributes of the NETCONF and YANG namespaces must be ones that apply here."""
        for name in edit.keys():
            if name.startswith(_NC_PREFIX):
                if name == OPERATION_ATTR:
                    continue
                error_type = ErrorType.PROTOCOL
            elif name.startswith(_YANG_PREFIX):
                if snode.ordered_by_user and (
                    name == INSERT_ATTR
                    or (name == KEY_ATTR and snode.kind is NodeKind.LIST)
                    or (name == VALUE_ATTR and snode.kind is NodeKind.LEAF_LIST)
                ):
                    continue
                error_type = ErrorType.APPLICATION
            else:
                continue  # other namespaces' attributes are not edit instructions
            local = name.rpartition("}")[2]
            raise UnknownAttributeError(
                f"Attribute {local} is not allowed on {snode.name}"
                + (" (it is not ordered-by user)." if error_type is ErrorType.APPLICATION
                   else "."),
                type_=error_type,
                path=path,
                info={"bad-attribute": local, "bad-element": snode.name},
                path_namespaces=nss,
            )

    def _check_leaf_content(
        self, edit: Element, snode: SchemaNode, path: str, nss: Namespaces
    ) -> None:
        if len(edit) and any(isinstance(child.tag, str) for child in edit):
            raise BadElementError(
                f"{snode.name} is a {snode.kind.value}; it holds a value, not elements.",
                type_=ErrorType.APPLICATION,
                path=path,
                info={"bad-element": snode.name},
                path_namespaces=nss,
            )

    def _text_error(self, edit: Element, path: str, nss: Namespaces) -> BadElementError:
        name = self._split(str(edit.tag))[1]
        return BadElementError(
            f"{name} holds child elements only; it cannot contain text.",
            type_=ErrorType.APPLICATION,
            path=path or None,
            info={"bad-element": name},
            path_namespaces=nss,
        )

    def _insert(
        self,
        edit: Element,
        snode: SchemaNode,
        index: Mapping[EntryKey, Element],
        path: str,
        nss: Namespaces,
    ) -> tuple[str, Element | None] | None:
        """The position ``yang:insert`` asks for (RFC 7950 sec. 7.7.9, 7.8.6), or None."""
        mode = edit.get(INSERT_ATTR)
        if mode is None:
            return None
        info = {"bad-attribute": "insert", "bad-element": snode.name}
        if mode not in _INSERT_MODES:
            raise BadAttributeError(
                f"insert=\"{mode}\" is not one of first, last, before, after.",
                type_=ErrorType.APPLICATION, path=path, info=info, path_namespaces=nss,
            )
        if mode in ("first", "last"):
            return mode, None
        is_list = snode.kind is NodeKind.LIST
        attribute = "key" if is_list else "value"
        info["bad-attribute"] = attribute
        raw = edit.get(KEY_ATTR if is_list else VALUE_ATTR)
        if raw is None:
            raise MissingAttributeError(
                f"insert=\"{mode}\" on {snode.name} needs a yang:{attribute} attribute "
                "naming the existing entry.",
                type_=ErrorType.APPLICATION, path=path, info=info, path_namespaces=nss,
            )
        anchor_key = self._key_attribute(raw, edit, snode) if is_list else _value_key(raw, edit)
        if anchor_key is None:
            raise BadAttributeError(
                f"yang:key=\"{raw}\" is not a predicate for every key of {snode.name}.",
                type_=ErrorType.APPLICATION, path=path, info=info, path_namespaces=nss,
            )
        anchor = index.get(anchor_key)
        if anchor is None:
            raise BadAttributeError(
                f"yang:{attribute}=\"{raw}\" refers to an entry of {snode.name} that does "
                "not exist.",
                type_=ErrorType.APPLICATION, path=path, app_tag="missing-instance",
                info=info, path_namespaces=nss,
            )
        return mode, anchor

    def _key_attribute(self, raw: str, edit: Element, snode: SchemaNode) -> EntryKey | None:
        """The key of ``yang:key="[p:k='v']..."`` (RFC 7950 sec. 7.8.6), None if malformed."""
        values: dict[str, str] = {}
        end = 0
        nsmap = edit.nsmap
        for match in _PREDICATE.finditer(raw):
            if match.start() != end:
                return None
            end = match.end()
            prefix, name = match.group(1), match.group(2)
            if prefix is not None and nsmap.get(prefix) != snode.namespace:
                return None
            text = match.group(3) if match.group(3) is not None else match.group(4)
            values[name] = _resolve_prefixes(text, nsmap)
        if raw[end:].strip() or set(values) != set(snode.keys):
            return None
        return tuple(values[name] for name in snode.keys)

    # ---------------------------------------------------------------- lookups
    def _lookup(self, schema_parent: SchemaNode | None, tag: str) -> SchemaNode | None:
        qname = self._split(tag)
        if schema_parent is None:
            snode = self._schema.roots.get(qname)
        else:
            snode = schema_parent.children.get(qname)
        if snode is None or snode.kind not in _DATA_KINDS:
            return None
        return snode

    def _split(self, tag: str) -> tuple[str, str]:
        """``{namespace}name`` -> ``(namespace, name)`` (namespace ``""`` if none)."""
        found = self._split_cache.get(tag)
        if found is None:
            if tag.startswith("{"):
                namespace, _, name = tag[1:].partition("}")
                found = (namespace, name)
            else:
                found = ("", tag)
            self._split_cache[tag] = found
        return found

    def _tag(self, snode: SchemaNode) -> str:
        tag = self._tags.get(snode)
        if tag is None:
            tag = self._tags[snode] = f"{{{snode.namespace}}}{snode.name}"
        return tag

    def _key_tags_of(self, snode: SchemaNode) -> tuple[str, ...]:
        tags = self._key_tags.get(snode)
        if tags is None:
            tags = tuple(f"{{{snode.namespace}}}{name}" for name in snode.keys)
            self._key_tags[snode] = tags
        return tags

    def _default_namespace(self, element: Element) -> str | None:
        if element.prefix is None:
            return self._split(str(element.tag))[0]
        return element.nsmap.get(None)

    def _index(self, data_parent: Element, snode: SchemaNode) -> dict[EntryKey, Element]:
        """Index key -> entry of one list or leaf-list under one parent, built on first use."""
        index = self._indexes.get((data_parent, snode))
        if index is None:
            index = {}
            entries = data_parent.iterchildren(self._tag(snode))
            key_tags = self._key_tags_of(snode)
            if len(key_tags) == 1:  # the common case, inlined: this loop sees every entry
                key_tag = key_tags[0]
                for element in entries:
                    leaf = element[0] if len(element) else None
                    if leaf is None or leaf.tag != key_tag:
                        leaf = next(element.iterchildren(key_tag), None)
                    if leaf is None:
                        continue
                    text = leaf.text
                    value = (text or "") if not text or ":" not in text else _value_key(text, leaf)
                    if (value,) not in index:
                        index[(value,)] = element
            elif snode.kind is NodeKind.LIST:
                for element in entries:
                    index.setdefault(self._stored_key(element, snode), element)
            else:
                for element in entries:
                    index.setdefault(_value_key(element.text, element), element)
            self._indexes[(data_parent, snode)] = index
        return index

    def _stored_key(self, element: Element, snode: SchemaNode) -> tuple[str | None, ...]:
        """Key values of a list entry element (``None`` in place of a missing key)."""
        values: list[str | None] = []
        count = len(element)
        for i, tag in enumerate(self._key_tags_of(snode)):
            # Keys come first, in key order (RFC 7950 sec. 7.8.5): try that position.
            leaf = element[i] if i < count else None
            if leaf is None or leaf.tag != tag:
                leaf = next(element.iterchildren(tag), None)
            values.append(None if leaf is None else _value_key(leaf.text, leaf))
        return tuple(values)

    def _edit_key(
        self, edit: Element, snode: SchemaNode, path: str, nss: Namespaces
    ) -> tuple[tuple[str | None, ...], list[str], list[Element]]:
        """Key values, texts and elements of a list entry in the request."""
        values: list[str | None] = []
        texts: list[str] = []
        elements: list[Element] = []
        for tag, name in zip(self._key_tags_of(snode), snode.keys, strict=True):
            leaf = next(edit.iterchildren(tag), None)
            if leaf is None:
                raise MissingElementError(
                    f"The {snode.name} entry has no {name}; every key is needed to identify "
                    "a list entry.",
                    type_=ErrorType.APPLICATION,
                    path=path,
                    info={"bad-element": name},
                    path_namespaces=nss,
                )
            values.append(_value_key(leaf.text, leaf))
            texts.append(leaf.text or "")
            elements.append(leaf)
        return tuple(values), texts, elements

    def _path_of(
        self, element: Element, snode: SchemaNode, parent_path: str, parent_nss: Namespaces
    ) -> tuple[str, Namespaces]:
        """Instance path of a stored element of schema ``snode`` under ``parent_path``."""
        prefix, nss = _bind(parent_nss, snode)
        path = f"{parent_path}/{prefix}:{snode.name}"
        if snode.kind is NodeKind.LIST:
            for tag, name in zip(self._key_tags_of(snode), snode.keys, strict=True):
                leaf = next(element.iterchildren(tag), None)
                text = "" if leaf is None else leaf.text or ""
                path += f"[{prefix}:{name}={quote_literal(text)}]"
        elif snode.kind is NodeKind.LEAF_LIST:
            path += f"[.={quote_literal(element.text or '')}]"
        return path, nss

    def _conflicting(self, snode: SchemaNode) -> tuple[SchemaNode, ...]:
        """Sibling schema nodes in other cases of the choices ``snode`` belongs to."""
        found = self._conflicts.get(snode)
        if found is None:
            if snode.parent is not None:
                siblings: Iterable[SchemaNode] = snode.parent.children.values()
            else:
                siblings = (r for r in self._schema.roots.values() if r.module == snode.module)
            found = tuple(
                s for s in siblings
                if s is not snode
                and s.kind in _DATA_KINDS
                and _other_case(snode.choices, s.choices)
            )
            self._conflicts[snode] = found
        return found


# ---------------------------------------------------------------------- helpers
def _bind(nss: Namespaces, snode: SchemaNode) -> tuple[str, Namespaces]:
    """The prefix for ``snode`` in a path and the namespaces with it bound."""
    for prefix in (snode.prefix, snode.module):
        bound = nss.get(prefix)
        if bound == snode.namespace:
            return prefix, nss
        if bound is None:
            return prefix, {**nss, prefix: snode.namespace}
    return snode.module, {**nss, snode.module: snode.namespace}


def _parse_operation(raw: str, snode: SchemaNode, path: str, nss: Namespaces) -> EditOperation:
    try:
        op = EditOperation(raw)
    except ValueError:
        op = EditOperation.NONE
    if op is EditOperation.NONE:
        raise BadAttributeError(
            f"operation=\"{raw}\" on {snode.name} is not merge, replace, create, delete "
            "or remove.",
            type_=ErrorType.PROTOCOL,
            path=path,
            info={"bad-attribute": "operation", "bad-element": snode.name},
            path_namespaces=nss,
        )
    return op


def _incompatible(
    op: EditOperation, parent_op: EditOperation, snode: SchemaNode, path: str, nss: Namespaces
) -> BadAttributeError:
    return BadAttributeError(
        f"operation=\"{op.value}\" on {snode.name} contradicts the \"{parent_op.value}\" of "
        "an enclosing element: nothing can be created inside a node being deleted.",
        type_=ErrorType.PROTOCOL,
        path=path,
        info={"bad-attribute": "operation", "bad-element": snode.name},
        path_namespaces=nss,
    )


def _other_case(mine: tuple[tuple[str, str], ...], theirs: tuple[tuple[str, str], ...]) -> bool:
    """True if the two choice paths part in different cases of one choice."""
    for (choice_a, case_a), (choice_b, case_b) in zip(mine, theirs, strict=False):
        if choice_a != choice_b:
            return False
        if case_a != case_b:
            return True
    return False


def _resolve_prefixes(text: str, nsmap: Mapping[str | None, str]) -> str:
    def resolve(match: re.Match[str]) -> str:
        uri = nsmap.get(match.group(1))
        return match.group(0) if uri is None else f"{{{uri}}}"

    return _PREFIXED.sub(resolve, text)


def _value_key(text: str | None, element: Element) -> str:
    """A value as compared: text with the prefixes it uses replaced by namespaces."""
    if not text:
        return ""
    if ":" not in text:
        return text
    return _resolve_prefixes(text, element.nsmap)


def _new_any(edit: Element, data_parent: Element) -> Element:
    element = copy.deepcopy(edit)
    for name in element.keys():
        if name.startswith((_NC_PREFIX, _YANG_PREFIX)):
            del element.attrib[name]
    data_parent.append(element)
    return element


def _any_content(element: Element) -> tuple[str, bytes]:
    return element.text or "", b"".join(etree.tostring(child) for child in element)


def _place(element: Element, data_parent: Element, tag: str, mode: str,
           anchor: Element | None) -> bool:
    """Move an entry to ``mode`` (first, last, before / after ``anchor``); True if moved."""
    if mode == "first":
        first = next(data_parent.iterchildren(tag))
        if first is element:
            return False
        first.addprevious(element)
        return True
    if mode == "last":
        last = next(data_parent.iterchildren(tag, reversed=True))
        if last is element:
            return False
        last.addnext(element)
        return True
    assert anchor is not None
    if anchor is element:
        return False
    if mode == "before":
        if next(element.itersiblings(tag), None) is anchor:
            return False
        anchor.addprevious(element)
        return True
    if next(element.itersiblings(tag, preceding=True), None) is anchor:
        return False
    anchor.addnext(element)
    return True


def _longest_increasing(items: list[Element], position: Callable[[Element], int]) -> set[Element]:
    """The largest subset of ``items`` whose positions increase in list order."""
    tails: list[int] = []  # position of the last item of the best run of each length
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(items)
    for i, item in enumerate(items):
        pos = position(item)
        length = bisect_left(tails, pos)
        if length == len(tails):
            tails.append(pos)
            tail_index.append(i)
        else:
            tails[length] = pos
            tail_index[length] = i
        previous[i] = tail_index[length - 1] if length else -1
    keep: set[Element] = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        keep.add(items[i])
        i = previous[i]
    return keep

