"""NETCONF filters for ``<get>`` and ``<get-config>`` (RFC 6241 sec. 6, 7.1, 7.7, 8.9).

The one import point for retrieval operations. :func:`apply_filter` reads a ``<filter>``
parameter (its ``type`` and ``select`` attributes, sec. 7.1) and dispatches to
subtree filtering (:func:`apply_subtree_filter`, sec. 6, in ``protocol/subtree.py``) or
XPath filtering (:func:`apply_xpath_filter`, sec. 8.9, in ``protocol/xpath.py``). Both
leave the datastore tree untouched and copy only what they select
(``protocol/selection.py``), so they can run under a datastore read lock.

Public names: :class:`FilterType`, :func:`apply_filter`, :func:`apply_subtree_filter`,
:func:`apply_xpath_filter`, :data:`KeysOf`, :data:`Lookup` and :data:`XPath`.
"""

from __future__ import annotations

from enum import StrEnum

from lxml import etree

from nvo3_netconf.constants import NS_NC, ErrorType
from nvo3_netconf.errors import BadAttributeError, MissingAttributeError
from nvo3_netconf.protocol.selection import KeysOf
from nvo3_netconf.protocol.subtree import Lookup, apply_subtree_filter
from nvo3_netconf.protocol.xpath import XPath, apply_xpath_filter

__all__ = [
    "FilterType",
    "KeysOf",
    "Lookup",
    "XPath",
    "apply_filter",
    "apply_subtree_filter",
    "apply_xpath_filter",
]


class FilterType(StrEnum):
    """The ``type`` attribute of ``<filter>`` (RFC 6241 sec. 7.1, 8.9.5)."""

    SUBTREE = "subtree"
    XPATH = "xpath"


def apply_filter(
    data: etree._Element,
    filter_el: etree._Element | None,
    *,
    xpath_enabled: bool = True,
    keys_of: KeysOf | None = None,
    lookup: Lookup | None = None,
) -> etree._Element:
    """Apply the ``<filter>`` parameter of ``<get>`` or ``<get-config>`` to a data tree.

    Args:
        data: the datastore content, e.g. ``<data xmlns="urn:ietf:params:xml:ns:netconf:
            base:1.0">`` whose children are the top-level data nodes. Not modified.
        filter_el: the ``<filter>`` element, or ``None`` when the request has none
            (everything is returned, sec. 6.4.1). ``type`` defaults to ``subtree``; an
            XPath filter's prefixes are those in scope on this element.
        xpath_enabled: whether the server advertises the :xpath capability (sec. 8.9);
            when it does not, ``type="xpath"`` is refused.
        keys_of: optional schema callback naming the key leaves of a list entry, so that
            partially returned list entries keep their keys.
        lookup: optional index hook for subtree filters: the candidate entries of a list
            by the values of the filter's content match nodes (see :data:`Lookup`). It
            makes picking an entry by key O(1); the result is the same without it.

    Returns:
        A new element with the tag and namespace declarations of ``data`` holding the
        selected data.

    Raises:
        BadAttributeError: (protocol) ``type`` is neither ``subtree`` nor an enabled
            ``xpath``; error-info names the attribute and the element.
        MissingAttributeError: (protocol) ``type="xpath"`` without ``select``.
        InvalidValueError: (protocol) the ``select`` expression is not valid or does
            not evaluate to a node-set.
    """
    if filter_el is None:
        return apply_subtree_filter(data, None)
    type_text = filter_el.get("type", filter_el.get(f"{{{NS_NC}}}type", FilterType.SUBTREE.value))
    try:
        filter_type = FilterType(type_text)
    except ValueError:
        filter_type = None
    if filter_type is FilterType.SUBTREE:
        return apply_subtree_filter(data, filter_el, keys_of=keys_of, lookup=lookup)
    if filter_type is FilterType.XPATH and xpath_enabled:
        select = filter_el.get("select", filter_el.get(f"{{{NS_NC}}}select"))
        if select is None:
            raise MissingAttributeError(
                "An XPath filter needs a select attribute holding the expression.",
                type_=ErrorType.PROTOCOL,
                info={"bad-attribute": "select", "bad-element": "filter"},
            )
        return apply_xpath_filter(data, select, filter_el.nsmap, keys_of=keys_of)
    supported = "'subtree' or 'xpath'" if xpath_enabled else "'subtree'"
    raise BadAttributeError(
        f"Filter type {type_text!r} is not supported; use {supported}.",
        type_=ErrorType.PROTOCOL,
        info={"bad-attribute": "type", "bad-element": "filter"},
    )
