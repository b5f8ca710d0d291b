"""The output of the nvo3-tes signalling RPCs (grouping ``signalling-reply``).

Seed 003 sec. 3.3 "Response": SUCCESS or FAIL with a reason; on success the local VID
(REQUIREMENT-4) and PCP (REQUIREMENT-5) assigned per VN and filter entry; plus the VM's
state afterwards and the keep-alive interval and aging time the TES must respect
(sec. 3.3.8). Output nodes are top-level children of ``<rpc-reply>`` in the schema's
order (RFC 7950 sec. 7.14.4), each declaring the nvo3-tes namespace.

Public names: :class:`Reply`, :func:`reply_elements`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from nvo3_netconf.constants import NS_NVO3_TES, NS_NVO3_TYPES
from nvo3_netconf.nve.encoding import leaf
from nvo3_netconf.nve.lifecycle import ReplyReason, Result, VMState
from nvo3_netconf.nve.resources import Assignment
from nvo3_netconf.protocol.xml import element

__all__ = ["Reply", "reply_elements"]

_T = NS_NVO3_TES


@dataclass(frozen=True)
class Reply:
    """The answer to one signalling message."""

    result: Result
    reason: ReplyReason | None = None
    message: str | None = None
    state: VMState | None = None
    keep_alive_interval: int | None = None
    aging_time: int | None = None
    assignments: tuple[Assignment, ...] = ()


def reply_elements(reply: Reply) -> list[etree._Element]:
    """The output nodes of ``reply``, ready to be appended to ``<rpc-reply>``."""
    nodes = [element(_T, "result", reply.result.value)]
    if reply.reason is not None:
        reason = element(_T, "reason", f"nvo3t:{reply.reason.value}",
                         nsmap={None: _T, "nvo3t": NS_NVO3_TYPES})
        nodes.append(reason)
    for name, value in (
        ("error-message", reply.message),
        ("vm-state", reply.state.value if reply.state is not None else None),
        ("keep-alive-interval", reply.keep_alive_interval),
        ("aging-time", reply.aging_time),
    ):
        if value is not None:
            nodes.append(element(_T, name, str(value)))
    for assignment in reply.assignments:
        if assignment.vid is None:
            continue  # not reserved yet: nothing assigned
        node = element(_T, "assignment")
        leaf(node, _T, "vn-name", assignment.vn)
        leaf(node, _T, "vnid", assignment.vnid)
        leaf(node, _T, "mac", assignment.mac)
        leaf(node, _T, "group-id", assignment.group_id)
        leaf(node, _T, "vid", assignment.vid)
        leaf(node, _T, "pcp", assignment.pcp)
        nodes.append(node)
    return nodes
