"""The live plots read as the values are and nothing covers a curve: axes without SI-prefix
scaling, tick labels and axis labels that fit their axes, legends outside the plots' views.

Checked on what pyqtgraph would draw (``AxisItem.generateDrawSpecs``: the strings and their
rectangles) in the main window at its default size and at 1280×800, fed records of a run with
small numbers: a loss near 0.0007, a learning rate of 1e-3, gradient norms from 1e-5 to 1e-2.
"""

from __future__ import annotations

import math
import pathlib
import sys

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QRect, QRectF, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from designer.mainwindow import MainWindow
from designer.plots import (
    MAX_HEADER_ROWS,
    LivePlots,
    PlotHeader,
    decade_string,
    pack_rows,
    prefers_scientific,
    tick_strings,
)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from records_sim import LAYERS, simulated_records  # noqa: E402

TITLES = {"n2": "Linear 1", "n4": "Linear 2", "n6": "Linear 3", "n8": "Linear out"}


def small_records(epochs: int = 20):
    """simulated_records scaled down: loss 0.0006-0.00085, lr 1e-3 decaying, ‖∇W‖ 1e-5..1e-2."""
    for record in simulated_records(epochs=epochs, steps=23):
        r = dict(record)
        for key in ("train_loss", "val_loss", "train_loss_running"):
            if isinstance(r.get(key), float):
                r[key] = 0.0006 + r[key] * 1e-4
        if "lr" in r:
            r["lr"] = r["lr"] * 0.1
        if "grad_norm" in r:
            r["grad_norm"] = {nid: v * 1e-2 for nid, v in r["grad_norm"].items()}
        yield r


# ---------------------------------------------------------------------------- formatting


def test_tick_strings_are_the_values_plain_or_scientific():
    assert tick_strings([0.0, 0.25, 0.5], 0.25) == ["0", "0.25", "0.50"]
    assert tick_strings([0.0002, 0.0004, 0.001], 0.0002) == ["0.0002", "0.0004", "0.0010"]
    assert tick_strings([5.0, 10.0, 15.0], 5.0) == ["5", "10", "15"]
    assert tick_strings([1000.0, 2000.0], 1000.0) == ["1000", "2000"]  # no "1k", no "(x1e3)"
    # a loss near 0.0007: plain would need 7 characters, scientific says the same in 6
    values = [0.00068, 0.00069, 0.0007, 0.00071]
    strings = tick_strings(values, 1e-5)
    assert strings == ["6.8e-4", "6.9e-4", "7.0e-4", "7.1e-4"]
    assert [float(s) for s in strings] == pytest.approx(values)
    assert tick_strings([0.00025, 0.0005], 0.00025) == ["2.5e-4", "5.0e-4"]
    assert tick_strings([-0.0, 0.1], 0.1) == ["0", "0.1"]
    assert tick_strings([0.1 + 0.2, 0.6], 0.3) == ["0.3", "0.6"]  # float noise does not show
    assert prefers_scientific([0.00068, 0.0007], 1e-5) and not prefers_scientific([0.5, 1.0], 0.5)
    # one notation for an axis whose finer level needs it, even where a coarser one would not
    assert tick_strings([0.0008], 1e-4, scientific=True) == ["8e-4"]


def test_decades_read_as_their_values():
    assert [decade_string(e) for e in (-5, -4, -3, -2, -1, 0, 1, 2, 3)] == [
        "1e-5", "1e-4", "1e-3", "0.01", "0.1", "1", "10", "100", "1e3"]
    assert decade_string(-4.0000000001) == "1e-4"


# ---------------------------------------------------------------------------- in the window


def _settle() -> None:
    """Let the layouts settle: a header that wrapped onto another line resizes its plots."""
    for _ in range(3):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


@pytest.fixture(params=["default", "1280x800"])
def plots(request, qtbot) -> LivePlots:
    """The window's live plots after a 20-epoch run of small numbers, at the size asked for."""
    window = MainWindow()
    qtbot.addWidget(window)
    if request.param == "1280x800":
        window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    assert window.size() == (QSize(1280, 800) if request.param == "1280x800" else QSize(1360, 840))
    window.training.plots_dock.show()
    window.training.plots_dock.raise_()
    plots = window.training.plots
    plots.start_run(TITLES)
    plots.add_records(small_records())
    plots.flush()
    _settle()
    assert plots.isVisible() and plots.height() > 200
    return plots


def _draw_specs(axis: pg.AxisItem) -> list[tuple[QRectF, str]]:
    """The tick labels the axis draws now: (rectangle in the axis's coordinates, text)."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    assert specs is not None, "the axis has no size"
    return [(QRectF(rect), text) for rect, _flags, text in specs[2]]


def _label_rect(axis: pg.AxisItem) -> QRectF:
    """Where the axis label's glyphs are, in the axis's coordinates (less the text item's margins)."""
    margin = axis.label.document().documentMargin()
    inner = axis.label.boundingRect().adjusted(margin, margin, -margin, -margin)
    return axis.label.mapRectToParent(inner)


def _scene_rect_in_window(plot: pg.PlotWidget, item) -> QRect:
    rect = plot.mapFromScene(item.sceneBoundingRect()).boundingRect()
    return QRect(plot.mapTo(plot.window(), rect.topLeft()), rect.size())


def _shown_plots(plots: LivePlots) -> list[pg.PlotWidget]:
    return [p for p in plots.plots if p.isVisible()]


def test_axes_show_real_values_without_si_scaling(plots):
    item_ranges = {}
    for plot in _shown_plots(plots):
        item = plot.getPlotItem()
        item_ranges[plot.objectName()] = item.viewRange()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            label = axis.label.toPlainText()
            assert "(x" not in label and "×10" not in label and "x10" not in label, (plot.objectName(), label)
            assert axis.autoSIPrefixScale == 1.0
            lo, hi = item.viewRange()[0 if name == "bottom" else 1]
            if axis.logMode:
                lo, hi = 10.0 ** lo, 10.0 ** hi
            texts = [text for _rect, text in _draw_specs(axis)]
            assert len(texts) >= 2, (plot.objectName(), name, texts)
            for text in texts:
                value = float(text)  # a plain number: no SI prefix, no "×10⁻³"
                assert lo - 1e-12 <= value <= hi + 1e-12, (plot.objectName(), name, text, lo, hi)
    # the y ranges are the data's own: labels in them are the real values
    loss_lo, loss_hi = item_ranges["lossPlot"][1]
    assert 0.0005 < loss_lo < 0.0007 < loss_hi < 0.001
    lr_lo, lr_hi = item_ranges["lrPlot"][1]
    assert lr_lo == 0.0 and 0.001 < lr_hi < 0.0012
    grad_lo, grad_hi = item_ranges["gradientPlot"][1]
    assert -6 < grad_lo < -5 and -2 < grad_hi < -0.5  # log10: 1e-5 .. 1e-2 with a margin


def test_tick_and_axis_labels_fit_their_axes(plots):
    for plot in _shown_plots(plots):
        item = plot.getPlotItem()
        view_rect = item.getViewBox().sceneBoundingRect()
        visible = QRectF(plot.viewport().rect())  # scene == widget pixels in a PlotWidget
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            where = f"{plot.objectName()} {name}"
            bounds = axis.mapRectFromParent(axis.geometry())
            label = _label_rect(axis)
            if axis.label.isVisible():
                # the whole label is on screen, beside the view, along its axis
                assert visible.contains(axis.mapRectToScene(label)), (where, axis.mapRectToScene(label), visible)
                assert not axis.mapRectToScene(label).intersects(view_rect), where
                along = label.height() if name == "left" else label.width()
                assert along <= (bounds.height() if name == "left" else bounds.width()), where
            for rect, text in _draw_specs(axis):
                # every tick label is drawn whole inside its axis and clear of the axis label
                assert visible.contains(axis.mapRectToScene(rect)), (where, text)
                if name == "left":
                    assert bounds.left() <= rect.left() and rect.right() <= bounds.right(), (where, text)
                    assert not axis.label.isVisible() or rect.left() >= label.right(), (where, text, rect, label)
                else:
                    assert not axis.label.isVisible() or rect.bottom() <= label.top(), (where, text)


def test_legends_sit_outside_the_views_and_list_every_curve(plots):
    for plot in _shown_plots(plots):
        item = plot.getPlotItem()
        # nothing drawn over the curves: pyqtgraph's own legend is never made
        assert item.legend is None
        assert not [i for i in plot.scene().items() if isinstance(i, pg.LegendItem)]
        header = plots.header(plot)
        assert isinstance(header, PlotHeader) and header.isVisible()
        view = _scene_rect_in_window(plot, item.getViewBox())
        box = QRect(header.mapTo(header.window(), QPoint(0, 0)), header.size())
        assert not box.intersects(view), (plot.objectName(), box, view)
        # all of its text is shown: every row, and each row whole (not cut at the right)
        assert header.height() >= header.sizeHint().height(), plot.objectName()
        assert header.sizeHint().width() <= header.width(), plot.objectName()
        assert header.text().count("<br>") < MAX_HEADER_ROWS and header.hidden_entries == 0
    names = {plot.objectName(): [e.name for e in plots.header(plot).entries] for plot in plots.plots}
    assert names["lossPlot"] == ["batches", "train", "val"]
    assert names["accuracyPlot"] == ["train", "val"]
    assert names["gradientPlot"] == [TITLES[nid] for nid in LAYERS]
    assert names["unitsPlot"] == [TITLES[nid] for nid in LAYERS[:-1]]  # each layer once, not "dead"/"saturated"


# ---------------------------------------------------------------------------- legend contents


def test_pack_rows_keeps_entries_whole_and_says_how_many_did_not_fit():
    def more(k):
        return 30.0

    assert pack_rows([40, 30, 30], 200, 2, 5, more) == ([[0, 1, 2]], 0)
    assert pack_rows([40, 30, 30], 80, 2, 5, more) == ([[0, 1], [2]], 0)
    # three rows' worth in two: the last row makes room for "+k more"
    rows, hidden = pack_rows([40, 30, 30, 30, 30, 30], 80, 2, 5, more)
    assert rows == [[0, 1], [2]] and hidden == 3
    assert pack_rows([40, 30], 0, 2, 5, more) == ([[0, 1]], 0)  # not laid out yet


def test_a_dozen_layers_keep_their_plots_and_tell_what_they_left_out(qtbot):
    layers = tuple(f"n{i}" for i in range(2, 14))
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(672, 318)  # the plots' share of a 1280×800 window
    plots.show()
    qtbot.waitExposed(plots)
    plots.start_run({nid: f"{nid} Linear" for nid in layers})
    plots.add_records(simulated_records(epochs=3, steps=5, layers=layers))
    plots.flush()
    _settle()
    for plot in (plots.gradient_plot, plots.units_plot):
        header = plots.header(plot)
        assert header.text().count("<br>") < MAX_HEADER_ROWS  # at most two rows
        assert header.sizeHint().width() <= header.width()
        assert plot.getPlotItem().getViewBox().height() > 60  # the plot keeps room to show its curves
    units = plots.header(plots.units_plot)
    assert units.hidden_entries > 0 and f"+{units.hidden_entries}&nbsp;more" in units.text()
    assert all(name in units.toolTip() for name in ("n2&nbsp;Linear", "n12&nbsp;Linear"))  # all of them
    plots.resize(1600, 500)  # room again: everything shows
    _settle()
    assert plots.header(plots.gradient_plot).hidden_entries == 0


def test_legend_rows_change_only_when_entries_come_or_go(qtbot, monkeypatch):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.show()
    plots.start_run(TITLES)
    set_texts: list[str] = []
    set_text = PlotHeader.setText
    monkeypatch.setattr(PlotHeader, "setText", lambda self, text: (set_texts.append(text), set_text(self, text)))
    records = list(small_records(epochs=6))
    plots.add_records(records[:30])  # the first epoch: its layers appear
    plots.flush()
    assert len(set_texts) == 2  # the gradient and units rows, once each
    set_texts.clear()
    plots.add_records(records[30:])
    plots.flush()
    plots.place_legends()  # as the controller does when a run ends
    assert set_texts == []  # redraws do no legend work
    plots.start_run({})  # a new run: its layers are not known yet
    assert plots.header(plots.gradient_plot).entries == ()


def test_earlier_runs_get_one_legend_entry_each(qtbot):
    class Run:
        def __init__(self, run_id: int):
            self.run_id, self.summary = run_id, "Adam lr=0.001"
            self.epochs = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e,
                            "train_accuracy": 0.5, "val_accuracy": 0.4} for e in range(1, 6)]

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.overlay_runs([Run(1), Run(2)])
    header = plots.header(plots.loss_plot)
    assert [e.name for e in header.entries] == ["batches", "train", "val", "Run 1 (Adam lr=0.001)",
                                                "Run 2 (Adam lr=0.001)"]
    assert "earlier&nbsp;runs" in header.text()
    plots.overlay_runs([])
    assert [e.name for e in header.entries] == ["batches", "train", "val"] and "earlier" not in header.text()


def test_no_axis_scales_with_huge_or_tiny_values(qtbot):
    """pyqtgraph scales an unlabelled axis by SI prefixes outside 1..1e9 as well: a loss of 3e9."""
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 420)
    plots.show()
    plots.start_run({})
    plots.add_records([{"kind": "start", "epochs": 4}])
    plots.add_records({"kind": "epoch", "epoch": e, "train_loss": 3e9 / e, "val_loss": 3.2e9 / e, "lr": 1e-7}
                      for e in range(1, 5))
    plots.flush()
    _settle()
    for plot in (plots.loss_plot, plots.lr_plot):
        axis = plot.getPlotItem().getAxis("left")
        lo, hi = plot.getPlotItem().viewRange()[1]
        texts = [text for _rect, text in _draw_specs(axis)]
        assert texts and all(lo <= float(t) <= hi for t in texts), texts
        assert all(len(t) <= 7 for t in texts) and not math.isnan(float(texts[0]))
