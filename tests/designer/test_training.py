"""Training in the designer, end to end: real runs of the samples on the CPU through the window's
actions, with the worker on its QThread. Epochs are cut down through the training panel (the
machine is shared and slow); every wait is generous."""

from __future__ import annotations

import ast
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QWidget

from designer.training import ErrorKind, TrainingController, TrainingPanel

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SHOTS = ROOT / "artifacts" / "screenshots"
RUN_TIMEOUT_MS = 180_000


def ui(window):
    return window.training


def start(qtbot, window, sample: str, epochs: int | None = None, batch: int | None = None):
    assert window.open_path(SAMPLES / sample, ask=False)
    panel: TrainingPanel = ui(window).panel
    if epochs is not None:
        panel.epochs_spin.setValue(epochs)
    if batch is not None:
        panel.batch_spin.setValue(batch)
    controller: TrainingController = ui(window).controller
    assert window.actionTrain.isEnabled() and not window.actionStop.isEnabled()
    window.actionTrain.trigger()
    assert controller.active
    return controller


def wait_finished(qtbot, controller):
    if controller.active:
        with qtbot.waitSignal(controller.run_finished, timeout=RUN_TIMEOUT_MS):
            pass
    qtbot.waitUntil(lambda: controller.thread_count() == 0, timeout=5000)
    return controller.run


@pytest.fixture
def qt_messages():
    """Every Qt warning/critical/fatal message emitted during the test."""
    seen: list[str] = []

    def handler(kind, _context, text):
        if kind != QtMsgType.QtDebugMsg:
            seen.append(str(text))

    previous = qInstallMessageHandler(handler)
    yield seen
    qInstallMessageHandler(previous)


def test_digits_mlp_trains_and_fills_plots_results_canvas_and_runs(qtbot, window, tmp_path, monkeypatch):
    controller = start(qtbot, window, "digits_mlp.json", epochs=3)
    assert window.actionStop.isEnabled() and window.actionPause.isEnabled()
    assert not window.actionTrain.isEnabled()
    run = wait_finished(qtbot, controller)

    assert run.status == "completed", run.message
    assert [r["epoch"] for r in run.epochs] == [1, 2, 3]
    bar = ui(window).panel.progress_bar  # full, and says so
    assert bar.value() == bar.maximum() and bar.format().startswith("Epoch 3/3") and bar.format().endswith("done")
    assert bar.updatesEnabled()  # its repaints are held back only while it changes
    assert not window.actionStop.isEnabled() and not window.actionPause.isEnabled()
    assert window.actionTrain.isEnabled()
    # the contract's widgets exist and hold the run
    for name in ("lossPlot", "accuracyPlot", "gradientPlot", "resultsView"):
        assert window.findChild(QWidget, name) is not None, name
    plots = ui(window).plots
    assert plots.point_count("train_loss") == 3 and plots.point_count("val_loss") == 3
    assert plots.point_count("val_accuracy") == 3
    x, y = plots.curve_data("train_loss")
    assert np.isfinite(y).all() and y[-1] < y[0]
    grad_names = {item.name() for item in plots.layer_curves().values()}
    assert {"n2 Linear", "n4 Linear", "n6 Linear", "n3 ReLU dead"} <= grad_names
    # confusion matrix over the validation split
    start_record = next(r for r in run.records if r["kind"] == "start")
    cm = ui(window).results.confusion_matrix()
    assert cm is not None and cm.shape == (10, 10)
    assert cm.sum() == start_record["n_val"] == 359
    assert ui(window).results.payload["epoch"] == 3
    assert "images" in ui(window).results.payload  # digits are pictures
    # the canvas shows each layer's gradient norm
    item = window.scene.node_items["n2"]
    assert item.run_text and item.run_text.startswith("‖∇‖") and item.run_color is not None
    # the runs list, CSV export and the checkpoint
    panel = ui(window).panel
    assert panel.runs_list.count() == 1 and "done" in panel.runs_list.item(0).text()
    out = tmp_path / "metrics.csv"
    monkeypatch.setattr(panel, "choose_csv_path", lambda suggested: str(out))
    panel.csv_button.click()
    lines = out.read_text().splitlines()
    assert lines[0].startswith("epoch,train_loss,val_loss,train_accuracy,val_accuracy,lr")
    assert "grad_norm:n2" in lines[0] and len(lines) == 4
    assert os.path.exists(os.path.join(run.checkpoint_dir, "best.pt"))
    assert os.path.exists(os.path.join(run.checkpoint_dir, "last.pt"))


def test_stop_mid_epoch_ends_the_thread_within_a_second(qtbot, window):
    # batch size 1: an epoch is 1437 steps, so the stop lands in the middle of one
    controller = start(qtbot, window, "digits_mlp.json", epochs=3, batch=1)
    thread = controller.run_thread
    qtbot.waitUntil(lambda: (controller.progress().get("step") or 0) >= 5, timeout=RUN_TIMEOUT_MS)
    assert not controller.run.epochs
    window.actionStop.trigger()
    assert not window.actionStop.isEnabled()
    qtbot.waitUntil(thread.isFinished, timeout=1000)
    run = wait_finished(qtbot, controller)
    assert run.status == "stopped"
    assert window.actionTrain.isEnabled() and not window.actionPause.isEnabled()
    assert ui(window).panel.progress_bar.format().endswith("stopped")


def test_pause_resume_and_stop_while_paused(qtbot, window):
    controller = start(qtbot, window, "digits_mlp.json", epochs=3, batch=1)
    qtbot.waitUntil(lambda: (controller.progress().get("step") or 0) >= 3, timeout=RUN_TIMEOUT_MS)
    # the run acknowledges the pause with its "paused" record, at a batch boundary
    with qtbot.waitSignal(controller.run_paused, timeout=10_000):
        window.actionPause.trigger()
        assert controller.state == "paused"
        assert window.actionResume.isEnabled() and not window.actionPause.isEnabled()
        assert window.actionStop.isEnabled()
    before = controller.progress().get("step")
    taken: list[str] = []  # every record the window takes from the run from now on, in order
    controller.records_taken.connect(lambda records: taken.extend(r["kind"] for r in records))
    with qtbot.waitSignal(controller.run_resumed, timeout=10_000):
        window.actionResume.trigger()
    qtbot.waitUntil(lambda: "step" in taken, timeout=10_000)
    # nothing came between the acknowledged pause and the resume: no step trained while paused
    assert taken[0] == "resumed", taken[:5]
    assert controller.progress().get("step") != before
    window.actionPause.trigger()
    window.actionStop.trigger()  # stop while paused must not hang
    run = wait_finished(qtbot, controller)
    assert run.status == "stopped"


def test_closing_the_window_during_a_run_stops_it_cleanly(qtbot, window, qt_messages):
    controller = start(qtbot, window, "digits_mlp.json", epochs=50, batch=4)
    thread = controller.run_thread
    qtbot.waitUntil(lambda: (controller.progress().get("step") or 0) >= 2, timeout=RUN_TIMEOUT_MS)
    child = controller.run_process()
    window.document.undo_stack.setClean()
    assert window.close()
    assert thread.isFinished()
    assert not child.is_alive() and child.exitcode == 0  # stopped, not killed; no orphan process
    assert controller.thread_count() == 0 and not controller.active
    assert controller.run.status == "stopped"
    # The thread has finished, so whatever the worker emitted is posted by now: deliver it all
    # (and the deferred deletes) and check nothing complains.
    QCoreApplication.sendPostedEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not [m for m in qt_messages if "QThread" in m or "Destroyed" in m], qt_messages


def test_training_runs_in_its_own_process_and_its_crash_leaves_the_app_usable(qtbot, window):
    import signal

    controller = start(qtbot, window, "digits_mlp.json", epochs=50, batch=1)
    qtbot.waitUntil(lambda: (controller.progress().get("step") or 0) >= 2, timeout=RUN_TIMEOUT_MS)
    child = controller.run_process()
    assert child.pid != os.getpid() and child.is_alive()
    os.kill(child.pid, signal.SIGKILL)  # what a native crash or the out-of-memory killer does
    run = wait_finished(qtbot, controller)
    assert run.status == "failed"
    assert controller.last_error.kind is ErrorKind.PROCESS
    assert "ended unexpectedly" in controller.last_error.message
    assert controller.error_box is not None and "ended unexpectedly" in controller.error_box.text()
    assert run.records  # what it had sent is kept
    controller.error_box.close()
    ui(window).panel.epochs_spin.setValue(1)
    ui(window).panel.batch_spin.setValue(64)
    window.actionTrain.trigger()
    assert wait_finished(qtbot, controller).status == "completed"


def test_diverging_run_stops_with_a_message_and_the_next_run_starts(qtbot, window):
    controller = start(qtbot, window, "diverging_lr.json")
    run = wait_finished(qtbot, controller)
    assert run.status == "failed"
    assert controller.last_error.kind is ErrorKind.DIVERGED
    text = controller.last_error.message
    assert "diverged" in text and "learning rate" in text
    assert "'loss' (n5, MSELoss)" in text  # names the node where the loss became infinite
    box = controller.error_box
    assert box is not None and box.isVisible() and "diverged" in box.text()
    assert "diverged" in ui(window).panel.status_label.text()
    assert "diverged" in window.statusBar().currentMessage()
    # the plot keeps the finite part: the running loss of the batches before the blow-up
    x, y = ui(window).plots.curve_data("batch_loss")
    assert np.isfinite(y).sum() >= 3
    assert window.scene.node_items["n5"].run_text.startswith("✖")
    # the app is still usable: fix the learning rate and train again
    box.close()
    window.document.set_param("n6", "lr", 0.05)
    ui(window).panel.epochs_spin.setValue(2)
    window.actionTrain.trigger()
    run2 = wait_finished(qtbot, controller)
    assert run2 is not run and run2.status == "completed", run2.message
    assert all(math.isfinite(r["train_loss"]) for r in run2.epochs)
    assert "regression" in ui(window).results.payload  # predicted vs. true for regression
    assert not ui(window).plots.accuracy_plot.isVisible()


def test_editing_during_a_run_does_not_touch_it_and_resume_continues_exactly(qtbot, window):
    # enough epochs that the stop below lands inside the run (the GUI sees records in bursts)
    controller = start(qtbot, window, "digits_mlp.json", epochs=30, batch=32)
    full = wait_finished(qtbot, controller)
    assert full.status == "completed"

    window.actionTrain.trigger()
    interrupted = controller.run
    snapshot_text = interrupted.graph_text
    # edit the document while it trains: a parameter and a new node
    window.document.set_param("n8", "lr", 0.5)
    window.document.add_node("Dropout", (100.0, 400.0))
    qtbot.waitUntil(lambda: len(interrupted.epochs) >= 1, timeout=RUN_TIMEOUT_MS)
    window.actionStop.trigger()
    wait_finished(qtbot, controller)
    assert interrupted.graph_text == snapshot_text
    if interrupted.status == "completed":
        pytest.skip("the machine was too fast to stop the run before its end")
    assert interrupted.status == "stopped" and interrupted.can_resume()
    panel = ui(window).panel
    panel.select_run(interrupted)
    assert panel.resume_run_button.isEnabled()
    panel.resume_run_button.click()
    resumed = wait_finished(qtbot, controller)
    assert resumed is interrupted and resumed.status == "completed", resumed.message
    assert [r["epoch"] for r in resumed.epochs] == list(range(1, 31))
    for a, b in zip(full.epochs, resumed.epochs):
        assert a["train_loss"] == b["train_loss"] and a["val_loss"] == b["val_loss"]
    # overlaying runs draws their curves as extra items on the loss plot
    panel.set_overlaid([full.run_id, resumed.run_id])
    names = [i.name() for i in ui(window).plots.loss_plot.getPlotItem().listDataItems()]
    assert sum((n or "").startswith("Run ") and " val " in n for n in names) == 2


def test_export_actions_write_files_and_say_so(qtbot, window, tmp_path, monkeypatch):
    assert window.open_path(SAMPLES / "xor_mlp.json", ask=False)
    exporter = ui(window).exporter
    told: list[tuple[str, str]] = []
    monkeypatch.setattr(exporter, "inform", lambda title, text: told.append((title, text)))
    script = tmp_path / "xor.py"
    monkeypatch.setattr(exporter, "choose_export_path", lambda caption, suggested, filters: str(script))
    window.actionExportPython.trigger()
    ast.parse(script.read_text())
    assert told and "Python script" in told[-1][1] and str(script) in told[-1][1]
    model = tmp_path / "xor.onnx"
    monkeypatch.setattr(exporter, "choose_export_path", lambda caption, suggested, filters: str(model))
    window.actionExportOnnx.trigger()
    assert model.exists() and model.stat().st_size > 0
    assert "ONNX" in told[-1][1]
    # a cancelled dialog writes nothing and says nothing
    monkeypatch.setattr(exporter, "choose_export_path", lambda caption, suggested, filters: "")
    window.actionExportPython.trigger()
    assert len(told) == 2


def test_screenshots_during_and_after_training(qtbot, window):
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.resize(1600, 1000)
    controller = start(qtbot, window, "digits_mlp.json", epochs=60, batch=16)
    qtbot.waitUntil(lambda: len(controller.run.epochs) >= 3 and ui(window).results.payload is not None,
                    timeout=RUN_TIMEOUT_MS)
    # zoom onto the hidden layers so their gradient bands and figures are legible
    rect = window.scene.node_items["n2"].sceneBoundingRect().united(
        window.scene.node_items["n6"].sceneBoundingRect()).adjusted(-20, -60, 20, 60)
    window.canvas.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
    window.scene.flush()  # what is pending is drawn now: the wires and the plots' newest points
    ui(window).plots.flush()
    assert controller.active  # "during" really is during
    assert window.grab().save(str(SHOTS / "training_during.png"))
    wait_finished(qtbot, controller)  # a finished run has flushed its plots
    window.scene.flush()
    assert window.grab().save(str(SHOTS / "training_after.png"))
    results = ui(window).results
    results.setCurrentIndex(results.indexOf(results.confusion_plot))
    assert ui(window).plots_dock.grab().save(str(SHOTS / "training_confusion.png"))


def test_designer_starts_without_torch():
    code = ("import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]);"
            "from designer.mainwindow import MainWindow; w = MainWindow(offer_recovery=False); w.show();"
            "app.processEvents(); w.training.panel.refresh_settings();"
            "print('torch' in sys.modules)")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]


def test_full_batch_setting_shows_and_round_trips(window):
    """batch_size 0 (full batch, as in xor_mlp.json) is shown as such and never rewritten to 1."""
    assert window.open_path(SAMPLES / "xor_mlp.json", ask=False)
    panel: TrainingPanel = ui(window).panel
    assert panel.batch_spin.value() == 0
    assert panel.batch_spin.text() == "Full batch"
    data = next(n for n in window.document.graph.nodes.values() if n.type == "Dataset")
    panel.batch_spin.setValue(16)
    assert data.params["batch_size"] == 16
    panel.batch_spin.setValue(0)
    assert data.params["batch_size"] == 0


def test_epoch_updates_of_the_runs_list_do_not_redraw_the_overlays(qtbot, window, monkeypatch):
    controller = start(qtbot, window, "digits_mlp.json", epochs=2)
    first = wait_finished(qtbot, controller)
    panel = ui(window).panel
    panel.set_overlaid([first.run_id])  # the user ticks the first run: drawn once
    calls = []
    real = controller.plots.overlay_runs
    monkeypatch.setattr(controller.plots, "overlay_runs", lambda runs: (calls.append(len(runs)), real(runs)))
    panel.epochs_spin.setValue(6)
    window.actionTrain.trigger()
    second = wait_finished(qtbot, controller)
    assert len(second.epochs) == 6 and "done" in panel.runs_list.item(0).text() + panel.runs_list.item(1).text()
    assert calls == []  # six label updates, no overlay rebuilds
