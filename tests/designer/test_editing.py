"""Editing gestures and window behaviour, driven through real widgets and Qt events."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QSpinBox

from designer.commands import MoveNodesCommand
from designer.mainwindow import MainWindow
from graph import catalogue, fileformat
from graph.document import PortRef
from tests.conftest import ROOT, SAMPLES
from tests.designer.helpers import (
    click_empty,
    click_node,
    drag,
    drop_file,
    drop_node,
    port_point,
    type_into,
    view_point,
    wire,
)


def header_point(window, node_id: str, dx: float = 100, dy: float = 12) -> QPoint:
    return view_point(window, window.scene.node_items[node_id].mapToScene(QPointF(dx, dy)))


def open_xor(window) -> dict[str, str]:
    assert window.open_path(SAMPLES / "xor_mlp.json")
    QApplication.processEvents()  # the deferred fit-to-view runs first
    window.canvas.reset_zoom()
    window.canvas.centerOn(window.scene.node_items["n3"])
    QApplication.processEvents()
    return {n.title or n.type: n.id for n in window.document.graph.nodes.values()}


def test_palette_search_tooltip_and_double_click(window, qtbot):
    panel = window.palette_panel
    QTest.keyClicks(panel.search, "conv2")
    model = window.palette.model()
    visible = [model.index(r, 0, model.index(c, 0)).data() for c in range(model.rowCount())
               for r in range(model.rowCount(model.index(c, 0)))]
    assert visible == ["Conv2d"]
    index = panel.index_of("Conv2d")
    assert "convolution" in index.data(Qt.ItemDataRole.ToolTipRole).lower()
    rect = window.palette.visualRect(index)
    QTest.mouseClick(window.palette.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    QTest.mouseDClick(window.palette.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    (nid,) = window.document.graph.nodes
    assert window.document.graph.nodes[nid].type == "Conv2d"
    assert window.scene.selected_node_ids() == [nid]
    center = window.canvas.mapToScene(window.canvas.viewport().rect().center())
    assert window.scene.node_items[nid].body_rect().contains(center)


def test_refused_wire_turns_red_and_says_why(window, qtbot):
    ids = open_xor(window)
    vp = window.canvas.viewport()
    edges = list(window.document.graph.edges)
    # Tanh's output back into the hidden layer's input: a cycle (and the input is taken).
    start, end = port_point(window, ids["Tanh"], "output", True), port_point(window, ids["hidden"], "input", False)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(vp, (start + end) / 2)
    assert window.scene.wire is not None and window.scene.wire.state == "search"
    QTest.mouseMove(vp, end)
    assert window.scene.wire.state == "refused"
    assert window.statusBar().currentMessage().startswith("Cannot connect:")
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert window.scene.wire is None
    assert window.document.graph.edges == edges and window.document.undo_stack.count() == 0
    # A loss output into a tensor input: different kinds never connect.
    add = window.document.add_node("ReLU", (600.0, 300.0))
    QApplication.processEvents()
    drag(window, port_point(window, ids["loss"], "loss", True), port_point(window, add, "input", False))
    assert "cannot connect a loss output to a tensor input" in window.statusBar().currentMessage()
    assert not window.document.graph.edges_into(add)


def test_wire_from_input_port_backwards_and_disconnect(window, qtbot):
    ids = open_xor(window)
    doc = window.document
    relu = drop_node(window, "ReLU", window.canvas.mapFromScene(QPointF(600, 400)))
    wire(window, ids["hidden"], "output", relu, "input")
    assert doc.graph.edges_into(relu)
    # The wire's item is selectable: selecting it and deleting removes just that wire.
    edge = doc.graph.edges_into(relu)[0]
    window.scene.clearSelection()
    window.scene.edge_items[edge].setSelected(True)
    window.actionDelete.trigger()
    assert edge not in doc.graph.edges and relu in doc.graph.nodes
    # Dragging from an input port to an output port connects the same way.
    drag(window, port_point(window, relu, "input", False), port_point(window, ids["hidden"], "output", True))
    assert doc.graph.edges_into(relu)[0].source == PortRef(ids["hidden"], "output")


def test_drag_moves_selection_as_one_undo_step(window, qtbot):
    ids = open_xor(window)
    doc = window.document
    a, b = ids["hidden"], ids["Tanh"]
    click_node(window, a)
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     header_point(window, b))
    assert window.scene.selected_node_ids() == [a, b]
    old = {n: doc.graph.nodes[n].position for n in (a, b)}
    start = header_point(window, a)
    drag(window, start, start + QPoint(0, 120), steps=8)
    assert doc.undo_stack.count() == 1
    assert isinstance(doc.undo_stack.command(0), MoveNodesCommand)
    for n in (a, b):
        assert doc.graph.nodes[n].position == (old[n][0], old[n][1] + 120)
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {n: doc.graph.nodes[n].position for n in (a, b)} == old
    assert window.scene.node_items[a].pos() == QPointF(*old[a])


def test_rubber_band_selects_and_delete_is_exactly_undoable(window, qtbot):
    ids = open_xor(window)
    doc = window.document
    before = doc.text()
    ra = window.scene.node_items[ids["hidden"]].sceneBoundingRect()
    rb = window.scene.node_items[ids["Tanh"]].sceneBoundingRect()
    drag(window, view_point(window, ra.topLeft() - QPointF(20, 40)), view_point(window, rb.bottomRight() + QPointF(10, 10)))
    assert window.scene.selected_node_ids() == [ids["hidden"], ids["Tanh"]]
    window.actionDelete.trigger()
    assert ids["hidden"] not in doc.graph.nodes and ids["Tanh"] not in doc.graph.nodes
    assert all(ids["hidden"] not in (e.source.node, e.target.node) for e in doc.graph.edges)
    assert doc.undo_stack.count() == 1
    window.actionUndo.trigger()
    assert doc.text() == before
    window.actionRedo.trigger()
    assert ids["Tanh"] not in window.scene.node_items


def test_copy_paste_duplicate_cut(window, qtbot):
    ids = open_xor(window)
    doc = window.document
    window.scene.select_nodes([ids["hidden"], ids["Tanh"]])
    window.actionCopy.trigger()
    window.actionPaste.trigger()
    new = window.scene.selected_node_ids()
    assert len(new) == 2 and not set(new) & set(ids.values())
    assert [doc.graph.nodes[n].type for n in new] == ["Linear", "Tanh"]
    assert [e for e in doc.graph.edges if e.source.node in new and e.target.node in new] == [
        fileformat.Edge(PortRef(new[0], "output"), PortRef(new[1], "input"))]
    assert doc.graph.nodes[new[0]].position != doc.graph.nodes[ids["hidden"]].position
    assert doc.graph.nodes[new[0]].params == doc.graph.nodes[ids["hidden"]].params
    window.actionDuplicate.trigger()
    dup = window.scene.selected_node_ids()
    assert len(dup) == 2 and not set(dup) & set(new)
    window.actionCut.trigger()
    assert not set(dup) & set(doc.graph.nodes)
    window.actionPaste.trigger()
    assert len(doc.graph.nodes) == 10
    for _ in range(4):
        window.actionUndo.trigger()
    assert doc.text() == fileformat.dumps(fileformat.load_path(SAMPLES / "xor_mlp.json"))


def test_paste_of_damaged_clipboard_is_refused(window, qtbot):
    open_xor(window)
    mime = QMimeData()
    mime.setData("application/x-netwright-fragment", b'{"format": "netwright-graph", "nodes": 5}')
    QApplication.clipboard().setMimeData(mime)
    before = window.document.text()
    assert window.paste() == []
    assert "damaged" in window.statusBar().currentMessage()
    assert window.document.text() == before


def test_inspector_validates_while_typing_and_scrubbing_merges(window, qtbot):
    ids = open_xor(window)
    doc = window.document
    click_node(window, ids["hidden"])
    editor = window.inspector.editors["out_features"]
    spin = editor.widget
    assert isinstance(spin, QSpinBox)
    assert spin.toolTip().startswith(catalogue.get("Linear").param("out_features").doc)
    line = spin.lineEdit()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Delete)
    QTest.keyClicks(line, "0")
    assert "out_features must be an integer in [1," in editor.problem
    assert doc.graph.nodes[ids["hidden"]].params["out_features"] == 4
    type_into(spin, "12")
    assert doc.graph.nodes[ids["hidden"]].params["out_features"] == 12 and not editor.problem
    # Scrubbing with the arrow key: many steps, one undo step.
    count = doc.undo_stack.count()
    for _ in range(5):
        QTest.keyClick(spin, Qt.Key.Key_Up)
    assert doc.graph.nodes[ids["hidden"]].params["out_features"] == 17
    assert doc.undo_stack.count() == count  # merged into the step typed just before
    doc.undo_stack.undo()
    assert doc.graph.nodes[ids["hidden"]].params["out_features"] == 4
    assert spin.value() == 4  # the editor follows the model
    # Floats show their exact short text; ints lists are validated the same way.
    click_node(window, ids["optimizer"])
    lr = window.inspector.editors["lr"].widget
    assert lr.text() == "0.05"
    type_into(lr, "1e-3")
    assert doc.graph.nodes[ids["optimizer"]].params["lr"] == 0.001
    click_empty(window)
    assert window.inspector.target is None
    type_into(window.inspector.editors["epochs"].widget, "12")
    assert doc.graph.settings["epochs"] == 12


def test_problems_panel_selects_node_and_fix_is_one_step(window, qtbot, tmp_path):
    doc = window.document
    data = doc.add_node("Dataset", (0.0, 0.0), {"dataset": "iris"})
    lin = doc.add_node("Linear", (300.0, 0.0), {"out_features": 3})
    soft = doc.add_node("Softmax", (600.0, 0.0))
    loss = doc.add_node("CrossEntropyLoss", (900.0, 0.0))
    opt = doc.add_node("Adam", (1200.0, 0.0))
    for a, ap, b, bp in [(data, "features", lin, "input"), (lin, "output", soft, "input"),
                         (soft, "output", loss, "prediction"), (data, "target", loss, "target"),
                         (loss, "loss", opt, "loss")]:
        doc.connect(PortRef(a, ap), PortRef(b, bp))
    path = tmp_path / "double_softmax.json"
    assert window.save_to(path)
    with qtbot.waitSignal(doc.analysis_changed, timeout=5000):  # the Problems panel follows it
        assert window.open_path(path)
    problems = window.problems
    rows = [f.code for f in problems.findings()]
    assert "double-softmax" in rows
    row = rows.index("double-softmax")
    item = problems.topLevelItem(row)
    QTest.mouseClick(problems.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     problems.visualItemRect(item).center())
    assert window.scene.selected_node_ids() == [loss]
    badge = window.scene.node_items[loss].badge
    assert badge is not None and badge.isVisible() and "applies softmax itself" in badge.toolTip()
    before = doc.text()
    button = problems.fix_button(row)
    assert button is not None and "Remove the Softmax" in button.text()
    with qtbot.waitSignal(doc.analysis_changed, timeout=5000):
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    assert soft not in doc.graph.nodes and doc.undo_stack.count() == 1
    assert "double-softmax" not in [f.code for f in problems.findings()]
    window.actionUndo.trigger()
    assert doc.text() == before


def test_error_badge_and_status_bar(window, qtbot):
    doc = window.document
    with qtbot.waitSignal(doc.analysis_changed, timeout=5000):  # badges follow the analysis
        lin = doc.add_node("Linear", (0.0, 0.0))
    item = window.scene.node_items[lin]
    assert item.has_error and "input 'input' is not connected" in item.badge.toolTip()
    assert "error" in window.validity_label.text()
    with qtbot.waitSignal(doc.analysis_changed, timeout=5000):
        open_xor(window)
    assert window.params_label.text() == "Parameters: 17"
    assert "error" not in window.validity_label.text()


def test_title_modified_marker_new_open_and_close_ask(window, qtbot, prompts, tmp_path):
    open_xor(window)
    assert window.windowTitle().startswith("xor_mlp.json") and not window.isWindowModified()
    window.document.set_setting("epochs", 5)
    assert window.isWindowModified()
    prompts.answers["save_changes"] = "cancel"
    assert window.new_document() is False and window.document.graph.nodes
    assert window.open_path(SAMPLES / "digits_mlp.json") is False
    assert window.document.path.endswith("xor_mlp.json")
    assert window.close() is False and window.isVisible()
    prompts.answers["save_changes"] = "save"
    copy = tmp_path / "copy.json"
    copy.write_bytes((SAMPLES / "xor_mlp.json").read_bytes())
    assert window.open_path(copy, ask=False)
    window.document.set_setting("epochs", 6)
    window.actionNew.trigger()
    assert not window.document.graph.nodes and window.windowTitle().startswith("Untitled")
    assert fileformat.load_path(copy).settings["epochs"] == 6  # "save" saved it first
    assert prompts.asked.count("save_changes") == 4


def test_save_untitled_asks_for_a_path_and_open_recent(window, qtbot, prompts, tmp_path):
    window.document.add_node("ReLU", (0.0, 0.0))
    target = tmp_path / "fresh.json"
    prompts.answers["save_path"] = str(target)
    window.actionSave.trigger()
    assert target.exists() and window.document.path == str(target)
    assert window.recent_files()[0] == str(target)
    window.actionNew.trigger()
    window.recent_menu.aboutToShow.emit()
    action = next(a for a in window.recent_menu.actions() if a.text() == "fresh.json")
    action.trigger()
    assert window.document.path == str(target) and len(window.document.graph.nodes) == 1


def test_save_failure_keeps_document(window, qtbot, prompts, tmp_path):
    window.document.add_node("ReLU", (0.0, 0.0))
    assert window.save_to(tmp_path / "no" / "such" / "folder.json") is False
    assert prompts.errors and "folder.json" in prompts.errors[0][1]
    assert window.document.is_modified() and window.document.graph.nodes


def test_dropping_a_file_opens_it(window, qtbot, prompts, tmp_path):
    drop_file(window.canvas.viewport(), SAMPLES / "digits_mlp.json")
    assert window.document.path == str(SAMPLES / "digits_mlp.json")
    drop_file(window, SAMPLES / "xor_mlp.json")  # anywhere on the window
    assert window.document.path == str(SAMPLES / "xor_mlp.json")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    drop_file(window.canvas.viewport(), other)
    assert prompts.errors and "notes.txt" in prompts.errors[0][1]
    assert window.document.path == str(SAMPLES / "xor_mlp.json")


def test_zoom_and_fit(window, qtbot):
    open_xor(window)
    z = window.canvas.zoom()
    window.actionZoomIn.trigger()
    assert window.canvas.zoom() > z
    QTest.keyClick(window.canvas, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert abs(window.canvas.zoom() - z) < 1e-9
    window.actionFit.trigger()
    view_rect = window.canvas.mapToScene(window.canvas.viewport().rect()).boundingRect()
    assert view_rect.contains(window.scene.nodes_rect())


def test_autosave_writes_recovery_file_and_save_removes_it(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("NETWRIGHT_AUTOSAVE_SECONDS", "0.05")
    window = MainWindow()
    qtbot.addWidget(window)
    rec_dir = os.environ["NETWRIGHT_RECOVERY_DIR"]
    window.document.add_node("ReLU", (0.0, 0.0))
    qtbot.waitUntil(lambda: os.path.exists(window.recovery.file), timeout=2000)
    assert window.save_to(tmp_path / "saved.json")
    assert not os.path.exists(window.recovery.file)
    window.document.undo_stack.undo()  # modified again: autosaved again
    qtbot.waitUntil(lambda: os.path.exists(window.recovery.file), timeout=2000)
    window.document.undo_stack.redo()  # back to the saved state: nothing to recover
    assert not os.path.exists(window.recovery.file)
    assert os.path.isdir(rec_dir)


def test_window_appears_without_importing_torch():
    code = ("import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]); "
            "from designer import MainWindow; w = MainWindow(offer_recovery=False); w.show(); "
            "w.open_path('samples/xor_mlp.json'); app.processEvents(); print('torch' in sys.modules)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
