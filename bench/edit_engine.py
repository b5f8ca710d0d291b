"""Time the edit-config engine (RFC 6241 sec. 7.2) on large lists.

Run from the repository root::

    .venv/bin/python bench/edit_engine.py [--sizes 10000,100000]

It loads the test module ``nvo3-test`` (list ``/nt:bulk/nt:entry``) and times
:func:`nvo3_netconf.datastore.edit.apply_edit` alone: building the request and copying
the datastore are outside the measured time.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from nvo3_netconf.constants import NS_NC, DefaultOperation
from nvo3_netconf.datastore.edit import apply_edit
from nvo3_netconf.schema import SchemaTree, YangContext

ROOT = Path(__file__).resolve().parent.parent
NS = "urn:nvo3-netconf:yang:nvo3-test"


def bulk(start: int, count: int, value: str, root_tag: str) -> etree._Element:
    """A ``<config>`` or ``<data>`` element holding ``count`` entries from ``start``."""
    root = etree.Element(f"{{{NS_NC}}}{root_tag}", nsmap={None: NS_NC})
    container = etree.SubElement(root, f"{{{NS}}}bulk", nsmap={None: NS})
    for i in range(start, start + count):
        entry = etree.SubElement(container, f"{{{NS}}}entry")
        etree.SubElement(entry, f"{{{NS}}}id").text = str(i)
        etree.SubElement(entry, f"{{{NS}}}value").text = value
    return root


def timed(label: str, run: Callable[[], int]) -> None:
    start = time.perf_counter()
    changes = run()
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {elapsed:8.3f} s  {changes:>7} changes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    with YangContext.load([ROOT / "yang" / "standard", ROOT / "tests" / "yang" / "modules"]) as ctx:
        schema = SchemaTree(ctx)
        big = bulk(0, 100_000, "old", "data")

        def run(data: etree._Element, config: etree._Element,
                default: DefaultOperation = DefaultOperation.MERGE) -> Callable[[], int]:
            return lambda: len(apply_edit(data, config, schema, default_operation=default))

        for n in sizes:
            timed(f"merge {n:,} new entries into an empty list",
                  run(bulk(0, 0, "", "data"), bulk(0, n, "v", "config")))
            timed(f"merge {n:,} new entries into a 100,000-entry list",
                  run(copy.deepcopy(big), bulk(100_000, n, "v", "config")))
            timed(f"merge {n:,} changed values into a 100,000-entry list",
                  run(copy.deepcopy(big), bulk(0, n, "new", "config")))
            timed(f"merge {n:,} identical entries (no-op) into a 100,000 list",
                  run(copy.deepcopy(big), bulk(0, n, "old", "config")))
        timed("merge 1 entry into a 100,000-entry list (one index scan)",
              run(copy.deepcopy(big), bulk(100_000, 1, "v", "config")))
        timed("replace a 100,000-entry list by 100,000 others (default replace)",
              run(copy.deepcopy(big), bulk(100_000, 100_000, "v", "config"),
                  DefaultOperation.REPLACE))


if __name__ == "__main__":
    main()
