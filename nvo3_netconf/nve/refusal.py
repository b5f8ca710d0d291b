"""A well-formed signalling message the NVE refuses: answered FAIL with a reason.

Not an ``<rpc-error>``: seed 003 sec. 3.3 answers every message with SUCCESS or FAIL and
a reason, in the reply's ``result`` and ``reason`` leaves. Raised by the authorization,
attachment and resource checks; the service turns it into the reply.

Public names: :class:`Refusal`.
"""

from __future__ import annotations

from nvo3_netconf.errors import Nvo3Error
from nvo3_netconf.nve.lifecycle import ReplyReason

__all__ = ["Refusal"]


class Refusal(Nvo3Error):
    """FAIL with ``reason``; ``message`` is the reply's error-message, for a person.

    Attributes:
        reason: the ``nvo3t:reply-reason`` identity.
        message: a sentence saying what was refused and why.
    """

    def __init__(self, reason: ReplyReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
