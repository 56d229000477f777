"""The exported training loop as code: runtime/export/loop.py imported and run on a tiny model.

The loop trains the stand-in network of runtime/export/this_graph.py; single names of the
graph's part (``penalty``, ``max_norm``, ``CLIP_GRAD_NORM``, ``count_correct``, ``VAL_CHUNK``...)
are replaced with ``monkeypatch`` to exercise what a graph changes. tests/runtime/test_export.py
runs the loop as part of every exported script against ``netwright train``.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import pathlib
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from graph import load_path
from runtime.export import export_python, loop, this_graph
from runtime.export.sources import MAIN, library, top_level_names
from tests.conftest import SAMPLES
from tests.imports import top_modules

CPU = torch.device("cpu")
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.json"))


def args(*argv: str):
    return loop.parse_args(["--device", "cpu", *argv])


def test_the_loop_imports_only_the_standard_library_torch_and_its_stand_in():
    modules = top_modules(inspect.getsource(loop), relative=True)
    assert modules == {"argparse", "gc", "json", "math", "os", "time", "torch", ".this_graph"}


def test_the_stand_in_network_trains_and_logs_every_epoch(tmp_path, capsys):
    metrics = tmp_path / "m.jsonl"
    history = loop.run(args("--epochs", "40", "--metrics-out", str(metrics), "--save", str(tmp_path / "w.pt")),
                       CPU, 0, 1)
    assert [r["epoch"] for r in history] == list(range(1, 41))
    assert list(history[0]) == ["epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr",
                                "epoch_seconds", "samples_per_second", "improved", "best_epoch"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["train_accuracy"] == 1.0 and history[-1]["val_accuracy"] == 1.0
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert lines == history
    out = capsys.readouterr().out
    assert "epoch 40/40  train_loss" in out and f"saved the weights to {tmp_path / 'w.pt'}" in out
    saved = torch.load(tmp_path / "w.pt", weights_only=True)
    assert set(saved) == {"hidden.weight", "hidden.bias", "out.weight", "out.bias"}


def test_the_epoch_loss_is_the_size_weighted_mean_of_the_batch_losses(monkeypatch):
    """With lr 0 the weights never move: batches of 5, 5 and 2 rows average to the loss of the
    whole split, and the accuracy counts every row once."""
    monkeypatch.setattr(loop, "make_optimizer", lambda model: torch.optim.SGD(model.parameters(), lr=0.0))
    (record,) = loop.run(args("--epochs", "1", "--batch-size", "5"), CPU, 0, 1)
    torch.manual_seed(0)
    model = this_graph.Model()
    x, y, _, _ = this_graph.load_data()
    with torch.no_grad():
        prediction = model(torch.as_tensor(x))
        whole = nn.CrossEntropyLoss()(prediction, torch.as_tensor(y)).item()
        correct = (prediction.argmax(1) == torch.as_tensor(y)).sum().item()
    assert record["train_loss"] == pytest.approx(whole, rel=1e-6)
    assert record["train_accuracy"] == correct / len(x)


def test_validation_in_chunks_gives_the_sums_of_one_pass(monkeypatch):
    whole = loop.run(args("--epochs", "2"), CPU, 0, 1)
    monkeypatch.setattr(loop, "VAL_CHUNK", 3)  # four validation rows: chunks of 3 and 1
    chunked = loop.run(args("--epochs", "2"), CPU, 0, 1)
    for a, b in zip(whole, chunked):
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-6)
        assert b["val_accuracy"] == a["val_accuracy"]
        assert b["train_loss"] == a["train_loss"]


def test_without_count_correct_the_records_have_no_accuracy(monkeypatch):
    monkeypatch.setattr(loop, "count_correct", None)
    (record,) = loop.run(args("--epochs", "1"), CPU, 0, 1)
    assert "train_accuracy" not in record and "val_accuracy" not in record
    assert math.isfinite(record["train_loss"]) and math.isfinite(record["val_loss"])


def test_penalty_clipping_and_max_norm_run_once_a_step_where_the_graph_has_them(monkeypatch):
    calls = {"penalty": 0, "max_norm": 0, "clip": []}

    def penalty(model):
        calls["penalty"] += 1
        return 0.01 * model.hidden.weight.abs().sum()

    def max_norm(model):
        calls["max_norm"] += 1
        with torch.no_grad():
            model.out.weight.clamp_(-0.3, 0.3)

    clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda p, c: calls["clip"].append(c) or clip(p, c))
    plain = loop.run(args("--epochs", "2", "--batch-size", "4"), CPU, 0, 1)
    assert calls == {"penalty": 0, "max_norm": 0, "clip": []}  # the stand-in has none of them
    monkeypatch.setattr(loop, "penalty", penalty)
    monkeypatch.setattr(loop, "max_norm", max_norm)
    monkeypatch.setattr(loop, "CLIP_GRAD_NORM", 0.5)
    training = loop.Training(args("--batch-size", "4"), CPU)
    records = [training.epoch(1), training.epoch(2)]
    assert calls["penalty"] == calls["max_norm"] == len(calls["clip"]) == 6  # 12 rows in batches of 4
    assert set(calls["clip"]) == {0.5}
    assert training.model.out.weight.abs().max().item() <= 0.3
    assert records[1]["train_loss"] != plain[1]["train_loss"]  # they changed the training


def test_the_reported_loss_leaves_the_penalty_out(monkeypatch):
    """train_loss is the data loss (as in the app); the penalty only steers the weights."""
    monkeypatch.setattr(loop, "make_optimizer", lambda model: torch.optim.SGD(model.parameters(), lr=0.0))
    plain = loop.run(args("--epochs", "1"), CPU, 0, 1)
    monkeypatch.setattr(loop, "penalty", lambda model: 100.0 * model.hidden.weight.abs().sum())
    penalised = loop.run(args("--epochs", "1"), CPU, 0, 1)
    assert penalised[0]["train_loss"] == plain[0]["train_loss"]


def test_an_epoch_does_no_per_step_work_beyond_the_step(monkeypatch):
    """No host sync per batch: a step reads no loss value (SGD: Adam reads its step count)."""
    monkeypatch.setattr(loop, "make_optimizer", lambda model: torch.optim.SGD(model.parameters(), lr=0.1))
    items = []
    item = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda t: items.append(1) or item(t))
    training = loop.Training(args("--batch-size", "1"), CPU)  # 12 steps
    training.epoch(1)
    assert len(items) == 4  # per epoch: train loss, train accuracy, val loss, val accuracy


def test_shares_give_each_process_its_rows_of_every_batch():
    training = loop.Training.__new__(loop.Training)
    training.n_train, training.batch_size, training.device = 11, 4, CPU
    order = torch.randperm(11)
    for world_size in (1, 2, 3, 5):
        seen = []
        weights = {}
        for rank in range(world_size):
            training.rank, training.world_size = rank, world_size
            shares = list(training.shares(order))
            assert training.share_sizes().tolist() == [len(rows) for rows, _ in shares]
            for k, (rows, weight) in enumerate(shares):
                seen += rows.tolist()
                weights[k] = weights.get(k, 0.0) + weight
        assert sorted(seen) == list(range(11))
        assert all(w == pytest.approx(world_size) for w in weights.values())  # averaged: one batch's gradient


def test_early_stopping_waits_patience_epochs_and_keeps_the_best_weights(monkeypatch):
    monkeypatch.setattr(loop, "PATIENCE", 2)
    monkeypatch.setattr(loop, "MIN_DELTA", 0.1)
    model = nn.Linear(1, 1)
    stopping = loop.EarlyStopping()
    decisions = []
    for epoch, val in enumerate([1.0, 0.5, 0.45, 0.6, 0.7], start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        record = {"epoch": epoch, "train_loss": 9.0, "val_loss": val}
        decisions.append((stopping.update(model, record), record["improved"], record["best_epoch"]))
    assert decisions == [(False, True, 1), (False, True, 2), (False, False, 2), (True, False, 2), (True, False, 2)]
    assert stopping.best_state["weight"].item() == 2.0
    monkeypatch.setattr(loop, "RESTORE_BEST", False)
    other = loop.EarlyStopping()
    other.update(model, {"epoch": 1, "train_loss": 1.0, "val_loss": None})  # no validation: the train loss
    assert other.best == 1.0 and other.best_state is None


def test_a_diverged_run_stops_with_a_message_naming_the_step():
    with pytest.raises(SystemExit, match="diverged at epoch 3, step 2: the loss became nan"):
        loop.diverged(3, [torch.tensor(1.0), torch.tensor(math.nan), torch.tensor(2.0)], 0.1)


def test_command_line_defaults_are_the_graph_settings():
    a = loop.parse_args([])
    assert (a.epochs, a.seed, a.device, a.batch_size, a.weights) == (
        this_graph.EPOCHS, this_graph.SEED, this_graph.DEVICE, this_graph.BATCH_SIZE, this_graph.INITIAL_WEIGHTS)
    with pytest.raises(SystemExit, match="--batch-size must be 0"):
        loop.main(["--batch-size", "-1", "--epochs", "1"])


# ------------------------------------------------------------------ in the scripts


@pytest.fixture(scope="module")
def scripts() -> dict[str, str]:
    return {name: export_python(load_path(SAMPLES / f"{name}.json"), str(SAMPLES)) for name in SAMPLE_NAMES}


def test_every_script_copies_the_loop_verbatim(scripts):
    lib = library(loop)
    defs = lib.closure({"main", MAIN})
    assert {d.name for d in defs} >= {"main", "parse_args", "train", "run", "fit", "Training", "EarlyStopping",
                                      "log", "pick_device", "setup_distributed", "all_sum", MAIN}
    for name, text in scripts.items():
        training = text.split("# -------- Training, copied from Netwright's runtime/export/loop.py")[1]
        for d in defs:
            assert d.text in training, (name, d.name)
        assert "#?" not in text, name


def test_every_script_defines_what_the_loop_takes_from_this_graph(scripts):
    lib = library(loop)
    wanted = lib.provided(lib.closure({"main", MAIN}))
    assert wanted == {n for n, i in lib.imports.items() if i.level}  # the loop uses every name it imports
    for name, text in scripts.items():
        ours = text.split("# -------- This graph")[1].split("# -------- Training")[0]
        settings = text.split("# -------- ")[0]
        assert wanted <= top_level_names(settings + ours), (name, wanted - top_level_names(settings + ours))


def test_optional_parts_are_plain_python_in_the_graph_section(scripts):
    """A graph without penalties, constraints or classes says so with None; with them, a function."""
    sine = scripts["sine_regression"]
    for line in ("count_correct = None", "penalty = None", "max_norm = None", "CLIP_GRAD_NORM = 0.0"):
        assert line in sine
    l1 = scripts["l1_vs_l2"]
    assert "def penalty(model):" in l1 and "def count_correct(prediction, target):" in l1
    assert all("CLIP_GRAD_NORM = " in text for text in scripts.values())


def test_no_exporter_module_keeps_code_in_strings():
    """Code in scripts is copied from modules, or written a line at a time from the graph: no
    string constant of the export package holds a block of code or a template flag."""
    for path in sorted(pathlib.Path(loop.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert "#?" not in node.value, path
                try:
                    statements = ast.parse(textwrap.dedent(node.value)).body
                except SyntaxError:
                    continue  # prose
                compound = (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.If, ast.With, ast.Try)
                assert len(statements) < 3 and not any(isinstance(s, compound) for s in statements), (
                    path, node.value[:80])


def test_load_data_of_the_stand_in_gives_arrays():
    x, y, xv, yv = this_graph.load_data()
    assert x.dtype == np.float32 and y.dtype == np.int64 and len(x) == 12 and len(xv) == 4
