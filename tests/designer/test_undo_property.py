"""Property: any sequence of edits through the Document, undone completely, gives back the
starting file byte for byte; redone completely, gives the final file byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from designer.clipboard import fragment
from designer.document import Document
from graph import catalogue, fileformat
from graph.document import PortRef
from graph.errors import GraphError
from graph.params import Param
from tests.conftest import SAMPLES

START_FILES = ["xor_mlp.json", "digits_cnn.json", "residual_mlp.json", "iris_softmax.json"]
TYPES = sorted(catalogue.REGISTRY)
ACTIONS = ["add", "remove", "connect", "disconnect", "move", "param", "title", "setting", "fix",
           "paste", "layout"]


def value_for(data: st.DataObject, p: Param) -> object:
    if p.kind == "bool":
        return data.draw(st.booleans())
    if p.kind == "choice":
        return data.draw(st.sampled_from(p.choices))
    if p.kind == "int":
        lo = int(p.min) if p.min is not None else -1000
        hi = int(p.max) if p.max is not None else 1000
        return data.draw(st.integers(lo, min(hi, lo + 5000)))
    if p.kind == "float":
        lo = p.min if p.min is not None else -1e3
        hi = p.max if p.max is not None else 1e3
        return data.draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    if p.kind == "ints":
        lo = int(p.min) if p.min is not None else 1
        return data.draw(st.lists(st.integers(lo, lo + 6), min_size=1, max_size=min(3, p.max_len)))
    return data.draw(st.text(max_size=12))


def one_edit(doc: Document, data: st.DataObject) -> None:
    g = doc.graph
    action = data.draw(st.sampled_from(ACTIONS))
    nodes = list(g.nodes)
    if action == "add":
        pos = (data.draw(st.integers(-500, 2000)), data.draw(st.integers(-500, 2000)))
        doc.add_node(data.draw(st.sampled_from(TYPES)), pos)
    elif action == "remove" and nodes:
        pick = data.draw(st.lists(st.sampled_from(nodes), max_size=3, unique=True))
        edges = data.draw(st.lists(st.sampled_from(g.edges), max_size=2, unique=True)) if g.edges else []
        doc.remove_items(pick, edges)
    elif action == "connect" and len(nodes) > 1:
        outs = [PortRef(n, p.name) for n in nodes for p in g.nodes[n].node_type.outputs]
        ins = [PortRef(n, p.name) for n in nodes for p in g.nodes[n].node_type.inputs]
        if outs and ins:
            src, dst = data.draw(st.sampled_from(outs)), data.draw(st.sampled_from(ins))
            if g.connect_problem(src, dst) is None:
                doc.connect(src, dst)
    elif action == "disconnect" and g.edges:
        doc.disconnect(data.draw(st.sampled_from(g.edges)))
    elif action == "move" and nodes:
        pick = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=3, unique=True))
        doc.move_nodes({n: (data.draw(st.floats(-1e4, 1e4)), data.draw(st.floats(-1e4, 1e4))) for n in pick})
    elif action == "param" and nodes:
        nid = data.draw(st.sampled_from(nodes))
        params = g.nodes[nid].node_type.params
        if params:
            p = data.draw(st.sampled_from(params))
            doc.set_param(nid, p.name, value_for(data, p), merge=data.draw(st.booleans()))
    elif action == "title" and nodes:
        doc.set_title(data.draw(st.sampled_from(nodes)), data.draw(st.text(max_size=20)))
    elif action == "setting":
        p = data.draw(st.sampled_from(catalogue.SETTINGS))
        doc.set_setting(p.name, value_for(data, p))
    elif action == "fix":
        fixes = [f for f in doc.analysis().findings if f.fix is not None]
        if fixes:
            doc.apply_fix(data.draw(st.sampled_from(fixes)))
    elif action == "paste" and nodes:
        pick = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=4, unique=True))
        doc.paste(fragment(g, pick), (30.0, 30.0))
    elif action == "layout":
        doc.auto_layout()


@pytest.mark.parametrize("start", START_FILES)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_undo_all_restores_file_and_redo_all_restores_final(qapp, start, data):
    doc = Document()
    doc.load(str(SAMPLES / start))
    original = fileformat.dumps(doc.graph)
    for _ in range(data.draw(st.integers(1, 12), label="steps")):
        try:
            one_edit(doc, data)
        except GraphError:
            pass  # a refused edit must change nothing; the byte comparison below checks it
    final = fileformat.dumps(doc.graph)
    event(f"undo steps: {min(doc.undo_stack.count(), 5)}+")
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    assert fileformat.dumps(doc.graph) == original
    assert not doc.is_modified()
    while doc.undo_stack.canRedo():
        doc.undo_stack.redo()
    assert fileformat.dumps(doc.graph) == final


def content_text(doc: Document) -> str:
    """The file text less the nodes' positions: what a content token stands for."""
    import json

    data = json.loads(fileformat.dumps(doc.graph))
    for node in data["nodes"]:
        node.pop("position", None)
    return json.dumps(data, sort_keys=True)


@pytest.mark.parametrize("start", START_FILES[:2])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_content_token_always_names_the_same_content(qapp, start, data):
    """Edits, undos and redos in any order: whenever the document gives a token it gave before,
    the graph holds the same content (positions aside); moves keep the token."""
    doc = Document()
    doc.load(str(SAMPLES / start))
    seen = {doc.content_token(): content_text(doc)}
    for _ in range(data.draw(st.integers(1, 16), label="steps")):
        step = data.draw(st.sampled_from(["edit", "edit", "undo", "redo"]))
        before = doc.content_token(), content_text(doc)
        try:
            if step == "undo":
                doc.undo_stack.undo()
            elif step == "redo":
                doc.undo_stack.redo()
            else:
                one_edit(doc, data)
        except GraphError:
            pass
        token, text = doc.content_token(), content_text(doc)
        assert seen.setdefault(token, text) == text
        if text != before[1]:
            assert token != before[0]


def test_moves_keep_the_content_token_and_a_merged_edit_changes_it(qapp):
    doc = Document()
    doc.load(str(SAMPLES / "xor_mlp.json"))
    trained = doc.content_token()
    x, y = doc.graph.nodes["n3"].position
    doc.move_nodes({"n3": (x + 40, y)})
    doc.auto_layout()
    assert doc.content_token() == trained
    doc.set_param("n2", "out_features", 5, merge=True)
    first = doc.content_token()
    assert first != trained
    doc.set_param("n2", "out_features", 6, merge=True)  # scrubbing: merged into one step
    assert doc.undo_stack.count() == 3 and doc.content_token() not in (trained, first)
    doc.undo_stack.undo()
    assert doc.content_token() == trained
    doc.reset(doc.graph.copy())  # another document, even with the same text
    assert doc.content_token() != trained
