"""Hostile files opened through ``open_path`` show an error naming the file and the reason and
leave the open document exactly as it was (graph, path, unsaved state, undo history)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLES

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
