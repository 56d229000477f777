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
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontInfo
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QTabBar, QWidget

from designer.items import ERROR, EdgeItem, WireItem, fonts
from designer.mainwindow import MainWindow
from graph import fileformat
from graph.document import Graph, PortRef

from .helpers import click_node, drop_node, port_point, wire

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


def resize(qtbot, window: QWidget, width: int, height: int) -> None:
    """Resize the window and wait for it to have the new size. Its layouts follow the resize
    event at once (docks, the Inspector's rows), so they are laid out by then."""
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.size() == QSize(width, height), timeout=5000)
    QApplication.sendPostedEvents()  # and any layout request the new size posted


def in_front(qtbot, window: MainWindow, dock_title: str) -> None:
    """Wait until the tab of ``dock_title`` is the current one and that dock is drawn."""
    dock = window.problems_dock if dock_title == "Problems" else window.training.plots_dock
    qtbot.waitUntil(lambda: current_tab_text(window, dock_title) == dock_title
                    and not dock.visibleRegion().isEmpty(), timeout=5000)


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
    window.scene.select_nodes([nid])  # the Inspector's new rows are laid out as they are shown
    assert len(window.inspector.editors) >= 6
    assert_inspector_shows_node(window)
    window.grab().save("/tmp/win_default_dataset.png")

    resize(qtbot, window, 1280, 800)
    assert_inspector_shows_node(window)
    window.grab().save("/tmp/win_1280_dataset.png")


def test_inspector_shows_a_linear_node_after_the_user_resizes(window, qtbot):
    nid = drop_node(window, "Linear", window.canvas.viewport().rect().center())
    click_node(window, nid)
    resize(qtbot, window, 1280, 800)
    assert window.inspector.target == nid
    assert_inspector_shows_node(window)


def test_docks_keep_usable_sizes(fresh, qtbot):
    window = fresh
    resize(qtbot, window, 1280, 800)
    training, plots = window.training.panel_dock, window.training.plots_dock
    plots.raise_()
    in_front(qtbot, window, "Live plots and results")
    for dock in (window.palette_dock, window.inspector_dock, training, plots):
        assert not dock.visibleRegion().isEmpty(), dock.objectName()
        hint = dock.widget().minimumSizeHint()
        assert dock.widget().width() >= hint.width() and dock.widget().height() >= hint.height(), dock.objectName()
    assert window.palette_dock.width() >= 170
    assert window.canvas.width() >= 500 and window.canvas.height() >= 300


# ---------------------------------------------------------------------- zoom a graph opens with


def text_px_on_screen(window: MainWindow, name: str) -> float:
    """The pixel height of a canvas font's em on screen at the view's current zoom."""
    font = fonts()[name]
    px = min(QFontInfo(font).pixelSize(), font.pointSizeF() * window.canvas.logicalDpiY() / 72)
    return px * window.canvas.transform().m11()


def small_graph_file(tmp_path: pathlib.Path) -> pathlib.Path:
    """Two nodes side by side: fits the canvas at 100 % in any window the app opens in."""
    g = Graph()
    data = g.add_node("Dataset", position=(0.0, 0.0)).id
    lin = g.add_node("Linear", position=(260.0, 0.0)).id
    g.connect(PortRef(data, "features"), PortRef(lin, "input"))
    path = tmp_path / "small.json"
    fileformat.save_path(g, path)
    return path


def test_new_after_a_zoomed_out_graph_is_at_100_percent(window, qtbot):
    assert window.open_path(SAMPLES / "digits_mlp.json", ask=False)
    window.actionFit.trigger()  # the user looks at the whole graph: far below 100 %
    assert window.canvas.zoom() < 0.6
    with qtbot.waitSignal(window.canvas.graph_shown, timeout=5000):
        window.actionNew.trigger()
    assert window.canvas.transform().m11() == 1.0
    nid = drop_node(window, "Linear", window.canvas.viewport().rect().center())
    assert window.canvas.mapFromScene(window.scene.node_items[nid].sceneBoundingRect()).boundingRect().width() >= 200


def test_a_small_graph_opens_at_100_percent(window, qtbot, tmp_path):
    path = small_graph_file(tmp_path)
    window.actionZoomOut.trigger()
    window.actionZoomOut.trigger()
    assert window.open_path(path, ask=False)
    qtbot.waitUntil(lambda: window.canvas.transform().m11() == 1.0, timeout=2000)
    view = window.canvas.mapToScene(window.canvas.viewport().rect()).boundingRect()
    assert view.contains(window.scene.nodes_rect())


@pytest.mark.parametrize("size", [(1360, 840), (1280, 800)])
@pytest.mark.parametrize("sample", ["xor_mlp.json", "digits_mlp.json", "deep_relu.json"])
def test_text_on_a_graph_just_opened_is_at_least_9_px(fresh, qtbot, sample, size):
    window = fresh
    resize(qtbot, window, *size)
    with qtbot.waitSignal(window.canvas.graph_shown, timeout=5000):  # the deferred fit
        assert window.open_path(SAMPLES / sample, ask=False)
    for name in ("title", "label", "small", "body"):  # node titles, wire labels, ports, parameters
        assert text_px_on_screen(window, name) >= READABLE_PX, (name, window.canvas.zoom())
    # the graph's start (its Dataset node) is in view
    data = next(nid for nid, n in window.document.graph.nodes.items() if n.type == "Dataset")
    view = window.canvas.mapToScene(window.canvas.viewport().rect()).boundingRect()
    assert view.contains(window.scene.node_items[data].sceneBoundingRect())


# ---------------------------------------------------------------------- the Problems panel


def current_tab_text(window: MainWindow, dock_title: str) -> str:
    """The current tab of the tab bar that holds the dock titled ``dock_title``."""
    for bar in window.findChildren(QTabBar):
        if any(bar.tabText(i) == dock_title for i in range(bar.count())):
            return bar.tabText(bar.currentIndex())
    raise AssertionError(f"no tab bar holds {dock_title!r}")


def assert_problems_in_front(window: MainWindow) -> None:
    assert current_tab_text(window, "Problems") == "Problems"
    assert not window.problems_dock.visibleRegion().isEmpty()
    assert not window.problems.viewport().visibleRegion().isEmpty()
    assert window.training.plots_dock.visibleRegion().isEmpty()


def graph_with_errors(window: MainWindow, qtbot) -> None:
    window.actionNew.trigger()
    drop_node(window, "Dataset", window.canvas.viewport().rect().center())
    drop_node(window, "Linear", window.canvas.viewport().rect().center() + QPoint(0, 150))
    qtbot.waitUntil(lambda: len(window.document.analysis().errors) >= 2, timeout=2000)
    window.training.plots_dock.raise_()  # as after a run: the plots in front
    in_front(qtbot, window, "Live plots and results")
    assert current_tab_text(window, "Problems") == "Live plots and results"
    assert window.problems_dock.visibleRegion().isEmpty()


def test_f5_on_a_graph_with_errors_brings_the_problems_panel_to_the_front(window, qtbot):
    graph_with_errors(window, qtbot)
    controller = window.training.controller
    with qtbot.waitSignal(controller.train_refused, timeout=2000):
        QTest.keyClick(window.canvas, Qt.Key.Key_F5)
    in_front(qtbot, window, "Problems")
    assert controller.run is None
    assert_problems_in_front(window)
    assert window.problems.topLevelItemCount() >= 2
    if controller.error_box is not None:
        controller.error_box.close()


def test_clicking_the_error_count_brings_the_problems_panel_to_the_front(window, qtbot):
    graph_with_errors(window, qtbot)
    button = window.validity_label
    assert "error" in button.text()
    assert button.isVisible() and window.statusBar().geometry().contains(button.mapTo(window, QPoint(1, 1)))
    assert "Problems panel" in button.toolTip()
    QTest.mouseClick(button, Qt.MouseButton.LeftButton, pos=button.rect().center())
    in_front(qtbot, window, "Problems")
    assert_problems_in_front(window)


def test_the_problems_panel_is_in_front_before_a_first_run(fresh):
    assert_problems_in_front(fresh)


# ---------------------------------------------------------------------- the loss → optimizer wire


def pen_look(pen) -> tuple:
    return pen.color().name(), pen.style(), pen.widthF()


def test_the_loss_to_optimizer_wire_has_its_own_style_and_says_what_it_means(window, qtbot):
    center = window.canvas.viewport().rect().center()
    lin = drop_node(window, "Linear", center + QPoint(-300, -120))
    loss = drop_node(window, "MSELoss", center + QPoint(-300, 120))
    adam = drop_node(window, "Adam", center + QPoint(80, 120))
    relu = drop_node(window, "ReLU", center + QPoint(80, -120))
    with qtbot.waitSignal(window.document.analysis_changed, timeout=5000):  # the wires' labels
        wire(window, loss, "loss", adam, "loss")
        wire(window, lin, "output", relu, "input")
    assert len(window.document.graph.edges) == 2
    window.scene.flush()  # the wires' routes, as when control returns to the loop
    loss_wire = next(i for e, i in window.scene.edge_items.items() if e.source.node == loss)
    tensor_wire = next(i for e, i in window.scene.edge_items.items() if e.source.node == lin)
    assert isinstance(loss_wire, EdgeItem)

    # a refused connection, dragged the way a user would: a tensor output onto the loss input
    vp = window.canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     port_point(window, relu, "output", True))
    target = port_point(window, adam, "loss", False)
    for k in range(1, 5):
        QTest.mouseMove(vp, target + QPoint(0, 4 - k))
    refused = window.scene.wire
    assert isinstance(refused, WireItem) and refused.state == "refused"
    refused_look = pen_look(refused.pen())
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target)
    assert len(window.document.graph.edges) == 2

    look = pen_look(loss_wire.wire_pen())
    assert look != refused_look and look != pen_look(tensor_wire.wire_pen())
    assert loss_wire.wire_pen().color() != ERROR and loss_wire.wire_pen().style() != Qt.PenStyle.SolidLine
    assert loss_wire.wire_pen().color().hsvHue() not in range(0, 20)  # not red: red means refused
    assert loss_wire.label == "minimised by"
    tip = loss_wire.toolTip()
    assert "minimises this loss" in tip and "No tensor flows here" in tip and "gradients" in tip
    assert tensor_wire.label != loss_wire.label  # a tensor wire shows what flows along it
    # the label sits above the dotted line, which stays visible along the whole short wire
    assert loss_wire.label_rect().bottom() <= loss_wire.path().pointAtPercent(0.5).y()
    assert text_px_on_screen(window, "label") >= READABLE_PX


def test_the_loss_wire_writes_its_word_only_where_it_fits_between_the_nodes(window, qtbot):
    """Placed as the README's tour places them (a short gap), "minimised by" would cover the
    optimizer's ports: the tooltip says it instead. With room, the word is there."""
    center = window.canvas.viewport().rect().center()
    loss = drop_node(window, "MSELoss", center + QPoint(-140, 0))
    adam = drop_node(window, "Adam", center + QPoint(130, 0))  # 70 px between the nodes
    with qtbot.waitSignal(window.document.analysis_changed, timeout=5000):  # the wire's label
        wire(window, loss, "loss", adam, "loss")
    window.scene.flush()  # its route and where its word goes
    (item,) = window.scene.edge_items.values()
    nodes = [window.scene.node_items[n].sceneBoundingRect() for n in (loss, adam)]
    rect = item.label_rect()
    assert rect.isNull() or not any(r.intersects(rect) for r in nodes), (rect, nodes)
    assert item.toolTip()
    x, y = window.document.graph.nodes[adam].position
    window.document.move_nodes({adam: (x + 300, y)})
    window.scene.flush()
    rect = item.label_rect()
    assert not rect.isNull() and item.label == "minimised by"
    nodes = [window.scene.node_items[n].sceneBoundingRect() for n in (loss, adam)]
    assert not any(r.intersects(rect) for r in nodes), (rect, nodes)


def test_no_wire_label_covers_a_node_in_the_tours_graph(qtbot):
    """The README tour's layout at 1280×800 (tests/designer/tour.py), as the screenshot tool
    makes it: every shape pill and word sits clear of the nodes it does not connect (a pill
    pushed off its wire's middle by its own end nodes once covered the next Linear's port)."""
    from designer.mainwindow import MainWindow
    from tests.designer import tour

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    ids = tour.build(window, tour.tour_text())
    # where the screenshot tool's window put them (a pixel or two decides where a label fits)
    corners = ((62, 148), (300, 176), (538, 186), (62, 344), (300, 345), (538, 334))
    window.document.move_nodes(dict(zip(ids, corners, strict=True)))
    for node_id in (ids[1], ids[3]):  # the Linears' gradient bands, as after a run
        window.scene.set_run_overlay(node_id, "‖∇‖ 0.014", QColor("#2ca02c"))
    window.scene.flush()
    # a node with its ports, which stick out of its body
    nodes = {nid: item.sceneBoundingRect().united(item.mapRectToScene(item.childrenBoundingRect()))
             for nid, item in window.scene.node_items.items()}
    for edge, item in window.scene.edge_items.items():
        rect = item.label_rect()
        if rect.isNull():
            continue
        others = [r for nid, r in nodes.items() if nid not in (edge.source.node, edge.target.node)]
        assert not any(r.intersects(rect) for r in others), (edge, item.label, rect)
