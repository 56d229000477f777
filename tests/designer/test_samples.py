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
    # the coalesced analysis puts the shapes on the wires and the count in the status bar
    with qtbot.waitSignal(window.document.analysis_changed, timeout=10_000):
        assert window.open_path(SAMPLES / name)
    assert not prompts.errors
    window.actionAutoLayout.trigger()
    window.scene.flush()  # the moved nodes and their wires now, as when control returns to the loop
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
    assert_wires_clear_of_nodes(scene)
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


def assert_wires_clear_of_nodes(scene) -> None:
    """A wire whose straight course would cross another node runs in a lane around it, and
    no shape label is hidden under a node."""
    for edge, item in scene.edge_items.items():
        path = item.path()
        points = [path.pointAtPercent(i / 50) for i in range(1, 50)]
        for nid, node in scene.node_items.items():
            if nid in (edge.source.node, edge.target.node):
                continue
            rect = node.body_rect()
            assert not any(rect.contains(p) for p in points), f"{edge.source} → {edge.target} passes under {nid}"
        assert not any(n.body_rect().intersects(item.label_rect()) for n in scene.node_items.values())
