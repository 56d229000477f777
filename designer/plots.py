"""Live training plots: loss, accuracy, learning rate, per-layer gradient norm, dead/saturated units.

``LivePlots.add_records(records)`` only appends to buffers and marks curves dirty; a QTimer redraws
the dirty curves at most 20 times a second, however fast records arrive, and less often when
the window is busy: the interval adapts so that the GUI thread as a whole (this redraw, its paint
events, and whatever else the window did since the previous one) takes at most ``WINDOW_SHARE``
of a CPU. Just before each redraw the timer emits ``about_to_redraw``, so the owner can feed what
it queued and update its other views in the same burst (see designer.run_controller). Measured
offscreen on a 2-core machine: a full redraw of the five plots cost ~35 ms with pyqtgraph's axis
grid (the axes then cover the view and re-play their text on every curve change) and ~11 ms with
a ``GridItem`` in the view instead; letting the axes autorange on every point re-generated the
ticks each time.

Invariants:

* Every curve item is created once (per run for per-layer curves) and then only fed with
  ``setData``; plots have ``clipToView`` and ``autoDownsample`` on.
* Ranges are set by this module, not by pyqtgraph's autorange: x spans the run's planned epochs
  from its start record (the curves grow into a fixed frame; axes are not re-generated per
  point), y is refitted only when the data leaves the range or shrinks to less than half of it.
  A plot the user zoomed or panned keeps the user's view until the next run starts.
* History is bounded: a :class:`SeriesBuffer` holds at most ``capacity`` points and, when full,
  halves itself by keeping every other point and sampling new points at half the rate, so the
  whole run stays visible in constant memory and drawing costs the same at 100k records as at 1k.
* Non-finite values never reach pyqtgraph's range computation as such: ``inf`` becomes ``nan``,
  curves are drawn with ``connect="finite"`` (a gap, never a blank plot), and log-scale series
  drop values ``<= 0``. Where a run's loss first turns non-finite a labelled marker is drawn.
* Nothing is drawn over the curves but the grid and a run's markers: each plot's title and
  legend sit in a :class:`PlotHeader` above it, outside its view, and change only when entries
  come or go. Axes show the values as they are (:class:`PlainAxis`: no SI-prefix scaling); the
  y axes have a fixed width that their labels and tick labels fit (tests/designer/test_plot_axes.py).
* Only the GUI thread calls into this module.
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

REDRAW_INTERVAL_MS = 50  # 20 Hz at most
MAX_REDRAW_INTERVAL_MS = 1000  # ...and at least once a second while records arrive
# While records arrive, the GUI thread may take at most this share of one CPU (its CPU time:
# redraws, paint events, the records, the other views, the user's own work), paced by the
# redraws. Small on purpose: a run trains on every core, and each burst of the window takes a
# core from the run's thread team, which then waits for it. Measured on 2 cores (digits_mlp, a
# process burning 5 ms bursts beside a 2-thread run): 3 % of a CPU cost the run ~2 %, 6 % ~4 %,
# 10 % 7-12 %, 15 % 16-18 %. Where a redraw with everything around it costs under 2.5 ms it is
# still 20 redraws a second.
WINDOW_SHARE = 0.05
# Live curves are 1-pixel cosmetic lines: Qt's raster engine draws those on its fast path; a
# 2-pixel pen goes through the stroker and doubled the cost of a redraw (10.6 -> 5.3 ms).
CURVE_WIDTH = 1.0
DEFAULT_CAPACITY = 4096
# Pixels for the y axis: its label (8 pt, turned on its side) and tick labels of at most
# MAX_TICK_CHARS characters ("0.0001", "2.5e-4"); tests/designer/test_plot_axes.py measures
# that both fit. Fixed: grown to fit as tick labels came, it re-laid out the plot, and moved its
# frame, a few times a second early in a run.
LEFT_AXIS_WIDTH = 60
MAX_TICK_CHARS = 6
AXIS_FONT_PT = 8

BACKGROUND = "#fbfbfc"
FOREGROUND = "#30343a"
TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#e4572e"
LR_COLOR = "#6a4c93"
BATCH_COLOR = "#9ecae1"
OVERLAY_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728")


def layer_color(index: int) -> QColor:
    """A distinct, readable colour for the ``index``-th layer curve (shared with the canvas)."""
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#17becf", "#bcbd22", "#7f7f7f")
    if index < len(palette):
        return QColor(palette[index])
    return pg.intColor(index, hues=13, values=2, minValue=150)


class SeriesBuffer:
    """Bounded x/y history that decimates itself instead of forgetting the past.

    The newest point is always part of :meth:`arrays`, even when decimation would skip it, so a
    live curve always ends at the latest value.
    """

    __slots__ = ("_x", "_y", "_n", "_stride", "_phase", "_last", "capacity")

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        if capacity < 4 or capacity % 2:
            raise ValueError("capacity must be an even number >= 4")
        self.capacity = capacity
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._n = 0
        self._stride = 1
        self._phase = 0
        self._last: tuple[float, float] | None = None

    def __len__(self) -> int:
        return self._n + (self._last is not None)

    def clear(self) -> None:
        self._n = 0
        self._stride = 1
        self._phase = 0
        self._last = None

    def append(self, x: float, y: float) -> None:
        y = float(y)
        if not math.isfinite(y):
            y = math.nan
        if self._phase == 0:
            if self._n == self.capacity:
                half = self.capacity // 2
                self._x[:half] = self._x[0::2]
                self._y[:half] = self._y[0::2]
                self._n = half
                self._stride *= 2
            self._x[self._n] = x
            self._y[self._n] = y
            self._n += 1
            self._last = None
        else:
            self._last = (float(x), y)
        self._phase = (self._phase + 1) % self._stride

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the kept points (pyqtgraph may hold on to what it is given)."""
        x, y = self._x[: self._n], self._y[: self._n]
        if self._last is not None:
            x = np.append(x, self._last[0])
            y = np.append(y, self._last[1])
        else:
            x, y = x.copy(), y.copy()
        return x, y


def _finite_positive(y: np.ndarray) -> np.ndarray:
    out = y.copy()
    out[~(out > 0)] = np.nan  # nan, -inf and <= 0 cannot be drawn on a log axis
    return out


class _Series:
    """One buffer feeding one curve item, redrawn only when it changed."""

    __slots__ = ("buffer", "item", "dirty", "log")

    def __init__(self, item: pg.PlotDataItem, capacity: int, log: bool = False):
        self.buffer = SeriesBuffer(capacity)
        self.item = item
        self.dirty = False
        self.log = log

    def append(self, x: float, y: float | None) -> None:
        if y is None:
            return
        self.buffer.append(x, y)
        self.dirty = True

    def draw(self) -> None:
        x, y = self.buffer.arrays()
        if self.log:
            y = _finite_positive(y)
        self.item.setData(x, y, connect="finite")
        self.dirty = False

    def clear(self) -> None:
        self.buffer.clear()
        self.item.setData([], [])
        self.dirty = False


def _plain(value: float, places: int) -> str:
    text = f"{value:.{places}f}"
    return "0" if float(text) == 0 else text  # no "-0.00"


def _scientific(value: float, digits: int) -> str:
    """``2.5e-4``, ``1e3``: a mantissa with ``digits`` decimals and a bare exponent."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _exact(strings: list[str], values: Sequence[float], tolerance: float) -> bool:
    return all(abs(float(s) - v) <= tolerance for s, v in zip(strings, values))


def _formatted(values: list[float], spacing: float, scientific: bool) -> list[str]:
    """The fewest places (decimals, or a mantissa's decimals) that tell ticks ``spacing`` apart."""
    tolerance = spacing * 1e-3  # float noise (0.30000000000000004) goes, distinct ticks stay distinct
    if scientific:
        top = max(abs(v) for v in values) or spacing
        places, form = max(0, math.floor(math.log10(top)) - math.floor(math.log10(spacing))), _scientific
    else:
        places, form = max(0, math.ceil(-math.log10(spacing) - 1e-9)), _plain
    for extra in range(3):  # a spacing of 2.5e-4 needs one place more than one of 1e-4
        strings = [form(v, places + extra) for v in values]
        if _exact(strings, values, tolerance):
            break
    return strings


def prefers_scientific(values: Sequence[float], spacing: float, max_chars: int = MAX_TICK_CHARS) -> bool:
    """Whether ticks ``spacing`` apart read better as ``6.8e-4`` than as plain decimals: the plain
    ones would take more than ``max_chars`` characters and the scientific ones fewer."""
    values = [float(v) for v in values]
    if not values or not spacing:
        return False
    plain = max(map(len, _formatted(values, abs(spacing), False)))
    return plain > max_chars and max(map(len, _formatted(values, abs(spacing), True))) < plain


def tick_strings(values: Sequence[float], spacing: float, scientific: bool | None = None) -> list[str]:
    """Tick labels that read as the values are: plain decimals (``0.25``, ``1500``) with as many
    places as the spacing needs, or scientific notation (``6.8e-4``) where plain ones would be
    too long (``scientific=None``: decided from these values alone). Never a scale factor kept
    elsewhere (pyqtgraph's SI prefix turned a loss of 0.0007 into ticks 680-710 and a label
    "loss (x0.001)")."""
    values = [float(v) for v in values]
    if not values:
        return []
    spacing = abs(float(spacing)) or max(abs(v) for v in values) or 1.0
    if scientific is None:
        scientific = prefers_scientific(values, spacing)
    return _formatted(values, spacing, scientific)


def decade_string(exponent: float) -> str:
    """The value at ``10 ** exponent`` as a log axis shows it: ``1e-4``, ``0.01``, ``1``, ``100``,
    ``1e3`` (the shorter of plain and scientific; plain when they tie)."""
    e = round(exponent)
    if abs(exponent - e) > 1e-9:  # not a decade (a log axis here labels decades only)
        return f"{10.0 ** exponent:.2g}"
    plain = f"{10.0 ** e:.{max(0, -e)}f}"
    scientific = f"1e{e}"
    return scientific if len(scientific) < len(plain) else plain


class PlainAxis(pg.AxisItem):
    """An axis whose tick labels are the values themselves (see :func:`tick_strings`), with no
    SI-prefix scaling moved into its label; on a log axis, the decades' values
    (:func:`decade_string`)."""

    def __init__(self, orientation: str, **kwargs):
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.autoSIPrefixScale = 1.0  # enableAutoSIPrefix(False) may leave a scale from the range
        self._scientific: bool | None = None  # the notation of the labels in view (tickValues)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph override
        # One notation for every labelled level: "0.0008" beside "8.5e-4" reads as two scales.
        levels = super().tickValues(minVal, maxVal, size)
        labelled = [(spacing, values) for spacing, values in levels[: self.style["maxTextLevel"] + 1]
                    if spacing and len(values)]
        self._scientific = bool(labelled) and prefers_scientific(
            [v for _, values in labelled for v in values], min(spacing for spacing, _ in labelled))
        return levels

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        if self.logMode:
            return [decade_string(v) for v in values]
        return tick_strings(values, spacing, scientific=self._scientific)


class DecadeAxis(PlainAxis):
    """A log axis labelled at whole decades only (1e-3, 0.01, 0.1, 1); the 2..9 ticks between
    them are drawn without labels. pyqtgraph's default labels every minor tick when the axis is
    short, and the labels then overlap."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 - pyqtgraph override
        lo, hi = int(math.floor(minVal)), int(math.ceil(maxVal))
        decades = [float(v) for v in range(lo, hi + 1) if minVal <= v <= maxVal]
        step = max(1, math.ceil(len(decades) / 6))
        minor = [v + math.log10(k) for v in range(lo, hi) for k in range(2, 10)]
        return [(float(step), decades[::step]), (None, [m for m in minor if minVal < m < maxVal])]


def make_plot(object_name: str, title: str | None, y_label: str, parent: QWidget | None = None,
              log_y: bool = False, grid: bool = True) -> pg.PlotWidget:
    """A PlotWidget in the house look: light background, legible axes, grid, cheap drawing.
    ``title=None``: no title row (the live plots show theirs in a :class:`PlotHeader`)."""
    axes = {"left": DecadeAxis("left") if log_y else PlainAxis("left"), "bottom": PlainAxis("bottom")}
    widget = pg.PlotWidget(parent=parent, background=BACKGROUND, axisItems=axes)
    widget.setObjectName(object_name)
    item = widget.getPlotItem()
    if title is not None:
        item.setTitle(f"<span style='color:{FOREGROUND}; font-size:10pt'>{title}</span>")
    else:  # room for the top tick label's upper half, which the title row gave
        item.layout.setContentsMargins(1, 7, 1, 1)
    font = QFont()
    font.setPointSize(AXIS_FONT_PT)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(FOREGROUND))
        axis.setTextPen(pg.mkPen(FOREGROUND))
        axis.setTickFont(font)
    label_style = {"color": FOREGROUND, "font-size": f"{AXIS_FONT_PT}pt"}
    item.setLabel("bottom", "epoch", **label_style)
    item.setLabel("left", y_label, **label_style)
    item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
    # The grid lives in the view (lines only, one cached picture), not in the axes: an axis grid
    # makes the axes cover the view, and every curve update then re-plays their tick labels.
    if grid:
        lines = pg.GridItem(pen=pg.mkPen(QColor(48, 52, 58, 30)), textPen=None)
        lines.setZValue(-100)
        item.getViewBox().addItem(lines, ignoreBounds=True)
    item.setClipToView(True)
    item.setDownsampling(auto=True, mode="peak")
    item.setMenuEnabled(False)
    if log_y:
        item.setLogMode(y=True)
        item.getAxis("left").setStyle(maxTextLevel=0)
    widget.setMinimumSize(220, 110)
    return widget


class LegendEntry(NamedTuple):
    """One line sample and its name in a :class:`PlotHeader`."""

    name: str
    color: str
    style: Qt.PenStyle = Qt.PenStyle.SolidLine


# How a pen style looks in a line of text (Unicode box drawing: DejaVu Sans and most UI fonts
# have these).
_SAMPLES = {Qt.PenStyle.SolidLine: "━━", Qt.PenStyle.DashLine: "╍╍", Qt.PenStyle.DotLine: "┅┅"}
MAX_HEADER_ROWS = 2
GAP_TEXT, GAP_HTML = "\u00a0\u00a0 ", "&nbsp;&nbsp; "  # between entries (the same width)
MUTED = "#80868e"


def pack_rows(widths: Sequence[float], room: float, max_rows: int, gap: float,
              more_width: Callable[[int], float]) -> tuple[list[list[int]], int]:
    """Lay pieces of text ``widths`` wide into rows at most ``room`` wide, in order, ``gap``
    apart: at most ``max_rows`` rows; when some do not fit, the last row keeps room for a
    "+k more" piece ``more_width(k)`` wide. The first piece (a title) is always shown.

    Returns the rows (indices of pieces) and how many pieces did not fit."""
    if room <= 0:  # not laid out yet: one row, redone at the first resize
        return [list(range(len(widths)))], 0
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        if rows[-1] and used + gap + w > room:
            if len(rows) == max_rows:
                break
            rows.append([])
        used = (used + gap + w) if rows[-1] else w
        rows[-1].append(i)
    shown = sum(map(len, rows))
    if shown == len(widths):
        return rows, 0
    last = rows[-1]
    while len(last) > 1 and sum(widths[j] for j in last) + gap * len(last) + more_width(len(widths) - shown) > room:
        last.pop()
        shown -= 1
    return rows, len(widths) - shown


class PlotHeader(QLabel):
    """A plot's title and legend in a row of text above the plot, on a second row when the
    entries do not fit across it, and "+k more" (all of them in the tooltip) when two rows do
    not hold them all (a model with a dozen layers would otherwise squeeze its plot flat).

    Outside the plot's view, so a legend can never hide a curve point, at any size and whatever
    the curves do (the previous design moved legends inside the view to the corner hiding the
    fewest points, and still hid some). Plain text in a QLabel, laid out when its entries or its
    width change: it adds nothing to a redraw. The rows are laid out here (font metrics), not
    by QLabel's word wrap, so a row never breaks inside an entry and the height is known.
    """

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.entries: tuple[LegendEntry, ...] = ()
        self.note = ""
        self.hidden_entries = 0  # entries that did not fit (the "+k more")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setContentsMargins(4, 3, 4, 0)
        font = self.font()
        font.setPointSize(AXIS_FONT_PT)
        self.setFont(font)
        self.setStyleSheet(f"color: {FOREGROUND};")
        # Its width is its cell's: it must never push the plots apart.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._lay_out_text()

    def set_entries(self, entries: Iterable[LegendEntry], note: str = "") -> None:
        """Show these entries (a no-op when they are the ones shown)."""
        entries = tuple(entries)
        if (entries, note) != (self.entries, self.note):
            self.entries, self.note = entries, note
            self._lay_out_text()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._lay_out_text()

    def _pieces(self) -> tuple[list[str], list[float]]:
        """Each piece of the text as HTML, and its width in pixels."""
        metrics = QFontMetricsF(self.font())
        bold = QFont(self.font())
        bold.setBold(True)
        texts = [f"<b>{html.escape(self.title)}</b>"]
        widths = [QFontMetricsF(bold).horizontalAdvance(self.title)]
        for e in self.entries:
            sample = _SAMPLES.get(e.style, _SAMPLES[Qt.PenStyle.SolidLine])
            texts.append(f"<span style='color:{e.color}'>{sample}</span>&nbsp;{_nbsp(e.name)}")
            widths.append(metrics.horizontalAdvance(f"{sample}\u00a0{e.name}"))
        if self.note:
            texts.append(f"<span style='color:{MUTED}'>{_nbsp(self.note)}</span>")
            widths.append(metrics.horizontalAdvance(self.note))
        return texts, widths

    def _lay_out_text(self) -> None:
        metrics = QFontMetricsF(self.font())
        texts, widths = self._pieces()
        room = self.contentsRect().width() - 2  # rich text may round up where the metrics did not
        note = bool(self.note)  # the last piece, and no entry: "+k more" does not count it
        rows, hidden = pack_rows(widths, room, MAX_HEADER_ROWS, metrics.horizontalAdvance(GAP_TEXT),
                                 lambda k: metrics.horizontalAdvance(f"+{k - note} more"))
        lines = [GAP_HTML.join(texts[i] for i in row) for row in rows]
        self.hidden_entries = max(0, hidden - note)
        if self.hidden_entries:
            lines[-1] += f"{GAP_HTML}<span style='color:{MUTED}'>+{self.hidden_entries}&nbsp;more</span>"
        self.setToolTip("<br>".join(texts[1:]) if hidden else "")
        text = "<br>".join(lines)
        if text != self.text():
            self.setText(text)


def _nbsp(text: str) -> str:
    return html.escape(text).replace(" ", "&nbsp;")


def _pen_entry(name: str, item: pg.PlotDataItem) -> LegendEntry:
    """``name`` with a sample of the item's line."""
    pen = pg.mkPen(item.opts["pen"])
    return LegendEntry(name, pen.color().name(), pen.style())


class LivePlots(QWidget):
    """The five live plots of a run, plus dashed overlays of earlier runs.

    Feed it with :meth:`start_run` then :meth:`add_records`; :meth:`flush` draws at once
    (tests, end of run). ``overlay_runs`` draws other runs' per-epoch loss and accuracy.
    """

    # Just before each paced redraw (the owner feeds its queued records here, in the same burst).
    about_to_redraw = Signal()

    def __init__(self, parent: QWidget | None = None, capacity: int = DEFAULT_CAPACITY,
                 window_share: float = WINDOW_SHARE):
        super().__init__(parent)
        self.setObjectName("livePlots")
        self.capacity = capacity
        self.window_share = window_share  # 1.0: no pacing, 20 redraws a second (soak tests)
        self.loss_plot = make_plot("lossPlot", None, "loss", self)
        self.accuracy_plot = make_plot("accuracyPlot", None, "accuracy", self)
        self.lr_plot = make_plot("lrPlot", None, "lr", self)
        self.gradient_plot = make_plot("gradientPlot", None, "‖∇W‖", self, log_y=True)
        self.units_plot = make_plot("unitsPlot", None, "share", self)
        self.plots = (self.loss_plot, self.accuracy_plot, self.lr_plot, self.gradient_plot, self.units_plot)
        self._user_views: set[pg.PlotWidget] = set()  # plots the user zoomed or panned
        for plot in self.plots:
            plot.getPlotItem().enableAutoRange(enable=False)
            plot.getPlotItem().getViewBox().sigRangeChangedManually.connect(
                lambda _mask, p=plot: self._user_views.add(p))
        self.accuracy_plot.getPlotItem().setYRange(0, 1.0, padding=0.02)
        self.units_plot.getPlotItem().setYRange(0, 1.0, padding=0.02)
        self._headers = {
            self.loss_plot: PlotHeader("Loss"), self.accuracy_plot: PlotHeader("Accuracy"),
            self.lr_plot: PlotHeader("Learning rate"),
            self.gradient_plot: PlotHeader("Gradient norm per layer"),
            self.units_plot: PlotHeader("Dead (━) / saturated (╍) units"),
        }
        self._lay_out()
        self._legends_changed = True  # entries came or went: the headers follow with the next redraw

        def curve(plot: pg.PlotWidget, color: str, name: str | None, width: float = CURVE_WIDTH,
                  style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> pg.PlotDataItem:
            return plot.getPlotItem().plot([], [], pen=pg.mkPen(color, width=width, style=style), name=name)

        cap = capacity
        self._fixed: dict[str, _Series] = {
            "batch_loss": _Series(curve(self.loss_plot, BATCH_COLOR, "batches"), cap),
            "train_loss": _Series(curve(self.loss_plot, TRAIN_COLOR, "train"), cap),
            "val_loss": _Series(curve(self.loss_plot, VAL_COLOR, "val"), cap),
            "train_accuracy": _Series(curve(self.accuracy_plot, TRAIN_COLOR, "train"), cap),
            "val_accuracy": _Series(curve(self.accuracy_plot, VAL_COLOR, "val"), cap),
            "lr": _Series(curve(self.lr_plot, LR_COLOR, None), cap),
        }
        self._layers: dict[tuple[str, str], _Series] = {}  # (metric, node id) -> series
        self._layer_order: dict[str, int] = {}
        self._titles: dict[str, str] = {}
        self._markers: list[tuple[pg.PlotWidget, pg.InfiniteLine]] = []
        self._marked_nonfinite = False
        self._overlay_items: list[tuple[pg.PlotWidget, pg.PlotDataItem]] = []
        self.redraw_count = 0
        self._planned_epochs = 0.0  # from the run's start record
        self._overlay_epochs = 0.0  # the longest overlaid run
        self._x_max = 0.0  # the largest x fed since the run started
        self._x_span: float | None = None  # the x range shown: [0, span]
        self._loss_y: tuple[float, float] | None = None
        self._cpu_mark: float | None = None  # the GUI thread's CPU time after the previous redraw
        self._interval_ms = float(REDRAW_INTERVAL_MS)  # smoothed

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.place_legends()  # the fixed curves' entries, before any run

    # ------------------------------------------------------------------ feeding

    def start_run(self, node_titles: dict[str, str] | None = None, classifying: bool = True) -> None:
        """Forget the current run's curves (overlays stay) and get ready for a new one."""
        for series in self._fixed.values():
            series.clear()
        for (_, _), series in self._layers.items():
            plot = self.gradient_plot if series.log else self.units_plot
            plot.getPlotItem().removeItem(series.item)
        self._layers.clear()
        self._layer_order.clear()
        for plot, line in self._markers:
            plot.getPlotItem().removeItem(line)
        self._markers.clear()
        self._marked_nonfinite = False
        self._titles = dict(node_titles or {})
        self._planned_epochs = 0.0
        self._x_max = 0.0
        self._x_span = None
        self._loss_y = None
        self._user_views.clear()
        self.set_classifying(classifying)
        self._fit_x()
        self._legends_changed = True
        self.place_legends()

    def set_classifying(self, classifying: bool) -> None:
        self.accuracy_plot.setVisible(classifying)
        self._headers[self.accuracy_plot].setVisible(classifying)

    def add_records(self, records: Iterable[dict]) -> None:
        for record in records:
            kind = record.get("kind")
            if kind == "epoch":
                self._add_epoch(record)
            elif kind == "step":
                self._add_step(record)
            elif kind == "start":
                task = record.get("task")
                if task is not None:
                    self.set_classifying(task == "classification")
                epochs = _num(record.get("epochs"))
                if epochs is not None and epochs > 0:
                    self._planned_epochs = epochs
                for nid in record.get("nodes") or ():  # colours follow the model's layer order
                    self._layer_order.setdefault(nid, len(self._layer_order))
        if self._any_dirty():
            self.request_redraw()

    def request_redraw(self, soon: bool = False) -> None:
        """Make sure a redraw comes: at the pace, or within REDRAW_INTERVAL_MS when ``soon`` (a
        few records that answer the user, e.g. the last ones before a pause)."""
        if not self._timer.isActive():
            # after a pause in the records (a new run, a slow epoch) the first redraw comes soon
            self._interval_ms = float(REDRAW_INTERVAL_MS)
            self._cpu_mark = time.thread_time()
            self._timer.start(REDRAW_INTERVAL_MS)
        elif soon and self._timer.remainingTime() > REDRAW_INTERVAL_MS:
            self._timer.start(REDRAW_INTERVAL_MS)  # the next redraw sets the pace again

    def _add_step(self, r: dict) -> None:
        x = _step_x(r)
        if x is None:
            return
        self._x_max = max(self._x_max, x)
        self._fixed["lr"].append(x, _num(r.get("lr")))
        self._fixed["batch_loss"].append(x, _num(r.get("train_loss_running")))

    def _add_epoch(self, r: dict) -> None:
        x = _num(r.get("epoch"))
        if x is None:
            return
        self._x_max = max(self._x_max, x)
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            self._fixed[key].append(x, _num(r.get(key)))
        self._fixed["lr"].append(x, _num(r.get("lr")))  # joins the step records' lr curve
        for metric, log in (("grad_norm", True), ("dead_fraction", False), ("saturated_fraction", False)):
            for nid, value in (r.get(metric) or {}).items():
                self._layer_series(metric, nid, log).append(x, _num(value))
        if not self._marked_nonfinite:
            for key in ("train_loss", "val_loss"):
                v = r.get(key)
                if isinstance(v, float) and not math.isfinite(v):
                    self.mark(x - 0.5, f"diverged ({key.split('_')[0]} loss {v})")
                    break

    def _layer_series(self, metric: str, nid: str, log: bool) -> _Series:
        key = (metric, nid)
        series = self._layers.get(key)
        if series is None:
            index = self._layer_order.setdefault(nid, len(self._layer_order))
            color = layer_color(index)
            title = self._titles.get(nid, nid)
            if metric == "grad_norm":
                plot, pen, name = self.gradient_plot, pg.mkPen(color, width=CURVE_WIDTH), title
            elif metric == "dead_fraction":
                plot, pen, name = self.units_plot, pg.mkPen(color, width=CURVE_WIDTH), f"{title} dead"
            else:
                plot = self.units_plot
                pen = pg.mkPen(color, width=CURVE_WIDTH, style=Qt.PenStyle.DashLine)
                name = f"{title} saturated"
            item = plot.getPlotItem().plot([], [], pen=pen, name=name)
            series = self._layers[key] = _Series(item, self.capacity, log=log)
            self._legends_changed = True
        return series

    def mark(self, x: float, text: str) -> None:
        """A labelled vertical marker on the loss and gradient plots (e.g. where a run diverged)."""
        self._marked_nonfinite = True
        for plot in (self.loss_plot, self.gradient_plot):
            line = pg.InfiniteLine(pos=x, angle=90, movable=False,
                                   pen=pg.mkPen("#c0392b", width=1.5, style=Qt.PenStyle.DashLine),
                                   label=text, labelOpts={"position": 0.5, "color": "#c0392b",
                                                          "fill": (255, 255, 255, 210)})
            plot.getPlotItem().addItem(line, ignoreBounds=True)
            self._markers.append((plot, line))

    # ------------------------------------------------------------------ overlays

    def overlay_runs(self, runs: Sequence) -> None:
        """Draw each run's per-epoch validation (dashed) and train (dotted) curves, or clear them."""
        for plot, item in self._overlay_items:
            plot.getPlotItem().removeItem(item)
        self._overlay_items.clear()
        self._overlay_epochs = 0.0
        for i, run in enumerate(runs):
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            epochs = run.epochs
            x = np.array([float(r["epoch"]) for r in epochs], dtype=float)
            for key, style, plot in (
                ("val_loss", Qt.PenStyle.DashLine, self.loss_plot),
                ("train_loss", Qt.PenStyle.DotLine, self.loss_plot),
                ("val_accuracy", Qt.PenStyle.DashLine, self.accuracy_plot),
                ("train_accuracy", Qt.PenStyle.DotLine, self.accuracy_plot),
            ):
                y = np.array([_nan(r.get(key)) for r in epochs], dtype=float)
                if not np.isfinite(y).any():
                    continue
                name = f"Run {run.run_id} {key.split('_')[0]} ({run.summary})"
                item = plot.getPlotItem().plot(x, y, pen=pg.mkPen(color, width=1.6, style=style),
                                               name=name, connect="finite")
                self._overlay_items.append((plot, item))
            if len(x):
                self._overlay_epochs = max(self._overlay_epochs, float(x.max()))
        self._fit_x(refit=True)
        self._fit_loss()
        self._legends_changed = True
        self.place_legends()

    # ------------------------------------------------------------------ drawing

    def _all_series(self) -> Iterable[_Series]:
        yield from self._fixed.values()
        yield from self._layers.values()

    def _any_dirty(self) -> bool:
        return any(s.dirty for s in self._all_series())

    def flush(self) -> None:
        """Draw every dirty curve now."""
        lr_dirty = self._fixed["lr"].dirty
        loss_dirty = any(self._fixed[k].dirty for k in ("batch_loss", "train_loss", "val_loss"))
        grad_dirty = any(s.dirty and s.log for s in self._layers.values())
        drew = False
        for series in self._all_series():
            if series.dirty:
                series.draw()
                drew = True
        if drew:
            self._fit_x()
        if loss_dirty:
            self._fit_loss()
        if lr_dirty:
            self._fit_lr()
        if grad_dirty:
            self._fit_gradients()
        if drew:
            self.redraw_count += 1
            if self._legends_changed:
                self.place_legends()

    def header(self, plot: pg.PlotWidget) -> PlotHeader:
        """The row above ``plot`` that holds its title and legend."""
        return self._headers[plot]

    def place_legends(self) -> None:
        """Bring the legend rows up to date with the curves (a no-op when no entry came or went
        since the last call)."""
        if not self._legends_changed:
            return
        self._legends_changed = False
        for plot, header in self._headers.items():
            header.set_entries(*self._legend_entries(plot))

    def _legend_entries(self, plot: pg.PlotWidget) -> tuple[list[LegendEntry], str]:
        """Curves by their names; on the units plot each layer once (its title says which line is
        dead and which saturated); each earlier run once (a note says which line is which)."""
        if plot is self.units_plot:
            return [LegendEntry(self._titles.get(nid, nid), layer_color(self._layer_order[nid]).name())
                    for metric, nid in self._layers if metric == "dead_fraction"], ""
        entries: dict[str, LegendEntry] = {}
        runs = False
        for item in plot.getPlotItem().listDataItems():
            name = item.name()
            if not name:
                continue
            if name.startswith("Run "):  # "Run 3 val (Adam lr=0.001)" -> "Run 3 (Adam lr=0.001)"
                runs = True
                name = re.sub(r"^(Run \S+) (?:val|train) ", r"\1 ", name)
            entries.setdefault(name, _pen_entry(name, item))
        return list(entries.values()), "earlier runs: ╍╍ val, ┅┅ train" if runs else ""

    def _lay_out(self) -> None:
        """Two rows of plots, each under a row of headers: the plots of a row keep one height
        and their x axes line up, however many lines a header wraps onto. All x axes count
        epochs, so only the bottom row says so (matplotlib's sharex look: the top row gains the
        label's ~15 px)."""
        layout = QGridLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setHorizontalSpacing(4)
        layout.setVerticalSpacing(0)
        cells = ((self.loss_plot, 0, 0, 1), (self.accuracy_plot, 0, 1, 1), (self.lr_plot, 0, 2, 1),
                 (self.gradient_plot, 2, 0, 2), (self.units_plot, 2, 2, 1))
        for plot, row, column, span in cells:
            layout.addWidget(self._headers[plot], row, column, 1, span)
            layout.addWidget(plot, row + 1, column, 1, span)
            if row == 0:
                plot.getPlotItem().getAxis("bottom").showLabel(False)
        layout.setRowStretch(1, 1)
        layout.setRowStretch(3, 1)

    def _set_range(self, plot: pg.PlotWidget, **ranges: tuple[float, float]) -> None:
        if plot in self._user_views:
            return  # the user's zoom wins until the next run
        item = plot.getPlotItem()
        if "x" in ranges:
            item.setXRange(*ranges["x"], padding=0.02)
        if "y" in ranges:
            item.setYRange(*ranges["y"], padding=0)

    def _fit_x(self, refit: bool = False) -> None:
        """[0, planned epochs] (or the longest overlay); grows by a quarter when data passes it."""
        base = max(self._planned_epochs, self._overlay_epochs)
        span = self._x_span
        if refit or span is None or self._x_max > span or base > span:
            span = base if base >= self._x_max else math.ceil(max(self._x_max, 1.0) * 1.25)
            if span <= 0:
                return
            self._x_span = float(span)
            for plot in self.plots:
                self._set_range(plot, x=(0.0, float(span)))

    def _fit_loss(self) -> None:
        """Refit the loss axis only when the curves leave it or shrink to under half of it."""
        lows, highs = [], []
        arrays = [s.buffer.arrays()[1] for k, s in self._fixed.items() if k.endswith("loss")]
        arrays += [item.yData for plot, item in self._overlay_items if plot is self.loss_plot
                   and item.yData is not None]
        for y in arrays:
            y = y[np.isfinite(y)]
            if len(y):
                lows.append(float(y.min()))
                highs.append(float(y.max()))
        if not lows:
            return
        lo, hi = min(lows), max(highs)
        cur = self._loss_y
        if cur is not None and cur[0] <= lo and hi <= cur[1] and (hi - lo) >= 0.5 * (cur[1] - cur[0]):
            return
        pad = (hi - lo) * 0.06 or max(abs(hi) * 0.06, 1e-3)
        bottom = lo - pad
        if lo >= 0 > bottom:
            bottom = 0.0  # a loss of 0 is the floor: do not show negative losses
        self._loss_y = (bottom, hi + pad)
        self._set_range(self.loss_plot, y=self._loss_y)

    def _fit_lr(self) -> None:
        # A constant learning rate would make autorange zoom into nothing: show it from 0.
        _, y = self._fixed["lr"].buffer.arrays()
        top = np.nanmax(y) if np.isfinite(y).any() else 0.0
        if top > 0:
            self._set_range(self.lr_plot, y=(0.0, float(top) * 1.1))

    def _fit_gradients(self) -> None:
        # Log axis: span whole decades (at least one) so tick labels stay readable.
        lows, highs = [], []
        for series in self._layers.values():
            if series.log and len(series.buffer):
                _, y = series.buffer.arrays()
                y = y[np.isfinite(y) & (y > 0)]
                if len(y):
                    lows.append(float(y.min()))
                    highs.append(float(y.max()))
        if lows:
            lo, hi = math.floor(math.log10(min(lows))), math.ceil(math.log10(max(highs)))
            hi = max(hi, lo + 1)
            pad = 0.06 * (hi - lo)
            self._set_range(self.gradient_plot, y=(lo - pad, hi + pad))

    def _on_timer_timeout(self) -> None:
        self.about_to_redraw.emit()
        if not self._any_dirty():
            self._timer.stop()
            self._cpu_mark = None  # idle: the next redraw starts a new measure
            return
        self.flush()
        now = time.thread_time()
        if self._cpu_mark is not None and self.window_share < 1.0:
            # What the GUI thread used since the previous redraw, divided by the share: a window
            # that used 20 ms waits 400 ms at 5 %. It settles where redraw cost / interval plus
            # the rest of the window's load equals the share (smoothed: one update of the
            # results must not swing the pace).
            wanted = 1000.0 * (now - self._cpu_mark) / self.window_share
            self._interval_ms = min(max(REDRAW_INTERVAL_MS, 0.6 * self._interval_ms + 0.4 * wanted),
                                    MAX_REDRAW_INTERVAL_MS)
            self._timer.setInterval(round(self._interval_ms))
        self._cpu_mark = now

    @property
    def redraw_scheduled(self) -> bool:
        """Whether the redraw timer runs (it stops when a tick finds nothing new)."""
        return self._timer.isActive()

    def next_redraw_in_ms(self) -> int:
        """How long until the next redraw (-1: none is scheduled)."""
        return self._timer.remainingTime() if self._timer.isActive() else -1

    @property
    def redraw_interval_ms(self) -> int:
        """How long the redraw timer waits now (REDRAW_INTERVAL_MS when drawing is cheap)."""
        return self._timer.interval()

    def point_count(self, name: str) -> int:
        """Points a fixed curve holds (``train_loss``, ``val_loss``, ``lr``...), for tests."""
        return len(self._fixed[name].buffer)

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self._fixed[name].buffer.arrays()

    def layer_curves(self) -> dict[tuple[str, str], pg.PlotDataItem]:
        return {key: s.item for key, s in self._layers.items()}


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _nan(value) -> float:
    v = _num(value)
    return math.nan if v is None or not math.isfinite(v) else v


def _step_x(r: dict) -> float | None:
    epoch, step, steps = _num(r.get("epoch")), _num(r.get("step")), _num(r.get("steps"))
    if epoch is None or step is None or not steps:
        return None
    return epoch - 1.0 + step / steps
