"""The forwarding-plane backends: the interface, the all-or-nothing executor, a memory one.

A backend carries out a plan (:func:`~.model.plan`) in its forwarding plane. Backends
derive from :class:`Backend`, whose :meth:`Backend.execute` gives every backend the same
guarantee: the operations are carried out in order, and if one fails the ones already
done are undone (:func:`~.model.inverse`) before :class:`DataplaneError` is raised — the
forwarding plane is left as it was. nftables operations that follow each other are
handed over together (:meth:`Backend.apply_nft`), so that a backend can make them one
atomic transaction.

:class:`MemoryBackend` keeps the objects in a dict; it is what the unit tests run the
applier against (it can be told to fail at a given operation).

Public names: :class:`DataplaneError`, :class:`Backend`, :class:`MemoryBackend`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from nvo3_netconf.dataplane.model import KernelModel, KernelObject, Op, OpKind, inverse

__all__ = ["Backend", "DataplaneError", "MemoryBackend"]

logger = logging.getLogger(__name__)


class DataplaneError(Exception):
    """The forwarding plane could not be changed.

    Attributes:
        clean: the forwarding plane was left as it was (False: undoing failed too).
    """

    def __init__(self, message: str, *, clean: bool = True) -> None:
        super().__init__(message)
        self.clean = clean


class Backend:
    """Base of the backends: subclasses implement :meth:`apply` and :meth:`apply_nft`."""

    name = "abstract"

    def start(self) -> None:
        """Check the environment and prepare what the backend needs.

        Raises:
            DataplaneError: the forwarding plane cannot be used.
        """

    def close(self) -> None:
        """Release what :meth:`start` took (the kernel objects stay)."""

    def installed(self) -> KernelModel:
        """What the forwarding plane holds now that the agent can read back.

        On start the applier plans from this to what running asks (the objects the
        backend cannot read back are removed by :meth:`reset` first).
        """
        return KernelModel()

    def reset(self) -> None:
        """Remove the objects that :meth:`installed` does not report."""

    def check(self, ops: Sequence[Op]) -> None:
        """Refuse a plan that would fail for a reason known before touching anything.

        Raises:
            DataplaneError: the plan cannot be carried out (nothing was changed).
        """

    def apply(self, op: Op) -> None:
        """Carry out one operation on a kernel object (not an nftables one)."""
        raise NotImplementedError

    def apply_nft(self, ops: Sequence[Op]) -> None:
        """Carry out consecutive nftables operations, all or none."""
        for op in ops:
            self.apply(op)

    def execute(self, ops: Sequence[Op]) -> None:
        """Carry out ``ops`` in order, all or none.

        Raises:
            DataplaneError: an operation failed; the ones done before were undone (the
                message says so if undoing failed too).
        """
        self.check(ops)
        done: list[Op] = []
        index = 0
        while index < len(ops):
            step = [ops[index]]
            if ops[index].target.NFT:
                while index + len(step) < len(ops) and ops[index + len(step)].target.NFT:
                    step.append(ops[index + len(step)])
            try:
                if step[0].target.NFT:
                    self.apply_nft(step)
                else:
                    self.apply(step[0])
            except Exception as error:
                what = str(step[0]) if len(step) == 1 else "nftables changes"
                problems = self._undo(done)
                message = f"{what}: {_reason(error)}"
                if problems:
                    message += ("; undoing what was done before also failed ("
                                + "; ".join(problems) + ")")
                raise DataplaneError(message, clean=not problems) from error
            done.extend(step)
            index += len(step)

    def _undo(self, done: list[Op]) -> list[str]:
        problems = []
        steps = inverse(done)
        index = 0
        while index < len(steps):
            step = [steps[index]]
            if steps[index].target.NFT:
                while index + len(step) < len(steps) and steps[index + len(step)].target.NFT:
                    step.append(steps[index + len(step)])
            try:
                if step[0].target.NFT:
                    self.apply_nft(step)
                else:
                    self.apply(step[0])
            except Exception as error:  # keep undoing the rest
                logger.error("data plane: undoing %s failed: %s", step[0], error)
                problems.append(f"{step[0]}: {_reason(error)}")
            index += len(step)
        return problems


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text or type(error).__name__


class MemoryBackend(Backend):
    """A forwarding plane in memory, for tests: ``objects`` is what it holds.

    Args:
        fail: called with each operation; raising makes that operation fail.
    """

    name = "memory"

    def __init__(self, fail: Callable[[Op], None] | None = None) -> None:
        self.objects: dict[tuple[object, ...], KernelObject] = {}
        self.log: list[Op] = []
        self.fail = fail

    def installed(self) -> KernelModel:  # noqa: D102
        return KernelModel(self.objects.values())

    def apply(self, op: Op) -> None:  # noqa: D102
        if self.fail is not None:
            self.fail(op)
        key = op.target.key
        if op.kind is OpKind.CREATE:
            if key in self.objects:
                raise DataplaneError(f"{op.target.describe()} exists")
            self.objects[key] = op.target
        elif op.kind is OpKind.DELETE:
            if key not in self.objects:
                raise DataplaneError(f"{op.target.describe()} does not exist")
            del self.objects[key]
        else:
            assert op.new is not None
            self.objects[key] = op.new
        self.log.append(op)
