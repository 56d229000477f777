"""Automatic layered layout (left to right), pure and deterministic.

Layers are longest-path depths from the sources; within a layer nodes are ordered by the
barycentre of their predecessors (a few sweeps), which keeps wires short and crossing-free for
the chains and small DAGs networks are made of. Optimizers and schedules are placed after the
loss they belong to.
"""

from __future__ import annotations

from .document import Graph

NODE_W = 200.0
NODE_H = 110.0
GAP_X = 90.0
GAP_Y = 40.0


def layered_layout(graph: Graph, heights: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Positions (top-left corners) for every node; ``heights`` lets a view pass real node heights."""
    order = graph.topological_order()
    columns = _columns(order, _depths(graph, order))
    _sort_by_barycentre(graph, columns)
    heights = heights or {}
    positions: dict[str, tuple[float, float]] = {}
    for col, ids in columns.items():
        y = 0.0
        for nid in ids:
            positions[nid] = (col * (NODE_W + GAP_X), y)
            y += heights.get(nid, NODE_H) + GAP_Y
    return positions


def _depths(graph: Graph, order: list[str]) -> dict[str, int]:
    """Each node's column: its longest-path depth from the sources (schedules: see below)."""
    depth: dict[str, int] = {}
    for nid in order:
        preds = graph.predecessors(nid)
        depth[nid] = max((depth[p] + 1 for p in preds), default=0)
    # Schedules have no inputs: put them one column before the optimizer they feed.
    for nid in order:
        succ = graph.successors(nid)
        if not graph.predecessors(nid) and succ and graph.nodes[nid].node_type.category == "schedule":
            depth[nid] = max(0, min(depth[s] for s in succ) - 1)
    return depth


def _columns(order: list[str], depth: dict[str, int]) -> dict[int, list[str]]:
    """Column → its nodes in topological order (columns in the order their first node comes)."""
    columns: dict[int, list[str]] = {}
    for nid in order:
        columns.setdefault(depth[nid], []).append(nid)
    return columns


def _sort_by_barycentre(graph: Graph, columns: dict[int, list[str]]) -> None:
    """Reorder each column but the first, in place, by the mean row of each node's
    predecessors (ties: the current row); four sweeps left to right."""
    rank: dict[str, float] = {}
    for col in sorted(columns):
        for i, nid in enumerate(columns[col]):
            rank[nid] = float(i)

    def key(nid: str) -> tuple[float, float]:
        preds = graph.predecessors(nid)
        bary = sum(rank[p] for p in preds) / len(preds) if preds else rank[nid]
        return (bary, rank[nid])

    for _ in range(4):
        for col in sorted(columns):
            if col == 0:
                continue
            columns[col].sort(key=key)
            for i, nid in enumerate(columns[col]):
                rank[nid] = float(i)


def apply_layout(graph: Graph, heights: dict[str, float] | None = None) -> None:
    for nid, pos in layered_layout(graph, heights).items():
        graph.move_node(nid, pos)
