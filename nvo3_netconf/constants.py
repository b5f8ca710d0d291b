"""Namespaces, capability URNs and the closed sets of NETCONF (RFC 6241, 6242, 6243, 5277).

Public names: the ``NS_*`` namespace strings, the ``CAP_*`` capability URNs and the
enums :class:`Datastore`, :class:`EditOperation`, :class:`DefaultOperation`,
:class:`TestOption`, :class:`ErrorOption`, :class:`ErrorType`, :class:`ErrorTag`,
:class:`ErrorSeverity`, :class:`WithDefaults`, :class:`FramingVersion` and
:class:`TerminationReason`.
"""

from __future__ import annotations

from enum import StrEnum

# XML namespaces (RFC 6241 sec. 3.1, RFC 5277, RFC 6243, RFC 6022, RFC 8525, RFC 8341).
NS_NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS_NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NS_NC_NOTIF = "urn:ietf:params:xml:ns:netmod:notification"
NS_WITH_DEFAULTS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
NS_WD_ATTR = "urn:ietf:params:xml:ns:netconf:default:1.0"
NS_MONITORING = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NS_YANG_LIBRARY = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
NS_NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
NS_NC_NOTIFICATIONS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NS_YANG_1 = "urn:ietf:params:xml:ns:yang:1"

# The project's own modules (yang/) and RFC 8519, as the NVE behaviour reads and writes them.
NS_NVO3_TYPES = "urn:nvo3-netconf:yang:nvo3-types"
NS_NVO3_TES = "urn:nvo3-netconf:yang:nvo3-tes"
NS_NVO3_VM = "urn:nvo3-netconf:yang:nvo3-vm"
NS_NVO3_VN = "urn:nvo3-netconf:yang:nvo3-vn"
NS_NVO3_NVE = "urn:nvo3-netconf:yang:nvo3-nve"
NS_NVO3_MAPPING = "urn:nvo3-netconf:yang:nvo3-mapping"
NS_NVO3_POLICY = "urn:nvo3-netconf:yang:nvo3-policy"
NS_ACL = "urn:ietf:params:xml:ns:yang:ietf-access-control-list"

# Capabilities (RFC 6241 sec. 8 and Appendix C, RFC 6243, RFC 5277, RFC 6022).
CAP_BASE_10 = "urn:ietf:params:netconf:base:1.0"
CAP_BASE_11 = "urn:ietf:params:netconf:base:1.1"
CAP_WRITABLE_RUNNING = "urn:ietf:params:netconf:capability:writable-running:1.0"
CAP_CANDIDATE = "urn:ietf:params:netconf:capability:candidate:1.0"
CAP_CONFIRMED_COMMIT = "urn:ietf:params:netconf:capability:confirmed-commit:1.1"
CAP_ROLLBACK_ON_ERROR = "urn:ietf:params:netconf:capability:rollback-on-error:1.0"
CAP_VALIDATE = "urn:ietf:params:netconf:capability:validate:1.1"
CAP_STARTUP = "urn:ietf:params:netconf:capability:startup:1.0"
CAP_URL = "urn:ietf:params:netconf:capability:url:1.0"
CAP_XPATH = "urn:ietf:params:netconf:capability:xpath:1.0"
CAP_NOTIFICATION = "urn:ietf:params:netconf:capability:notification:1.0"
CAP_INTERLEAVE = "urn:ietf:params:netconf:capability:interleave:1.0"
CAP_WITH_DEFAULTS = "urn:ietf:params:netconf:capability:with-defaults:1.0"
# RFC 7950 sec. 5.6.4: announced with ?revision=...&module-set-id=... by a server that is
# not an NMDA server (the :1.1 capability of RFC 8526 is for those).
CAP_YANG_LIBRARY = "urn:ietf:params:netconf:capability:yang-library:1.0"


class Datastore(StrEnum):
    """Configuration datastores (RFC 6241 sec. 5.1)."""

    RUNNING = "running"
    CANDIDATE = "candidate"
    STARTUP = "startup"


class EditOperation(StrEnum):
    """The ``operation`` attribute of edit-config (RFC 6241 sec. 7.2)."""

    MERGE = "merge"
    REPLACE = "replace"
    CREATE = "create"
    DELETE = "delete"
    REMOVE = "remove"
    NONE = "none"


class DefaultOperation(StrEnum):
    """The ``default-operation`` parameter of edit-config (RFC 6241 sec. 7.2)."""

    MERGE = "merge"
    REPLACE = "replace"
    NONE = "none"


class TestOption(StrEnum):
    """The ``test-option`` parameter of edit-config (RFC 6241 sec. 7.2, 8.6)."""

    __test__ = False  # not a pytest test class

    TEST_THEN_SET = "test-then-set"
    SET = "set"
    TEST_ONLY = "test-only"


class ErrorOption(StrEnum):
    """The ``error-option`` parameter of edit-config (RFC 6241 sec. 7.2)."""

    STOP_ON_ERROR = "stop-on-error"
    CONTINUE_ON_ERROR = "continue-on-error"
    ROLLBACK_ON_ERROR = "rollback-on-error"


class ErrorType(StrEnum):
    """The conceptual layer an error is reported on (RFC 6241 sec. 4.3)."""

    TRANSPORT = "transport"
    RPC = "rpc"
    PROTOCOL = "protocol"
    APPLICATION = "application"


class ErrorSeverity(StrEnum):
    """The ``error-severity`` of an rpc-error (RFC 6241 sec. 4.3)."""

    ERROR = "error"
    WARNING = "warning"


class ErrorTag(StrEnum):
    """Every ``error-tag`` of RFC 6241 Appendix A."""

    IN_USE = "in-use"
    INVALID_VALUE = "invalid-value"
    TOO_BIG = "too-big"
    MISSING_ATTRIBUTE = "missing-attribute"
    BAD_ATTRIBUTE = "bad-attribute"
    UNKNOWN_ATTRIBUTE = "unknown-attribute"
    MISSING_ELEMENT = "missing-element"
    BAD_ELEMENT = "bad-element"
    UNKNOWN_ELEMENT = "unknown-element"
    UNKNOWN_NAMESPACE = "unknown-namespace"
    ACCESS_DENIED = "access-denied"
    LOCK_DENIED = "lock-denied"
    RESOURCE_DENIED = "resource-denied"
    ROLLBACK_FAILED = "rollback-failed"
    DATA_EXISTS = "data-exists"
    DATA_MISSING = "data-missing"
    OPERATION_NOT_SUPPORTED = "operation-not-supported"
    OPERATION_FAILED = "operation-failed"
    PARTIAL_OPERATION = "partial-operation"
    MALFORMED_MESSAGE = "malformed-message"


class WithDefaults(StrEnum):
    """Retrieval modes of RFC 6243 sec. 3."""

    REPORT_ALL = "report-all"
    REPORT_ALL_TAGGED = "report-all-tagged"
    TRIM = "trim"
    EXPLICIT = "explicit"


class FramingVersion(StrEnum):
    """Message framing of RFC 6242 sec. 4: end-of-message (1.0) or chunked (1.1)."""

    EOM = "1.0"
    CHUNKED = "1.1"


class TerminationReason(StrEnum):
    """Why a session ended (RFC 6470 sec. 2.2 ``netconf-session-end/termination-reason``)."""

    CLOSED = "closed"  # <close-session>
    KILLED = "killed"  # <kill-session> (killed-by names the killer)
    DROPPED = "dropped"  # the transport went away without <close-session>
    TIMEOUT = "timeout"  # inactivity
    BAD_HELLO = "bad-hello"  # the client's <hello> was invalid
    OTHER = "other"  # anything else: shutdown, a notification backlog, a framing error
