"""The canvas scene: a mirror of the document's graph.

Invariants:

* ``node_items`` holds exactly one :class:`NodeItem` per node id and ``edge_items`` one
  :class:`EdgeItem` per edge; both change only in the handlers of the document's
  ``graph_event`` / ``graph_replaced`` signals, never in response to a gesture directly.
* gestures become requests to the :class:`~designer.document.Document` (connect, move, ...);
  the resulting graph events then update the items. A drag moves the items freely and becomes
  one move command on mouse release.
* shape labels, parameter counts and badges come from the document's coalesced analysis
  (``analysis_changed``), so a burst of edits costs one analysis, not one per event.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent

from graph.analysis import Analysis
from graph.document import Edge, GraphEvent, PortRef
from graph.errors import GraphError

from .document import Document
from .items import OK_WIRE, EdgeItem, NodeItem, PortItem, WireItem, format_count

SCENE_MARGIN = 1500.0


class GraphScene(QGraphicsScene):
    status_message = Signal(str)  # short feedback for the status bar (refused wires, errors)

    def __init__(self, document: Document, parent: Any = None):
        super().__init__(parent)
        self.document = document
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[Edge, EdgeItem] = {}
        self._wire: WireItem | None = None
        self._wire_from: PortItem | None = None
        self._wire_target: PortItem | None = None
        self._rect_timer = QTimer(self)
        self._rect_timer.setSingleShot(True)
        self._rect_timer.setInterval(0)
        self._rect_timer.timeout.connect(self.update_scene_rect)
        self._route_timer = QTimer(self)
        self._route_timer.setSingleShot(True)
        self._route_timer.setInterval(0)
        self._route_timer.timeout.connect(self.reroute_edges)
        document.graph_event.connect(self._on_document_graph_event)
        document.graph_replaced.connect(self.rebuild)
        document.analysis_changed.connect(self._on_document_analysis_changed)
        self.rebuild()

    # ------------------------------------------------------------------ mirror

    def rebuild(self) -> None:
        self._cancel_wire()
        self.clear()  # deletes every item
        self.node_items.clear()
        self.edge_items.clear()
        graph = self.document.graph
        for nid in graph.nodes:
            self._add_node_item(nid)
        for edge in graph.edges:
            self._add_edge_item(edge)
        self._rect_timer.start()
        self._route_timer.start()

    def _add_node_item(self, node_id: str) -> NodeItem:
        node = self.document.graph.nodes[node_id]
        item = NodeItem(node_id, node.node_type)
        item.set_node_data(node.title, node.params)
        item.setPos(QPointF(*node.position))
        self.addItem(item)
        self.node_items[node_id] = item
        return item

    def _add_edge_item(self, edge: Edge) -> EdgeItem:
        src, dst = self.node_items[edge.source.node], self.node_items[edge.target.node]
        item = EdgeItem(edge, src, dst)
        src.edges.append(item)
        dst.edges.append(item)
        self.addItem(item)
        self.edge_items[edge] = item
        return item

    def _on_document_graph_event(self, event: GraphEvent) -> None:
        kind = event.kind
        if kind == "node_added":
            self._add_node_item(event.node_id)
            self._rect_timer.start()
            self._route_timer.start()
        elif kind == "node_removed":
            item = self.node_items.pop(event.node_id, None)
            if item is not None:
                self.removeItem(item)
                self._route_timer.start()
        elif kind == "edge_added":
            self._add_edge_item(event.edge)
        elif kind == "edge_removed":
            item = self.edge_items.pop(event.edge, None)
            if item is not None:
                for end in (item.source_item, item.target_item):
                    if item in end.edges:
                        end.edges.remove(item)
                self.removeItem(item)
        elif kind in ("param_changed", "title_changed"):
            node = self.document.graph.nodes[event.node_id]
            self.node_items[event.node_id].set_node_data(node.title, node.params)
        elif kind == "node_moved":
            item = self.node_items[event.node_id]
            pos = QPointF(*event.new)
            if item.pos() != pos:
                item.setPos(pos)
            self._rect_timer.start()
            self._route_timer.start()

    def _on_document_analysis_changed(self, analysis: Analysis) -> None:
        by_node: dict[str, list[tuple[str, str]]] = {}
        for f in analysis.findings:
            if f.node_id:
                by_node.setdefault(f.node_id, []).append((f.severity, f.message))
        for nid, item in self.node_items.items():
            outs = analysis.outputs.get(nid)
            t = item.node_type
            if outs is None:
                out_text = "→ ?" if t.outputs else ""
            else:
                main = analysis.output_info(nid)
                out_text = f"→ {main.describe()}" if main is not None and main.kind == "tensor" else ""
            if not out_text and not t.outputs:
                out_text = t.category
            count = analysis.params.get(nid)
            count_text = format_count(count) if count else ""
            ports = {name: info.describe() for name, info in (outs or {}).items()}
            item.set_analysis(out_text, count_text, ports, by_node.get(nid, []))
        for edge, item in self.edge_items.items():
            info = analysis.edge_info(edge)
            item.set_label(info.describe() if info is not None else "?")

    def reroute_edges(self) -> None:
        """Recompute every wire (a moved node may now cover, or uncover, other wires)."""
        self._route_timer.stop()
        for item in self.edge_items.values():
            item.update_path()

    def update_scene_rect(self) -> None:
        self._rect_timer.stop()
        rect = QRectF()
        for item in self.node_items.values():
            rect = rect.united(item.body_rect())
        if rect.isNull():
            rect = QRectF(0, 0, 800, 600)
        self.setSceneRect(rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN))

    def nodes_rect(self) -> QRectF:
        rect = QRectF()
        for item in self.node_items.values():
            rect = rect.united(item.sceneBoundingRect())
        for item in self.edge_items.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    # ------------------------------------------------------------------ selection

    def selected_node_ids(self) -> list[str]:
        """Selected nodes in document order."""
        selected = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        return [nid for nid in self.document.graph.nodes if nid in selected]

    def selected_edges(self) -> list[Edge]:
        selected = {i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)}
        return [e for e in self.document.graph.edges if e in selected]

    def select_nodes(self, node_ids: list[str]) -> None:
        wanted = set(node_ids)
        self.blockSignals(True)
        try:
            for item in self.selectedItems():
                if not (isinstance(item, NodeItem) and item.node_id in wanted):
                    item.setSelected(False)
            for nid in node_ids:
                item = self.node_items.get(nid)
                if item is not None:
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def node_heights(self) -> dict[str, float]:
        return {nid: item.height for nid, item in self.node_items.items()}

    # ------------------------------------------------------------------ wiring gesture

    def port_at(self, pos: QPointF, transform: QTransform | None = None) -> PortItem | None:
        """The port under ``pos`` (scene coordinates), with a few pixels of tolerance."""
        r = 8.0
        best: tuple[float, PortItem] | None = None
        for item in self.items(QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r)):
            if isinstance(item, PortItem):
                d = (item.scenePos() - pos).manhattanLength()
                if best is None or d < best[0]:
                    best = (d, item)
        return best[1] if best else None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            port = self.port_at(event.scenePos())
            if port is not None:
                self._start_wire(port, event.scenePos())
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._wire is not None:
            self._drag_wire(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._wire is not None:
            if event.button() == Qt.MouseButton.LeftButton:
                self._drag_wire(event.scenePos())
                self._finish_wire()
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.commit_moves()

    def commit_moves(self) -> None:
        """Turn item positions that differ from the model into one move command."""
        graph = self.document.graph
        moved = {}
        for nid, item in self.node_items.items():
            pos = (round(item.pos().x()), round(item.pos().y()))
            if (item.pos().x(), item.pos().y()) != graph.nodes[nid].position:
                moved[nid] = (float(pos[0]), float(pos[1]))
        if moved:
            try:
                self.document.move_nodes(moved)
            except GraphError as exc:
                self.status_message.emit(f"Cannot move: {exc}")
                for nid in moved:
                    self.node_items[nid].setPos(QPointF(*graph.nodes[nid].position))

    def _start_wire(self, port: PortItem, pos: QPointF) -> None:
        self._wire_from = port
        self._wire = WireItem()
        self.addItem(self._wire)
        self._drag_wire(pos)

    def _ends(self, a: PortItem, b: PortItem) -> tuple[PortRef, PortRef]:
        out, inp = (a, b) if a.is_output else (b, a)
        return PortRef(out.node_id, out.name), PortRef(inp.node_id, inp.name)

    def _drag_wire(self, pos: QPointF) -> None:
        start = self._wire_from
        assert start is not None and self._wire is not None
        target = self.port_at(pos)
        if target is not None and (target is start or target.is_output == start.is_output):
            target = None
        if self._wire_target is not None and self._wire_target is not target:
            self._wire_target.set_highlight(None)
        self._wire_target = target
        end = target.scenePos() if target is not None else pos
        a, b = (start.scenePos(), end) if start.is_output else (end, start.scenePos())
        self._wire.set_ends(a, b)
        if target is None:
            self._wire.set_state("search")
            return
        problem = self.document.graph.connect_problem(*self._ends(start, target))
        if problem:
            self._wire.set_state("refused")
            target.set_highlight(self._wire.pen().color())
            self.status_message.emit(f"Cannot connect: {problem}")
        else:
            self._wire.set_state("ok")
            target.set_highlight(OK_WIRE)
            self.status_message.emit("")

    def _finish_wire(self) -> None:
        start, target = self._wire_from, self._wire_target
        self._cancel_wire()
        if start is None or target is None:
            return
        source, dest = self._ends(start, target)
        try:
            self.document.connect(source, dest)
        except GraphError as exc:
            self.status_message.emit(f"Cannot connect: {exc}")
        else:
            self.status_message.emit(f"Connected {source} → {dest}")

    def _cancel_wire(self) -> None:
        if self._wire_target is not None:
            self._wire_target.set_highlight(None)
        if self._wire is not None and self._wire.scene() is self:
            self.removeItem(self._wire)
        self._wire = None
        self._wire_from = None
        self._wire_target = None

    @property
    def wire(self) -> WireItem | None:
        """The temporary wire while a connection is being dragged (for tests and tools)."""
        return self._wire
