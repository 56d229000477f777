"""runtime.build: the graph becomes one nn.Module with stable names, refusing what cannot run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from graph import Graph, PortRef, analyze, load_path
from graph.catalogue import CATALOGUE, REGISTRY, Finding
from graph.tensors import TensorInfo
from runtime import modules
from runtime.build import (
    CUSTOM_MODULES,
    NN_MODULES,
    GraphModule,
    build_model,
    model_nodes,
    training_plan,
)
from runtime.errors import BuildError, NodeError
from tests.conftest import SAMPLES
from tests.runtime.graphs import blobs, layers, make_graph, npz_data

torch.set_num_threads(1)


def test_digits_cnn_parameter_count_equals_a_hand_written_model():
    g = load_path(SAMPLES / "digits_cnn.json")
    a = analyze(g, str(SAMPLES))
    hand = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10),
    )
    expected = sum(p.numel() for p in hand.parameters())
    assert a.total_params == expected
    model = build_model(g, str(SAMPLES), analysis=a)
    assert sum(p.numel() for p in model.parameters()) == expected
    out = model(torch.randn(3, 1, 8, 8))
    assert out.shape == (3, 10)


def test_state_dict_keys_are_node_ids_and_modules_follow_topological_order():
    g = load_path(SAMPLES / "digits_mlp.json")
    model = build_model(g, str(SAMPLES))
    assert list(model.state_dict()) == ["n2.weight", "n2.bias", "n4.weight", "n4.bias", "n6.weight", "n6.bias"]
    assert model.node_ids == ["n2", "n3", "n4", "n5", "n6"]
    assert isinstance(model.n2, nn.Linear) and model.n2.in_features == 64 and model.n6.out_features == 10


def test_odd_node_ids_are_sanitised_deterministically(tmp_path):
    x, y = blobs()
    g = Graph()
    d = g.add_node("Dataset", npz_data(tmp_path, x, y), node_id="data")
    a = g.add_node("Linear", {"out_features": 5}, node_id="hidden-1")
    b = g.add_node("ReLU", node_id="forward")
    c = g.add_node("Linear", {"out_features": 3}, node_id="_out")
    lo = g.add_node("CrossEntropyLoss", node_id="loss")
    o = g.add_node("SGD", node_id="opt")
    for src, dst in ((PortRef(d.id, "features"), PortRef(a.id, "input")), (PortRef(a.id, "output"), PortRef(b.id, "input")),
                     (PortRef(b.id, "output"), PortRef(c.id, "input")), (PortRef(c.id, "output"), PortRef(lo.id, "prediction")),
                     (PortRef(d.id, "target"), PortRef(lo.id, "target")), (PortRef(lo.id, "loss"), PortRef(o.id, "loss"))):
        g.connect(src, dst)
    keys = list(build_model(g, str(tmp_path)).state_dict())
    assert keys == ["hidden_1.weight", "hidden_1.bias", "n_out.weight", "n_out.bias"]
    assert keys == list(build_model(g, str(tmp_path)).state_dict())


def test_same_seed_same_weights_and_init_order_is_topological(tmp_path):
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 6, "weight_init": "he_normal"}),
                                                    "ReLU", ("Linear", {"out_features": 3, "weight_init": "xavier_uniform",
                                                                        "bias_init": "constant", "bias_value": 0.01})))
    a = build_model(g, str(tmp_path), seed=3).state_dict()
    b = build_model(g, str(tmp_path), seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.all(a["n4.bias"] == 0.01)
    # the same draws by hand: create n2, init n2, create n4, init n4
    torch.manual_seed(3)
    l1 = nn.Linear(4, 6)
    nn.init.kaiming_normal_(l1.weight, nonlinearity="relu")
    l2 = nn.Linear(6, 3)
    nn.init.xavier_uniform_(l2.weight)
    assert torch.equal(a["n2.weight"], l1.weight.detach()) and torch.equal(a["n4.weight"], l2.weight.detach())


def test_dag_with_branches_add_concat_and_a_skip(tmp_path):
    x, y = blobs(features=6)

    def body(g, prev):
        h = g.add_node("Linear", {"out_features": 6})
        g.connect(prev, PortRef(h.id, "input"))
        r = g.add_node("ReLU")
        g.connect(PortRef(h.id, "output"), PortRef(r.id, "input"))
        add = g.add_node("Add")  # residual: features + relu(linear(features))
        g.connect(prev, PortRef(add.id, "inputs"))
        g.connect(PortRef(r.id, "output"), PortRef(add.id, "inputs"))
        t = g.add_node("Tanh")
        g.connect(prev, PortRef(t.id, "input"))
        cat = g.add_node("Concat", {"dim": 0})
        g.connect(PortRef(add.id, "output"), PortRef(cat.id, "inputs"))
        g.connect(PortRef(t.id, "output"), PortRef(cat.id, "inputs"))
        out = g.add_node("Linear", {"out_features": 3})
        g.connect(PortRef(cat.id, "output"), PortRef(out.id, "input"))
        return PortRef(out.id, "output")

    g = make_graph(npz_data(tmp_path, x, y), body)
    model = build_model(g, str(tmp_path), seed=0)
    xb = torch.from_numpy(x[:5])
    ids = model.node_ids
    lin, out = model.node_module(ids[0]), model.node_module(ids[-1])
    expected = out(torch.cat([xb + torch.relu(lin(xb)), torch.tanh(xb)], dim=1))
    assert torch.allclose(model(xb), expected)


def test_nodes_not_leading_to_the_loss_are_left_out(tmp_path):
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 3})))
    stray = g.add_node("Linear", {"out_features": 7})
    g.connect(PortRef("n1", "features"), PortRef(stray.id, "input"))
    model = build_model(g, str(tmp_path))
    assert stray.id not in model.node_ids


def test_invalid_graph_is_refused_with_its_findings(tmp_path):
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 5})))  # 5 scores, 3 classes
    with pytest.raises(BuildError) as err:
        build_model(g, str(tmp_path))
    assert "3 classes" in str(err.value) and "'n3' (CrossEntropyLoss)" in str(err.value)
    assert err.value.findings and all(f.startswith("error:") for f in err.value.findings)
    g2 = Graph()
    g2.add_node("Linear")
    with pytest.raises(BuildError, match="no Dataset"):
        build_model(g2)


def test_data_that_disagrees_with_the_graph_is_refused(tmp_path):
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 3})))
    wrong = (TensorInfo((5,)), TensorInfo((), "int64", "classification", 3))
    with pytest.raises(BuildError, match="does not match"):
        build_model(g, str(tmp_path), wrong)


def test_a_failing_node_is_named(tmp_path):
    ids = np.array([[1, 2, 30], [0, 1, 2]], np.int64)  # 30 is past the vocabulary of 16
    g = make_graph(npz_data(tmp_path, ids, np.array([0, 1])),
                   layers(("Embedding", {"num_embeddings": 16, "embedding_dim": 2}), "Flatten",
                          ("Linear", {"out_features": 2})))
    model = build_model(g, str(tmp_path))
    with pytest.raises(NodeError) as err:
        model(torch.from_numpy(ids))
    assert err.value.node_id == "n2"
    assert str(err.value).startswith("Node 'n2' (Embedding): ")
    assert "index out of range" in str(err.value)


def test_capturing_records_activations_without_changing_results(tmp_path):
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 8}), "ReLU", ("Dropout", {"p": 0.5}),
                                                    ("Linear", {"out_features": 3})))
    model = build_model(g, str(tmp_path), seed=0)
    xb = torch.from_numpy(x)
    torch.manual_seed(5)
    plain = model(xb)
    torch.manual_seed(5)
    with model.capturing(["n3"]) as acts:
        captured = model(xb)
    assert torch.equal(plain, captured)  # no extra random numbers, no other numbers
    assert torch.equal(acts["n3"], torch.relu(model.n2(xb)).detach())
    assert model._capture is None


def test_targets_come_from_allow_lists_derived_from_the_catalogue():
    assert "Linear" in NN_MODULES and "Module" not in NN_MODULES and "Sequential" not in NN_MODULES
    assert {"LSTM", "GRU", "MultiheadAttention", "LayerNorm"} <= NN_MODULES
    declared = {t.dropconnect for t in REGISTRY.values() if t.dropconnect} | {
        t.target_name for t in REGISTRY.values() if t.target_kind == "custom"}
    assert set(CUSTOM_MODULES) == declared == {"Maxout", "DropConnectLinear", "DropConnectConv1d", "DropConnectConv2d"}
    assert all(CUSTOM_MODULES[name] is getattr(modules, name) for name in declared)
    assert isinstance(GraphModule(), nn.Module)


def test_model_nodes_is_the_traversal_the_model_is_built_in(tmp_path):
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 5}), "ReLU", ("Linear", {"out_features": 3})))
    side = g.add_node("Tanh")  # leads nowhere: not part of the model
    g.connect(PortRef("n2", "output"), PortRef(side.id, "input"))
    assert model_nodes(g) == ["n2", "n3", "n4"] == build_model(g, str(tmp_path)).node_ids


def test_call_convention_runs_attention_causally(tmp_path):
    """MultiheadAttention is nn.MultiheadAttention called as ``m(x, x, x, need_weights=False,
    attn_mask=causal_mask(x))[0]`` (its type's ``call``): with causal on, a change at the last
    step changes no earlier step's output."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 5, 8)).astype(np.float32), np.arange(6) % 2
    g = make_graph(npz_data(tmp_path, x, y), layers(("MultiheadAttention", {"num_heads": 2, "causal": True}),
                                                    "Flatten", ("Linear", {"out_features": 2})))
    model = build_model(g, str(tmp_path), seed=0).eval()
    assert isinstance(model.n2, nn.MultiheadAttention) and model.n2.batch_first
    xb = torch.from_numpy(x[:2])
    changed = xb.clone()
    changed[:, -1] += 1.0
    with model.capturing(["n2"]) as acts:
        model(xb)
        before = acts["n2"]
        model(changed)
        after = acts["n2"]
    assert before.shape == (2, 5, 8)
    assert torch.allclose(before[:, :-1], after[:, :-1], atol=1e-6) and not torch.allclose(before[:, -1], after[:, -1])


def test_recurrent_call_passes_on_the_last_step_or_the_sequence(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(4, 6, 3)).astype(np.float32), np.arange(4) % 2
    for output, shape in (("last", (4, 7)), ("sequence", (4, 6, 7))):
        g = make_graph(npz_data(tmp_path, x, y), layers(("GRU", {"hidden_size": 7, "output": output}),
                                                        "Flatten", ("Linear", {"out_features": 2})))
        model = build_model(g, str(tmp_path), seed=0)
        with model.capturing(["n2"]) as acts:
            model(torch.from_numpy(x))
        full = model.n2(torch.from_numpy(x))[0]
        assert acts["n2"].shape == shape
        assert torch.equal(acts["n2"], full[:, -1] if output == "last" else full)


def test_an_injected_catalogue_decides_what_a_type_builds(tmp_path):
    """build_model and analyze take the catalogue to resolve types from: here a Tanh that builds
    a Sigmoid and warns about itself, without touching the application's catalogue."""
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 4}), "Tanh", ("Linear", {"out_features": 3})))
    odd = dataclasses.replace(REGISTRY["Tanh"], torch="nn.Sigmoid",
                              lint=lambda view, nid: [Finding("warning", "odd-tanh", "not a tanh", nid)])
    types = CATALOGUE.with_types(odd)
    assert "odd-tanh" in {f.code for f in analyze(g, str(tmp_path), catalogue=types).findings}
    assert "odd-tanh" not in {f.code for f in analyze(g, str(tmp_path)).findings}
    assert isinstance(build_model(g, str(tmp_path), catalogue=types).n3, nn.Sigmoid)
    assert isinstance(build_model(g, str(tmp_path)).n3, nn.Tanh)
    assert REGISTRY["Tanh"].torch == "nn.Tanh"


@pytest.mark.parametrize("loss, before, family, threshold", [
    ("BCELoss", ["Sigmoid"], "binary", 0.5),
    ("BCEWithLogitsLoss", [], "binary", 0.0),
    ("CrossEntropyLoss", [], "class", 0.0),
])
def test_training_plan_carries_the_loss_types_family_and_threshold(tmp_path, loss, before, family, threshold):
    x, y = blobs(classes=2)
    out = 1 if family == "binary" else 2
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": out}), *before), loss=loss)
    plan = training_plan(g, str(tmp_path))
    assert (plan.loss_family, plan.binary_threshold) == (family, threshold)
    assert (REGISTRY[loss].family, REGISTRY[loss].threshold or 0.0) == (family, threshold)


def test_training_plan_reads_loss_optimizer_schedule_and_regularisation(tmp_path):
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 3, "l2": 0.01, "max_norm": 2.0})),
                   opt="Adam", opt_params={"lr": 0.02, "clip_grad_norm": 1.5}, loss_params={"label_smoothing": 0.1},
                   schedule=("StepLR", {"step_size": 3, "gamma": 0.5}))
    plan = training_plan(g, str(tmp_path))
    assert plan.loss_type == "CrossEntropyLoss" and plan.loss_kwargs == {"label_smoothing": 0.1}
    assert plan.optimizer_kwargs["lr"] == 0.02 and plan.clip_grad_norm == 1.5
    assert plan.scheduler_type == "StepLR" and plan.scheduler_kwargs == {"step_size": 3, "gamma": 0.5}
    assert plan.regularization == [("n2", 0.0, 0.01, 2.0)]
    assert plan.classification and plan.target.classes == 3
