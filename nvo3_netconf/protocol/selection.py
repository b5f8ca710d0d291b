"""What a filter selects from a data tree, and the copy of only that into a reply.

Both filter kinds of RFC 6241 (subtree, sec. 6; XPath, sec. 8.9) work in two steps: they
first decide what to return without copying anything, as a :data:`Selection`, then
:func:`copy_selection` copies exactly the selected parts into a new tree. A filter that
picks one entry of a 100,000-entry list therefore copies one entry and the elements on
the path to it, never the list.

Public names: :data:`Selection`, :data:`KeysOf`, :func:`merge_selections` and
:func:`copy_selection`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Literal, TypeAlias

from lxml import etree

Selection: TypeAlias = "Literal[True] | dict[etree._Element, Selection]"
"""The part of one data element a filter selects.

``True`` selects the element with its whole subtree. A dict selects the element itself
(tag, attributes and in-scope namespace declarations, no text) and, recursively, the
given selection of each child element it names. Keys are the children's lxml proxies:
lxml hands out one proxy per node while a reference to it is alive, so identity works as
node identity for the lifetime of the selection.
"""

KeysOf: TypeAlias = Callable[[etree._Element], "Sequence[str] | None"]
"""Schema callback: the key leaves of a list entry (RFC 7950 sec. 7.8.2).

Called with a data element that is copied partially (some of its children are not
selected). Returns the Clark-notation tags (``"{namespace}name"``) of its key leaves in
key order when the element is a list entry, and ``None`` or an empty sequence otherwise.
It must not modify the tree and must be safe to call under the datastore's read lock.
"""


def merge_selections(first: Selection | None, second: Selection) -> Selection:
    """Return the union of two selections of the same element.

    Args:
        first: an existing selection, or ``None`` for "nothing selected yet".
        second: the selection to add.

    Returns:
        The union; the arguments are not modified.
    """
    if first is None:
        return second
    if first is True or second is True:
        return True
    merged = dict(first)
    for child, child_selection in second.items():
        merged[child] = merge_selections(merged.get(child), child_selection)
    return merged


def copy_selection(
    root: etree._Element,
    selection: Selection | None,
    *,
    keys_of: KeysOf | None = None,
) -> etree._Element:
    """Copy the selected parts of ``root`` into a new, independent tree.

    The new root has the tag, attributes and in-scope namespace declarations of ``root``
    and never contains its text. Partially selected descendants keep their in-scope
    namespace declarations, so prefixes used in values (identityref, instance-identifier)
    stay resolvable. Children are emitted in document order.

    Args:
        root: the element the selection is relative to (typically the datastore's
            ``<data>`` root); it is not modified.
        selection: what to copy; ``None`` copies the bare root element only.
        keys_of: when given, the key leaves of every partially copied list entry are
            copied too, so that the entry stays identifiable (RFC 6241 sec. 6.2.5 and
            8.9.1).

    Returns:
        The root of the new tree.
    """
    if selection is True:
        return _deep_copy(root)
    attributes = root.items()
    result = etree.Element(root.tag, dict(attributes) if attributes else None, root.nsmap)
    if selection:
        _copy_children(result, root, selection, keys_of)
    return result


def _copy_children(
    target: etree._Element,
    source: etree._Element,
    selection: dict[etree._Element, Selection],
    keys_of: KeysOf | None,
) -> None:
    ordered = selection.items() if len(selection) == 1 else _in_document_order(source, selection)
    for child, child_selection in ordered:
        if child_selection is True:
            target.append(_deep_copy(child))
            continue
        attributes = child.items()
        shell = etree.SubElement(
            target, child.tag, dict(attributes) if attributes else None, child.nsmap
        )
        if keys_of is not None:
            child_selection = _with_keys(child, child_selection, keys_of)
        _copy_children(shell, child, child_selection, keys_of)


def _with_keys(
    entry: etree._Element,
    selection: dict[etree._Element, Selection],
    keys_of: KeysOf,
) -> dict[etree._Element, Selection]:
    keys = keys_of(entry)
    if not keys:
        return selection
    completed = dict(selection)
    for tag in keys:
        leaf = next(entry.iterchildren(tag), None)
        if leaf is not None:
            completed[leaf] = True
    return completed


def _in_document_order(
    parent: etree._Element,
    selection: dict[etree._Element, Selection],
) -> Iterator[tuple[etree._Element, Selection]]:
    # One pass over the children puts any number of selected ones in document order.
    remaining = len(selection)
    for child in parent.iterchildren(etree.Element):
        child_selection = selection.get(child)
        if child_selection is not None:
            yield child, child_selection
            remaining -= 1
            if not remaining:
                return


def _deep_copy(element: etree._Element) -> etree._Element:
    # lxml's __copy__ copies the whole subtree in C, like copy.deepcopy() without the
    # memo bookkeeping (three times faster on many small subtrees).
    duplicate: etree._Element = element.__copy__()  # type: ignore[attr-defined]
    if duplicate.tail is not None:
        duplicate.tail = None
    return duplicate
