"""In-place edits roll back exactly: the tree after ``UndoJournal.rollback`` is the tree
before the edit, byte for byte, whatever the edit did or where it failed.
"""

from __future__ import annotations

import pytest
from lxml import etree

from nvo3_netconf.constants import DefaultOperation, ErrorOption
from nvo3_netconf.datastore.edit import apply_edit
from nvo3_netconf.datastore.undo import UndoJournal
from nvo3_netconf.errors import RPCError, RPCErrors
from nvo3_netconf.schema import SchemaTree, YangContext
from tests.unit.test_edit import config, data_of

BASE = (
    "<mode>fast</mode>"
    "<item><name>a</name><number>1</number><label>x</label><label>y</label><small/></item>"
    "<item><name>b</name><number>2</number><big-size>3</big-size></item>"
    "<rule><name>r1</name></rule><rule><name>r2</name></rule><rule><name>r3</name></rule>"
    "<label>one</label><label>two</label>"
    "<blob><any xmlns='urn:x'>1</any></blob>"
    "<settings><note>n</note></settings>"
)

EDITS = [
    ("merge new entries", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'>"
     "<item><name>c</name><number>3</number><small/></item><label>three</label></top>"),
    ("delete entry", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'><item nc:operation='delete'>"
     "<name>a</name></item></top>"),
    ("choice switch", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'><item><name>a</name>"
     "<big-size>9</big-size></item></top>"),
    ("leaf replace", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'><mode>slow</mode></top>"),
    ("anydata replace", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'>"
     "<blob><other xmlns='urn:x'>2</other></blob></top>"),
    ("move first", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'><rule yang:insert='first'>"
     "<name>r3</name></rule></top>"),
    ("replace ordered list", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'>"
     "<rule nc:operation='replace'><name>r2</name></rule></top>"),
    ("replace whole top", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test' nc:operation='replace'>"
     "<rule><name>r3</name></rule><rule><name>r1</name></rule></top>"),
    ("prune container", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'><settings>"
     "<note nc:operation='delete'/></settings></top>"),
    ("fails after changes", "<top xmlns='urn:nvo3-netconf:yang:nvo3-test'>"
     "<item><name>c</name><number>3</number><small/></item>"
     "<item nc:operation='create'><name>a</name><number>1</number></item></top>"),
]


@pytest.fixture(scope="module")
def schema(test_context: YangContext) -> SchemaTree:
    return SchemaTree(test_context)


@pytest.mark.parametrize("default", [DefaultOperation.MERGE, DefaultOperation.REPLACE])
@pytest.mark.parametrize(("name", "body"), EDITS, ids=[e[0] for e in EDITS])
def test_rollback_restores_the_tree_exactly(schema, name, body, default) -> None:
    data = data_of(BASE)
    before = etree.tostring(data)
    journal = UndoJournal()
    indexes: dict = {}
    try:
        apply_edit(data, config(body), schema, default_operation=default,
                   error_option=ErrorOption.CONTINUE_ON_ERROR, journal=journal,
                   indexes=indexes)
    except (RPCError, RPCErrors):
        pass
    journal.rollback()
    assert etree.tostring(data) == before


def test_persistent_indexes_serve_the_next_edit(schema) -> None:
    data = data_of(BASE)
    indexes: dict = {}
    apply_edit(data, config(EDITS[0][1]), schema, indexes=indexes)
    assert indexes, "the edit left its list indexes for the next one"
    apply_edit(data, config("<top xmlns='urn:nvo3-netconf:yang:nvo3-test'>"
                            "<item nc:operation='delete'><name>c</name></item></top>"),
               schema, indexes=indexes)
    names = data.xpath("//t:item/t:name/text()", namespaces={"t": "urn:nvo3-netconf:yang:nvo3-test"})
    assert names == ["a", "b"]
