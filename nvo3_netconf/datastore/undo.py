"""An undo journal for in-place edits of an lxml datastore tree.

The datastore edits its committed tree in place, so that an edit costs what it
changes and not a copy of the whole tree; every structural mutation is recorded here
first, and :meth:`UndoJournal.rollback` restores the tree exactly when validation or
persistence refuses the edit (RFC 6241 sec. 7.2: a failed edit leaves the datastore
as it was). Positions are recorded as the previous sibling, an O(1) lxml lookup;
undoing in reverse order guarantees that sibling is back in place when it is needed.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

Element = etree._Element


class UndoJournal:
    """Records mutations of a tree and reverts them in reverse order."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self._undo)

    def inserted(self, element: Element) -> None:
        """``element`` was just added to the tree."""
        parent = element.getparent()
        assert parent is not None
        self._undo.append(lambda: parent.remove(element))

    def removing(self, element: Element) -> None:
        """``element`` is about to be detached from its parent."""
        self._undo.append(_reinsert(element))

    def moving(self, element: Element) -> None:
        """``element`` is about to move among its siblings."""
        restore = _reinsert(element)

        def undo() -> None:
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            restore()

        self._undo.append(undo)

    def replaced(self, old: Element, new: Element) -> None:
        """``old`` was just replaced by ``new`` at the same place."""
        parent = new.getparent()
        assert parent is not None
        self._undo.append(lambda: parent.replace(new, old))

    def rollback(self) -> None:
        """Revert every recorded mutation, newest first, and forget them."""
        while self._undo:
            self._undo.pop()()

    def clear(self) -> None:
        """Forget the recorded mutations (the edit is kept)."""
        self._undo.clear()


def _reinsert(element: Element) -> Callable[[], None]:
    parent = element.getparent()
    assert parent is not None
    previous = element.getprevious()

    def undo() -> None:
        if previous is None:
            parent.insert(0, element)
        else:
            previous.addnext(element)

    return undo
