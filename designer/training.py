"""Training in the designer, put together: :func:`install_training` adds the training panel, the
live plots, the results view and the Run and Export menus to a ``MainWindow``.

The parts, one job each:

* designer/run_worker.py — :class:`RunWorker`, which reads one run's process on its QThread;
* designer/run_controller.py — :class:`TrainingController`, the runs and their state machine;
* designer/run_overlay.py — the run's figures on the canvas, through the scene's methods;
* designer/export_actions.py — :class:`ModelExporter`, Export ▸ Python Script… / ONNX Model…;
* designer/training_panel.py — :class:`TrainingPanel` and :class:`DeviceCombo`;
* designer/run_types.py — run states, run statuses and error kinds, typed;
* here — :class:`RunActions` (the window's Train, Pause, Resume, Stop and Export actions,
  created once, as fields) and the docks and menus.

Invariants: torch is imported in the designer's own process only when an export runs or the
device list is opened, never at start-up; widgets are touched only on the GUI thread; the
window reaches the run actions through ``window.training.actions`` (``MainWindow`` names them
``actionTrain``... as its own attributes); the status bar shows what the controller and the
exporter say through their ``message`` signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QSplitter

from .export_actions import ModelExporter
from .plots import LivePlots
from .results import ResultsView
from .run_controller import SHUTDOWN_WAIT_MS, TrainingController, finish_pending_edit
from .run_overlay import RunOverlay, grad_overlay
from .run_types import ERROR_TITLES, ErrorKind, RunFailure, RunState, RunStatus
from .run_worker import RunWorker
from .runs import RunStore
from .training_panel import DeviceCombo, TrainingPanel

__all__ = [
    "ERROR_TITLES", "SHUTDOWN_WAIT_MS", "DeviceCombo", "ErrorKind", "ModelExporter", "RunActions",
    "RunFailure", "RunOverlay", "RunState", "RunStatus", "RunWorker", "TrainingController",
    "TrainingPanel", "TrainingUi", "finish_pending_edit", "grad_overlay", "install_training",
]

WARM_UP_DELAY_MS = 1500  # after the window is up, start the runs' fork server


@dataclass(frozen=True)
class RunActions:
    """The window's run and export actions. Which are enabled follows the controller's state
    (:meth:`apply_state`, connected to ``state_changed``)."""

    train: QAction
    pause: QAction
    resume: QAction
    stop: QAction
    export_python: QAction
    export_onnx: QAction

    def run_actions(self) -> tuple[QAction, QAction, QAction, QAction]:
        """Train, Pause, Resume, Stop: the Run menu's and the panel's buttons, in order."""
        return self.train, self.pause, self.resume, self.stop

    def apply_state(self, state: RunState) -> None:
        self.train.setEnabled(state is RunState.IDLE)
        self.pause.setEnabled(state is RunState.RUNNING)
        self.resume.setEnabled(state is RunState.PAUSED)
        self.stop.setEnabled(state.active)


def _action(window: Any, name: str, text: str, slot: Any, shortcut: str = "", tip: str = "") -> QAction:
    action = QAction(text, window)
    action.setObjectName(name)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda _=False: slot())
    window.addAction(action)
    return action


def make_run_actions(window: Any, controller: TrainingController, exporter: ModelExporter) -> RunActions:
    """Create the run and export actions on ``window`` (so their shortcuts work anywhere in it)."""
    actions = RunActions(
        train=_action(window, "actionTrain", "&Train", controller.train, "F5",
                      "Train a snapshot of the graph in the background"),
        pause=_action(window, "actionPause", "&Pause", controller.pause, "F6", "Pause the run at the next batch"),
        resume=_action(window, "actionResume", "&Resume", controller.resume, "Shift+F6", "Resume the paused run"),
        stop=_action(window, "actionStop", "&Stop", controller.stop, "Shift+F5", "Stop the run at the next batch"),
        export_python=_action(window, "actionExportPython", "Export &Python Script…", exporter.export_python, "",
                              "Write a standalone PyTorch script that reproduces the run"),
        export_onnx=_action(window, "actionExportOnnx", "Export &ONNX Model…", exporter.export_onnx, "",
                            "Write the model (without loss and optimizer) as ONNX"),
    )
    actions.apply_state(controller.state)
    controller.state_changed.connect(actions.apply_state)
    return actions


class TrainingUi:
    """What :func:`install_training` added to a window (kept as ``window.training``)."""

    def __init__(self, controller: TrainingController, exporter: ModelExporter, actions: RunActions,
                 panel: TrainingPanel, plots_dock: QDockWidget, panel_dock: QDockWidget):
        self.controller = controller
        self.exporter = exporter
        self.actions = actions
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


def _add_plots_dock(window: Any, controller: TrainingController) -> QDockWidget:
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
    return plots_dock


def _add_menus(window: Any, actions: RunActions) -> None:
    run_menu = window.menus.get("run") or window.menuBar().addMenu("&Run")
    run_menu.addSeparator()
    run_menu.addActions(list(actions.run_actions()))
    export_menu = window.menus.get("export")
    if export_menu is None:
        export_menu = window.menus["export"] = window.menuBar().addMenu("E&xport")
    export_menu.addActions([actions.export_python, actions.export_onnx])


def install_training(window: Any, store: RunStore | None = None) -> TrainingUi:
    """Add the training panel, live plots, results view, Run and Export menus to a MainWindow.

    Uses the window's documented hooks: ``document``, ``scene``, ``menus``, ``add_dock``,
    ``statusBar``. The window must call ``window.training.shutdown()`` when it closes.
    """
    controller = TrainingController(window.document, window.scene, store, window)
    exporter = ModelExporter(window.document, controller.store, window)
    actions = make_run_actions(window, controller, exporter)
    panel = TrainingPanel(controller, actions)
    panel_dock = window.add_dock(panel, "Training", Qt.DockWidgetArea.RightDockWidgetArea, "trainingDock")
    inspector_dock = getattr(window, "inspector_dock", None)
    if inspector_dock is not None:
        window.splitDockWidget(inspector_dock, panel_dock, Qt.Orientation.Vertical)
    plots_dock = _add_plots_dock(window, controller)
    _add_menus(window, actions)

    def show_message(text: str, error: bool) -> None:
        window.statusBar().showMessage(text, 0 if error else 8000)

    controller.message.connect(show_message)
    exporter.message.connect(show_message)
    exporter.message.connect(panel.show_message)

    ui = TrainingUi(controller, exporter, actions, panel, plots_dock, panel_dock)
    # Runs start in milliseconds once the fork server has imported torch: have it do so soon
    # after the window is up (in its own process: the window never waits for it).
    QTimer.singleShot(WARM_UP_DELAY_MS, _warm_up)
    return ui
