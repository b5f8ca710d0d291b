"""``ndirector``: the nDirector controller."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``ndirector`` with ``argv`` and return the exit code."""
    parser = argparse.ArgumentParser(prog="ndirector", description="the nDirector controller")
    parser.parse_args(argv)
    print("ndirector: not yet implemented", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
