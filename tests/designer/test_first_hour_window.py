"""The first hour of a new user (issue 13): what the README's tour shows must be readable.

* the Inspector shows a selected node's header and at least six parameter rows without
  scrolling, at the default window size and at 1280×800;
* File ▸ New and a small sample open at 100 %, and any graph opens at a zoom where the text on
  nodes and wires is at least 9 px high;
* a refused run and a click on the status bar's error count bring the Problems panel to the front;
* the loss → optimizer wire has its own style (not the red of a refused connection) and says
  what it means.
"""

from __future__ import annotations

import pathlib

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QFontInfo
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QTabBar, QWidget

from designer.items import EdgeItem, WireItem, fonts
from designer.mainwindow import MainWindow

from .helpers import click_node, drop_node, wire

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "samples"
READABLE_PX = 9.0


@pytest.fixture
def fresh(qtbot) -> MainWindow:
    """A window at the size it opens with (the ``window`` fixture resizes it)."""
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def settle(qtbot, ms: int = 50) -> None:
    QApplication.processEvents()
    qtbot.wait(ms)


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def assert_inspector_shows_node(window: MainWindow, min_rows: int = 6) -> None:
    inspector = window.inspector
    viewport = inspector.viewport()
    assert inspector.verticalScrollBar().value() == 0
    # the viewport itself is on screen, inside the window, and not squeezed
    assert window.rect().contains(rect_in(viewport, window)), rect_in(viewport, window)
    assert not inspector.visibleRegion().isEmpty()
    header = inspector.widget().findChild(QLabel, "inspectorHeader")
    assert header is not None and header.isVisible()
    assert viewport.rect().contains(rect_in(header, viewport)), (rect_in(header, viewport), viewport.rect())
    rows = [window.inspector.title_edit] + [e.container for e in window.inspector.editors.values()]
    shown = [w for w in rows if viewport.rect().contains(rect_in(w, viewport))]
    assert len(shown) >= min_rows, (len(shown), viewport.size())


def test_inspector_shows_a_dataset_node_without_scrolling(fresh, qtbot):
    window = fresh
    assert (window.width(), window.height()) == (1360, 840)
    nid = window.document.add_node("Dataset", (0.0, 0.0))
    window.scene.select_nodes([nid])
    settle(qtbot)
    assert len(window.inspector.editors) >= 6
    assert_inspector_shows_node(window)
    window.grab().save("/tmp/win_default_dataset.png")

    window.resize(1280, 800)
    settle(qtbot)
    assert (window.width(), window.height()) == (1280, 800)
    assert_inspector_shows_node(window)
    window.grab().save("/tmp/win_1280_dataset.png")


def test_inspector_shows_a_linear_node_after_the_user_resizes(window, qtbot):
    nid = drop_node(window, "Linear", window.canvas.viewport().rect().center())
    click_node(window, nid)
    window.resize(1280, 800)
    settle(qtbot)
    assert window.inspector.target == nid
    assert_inspector_shows_node(window)


def test_docks_keep_usable_sizes(fresh, qtbot):
    window = fresh
    window.resize(1280, 800)
    settle(qtbot)
    training, plots = window.training.panel_dock, window.training.plots_dock
    plots.raise_()
    settle(qtbot)
    for dock in (window.palette_dock, window.inspector_dock, training, plots):
        assert not dock.visibleRegion().isEmpty(), dock.objectName()
        hint = dock.widget().minimumSizeHint()
        assert dock.widget().width() >= hint.width() and dock.widget().height() >= hint.height(), dock.objectName()
    assert window.palette_dock.width() >= 170
    assert window.canvas.width() >= 500 and window.canvas.height() >= 300
