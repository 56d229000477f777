"""Optimizer and learning-rate schedule node types, and the graph-wide settings of a run."""

from __future__ import annotations

from typing import Any

from ..errors import ShapeError
from ..params import Bool, Choice, Float, Int, Param, Str
from ..tensors import SCHEDULE
from .core import Inputs, NodeType, Port, RuleContext, register

# ---------------------------------------------------------------- optimizers

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

# ---------------------------------------------------------------- schedules

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
