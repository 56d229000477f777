"""Undo commands for the graph document.

Every command calls only :class:`graph.document.Graph` mutation methods and keeps what its undo
needs. Invariants:

* ``undo()`` puts the graph back exactly as it was before ``redo()``: same node order, same edge
  order, same values, so ``graph.fileformat.dumps`` gives the same bytes;
* ``redo()`` after ``undo()`` gives exactly the state the first ``redo()`` gave (node ids included);
* a command never pushes another command and never triggers one: the graph's listeners only
  update views. Only :class:`designer.document.Document` creates and pushes commands, after
  checking the edit is allowed, so ``redo()`` never fails half-way.

Simple edits have their own small command. Composite edits (delete a selection, paste, apply a
fix) run a *script* once through an :class:`EditRecorder` that forwards to the graph and logs
each primitive mutation with its inverse; undo rewinds the log, redo replays it. That keeps the
composite commands exact without each one re-deriving indices.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtGui import QUndoCommand

from graph.analysis import Fix, apply_fix
from graph.document import Edge, Graph, Node, PortRef

# Ids for QUndoCommand.id(): commands with the same id may merge.
SET_PARAM_ID = 1001
MERGE_WINDOW_S = 2.0  # scrubbing steps closer together than this merge into one undo step


class GraphCommand(QUndoCommand):
    def __init__(self, graph: Graph, text: str):
        super().__init__(text)
        self.graph = graph
        # The content token of the state this command leaves (set by the Document when it
        # pushes the command: see designer.document).
        self.content_token = 0


class AddNodeCommand(GraphCommand):
    """Add one node; its id is chosen now so redo after undo gives the same id."""

    def __init__(self, graph: Graph, type_id: str, position: tuple[float, float],
                 params: dict[str, Any] | None = None, title: str = ""):
        super().__init__(graph, f"Add {type_id}")
        self.node_id = graph.new_id()
        self.type_id = type_id
        self.position = position
        self.params = dict(params or {})
        self.title = title
        self._node: Node | None = None
        self._index: int | None = None

    def redo(self) -> None:
        if self._node is None:
            node = self.graph.add_node(self.type_id, self.params, self.position, self.title,
                                       node_id=self.node_id)
            self._node = copy.deepcopy(node)
            self._index = len(self.graph.nodes) - 1
        else:
            self.graph.restore_node(self._node, self._index)

    def undo(self) -> None:
        self.graph.remove_node(self.node_id)


class ConnectCommand(GraphCommand):
    def __init__(self, graph: Graph, source: PortRef, target: PortRef):
        super().__init__(graph, f"Connect {source} → {target}")
        self.edge = Edge(source, target)
        self._index: int | None = None

    def redo(self) -> None:
        self.graph.connect(self.edge.source, self.edge.target, index=self._index)
        if self._index is None:
            self._index = self.graph.edges.index(self.edge)

    def undo(self) -> None:
        self.graph.disconnect(self.edge)


class DisconnectCommand(GraphCommand):
    def __init__(self, graph: Graph, edge: Edge):
        super().__init__(graph, f"Disconnect {edge.source} → {edge.target}")
        self.edge = edge
        self._index = graph.edges.index(edge)

    def redo(self) -> None:
        self.graph.disconnect(self.edge)

    def undo(self) -> None:
        self.graph.connect(self.edge.source, self.edge.target, index=self._index)


class MoveNodesCommand(GraphCommand):
    """One drag (or one auto-layout) of any number of nodes: a single undo step."""

    def __init__(self, graph: Graph, positions: dict[str, tuple[float, float]], text: str = ""):
        n = len(positions)
        super().__init__(graph, text or ("Move node" if n == 1 else f"Move {n} nodes"))
        self.new = dict(positions)
        self.old = {nid: graph.node(nid).position for nid in positions}

    def redo(self) -> None:
        for nid, pos in self.new.items():
            self.graph.move_node(nid, pos)

    def undo(self) -> None:
        for nid, pos in self.old.items():
            self.graph.move_node(nid, pos)


class SetParamCommand(GraphCommand):
    """Set one parameter. With ``merge`` (spin-box scrubbing), consecutive steps on the same
    parameter within ``MERGE_WINDOW_S`` become one undo step; a scrub back to the start value
    makes the step obsolete, so the stack drops it."""

    def __init__(self, graph: Graph, node_id: str, name: str, value: Any, merge: bool = False):
        super().__init__(graph, f"Set {name}")
        self.node_id = node_id
        self.name = name
        self.old = graph.node(node_id).params[name]
        self.new = value
        self.merge = merge
        self.stamp = time.monotonic()

    def id(self) -> int:  # noqa: A003 - Qt override
        return SET_PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt override
        if not (isinstance(other, SetParamCommand) and self.merge and other.merge
                and other.node_id == self.node_id and other.name == self.name
                and other.stamp - self.stamp <= MERGE_WINDOW_S):
            return False
        self.new = other.new
        self.stamp = other.stamp
        self.content_token = other.content_token  # a new value: a new content
        if self.new == self.old and type(self.new) is type(self.old):
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.new)

    def undo(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.old)


class SetTitleCommand(GraphCommand):
    def __init__(self, graph: Graph, node_id: str, title: str):
        super().__init__(graph, "Rename node")
        self.node_id = node_id
        self.old = graph.node(node_id).title
        self.new = title

    def redo(self) -> None:
        self.graph.set_title(self.node_id, self.new)

    def undo(self) -> None:
        self.graph.set_title(self.node_id, self.old)


class SetSettingCommand(GraphCommand):
    def __init__(self, graph: Graph, name: str, value: Any):
        super().__init__(graph, f"Set {name}")
        self.name = name
        self.old = graph.settings[name]
        self.new = value

    def redo(self) -> None:
        self.graph.set_setting(self.name, self.new)

    def undo(self) -> None:
        self.graph.set_setting(self.name, self.old)


# --------------------------------------------------------------------------- recorded scripts


class EditRecorder:
    """Stands in for a Graph: forwards every call and logs each mutation with its inverse.

    Reads (``nodes``, ``edges``, ``edges_into``...) go straight to the graph, so code written
    against a Graph (``graph.analysis.apply_fix``) runs unchanged.
    """

    def __init__(self, graph: Graph):
        self._graph = graph
        self.log: list[tuple] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)

    def add_node(self, *args: Any, **kwargs: Any) -> Node:
        node = self._graph.add_node(*args, **kwargs)
        self.log.append(("add", copy.deepcopy(node), list(self._graph.nodes).index(node.id)))
        return node

    def remove_node(self, node_id: str) -> tuple[Node, int, list[tuple[int, Edge]]]:
        node, index, edges = self._graph.remove_node(node_id)
        self.log.append(("remove", copy.deepcopy(node), index, list(edges)))
        return node, index, edges

    def connect(self, source: PortRef, target: PortRef, index: int | None = None) -> Edge:
        edge = self._graph.connect(source, target, index=index)
        self.log.append(("connect", edge, self._graph.edges.index(edge)))
        return edge

    def disconnect(self, edge: Edge) -> int:
        index = self._graph.disconnect(edge)
        self.log.append(("disconnect", edge, index))
        return index

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        old = self._graph.node(node_id).params[name]
        self._graph.set_param(node_id, name, value)
        self.log.append(("param", node_id, name, old, self._graph.node(node_id).params[name]))

    def move_node(self, node_id: str, position: tuple[float, float]) -> None:
        old = self._graph.node(node_id).position
        self._graph.move_node(node_id, position)
        self.log.append(("move", node_id, old, self._graph.node(node_id).position))

    def set_title(self, node_id: str, title: str) -> None:
        old = self._graph.node(node_id).title
        self._graph.set_title(node_id, title)
        self.log.append(("title", node_id, old, title))

    def set_setting(self, name: str, value: Any) -> None:
        old = self._graph.settings[name]
        self._graph.set_setting(name, value)
        self.log.append(("setting", name, old, self._graph.settings[name]))


def replay(graph: Graph, log: Iterable[tuple]) -> None:
    """Perform a recorded log forwards (redo)."""
    for entry in log:
        kind = entry[0]
        if kind == "add":
            graph.restore_node(entry[1], entry[2])
        elif kind == "remove":
            graph.remove_node(entry[1].id)
        elif kind == "connect":
            graph.connect(entry[1].source, entry[1].target, index=entry[2])
        elif kind == "disconnect":
            graph.disconnect(entry[1])
        elif kind == "param":
            graph.set_param(entry[1], entry[2], entry[4])
        elif kind == "move":
            graph.move_node(entry[1], entry[3])
        elif kind == "title":
            graph.set_title(entry[1], entry[3])
        elif kind == "setting":
            graph.set_setting(entry[1], entry[3])


def rewind(graph: Graph, log: list[tuple]) -> None:
    """Undo a recorded log: inverses in reverse order."""
    for entry in reversed(log):
        kind = entry[0]
        if kind == "add":
            graph.remove_node(entry[1].id)
        elif kind == "remove":
            graph.restore_node(entry[1], entry[2])
            for index, edge in entry[3]:  # ascending indices: each lands where it was
                graph.connect(edge.source, edge.target, index=index)
        elif kind == "connect":
            graph.disconnect(entry[1])
        elif kind == "disconnect":
            graph.connect(entry[1].source, entry[1].target, index=entry[2])
        elif kind == "param":
            graph.set_param(entry[1], entry[2], entry[3])
        elif kind == "move":
            graph.move_node(entry[1], entry[2])
        elif kind == "title":
            graph.set_title(entry[1], entry[2])
        elif kind == "setting":
            graph.set_setting(entry[1], entry[2])


class ScriptCommand(GraphCommand):
    """A composite edit: ``script(recorder)`` runs once on the first redo, then is replayed."""

    def __init__(self, graph: Graph, text: str, script: Callable[[EditRecorder], Any]):
        super().__init__(graph, text)
        self._script: Callable[[EditRecorder], Any] | None = script
        self.log: list[tuple] = []
        self.result: Any = None

    def redo(self) -> None:
        if self._script is not None:
            recorder = EditRecorder(self.graph)
            try:
                self.result = self._script(recorder)
            finally:
                self.log = recorder.log
                self._script = None
        else:
            replay(self.graph, self.log)

    def undo(self) -> None:
        rewind(self.graph, self.log)


class RemoveItemsCommand(ScriptCommand):
    """Delete nodes (with all their edges) and edges in one step."""

    def __init__(self, graph: Graph, node_ids: list[str], edges: list[Edge]):
        n, e = len(node_ids), len([x for x in edges if x.source.node not in node_ids and x.target.node not in node_ids])
        what = [f"{n} node{'s' * (n != 1)}"] if n else []
        what += [f"{e} wire{'s' * (e != 1)}"] if e else []
        super().__init__(graph, "Delete " + " and ".join(what), lambda g: _remove(g, node_ids, edges))


def _remove(g: EditRecorder, node_ids: list[str], edges: list[Edge]) -> None:
    for edge in edges:
        if edge in g.edges:
            g.disconnect(edge)
    for nid in node_ids:
        if nid in g.nodes:
            g.remove_node(nid)


class PasteCommand(ScriptCommand):
    """Add a fragment's nodes under fresh ids, shifted by ``offset``, with the edges among them.
    ``result`` holds the new ids in the fragment's order."""

    def __init__(self, graph: Graph, fragment: Graph, offset: tuple[float, float], text: str = "Paste"):
        n = len(fragment.nodes)
        super().__init__(graph, f"{text} {n} node{'s' * (n != 1)}", lambda g: _paste(g, fragment, offset))


def _paste(g: EditRecorder, fragment: Graph, offset: tuple[float, float]) -> list[str]:
    mapping: dict[str, str] = {}
    for node in fragment.nodes.values():
        pos = (node.position[0] + offset[0], node.position[1] + offset[1])
        mapping[node.id] = g.add_node(node.type, node.params, pos, node.title).id
    for edge in fragment.edges:
        g.connect(PortRef(mapping[edge.source.node], edge.source.port),
                  PortRef(mapping[edge.target.node], edge.target.port))
    return list(mapping.values())


class ApplyFixCommand(ScriptCommand):
    """One analysis fix (insert Flatten, replace a node, set a parameter...) as one step."""

    def __init__(self, graph: Graph, fix: Fix):
        super().__init__(graph, fix.label, lambda g: apply_fix(g, fix))  # type: ignore[arg-type]
