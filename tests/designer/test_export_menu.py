"""Export ▸ Python Script… and Export ▸ ONNX Model… in the real window, before and after a run:
the files written (the script and its weights file, named after it), the header, the weights
each export starts from, and the message that says so. The exported script runs in a
subprocess and starts where the run ended.

The same ``runtime.export.export_to`` serves ``netwright export`` (tests/runtime/test_export.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from designer.training import ModelExporter, TrainingController
from graph import load_path
from tests.conftest import SAMPLES

RUN_TIMEOUT_MS = 180_000
EPOCHS = 120  # XOR, full batch: enough for the loss to fall far from where a fresh start is


@pytest.fixture
def tour(window, tmp_path, monkeypatch):
    """The README tour's XOR graph saved as xor_tour.json and open; every export is answered
    with ``tour.answer(path)`` and every message kept in ``tour.told``."""
    source = tmp_path / "graphs" / "xor_tour.json"
    source.parent.mkdir()
    shutil.copy(SAMPLES / "xor_mlp.json", source)
    doc = json.loads(source.read_text())
    doc["settings"]["epochs"] = EPOCHS
    source.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    assert window.open_path(source, ask=False)
    controller: TrainingController = window.training.controller
    exporter: ModelExporter = window.training.exporter
    t = SimpleNamespace(controller=controller, source=source, told=[], path="")
    t.answer = lambda path: setattr(t, "path", str(path))
    monkeypatch.setattr(exporter, "choose_export_path", lambda caption, suggested, filters: t.path)
    monkeypatch.setattr(exporter, "inform", lambda title, text: t.told.append(text))
    monkeypatch.setattr(exporter, "show_error", lambda title, text: pytest.fail(f"{title}: {text}"))
    monkeypatch.setattr(controller, "show_run_error", lambda title, text: pytest.fail(f"{title}: {text}"))
    return t


def export_python(window, tour, path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    tour.answer(path)
    window.actionExportPython.trigger()
    assert tour.told, "no message after the export"
    return tour.told[-1]


def export_onnx(window, tour, path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    tour.answer(path)
    window.actionExportOnnx.trigger()
    return tour.told[-1]


def train(qtbot, window, controller):
    window.actionTrain.trigger()
    assert controller.active
    with qtbot.waitSignal(controller.run_finished, timeout=RUN_TIMEOUT_MS):
        pass
    qtbot.waitUntil(lambda: controller.thread_count() == 0, timeout=5000)
    run = controller.run
    assert run.status == "completed", run.message
    return run


def run_script(script, tmp_path) -> list[dict]:
    """One epoch of the exported script on the CPU in a clean subprocess; its metrics lines."""
    metrics = tmp_path / f"{script.stem}-{script.parent.name}.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    p = subprocess.run([sys.executable, "-I", str(script), "--epochs", "1", "--device", "cpu",
                        "--metrics-out", str(metrics)], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return [json.loads(line) for line in metrics.read_text().splitlines()]


def header(script) -> list[str]:
    lines = script.read_text(encoding="utf-8").splitlines()
    return lines[: lines.index("")]  # the comment block above the imports


def flat(lines: list[str]) -> str:
    return " ".join(line.lstrip("#").strip() for line in lines)


def test_exports_before_a_run_after_it_and_after_an_edit_say_which_weights(qtbot, window, tour, tmp_path):
    # (a) before any run: fresh seeded weights, no weights file, and the message says so
    fresh = tmp_path / "before" / "xor_tour.py"
    text = export_python(window, tour, fresh)
    assert sorted(os.listdir(fresh.parent)) == ["xor_tour.py"]
    assert str(fresh) in text and "fresh weights initialised with seed 0" in text
    assert "no run of this graph has finished yet" in text and "weights.pt" not in text
    top = flat(header(fresh))
    assert "Source: xor_tour.json" in top and "an unsaved graph" not in top
    assert "python xor_tour.py --epochs N" in top and "python train.py" not in top
    assert "Starts from fresh weights initialised with seed 0" in top
    assert "INITIAL_WEIGHTS = None" in fresh.read_text()
    assert str(fresh) in window.statusBar().currentMessage()
    text = export_onnx(window, tour, tmp_path / "before" / "xor_tour.onnx")
    assert "ONNX model" in text and "holds fresh weights initialised with seed 0" in text

    # (b) after a finished run of exactly this graph: its best checkpoint, copied beside the script
    run = train(qtbot, window, tour.controller)
    assert run.best_epoch == EPOCHS  # the loss fell every epoch
    script = tmp_path / "after" / "xor_tour.py"
    text = export_python(window, tour, script)
    weights = script.parent / "xor_tour.weights.pt"
    assert sorted(os.listdir(script.parent)) == ["xor_tour.py", "xor_tour.weights.pt"]
    assert str(script) in text and str(weights) in text
    assert f"best weights of Run {run.run_id} (epoch {EPOCHS})" in text and "fresh" not in text
    top = flat(header(script))
    assert "Source: xor_tour.json" in top and "python xor_tour.py --epochs N" in top
    assert f"Starts from the best weights of Run {run.run_id} (epoch {EPOCHS}), copied next to this " \
           "script as xor_tour.weights.pt." in top
    assert 'INITIAL_WEIGHTS = os.path.join(HERE, "xor_tour.weights.pt")' in script.read_text()
    best = torch.load(os.path.join(run.checkpoint_dir, "best.pt"), weights_only=True)["model"]
    saved = torch.load(weights, weights_only=True)
    assert saved.keys() == best.keys() and all(torch.equal(saved[k], best[k]) for k in best)

    # the script runs and continues where the run ended, not where a fresh start begins
    last_loss = run.epochs[-1]["train_loss"]
    first_fresh = run_script(fresh, tmp_path)[0]["train_loss"]
    first_trained = run_script(script, tmp_path)[0]["train_loss"]
    assert first_fresh == pytest.approx(run.epochs[0]["train_loss"], rel=1e-5)  # the same seeded start
    assert abs(first_trained - last_loss) < 0.1 * abs(first_fresh - last_loss)
    assert first_trained == pytest.approx(last_loss, rel=0.05)

    model = tmp_path / "after" / "xor_tour.onnx"
    text = export_onnx(window, tour, model)
    assert str(model) in text and f"holds the best weights of Run {run.run_id} (epoch {EPOCHS})" in text
    stored = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(model)).graph.initializer}
    for key, tensor in best.items():
        np.testing.assert_array_equal(stored[key], tensor.numpy())

    # the run is found by what it trained (the document's content token), not by comparing texts
    assert run.content_token == window.document.content_token()
    assert window.training.exporter.trained_run() is run

    # moving a node changes no weight: the run's weights still apply
    node = window.document.graph.nodes["n3"]
    window.document.move_nodes({"n3": (node.position[0] + 40, node.position[1])})
    moved = tmp_path / "moved" / "xor_tour.py"
    assert f"best weights of Run {run.run_id}" in export_python(window, tour, moved)
    assert "Source: xor_tour.json (with unsaved changes)" in flat(header(moved))

    # (c) the graph changed since the run: its weights do not fit, fresh ones and the reason
    window.document.set_param("n2", "out_features", 8)
    changed = tmp_path / "changed" / "xor_tour.py"
    text = export_python(window, tour, changed)
    assert sorted(os.listdir(changed.parent)) == ["xor_tour.py"]
    assert "fresh weights initialised with seed 0" in text
    assert f"the graph changed since Run {run.run_id}, so its weights were not used" in text
    assert "INITIAL_WEIGHTS = None" in changed.read_text()
    assert "out_features=8" in changed.read_text()
    assert "the graph changed since" in flat(header(changed))
    text = export_onnx(window, tour, tmp_path / "changed" / "xor_tour.onnx")
    assert "holds fresh weights" in text and f"the graph changed since Run {run.run_id}" in text

    # undo the edit: exactly the trained graph again, so the run's weights again
    window.document.undo_stack.undo()
    again = tmp_path / "undone" / "xor_tour.py"
    assert f"best weights of Run {run.run_id}" in export_python(window, tour, again)
    assert (again.parent / "xor_tour.weights.pt").exists()


def test_an_unsaved_graph_is_named_so_and_a_shadowing_name_is_refused(window, tmp_path, monkeypatch):
    window.document.reset(load_path(SAMPLES / "xor_mlp.json"))  # never saved: no path
    exporter = window.training.exporter
    told, errors = [], []
    monkeypatch.setattr(exporter, "inform", lambda title, text: told.append(text))
    monkeypatch.setattr(exporter, "show_error", lambda title, text: errors.append(text))
    script = tmp_path / "tour.py"
    monkeypatch.setattr(exporter, "choose_export_path", lambda caption, suggested, filters: str(script))
    window.actionExportPython.trigger()
    top = flat(header(script))
    assert "Source: an unsaved graph" in top and "python tour.py --epochs N" in top
    assert told and not errors
    shadow = tmp_path / "torch.py"
    monkeypatch.setattr(exporter, "choose_export_path", lambda caption, suggested, filters: str(shadow))
    window.actionExportPython.trigger()
    assert len(told) == 1 and errors and "shadow" in errors[-1] and not shadow.exists()
