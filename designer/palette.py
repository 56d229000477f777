"""The node palette: every catalogue type by category, searchable, draggable onto the canvas.

Invariants: the palette is derived from ``graph.catalogue`` only (a new node type appears here
with no change to this file). Drags carry ``NODE_TYPE_MIME`` holding the type id as UTF-8; the
view (objectName ``palette``) is a QTreeView whose model's ``mimeData`` produces it, so tests
can build the same drop a user makes. Double-click (or Enter) emits ``add_requested(type_id)``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeView, QVBoxLayout, QWidget

from graph import catalogue

from .items import CATEGORY_COLORS

NODE_TYPE_MIME = "application/x-netwright-node-type"
TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2


def _dot(color: QColor) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawRoundedRect(1, 1, 12, 12, 3, 3)
    p.end()
    return QIcon(pix)


class PaletteModel(QStandardItemModel):
    """Categories (not draggable) holding node types (draggable, with the type's doc as tooltip)."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        for category, types in catalogue.by_category().items():
            if not types:
                continue
            head = QStandardItem(catalogue.CATEGORY_TITLES.get(category, category))
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            head.setData(category, SEARCH_ROLE)
            icon = _dot(CATEGORY_COLORS.get(category, QColor("gray")))
            for t in types:
                item = QStandardItem(icon, t.title)
                item.setData(t.type_id, TYPE_ROLE)
                item.setData(f"{t.type_id} {t.title} {category} {t.doc}".lower(), SEARCH_ROLE)
                item.setToolTip(f"<b>{t.title}</b><br>{t.doc}<br><i>Drag onto the canvas or double-click.</i>")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                head.appendRow(item)
            self.appendRow(head)

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt override
        return [NODE_TYPE_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData | None:  # noqa: N802 - Qt override
        for index in indexes:
            type_id = index.data(TYPE_ROLE)
            if type_id:
                mime = QMimeData()
                mime.setData(NODE_TYPE_MIME, type_id.encode("utf-8"))
                mime.setText(type_id)
                return mime
        return None

    def index_of(self, type_id: str) -> QModelIndex:
        for row in range(self.rowCount()):
            head = self.item(row)
            for r in range(head.rowCount()):
                if head.child(r).data(TYPE_ROLE) == type_id:
                    return head.child(r).index()
        return QModelIndex()


class PaletteFilter(QSortFilterProxyModel):
    """Keeps node types whose id, title, category or doc contains every word typed."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self._words: list[str] = []

    def set_query(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated there
            self.beginFilterChange()
            self._words = text.lower().split()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._words = text.lower().split()
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # noqa: N802 - Qt override
        if not self._words:
            return True
        index = self.sourceModel().index(row, 0, parent)
        if not index.data(TYPE_ROLE):
            return False  # a category shows when one of its children matches (recursive)
        text = index.data(SEARCH_ROLE) or ""
        return all(w in text for w in self._words)


class PaletteView(QTreeView):
    add_requested = Signal(str)

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.setObjectName("palette")
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformRowHeights(True)
        self.setAnimated(True)
        self.doubleClicked.connect(self._on_view_double_clicked)

    def _on_view_double_clicked(self, index: QModelIndex) -> None:
        type_id = index.data(TYPE_ROLE)
        if type_id:
            self.add_requested.emit(type_id)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().data(TYPE_ROLE):
            self.add_requested.emit(self.currentIndex().data(TYPE_ROLE))
            return
        super().keyPressEvent(event)


class NodePalette(QWidget):
    """Search box above the palette view."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.source_model = PaletteModel(self)
        self.filter_model = PaletteFilter(self)
        self.filter_model.setSourceModel(self.source_model)
        self.search = QLineEdit(self)
        self.search.setObjectName("paletteSearch")
        self.search.setPlaceholderText("Search nodes…")
        self.search.setClearButtonEnabled(True)
        self.view = PaletteView(self)
        self.view.setModel(self.filter_model)
        self.view.expandAll()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.view)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._on_search_return_pressed)

    def _on_search_text_changed(self, text: str) -> None:
        self.filter_model.set_query(text)
        self.view.expandAll()

    def _on_search_return_pressed(self) -> None:
        """Enter in the search box adds the first match."""
        model = self.filter_model
        for row in range(model.rowCount()):
            head = model.index(row, 0)
            if model.rowCount(head):
                self.view.add_requested.emit(model.index(0, 0, head).data(TYPE_ROLE))
                return

    def index_of(self, type_id: str) -> QModelIndex:
        """The view-model index of ``type_id`` (for tests and tools)."""
        return self.filter_model.mapFromSource(self.source_model.index_of(type_id))
