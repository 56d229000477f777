"""Torch helpers shared, as source, by the live runtime and the exported script.

``runtime.build`` and ``runtime.train`` call these; ``runtime.export`` copies their *source*
(``inspect.getsource``) into the standalone script, so a run in the app and a run of the script
execute the same code and agree bit for bit.

Invariants (keep them when editing):

* This module imports only ``math``, the standard library and torch (``torch``, ``torch.nn as
  nn``, ``torch.nn.functional as F``). No netwright, numpy or graph imports: the copied source
  must run with just those names in scope.
* Every definition is top-level and self-contained: it refers only to ``math``, ``torch``,
  ``nn``, ``F`` and to other definitions of this module; the exporter works out which from the
  source (runtime/export/sources.py) and copies them along.
* Nothing here consumes random numbers except where the docstring says so (module construction
  and :func:`init_weight` use the global torch RNG; dropout and DropConnect use it while
  training). The order of RNG use is part of the run's definition: see ``runtime/train.py``.

What is here, by catalogue target (a node type names what it needs in its catalogue entry, e.g.
``dropconnect="DropConnectLinear"``; nothing here is keyed by node type):

* ``custom.Maxout``                      :class:`Maxout`
* DropConnect (``dropconnect > 0`` on Linear, Conv1d, Conv2d, Maxout):
  :class:`DropConnectLinear`, :class:`DropConnectConv1d`, :class:`DropConnectConv2d` (same
  parameters and ``state_dict`` keys as the torch classes they extend) and
  ``Maxout(..., dropconnect=p)``; all use :func:`dropconnect_weight`.
* ``fn.add|cat|reshape|step|sign``       :data:`FUNCTIONS` (signatures below)
* call options of attention             :func:`causal_mask` (``attn_mask=causal_mask(x)``), the
  functions a call option may name: :data:`INPUT_FUNCTIONS`
* ``weight_init`` / ``bias_init``        :func:`apply_init` (:func:`init_weight`, :func:`init_bias`)
* losses, by the loss type's ``family``  :func:`family_target`, :func:`family_correct`
* L1/L2, max-norm                        :func:`layer_weights`, :func:`regularization_penalty`,
  :func:`apply_max_norm`
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

# ------------------------------------------------------------------ DropConnect and Maxout


def dropconnect_weight(weight, p, training):
    """DropConnect: while training, zero each weight with probability ``p`` and scale the rest
    by 1/(1-p) (like inverted dropout, so inference uses the weights unchanged). Uses the global
    torch RNG (the CUDA one on a GPU) once per forward pass when ``p > 0`` and training."""
    if p > 0.0 and training:
        return F.dropout(weight, p, True)
    return weight


class DropConnectLinear(nn.Linear):
    """``nn.Linear`` whose weight is DropConnect-ed while training (same parameters and keys)."""

    def __init__(self, in_features, out_features, bias=True, dropconnect=0.0):
        super().__init__(in_features, out_features, bias)
        self.dropconnect = dropconnect

    def forward(self, x):
        return F.linear(x, dropconnect_weight(self.weight, self.dropconnect, self.training), self.bias)


class DropConnectConv1d(nn.Conv1d):
    """``nn.Conv1d`` whose weight is DropConnect-ed while training (same parameters and keys)."""

    def __init__(self, *args, dropconnect=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.dropconnect = dropconnect

    def forward(self, x):
        w = dropconnect_weight(self.weight, self.dropconnect, self.training)
        return self._conv_forward(x, w, self.bias)


class DropConnectConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose weight is DropConnect-ed while training (same parameters and keys)."""

    def __init__(self, *args, dropconnect=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.dropconnect = dropconnect

    def forward(self, x):
        w = dropconnect_weight(self.weight, self.dropconnect, self.training)
        return self._conv_forward(x, w, self.bias)


class Maxout(nn.Module):
    """Maxout: ``pieces`` affine maps per output unit, the maximum is taken.

    ``weight`` is ``(out_features * pieces, in_features)``: rows ``j*pieces .. j*pieces+pieces-1``
    are unit ``j``'s pieces. Initialised like ``nn.Linear`` (Kaiming-uniform with a=sqrt(5), bias
    uniform in ±1/sqrt(in_features)), drawing from the global torch RNG in that order.
    """

    def __init__(self, in_features, out_features, pieces, bias=True, dropconnect=0.0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.pieces = pieces
        self.dropconnect = dropconnect
        self.weight = nn.Parameter(torch.empty(out_features * pieces, in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features * pieces))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        w = dropconnect_weight(self.weight, self.dropconnect, self.training)
        y = F.linear(x, w, self.bias)
        return y.view(*y.shape[:-1], self.out_features, self.pieces).amax(-1)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}, bias={self.bias is not None}, dropconnect={self.dropconnect}")


# ------------------------------------------------------------------ fn.* targets


def add(inputs):
    """``fn.add``: element-wise sum of a list of tensors, left to right."""
    out = inputs[0]
    for t in inputs[1:]:
        out = out + t
    return out


def cat(inputs, dim):
    """``fn.cat``: join a list of tensors along torch axis ``dim`` (batch-inclusive)."""
    return torch.cat(inputs, dim=dim)


def reshape(x, shape):
    """``fn.reshape``: reshape each sample to the per-sample ``shape`` (batch axis kept)."""
    return x.reshape(x.shape[0], *shape)


def step(x):
    """``fn.step``: Heaviside step, 1 where x > 0 else 0. Built from sign so it stays in the
    autograd graph with a zero gradient (backward works, nothing upstream learns)."""
    return torch.sign(x).clamp(min=0.0)


def sign(x):
    """``fn.sign``: -1, 0 or 1, with a zero gradient."""
    return torch.sign(x)


FUNCTIONS = {"add": add, "cat": cat, "reshape": reshape, "step": step, "sign": sign}


def causal_mask(x):
    """Self-attention mask for ``x`` (batch, steps, features): True above the diagonal, where a
    step may not look (at later steps); each step attends to itself and earlier steps."""
    n = x.shape[1]
    return torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)


# The runtime.modules functions a catalogue call option may name (``InputFn("causal_mask")``):
# an allow-list, so no name read from a type declaration reaches getattr.
INPUT_FUNCTIONS = {"causal_mask": causal_mask}


# ------------------------------------------------------------------ initialisation


def init_weight(weight, scheme):
    """Initialise one weight tensor in place (``weight_init`` choices of the catalogue).

    Fan-in is ``weight[0].numel()`` (inputs times kernel size), as torch computes it.
    ``default`` keeps torch's own initialisation; ``sparse`` keeps 10% of each column non-zero
    (``nn.init.sparse_`` on the weight viewed as 2-D) with std 1/sqrt(non-zero inputs per unit),
    so a unit's input variance stays near 1. Random schemes draw from the global torch RNG.
    """
    if scheme == "default":
        return
    with torch.no_grad():
        fan_in = max(weight[0].numel(), 1)
        if scheme == "zeros":
            weight.zero_()
        elif scheme == "small_random":
            weight.normal_(0.0, 1.0).mul_(0.01)
        elif scheme == "lecun":
            weight.normal_(0.0, 1.0 / math.sqrt(fan_in))
        elif scheme == "xavier_uniform":
            nn.init.xavier_uniform_(weight)
        elif scheme == "xavier_normal":
            nn.init.xavier_normal_(weight)
        elif scheme == "he_uniform":
            nn.init.kaiming_uniform_(weight, nonlinearity="relu")
        elif scheme == "he_normal":
            nn.init.kaiming_normal_(weight, nonlinearity="relu")
        elif scheme == "sparse":
            nn.init.sparse_(weight.view(weight.shape[0], -1), sparsity=0.9,
                            std=1.0 / math.sqrt(max(1.0, 0.1 * fan_in)))
        else:
            raise ValueError(f"unknown weight_init {scheme!r}")


def init_bias(bias, scheme, value):
    """Initialise one bias tensor in place: ``default`` (torch's), ``zeros`` or ``constant``."""
    if scheme == "default":
        return
    with torch.no_grad():
        if scheme == "zeros":
            bias.zero_()
        elif scheme == "constant":
            bias.fill_(value)
        else:
            raise ValueError(f"unknown bias_init {scheme!r}")


def apply_init(module, weight_init="default", bias_init="default", bias_value=0.0):
    """Apply a node's init choices to every ``weight*`` and ``bias*`` parameter of ``module``,
    in ``named_parameters()`` order (for an LSTM: weight_ih_l0, weight_hh_l0, bias_ih_l0, ...)."""
    for name, p in module.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf.startswith("weight"):
            init_weight(p, weight_init)
        elif leaf.startswith("bias"):
            init_bias(p, bias_init, bias_value)


# ------------------------------------------------------------------ losses and accuracy


def family_target(family, y, classes):
    """Turn a whole split's targets into what a loss of ``family`` expects (done once per split).

    Class labels (int64, shape (N,)): ``"class"`` -> the indices; ``"binary"`` -> float (N, 1);
    ``"regress"`` -> one-hot float (N, classes). Real-valued targets are returned as float.
    """
    if y.dtype != torch.int64:
        return y.float()
    if family == "class":
        return y
    if family == "binary":
        return y.float().unsqueeze(1)
    return F.one_hot(y, classes).float()


def family_correct(family, pred, target, threshold):
    """Number of correctly classified samples (a 0-dim tensor on pred's device, no sync) for
    class-label targets adapted by :func:`family_target`. ``"binary"``: a prediction above
    ``threshold`` is the positive class; ``"regress"`` on one-hot: argmax vs argmax."""
    if family == "class":
        return (pred.argmax(1) == target).sum()
    if family == "binary":
        return ((pred > threshold) == (target > 0.5)).all(1).sum()
    return (pred.argmax(1) == target.argmax(1)).sum()


# ------------------------------------------------------------------ regularisation


def layer_weights(module):
    """The tensors L1/L2 and max-norm act on: parameters whose name starts with ``weight``
    (biases excluded), in ``named_parameters()`` order."""
    return [p for name, p in module.named_parameters() if name.rsplit(".", 1)[-1].startswith("weight")]


def regularization_penalty(terms):
    """Sum over ``terms`` = [(weight, l1, l2), ...] in order of l1·Σ|W| + l2·ΣW² (zero
    coefficients skipped); None when nothing applies. Added to the data loss before backward."""
    total = None
    for w, l1, l2 in terms:
        if l1:
            t = l1 * w.abs().sum()
            total = t if total is None else total + t
        if l2:
            t = l2 * w.pow(2).sum()
            total = t if total is None else total + t
    return total


def apply_max_norm(constraints):
    """Max-norm: after each optimizer step, rescale every unit's incoming weight vector (each
    slice ``W[i]`` along axis 0) whose L2 norm exceeds ``max_norm``. ``constraints`` =
    [(weight, max_norm), ...]."""
    with torch.no_grad():
        for w, max_norm in constraints:
            w.renorm_(2, 0, max_norm)
