"""The node catalogue: every node type declared once, as data.

A :class:`NodeType` holds the type's id, title, category, ports, typed parameters, a pure shape
rule ``(params, inputs, ctx) -> outputs``, a parameter-count rule, the torch target named as a
string, and one ``kwargs`` function that gives the constructor's keyword arguments. The live model
(runtime.build) and the exported script (runtime.export) both call that one function, so the model
you train and the script you export cannot drift apart.

Torch targets are strings, resolved by the runtime against fixed tables — a file can never name a
callable:

* ``nn.<Name>``            a module of ``torch.nn``          (``nn.Linear``)
* ``custom.<Name>``        a module of ``runtime.modules``    (``custom.Maxout``)
* ``fn.<name>``            a function in a fixed table        (``fn.add``, ``fn.cat``)
* ``recurrent.<Name>``     ``torch.nn.LSTM``/``GRU`` whose output the node selects
* ``loss.<Name>``          a loss module of ``torch.nn``
* ``optim.<Name>``         an optimizer of ``torch.optim``
* ``lr_scheduler.<Name>``  a schedule of ``torch.optim.lr_scheduler``
* ``data``                 the Dataset node, loaded by ``runtime.data``

Per-sample shapes exclude the batch dimension; ``dim`` parameters count per-sample axes, and
``kwargs`` turns them into torch's batch-inclusive axes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import datasets
from .errors import DatasetError, GraphError, ShapeError
from .params import Bool, Choice, Float, Int, Ints, Param, Str
from .tensors import LOSS, SCHEDULE, TensorInfo, format_shape, numel

CATEGORIES = ("data", "layer", "activation", "loss", "optimizer", "schedule")
CATEGORY_TITLES = {
    "data": "Data",
    "layer": "Layers",
    "activation": "Activations",
    "loss": "Losses",
    "optimizer": "Optimizers",
    "schedule": "LR schedules",
}


@dataclass(frozen=True)
class Port:
    name: str
    kind: str = "tensor"  # "tensor", "loss" or "schedule": only equal kinds connect
    many: bool = False  # accepts several incoming edges (Add, Concat), in edge order
    optional: bool = False
    doc: str = ""


@dataclass(frozen=True)
class RuleContext:
    base_dir: str | None = None  # folder of the graph file, for relative data paths


Inputs = dict  # port name -> TensorInfo, or list[TensorInfo] for a port with many=True
ShapeRule = Callable[[dict, Inputs, RuleContext], dict]


@dataclass(frozen=True)
class NodeType:
    type_id: str
    title: str
    category: str
    doc: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    params: tuple[Param, ...]
    shape_rule: ShapeRule
    torch: str = ""
    kwargs: Callable[[dict, Inputs], dict] | None = None
    count_rule: Callable[[dict, Inputs], int] | None = None
    key_params: tuple[str, ...] = ()
    legacy_ids: tuple[str, ...] = ()
    param_index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        assert self.category in CATEGORIES, self.category
        object.__setattr__(self, "param_index", {p.name: p for p in self.params})

    def param(self, name: str) -> Param:
        return self.param_index[name]

    def defaults(self) -> dict[str, Any]:
        return {p.name: (list(p.default) if p.kind == "ints" else p.default) for p in self.params}

    def input_port(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output_port(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def infer(self, params: dict, inputs: Inputs, ctx: RuleContext | None = None) -> dict[str, TensorInfo]:
        return self.shape_rule(params, inputs, ctx or RuleContext())

    def count(self, params: dict, inputs: Inputs) -> int:
        return self.count_rule(params, inputs) if self.count_rule else 0

    def torch_kwargs(self, params: dict, inputs: Inputs) -> dict[str, Any]:
        return self.kwargs(params, inputs) if self.kwargs else {}


REGISTRY: dict[str, NodeType] = {}
_LEGACY: dict[str, str] = {}


def register(t: NodeType) -> NodeType:
    assert t.type_id not in REGISTRY, t.type_id
    REGISTRY[t.type_id] = t
    for old in t.legacy_ids:
        _LEGACY[old] = t.type_id
    return t


def get(type_id: str) -> NodeType:
    """The type registered as ``type_id`` (or under a legacy id); GraphError if unknown."""
    t = REGISTRY.get(type_id) or REGISTRY.get(_LEGACY.get(type_id, ""))
    if t is None:
        raise GraphError(f"unknown node type {type_id!r}")
    return t


def by_category() -> dict[str, list[NodeType]]:
    out: dict[str, list[NodeType]] = {c: [] for c in CATEGORIES}
    for t in REGISTRY.values():
        out[t.category].append(t)
    return out


# ---------------------------------------------------------------- shared parameter groups

INIT_CHOICES = ("default", "zeros", "small_random", "lecun", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "sparse")
INIT_PARAMS = (
    Choice("weight_init", "default", INIT_CHOICES,
           "Weight initialisation: torch default; zeros (shows the symmetry problem); small random "
           "0.01·N(0,1); lecun N(0, 1/n_in); Xavier/Glorot; He/Kaiming (for ReLU); sparse (10% non-zero)."),
    Choice("bias_init", "default", ("default", "zeros", "constant"),
           "Bias initialisation: torch default, zeros, or the constant bias_value."),
    Float("bias_value", 0.0, "Constant for bias_init = constant (e.g. 0.01 for ReLU layers; negative kills ReLUs).", -100.0, 100.0),
)
REG_PARAMS = (
    Float("l1", 0.0, "L1 penalty on this layer's weights (sparsity), added to the loss.", 0.0, 10.0),
    Float("l2", 0.0, "L2 penalty on this layer's weights, added to the loss.", 0.0, 10.0),
    Float("max_norm", 0.0, "Max-norm constraint: each unit's incoming weight vector is projected to this norm after every step (0 = off).", 0.0, 1000.0),
)
DROPCONNECT = Float("dropconnect", 0.0, "DropConnect: probability of zeroing each weight during training (0 = off).", 0.0, 0.95)
BIAS = Bool("bias", True, "Learn an additive bias.")

P_INPUT = Port("input", doc="The tensor this node transforms.")
P_OUTPUT = Port("output", doc="The result.")


def _in(ins: Inputs, name: str = "input") -> TensorInfo:
    return ins[name]


def _float_input(x: TensorInfo, what: str) -> None:
    if x.dtype == "int64":
        raise ShapeError(f"{what} needs real-valued input; got integer ids (put an Embedding first)")


def _torch_dim(dim: int) -> int:
    """Per-sample axis -> torch axis (batch first)."""
    return dim if dim < 0 else dim + 1


def _check_dim(dim: int, rank: int, what: str) -> int:
    if not -rank <= dim < rank:
        raise ShapeError(f"{what} dim {dim} is out of range for a {rank}-D sample")
    return dim % rank


class FixHint:
    """Attached to a ShapeError when the analysis can offer a one-click fix."""

    def __init__(self, code: str, **data: Any):
        self.code = code
        self.data = data


def _shape_error(message: str, code: str = "", **data: Any) -> ShapeError:
    err = ShapeError(message)
    err.hint = FixHint(code, **data) if code else None  # type: ignore[attr-defined]
    return err


# ---------------------------------------------------------------- data

DATASET_PARAMS = (
    Choice("dataset", "xor", datasets.DATASET_CHOICES,
           "Which data: a built-in set (ships with the install), or your own csv/npz file."),
    Str("path", "", "CSV or .npz file, relative to the graph file's folder (csv/npz only).", max_len=1024),
    Str("target_column", "", "CSV column holding the target (empty = the last column).", max_len=256),
    Choice("task", "auto", ("auto", "classification", "regression"),
           "csv/npz: treat the target as class labels or as numbers (auto: text or few integers = classes)."),
    Choice("layout", "flat", ("flat", "image"), "digits: 64 flat features, or 1×8×8 images for convolutions."),
    Int("n_samples", 400, "Number of samples generated (synthetic sets only; XOR repeats its 4 corners).", 4, 1_000_000),
    Float("noise", 0.1, "Noise added to synthetic sets.", 0.0, 10.0),
    Int("classes", 3, "Number of classes (spirals, blobs).", 2, 20),
    Int("seq_len", 20, "Sequence length (sequences, tokens).", 2, 1000),
    Float("val_split", 0.2, "Share of samples held out for validation (0 = none).", 0.0, 0.9),
    Float("test_split", 0.0, "Share of samples held out for a final test (0 = none).", 0.0, 0.9),
    Int("split_seed", 0, "Seed of the data generation and of the split, so runs with other seeds see the same data.", 0, 2**31 - 1),
    Choice("preprocessing", "none", ("none", "center", "zscore", "minmax", "pca", "whiten"),
           "Fitted on the training split only, then applied to validation and test: mean subtraction, "
           "z-score, min-max scaling to [0, 1], PCA rotation, PCA whitening."),
    Int("pca_components", 0, "pca/whiten: components kept (0 = all).", 0, 100_000),
    Float("whiten_eps", 1e-5, "whiten: added to each variance before dividing (keeps tiny components from exploding).", 1e-12, 1.0),
    Int("batch_size", 32, "Mini-batch size (0 = the whole training split: full-batch gradient descent; 1 = pure SGD).", 0, 1_000_000),
    Bool("shuffle", True, "Shuffle the training split every epoch (seeded)."),
)


def _dataset_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    try:
        features, target = datasets.describe(p, ctx.base_dir)
    except DatasetError as exc:
        raise ShapeError(str(exc)) from None
    prep = p["preprocessing"]
    if prep != "none" and features.dtype == "int64":
        raise ShapeError(f"preprocessing '{prep}' needs real-valued features; this data set has token ids")
    if prep in ("pca", "whiten"):
        if len(features.shape) != 1:
            raise ShapeError(f"preprocessing '{prep}' needs flat features; got {format_shape(features.shape)} (set layout to flat)")
        k = p["pca_components"]
        if k > features.shape[0]:
            raise ShapeError(f"pca_components is {k} but the data has only {features.shape[0]} features")
        if k:
            features = TensorInfo((k,), features.dtype)
    return {"features": features, "target": target}


register(NodeType(
    "Dataset", "Dataset", "data",
    "Where samples come from: a built-in set or your file, its split, preprocessing and batch size.",
    (), (Port("features", doc="Input samples."), Port("target", doc="What the network should predict.")),
    DATASET_PARAMS, _dataset_rule, torch="data", key_params=("dataset", "batch_size", "preprocessing"),
))

# ---------------------------------------------------------------- layers


def _linear_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = _in(ins)
    _float_input(x, "Linear")
    if not x.shape:
        raise ShapeError("Linear needs at least one feature axis; got a scalar per sample")
    n = x.shape[-1]
    if p["in_features"] and p["in_features"] != n:
        raise _shape_error(f"in_features is {p['in_features']} but the input has {n} features",
                           "set-param", name="in_features", value=n)
    return {"output": TensorInfo(x.shape[:-1] + (p["out_features"],))}


def _linear_count(p: dict, ins: Inputs) -> int:
    n = _in(ins).shape[-1]
    return n * p["out_features"] + (p["out_features"] if p["bias"] else 0)


register(NodeType(
    "Linear", "Linear", "layer",
    "Fully connected (dense) layer: y = x·Wᵀ + b over the last axis.",
    (P_INPUT,), (P_OUTPUT,),
    (Int("in_features", 0, "Input features (0 = take them from the incoming tensor).", 0, 1_000_000),
     Int("out_features", 8, "Output features (units).", 1, 1_000_000), BIAS, *INIT_PARAMS, *REG_PARAMS, DROPCONNECT),
    _linear_rule, torch="nn.Linear",
    kwargs=lambda p, ins: {"in_features": _in(ins).shape[-1], "out_features": p["out_features"], "bias": p["bias"]},
    count_rule=_linear_count, key_params=("out_features",), legacy_ids=("Dense",),
))


def _conv_out(size: int, k: int, s: int, pad: int, dil: int) -> int:
    return (size + 2 * pad - dil * (k - 1) - 1) // s + 1


def _conv_rule(nd: int) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        x = _in(ins)
        name = f"Conv{nd}d"
        _float_input(x, name)
        want = "channels×length" if nd == 1 else "channels×height×width"
        if len(x.shape) != nd + 1:
            extra = " (set the Dataset's layout to 'image' or insert a Reshape)" if nd == 2 else " (insert a Reshape)"
            raise ShapeError(f"{name} needs {want}; got {format_shape(x.shape)}{extra}")
        c = x.shape[0]
        if p["in_channels"] and p["in_channels"] != c:
            raise _shape_error(f"in_channels is {p['in_channels']} but the input has {c} channels",
                               "set-param", name="in_channels", value=c)
        spatial = []
        for size in x.shape[1:]:
            o = _conv_out(size, p["kernel_size"], p["stride"], p["padding"], p["dilation"])
            if o < 1:
                raise ShapeError(f"kernel_size {p['kernel_size']} (dilation {p['dilation']}) does not fit the "
                                 f"input {format_shape(x.shape[1:])} with padding {p['padding']}")
            spatial.append(o)
        return {"output": TensorInfo((p["out_channels"], *spatial))}
    return rule


def _conv_count(nd: int) -> Callable[[dict, Inputs], int]:
    def count(p: dict, ins: Inputs) -> int:
        c = _in(ins).shape[0]
        return p["out_channels"] * c * p["kernel_size"] ** nd + (p["out_channels"] if p["bias"] else 0)
    return count


for _nd in (1, 2):
    register(NodeType(
        f"Conv{_nd}d", f"Conv{_nd}d", "layer",
        f"{_nd}-D convolution: out_channels filters of size kernel_size slide over the input "
        "(receptive field = kernel_size, step = stride, zero padding = padding).",
        (P_INPUT,), (P_OUTPUT,),
        (Int("in_channels", 0, "Input channels (0 = take them from the incoming tensor).", 0, 65536),
         Int("out_channels", 8, "Number of filters.", 1, 65536),
         Int("kernel_size", 3, "Filter size.", 1, 31), Int("stride", 1, "Step between positions.", 1, 31),
         Int("padding", 0, "Zeros added on each side.", 0, 31), Int("dilation", 1, "Spacing between filter taps.", 1, 31),
         BIAS, *INIT_PARAMS, *REG_PARAMS, DROPCONNECT),
        _conv_rule(_nd), torch=f"nn.Conv{_nd}d",
        kwargs=lambda p, ins: {"in_channels": _in(ins).shape[0], "out_channels": p["out_channels"],
                               "kernel_size": p["kernel_size"], "stride": p["stride"], "padding": p["padding"],
                               "dilation": p["dilation"], "bias": p["bias"]},
        count_rule=_conv_count(_nd), key_params=("out_channels", "kernel_size"),
    ))


def _pool_rule(nd: int, kind: str) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        x = _in(ins)
        name = f"{kind}Pool{nd}d"
        _float_input(x, name)
        if len(x.shape) != nd + 1:
            want = "channels×length" if nd == 1 else "channels×height×width"
            raise ShapeError(f"{name} needs {want}; got {format_shape(x.shape)}")
        k, s, pad = p["kernel_size"], p["stride"] or p["kernel_size"], p["padding"]
        if pad * 2 > k:
            raise ShapeError(f"padding {pad} must be at most half of kernel_size {k}")
        spatial = []
        for size in x.shape[1:]:
            o = _conv_out(size, k, s, pad, 1)
            if o < 1:
                raise ShapeError(f"kernel_size {k} is larger than the input {format_shape(x.shape[1:])}")
            spatial.append(o)
        return {"output": TensorInfo((x.shape[0], *spatial))}
    return rule


for _nd in (1, 2):
    for _kind in ("Max", "Avg"):
        register(NodeType(
            f"{_kind}Pool{_nd}d", f"{_kind}Pool{_nd}d", "layer",
            f"{'Maximum' if _kind == 'Max' else 'Average'} over each kernel_size window ({_nd}-D); "
            "shrinks the spatial size, keeps the channels.",
            (P_INPUT,), (P_OUTPUT,),
            (Int("kernel_size", 2, "Window size.", 1, 31), Int("stride", 0, "Step (0 = kernel_size).", 0, 31),
             Int("padding", 0, "Padding on each side (at most kernel_size / 2).", 0, 15)),
            _pool_rule(_nd, _kind), torch=f"nn.{_kind}Pool{_nd}d",
            kwargs=lambda p, ins: {"kernel_size": p["kernel_size"], "stride": p["stride"] or p["kernel_size"],
                                   "padding": p["padding"]},
            key_params=("kernel_size",),
        ))


def _flatten_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = _in(ins)
    return {"output": TensorInfo((numel(x.shape),), x.dtype)}


register(NodeType(
    "Flatten", "Flatten", "layer", "Flattens each sample into one vector (e.g. 8×4×4 → 128), as Linear layers expect.",
    (P_INPUT,), (P_OUTPUT,), (), _flatten_rule, torch="nn.Flatten", kwargs=lambda p, ins: {},
))


def _reshape_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = _in(ins)
    shape = list(p["shape"])
    if shape.count(-1) > 1:
        raise ShapeError("shape may contain -1 at most once")
    if any(d == 0 or d < -1 for d in shape):
        raise ShapeError("shape entries must be positive (or a single -1)")
    total = numel(x.shape)
    known = numel(tuple(d for d in shape if d != -1))
    if -1 in shape:
        if total % known:
            raise ShapeError(f"cannot reshape {format_shape(x.shape)} ({total} values) into {shape}")
        shape[shape.index(-1)] = total // known
    elif known != total:
        raise ShapeError(f"cannot reshape {format_shape(x.shape)} ({total} values) into "
                         f"{format_shape(tuple(shape))} ({known} values)")
    return {"output": TensorInfo(tuple(shape), x.dtype)}


register(NodeType(
    "Reshape", "Reshape", "layer", "Reshapes each sample to `shape` (per sample; one entry may be -1).",
    (P_INPUT,), (P_OUTPUT,), (Ints("shape", [-1], "Per-sample target shape, e.g. [1, 8, 8].", -1, 1_000_000),),
    _reshape_rule, torch="fn.reshape", kwargs=lambda p, ins: {"shape": tuple(p["shape"])}, key_params=("shape",),
))


def _bn_rule(nd: int) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        x = _in(ins)
        _float_input(x, f"BatchNorm{nd}d")
        ok = len(x.shape) in (1, 2) if nd == 1 else len(x.shape) == 3
        if not ok:
            want = "features or channels×length" if nd == 1 else "channels×height×width"
            raise ShapeError(f"BatchNorm{nd}d needs {want}; got {format_shape(x.shape)}")
        return {"output": x}
    return rule


for _nd in (1, 2):
    register(NodeType(
        f"BatchNorm{_nd}d", f"BatchNorm{_nd}d", "layer",
        "Normalises each channel over the batch, then scales by a learned gamma and shifts by a learned beta.",
        (P_INPUT,), (P_OUTPUT,),
        (Float("eps", 1e-5, "Added to the variance for stability.", 1e-12, 1.0),
         Float("momentum", 0.1, "Running-statistics update rate.", 0.0, 1.0),
         Bool("affine", True, "Learn gamma and beta.")),
        _bn_rule(_nd), torch=f"nn.BatchNorm{_nd}d",
        kwargs=lambda p, ins: {"num_features": _in(ins).shape[0], "eps": p["eps"], "momentum": p["momentum"],
                               "affine": p["affine"]},
        count_rule=lambda p, ins: 2 * _in(ins).shape[0] if p["affine"] else 0,
    ))

register(NodeType(
    "Dropout", "Dropout", "layer",
    "Zeroes each value with probability p while training and scales the rest by 1/(1-p); identity at inference.",
    (P_INPUT,), (P_OUTPUT,), (Float("p", 0.5, "Probability of dropping a value.", 0.0, 0.99),),
    lambda p, ins, ctx: {"output": _in(ins)}, torch="nn.Dropout", kwargs=lambda p, ins: {"p": p["p"]},
    key_params=("p",),
))


def _maxout_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = _in(ins)
    _float_input(x, "Maxout")
    if len(x.shape) != 1:
        raise _shape_error(f"Maxout needs a flat vector per sample; got {format_shape(x.shape)}", "insert-flatten")
    return {"output": TensorInfo((p["out_features"],))}


register(NodeType(
    "Maxout", "Maxout", "layer",
    "Maxout unit: k affine pieces per output, the maximum is taken (a learned piecewise-linear activation).",
    (P_INPUT,), (P_OUTPUT,),
    (Int("out_features", 8, "Output units.", 1, 100_000), Int("pieces", 2, "Affine pieces per unit (k).", 2, 16),
     BIAS, *INIT_PARAMS, *REG_PARAMS, DROPCONNECT),
    _maxout_rule, torch="custom.Maxout",
    kwargs=lambda p, ins: {"in_features": _in(ins).shape[-1], "out_features": p["out_features"],
                           "pieces": p["pieces"], "bias": p["bias"]},
    count_rule=lambda p, ins: _in(ins).shape[-1] * p["out_features"] * p["pieces"]
    + (p["out_features"] * p["pieces"] if p["bias"] else 0),
    key_params=("out_features", "pieces"),
))


def _embedding_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = _in(ins)
    if x.dtype != "int64":
        raise ShapeError("Embedding needs integer token ids; got real values")
    return {"output": TensorInfo(x.shape + (p["embedding_dim"],))}


register(NodeType(
    "Embedding", "Embedding", "layer", "Looks up a learned vector for each integer token id.",
    (P_INPUT,), (P_OUTPUT,),
    (Int("num_embeddings", 16, "Vocabulary size (ids must be below it).", 1, 10_000_000),
     Int("embedding_dim", 8, "Length of each vector.", 1, 100_000), *INIT_PARAMS[:1], *REG_PARAMS),
    _embedding_rule, torch="nn.Embedding",
    kwargs=lambda p, ins: {"num_embeddings": p["num_embeddings"], "embedding_dim": p["embedding_dim"]},
    count_rule=lambda p, ins: p["num_embeddings"] * p["embedding_dim"], key_params=("embedding_dim",),
))


def _recurrent_rule(name: str) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        x = _in(ins)
        _float_input(x, name)
        if len(x.shape) != 2:
            raise ShapeError(f"{name} needs steps×features per sample; got {format_shape(x.shape)}")
        h = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        out = (h,) if p["output"] == "last" else (x.shape[0], h)
        return {"output": TensorInfo(out)}
    return rule


def _recurrent_count(gates: int) -> Callable[[dict, Inputs], int]:
    def count(p: dict, ins: Inputs) -> int:
        f, h, dirs = _in(ins).shape[-1], p["hidden_size"], 2 if p["bidirectional"] else 1
        total = 0
        for layer in range(p["num_layers"]):
            n_in = f if layer == 0 else h * dirs
            total += dirs * (gates * h * (n_in + h) + 2 * gates * h)
        return total
    return count


for _name, _gates in (("LSTM", 4), ("GRU", 3)):
    register(NodeType(
        _name, _name, "layer",
        ("Long short-term memory" if _name == "LSTM" else "Gated recurrent unit")
        + " layer over steps×features; outputs the last step's hidden state or the whole sequence.",
        (P_INPUT,), (P_OUTPUT,),
        (Int("hidden_size", 16, "Hidden units per direction.", 1, 100_000),
         Int("num_layers", 1, "Stacked recurrent layers.", 1, 16),
         Bool("bidirectional", False, "Also read the sequence backwards."),
         Choice("output", "last", ("last", "sequence"), "last: the final step's hidden state; sequence: every step's."),
         *INIT_PARAMS[:1], *REG_PARAMS),
        _recurrent_rule(_name), torch=f"recurrent.{_name}",
        kwargs=lambda p, ins: {"input_size": _in(ins).shape[-1], "hidden_size": p["hidden_size"],
                               "num_layers": p["num_layers"], "bidirectional": p["bidirectional"],
                               "batch_first": True},
        count_rule=_recurrent_count(_gates), key_params=("hidden_size", "output"),
    ))


def _add_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    xs = ins["inputs"]
    if len(xs) < 2:
        raise ShapeError(f"Add needs at least two inputs; got {len(xs)}")
    first = xs[0].shape
    for i, x in enumerate(xs[1:], start=2):
        if x.shape != first:
            raise ShapeError(f"Add needs equal shapes; input 1 is {format_shape(first)}, input {i} is {format_shape(x.shape)}")
    return {"output": TensorInfo(first)}


register(NodeType(
    "Add", "Add", "layer", "Adds its inputs element-wise (a skip / residual connection).",
    (Port("inputs", many=True, doc="Two or more tensors of the same shape."),), (P_OUTPUT,), (),
    _add_rule, torch="fn.add", kwargs=lambda p, ins: {},
))


def _concat_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    xs = ins["inputs"]
    if len(xs) < 2:
        raise ShapeError(f"Concat needs at least two inputs; got {len(xs)}")
    rank = len(xs[0].shape)
    if any(len(x.shape) != rank for x in xs):
        raise ShapeError("Concat needs inputs of the same rank; got " + ", ".join(format_shape(x.shape) for x in xs))
    if rank == 0:
        raise ShapeError("Concat needs at least one axis per sample")
    d = _check_dim(p["dim"], rank, "Concat")
    out = list(xs[0].shape)
    for x in xs[1:]:
        for a in range(rank):
            if a != d and x.shape[a] != out[a]:
                raise ShapeError(f"Concat along axis {d}: other axes must match; got "
                                 + ", ".join(format_shape(x.shape) for x in xs))
        out[d] += x.shape[d]
    return {"output": TensorInfo(tuple(out))}


register(NodeType(
    "Concat", "Concat", "layer", "Joins its inputs along a per-sample axis (in the order they were connected).",
    (Port("inputs", many=True, doc="Two or more tensors that agree on every other axis."),), (P_OUTPUT,),
    (Int("dim", 0, "Per-sample axis to join along (0 = features/channels; -1 = last).", -8, 7),),
    _concat_rule, torch="fn.cat", kwargs=lambda p, ins: {"dim": _torch_dim(p["dim"])},
))

# ---------------------------------------------------------------- activations


def _same(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = _in(ins)
    _float_input(x, "An activation")
    return {"output": TensorInfo(x.shape)}


def _softmax_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = _in(ins)
    _float_input(x, "Softmax")
    if not x.shape:
        raise ShapeError("softmax needs at least one axis per sample")
    _check_dim(p["dim"], len(x.shape), "softmax")
    return {"output": TensorInfo(x.shape)}


def _activation(type_id: str, doc: str, torch: str, params: tuple = (), kwargs=None, rule=_same) -> None:
    register(NodeType(type_id, type_id, "activation", doc, (P_INPUT,), (P_OUTPUT,), params, rule, torch=torch,
                      kwargs=kwargs or (lambda p, ins: {}), key_params=tuple(x.name for x in params)))


_activation("Step", "Heaviside step: 1 where x > 0, else 0 (the classic perceptron; its gradient is zero).", "fn.step")
_activation("Sign", "Sign: -1, 0 or 1 (the perceptron's output; its gradient is zero).", "fn.sign")
_activation("Sigmoid", "Logistic sigmoid 1/(1+e^-x), in (0, 1); derivative at most 0.25, so deep stacks vanish.", "nn.Sigmoid")
_activation("Tanh", "Hyperbolic tangent, in (-1, 1); zero-centred, saturates at both ends.", "nn.Tanh")
_activation("ReLU", "max(0, x): cheap, does not saturate for x > 0; units stuck below 0 die.", "nn.ReLU")
_activation("LeakyReLU", "x for x > 0, slope·x otherwise: keeps a gradient for negative inputs.", "nn.LeakyReLU",
            (Float("negative_slope", 0.01, "Slope for x < 0 (fixed before training).", 0.0, 1.0),),
            lambda p, ins: {"negative_slope": p["negative_slope"]})
_activation("ELU", "x for x > 0, alpha·(eˣ-1) otherwise: smooth, negative outputs keep units alive.", "nn.ELU",
            (Float("alpha", 1.0, "Saturation value for large negative x.", 0.0, 100.0),), lambda p, ins: {"alpha": p["alpha"]})
_activation("GELU", "Gaussian error linear unit x·Φ(x), used in transformers.", "nn.GELU")
_activation("Softmax", "Turns scores into probabilities that sum to 1 along dim.", "nn.Softmax",
            (Int("dim", -1, "Per-sample axis (-1 = last).", -8, 7),), lambda p, ins: {"dim": _torch_dim(p["dim"])},
            _softmax_rule)
_activation("LogSoftmax", "log(softmax(x)), numerically stable; pair it with NLLLoss.", "nn.LogSoftmax",
            (Int("dim", -1, "Per-sample axis (-1 = last).", -8, 7),), lambda p, ins: {"dim": _torch_dim(p["dim"])},
            _softmax_rule)
_activation("Identity", "Passes its input through unchanged (no activation: a regression output).", "nn.Identity")

# ---------------------------------------------------------------- losses

LOSS_INPUTS = (Port("prediction", doc="The network's output."), Port("target", doc="The Dataset's target."))
LOSS_OUTPUTS = (Port("loss", kind="loss", doc="The scalar to minimise: wire it to an optimizer."),)


def _loss_rule(family: str, name: str) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        pred, tgt = ins["prediction"], ins["target"]
        if pred.dtype == "int64":
            raise ShapeError(f"{name} needs real-valued predictions; got integer ids")
        ps = format_shape(pred.shape)
        if family == "class":
            if tgt.task not in ("classification", None) or (tgt.task is None and tgt.dtype != "int64"):
                raise ShapeError(f"{name} needs class labels; the target holds real values (use MSELoss for regression)")
            if len(pred.shape) != 1:
                raise ShapeError(f"{name} needs one score per class (a vector); the prediction is {ps}")
            if tgt.classes is not None and pred.shape[0] != tgt.classes:
                raise _shape_error(f"the prediction has {pred.shape[0]} scores per sample but the data has "
                                   f"{tgt.classes} classes", "class-count", classes=tgt.classes)
        elif family == "binary":
            if tgt.task == "classification":
                if tgt.classes is not None and tgt.classes != 2:
                    raise ShapeError(f"{name} is for two classes; the data has {tgt.classes} "
                                     "(use CrossEntropyLoss for several classes)")
                if pred.shape != (1,):
                    raise _shape_error(f"{name} on two classes needs one output per sample; the prediction is {ps}",
                                       "class-count", classes=1)
            elif pred.shape != tgt.shape:
                raise ShapeError(f"{name} needs the prediction ({ps}) to match the target ({format_shape(tgt.shape)})")
        else:  # regression family
            if tgt.task == "classification":
                if pred.shape != (tgt.classes,):
                    raise _shape_error(f"{name} on class labels compares against one-hot vectors of "
                                       f"{tgt.classes}; the prediction is {ps}", "class-count", classes=tgt.classes)
            elif pred.shape != tgt.shape:
                raise ShapeError(f"{name} needs the prediction ({ps}) to match the target ({format_shape(tgt.shape)})")
        return {"loss": LOSS}
    return rule


def _loss(type_id: str, family: str, doc: str, params: tuple = (), kwargs=None) -> None:
    register(NodeType(type_id, type_id, "loss", doc, LOSS_INPUTS, LOSS_OUTPUTS, params,
                      _loss_rule(family, type_id), torch=f"loss.{type_id}", kwargs=kwargs or (lambda p, ins: {})))


_loss("MSELoss", "regress", "Mean squared error; for regression (class labels become one-hot vectors).")
_loss("L1Loss", "regress", "Mean absolute error; robust to outliers.")
_loss("SmoothL1Loss", "regress", "Huber-like: squared near 0, absolute beyond beta.",
      (Float("beta", 1.0, "Where the loss turns from squared to absolute.", 1e-6, 1e6),), lambda p, ins: {"beta": p["beta"]})
_loss("CrossEntropyLoss", "class", "Softmax + negative log-likelihood in one stable step: feed it raw scores (logits).",
      (Float("label_smoothing", 0.0, "Share of probability spread over the other classes.", 0.0, 0.99),),
      lambda p, ins: {"label_smoothing": p["label_smoothing"]})
_loss("NLLLoss", "class", "Negative log-likelihood of log-probabilities: put a LogSoftmax before it.")
_loss("BCELoss", "binary", "Binary cross-entropy of probabilities in (0, 1): put a Sigmoid before it.")
_loss("BCEWithLogitsLoss", "binary", "Sigmoid + binary cross-entropy in one stable step: feed it raw scores.")
_loss("MultiMarginLoss", "class", "Multiclass hinge loss (Weston-Watkins SVM): each wrong class must score margin below the right one.",
      (Float("margin", 1.0, "Required gap between the right class and the others.", 0.0, 1e6),
       Choice("power", "1", ("1", "2"), "1: hinge; 2: squared hinge.")),
      lambda p, ins: {"margin": p["margin"], "p": int(p["power"])})

# ---------------------------------------------------------------- optimizers and schedules

OPT_INPUTS = (Port("loss", kind="loss", doc="The loss this optimizer minimises."),
              Port("schedule", kind="schedule", optional=True, doc="Optional learning-rate schedule."))
LR = Float("lr", 0.01, "Learning rate (step size).", 1e-8, 100.0)
WD = Float("weight_decay", 0.0, "Weight decay (L2 on all weights) applied by the optimizer.", 0.0, 10.0)
CLIP = Float("clip_grad_norm", 0.0, "Clip the total gradient norm to this value before each step (0 = off).", 0.0, 1e6)


def _opt_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    if p.get("nesterov") and not p.get("momentum"):
        raise ShapeError("Nesterov momentum needs momentum > 0")
    return {}


def _optimizer(type_id: str, doc: str, params: tuple, kwargs, weight_decay: float = 0.0) -> None:
    wd = Float("weight_decay", weight_decay, WD.doc, 0.0, 10.0)
    register(NodeType(type_id, type_id, "optimizer", doc, OPT_INPUTS, (), (LR, *params, wd, CLIP), _opt_rule,
                      torch=f"optim.{type_id}", kwargs=kwargs, key_params=("lr",)))


_optimizer("SGD", "Gradient descent on mini-batches (full-batch GD with batch_size 0, pure SGD with 1); optional momentum and Nesterov.",
           (Float("momentum", 0.0, "Momentum (0 = plain SGD; 0.9 is common).", 0.0, 0.999),
            Bool("nesterov", False, "Nesterov accelerated gradient (needs momentum > 0).")),
           lambda p, ins: {"lr": p["lr"], "momentum": p["momentum"], "nesterov": p["nesterov"], "weight_decay": p["weight_decay"]})
_optimizer("Adagrad", "Per-parameter learning rates that shrink with the sum of squared gradients.",
           (Float("eps", 1e-10, "Added to the denominator.", 1e-12, 1.0),),
           lambda p, ins: {"lr": p["lr"], "eps": p["eps"], "weight_decay": p["weight_decay"]})
_optimizer("RMSprop", "Divides by a running average of squared gradients (alpha = its decay).",
           (Float("alpha", 0.99, "Decay of the squared-gradient average.", 0.0, 0.9999),
            Float("eps", 1e-8, "Added to the denominator.", 1e-12, 1.0),
            Float("momentum", 0.0, "Momentum.", 0.0, 0.999)),
           lambda p, ins: {"lr": p["lr"], "alpha": p["alpha"], "eps": p["eps"], "momentum": p["momentum"],
                           "weight_decay": p["weight_decay"]})
for _name, _wd in (("Adam", 0.0), ("AdamW", 0.01)):
    _optimizer(_name, "Adaptive moments with bias correction" + (" and decoupled weight decay." if _name == "AdamW" else "."),
               (Float("beta1", 0.9, "Decay of the gradient average (momentum).", 0.0, 0.9999),
                Float("beta2", 0.999, "Decay of the squared-gradient average.", 0.0, 0.999999),
                Float("eps", 1e-8, "Added to the denominator.", 1e-12, 1.0)),
               lambda p, ins: {"lr": p["lr"], "betas": (p["beta1"], p["beta2"]), "eps": p["eps"],
                               "weight_decay": p["weight_decay"]}, _wd)

SCHED_OUT = (Port("schedule", kind="schedule", doc="Wire into an optimizer's schedule input."),)
register(NodeType(
    "StepLR", "Step decay", "schedule", "Multiplies the learning rate by gamma every step_size epochs.",
    (), SCHED_OUT,
    (Int("step_size", 10, "Epochs between decays.", 1, 100_000), Float("gamma", 0.5, "Factor applied at each decay.", 0.0, 1.0)),
    lambda p, ins, ctx: {"schedule": SCHEDULE}, torch="lr_scheduler.StepLR",
    kwargs=lambda p, ins: {"step_size": p["step_size"], "gamma": p["gamma"]}, key_params=("step_size", "gamma"),
))
register(NodeType(
    "ExponentialLR", "Exponential decay", "schedule", "Multiplies the learning rate by gamma after every epoch.",
    (), SCHED_OUT, (Float("gamma", 0.95, "Factor applied every epoch.", 0.0, 1.0),),
    lambda p, ins, ctx: {"schedule": SCHEDULE}, torch="lr_scheduler.ExponentialLR",
    kwargs=lambda p, ins: {"gamma": p["gamma"]}, key_params=("gamma",),
))

# ---------------------------------------------------------------- graph-wide settings

SETTINGS: tuple[Param, ...] = (
    Str("title", "", "A short name for this graph.", max_len=200),
    Str("description", "", "What this graph shows and what to look for when it trains.", max_len=20_000, multiline=True),
    Int("epochs", 20, "Passes over the training split.", 1, 1_000_000),
    Int("seed", 0, "Seed of initialisation, shuffling and dropout: same file + same seed = same run.", 0, 2**31 - 1),
    Choice("device", "auto", ("auto", "cpu", "cuda", "mps"), "auto: CUDA, then Apple MPS, then CPU."),
    Int("patience", 0, "Early stopping: stop after this many epochs without a better validation loss (0 = off).", 0, 1_000_000),
    Float("min_delta", 0.0, "Early stopping: the smallest decrease that counts as better.", 0.0, 1e6),
    Bool("restore_best", True, "When early stopping ends the run, restore the weights of the best epoch."),
    Bool("checkpoint_best", False, "Write a checkpoint whenever validation loss improves."),
)
SETTINGS_INDEX = {p.name: p for p in SETTINGS}


def default_settings() -> dict[str, Any]:
    return {p.name: p.default for p in SETTINGS}
