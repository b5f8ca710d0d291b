"""The TES (hypervisor) side of TES-NVE signalling over NETCONF.

draft-gu-nvo3-tes-nve-mechanism-01 sec. 3.3 with ``yang/nvo3-tes@2026-11-21.yang``:

- :class:`TESClient` (``client.py``): one method per VM lifecycle event, returning a
  typed :class:`Reply`; :meth:`TESClient.watch` yields RFC 5277 notifications;
- ``params.py``: the typed arguments (:class:`VMRef`, :class:`AssociationParams`,
  :class:`VNAttachment`, :class:`VNIC`, :class:`VNPolicies`, :class:`MigrationPeer`) and
  the model's enums;
- ``requests.py``: one frozen dataclass per RPC, building its XML (sans-I/O);
- ``replies.py``: :class:`Reply`, :class:`Assignment`, :func:`parse_reply`;
- ``events.py``: typed notifications and :class:`Subscription`;
- ``connection.py``: the NETCONF session over ncclient (:class:`ConnectionParams`).
"""

from nvo3_netconf.tes.client import TESClient
from nvo3_netconf.tes.connection import (
    ConnectionParams,
    HostKeyPolicy,
    NetconfConnection,
    NVEConnectionError,
    NVETimeoutError,
)
from nvo3_netconf.tes.events import (
    Event,
    LocalChange,
    LocalChangeCause,
    MigrationPhase,
    MigrationProgress,
    MigrationRole,
    Notification,
    Subscription,
    TagChange,
    VMAgedOut,
    VMStateChanged,
    VNICSummary,
    VNSummary,
    event_to_dict,
    parse_notification,
)
from nvo3_netconf.tes.params import (
    VNIC,
    AssociationParams,
    FilterFormat,
    ImmigrationPhase,
    Indication,
    MigrationPeer,
    ReplyReason,
    Result,
    TESOperation,
    VMEvent,
    VMIdFormat,
    VMRef,
    VMState,
    VNAttachment,
    VNPolicies,
)
from nvo3_netconf.tes.replies import (
    Assignment,
    InvalidReplyError,
    Reply,
    SignallingFailure,
    parse_reply,
)
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

__all__ = [
    "AcknowledgeLocalChange",
    "Assignment",
    "Associate",
    "AssociationParams",
    "ConnectionParams",
    "Emigrate",
    "Event",
    "FilterFormat",
    "HostKeyPolicy",
    "Immigrate",
    "ImmigrationPhase",
    "Indication",
    "InvalidReplyError",
    "KeepAlive",
    "LocalChange",
    "LocalChangeCause",
    "MigrationPeer",
    "MigrationPhase",
    "MigrationProgress",
    "MigrationRole",
    "NVEConnectionError",
    "NVETimeoutError",
    "NetconfConnection",
    "Notification",
    "PreAssociate",
    "Reply",
    "ReplyReason",
    "Request",
    "Result",
    "Resume",
    "SignallingFailure",
    "Subscription",
    "Suspend",
    "TESClient",
    "TESOperation",
    "TagChange",
    "Terminate",
    "VMAgedOut",
    "VMEvent",
    "VMIdFormat",
    "VMRef",
    "VMState",
    "VMStateChanged",
    "VNAttachment",
    "VNIC",
    "VNICSummary",
    "VNPolicies",
    "VNSummary",
    "event_to_dict",
    "parse_notification",
    "parse_reply",
]
