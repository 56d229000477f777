"""The open document: one Graph, its file path, its unsaved state and its one QUndoStack.

Invariants:

* :class:`Document` is the only object that pushes undo commands, and it checks an edit is
  allowed *before* pushing it (a command's redo never fails half-way). Edit methods raise
  :class:`graph.errors.GraphError` subclasses naming what is wrong; nothing is pushed then.
* Views never mutate ``document.graph``; they read it and call the edit methods here.
* Every graph event is re-emitted synchronously as ``graph_event``; ``graph_replaced`` says the
  whole graph object changed (New, Open, recovery) and views must rebuild.
* Derived data (shapes, findings, parameter counts) is never stored in the graph: ``analysis()``
  recomputes it on demand, and after edits a zero-delay single-shot timer coalesces any number
  of events into one recomputation and one ``analysis_changed`` signal.
* "Modified" is the undo stack's clean state, plus a flag for a document that came from a
  recovery file (it has unsaved changes even though its undo stack is empty).
* ``content_token()`` names what the graph holds, positions aside: it changes with every edit
  but a move, and undoing back to a state gives that state's token back. A run records the token
  of the graph it trained, so an export knows whether that run's weights fit the graph as it is
  now without comparing file texts. Each command carries the token of the state it leaves
  (a move keeps the one before it; a merged edit takes the newer one); a token is never reused.
"""

from __future__ import annotations

import itertools
import math
import os
import weakref
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from graph import catalogue, fileformat
from graph.analysis import Analysis, Finding, analyze, apply_fix
from graph.document import MAX_COORD, Edge, Graph, GraphEvent, PortRef, check_param, check_title
from graph.errors import EditError, GraphError
from graph.layout import layered_layout

from .commands import (
    AddNodeCommand,
    ApplyFixCommand,
    ConnectCommand,
    DisconnectCommand,
    GraphCommand,
    MoveNodesCommand,
    PasteCommand,
    RemoveItemsCommand,
    SetParamCommand,
    SetSettingCommand,
    SetTitleCommand,
)


class Document(QObject):
    graph_event = Signal(object)  # GraphEvent, synchronously after each mutation
    graph_replaced = Signal()  # a different Graph object: views rebuild from scratch
    analysis_changed = Signal(object)  # Analysis, coalesced after edits
    path_changed = Signal(str)  # "" for an untitled document
    modified_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_undo_stack_clean_changed)
        self._graph = Graph()
        self._unsubscribe = self._graph.subscribe(_weak_listener(self._on_graph_event))
        self._path = ""
        self._recovered = False
        self._analysis: Analysis | None = None
        self._analysis_timer = QTimer(self)
        self._analysis_timer.setSingleShot(True)
        self._analysis_timer.setInterval(0)
        self._analysis_timer.timeout.connect(self._on_analysis_timer_timeout)
        self.change_count = 0  # bumps on every graph event: autosave compares it
        self._tokens = itertools.count(1)
        self._base_token = next(self._tokens)  # the content token of the state with nothing to undo

    # ------------------------------------------------------------------ state

    @property
    def graph(self) -> Graph:
        """The live graph. Read it freely; edit it only through this document's methods."""
        return self._graph

    @property
    def path(self) -> str:
        return self._path

    @property
    def base_dir(self) -> str | None:
        return os.path.dirname(os.path.abspath(self._path)) if self._path else None

    def is_modified(self) -> bool:
        return self._recovered or not self.undo_stack.isClean()

    def snapshot(self) -> Graph:
        """A deep copy without listeners (what a training run should work on)."""
        return self._graph.copy()

    def text(self) -> str:
        return fileformat.dumps(self._graph)

    def content_token(self) -> int:
        """The graph's content as it is now, positions aside (see the module's invariants): equal
        tokens mean the same nodes, parameters, titles, wires and settings."""
        index = self.undo_stack.index()
        if index == 0:
            return self._base_token
        command = self.undo_stack.command(index - 1)
        assert isinstance(command, GraphCommand)  # only this document pushes commands
        return command.content_token

    def analysis(self) -> Analysis:
        """The analysis of the graph as it is now (recomputed if an edit made it stale)."""
        if self._analysis is None:
            self._analysis = analyze(self._graph, self.base_dir)
        return self._analysis

    # ------------------------------------------------------------------ whole documents

    def reset(self, graph: Graph | None = None, path: str = "", recovered: bool = False) -> None:
        """Make ``graph`` (or an empty graph) the document; clears undo history."""
        self._unsubscribe()
        self._graph = graph if graph is not None else Graph()
        self._unsubscribe = self._graph.subscribe(_weak_listener(self._on_graph_event))
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._base_token = next(self._tokens)
        was_modified = self._recovered
        self._recovered = recovered
        self._path = os.path.abspath(path) if path else ""
        self._analysis = None
        self.change_count += 1
        self.graph_replaced.emit()
        self.path_changed.emit(self._path)
        if was_modified != recovered:
            self.modified_changed.emit(self.is_modified())
        self._schedule_analysis()

    def load(self, path: str) -> None:
        """Open a file; raises FileFormatError (and leaves this document untouched) if unreadable."""
        graph = fileformat.load_path(path)
        self.reset(graph, path)

    def save(self, path: str) -> None:
        """Write atomically; raises OSError. On success the document is clean and titled ``path``."""
        fileformat.save_path(self._graph, path)
        self._path = os.path.abspath(path)
        was = self.is_modified()
        self._recovered = False
        self.undo_stack.setClean()
        self.path_changed.emit(self._path)
        if was != self.is_modified():
            self.modified_changed.emit(self.is_modified())

    # ------------------------------------------------------------------ edits

    def add_node(self, type_id: str, position: tuple[float, float],
                 params: dict[str, Any] | None = None, title: str = "") -> str:
        t = catalogue.get(type_id)
        for name, value in (params or {}).items():
            check_param(t, name, value)
        position = _clamp_position(position)
        check_title(title)
        cmd = AddNodeCommand(self._graph, t.type_id, position, params, title)
        self._push(cmd)
        return cmd.node_id

    def remove_items(self, node_ids: Sequence[str], edges: Sequence[Edge] = ()) -> None:
        """Delete nodes (with their edges) and wires as one undoable step."""
        node_ids = [nid for nid in dict.fromkeys(node_ids) if nid in self._graph.nodes]
        edges = [e for e in dict.fromkeys(edges) if e in self._graph.edges]
        if not node_ids and not edges:
            return
        if not node_ids and len(edges) == 1:
            self._push(DisconnectCommand(self._graph, edges[0]))
            return
        self._push(RemoveItemsCommand(self._graph, node_ids, edges))

    def connect(self, source: PortRef, target: PortRef) -> Edge:
        problem = self._graph.connect_problem(source, target)
        if problem:
            raise EditError(problem)
        cmd = ConnectCommand(self._graph, source, target)
        self._push(cmd)
        return cmd.edge

    def disconnect(self, edge: Edge) -> None:
        if edge not in self._graph.edges:
            raise EditError(f"no wire {edge.source} → {edge.target}")
        self._push(DisconnectCommand(self._graph, edge))

    def move_nodes(self, positions: dict[str, tuple[float, float]], text: str = "") -> None:
        moves = {}
        for nid, pos in positions.items():
            pos = _clamp_position(pos)
            if self._graph.node(nid).position != pos:
                moves[nid] = pos
        if moves:
            self._push(MoveNodesCommand(self._graph, moves, text), moves_only=True)

    def set_param(self, node_id: str, name: str, value: Any, merge: bool = False) -> None:
        value = self._graph.check_param(node_id, name, value)
        old = self._graph.nodes[node_id].params[name]
        if old == value and type(old) is type(value):
            return
        self._push(SetParamCommand(self._graph, node_id, name, value, merge))

    def set_title(self, node_id: str, title: str) -> None:
        node = self._graph.node(node_id)
        try:
            check_title(title)
        except EditError as exc:
            raise EditError(f"{node.label()}: {exc}") from None
        if title != node.title:
            self._push(SetTitleCommand(self._graph, node_id, title))

    def set_setting(self, name: str, value: Any) -> None:
        p = catalogue.SETTINGS_INDEX.get(name)
        if p is None:
            raise EditError(f"unknown setting {name!r}")
        value = p.check(value)
        if self._graph.settings[name] != value:
            self._push(SetSettingCommand(self._graph, name, value))

    def apply_fix(self, finding: Finding) -> None:
        """Apply a finding's fix as one undoable step (tried on a copy first)."""
        if finding.fix is None:
            raise EditError(f"no fix is offered for: {finding.message}")
        apply_fix(self._graph.copy(), finding.fix)  # raises GraphError if it no longer applies
        self._push(ApplyFixCommand(self._graph, finding.fix))

    def paste(self, fragment: Graph, offset: tuple[float, float], text: str = "Paste") -> list[str]:
        """Add ``fragment``'s nodes (fresh ids, shifted) and the edges among them; returns new ids."""
        if not fragment.nodes:
            return []
        trial = PasteCommand(self._graph.copy(), fragment, offset, text)
        trial.redo()  # raises GraphError (e.g. positions out of range) before anything is pushed
        cmd = PasteCommand(self._graph, fragment, offset, text)
        self._push(cmd)
        return list(cmd.result or [])

    def _push(self, command: GraphCommand, moves_only: bool = False) -> None:
        """Push ``command`` with the content token of the state it leaves (module invariants)."""
        command.content_token = self.content_token() if moves_only else next(self._tokens)
        self.undo_stack.push(command)

    def auto_layout(self, heights: dict[str, float] | None = None) -> None:
        if self._graph.nodes:
            self.move_nodes(layered_layout(self._graph, heights), "Auto layout")

    # ------------------------------------------------------------------ events

    def _on_graph_event(self, event: GraphEvent) -> None:
        self.change_count += 1
        self.graph_event.emit(event)
        self._schedule_analysis()

    def _schedule_analysis(self) -> None:
        self._analysis = None
        if not self._analysis_timer.isActive():
            self._analysis_timer.start()

    def _on_analysis_timer_timeout(self) -> None:
        self.analysis_changed.emit(self.analysis())

    def refresh_analysis(self) -> Analysis:
        """Recompute now and notify views (instead of waiting for the coalescing timer)."""
        self._analysis_timer.stop()
        self._analysis = None
        analysis = self.analysis()
        self.analysis_changed.emit(analysis)
        return analysis

    def _on_undo_stack_clean_changed(self, clean: bool) -> None:
        self.modified_changed.emit(self.is_modified())


def _clamp_position(pos: Any) -> tuple[float, float]:
    try:
        x, y = float(pos[0]), float(pos[1])
    except (TypeError, ValueError, IndexError):
        raise EditError(f"a position must be two numbers; got {pos!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise EditError(f"a position must be finite; got ({x}, {y})")
    return (max(-MAX_COORD, min(MAX_COORD, round(x, 2))), max(-MAX_COORD, min(MAX_COORD, round(y, 2))))


__all__ = ["Document", "GraphError"]


def _weak_listener(method: Any) -> Any:
    """A graph listener that does not keep the Document alive.

    NOTE: [no cycle through the undo stack] Undo commands hold the graph, and the stack (owned by
    the Document in C++) holds the commands. A strong listener (graph -> Document) closed that
    into a cycle through C++-owned command wrappers; when Python's garbage collector broke it,
    deleting the Document deleted the commands under wrappers being cleared, and the
    interpreter segfaulted. With a weak listener a dropped Document is freed by reference
    counting, in order.
    """
    ref = weakref.WeakMethod(method)

    def forward(event: Any) -> None:
        target = ref()
        if target is not None:
            target(event)

    return forward
