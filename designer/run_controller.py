"""The run controller: starts, steers and stops runs and routes their records to the views.

:class:`TrainingController` (GUI thread) owns the runs (a :class:`RunStore`), the current
:class:`~designer.run_worker.RunWorker` and its QThread, and a small state machine
(:class:`~designer.run_types.RunState`). It feeds the plots, the results view, the canvas
overlay (:class:`~designer.run_overlay.RunOverlay`) and, through its signals, the panel, all in
one burst per redraw of the plots (``LivePlots.about_to_redraw``): the plots pace the window's
whole share of the CPU while a run trains (designer.plots.WINDOW_SHARE), since on a small
machine every millisecond the window works is one the run's thread team waits.

It owns no actions and touches no widget but its own views and message boxes: what the panel,
the actions and the status bar show follows its signals (``state_changed``,
``progress_changed``, ``message``...).

Invariants:

* torch is never imported here; runs import it in their process (``runtime.worker.warm_up``
  has a fork server import it once, after the window is up).
* The trainer sees a deep copy of the graph made when Train was pressed; editing the document
  during a run cannot affect it. Each run records the document's ``content_token()`` of what it
  trained, which is how an export knows whether the run's weights fit the graph.
* ``stop()`` asks the trainer to stop at the next batch boundary; ``shutdown()`` (window closing)
  also waits for the thread (killing the run's process if it does not stop within
  ``SHUTDOWN_WAIT_MS``), so no QThread is ever destroyed while running. Every started thread
  and worker stays referenced until its thread has finished.
* At most one run is active. A failed run (divergence, out-of-memory, a failing node) shows a
  message naming the node and leaves the application usable; the next run starts normally.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QMessageBox, QWidget

from graph import fileformat
from graph.document import Graph
from runtime.records import RecordKind
from runtime.worker import RunRequest

from .document import Document
from .plots import LivePlots
from .results import ResultsView
from .run_overlay import RunOverlay
from .run_types import ErrorKind, RunFailure, RunState, RunStatus
from .run_worker import RunWorker
from .runs import Run, RunStore
from .scene import GraphScene

SHUTDOWN_WAIT_MS = 5000  # closing the window: how long a run may take to stop before it is killed
FINISH_VERBS = {RunStatus.COMPLETED: "finished", RunStatus.EARLY_STOPPED: "stopped early",
                RunStatus.STOPPED: "stopped"}


class TrainingController(QObject):
    """Starts, steers and stops runs; routes their records to the views. GUI thread only."""

    run_started = Signal(object)  # Run
    run_updated = Signal(object)  # Run: new epochs or status (its runs-list line changed)
    run_finished = Signal(object)  # Run, after its last record and results were shown
    state_changed = Signal(object)  # RunState
    progress_changed = Signal()  # progress() has news (records came, or the run ended)
    records_taken = Signal(object)  # list[dict]: records taken from the active run, in order
    run_paused = Signal()  # the run reached a batch boundary and waits (its "paused" record)
    run_resumed = Signal()  # the paused run goes on (its "resumed" record)
    message = Signal(str, bool)  # text, is_error
    runs_changed = Signal()
    train_refused = Signal()  # F5 found errors in the graph: the Problems panel should show them
    # A run failed (RunFailure, its message naming the node), after the node was marked, the
    # status bar told and the error box shown.
    run_failed = Signal(object)

    def __init__(self, document: Document, scene: GraphScene, store: RunStore | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._parent = parent  # message boxes open over it
        self.document = document
        self.store = store if store is not None else RunStore()
        self.plots = LivePlots()
        self.results = ResultsView()
        self.overlay = RunOverlay(scene, document)
        self.state = RunState.IDLE
        self.run: Run | None = None  # the active run, or the last one
        self.last_error: RunFailure | None = None
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
        self._run_graph: Graph | None = None  # the snapshot the active run trains
        self._progress: dict[str, Any] = {}
        self.plots.about_to_redraw.connect(self._catch_up)
        self._newest_epoch: dict | None = None  # not yet shown on the canvas
        self._run_changed = False  # the runs list's line is not yet up to date
        self._pending_results: dict | None = None  # the newest results, not yet shown
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def _set_state(self, state: RunState) -> None:
        self.state = state
        self.state_changed.emit(state)

    @property
    def active(self) -> bool:
        return self._thread is not None

    @property
    def run_thread(self) -> QThread | None:
        """The active run's QThread (None when idle)."""
        return self._thread

    def run_process(self) -> Any:
        """The active run's process (a ``multiprocessing`` process; None when idle or not yet
        started)."""
        return None if self._worker is None else self._worker.child_process()

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
        # Every run keeps its best model (an export starts from it). A run setting, not a model
        # one: the document's content token below still names what the run trained.
        snapshot.settings["checkpoint_best"] = True
        run = self.store.new_run(snapshot, self.run_options())
        run.content_token = self.document.content_token()
        return self._start(run, snapshot, resume_from=None)

    def resume_run(self, run: Run) -> Run | None:
        """Continue a stopped run from its last checkpoint, on the graph it trained."""
        if self.active or not run.can_resume():
            return None
        run.status = RunStatus.RUNNING
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
        self.overlay.begin()
        self._progress = {"started": time.perf_counter(), "epochs": run.settings["epochs"],
                          "first_epoch": run.last_epoch if resume_from else 0}
        self._newest_epoch, self._run_changed, self._pending_results = None, False, None
        self._start_thread(run, RunWorker(request))
        self._set_state(RunState.RUNNING)
        self._say(f"{run.name}: starting ({run.summary})…", False)
        self.run_started.emit(run)
        self.runs_changed.emit()
        assert self._thread is not None
        self._thread.start()
        return run

    def _start_thread(self, run: Run, worker: RunWorker) -> None:
        thread = QThread()
        thread.setObjectName(f"netwright-run-{run.run_id}")
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

    def _fail_early(self, text: str) -> None:
        self._say(text, True)
        self.show_run_error("Cannot train", text)

    # ------------------------------------------------------------------ steering

    def pause(self) -> None:
        if self._worker is not None and self.state is RunState.RUNNING:
            self._worker.request_pause()
            self._steered(RunStatus.PAUSED, RunState.PAUSED, "Paused")

    def resume(self) -> None:
        if self._worker is not None and self.state is RunState.PAUSED:
            self._worker.request_resume()
            self._steered(RunStatus.RUNNING, RunState.RUNNING, "Running")

    def _steered(self, status: RunStatus, state: RunState, text: str) -> None:
        if self.run is not None:
            self.run.status = status
        self._set_state(state)
        self._say(text, False)
        self.run_updated.emit(self.run)

    def stop(self) -> None:
        """Ask the run to stop at the next batch boundary (returns at once)."""
        if self._worker is not None and self.state.active:
            self._worker.request_stop()
            self._set_state(RunState.STOPPING)
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
            self.plots.request_redraw(soon=self.state is not RunState.RUNNING)

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
        last_step, paused = None, None
        for r in records:
            kind = r.get("kind")
            if kind == RecordKind.START:
                self._take_start(run, r)
            elif kind == RecordKind.STEP:
                last_step = r
            elif kind == RecordKind.EPOCH:
                last_step = None
                self._take_epoch(r)
            elif kind in (RecordKind.PAUSED, RecordKind.RESUMED):
                paused = kind == RecordKind.PAUSED
        if last_step is not None:
            self._progress.update(epoch=last_step.get("epoch"), step=last_step.get("step"),
                                  steps=last_step.get("steps") or self._progress.get("steps"),
                                  seconds=last_step.get("seconds"))
        self.records_taken.emit(records)
        if paused is not None:
            (self.run_paused if paused else self.run_resumed).emit()
        return True

    def _take_start(self, run: Run, r: dict) -> None:
        self._progress.update(steps=r.get("steps_per_epoch"), epochs=r.get("epochs") or
                              self._progress.get("epochs"), device=r.get("device", ""))
        self._say(f"{run.name}: training on {r.get('device', '?')} "
                  f"({r.get('n_train', '?')} training, {r.get('n_val', '?')} validation samples)", False)
        self._run_changed = True

    def _take_epoch(self, r: dict) -> None:
        self._progress.update(epoch=r.get("epoch"), step=self._progress.get("steps"),
                              seconds=r.get("seconds", self._progress.get("seconds")))
        self._newest_epoch = r
        self._run_changed = True

    def _update_views(self) -> None:
        """The run's newest epoch on the canvas, its line in the runs list, the progress bar."""
        record, self._newest_epoch = self._newest_epoch, None
        if record is not None:
            self.overlay.show_epoch(record)
        if self._run_changed and self.run is not None:
            self._run_changed = False
            self.run_updated.emit(self.run)
        self.progress_changed.emit()

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

    def _on_worker_run_failed(self, failure: RunFailure) -> None:
        if self.sender() is not self._worker or self.run is None:
            return
        self._catch_up(final=True)
        run = self.run
        node_id = self._failed_node(failure)
        text = self._failure_text(failure.message, node_id)
        run.message, run.error_node = text, node_id
        failure = self.last_error = RunFailure(failure.kind, text, node_id, failure.epoch, failure.step,
                                               failure.bug)
        if failure.diverged:
            epoch = failure.epoch or (run.last_epoch + 1)
            self.plots.mark(float(epoch) - 0.5 if epoch else 0.0, "diverged")
        self.overlay.mark_failed(node_id)
        run.status = RunStatus.FAILED
        if failure.kind is ErrorKind.DATA:
            self._on_data_failed(text)
        self._say(f"{run.name} failed: {text}", True)
        self.show_run_error(failure.kind.title, text)
        self.run_failed.emit(failure)

    def _failed_node(self, failure: RunFailure) -> str | None:
        """The node to mark: the one the error names, else the loss of a diverged run (where a
        divergence shows first)."""
        node_id = failure.node_id
        graph = self._run_graph
        if node_id is None and failure.diverged and graph is not None:
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
            if run.status != RunStatus.FAILED:
                run.status = RunStatus.from_reason(summary.get("reason"))
            if summary.get("best_epoch") is not None:
                run.best_epoch = int(summary["best_epoch"])
        self.plots.flush()  # also brings the legend rows up to date
        self._set_state(RunState.IDLE)
        if run is not None and run.status != RunStatus.FAILED:
            best = f", best epoch {run.best_epoch}" if run.best_epoch else ""
            epochs = f"{run.last_epoch} epoch{'s' * (run.last_epoch != 1)}"
            self._say(f"{run.name} {FINISH_VERBS[run.status]} after {epochs}{best}", False)
        self.runs_changed.emit()
        if run is not None:
            self.run_finished.emit(run)

    # ------------------------------------------------------------------ messages (replaceable)

    def _say(self, text: str, error: bool) -> None:
        self.last_message = text
        self.message.emit(text, error)

    def show_run_error(self, title: str, text: str) -> None:
        """Tell the user a run failed, without blocking: a window-modal box that returns at once."""
        if self.error_box is not None:
            self.error_box.close()
        box = self.error_box = open_warning(self._parent, title, text, "runErrorBox")
        box.finished.connect(lambda _r, b=box: self._forget_box(b))

    def _forget_box(self, box: QMessageBox) -> None:
        if self.error_box is box:
            self.error_box = None


def open_warning(parent: QWidget | None, title: str, text: str, object_name: str) -> QMessageBox:
    """A window-modal warning that returns at once (``open``, not ``exec``) and deletes itself
    when closed."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName(object_name)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


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
