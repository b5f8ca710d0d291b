"""The applier: between the committed datastore and the forwarding plane.

:class:`DataplaneApplier` keeps the kernel model in force (:class:`~.model.KernelModel`)
and is told of two kinds of change:

- **configuration**: the datastore calls :meth:`DataplaneApplier.prepare` with the new
  running tree and the commit's typed change list *before* it makes the change durable
  and visible (``DatastoreManager.set_applier``). The change list says which scopes
  changed (a VN's subtree, its mapping entries, an ACL, a QoS profile used by some
  ports, the underlay address: everything); only those scopes are translated again
  (:func:`~.translate.translate`), compared with what is in force (:func:`~.model.plan`)
  and carried out — so only what changed reaches the kernel. If that fails, the backend
  has already undone its part and ``prepare`` raises an ``<rpc-error>``
  (``operation-failed``): the commit fails and the forwarding plane is as it was. If the
  datastore fails afterwards (the write-ahead log could not be written), it calls
  ``abort`` and the plan is undone;
- **VM lifecycle**: the NVE service calls :meth:`DataplaneApplier.update_vm` with the
  ports a VM holds (:class:`~.model.VMPort`) whenever its state or assignments change,
  before it commits to the change; a failure becomes the signal's FAIL reply.

On start (:meth:`DataplaneApplier.start`) the kernel is reconciled with running: the
backend reports what it can read back (bridges, VXLAN devices, fdb and neighbour
entries), removes the rest (VM ports, nftables, rate limits: the VMs' state does not
survive the agent), and the difference to what running asks for is applied.

Locks: the applier's lock is the innermost of the agent (taken under the datastore's and
under the NVE service's); the applier never calls either of them.

Public names: :class:`DataplaneApplier`, :func:`changed_scopes`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence

from lxml import etree

from nvo3_netconf.constants import (
    NS_ACL,
    NS_NVO3_MAPPING,
    NS_NVO3_NVE,
    NS_NVO3_POLICY,
    NS_NVO3_VN,
    ErrorType,
)
from nvo3_netconf.dataplane.backend import Backend, DataplaneError
from nvo3_netconf.dataplane.intent import NetworkIntent, read_intent
from nvo3_netconf.dataplane.model import KernelModel, Op, Scope, VMPort, inverse, plan
from nvo3_netconf.dataplane.translate import (
    TranslationError,
    acl_scope,
    translate,
    vn_scope,
)
from nvo3_netconf.datastore.changes import Change
from nvo3_netconf.errors import OperationFailedError

__all__ = ["DataplaneApplier", "changed_scopes"]

logger = logging.getLogger(__name__)

_STEP = re.compile(r"/([\w.-]+):([\w.-]+)((?:\[[^\]]*\])*)")
_NAME_KEY = re.compile(r"""^\[[\w.-]+:name=(?:'([^']*)'|"([^"]*)")\]$""")


def changed_scopes(
    changes: Iterable[Change], ports: Iterable[VMPort]
) -> set[Scope] | None:
    """The scopes a change list touches (None: every scope).

    Args:
        changes: a commit's typed changes.
        ports: the local VMs' ports (ACL and QoS profile changes touch their VNs).
    """
    ports = list(ports)
    scopes: set[Scope] = set()
    for change in changes:
        steps = _STEP.findall(change.path)
        if not steps:
            return None
        prefix, top, _ = steps[0]
        namespace = change.namespaces.get(prefix)
        second = steps[1] if len(steps) > 1 else None
        name = _key_name(second[2]) if second is not None else None
        if namespace == NS_NVO3_NVE:
            if top != "nve" or second is None or second[1] == "underlay-address":
                return None
        elif namespace == NS_NVO3_VN and top == "vn-instances":
            if name is None:
                return None
            scopes.add(vn_scope(name))
        elif namespace == NS_NVO3_MAPPING and top == "mappings":
            if name is None:
                return None
            scopes.add(vn_scope(name))
        elif namespace == NS_ACL and top == "acls":
            if name is None:
                return None
            scopes.add(acl_scope(name))
            scopes |= {vn_scope(p.vn) for p in ports
                       if name in p.ingress_acl or name in p.egress_acl}
        elif namespace == NS_NVO3_POLICY and top == "qos-profiles":
            if name is None:
                return None
            scopes |= {vn_scope(p.vn) for p in ports if p.qos_profile == name}
    return scopes


def _key_name(predicates: str) -> str | None:
    match = _NAME_KEY.match(predicates)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


class _Prepared:
    """A configuration change carried out in the forwarding plane, not yet committed."""

    def __init__(
        self, applier: DataplaneApplier, intent: NetworkIntent, model: KernelModel,
        ops: list[Op],
    ) -> None:
        self._applier = applier
        self._intent = intent
        self._model = model
        self._ops = ops
        self._open = True

    def commit(self) -> None:
        """The datastore change is durable: keep it."""
        if self._open:
            self._open = False
            self._applier._commit(self._intent, self._model, self._ops)

    def abort(self) -> None:
        """The datastore change failed: undo the forwarding-plane change."""
        if self._open:
            self._open = False
            self._applier._abort(self._ops)


class DataplaneApplier:
    """Keeps a backend's forwarding plane equal to running plus the local VMs' ports.

    Args:
        backend: the forwarding plane.
        underlay_device: the interface VXLAN devices are bound to, if any.
    """

    def __init__(self, backend: Backend, *, underlay_device: str | None = None) -> None:
        self.backend = backend
        self._underlay_device = underlay_device
        self._lock = threading.RLock()
        self._intent = NetworkIntent()
        self._ports: dict[str, tuple[VMPort, ...]] = {}
        self._model = KernelModel()
        self._dirty = False

    @property
    def model(self) -> KernelModel:
        """The kernel objects in force."""
        with self._lock:
            return self._model

    # ----------------------------------------------------------------- start
    def start(self, running: etree._Element) -> None:
        """Reconcile the forwarding plane with ``running`` (and no VM ports).

        Raises:
            DataplaneError: the backend cannot be used, or running cannot be applied.
        """
        with self._lock:
            self.backend.start()
            intent = read_intent(running)
            self._reconcile(intent)
            logger.info("data plane (%s): %d kernel objects in force", self.backend.name,
                        len(self._model))

    def _reconcile(self, intent: NetworkIntent) -> None:
        self.backend.reset()
        installed = self.backend.installed()
        try:
            model = self._translate(intent, None)
        except TranslationError as error:
            raise DataplaneError(str(error)) from None
        self.backend.execute(plan(installed, model))
        self._intent, self._model, self._dirty = intent, model, False

    def close(self) -> None:
        """Release the backend (the kernel objects stay until the next start)."""
        with self._lock:
            self.backend.close()

    def _translate(self, intent: NetworkIntent, scopes: set[Scope] | None) -> KernelModel:
        ports = [p for vm in self._ports.values() for p in vm]
        return translate(intent, ports, underlay_device=self._underlay_device, scopes=scopes)

    # ------------------------------------------------------- configuration
    def prepare(self, running: etree._Element, changes: Sequence[Change] | None) -> _Prepared:
        """Carry a new running configuration into the forwarding plane.

        Called by the datastore before the change is made durable; it answers with
        ``commit()`` or ``abort()`` on the returned object (the applier's lock is held
        until then).

        Args:
            running: the new running tree (read now, not kept).
            changes: the change list from the running in force (None: not known).

        Raises:
            OperationFailedError: the change cannot be applied; nothing was changed.
        """
        self._lock.acquire()
        try:
            intent = read_intent(running)
            scopes = None if changes is None or self._dirty else changed_scopes(
                changes, (p for vm in self._ports.values() for p in vm))
            if scopes is not None and not scopes:
                return _Prepared(self, intent, self._model, [])
            if self._dirty:
                logger.warning("data plane: reconciling after an incomplete undo")
                self._reconcile(intent)
                return _Prepared(self, intent, self._model, [])
            try:
                part = self._translate(intent, scopes)
            except TranslationError as error:
                raise OperationFailedError(
                    f"The data plane cannot apply this configuration: {error}.",
                    type_=ErrorType.APPLICATION) from None
            if scopes is None:
                old, model = self._model, part
            else:
                old, model = self._model.within(scopes), self._model.without(scopes).merged(part)
            ops = plan(old, part)
            self._execute(ops)
            if ops:
                logger.info("data plane: %d change(s) applied for a commit", len(ops))
            return _Prepared(self, intent, model, ops)
        except BaseException:
            self._lock.release()
            raise

    def _execute(self, ops: list[Op]) -> None:
        try:
            self.backend.execute(ops)
        except DataplaneError as error:
            self._dirty |= not error.clean
            raise OperationFailedError(
                f"The data plane could not apply the change ({error}); the configuration "
                "and the forwarding plane are unchanged.", type_=ErrorType.APPLICATION,
            ) from None

    def _commit(self, intent: NetworkIntent, model: KernelModel, ops: list[Op]) -> None:
        try:
            self._intent, self._model = intent, model
        finally:
            self._lock.release()

    def _abort(self, ops: list[Op]) -> None:
        try:
            if ops:
                self.backend.execute(inverse(ops))
        except DataplaneError as error:
            logger.error("data plane: undoing a failed commit failed: %s", error)
            self._dirty = True
        finally:
            self._lock.release()

    # -------------------------------------------------------- VM lifecycle
    def update_vm(self, vm_id: str, ports: Sequence[VMPort]) -> None:
        """A VM's ports changed (its state, VIDs, policies); none: it is gone.

        Raises:
            DataplaneError: the change could not be made; nothing was changed.
        """
        new = tuple(ports)
        with self._lock:
            old = self._ports.get(vm_id, ())
            if old == new:
                return
            scopes = {vn_scope(p.vn) for p in (*old, *new)}
            previous = dict(self._ports)
            if new:
                self._ports[vm_id] = new
            else:
                self._ports.pop(vm_id, None)
            try:
                part = self._translate(self._intent, scopes)
                ops = plan(self._model.within(scopes), part)
                self.backend.execute(ops)
            except TranslationError as error:
                self._ports = previous
                raise DataplaneError(str(error)) from None
            except DataplaneError as error:
                self._ports = previous
                self._dirty |= not error.clean
                raise
            self._model = self._model.without(scopes).merged(part)
            if ops:
                logger.info("data plane: VM %s: %d change(s) applied", vm_id, len(ops))

    def ports(self, vm_id: str) -> tuple[VMPort, ...]:
        """The ports in force for a VM."""
        with self._lock:
            return self._ports.get(vm_id, ())
