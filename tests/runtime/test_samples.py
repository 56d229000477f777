"""Every sample graph shows the effect its description promises, trained headless with seed 0.

The samples and their promises live together in ``tests/tools/build_samples.py``: each ``Sample``
has ``expect = {"check": <name>, thresholds...}``; the checks below train it (through
``runtime.train.Trainer`` on the CPU) and assert those thresholds, never recorded numbers. Some
checks train a variant of the same graph to compare against (the same graph with L2 instead of
L1, other optimizers, random instead of zero init...): the comparison is the effect.

Also here: the committed files are exactly what the build script writes, every sample
validates, and each shows no findings except those it is meant to show.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from graph import Graph, analyze, load_path
from runtime.data import load_dataset
from runtime.errors import DivergedError
from runtime.train import Trainer
from tests.conftest import SAMPLES
from tests.tools import build_samples

ALL = build_samples.SAMPLES
IDS = [s.name for s in ALL]


# ---------------------------------------------------------------- files and findings


def test_build_script_reproduces_the_committed_files(tmp_path):
    problems = build_samples.write(tmp_path)
    assert problems == []
    for rel, data in build_samples.render().items():
        assert (SAMPLES / rel).read_bytes() == data, f"samples/{rel} is stale: run tests/tools/build_samples.py"
    written = {p.name for p in SAMPLES.glob("*.json")}
    assert written == {f"{s.name}.json" for s in ALL}, "every sample file comes from the build script"


@pytest.mark.parametrize("sample", ALL, ids=IDS)
def test_sample_validates_with_only_its_intended_findings(sample):
    g = load_path(SAMPLES / f"{sample.name}.json")
    a = analyze(g, str(SAMPLES))
    assert a.valid, [f.text(g) for f in a.errors]
    assert sorted({f.code for f in a.findings}) == sorted(sample.findings), [f.text(g) for f in a.findings]
    assert g.settings["title"] and g.settings["description"] and g.settings["seed"] == 0
    assert 2 <= len(re.findall(r"[.!?](?:\s|$)", g.settings["description"])) <= 4, "2-4 sentences"


# ---------------------------------------------------------------- training helpers


def load(name: str) -> Graph:
    return load_path(SAMPLES / f"{name}.json")


def train(graph: Graph, epochs: int | None = None):
    """Train on the CPU with seed 0; returns (epoch records, end record, result)."""
    result = Trainer(graph, str(SAMPLES), epochs=epochs, seed=0, device="cpu").run()
    end = next(r for r in result.records if r["kind"] == "end")
    return [r for r in result.records if r["kind"] == "epoch"], end, result


def nodes_of(graph: Graph, *types: str) -> list[str]:
    return [nid for nid in graph.topological_order() if graph.nodes[nid].type in types]


def replace_node(graph: Graph, nid: str, type_id: str, params: dict | None = None) -> None:
    """Swap a node for another type under the same id, keeping its place and wires."""
    node, index, edges = graph.remove_node(nid)
    graph.add_node(type_id, params or {}, node.position, node.title, node_id=nid, index=index)
    for i, e in edges:
        graph.connect(e.source, e.target, index=i)


def val_split(graph: Graph) -> tuple[torch.Tensor, torch.Tensor]:
    data = graph.nodes[nodes_of(graph, "Dataset")[0]]
    b = load_dataset(data.params, str(SAMPLES))
    return torch.from_numpy(np.asarray(b.x_val)), torch.from_numpy(np.asarray(b.y_val))


def predict(result, x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(result.predict(x.numpy()))


# ---------------------------------------------------------------- the checks


def check_final(sample, graph, expect):
    """The last epoch's ``metric`` is at least ``min`` / at most ``max``."""
    records, end, _ = train(graph, sample.test_epochs)
    value = records[-1][expect["metric"]]
    if "min" in expect:
        assert value >= expect["min"], f"{expect['metric']} = {value}"
    if "max" in expect:
        assert value <= expect["max"], f"{expect['metric']} = {value}"
        if expect["metric"].endswith("accuracy"):  # a ceiling holds for the whole run
            assert max(r[expect["metric"]] for r in records) <= expect["max"]
    return value


def check_grad_ratio(sample, graph, expect):
    """First epoch: grad_norm of the first Linear layer / grad_norm of the last one."""
    records, _, _ = train(graph, sample.test_epochs)
    linears = nodes_of(graph, "Linear")
    assert len(linears) >= 9, "the pair compares a deep MLP (>= 8 hidden layers)"
    grads = records[0]["grad_norm"]
    ratio = grads[linears[0]] / grads[linears[-1]]
    if "max" in expect:
        assert ratio <= expect["max"], ratio
    if "min" in expect:
        assert ratio >= expect["min"], ratio
    return ratio


def check_dead(sample, graph, expect):
    """dead_fraction of the ReLU-like nodes: some layer >= ``min`` at the end, or all <= ``max`` always."""
    records, _, _ = train(graph, sample.test_epochs)
    acts = nodes_of(graph, "ReLU", "LeakyReLU", "ELU")
    assert acts and all(set(acts) <= set(r["dead_fraction"]) for r in records)
    if "min" in expect:
        worst = max(records[-1]["dead_fraction"][a] for a in acts)
        assert worst >= expect["min"], records[-1]["dead_fraction"]
        return worst
    worst = max(r["dead_fraction"][a] for r in records for a in acts)
    assert worst <= expect["max"], worst
    return worst


def check_saturated(sample, graph, expect):
    """saturated_fraction of a Sigmoid/Tanh layer >= ``min`` in every epoch; the loss plateaus."""
    records, _, _ = train(graph, sample.test_epochs)
    acts = nodes_of(graph, "Sigmoid", "Tanh")
    shares = [max(r["saturated_fraction"][a] for a in acts) for r in records]
    assert min(shares) >= expect["min"], shares
    losses = [r["train_loss"] for r in records]
    assert min(losses[len(losses) // 2:]) >= 0.9 * losses[len(losses) // 2], "the loss keeps falling"
    return min(shares)


def check_symmetry(sample, graph, expect):
    """Zero init: after training every hidden unit's weights are equal and the loss barely moved,
    while the same graph with random init learns."""
    records, _, result = train(graph, sample.test_epochs)
    hidden = nodes_of(graph, "Linear")[0]
    w = result.model.node_module(hidden).weight.detach().cpu()
    assert torch.allclose(w, w[0].expand_as(w), rtol=0, atol=1e-6), "hidden units drifted apart"
    first, last = records[0]["train_loss"], records[-1]["train_loss"]
    assert (first - last) / first <= expect["max_loss_drop"], (first, last)
    for nid in nodes_of(graph, "Linear"):
        graph.set_param(nid, "weight_init", "default")
        graph.set_param(nid, "bias_init", "default")
    random_records, _, _ = train(graph, sample.test_epochs)
    assert random_records[-1]["val_accuracy"] >= expect["random_init_accuracy"]
    return (first - last) / first


def check_early_stop(sample, graph, expect):
    """Val loss turns up while train loss falls; early stopping ends the run and restores the best."""
    records, end, result = train(graph)
    assert end is not None and end["reason"] == "early_stopped", end
    assert len(records) <= expect["max_epochs"], len(records)
    val = [r["val_loss"] for r in records]
    best = int(np.argmin(val))
    assert records[best]["epoch"] == end["best_epoch"]
    assert val[-1] >= 1.1 * val[best], "validation loss did not turn up"
    assert records[-1]["train_loss"] < records[best]["train_loss"], "training loss did not keep falling"
    x, y = val_split(graph)
    restored = torch.nn.functional.cross_entropy(predict(result, x), y).item()
    assert restored == pytest.approx(val[best], rel=1e-4), "the best epoch's weights were not restored"
    return len(records)


def check_regularized(sample, graph, expect):
    """Ends with a validation loss at most ``max_ratio`` of the unregularised baseline's after as many epochs."""
    records, _, _ = train(graph, sample.test_epochs)
    baseline = load(expect["baseline"])
    baseline.set_setting("patience", 0)
    base_records, _, _ = train(baseline, len(records))
    ratio = records[-1]["val_loss"] / base_records[-1]["val_loss"]
    assert ratio <= expect["max_ratio"], (records[-1]["val_loss"], base_records[-1]["val_loss"])
    return ratio


def _tiny_share(graph, sample, tiny):
    records, _, result = train(graph, sample.test_epochs)
    w = torch.cat([result.model.node_module(n).weight.detach().abs().flatten() for n in nodes_of(graph, "Linear")])
    return float((w < tiny).float().mean()), records


def check_l1_l2(sample, graph, expect):
    """Share of |w| < tiny with the sample's L1 against the same graph with the same L2 instead."""
    l1_share, records = _tiny_share(graph, sample, expect["tiny"])
    for nid in nodes_of(graph, "Linear"):
        strength = graph.nodes[nid].params["l1"]
        assert strength > 0
        graph.set_param(nid, "l1", 0.0)
        graph.set_param(nid, "l2", strength)
    l2_share, _ = _tiny_share(graph, sample, expect["tiny"])
    assert l1_share - l2_share >= expect["min_share_gap"], (l1_share, l2_share)
    assert records[-1]["val_accuracy"] >= 0.9, "L1 should leave a working model"
    return l1_share, l2_share


OPTIMIZER_VARIANTS = {
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
}


def check_optimizers(sample, graph, expect):
    """Swap the optimizer node (same lr, same seed, same batches): each listed variant ends with a
    training loss well below plain SGD's after the same epochs."""
    opt = nodes_of(graph, "SGD")[0]
    lr = graph.nodes[opt].params["lr"]
    sgd_records, _, _ = train(graph, sample.test_epochs)
    sgd = sgd_records[-1]["train_loss"]
    losses = {}
    for name in expect["better"]:
        type_id, params = OPTIMIZER_VARIANTS[name]
        variant = load(sample.name)
        replace_node(variant, opt, type_id, {"lr": lr, **params})
        losses[name] = train(variant, sample.test_epochs)[0][-1]["train_loss"]
    assert all(v < 0.75 * sgd for v in losses.values()), (sgd, losses)
    return sgd, losses


def check_lr_schedule(sample, graph, expect):
    """The recorded lr per epoch follows the Step schedule, and the Exponential one when swapped in."""
    opt = graph.nodes[nodes_of(graph, "Adam", "SGD")[0]]
    lr0 = opt.params["lr"]
    sched = nodes_of(graph, "StepLR")[0]
    step, gamma = graph.nodes[sched].params["step_size"], graph.nodes[sched].params["gamma"]
    records, _, _ = train(graph, sample.test_epochs)
    for r in records:
        assert r["lr"] == pytest.approx(lr0 * gamma ** ((r["epoch"] - 1) // step), rel=1e-9), r
    assert records[-1]["val_loss"] < records[0]["val_loss"]
    replace_node(graph, sched, "ExponentialLR", {"gamma": 0.9})
    records, _, _ = train(graph, 12)
    for r in records:
        assert r["lr"] == pytest.approx(lr0 * 0.9 ** (r["epoch"] - 1), rel=1e-9), r
    return len(records)


def check_whitened(sample, graph, expect):
    """Whitening statistics come from the training split only: the training features are
    decorrelated with unit variance, validation features are merely transformed. It still learns."""
    data = graph.nodes[nodes_of(graph, "Dataset")[0]].params
    b = load_dataset(data, str(SAMPLES))
    k = data["pca_components"]
    x = np.asarray(b.x_train, dtype=np.float64)
    assert x.shape[1] == k
    assert np.abs(x.mean(axis=0)).max() < 1e-4
    cov = x.T @ x / len(x)
    assert np.abs(cov - np.eye(k)).max() < 0.05  # identity up to eps/(variance + eps)
    v = np.asarray(b.x_val, dtype=np.float64)
    assert np.abs(v.mean(axis=0)).max() > 1e-3, "validation data looks fitted on itself"
    records, _, _ = train(graph, sample.test_epochs)
    assert records[-1]["val_accuracy"] >= expect["min_val_accuracy"]
    return records[-1]["val_accuracy"]


def check_multilabel(sample, graph, expect):
    """Independent sigmoid outputs: every attribute is predicted right for >= min_accuracy of the validation set."""
    _, _, result = train(graph, sample.test_epochs)
    x, y = val_split(graph)
    probs = predict(result, x)
    assert probs.shape == y.shape and y.shape[1] > 1
    per_attribute = ((probs > 0.5) == (y > 0.5)).float().mean(dim=0)
    assert bool((per_attribute >= expect["min_accuracy"]).all()), per_attribute
    return per_attribute.tolist()


def check_diverges(sample, graph, expect):
    """lr 10: the run stops with a message naming the non-finite loss and the learning rate."""
    with pytest.raises(DivergedError) as info:
        train(graph, sample.test_epochs)
    message = str(info.value)
    low = message.lower()
    assert ("nan" in low or "inf" in low) and "learning rate" in low, message
    return message


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}


def test_every_sample_has_a_known_check():
    assert {s.expect["check"] for s in ALL} <= set(CHECKS)


@pytest.mark.slow
@pytest.mark.parametrize("sample", ALL, ids=IDS)
def test_sample_shows_its_effect(sample):
    outcome = CHECKS[sample.expect["check"]](sample, load(sample.name), sample.expect)
    print(f"{sample.name}: {outcome}")  # the measured effect, for `pytest -s`
