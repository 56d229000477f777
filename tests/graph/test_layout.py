"""graph.layout: columns by depth, schedules before their optimizer, rows by barycentre."""

from __future__ import annotations

from graph import PortRef, load_path
from graph.layout import GAP_X, GAP_Y, NODE_H, NODE_W, apply_layout, layered_layout
from tests.conftest import SAMPLES
from tests.graph.helpers import chain

COL = NODE_W + GAP_X


def test_a_chain_takes_one_column_per_depth():
    g = chain({"dataset": "iris"}, [("Linear", {"out_features": 8}), "ReLU"], "CrossEntropyLoss")
    pos = layered_layout(g)
    ids = g.topological_order()  # Dataset, Linear, ReLU, loss, optimizer
    assert [pos[nid] for nid in ids] == [(i * COL, 0.0) for i in range(5)]


def test_a_schedule_sits_one_column_before_its_optimizer():
    g = chain({"dataset": "iris"}, [("Linear", {"out_features": 3})], "CrossEntropyLoss")
    opt = g.topological_order()[-1]
    s = g.add_node("StepLR", {})
    g.connect(PortRef(s.id, "schedule"), PortRef(opt, "schedule"))
    pos = layered_layout(g)
    assert pos[s.id][0] == pos[opt][0] - COL
    assert pos[s.id][1] > 0.0  # below the loss that shares its column


def test_nodes_in_one_column_follow_their_predecessors_rows():
    """Two branches out of the features: each branch's second node lines up with its first."""
    g = chain({"dataset": "iris"}, [], "CrossEntropyLoss")
    data = g.topological_order()[0]
    a1, b1 = g.add_node("Linear", {"out_features": 4}), g.add_node("Linear", {"out_features": 4})
    g.connect(PortRef(data, "features"), PortRef(a1.id, "input"))
    g.connect(PortRef(data, "features"), PortRef(b1.id, "input"))
    b2 = g.add_node("ReLU")  # added first: the topological order may put it first in its column
    a2 = g.add_node("ReLU")
    g.connect(PortRef(b1.id, "output"), PortRef(b2.id, "input"))
    g.connect(PortRef(a1.id, "output"), PortRef(a2.id, "input"))
    pos = layered_layout(g)
    assert (pos[a1.id][1] < pos[b1.id][1]) == (pos[a2.id][1] < pos[b2.id][1])
    assert pos[a2.id][0] == pos[b2.id][0] == pos[a1.id][0] + COL


def test_rows_are_spaced_by_the_heights_a_view_passes():
    g = chain({"dataset": "iris"}, [], "CrossEntropyLoss")
    data = g.topological_order()[0]
    for _ in range(2):
        n = g.add_node("Linear", {"out_features": 4})
        g.connect(PortRef(data, "features"), PortRef(n.id, "input"))
    pos = layered_layout(g)
    column = sorted((nid for nid in g.nodes if pos[nid][0] == COL), key=lambda nid: pos[nid][1])
    assert len(column) == 3  # the loss and the two layers
    assert [pos[nid][1] for nid in column] == [0.0, NODE_H + GAP_Y, 2 * (NODE_H + GAP_Y)]
    taller = layered_layout(g, {column[0]: 300.0})
    assert [taller[nid][1] for nid in column] == [0.0, 300.0 + GAP_Y, 300.0 + NODE_H + 2 * GAP_Y]


def test_layout_is_deterministic_and_apply_moves_every_node():
    g = load_path(SAMPLES / "residual_mlp.json")
    assert layered_layout(g) == layered_layout(g.copy())
    apply_layout(g)
    assert {nid: tuple(n.position) for nid, n in g.nodes.items()} == layered_layout(g)
