"""The README's "A quick tour", performed literally through Qt events in a window of the default
size: File ▸ New, palette drops, clicks on nodes, typing into the Inspector, mouse-drag wiring, the
Training panel's Epochs field, F5, Ctrl+S, the Export menu; then the exported script runs in a
subprocess and must start from the trained weights.

What the tour does and promises is read from the README itself (tests/designer/tour.py: the node
list, the parameter values, the epochs, the accuracy and loss it promises), so the text and the
test cannot drift apart: change one and the other must follow.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from designer.mainwindow import MainWindow
from tests.designer import tour as t

RUN_TIMEOUT_MS = 180_000


def test_the_tour_reads_as_the_test_performs_it():
    tour = t.tour_text()
    assert t.node_types(tour) == ["Dataset", "Linear", "Tanh", "Linear", "BCEWithLogitsLoss", "Adam"]
    assert t.out_features(tour) == [4, 1]
    assert t.tour_epochs(tour) > 0 and t.promised_loss(tour) > 0
    assert "accuracy of 100 %" in t.step(tour, 3)
    assert "`xor_tour.py`" in t.step(tour, 4) and "`xor_tour.weights.pt`" in t.step(tour, 4)


@pytest.fixture
def tour_window(qtbot):
    """The window as `make run` shows it: the default size, not a test's."""
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    return w


@pytest.mark.slow
def test_readme_tour_through_qt_events(qtbot, tour_window, prompts, tmp_path, monkeypatch):
    window, tour = tour_window, t.tour_text()
    # 1 and 2: an empty graph at 100 %, the nodes dropped, typed into and wired.
    data, lin1, _tanh, lin2, _loss, _opt = t.build(window, tour)
    graph = window.document.graph
    assert window.canvas.transform().m11() == pytest.approx(1.0)
    assert graph.nodes[data].params["dataset"] == "xor"  # the tour keeps the Dataset's defaults
    assert graph.nodes[data].params["batch_size"] == 32
    assert [graph.nodes[n].params["out_features"] for n in (lin1, lin2)] == t.out_features(tour)
    assert len(graph.edges) == 6
    assert not window.document.analysis().errors, window.document.analysis().errors

    # 3. Epochs in the Training panel (one undo step), then F5.
    panel, controller = window.training.panel, window.training.controller
    undo_before = window.document.undo_stack.count()
    with qtbot.waitSignal(controller.run_finished, timeout=RUN_TIMEOUT_MS):
        t.start_training(window, tour, lin1)
    epochs = t.tour_epochs(tour)
    assert window.document.graph.settings["epochs"] == epochs
    assert window.document.undo_stack.count() == undo_before + 1
    run = controller.run
    last = run.epochs[-1]
    assert run.status == "completed" and len(run.epochs) == epochs
    assert last["train_accuracy"] == 1.0 and last["val_accuracy"] == 1.0, last
    assert last["train_loss"] < t.promised_loss(tour), last
    line = panel.runs_list.currentItem().text()  # the runs list says it as text, newest selected
    assert "100" in line and "train" in line and "val" in line, line

    # 4. Save as xor_tour.json, then Export ▸ Python Script… as xor_tour.py.
    prompts.answers["save_path"] = str(tmp_path / "xor_tour.json")
    t.press(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert (tmp_path / "xor_tour.json").exists() and not window.document.is_modified()
    script = tmp_path / "xor_tour.py"
    told: list[str] = []
    exporter = window.training.exporter
    monkeypatch.setattr(exporter, "choose_export_path", lambda *_a: str(script))
    monkeypatch.setattr(exporter, "inform", lambda _title, text: told.append(text))
    (action,) = [a for a in window.menus["export"].actions() if a.text().replace("&", "") == "Export Python Script…"]
    action.trigger()
    weights = tmp_path / "xor_tour.weights.pt"
    assert script.exists() and weights.exists()
    assert str(script) in told[-1] and str(weights) in told[-1], told
    header = script.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "xor_tour.json" in header and "python xor_tour.py" in header and "xor_tour.weights.pt" in header

    # The script runs as exported, from the trained weights: its first epoch's loss is the run's
    # last one, not a fresh start's.
    out = subprocess.run([sys.executable, script.name, "--epochs", "2", "--metrics-out", "m.jsonl"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    first = json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])
    assert first["train_loss"] < 2 * last["train_loss"] + 0.01, (first, last)
    assert first["train_loss"] < run.epochs[0]["train_loss"] / 5, (first, run.epochs[0])
