"""The training panel as a new user meets it: number fields that commit once per edit (one undo
step), and a runs list that follows the newest run and shows each run's last-epoch metrics.

Real widgets, real (short) runs of samples/xor_mlp.json on the CPU; every wait is on a signal."""

from __future__ import annotations

import csv
import io
import pathlib

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolButton

from designer.runs import Run
from tests.designer.helpers import type_into

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "samples"
RUN_TIMEOUT_MS = 180_000


def open_sample(window, name: str):
    assert window.open_path(SAMPLES / name, ask=False)
    return window.training.panel


def dataset_id(window) -> str:
    return next(n.id for n in window.document.graph.nodes.values() if n.type == "Dataset")


# ---------------------------------------------------------------- one edit, one undo step


@pytest.mark.parametrize("spin_name, read", [
    ("epochs_spin", lambda w: w.document.graph.settings["epochs"]),
    ("seed_spin", lambda w: w.document.graph.settings["seed"]),
    ("batch_spin", lambda w: w.document.graph.nodes[dataset_id(w)].params["batch_size"]),
])
def test_typing_a_number_is_one_undo_step_and_undo_shows_the_old_value(window, spin_name, read):
    panel = open_sample(window, "digits_mlp.json")
    spin = getattr(panel, spin_name)
    stack = window.document.undo_stack
    old, before = read(window), stack.count()
    assert old != 300
    line = spin.lineEdit()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Delete)
    QTest.keyClicks(line, "300")
    assert stack.count() == before and read(window) == old  # nothing commits while typing
    QTest.keyClick(line, Qt.Key.Key_Return)
    assert stack.count() == before + 1
    assert read(window) == 300
    stack.undo()
    assert read(window) == old
    assert spin.value() == old and spin.text() == str(old)  # the panel follows the document
    stack.redo()
    assert spin.value() == 300


def test_leaving_the_field_commits_the_typed_number_once(window):
    panel = open_sample(window, "digits_mlp.json")
    stack = window.document.undo_stack
    before = stack.count()
    line = panel.epochs_spin.lineEdit()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Delete)
    QTest.keyClicks(line, "45")
    assert stack.count() == before
    QApplication.sendEvent(panel.epochs_spin, QFocusEvent(QEvent.Type.FocusOut, Qt.FocusReason.TabFocusReason))
    assert stack.count() == before + 1 and window.document.graph.settings["epochs"] == 45
    assert stack.command(stack.count() - 1).text() == "Set epochs"


def test_arrow_keys_still_step_the_value(window):
    panel = open_sample(window, "digits_mlp.json")
    stack = window.document.undo_stack
    before, old = stack.count(), window.document.graph.settings["epochs"]
    QTest.keyClick(panel.epochs_spin, Qt.Key.Key_Up)
    QTest.keyClick(panel.epochs_spin, Qt.Key.Key_Up)
    assert window.document.graph.settings["epochs"] == old + 2
    assert stack.count() == before + 2  # one step per click
    stack.undo()
    assert panel.epochs_spin.value() == old + 1


# ---------------------------------------------------------------- the runs list


def train(qtbot, window) -> Run:
    controller = window.training.controller
    window.actionTrain.trigger()
    run = controller.run
    assert controller.active and run is not None
    return run


def wait_finished(qtbot, window) -> None:
    controller = window.training.controller
    if controller.active:
        with qtbot.waitSignal(controller.run_finished, timeout=RUN_TIMEOUT_MS):
            pass
    qtbot.waitUntil(lambda: controller.thread_count() == 0, timeout=5000)


def percent(fraction: float) -> str:
    text = f"{fraction * 100:.1f}"
    return text.removesuffix(".0") + " %"


def expected_metrics(run: Run) -> list[str]:
    last = run.epochs[-1]
    return [f"train loss {last['train_loss']:.3g} acc {percent(last['train_accuracy'])}",
            f"val loss {last['val_loss']:.3g} acc {percent(last['val_accuracy'])}"]


def item_of(panel, run: Run):
    return next(panel.runs_list.item(i) for i in range(panel.runs_list.count())
                if panel.runs_list.item(i).data(Qt.ItemDataRole.UserRole) == run.run_id)


def two_xor_runs(qtbot, window) -> tuple[Run, Run]:
    """xor_mlp.json with a validation split (so both splits have metrics): 3 epochs, then 5,
    the user selecting the first run in between."""
    panel = open_sample(window, "xor_mlp.json")
    data = dataset_id(window)
    window.document.set_param(data, "n_samples", 64)
    window.document.set_param(data, "noise", 0.1)
    window.document.set_param(data, "val_split", 0.25)
    type_into(panel.epochs_spin, "3")
    first = train(qtbot, window)
    assert panel._selected_run() is first
    wait_finished(qtbot, window)
    panel.select_run(first)
    type_into(panel.epochs_spin, "5")
    second = train(qtbot, window)
    # selected the moment it starts, although the user had the first one selected
    assert second is not first and panel._selected_run() is second
    wait_finished(qtbot, window)
    assert panel._selected_run() is second
    assert [first.status, second.status] == ["completed", "completed"], (first.message, second.message)
    assert (first.last_epoch, second.last_epoch) == (3, 5)
    return first, second


def test_the_newest_run_is_selected_shows_its_metrics_and_is_what_csv_exports(qtbot, window, tmp_path,
                                                                                monkeypatch):
    first, second = two_xor_runs(qtbot, window)
    panel = window.training.panel
    for run, epochs in ((first, 3), (second, 5)):
        lines = item_of(panel, run).text().splitlines()
        assert lines[0] == f"Run {run.run_id} · done · {epochs} epochs · Adam lr=0.05"
        assert lines[1:] == expected_metrics(run)
        assert f"train loss {run.epochs[-1]['train_loss']:.6g}" in item_of(panel, run).toolTip()

    out = tmp_path / "metrics.csv"
    asked: list[str] = []
    monkeypatch.setattr(panel, "choose_csv_path", lambda suggested: (asked.append(suggested), str(out))[1])
    assert panel.csv_button.isEnabled()
    panel.csv_button.click()
    assert asked and asked[0].endswith(f"-{second.run_id}-metrics.csv")
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert [float(r["train_loss"]) for r in rows] == [r["train_loss"] for r in second.epochs]
    assert [float(r["val_accuracy"]) for r in rows] == [r["val_accuracy"] for r in second.epochs]
    assert second.name in panel.status_label.text()


def test_the_runs_list_text_fits_the_panel_at_the_default_window_size(qtbot, window):
    window.resize(1360, 840)  # MainWindow's own default size
    first, second = two_xor_runs(qtbot, window)
    panel = window.training.panel
    qtbot.waitUntil(lambda: panel.runs_list.viewport().width() > 0)
    view = panel.runs_list
    metrics = view.fontMetrics()
    for run in (first, second):
        item = item_of(panel, run)
        rect = view.visualItemRect(item)
        lines = item.text().splitlines()
        widest = max(metrics.horizontalAdvance(line) for line in lines)
        indicator = view.style().pixelMetric(view.style().PixelMetric.PM_IndicatorWidth)
        # the text starts after the check box; what is wider than the rest is cut off
        assert indicator + widest < min(rect.width(), view.viewport().width()), (item.text(), rect)
        assert rect.height() >= len(lines) * metrics.lineSpacing()  # every line shown


def type_without_return(spin, text: str):
    """Replace a number field's text by typing, leaving the edit open (no Return, focus kept)."""
    line = spin.lineEdit()
    spin.setFocus()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Delete)
    QTest.keyClicks(line, text)
    return line


def test_a_number_typed_without_return_is_what_a_click_on_train_uses(qtbot, window):
    panel = open_sample(window, "xor_mlp.json")
    (train_button,) = [b for b in panel.findChildren(QToolButton) if b.defaultAction() is window.actionTrain]
    stack = window.document.undo_stack
    before = stack.count()
    type_without_return(panel.epochs_spin, "2")
    QTest.mouseClick(train_button, Qt.MouseButton.LeftButton)
    run = window.training.controller.run
    assert run is not None and run.settings["epochs"] == 2
    assert stack.count() == before + 1
    wait_finished(qtbot, window)
    assert run.last_epoch == 2


def test_f5_right_after_typing_trains_the_typed_number(qtbot, window):
    """F5 is a shortcut: the focus stays in the field, so only Train itself can commit the edit."""
    panel = open_sample(window, "xor_mlp.json")
    stack = window.document.undo_stack
    before = stack.count()
    line = type_without_return(panel.epochs_spin, "2")
    assert window.document.graph.settings["epochs"] != 2  # nothing committed yet
    QTest.keyClick(line, Qt.Key.Key_F5)
    run = window.training.controller.run
    assert run is not None and run.settings["epochs"] == 2
    assert stack.count() == before + 1
    wait_finished(qtbot, window)
    QTest.keyClick(line, Qt.Key.Key_Return)  # the edit was already committed: no second step
    assert stack.count() == before + 1 and run.last_epoch == 2


def test_f5_right_after_typing_into_the_inspector_trains_the_typed_value(qtbot, window):
    open_sample(window, "xor_mlp.json")
    linear = next(n.id for n in window.document.graph.nodes.values() if n.type == "Linear")
    window.scene.select_nodes([linear])
    assert window.inspector.target == linear
    line = type_without_return(window.inspector.editors["out_features"].widget, "7")
    QTest.keyClick(line, Qt.Key.Key_F5)
    run = window.training.controller.run
    assert run is not None
    assert run.graph().nodes[linear].params["out_features"] == 7
    assert window.document.graph.nodes[linear].params["out_features"] == 7
    wait_finished(qtbot, window)
