"""The vocabulary of TES-to-NVE signalling, shared by the NVE (``nve/``) and the TES (``tes/``).

The closed sets of ``nvo3-types`` and ``nvo3-tes`` (seed 003 sec. 3.2-3.4): VM states and
events, results and reply reasons, immigration phases, VDP filter formats (IEEE
802.1Qbg, seed 003 sec. 5.1.1), signalling indications, migration phases and the
signalling operations. Values are the YANG enum / identity names.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "FilterFormat",
    "ImmigrationPhase",
    "Indication",
    "MigrationPhase",
    "Operation",
    "ReplyReason",
    "Result",
    "VMEvent",
    "VMState",
]


class VMState(StrEnum):
    """Signalling state of a VM on its NVE (nvo3-types ``vm-state``)."""

    PRE_ASSOCIATED = "pre-associated"
    ASSOCIATED = "associated"
    SUSPENDED = "suspended"
    EMIGRATING = "emigrating"
    IMMIGRATING = "immigrating"


class VMEvent(StrEnum):
    """A lifecycle event as the NVE sees it (nvo3-types ``vm-event``)."""

    PRE_ASSOCIATE = "pre-associate"
    ASSOCIATE = "associate"
    SUSPEND = "suspend"
    RESUME = "resume"
    EMIGRATE = "emigrate"
    IMMIGRATE = "immigrate"
    TERMINATE = "terminate"
    KEEP_ALIVE = "keep-alive"
    AGED_OUT = "aged-out"


class Result(StrEnum):
    """SUCCESS or FAIL (nvo3-types ``result``)."""

    SUCCESS = "success"
    FAIL = "fail"


class ReplyReason(StrEnum):
    """Why the NVE answered FAIL: the identities derived from ``nvo3t:reply-reason``."""

    FAILED_AUTHORIZATION = "failed-authorization"
    CONFLICTING_POLICIES = "conflicting-policies"
    INSUFFICIENT_RESOURCES = "insufficient-resources"
    BUSY = "busy"
    UNKNOWN_VM = "unknown-vm"
    INVALID_STATE = "invalid-state"
    UNKNOWN_VN = "unknown-vn"
    UNKNOWN_POLICY = "unknown-policy"
    INVALID_PARAMETERS = "invalid-parameters"


class ImmigrationPhase(StrEnum):
    """Which kind of immigration (nvo3-tes ``immigrate/phase``, seed 003 sec. 3.3.6)."""

    PRE_ASSOCIATE = "pre-associate"
    ASSOCIATE = "associate"


class FilterFormat(StrEnum):
    """VDP filter information formats (nvo3-types ``vdp-filter-format``)."""

    VID = "vid"
    MAC_VID = "mac-vid"
    GROUPID_VID = "groupid-vid"
    GROUPID_MAC_VID = "groupid-mac-vid"

    @property
    def has_mac(self) -> bool:
        """True if the format's filter entries carry a MAC address."""
        return self in (FilterFormat.MAC_VID, FilterFormat.GROUPID_MAC_VID)

    @property
    def has_group(self) -> bool:
        """True if the format's filter entries carry a GroupID."""
        return self in (FilterFormat.GROUPID_VID, FilterFormat.GROUPID_MAC_VID)


class Indication(StrEnum):
    """Indications a (pre-)association carries (seed 003 sec. 3.3.3-3.3.8, VDP M/S bits)."""

    IMMIGRATION = "immigration"
    KEEP_ALIVE = "keep-alive"
    SUSPENSION = "suspension"
    RESUME = "resume"
    EMIGRATION = "emigration"


class MigrationPhase(StrEnum):
    """A migration step on this NVE (nvo3-tes ``migration-progress/phase``)."""

    EMIGRATION_STARTED = "emigration-started"
    EMIGRATION_COMPLETED = "emigration-completed"
    EMIGRATION_CANCELLED = "emigration-cancelled"
    IMMIGRATION_PREPARED = "immigration-prepared"
    IMMIGRATION_COMPLETED = "immigration-completed"
    IMMIGRATION_FAILED = "immigration-failed"


class Operation(StrEnum):
    """The nvo3-tes RPCs."""

    PRE_ASSOCIATE = "pre-associate"
    ASSOCIATE = "associate"
    SUSPEND = "suspend"
    RESUME = "resume"
    EMIGRATE = "emigrate"
    IMMIGRATE = "immigrate"
    TERMINATE = "terminate"
    KEEP_ALIVE = "keep-alive"
    ACKNOWLEDGE_LOCAL_CHANGE = "acknowledge-local-change"
