"""Reading libyang's compiled schema (``lysc``) through the cffi bindings.

libyang 2 keeps the compiled form of RFC 7950 statements in C structures; the Python
bindings declare most of them, and these helpers read what :mod:`.rules` needs:
libyang's sized arrays (``LY_ARRAY``, the count stored just before the first item), the
``when`` of a node (RFC 7950 sec. 7.21.5, with libyang's context node), the resolved
prefixes of an XPath expression (sec. 6.4.1) and two structures the bindings leave
opaque, read by their C layout and checked before use: a choice's default case
(sec. 7.9.3) and the derived identities of an identity (sec. 7.18.2, for
``derived-from()``).

Public names: :data:`CData`, :func:`sized`, :func:`text`, :func:`node_whens`,
:func:`expression_prefixes`, :func:`default_case`, :func:`derived_identities`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from _libyang import ffi, lib

CData = Any
"""A cffi pointer into libyang's compiled schema (``struct lysc_node *`` and the like)."""

# struct lysc_ident: name, dsc, ref, module, derived, exts (pointers), then uint16 flags.
_IDENT_STRIDE = 7 * ffi.sizeof("void *")


def sized(array: CData) -> int:
    """The item count of a libyang sized array (0 for NULL)."""
    if array == ffi.NULL:
        return 0
    return int(ffi.cast("uint64_t *", array)[-1])


def text(pointer: CData) -> str:
    """A C string as text (``""`` for NULL)."""
    return "" if pointer == ffi.NULL else str(ffi.string(pointer).decode())


def node_whens(cnode: CData) -> list[CData]:
    """The ``struct lysc_when *`` of a schema node (its own, from ``uses``/``augment``)."""
    whens = lib.lysc_node_when(cnode)
    return [whens[i] for i in range(sized(whens))]


def expression_prefixes(cprefixes: CData) -> dict[str, str]:
    """Prefix -> namespace of an expression's resolved prefixes (``struct lysc_prefix``).

    The bindings do not declare ``struct lysc_prefix`` (``char *prefix``,
    ``struct lys_module *mod``); the entry without a prefix names the defining module,
    which is not what unprefixed names resolve to, and is skipped.
    """
    found: dict[str, str] = {}
    pairs = ffi.cast("void **", cprefixes)
    for i in range(sized(cprefixes)):
        if pairs[2 * i] != ffi.NULL:
            module = ffi.cast("struct lys_module *", pairs[2 * i + 1])
            found[text(ffi.cast("char *", pairs[2 * i]))] = text(module.ns)
    return found


def default_case(cchoice: CData) -> str | None:
    """The name of a choice's default case (``struct lysc_node_choice.dflt``).

    The bindings do not declare ``lysc_node_choice``; after the common node header its
    fields are ``cases``, ``when``, ``dflt`` where a container has ``child``, ``musts``,
    ``when``. The pointer is trusted only if it is one of the choice's cases.
    """
    candidate = ffi.cast("struct lysc_node *",
                         ffi.cast("struct lysc_node_container *", cchoice).when)
    if candidate == ffi.NULL or candidate.nodetype != lib.LYS_CASE or \
            candidate.parent != cchoice:
        return None
    return text(candidate.name)


def derived_identities(module: CData) -> dict[str, list[str]] | None:
    """``module:identity`` -> the identities directly derived from it, for one module.

    Returns:
        The map, or None when the layout of ``struct lysc_ident`` is not the expected
        one (each identity must point back to its module).
    """
    identities = module.identities
    base = ffi.cast("char *", identities)
    direct: dict[str, list[str]] = {}
    for i in range(sized(identities)):
        fields = ffi.cast("void **", base + _IDENT_STRIDE * i)
        if ffi.cast("struct lys_module *", fields[3]) != module:
            return None
        children = ffi.cast("void **", fields[4])
        direct[_identity_name(fields)] = [
            _identity_name(ffi.cast("void **", children[j])) for j in range(sized(children))
        ]
    return direct


def _identity_name(fields: CData) -> str:
    module = ffi.cast("struct lys_module *", fields[3])
    return f"{text(module.name)}:{text(ffi.cast('char *', fields[0]))}"


def schema_children(parent: CData, module: CData, options: int) -> Iterator[CData]:
    """``lys_getnext`` as an iterator over a parent's (or a module's) schema children."""
    last = ffi.NULL
    while True:
        last = lib.lys_getnext(last, parent, module, options)
        if last == ffi.NULL:
            return
        yield last
