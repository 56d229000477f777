"""Hostile files opened through ``open_path`` show an error naming the file and the reason and
leave the open document exactly as it was (graph, path, unsaved state, undo history).

Issue 14 ("nothing blocks, nothing is lost"): a 5,000-digit integer once escaped ``open_path`` as
a ValueError, so File ▸ Open showed nothing and a recovery file holding one stopped every start.
Here it is opened every way a user can (``open_path``, File ▸ Open, a drop on the canvas and on
the window), and a hypothesis property opens hundreds of generated hostile files
(``tests/graph/hostile_gen.py``) in one window: one dialog per refused file naming the file and
the JSON path, no exception anywhere (Qt virtuals included), the window usable afterwards."""

from __future__ import annotations

import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from designer.mainwindow import MainWindow
from graph import FileFormatError, fileformat, loads
from tests.conftest import SAMPLES
from tests.designer.helpers import drop_file
from tests.graph.hostile_gen import Hostile, hostile_cases

GOOD = (SAMPLES / "xor_mlp.json").read_text(encoding="utf-8")
DOC = json.loads(GOOD)


def mutate(fn) -> bytes:
    doc = json.loads(GOOD)
    fn(doc)
    return json.dumps(doc).encode()


def _cycle(doc: dict) -> None:
    doc["edges"].append({"from": {"node": "n3", "port": "output"}, "to": {"node": "n2", "port": "input"}})
    doc["edges"] = [e for e in doc["edges"] if not (e["from"]["node"] == "n1" and e["to"]["node"] == "n2")]


HOSTILE = {
    "empty": b"",
    "truncated": GOOD.encode()[: len(GOOD) // 2],
    "not_utf8": b'{"format": "netwright-graph", "title": "\xff\xfe\xfa"}',
    "binary": bytes(range(256)) * 4,
    "top_level_list": b"[1, 2, 3]",
    "wrong_format": mutate(lambda d: d.update(format="something-else")),
    "future_version": mutate(lambda d: d.update(version=999)),
    "nodes_not_list": mutate(lambda d: d.update(nodes="x")),
    "node_not_object": mutate(lambda d: d["nodes"].append(42)),
    "unknown_type": mutate(lambda d: d["nodes"][1].update(type="os.system")),
    "param_wrong_type": mutate(lambda d: d["nodes"][1]["params"].update(out_features="four")),
    "huge_int": mutate(lambda d: d["nodes"][1]["params"].update(out_features=10**400)),
    "negative_int": mutate(lambda d: d["nodes"][1]["params"].update(out_features=-5)),
    "unknown_param": mutate(lambda d: d["nodes"][1]["params"].update(__class__="x")),
    "bad_position": mutate(lambda d: d["nodes"][1].update(position=["a", None])),
    "huge_position": mutate(lambda d: d["nodes"][1].update(position=[1e300, 0])),
    "duplicate_id": mutate(lambda d: d["nodes"].append(dict(d["nodes"][0]))),
    "edge_to_missing_node": mutate(lambda d: d["edges"].append({"from": {"node": "n1", "port": "features"},
                                                               "to": {"node": "nope", "port": "input"}})),
    "edge_wrong_port": mutate(lambda d: d["edges"][0]["to"].update(port="weights")),
    "cycle": mutate(_cycle),
    "nan": GOOD.replace('"lr": 0.05', '"lr": NaN').encode(),
    "duplicate_keys": b'{"format": "netwright-graph", "format": "x", "version": 1, "nodes": [], "edges": []}',
    "deep_nesting": b'{"format": "netwright-graph", "version": 1, "nodes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "long_title": mutate(lambda d: d["nodes"][1].update(title="x" * 10_000)),
}


@pytest.fixture
def edited(window):
    """A window with a file open and an unsaved edit: what a hostile open must not disturb."""
    assert window.open_path(SAMPLES / "digits_mlp.json")
    window.document.add_node("ReLU", (100.0, 700.0))
    window.document.set_setting("epochs", 3)
    return window


def test_hostile_files_show_error_and_keep_document(edited, prompts, tmp_path):
    # One window for all files (a window costs ~0.5 s to build); each case names itself on failure.
    doc = edited.document
    for name, data in sorted(HOSTILE.items()):
        prompts.errors.clear()
        prompts.asked.clear()
        before = (doc.text(), doc.path, doc.is_modified(), doc.undo_stack.count(), doc.undo_stack.index())
        bad = tmp_path / f"{name}.json"
        bad.write_bytes(data)
        assert edited.open_path(bad) is False, name
        assert len(prompts.errors) == 1, name
        title, text = prompts.errors[0]
        assert title == "Cannot open file" and str(bad) in text and len(text) > len(str(bad)) + 10, name
        assert "save_changes" not in prompts.asked, name  # refused before anything is asked
        after = (doc.text(), doc.path, doc.is_modified(), doc.undo_stack.count(), doc.undo_stack.index())
        assert after == before, name
        assert set(edited.scene.node_items) == set(doc.graph.nodes), name
        assert edited.isWindowModified(), name


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_unreadable_paths(edited, prompts, tmp_path, what):
    before = edited.document.text()
    path = tmp_path / "missing.json" if what == "missing" else tmp_path
    assert edited.open_path(path) is False
    assert prompts.errors and str(path) in prompts.errors[0][1]
    assert edited.document.text() == before


# ------------------------------------------------------------------ issue 14


FIVE_THOUSAND_DIGITS = GOOD.replace('"epochs": 300', '"epochs": ' + "9" * 5_000).encode()


def open_by(window, prompts, route: str, path) -> None:
    if route == "open_path":
        window.open_path(path)
    elif route == "menu":  # File ▸ Open, the file dialog answered with ``path``
        prompts.answers["open_path"] = str(path)
        window.actionOpen.trigger()
    elif route == "drop_canvas":
        drop_file(window.canvas.viewport(), path)
    else:
        drop_file(window, path)


ROUTES = ["open_path", "menu", "drop_canvas", "drop_window"]


def assert_usable(window, qtbot) -> None:
    """The window still works: a sample opens, Train becomes available, a node can be added."""
    assert window.open_path(SAMPLES / "xor_mlp.json")
    qtbot.waitUntil(lambda: window.document.analysis().valid and window.actionTrain.isEnabled())
    before = set(window.document.graph.nodes)
    new = window.add_node("ReLU", QPointF(100.0, 600.0))
    assert new and set(window.document.graph.nodes) == before | {new} and new in window.scene.node_items
    window.document.undo_stack.undo()
    assert set(window.document.graph.nodes) == before


@pytest.mark.parametrize("route", ROUTES)
def test_a_5000_digit_integer_is_one_dialog_by_every_way_of_opening(window, prompts, qtbot, tmp_path, route):
    bad = tmp_path / "xor_5000_digits.json"
    bad.write_bytes(FIVE_THOUSAND_DIGITS)
    before = window.document.text()
    with qtbot.capture_exceptions() as exceptions:
        open_by(window, prompts, route, bad)
    assert not exceptions, exceptions
    assert prompts.errors == [("Cannot open file", f"{bad}\n\n$.settings.epochs: an integer of 5000 digits; "
                                                   "at most 100 are accepted")]
    assert window.document.text() == before and window.document.path == ""
    assert_usable(window, qtbot)


def test_a_recovery_file_holding_a_5000_digit_integer_does_not_stop_the_start(qtbot, prompts):
    folder = os.environ["NETWRIGHT_RECOVERY_DIR"]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "gone-1234.recovery.json"), "w", encoding="utf-8") as fh:
        json.dump({"netwright-recovery": 1, "path": "", "saved_at": 0.0,
                   "graph": FIVE_THOUSAND_DIGITS.decode()}, fh)
    with qtbot.capture_exceptions() as exceptions:
        window = MainWindow()  # offers recovery while it starts
        qtbot.addWidget(window)
    assert not exceptions, exceptions
    assert not [a for a in prompts.asked if a.startswith("recover")]  # nothing to offer
    window.show()
    assert_usable(window, qtbot)


def expected_outcome(case: Hostile) -> FileFormatError | str:
    """What opening ``case`` must give: its FileFormatError, or the text the document will hold."""
    try:
        return fileformat.dumps(loads(case.data))
    except FileFormatError as exc:
        return exc


def test_hundreds_of_hostile_files_in_one_window(window, prompts, qtbot, tmp_path):
    """One window, every generated hostile file opened by a drawn route; each refused file is one
    dialog naming the file and the reason (with its JSON path); nothing raises, not even inside a
    Qt virtual (drops): ``capture_exceptions`` collects what Qt's event loop would only print."""
    counter = itertools.count()
    seen = {"refused": 0, "opened": 0}

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=hostile_cases(), route=st.sampled_from(ROUTES))
    def open_one(case: Hostile, route: str) -> None:
        path = tmp_path / f"hostile{next(counter)}.json"
        path.write_bytes(case.data)
        prompts.errors.clear()
        doc = window.document
        before = (doc.text(), doc.path)
        expected = expected_outcome(case)
        with qtbot.capture_exceptions() as exceptions:
            open_by(window, prompts, route, path)
            QApplication.processEvents()  # deferred work (analysis, fit) runs here, still captured
            doc.analysis()
        os.unlink(path)
        assert not exceptions, f"{case} via {route}: {exceptions[0][1]!r}"
        if isinstance(expected, FileFormatError):
            seen["refused"] += 1
            assert len(prompts.errors) == 1, f"{case} via {route}: {prompts.errors}"
            title, text = prompts.errors[0]
            assert title == "Cannot open file" and text == f"{path}\n\n{expected}", (case, text[:300])
            assert (doc.text(), doc.path) == before, case
        else:
            seen["opened"] += 1
            assert prompts.errors == [], f"{case} via {route}: {prompts.errors}"
            assert doc.path == str(path) and doc.text() == expected, case
        assert set(window.scene.node_items) == set(doc.graph.nodes), case

    open_one()
    assert seen["refused"] >= 150 and seen["opened"] >= 10, seen
    assert_usable(window, qtbot)
