"""Benchmark: the designer with a generated 1,000-node graph.

Prints: the time to open the file in the window (parse, validate, build the scene, analyse,
route the wires, fit, first paint) against a same-run reference (``graph.fileformat.load_path``
alone: the least any opener must do); and the time of each undo step (the command plus the
scene's synchronous update) over a mixed edit history, and separately the coalesced analysis
that follows one. Targets: open < 2 s, each undo step < 10 ms.

Run: .venv/bin/python tests/benchmarks/bench_designer.py
"""

from __future__ import annotations

import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

N_NODES = 1000


def main() -> None:
    from PySide6.QtWidgets import QApplication

    tmp = tempfile.mkdtemp(prefix="nw-bench-")
    os.environ["NETWRIGHT_RECOVERY_DIR"] = os.path.join(tmp, "recovery")
    os.environ["NETWRIGHT_CONFIG_DIR"] = os.path.join(tmp, "config")
    app = QApplication.instance() or QApplication([])

    from designer.clipboard import fragment
    from designer.mainwindow import MainWindow
    from graph import fileformat
    from graph.document import PortRef
    from tests.designer.helpers import make_big_graph

    path = os.path.join(tmp, "big.json")
    fileformat.save_path(make_big_graph(N_NODES), path)

    t0 = time.perf_counter()
    fileformat.load_path(path)
    reference = time.perf_counter() - t0

    window = MainWindow(offer_recovery=False)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    t0 = time.perf_counter()
    assert window.open_path(path)
    app.processEvents()  # coalesced analysis, wire routing, fit to view
    window.canvas.viewport().repaint()  # first paint
    opened = time.perf_counter() - t0
    doc = window.document
    n_nodes, n_edges = len(doc.graph.nodes), len(doc.graph.edges)

    # A mixed history: parameter edits, moves, adds, wires, deletes (with edges), paste, layout.
    ids = list(doc.graph.nodes)
    linears = [n for n in ids if doc.graph.nodes[n].type == "Linear"]
    for i in range(20):
        doc.set_param(linears[i], "out_features", 64 + i % 3 + 1)
        doc.move_nodes({ids[i + 1]: (10.0 * i, 5.0 * i)})
    for i in range(10):
        nid = doc.add_node("ReLU", (100.0 * i, -400.0))
        doc.connect(PortRef(linears[50 + i], "output"), PortRef(nid, "input"))
    for i in range(10):
        doc.remove_items([ids[300 + 3 * i]])
    doc.paste(fragment(doc.graph, ids[600:620]), (0.0, 2000.0))
    doc.auto_layout(window.scene.node_heights())
    app.processEvents()

    steps = doc.undo_stack.count()
    undo_times, analysis_times = [], []
    for _ in range(steps):
        text = doc.undo_stack.undoText()
        t0 = time.perf_counter()
        doc.undo_stack.undo()
        undo_times.append(time.perf_counter() - t0)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"  undo {text!r}: {undo_times[-1] * 1e3:.2f} ms")
        t0 = time.perf_counter()
        app.processEvents()
        analysis_times.append(time.perf_counter() - t0)
    redo_times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        doc.undo_stack.redo()
        redo_times.append(time.perf_counter() - t0)
        app.processEvents()

    def ms(values: list[float]) -> str:
        values = sorted(values)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        return (f"median {statistics.median(values) * 1e3:.2f} ms, p95 {p95 * 1e3:.2f} ms, "
                f"max {values[-1] * 1e3:.2f} ms")

    print(f"graph: {n_nodes} nodes, {n_edges} edges ({os.path.getsize(path) / 1e6:.2f} MB)")
    print(f"open in window: {opened:.3f} s (target < 2 s); load_path reference {reference:.3f} s; "
          f"ratio {opened / reference:.1f}x")
    print(f"undo, {steps} steps: {ms(undo_times)} (target < 10 ms each)")
    print(f"  of which the largest (auto layout of {n_nodes} nodes, one step): "
          f"{undo_times[0] * 1e3:.2f} ms")
    print(f"redo, {steps} steps: {ms(redo_times)}")
    print(f"coalesced analysis + wire refresh after an undo: {ms(analysis_times)}")
    window.document.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    main()
