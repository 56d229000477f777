"""The designer's main window: canvas in the middle, palette, inspector and problems in docks.

Structure (for panels added later, e.g. training):

* ``self.document``  the :class:`~designer.document.Document` (graph, path, undo stack, analysis);
  ``self.document.snapshot()`` is a listener-free copy of the graph to train on.
* ``self.scene`` / ``self.canvas``  the :class:`GraphScene` and its view (objectName ``canvas``);
  ``self.scene.node_items[node_id]`` is a node's item (read it; ``scene.set_run_overlay`` draws a
  run's figure on it).
* ``self.central_splitter``  a vertical QSplitter whose first widget is the canvas: a panel can
  go below it with ``self.central_splitter.addWidget(panel)``.
* docks: ``self.palette_dock`` (left), ``self.inspector_dock`` (right), ``self.problems_dock``
  (bottom); ``add_dock(widget, title, area, tabify_with=None)`` adds another with a View-menu
  toggle. After the training panel is installed the right column runs the window's full height
  (Inspector above Training) and the Problems panel is in front of the live plots;
  ``show_problems()`` brings it to the front (a refused run, the status bar's error count, F7).
* menus: ``self.menus["file" | "edit" | "view" | "run"]``; actions are attributes named
  ``actionSave``, ``actionUndo``..., each assigned where it is made; the run and export actions
  (``actionTrain``, ``actionPause``, ``actionResume``, ``actionStop``, ``actionExportPython``,
  ``actionExportOnnx``) come from ``self.training.actions`` (designer.training.RunActions).
* signals: ``selection_changed(list[str])`` (selected node ids, document order),
  ``document.analysis_changed(Analysis)``, ``document.path_changed(str)``,
  ``document.modified_changed(bool)``, ``document.graph_replaced()``.

Invariants: user prompts go through the small methods ``ask_save_changes``, ``ask_recover``,
``show_error``, ``choose_open_path`` and ``choose_save_path`` so tests can replace them; a file
that cannot be read, or a failed save, shows why and leaves the open document untouched; saves
are atomic; while there are unsaved changes a recovery file is written a second after the last
edit and at least every 3 s of continuous editing (``autosave_schedule``, see designer/recovery.py),
off the GUI thread; a recovery file that cannot be read is offered for moving aside with the
reason (``ask_move_aside``) and never stops the start; torch is never imported here.
"""

from __future__ import annotations

import os
from typing import Any

import shiboken6
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolButton,
    QWidget,
)

from graph import catalogue
from graph.analysis import Analysis, Finding
from graph.errors import FileFormatError, GraphError
from graph.fileformat import load_path

from . import clipboard
from .canvas import GraphView
from .document import Document
from .inspector import ParamInspector
from .items import NODE_W, node_height
from .palette import NodePalette
from .problems import ProblemsView
from .recovery import AutosaveSchedule, Damaged, RecoverySession, app_settings, read_orphan
from .scene import GraphScene
from .training import install_training

APP_NAME = "Netwright"
MAX_RECENT = 10
PASTE_OFFSET = 30.0
TRAINING_MESSAGE_ROOM = 40  # px above the Training panel's minimum height


class MainWindow(QMainWindow):
    selection_changed = Signal(list)

    def __init__(self, parent: QWidget | None = None, *, offer_recovery: bool = True):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.resize(1360, 840)
        self.setAcceptDrops(True)
        self.document = Document(self)
        self.scene = GraphScene(self.document, self)
        self.canvas = GraphView(self.scene)
        self.central_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.central_splitter.setObjectName("centralSplitter")
        self.central_splitter.addWidget(self.canvas)
        self.central_splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.central_splitter)
        self.palette_panel = NodePalette(self)
        self.palette = self.palette_panel.view
        self.inspector = ParamInspector(self.document, self.scene, self)
        self.problems = ProblemsView(self.document, self)
        self.menus: dict[str, QMenu] = {}
        self._create_actions()
        self._create_menus()
        self.palette_dock = self.add_dock(self.palette_panel, "Nodes", Qt.DockWidgetArea.LeftDockWidgetArea, "paletteDock")
        self.inspector_dock = self.add_dock(self.inspector, "Inspector", Qt.DockWidgetArea.RightDockWidgetArea, "inspectorDock")
        self.problems_dock = self.add_dock(self.problems, "Problems", Qt.DockWidgetArea.BottomDockWidgetArea, "problemsDock")
        self.resizeDocks([self.palette_dock, self.inspector_dock], [220, 320], Qt.Orientation.Horizontal)
        self.resizeDocks([self.problems_dock], [150], Qt.Orientation.Vertical)
        self._create_status_bar()
        self.recovery = RecoverySession()
        self.recovery.write_failed.connect(self._on_recovery_write_failed)
        self.autosave_schedule = AutosaveSchedule.from_environment()
        self.autosave_timer = QTimer(self)  # single shot, pushed back by each edit
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.document.graph_event.connect(self._schedule_autosave)
        self.document.graph_replaced.connect(self._schedule_autosave)
        self._autosaved_change = self.document.change_count
        self._fit_pending = False
        self._connect()
        self.training = install_training(self)  # training panel, live plots, results, Run/Export menus
        run = self.training.actions
        self.actionTrain, self.actionPause, self.actionResume, self.actionStop = run.run_actions()
        self.actionExportPython, self.actionExportOnnx = run.export_python, run.export_onnx
        self._arrange_docks()
        self.training.controller.train_refused.connect(self.show_problems)
        # a data failure (or the next run clearing it) changes what the status bar must say
        self.training.controller.run_failed.connect(self._refresh_validity)
        self.training.controller.run_started.connect(self._refresh_validity)
        self._update_title()
        self.document.refresh_analysis()
        if offer_recovery:
            self.offer_recovery()

    # ------------------------------------------------------------------ construction

    def _action(self, name: str, text: str, slot: Any, shortcuts: Any = (), tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if not isinstance(shortcuts, (list, tuple)):
            shortcuts = [shortcuts]
        keys = [QKeySequence(s) for s in shortcuts]
        if keys:
            action.setShortcuts(keys)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        return action

    def _create_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.actionNew = self._action("actionNew", "&New", self.new_document, K.New, "Start an empty graph")
        self.actionOpen = self._action("actionOpen", "&Open…", self.open_dialog, K.Open, "Open a graph file")
        self.actionSave = self._action("actionSave", "&Save", self.save, K.Save, "Save the graph")
        self.actionSaveAs = self._action("actionSaveAs", "Save &As…", self.save_as, K.SaveAs, "Save the graph under a new name")
        self.actionQuit = self._action("actionQuit", "&Quit", self.close, K.Quit)
        self.actionUndo = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.actionUndo.setObjectName("actionUndo")
        self.actionUndo.setShortcuts(QKeySequence.keyBindings(K.Undo))
        self.actionRedo = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.actionRedo.setObjectName("actionRedo")
        self.actionRedo.setShortcuts(QKeySequence.keyBindings(K.Redo) + [QKeySequence("Ctrl+Y")])
        self.addAction(self.actionUndo)
        self.addAction(self.actionRedo)
        self.actionCut = self._action("actionCut", "Cu&t", self.cut, K.Cut)
        self.actionCopy = self._action("actionCopy", "&Copy", self.copy, K.Copy)
        self.actionPaste = self._action("actionPaste", "&Paste", self.paste, K.Paste)
        self.actionDuplicate = self._action("actionDuplicate", "D&uplicate", self.duplicate, "Ctrl+D")
        self.actionDelete = self._action("actionDelete", "&Delete", self.delete_selection,
                     [QKeySequence(QKeySequence.StandardKey.Delete), QKeySequence("Backspace")])
        self.actionSelectAll = self._action("actionSelectAll", "Select &All", self.select_all, K.SelectAll)
        self.actionZoomIn = self._action("actionZoomIn", "Zoom &In", self.canvas.zoom_in, [K.ZoomIn, "Ctrl+="])
        self.actionZoomOut = self._action("actionZoomOut", "Zoom &Out", self.canvas.zoom_out, K.ZoomOut)
        self.actionFit = self._action("actionFit", "&Fit to View", self.canvas.fit_all, "Ctrl+0")
        self.actionActualSize = self._action("actionActualSize", "Actual Si&ze", self.canvas.reset_zoom, "Ctrl+1")
        self.actionAutoLayout = self._action("actionAutoLayout", "Auto &Layout", self.auto_layout, "Ctrl+L",
                     "Arrange the nodes in layers, left to right")
        self.actionCheck = self._action("actionCheck", "&Check Graph", self.check_graph, "F7",
                     "Analyse the graph and show its problems")
        fit_key = QShortcut(QKeySequence("F"), self.canvas)
        fit_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        fit_key.activated.connect(self.canvas.fit_all)
        self.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for a in (self.actionCut, self.actionCopy, self.actionPaste, self.actionDuplicate,
                  self.actionDelete, self.actionAutoLayout, self.actionFit):
            self.canvas.addAction(a)

    def _create_menus(self) -> None:
        bar = self.menuBar()
        file = self.menus["file"] = bar.addMenu("&File")
        file.addActions([self.actionNew, self.actionOpen])
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.setObjectName("menuRecent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file.addSeparator()
        file.addActions([self.actionSave, self.actionSaveAs])
        file.addSeparator()
        file.addAction(self.actionQuit)
        edit = self.menus["edit"] = bar.addMenu("&Edit")
        edit.addActions([self.actionUndo, self.actionRedo])
        edit.addSeparator()
        edit.addActions([self.actionCut, self.actionCopy, self.actionPaste, self.actionDuplicate,
                         self.actionDelete])
        edit.addSeparator()
        edit.addAction(self.actionSelectAll)
        view = self.menus["view"] = bar.addMenu("&View")
        view.addActions([self.actionZoomIn, self.actionZoomOut, self.actionFit, self.actionActualSize])
        view.addSeparator()
        view.addAction(self.actionAutoLayout)
        view.addSeparator()
        run = self.menus["run"] = bar.addMenu("&Run")
        run.addAction(self.actionCheck)

    def add_dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea, object_name: str,
                 tabify_with: QDockWidget | None = None) -> QDockWidget:
        """Put ``widget`` in a dock with a toggle in the View menu; returns the dock."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if tabify_with is not None:
            self.tabifyDockWidget(tabify_with, dock)
        self.menus["view"].addAction(dock.toggleViewAction())
        return dock

    def _arrange_docks(self) -> None:
        """Give the Inspector room to edit a node without scrolling.

        NOTE: [dock layout] With the bottom area (live plots, at least ~310 px tall) spanning the
        whole width, the right column above it kept ~430 px at 1360×840, and the Training panel
        (~400 px at its minimum) left the Inspector 68 px: every edit needed scrolling. The right
        column now runs the full height (the plots keep their ~940 px minimum width beside it at
        1280 px), the Training panel gets about its minimum and the Inspector everything else
        (≥ 290 px at 1280×800: the header and seven rows of a Dataset node).
        """
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        panel_dock = self.training.panel_dock
        self.palette_dock.setMinimumWidth(170)  # the search field and node names stay readable
        self.inspector_dock.setMinimumSize(260, 200)
        # its minimum plus room for a two-line run message, which otherwise squeezes its spin boxes
        training_h = panel_dock.minimumSizeHint().height() + TRAINING_MESSAGE_ROOM
        self.resizeDocks([panel_dock], [training_h], Qt.Orientation.Vertical)  # the Inspector takes the rest
        # Before a first run the plots are empty and the findings are what a user needs to read.
        self.problems_dock.raise_()

    def _create_status_bar(self) -> None:
        bar = self.statusBar()
        # A button, not a label: "✖ 7 errors" is where a new user clicks to see which errors.
        self.validity_label = QToolButton()
        self.validity_label.setObjectName("validityLabel")
        self.validity_label.setAutoRaise(True)
        self.validity_label.setCursor(Qt.CursorShape.PointingHandCursor)
        self.validity_label.clicked.connect(self.show_problems)
        self.params_label = QLabel()
        self.params_label.setObjectName("paramsLabel")
        bar.addPermanentWidget(self.validity_label)
        bar.addPermanentWidget(self.params_label)

    def _connect(self) -> None:
        doc = self.document
        doc.analysis_changed.connect(self._on_document_analysis_changed)
        doc.path_changed.connect(lambda _p: self._update_title())
        doc.modified_changed.connect(self._on_document_modified_changed)
        doc.graph_replaced.connect(self._on_document_graph_replaced)
        self.scene.selectionChanged.connect(self._on_scene_selection_changed)
        self.scene.status_message.connect(self._on_scene_status_message)
        self.canvas.node_type_dropped.connect(self._on_canvas_node_type_dropped)
        self.canvas.files_dropped.connect(self._on_files_dropped)
        self.palette.add_requested.connect(self._on_palette_add_requested)
        self.problems.node_activated.connect(self.focus_node)
        self.problems.fix_requested.connect(self.apply_fix)

    # ------------------------------------------------------------------ prompts (replaceable)

    def ask_save_changes(self) -> str:
        """'save', 'discard' or 'cancel'."""
        name = os.path.basename(self.document.path) or "Untitled"
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, f"Save changes to {name}?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText("Your changes will be lost if you don't save them.")
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")

    def ask_recover(self, text: str) -> bool:
        answer = QMessageBox.question(self, APP_NAME, text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def choose_open_path(self) -> str:
        start = os.path.dirname(self.document.path) if self.document.path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open graph", start, "Netwright graphs (*.json);;All files (*)")
        return path

    def choose_save_path(self) -> str:
        start = self.document.path or "untitled.json"
        path, _ = QFileDialog.getSaveFileName(self, "Save graph as", start, "Netwright graphs (*.json)")
        if path and not os.path.splitext(path)[1]:
            path += ".json"
        return path

    # ------------------------------------------------------------------ files

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded or unmodified)."""
        if not self.document.is_modified():
            return True
        answer = self.ask_save_changes()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_document(self) -> bool:
        if not self.maybe_save():
            return False
        self.document.reset()
        self.recovery.clear()
        self.canvas.show_graph()  # at 100 %, not at the zoom the previous graph was fitted to
        return True

    def open_dialog(self) -> bool:
        path = self.choose_open_path()
        return self.open_path(path) if path else False

    def open_path(self, path: str | os.PathLike, ask: bool = True) -> bool:
        """Open a graph file. A file that cannot be read shows why and changes nothing; with
        unsaved changes the user is asked first (``ask=False`` skips that)."""
        path = os.fspath(path)
        try:
            graph = load_path(path)
        except FileFormatError as exc:
            self.show_error("Cannot open file", f"{path}\n\n{exc}")
            return False
        if ask and not self.maybe_save():
            return False
        self.document.reset(graph, path)
        self.recovery.clear()
        self._add_recent(path)
        self._fit_soon()
        analysis = self.document.analysis()
        if analysis.errors or analysis.warnings:
            self.show_problems()
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save(self) -> bool:
        if not self.document.path:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        path = self.choose_save_path()
        return self.save_to(path) if path else False

    def save_to(self, path: str | os.PathLike) -> bool:
        """Save atomically to ``path``; on failure shows why and keeps everything as it was."""
        path = os.fspath(path)
        try:
            self.document.save(path)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.show_error("Cannot save file", f"{path}\n\n{reason}")
            return False
        self.recovery.clear()
        self._autosaved_change = self.document.change_count
        self._add_recent(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def _add_recent(self, path: str) -> None:
        path = os.path.abspath(path)
        settings = app_settings()
        recent = [p for p in self.recent_files() if p != path]
        settings.setValue("recent_files", [path, *recent][:MAX_RECENT])

    def recent_files(self) -> list[str]:
        value = app_settings().value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(os.path.basename(path))
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent", lambda: app_settings().setValue("recent_files", []))

    def _on_files_dropped(self, paths: list[str]) -> None:
        graphs = [p for p in paths if p.lower().endswith(".json")]
        if graphs:
            self.open_path(graphs[0])
        elif paths:
            self.show_error("Cannot open file", f"{paths[0]}\n\nOnly Netwright graph files (.json) can be opened.")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self._on_files_dropped(paths)

    # ------------------------------------------------------------------ recovery

    def _schedule_autosave(self, *_event: object) -> None:
        """Each edit pushes the autosave back by the debounce, but never past the max wait."""
        self.autosave_timer.start(round(self.autosave_schedule.edited() * 1000))

    def autosave_now(self) -> bool:
        """Queue the recovery file's write (snapshot here, file written off the GUI thread) if
        there are unsaved changes it does not hold yet."""
        self.autosave_timer.stop()
        doc = self.document
        if not doc.is_modified():
            if self._autosaved_change != doc.change_count:
                self.recovery.clear()
                self._autosaved_change = doc.change_count
            self.autosave_schedule.saved()
            return False
        if self._autosaved_change == doc.change_count:
            self.autosave_schedule.saved()
            return False
        try:
            cost = self.recovery.write_graph(doc.graph, doc.path)
        except (OSError, ValueError) as exc:
            self.autosave_schedule.saved()  # the next edit tries again
            self._on_recovery_write_failed(getattr(exc, "strerror", None) or str(exc))
            return False
        self._autosaved_change = doc.change_count
        self.autosave_schedule.saved(cost)
        return True

    def _on_recovery_write_failed(self, reason: str) -> None:
        self.statusBar().showMessage(f"Autosave failed: {reason}", 10000)

    def ask_move_aside(self, text: str) -> bool:
        answer = QMessageBox.question(self, APP_NAME, text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _offer_move_aside(self, damaged: Damaged) -> None:
        """Never deleted: moved into damaged/ if the user agrees, else offered again next start."""
        if not self.ask_move_aside(damaged.prompt()):
            return
        try:
            target = RecoverySession.move_aside(damaged.file)
        except OSError as exc:
            self.statusBar().showMessage(f"The recovery file could not be moved aside: {exc.strerror or exc}", 10000)
            return
        self.statusBar().showMessage(f"The unreadable recovery file was moved to {target}", 10000)

    def offer_recovery(self) -> bool:
        """Offer graphs left by sessions that crashed, newest first; each is offered once. One
        that cannot be read, whatever the reason, is offered for moving aside, with the reason."""
        recovered = False
        for file in self.recovery.orphans():
            rec = read_orphan(file)
            if isinstance(rec, Damaged):
                self._offer_move_aside(rec)
                continue
            accept = not recovered and self.ask_recover(rec.prompt())
            RecoverySession.discard(file)
            if accept and self.maybe_save():
                self.document.reset(rec.graph, rec.path, recovered=True)
                self._fit_soon()
                recovered = True
                self.autosave_now()  # keep the recovered work safe under this session
        return recovered

    # ------------------------------------------------------------------ edits

    def _on_canvas_node_type_dropped(self, type_id: str, pos: QPointF) -> None:
        self.add_node(type_id, pos)

    def _on_palette_add_requested(self, type_id: str) -> None:
        center = self.canvas.mapToScene(self.canvas.viewport().rect().center())
        self.add_node(type_id, center)

    def add_node(self, type_id: str, scene_pos: QPointF) -> str | None:
        """Add a node centred at ``scene_pos`` and select it."""
        try:
            t = catalogue.get(type_id)
            pos = (round(scene_pos.x() - NODE_W / 2), round(scene_pos.y() - node_height(t) / 2))
            nid = self.document.add_node(type_id, pos)
        except GraphError as exc:
            self.statusBar().showMessage(f"Cannot add node: {exc}", 8000)
            return None
        self.scene.select_nodes([nid])
        self.canvas.setFocus()
        return nid

    def delete_selection(self) -> None:
        ids, edges = self.scene.selected_node_ids(), self.scene.selected_edges()
        if ids or edges:
            self.document.remove_items(ids, edges)

    def select_all(self) -> None:
        self.scene.select_nodes(list(self.document.graph.nodes))

    def copy(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            return False
        clipboard.put_on_clipboard(clipboard.fragment(self.document.graph, ids))
        self.statusBar().showMessage(f"Copied {len(ids)} node{'s' * (len(ids) != 1)}", 3000)
        return True

    def cut(self) -> None:
        if self.copy():
            self.document.remove_items(self.scene.selected_node_ids(), self.scene.selected_edges())

    def paste(self) -> list[str]:
        try:
            part = clipboard.from_mime(QApplication.clipboard().mimeData())
        except FileFormatError as exc:
            self.statusBar().showMessage(f"Cannot paste: the clipboard holds a damaged graph ({exc})", 8000)
            return []
        if part is None:
            self.statusBar().showMessage("Nothing to paste: copy some nodes first", 4000)
            return []
        return self._paste(part, "Paste")

    def duplicate(self) -> list[str]:
        ids = self.scene.selected_node_ids()
        if not ids:
            return []
        return self._paste(clipboard.fragment(self.document.graph, ids), "Duplicate")

    def _paste(self, part: Any, text: str) -> list[str]:
        # Shift so the copies never sit exactly on the originals (or on an earlier paste).
        taken = {n.position for n in self.document.graph.nodes.values()}
        k = 1
        while k < 50 and any((x + k * PASTE_OFFSET, y + k * PASTE_OFFSET) in taken
                             for x, y in (n.position for n in part.nodes.values())):
            k += 1
        try:
            ids = self.document.paste(part, (k * PASTE_OFFSET, k * PASTE_OFFSET), text)
        except GraphError as exc:
            self.statusBar().showMessage(f"Cannot paste: {exc}", 8000)
            return []
        self.scene.select_nodes(ids)
        return ids

    def auto_layout(self) -> None:
        self.document.auto_layout(self.scene.node_heights())
        self.canvas.fit_all()

    def apply_fix(self, finding: Finding) -> None:
        try:
            self.document.apply_fix(finding)
        except GraphError as exc:
            self.show_error("Cannot apply fix", f"{finding.fix.label if finding.fix else 'Fix'}: {exc}")
            return
        self.statusBar().showMessage(f"Applied: {finding.fix.label}", 5000)  # type: ignore[union-attr]

    def focus_node(self, node_id: str) -> None:
        item = self.scene.node_items.get(node_id)
        if item is None:
            return
        self.scene.select_nodes([node_id])
        self.canvas.ensureVisible(item, 60, 60)

    def check_graph(self) -> Analysis:
        analysis = self.document.refresh_analysis()
        self.show_problems()
        return analysis

    def show_problems(self) -> None:
        """Bring the Problems panel to the front (it shares its tab area with the live plots)."""
        self.problems_dock.show()
        self.problems_dock.raise_()

    def selected_node_ids(self) -> list[str]:
        return self.scene.selected_node_ids()

    # ------------------------------------------------------------------ view updates

    def _fit_soon(self) -> None:
        if not self._fit_pending:
            self._fit_pending = True
            QTimer.singleShot(0, self._fit_now)

    def _fit_now(self) -> None:
        self._fit_pending = False
        self.canvas.show_graph()

    def _on_scene_selection_changed(self) -> None:
        if not shiboken6.isValid(self.scene) or not shiboken6.isValid(self):
            return  # the scene empties itself while the window is destroyed
        self.selection_changed.emit(self.scene.selected_node_ids())

    def _on_scene_status_message(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, 8000)
        else:
            self.statusBar().clearMessage()

    def _on_document_modified_changed(self, modified: bool) -> None:
        self._update_title()
        if not modified:
            self.recovery.clear()
            self.autosave_schedule.saved()

    def _on_document_graph_replaced(self) -> None:
        self._update_title()

    def _refresh_validity(self, *_args: object) -> None:
        self._on_document_analysis_changed(self.document.analysis())

    def _on_document_analysis_changed(self, analysis: Analysis) -> None:
        errors, warnings = len(analysis.errors), len(analysis.warnings)
        data_failure = self.training.controller.data_failure if hasattr(self, "training") else None
        if errors:
            text = f"✖ {errors} error{'s' * (errors != 1)}"
            color = "#dc2626"
        elif data_failure:  # what analysis cannot see: a bad CSV row found while loading
            text, color = "✖ Data cannot be loaded", "#dc2626"
        else:
            text = "✔ Ready to train" if not warnings else "✔ Valid"
            color = "#16a34a"
        if warnings:
            text += f", {warnings} warning{'s' * (warnings != 1)}"
        self.validity_label.setText(text)
        self.validity_label.setStyleSheet(f"color: {color}; padding: 0 8px;")
        tips = [f.text(self.document.graph) for f in analysis.findings[:20]] + ([data_failure] if data_failure else [])
        self.validity_label.setToolTip("\n".join([*tips, "Click to show the Problems panel."]))
        self.params_label.setText(f"Parameters: {analysis.total_params:,}")
        self.params_label.setStyleSheet("padding: 0 8px;")
        for label in (self.validity_label, self.params_label):  # never truncated by a long message
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance(label.text()) + 20)

    def _update_title(self) -> None:
        path = self.document.path
        name = os.path.basename(path) if path else "Untitled"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(self.document.is_modified())
        self.setWindowFilePath(path)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self.maybe_save():
            event.ignore()
            return
        self.training.shutdown()  # stops a run and waits for its thread
        self.autosave_timer.stop()
        self.recovery.close()
        event.accept()
