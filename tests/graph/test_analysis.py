"""Analysis: shapes, parameter counts, and every lint rule with a graph that triggers it and one
that does not; fixes remove the finding they belong to."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from graph import Graph, PortRef, analyze, apply_fix, load_path
from graph.catalogue import Bridge, InsertBefore, Replace, SetParam
from graph.errors import SetParamHint, ShapeError
from tests.conftest import SAMPLES
from tests.graph.helpers import chain

DIGITS = {"dataset": "digits"}
DIGITS_IMG = {"dataset": "digits", "layout": "image"}
XOR = {"dataset": "xor"}
BREAST = {"dataset": "breast_cancer"}
SINE = {"dataset": "sine"}


def codes(g: Graph) -> set[str]:
    return {f.code for f in analyze(g).findings}


def finding(g: Graph, code: str):
    return next(f for f in analyze(g).findings if f.code == code)


def fixed(g: Graph, code: str) -> Graph:
    f = finding(g, code)
    assert f.fix is not None, f"{code} has no fix"
    apply_fix(g, f.fix)
    assert code not in codes(g), f"fix for {code} did not remove it"
    return g


# (code, graph that triggers it, graph that does not, has a fix)
LINT_CASES = {
    "double-softmax": (
        lambda: chain(DIGITS, [("Linear", {"out_features": 10}), "Softmax"], "CrossEntropyLoss"),
        lambda: chain(DIGITS, [("Linear", {"out_features": 10})], "CrossEntropyLoss"), True),
    "nll-softmax": (
        lambda: chain(DIGITS, [("Linear", {"out_features": 10}), "Softmax"], "NLLLoss"),
        lambda: chain(DIGITS, [("Linear", {"out_features": 10}), "LogSoftmax"], "NLLLoss"), True),
    "nll-no-logsoftmax": (
        lambda: chain(DIGITS, [("Linear", {"out_features": 10})], "NLLLoss"),
        lambda: chain(DIGITS, [("Linear", {"out_features": 10}), "LogSoftmax"], "NLLLoss"), True),
    "bce-no-sigmoid": (
        lambda: chain(BREAST, [("Linear", {"out_features": 1})], "BCELoss"),
        lambda: chain(BREAST, [("Linear", {"out_features": 1}), "Sigmoid"], "BCELoss"), True),
    "double-sigmoid": (
        lambda: chain(BREAST, [("Linear", {"out_features": 1}), "Sigmoid"], "BCEWithLogitsLoss"),
        lambda: chain(BREAST, [("Linear", {"out_features": 1})], "BCEWithLogitsLoss"), True),
    "linear-collapse": (
        lambda: chain(DIGITS, [("Linear", {"out_features": 9}), "Dropout", ("Linear", {"out_features": 10})], "CrossEntropyLoss"),
        lambda: chain(DIGITS, [("Linear", {"out_features": 9}), "ReLU", ("Linear", {"out_features": 10})], "CrossEntropyLoss"), True),
    "flatten-needed": (
        lambda: chain(DIGITS_IMG, [("Conv2d", {"out_channels": 4}), ("Linear", {"out_features": 10})], "MSELoss"),
        lambda: chain(DIGITS_IMG, [("Conv2d", {"out_channels": 4}), "Flatten", ("Linear", {"out_features": 10})], "MSELoss"), True),
    "linear-model": (
        lambda: chain(XOR, [("Linear", {"out_features": 1})], "BCEWithLogitsLoss"),
        lambda: chain(XOR, [("Linear", {"out_features": 4}), "Tanh", ("Linear", {"out_features": 1})], "BCEWithLogitsLoss"), False),
}


@pytest.mark.parametrize("code", sorted(LINT_CASES))
def test_lint_rule(code):
    bad, good, has_fix = LINT_CASES[code]
    assert code in codes(bad()), analyze(bad()).findings
    assert code not in codes(good()), analyze(good()).findings
    f = finding(bad(), code)
    assert f.node_id and f.message
    if has_fix:
        g = fixed(bad(), code)
        assert analyze(g).valid, analyze(g).findings


def test_linear_collapse_message_names_the_matrices():
    g = chain(DIGITS, [("Linear", {"out_features": 9}), ("Linear", {"out_features": 4})], "MSELoss")
    assert "64×9 then 9×4 is just one 64×4 matrix" in finding(g, "linear-collapse").message


def test_target_class_count_mismatch_is_an_error_with_a_fix():
    g = chain(DIGITS, [("Linear", {"out_features": 32}), "ReLU", ("Linear", {"out_features": 3})], "CrossEntropyLoss")
    f = next(f for f in analyze(g).errors if "10 classes" in f.message)
    assert f.fix and "out_features" in f.fix.label
    apply_fix(g, f.fix)
    assert analyze(g).valid
    ok = chain(DIGITS, [("Linear", {"out_features": 10})], "CrossEntropyLoss")
    assert analyze(ok).valid


def test_target_dtype_mismatch():
    reg = chain(SINE, [("Linear", {"out_features": 1})], "CrossEntropyLoss")
    assert any("needs class labels" in f.message for f in analyze(reg).errors)
    bce = chain(DIGITS, [("Linear", {"out_features": 1})], "BCEWithLogitsLoss")
    assert any("two classes" in f.message for f in analyze(bce).errors)
    assert analyze(chain(SINE, [("Linear", {"out_features": 1})], "MSELoss")).valid


def test_in_features_mismatch_offers_set_param():
    g = chain(DIGITS, [("Linear", {"in_features": 32, "out_features": 10})], "CrossEntropyLoss")
    f = next(f for f in analyze(g).errors if f.code == "shape")
    assert "in_features is 32 but the input has 64 features" in f.message
    apply_fix(g, f.fix)
    assert g.nodes[f.node_id].params["in_features"] == 64 and analyze(g).valid


@pytest.mark.parametrize("remove,code", [("loss", "no-loss"), ("optimizer", "no-optimizer"), ("data", "no-data")])
def test_missing_loss_optimizer_or_data(remove, code):
    g = chain(DIGITS, [("Linear", {"out_features": 10})], "CrossEntropyLoss")
    assert analyze(g).valid and not ({"no-loss", "no-optimizer", "no-data"} & codes(g))
    victim = next(n for n, node in g.nodes.items() if node.node_type.category == remove)
    g.remove_node(victim)
    a = analyze(g)
    assert code in {f.code for f in a.errors}


def test_unconnected_inputs_and_unused_nodes():
    g = chain(DIGITS, [("Linear", {"out_features": 10})], "CrossEntropyLoss")
    lonely = g.add_node("ReLU")
    fs = analyze(g).for_node(lonely.id)
    assert any(f.code == "unconnected" and f.severity == "error" for f in fs)
    relu2 = g.add_node("ReLU")
    first_linear = next(n for n, node in g.nodes.items() if node.type == "Linear")
    g.connect(PortRef(first_linear, "output"), PortRef(relu2.id, "input"))
    assert any(f.code == "unused" for f in analyze(g).for_node(relu2.id))


def test_shapes_and_counts_of_samples():
    g = load_path(SAMPLES / "digits_cnn.json")
    a = analyze(g, str(SAMPLES))
    assert a.valid
    shapes = [a.output_info(n).shape for n in g.topological_order() if g.nodes[n].type in ("Conv2d", "MaxPool2d", "Flatten")]
    assert shapes == [(16, 8, 8), (16, 4, 4), (32, 4, 4), (32, 2, 2), (128,)]
    # 1*16*9+16, 16*32*9+32, 128*64+64, 64*10+10
    assert a.total_params == 160 + 4640 + 8256 + 650
    mlp = analyze(load_path(SAMPLES / "digits_mlp.json"))
    assert mlp.total_params == (64 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10)


def test_residual_and_concat_shapes():
    g = Graph()
    d = g.add_node("Dataset", {"dataset": "iris"})
    a = g.add_node("Linear", {"out_features": 4})
    add = g.add_node("Add")
    cat = g.add_node("Concat")
    g.connect(PortRef(d.id, "features"), PortRef(a.id, "input"))
    g.connect(PortRef(a.id, "output"), PortRef(add.id, "inputs"))
    g.connect(PortRef(d.id, "features"), PortRef(add.id, "inputs"))
    g.connect(PortRef(add.id, "output"), PortRef(cat.id, "inputs"))
    g.connect(PortRef(a.id, "output"), PortRef(cat.id, "inputs"))
    res = analyze(g)
    assert res.output_info(add.id).shape == (4,)
    assert res.output_info(cat.id).shape == (8,)
    g.set_param(a.id, "out_features", 5)
    assert any("Add needs equal shapes" in f.message for f in analyze(g).for_node(add.id))


def test_every_sample_is_valid():
    for path in sorted(SAMPLES.glob("*.json")):
        a = analyze(load_path(path), str(SAMPLES))
        assert a.valid, (path.name, [f.message for f in a.errors])


# ---------------------------------------------------------------- typed protocols


def test_fix_operations_are_frozen_dataclasses_with_the_op_vocabulary():
    ops = [SetParam("n2", "out_features", 3), InsertBefore("n3", "input", "Flatten"), Bridge("n4", into="n5"),
           Replace("n6", "LogSoftmax")]
    assert [op.op for op in ops] == ["set_param", "insert", "bridge", "replace"]
    for op in ops:
        assert dataclasses.is_dataclass(op) and op.node
        with pytest.raises(dataclasses.FrozenInstanceError):
            op.node = "other"  # type: ignore[misc]
        assert pickle.loads(pickle.dumps(op)) == op
    f = finding(LINT_CASES["nll-no-logsoftmax"][0](), "nll-no-logsoftmax")
    assert f.fix.ops == (InsertBefore(f.node_id, "prediction", "LogSoftmax"),)


def test_shape_error_carries_a_typed_hint_across_pickling():
    err = pickle.loads(pickle.dumps(ShapeError("in_features is 3", SetParamHint("in_features", 4))))
    assert str(err) == "in_features is 3" and err.hint == SetParamHint("in_features", 4)
    assert ShapeError("no hint").hint is None


# ---------------------------------------------------------------- the two types added as one declaration each

TOKENS = {"dataset": "tokens", "seq_len": 10}


def test_attention_heads_must_divide_the_features_with_a_fix():
    g = chain(TOKENS, [("Embedding", {"embedding_dim": 12}), ("MultiheadAttention", {"num_heads": 5}), "Flatten",
                       ("Linear", {"out_features": 2})], "CrossEntropyLoss")
    f = next(f for f in analyze(g).errors if f.code == "shape")
    assert "num_heads 5 does not divide the 12 features" in f.message and "4 does" in f.message
    assert f.fix and f.fix.label == "Set num_heads to 4"
    apply_fix(g, f.fix)
    a = analyze(g)
    assert a.valid, a.findings
    attn = next(n for n, node in g.nodes.items() if node.type == "MultiheadAttention")
    assert a.output_info(attn).shape == (10, 12)
    assert a.params[attn] == 4 * 12 * 12 + 4 * 12  # in_proj (3E×E + 3E) and out_proj (E×E + E)


def test_attention_needs_a_sequence_of_vectors():
    g = chain(DIGITS, [("MultiheadAttention", {}), ("Linear", {"out_features": 10})], "CrossEntropyLoss")
    assert any("steps×features" in f.message for f in analyze(g).errors)


def test_layer_norm_keeps_the_shape_and_learns_two_vectors():
    g = chain(TOKENS, [("Embedding", {"embedding_dim": 6}), ("LayerNorm", {}), "Flatten", ("Linear", {"out_features": 2})],
              "CrossEntropyLoss")
    a = analyze(g)
    norm = next(n for n, node in g.nodes.items() if node.type == "LayerNorm")
    assert a.valid and a.output_info(norm).shape == (10, 6) and a.params[norm] == 12
    g.set_param(norm, "elementwise_affine", False)
    assert analyze(g).params[norm] == 0


def test_linear_on_steps_is_position_wise_but_on_channels_needs_flatten():
    """A Linear on steps×features (a transformer's feed-forward) is not a mistake; on a 1-D
    convolution's channels×length it mixes positions, so the lint asks for a Flatten."""
    seq = chain(TOKENS, [("Embedding", {}), ("MultiheadAttention", {}), ("LayerNorm", {}), ("Linear", {"out_features": 8}),
                         "ReLU", ("Linear", {"out_features": 8}), "Flatten", ("Linear", {"out_features": 2})],
                "CrossEntropyLoss")
    assert "flatten-needed" not in codes(seq), analyze(seq).findings
    conv = chain({"dataset": "sequences", "seq_len": 12}, [("Reshape", {"shape": [1, 12]}), ("Conv1d", {"out_channels": 4}),
                                                           "ReLU", ("Linear", {"out_features": 2})], "MSELoss")
    assert "flatten-needed" in codes(conv)


def test_class_count_fix_walks_past_nodes_that_keep_the_shape():
    g = chain(DIGITS, [("Linear", {"out_features": 32}), "ReLU", ("Linear", {"out_features": 3}), ("Dropout", {}),
                       "BatchNorm1d"], "CrossEntropyLoss")
    f = next(f for f in analyze(g).errors if "10 classes" in f.message)
    assert f.fix and "out_features" in f.fix.label
    apply_fix(g, f.fix)
    assert analyze(g).valid
