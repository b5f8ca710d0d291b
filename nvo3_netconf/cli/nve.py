"""``nvo3-nve``: the NVE agent, a NETCONF server over SSH.

Commands:
    serve          run the agent (``--config FILE`` and/or flags)
    hash-password  print the scrypt hash of a password for the users file

Exit codes: 0 ok, 1 usage or configuration error.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from nvo3_netconf.errors import ConfigError
from nvo3_netconf.server.auth import hash_password
from nvo3_netconf.server.config import ServerConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nvo3-nve", description="The NVO3 NVE agent.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the NETCONF server")
    serve.add_argument("--config", type=Path, help="TOML configuration file")
    serve.add_argument("--listen", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default 830; 0 = any free port)")
    serve.add_argument("--state-dir", type=Path, help="where datastores and the host key live")
    serve.add_argument("--users-file", type=Path, help="TOML users file")
    serve.add_argument("--host-key", type=Path, help="SSH host key (created if absent)")
    serve.add_argument("--yang-dir", type=Path, action="append", default=None,
                       help="extra directory of YANG modules to load and serve (repeatable)")
    serve.add_argument("--load", choices=("running", "startup"),
                       help="start from the last running (default) or from startup")
    serve.add_argument("--unix-socket", type=Path,
                       help="also serve sessions relayed by OpenSSH through this socket")
    serve.add_argument("--no-builtin-ssh", action="store_true",
                       help="do not run the built-in SSH listener (OpenSSH only)")
    serve.add_argument("--dataplane", choices=("none", "linux"),
                       help="forwarding plane to program (default none: datastore only)")
    serve.add_argument("--dataplane-netns", metavar="NAME",
                       help="network namespace the linux data plane programs")
    serve.add_argument("--dataplane-underlay-interface", metavar="IFNAME",
                       help="underlay interface VXLAN devices are bound to")
    serve.add_argument("--nacm-recovery-user", metavar="USER",
                       help="the user NACM does not apply to (RFC 8341 sec. 3.6.1)")
    serve.add_argument("--nacm-bootstrap-group", metavar="GROUP",
                       help='may do everything while no NACM rule-list exists '
                            '(default admin; "" for none)')
    serve.add_argument("--port-file", type=Path,
                       help="write the bound port here once listening (for scripts)")
    hashing = commands.add_parser("hash-password", help="hash a password for the users file")
    hashing.add_argument("--stdin", action="store_true", help="read the password from stdin")
    return parser


def _env_overrides() -> dict[str, object]:
    env = os.environ
    overrides: dict[str, object] = {}
    if "NVO3_LISTEN" in env:
        overrides["listen"] = env["NVO3_LISTEN"]
    if "NVO3_PORT" in env:
        overrides["port"] = int(env["NVO3_PORT"])
    if "NVO3_STATE_DIR" in env:
        overrides["state_dir"] = Path(env["NVO3_STATE_DIR"])
    if "NVO3_USERS_FILE" in env:
        overrides["users_file"] = Path(env["NVO3_USERS_FILE"])
    if "NVO3_DATAPLANE" in env:
        overrides["dataplane"] = env["NVO3_DATAPLANE"]
    if "NVO3_DATAPLANE_NETNS" in env:
        overrides["dataplane_netns"] = env["NVO3_DATAPLANE_NETNS"]
    return overrides


def _serve(args: argparse.Namespace) -> int:
    from nvo3_netconf.server.app import build_server

    flags = {
        "listen": args.listen,
        "port": args.port,
        "state_dir": args.state_dir,
        "users_file": args.users_file,
        "host_key": args.host_key,
        "yang_dirs": tuple(args.yang_dir) if args.yang_dir else None,
        "load": args.load,
        "unix_socket": args.unix_socket,
        "builtin_ssh": False if args.no_builtin_ssh else None,
        "dataplane": args.dataplane,
        "dataplane_netns": args.dataplane_netns,
        "dataplane_underlay_interface": args.dataplane_underlay_interface,
        "nacm_recovery_user": args.nacm_recovery_user,
        "nacm_bootstrap_group": args.nacm_bootstrap_group,
    }
    base = (ServerConfig.from_toml(args.config) if args.config else ServerConfig())
    config = base.with_overrides(**_env_overrides()).with_overrides(**flags)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with build_server(config) as server:
        if server.address is not None:
            host, port = server.address
            print(f"nvo3-nve: listening on {host} port {port}", file=sys.stderr, flush=True)
            if args.port_file:
                args.port_file.write_text(f"{port}\n", encoding="utf-8")
        if server.unix_socket is not None:
            print(f"nvo3-nve: subsystem socket {server.unix_socket}", file=sys.stderr,
                  flush=True)
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``nvo3-nve`` with ``argv`` and return the exit code."""
    args = _parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "hash-password":
            password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass()
            print(hash_password(password))
            return 0
        return _serve(args)
    except ConfigError as error:
        print(f"nvo3-nve: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
