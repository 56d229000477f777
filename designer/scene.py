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
* a training run's figures (gradient bands, "failed here") go through ``set_run_overlay`` and
  ``clear_run_overlays``; nothing outside the scene paints on its items. A rebuild drops them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QTransform
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent

from graph.analysis import Analysis
from graph.document import Edge, GraphEvent, GraphEventKind, PortRef
from graph.errors import GraphError

from .document import Document
from .items import NODE_W, OK_WIRE, EdgeItem, NodeItem, PortItem, WireItem, format_count

SCENE_MARGIN = 1500.0
BUCKET = 400.0  # width of the node index's x buckets
SYNC_MOVES = 64  # node moves per step applied at once; beyond that they are coalesced


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
        self._route_timer.timeout.connect(self.flush)
        # NOTE: [no index] Wires span large areas and nodes move often; Qt's BSP index then costs
        # more than it saves and its queries call our Python boundingRect() thousands of times.
        # Routing and label placement use the x-bucketed node index below instead.
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self._buckets: dict[int, set[NodeItem]] = {}
        self._bucket_of: dict[NodeItem, tuple[int, int]] = {}
        self._rects: dict[NodeItem, QRectF] = {}
        self._dirty_wires: set[EdgeItem] = set()
        self._dirty_spans: list[tuple[float, float]] = []
        self._reroute_all = False
        self._pending_pos: dict[NodeItem, tuple[float, float]] = {}
        self._moves_now = 0  # node moves applied synchronously since the last flush
        K = GraphEventKind
        self._event_handlers: dict[GraphEventKind, Callable[[GraphEvent], None]] = {
            K.NODE_ADDED: self._on_node_added, K.NODE_REMOVED: self._on_node_removed,
            K.EDGE_ADDED: self._on_edge_added, K.EDGE_REMOVED: self._on_edge_removed,
            K.PARAM_CHANGED: self._on_node_data_changed, K.TITLE_CHANGED: self._on_node_data_changed,
            K.NODE_MOVED: self._on_node_moved,
        }
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
        self._buckets.clear()
        self._bucket_of.clear()
        self._rects.clear()
        self._dirty_wires.clear()
        self._dirty_spans.clear()
        self._pending_pos.clear()
        graph = self.document.graph
        for nid in graph.nodes:
            self._add_node_item(nid)
        for edge in graph.edges:
            self._add_edge_item(edge)
        self._rect_timer.start()
        self._reroute_all = True
        self._schedule_wires()

    def _add_node_item(self, node_id: str) -> NodeItem:
        node = self.document.graph.nodes[node_id]
        item = NodeItem(node_id, node.node_type)
        item.set_node_data(node.title, node.params)
        item.setPos(QPointF(*node.position))
        self.addItem(item)
        self.node_items[node_id] = item
        self._index_node(item)
        item.moved = self._on_node_item_moved
        return item

    def _add_edge_item(self, edge: Edge) -> EdgeItem:
        src, dst = self.node_items[edge.source.node], self.node_items[edge.target.node]
        item = EdgeItem(edge, src, dst, self.node_rects_in)
        self._dirty_wires.add(item)
        self._schedule_wires()
        src.edges.append(item)
        dst.edges.append(item)
        self.addItem(item)
        self.edge_items[edge] = item
        return item

    def _on_document_graph_event(self, event: GraphEvent) -> None:
        handler = self._event_handlers.get(event.kind)
        if handler is not None:
            handler(event)

    def _on_node_added(self, event: GraphEvent) -> None:
        item = self._add_node_item(event.node_id)
        self._mark_span(item)
        if not self._rect_timer.isActive():
            self._rect_timer.start()

    def _on_node_removed(self, event: GraphEvent) -> None:
        item = self.node_items.pop(event.node_id, None)
        if item is not None:
            self._pending_pos.pop(item, None)
            self._mark_span(item)
            self._unindex_node(item)
            item.moved = None
            self.removeItem(item)

    def _on_edge_added(self, event: GraphEvent) -> None:
        self._add_edge_item(event.edge)

    def _on_edge_removed(self, event: GraphEvent) -> None:
        item = self.edge_items.pop(event.edge, None)
        if item is not None:
            self._dirty_wires.discard(item)
            for end in (item.source_item, item.target_item):
                if item in end.edges:
                    end.edges.remove(item)
            self.removeItem(item)

    def _on_node_data_changed(self, event: GraphEvent) -> None:
        node = self.document.graph.nodes[event.node_id]
        self.node_items[event.node_id].set_node_data(node.title, node.params)

    def _on_node_moved(self, event: GraphEvent) -> None:
        # A step that moves many nodes (auto-layout, its undo) applies positions once, when
        # control returns to the event loop; small steps apply them at once.
        item = self.node_items[event.node_id]
        if self._moves_now < SYNC_MOVES and not self._pending_pos:
            self._moves_now += 1
            pos = QPointF(*event.new)
            if item.pos() != pos:
                item.setPos(pos)
        else:
            self._pending_pos[item] = event.new
        self._schedule_wires()
        if not self._rect_timer.isActive():
            self._rect_timer.start()

    # ------------------------------------------------------------------ a training run's figures

    def set_run_overlay(self, node_id: str, text: str | None, color: QColor | None = None) -> bool:
        """Show a run's figure on a node (a band along its bottom edge); ``None`` removes it.
        False when the graph has no such node (any more)."""
        item = self.node_items.get(node_id)
        if item is None:
            return False
        item.set_run_overlay(text, color)
        return True

    def clear_run_overlays(self) -> None:
        """Remove every node's run figure (a new run starts)."""
        for item in self.node_items.values():
            if item.run_text is not None:
                item.set_run_overlay(None)

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
            item.set_label(item.style.label or (info.describe() if info is not None else "?"))

    # ------------------------------------------------------------------ node index and wires

    def _index_node(self, item: NodeItem) -> None:
        rect = item.body_rect()
        self._rects[item] = rect
        span = (int(rect.left() // BUCKET), int(rect.right() // BUCKET))
        old = self._bucket_of.get(item)
        if old == span:
            return
        if old is not None:
            for b in range(old[0], old[1] + 1):
                self._buckets.get(b, set()).discard(item)
        for b in range(span[0], span[1] + 1):
            self._buckets.setdefault(b, set()).add(item)
        self._bucket_of[item] = span

    def _unindex_node(self, item: NodeItem) -> None:
        span = self._bucket_of.pop(item, None)
        self._rects.pop(item, None)
        if span is not None:
            for b in range(span[0], span[1] + 1):
                self._buckets.get(b, set()).discard(item)

    def node_rects_in(self, area: QRectF) -> list[tuple[NodeItem, QRectF]]:
        """Nodes whose rectangles meet ``area`` (scene coordinates), with those rectangles."""
        found: set[NodeItem] = set()
        for b in range(int(area.left() // BUCKET), int(area.right() // BUCKET) + 1):
            bucket = self._buckets.get(b)
            if bucket:
                found |= bucket
        rects = self._rects
        return [(item, rects[item]) for item in found if rects[item].intersects(area)]

    def _schedule_wires(self) -> None:
        if not self._route_timer.isActive():
            self._route_timer.start()

    def _mark_span(self, item: NodeItem) -> None:
        x = item.pos().x()
        self._dirty_spans.append((x, x + NODE_W))
        self._schedule_wires()

    def _on_node_item_moved(self, item: NodeItem) -> None:
        """A node item moved (drag, undo, layout): its wires and any wire it may now cover or
        uncover are recomputed once, when control returns to the event loop."""
        self._mark_span(item)  # where it was
        self._index_node(item)
        self._mark_span(item)  # where it is
        self._dirty_wires.update(item.edges)

    def flush(self) -> None:
        """Apply pending node positions, then recompute the wires that changed and re-route
        those passing where nodes moved. Runs from a zero-delay timer; call it to be current now."""
        self._route_timer.stop()
        self._moves_now = 0
        if self._pending_pos:
            pending, self._pending_pos = self._pending_pos, {}
            for item, (x, y) in pending.items():
                if item.scene() is self:
                    item.setPos(QPointF(x, y))
        if self._reroute_all:
            dirty = set(self.edge_items.values())
        else:
            dirty = self._dirty_wires
            if self._dirty_spans:
                spans = self._dirty_spans
                for item in self.edge_items.values():
                    box = item.boundingRect()
                    if item not in dirty and any(box.left() <= x1 and x0 <= box.right() for x0, x1 in spans):
                        dirty.add(item)
        for item in dirty:
            if item.scene() is self:
                item.update_path()
        self._dirty_wires = set()
        self._dirty_spans = []
        self._reroute_all = False

    def reroute_edges(self) -> None:
        """Recompute every wire now."""
        self._reroute_all = True
        self.flush()

    def update_scene_rect(self) -> None:
        self._rect_timer.stop()
        rect = QRectF()
        for item in self.node_items.values():
            rect = rect.united(item.body_rect())
        if rect.isNull():
            rect = QRectF(0, 0, 800, 600)
        self.setSceneRect(rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN))

    def nodes_rect(self) -> QRectF:
        self.flush()
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
        self.flush()
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
        if self._dirty_wires and event.buttons() & Qt.MouseButton.LeftButton:
            self._flush_dragged_wires()

    def _flush_dragged_wires(self) -> None:
        """While dragging, the moved nodes' own wires follow at once (the rest on release)."""
        for item in self._dirty_wires:
            if item.scene() is self:
                item.update_path(route=False)

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
        self.flush()
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
