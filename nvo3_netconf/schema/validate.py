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
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum

import libyang
from _libyang import ffi, lib

from nvo3_netconf.constants import ErrorTag, ErrorType
from nvo3_netconf.errors import Nvo3Error, RPCError
from nvo3_netconf.schema.context import YangContext
from nvo3_netconf.schema.lysc import CData


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
        path: data path of the node at fault (libyang's syntax, module-name prefixes),
            or None when the failure concerns the whole document.
        error_tag: the RFC 6241 error-tag to report.
        app_tag: the RFC 7950 sec. 15 error-app-tag (or the model's own), if any.
        schema_path: the schema node concerned, when libyang names one.
        path_namespaces: ``(prefix, namespace)`` for each prefix used in ``path``.
    """

    message: str
    path: str | None
    error_tag: ErrorTag | None
    app_tag: str | None = None
    schema_path: str | None = None

    path_namespaces: tuple[tuple[str, str], ...] = ()
    bad_element: str | None = None
    """The ``error-info/bad-element`` of a missing or unknown element of an operation."""

    def to_rpc_error(self) -> RPCError:
        """This issue as an application-layer ``<rpc-error>``."""
        return RPCError.new(
            self.error_tag or ErrorTag.OPERATION_FAILED,
            self.message,
            type_=ErrorType.APPLICATION,
            path=self.path,
            app_tag=self.app_tag,
            info={"bad-element": self.bad_element} if self.bad_element else None,
            path_namespaces=dict(self.path_namespaces),
        )


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
    """

    def __init__(self, context: YangContext) -> None:
        self._context = context
        self._ctx = context.libyang

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
            raise SchemaValidationError(tuple(self._with_namespaces(i) for i in located))
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
            if status != lib.LY_SUCCESS:
                raise self._operation_error(ErrorTag.INVALID_VALUE)
            if lib.lyd_validate_op(op[0], ffi.NULL, data_type, ffi.NULL) != lib.LY_SUCCESS:
                raise self._operation_error(ErrorTag.OPERATION_FAILED)
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

    def _operation_error(self, default: ErrorTag) -> SchemaValidationError:
        """The issues of a failed operation parse (``default`` for unrecognised ones)."""
        issues = []
        for issue in self._issues():
            tag, bad = issue.error_tag or default, None
            mandatory = _MANDATORY.search(issue.message)
            unknown = _UNKNOWN_NODE.search(issue.message)
            if mandatory:
                tag, bad = ErrorTag.MISSING_ELEMENT, mandatory["name"]
            elif unknown:
                bad = unknown["name"]
            issues.append(self._with_namespaces(replace(issue, error_tag=tag, bad_element=bad)))
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

    def _with_namespaces(self, issue: ValidationIssue) -> ValidationIssue:
        """Declare the namespace of every module prefix the error-path uses."""
        if not issue.path:
            return issue
        pairs = []
        for prefix in dict.fromkeys(_PATH_PREFIX.findall(issue.path)):
            module = self._context.module(prefix)
            if module is not None:
                pairs.append((prefix, module.namespace))
        return replace(issue, path_namespaces=tuple(pairs))

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
_PATH_PREFIX = re.compile(r"(?:^|/)([A-Za-z_][\w.-]*):")
_LOCATION = re.compile(r'(Data|Schema) location "(?P<path>[^"]*)"')


def _data_path(path: str | None) -> str | None:
    """The data path in libyang's location text, or None when it names only schema."""
    if not path:
        return None
    data_path = None
    for match in _LOCATION.finditer(path):
        if match.group(1) == "Data":
            data_path = match["path"]
    if data_path is None and path.startswith("/"):
        return path
    return data_path


def _schema_path(path: str | None) -> str | None:
    """The schema path in libyang's location text, if any."""
    for match in _LOCATION.finditer(path or ""):
        if match.group(1) == "Schema":
            return match["path"]
    return None


def _iter_children(node: CData) -> Iterator[CData]:
    child = lib.lyd_child(node)
    while child != ffi.NULL:
        yield child
        child = child.next
