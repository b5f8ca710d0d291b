"""Validation of XML instance data against the context, with structured errors.

:meth:`Validator.validate` parses a whole datastore (configuration only, RFC 7950
sec. 8.3) or operational data with libyang and raises :class:`SchemaValidationError`
whose :class:`ValidationIssue` items carry the message, the data path and the RFC 7950
sec. 15 error-tag / error-app-tag pair that NETCONF reports:

======================  ==================  =====================
constraint              error-tag           error-app-tag
======================  ==================  =====================
unique (15.1)           operation-failed    data-not-unique
max-elements (15.2)     operation-failed    too-many-elements
min-elements (15.3)     operation-failed    too-few-elements
must (15.4)             operation-failed    must-violation (or the model's own)
require-instance (15.5) data-missing        instance-required
mandatory choice (15.6) data-missing        missing-choice
mandatory node          data-missing        -
type / value            invalid-value       -
unknown node            unknown-element     -
======================  ==================  =====================

:meth:`Validator.validate_operation` does the same for one RPC's input or output or one
notification (``lyd_parse_op`` then ``lyd_validate_op``), where a missing mandatory
parameter is ``missing-element`` and a missing or unknown element names itself in
``error-info/bad-element`` (RFC 6241 Appendix A); it returns the operation with its
defaults, as libyang prints it.

Error-paths: an issue keeps libyang's data path (``path``, the JSON form of RFC 7951
sec. 6.11, which libyang's messages use) and gets, only once it is reported, the
``error_path`` that the ``<rpc-error>`` carries: an XML instance-identifier with every
step prefixed (RFC 7950 sec. 9.13.2, :mod:`nvo3_netconf.schema.paths`). It names

- the node whose value, ``must``, ``when`` or reference fails (sec. 15.4, 15.5);
- for ``unique`` (sec. 15.1) the list entry at fault, and one
  ``error-info/yang:non-unique`` per leaf of the statement, each the instance-identifier
  of that leaf in the entry;
- for ``min-elements`` / ``max-elements`` (sec. 15.2, 15.3) the list or leaf-list node
  under its parent instance (``/p:c/p:list``, no predicate), once;
- for a missing mandatory leaf the missing node (under its parent's instance, implicit
  non-presence containers named), for a missing mandatory choice (sec. 15.6) the node
  holding the choice (none at the top level), with ``error-info/yang:missing-choice``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import libyang
from _libyang import ffi, lib

from nvo3_netconf.constants import NS_YANG_1, ErrorTag, ErrorType
from nvo3_netconf.errors import InfoElement, Nvo3Error, RPCError
from nvo3_netconf.schema.context import YangContext
from nvo3_netconf.schema.lysc import CData
from nvo3_netconf.schema.nodes import NodeKind, SchemaNode, SchemaTree
from nvo3_netconf.schema.paths import PathReader, Step, instance_identifier


class DataKind(StrEnum):
    """What a document holds: a configuration datastore, or operational data."""

    CONFIG = "config"
    OPERATIONAL = "operational"


class OperationKind(StrEnum):
    """What an operation document holds (RFC 7950 sec. 7.14, 7.16).

    One RPC's input, its output (the output nodes inside the RPC's element), or one
    notification.
    """

    RPC = "rpc"
    REPLY = "reply"
    NOTIFICATION = "notification"


@dataclass(frozen=True)
class ValidationIssue:
    """One validation failure reported by libyang, in NETCONF terms.

    Attributes:
        message: libyang's message, a sentence about the data.
        path: data path of the node at fault (libyang's syntax, module-name prefixes
            where the module changes), or None when libyang names none.
        error_tag: the RFC 6241 error-tag to report.
        app_tag: the RFC 7950 sec. 15 error-app-tag (or the model's own), if any.
        schema_path: the schema node concerned, when libyang names one.
        path_namespaces: ``(prefix, namespace)`` for each prefix used in ``error_path``.
        bad_element: the ``error-info/bad-element`` of a missing or unknown element of
            an operation.
        error_path: the ``error-path`` to report: an XML instance-identifier (every step
            prefixed, RFC 7950 sec. 9.13.2), or None when no node is at fault.
        info: the RFC 7950 sec. 15 ``error-info`` elements (``non-unique``,
            ``missing-choice``).
    """

    message: str
    path: str | None
    error_tag: ErrorTag | None
    app_tag: str | None = None
    schema_path: str | None = None
    path_namespaces: tuple[tuple[str, str], ...] = ()
    bad_element: str | None = None
    error_path: str | None = None
    info: tuple[InfoElement, ...] = ()

    def located(self, steps: Sequence[Step] | None, modules: Mapping[str, str],
                info: Sequence[InfoElement] = ()) -> ValidationIssue:
        """This issue with the error-path of ``steps`` (None: no node) and ``info``.

        Args:
            steps: the node at fault, from the top level down.
            modules: module name -> namespace (identityref key values).
            info: the error-info elements.
        """
        path, namespaces = instance_identifier(steps or (), modules)
        return replace(self, error_path=path or None, path_namespaces=tuple(namespaces.items()),
                       info=tuple(info))

    def to_rpc_error(self) -> RPCError:
        """This issue as an application-layer ``<rpc-error>``."""
        return RPCError.new(
            self.error_tag or ErrorTag.OPERATION_FAILED,
            self.message,
            type_=ErrorType.APPLICATION,
            path=self.error_path,
            app_tag=self.app_tag,
            info={"bad-element": self.bad_element} if self.bad_element else None,
            path_namespaces=dict(self.path_namespaces),
            info_elements=self.info,
        )


def non_unique(entry: Sequence[Step], leaves: Sequence[Sequence[SchemaNode]],
               modules: Mapping[str, str]) -> tuple[InfoElement, ...]:
    """RFC 7950 sec. 15.1: one ``<non-unique>`` per leaf of a ``unique`` statement.

    Args:
        entry: the list entry at fault.
        leaves: for each leaf of the statement, the schema nodes from the entry to it.
        modules: module name -> namespace.
    """
    items = []
    for chain in leaves:
        path, namespaces = instance_identifier([*entry, *(Step(node) for node in chain)],
                                               modules)
        items.append(InfoElement(NS_YANG_1, "non-unique", path, namespaces))
    return tuple(items)


def missing_choice(name: str) -> tuple[InfoElement, ...]:
    """RFC 7950 sec. 15.6: the ``<missing-choice>`` naming a mandatory choice."""
    return (InfoElement(NS_YANG_1, "missing-choice", name),)


class SchemaValidationError(Nvo3Error):
    """A document does not conform to the schema; ``issues`` says where and why."""

    def __init__(self, issues: tuple[ValidationIssue, ...]) -> None:
        self.issues = issues
        super().__init__("; ".join(i.message for i in issues))

    def to_rpc_error(self) -> RPCError:
        """The first issue as an ``<rpc-error>`` (libyang stops at the first failure)."""
        return self.issues[0].to_rpc_error()


# (message pattern, error-tag, default app-tag) — first match wins.
_RULES: tuple[tuple[re.Pattern[str], ErrorTag, str | None], ...] = tuple(
    (re.compile(pattern), tag, app_tag)
    for pattern, tag, app_tag in (
        (r"^Unique data leaf", ErrorTag.OPERATION_FAILED, "data-not-unique"),
        (r"^Too many", ErrorTag.OPERATION_FAILED, "too-many-elements"),
        (r"^Too few", ErrorTag.OPERATION_FAILED, "too-few-elements"),
        (r"^Must condition", ErrorTag.OPERATION_FAILED, "must-violation"),
        (r"no target instance|[Rr]equired instance", ErrorTag.DATA_MISSING, "instance-required"),
        (r"^Mandatory choice", ErrorTag.DATA_MISSING, "missing-choice"),
        (r"^Mandatory node", ErrorTag.DATA_MISSING, None),
        (r"^Duplicate instance", ErrorTag.OPERATION_FAILED, "data-not-unique"),
        (r"^List instance is missing its key", ErrorTag.MISSING_ELEMENT, None),
        (r"^Node .* not found|^No module .* namespace", ErrorTag.UNKNOWN_ELEMENT, None),
        (r"^Unknown XML prefix|^Unknown namespace", ErrorTag.UNKNOWN_NAMESPACE, None),
        (r"state data|data state node", ErrorTag.INVALID_VALUE, None),
        (r"^Invalid|^Unsatisfied|does not satisfy|^Value .* out of", ErrorTag.INVALID_VALUE, None),
        (r"^When condition", ErrorTag.OPERATION_FAILED, None),
    )
)


def _classify(message: str, apptag: str | None) -> tuple[ErrorTag | None, str | None]:
    """The error-tag and app-tag of a libyang message; tag None when not recognised."""
    for pattern, tag, app_tag in _RULES:
        if pattern.search(message):
            return tag, apptag or app_tag
    return None, apptag


class Validator:
    """Validates XML documents against a :class:`YangContext`.

    Thread-safe: libyang records errors per thread and the context is not modified.

    Args:
        context: the compiled modules.
        schema: their schema view, for error-paths (built on the first error if not
            given).
    """

    def __init__(self, context: YangContext, schema: SchemaTree | None = None) -> None:
        self._context = context
        self._ctx = context.libyang
        self._schema = schema
        self._reader: PathReader | None = None

    def validate(self, xml: str | bytes, kind: DataKind = DataKind.CONFIG) -> None:
        """Parse and fully validate a document (the children of a datastore root).

        Args:
            xml: top-level data nodes, serialized (siblings without a wrapper element).
            kind: CONFIG forbids state data; OPERATIONAL allows it.

        Raises:
            SchemaValidationError: the document breaks the schema.
        """
        tree = self.parse(xml, kind)
        if tree is not None:
            tree.free()

    def parse(self, xml: str | bytes, kind: DataKind = DataKind.CONFIG) -> libyang.DNode | None:
        """Parse and validate a document, returning libyang's tree (caller frees it).

        Raises:
            SchemaValidationError: the document breaks the schema.
        """
        lib.ly_err_clean(self._ctx.cdata, ffi.NULL)
        data = xml.encode("utf-8") if isinstance(xml, str) else xml
        parse_options = lib.LYD_PARSE_STRICT
        validate_options = 0
        if kind is DataKind.CONFIG:
            parse_options |= lib.LYD_PARSE_NO_STATE
            validate_options |= lib.LYD_VALIDATE_NO_STATE
        else:
            # Operational data is validated per module present (a server need not
            # report every module's state at once).
            validate_options |= lib.LYD_VALIDATE_PRESENT
        buffer = ffi.from_buffer("char[]", data + b"\0")
        in_handle = ffi.new("struct ly_in **")
        if lib.ly_in_new_memory(buffer, in_handle) != lib.LY_SUCCESS:
            raise MemoryError("libyang could not open the input")
        tree = ffi.new("struct lyd_node **")
        try:
            status = lib.lyd_parse_data(
                self._ctx.cdata, ffi.NULL, in_handle[0], lib.LYD_XML,
                parse_options, validate_options, tree,
            )
        finally:
            lib.ly_in_free(in_handle[0], 0)
        if status != lib.LY_SUCCESS:
            if tree[0] != ffi.NULL:
                lib.lyd_free_all(tree[0])
            issues = tuple(self._issues())
            if any(issue.error_tag is None for issue in issues):
                # A model's own error-message hides libyang's wording. Type restrictions
                # (range, length, pattern) fail while parsing, constraints (must...)
                # only while validating: RFC 7950 sec. 8.3.1 wants invalid-value for
                # the former.
                tag = ErrorTag.INVALID_VALUE if not self._parses(data) else (
                    ErrorTag.OPERATION_FAILED)
                issues = tuple(
                    replace(i, error_tag=tag) if i.error_tag is None else i for i in issues
                )
            located = (self._locate(issue, data) for issue in issues)
            raise SchemaValidationError(tuple(self._finish(i, data) for i in located))
        if tree[0] == ffi.NULL:
            return None
        return libyang.DNode.new(self._ctx, tree[0])

    def validate_rpc(self, xml: str | bytes) -> bytes:
        """Validate one RPC's input: ``validate_operation(xml, OperationKind.RPC)``."""
        return self.validate_operation(xml, OperationKind.RPC)

    def validate_operation(self, xml: str | bytes, kind: OperationKind) -> bytes:
        """Parse and validate an RPC's input or output, or a notification.

        ``xml`` is the operation's own element: ``<associate xmlns="...">`` with the input
        parameters (RPC), with the output nodes (REPLY, as ``yanglint -t reply`` reads
        it), or the notification's element (NOTIFICATION). Types are checked while
        parsing (failures: ``invalid-value``, ``unknown-element``), ``must``,
        ``mandatory``, ``when`` and cardinality while validating (``operation-failed``
        with the RFC 7950 sec. 15 app-tag or the model's own; a missing mandatory
        parameter is ``missing-element``, RFC 6241 Appendix A).

        Args:
            xml: the serialized operation element.
            kind: what it holds.

        Returns:
            The operation as libyang prints it: canonical values, every default present.

        Raises:
            SchemaValidationError: the document breaks the schema.
        """
        data_type = {
            OperationKind.RPC: lib.LYD_TYPE_RPC_YANG,
            OperationKind.REPLY: lib.LYD_TYPE_REPLY_YANG,
            OperationKind.NOTIFICATION: lib.LYD_TYPE_NOTIF_YANG,
        }[kind]
        lib.ly_err_clean(self._ctx.cdata, ffi.NULL)
        data = xml.encode("utf-8") if isinstance(xml, str) else xml
        buffer = ffi.from_buffer("char[]", data + b"\0")
        in_handle = ffi.new("struct ly_in **")
        if lib.ly_in_new_memory(buffer, in_handle) != lib.LY_SUCCESS:
            raise MemoryError("libyang could not open the input")
        tree = ffi.new("struct lyd_node **")
        op = ffi.new("struct lyd_node **")
        try:
            status = lib.lyd_parse_op(
                self._ctx.cdata, ffi.NULL, in_handle[0], lib.LYD_XML, data_type, tree, op
            )
        finally:
            lib.ly_in_free(in_handle[0], 0)
        try:
            output = kind is OperationKind.REPLY
            if status != lib.LY_SUCCESS:
                raise self._operation_error(ErrorTag.INVALID_VALUE, output)
            if lib.lyd_validate_op(op[0], ffi.NULL, data_type, ffi.NULL) != lib.LY_SUCCESS:
                raise self._operation_error(ErrorTag.OPERATION_FAILED, output)
            out = ffi.new("char **")
            flags = lib.LYD_PRINT_WD_ALL | lib.LYD_PRINT_SHRINK
            if lib.lyd_print_mem(out, op[0], lib.LYD_XML, flags) != lib.LY_SUCCESS:
                raise MemoryError("libyang could not print the operation")
            try:
                return bytes(ffi.string(out[0]))
            finally:
                lib.free(out[0])
        finally:
            if tree[0] != ffi.NULL:
                lib.lyd_free_all(tree[0])

    def _operation_error(self, default: ErrorTag, output: bool) -> SchemaValidationError:
        """The issues of a failed operation parse (``default`` for unrecognised ones).

        ``output``: the operation is an rpc's reply (its nodes are the output's).
        """
        issues = []
        for issue in self._issues():
            tag, bad = issue.error_tag or default, None
            mandatory = _MANDATORY.search(issue.message)
            unknown = _UNKNOWN_NODE.search(issue.message)
            if mandatory:
                tag, bad = ErrorTag.MISSING_ELEMENT, mandatory["name"]
            elif unknown:
                bad = unknown["name"]
            issues.append(self._finish(replace(issue, error_tag=tag, bad_element=bad), None,
                                       output=output))
        return SchemaValidationError(tuple(issues))

    def _parses(self, data: bytes) -> bool:
        """True when ``data`` parses (types included) before validation proper."""
        try:
            tree = self._ctx.parse_data_mem(data, "xml", parse_only=True, strict=True)
        except libyang.LibyangError:
            return False
        if tree is not None:
            tree.free()
        return True

    def _locate(self, issue: ValidationIssue, data: bytes) -> ValidationIssue:
        """Give a missing-mandatory issue the data path libyang reports only as schema."""
        if issue.path is not None or issue.schema_path is None:
            return issue
        parent_path, _, child = issue.schema_path.rpartition("/")
        if not parent_path:
            return issue
        wanted = self._data_children(issue.schema_path) or {child.split(":")[-1]}
        try:
            tree = self._ctx.parse_data_mem(data, "xml", parse_only=True, strict=True)
        except libyang.LibyangError:
            return issue
        if tree is None:
            return issue
        try:
            for instance in tree.find_all(parent_path):
                present = {
                    ffi.string(c.schema.name).decode()
                    for c in _iter_children(instance.cdata)
                    if c.schema != ffi.NULL
                }
                if not present & wanted:
                    suffix = "" if issue.app_tag == "missing-choice" else "/" + child
                    return replace(issue, path=instance.path() + suffix)
        finally:
            tree.free()
        return issue

    # ------------------------------------------------------------- error-paths
    def _paths(self) -> PathReader:
        """The reader of libyang's paths (built on the first error)."""
        if self._reader is None:
            schema = self._schema or SchemaTree(self._context)
            self._reader = PathReader(
                schema.roots, {**schema.rpcs, **schema.notifications},
                {m.name: m.namespace for m in self._context.modules})
        return self._reader

    def _finish(self, issue: ValidationIssue, data: bytes | None, *,
                output: bool = False) -> ValidationIssue:
        """Give ``issue`` its error-path and error-info (module docstring).

        ``data`` is the validated document, searched for the instance that misses a
        mandatory node, a choice or list entries (None for an operation, whose missing
        nodes are named by their schema path).
        """
        reader = self._paths()
        modules = reader.modules
        if issue.schema_path and (issue.app_tag in ("missing-choice", "too-few-elements")
                                  or _MANDATORY.match(issue.message)):
            found = self._missing(issue, issue.schema_path, data, reader)
            if found is not None:
                return found
        steps = reader.data_path(issue.path, output=output) if issue.path else None
        if not steps:
            return issue.located(None, modules)
        if issue.app_tag in ("too-many-elements", "too-few-elements"):
            return issue.located([*steps[:-1], Step(steps[-1].node)], modules)
        unique = _UNIQUE.match(issue.message)
        if unique is not None:
            leaves = [reader.below(steps[-1].node, name) for name in unique["leaves"].split()]
            return issue.located(steps, modules,
                                 non_unique(steps, [leaf for leaf in leaves if leaf], modules))
        if issue.app_tag == "missing-choice" and issue.schema_path:
            choice = issue.schema_path.rpartition("/")[2].rpartition(":")[2]
            return issue.located(steps, modules, missing_choice(choice))
        return issue.located(steps, modules)

    def _missing(self, issue: ValidationIssue, schema_path: str, data: bytes | None,
                 reader: PathReader) -> ValidationIssue | None:
        """The issue of a missing node, choice or entries, located in ``data``."""
        found = reader.schema_path(schema_path)
        if found is None or not (found[0] or found[1]):
            return None
        chain, choice = found
        target = chain[-1] if choice is None else None
        parents = chain[:-1] if target is not None else chain
        info = missing_choice(choice) if choice is not None else ()
        if data is None:  # an operation: its nodes have no keys to find
            if any(node.kind is NodeKind.LIST for node in parents):
                return None
            return issue.located([Step(node) for node in chain], reader.modules, info)
        siblings = parents[-1].children if parents else reader.roots
        lacking: Callable[[list[tuple[str, str]]], bool]
        if choice is not None:
            names = self._data_children(schema_path)
            lacking = functools.partial(_lacks_any, names, None)
            member = next((n for n in siblings.values() if n.name in names), None)
            cases = member.choices if member is not None else ()
            case = cases[:next((i for i, (name, _) in enumerate(cases) if name == choice),
                               len(cases))]
        elif issue.app_tag == "too-few-elements" and target is not None:
            lacking = functools.partial(_fewer_than, target.qname, _min_elements(target))
            case = target.choices
        else:
            assert target is not None
            lacking = functools.partial(_lacks_any, {target.name}, target.namespace)
            case = target.choices
        if case:  # required only in an instance where its case is the active one
            lacking = functools.partial(_lacks_in_case, lacking, siblings, case)
        slot = self._slot(data, parents, lacking)
        if slot is None:
            return None
        where, levels = slot
        steps = reader.data_path(where) if where else []
        if steps is None:
            return None
        steps.extend(Step(node) for node in levels)
        if target is not None:
            steps.append(Step(target))
        return issue.located(steps, reader.modules, info)

    def _slot(self, data: bytes, parents: Sequence[SchemaNode],
              lacking: Callable[[list[tuple[str, str]]], bool]) -> \
            tuple[str, list[SchemaNode]] | None:
        """The first instance of ``parents`` whose children are ``lacking``.

        Returns the data path of the deepest existing instance ("" for the top level)
        and the non-presence containers below it that do not exist (their content is
        then missing too), in document order; None if no instance lacks anything.
        """
        try:
            tree = self._ctx.parse_data_mem(data, "xml", parse_only=True, strict=True)
        except libyang.LibyangError:
            return None
        if tree is None:
            return ("", list(parents)) if _implicit(parents) and lacking([]) else None
        try:
            found = self._visit(ffi.NULL, _siblings(tree.cdata), parents, lacking)
            if found is None:
                return None
            node, levels = found
            where = libyang.DNode.new(self._ctx, node).path() if node != ffi.NULL else ""
            return where, levels
        finally:
            tree.free()

    def _visit(self, node: CData, children: list[CData], parents: Sequence[SchemaNode],
               lacking: Callable[[list[tuple[str, str]]], bool]) -> \
            tuple[CData, list[SchemaNode]] | None:
        names = [_qname_of(child) for child in children]
        if not parents:
            return (node, []) if lacking(names) else None
        wanted = parents[0].qname
        matching = [child for child, name in zip(children, names, strict=True)
                    if name == wanted]
        for child in matching:
            found = self._visit(child, list(_iter_children(child)), parents[1:], lacking)
            if found is not None:
                return found
        if not matching and _implicit(parents) and lacking([]):
            return node, list(parents)
        return None

    def _data_children(self, schema_path: str) -> set[str]:
        """Names of the data nodes a choice's cases hold (empty for a data node)."""
        parent_path, _, name = schema_path.rpartition("/")
        parent = lib.lys_find_path(self._ctx.cdata, ffi.NULL, parent_path.encode(), 0)
        if parent == ffi.NULL:
            return set()
        node = lib.lys_getnext(ffi.NULL, parent, ffi.NULL, lib.LYS_GETNEXT_WITHCHOICE)
        while node != ffi.NULL and not (
            node.nodetype == lib.LYS_CHOICE and ffi.string(node.name).decode() == name
        ):
            node = lib.lys_getnext(node, parent, ffi.NULL, lib.LYS_GETNEXT_WITHCHOICE)
        if node == ffi.NULL:
            return set()
        names: set[str] = set()
        last = lib.lys_getnext(ffi.NULL, node, ffi.NULL, 0)
        while last != ffi.NULL:
            names.add(ffi.string(last.name).decode())
            last = lib.lys_getnext(last, node, ffi.NULL, 0)
        return names

    def _issues(self) -> Iterator[ValidationIssue]:
        err = lib.ly_err_first(self._ctx.cdata)
        seen = False
        while err:
            if err.level == lib.LY_LLERR and err.msg:
                # libyang quotes the peer's values, cut at a byte count (possibly inside
                # a UTF-8 sequence): never let its text fail to decode.
                message = ffi.string(err.msg).decode(errors="replace")
                path = ffi.string(err.path).decode(errors="replace") if err.path else None
                apptag = ffi.string(err.apptag).decode(errors="replace") if err.apptag else None
                tag, app_tag = _classify(message, apptag)
                seen = True
                yield ValidationIssue(
                    message, _data_path(path), tag, app_tag, schema_path=_schema_path(path)
                )

            err = err.next
        lib.ly_err_clean(self._ctx.cdata, ffi.NULL)
        if not seen:
            yield ValidationIssue(
                "The data does not conform to the schema.", None, ErrorTag.OPERATION_FAILED
            )


_MANDATORY = re.compile(r'^Mandatory node "(?P<name>[^"]+)" instance does not exist')
_UNKNOWN_NODE = re.compile(r'^Node "(?P<name>[^"]+)" not found')
_UNIQUE = re.compile(r'^Unique data leaf\(s\) "(?P<leaves>[^"]*)" not satisfied')
# libyang: 'Data location "PATH", line number N.' (a path's values may hold quotes).
_LOCATION = re.compile(
    r'^(?P<kind>Data|Schema) location "(?P<path>.*)"(?:, line number \d+)?\.?$', re.S)


def _data_path(path: str | None) -> str | None:
    """The data path in libyang's location text, or None when it names only schema."""
    if not path:
        return None
    match = _LOCATION.match(path)
    if match is None:
        return path if path.startswith("/") else None
    return match["path"] if match["kind"] == "Data" else None


def _schema_path(path: str | None) -> str | None:
    """The schema path in libyang's location text, if any."""
    match = _LOCATION.match(path or "")
    return match["path"] if match is not None and match["kind"] == "Schema" else None


def _siblings(node: CData) -> list[CData]:
    """A top-level node and its siblings, in order."""
    found = []
    current = lib.lyd_first_sibling(node)
    while current != ffi.NULL:
        found.append(current)
        current = current.next
    return found


def _qname_of(node: CData) -> tuple[str, str]:
    if node.schema == ffi.NULL:
        return ("", "")
    return (ffi.string(node.schema.module.ns).decode(), ffi.string(node.schema.name).decode())


def _implicit(nodes: Sequence[SchemaNode]) -> bool:
    """True if every node is a non-presence container (exists implicitly)."""
    return all(n.kind is NodeKind.CONTAINER and not n.presence for n in nodes)


def _lacks_any(names: set[str], namespace: str | None, children: list[tuple[str, str]]) -> bool:
    """True if no child is one of ``names`` (in ``namespace``, if given)."""
    return not any(name in names and (namespace is None or ns == namespace)
                   for ns, name in children)


def _lacks_in_case(lacking: Callable[[list[tuple[str, str]]], bool],
                   siblings: Mapping[tuple[str, str], SchemaNode],
                   case: tuple[tuple[str, str], ...], children: list[tuple[str, str]]) -> bool:
    """``lacking``, in an instance where the case ``case`` (choice/case pairs) is active."""
    if not lacking(children):
        return False
    for qname in children:
        node = siblings.get(qname)
        if node is not None and node.choices[:len(case)] == case:
            return True
    return False


def _fewer_than(qname: tuple[str, str], minimum: int, children: list[tuple[str, str]]) -> bool:
    return sum(1 for child in children if child == qname) < minimum


def _min_elements(node: SchemaNode) -> int:
    """The min-elements of a list or leaf-list."""
    if node.cnode is None:
        return 1
    kind = "struct lysc_node_list *" if node.kind is NodeKind.LIST else \
        "struct lysc_node_leaflist *"
    return int(ffi.cast(kind, node.cnode).min) or 1


def _iter_children(node: CData) -> Iterator[CData]:
    child = lib.lyd_child(node)
    while child != ffi.NULL:
        yield child
        child = child.next
