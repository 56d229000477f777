"""The node catalogue: every node type declared once, as data.

A :class:`NodeType` holds the type's id, title, category, ports, typed parameters, a pure shape
rule ``(params, inputs, ctx) -> outputs``, a parameter-count rule, the torch target named as a
string, one ``kwargs`` function that gives the constructor's keyword arguments, and every other
per-type fact the rest of Netwright needs (how the module is called, its DropConnect variant,
which diagnostics watch it, a loss's target family and threshold, lint rules, an example input:
see :mod:`graph.catalogue.core`). The live model (runtime.build) and the exported script
(runtime.export) both call the one ``kwargs`` function, so the model you train and the script
you export cannot drift apart; no other module keeps a table keyed by type id.

Torch targets are strings, resolved by the runtime against fixed tables — a file can never name a
callable:

* ``nn.<Name>``            a module of ``torch.nn``          (``nn.Linear``)
* ``custom.<Name>``        a module of ``runtime.modules``    (``custom.Maxout``)
* ``fn.<name>``            a function in a fixed table        (``fn.add``, ``fn.cat``)
* ``recurrent.<Name>``     ``torch.nn.LSTM``/``GRU``: resolved like ``nn.<Name>``, called per ``call``
* ``loss.<Name>``          a loss module of ``torch.nn``
* ``optim.<Name>``         an optimizer of ``torch.optim``
* ``lr_scheduler.<Name>``  a schedule of ``torch.optim.lr_scheduler``
* ``data``                 the Dataset node, loaded by ``runtime.data``

Per-sample shapes exclude the batch dimension; ``dim`` parameters count per-sample axes, and
``kwargs`` turns them into torch's batch-inclusive axes.

The declarations live by category in this package (``data``, ``layers``, ``activations``,
``losses``, ``training``); importing ``graph.catalogue`` registers them all in :data:`CATALOGUE`,
in palette order. Adding a node type is one ``register(NodeType(...))`` call in one of them.
"""

from __future__ import annotations

# isort: off
from . import data, layers, activations, losses, training  # noqa: F401  (they register, in palette order)
# isort: on
from .common import BIAS, DROPCONNECT, INIT_CHOICES, INIT_PARAMS, P_INPUT, P_OUTPUT, REG_PARAMS
from .core import (
    CATALOGUE,
    CATEGORIES,
    CATEGORY_TITLES,
    PLAIN_CALL,
    REGISTRY,
    Call,
    Catalogue,
    Example,
    InputFn,
    Inputs,
    NodeType,
    Port,
    RuleContext,
    ShapeRule,
    by_category,
    get,
    register,
)
from .findings import (
    SEVERITIES,
    Bridge,
    Finding,
    Fix,
    FixOp,
    InsertBefore,
    LintView,
    Replace,
    SetParam,
)
from .training import SETTINGS, SETTINGS_INDEX, default_settings

__all__ = [
    "BIAS", "CATALOGUE", "CATEGORIES", "CATEGORY_TITLES", "DROPCONNECT", "INIT_CHOICES", "INIT_PARAMS",
    "PLAIN_CALL", "P_INPUT", "P_OUTPUT", "REGISTRY", "REG_PARAMS", "SETTINGS", "SEVERITIES", "SETTINGS_INDEX", "Bridge",
    "Call", "Catalogue", "Example", "Finding", "Fix", "FixOp", "Inputs", "InputFn", "InsertBefore",
    "LintView", "NodeType", "Port", "Replace", "RuleContext", "SetParam", "ShapeRule", "by_category",
    "default_settings", "get", "register",
]
