"""Activation node types: element-wise (or, for the softmaxes, per-axis) functions without weights."""

from __future__ import annotations

from ..errors import ShapeError
from ..params import Float, Int
from ..tensors import TensorInfo
from .common import P_INPUT, P_OUTPUT, check_dim, float_input, the_input, torch_dim
from .core import Inputs, NodeType, RuleContext, Watch, register


def _same(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
    float_input(x, "An activation")
    return {"output": TensorInfo(x.shape)}


def _softmax_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    x = the_input(ins)
    float_input(x, "Softmax")
    if not x.shape:
        raise ShapeError("softmax needs at least one axis per sample")
    check_dim(p["dim"], len(x.shape), "softmax")
    return {"output": TensorInfo(x.shape)}


def _activation(type_id: str, doc: str, torch: str, params: tuple = (), kwargs=None, rule=_same,
                watch: Watch = "", keeps_linear: bool = False,
                saturated_outside: tuple[float, float] = (0.0, 0.0)) -> None:
    register(NodeType(type_id, type_id, "activation", doc, (P_INPUT,), (P_OUTPUT,), params, rule, torch=torch,
                      kwargs=kwargs or (lambda p, ins: {}), key_params=tuple(x.name for x in params),
                      watch=watch, keeps_linear=keeps_linear, saturated_outside=saturated_outside))


DIM = Int("dim", -1, "Per-sample axis (-1 = last).", -8, 7)

_activation("Step", "Heaviside step: 1 where x > 0, else 0 (the classic perceptron; its gradient is zero).", "fn.step")
_activation("Sign", "Sign: -1, 0 or 1 (the perceptron's output; its gradient is zero).", "fn.sign")
_activation("Sigmoid", "Logistic sigmoid 1/(1+e^-x), in (0, 1); derivative at most 0.25, so deep stacks vanish.", "nn.Sigmoid",
            watch="saturation", saturated_outside=(0.01, 0.99))  # within 1 % of 0 or 1
_activation("Tanh", "Hyperbolic tangent, in (-1, 1); zero-centred, saturates at both ends.", "nn.Tanh", watch="saturation",
            saturated_outside=(-0.99, 0.99))  # |tanh| > 0.99: gradient below 0.02
_activation("ReLU", "max(0, x): cheap, does not saturate for x > 0; units stuck below 0 die.", "nn.ReLU", watch="dead")
_activation("LeakyReLU", "x for x > 0, slope·x otherwise: keeps a gradient for negative inputs.", "nn.LeakyReLU",
            (Float("negative_slope", 0.01, "Slope for x < 0 (fixed before training).", 0.0, 1.0),),
            lambda p, ins: {"negative_slope": p["negative_slope"]}, watch="dead")
_activation("ELU", "x for x > 0, alpha·(eˣ-1) otherwise: smooth, negative outputs keep units alive.", "nn.ELU",
            (Float("alpha", 1.0, "Saturation value for large negative x.", 0.0, 100.0),), lambda p, ins: {"alpha": p["alpha"]},
            watch="dead")
_activation("GELU", "Gaussian error linear unit x·Φ(x), used in transformers.", "nn.GELU", watch="dead")
_activation("Softmax", "Turns scores into probabilities that sum to 1 along dim.", "nn.Softmax",
            (DIM,), lambda p, ins: {"dim": torch_dim(p["dim"])}, _softmax_rule)
_activation("LogSoftmax", "log(softmax(x)), numerically stable; pair it with NLLLoss.", "nn.LogSoftmax",
            (DIM,), lambda p, ins: {"dim": torch_dim(p["dim"])}, _softmax_rule)
_activation("Identity", "Passes its input through unchanged (no activation: a regression output).", "nn.Identity",
            keeps_linear=True)
