"""Export ▸ Python Script… and Export ▸ ONNX Model…: the document's graph through
``runtime.export.export_to``, as ``netwright export`` runs it, starting from a run's weights when
one trained the graph as it is now.

Which run: each run records the document's ``content_token()`` when it starts (see
designer.document: the token names the graph's content, positions aside, and undo gives a
state's token back). An export uses the newest finished run with the document's current token:
moving nodes keeps a run's weights, any other edit drops them, undoing the edit brings them back.
No graph text is compared.

Invariants: torch is imported only when an export runs; the prompts (``choose_export_path``,
``inform``, ``show_error``) are small methods tests replace; a failed export says why and writes
nothing it has not finished (``export_to`` writes atomically).
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from .document import Document
from .run_controller import open_warning
from .runs import Run, RunStore

WEIGHT_FILES = ("best.pt", "last.pt")  # a run's checkpoints, in the order an export prefers them


class ModelExporter(QObject):
    """Writes the document's graph as a script or an ONNX model with the right weights."""

    message = Signal(str, bool)  # text for the status bar, is_error

    def __init__(self, document: Document, store: RunStore, parent: QWidget | None = None):
        super().__init__(parent)
        self._parent = parent
        self.document = document
        self.store = store
        self.error_box: QMessageBox | None = None

    # ------------------------------------------------------------------ prompts (replaceable)

    def choose_export_path(self, caption: str, suggested: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self._parent, caption, suggested, filters)
        return path

    def inform(self, title: str, text: str) -> None:
        QMessageBox.information(self._parent, title, text)

    def show_error(self, title: str, text: str) -> None:
        """Without blocking: a window-modal box that returns at once."""
        self.error_box = open_warning(self._parent, title, text, "exportErrorBox")

    # ------------------------------------------------------------------ which weights

    def trained_run(self) -> Run | None:
        """The newest finished run that trained the document's graph as it is now."""
        token = self.document.content_token()
        same = [run for run in self.store.runs if run.finished and run.content_token == token]
        return same[-1] if same else None

    def weights(self) -> Any:
        """Which weights an export starts from (a ``runtime.export.Weights``): the best (else
        the last) checkpoint of :meth:`trained_run`; otherwise fresh seeded ones, saying why."""
        from runtime.export import Weights

        run = self.trained_run()
        if run is not None:
            for name in WEIGHT_FILES:
                path = os.path.join(run.checkpoint_dir, name)
                if os.path.isfile(path):
                    return Weights(path, origin=f"Run {run.run_id}")
            return Weights(reason=f"Run {run.run_id} of this graph saved no weights")
        finished = [r for r in self.store.runs if r.finished]
        if finished:
            return Weights(reason=f"the graph changed since Run {finished[-1].run_id}, so its weights were not used")
        return Weights(reason="no run of this graph has finished yet")

    # ------------------------------------------------------------------ exports

    def _suggested_path(self, ext: str) -> str:
        path = self.document.path
        stem = os.path.splitext(os.path.basename(path))[0] if path else "model"
        return os.path.join(os.path.dirname(path) if path else os.getcwd(), stem + ext)

    def _source_name(self) -> str | None:
        """The script header's "Source:": the document's file name (None: it was never saved)."""
        path = self.document.path
        if not path:
            return None
        return os.path.basename(path) + (" (with unsaved changes)" if self.document.is_modified() else "")

    def export_python(self) -> str | None:
        path = self.choose_export_path("Export Python script", self._suggested_path(".py"), "Python scripts (*.py)")
        return self.export_to(path, "python") if path else None

    def export_onnx(self) -> str | None:
        path = self.choose_export_path("Export ONNX model", self._suggested_path(".onnx"), "ONNX models (*.onnx)")
        return self.export_to(path, "onnx") if path else None

    def export_to(self, path: str, kind: str) -> str | None:
        """``runtime.export.export_to`` (``kind``: "python" or "onnx"); the message lists every
        file written and names the weights. Returns ``path``, or None when it failed."""
        from runtime.errors import RunError

        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            from runtime import export

            result = export.export_to(self.document.snapshot(), path, kind, self.document.base_dir,
                                      self.weights(), self._source_name())
        except (RunError, OSError, ValueError) as exc:
            QApplication.restoreOverrideCursor()
            text = f"Cannot export to {path}:\n\n{exc}"
            self.message.emit(text.replace("\n\n", " "), True)
            self.show_error("Export failed", text)
            return None
        QApplication.restoreOverrideCursor()
        self.message.emit(result.summary(), False)
        self.inform("Export finished", result.report())
        return path
