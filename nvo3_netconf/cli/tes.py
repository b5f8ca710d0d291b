"""``nvo3-tes``: the TES (hypervisor) signalling client."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``nvo3-tes`` with ``argv`` and return the exit code."""
    parser = argparse.ArgumentParser(prog="nvo3-tes", description="the TES (hypervisor) signalling client")
    parser.parse_args(argv)
    print("nvo3-tes: not yet implemented", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
