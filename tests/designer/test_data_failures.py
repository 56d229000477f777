"""Data that cannot be read, in the real window: a graph whose CSV path is a device or a FIFO
opens at once with the finding in the Problems panel; a CSV deleted after the graph was checked
fails the run as a data error naming the node and the file, marks the node on the canvas, and
the status bar no longer says "Ready to train"."""

from __future__ import annotations

import os

import pytest

from designer.run_types import ErrorKind
from graph import save_path
from tests.designer.test_training import RUN_TIMEOUT_MS, wait_finished
from tests.graph.test_data_paths import KINDS, csv_graph, hostile_path, never_opened  # noqa: F401

GOOD_CSV = "a,b,y\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40))


def problems_of(window) -> list[str]:
    return [f.text(window.document.graph) for f in window.problems.findings()]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file kinds")
@pytest.mark.parametrize("kind", ["/dev/zero", "fifo"])
def test_a_graph_whose_data_is_a_device_or_fifo_opens_at_once_with_the_finding(
        qtbot, window, tmp_path, never_opened, kind):  # noqa: F811
    path = kind if kind.startswith("/") else hostile_path(tmp_path, kind)
    never_opened.add(os.path.realpath(path))  # opening would block or read forever: fail instead
    graph_file = tmp_path / "g.json"
    save_path(csv_graph(path), graph_file)
    assert window.open_path(graph_file, ask=False)
    words = KINDS["null"] if kind.startswith("/") else KINDS[kind]
    expected = f"error: 'data' (n1, Dataset): CSV file path '{path}' is {words}, not a regular file"
    qtbot.waitUntil(lambda: expected in problems_of(window), timeout=5000)
    assert "Ready to train" not in window.validity_label.text()
    assert window.scene.node_items["n1"].isVisible()  # the window goes on drawing the graph


def open_csv_graph(qtbot, window, tmp_path):
    """Open a one-epoch graph over tmp_path/d.csv, checked valid; returns the run controller."""
    graph_file = tmp_path / "g.json"
    save_path(csv_graph("d.csv"), graph_file)
    assert window.open_path(graph_file, ask=False)
    window.training.panel.epochs_spin.setValue(1)
    qtbot.waitUntil(lambda: "Ready to train" in window.validity_label.text(), timeout=5000)
    return window.training.controller


def test_a_csv_deleted_before_training_fails_as_a_data_error_of_the_node(qtbot, window, tmp_path):
    csv_path = tmp_path / "d.csv"
    csv_path.write_text(GOOD_CSV)
    controller = open_csv_graph(qtbot, window, tmp_path)

    os.remove(csv_path)
    with qtbot.waitSignal(controller.run_failed, timeout=RUN_TIMEOUT_MS) as failed:
        window.actionTrain.trigger()
    failure = failed.args[0]
    assert failure.kind is ErrorKind.DATA and failure.node_id == "n1"
    message = failure.message
    assert message.startswith("Node 'data' (n1, Dataset): cannot open CSV file ") and str(csv_path) in message
    assert "Cannot build the model" not in message
    assert window.scene.node_items["n1"].run_text.startswith("✖")
    assert controller.error_box is not None and controller.error_box.windowTitle() == "Cannot load the data"
    # The status bar: the failure on the left, the analysis of the file as it is now on the right.
    assert str(csv_path) in window.statusBar().currentMessage()
    assert "Ready to train" not in window.validity_label.text()
    assert any("No such file" in text and "'data' (n1, Dataset)" in text for text in problems_of(window))
    assert controller.data_failure == message
    wait_finished(qtbot, controller)
    assert controller.run.status == "failed"


def test_a_bad_row_found_while_training_shows_in_the_status_bar_until_the_next_run(qtbot, window, tmp_path):
    """Analysis reads the header and the target only, so it still finds the graph valid: the
    status bar must say what the run found, and stop saying it when the data is mended."""
    csv_path = tmp_path / "d.csv"
    csv_path.write_text(GOOD_CSV + "1,oops,0\n")
    controller = open_csv_graph(qtbot, window, tmp_path)
    with qtbot.waitSignal(controller.run_failed, timeout=RUN_TIMEOUT_MS):
        window.actionTrain.trigger()
    wait_finished(qtbot, controller)
    assert not window.document.analysis().errors  # analysis cannot see the row
    assert window.validity_label.text().startswith("✖ Data cannot be loaded")
    assert "row 42" in window.validity_label.toolTip()

    csv_path.write_text(GOOD_CSV)
    with qtbot.waitSignal(controller.run_finished, timeout=RUN_TIMEOUT_MS):
        window.actionTrain.trigger()
    assert controller.run.status == "completed"
    assert "Ready to train" in window.validity_label.text()
