"""Benchmark our NVE agent against yuma123 netconfd, side by side (issue 3, "Performance").

Run from the repository root (this is what ``make bench`` runs)::

    .venv/bin/python bench/run.py [--quick] [--only ours,ours-openssh,netconfd]

It starts, in a temporary directory, three servers loaded with the test module
``nvo3-test``:

- ``ours``: our agent (``nvo3-nve serve``) with its built-in paramiko SSH server on a
  free loopback port;
- ``ours-openssh``: our agent on a Unix socket (``--unix-socket --no-builtin-ssh``)
  behind its own private OpenSSH ``sshd``, whose netconf subsystem hands the channel
  to the agent (``nvo3-nve-subsystem``; ``--relay socat`` for a byte relay) (``agent.py``);
- ``netconfd``: Debian's yuma123 ``netconfd`` behind its own private ``sshd``
  (``netconfd.py``), configured like the one above (``sshd.py``) except the Subsystem line.

It measures them one after the other with the same raw NETCONF client (``client.py``);
prints a table with the ratio of each of ours to netconfd and the goals as PASS/FAIL
(judged on the better of our two deployments); writes ``docs/performance.md``; and stops
everything it started.

Exit codes: 0 the run completed (whatever the goals say; see ``--strict``); 1 usage
error, or a server could not be started (the message names what is missing); 2 with
``--strict``, a goal failed.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import shlex
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from agent import OpenSSHAgent, OurAgent  # noqa: E402
from measure import Options, Server, fdatasync_latency, run_all  # noqa: E402
from netconfd import ReferenceServer  # noqa: E402
from processes import StartError, make_client_key  # noqa: E402
from report import goal_lines, machine, markdown, text_table, verdicts  # noqa: E402

MODULE = ROOT / "tests" / "yang" / "modules" / "nvo3-test@2026-11-21.yang"
SERVERS = ("ours", "ours-openssh", "netconfd")


def _server_list(text: str) -> tuple[str, ...]:
    """``--only``: one server name or a comma-separated list, in the benchmark's order."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - set(SERVERS)
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown server {', '.join(sorted(unknown)) or '(none)'}; "
            f"choose from {', '.join(SERVERS)} (comma-separated)")
    return tuple(name for name in SERVERS if name in names)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description="Benchmark the NVE agent against yuma123 netconfd.")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and shorter limits (about a minute)")
    parser.add_argument("--only", type=_server_list, metavar="SERVER[,SERVER]",
                        help="measure only these of ours, ours-openssh, netconfd "
                             "(comma-separated; without netconfd ratios and some goals "
                             "become n/a)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md",
                        help="where to write the report (default docs/performance.md)")
    parser.add_argument("--no-output", action="store_true", help="do not write the report")
    parser.add_argument("--bulk-timeout", type=float,
                        help="seconds a server gets for one large request (default 60, "
                             "quick 20); netconfd needs minutes for 100,000 entries")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (logs, configs) for inspection")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a goal fails")
    parser.add_argument("--relay", choices=("handoff", "socat"), default="handoff",
                        help="the netconf subsystem of ours-openssh: nvo3-nve-subsystem "
                             "(hands the channel to the agent; default) or a socat byte relay")
    return parser


def _options(args: argparse.Namespace) -> Options:
    if args.quick:
        options = Options(small_reps=100, bulk_reps=1, large_edit_reps=5,
                          large_edit_budget=5.0, bulk_timeout=20.0, load_seconds=2.0,
                          rounds=2)
    else:
        options = Options()
    if args.bulk_timeout:
        options = Options(**{**options.__dict__, "bulk_timeout": args.bulk_timeout})
    return options


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so every `finally` stops what it started.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if not MODULE.exists():
        print(f"bench: test module not found: {MODULE}", file=sys.stderr)
        return 1
    options = _options(args)
    command = " ".join([".venv/bin/python bench/run.py",
                        shlex.join(sys.argv[1:] if argv is None else argv)]).strip()
    started = time.monotonic()
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    workdir = Path(tempfile.mkdtemp(prefix="nvo3-bench-"))
    keep = args.keep
    try:
        with ExitStack() as stack:
            key, public_key = make_client_key(workdir)
            yang_dir = workdir / "yang"
            yang_dir.mkdir()
            shutil.copy(MODULE, yang_dir / MODULE.name)  # only the test module, as netconfd
            servers: list[Server] = []
            setup: dict[str, str] = {}
            selected = args.only or SERVERS
            user = getpass.getuser()
            note = (f"(<tmp>/yang holds a copy of {MODULE.relative_to(ROOT)} only; the "
                    "agent also loads its own yang/ modules)")
            if "ours" in selected:
                (workdir / "ours").mkdir()
                agent = OurAgent(workdir / "ours", user=user, public_key=public_key,
                                 yang_dir=yang_dir)
                stack.enter_context(agent)
                servers.append(agent)
                setup["ours"] = f"{agent.describe()}\n{note}"
                print(f"bench: our agent (built-in SSH) listens on 127.0.0.1:{agent.port}",
                      file=sys.stderr)
            if "ours-openssh" in selected:
                (workdir / "ours-openssh").mkdir()
                relayed = OpenSSHAgent(workdir / "ours-openssh", user=user,
                                       public_key=public_key, yang_dir=yang_dir,
                                       relay=args.relay)
                stack.enter_context(relayed)
                servers.append(relayed)
                setup["ours-openssh"] = f"{relayed.describe()}\n{note}"
                print(f"bench: our agent (OpenSSH) listens (sshd) on 127.0.0.1:{relayed.port}",
                      file=sys.stderr)
            if "netconfd" in selected:
                (workdir / "ref").mkdir()
                reference = ReferenceServer(workdir / "ref", public_key=public_key,
                                            module=MODULE)
                stack.enter_context(reference)
                servers.append(reference)
                setup["netconfd"] = reference.describe()
                print(f"bench: netconfd listens (sshd) on 127.0.0.1:{reference.port}",
                      file=sys.stderr)
            setup = {name: text.replace(str(workdir), "<tmp>") for name, text in setup.items()}
            fsync = fdatasync_latency(workdir)
            results = run_all(servers, key, options)
    except StartError as error:
        keep = True
        print(f"bench: cannot start a server: {error}", file=sys.stderr)
        return 1
    except BaseException:
        keep = True
        raise
    finally:
        if keep:
            print(f"bench: work directory (logs, configs) kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    mode = "quick" if args.quick else "full"
    if args.only:
        mode += f", {', '.join(args.only)} only"
    mode += f", {time.monotonic() - started:.0f} s"
    print()
    print(text_table(results))
    print()
    print(goal_lines(results), flush=True)
    if not args.no_output:
        env = machine(ROOT)
        env["fdatasync"] = f"{fsync * 1e3:.2f} ms"
        env["relay"] = args.relay
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown(results, command=command, date=date, env=env,
                                        setup=setup, mode=mode), encoding="utf-8")
        print(f"\nbench: report written to {args.output}", file=sys.stderr)
    if args.strict and any(v == "FAIL" for _, v, _, _ in verdicts(results)):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
