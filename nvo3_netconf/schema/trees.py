"""RFC 8340 tree diagrams of YANG modules, printed by libyang.

``python -m nvo3_netconf.schema.trees YANG_DIR OUTPUT.md`` writes the diagram of every
module found directly in ``YANG_DIR`` (the project's own modules) to a Markdown file;
``make docs`` runs it for ``docs/yang-trees.md`` and a test checks that file is current.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from _libyang import ffi, lib

from nvo3_netconf.schema.context import YangContext, _module_names_in


def module_tree(context: YangContext, name: str, *, line_length: int = 72) -> str:
    """The RFC 8340 tree diagram of one module of ``context``.

    Args:
        context: a context in which the module is implemented.
        name: the module name.
        line_length: wrap lines longer than this (RFC 8340 sec. 2.2 allows folding).

    Returns:
        The diagram text.
    """
    module = lib.ly_ctx_get_module_latest(context.libyang.cdata, name.encode())
    if module == ffi.NULL:
        raise KeyError(name)
    text = ffi.new("char **")
    out = ffi.new("struct ly_out **")
    if lib.ly_out_new_memory(text, 0, out) != lib.LY_SUCCESS:
        raise MemoryError("libyang could not open an output buffer")
    try:
        if lib.lys_print_module(out[0], module, lib.LYS_OUT_TREE, line_length, 0):
            raise RuntimeError(f"libyang could not print the tree of {name}")
    finally:
        lib.ly_out_free(out[0], ffi.NULL, 0)
    try:
        return str(ffi.string(text[0]).decode()).rstrip() + "\n"
    finally:
        lib.free(text[0])


def render_markdown(yang_dir: Path) -> str:
    """A Markdown document with the tree diagram of every module in ``yang_dir``."""
    names = _module_names_in(yang_dir)
    search = [yang_dir, yang_dir / "standard"]
    with YangContext.load([d for d in search if d.is_dir()], modules=names) as context:
        parts = [
            "# YANG tree diagrams\n",
            "RFC 8340 tree diagrams of the modules in `yang/`, printed by libyang.",
            "Regenerate with `make docs`; a test fails when this file is stale.\n",
        ]
        for name in names:
            info = context.module(name)
            revision = f"@{info.revision}" if info and info.revision else ""
            parts.append(f"## {name}{revision}\n")
            parts.append("```\n" + module_tree(context, name) + "```\n")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the Markdown tree diagrams: ``trees.py YANG_DIR OUTPUT``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m nvo3_netconf.schema.trees YANG_DIR OUTPUT.md", file=sys.stderr)
        return 1
    Path(args[1]).write_text(render_markdown(Path(args[0])), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
