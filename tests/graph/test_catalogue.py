"""One parametrised test over every registered node type: defaults validate (with the example
input the type declares), out-of-range values are refused with a message naming the parameter, a
node round-trips through JSON, and the per-type facts are consistent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from graph import Graph, ParamError, dumps, loads
from graph.catalogue import CATALOGUE, CATEGORIES, REGISTRY, SETTINGS, by_category, get
from graph.errors import GraphError

TYPES = sorted(REGISTRY)


def bad_values(p):
    """Values that must be refused for a parameter, with what the message must mention."""
    if p.kind == "int":
        out = ["3", 1.5, True, None]
        if p.min is not None:
            out.append(int(p.min) - 1)
        if p.max is not None:
            out.append(int(p.max) + 1)
        return out
    if p.kind == "float":
        out = ["0.1", None, True, float("nan"), float("inf")]
        if p.min is not None:
            out.append(p.min - abs(p.min) - 1.0)
        if p.max is not None:
            out.append(p.max + abs(p.max) + 1.0)
        return out
    if p.kind == "bool":
        return [0, 1, "true", None]
    if p.kind == "choice":
        return ["__not_a_choice__", 3, None, ""]
    if p.kind == "str":
        return [5, None, ["a"], "x" * (p.max_len + 1)]
    return ["[1]", [1.5], [True], [], [0] * (p.max_len + 1)]


@pytest.mark.parametrize("type_id", TYPES)
def test_defaults_validate(type_id):
    t = REGISTRY[type_id]
    assert t.category in CATEGORIES and t.doc and t.title
    for p in t.params:
        assert p.doc, f"{type_id}.{p.name} has no doc"
        assert p.check(p.default) == p.default
    params, inputs = t.example_params(), t.example_inputs()
    outs = t.infer(params, inputs)
    assert set(outs) == {p.name for p in t.outputs}
    assert t.count(params, inputs) >= 0
    kwargs = t.torch_kwargs(params, inputs)
    assert isinstance(kwargs, dict)
    assert t.torch, f"{type_id} names no torch target"


@pytest.mark.parametrize("type_id", TYPES)
def test_out_of_range_refused_naming_the_parameter(type_id):
    t = REGISTRY[type_id]
    g = Graph()
    node = g.add_node(type_id)
    for p in t.params:
        for bad in bad_values(p):
            with pytest.raises(ParamError) as info:
                g.set_param(node.id, p.name, bad)
            message = str(info.value)
            assert p.name in message, message
            assert node.id in message and type_id in message, message
            with pytest.raises(ParamError):
                g.add_node(type_id, {p.name: bad})
    with pytest.raises(ParamError, match="not a parameter"):
        g.set_param(node.id, "no_such_param", 1)


@pytest.mark.parametrize("type_id", TYPES)
def test_round_trips_through_json(type_id):
    t = REGISTRY[type_id]
    g = Graph()
    g.add_node(type_id, position=(12.5, -40), title=f"my {type_id}")
    # A non-default value for every parameter that has one.
    n2 = g.add_node(type_id)
    for p in t.params:
        if p.kind == "int" and p.max is not None and p.max != p.default:
            g.set_param(n2.id, p.name, int(p.max))
        elif p.kind == "float" and p.max is not None and p.max != p.default:
            g.set_param(n2.id, p.name, float(p.max))
        elif p.kind == "bool":
            g.set_param(n2.id, p.name, not p.default)
        elif p.kind == "choice":
            g.set_param(n2.id, p.name, p.choices[-1])
        elif p.kind == "str":
            g.set_param(n2.id, p.name, "é \"quoted\"\nline")
    text = dumps(g)
    g2 = loads(text)
    assert dumps(g2) == text
    assert g2.nodes[n2.id].params == g.nodes[n2.id].params
    assert g2.nodes["n1"].title == f"my {type_id}"


def test_every_category_has_types_and_lookup_by_legacy_id():
    cats = by_category()
    assert all(cats[c] for c in CATEGORIES)
    assert get("Dense") is REGISTRY["Linear"]
    with pytest.raises(GraphError, match="unknown node type"):
        get("os.system")


def test_catalogue_covers_concepts():
    """The node types CONCEPTS.md asks for are all registered."""
    wanted = """Dataset Linear Conv1d Conv2d MaxPool1d MaxPool2d AvgPool1d AvgPool2d Flatten Reshape
    BatchNorm1d BatchNorm2d Dropout Maxout Embedding LSTM GRU Add Concat Step Sign Sigmoid Tanh ReLU
    LeakyReLU ELU GELU Softmax LogSoftmax Identity MSELoss L1Loss SmoothL1Loss CrossEntropyLoss
    NLLLoss BCELoss BCEWithLogitsLoss MultiMarginLoss SGD Adagrad RMSprop Adam AdamW StepLR
    ExponentialLR""".split()
    assert set(wanted) <= set(REGISTRY)
    lin = REGISTRY["Linear"]
    assert set(lin.param("weight_init").choices) >= {"zeros", "small_random", "lecun", "xavier_uniform",
                                                     "xavier_normal", "he_uniform", "he_normal", "sparse"}
    for name in ("l1", "l2", "max_norm", "dropconnect", "bias_init"):
        lin.param(name)
    settings = {p.name for p in SETTINGS}
    assert {"epochs", "seed", "device", "patience", "checkpoint_best"} <= settings


def test_settings_are_checked():
    g = Graph()
    with pytest.raises(ParamError, match="epochs"):
        g.set_setting("epochs", 0)
    with pytest.raises(GraphError, match="unknown setting"):
        g.set_setting("nope", 1)
    g.set_setting("epochs", 7)
    assert loads(dumps(g)).settings["epochs"] == 7


def test_per_type_facts_are_consistent():
    """Facts the rest of Netwright derives its tables from (see graph/catalogue/core.py)."""
    for t in REGISTRY.values():
        model = t.category in ("layer", "activation")
        assert (t.family is not None) == (t.category == "loss"), t.type_id
        assert (t.threshold is not None) == (t.family == "binary"), t.type_id
        assert not (t.watch or t.weighted or t.keeps_linear or t.channels_first) or model, t.type_id
        assert t.call.plain or t.target_kind in ("nn", "recurrent"), t.type_id
        assert not t.dropconnect or "dropconnect" in t.param_index, t.type_id
        assert ("dropconnect" in t.param_index) == bool(t.dropconnect), t.type_id
    watched = {t.type_id: t.watch for t in REGISTRY.values() if t.watch}
    assert watched == {"ReLU": "dead", "LeakyReLU": "dead", "ELU": "dead", "GELU": "dead",
                       "Sigmoid": "saturation", "Tanh": "saturation"}


def test_a_catalogue_with_other_types_leaves_the_application_s_alone():
    mine = CATALOGUE.with_types(replace(get("Tanh"), title="My tanh"))
    assert mine.get("Tanh").title == "My tanh" and get("Tanh").title == "Tanh"
    assert mine.get("Dense") is mine.get("Linear") is get("Linear")
    assert [t.type_id for t in mine] == list(REGISTRY)


def test_every_saturating_type_says_where_it_saturates():
    """The trainer's saturation share reads the bounds from the type (no per-type branch)."""
    from graph.catalogue import REGISTRY

    saturating = {t.type_id: t.saturated_outside for t in REGISTRY.values() if t.watch == "saturation"}
    assert saturating == {"Sigmoid": (0.01, 0.99), "Tanh": (-0.99, 0.99)}
