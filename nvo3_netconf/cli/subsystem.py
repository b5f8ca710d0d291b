"""``nvo3-nve-subsystem SOCKET``: OpenSSH's ``netconf`` subsystem for the NVE agent.

Set in sshd_config as ``Subsystem netconf /path/to/nvo3-nve-subsystem SOCKET`` where
SOCKET is the agent's ``--unix-socket``. It hands the SSH channel to the agent and waits
(see :mod:`nvo3_netconf.transport.handoff`); it imports nothing else, so it starts fast.
"""

from __future__ import annotations

import sys

from nvo3_netconf.transport.handoff import hand_off

_USAGE = "usage: nvo3-nve-subsystem SOCKET  (the agent's --unix-socket path)\n"


def main(argv: list[str] | None = None) -> int:
    """Hand the channel on stdin/stdout to the agent; 0 when its session ended."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write(_USAGE)
        return 2
    return hand_off(args[0])


if __name__ == "__main__":
    sys.exit(main())
