"""What a node type is: :class:`NodeType` and every fact it declares, and :class:`Catalogue`.

A node type is one frozen record. Besides its ports, typed parameters, shape rule, parameter
count and torch target it carries every per-type fact any other part of Netwright needs, so
that those parts derive their tables from the catalogue instead of keeping their own:

========================  ===========================================================================
fact                      read by
========================  ===========================================================================
``call``                  runtime.build (and the exporter): how the module is called, what passes on
``dropconnect``           runtime.build (and the exporter): the DropConnect class for dropconnect > 0
``watch``                 runtime.build → the trainer's dead-unit / saturation diagnostics
``family``, ``threshold`` losses: analysis (target rules), runtime (targets, accuracy, class choice)
``weighted``              analysis: lints about how many learned maps a model has
``keeps_linear``          analysis: two Linear layers joined only through these collapse into one
``channels_first``        analysis: the output holds channels on axis 0 (a Linear on it needs Flatten)
``lint``                  analysis: warnings (with fixes) about how the type is wired
``example_input``         conformance tests: a valid input for a one-node graph
========================  ===========================================================================

:class:`Catalogue` holds the registered types; :data:`CATALOGUE` is the one the application uses
(``graph.catalogue.REGISTRY`` is its mapping). A test that needs another set of types makes its
own (``CATALOGUE.with_types(...)``) and passes it to ``graph.analysis.analyze(catalogue=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import GraphError
from ..params import Param
from ..tensors import LOSS, SCHEDULE, TensorInfo

if TYPE_CHECKING:
    from .findings import Finding, LintView

CATEGORIES = ("data", "layer", "activation", "loss", "optimizer", "schedule")
CATEGORY_TITLES = {
    "data": "Data",
    "layer": "Layers",
    "activation": "Activations",
    "loss": "Losses",
    "optimizer": "Optimizers",
    "schedule": "LR schedules",
}
MODULE_KINDS = ("nn", "custom", "recurrent")  # torch targets that are modules (the rest: fn, loss, ...)

Family = Literal["class", "binary", "regress"]
Watch = Literal["", "dead", "saturation"]


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
LintRule = Callable[["LintView", str], Iterable["Finding"]]


@dataclass(frozen=True)
class InputFn:
    """A call option computed from the node's input by the ``runtime.modules`` function ``name``
    (which must be listed in ``modules.INPUT_FUNCTIONS``): ``attn_mask=InputFn("causal_mask")`` is
    ``attn_mask=causal_mask(x)`` in the live model and, the function copied, in the script."""

    name: str


@dataclass(frozen=True)
class Call:
    """How the runtime calls a module target and what the node passes on.

    The default is the common case, ``y = module(x)``. Otherwise, in this order:

    * ``repeat``: ``x`` is passed this many times (self-attention: query, key and value);
    * ``options(params)``: keyword arguments of every call, literal values or :class:`InputFn`;
    * ``select``: the module returns a tuple, the node passes on element ``select``;
    * ``last_step(params)``: True when only the last step along per-sample axis 0 passes on
      (torch axis 1: ``y[:, -1]``).

    ``nn.LSTM`` with output "last" is ``Call(select=0, last_step=...)``: ``module(x)[0][:, -1]``.
    ``nn.MultiheadAttention`` is ``Call(repeat=3, options=..., select=0)``:
    ``module(x, x, x, need_weights=False)[0]``.
    """

    repeat: int = 1
    options: Callable[[dict], dict[str, Any]] | None = None
    select: int | None = None
    last_step: Callable[[dict], bool] | None = None

    @property
    def plain(self) -> bool:
        """``y = module(x)``: nothing to add to the call."""
        return self == PLAIN_CALL

    def call_options(self, params: dict) -> dict[str, Any]:
        return self.options(params) if self.options else {}

    def takes_last_step(self, params: dict) -> bool:
        return bool(self.last_step and self.last_step(params))


PLAIN_CALL = Call()


@dataclass(frozen=True)
class Example:
    """A valid input for a layer or activation with its default parameters overridden by
    ``params``: per sample, ``shape`` of ``dtype`` (``int64``: ids in ``[0, high)``). A port that
    takes many inputs gets two of them."""

    shape: tuple[int, ...] = (6,)
    dtype: str = "float32"
    high: int = 16
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def info(self) -> TensorInfo:
        return TensorInfo(self.shape, self.dtype)


@dataclass(frozen=True)
class NodeType:
    """One node type; see the module docstring for the facts and who reads them."""

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
    call: Call = PLAIN_CALL
    dropconnect: str = ""  # runtime.modules class built instead of the target when dropconnect > 0
    watch: Watch = ""  # "dead": share of units at exactly 0; "saturation": share near the asymptotes
    saturated_outside: tuple[float, float] = (0.0, 0.0)  # "saturation": an output below/above these is saturated
    family: Family | None = None  # losses: what the target must be (class indices, 0/1, real values)
    threshold: float | None = None  # binary losses: a prediction above it is the positive class
    weighted: bool = False  # a learned map (weights times inputs), counted by the linear-model lint
    keeps_linear: bool = False  # the node keeps a map linear (a Linear after it collapses into one)
    channels_first: bool = False  # the output is channels × positions (convolutions, pooling)
    lint: LintRule | None = None
    example_input: Example = Example()
    param_index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        assert self.category in CATEGORIES, self.category
        kind = self.torch.partition(".")[0]
        assert self.call.plain or kind in MODULE_KINDS, f"{self.type_id}: only modules have a call convention"
        assert (self.category == "loss") == (self.family is not None), f"{self.type_id}: family"
        assert self.threshold is None or self.family == "binary", f"{self.type_id}: threshold"
        object.__setattr__(self, "param_index", {p.name: p for p in self.params})
        assert not self.dropconnect or "dropconnect" in self.param_index, f"{self.type_id}: dropconnect"

    def param(self, name: str) -> Param:
        return self.param_index[name]

    def defaults(self) -> dict[str, Any]:
        return {p.name: (list(p.default) if p.kind == "ints" else p.default) for p in self.params}

    def example_params(self) -> dict[str, Any]:
        """The defaults with :attr:`example_input`'s parameters: valid with :meth:`example_inputs`."""
        return {**self.defaults(), **dict(self.example_input.params)}

    def example_inputs(self) -> Inputs:
        """Inputs this type accepts with :meth:`example_params` (losses: what their family takes)."""
        if self.category == "optimizer":
            return {"loss": LOSS, "schedule": SCHEDULE}
        if self.category == "loss":
            if self.family == "binary":
                return {"prediction": TensorInfo((1,)), "target": TensorInfo((), "int64", "classification", 2)}
            return {"prediction": TensorInfo((6,)), "target": TensorInfo((), "int64", "classification", 6)}
        x = self.example_input.info
        return {p.name: ([x, x] if p.many else x) for p in self.inputs}

    @property
    def target_kind(self) -> str:
        """``nn``, ``custom``, ``fn``, ``recurrent``, ``loss``, ``optim``, ``lr_scheduler`` or ``data``."""
        return self.torch.partition(".")[0]

    @property
    def target_name(self) -> str:
        """The name after the kind: ``Linear`` for ``nn.Linear``."""
        return self.torch.partition(".")[2]

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


class Catalogue:
    """A set of node types by id (plus legacy ids). :data:`CATALOGUE` is the application's."""

    def __init__(self, types: Iterable[NodeType] = ()) -> None:
        self.types: dict[str, NodeType] = {}
        self._legacy: dict[str, str] = {}
        for t in types:
            self.register(t)

    def register(self, t: NodeType) -> NodeType:
        assert t.type_id not in self.types, t.type_id
        self.types[t.type_id] = t
        for old in t.legacy_ids:
            self._legacy[old] = t.type_id
        return t

    def get(self, type_id: str) -> NodeType:
        """The type registered as ``type_id`` (or under a legacy id); GraphError if unknown."""
        t = self.types.get(type_id) or self.types.get(self._legacy.get(type_id, ""))
        if t is None:
            raise GraphError(f"unknown node type {type_id!r}")
        return t

    def with_types(self, *types: NodeType) -> Catalogue:
        """A copy in which ``types`` replace (or join) the types of the same id: for tests."""
        replaced = {t.type_id: t for t in types}
        return Catalogue([replaced.pop(t.type_id, t) for t in self.types.values()] + list(replaced.values()))

    def by_category(self) -> dict[str, list[NodeType]]:
        out: dict[str, list[NodeType]] = {c: [] for c in CATEGORIES}
        for t in self.types.values():
            out[t.category].append(t)
        return out

    def __iter__(self) -> Iterator[NodeType]:
        return iter(self.types.values())

    def __contains__(self, type_id: object) -> bool:
        return type_id in self.types


CATALOGUE = Catalogue()
REGISTRY = CATALOGUE.types
register = CATALOGUE.register
get = CATALOGUE.get
by_category = CATALOGUE.by_category
