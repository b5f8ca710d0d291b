"""The edit-config engine: RFC 6241 sec. 7.2 applied to an lxml datastore tree, sans I/O.

:func:`apply_edit` applies the ``<config>`` of an ``<edit-config>`` to a datastore root
(``<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">``) in place and returns the
:class:`~nvo3_netconf.datastore.changes.Change` list. It uses only the
:class:`~nvo3_netconf.schema.nodes.SchemaTree`; the caller validates the result with
libyang, then swaps it in, and discards the working copy on error (no undo log here).

Semantics (RFC 6241 sec. 7.2; RFC 7950 sec. 7.5.8, 7.6.7, 7.7.9, 7.8.6, 7.9, 7.10.3, 15.7):

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
  order of the edit (unless its entries carry ``yang:insert``: then they are placed one
  at a time as asked, RFC 7950 sec. 7.8.6). A leaf-list entry is identified by its
  value: ``replace`` on one entry concerns that entry only (RFC 7950 sec. 7.7.9), not
  the whole leaf-list.
- Inside ``delete`` / ``remove`` only ``delete`` / ``remove`` may appear; a creating
  operation there is ``bad-attribute``. ``delete`` below ``create`` or below a node
  being created is simply ``data-missing``; ``remove`` there is a no-op.
- List entries are matched by every key (``missing-element`` when one is absent,
  RFC 7950 sec. 7.8.6); a key leaf may carry no operation other than its entry's or
  ``merge``. ``yang:insert`` / ``yang:key`` / ``yang:value`` position ``ordered-by
  user`` entries (RFC 7950 sec. 7.7.9, 7.8.6); a missing anchor is ``bad-attribute``
  with error-app-tag ``missing-instance`` (sec. 15.7). New entries of other lists are
  appended in request order.
- Creating a node of one case deletes the nodes of the other cases of the same choice,
  nested choices included (RFC 7950 sec. 7.9.2); those deletions are Changes too.
- A non-presence container carries no data of its own (RFC 7950 sec. 7.5.1): one
  left without children by the edit is removed, without a Change.
- RFC 6243 ``wd:default`` attribute (``urn:ietf:params:xml:ns:netconf:default:1.0``),
  which the server must accept since it supports ``report-all-tagged``; see
  :func:`default_attribute` for the RFC text. ``"true"`` / ``"1"`` on a leaf whose
  value equals its schema default (a leaf-list entry whose value is one of the
  defaults) returns that node to its default: it is deleted if it exists, never
  created, and a ``create`` of an existing node is still ``data-exists``.
  ``"false"`` / ``"0"`` changes nothing. Where the attribute is present, the
  effective operation must be create, merge or replace. The attribute is never
  stored.
- Leaf values are stored as given, except for the prefixes they use (identityref,
  instance-identifier): a namespace in scope where the leaf is stored is written with
  the prefix bound to it there (every element that makes a namespace the default one
  binds a prefix to it too, see :func:`~nvo3_netconf.datastore.changes.bind_prefixes`),
  others are declared on the stored leaf; an unprefixed identityref keeps the default
  namespace of the request element. So the value keeps its meaning when the tree is
  serialized or an edit is undone. Values are compared with prefixes resolved.

Errors (error-type application unless marked; error-path is the node's instance path,
its parent's for unknown elements; ``bad-element`` names the node):

=================================================  ==================================
condition                                          error-tag (error-info, app-tag)
=================================================  ==================================
element not in the schema                          unknown-element
namespace of no implemented module                 unknown-namespace (bad-namespace)
``config false`` node (as libyang and Netopeer2)   invalid-value
text in a container or list, elements in a leaf,   bad-element
a key leaf given twice
list entry without one of its keys                 missing-element (bad-element = key)
operation value not merge/replace/create/delete/   bad-attribute, protocol
remove; creating operation inside delete/remove;   (bad-attribute = operation)
key leaf operation other than its entry's or merge
``nc:`` attribute other than ``operation``         unknown-attribute, protocol
``yang:insert/key/value`` where they do not apply  unknown-attribute
insert value unknown, ``yang:key`` malformed       bad-attribute
before / after without ``yang:key`` / ``value``    missing-attribute
``yang:key`` / ``value`` naming no entry           bad-attribute, ``missing-instance``
``wd:default`` not true, false, 1 or 0             bad-attribute
``wd:default`` where the effective operation is    invalid-value
delete, remove or none; ``wd:default="true"`` on
a node with no schema default (container, list,
key, leaf without default) or with another value
create of an existing node                         data-exists
delete of a missing node, ``none`` on one          data-missing
=================================================  ==================================

Cost: every list or leaf-list a request touches is indexed by key once per parent and
per edit (one scan of its instances), then kept up to date, so merging N entries is
O(N + size of the list); an edit of a single entry of a 100,000-entry list still pays
that one scan.

Public names: :func:`apply_edit`, and from :mod:`~nvo3_netconf.datastore.changes`
:class:`Change`, :class:`ChangeOp`, :class:`PartialEditError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from lxml import etree

from nvo3_netconf.constants import (
    NS_NC,
    NS_WD_ATTR,
    NS_YANG_1,
    DefaultOperation,
    EditOperation,
    ErrorOption,
    ErrorType,
)
from nvo3_netconf.datastore.changes import (
    NO_NAMESPACES,
    Change,
    ChangeLog,
    ChangeOp,
    PartialEditError,
    any_content,
    bind_prefix,
    bind_prefixes,
    copy_any,
    default_namespace,
    key_predicates,
    longest_increasing,
    other_case,
    place,
    previous_entry,
    quote_literal,
    rebase_value,
    resolve_prefixes,
    value_key,
)
from nvo3_netconf.datastore.undo import UndoJournal
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
    "DEFAULT_ATTR",
    "INSERT_ATTR",
    "KEY_ATTR",
    "OPERATION_ATTR",
    "VALUE_ATTR",
    "Change",
    "ChangeOp",
    "PartialEditError",
    "apply_edit",
    "default_attribute",
    "is_schema_default",
]

OPERATION_ATTR = f"{{{NS_NC}}}operation"
INSERT_ATTR = f"{{{NS_YANG_1}}}insert"
KEY_ATTR = f"{{{NS_YANG_1}}}key"
VALUE_ATTR = f"{{{NS_YANG_1}}}value"
DEFAULT_ATTR = f"{{{NS_WD_ATTR}}}default"
"""RFC 6243 sec. 6: the ``default`` attribute (``xs:boolean``) of report-all-tagged."""

Element = etree._Element
Namespaces = Mapping[str, str]
EntryKey = tuple[str | None, ...] | str
"""A list entry's key values or a leaf-list entry's value, prefixes resolved."""
KeyIndexes = dict[tuple[Element, SchemaNode], dict[EntryKey, Element]]
"""(parent element, list schema) -> entries by key; see ``apply_edit(indexes=...)``."""

_NC_PREFIX = f"{{{NS_NC}}}"
_YANG_PREFIX = f"{{{NS_YANG_1}}}"
_DATA_KINDS = frozenset(
    {NodeKind.CONTAINER, NodeKind.LIST, NodeKind.LEAF, NodeKind.LEAF_LIST,
     NodeKind.ANYXML, NodeKind.ANYDATA}
)
_ENTRIES = (NodeKind.LIST, NodeKind.LEAF_LIST)
_INNER = (NodeKind.CONTAINER, NodeKind.LIST)
_REMOVING = frozenset({EditOperation.DELETE, EditOperation.REMOVE})
_INSERT_MODES = ("first", "last", "before", "after")
_TAGGABLE = frozenset({EditOperation.CREATE, EditOperation.MERGE, EditOperation.REPLACE})
_XS_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


def apply_edit(
    data: Element,
    config: Element,
    schema: SchemaTree,
    *,
    default_operation: DefaultOperation = DefaultOperation.MERGE,
    error_option: ErrorOption = ErrorOption.STOP_ON_ERROR,
    journal: UndoJournal | None = None,
    indexes: KeyIndexes | None = None,
) -> list[Change]:
    """Apply an ``<edit-config>`` to a datastore tree, in place (RFC 6241 sec. 7.2).

    Args:
        data: the datastore root; it is modified even on error, so pass a working copy
            or a ``journal`` to roll back with.
        config: the request's ``<config>`` element; its children are the edit.
        schema: the schema view of the implemented modules.
        default_operation: the ``default-operation`` parameter.
        error_option: ``stop-on-error`` and ``rollback-on-error`` raise at the first
            error; ``continue-on-error`` applies what it can and raises every error
            together at the end.
        journal: records every mutation so the caller can roll the tree back.
        indexes: key indexes of the tree's lists, kept by the caller across edits of
            the same tree (an edit of one entry then costs no scan of its list); the
            caller must drop them when it rolls back or replaces the tree.

    Returns:
        The changes made, in the order they were made.

    Raises:
        RPCError: the first error (``stop-on-error``, ``rollback-on-error``).
        PartialEditError: with ``continue-on-error``, every error and the changes that
            were applied nonetheless (an ``RPCErrors``, even for a single error).
    """
    if journal is None:
        journal = UndoJournal()
    editor = _Editor(schema, error_option, journal, indexes)
    root = _At(None, "", NO_NAMESPACES, False)
    replacing = default_operation is DefaultOperation.REPLACE
    editor.children(config, data, root, EditOperation(default_operation.value), replacing)
    changes = editor.log.changes()
    if editor.errors:
        raise PartialEditError(editor.errors, changes)
    return changes


class _At(NamedTuple):
    """Where the edit is: a data node's schema, instance path, prefixes, quietness.

    ``quiet`` is true below a node this edit created: its one CREATE covers them.
    ``schema`` is None at the datastore root.
    """

    schema: SchemaNode | None
    path: str
    nss: Namespaces
    quiet: bool


class _Shape(NamedTuple):
    """A node's key tags, plain children by tag, and whether it is pruned when empty."""

    keys: tuple[str, ...]
    children: dict[str, SchemaNode]
    empty_is_pruned: bool


class _Placed(NamedTuple):
    """An ``ordered-by user`` entry a creating operation produced or met."""

    schema: SchemaNode
    element: Element
    created: bool
    positioned: bool  # it carried a yang:insert attribute


def _error(
    cls: type[RPCError], message: str, at: _At | None, element: str | None = None, *,
    type_: ErrorType = ErrorType.APPLICATION, **info: str,
) -> RPCError:
    """An ``<rpc-error>`` about the node ``at`` (error-path) and ``element`` (bad-element).

    ``info`` holds further error-info (``bad_attribute="operation"`` becomes
    ``bad-attribute``); ``app_tag`` in it becomes the error-app-tag.
    """
    app_tag = info.pop("app_tag", None)
    details = {name.replace("_", "-"): value for name, value in info.items()}
    if element is not None:
        details["bad-element"] = element
    return cls(
        message, type_=type_, path=(at.path or None) if at else None, app_tag=app_tag,
        info=details, path_namespaces=at.nss if at else None,
    )


class _Editor:
    """The state of one edit: change log, errors, lazily built indexes and caches."""

    def __init__(
        self, schema: SchemaTree, error_option: ErrorOption, journal: UndoJournal,
        indexes: KeyIndexes | None,
    ) -> None:
        self._schema = schema
        self._journal = journal
        self._known_namespaces = frozenset(schema.prefixes.values())
        self._continue = error_option is ErrorOption.CONTINUE_ON_ERROR
        self.errors: list[RPCError] = []
        self.log = ChangeLog()
        self._indexes: KeyIndexes = {} if indexes is None else indexes
        self._tags: dict[SchemaNode, str] = {}
        self._key_tags: dict[SchemaNode, tuple[str, ...]] = {}
        self._conflicts: dict[SchemaNode, tuple[SchemaNode, ...]] = {}
        self._split_cache: dict[str, tuple[str, str]] = {}
        self._shapes: dict[SchemaNode, _Shape] = {}
        self._mixed: dict[SchemaNode, bool] = {}

    # ------------------------------------------------------------------ walking
    def children(
        self, edit_parent: Element, data_parent: Element, at: _At, op: EditOperation,
        replacing: bool = False,
    ) -> None:
        """Apply every child of ``edit_parent`` to ``data_parent`` with inherited ``op``.

        ``replacing`` is set for a ``replace`` of an existing node (or of the datastore).
        """
        text = edit_parent.text
        if text and not text.isspace():
            raise self._text_error(edit_parent, at)
        if replacing:
            self._delete_unmentioned(edit_parent, data_parent, at)
        ordered: dict[SchemaNode, list[_Placed]] = {}
        for child in edit_parent:
            try:
                if child.tail and not child.tail.isspace():
                    raise self._text_error(edit_parent, at)
                if not isinstance(child.tag, str):
                    continue  # comment or processing instruction
                placed = self.node(child, data_parent, at, op)
            except RPCError as error:
                if not self._continue:
                    raise
                self.errors.append(error)
                continue
            if replacing and placed is not None and placed.schema.ordered_by_user:
                ordered.setdefault(placed.schema, []).append(placed)
        for snode, entries in ordered.items():
            if not any(p.positioned for p in entries):
                self._reorder(data_parent, snode, entries, at)

    def node(
        self, edit: Element, data_parent: Element, parent: _At, inherited: EditOperation
    ) -> _Placed | None:
        """Apply one edit element; returns the entry placed, for ``replace`` ordering."""
        tag = str(edit.tag)
        snode = self._resolve(tag, parent)
        prefix, nss = bind_prefix(parent.nss, snode)
        at = _At(snode, f"{parent.path}/{prefix}:{snode.name}", nss, parent.quiet)
        if not snode.config:
            raise _error(InvalidValueError, f"{snode.name} is a state node (config false); it "
                         "cannot be edited.", at, snode.name)
        if parent.schema is not None and tag in self._key_tags_of(parent.schema):
            self._check_key_leaf(edit, tag, inherited, at)
            return None
        kind = snode.kind
        key: EntryKey = ""
        key_elements: list[Element] = []
        if kind is NodeKind.LIST:
            key, texts, key_elements = self._edit_key(edit, at)
            path = at.path + "".join(
                f"[{prefix}:{name}={quote_literal(text)}]"
                for name, text in zip(snode.keys, texts, strict=True)
            )
            at = _At(snode, path, nss, parent.quiet)
        elif kind is NodeKind.LEAF_LIST:
            key = value_key(edit.text, edit)
            at = _At(snode, f"{at.path}[.={quote_literal(edit.text or '')}]", nss, parent.quiet)
        attributes = edit.keys()
        if attributes:
            self._check_attributes(edit, at)
        op = self._operation(edit, inherited, at, parent.schema is None)
        tagged = DEFAULT_ATTR in attributes and self._tagged(edit, op, at)
        index = self._index(data_parent, snode) if kind in _ENTRIES else None
        existing = index.get(key) if index is not None else next(
            data_parent.iterchildren(tag), None
        )

        if tagged:
            # RFC 6243 sec. 2.3.3, 4.5.2: back to the default, i.e. removed, if the
            # operation allows it (a create must still find no node).
            if existing is not None:
                if op is EditOperation.CREATE:
                    raise _error(DataExistsError, f"{snode.name} cannot be created: it "
                                 "already exists.", at)
                self._delete(data_parent, existing, at, key if index is not None else None)
            return None

        if op in _REMOVING:
            self._check_removed_subtree(edit, op, at)
            if existing is not None:
                self._delete(data_parent, existing, at, key)
            elif op is EditOperation.DELETE:
                raise _error(DataMissingError, f"{snode.name} cannot be deleted: it does not "
                             "exist.", at)
            return None
        if op is EditOperation.NONE:
            if existing is None:
                raise _error(DataMissingError, f"{snode.name} does not exist, and "
                             "default-operation none does not create it.", at)
            if kind in _INNER:
                self.children(edit, existing, self._inside(at, existing), op)
                self._prune_if_empty(data_parent, existing, snode)
            return None

        insert = self._insert(edit, index, at) if index is not None else None
        if existing is None:
            element = self._create(edit, data_parent, op, at, parent, key_elements)
            if element is None or index is None:
                return None
            index[key] = element
            if insert is not None:
                self._journal.moving(element)
                place(element, data_parent, self._tag(snode), *insert)
            return _Placed(snode, element, True, insert is not None)
        if op is EditOperation.CREATE:
            raise _error(DataExistsError, f"{snode.name} cannot be created: it already "
                         "exists.", at)
        if kind not in _ENTRIES and kind is not NodeKind.CONTAINER:
            self._set_value(edit, existing, data_parent, at)  # leaf, anydata, anyxml
            return None
        if kind is not NodeKind.LEAF_LIST:
            inner = self._inside(at, existing)
            self.children(edit, existing, inner, op, op is EditOperation.REPLACE)
            if self._prune_if_empty(data_parent, existing, snode) or index is None:
                return None
        if insert is not None:
            origin = previous_entry(existing)
            self._journal.moving(existing)
            if place(existing, data_parent, self._tag(snode), *insert):
                self._record_move(existing, at, origin)
        return _Placed(snode, existing, False, insert is not None)

    def _inside(self, at: _At, element: Element) -> _At:
        """``at`` for the children of an existing ``element``."""
        if at.quiet or not self.log.created(element):
            return at
        return _At(at.schema, at.path, at.nss, True)

    # ---------------------------------------------------------------- mutations
    def _create(
        self, edit: Element, data_parent: Element, op: EditOperation, at: _At, parent: _At,
        key_elements: list[Element],
    ) -> Element | None:
        """Create the node ``edit`` describes; None for a container left empty."""
        snode = at.schema
        assert snode is not None
        if snode.choices:
            self._delete_other_cases(data_parent, snode, parent)
        if snode.kind in (NodeKind.LEAF, NodeKind.LEAF_LIST):
            self._check_leaf_content(edit, at)
            element = self._new_leaf(edit, data_parent, snode)
        elif snode.kind in _INNER and self._plain(edit, snode):
            # Fast path: a new subtree without attributes, operations or anything the
            # node-by-node walk would treat specially is stored as one copy.
            element = _clean_copy(edit)
            data_parent.append(element)
            if (self._default_namespace(data_parent) != snode.namespace
                    or self._mixed_namespaces(snode)):
                element = bind_prefixes(element, self._prefix_of())
            self._journal.inserted(element)
        elif snode.kind in _INNER:
            if self._default_namespace(data_parent) == snode.namespace:
                element = etree.SubElement(data_parent, self._tag(snode))
            else:
                # The namespace is bound to a prefix too, for values that name it
                # (see bind_prefixes).
                nsmap = default_namespace(snode.namespace, data_parent.nsmap, snode.prefix)
                element = etree.SubElement(data_parent, self._tag(snode), nsmap=nsmap)
            self._journal.inserted(element)
            for key_edit in key_elements:  # keys first, in key order (RFC 7950 sec. 7.8.5)
                key_node = snode.children[self._split(str(key_edit.tag))]
                self._new_leaf(key_edit, element, key_node)
            self.children(edit, element, _At(snode, at.path, at.nss, True), op)
            if self._prune_if_empty(data_parent, element, snode):
                return None
        else:
            element = copy_any(edit, data_parent)
            self._journal.inserted(element)
        if not at.quiet:
            self.log.create(Change(ChangeOp.CREATE, at.path, at.nss, snode, None, element))
        return element

    def _set_value(self, edit: Element, existing: Element, data_parent: Element, at: _At) -> None:
        """Merge or replace a leaf or anydata that exists: a REPLACE if it differs."""
        snode = at.schema
        assert snode is not None
        if snode.kind is NodeKind.LEAF:
            self._check_leaf_content(edit, at)
            if _compared(edit, snode) == _compared(existing, snode):
                return
            new = self._new_leaf(edit, data_parent, snode)
        else:
            if any_content(edit) == any_content(existing):
                return
            new = copy_any(edit, data_parent)
            self._journal.inserted(new)
        # The new element was appended; move it into the old one's place.
        self._journal.removing(new)
        data_parent.remove(new)
        data_parent.replace(existing, new)
        self._journal.replaced(existing, new)
        if not at.quiet:
            self.log.replace(Change(ChangeOp.REPLACE, at.path, at.nss, snode, existing, new))

    def _delete(
        self, data_parent: Element, element: Element, at: _At, key: EntryKey | None = None
    ) -> None:
        snode = at.schema
        assert snode is not None
        self._journal.removing(element)
        data_parent.remove(element)
        index = self._indexes.get((data_parent, snode))
        if index is not None:
            if key is None:
                key = self._entry_key(element, snode)
            if index.get(key) is element:
                del index[key]
        if at.quiet:
            self.log.discard(element)
        else:
            self.log.delete(Change(ChangeOp.DELETE, at.path, at.nss, snode, element, None))

    def _delete_other_cases(self, data_parent: Element, snode: SchemaNode, parent: _At) -> None:
        """RFC 7950 sec. 7.9.2: creating a node of a case deletes the other cases."""
        for other in self._conflicting(snode):
            for element in list(data_parent.iterchildren(self._tag(other))):
                self._delete(data_parent, element, self._at_stored(element, other, parent))

    def _delete_unmentioned(self, edit_parent: Element, data_parent: Element, at: _At) -> None:
        """First half of ``replace``: delete the children the edit does not mention."""
        mentioned: set[tuple[SchemaNode, EntryKey]] = set()
        for child in edit_parent:
            snode = self._lookup(at.schema, child.tag) if isinstance(child.tag, str) else None
            if snode is not None:  # unknown elements are reported when processed
                mentioned.add((snode, self._entry_key(child, snode)))
        for element in list(data_parent):
            snode = self._lookup(at.schema, element.tag) if isinstance(element.tag, str) else None
            if snode is None:
                continue
            key = self._entry_key(element, snode)
            if (snode, key) not in mentioned:
                self._delete(data_parent, element, self._at_stored(element, snode, at), key)

    def _reorder(
        self, data_parent: Element, snode: SchemaNode, placed: list[_Placed], parent: _At
    ) -> None:
        """Second half of ``replace`` for an ``ordered-by user`` list: the edit's order.

        The entries forming the longest run already in the right relative order stay;
        the others move, so the MOVE changes are as few as possible.
        """
        tag = self._tag(snode)
        wanted: dict[Element, bool] = {}  # element -> created, in edit order
        for entry in placed:
            if entry.element.getparent() is data_parent:
                wanted.setdefault(entry.element, entry.created)
        position = {element: i for i, element in enumerate(data_parent.iterchildren(tag))}
        keep = longest_increasing(
            [element for element, created in wanted.items() if not created],
            position.__getitem__,
        )
        previous: Element | None = None
        for element, created in wanted.items():
            if element not in keep:
                mode = "first" if previous is None else "after"
                origin = previous_entry(element)
                self._journal.moving(element)
                if place(element, data_parent, tag, mode, previous) and not created:
                    at = self._at_stored(element, snode, parent)
                    self._record_move(element, at, origin)
            previous = element

    def _record_move(self, element: Element, at: _At, origin: Element | None) -> None:
        if not at.quiet and at.schema is not None:
            change = Change(ChangeOp.MOVE, at.path, at.nss, at.schema, None, element)
            self.log.move(change, origin)

    def _prune_if_empty(self, data_parent: Element, element: Element, snode: SchemaNode) -> bool:
        """Remove a non-presence container left without children (no Change)."""
        # Not len(element): libxml2 counts children by walking them all.
        if snode.kind is not NodeKind.CONTAINER or snode.presence or next(
            iter(element), None
        ) is not None:
            return False
        self._journal.removing(element)
        data_parent.remove(element)
        self.log.discard(element)
        return True

    def _plain(self, edit: Element, snode: SchemaNode) -> bool:
        """True when creating ``edit`` node by node would just copy it.

        That is: no attribute anywhere, every element a known configuration node, list
        keys first and in order, no duplicate entries, no two cases of one choice, no
        value naming prefixes, no empty non-presence container, no anydata, and no
        text where a container or list holds only elements. This walk runs for every
        element of a bulk edit, so it works on precomputed per-schema-node tables.
        """
        if edit.attrib or (edit.text and not edit.text.isspace()):
            return False
        shape = self._shape(snode)
        if shape.empty_is_pruned and not len(edit):
            return False
        keys = shape.keys
        children = shape.children
        seen: set[object] = set()
        cases: dict[str, str] | None = None
        position = 0
        nkeys = len(keys)
        for child in edit:
            tag = child.tag
            tail = child.tail
            if tail and not tail.isspace():
                return False
            if position < nkeys:
                if tag != keys[position] or len(child) or child.attrib:
                    return False
                seen.add(tag)  # a key given twice is no plain copy: the walk refuses it
                position += 1
                continue
            node = children.get(tag)  # type: ignore[arg-type]  # a comment's tag: finds nothing
            if node is None:
                return False
            if node.choices:
                cases = cases if cases is not None else {}
                for choice, case in node.choices:
                    if cases.setdefault(choice, case) != case:
                        return False
            kind = node.kind
            if kind is NodeKind.LEAF:
                if len(child) or child.attrib:
                    return False
                identity: object = tag
            elif kind is NodeKind.LEAF_LIST:
                if len(child) or child.attrib:
                    return False
                identity = (tag, child.text)
            else:
                if not self._plain(child, node):
                    return False
                if kind is NodeKind.LIST:
                    identity = (tag, *(child[i].text for i in range(len(node.keys))))
                else:
                    identity = tag
            if identity in seen:
                return False
            seen.add(identity)
        return position == nkeys

    def _shape(self, snode: SchemaNode) -> _Shape:
        """What :meth:`_plain` needs to know of a node, computed once per edit."""
        shape = self._shapes.get(snode)
        if shape is None:
            keys = self._key_tags_of(snode) if snode.kind is NodeKind.LIST else ()
            children = {
                self._tag(child): child
                for child in snode.children.values()
                if child.config and child.kind in _PLAIN_KINDS and not child.prefixed_value
            }
            pruned = snode.kind is NodeKind.CONTAINER and not snode.presence
            shape = self._shapes[snode] = _Shape(keys, children, pruned)
        return shape

    def _new_leaf(self, edit: Element, data_parent: Element, snode: SchemaNode) -> Element:
        """A leaf or leaf-list entry under ``data_parent`` with the value of ``edit``.

        The stored element declares the prefixes its value uses and, if needed, the
        default namespace in effect on ``edit`` (an unprefixed identityref refers to
        it, RFC 7950 sec. 9.10.3).
        """
        text = edit.text
        nsmap: dict[str | None, str] = {}
        if snode.namespace != self._default_namespace(data_parent):
            nsmap[None] = snode.namespace
        if snode.prefixed_value and text:
            used = dict(edit.nsmap)
            if ":" not in text and used.get(None) is not None:
                # An unprefixed identityref names the request's default namespace.
                text = f"{_DEFAULT_MARK}:{text}"
                used[_DEFAULT_MARK] = used[None]
            scope = dict(data_parent.nsmap)
            scope.update(nsmap)
            text, declarations = rebase_value(
                text, {p: u for p, u in used.items() if p is not None}, scope,
                path_value=snode.path_value,
            )
            nsmap.update(declarations)
        if nsmap:
            element = etree.SubElement(data_parent, self._tag(snode), nsmap=nsmap)
        else:
            element = etree.SubElement(data_parent, self._tag(snode))
        self._journal.inserted(element)
        if text is not None:
            element.text = text
        return element

    # ------------------------------------------------------------------ checks
    def _resolve(self, tag: str, parent: _At) -> SchemaNode:
        snode = self._lookup(parent.schema, tag)
        if snode is not None:
            return snode
        namespace, name = self._split(tag)
        if namespace and namespace not in self._known_namespaces:
            raise _error(UnknownNamespaceError, f"{name} is in namespace {namespace}, which no "
                         "implemented module defines.", parent, name, bad_namespace=namespace)
        where = f"under {parent.schema.name}" if parent.schema else "at the top level"
        raise _error(UnknownElementError, f"{name} is not a configuration node {where}.",
                     parent, name)

    def _operation(
        self, edit: Element, inherited: EditOperation, at: _At, top_level: bool
    ) -> EditOperation:
        raw = edit.get(OPERATION_ATTR)
        if raw is None:
            return inherited
        op = _parse_operation(raw, at)
        if not top_level and inherited in _REMOVING and op not in _REMOVING:
            raise _incompatible(op, inherited, at)
        return op

    def _check_key_leaf(
        self, edit: Element, tag: str, inherited: EditOperation, at: _At
    ) -> None:
        """A key leaf identified its entry; it cannot be changed (RFC 7950 sec. 7.8.6)."""
        name = at.schema.name if at.schema else ""
        entry = edit.getparent()
        if entry is not None and next(entry.iterchildren(tag)) is not edit:
            raise _error(BadElementError, f"Key leaf {name} appears twice in one entry; a key "
                         "identifies its entry and cannot be changed.", at, name)
        raw = edit.get(OPERATION_ATTR)
        op = inherited if raw is None else _parse_operation(raw, at)
        if op not in (inherited, EditOperation.MERGE):
            raise _error(BadAttributeError, f"Key leaf {name} cannot have operation \"{raw}\": "
                         "a key identifies its list entry and changes only with the entry.",
                         at, name, type_=ErrorType.PROTOCOL, bad_attribute="operation")
        if DEFAULT_ATTR in edit.attrib:
            self._tagged(edit, op, at)  # a key has no default: "true" is refused

    def _check_removed_subtree(self, edit: Element, op: EditOperation, at: _At) -> None:
        """Inside delete / remove: known nodes, and only delete / remove operations."""
        for child in edit:
            if not isinstance(child.tag, str):
                continue
            snode = self._resolve(child.tag, at)
            prefix, nss = bind_prefix(at.nss, snode)
            child_at = _At(snode, f"{at.path}/{prefix}:{snode.name}", nss, at.quiet)
            raw = child.get(OPERATION_ATTR)
            child_op = op if raw is None else _parse_operation(raw, child_at)
            if child_op not in _REMOVING:
                raise _incompatible(child_op, op, child_at)
            if DEFAULT_ATTR in child.attrib:
                self._tagged(child, child_op, child_at)  # refused: the operation removes
            if snode.kind in _INNER:
                self._check_removed_subtree(child, op, child_at)

    def _tagged(self, edit: Element, op: EditOperation, at: _At) -> bool:
        """Whether ``edit`` carries ``wd:default="true"`` (or ``"1"``), checked.

        RFC 6243 sec. 4.5.2: "If the 'default' attribute is present, then the effective
        operation for the target data node MUST be 'create', 'merge', or 'replace'. If
        not, then the server MUST return an <rpc-error> response with an
        'invalid-value' error-tag." A true value needs a node whose value equals its
        schema default (see :func:`default_attribute`).

        Raises:
            RPCError: bad-attribute for a value that is no ``xs:boolean``;
                invalid-value as the RFC says.
        """
        snode = at.schema
        assert snode is not None
        name = snode.name
        raw = edit.get(DEFAULT_ATTR, "")
        value = default_attribute(raw)
        if value is None:
            raise _error(BadAttributeError, f"default=\"{raw}\" on {name} is not true, false, "
                         "1 or 0 (RFC 6243 sec. 6).", at, name, bad_attribute="default")
        if op not in _TAGGABLE:
            raise _error(InvalidValueError, f"The default attribute is not allowed on {name} "
                         f"where the operation is {op.value} (RFC 6243 sec. 4.5.2: only "
                         "create, merge or replace).", at, name)
        if not value:
            return False
        if snode.kind in (NodeKind.LEAF, NodeKind.LEAF_LIST):
            self._check_leaf_content(edit, at)
        problem = not_default(edit, snode, "4.5.2")
        if problem is not None:
            raise _error(InvalidValueError, problem, at, name)
        return True

    def _check_attributes(self, edit: Element, at: _At) -> None:
        """Attributes of the NETCONF and YANG namespaces must be ones that apply here."""
        snode = at.schema
        assert snode is not None
        allowed = {OPERATION_ATTR}
        if snode.ordered_by_user:
            allowed.update((INSERT_ATTR, KEY_ATTR if snode.kind is NodeKind.LIST else VALUE_ATTR))
        for name in edit.keys():
            if name in allowed or not name.startswith((_NC_PREFIX, _YANG_PREFIX)):
                continue  # attributes of other namespaces are not edit instructions
            local = name.rpartition("}")[2]
            in_nc = name.startswith(_NC_PREFIX)
            reason = "" if in_nc else " (only ordered-by user entries are positioned)"
            raise _error(UnknownAttributeError, f"Attribute {local} is not allowed on "
                         f"{snode.name}{reason}.", at, snode.name,
                         type_=ErrorType.PROTOCOL if in_nc else ErrorType.APPLICATION,
                         bad_attribute=local)

    def _check_leaf_content(self, edit: Element, at: _At) -> None:
        if len(edit) and any(isinstance(child.tag, str) for child in edit):
            snode = at.schema
            assert snode is not None
            raise _error(BadElementError, f"{snode.name} is a {snode.kind.value}; it holds a "
                         "value, not elements.", at, snode.name)

    def _text_error(self, edit: Element, at: _At) -> RPCError:
        name = self._split(str(edit.tag))[1]
        return _error(BadElementError, f"{name} holds elements only; it cannot contain text.",
                      at, name)

    def _insert(
        self, edit: Element, index: Mapping[EntryKey, Element], at: _At
    ) -> tuple[str, Element | None] | None:
        """The position ``yang:insert`` asks for (RFC 7950 sec. 7.7.9, 7.8.6), or None."""
        mode = edit.get(INSERT_ATTR)
        snode = at.schema
        if mode is None or snode is None:
            return None
        name = snode.name
        if mode not in _INSERT_MODES:
            raise _error(BadAttributeError, f"insert=\"{mode}\" is not first, last, before "
                         "or after.", at, name, bad_attribute="insert")
        if mode in ("first", "last"):
            return mode, None
        is_list = snode.kind is NodeKind.LIST
        attribute = "key" if is_list else "value"
        raw = edit.get(KEY_ATTR if is_list else VALUE_ATTR)
        if raw is None:
            raise _error(MissingAttributeError, f"insert=\"{mode}\" on {name} needs a "
                         f"yang:{attribute} attribute naming an existing entry.", at, name,
                         bad_attribute=attribute)
        anchor_key = key_predicates(raw, edit.nsmap, snode) if is_list else value_key(raw, edit)
        if anchor_key is None:
            raise _error(BadAttributeError, f"yang:key=\"{raw}\" is not a predicate for every "
                         f"key of {name}.", at, name, bad_attribute=attribute)
        anchor = index.get(anchor_key)
        if anchor is None:
            raise _error(BadAttributeError, f"yang:{attribute}=\"{raw}\" refers to an entry of "
                         f"{name} that does not exist.", at, name, bad_attribute=attribute,
                         app_tag="missing-instance")
        return mode, anchor

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
            namespace, _, name = tag[1:].partition("}") if tag[:1] == "{" else ("", "", tag)
            found = self._split_cache[tag] = (namespace, name)
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

    def _prefix_of(self) -> dict[str, str]:
        """Namespace -> prefix of the implemented modules."""
        return {namespace: prefix for prefix, namespace in self._schema.prefixes.items()}

    def _mixed_namespaces(self, snode: SchemaNode) -> bool:
        """Whether ``snode``'s subtree holds nodes of another namespace (augments)."""
        mixed = self._mixed.get(snode)
        if mixed is None:
            mixed = any(child.namespace != snode.namespace or self._mixed_namespaces(child)
                        for child in snode.children.values())
            self._mixed[snode] = mixed
        return mixed

    def _default_namespace(self, element: Element) -> str | None:
        if element.prefix is None:
            return self._split(str(element.tag))[0]
        return element.nsmap.get(None)

    def _index(self, data_parent: Element, snode: SchemaNode) -> dict[EntryKey, Element]:
        """Entries of one list or leaf-list under one parent by key, built on first use."""
        return entries_by_key(self._indexes, data_parent, snode)

    def _entry_key(self, element: Element, snode: SchemaNode) -> EntryKey:
        """Identity of an element among its siblings: key values, value, or ``""``."""
        if snode.kind is NodeKind.LEAF_LIST:
            return value_key(element.text, element)
        if snode.kind is not NodeKind.LIST:
            return ""
        values: list[str | None] = []
        count = len(element)
        for i, tag in enumerate(self._key_tags_of(snode)):
            # Keys come first, in key order (RFC 7950 sec. 7.8.5): try that position.
            leaf = element[i] if i < count else None
            if leaf is None or leaf.tag != tag:
                leaf = next(element.iterchildren(tag), None)
            values.append(None if leaf is None else value_key(leaf.text, leaf))
        return tuple(values)

    def _edit_key(self, edit: Element, at: _At) -> tuple[EntryKey, list[str], list[Element]]:
        """Key values, texts and elements of a list entry in the request."""
        snode = at.schema
        assert snode is not None
        values: list[str | None] = []
        texts: list[str] = []
        elements: list[Element] = []
        for tag, name in zip(self._key_tags_of(snode), snode.keys, strict=True):
            leaf = next(edit.iterchildren(tag), None)
            if leaf is None:
                raise _error(MissingElementError, f"The {snode.name} entry has no {name}; "
                             "every key is needed to identify a list entry.", at, name)
            values.append(value_key(leaf.text, leaf))
            texts.append(leaf.text or "")
            elements.append(leaf)
        return tuple(values), texts, elements

    def _at_stored(self, element: Element, snode: SchemaNode, parent: _At) -> _At:
        """Where a stored element of schema ``snode`` is, below ``parent``."""
        prefix, nss = bind_prefix(parent.nss, snode)
        path = f"{parent.path}/{prefix}:{snode.name}"
        if snode.kind is NodeKind.LIST:
            for tag, name in zip(self._key_tags_of(snode), snode.keys, strict=True):
                leaf = next(element.iterchildren(tag), None)
                text = "" if leaf is None else leaf.text or ""
                path += f"[{prefix}:{name}={quote_literal(text)}]"
        elif snode.kind is NodeKind.LEAF_LIST:
            path += f"[.={quote_literal(element.text or '')}]"
        return _At(snode, path, nss, parent.quiet)

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
                if s is not snode and s.kind in _DATA_KINDS
                and other_case(snode.choices, s.choices)
            )
            self._conflicts[snode] = found
        return found


# ---------------------------------------------------------------------- helpers
def default_attribute(raw: str | None) -> bool | None:
    """The value of an RFC 6243 ``default`` attribute: True, False, or None if invalid.

    RFC 6243 sec. 6: "The 'default' attribute uses the XSD data type 'boolean'. [...]
    the allowable lexical representations for the xs:boolean datatype are the strings
    "0" and "false" for the concept of false and the strings "1" and "true" for the
    concept of true. Implementations MUST support both styles of lexical
    representation." (xs:boolean collapses white space, so it is ignored.)

    What a true value asks for in configuration input (sec. 2.3.3, the server's
    explicit basic mode): "If the server supports the 'report-all-tagged' retrieval
    mode in its :with-defaults capability, then the 'default' attribute MUST be
    accepted in configuration input. If all NETCONF <edit-config> or <copy-config>
    parameters are valid, then the server will treat a tagged data node (i.e., the
    'default' attribute set to 'true' or '1') as a request to return that node to
    default data. If this request is valid within the context of the requested
    NETCONF operation, then the data node is removed and returned to its default
    value. The data node within the NETCONF message MUST contain a value in this
    case, which MUST be equal to the schema default value. If not, the server MUST
    return an <rpc-error> response with an 'invalid-value' error-tag." Sec. 4.5.1
    (<copy-config>) and 4.5.2 (<edit-config>) say the same: "treat the new data node
    as a request to return that node to its default value (i.e., remove it from the
    configuration datastore)"; sec. 4.5.2 adds the effective-operation rule quoted in
    ``_Editor._tagged``. A false value states that the node is not default data: it
    is configured as usual.
    """
    if raw is None:
        return None
    return _XS_BOOLEAN.get(raw.strip())


def not_default(element: Element, snode: SchemaNode, section: str) -> str | None:
    """Why ``wd:default="true"`` cannot return ``element`` to its default, or None.

    RFC 6243 (``section``: 4.5.1 for copy-config, 4.5.2 for edit-config): the node
    must hold a value equal to its schema default; a node without one never can.
    """
    if not snode.defaults or snode.is_key or snode.kind not in (
        NodeKind.LEAF, NodeKind.LEAF_LIST
    ):
        return (f"{snode.name} has no schema default value; default=\"true\" cannot "
                "return it to its default.")
    if len(element) or not is_schema_default(element, snode):
        wanted = " or ".join(repr(d) for d in snode.defaults)
        return (f"{snode.name} is tagged default=\"true\" but its value "
                f"{(element.text or '')!r} is not the schema default {wanted} "
                f"(RFC 6243 sec. {section}).")
    return None


def is_schema_default(element: Element, snode: SchemaNode) -> bool:
    """Whether a leaf (leaf-list entry) in a request holds its (one of its) default(s).

    Values are compared as the engine compares them (text, prefixes resolved; the
    defaults are libyang's canonical values, which the report-all-tagged output
    carries). A key leaf has no default (RFC 7950 sec. 7.8.2).
    """
    if snode.kind not in (NodeKind.LEAF, NodeKind.LEAF_LIST) or not snode.defaults \
            or snode.is_key:
        return False
    value = _compared(element, snode)
    defaults = snode.defaults if snode.kind is NodeKind.LEAF_LIST else snode.defaults[:1]
    namespaces: dict[str | None, str] = {p: u for p, u in snode.default_namespaces.items()}
    return any(
        value == (resolve_prefixes(default, namespaces)
                  if snode.prefixed_value and ":" in default else default)
        for default in defaults
    )


def entries_by_key(
    indexes: KeyIndexes, data_parent: Element, snode: SchemaNode
) -> dict[EntryKey, Element]:
    """The entries of a list or leaf-list under ``data_parent`` by key (or value).

    Built with one scan on first use and kept in ``indexes``, which the edit engine
    updates as it creates and deletes entries; readers (a filter looking an entry up
    by key) may use it under the same datastore lock.
    """
    index = indexes.get((data_parent, snode))
    if index is not None:
        return index
    index = {}
    tag = f"{{{snode.namespace}}}{snode.name}"
    if snode.kind is NodeKind.LEAF_LIST:
        for element in data_parent.iterchildren(tag):
            index.setdefault(value_key(element.text, element), element)
    else:
        key_tags = tuple(f"{{{snode.namespace}}}{name}" for name in snode.keys)
        for element in data_parent.iterchildren(tag):
            values: list[str | None] = []
            count = len(element)
            for i, key_tag in enumerate(key_tags):
                # Keys come first, in key order (RFC 7950 sec. 7.8.5): try that position.
                leaf = element[i] if i < count else None
                if leaf is None or leaf.tag != key_tag:
                    leaf = next(element.iterchildren(key_tag), None)
                if leaf is None:
                    values.append(None)
                else:
                    text = leaf.text
                    values.append(text if text and ":" not in text else value_key(text, leaf))
            index.setdefault(tuple(values), element)
    indexes[(data_parent, snode)] = index
    return index


def _compared(leaf: Element, snode: SchemaNode) -> str:
    """A leaf's value as compared, prefixes resolved.

    An unprefixed identityref is resolved in the default namespace (RFC 7950 9.10.3).
    """
    text = leaf.text or ""
    if snode.prefixed_value and not snode.path_value and text and ":" not in text:
        return f"{{{leaf.nsmap.get(None, '')}}}{text}"
    return value_key(text, leaf)


_DEFAULT_MARK = "default-namespace"  # stands for the default namespace while rebasing

_PLAIN_KINDS = frozenset({NodeKind.CONTAINER, NodeKind.LIST, NodeKind.LEAF, NodeKind.LEAF_LIST})


def _clean_copy(edit: Element) -> Element:
    """A copy of a request subtree without the request's unused namespace declarations."""
    # lxml's C copy, without copy.deepcopy's memo (types-lxml does not declare it)
    element: Element = edit.__deepcopy__(None)  # type: ignore[attr-defined]  # see above
    etree.cleanup_namespaces(element)
    return element


def _parse_operation(raw: str, at: _At) -> EditOperation:
    try:
        op = EditOperation(raw)
    except ValueError:
        op = EditOperation.NONE
    if op is EditOperation.NONE:  # "none" is a default-operation, not an attribute value
        name = at.schema.name if at.schema else ""
        raise _error(BadAttributeError, f"operation=\"{raw}\" on {name} is not merge, replace, "
                     "create, delete or remove.", at, name, type_=ErrorType.PROTOCOL,
                     bad_attribute="operation")
    return op


def _incompatible(op: EditOperation, parent_op: EditOperation, at: _At) -> RPCError:
    name = at.schema.name if at.schema else ""
    return _error(BadAttributeError, f"operation=\"{op.value}\" on {name} contradicts the "
                  f"\"{parent_op.value}\" of an enclosing element: nothing can be created "
                  "inside a node being deleted.", at, name, type_=ErrorType.PROTOCOL,
                  bad_attribute="operation")
