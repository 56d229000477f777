"""Drive the designer the way a user does: palette drops, port drags, inspector typing."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QFocusEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
)

from graph.document import Graph


def view_point(window: Any, scene_pos: QPointF) -> QPoint:
    return window.canvas.mapFromScene(scene_pos)


def drop_node(window: Any, type_id: str, pos: QPoint) -> str:
    """Drop a palette entry on the canvas viewport at ``pos``; returns the new node's id."""
    palette = window.palette
    index = window.palette_panel.index_of(type_id)
    assert index.isValid(), type_id
    mime = palette.model().mimeData([index])
    vp = window.canvas.viewport()
    before = set(window.document.graph.nodes)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, move)
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, drop)
    (new,) = set(window.document.graph.nodes) - before
    return new


def drop_file(widget: Any, path: Any) -> None:
    """Drag a file from a file manager and drop it on ``widget``."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(50, 50), *args)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(50, 50), *args))


def drag(window: Any, start: QPoint, end: QPoint, steps: int = 6) -> None:
    vp = window.canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, QPoint(start.x() + (end.x() - start.x()) * i // steps,
                                   start.y() + (end.y() - start.y()) * i // steps))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def port_point(window: Any, node_id: str, port: str, output: bool) -> QPoint:
    item = window.scene.node_items[node_id].port(port, output)
    assert item is not None, (node_id, port)
    return view_point(window, item.scenePos())


def wire(window: Any, src: str, src_port: str, dst: str, dst_port: str) -> None:
    drag(window, port_point(window, src, src_port, True), port_point(window, dst, dst_port, False))


def click_node(window: Any, node_id: str) -> None:
    item = window.scene.node_items[node_id]
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view_point(window, item.mapToScene(QPointF(100, 12))))


def click_empty(window: Any) -> None:
    rect = window.scene.nodes_rect()
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view_point(window, QPointF(rect.right() + 30, rect.bottom() + 30)))


def type_into(widget: Any, text: str) -> None:
    """Replace a text field's content by typing, then press Return (spin boxes, line edits)."""
    line = widget.lineEdit() if isinstance(widget, (QSpinBox, QDoubleSpinBox)) else widget
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Delete)
    QTest.keyClicks(line, text)
    QTest.keyClick(line, Qt.Key.Key_Return)


def edit_param(window: Any, name: str, value: Any) -> None:
    """Set a parameter (or graph setting) through the inspector's editor for it."""
    editor = window.inspector.editors[name]
    w = editor.widget
    if isinstance(w, QCheckBox):
        if w.isChecked() != value:
            QTest.mouseClick(w, Qt.MouseButton.LeftButton, pos=w.rect().center())
    elif isinstance(w, QComboBox):
        w.setFocus()
        target = w.findText(value)
        while w.currentIndex() != target:  # arrow keys, as a keyboard user would
            QTest.keyClick(w, Qt.Key.Key_Down if w.currentIndex() < target else Qt.Key.Key_Up)
    elif isinstance(w, QPlainTextEdit):
        w.selectAll()
        QTest.keyClick(w, Qt.Key.Key_Delete)
        QTest.keyClicks(w, value)
        QApplication.sendEvent(w, QFocusEvent(QEvent.Type.FocusOut, Qt.FocusReason.TabFocusReason))
    elif isinstance(w, (QSpinBox, QDoubleSpinBox, QLineEdit)):
        if isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = str(value)
        type_into(w, text)
    else:
        raise AssertionError(f"no way to edit {name} ({type(w).__name__})")


def canonical(graph: Graph, titles: bool = False) -> tuple[Counter, Counter]:
    """Nodes and edges up to ids and positions: node labels are type, params (and title)."""
    def label(nid: str) -> str:
        n = graph.nodes[nid]
        return json.dumps([n.type, n.params, n.title if titles else ""], sort_keys=True)

    nodes = Counter(label(nid) for nid in graph.nodes)
    edges = Counter((label(e.source.node), e.source.port, label(e.target.node), e.target.port) for e in graph.edges)
    return nodes, edges


def make_big_graph(n_nodes: int = 1000) -> Graph:
    """A residual MLP of about ``n_nodes`` nodes: Linear → ReLU → Add(skip) blocks on digits.

    Built straight into the dataclasses (valid by construction) because ``Graph.add_node`` and
    ``connect`` check each edit in O(graph) time, which makes a 3,000-node build slow."""
    from graph import catalogue
    from graph.document import Edge, Node, PortRef

    g = Graph()
    count = 0

    def node(type_id: str, **params: Any) -> str:
        nonlocal count
        count += 1
        nid = f"n{count}"
        values = catalogue.get(type_id).defaults()
        values.update(params)
        i = count - 1
        g.nodes[nid] = Node(nid, type_id, values, (float(i % 40) * 290.0, float(i // 40) * 180.0))
        return nid

    def edge(a: str, ap: str, b: str, bp: str) -> None:
        g.edges.append(Edge(PortRef(a, ap), PortRef(b, bp)))

    data = node("Dataset", dataset="digits")
    x = (data, "features")
    while len(g.nodes) < n_nodes - 4:
        lin, act, add = node("Linear", out_features=64), node("ReLU"), node("Add")
        edge(*x, lin, "input")
        edge(lin, "output", act, "input")
        edge(*x, add, "inputs")
        edge(act, "output", add, "inputs")
        x = (add, "output")
    head, loss, opt = node("Linear", out_features=10), node("CrossEntropyLoss"), node("Adam")
    edge(*x, head, "input")
    edge(head, "output", loss, "prediction")
    edge(data, "target", loss, "target")
    edge(loss, "loss", opt, "loss")
    return g
