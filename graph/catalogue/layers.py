"""Layer node types: everything with the category ``layer``, each declared once.

Shapes are per sample (no batch axis); ``kwargs`` gives torch's constructor arguments from the
parameters and the inferred input shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..errors import InsertHint, SetParamHint, ShapeError
from ..params import Bool, Choice, Float, Int, Ints
from ..tensors import TensorInfo, format_shape, numel
from .common import (
    BIAS,
    DROPCONNECT,
    INIT_PARAMS,
    P_INPUT,
    P_OUTPUT,
    REG_PARAMS,
    check_dim,
    float_input,
    the_input,
    torch_dim,
)
from .core import Call, Example, InputFn, Inputs, NodeType, Port, RuleContext, ShapeRule, register
from .findings import Finding, Fix, InsertBefore, LintView

# ---------------------------------------------------------------- Linear


def _linear_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
    float_input(x, "Linear")
    if not x.shape:
        raise ShapeError("Linear needs at least one feature axis; got a scalar per sample")
    n = x.shape[-1]
    if p["in_features"] and p["in_features"] != n:
        raise ShapeError(f"in_features is {p['in_features']} but the input has {n} features",
                         SetParamHint("in_features", n))
    return {"output": TensorInfo(x.shape[:-1] + (p["out_features"],))}


def _linear_count(p: dict, ins: Inputs) -> int:
    n = the_input(ins).shape[-1]
    return n * p["out_features"] + (p["out_features"] if p["bias"] else 0)


def _shape_maker(view: LintView, nid: str) -> str | None:
    """The nearest node upstream of ``nid``'s input that gave the tensor its shape (walking past
    activations and nodes whose output equals their input)."""
    prev = view.source(nid)
    while prev is not None:
        t = view.type_of(prev)
        x = view.input_info(prev) if t is not None and t.input_port("input") else None
        if x is None or (t is not None and t.category != "activation" and view.output_info(prev) != x):
            return prev
        prev = view.source(prev)
    return None


def _lint_linear(view: LintView, nid: str) -> Iterator[Finding]:
    x = view.input_info(nid)
    maker = view.type_of(_shape_maker(view, nid))
    # A Linear on steps×features is applied at every step (a transformer's feed-forward layer);
    # on channels first (a convolution's output) or on images it mixes positions, not features.
    if x is not None and (len(x.shape) > 2 or (len(x.shape) == 2 and maker is not None and maker.channels_first)):
        yield Finding("warning", "flatten-needed",
                      f"Linear acts on the last axis only of its {format_shape(x.shape)} input: "
                      "insert a Flatten to connect every value", nid,
                      Fix("Insert Flatten before this layer", (InsertBefore(nid, "input", "Flatten"),)))
    prev = view.source(nid)
    while prev and view.type_of(prev).keeps_linear:  # type: ignore[union-attr]
        prev = view.source(prev)
    if prev and view.type_id(prev) == "Linear" and view.analysed(nid) and view.analysed(prev):
        n_in = view.input_info(prev).shape[-1]  # type: ignore[union-attr]
        mid, out = view.params(prev)["out_features"], view.params(nid)["out_features"]
        yield Finding("warning", "linear-collapse",
                      f"two Linear layers with no activation between them collapse into one linear map "
                      f"({n_in}×{mid} then {mid}×{out} is just one {n_in}×{out} matrix): add an activation",
                      nid, Fix("Insert ReLU between the layers", (InsertBefore(nid, "input", "ReLU"),)))


register(NodeType(
    "Linear", "Linear", "layer",
    "Fully connected (dense) layer: y = x·Wᵀ + b over the last axis.",
    (P_INPUT,), (P_OUTPUT,),
    (Int("in_features", 0, "Input features (0 = take them from the incoming tensor).", 0, 1_000_000),
     Int("out_features", 8, "Output features (units).", 1, 1_000_000), BIAS, *INIT_PARAMS, *REG_PARAMS, DROPCONNECT),
    _linear_rule, torch="nn.Linear",
    kwargs=lambda p, ins: {"in_features": the_input(ins).shape[-1], "out_features": p["out_features"], "bias": p["bias"]},
    count_rule=_linear_count, key_params=("out_features",), legacy_ids=("Dense",),
    dropconnect="DropConnectLinear", weighted=True, lint=_lint_linear,
))

# ---------------------------------------------------------------- convolution and pooling


def _conv_out(size: int, k: int, s: int, pad: int, dil: int) -> int:
    return (size + 2 * pad - dil * (k - 1) - 1) // s + 1


def _conv_rule(nd: int) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        x = the_input(ins)
        name = f"Conv{nd}d"
        float_input(x, name)
        want = "channels×length" if nd == 1 else "channels×height×width"
        if len(x.shape) != nd + 1:
            extra = " (set the Dataset's layout to 'image' or insert a Reshape)" if nd == 2 else " (insert a Reshape)"
            raise ShapeError(f"{name} needs {want}; got {format_shape(x.shape)}{extra}")
        c = x.shape[0]
        if p["in_channels"] and p["in_channels"] != c:
            raise ShapeError(f"in_channels is {p['in_channels']} but the input has {c} channels",
                             SetParamHint("in_channels", c))
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
        c = the_input(ins).shape[0]
        return p["out_channels"] * c * p["kernel_size"] ** nd + (p["out_channels"] if p["bias"] else 0)
    return count


CONV_EXAMPLES = {1: Example((3, 9)), 2: Example((2, 7, 7))}
POOL_EXAMPLES = {1: Example((3, 8)), 2: Example((2, 6, 6))}

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
        kwargs=lambda p, ins: {"in_channels": the_input(ins).shape[0], "out_channels": p["out_channels"],
                               "kernel_size": p["kernel_size"], "stride": p["stride"], "padding": p["padding"],
                               "dilation": p["dilation"], "bias": p["bias"]},
        count_rule=_conv_count(_nd), key_params=("out_channels", "kernel_size"),
        dropconnect=f"DropConnectConv{_nd}d", weighted=True, channels_first=True, example_input=CONV_EXAMPLES[_nd],
    ))


def _pool_rule(nd: int, kind: str) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        x = the_input(ins)
        name = f"{kind}Pool{nd}d"
        float_input(x, name)
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
            key_params=("kernel_size",), channels_first=True, example_input=POOL_EXAMPLES[_nd],
        ))

# ---------------------------------------------------------------- reshaping


def _flatten_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
    return {"output": TensorInfo((numel(x.shape),), x.dtype)}


register(NodeType(
    "Flatten", "Flatten", "layer", "Flattens each sample into one vector (e.g. 8×4×4 → 128), as Linear layers expect.",
    (P_INPUT,), (P_OUTPUT,), (), _flatten_rule, torch="nn.Flatten", kwargs=lambda p, ins: {},
    keeps_linear=True, example_input=Example((2, 3, 4)),
))


def _reshape_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
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
    keeps_linear=True, example_input=Example(params=(("shape", [3, -1]),)),
))

# ---------------------------------------------------------------- normalisation and dropout


def _bn_rule(nd: int) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        x = the_input(ins)
        float_input(x, f"BatchNorm{nd}d")
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
        kwargs=lambda p, ins: {"num_features": the_input(ins).shape[0], "eps": p["eps"], "momentum": p["momentum"],
                               "affine": p["affine"]},
        count_rule=lambda p, ins: 2 * the_input(ins).shape[0] if p["affine"] else 0,
        keeps_linear=True, example_input=Example((6,)) if _nd == 1 else Example((3, 4, 4)),
    ))


def _layer_norm_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
    float_input(x, "LayerNorm")
    if not x.shape:
        raise ShapeError("LayerNorm needs at least one axis per sample; got a scalar")
    return {"output": TensorInfo(x.shape)}


register(NodeType(
    "LayerNorm", "LayerNorm", "layer",
    "Normalises each sample's last axis (each step's features) to mean 0 and variance 1, then scales "
    "and shifts it by learned weights; unlike BatchNorm it does not depend on the batch.",
    (P_INPUT,), (P_OUTPUT,),
    (Float("eps", 1e-5, "Added to the variance for stability.", 1e-12, 1.0),
     Bool("elementwise_affine", True, "Learn a scale and a shift per feature.")),
    _layer_norm_rule, torch="nn.LayerNorm",
    kwargs=lambda p, ins: {"normalized_shape": the_input(ins).shape[-1], "eps": p["eps"],
                           "elementwise_affine": p["elementwise_affine"]},
    count_rule=lambda p, ins: 2 * the_input(ins).shape[-1] if p["elementwise_affine"] else 0,
    key_params=("elementwise_affine",), example_input=Example((4, 6)),
))

register(NodeType(
    "Dropout", "Dropout", "layer",
    "Zeroes each value with probability p while training and scales the rest by 1/(1-p); identity at inference.",
    (P_INPUT,), (P_OUTPUT,), (Float("p", 0.5, "Probability of dropping a value.", 0.0, 0.99),),
    lambda p, ins, ctx: {"output": the_input(ins)}, torch="nn.Dropout", kwargs=lambda p, ins: {"p": p["p"]},
    key_params=("p",), keeps_linear=True,
))

# ---------------------------------------------------------------- Maxout and Embedding


def _maxout_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
    float_input(x, "Maxout")
    if len(x.shape) != 1:
        raise ShapeError(f"Maxout needs a flat vector per sample; got {format_shape(x.shape)}", InsertHint("Flatten"))
    return {"output": TensorInfo((p["out_features"],))}


register(NodeType(
    "Maxout", "Maxout", "layer",
    "Maxout unit: k affine pieces per output, the maximum is taken (a learned piecewise-linear activation).",
    (P_INPUT,), (P_OUTPUT,),
    (Int("out_features", 8, "Output units.", 1, 100_000), Int("pieces", 2, "Affine pieces per unit (k).", 2, 16),
     BIAS, *INIT_PARAMS, *REG_PARAMS, DROPCONNECT),
    _maxout_rule, torch="custom.Maxout",
    kwargs=lambda p, ins: {"in_features": the_input(ins).shape[-1], "out_features": p["out_features"],
                           "pieces": p["pieces"], "bias": p["bias"]},
    count_rule=lambda p, ins: the_input(ins).shape[-1] * p["out_features"] * p["pieces"]
    + (p["out_features"] * p["pieces"] if p["bias"] else 0),
    key_params=("out_features", "pieces"), dropconnect="Maxout", weighted=True,
))


def _embedding_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
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
    weighted=True, example_input=Example((7,), "int64", high=16),
))

# ---------------------------------------------------------------- sequences: recurrent layers and attention


def _recurrent_rule(name: str) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        x = the_input(ins)
        float_input(x, name)
        if len(x.shape) != 2:
            raise ShapeError(f"{name} needs steps×features per sample; got {format_shape(x.shape)}")
        h = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        out = (h,) if p["output"] == "last" else (x.shape[0], h)
        return {"output": TensorInfo(out)}
    return rule


def _recurrent_count(gates: int) -> Callable[[dict, Inputs], int]:
    def count(p: dict, ins: Inputs) -> int:
        f, h, dirs = the_input(ins).shape[-1], p["hidden_size"], 2 if p["bidirectional"] else 1
        total = 0
        for layer in range(p["num_layers"]):
            n_in = f if layer == 0 else h * dirs
            total += dirs * (gates * h * (n_in + h) + 2 * gates * h)
        return total
    return count


# nn.LSTM/GRU return (output, state): the node passes on output, or its last step.
# NOTE: [recurrent target] ``recurrent.X`` resolves exactly like ``nn.X``; the call convention
# says the rest. It stays a kind of its own until the exporter reads ``NodeType.call``.
RECURRENT_CALL = Call(select=0, last_step=lambda p: p["output"] == "last")

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
        kwargs=lambda p, ins: {"input_size": the_input(ins).shape[-1], "hidden_size": p["hidden_size"],
                               "num_layers": p["num_layers"], "bidirectional": p["bidirectional"],
                               "batch_first": True},
        count_rule=_recurrent_count(_gates), key_params=("hidden_size", "output"),
        call=RECURRENT_CALL, weighted=True, example_input=Example((5, 3)),
    ))


def _attention_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
    float_input(x, "MultiheadAttention")
    if len(x.shape) != 2:
        raise ShapeError(f"MultiheadAttention needs steps×features per sample (a sequence of vectors); "
                         f"got {format_shape(x.shape)}")
    e, h = x.shape[1], p["num_heads"]
    if e % h:
        fits = max(d for d in range(1, h + 1) if e % d == 0)
        raise ShapeError(f"num_heads {h} does not divide the {e} features of each step (each head gets "
                         f"features / num_heads of them); {fits} does", SetParamHint("num_heads", fits))
    return {"output": TensorInfo(x.shape)}


def _attention_options(p: dict) -> dict:
    # need_weights=False: torch returns (output, None) and may use its fused kernel.
    return {"need_weights": False, **({"attn_mask": InputFn("causal_mask")} if p["causal"] else {})}


register(NodeType(
    "MultiheadAttention", "MultiheadAttention", "layer",
    "Self-attention over a sequence: every step mixes in the steps whose keys match its query, "
    "with num_heads independent heads (steps×features in and out).",
    (P_INPUT,), (P_OUTPUT,),
    (Int("num_heads", 2, "Attention heads; each sees features / num_heads of every step (must divide it).", 1, 256),
     Bool("causal", False, "Each step attends only to itself and earlier steps."),
     Float("dropout", 0.0, "Dropout on the attention weights while training.", 0.0, 0.99),
     BIAS),
    _attention_rule, torch="nn.MultiheadAttention",
    kwargs=lambda p, ins: {"embed_dim": the_input(ins).shape[-1], "num_heads": p["num_heads"],
                           "dropout": p["dropout"], "bias": p["bias"], "batch_first": True},
    count_rule=lambda p, ins: 4 * the_input(ins).shape[-1] ** 2 + (4 * the_input(ins).shape[-1] if p["bias"] else 0),
    key_params=("num_heads", "causal"),
    call=Call(repeat=3, options=_attention_options, select=0), weighted=True, example_input=Example((5, 8)),
))

# ---------------------------------------------------------------- merging


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
    d = check_dim(p["dim"], rank, "Concat")
    out = list(xs[0].shape)
    for x in xs[1:]:
        if any(a != d and x.shape[a] != out[a] for a in range(rank)):
            raise ShapeError(f"Concat along axis {d}: other axes must match; got "
                             + ", ".join(format_shape(x.shape) for x in xs))
        out[d] += x.shape[d]
    return {"output": TensorInfo(tuple(out))}


register(NodeType(
    "Concat", "Concat", "layer", "Joins its inputs along a per-sample axis (in the order they were connected).",
    (Port("inputs", many=True, doc="Two or more tensors that agree on every other axis."),), (P_OUTPUT,),
    (Int("dim", 0, "Per-sample axis to join along (0 = features/channels; -1 = last).", -8, 7),),
    _concat_rule, torch="fn.cat", kwargs=lambda p, ins: {"dim": torch_dim(p["dim"])},
    example_input=Example(params=(("dim", -1),)),
))
