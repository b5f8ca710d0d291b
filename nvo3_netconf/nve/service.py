"""The NVE service: TES signalling handlers, VM records, aging, configuration changes.

One :class:`NVEService` per agent, built by ``server/app.py``. It answers the nvo3-tes
RPCs (seed 003 sec. 3.3) by combining the pure pieces of this package:

1. the RPC input is validated with libyang (a malformed request is an ``<rpc-error>``);
2. the message becomes a :class:`~nvo3_netconf.nve.lifecycle.Step` (indications of a
   (pre-)association select suspend, resume, emigrate, immigrate or keep-alive);
3. the TES is authorized (:mod:`~nvo3_netconf.nve.authorization`), the state machine
   decides (:func:`~nvo3_netconf.nve.lifecycle.decide`), the parameters are resolved
   (:mod:`~nvo3_netconf.nve.attachments`) and resources planned
   (:mod:`~nvo3_netconf.nve.resources`); any refusal answers FAIL with its reason and
   changes nothing;
4. the VM's ports are programmed in the forwarding plane, if the agent has one
   (:mod:`~nvo3_netconf.nve.ports`; a failure answers FAIL ``insufficient-resources``
   and changes nothing);
5. otherwise the holdings are swapped, the record updated, the aging timer re-armed,
   notifications queued, and the reply built.

A keep-alive indication makes a (pre-)association a keep-alive when the NVE holds state
for the VM (the VN parameters are then not re-processed, as a VDP keep-alive); without
state, a message carrying VNs is processed as the (pre-)association it is. Every SUCCESS
refreshes the VM's timer (``vm-state/timers/last-refresh``: "any signalling message").

Concurrency: records, resources and the forwarding view are guarded by one lock; libyang
validation runs outside it. Notifications are queued under the lock and published
outside it, in order, by whichever thread drains the queue.

Public names: :class:`NVEService`.
"""

from __future__ import annotations

import copy
import itertools
import logging
import threading
from collections import deque
from collections.abc import Sequence

from lxml import etree

from nvo3_netconf.constants import Datastore
from nvo3_netconf.dataplane.backend import DataplaneError
from nvo3_netconf.dataplane.model import VMPort
from nvo3_netconf.datastore.changes import Change
from nvo3_netconf.datastore.store import CommitEvent, DatastoreManager
from nvo3_netconf.errors import AccessDeniedError, InvalidValueError
from nvo3_netconf.nve import notices
from nvo3_netconf.nve.attachments import Desired, current_pcps, resolve
from nvo3_netconf.nve.authorization import authorize_tes, authorize_vm
from nvo3_netconf.nve.forwarding import Difference, ForwardingView, LocalAttachment, MappingKey
from nvo3_netconf.nve.lifecycle import (
    Effect,
    MigrationPhase,
    Outcome,
    Parameters,
    ReplyReason,
    Result,
    Step,
    VMEvent,
    VMState,
    decide,
    step_for,
)
from nvo3_netconf.nve.ports import PortSink, vm_ports
from nvo3_netconf.nve.records import LastEvent, MigrationInfo, VMRecord
from nvo3_netconf.nve.refusal import Refusal
from nvo3_netconf.nve.replies import Reply, reply_elements
from nvo3_netconf.nve.requests import (
    Indication,
    MigrationPeer,
    Operation,
    Signal,
    read_acknowledgement,
    read_signal,
)
from nvo3_netconf.nve.resources import Allocation, ResourceTable, check_vm_limits
from nvo3_netconf.nve.settings import NVESettings, TESEntry, is_relevant, read_settings
from nvo3_netconf.nve.sink import NotificationSink
from nvo3_netconf.nve.state import (
    EventCounters,
    StateSources,
    nested_state_elements,
    state_elements,
)
from nvo3_netconf.protocol.dispatch import RPCContext
from nvo3_netconf.protocol.xml import parse_xml
from nvo3_netconf.scheduler import Scheduler
from nvo3_netconf.schema import SchemaValidationError, Validator

__all__ = ["NVEService"]

logger = logging.getLogger(__name__)

_STEPS_OF_INDICATIONS = (
    (Indication.SUSPENSION, Step.SUSPEND),
    (Indication.RESUME, Step.RESUME),
    (Indication.EMIGRATION, Step.EMIGRATE),
    (Indication.IMMIGRATION, Step.IMMIGRATE_ASSOCIATE),
)


class NVEService:
    """The NVE behaviour of one agent.

    Args:
        datastores: the agent's datastores (running is read after each commit).
        validator: validates RPC input against the loaded modules.
        scheduler: the agent's timers; its clock is the NVE's clock.
        sinks: where notifications go (more with :meth:`add_sink`).
        busy_after: seconds a signal waits for the NVE before it is answered FAIL
            ``busy`` (seed 003 sec. 3.3.3-3.3.7: "the NVE is too busy").
        max_waiting: signals allowed to wait at once; more are answered ``busy`` at once.
        dataplane: the forwarding plane the VMs' ports are programmed in, if any.
    """

    def __init__(
        self, *, datastores: DatastoreManager, validator: Validator, scheduler: Scheduler,
        sinks: tuple[NotificationSink, ...] = (), busy_after: float = 5.0,
        max_waiting: int = 256, dataplane: PortSink | None = None,
    ) -> None:
        self._dataplane = dataplane
        self._busy_after = busy_after
        self._max_waiting = max_waiting
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self._datastores = datastores
        self._validator = validator
        self._scheduler = scheduler
        self._clock = scheduler.clock
        self._lock = threading.RLock()
        self._publish_lock = threading.Lock()
        self._outbox: deque[etree._Element] = deque()
        self._sinks: list[NotificationSink] = list(sinks)
        self._records: dict[str, VMRecord] = {}
        self._resources = ResourceTable()
        self._forwarding = ForwardingView()
        self._mapping_times: dict[MappingKey, float] = {}
        self._statistics: dict[VMEvent, EventCounters] = {}
        self._discontinuity = self._clock.time()
        self._change_ids = itertools.count(1)
        self._settings = self._read_settings()
        self._forwarding.rebuild(self._settings, (), self._local)
        datastores.add_listener(self._on_commit)

    def add_sink(self, sink: NotificationSink) -> None:
        """Send notifications to ``sink`` too."""
        with self._lock:
            self._sinks.append(sink)

    def close(self) -> None:
        """Cancel every aging timer (the agent is stopping)."""
        with self._lock:
            for record in self._records.values():
                self._scheduler.cancel(record.timer)

    # ------------------------------------------------------------------ handlers
    def pre_associate(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        """``<pre-associate>`` (seed 003 sec. 3.3.1)."""
        return self._signal(ctx, op)

    def associate(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        """``<associate>`` (sec. 3.3.2), or the event its indication names."""
        return self._signal(ctx, op)

    def suspend(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        """``<suspend>`` (sec. 3.3.3)."""
        return self._signal(ctx, op)

    def resume(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        """``<resume>`` (sec. 3.3.4)."""
        return self._signal(ctx, op)

    def emigrate(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        """``<emigrate>`` (sec. 3.3.5)."""
        return self._signal(ctx, op)

    def immigrate(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        """``<immigrate>`` (sec. 3.3.6)."""
        return self._signal(ctx, op)

    def terminate(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        """``<terminate>`` (sec. 3.3.7)."""
        return self._signal(ctx, op)

    def keep_alive(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        """``<keep-alive>`` (sec. 3.3.8)."""
        return self._signal(ctx, op)

    def acknowledge_local_change(self, ctx: RPCContext, op: etree._Element) -> None:
        """``<acknowledge-local-change>`` (sec. 3.3.9): the TES's answer; ``<ok/>``.

        Raises:
            RPCError: invalid input, unknown VM or change (invalid-value), or a TES
                not authorized for the VM's tenant (access-denied).
        """
        ack = read_acknowledgement(self._validated(op))
        tes = ctx.session.user
        with self._lock:
            record = self._records.get(ack.vm_id)
            if record is None:
                raise InvalidValueError(
                    f"The NVE holds no state for VM {ack.vm_id}.",
                    path="/tes:acknowledge-local-change/tes:vm-id",
                    path_namespaces={"tes": etree.QName(op).namespace or ""},
                )
            entry = self._settings.tes.get(tes)
            if entry is None or record.tenant not in entry.tenants:
                raise AccessDeniedError(f"TES {tes!r} may not answer for VM {ack.vm_id}.")
            if record.pending_change != ack.change_id:
                raise InvalidValueError(
                    f"Local change {ack.change_id} is not the pending change of VM "
                    f"{ack.vm_id}.",
                    path="/tes:acknowledge-local-change/tes:change-id",
                    path_namespaces={"tes": etree.QName(op).namespace or ""},
                )
            record.pending_change = None
        if ack.result is Result.FAIL:
            logger.info("TES %s could not apply local change %d of VM %s: %s %s", tes,
                        ack.change_id, ack.vm_id, ack.reason, ack.error_message or "")
        return None

    def _validated(self, op: etree._Element) -> etree._Element:
        """The operation validated by libyang, with its defaults (or an rpc-error)."""
        try:
            canonical = self._validator.validate_rpc(etree.tostring(op))
        except SchemaValidationError as error:
            raise error.to_rpc_error() from None
        return parse_xml(canonical)

    def _signal(self, ctx: RPCContext, op: etree._Element) -> list[etree._Element]:
        signal = read_signal(self._validated(op))
        if not self._enter():
            return reply_elements(Reply(
                Result.FAIL, ReplyReason.BUSY,
                "The NVE is too busy to process the message now; send it again later.",
            ))
        try:
            reply = self._process(signal, ctx.session.user)
        finally:
            self._lock.release()
        self._flush()
        return reply_elements(reply)

    def _enter(self) -> bool:
        """Take the NVE's lock for one signal, or say it is busy (and take nothing)."""
        with self._waiting_lock:
            if self._waiting >= self._max_waiting:
                return False
            self._waiting += 1
        try:
            return self._lock.acquire(timeout=self._busy_after)
        finally:
            with self._waiting_lock:
                self._waiting -= 1

    # ---------------------------------------------------------------- processing
    def _step(self, signal: Signal, record: VMRecord | None) -> Step:
        operation = signal.operation
        if operation in (Operation.PRE_ASSOCIATE, Operation.ASSOCIATE):
            assert signal.parameters is not None
            if Indication.KEEP_ALIVE in signal.indications and (
                record is not None or not signal.parameters.vns
            ):
                return Step.KEEP_ALIVE
            immigration = Indication.IMMIGRATION in signal.indications
            if operation is Operation.PRE_ASSOCIATE:
                return Step.IMMIGRATE_PRE_ASSOCIATE if immigration else Step.PRE_ASSOCIATE
            for indication, step in _STEPS_OF_INDICATIONS:
                if indication in signal.indications:
                    return step
            return Step.ASSOCIATE
        if operation is Operation.IMMIGRATE:
            return step_for(VMEvent.IMMIGRATE, signal.phase)
        return Step(operation.value)

    def _process(self, signal: Signal, tes: str) -> Reply:
        settings = self._settings
        record = self._records.get(signal.vm_id)
        step = self._step(signal, record)
        state = record.state if record is not None else None
        try:
            entry = authorize_tes(settings, tes)
            params = signal.parameters
            if params is not None:
                authorize_tes(settings, tes, params.tenant)
                authorize_vm(settings, signal.vm_id, params.tenant,
                             record.tenant if record is not None else None)
            elif record is not None:
                authorize_tes(settings, tes, record.tenant)
            outcome = decide(state, step)
            if outcome.result is Result.FAIL:
                raise Refusal(outcome.reason or ReplyReason.INVALID_STATE,
                              _refusal_text(outcome, step, signal.vm_id, state))
            desired = None
            if step.carries_parameters:
                assert params is not None
                desired = resolve(settings, signal.vm_id, params, entry)
                if record is not None:
                    same = record.allocation.desired == desired
                    outcome = decide(state, step, Parameters.SAME if same
                                     else Parameters.DIFFERENT)
            return self._carry_out(signal, tes, entry, step, outcome, record, desired)
        except Refusal as refusal:
            return self._refused(signal, tes, step, record, refusal)

    def _refused(
        self, signal: Signal, tes: str, step: Step, record: VMRecord | None, refusal: Refusal
    ) -> Reply:
        now = self._clock.time()
        self._count(step.event, Result.FAIL, refusal.reason)
        logger.info("%s of VM %s from TES %s refused (%s): %s", step.event.value,
                    signal.vm_id, tes, refusal.reason.value, refusal.message)
        if record is not None:
            record.last_event = LastEvent(step.event, now, Result.FAIL, refusal.reason,
                                          refusal.message)
        if step in (Step.IMMIGRATE_PRE_ASSOCIATE, Step.IMMIGRATE_ASSOCIATE):
            self._emit(notices.migration_progress(
                vm_id=signal.vm_id, vm_id_format=signal.vm_id_format,
                tenant=signal.parameters.tenant if signal.parameters else None,
                phase=MigrationPhase.IMMIGRATION_FAILED, peer=signal.peer,
                result=Result.FAIL, reason=refusal.reason, message=refusal.message,
            ))
        return self._reply(record, Reply(Result.FAIL, refusal.reason, refusal.message))

    def _carry_out(
        self, signal: Signal, tes: str, entry: TESEntry, step: Step, outcome: Outcome,
        record: VMRecord | None, desired: Desired | None,
    ) -> Reply:
        settings = self._settings
        old_state = record.state if record is not None else None
        old = record.allocation if record is not None else None
        new = old
        params = signal.parameters
        effect = outcome.effect
        if effect in (Effect.INSTALL, Effect.REPLACE):
            assert desired is not None and params is not None
            if record is None or record.tes != tes:
                tes_vms = sum(1 for r in self._records.values() if r.tes == tes)
                check_vm_limits(settings, vms=len(self._records) - (record is not None),
                                tes=entry, tes_vms=tes_vms)
            reserve = outcome.state is VMState.ASSOCIATED or params.reserve
            new = self._resources.plan(signal.vm_id, desired, reserve=reserve, previous=old,
                                       settings=settings)
        elif effect is Effect.ACTIVATE or (
            effect is Effect.REFRESH and params is not None and params.reserve
        ):
            assert old is not None
            if not old.reserved:
                new = self._resources.plan(signal.vm_id, old.desired, reserve=True,
                                           previous=old, settings=settings)
        elif effect is Effect.RELEASE:
            new = None
        self._program(signal.vm_id, vm_ports(signal.vm_id, outcome.state, new))
        # Nothing can be refused past this point.
        if new is not old:
            self._resources.apply(signal.vm_id, old, new)
        now, mono = self._clock.time(), self._clock.monotonic()
        new_state = outcome.state
        self._count(step.event, Result.SUCCESS, None)
        if new_state is None:
            if record is None:  # resume or terminate of a VM without state
                return Reply(Result.SUCCESS)
            del self._records[record.vm_id]
            self._scheduler.cancel(record.timer)
            record.last_event = LastEvent(step.event, now, Result.SUCCESS)
            self._announce(record, old_state, None, step.event, tes, outcome, signal)
            self._refresh_mappings(old, None)
            return Reply(Result.SUCCESS)
        assert new is not None
        if record is None:
            record = VMRecord(
                vm_id=signal.vm_id, vm_id_format=signal.vm_id_format,
                tenant=params.tenant if params else "", state=new_state, allocation=new,
                tes=tes, state_change_time=now, refresh_time=now, refresh_mono=mono,
            )
            self._records[record.vm_id] = record
        was_active = record.active
        record.state = new_state
        record.allocation = new
        record.tes = tes
        if params is not None and step.carries_parameters:
            record.filter_format = params.filter_format
            record.group_id = new.desired.group_id
            record.vcenter_id = params.vcenter_id or record.vcenter_id
            record.vserver_id = params.vserver_id or record.vserver_id or entry.vserver_id
        if old_state is not new_state:
            record.state_change_time = now
        if record.active and not was_active:
            record.association_time = now
        self._migration(record, step, outcome, signal, now)
        record.refresh_time, record.refresh_mono = now, mono
        record.last_event = LastEvent(step.event, now, Result.SUCCESS)
        self._arm(record)
        if old_state is not new_state:
            self._announce(record, old_state, new_state, step.event, tes, outcome, signal)
        elif outcome.progress is not None:
            self._progress(record, outcome, signal)
        if new is not old or was_active != record.active:
            self._refresh_mappings(old, new)
        return self._reply(record, Reply(Result.SUCCESS))

    def _migration(
        self, record: VMRecord, step: Step, outcome: Outcome, signal: Signal, now: float
    ) -> None:
        if outcome.migrating is None:
            return
        record.migrating = outcome.migrating
        if not outcome.migrating:
            record.migration = None
            return
        direction = "emigration" if step is Step.EMIGRATE else "immigration"
        previous = record.migration
        peer = signal.peer
        if previous is not None and previous.direction == direction and peer is None:
            return
        record.migration = MigrationInfo(
            direction=direction,
            start_time=previous.start_time if previous and previous.direction == direction
            else now,
            migration_id=peer.migration_id if peer else None,
            peer_nve=peer.peer_nve if peer else None,
            peer_vserver=peer.peer_vserver if peer else None,
        )

    def _reply(self, record: VMRecord | None, reply: Reply) -> Reply:
        """``reply`` completed with the VM's state, timers and assignments."""
        if record is None or record.vm_id not in self._records:
            return reply
        aging = self._settings.aging
        timeout = (aging.emigration_hold_time if record.state is VMState.EMIGRATING
                   else aging.aging_time)
        assignments = record.allocation.assignments if reply.result is Result.SUCCESS else ()
        return Reply(reply.result, reply.reason, reply.message, record.state,
                     aging.keep_alive_interval, timeout, assignments)

    def _count(self, event: VMEvent, result: Result, reason: ReplyReason | None) -> None:
        self._statistics.setdefault(event, EventCounters()).count(result, reason)

    # ----------------------------------------------------------- forwarding plane
    def _program(self, vm_id: str, ports: tuple[VMPort, ...]) -> None:
        """Program a VM's ports; a failure refuses the signal (nothing changed)."""
        if self._dataplane is None:
            return
        try:
            self._dataplane.update_vm(vm_id, ports)
        except DataplaneError as error:
            logger.error("data plane: VM %s: %s", vm_id, error)
            raise Refusal(ReplyReason.INSUFFICIENT_RESOURCES,
                          f"The NVE could not program its forwarding plane: {error}") from None

    def _program_quietly(self, vm_id: str, ports: tuple[VMPort, ...]) -> None:
        """Program a VM's ports after a change that cannot be refused (log a failure)."""
        if self._dataplane is None:
            return
        try:
            self._dataplane.update_vm(vm_id, ports)
        except DataplaneError as error:
            logger.error("data plane: VM %s: ports not updated: %s", vm_id, error)

    # -------------------------------------------------------------------- aging
    def _arm(self, record: VMRecord) -> bool:
        """(Re)start the VM's aging timer from its last refresh (seed 003 sec. 3.3.8).

        Returns:
            True when the VM is already past its expiry (the aging time was shortened):
            the caller ages it out.
        """
        self._scheduler.cancel(record.timer)
        record.timer = None
        aging = self._settings.aging
        timeout = (aging.emigration_hold_time if record.state is VMState.EMIGRATING
                   else aging.aging_time)
        if timeout <= 0:
            record.expiry_mono = None
            return False
        record.expiry_mono = record.refresh_mono + timeout
        if record.expiry_mono <= self._clock.monotonic():
            return True
        vm_id = record.vm_id
        record.timer = self._scheduler.call_at(record.expiry_mono, lambda: self._expire(vm_id))
        return False

    def _expire(self, vm_id: str) -> None:
        with self._lock:
            record = self._records.get(vm_id)
            mono = self._clock.monotonic()
            if record is None or record.expiry_mono is None or record.expiry_mono > mono:
                return  # refreshed or removed meanwhile
            self._age_out(record, mono)
        self._flush()

    def _age_out(self, record: VMRecord, mono: float) -> None:
        outcome = decide(record.state, Step.AGED_OUT)
        idle = int(mono - record.refresh_mono)
        logger.info("VM %s aged out after %d s idle in state %s", record.vm_id, idle,
                    record.state.value)
        self._resources.apply(record.vm_id, record.allocation, None)
        del self._records[record.vm_id]
        self._program_quietly(record.vm_id, ())
        self._count(VMEvent.AGED_OUT, Result.SUCCESS, None)
        self._emit(notices.vm_aged_out(record, idle_time=idle))
        old_state = record.state
        record.last_event = LastEvent(VMEvent.AGED_OUT, self._clock.time(), Result.SUCCESS)
        self._announce(record, old_state, None, VMEvent.AGED_OUT, None, outcome, None)
        self._refresh_mappings(record.allocation, None)

    # ---------------------------------------------------------- notifications
    def _announce(
        self, record: VMRecord, old: VMState | None, new: VMState | None, event: VMEvent,
        tes: str | None, outcome: Outcome, signal: Signal | None,
    ) -> None:
        self._emit(notices.vm_state_changed(record, old=old, new=new, event=event, tes=tes))
        if outcome.progress is not None:
            self._progress(record, outcome, signal)

    def _progress(self, record: VMRecord, outcome: Outcome, signal: Signal | None) -> None:
        assert outcome.progress is not None
        peer = signal.peer if signal is not None else None
        if peer is None and record.migration is not None:
            info = record.migration
            peer = MigrationPeer(info.migration_id, info.peer_nve, info.peer_vserver)
        self._emit(notices.migration_progress(
            vm_id=record.vm_id, vm_id_format=record.vm_id_format, tenant=record.tenant,
            phase=outcome.progress, peer=peer, result=Result.SUCCESS,
        ))

    def _emit(self, content: etree._Element) -> None:
        """Queue a notification (caller holds the lock); :meth:`_flush` publishes it."""
        self._outbox.append(content)

    def _flush(self) -> None:
        """Publish the queued notifications in order, outside the service lock."""
        with self._publish_lock:
            while True:
                with self._lock:
                    if not self._outbox:
                        return
                    content = self._outbox.popleft()
                    sinks = list(self._sinks)
                for index, sink in enumerate(sinks):
                    item = content if index == len(sinks) - 1 else copy.deepcopy(content)
                    try:
                        sink.publish(item)
                    except Exception:  # one sink's failure must not stop the others
                        logger.exception("notification sink failed")

    # ------------------------------------------------------------------ mapping
    def _local(self, key: MappingKey) -> LocalAttachment | None:
        vm_id = self._resources.mac_owner(*key)
        record = self._records.get(vm_id) if vm_id is not None else None
        if record is None:
            return None
        addresses: tuple[str, ...] = ()
        for a in record.allocation.for_vn(key[0]):
            if a.mac == key[1]:
                addresses = a.ip_addresses
        return LocalAttachment(record.vm_id, addresses, record.active)

    def _refresh_mappings(self, old: Allocation | None, new: Allocation | None) -> None:
        keys: set[MappingKey] = set()
        for allocation in (old, new):
            if allocation is not None:
                keys |= allocation.macs()
        self._publish_mappings(self._forwarding.update(keys, self._local))

    def _publish_mappings(self, differences: list[Difference]) -> None:
        now = self._clock.time()
        for operation, before, after in differences:
            current = after if after is not None else before
            assert current is not None
            key = (current.vn, current.inner_mac)
            if after is None:
                self._mapping_times.pop(key, None)
            else:
                self._mapping_times[key] = now
            self._emit(notices.mapping_changed(operation, before, after))

    # ------------------------------------------------------------ configuration
    def _read_settings(self) -> NVESettings:
        with self._datastores.reading(Datastore.RUNNING) as tree:
            return read_settings(tree)

    def _on_commit(self, event: CommitEvent) -> None:
        """Running changed: reload the settings, re-assign tags, re-arm timers."""
        if event.datastore is not Datastore.RUNNING:
            return
        if event.changes and not _concerns_nve(event.changes):
            return
        with self._lock:
            previous = self._settings
            self._settings = self._read_settings()
            if self._settings.aging != previous.aging:
                mono = self._clock.monotonic()
                expired = [r for r in list(self._records.values()) if self._arm(r)]
                for record in expired:
                    self._age_out(record, mono)
            self._reassign_tags()
            local_keys = [key for r in self._records.values() for key in r.allocation.macs()]
            self._publish_mappings(
                self._forwarding.rebuild(self._settings, local_keys, self._local))
        self._flush()

    def _reassign_tags(self) -> None:
        """NVE local change (seed 003 sec. 3.3.9): VIDs out of range, PCPs re-marked."""
        settings = self._settings
        for record in sorted(self._records.values(), key=lambda r: r.vm_id):
            old = record.allocation
            pcps = current_pcps(settings, record.vm_id, old.desired)
            new = self._resources.reassign(record.vm_id, old, settings, pcps)
            if new == old:
                continue
            self._resources.apply(record.vm_id, old, new)
            record.allocation = new
            self._program_quietly(record.vm_id, vm_ports(record.vm_id, record.state, new))
            changes = [
                notices.TagChange(a.vn, a.vnid, a.mac, a.vid, b.vid, a.pcp, b.pcp)
                for a, b in zip(old.assignments, new.assignments, strict=True)
                if old.reserved and (a.vid != b.vid or a.pcp != b.pcp)
            ]
            if not changes:
                continue  # nothing the TES was told has changed
            change_id = next(self._change_ids)
            record.pending_change = change_id
            if any(c.new_vid is not None and c.old_vid != c.new_vid for c in changes):
                cause = "vid-reassigned"
            elif any(c.old_vid != c.new_vid for c in changes):
                cause = "other"  # the VAP or the VN is gone: no VID any more
            else:
                cause = "pcp-changed"
            logger.info("local change %d for VM %s: %s", change_id, record.vm_id, cause)
            self._emit(notices.local_change(record, change_id=change_id, cause=cause,
                                            changes=changes))

    # --------------------------------------------------------------------- state
    def state(self, session: object) -> list[etree._Element]:
        """The operational data for ``<get>`` (a ``StateProvider``).

        Returns nve resources and statistics, vm-state and mapping-table.
        """
        with self._lock:
            return state_elements(self._sources())

    def nested_state(self, session: object) -> list[etree._Element]:
        """The state inside configuration lists (VN, VAP, VM group).

        A ``StateProvider`` to register once ``<get>`` merges list entries without
        repeating their keys.
        """
        with self._lock:
            return nested_state_elements(self._sources())

    def _sources(self) -> StateSources:
        return StateSources(
            settings=self._settings,
            records=list(self._records.values()),
            resources=self._resources,
            forwarding=self._forwarding,
            mapping_times=self._mapping_times,
            statistics=self._statistics,
            discontinuity_time=self._discontinuity,
            now=self._clock.time(),
            now_mono=self._clock.monotonic(),
        )

    def vm_state(self, vm_id: str) -> VMState | None:
        """The state of one VM (None: no state), for tests and the CLI."""
        with self._lock:
            record = self._records.get(vm_id)
            return record.state if record is not None else None


def _refusal_text(outcome: Outcome, step: Step, vm_id: str, state: VMState | None) -> str:
    if outcome.reason is ReplyReason.UNKNOWN_VM:
        return f"The NVE holds no state for VM {vm_id}."
    return (f"{step.event.value} is not allowed for VM {vm_id} in state "
            f"{state.value if state is not None else 'none'}.")


def _concerns_nve(changes: Sequence[Change]) -> bool:
    """True unless every change's top-level node is surely not read by the NVE."""
    seen: set[str] = set()
    for change in changes:
        first = change.path.split("/", 2)[1] if change.path.startswith("/") else ""
        if first in seen:
            continue
        seen.add(first)
        if ":" not in first:
            return True
        namespace = change.namespaces.get(first.split(":", 1)[0])
        if namespace is None or is_relevant(namespace):
            return True
    return False
