"""YANG at run time: the one place that imports libyang.

- :class:`YangContext` (``context.py``): load and compile modules from directories;
  module list, YANG library data, module source for get-schema.
- :class:`Validator` (``validate.py``): parse and validate a datastore (``DataKind.CONFIG``)
  or operational data (``DataKind.OPERATIONAL``); failures raise
  :class:`SchemaValidationError` whose ``issues`` are :class:`ValidationIssue` (message,
  data path, error-tag, RFC 7950 sec. 15 error-app-tag) and convert to ``RPCError``.
- :class:`SchemaTree` / :class:`SchemaNode` (``nodes.py``): a plain-Python view of the
  compiled schema (list keys, defaults, choices, ordered-by) for the datastore code.
- ``paths.py``: instance paths in XML form (every step prefixed, RFC 7950 sec. 9.13.2)
  for error-paths and change paths, and the reader of libyang's JSON-style paths.
- ``trees.py``: RFC 8340 tree diagrams.

Example::

    with YangContext.load(["yang", "yang/standard"]) as ctx:
        Validator(ctx).validate(xml_text, DataKind.CONFIG)
"""

from nvo3_netconf.schema.context import SERVER_MODULES, ModuleInfo, YangContext
from nvo3_netconf.schema.nodes import NodeKind, QName, SchemaNode, SchemaTree
from nvo3_netconf.schema.validate import (
    DataKind,
    OperationKind,
    SchemaValidationError,
    ValidationIssue,
    Validator,
)

__all__ = [
    "SERVER_MODULES",
    "DataKind",
    "ModuleInfo",
    "NodeKind",
    "OperationKind",
    "QName",
    "SchemaNode",
    "SchemaTree",
    "SchemaValidationError",
    "ValidationIssue",
    "Validator",
    "YangContext",
]
