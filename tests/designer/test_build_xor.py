"""Build samples/xor_mlp.json with the mouse and keyboard only, save it, compare with the sample."""

from __future__ import annotations

import json

from PySide6.QtCore import QPoint

from graph import catalogue, fileformat
from graph.analysis import analyze
from tests.conftest import SAMPLES
from tests.designer.helpers import (
    canonical,
    click_empty,
    click_node,
    drop_node,
    edit_param,
    type_into,
    wire,
)


def test_build_xor_through_qt_events(window, qtbot, prompts, tmp_path):
    sample = fileformat.load_path(SAMPLES / "xor_mlp.json")
    window.actionZoomOut.trigger()
    window.actionZoomOut.trigger()
    vp = window.canvas.viewport().rect()
    # Drop every node of the sample on a grid of free spots, in the sample's order.
    ids: dict[str, str] = {}
    for i, (sid, node) in enumerate(sample.nodes.items()):
        col, row = i % 3, i // 3
        pos = QPoint(vp.left() + 110 + col * 240, vp.top() + 110 + row * 220)
        ids[sid] = drop_node(window, node.type, pos)
        assert window.scene.selected_node_ids() == [ids[sid]]  # a drop selects the new node
    assert [n.type for n in window.document.graph.nodes.values()] == [n.type for n in sample.nodes.values()]
    # Wire them by dragging from output ports to input ports.
    for e in sample.edges:
        wire(window, ids[e.source.node], e.source.port, ids[e.target.node], e.target.port)
    assert len(window.document.graph.edges) == len(sample.edges)
    # Parameters and titles through the inspector.
    for sid, node in sample.nodes.items():
        click_node(window, ids[sid])
        assert window.inspector.target == ids[sid]
        defaults = node.node_type.defaults()
        for name, value in node.params.items():
            if value != defaults[name]:
                edit_param(window, name, value)
        if node.title:
            type_into(window.inspector.title_edit, node.title)
    # Graph settings with nothing selected.
    click_empty(window)
    assert window.inspector.target is None and "epochs" in window.inspector.editors
    changed = {k: v for k, v in sample.settings.items() if v != catalogue.default_settings()[k]}
    for name, value in changed.items():
        edit_param(window, name, value)
    # Save through the UI.
    out = tmp_path / "built.json"
    prompts.answers["save_path"] = str(out)
    window.actionSaveAs.trigger()
    assert not prompts.errors
    assert not window.isWindowModified()
    built = fileformat.load_path(out)  # validates
    assert analyze(built).valid
    assert canonical(built, titles=True) == canonical(sample, titles=True)
    assert {k: built.settings[k] for k in changed} == changed
    assert json.loads(out.read_text())["format"] == "netwright-graph"
