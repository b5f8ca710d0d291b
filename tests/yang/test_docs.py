"""docs/yang-trees.md is the current RFC 8340 rendering of every module in yang/."""

from __future__ import annotations

from nvo3_netconf.schema.trees import render_markdown
from tests.conftest import ROOT, YANG_DIR


def test_tree_diagrams_are_current() -> None:
    expected = render_markdown(YANG_DIR)
    actual = (ROOT / "docs" / "yang-trees.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/yang-trees.md is stale: run `make docs`"


def test_tree_diagrams_cover_every_module() -> None:
    text = (ROOT / "docs" / "yang-trees.md").read_text(encoding="utf-8")
    for path in sorted(YANG_DIR.glob("*.yang")):
        name = path.name.split("@")[0]
        assert f"module: {name}" in text
