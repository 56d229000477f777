"""The inspector (objectName ``inspector``): editors generated from parameter declarations.

Invariants:

* every editor is derived from a :class:`graph.params.Param` (kind, range, choices, doc), so a
  new parameter needs no change here; each editor's tooltip is the parameter's doc;
* editors validate while the user types (a red border and a message naming the parameter and
  the allowed range) and only ever commit values that ``Param.check`` accepts, through the
  document's edit methods; a refused edit shows why and changes nothing;
* editors follow the model: undo/redo or another view's edit updates them without committing;
* with one node selected it edits that node (title and parameters); with none, the graph
  settings (title, description, epochs, seed...); with several, it says how many.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFocusEvent, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from graph import catalogue
from graph.document import GraphEvent, GraphEventKind
from graph.errors import GraphError, ParamError
from graph.params import Param

from .document import Document
from .items import CATEGORY_COLORS
from .scene import GraphScene

INT_LIMIT = 2**31 - 1
INVALID_STYLE = "border: 1px solid #dc2626; border-radius: 3px;"
_PARTIAL_FLOAT = re.compile(r"[-+]?\d*\.?\d*([eE][-+]?\d*)?")

Commit = Callable[[Any, bool], None]  # (value, merge)


def short_float(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") and "e" not in text else text


class FloatSpinBox(QDoubleSpinBox):
    """A spin box for any float range: shows the shortest exact text (0.05, 1e-08) and steps by
    a tenth of the value's order of magnitude, so scrubbing a learning rate feels right."""

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(parent)
        self.param = param
        self.setDecimals(20)
        self.setRange(-1e300 if param.min is None else param.min, 1e300 if param.max is None else param.max)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return short_float(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        t = text.strip()
        try:
            v = float(t)
        except ValueError:
            ok = _PARTIAL_FLOAT.fullmatch(t) is not None
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid), text, pos
        if not math.isfinite(v):
            return QValidator.State.Invalid, text, pos
        if self.minimum() <= v <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def fixup(self, text: str) -> str:
        return short_float(self.value())

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        v = self.value()
        step = 10 ** math.floor(math.log10(abs(v))) / 10 if v else 0.1
        if v and abs(v + steps * step) < step / 100:  # stepping through zero: land on zero
            new = 0.0
        else:
            new = float(f"{v + steps * step:.12g}")
        self.setValue(max(self.minimum(), min(self.maximum(), new)))


class TextBox(QPlainTextEdit):
    editing_finished = Signal()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt override
        super().focusOutEvent(event)
        self.editing_finished.emit()


class ParamEditor(QObject):
    """One parameter's editor widget, its live validation and its commit."""

    def __init__(self, param: Param, value: Any, commit: Commit, parent: QWidget):
        super().__init__(parent)
        self.param = param
        self._commit = commit
        self.value = value
        self.container = QWidget(parent)
        layout = QVBoxLayout(self.container)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.widget = self._make(param, parent)
        self.widget.setToolTip(f"{param.doc}\n({param.range_text()})")
        self.widget.setObjectName(f"param_{param.name}")
        self.error = QLabel(self.container)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #dc2626; font-size: 11px;")
        self.error.hide()
        layout.addWidget(self.widget)
        layout.addWidget(self.error)
        self.set_value(value)

    # ---------------------------------------------------------------- building

    def _make(self, p: Param, parent: QWidget) -> QWidget:
        if p.kind == "int":
            w = QSpinBox(parent)
            w.setRange(int(max(-INT_LIMIT, p.min if p.min is not None else -INT_LIMIT)),
                       int(min(INT_LIMIT, p.max if p.max is not None else INT_LIMIT)))
            w.setKeyboardTracking(False)
            w.setAccelerated(True)
            w.valueChanged.connect(lambda v: self._submit(int(v), True))
            w.lineEdit().textEdited.connect(self._on_text_edited)
            return w
        if p.kind == "float":
            w = FloatSpinBox(p, parent)
            w.valueChanged.connect(lambda v: self._submit(float(v), True))
            w.lineEdit().textEdited.connect(self._on_text_edited)
            return w
        if p.kind == "bool":
            w = QCheckBox(parent)
            w.toggled.connect(lambda v: self._submit(bool(v), False))
            return w
        if p.kind == "choice":
            w = QComboBox(parent)
            w.addItems(list(p.choices))
            w.currentTextChanged.connect(lambda v: self._submit(v, False))
            return w
        if p.kind == "str" and p.multiline:
            w = TextBox(parent)
            w.setTabChangesFocus(True)
            w.setFixedHeight(90)
            w.textChanged.connect(lambda: self._on_text_edited(w.toPlainText()))
            w.editing_finished.connect(lambda: self._submit_text(w.toPlainText()))
            return w
        w = QLineEdit(parent)
        if p.kind == "str":
            w.setMaxLength(p.max_len)
        else:
            w.setPlaceholderText("e.g. 3, 3")
        w.textEdited.connect(self._on_text_edited)
        w.editingFinished.connect(lambda: self._submit_text(w.text()))
        return w

    # ---------------------------------------------------------------- model -> editor

    def set_value(self, value: Any) -> None:
        """Show ``value`` without committing it."""
        self.value = value
        w = self.widget
        w.blockSignals(True)
        try:
            if isinstance(w, QSpinBox):
                w.setValue(int(value))
            elif isinstance(w, QDoubleSpinBox):
                w.setValue(float(value))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                w.setCurrentText(str(value))
            elif isinstance(w, QPlainTextEdit):
                if w.toPlainText() != value:
                    w.setPlainText(value)
            elif isinstance(w, QLineEdit):
                w.setText(self._format(value))
        finally:
            w.blockSignals(False)
        self.show_problem(None)

    def _format(self, value: Any) -> str:
        if self.param.kind == "ints":
            return ", ".join(str(v) for v in value)
        return str(value)

    # ---------------------------------------------------------------- editor -> model

    def parse(self, text: str) -> Any:
        """Text typed by the user -> a checked value; raises ParamError naming the parameter."""
        k = self.param.kind
        t = text.strip()
        try:
            if k == "int":
                value: Any = int(t)
            elif k == "float":
                value = float(t)
            elif k == "ints":
                parts = [x for x in re.split(r"[,\s×x]+", t) if x]
                value = [int(x) for x in parts]
            else:
                value = text
        except ValueError:
            raise ParamError(self.param.name, f"must be {self.param.range_text()}; got {t!r}") from None
        return self.param.check(value)

    def _on_text_edited(self, text: str) -> None:
        try:
            self.parse(text)
        except ParamError as exc:
            self.show_problem(str(exc))
        else:
            self.show_problem(None)

    def _submit_text(self, text: str) -> None:
        try:
            value = self.parse(text)
        except ParamError as exc:
            self.show_problem(str(exc))
            return
        self._submit(value, False)

    def _submit(self, value: Any, merge: bool) -> None:
        if value == self.value and type(value) is type(self.value):
            self.show_problem(None)
            return
        try:
            self._commit(value, merge)
        except GraphError as exc:
            self.show_problem(str(exc))
        else:
            self.show_problem(None)

    def show_problem(self, message: str | None) -> None:
        if message:
            self.error.setText(message)
            self.error.show()
            self.widget.setStyleSheet(INVALID_STYLE)
        elif self.error.isVisible() or self.widget.styleSheet():
            self.error.hide()
            self.widget.setStyleSheet("")

    @property
    def problem(self) -> str:
        return self.error.text() if not self.error.isHidden() else ""


class ParamInspector(QScrollArea):
    """Edits the selected node, or the graph settings when nothing is selected."""

    def __init__(self, document: Document, scene: GraphScene, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("inspector")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.document = document
        self.scene = scene
        self.editors: dict[str, ParamEditor] = {}
        self.title_edit: QLineEdit | None = None
        self.target: str | None = None  # node id, or None for the graph settings
        self._target_key: tuple = ()
        document.graph_event.connect(self._on_document_graph_event)
        document.graph_replaced.connect(self.rebuild)
        scene.selectionChanged.connect(self._on_scene_selection_changed)
        self.rebuild()

    def _on_scene_selection_changed(self) -> None:
        if not shiboken6.isValid(self.scene) or not shiboken6.isValid(self):
            return  # the scene empties itself while the window is destroyed
        ids = self.scene.selected_node_ids()
        key = ("node", ids[0]) if len(ids) == 1 else ("multi", len(ids)) if ids else ("settings",)
        if key != self._target_key:
            self.rebuild()

    def rebuild(self) -> None:
        ids = self.scene.selected_node_ids()
        self.editors = {}
        self.title_edit = None
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        if len(ids) == 1:
            self.target = ids[0]
            self._target_key = ("node", ids[0])
            self._build_node(layout, ids[0])
        elif ids:
            self.target = None
            self._target_key = ("multi", len(ids))
            note = QLabel(f"<b>{len(ids)} nodes selected</b><br>Select one node to edit its parameters.")
            note.setWordWrap(True)
            layout.addWidget(note)
        else:
            self.target = None
            self._target_key = ("settings",)
            self._build_settings(layout)
        layout.addStretch(1)
        old = self.takeWidget()
        self.setWidget(body)
        if old is not None:
            old.deleteLater()

    def _header(self, layout: QVBoxLayout, title: str, color: str, doc: str) -> None:
        head = QLabel(f"<span style='color:{color}; font-size:15px'>■</span> "
                      f"<b style='font-size:13px'>{title}</b>")
        head.setObjectName("inspectorHeader")
        layout.addWidget(head)
        text = QLabel(doc)
        text.setWordWrap(True)
        text.setStyleSheet("color: #475569;")
        layout.addWidget(text)

    def _build_node(self, layout: QVBoxLayout, node_id: str) -> None:
        node = self.document.graph.nodes[node_id]
        t = node.node_type
        color = CATEGORY_COLORS[t.category].name()
        self._header(layout, f"{t.title} <span style='color:#64748b; font-weight:normal'>· {node_id}</span>", color, t.doc)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.title_edit = QLineEdit(node.title)
        self.title_edit.setObjectName("nodeTitle")
        self.title_edit.setPlaceholderText(node_id)
        self.title_edit.setMaxLength(200)
        self.title_edit.setToolTip("A name for this node, shown on the canvas, in messages and in exported code comments.")
        self.title_edit.editingFinished.connect(self._on_title_editing_finished)
        form.addRow("title", self.title_edit)
        for p in t.params:
            self._add_row(form, p, node.params[p.name],
                          lambda v, merge, name=p.name: self.document.set_param(node_id, name, v, merge))
        layout.addLayout(form)
        if not t.params:
            none = QLabel("This node has no parameters.")
            none.setStyleSheet("color: #64748b;")
            layout.addWidget(none)

    def _build_settings(self, layout: QVBoxLayout) -> None:
        self._header(layout, "Graph settings", "#0f172a",
                     "Nothing is selected: these settings belong to the whole graph. "
                     "Select a node to edit its parameters.")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for p in catalogue.SETTINGS:
            self._add_row(form, p, self.document.graph.settings[p.name],
                          lambda v, merge, name=p.name: self.document.set_setting(name, v))
        layout.addLayout(form)

    def _add_row(self, form: QFormLayout, p: Param, value: Any, commit: Commit) -> None:
        editor = ParamEditor(p, value, commit, self)
        label = QLabel(p.name)
        label.setToolTip(p.doc)
        label.setBuddy(editor.widget)
        form.addRow(label, editor.container)
        self.editors[p.name] = editor

    def _on_title_editing_finished(self) -> None:
        if self.title_edit is None or self.target is None:
            return
        try:
            self.document.set_title(self.target, self.title_edit.text())
        except GraphError as exc:
            self.title_edit.setToolTip(str(exc))

    def _on_document_graph_event(self, event: GraphEvent) -> None:
        match event.kind:
            case GraphEventKind.PARAM_CHANGED if event.node_id == self.target and event.name in self.editors:
                self.editors[event.name].set_value(event.new)
            case GraphEventKind.TITLE_CHANGED if event.node_id == self.target and self.title_edit is not None:
                if self.title_edit.text() != event.new:
                    self.title_edit.setText(event.new)
            case GraphEventKind.SETTING_CHANGED if self._target_key == ("settings",) and event.name in self.editors:
                self.editors[event.name].set_value(event.new)
