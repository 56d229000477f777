"""Training in the designer: a worker on a QThread, the training panel, live plots and results.

Pieces, by role:

* :class:`RunWorker` (a QObject moved to a QThread) drives one run: the Trainer itself runs on a
  *snapshot* of the graph in a child process (``runtime.worker``: in a thread it would share the
  interpreter lock with the painting GUI thread, which measured 2-3x slower; see there). The
  worker thread reads the child's messages, appends records to a locked queue and emits
  ``records_ready`` only when the queue was empty, so however fast records come, the GUI thread
  sees one queued signal per drain. Results (confusion matrix, decision regions...) are computed
  in the child next to the model and arrive as plain numpy data.
* :class:`TrainingController` (GUI thread) owns the runs, the current worker and its thread, and
  the actions ``actionTrain``, ``actionPause``, ``actionResume``, ``actionStop``,
  ``actionExportPython``, ``actionExportOnnx``. It feeds the plots, the results view, the canvas
  overlay (``NodeItem.set_run_overlay``) and the panel, all in one burst per redraw of the plots
  (``LivePlots.about_to_redraw``): the plots pace the window's whole share of the CPU while a
  run trains (designer.plots.WINDOW_SHARE), since on a small machine every millisecond the
  window works is one the run's thread team waits.
* :class:`TrainingPanel` shows the run settings (read from and written to the graph through the
  document, so they are undoable and saved with the file), the buttons, the progress bar and the
  runs list (overlay, export CSV, resume a stopped run).
* :func:`install_training` puts all of it into a ``MainWindow``.

Invariants:

* torch is imported in the designer's own process only when an export runs or the device list
  is opened, never at start-up; runs import it in their process (``runtime.worker.warm_up``
  has a fork server import it once, after the window is up).
* Widgets are touched only on the GUI thread; signals between threads carry plain data (dicts of
  floats, strings and numpy arrays), never tensors or Qt objects.
* The trainer sees a deep copy of the graph made when Train was pressed; editing the document
  during a run cannot affect it.
* ``stop()`` asks the trainer to stop at the next batch boundary; ``shutdown()`` (window closing)
  also waits for the thread (killing the run's process if it does not stop within
  ``SHUTDOWN_WAIT_MS``), so no QThread is ever destroyed while running. Every finished thread
  and worker is deleted with ``deleteLater`` after ``finished``.
* At most one run is active. A failed run (divergence, out-of-memory, a failing node) shows a
  message naming the node and leaves the application usable; the next run starts normally.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QSignalBlocker, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from graph import fileformat
from graph.document import Graph, GraphEvent
from runtime.worker import RunRequest

from .plots import LivePlots
from .results import ResultsView
from .runs import Run, RunStore

WARM_UP_DELAY_MS = 1500  # after the window is up, start the runs' fork server
SHUTDOWN_WAIT_MS = 5000  # closing the window: how long a run may take to stop before it is killed


# ====================================================================== worker (its own thread)


class RunWorker(QObject):
    """Drives one run's child process (``runtime.worker.TrainingProcess``) from a worker thread:
    reads its messages and turns them into signals; talks to the GUI only through signals and a
    queue."""

    records_ready = Signal()  # the queue went from empty to non-empty: call take_records()
    results_ready = Signal(object)  # a results payload (see runtime.results.compute_results)
    run_failed = Signal(object)  # {"error": class name, "message", "node_id", "epoch", "step"}
    run_finished = Signal(object)  # {"reason", "best_epoch", ...}; always the last signal

    def __init__(self, request: RunRequest):
        super().__init__()
        self.request = request
        self._lock = threading.Lock()
        self._queue: deque[dict] = deque()
        self._process: Any = None
        self._commands: list[str] = []  # asked for before the process existed
        self._done = False

    # ------------------------------------------------------------------ called from the GUI thread

    def take_records(self) -> list[dict]:
        with self._lock:
            records = list(self._queue)
            self._queue.clear()
        return records

    def request_stop(self) -> None:
        self._command("stop")

    def request_pause(self) -> None:
        self._command("pause")

    def request_resume(self) -> None:
        self._command("resume")

    def kill(self) -> None:
        """End the child process now (a run that did not stop when asked)."""
        with self._lock:
            process = self._process
        if process is not None:
            process.kill()

    def _command(self, command: str) -> None:
        with self._lock:
            process = self._process
            if process is None:
                self._commands.append(command)
        if process is not None:
            process.request(command)

    # ------------------------------------------------------------------ the worker thread

    @Slot()
    def run(self) -> None:
        from runtime.worker import TrainingProcess, describe_error

        summary: dict[str, Any] = {"reason": "failed"}
        process = None
        try:
            process = TrainingProcess(self.request)
            with self._lock:
                self._process = process
                commands, self._commands = self._commands, []
            for command in commands:
                process.request(command)
            for kind, payload in process.messages():
                if kind == "records":
                    self._enqueue(payload)
                elif kind == "results":
                    self.results_ready.emit(payload)
                elif kind == "failed":
                    self.run_failed.emit(payload)
                elif kind == "finished":
                    summary = payload
        except Exception as exc:  # e.g. the process could not start; the thread always finishes
            self.run_failed.emit(describe_error(exc))
        finally:
            if process is not None:
                process.close()
            self.run_finished.emit(summary)

    def _enqueue(self, records: list[dict]) -> None:
        with self._lock:
            was_empty = not self._queue
            self._queue.extend(records)
        if was_empty and records:
            self.records_ready.emit()


# ====================================================================== GUI thread

STATE_IDLE, STATE_RUNNING, STATE_PAUSED, STATE_STOPPING = "idle", "running", "paused", "stopping"
ERROR_TITLES = {"DivergedError": "Training diverged", "DeviceError": "Device problem",
                "DataError": "Cannot load the data", "BuildError": "Cannot build the model",
                "NodeError": "A node failed", "CheckpointError": "Checkpoint problem"}


class TrainingController(QObject):
    """Starts, steers and stops runs; routes their records to the views. GUI thread only."""

    run_started = Signal(object)  # Run
    run_updated = Signal(object)  # Run: new epochs or status (its runs-list line changed)
    run_finished = Signal(object)  # Run, after its last record and results were shown
    state_changed = Signal(str)
    message = Signal(str, bool)  # text, is_error
    runs_changed = Signal()
    train_refused = Signal()  # F5 found errors in the graph: the Problems panel should show them
    # A run failed: {"error", "message" (naming the node), "node_id", "epoch", "step", "bug"},
    # after the node was marked, the status bar told and the error box shown.
    run_failed = Signal(object)

    def __init__(self, window: Any, store: RunStore | None = None):
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.store = store if store is not None else RunStore()
        self.plots = LivePlots()
        self.results = ResultsView()
        self.state = STATE_IDLE
        self.run: Run | None = None  # the active run, or the last one
        self.last_error: dict[str, Any] | None = None
        # The last run's data could not be loaded (message), until the next run starts: the
        # status bar must not say "Ready to train" then (see _on_data_failed).
        self.data_failure: str | None = None
        self.last_message = ""
        self.error_box: QMessageBox | None = None
        self._worker: RunWorker | None = None
        self._thread: QThread | None = None
        # Every started (thread, worker) pair stays referenced until its thread has finished:
        # dropping the last Python reference deletes the C++ object, which must never happen
        # to a running QThread or to a worker still executing in it.
        self._threads: list[tuple[QThread, RunWorker]] = []
        self._overlay_graph: Graph | None = None  # the document graph the overlay belongs to
        self._run_graph: Graph | None = None  # the snapshot the active run trains
        self._overlay_nodes: set[str] = set()
        self._progress: dict[str, Any] = {}
        self.plots.about_to_redraw.connect(self._catch_up)
        self._newest_epoch: dict | None = None  # not yet shown on the canvas
        self._run_changed = False  # the runs list's line is not yet up to date
        self._pending_results: dict | None = None  # the newest results, not yet shown
        self._create_actions()
        self.document.graph_replaced.connect(self._on_document_graph_replaced)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._set_state(STATE_IDLE)

    # ------------------------------------------------------------------ actions

    def _create_actions(self) -> None:
        w = self.window

        def action(name: str, text: str, slot: Any, shortcut: str = "", tip: str = "") -> QAction:
            a = QAction(text, w)
            a.setObjectName(name)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
                a.setToolTip(tip)
            a.triggered.connect(lambda _=False: slot())
            w.addAction(a)
            setattr(self, name, a)
            setattr(w, name, a)
            return a

        action("actionTrain", "&Train", self.train, "F5", "Train a snapshot of the graph in the background")
        action("actionPause", "&Pause", self.pause, "F6", "Pause the run at the next batch")
        action("actionResume", "&Resume", self.resume, "Shift+F6", "Resume the paused run")
        action("actionStop", "&Stop", self.stop, "Shift+F5", "Stop the run at the next batch")
        action("actionExportPython", "Export &Python Script…", self.export_python, "",
               "Write a standalone PyTorch script that reproduces the run")
        action("actionExportOnnx", "Export &ONNX Model…", self.export_onnx, "",
               "Write the model (without loss and optimizer) as ONNX")

    def _set_state(self, state: str) -> None:
        self.state = state
        active = state in (STATE_RUNNING, STATE_PAUSED)
        self.actionTrain.setEnabled(state == STATE_IDLE)
        self.actionPause.setEnabled(state == STATE_RUNNING)
        self.actionResume.setEnabled(state == STATE_PAUSED)
        self.actionStop.setEnabled(active)
        self.state_changed.emit(state)

    @property
    def active(self) -> bool:
        return self._thread is not None

    @property
    def run_thread(self) -> QThread | None:
        """The active run's QThread (None when idle)."""
        return self._thread

    # ------------------------------------------------------------------ starting

    def run_options(self) -> dict[str, Any]:
        """The settings a run started now would use: the graph's own."""
        g = self.document.graph
        data = next((n for n in g.nodes.values() if n.type == "Dataset"), None)
        return {"epochs": int(g.settings.get("epochs", 20)), "seed": int(g.settings.get("seed", 0)),
                "device": str(g.settings.get("device", "auto")),
                "batch_size": int(data.params.get("batch_size", 32)) if data is not None else None}

    def train(self) -> Run | None:
        """Start a run on a snapshot of the document's graph."""
        if self.active:
            return None
        finish_pending_edit()
        analysis = self.document.analysis()
        if analysis.errors:
            first = analysis.errors[0].text(self.document.graph)
            more = len(analysis.errors) - 1
            self.train_refused.emit()
            self._fail_early("The graph has errors; fix them first: " + first
                             + (f" (and {more} more)" if more else ""))
            return None
        snapshot = self.document.snapshot()
        snapshot.settings["checkpoint_best"] = True  # every run keeps its best model
        options = self.run_options()
        run = self.store.new_run(snapshot, options)
        return self._start(run, snapshot, resume_from=None)

    def resume_run(self, run: Run) -> Run | None:
        """Continue a stopped run from its last checkpoint, on the graph it trained."""
        if self.active or not run.can_resume():
            return None
        run.status = "running"
        run.message = ""
        return self._start(run, run.graph(), resume_from=run.checkpoint_dir)

    def _start(self, run: Run, graph: Graph, resume_from: str | None) -> Run:
        self.run = run
        self._run_graph = graph
        self.last_error = None
        self.data_failure = None
        request = RunRequest(graph_text=fileformat.dumps(graph), base_dir=self.document.base_dir,
                             epochs=run.settings["epochs"], seed=run.settings["seed"],
                             batch_size=run.settings.get("batch_size"), device=run.settings["device"],
                             checkpoint_dir=run.checkpoint_dir, resume_from=resume_from)
        self.plots.start_run(run.node_titles)
        if resume_from is not None:
            self.plots.add_records(run.records)
        self.results.clear_results()
        self._begin_overlay()
        self._progress = {"started": time.perf_counter(), "epochs": run.settings["epochs"],
                          "first_epoch": run.last_epoch if resume_from else 0}
        self._newest_epoch, self._run_changed, self._pending_results = None, False, None

        thread = QThread()
        thread.setObjectName(f"netwright-run-{run.run_id}")
        worker = RunWorker(request)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.records_ready.connect(self._on_worker_records_ready)
        worker.results_ready.connect(self._on_worker_results_ready)
        worker.run_failed.connect(self._on_worker_run_failed)
        worker.run_finished.connect(self._on_worker_run_finished)
        # quit() is thread-safe: the thread ends even while the GUI thread waits for it.
        worker.run_finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._on_thread_finished)
        self._worker, self._thread = worker, thread
        self._threads.append((thread, worker))
        self._set_state(STATE_RUNNING)
        self._say(f"{run.name}: starting ({run.summary})…", False)
        self.run_started.emit(run)
        self.runs_changed.emit()
        thread.start()
        return run

    def _fail_early(self, text: str) -> None:
        self._say(text, True)
        self.show_run_error("Cannot train", text)

    # ------------------------------------------------------------------ steering

    def pause(self) -> None:
        if self._worker is not None and self.state == STATE_RUNNING:
            self._worker.request_pause()
            if self.run is not None:
                self.run.status = "paused"
            self._set_state(STATE_PAUSED)
            self._say("Paused", False)
            self.run_updated.emit(self.run)

    def resume(self) -> None:
        if self._worker is not None and self.state == STATE_PAUSED:
            self._worker.request_resume()
            if self.run is not None:
                self.run.status = "running"
            self._set_state(STATE_RUNNING)
            self._say("Running", False)
            self.run_updated.emit(self.run)

    def stop(self) -> None:
        """Ask the run to stop at the next batch boundary (returns at once)."""
        if self._worker is not None and self.state in (STATE_RUNNING, STATE_PAUSED):
            self._worker.request_stop()
            self._set_state(STATE_STOPPING)
            self.actionStop.setEnabled(False)
            self._say("Stopping at the next batch…", False)

    def shutdown(self) -> None:
        """Stop any run and wait for its thread (window closing, application quitting)."""
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return
        worker.request_stop()
        worker.request_resume()
        thread.quit()
        if not thread.wait(SHUTDOWN_WAIT_MS):
            worker.kill()  # a run stuck inside one long batch: its process ends, the thread follows
            thread.wait()
        self._threads = [(t, w) for t, w in self._threads if t is not thread]
        self._catch_up(final=True)
        # The worker's queued run_finished will never be delivered to a closing window: finish here.
        self._finish({"reason": "stopped", "best_epoch": None})

    def _on_thread_finished(self) -> None:
        thread = self.sender()
        for t, _w in list(self._threads):
            if t is thread:
                t.wait()  # returns at once: the thread is finishing or finished
                self._threads.remove((t, _w))

    def thread_count(self) -> int:
        """Run threads not yet finished and released (0 when idle and cleaned up)."""
        return len(self._threads)

    # ------------------------------------------------------------------ records from the worker

    def _on_worker_records_ready(self) -> None:
        if self.sender() is self._worker:
            # taken just before the redraw (_catch_up); paused or stopping, the last few records
            # show at once: the user waits for them
            self.plots.request_redraw(soon=self.state != STATE_RUNNING)

    def _catch_up(self, final: bool = False) -> None:
        """Take the queued records and show the run's newest state everywhere: in one burst
        with the plots' redraw (called just before it), and when a run ends (``final``)."""
        changed = self._drain()
        payload, self._pending_results = self._pending_results, None
        if payload is not None:
            self.results.show_results(payload)
        if changed or final:
            self._update_views()

    def _drain(self) -> bool:
        """Queued records into the run, the plots' buffers and the progress; False if none."""
        worker, run = self._worker, self.run
        if worker is None or run is None:
            return False
        records = worker.take_records()
        if not records:
            return False
        for r in records:
            run.add_record(r)
        self.plots.add_records(records)
        last_step = None
        for r in records:
            kind = r.get("kind")
            if kind == "start":
                self._progress.update(steps=r.get("steps_per_epoch"), epochs=r.get("epochs") or
                                      self._progress.get("epochs"), device=r.get("device", ""))
                self._say(f"{run.name}: training on {r.get('device', '?')} "
                          f"({r.get('n_train', '?')} training, {r.get('n_val', '?')} validation samples)", False)
                self._run_changed = True
            elif kind == "step":
                last_step = r
            elif kind == "epoch":
                last_step = None
                self._progress.update(epoch=r.get("epoch"), step=self._progress.get("steps"),
                                      seconds=r.get("seconds", self._progress.get("seconds")))
                self._newest_epoch = r
                self._run_changed = True
        if last_step is not None:
            self._progress.update(epoch=last_step.get("epoch"), step=last_step.get("step"),
                                  steps=last_step.get("steps") or self._progress.get("steps"),
                                  seconds=last_step.get("seconds"))
        return True

    def _update_views(self) -> None:
        """The run's newest epoch on the canvas, its line in the runs list, the progress bar."""
        record, self._newest_epoch = self._newest_epoch, None
        if record is not None:
            self._update_overlay(record)
        if self._run_changed and self.run is not None:
            self._run_changed = False
            self.run_updated.emit(self.run)
        self.progress_changed()

    def progress_changed(self) -> None:
        """Hook for the panel (replaced by TrainingPanel.attach)."""

    def progress(self) -> dict[str, Any]:
        """{epoch, epochs, step, steps, fraction, eta_s} of the active run (missing keys: unknown)."""
        p = dict(self._progress)
        epochs, epoch, step, steps = p.get("epochs"), p.get("epoch"), p.get("step"), p.get("steps")
        if epochs and epoch:
            within = (step / steps) if step and steps else 1.0
            start_epoch = p.get("first_epoch", 0)
            done = (epoch - 1 + within - start_epoch) / max(epochs - start_epoch, 1e-9)
            p["fraction"] = min(1.0, max(0.0, (epoch - 1 + within) / epochs))
            elapsed = time.perf_counter() - p["started"]
            if done > 0.01:
                p["eta_s"] = elapsed * (1 - done) / done
        return p

    def _on_worker_results_ready(self, payload: dict) -> None:
        if self.sender() is self._worker:
            self._pending_results = payload  # shown with the next redraw (_catch_up)
            self.plots.request_redraw()

    def _on_worker_run_failed(self, info: dict) -> None:
        if self.sender() is not self._worker or self.run is None:
            return
        self._catch_up(final=True)
        run = self.run
        node_id = self._failed_node(info)
        text = self._failure_text(info["message"], node_id)
        run.message, run.error_node = text, node_id
        self.last_error = dict(info, message=text, node_id=node_id)
        # (a data error only names files: "info.csv" is not a divergence)
        numeric = info.get("error") != "DataError" and ("nan" in text.lower() or "inf" in text.lower())
        if info.get("error") == "DivergedError" or numeric:
            epoch = info.get("epoch") or (run.last_epoch + 1)
            self.plots.mark(float(epoch) - 0.5 if epoch else 0.0, "diverged")
        self._mark_node_failed(node_id)
        run.status = "failed"
        if info.get("error") == "DataError":
            self._on_data_failed(text)
        title = ERROR_TITLES.get(info.get("error", ""), "Training failed")
        self._say(f"{run.name} failed: {text}", True)
        self.show_run_error(title, text)
        self.run_failed.emit(self.last_error)

    def _failed_node(self, info: dict) -> str | None:
        """The node to mark: the one the error names, else the loss of a diverged run (where a
        divergence shows first)."""
        node_id = info.get("node_id")
        graph = self._run_graph
        if node_id is None and info.get("error") == "DivergedError" and graph is not None:
            node_id = next((n.id for n in graph.nodes.values() if n.node_type.category == "loss"), None)
        return node_id

    def _failure_text(self, text: str, node_id: str | None) -> str:
        graph = self._run_graph
        if node_id and graph is not None and node_id in graph.nodes:
            label = graph.nodes[node_id].label()
            if label not in text:
                text = f"Node {label}: {text}"
        return text

    def _on_data_failed(self, text: str) -> None:
        """The data could not be loaded: the file may have gone or changed since the graph was
        last analysed (deleted, replaced by a FIFO, a bad row written into it), so analyse
        again; the Problems panel and the status bar's validity then say what is wrong now.
        ``data_failure`` keeps the message for what analysis cannot see (a bad CSV row): the
        graph is not ready to train until a run starts again."""
        self.data_failure = text
        self.document.refresh_analysis()

    def _on_worker_run_finished(self, summary: dict) -> None:
        if self.sender() is not self._worker:
            return
        self._catch_up(final=True)
        self._finish(summary)

    def _finish(self, summary: dict) -> None:
        run = self.run
        self._worker, self._thread = None, None
        if run is not None:
            if run.status != "failed":
                run.status = summary.get("reason") or "completed"
                if run.status not in ("completed", "early_stopped", "stopped"):
                    run.status = "completed"
            if summary.get("best_epoch") is not None:
                run.best_epoch = int(summary["best_epoch"])
        self.plots.flush()  # also brings the legend rows up to date
        self._set_state(STATE_IDLE)
        if run is not None and run.status != "failed":
            best = f", best epoch {run.best_epoch}" if run.best_epoch else ""
            verb = {"completed": "finished", "early_stopped": "stopped early", "stopped": "stopped"}[run.status]
            self._say(f"{run.name} {verb} after {run.last_epoch} epoch{'s' * (run.last_epoch != 1)}{best}", False)
        self.runs_changed.emit()
        if run is not None:
            self.run_finished.emit(run)

    # ------------------------------------------------------------------ canvas overlay

    def _begin_overlay(self) -> None:
        self.clear_overlay()
        self._overlay_graph = self.document.graph

    def clear_overlay(self) -> None:
        items = self.window.scene.node_items
        for nid in self._overlay_nodes:
            if nid in items:
                items[nid].set_run_overlay(None)
        self._overlay_nodes.clear()

    def _overlay_items(self) -> dict[str, Any]:
        if self._overlay_graph is not self.document.graph:
            return {}  # another document was opened since the run started
        return self.window.scene.node_items

    def _update_overlay(self, record: dict) -> None:
        items = self._overlay_items()
        for nid, value in (record.get("grad_norm") or {}).items():
            item = items.get(nid)
            if item is None or not isinstance(value, (int, float)):
                continue
            item.set_run_overlay(*grad_overlay(float(value)))
            self._overlay_nodes.add(nid)

    def _mark_node_failed(self, node_id: str | None) -> None:
        items = self._overlay_items()
        if node_id and node_id in items:
            items[node_id].set_run_overlay("✖ failed here", QColor("#d62728"))
            self._overlay_nodes.add(node_id)

    def _on_document_graph_replaced(self) -> None:
        self._overlay_nodes.clear()  # the scene rebuilt its items without overlays

    # ------------------------------------------------------------------ messages (replaceable)

    def _say(self, text: str, error: bool) -> None:
        self.last_message = text
        self.message.emit(text, error)
        bar = self.window.statusBar()
        bar.showMessage(text, 0 if error else 8000)

    def show_run_error(self, title: str, text: str) -> None:
        """Tell the user a run failed, without blocking: a window-modal box that returns at once."""
        if self.error_box is not None:
            self.error_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName("runErrorBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._forget_box(b))
        self.error_box = box
        box.open()

    def _forget_box(self, box: QMessageBox) -> None:
        if self.error_box is box:
            self.error_box = None

    def choose_export_path(self, caption: str, suggested: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self.window, caption, suggested, filters)
        return path

    def inform(self, title: str, text: str) -> None:
        QMessageBox.information(self.window, title, text)

    # ------------------------------------------------------------------ export

    def _export_name(self, ext: str) -> str:
        path = self.document.path
        stem = os.path.splitext(os.path.basename(path))[0] if path else "model"
        return os.path.join(os.path.dirname(path) if path else os.getcwd(), stem + ext)

    def _export_weights(self) -> Any:
        """Which weights an export starts from (a ``runtime.export.Weights``): the best (else
        the last) checkpoint of the newest finished run that trained this very graph; otherwise
        fresh seeded ones, saying why."""
        from runtime.export import Weights

        key = self._trained_key(self.document.text())
        finished = [run for run in self.store.runs if run.finished]
        same = [run for run in finished if self._trained_key(run.graph_text) == key]
        for run in reversed(same):
            for name in ("best.pt", "last.pt"):
                path = os.path.join(run.checkpoint_dir, name)
                if os.path.isfile(path):
                    return Weights(path, origin=f"Run {run.run_id}")
        if same:
            return Weights(reason=f"Run {same[-1].run_id} of this graph saved no weights")
        if finished:
            return Weights(reason=f"the graph changed since Run {finished[-1].run_id}, so its weights were not used")
        return Weights(reason="no run of this graph has finished yet")

    @staticmethod
    def _trained_key(graph_text: str) -> str:
        """A graph file's text less what trained weights do not depend on: node positions
        (moving a node keeps a run's weights valid) and ``checkpoint_best``, which every run
        turns on."""
        import json

        doc = json.loads(graph_text)
        nodes = [{k: v for k, v in node.items() if k != "position"} for node in doc["nodes"]]
        settings = {**doc.get("settings", {}), "checkpoint_best": True}
        return json.dumps({**doc, "nodes": nodes, "settings": settings}, sort_keys=True)

    def _export_source_name(self) -> str | None:
        """The script header's "Source:": the document's file name (None: it was never saved)."""
        path = self.document.path
        if not path:
            return None
        return os.path.basename(path) + (" (with unsaved changes)" if self.document.is_modified() else "")

    def export_python(self) -> str | None:
        path = self.choose_export_path("Export Python script", self._export_name(".py"), "Python scripts (*.py)")
        if not path:
            return None
        return self._export(path, "python")

    def export_onnx(self) -> str | None:
        path = self.choose_export_path("Export ONNX model", self._export_name(".onnx"), "ONNX models (*.onnx)")
        if not path:
            return None
        return self._export(path, "onnx")

    def _export(self, path: str, kind: str) -> str | None:
        """``runtime.export.export_to``, as ``netwright export`` runs it; the message lists every
        file written and names the weights."""
        from runtime.errors import RunError

        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            from runtime import export

            result = export.export_to(self.document.snapshot(), path, "onnx" if kind == "onnx" else "python",
                                      self.document.base_dir, self._export_weights(), self._export_source_name())
        except (RunError, OSError, ValueError) as exc:
            QApplication.restoreOverrideCursor()
            text = f"Cannot export to {path}:\n\n{exc}"
            self._say(text.replace("\n\n", " "), True)
            self.show_run_error("Export failed", text)
            return None
        QApplication.restoreOverrideCursor()
        self._say(result.summary(), False)
        self.inform("Export finished", result.report())
        return path


def finish_pending_edit() -> None:
    """Commit what the focused field holds, as Return would.

    Fields commit once per edit (Return, focus out), so a number typed into Epochs or a node's
    out_features and followed straight by F5 (a shortcut: the focus stays in the field) was not
    yet in the graph, and the run trained the old value."""
    widget = QApplication.focusWidget()
    if isinstance(widget, QAbstractSpinBox):
        widget.interpretText()  # emits valueChanged once when the text differs from the value
    elif isinstance(widget, QLineEdit) and widget.isModified():
        parent = widget.parent()
        if isinstance(parent, QAbstractSpinBox):
            parent.interpretText()
        else:
            widget.editingFinished.emit()
            widget.setModified(False)


def grad_overlay(value: float) -> tuple[str, QColor]:
    """The canvas band for a layer's gradient norm: text and colour (vanishing → exploding)."""
    if not math.isfinite(value):
        return f"‖∇‖ {value} ✖", QColor("#d62728")
    if value <= 0:
        return "‖∇‖ 0", QColor("#6b7280")
    exponent = math.log10(value)
    # -6 (vanishing: violet) .. -3 (small: blue) .. -1 (healthy: green) .. 1+ (exploding: orange/red)
    stops = ((-6.0, (110, 64, 170)), (-3.5, (49, 130, 189)), (-1.5, (44, 160, 44)),
             (0.5, (230, 170, 30)), (2.0, (214, 39, 40)))
    if exponent <= stops[0][0]:
        rgb = stops[0][1]
    elif exponent >= stops[-1][0]:
        rgb = stops[-1][1]
    else:
        for (x0, c0), (x1, c1) in zip(stops, stops[1:]):
            if x0 <= exponent <= x1:
                t = (exponent - x0) / (x1 - x0)
                rgb = tuple(round(a + (b - a) * t) for a, b in zip(c0, c1))
                break
    return f"‖∇‖ {value:.2g}", QColor(*rgb)


# ====================================================================== the panel


class DeviceCombo(QComboBox):
    """Device choices; what this machine has is looked up (importing torch) only when the list
    is first opened, so the designer starts without torch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._probed = False
        for value, text in (("auto", "Auto (CUDA, MPS, else CPU)"), ("cpu", "CPU"), ("cuda", "CUDA"),
                            ("mps", "Apple MPS")):
            self.addItem(text, value)

    def showPopup(self) -> None:  # noqa: N802 - Qt override
        self.probe()
        super().showPopup()

    def probe(self) -> None:
        if self._probed:
            return
        self._probed = True
        try:
            import torch  # noqa: F401  (lazy on purpose)

            from runtime.device import _mps_available, device_name
        except ImportError:
            return
        cuda = torch.cuda.is_available()
        names = {"auto": "Auto (" + ("CUDA" if cuda else "MPS" if _mps_available() else "CPU") + ")",
                 "cpu": "CPU",
                 "cuda": device_name(torch.device("cuda")) if cuda else "CUDA (not available)",
                 "mps": "MPS" if _mps_available() else "Apple MPS (not available)"}
        model = self.model()
        for i in range(self.count()):
            value = self.itemData(i)
            self.setItemText(i, names.get(value, self.itemText(i)))
            available = value in ("auto", "cpu") or (value == "cuda" and cuda) or (value == "mps" and _mps_available())
            item = model.item(i)
            if item is not None and not available:
                item.setEnabled(False)

    def set_value(self, value: str) -> None:
        i = self.findData(value)
        self.setCurrentIndex(max(i, 0))

    def value(self) -> str:
        return str(self.currentData() or "auto")


class TrainingPanel(QWidget):
    """Run settings, Train/Pause/Resume/Stop, progress, and the runs list.

    The number fields commit when an edit ends (Return, focus out), an arrow click or a wheel
    step, never per keystroke: typing 300 is one "Set epochs" undo step, not three (3, 30, 300),
    as in the inspector. The newest run is the selected one from the moment it starts, so
    "Export CSV…" and "Remove" act on the run the user just watched.
    """

    def __init__(self, controller: TrainingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.controller = controller
        self.document = controller.document

        self.progress_bar = QProgressBar(objectName="trainingProgress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.progress_bar.setTextVisible(True)
        self.status_label = QLabel(objectName="trainingStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._make_settings_box())
        layout.addLayout(self._make_buttons())
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self._make_runs_box(), 1)

        self._progress_timer = QTimer(self)  # keeps "time left" ticking between records
        self._progress_timer.setInterval(500)
        self._progress_timer.timeout.connect(self.update_progress)
        self._connect()
        self.refresh_settings()
        self.refresh_runs()

    def _make_settings_box(self) -> QGroupBox:
        settings = QGroupBox("Run settings (saved with the graph)")
        form = QFormLayout(settings)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.epochs_spin = QSpinBox(objectName="epochsSpin", minimum=1, maximum=1_000_000)
        # 0 is the Dataset node's "whole training split" (full-batch gradient descent).
        self.batch_spin = QSpinBox(objectName="batchSizeSpin", minimum=0, maximum=1_000_000)
        self.batch_spin.setSpecialValueText("Full batch")
        self.seed_spin = QSpinBox(objectName="seedSpin", minimum=0, maximum=2**31 - 1)
        for spin in (self.epochs_spin, self.batch_spin, self.seed_spin):
            # valueChanged then comes on Return, focus out, arrows and wheel, not per keystroke
            spin.setKeyboardTracking(False)
        self.device_combo = DeviceCombo()
        self.device_combo.setObjectName("deviceCombo")
        for w, tip in ((self.epochs_spin, "Passes over the training split"),
                       (self.batch_spin, "Samples per mini-batch (the Dataset node's batch_size; 0 = full batch)"),
                       (self.seed_spin, "Same graph + same seed = same run"),
                       (self.device_combo, "Where to train")):
            w.setToolTip(tip)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Device", self.device_combo)
        return settings

    def _make_buttons(self) -> QHBoxLayout:
        c = self.controller
        buttons = QHBoxLayout()
        for action in (c.actionTrain, c.actionPause, c.actionResume, c.actionStop):
            b = QToolButton()
            b.setDefaultAction(action)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            # A click takes the focus (as a QPushButton's does), so a number typed into a field
            # without Return is committed, by the field's focus-out, before Train reads it.
            b.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            buttons.addWidget(b)
        return buttons

    def _make_runs_box(self) -> QGroupBox:
        runs_box = QGroupBox("Runs (check to overlay on the plots)")
        runs_layout = QVBoxLayout(runs_box)
        self.runs_list = QListWidget(objectName="runsList")
        self.runs_list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        runs_layout.addWidget(self.runs_list)
        row = QHBoxLayout()
        self.resume_run_button = QPushButton("Resume run", objectName="resumeRunButton")
        self.resume_run_button.setToolTip("Continue the selected stopped run exactly where it ended")
        self.csv_button = QPushButton("Export CSV…", objectName="exportCsvButton")
        self.csv_button.setToolTip("Save the selected run's per-epoch metrics as CSV")
        self.remove_button = QPushButton("Remove", objectName="removeRunButton")
        for b in (self.resume_run_button, self.csv_button, self.remove_button):
            row.addWidget(b)
        runs_layout.addLayout(row)
        return runs_box

    def _connect(self) -> None:
        controller = self.controller
        self.epochs_spin.valueChanged.connect(lambda v: self._set_setting("epochs", v))
        self.seed_spin.valueChanged.connect(lambda v: self._set_setting("seed", v))
        self.batch_spin.valueChanged.connect(self._on_batch_spin_value_changed)
        self.device_combo.currentIndexChanged.connect(
            lambda _i: self._set_setting("device", self.device_combo.value()))
        self.document.graph_event.connect(self._on_document_graph_event)
        self.document.graph_replaced.connect(self.refresh_settings)
        controller.message.connect(self._on_controller_message)
        controller.run_started.connect(self._on_controller_run_started)
        controller.runs_changed.connect(self.refresh_runs)
        controller.run_updated.connect(self._on_controller_run_updated)
        controller.state_changed.connect(lambda _s: self._update_buttons())
        controller.progress_changed = self.update_progress  # type: ignore[method-assign]
        self.runs_list.itemChanged.connect(self._on_runs_list_item_changed)
        self.runs_list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.resume_run_button.clicked.connect(self._on_resume_run_clicked)
        self.csv_button.clicked.connect(self._on_csv_clicked)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        controller.state_changed.connect(self._on_controller_state_changed)

    # ------------------------------------------------------------------ settings <-> graph

    def _dataset_node(self) -> Any:
        return next((n for n in self.document.graph.nodes.values() if n.type == "Dataset"), None)

    def refresh_settings(self) -> None:
        g = self.document.graph
        data = self._dataset_node()
        blockers = [QSignalBlocker(w) for w in (self.epochs_spin, self.seed_spin, self.batch_spin,
                                               self.device_combo)]
        self.epochs_spin.setValue(int(g.settings.get("epochs", 20)))
        self.seed_spin.setValue(int(g.settings.get("seed", 0)))
        self.device_combo.set_value(str(g.settings.get("device", "auto")))
        self.batch_spin.setEnabled(data is not None)
        if data is not None:
            self.batch_spin.setValue(int(data.params.get("batch_size", 32)))
        del blockers

    def _on_document_graph_event(self, event: GraphEvent) -> None:
        if event.kind in ("setting_changed", "param_changed", "node_added", "node_removed"):
            self.refresh_settings()

    def _set_setting(self, name: str, value: Any) -> None:
        try:
            self.document.set_setting(name, value)
        except Exception as exc:  # a value the setting refuses: show it, keep the graph's
            self._on_controller_message(str(exc), True)
            self.refresh_settings()

    def _on_batch_spin_value_changed(self, value: int) -> None:
        data = self._dataset_node()
        if data is None:
            return
        try:
            self.document.set_param(data.id, "batch_size", value, merge=True)
        except Exception as exc:
            self._on_controller_message(str(exc), True)
            self.refresh_settings()

    # ------------------------------------------------------------------ run state

    def _on_controller_message(self, text: str, error: bool) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c0392b;" if error else "color: #30343a;")

    def _on_controller_state_changed(self, state: str) -> None:
        if state in (STATE_RUNNING, STATE_PAUSED, STATE_STOPPING):
            self._progress_timer.start()
        else:
            self._progress_timer.stop()
        self.update_progress()

    def update_progress(self) -> None:
        c = self.controller
        p = c.progress()
        run = c.run
        if run is None:
            return
        if self._progress_timer.isActive():
            self._progress_timer.start()  # ticks only while no records come (e.g. a long epoch)
        bar = self.progress_bar
        value = round(p["fraction"] * 1000) if "fraction" in p else bar.value()
        epoch, epochs = p.get("epoch") or 0, p.get("epochs") or run.settings.get("epochs")
        step, steps = p.get("step"), p.get("steps")
        parts = [f"Epoch {epoch}/{epochs}"]
        if step and steps:
            parts.append(f"batch {step}/{steps}")
        if c.state == STATE_IDLE:
            parts.append({"completed": "done", "early_stopped": "stopped early", "stopped": "stopped",
                          "failed": "failed"}.get(run.status, run.status))
        elif c.state == STATE_PAUSED:
            parts.append("paused")
        elif "eta_s" in p:
            parts.append(f"{_duration(p['eta_s'])} left")
        text = " · ".join(parts)
        if value == bar.value() and text == bar.format():
            return
        # QProgressBar.setValue repaints at once (and the window's backing store with it: ~4 ms
        # here); with updates off it only marks the bar, which then paints with everything else.
        bar.setUpdatesEnabled(False)
        bar.setValue(value)
        bar.setFormat(text)
        bar.setUpdatesEnabled(True)

    def _update_buttons(self) -> None:
        run = self._selected_run()
        idle = not self.controller.active
        self.resume_run_button.setEnabled(idle and run is not None and run.can_resume())
        self.csv_button.setEnabled(run is not None and bool(run.epochs))
        self.remove_button.setEnabled(run is not None and run.finished)
        for w in (self.epochs_spin, self.batch_spin, self.seed_spin, self.device_combo):
            tip = w.toolTip().split("\n")[0] + ("\n(changes apply to the next run)" if not idle else "")
            if tip != w.toolTip():
                w.setToolTip(tip)

    # ------------------------------------------------------------------ runs list

    def refresh_runs(self) -> None:
        runs = self.controller.store.runs
        checked = {item.data(Qt.ItemDataRole.UserRole) for item in self._items()
                   if item.checkState() == Qt.CheckState.Checked}
        current = self._selected_run()
        blocker = QSignalBlocker(self.runs_list)
        self.runs_list.clear()
        for run in reversed(runs):
            item = self._make_run_item(run, run.run_id in checked)
            self.runs_list.addItem(item)
            if current is not None and current.run_id == run.run_id:
                self.runs_list.setCurrentItem(item)
        del blocker
        if self.runs_list.currentItem() is None and self.runs_list.count():
            self.runs_list.setCurrentRow(0)
        self._update_buttons()

    @staticmethod
    def _make_run_item(run: Run, checked: bool) -> QListWidgetItem:
        item = QListWidgetItem(run.label())
        item.setData(Qt.ItemDataRole.UserRole, run.run_id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setToolTip(run.details())
        if run.status == "failed":
            item.setForeground(QColor("#c0392b"))
        return item

    def _on_controller_run_started(self, run: Run) -> None:
        # Before runs_changed (which keeps the selection): a new or resumed run becomes the
        # selected one, so Export CSV… exports what the user just started, not an older run.
        self.refresh_runs()
        self.select_run(run)

    def _on_controller_run_updated(self, run: Run) -> None:
        label, tip = run.label(), run.details()
        # Only the text changes: without the blocker every epoch would re-draw the overlays.
        blocker = QSignalBlocker(self.runs_list)
        for item in self._items():
            if item.data(Qt.ItemDataRole.UserRole) == run.run_id and item.text() != label:
                item.setText(label)
                item.setToolTip(tip)
        del blocker
        self.runs_list.viewport().update()
        self._update_buttons()

    def _items(self) -> list[QListWidgetItem]:
        return [self.runs_list.item(i) for i in range(self.runs_list.count())]

    def _selected_run(self) -> Run | None:
        item = self.runs_list.currentItem()
        return None if item is None else self.controller.store.get(item.data(Qt.ItemDataRole.UserRole))

    def select_run(self, run: Run) -> None:
        for item in self._items():
            if item.data(Qt.ItemDataRole.UserRole) == run.run_id:
                self.runs_list.setCurrentItem(item)

    def set_overlaid(self, run_ids: list[int]) -> None:
        for item in self._items():
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in run_ids
                               else Qt.CheckState.Unchecked)

    def _on_runs_list_item_changed(self, _item: QListWidgetItem) -> None:
        store = self.controller.store
        runs = [store.get(item.data(Qt.ItemDataRole.UserRole)) for item in self._items()
                if item.checkState() == Qt.CheckState.Checked]
        self.controller.plots.overlay_runs([r for r in reversed(runs) if r is not None])

    def _on_resume_run_clicked(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.controller.resume_run(run)

    def choose_csv_path(self, suggested: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, "Export run metrics", suggested, "CSV files (*.csv)")
        return path

    def _on_csv_clicked(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.export_csv(run)

    def export_csv(self, run: Run) -> str | None:
        from graph.fileformat import atomic_write

        base = self.document.path
        folder = os.path.dirname(base) if base else os.getcwd()
        suggested = os.path.join(folder, f"{run.name.split(' ')[0].lower()}-{run.run_id}-metrics.csv")
        path = self.choose_csv_path(suggested)
        if not path:
            return None
        try:
            atomic_write(path, run.metrics_csv().encode("utf-8"))
        except OSError as exc:
            self._on_controller_message(f"Cannot write {path}: {exc.strerror or exc}", True)
            return None
        self._on_controller_message(f"Saved {len(run.epochs)} epochs of {run.name} to {path}", False)
        return path

    def _on_remove_clicked(self) -> None:
        run = self._selected_run()
        if run is not None and run.finished:
            self.controller.store.remove([run.run_id])
            self.refresh_runs()
            self._on_runs_list_item_changed(None)  # type: ignore[arg-type]


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# ====================================================================== installing


class TrainingUi:
    """What :func:`install_training` added to a window (kept as ``window.training``)."""

    def __init__(self, controller: TrainingController, panel: TrainingPanel, plots_dock: QDockWidget,
                 panel_dock: QDockWidget):
        self.controller = controller
        self.panel = panel
        self.plots_dock = plots_dock
        self.panel_dock = panel_dock

    @property
    def plots(self) -> LivePlots:
        return self.controller.plots

    @property
    def results(self) -> ResultsView:
        return self.controller.results

    def shutdown(self) -> None:
        self.controller.shutdown()
        self.controller.store.close()


def _warm_up() -> None:
    from runtime.worker import warm_up

    try:
        warm_up()
    except (OSError, ValueError, RuntimeError):  # runs then start the slow way; nothing is lost
        pass


def install_training(window: Any, store: RunStore | None = None) -> TrainingUi:
    """Add the training panel, live plots, results view, Run and Export menus to a MainWindow.

    Uses the window's documented hooks: ``document``, ``scene``, ``menus``, ``add_dock``,
    ``statusBar``. The window must call ``window.training.shutdown()`` when it closes.
    """
    controller = TrainingController(window, store)
    panel = TrainingPanel(controller)
    panel_dock = window.add_dock(panel, "Training", Qt.DockWidgetArea.RightDockWidgetArea, "trainingDock")
    inspector_dock = getattr(window, "inspector_dock", None)
    if inspector_dock is not None:
        window.splitDockWidget(inspector_dock, panel_dock, Qt.Orientation.Vertical)

    split = QSplitter(Qt.Orientation.Horizontal)
    split.setObjectName("trainingSplitter")
    split.addWidget(controller.plots)
    split.addWidget(controller.results)
    split.setStretchFactor(0, 3)
    split.setStretchFactor(1, 1)
    split.setSizes([1100, 500])  # about 2:1 at any width (the results' titles do not move it)
    split.setChildrenCollapsible(False)
    window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
    problems_dock = getattr(window, "problems_dock", None)
    plots_dock = window.add_dock(split, "Live plots and results", Qt.DockWidgetArea.BottomDockWidgetArea,
                                 "plotsDock", tabify_with=problems_dock)
    plots_dock.raise_()
    window.resizeDocks([plots_dock], [360], Qt.Orientation.Vertical)
    controller.run_started.connect(lambda _run: (plots_dock.show(), plots_dock.raise_()))

    run_menu = window.menus.get("run") or window.menuBar().addMenu("&Run")
    run_menu.addSeparator()
    for a in (controller.actionTrain, controller.actionPause, controller.actionResume, controller.actionStop):
        run_menu.addAction(a)
    export_menu = window.menus.get("export")
    if export_menu is None:
        export_menu = window.menus["export"] = window.menuBar().addMenu("E&xport")
    export_menu.addAction(controller.actionExportPython)
    export_menu.addAction(controller.actionExportOnnx)

    ui = TrainingUi(controller, panel, plots_dock, panel_dock)
    window.training = ui
    # Runs start in milliseconds once the fork server has imported torch: have it do so soon
    # after the window is up (in its own process: the window never waits for it).
    QTimer.singleShot(WARM_UP_DELAY_MS, _warm_up)
    return ui
