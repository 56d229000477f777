"""Soak benchmark: simulated trainer records at full rate into the live plots, offscreen.

Feeds ``LivePlots`` (the designer's plot panel, with its 20 Hz redraw timer) with the record
stream of a fast run (step records every batch, an epoch record every 50 batches, four layers)
for ``--seconds`` (default 60; ``--seconds 3600`` for the one-hour figure) and prints the resident
memory at the start, every ``--report`` seconds and at the end, the growth, and how many
records and redraws happened. Target: < 30 MB growth over an hour (the buffers are bounded, so
growth should flatten after the first minute).

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_plot_soak.py [--seconds 3600]
"""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "designer"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def soak(seconds: float, report: float = 10.0, batch: int = 200, out=print) -> dict:
    """Run the soak in this process (needs a QApplication); returns the figures."""
    from PySide6.QtCore import QCoreApplication
    from records_sim import LAYERS, endless_records

    from designer.plots import LivePlots

    # Drawing as often as drawing allows (at most 20 Hz), not paced to a share as in the designer: the
    # soak is a stress test of painting (a binding that crashes in pyqtgraph's axis painting
    # shows within seconds) as much as of memory.
    plots = LivePlots(window_share=1.0)
    plots.resize(1100, 520)
    plots.show()
    plots.start_run({nid: f"{nid} Linear" for nid in LAYERS})
    stream = endless_records()
    app = QCoreApplication.instance()
    # warm up: first paints, font caches, buffers reaching their capacity
    t_end = time.perf_counter() + min(5.0, seconds / 4)
    n = 0
    while time.perf_counter() < t_end:
        plots.add_records(next(stream) for _ in range(batch))
        n += batch
        app.processEvents()
    gc.collect()
    start_rss = rss_mb()
    peak = start_rss
    out(f"start: RSS {start_rss:.1f} MB after {n} warm-up records")
    t0 = time.perf_counter()
    next_report = t0 + report
    records = 0
    redraws0 = plots.redraw_count
    while True:
        now = time.perf_counter()
        if now - t0 >= seconds:
            break
        plots.add_records(next(stream) for _ in range(batch))
        records += batch
        app.processEvents()
        if now >= next_report:
            next_report += report
            r = rss_mb()
            peak = max(peak, r)
            out(f"{now - t0:7.0f} s: RSS {r:.1f} MB (+{r - start_rss:.1f}), {records} records, "
                f"{plots.redraw_count - redraws0} redraws")
    elapsed = time.perf_counter() - t0
    gc.collect()
    app.processEvents()
    end_rss = rss_mb()
    figures = {"seconds": elapsed, "records": records, "records_per_second": records / elapsed,
               "redraws": plots.redraw_count - redraws0, "start_rss_mb": start_rss, "end_rss_mb": end_rss,
               "growth_mb": end_rss - start_rss, "peak_rss_mb": max(peak, end_rss),
               "points": plots.point_count("lr")}
    out(f"end: {elapsed:.0f} s, {records} records ({records / elapsed:,.0f}/s), "
        f"{figures['redraws']} redraws ({figures['redraws'] / elapsed:.1f}/s), "
        f"lr curve holds {figures['points']} points")
    out(f"RSS {start_rss:.1f} MB -> {end_rss:.1f} MB: growth {end_rss - start_rss:+.1f} MB "
        f"(peak {figures['peak_rss_mb']:.1f} MB)")
    plots.close()
    plots.deleteLater()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--report", type=float, default=10.0, help="print RSS every N seconds")
    args = parser.parse_args()
    import pyqtgraph
    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    print(f"PySide6 {pyside_version}, pyqtgraph {pyqtgraph.__version__}, {args.seconds:.0f} s")
    figures = soak(args.seconds, args.report)
    del app
    print(f"growth: {figures['growth_mb']:+.1f} MB (target < 30 MB over an hour)")


if __name__ == "__main__":
    main()
