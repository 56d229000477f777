"""A short soak of the live plots: records at full rate, offscreen, with the redraw timer running.

This is the test that catches a Qt binding that crashes under live pyqtgraph updates before
any version bump lands: PySide6 6.12.0 dies with "none_dealloc" while pyqtgraph paints its axes
(hence ``PySide6-Essentials<6.12`` in pyproject.toml); on 6.11 this runs clean. It also checks
that memory stays bounded (the one-hour figure comes from tests/benchmarks/bench_plot_soak.py).
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np

from designer.plots import LivePlots, SeriesBuffer

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from records_sim import simulated_records  # noqa: E402


def _bench():
    path = HERE.parent / "benchmarks" / "bench_plot_soak.py"
    spec = importlib.util.spec_from_file_location("bench_plot_soak", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_short_soak_runs_clean_with_bounded_memory(qtbot):
    lines: list[str] = []
    figures = _bench().soak(12.0, report=4.0, out=lines.append)
    assert figures["records"] > 10_000, lines
    assert figures["redraws"] > 20, lines  # the timer really drew while records poured in
    assert figures["redraws"] / figures["seconds"] <= 21  # and never above 20 Hz
    assert figures["growth_mb"] < 15, lines
    assert figures["points"] <= 4096 + 1  # bounded history


def test_series_buffer_stays_bounded_and_keeps_the_whole_run():
    buf = SeriesBuffer(1024)
    for i in range(100_000):
        buf.append(float(i), float(i) * 2)
    x, y = buf.arrays()
    assert len(x) <= 1025
    assert x[0] == 0.0 and x[-1] == 99_999.0  # first and newest points always kept
    assert np.all(np.diff(x) > 0) and np.array_equal(y, x * 2)


def test_non_finite_values_never_blank_a_plot(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.show()
    plots.start_run({})
    plots.add_records(simulated_records(epochs=10, diverge_at=7))
    plots.flush()
    x, y = plots.curve_data("train_loss")
    assert len(y) == 7 and np.isfinite(y[:6]).all() and np.isnan(y[6])
    for plot in (plots.loss_plot, plots.gradient_plot, plots.accuracy_plot):
        (x0, x1), (y0, y1) = plot.getPlotItem().viewRange()
        assert all(np.isfinite(v) for v in (x0, x1, y0, y1)), plot.objectName()
        assert y1 > y0
    # the finite part is on screen
    item = plots.layer_curves()[("grad_norm", "n2")]
    xs, ys = item.getData()
    assert np.isfinite(ys).sum() == 6
    assert plots.loss_plot.grab().width() > 0  # painting with NaNs does not raise


def test_drawing_stays_cheap_at_100k_records(qtbot):
    import time

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(1100, 520)
    plots.show()
    plots.start_run({})
    plots.add_records(simulated_records(epochs=2000, steps=50))  # ~100k step records
    t0 = time.perf_counter()
    plots.flush()
    plots.repaint()
    first = time.perf_counter() - t0
    assert plots.point_count("lr") <= 4097
    assert first < 5.0  # generous: a shared CPU; the point is that it does not grow with history
