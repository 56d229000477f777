"""The canvas view (objectName ``canvas``): zoom, pan, fit, grid, and drops from the palette.

Invariants: the view edits nothing itself. A palette drop becomes ``node_type_dropped(type_id,
scene_pos)`` and a dropped file ``files_dropped(paths)``; the main window turns them into
document edits or an open. Zoom stays within [MIN_ZOOM, MAX_ZOOM]. A graph that is opened or
started (``show_graph``) is shown at no more than 100 % and never so small that the text on its
nodes and wires is under READABLE_TEXT_PX pixels high; only an explicit Fit to View goes lower.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsView

from .items import smallest_text_px
from .palette import NODE_TYPE_MIME
from .scene import GraphScene

MIN_ZOOM = 0.1
MAX_ZOOM = 4.0
READABLE_TEXT_PX = 9.0  # below this a new user could not read node titles and wire labels (issue 13)
FIT_MARGIN = 40.0
GRID = 20.0
CANVAS_BG = QColor("#f6f7f9")
GRID_MINOR = QColor("#e9ecf1")
GRID_MAJOR = QColor("#dde1e8")


class GraphView(QGraphicsView):
    node_type_dropped = Signal(str, QPointF)
    files_dropped = Signal(list)
    graph_shown = Signal()  # show_graph() set the view a graph opens with

    def __init__(self, scene: GraphScene, parent: Any = None):
        super().__init__(scene, parent)
        self.setObjectName("canvas")
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPointF | None = None
        self._space = False

    # ------------------------------------------------------------------ zoom and fit

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float, anchor_under_mouse: bool = False) -> None:
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        old = self.transformationAnchor()
        if not anchor_under_mouse:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(factor / self.zoom(), factor / self.zoom())
        self.setTransformationAnchor(old)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / 1.25)

    def reset_zoom(self) -> None:
        self.set_zoom(1.0)

    def readable_zoom(self) -> float:
        """The smallest zoom at which every text on nodes and wires is READABLE_TEXT_PX high."""
        # rounded up to whole percents, so rounding in the view's transform cannot undercut it
        return min(1.0, math.ceil(100 * READABLE_TEXT_PX / smallest_text_px(self.logicalDpiY())) / 100)

    def show_graph(self) -> None:
        """The view a graph opens with: all of it at up to 100 %, but never below the readable
        zoom; a graph too big for that shows its left end, where the data comes in."""
        scene = self.scene()
        if not isinstance(scene, GraphScene):
            return
        scene.update_scene_rect()
        rect = scene.nodes_rect()
        if rect.isNull():
            self.set_zoom(1.0)
            self.centerOn(scene.sceneRect().center())
        else:
            rect = rect.adjusted(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
            port = self.viewport().rect()
            fit = min(port.width() / rect.width(), port.height() / rect.height())
            zoom = max(self.readable_zoom(), min(1.0, fit))
            self.set_zoom(zoom)
            seen_w, seen_h = port.width() / zoom, port.height() / zoom
            x = rect.center().x() if rect.width() <= seen_w else rect.left() + seen_w / 2
            y = rect.center().y() if rect.height() <= seen_h else rect.top() + seen_h / 2
            self.centerOn(QPointF(x, y))
        self.graph_shown.emit()

    def fit_all(self) -> None:
        scene = self.scene()
        if not isinstance(scene, GraphScene):
            return
        scene.update_scene_rect()  # a pending change of the scrollable area must not clip the fit
        scene.flush()  # pending positions and wire routes count in the fitted area
        rect = scene.nodes_rect()
        if rect.isNull():
            self.reset_zoom()
            return
        rect = rect.adjusted(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:  # never blow a small graph up past 100 %
            self.set_zoom(1.0)
        elif self.zoom() < MIN_ZOOM:
            self.set_zoom(MIN_ZOOM)
        self.centerOn(rect.center())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        delta = event.angleDelta().y()
        if delta == 0:
            super().wheelEvent(event)
            return
        self.set_zoom(self.zoom() * math.pow(1.0015, delta), anchor_under_mouse=True)
        event.accept()

    # ------------------------------------------------------------------ pan

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.MiddleButton or (
                self._space and event.button() == Qt.MouseButton.LeftButton):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._pan_from is not None:
            self._pan_from = None
            if self._space:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # ------------------------------------------------------------------ drops

    def _accepts(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        mime = event.mimeData()
        if mime.hasFormat(NODE_TYPE_MIME):
            return True
        return mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt override
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if mime.hasFormat(NODE_TYPE_MIME):
            type_id = bytes(mime.data(NODE_TYPE_MIME).data()).decode("utf-8", "replace")
            self.node_type_dropped.emit(type_id, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
        elif mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            event.ignore()

    # ------------------------------------------------------------------ background

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt override
        painter.fillRect(rect, CANVAS_BG)
        zoom = self.zoom()
        step = GRID if zoom >= 0.5 else GRID * 5
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        minor: list[QLineF] = []
        major: list[QLineF] = []
        x = left
        while x < rect.right():
            (major if round(x / GRID) % 5 == 0 else minor).append(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            (major if round(y / GRID) % 5 == 0 else minor).append(QLineF(rect.left(), y, rect.right(), y))
            y += step
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(GRID_MINOR, 0))
        painter.drawLines(minor)
        painter.setPen(QPen(GRID_MAJOR, 0))
        painter.drawLines(major)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
