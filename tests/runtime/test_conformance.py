"""Every node type in the catalogue builds, runs forward and backward, and agrees with its
declared shape rule and parameter count (the graph package's static view of torch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graph import PortRef, analyze
from graph.catalogue import INIT_CHOICES, REGISTRY
from runtime.build import build_model, training_plan
from runtime.modules import LOSS_FAMILIES
from runtime.train import Trainer
from tests.runtime.graphs import epochs_of, layers, make_graph, npz_data

torch.set_num_threads(1)

# A valid per-sample input for each layer/activation type (with its default parameters).
INPUT_SHAPES = {
    "Conv1d": (3, 9), "MaxPool1d": (3, 8), "AvgPool1d": (3, 8),
    "Conv2d": (2, 7, 7), "MaxPool2d": (2, 6, 6), "AvgPool2d": (2, 6, 6), "BatchNorm2d": (3, 4, 4),
    "LSTM": (5, 3), "GRU": (5, 3), "Flatten": (2, 3, 4), "Embedding": (7,),
}
PARAMS = {"Reshape": {"shape": [3, -1]}, "Concat": {"dim": -1}}
LAYER_TYPES = sorted(t for t, nt in REGISTRY.items() if nt.category in ("layer", "activation"))


def _layer_graph(tmp_path, type_id: str, params: dict | None = None, shape: tuple | None = None):
    shape = shape or INPUT_SHAPES.get(type_id, (6,))
    rng = np.random.default_rng(0)
    n = 8
    if type_id == "Embedding":
        x = rng.integers(0, 16, (n, *shape)).astype(np.int64)
    else:
        x = rng.normal(size=(n, *shape)).astype(np.float32)
    y = (np.arange(n) % 2).astype(np.int64)
    params = {**PARAMS.get(type_id, {}), **(params or {})}

    def body(g, prev):
        node = g.add_node(type_id, params, node_id="x")
        if type_id in ("Add", "Concat"):
            for _ in range(2):  # two branches into the many-input port
                branch = g.add_node("Identity")
                g.connect(prev, PortRef(branch.id, "input"))
                g.connect(PortRef(branch.id, "output"), PortRef(node.id, "inputs"))
        else:
            g.connect(prev, PortRef(node.id, "input"))
        return layers("Flatten", ("Linear", {"out_features": 2}))(g, PortRef(node.id, "output"))

    return make_graph(npz_data(tmp_path, x, y), body), x


def _check_node(tmp_path, type_id: str, params: dict | None = None, shape: tuple | None = None) -> None:
    g, x = _layer_graph(tmp_path, type_id, params, shape)
    a = analyze(g, str(tmp_path))
    assert a.valid, [f.text(g) for f in a.errors]
    torch.manual_seed(0)
    model = build_model(g, str(tmp_path), analysis=a)
    xb = torch.from_numpy(x[:4])
    with model.capturing(["x"]) as acts:
        pred = model(xb)
    # the shape rule equals torch's real output shape (batch axis excluded)
    assert tuple(acts["x"].shape) == (4, *a.outputs["x"]["output"].shape)
    assert tuple(pred.shape) == (4, 2)
    # parameter count from the catalogue equals torch's
    module = model.node_module("x")
    real = sum(p.numel() for p in module.parameters()) if module is not None else 0
    assert a.params["x"] == real
    # backward reaches every parameter of the node
    torch.nn.functional.cross_entropy(pred, torch.tensor([0, 1, 0, 1])).backward()
    if module is not None:
        for name, p in module.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("type_id", LAYER_TYPES)
def test_layer_builds_runs_and_matches_its_shape_rule(tmp_path, type_id):
    _check_node(tmp_path, type_id)


@pytest.mark.parametrize("type_id, params, shape", [
    ("LSTM", {"output": "sequence", "bidirectional": True, "num_layers": 2}, (5, 3)),
    ("GRU", {"output": "last", "bidirectional": True, "hidden_size": 4}, (6, 2)),
    ("GRU", {"output": "sequence"}, (4, 3)),
    ("Conv2d", {"stride": 2, "padding": 1, "dilation": 2, "kernel_size": 3, "bias": False}, (3, 9, 9)),
    ("Conv1d", {"stride": 3, "padding": 2, "kernel_size": 5}, (2, 11)),
    ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (2, 7, 7)),
    ("AvgPool1d", {"kernel_size": 2, "stride": 1}, (2, 5)),
    ("BatchNorm1d", {"affine": False}, (3, 5)),
    ("Maxout", {"pieces": 3, "out_features": 5, "bias": False}, (4,)),
    ("Linear", {"dropconnect": 0.5}, (6,)),
    ("Conv1d", {"dropconnect": 0.3}, (3, 9)),
    ("Conv2d", {"dropconnect": 0.3}, (2, 7, 7)),
    ("Maxout", {"dropconnect": 0.4}, (6,)),
    ("Reshape", {"shape": [2, 3, -1]}, (12,)),
    ("Concat", {"dim": 0}, (2, 3)),
    ("Softmax", {"dim": 0}, (3, 4)),
    ("LogSoftmax", {"dim": -1}, (3, 4)),
])
def test_layer_variants(tmp_path, type_id, params, shape):
    _check_node(tmp_path, type_id, params, shape)


@pytest.mark.parametrize("scheme", INIT_CHOICES)
@pytest.mark.parametrize("type_id", ["Linear", "Conv2d", "Maxout", "Embedding", "LSTM"])
def test_every_init_choice_builds_every_parametric_type(tmp_path, type_id, scheme):
    params = {"weight_init": scheme}
    if "bias_init" in REGISTRY[type_id].param_index:
        params.update(bias_init="constant", bias_value=0.25)
    _check_node(tmp_path, type_id, params)


def _train(tmp_path, g, epochs=2):
    return Trainer(g, str(tmp_path), epochs=epochs, seed=0, device="cpu", progress_interval=0).run()


LOSS_SETUPS = {
    # loss: (layers before the loss, target kind)
    "CrossEntropyLoss": ([("Linear", {"out_features": 3})], "classes"),
    "NLLLoss": ([("Linear", {"out_features": 3}), "LogSoftmax"], "classes"),
    "MultiMarginLoss": ([("Linear", {"out_features": 3})], "classes"),
    "BCELoss": ([("Linear", {"out_features": 1}), "Sigmoid"], "two classes"),
    "BCEWithLogitsLoss": ([("Linear", {"out_features": 1})], "two classes"),
    "MSELoss": ([("Linear", {"out_features": 3})], "classes"),
    "L1Loss": ([("Linear", {"out_features": 2})], "real"),
    "SmoothL1Loss": ([("Linear", {"out_features": 2})], "real"),
}


def test_every_loss_has_a_setup():
    assert set(LOSS_SETUPS) == {t for t, nt in REGISTRY.items() if nt.category == "loss"} == set(LOSS_FAMILIES)


@pytest.mark.parametrize("loss", sorted(LOSS_SETUPS))
def test_loss_trains_on_its_targets(tmp_path, loss):
    body, kind = LOSS_SETUPS[loss]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    if kind == "real":
        y = (x[:, :2] * 0.5).astype(np.float32)
    else:
        k = 2 if kind == "two classes" else 3
        y = (np.arange(30) % k).astype(np.int64)
    g = make_graph(npz_data(tmp_path, x, y, val_split=0.2), layers(*body), loss=loss, opt="Adam",
                   opt_params={"lr": 0.05})
    result = _train(tmp_path, g, epochs=15)
    recs = epochs_of(result.records)
    assert all(np.isfinite(r["train_loss"]) for r in recs)
    assert recs[-1]["train_loss"] < recs[0]["train_loss"]
    if kind != "real":
        assert 0.0 <= recs[-1]["train_accuracy"] <= 1.0 and recs[-1]["val_accuracy"] is not None
        classes = result.predict_classes(x)
        assert classes.shape == (30,) and set(np.unique(classes)) <= set(range(3))
    else:
        assert "train_accuracy" not in recs[-1]
        assert result.predict(x).shape == (30, 2)


@pytest.mark.parametrize("opt", sorted(t for t, nt in REGISTRY.items() if nt.category == "optimizer"))
def test_every_optimizer_reduces_the_loss(tmp_path, opt):
    x, y = np.random.default_rng(2).normal(size=(40, 3)).astype(np.float32), (np.arange(40) % 2).astype(np.int64)
    x[:, 0] += 3 * y
    params = {"lr": 0.05}
    if opt == "SGD":
        params.update(momentum=0.9, nesterov=True)
    plan_graph = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 2})), opt=opt,
                            opt_params=params)
    plan = training_plan(plan_graph, str(tmp_path))
    assert plan.optimizer_type == opt
    recs = epochs_of(_train(tmp_path, plan_graph, epochs=10).records)
    assert recs[-1]["train_loss"] < recs[0]["train_loss"]


@pytest.mark.parametrize("schedule, params, expected", [
    ("StepLR", {"step_size": 2, "gamma": 0.5}, [0.1, 0.1, 0.05, 0.05, 0.025]),
    ("ExponentialLR", {"gamma": 0.5}, [0.1, 0.05, 0.025, 0.0125, 0.00625]),
])
def test_every_schedule_sets_the_epoch_learning_rate(tmp_path, schedule, params, expected):
    assert {schedule for schedule in ("StepLR", "ExponentialLR")} == {
        t for t, nt in REGISTRY.items() if nt.category == "schedule"}
    x, y = np.ones((4, 2), np.float32), np.array([0, 1, 0, 1])
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 2})), opt="SGD",
                   opt_params={"lr": 0.1}, schedule=(schedule, params))
    recs = epochs_of(_train(tmp_path, g, epochs=5).records)
    assert [r["lr"] for r in recs] == pytest.approx(expected)


def test_dataset_node_trains_from_a_builtin_set(tmp_path):
    g = make_graph({"dataset": "moons", "n_samples": 40, "batch_size": 8},
                   layers(("Linear", {"out_features": 8}), "Tanh", ("Linear", {"out_features": 2})))
    result = _train(tmp_path, g, epochs=2)
    start = result.records[0]
    assert start["kind"] == "start" and start["n_train"] == 32 and start["n_val"] == 8
    assert start["steps_per_epoch"] == 4
