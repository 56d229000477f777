"""Canvas items: nodes, their typed ports, wires with shape labels, badges, the temporary wire.

Invariants:

* items hold ids (``NodeItem.node_id``, ``EdgeItem.edge``) and display data handed to them by
  :class:`designer.scene.GraphScene`; they never read or mutate the graph model themselves and
  never push commands. User gestures are interpreted by the scene, which sends requests upward.
* a node's geometry depends only on its type (ports, key parameters), so a node never changes
  size when a value changes and auto-layout can use ``NodeItem.height`` up front.
* all painting is done in ``paint`` with cached fonts; at low zoom text is skipped, so a
  thousand-node graph stays cheap to draw.
* a wire's look comes from ``WIRE_STYLES[kind]`` (the kind its output port carries), and a port's
  colour from the same table: red belongs to refused connections and errors only, so the loss →
  optimizer wire, which carries no tensor, is grey and dotted and says what it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from graph.catalogue import NodeType, Port
from graph.document import Edge
from graph.params import Param

NODE_W = 200.0  # equals graph.layout.NODE_W so the layered layout's columns fit the nodes
HEADER_H = 28.0
PORT_ROW = 20.0
PARAM_ROW = 17.0
FOOTER_H = 24.0
RADIUS = 8.0
PORT_R = 6.0
MAX_KEY_PARAMS = 4
OVERVIEW_LOD = 0.45  # below this zoom nodes draw as titled blocks (semantic zoom)
ROUTE_R = 28.0  # radius of a routed wire's bends
LANE_GAP = 18.0  # distance between a routed wire's lane and the nodes it avoids

CATEGORY_COLORS = {
    "data": QColor("#2563eb"),
    "layer": QColor("#7c3aed"),
    "activation": QColor("#d97706"),
    "loss": QColor("#dc2626"),
    "optimizer": QColor("#059669"),
    "schedule": QColor("#475569"),
}


@dataclass(frozen=True)
class WireStyle:
    """How a wire of one kind looks and what its tooltip says."""

    color: str
    pen_style: Qt.PenStyle
    label: str  # a fixed label; "" shows what the analysis says flows along the wire
    tip: str
    label_above: bool = False  # text over the line, not a pill on it: a short wire stays visible


WIRE_STYLES = {
    "tensor": WireStyle("#475569", Qt.PenStyle.SolidLine, "",
                        "A tensor flows forward along this wire; its shape is printed on it."),
    "loss": WireStyle("#64748b", Qt.PenStyle.DotLine, "minimised by",
                      "The optimizer minimises this loss. No tensor flows here: the gradients of the "
                      "loss flow back through the layers that produced it, and the optimizer updates "
                      "their weights.", label_above=True),
    "schedule": WireStyle("#7c3aed", Qt.PenStyle.DashLine, "schedule",
                          "This schedule sets the optimizer's learning rate as training goes on; "
                          "no tensor flows here.", label_above=True),
}
KIND_COLORS = {kind: QColor(style.color) for kind, style in WIRE_STYLES.items()}
TEXT = QColor("#0f172a")
MUTED = QColor("#64748b")
BORDER = QColor("#cbd5e1")
SELECTED = QColor("#2563eb")
ERROR = QColor("#dc2626")
WARNING = QColor("#f59e0b")
INFO = QColor("#0ea5e9")
OK_WIRE = QColor("#16a34a")


@cache
def fonts() -> dict[str, QFont]:
    base = QFont()
    title = QFont(base)
    title.setPointSizeF(9.5)
    title.setBold(True)
    small = QFont(base)
    small.setPointSizeF(8.0)
    body = QFont(base)
    body.setPointSizeF(8.5)
    mono = QFont(body)
    mono.setStyleHint(QFont.StyleHint.Monospace)
    return {"title": title, "small": small, "body": body, "label": small}


@cache
def metrics(name: str) -> QFontMetricsF:
    return QFontMetricsF(fonts()[name])


def font_pixel_size(font: QFont, dpi: float) -> float:
    """The height in pixels of ``font``'s em at 100 % zoom on a device with ``dpi`` dots per inch."""
    return float(font.pixelSize()) if font.pixelSize() > 0 else font.pointSizeF() * dpi / 72.0


def smallest_text_px(dpi: float) -> float:
    """The smallest text drawn on nodes and wires at 100 % zoom, in pixels (the wire labels and
    port names at 8 pt: about 10.7 px at 96 dpi)."""
    return min(font_pixel_size(f, dpi) for f in fonts().values())


def format_value(param: Param, value: Any) -> str:
    if param.kind == "bool":
        return "yes" if value else "no"
    if param.kind == "float":
        text = repr(float(value))
        return text[:-2] if text.endswith(".0") else text
    if param.kind == "ints":
        return "×".join(str(v) for v in value)
    if param.kind == "str":
        return value or "—"
    return str(value)


def format_count(n: int) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.1f}M params"
    return f"{n:,} param{'s' * (n != 1)}"


def node_height(t: NodeType) -> float:
    rows = max(len(t.inputs), len(t.outputs), 1)
    keys = min(len(t.key_params), MAX_KEY_PARAMS)
    return HEADER_H + 6 + rows * PORT_ROW + keys * PARAM_ROW + FOOTER_H + (4 if keys else 0)


PORT_BOUNDS = QRectF(-PORT_R - 4, -PORT_R - 4, 2 * PORT_R + 8, 2 * PORT_R + 8)
PORT_SHAPE = QPainterPath()
PORT_SHAPE.addEllipse(PORT_BOUNDS)


def _show_port_labels(ports: tuple[Port, ...]) -> bool:
    return len(ports) > 1 or any(p.name not in ("input", "output") for p in ports)


class PortItem(QGraphicsItem):
    """A typed connection point on a node's left (input) or right (output) edge."""

    def __init__(self, parent: NodeItem, port: Port, is_output: bool, center: QPointF):
        super().__init__(parent)
        self.node_item = parent
        self.port = port
        self.is_output = is_output
        self.setPos(center)
        self.setAcceptHoverEvents(True)
        self._hover = False
        self.highlight: QColor | None = None
        direction = "output" if is_output else "input"
        many = " (accepts several wires, in order)" if port.many else ""
        optional = " (optional)" if port.optional else ""
        self.setToolTip(f"{port.name}: {port.kind} {direction}{many}{optional}\n{port.doc}".strip())

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    @property
    def name(self) -> str:
        return self.port.name

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return PORT_BOUNDS

    def shape(self) -> QPainterPath:
        return PORT_SHAPE

    def hoverEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._hover = False
        self.update()

    def set_highlight(self, color: QColor | None) -> None:
        if color != self.highlight:
            self.highlight = color
            self.update()

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        color = KIND_COLORS.get(self.port.kind, MUTED)
        r = PORT_R + (1.5 if self._hover or self.highlight is not None else 0)
        if self.highlight is not None:
            p.setPen(Qt.PenStyle.NoPen)
            glow = QColor(self.highlight)
            glow.setAlpha(70)
            p.setBrush(glow)
            p.drawEllipse(QPointF(0, 0), r + 4, r + 4)
        p.setPen(QPen(color, 2))
        p.setBrush(QColor("white") if not self._hover else color.lighter(170))
        if self.port.kind == "tensor":
            p.drawEllipse(QPointF(0, 0), r, r)
        else:  # loss and schedule ports are diamonds: they only join their own kind
            path = QPainterPath(QPointF(0, -r))
            path.lineTo(r, 0)
            path.lineTo(0, r)
            path.lineTo(-r, 0)
            path.closeSubpath()
            p.drawPath(path)


class BadgeItem(QGraphicsItem):
    """A round marker on a node's corner; its tooltip lists the findings."""

    def __init__(self, parent: NodeItem):
        super().__init__(parent)
        self.color = ERROR
        self.symbol = "!"
        self.setPos(NODE_W - 4, 4)
        self.setZValue(2)
        self.setAcceptHoverEvents(True)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(-10, -10, 20, 20)

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor("white"), 2))
        p.setBrush(self.color)
        p.drawEllipse(QPointF(0, 0), 9, 9)
        p.setFont(fonts()["title"])
        p.setPen(QColor("white"))
        p.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignCenter, self.symbol)


class NodeItem(QGraphicsItem):
    """A node: category-coloured header, typed ports, key parameters, output shape and count."""

    def __init__(self, node_id: str, node_type: NodeType):
        super().__init__()
        self.node_id = node_id
        self.node_type = node_type
        self.height = node_height(node_type)
        self._bounds = QRectF(-2, -2, NODE_W + 4, self.height + 6)
        self._shape = QPainterPath()
        self._shape.addRoundedRect(QRectF(0, 0, NODE_W, self.height), RADIUS, RADIUS)
        self.edges: list[EdgeItem] = []
        self.moved: Callable[[NodeItem], None] | None = None  # set by the scene: keeps wires and its index current
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setToolTip(f"{node_type.title} ({node_type.category})\n{node_type.doc}")
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        top = HEADER_H + 6 + PORT_ROW / 2
        for i, port in enumerate(node_type.inputs):
            self.inputs[port.name] = PortItem(self, port, False, QPointF(0, top + i * PORT_ROW))
        for i, port in enumerate(node_type.outputs):
            self.outputs[port.name] = PortItem(self, port, True, QPointF(NODE_W, top + i * PORT_ROW))
        self._show_in = _show_port_labels(node_type.inputs)
        self._show_out = _show_port_labels(node_type.outputs)
        self.title = ""
        self.param_lines: list[tuple[str, str]] = []
        self.output_text = ""
        self.count_text = ""
        self.port_texts: dict[str, str] = {}
        self.findings: list[tuple[str, str]] = []  # (severity, message)
        self.badge: BadgeItem | None = None
        self._hover = False
        self.run_text: str | None = None
        self.run_color: QColor | None = None

    # ---------------------------------------------------------------- data from the scene

    def set_node_data(self, title: str, params: dict[str, Any]) -> None:
        t = self.node_type
        lines = []
        for name in t.key_params[:MAX_KEY_PARAMS]:
            p = t.param_index.get(name)
            if p is not None:
                lines.append((name, format_value(p, params.get(name, p.default))))
        if title != self.title or lines != self.param_lines:
            self.title = title
            self.param_lines = lines
            self.update()

    def set_analysis(self, output_text: str, count_text: str, port_texts: dict[str, str],
                     findings: list[tuple[str, str]]) -> None:
        if (output_text, count_text, port_texts, findings) == (
                self.output_text, self.count_text, self.port_texts, self.findings):
            return
        self.output_text, self.count_text, self.port_texts = output_text, count_text, port_texts
        self.findings = findings
        self._update_badge()
        self.update()

    def set_run_overlay(self, text: str | None, color: QColor | None = None) -> None:
        """A band along the node's bottom edge with a short text (e.g. a gradient norm during a
        training run); ``None`` removes it."""
        if (text, color) != (self.run_text, self.run_color):  # a repaint of the canvas costs ~1 ms
            self.run_text, self.run_color = text, color
            self.update()

    def _update_badge(self) -> None:
        severities = [s for s, _ in self.findings]
        if not severities:
            if self.badge is not None:
                self.badge.setVisible(False)
            return
        if self.badge is None:
            self.badge = BadgeItem(self)
        if "error" in severities:
            self.badge.color, self.badge.symbol = ERROR, "!"
        elif "warning" in severities:
            self.badge.color, self.badge.symbol = WARNING, "!"
        else:
            self.badge.color, self.badge.symbol = INFO, "i"
        self.badge.setToolTip("\n".join(f"{s}: {m}" for s, m in self.findings))
        self.badge.setVisible(True)
        self.badge.update()

    @property
    def has_error(self) -> bool:
        return any(s == "error" for s, _ in self.findings)

    # ---------------------------------------------------------------- geometry

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    def body_rect(self) -> QRectF:
        """The node's rectangle in scene coordinates (for overlap checks and fitting)."""
        return QRectF(self.pos(), QRectF(0, 0, NODE_W, self.height).size())

    def port(self, name: str, output: bool) -> PortItem | None:
        return (self.outputs if output else self.inputs).get(name)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged and self.moved is not None:
            self.moved(self)
        return super().itemChange(change, value)

    def hoverEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._hover = False
        self.update()

    # ---------------------------------------------------------------- painting

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(p.worldTransform())
        rect = QRectF(0, 0, NODE_W, self.height)
        color = CATEGORY_COLORS.get(self.node_type.category, MUTED)
        selected = self.isSelected()
        if lod > 0.5:  # soft shadow
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(15, 23, 42, 22))
            p.drawRoundedRect(rect.translated(0, 2.5), RADIUS, RADIUS)
        if lod < OVERVIEW_LOD:
            self._paint_overview(p, rect, color, selected, lod)
            return
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("white"))
        p.drawRoundedRect(rect, RADIUS, RADIUS)
        # header: the rounded rectangle clipped to its top band
        p.save()
        p.setClipRect(QRectF(0, 0, NODE_W, HEADER_H))
        p.setBrush(color)
        p.drawRoundedRect(rect, RADIUS, RADIUS)
        p.restore()
        if self.run_color is not None:
            p.save()
            p.setClipRect(QRectF(0, self.height - 5, NODE_W, 5))
            p.setBrush(self.run_color)
            p.drawRoundedRect(rect, RADIUS, RADIUS)
            p.restore()
        if selected:
            pen = QPen(SELECTED, 2.5)
        elif self.has_error:
            pen = QPen(ERROR, 1.5)
        elif self._hover:
            pen = QPen(color, 1.5)
        else:
            pen = QPen(BORDER, 1)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(rect, RADIUS, RADIUS)
        self._paint_text(p)

    def _paint_overview(self, p: QPainter, rect: QRectF, color: QColor, selected: bool, lod: float) -> None:
        """Zoomed far out: a solid category-coloured block with the title large enough to read."""
        p.setPen(QPen(SELECTED, 3 / max(lod, 0.05)) if selected else QPen(ERROR, 2 / max(lod, 0.05))
                 if self.has_error else Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawRoundedRect(rect, RADIUS, RADIUS)
        if lod < 0.06:
            return
        font = QFont(fonts()["title"])
        font.setPixelSize(max(8, min(int(11 / lod), 64)))
        text = self.title or self.node_type.title
        p.setFont(font)
        p.setPen(QColor("white"))
        fm = QFontMetricsF(font)
        text = fm.elidedText(text, Qt.TextElideMode.ElideRight, NODE_W - 16)
        p.drawText(rect.adjusted(8, 4, -8, -4), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _paint_text(self, p: QPainter) -> None:
        t = self.node_type
        f = fonts()
        # header: title (or type) and, when titled, the type on the right
        p.setPen(QColor("white"))
        p.setFont(f["small"])
        type_w = 0.0
        if self.title:
            type_text = t.title
            type_w = metrics("small").horizontalAdvance(type_text) + 8
            p.setPen(QColor(255, 255, 255, 200))
            p.drawText(QRectF(NODE_W - type_w - 20, 0, type_w, HEADER_H),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, type_text)
        p.setPen(QColor("white"))
        p.setFont(f["title"])
        head = self.title or t.title
        head = metrics("title").elidedText(head, Qt.TextElideMode.ElideRight, NODE_W - 38 - type_w)
        p.drawText(QRectF(10, 0, NODE_W - 20, HEADER_H), Qt.AlignmentFlag.AlignVCenter, head)
        # port labels
        p.setFont(f["small"])
        top = HEADER_H + 6
        for i, port in enumerate(t.inputs):
            if self._show_in:
                p.setPen(MUTED)
                p.drawText(QRectF(12, top + i * PORT_ROW, NODE_W / 2 - 12, PORT_ROW),
                           Qt.AlignmentFlag.AlignVCenter, port.name)
        for i, port in enumerate(t.outputs):
            if self._show_out:
                p.setPen(MUTED)
                p.drawText(QRectF(NODE_W / 2, top + i * PORT_ROW, NODE_W / 2 - 12, PORT_ROW),
                           Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, port.name)
        # key parameters
        rows = max(len(t.inputs), len(t.outputs), 1)
        y = top + rows * PORT_ROW + 2
        p.setFont(f["body"])
        for name, value in self.param_lines:
            p.setPen(MUTED)
            p.drawText(QRectF(12, y, NODE_W * 0.55, PARAM_ROW), Qt.AlignmentFlag.AlignVCenter,
                       metrics("body").elidedText(name, Qt.TextElideMode.ElideRight, NODE_W * 0.55 - 14))
            p.setPen(TEXT)
            value = metrics("body").elidedText(value, Qt.TextElideMode.ElideMiddle, NODE_W * 0.45 - 12)
            p.drawText(QRectF(NODE_W * 0.45, y, NODE_W * 0.55 - 12, PARAM_ROW),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, value)
            y += PARAM_ROW
        # footer: output shape and parameter count (or a run's figure)
        fy = self.height - FOOTER_H
        p.setPen(QPen(QColor("#e2e8f0"), 1))
        p.drawLine(QPointF(8, fy), QPointF(NODE_W - 8, fy))
        p.setFont(f["small"])
        p.setPen(TEXT)
        p.drawText(QRectF(12, fy, NODE_W * 0.5, FOOTER_H - 2), Qt.AlignmentFlag.AlignVCenter,
                   metrics("small").elidedText(self.output_text, Qt.TextElideMode.ElideRight, NODE_W * 0.5))
        right = self.run_text if self.run_text is not None else self.count_text
        p.setPen(MUTED if self.run_text is None else TEXT)
        p.drawText(QRectF(NODE_W * 0.5, fy, NODE_W * 0.5 - 12, FOOTER_H - 2),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, right)


def lane_path(a: QPointF, b: QPointF, lane: float) -> QPainterPath:
    """From an output at ``a`` down (or up) to a horizontal lane, along it, and into ``b``."""
    r = ROUTE_R
    path = QPainterPath(a)
    path.cubicTo(QPointF(a.x() + r, a.y()), QPointF(a.x() + r, lane), QPointF(a.x() + 2 * r, lane))
    path.lineTo(QPointF(b.x() - 2 * r, lane))
    path.cubicTo(QPointF(b.x() - r, lane), QPointF(b.x() - r, b.y()), b)
    return path


def wire_path(a: QPointF, b: QPointF) -> QPainterPath:
    """A horizontal-tangent cubic from an output at ``a`` to an input at ``b``."""
    dx = max(40.0, abs(b.x() - a.x()) * 0.5)
    path = QPainterPath(a)
    path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path


Obstacles = Callable[[QRectF], Iterable[tuple["NodeItem", QRectF]]]


def _blocked(path: QPainterPath, rects: list[QRectF], samples: int = 24) -> list[QRectF]:
    """The rectangles that ``path`` passes through (tested at evenly spaced points)."""
    if not rects:
        return []
    points = [path.pointAtPercent(i / samples) for i in range(1, samples)]
    return [r for r in rects if any(r.contains(p) for p in points)]


class EdgeItem(QGraphicsItem):
    """A wire from an output port to an input port, with what flows along it printed on it.

    Geometry is cached (bounds, hit shape) and recomputed only in ``update_path``/``set_label``.
    ``obstacles(area)`` (given by the scene) lists the nodes whose rectangles meet ``area``: a wire that would pass under one runs in a lane below or above instead,
    and its label sits where no node covers it.
    """

    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem, obstacles: Obstacles | None = None):
        super().__init__()
        self.edge = edge
        self.source_item = source
        self.target_item = target
        self.obstacles = obstacles
        out = source.node_type.output_port(edge.source.port)
        self.kind = out.kind if out else "tensor"
        self.style = WIRE_STYLES.get(self.kind, WIRE_STYLES["tensor"])
        self.label = self.style.label
        self.setZValue(-1)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setToolTip(f"{edge.source} → {edge.target}\n{self.style.tip}")
        self._path = QPainterPath()
        self._label_rect = QRectF()
        self._bounds = QRectF()
        self._shape: QPainterPath | None = None
        self._hover = False
        self.routed = False  # True when the wire runs in a lane around other nodes
        self.update_path(route=False)

    # NOTE: [geometry order] The new path and label rectangle are computed *before*
    # prepareGeometryChange(); nothing between prepareGeometryChange() and the assignment may
    # query the scene, or a scene index would keep the old bounds and later a dangling item.

    def set_label(self, text: str) -> None:
        if text != self.label:
            rect = self._label_rect_for(self._path, text)
            self._set_geometry(self._path, rect)
            self.label = text

    def update_path(self, route: bool = True) -> None:
        a = self.source_item.mapToScene(self._port_pos(self.source_item, self.edge.source.port, True))
        b = self.target_item.mapToScene(self._port_pos(self.target_item, self.edge.target.port, False))
        path = wire_path(a, b)
        self.routed = False
        if route and self.obstacles is not None and b.x() - a.x() > 2 * ROUTE_R + 20:
            path = self._route_around(a, b, path)
        self._set_geometry(path, self._label_rect_for(path, self.label))

    def _set_geometry(self, path: QPainterPath, label_rect: QRectF) -> None:
        bounds = path.boundingRect().adjusted(-4, -4, 4, 4)
        if not label_rect.isNull():
            bounds = bounds.united(label_rect.adjusted(-1, -1, 1, 1))
        self.prepareGeometryChange()
        self._path = path
        self._label_rect = label_rect
        self._bounds = bounds
        self._shape = None
        self.update()

    def _candidates(self, area: QRectF, with_ends: bool = False) -> list[QRectF]:
        """The nodes near ``area`` (inflated); a route leaves and enters its own two nodes, so
        they are no obstacle to it, but they are to a label."""
        if self.obstacles is None:
            return []
        ends = () if with_ends else (self.source_item, self.target_item)
        return [r.adjusted(-4, -4, 4, 4) for item, r in self.obstacles(area) if item not in ends]

    def _route_around(self, a: QPointF, b: QPointF, path: QPainterPath) -> QPainterPath:
        box = path.boundingRect()
        # (inflated: a straight wire's box has no height, and intersects() needs an overlap area)
        blockers = _blocked(path, self._candidates(box.adjusted(ROUTE_R, -2, -ROUTE_R, 2)))
        if not blockers:
            return path
        # Lanes may run anywhere in the wire's horizontal range: widen the search vertically.
        rects = self._candidates(QRectF(box.left() + ROUTE_R, box.top() - 2000, box.width() - 2 * ROUTE_R, box.height() + 4000))
        lane = 0.0
        for _ in range(4):  # a lane may meet further nodes: widen the detour around them too
            below = max(r.bottom() for r in blockers) + LANE_GAP
            above = min(r.top() for r in blockers) - LANE_GAP
            mid = (a.y() + b.y()) / 2
            lane = below if abs(below - mid) <= abs(above - mid) else above
            more = [r for r in rects if r not in blockers and r.top() <= lane <= r.bottom()]
            if not more:
                break
            blockers += more
        self.routed = True
        return lane_path(a, b, lane)

    @staticmethod
    def _port_pos(item: NodeItem, name: str, output: bool) -> QPointF:
        port = item.port(name, output)
        return port.pos() if port is not None else QPointF(NODE_W if output else 0, HEADER_H / 2)

    def _label_rect_for(self, path: QPainterPath, label: str) -> QRectF:
        """Where the label goes on ``path``: the middle, unless a node covers it there."""
        if not label:
            return QRectF()
        m = metrics("label")
        above = self.style.label_above
        w = m.horizontalAdvance(label) + (4 if above else 12)
        h = m.height() + (0 if above else 4)
        # a pill sits on its own wire, so its end nodes may touch it; a word above the line may not
        rects = self._candidates(path.boundingRect().adjusted(-w, -2 * h, w, h), with_ends=above)
        rect = QRectF()
        for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
            c = path.pointAtPercent(t)
            rect = QRectF(c.x() - w / 2, c.y() - (h + 3 if above else h / 2), w, h)
            if not any(r.intersects(rect) for r in rects):
                return rect
        # A fixed word ("minimised by") over a wire too short for it would be written across the
        # nodes' ports; the tooltip says it. A shape (the pill) stays: it is what flows.
        return QRectF() if above else rect

    def label_rect(self) -> QRectF:
        return QRectF(self._label_rect)

    def path(self) -> QPainterPath:
        return QPainterPath(self._path)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(12)
            shape = stroker.createStroke(self._path)
            if not self._label_rect.isNull():
                shape.addRect(self._label_rect)
            self._shape = shape
        return self._shape

    def hoverEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._hover = False
        self.update()

    def wire_pen(self) -> QPen:
        """The pen the wire is drawn with: its kind's style, blue and wider when selected."""
        pen = QPen(SELECTED if self.isSelected() else QColor(self.style.color),
                   3.0 if self.isSelected() or self._hover else 2.0)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setStyle(self.style.pen_style)
        return pen

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        pen = self.wire_pen()
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(self._path)
        if self.label and not self._label_rect.isNull() and option.levelOfDetailFromTransform(p.worldTransform()) >= 0.35:
            if not self.style.label_above:
                p.setPen(QPen(pen.color() if self.isSelected() else BORDER, 1))
                p.setBrush(QColor("white"))
                p.drawRoundedRect(self._label_rect, 7, 7)
            p.setFont(fonts()["label"])
            p.setPen(pen.color() if self.style.label else TEXT if self.label != "?" else MUTED)
            p.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


class WireItem(QGraphicsPathItem):
    """The temporary wire drawn while the user drags from a port: grey while searching, green
    over a port that accepts it, red over one that refuses it."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(10)
        self.state = "search"
        self._apply()

    def set_ends(self, a: QPointF, b: QPointF) -> None:
        self.setPath(wire_path(a, b))

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._apply()

    def _apply(self) -> None:
        color = {"search": MUTED, "ok": OK_WIRE, "refused": ERROR}[self.state]
        pen = QPen(color, 2.5)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        if self.state == "search":
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.setBrush(QBrush(Qt.BrushStyle.NoBrush))
