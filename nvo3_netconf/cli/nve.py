"""``nvo3-nve``: the NVE agent (NETCONF server)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``nvo3-nve`` with ``argv`` and return the exit code."""
    parser = argparse.ArgumentParser(prog="nvo3-nve", description="the NVE agent (NETCONF server)")
    parser.parse_args(argv)
    print("nvo3-nve: not yet implemented", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
