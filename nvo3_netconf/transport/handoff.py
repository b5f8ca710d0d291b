"""The ``netconf`` subsystem of OpenSSH without a relay in the data path.

sshd starts the subsystem program with the SSH channel on its stdin and stdout (pipes
on Debian's OpenSSH). A byte relay such as socat then copies every message twice more
(pipe -> relay -> Unix socket -> agent and back), in a process of its own. Instead,
``nvo3-nve-subsystem`` connects to the agent's Unix socket and hands it those two
file descriptors (``SCM_RIGHTS``): the agent reads and writes sshd's pipes itself, and
the program only waits, idle, until the agent ends the session (sshd ends the channel
when its subsystem exits). The agent still learns the user from ``SO_PEERCRED`` of
that connection, as with socat::

    Subsystem netconf /usr/local/bin/nvo3-nve-subsystem /run/nvo3-nve/netconf.sock

Protocol on the Unix connection: the program sends one byte, :data:`HANDOFF`, with the
descriptors of its stdin and stdout; nothing else is ever sent. The agent closes the
connection when the session is over. A relay that sends the NETCONF stream itself
(socat) is told apart by its first byte, which can never be :data:`HANDOFF`.

Public names: :func:`hand_off` (the program's side), :func:`first_message` and
:func:`receive_handoff` (the agent's side, with ``unix.PipeLink``). Only the standard
library is imported here, so that the program starts in milliseconds.
"""

from __future__ import annotations

import array
import os
import select
import socket

HANDOFF = b"\x00"
"""The single byte sent with the descriptors (never the first byte of XML)."""

_FD_SPACE = socket.CMSG_SPACE(2 * array.array("i").itemsize)


def hand_off(path: str, *, read_fd: int = 0, write_fd: int = 1) -> int:
    """Give the agent at ``path`` the channel's descriptors, then wait until it is done.

    Returns:
        0 once the agent closed the connection; 1 when it could not be reached.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        sock.sendmsg([HANDOFF], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                  array.array("i", [read_fd, write_fd]))])
    except OSError as error:
        os.write(2, f"nvo3-nve-subsystem: cannot reach the agent at {path}: {error}\n".encode())
        return 1
    # Keep no copy of the channel: when the agent closes it, sshd must see the end.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, read_fd)
    os.dup2(null, write_fd)
    os.close(null)
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
    return 0


def receive_handoff(first: bytes, fds: list[int]) -> tuple[int, int] | None:
    """The channel's (read, write) descriptors if ``first`` / ``fds`` are a hand-off.

    Descriptors that are not part of a valid hand-off are closed.
    """
    if first == HANDOFF and len(fds) == 2:
        return fds[0], fds[1]
    for fd in fds:
        os.close(fd)
    return None


def first_message(conn: socket.socket, size: int, wait: float) -> tuple[bytes, list[int]] | None:
    """Read what a new relay sends first: bytes, plus descriptors if it hands off.

    Returns None when it sent nothing within ``wait`` seconds (a byte relay whose
    client waits for the server's hello first); ``(b"", [])`` at end of stream.
    """
    ready, _, _ = select.select([conn], [], [], wait)
    if not ready:
        return None
    data, ancillary, _flags, _addr = conn.recvmsg(size, _FD_SPACE)
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received = array.array("i")
            usable = len(payload) - len(payload) % received.itemsize
            received.frombytes(payload[:usable])
            fds.extend(received)
    return data, fds
