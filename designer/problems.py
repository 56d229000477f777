"""The problems panel (objectName ``problems``): the analysis findings, worst first.

Invariants: the list is rebuilt only from the document's ``analysis_changed`` and holds plain
:class:`graph.analysis.Finding` values. Clicking a finding emits ``node_activated(node_id)``;
a finding's Fix button emits ``fix_requested(finding)``; the main window turns these into a
selection and one undoable document edit. The panel edits nothing itself. An empty list says
so in words (an empty white panel looked broken to a new user).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
)

from graph.analysis import Analysis, Finding

from .document import Document
from .items import ERROR, INFO, WARNING

FINDING_ROLE = Qt.ItemDataRole.UserRole + 1
SEVERITY_COLORS = {"error": ERROR, "warning": WARNING, "info": INFO}
EMPTY_TEXT = "No problems found: press F5 (Run ▸ Train) to train the graph."


def severity_icon(severity: str) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(SEVERITY_COLORS.get(severity, QColor("gray")))
    p.drawEllipse(1, 1, 12, 12)
    p.setPen(QColor("white"))
    p.drawText(pix.rect(), Qt.AlignmentFlag.AlignCenter, "i" if severity == "info" else "!")
    p.end()
    return QIcon(pix)


class ProblemsView(QTreeWidget):
    node_activated = Signal(str)
    fix_requested = Signal(object)  # Finding

    def __init__(self, document: Document, parent: Any = None):
        super().__init__(parent)
        self.setObjectName("problems")
        self.document = document
        self.setColumnCount(3)
        self.setHeaderLabels(["Node", "Problem", "Fix"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(False)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self._findings: list[Finding] = []
        self.itemClicked.connect(self._on_item_clicked)
        self.itemActivated.connect(self._on_item_clicked)
        document.analysis_changed.connect(self._on_document_analysis_changed)

    def findings(self) -> list[Finding]:
        return list(self._findings)

    def fix_button(self, row: int) -> QPushButton | None:
        w = self.itemWidget(self.topLevelItem(row), 2)
        return w if isinstance(w, QPushButton) else None

    def _on_document_analysis_changed(self, analysis: Analysis) -> None:
        findings = list(analysis.findings)
        if findings == self._findings:
            return
        self._findings = findings
        self.clear()
        graph = self.document.graph
        for finding in findings:
            node = graph.nodes.get(finding.node_id) if finding.node_id else None
            where = (node.title or node.id) + f" ({node.type})" if node else "graph"
            item = QTreeWidgetItem([where, finding.message, ""])
            item.setIcon(0, severity_icon(finding.severity))
            item.setToolTip(1, finding.text(graph))
            item.setData(0, FINDING_ROLE, finding)
            self.addTopLevelItem(item)
            if finding.fix is not None:
                button = QPushButton(finding.fix.label)
                button.setToolTip("Apply this fix (one undoable step)")
                button.clicked.connect(lambda _=False, f=finding: self.fix_requested.emit(f))
                self.setItemWidget(item, 2, button)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.topLevelItemCount() == 0:
            p = QPainter(self.viewport())
            p.setPen(self.palette().placeholderText().color())
            p.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                       Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
                       EMPTY_TEXT)
            p.end()

    def _on_item_clicked(self, item: QTreeWidgetItem, column: int = 0) -> None:
        finding = item.data(0, FINDING_ROLE)
        if isinstance(finding, Finding) and finding.node_id:
            self.node_activated.emit(finding.node_id)

    def summary(self) -> str:
        errors = sum(f.severity == "error" for f in self._findings)
        warnings = sum(f.severity == "warning" for f in self._findings)
        parts = [f"{errors} error{'s' * (errors != 1)}"] if errors else []
        parts += [f"{warnings} warning{'s' * (warnings != 1)}"] if warnings else []
        return ", ".join(parts) or "no problems"
