"""Parameter groups and small helpers shared by the declarations of several node types."""

from __future__ import annotations

from ..errors import ShapeError
from ..params import Bool, Choice, Float
from ..tensors import TensorInfo
from .core import Inputs, Port

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


def the_input(ins: Inputs, name: str = "input") -> TensorInfo:
    return ins[name]


def float_input(x: TensorInfo, what: str) -> None:
    if x.dtype == "int64":
        raise ShapeError(f"{what} needs real-valued input; got integer ids (put an Embedding first)")


def torch_dim(dim: int) -> int:
    """Per-sample axis -> torch axis (batch first)."""
    return dim if dim < 0 else dim + 1


def check_dim(dim: int, rank: int, what: str) -> int:
    if not -rank <= dim < rank:
        raise ShapeError(f"{what} dim {dim} is out of range for a {rank}-D sample")
    return dim % rank
