"""Every sample opens, renders, and after auto-layout has no overlapping nodes and a shape on
every wire. Screenshots go to artifacts/screenshots/ (not committed) for people to look at."""

from __future__ import annotations

import itertools

import pytest

from designer.items import EdgeItem
from tests.conftest import ROOT, SAMPLES

SHOTS = ROOT / "artifacts" / "screenshots"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.json"))


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_opens_lays_out_and_renders(window, qtbot, prompts, name):
    window.resize(1700, 1050)
    assert window.open_path(SAMPLES / name)
    assert not prompts.errors
    window.actionAutoLayout.trigger()
    qtbot.wait(20)  # coalesced analysis, wire routing and status-bar layout run
    scene = window.scene
    graph = window.document.graph
    assert set(scene.node_items) == set(graph.nodes)
    assert set(scene.edge_items) == set(graph.edges)
    rects = {nid: item.body_rect() for nid, item in scene.node_items.items()}
    for (a, ra), (b, rb) in itertools.combinations(rects.items(), 2):
        assert not ra.intersects(rb), f"{name}: nodes {a} and {b} overlap after auto-layout"
    for edge, item in scene.edge_items.items():
        assert isinstance(item, EdgeItem)
        assert item.label and item.label != "?", f"{name}: wire {edge.source} → {edge.target} has no shape"
    analysis = window.document.analysis()
    assert window.params_label.text() == f"Parameters: {analysis.total_params:,}"
    for nid, item in scene.node_items.items():  # errors show as badges on their node
        assert item.has_error == any(f.severity == "error" for f in analysis.for_node(nid))
    SHOTS.mkdir(parents=True, exist_ok=True)
    image = window.grab()
    assert not image.isNull()
    image.save(str(SHOTS / name.replace(".json", ".png")))
    window.canvas.grab().save(str(SHOTS / name.replace(".json", "_canvas.png")))
    window.canvas.reset_zoom()
    window.canvas.centerOn(scene.nodes_rect().center())
    window.canvas.grab().save(str(SHOTS / name.replace(".json", "_100pct.png")))
