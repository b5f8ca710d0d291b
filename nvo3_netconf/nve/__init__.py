"""The NVE behaviour: TES signalling, the VM lifecycle, resources, notifications.

Seed 003 (draft-gu-nvo3-tes-nve-mechanism-01) sec. 3.2-3.4 and DESIGN.md "The VM
lifecycle state machine". One module per job:

- ``lifecycle``: the pure state machine (:func:`decide`);
- ``requests``: the nvo3-tes RPC input as typed values;
- ``settings``: the running configuration as a frozen snapshot;
- ``authorization``: TES identity, tenants, VN ownership;
- ``attachments``: what a VM asks for, resolved against the configuration;
- ``resources``: VIDs per VAP, MAC bindings, ACL entries, limits;
- ``forwarding``: the mapping table in effect;
- ``records``: what the NVE remembers per VM;
- ``replies``, ``notices``, ``state``: the RPC output, notifications and ``<get>`` data;
- ``sink``: the :class:`NotificationSink` interface;
- ``service``: :class:`NVEService`, the handlers, aging and configuration changes.
"""

from nvo3_netconf.nve.lifecycle import (
    Effect,
    ImmigrationPhase,
    MigrationPhase,
    Outcome,
    Parameters,
    ReplyReason,
    Result,
    Step,
    VMEvent,
    VMState,
    decide,
)
from nvo3_netconf.nve.refusal import Refusal
from nvo3_netconf.nve.service import NVEService
from nvo3_netconf.nve.sink import NotificationSink

__all__ = [
    "Effect",
    "ImmigrationPhase",
    "MigrationPhase",
    "NVEService",
    "NotificationSink",
    "Outcome",
    "Parameters",
    "Refusal",
    "ReplyReason",
    "Result",
    "Step",
    "VMEvent",
    "VMState",
    "decide",
]
