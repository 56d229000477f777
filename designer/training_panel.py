"""The Training panel: run settings, Train/Pause/Resume/Stop, progress, and the runs list.

* The settings (epochs, batch size, seed, device) are read from and written to the graph through
  the document, so they are undoable and saved with the file; the panel follows the document's
  events and never keeps a copy.
* The buttons are the window's run actions (:class:`~designer.training.RunActions`); the panel
  follows the controller only through its signals (``state_changed``, ``progress_changed``,
  ``run_started``, ``run_updated``, ``runs_changed``, ``message``).
* The runs list: one line per run (newest first, selected when it starts), checked runs are
  overlaid on the plots; Export CSV…, Resume run and Remove act on the selected run.
* torch is imported only when the device list is first opened (:class:`DeviceCombo`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from graph.document import GraphEvent, GraphEventKind

from .run_controller import TrainingController
from .run_types import RunState, RunStatus
from .runs import Run

if TYPE_CHECKING:
    from .training import RunActions

# Graph events after which the settings fields may show something else.
SETTINGS_EVENTS = frozenset({GraphEventKind.SETTING_CHANGED, GraphEventKind.PARAM_CHANGED,
                             GraphEventKind.NODE_ADDED, GraphEventKind.NODE_REMOVED})
# How the progress bar ends a finished run's line.
END_WORDS = {RunStatus.COMPLETED: "done", RunStatus.EARLY_STOPPED: "stopped early", RunStatus.STOPPED: "stopped",
             RunStatus.FAILED: "failed"}


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
            choices = _device_choices()
        except ImportError:
            return
        model = self.model()
        for i in range(self.count()):
            value = self.itemData(i)
            if value not in choices:
                continue
            name, available = choices[value]
            self.setItemText(i, name)
            item = model.item(i)
            if item is not None and not available:
                item.setEnabled(False)

    def set_value(self, value: str) -> None:
        i = self.findData(value)
        self.setCurrentIndex(max(i, 0))

    def value(self) -> str:
        return str(self.currentData() or "auto")


def _device_choices() -> dict[str, tuple[str, bool]]:
    """Each device choice's name on this machine and whether it is there, through runtime.device's
    public ``resolve_device`` (a device that is not there is a DeviceError) and ``device_name``."""
    from runtime.device import device_name, resolve_device
    from runtime.errors import DeviceError

    def present(name: str) -> Any:
        try:
            return resolve_device(name)
        except DeviceError:
            return None

    cuda, mps = present("cuda"), present("mps")
    auto = resolve_device("auto").type
    return {"auto": (f"Auto ({'MPS' if auto == 'mps' else auto.upper()})", True), "cpu": ("CPU", True),
            "cuda": (device_name(cuda), True) if cuda is not None else ("CUDA (not available)", False),
            "mps": ("MPS", True) if mps is not None else ("Apple MPS (not available)", False)}


class TrainingPanel(QWidget):
    """Run settings, Train/Pause/Resume/Stop, progress, and the runs list.

    The number fields commit when an edit ends (Return, focus out), an arrow click or a wheel
    step, never per keystroke: typing 300 is one "Set epochs" undo step, not three (3, 30, 300),
    as in the inspector. The newest run is the selected one from the moment it starts, so
    "Export CSV…" and "Remove" act on the run the user just watched.
    """

    def __init__(self, controller: TrainingController, actions: RunActions, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.controller = controller
        self.actions = actions
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
        buttons = QHBoxLayout()
        for action in self.actions.run_actions():
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
        controller.message.connect(self.show_message)
        controller.run_started.connect(self._on_controller_run_started)
        controller.runs_changed.connect(self.refresh_runs)
        controller.run_updated.connect(self._on_controller_run_updated)
        controller.progress_changed.connect(self.update_progress)
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
        if event.kind in SETTINGS_EVENTS:
            self.refresh_settings()

    def _set_setting(self, name: str, value: Any) -> None:
        try:
            self.document.set_setting(name, value)
        except Exception as exc:  # a value the setting refuses: show it, keep the graph's
            self.show_message(str(exc), True)
            self.refresh_settings()

    def _on_batch_spin_value_changed(self, value: int) -> None:
        data = self._dataset_node()
        if data is None:
            return
        try:
            self.document.set_param(data.id, "batch_size", value, merge=True)
        except Exception as exc:
            self.show_message(str(exc), True)
            self.refresh_settings()

    # ------------------------------------------------------------------ run state

    def show_message(self, text: str, error: bool) -> None:
        """The run's (or an export's) newest message, under the progress bar."""
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c0392b;" if error else "color: #30343a;")

    def _on_controller_state_changed(self, state: RunState) -> None:
        if state is RunState.IDLE:
            self._progress_timer.stop()
        else:
            self._progress_timer.start()
        self._update_buttons()
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
        if c.state is RunState.IDLE:
            parts.append(END_WORDS.get(run.status, str(run.status)))
        elif c.state is RunState.PAUSED:
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
        if run.status == RunStatus.FAILED:
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
            self.show_message(f"Cannot write {path}: {exc.strerror or exc}", True)
            return None
        self.show_message(f"Saved {len(run.epochs)} epochs of {run.name} to {path}", False)
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
