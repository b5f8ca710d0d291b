"""The libyang context: which YANG modules the agent knows, serves and validates against.

:class:`YangContext` loads our modules (``yang/``), the standard ones they and the NETCONF
server need (``yang/standard/``) and any module an operator drops into an extra
directory, compiles them with every feature enabled, and answers questions about them:
the module list for the hello (RFC 6241 sec. 8.1, RFC 7950 sec. 5.6.4), RFC 8525 YANG
library data, module source for ``<get-schema>`` (RFC 6022 sec. 3.1) and the compiled
schema tree (:mod:`nvo3_netconf.schema.nodes`). Validation lives in
:mod:`nvo3_netconf.schema.validate`.

libyang's context is safe for concurrent data parsing once compiled; modules are only
loaded in :meth:`YangContext.load`, before the context is shared.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import libyang
from _libyang import ffi, lib
from libyang import Module as LibyangModule

from nvo3_netconf.constants import Datastore
from nvo3_netconf.errors import ConfigError
from nvo3_netconf.schema.lysc import sized

#: Standard modules the NETCONF server itself implements (RFC 6241, 6243, 6022, 5277,
#: 6470, 8341, 8525); loaded whenever the directory holding them is searched.
SERVER_MODULES: tuple[str, ...] = (
    "ietf-netconf",
    "ietf-netconf-with-defaults",
    "ietf-netconf-monitoring",
    "ietf-netconf-notifications",
    "ietf-netconf-acm",
    "ietf-yang-library",
    "notifications",
    "nc-notifications",
)

#: Features served where not every feature of a module is: the :url capability
#: (RFC 6241 sec. 8.8) is not offered.
SERVER_FEATURES: dict[str, tuple[str, ...]] = {
    "ietf-netconf": (
        "writable-running", "candidate", "confirmed-commit", "rollback-on-error",
        "validate", "startup", "xpath",
    ),
}

#: libyang's own module ``yang`` (the metadata of its diff format) is no module the agent
#: serves: its text is not valid YANG 1.0 (``empty`` in a union, which pyang refuses) and
#: none of its data can occur. The hello, the YANG library, the RFC 6022 schema list and
#: ``<get-schema>`` leave it out; the ``insert``/``key``/``value`` attributes of its
#: namespace are RFC 7950's own (sec. 7.8.6) and need no module.
INTERNAL_MODULES: frozenset[str] = frozenset({"yang"})

_FILE_LOCATION = re.compile(r"\s*<(schema|location)>file://[^<]*</\1>")
_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z_][\w.-]*?)(@(?P<rev>\d{4}-\d{2}-\d{2}))?\.yang$")


@dataclass(frozen=True)
class ModuleInfo:
    """One module of the context, as the YANG library and the hello describe it.

    Attributes:
        name: module name.
        revision: newest revision date, or ``""`` when the module has none.
        namespace: XML namespace (RFC 7950 sec. 7.1.3).
        prefix: the module's own prefix.
        features: names of the enabled features.
        deviations: names of the modules that deviate this one (RFC 7950 sec. 5.6.4:
            the hello lists them; RFC 8525 ``deviation``), sorted.
        implemented: True when implemented, False when only imported for its types.
        filepath: the file it was loaded from, if any.
    """

    name: str
    revision: str
    namespace: str
    prefix: str
    features: tuple[str, ...]
    implemented: bool
    filepath: str | None
    deviations: tuple[str, ...] = ()


def _module_names_in(directory: Path) -> list[str]:
    """Names of the modules whose files (``name[@rev].yang``) sit in ``directory``."""
    names: list[str] = []
    for path in sorted(directory.glob("*.yang")):
        match = _FILE_NAME.match(path.name)
        if match and match["name"] not in names:
            names.append(match["name"])
    return names


class YangContext:
    """A compiled libyang context holding the modules the agent serves.

    Use :meth:`load`; the object is a context manager that frees the libyang context.
    """

    def __init__(self, context: libyang.Context, search_dirs: Sequence[Path]) -> None:
        self._ctx = context
        self.search_dirs: tuple[Path, ...] = tuple(search_dirs)
        self._modules = self._collect_modules()
        self._namespaces = {m.namespace: m for m in self._modules if m.implemented}
        digest = hashlib.sha256()
        for info in sorted(self._modules, key=lambda m: (m.name, m.revision)):
            digest.update(repr((info.name, info.revision, info.implemented,
                                sorted(info.features), info.deviations)).encode())
        self._content_id = digest.hexdigest()[:16]

    @classmethod
    def load(
        cls,
        search_dirs: Iterable[Path | str],
        *,
        modules: Iterable[str] | None = None,
    ) -> YangContext:
        """Build a context from directories of ``.yang`` files.

        Every module found directly in a search directory is implemented, except in a
        directory named ``standard``, where only :data:`SERVER_MODULES` are implemented
        and the rest are loaded on import (as RFC 7950 sec. 5.6.5 "import-only").

        Args:
            search_dirs: directories searched for modules, in order.
            modules: implement exactly these modules (plus the server modules) instead
                of every module found.

        Returns:
            The compiled context.

        Raises:
            ConfigError: a directory is missing or a module does not compile.
        """
        dirs = [Path(d) for d in search_dirs]
        for directory in dirs:
            if not directory.is_dir():
                raise ConfigError(f"YANG directory {directory} does not exist")
        if modules is None:
            wanted: list[str] = []
            for directory in dirs:
                if directory.name == "standard":
                    found = [m for m in _module_names_in(directory) if m in SERVER_MODULES]
                else:
                    found = _module_names_in(directory)
                wanted.extend(m for m in found if m not in wanted)
        else:
            wanted = list(modules)
        wanted.extend(m for m in SERVER_MODULES if m not in wanted)
        # Errors are only stored (per thread) for the validator, never logged: they are
        # the peer's mistakes. Registering a callback with path=True is what makes
        # libyang resolve the data path of each stored error.
        lib.ly_log_options(lib.LY_LOSTORE)
        lib.ly_set_log_clb(lib.lypy_log_cb, True)
        ctx = libyang.Context(":".join(str(d) for d in dirs))
        star = ffi.new("char[]", b"*")  # kept alive while the array is in use
        all_features = ffi.new("char *[]", [star, ffi.NULL])
        keep = []  # C strings must outlive the calls that use them
        for name in wanted:
            features = all_features
            if name in SERVER_FEATURES:
                keep = [ffi.new("char[]", f.encode()) for f in SERVER_FEATURES[name]]
                features = ffi.new("char *[]", [*keep, ffi.NULL])
            module = lib.ly_ctx_load_module(ctx.cdata, name.encode(), ffi.NULL, features)
            if module == ffi.NULL:
                message = _last_errors(ctx)
                ctx.destroy()
                raise ConfigError(f"cannot load YANG module {name}: {message}")
        _enable_all_features(ctx, all_features)
        return cls(ctx, dirs)

    def close(self) -> None:
        """Free the libyang context."""
        self._ctx.destroy()

    def __enter__(self) -> YangContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def libyang(self) -> libyang.Context:
        """The underlying libyang context (for the other modules of this package)."""
        return self._ctx

    @property
    def content_id(self) -> str:
        """The YANG library's ``content-id`` / ``module-set-id`` (RFC 8525, RFC 7895).

        A digest of the module set (names, revisions, features, conformance): the same
        modules give the same id across restarts, so clients may cache what they learnt.
        """
        return self._content_id

    @property
    def modules(self) -> tuple[ModuleInfo, ...]:
        """Every module in the context, implemented or import-only."""
        return self._modules

    @property
    def served_modules(self) -> tuple[ModuleInfo, ...]:
        """The modules clients learn of (every module but :data:`INTERNAL_MODULES`)."""
        return tuple(m for m in self._modules if m.name not in INTERNAL_MODULES)

    def module_by_namespace(self, namespace: str) -> ModuleInfo | None:
        """The implemented module owning ``namespace``, or None."""
        return self._namespaces.get(namespace)

    def module(self, name: str) -> ModuleInfo | None:
        """The module called ``name`` (newest revision), or None."""
        for info in self._modules:
            if info.name == name:
                return info
        return None

    def module_source(self, name: str, revision: str | None = None) -> str:
        """The YANG text of a module, for ``<get-schema>`` (RFC 6022 sec. 3.1).

        Args:
            name: module name.
            revision: the revision asked for, or None for the newest.

        Returns:
            The module's source text (the file it was loaded from, or libyang's print).

        Raises:
            KeyError: no such module or revision.
        """
        info = self.module(name)
        if info is None or name in INTERNAL_MODULES or (revision and revision != info.revision):
            raise KeyError(name if not revision else f"{name}@{revision}")
        if info.filepath and Path(info.filepath).is_file():
            return Path(info.filepath).read_text(encoding="utf-8")
        return str(self._ctx.get_module(name).print_mem("yang"))

    def iter_libyang_modules(self) -> Iterator[LibyangModule]:
        """The implemented libyang modules (for the schema-tree builder and printers)."""
        for info in self._modules:
            if info.implemented:
                yield self._ctx.get_module(info.name)

    def yang_library_xml(
        self, content_id: str, datastores: Iterable[Datastore] = tuple(Datastore)
    ) -> str:
        """RFC 8525 ``yang-library`` and RFC 7895 ``modules-state`` data, as XML text.

        libyang builds the module set and the one schema (``complete``) from the context;
        it lists no datastore. RFC 8525 ``list datastore``: "The server MUST instantiate
        one entry in this list per specific datastore it supports", so one entry per
        datastore of ``datastores`` is added, each naming that schema (the same schema
        for all: "Each datastore entry with the same datastore schema SHOULD reference
        the same schema"). The default is every datastore the NETCONF server supports:
        running, candidate and startup (RFC 6241 sec. 5.1, 8.3, 8.7; RFC 8342
        ``ds:running``, ``ds:candidate``, ``ds:startup``). ``ds:operational`` is not
        listed: the server is no NMDA server, it implements no RFC 8526 ``<get-data>``
        through which a client could address the operational state datastore, and RFC
        6241's ``<get>`` (running plus state data) is no RFC 8342 datastore. The list is
        a constant of the server, so ``content-id`` (a digest of the module set) still
        changes exactly when the ``yang-library`` content does.

        Args:
            content_id: the ``content-id`` / ``module-set-id`` to report.
            datastores: the datastores to list in ``/yang-library/datastore``.

        Returns:
            The XML of both top-level containers.
        """
        data = self._ctx.get_yanglib_data(content_id)
        try:
            schemas = [str(leaf.value()) for leaf in
                       data.find_all("/ietf-yang-library:yang-library/schema/name")]
            for datastore in datastores if schemas else ():
                data.new_path(
                    "/ietf-yang-library:yang-library/datastore"
                    f"[name='ietf-datastores:{datastore.value}']/schema",
                    schemas[0],
                )
            internal = [
                node
                for name in sorted(INTERNAL_MODULES)
                for path in (
                    f"/ietf-yang-library:yang-library/module-set/module[name='{name}']",
                    f"/ietf-yang-library:modules-state/module[name='{name}']",
                )
                for node in data.find_all(path)
            ]
            for node in internal:
                node.free(with_siblings=False)
            text = str(data.print_mem("xml", with_siblings=True))
        finally:
            data.free()
        # libyang fills schema/location with the server's file:// paths: useless to a
        # remote client (which uses <get-schema>) and a leak of local paths; drop them.
        return _FILE_LOCATION.sub("", text)

    def _collect_modules(self) -> tuple[ModuleInfo, ...]:
        infos: list[ModuleInfo] = []
        index = ffi.new("uint32_t *", 0)
        while True:
            module = lib.ly_ctx_get_module_iter(self._ctx.cdata, index)
            if module == ffi.NULL:
                break
            name = ffi.string(module.name).decode()
            wrapped = libyang.Module(self._ctx, module)
            revision = ffi.string(module.revision).decode() if module.revision else ""
            features = tuple(f.name() for f in wrapped.features() if f.state())
            deviated_by = module.deviated_by
            deviations = tuple(sorted(
                ffi.string(deviated_by[i].name).decode() for i in range(sized(deviated_by))
            ))
            infos.append(
                ModuleInfo(
                    name=name,
                    revision=revision,
                    namespace=ffi.string(module.ns).decode(),
                    prefix=ffi.string(module.prefix).decode(),
                    features=features,
                    implemented=bool(module.implemented),
                    filepath=ffi.string(module.filepath).decode() if module.filepath else None,
                    deviations=deviations,
                )
            )
        return tuple(infos)


def _enable_all_features(ctx: libyang.Context, all_features: object) -> None:
    """Enable every feature of modules that became implemented only as dependencies.

    A module implemented because one of ours refers into it (RFC 8519 ACLs through a
    leafref) is compiled with its features off; the agent serves every feature.

    Raises:
        ConfigError: libyang cannot recompile with the features enabled.
    """
    index = ffi.new("uint32_t *", 0)
    pending = []
    while True:
        module = lib.ly_ctx_get_module_iter(ctx.cdata, index)
        if module == ffi.NULL:
            break
        name = ffi.string(module.name).decode()
        if name in SERVER_FEATURES:
            continue
        if module.implemented and module.parsed != ffi.NULL and module.parsed.features:
            wrapped = libyang.Module(ctx, module)
            if any(not feature.state() for feature in wrapped.features()):
                pending.append(module)
    for module in pending:
        if lib.lys_set_implemented(module, all_features) != lib.LY_SUCCESS:
            label = ffi.string(module.name).decode()
            raise ConfigError(f"cannot enable the features of {label}: {_last_errors(ctx)}")


def _last_errors(ctx: libyang.Context) -> str:
    """The error messages libyang recorded for this thread, joined, and then cleared."""
    messages: list[str] = []
    err = lib.ly_err_first(ctx.cdata)
    while err:
        if err.msg:
            messages.append(ffi.string(err.msg).decode())
        err = err.next
    lib.ly_err_clean(ctx.cdata, ffi.NULL)
    return "; ".join(messages) or "unknown error"
