"""The TES client: a hypervisor signalling VM lifecycle events to its NVE over NETCONF.

Implements the TES side of draft-gu-nvo3-tes-nve-mechanism-01 sec. 3.3 with the RPCs of
``yang/nvo3-tes@2026-11-21.yang``: one method per event (pre-associate, associate,
suspend, resume, emigrate, immigrate, terminate, keep-alive) and the answer to an NVE
local change (sec. 3.3.9), each returning the NVE's typed :class:`~.replies.Reply`; and
:meth:`TESClient.watch`, which subscribes to RFC 5277 notifications and yields them as
typed events.

Example::

    params = ConnectionParams("192.0.2.10", 830, username="hv1", password=secret)
    vm = VMRef("6f1c2a4e-0000-4000-8000-000000000001")
    with TESClient(params) as tes:
        reply = tes.associate(AssociationParams(vm, "tenant-a", vns=(
            VNAttachment("vn-blue", vnics=(VNIC("52:54:00:aa:bb:01"),)),)))
        for a in reply.check().assignments:
            print(a.vn_name, a.mac, a.vid, a.pcp)

Errors: an ``<rpc-error>`` raises the matching :class:`~nvo3_netconf.errors.RPCError`
(or :class:`~nvo3_netconf.errors.RPCErrors`); connection trouble raises
:class:`~.connection.NVEConnectionError`; a FAIL answer is a normal :class:`Reply`
(``reply.check()`` raises :class:`~.replies.SignallingFailure` for it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from types import TracebackType

from nvo3_netconf.constants import FramingVersion
from nvo3_netconf.tes.connection import ConnectionParams, NetconfConnection, NVEConnectionError
from nvo3_netconf.tes.events import Event, Notification, Subscription, parse_notification
from nvo3_netconf.tes.params import (
    AssociationParams,
    ImmigrationPhase,
    Indication,
    MigrationPeer,
    ReplyReason,
    Result,
    VMRef,
)
from nvo3_netconf.tes.replies import Reply, parse_reply
from nvo3_netconf.tes.requests import (
    AcknowledgeLocalChange,
    Associate,
    Emigrate,
    Immigrate,
    KeepAlive,
    PreAssociate,
    Request,
    Resume,
    Suspend,
    Terminate,
)

__all__ = ["TESClient"]

logger = logging.getLogger(__name__)

_END_OF_REPLAY = "notificationComplete"


class TESClient:
    """A signalling session of one TES (the SSH user) to one NVE.

    A context manager: entering opens the NETCONF session, leaving closes it. Methods may
    be called from several threads at once; :meth:`watch` is best given its own client,
    since the session then receives notifications.
    """

    def __init__(self, params: ConnectionParams) -> None:
        """Prepare a client; nothing is connected until :meth:`open` or ``with``.

        Args:
            params: the NVE's address, the TES identity and its credentials.
        """
        self.params = params
        self._connection: NetconfConnection | None = None
        self._subscribed = False
        self._log = logging.LoggerAdapter(logger, {"user": params.username,
                                                   "peer": params.peer})

    # -- session ----------------------------------------------------------------------

    def open(self) -> TESClient:
        """Open the NETCONF session (idempotent).

        Returns:
            The client itself.

        Raises:
            NVEConnectionError: the NVE is unreachable or refused the credentials.
        """
        if self._connection is None:
            self._connection = NetconfConnection.open(self.params)
        return self

    def close(self) -> None:
        """Close the NETCONF session (idempotent)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._subscribed = False

    @property
    def session_id(self) -> int | None:
        """The NETCONF session id the NVE assigned, or ``None`` when not connected."""
        return self._connection.session_id if self._connection is not None else None

    @property
    def framing(self) -> FramingVersion | None:
        """The RFC 6242 framing in use, or ``None`` when not connected."""
        return self._connection.framing if self._connection is not None else None

    def __enter__(self) -> TESClient:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _conn(self) -> NetconfConnection:
        if self._connection is None:
            raise NVEConnectionError("the TES client is not connected (use open() or with)")
        return self._connection

    # -- signalling -------------------------------------------------------------------

    def send(self, request: Request, *, timeout: float | None = None) -> Reply:
        """Send any nvo3-tes request and read the NVE's answer.

        Args:
            request: the request.
            timeout: seconds to wait for the answer; default ``params.timeout``.

        Returns:
            The NVE's reply, SUCCESS or FAIL.

        Raises:
            RPCError: the NVE refused the message with an ``<rpc-error>`` (malformed
                parameters, access denied...); ``RPCErrors`` for several.
            NVEConnectionError: the session failed or timed out.
            InvalidReplyError: the answer does not follow the model.
        """
        reply = self._conn().call(request.to_element(), timeout=timeout)
        result = parse_reply(request.operation, request.vm, reply.data)
        self._log.debug("%s of VM %s: %s%s", request.operation.value, request.vm.vm_id,
                        result.result.value,
                        f" ({_reason_text(result)})" if not result.ok else "")
        return result

    def pre_associate(
        self,
        params: AssociationParams,
        *,
        reserve_resources: bool = False,
        indications: Iterable[Indication] = (),
    ) -> Reply:
        """VM pre-association (sec. 3.3.1): the NVE installs, but does not activate.

        Args:
            params: VM, tenant, VNs, vNICs and policies.
            reserve_resources: also reserve the resources for the association.
            indications: ``IMMIGRATION`` and/or ``KEEP_ALIVE``.

        Returns:
            The reply; on SUCCESS the VM is pre-associated.
        """
        return self.send(PreAssociate(params, reserve_resources, frozenset(indications)))

    def associate(self, params: AssociationParams, *,
                  indications: Iterable[Indication] = ()) -> Reply:
        """VM association (sec. 3.3.2): install and activate, or refresh.

        Args:
            params: VM, tenant, VNs, vNICs and policies.
            indications: at most one of ``IMMIGRATION``, ``SUSPENSION``, ``RESUME``,
                ``EMIGRATION``, plus optionally ``KEEP_ALIVE``.

        Returns:
            The reply, with the VIDs and PCPs assigned.
        """
        return self.send(Associate(params, frozenset(indications)))

    def suspend(self, vm: VMRef) -> Reply:
        """VM suspension (sec. 3.3.3): inactivate, keep the resources.

        Args:
            vm: the VM.
        """
        return self.send(Suspend(vm))

    def resume(self, vm: VMRef) -> Reply:
        """VM resume (sec. 3.3.4): activate the suspended VM.

        Args:
            vm: the VM.
        """
        return self.send(Resume(vm))

    def emigrate(self, vm: VMRef, *, destination: MigrationPeer | None = None) -> Reply:
        """VM emigration (sec. 3.3.5): inactivate, keep until terminate.

        Args:
            vm: the VM leaving.
            destination: where it goes, if known.
        """
        return self.send(Emigrate(vm, destination))

    def immigrate(
        self,
        params: AssociationParams,
        *,
        phase: ImmigrationPhase = ImmigrationPhase.ASSOCIATE,
        reserve_resources: bool = False,
        source: MigrationPeer | None = None,
    ) -> Reply:
        """VM immigration (sec. 3.3.6): a (pre-)association marked as a migration.

        Args:
            params: VM, tenant, VNs (at least one), vNICs and policies.
            phase: Immigration (Pre-Asso) or (Asso).
            reserve_resources: with the pre-associate phase, reserve resources.
            source: where the VM comes from, if known.
        """
        return self.send(Immigrate(params, phase, reserve_resources, source))

    def terminate(self, vm: VMRef) -> Reply:
        """VM termination (sec. 3.3.7): the NVE releases everything.

        Args:
            vm: the VM.
        """
        return self.send(Terminate(vm))

    def keep_alive(self, vm: VMRef) -> Reply:
        """Keep-alive (sec. 3.3.8): refresh the VM's aging timer.

        Args:
            vm: the VM.
        """
        return self.send(KeepAlive(vm))

    def acknowledge_local_change(
        self,
        vm: VMRef,
        change_id: int,
        *,
        result: Result = Result.SUCCESS,
        reason: ReplyReason | None = None,
        error_message: str | None = None,
    ) -> Reply:
        """Answer a :class:`~.events.LocalChange` notification (sec. 3.3.9).

        Args:
            vm: the notification's VM.
            change_id: its ``change-id``.
            result: whether the TES applied the new tags.
            reason: why not (with ``Result.FAIL``).
            error_message: an explanation.

        Returns:
            A SUCCESS reply once the NVE took the acknowledgement.
        """
        return self.send(AcknowledgeLocalChange(vm, change_id, result, reason, error_message))

    # -- notifications ----------------------------------------------------------------

    def subscribe(self, subscription: Subscription | None = None) -> None:
        """Send ``<create-subscription>`` (RFC 5277 sec. 2.1.1); once per session.

        Args:
            subscription: stream, filter and replay times; default: the NETCONF stream,
                unfiltered, no replay.

        Raises:
            RPCError: the NVE refused it (e.g. a second subscription: ``in-use``).
        """
        self._conn().call((subscription or Subscription()).to_element())
        self._subscribed = True
        self._log.info("subscribed to notifications")

    def watch(self, subscription: Subscription | None = None, *,
              timeout: float | None = None) -> Iterator[Event]:
        """Subscribe (unless :meth:`subscribe` was called) and yield notifications.

        Ends after RFC 5277 ``notificationComplete`` (a subscription with a stop time),
        after ``timeout`` seconds without a notification, or when the session ends.

        Args:
            subscription: what to subscribe to, if not subscribed yet.
            timeout: seconds to wait for each notification; ``None`` waits forever.

        Yields:
            Typed events for the nvo3-tes notifications, :class:`~.events.Notification`
            for the others (``replayComplete`` included).

        Raises:
            NVEConnectionError: the session ended before ``notificationComplete`` or
                ``timeout``.
        """
        if not self._subscribed:
            self.subscribe(subscription)
        connection = self._conn()
        while True:
            root = connection.next_notification(timeout)
            if root is None:
                return
            event = parse_notification(root)
            yield event
            if isinstance(event, Notification) and event.name == _END_OF_REPLAY:
                return


def _reason_text(reply: Reply) -> str:
    reason = reply.reason
    return str(reason.value) if isinstance(reason, ReplyReason) else str(reason)
