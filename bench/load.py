"""One session of the concurrent-read load: a worker process started by ``run.py``.

Protocol with the parent (one line each, on stdin / stdout):

1. the worker connects and prints ``ready``;
2. it waits for a line on stdin (the start signal, sent to all workers at once);
3. it sends small ``<get-config>`` requests (subtree filter on one entry), one at a time,
   for ``--duration`` seconds, and prints one JSON object:
   ``{"rpcs": N, "errors": E, "elapsed": S, "error": "first error or empty"}``.

Each session runs in its own process so the client side is not serialised by one
interpreter's lock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from client import NetconfClient, SessionClosed  # noqa: E402
from workload import get_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one concurrent-read benchmark session")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--entry", type=int, default=5)
    args = parser.parse_args(argv)
    rpcs = errors = 0
    first_error = ""
    try:
        client = NetconfClient("127.0.0.1", args.port, user=args.user, key_file=args.key,
                               timeout=60)
    except Exception as error:  # report any connection failure to the parent
        print("ready", flush=True)
        sys.stdin.readline()
        _report(0, 1, 0.0, f"connect: {error!r}")
        return 0
    operation = get_config(args.entry)
    with client:
        print("ready", flush=True)
        sys.stdin.readline()
        start = time.perf_counter()
        end = start + args.duration
        now = start
        while now < end:
            try:
                reply = client.send_rpc(client.rpc_bytes(operation))
            except (SessionClosed, OSError, RuntimeError) as error:
                errors += 1
                first_error = first_error or repr(error)
                break
            rpcs += 1
            if not reply.ok:
                errors += 1
                first_error = first_error or reply.error()
            now = time.perf_counter()
        # Report before closing: a failure to close is not part of the measurement.
        _report(rpcs, errors, now - start, first_error)
    return 0


def _report(rpcs: int, errors: int, elapsed: float, error: str) -> None:
    print(json.dumps({"rpcs": rpcs, "errors": errors, "elapsed": elapsed, "error": error}),
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
