"""Build a trainable model from a graph: one ``nn.Module`` that runs the graph's DAG.

``build_model(graph)`` analyses the graph (``graph.analyze``), refuses it with a
:class:`BuildError` listing the findings when it has errors (a :class:`DataError` naming the
Dataset node when its data cannot be read), then creates one module per model
node and returns a :class:`GraphModule`. ``training_plan(graph)`` describes the rest of the run
(data, loss, optimizer, schedule, regularisation) as plain data plus factories.

Invariants:

* The model holds exactly the layer and activation nodes that lead into the loss's
  ``prediction`` input (:func:`model_nodes`, the one traversal, which the exporter uses too),
  created in ``graph.topological_order()`` (ties in document order). Each
  parametric module's ``weight_init``/``bias_init`` is applied right after the module is created,
  with the global torch RNG (``modules.apply_init``). Seed before building for a reproducible
  model; the exporter creates the same modules in the same order.
* Constructor arguments come only from ``NodeType.torch_kwargs(params, inputs)`` with the input
  shapes ``graph.analyze`` inferred: one source of truth shared with the exporter.
* Targets resolve through fixed allow-lists derived from the catalogue (:class:`Targets`:
  ``nn.X`` and ``recurrent.X`` → ``torch.nn.X`` only for the X the catalogue names; ``custom.X``
  and the types' ``dropconnect`` classes → ``runtime.modules``; ``fn.x`` → ``modules.FUNCTIONS``);
  nothing read from a file is ever passed to ``getattr``.
* Every per-type fact comes from the node's ``NodeType``: how its module is called and what it
  passes on (``call``, applied by :func:`called`), its DropConnect class, which diagnostics
  watch it (``NodeInfo.relu_like``/``saturating``), the loss's family and binary threshold
  (:class:`TrainingPlan`). Nothing here is keyed by type id.
* Submodules are registered under ``runtime.names.attribute_names(graph.nodes)`` (node ``n3`` →
  attribute ``n3``), so ``state_dict`` keys (``n3.weight``) equal the exported script's.
* ``forward(x)`` takes the features batch and returns the prediction (the tensor entering the
  loss). An exception raised inside a node becomes ``NodeError(node_id, "Node 'n4' (Linear): ...")``.
  :meth:`GraphModule.capturing` collects chosen nodes' outputs during the next forward passes
  without hooks, extra passes, random numbers or any change to the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from graph import catalogue as _catalogue
from graph.analysis import DATA_FINDING, Analysis, analyze
from graph.catalogue import Call, Catalogue, InputFn, NodeType
from graph.document import Graph
from graph.tensors import TensorInfo

from . import modules
from .errors import BuildError, DataError, NodeError
from .names import attribute_names


@dataclass(frozen=True)
class Targets:
    """The only names that may be looked up on ``torch.nn``, ``torch.optim`` and
    ``runtime.modules``: those a catalogue declares (``nn.X`` and ``recurrent.X`` targets, the
    ``custom.X`` targets and DropConnect classes, losses, optimizers, schedules)."""

    torch_nn: frozenset[str]  # names in torch.nn
    custom: dict[str, type[nn.Module]]  # classes of runtime.modules
    losses: frozenset[str]
    optimizers: frozenset[str]
    schedulers: frozenset[str]

    @classmethod
    def of(cls, types: Catalogue) -> Targets:
        def named(*kinds: str) -> frozenset[str]:
            return frozenset(t.target_name for t in types if t.target_kind in kinds)

        custom = named("custom") | {t.dropconnect for t in types if t.dropconnect}
        classes = {name: getattr(modules, name) for name in sorted(custom)}
        assert all(isinstance(c, type) and issubclass(c, nn.Module) for c in classes.values()), classes
        return cls(named("nn", "recurrent"), classes, named("loss"), named("optim"), named("lr_scheduler"))


TARGETS = Targets.of(_catalogue.CATALOGUE)
NN_MODULES = TARGETS.torch_nn
CUSTOM_MODULES = TARGETS.custom
LOSSES = TARGETS.losses
OPTIMIZERS = TARGETS.optimizers
SCHEDULERS = TARGETS.schedulers


def _nn_class(name: str, targets: Targets = TARGETS) -> type[nn.Module]:
    if name not in targets.torch_nn and name not in targets.losses:
        raise BuildError(f"'{name}' is not a torch.nn module this version of Netwright supports")
    return getattr(nn, name)


def make_module(t: NodeType, params: dict, inputs: dict, targets: Targets = TARGETS) -> nn.Module | None:
    """The module for one node of type ``t`` (None for ``fn.*`` nodes), initialised per its init
    params. With ``dropconnect > 0`` the type's DropConnect class replaces its target."""
    kind, name = t.target_kind, t.target_name
    kwargs = t.torch_kwargs(params, inputs)
    p = params.get("dropconnect", 0.0)
    if p > 0.0 and t.dropconnect:
        module = targets.custom[t.dropconnect](**kwargs, dropconnect=p)
    elif kind in ("nn", "recurrent"):
        module = _nn_class(name, targets)(**kwargs)
    elif kind == "custom":
        module = targets.custom[name](**kwargs)
    elif kind == "fn":
        return None
    else:
        raise BuildError(f"node type {t.type_id} ({t.torch}) cannot be part of the model")
    if "weight_init" in params:
        modules.apply_init(module, params["weight_init"], params.get("bias_init", "default"),
                           params.get("bias_value", 0.0))
    return module


def _function(t: NodeType, params: dict, inputs: dict) -> Callable[[Any], Any]:
    fn = modules.FUNCTIONS[t.target_name]
    kwargs = t.torch_kwargs(params, inputs)
    if not kwargs:
        return fn
    return lambda x: fn(x, **kwargs)


def _input_function(name: str) -> Callable[[Any], Any]:
    """A ``runtime.modules`` function named by a call option: only the exported helpers."""
    fn = modules.INPUT_FUNCTIONS.get(name)
    if fn is None:
        raise BuildError(f"'{name}' is not a helper of runtime.modules")
    return fn


def called(module: nn.Module, call: Call, params: dict) -> Callable[[Any], Any]:
    """``x -> what the node passes on`` for a module node, per its type's call convention."""
    if call.plain:
        return module
    fixed: dict[str, Any] = {}
    computed: dict[str, Callable[[Any], Any]] = {}
    for key, value in call.call_options(params).items():
        if isinstance(value, InputFn):
            computed[key] = _input_function(value.name)
        else:
            fixed[key] = value
    repeat, select, last = call.repeat, call.select, call.takes_last_step(params)

    def run(x: Any) -> Any:
        out = module(*([x] * repeat), **fixed, **{k: fn(x) for k, fn in computed.items()})
        if select is not None:
            out = out[select]
        return out[:, -1] if last else out

    return run


@dataclass(frozen=True)
class NodeInfo:
    """What the runtime knows about one model node (plain data)."""

    node_id: str
    type_id: str
    attr: str
    has_params: bool
    relu_like: bool
    saturating: bool
    saturated_outside: tuple[float, float]  # a saturating node's output beyond these counts as saturated
    output: TensorInfo


class GraphModule(nn.Module):
    """Runs a graph's model nodes in topological order; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[NodeInfo] = []
        # (node index, callable, input slots, takes a list); slot 0 is the features, slot k+1
        # the output of the k-th step.
        self._steps: list[tuple[int, Callable[[Any], Any], tuple[int, ...], bool]] = []
        self._output_slot = 0
        self._capture: dict[str, torch.Tensor] | None = None
        self._capture_slots: dict[int, str] = {}

    @property
    def node_ids(self) -> list[str]:
        return [n.node_id for n in self.nodes]

    def node_module(self, node_id: str) -> nn.Module | None:
        for n in self.nodes:
            if n.node_id == node_id:
                return getattr(self, n.attr, None)
        raise KeyError(node_id)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = [x]
        try:
            if self._capture is None:
                for _, fn, slots, many in self._steps:
                    values.append(fn([values[s] for s in slots]) if many else fn(values[slots[0]]))
            else:
                for _, fn, slots, many in self._steps:
                    values.append(fn([values[s] for s in slots]) if many else fn(values[slots[0]]))
                    nid = self._capture_slots.get(len(values) - 1)
                    if nid is not None:
                        self._capture[nid] = values[-1].detach()
        except (NodeError, torch.cuda.OutOfMemoryError):
            raise
        except Exception as exc:
            k = len(values) - 1  # the step that failed: values holds the features + finished steps
            if k >= len(self._steps):
                raise
            info = self.nodes[self._steps[k][0]]
            message = " ".join(str(exc).split())[:400] or type(exc).__name__
            raise NodeError(info.node_id, f"Node '{info.node_id}' ({info.type_id}): {message}") from exc
        return values[self._output_slot]

    @contextmanager
    def capturing(self, node_ids: list[str]) -> Iterator[dict[str, torch.Tensor]]:
        """Within the block, each forward pass stores the (detached) outputs of ``node_ids``
        in the yielded dict, overwriting the previous pass's."""
        slots = {k + 1: self.nodes[i].node_id for k, (i, _, _, _) in enumerate(self._steps)}
        wanted = set(node_ids)
        self._capture_slots = {s: nid for s, nid in slots.items() if nid in wanted}
        self._capture = {}
        try:
            yield self._capture
        finally:
            self._capture = None
            self._capture_slots = {}


def check_graph(graph: Graph, base_dir: str | None = None, analysis: Analysis | None = None, *,
                catalogue: Catalogue | None = None) -> Analysis:
    """Analyse ``graph``; BuildError listing every error finding when it cannot be trained.

    When the Dataset node's data cannot be read (the file went away since the graph was
    checked, it is a device or a FIFO, ...), a DataError naming the node comes first: that is
    the problem to fix, and the designer marks the node it names."""
    a = analysis if analysis is not None else analyze(graph, base_dir, catalogue=catalogue)
    data_problem = next((f for f in a.errors if f.code == DATA_FINDING and f.node_id in graph.nodes), None)
    if data_problem is not None:
        node_id = data_problem.node_id
        assert node_id is not None  # the condition above
        others = len(a.errors) - 1
        more = f" (and {others} more error{'s' * (others != 1)} in the graph)" if others else ""
        raise DataError(f"Node {graph.nodes[node_id].label()}: {data_problem.message}{more}", node_id)
    if a.errors:
        lines = [" ".join(f.text(graph).split()) for f in a.errors]
        err = BuildError("the graph cannot be trained:\n  " + "\n  ".join(lines))
        # NOTE: [BuildError.findings] set here until runtime/errors.py gives BuildError the field.
        err.findings = lines  # type: ignore[attr-defined]
        raise err
    return a


def _single(graph: Graph, category: str, types: Catalogue) -> str | None:
    ids = [nid for nid, n in graph.nodes.items() if types.get(n.type).category == category]
    return ids[0] if ids else None


def model_nodes(graph: Graph, *, catalogue: Catalogue | None = None) -> list[str]:
    """The model's nodes: every node that leads into the loss's ``prediction`` input (the Dataset
    aside), in ``graph.topological_order()``, which is the order their modules are created (and
    draw their initial weights) and run. This is the one traversal: the model builder and the
    exporter both use it. BuildError when such a node is not a layer or an activation. The graph
    must have passed :func:`check_graph` (one Dataset, one loss with its prediction wired)."""
    types = catalogue or _catalogue.CATALOGUE
    data_id, loss_id = _single(graph, "data", types), _single(graph, "loss", types)
    assert loss_id is not None, "check_graph first"
    needed: set[str] = set()
    stack = [graph.edges_into(loss_id, "prediction")[0].source.node]
    while stack:
        nid = stack.pop()
        if nid not in needed and nid != data_id:
            needed.add(nid)
            stack.extend(graph.predecessors(nid))
    order = [nid for nid in graph.topological_order() if nid in needed]
    for nid in order:
        category = types.get(graph.nodes[nid].type).category
        if category not in ("layer", "activation"):
            raise BuildError(f"{graph.nodes[nid].label()} is a {category} node and cannot be part of the model")
    return order


def build_model(
    graph: Graph,
    base_dir: str | None = None,
    data_info: tuple[TensorInfo, TensorInfo] | None = None,
    *,
    analysis: Analysis | None = None,
    seed: int | None = None,
    catalogue: Catalogue | None = None,
) -> GraphModule:
    """Build the graph's model (on the CPU). ``data_info`` = the loaded data's (features,
    target): when given, a graph whose analysis disagrees with it is refused. ``seed``: call
    ``torch.manual_seed(seed)`` first (the trainer seeds itself and passes None).
    ``catalogue``: where node types come from (the application's by default)."""
    types = catalogue or _catalogue.CATALOGUE
    a = check_graph(graph, base_dir, analysis, catalogue=types)
    data_id, loss_id = _single(graph, "data", types), _single(graph, "loss", types)
    assert data_id is not None and loss_id is not None  # check_graph guarantees both
    if data_info is not None:
        _check_data(a, data_id, data_info)
    order = model_nodes(graph, catalogue=types)
    builder = _Builder(graph, a, Targets.of(types) if catalogue is not None else TARGETS, types,
                       attribute_names(graph.nodes), {(data_id, "features"): 0})
    if seed is not None:
        torch.manual_seed(seed)
    for nid in order:
        builder.add(nid)
    pred = graph.edges_into(loss_id, "prediction")[0].source
    builder.model._output_slot = builder.slot_of.get((pred.node, pred.port), 0)
    return builder.model


def _check_data(a: Analysis, data_id: str, data_info: tuple[TensorInfo, TensorInfo]) -> None:
    want = (a.outputs[data_id]["features"], a.outputs[data_id]["target"])
    if tuple(data_info) != want:
        raise BuildError(f"the loaded data ({data_info[0].describe()} → {data_info[1].describe()}) "
                         f"does not match the graph's Dataset node ({want[0].describe()} → "
                         f"{want[1].describe()}); was the file changed?")


@dataclass
class _Builder:
    """Adds one model node after another to a :class:`GraphModule`."""

    graph: Graph
    analysis: Analysis
    targets: Targets
    types: Catalogue
    attrs: dict[str, str]
    slot_of: dict[tuple[str, str], int]  # (node, output port) -> slot in GraphModule.forward
    model: GraphModule = field(default_factory=GraphModule)

    def _input_slots(self, nid: str, t: NodeType) -> tuple[tuple[int, ...], bool]:
        slots: list[int] = []
        for port in t.inputs:
            for e in self.graph.edges_into(nid, port.name):
                key = (e.source.node, e.source.port)
                if key not in self.slot_of:
                    raise BuildError(f"{self.graph.nodes[nid].label()}: the model can only read the Dataset's "
                                     f"features, not {e.source}")
                slots.append(self.slot_of[key])
        return tuple(slots), any(port.many for port in t.inputs)

    def add(self, nid: str) -> None:
        node = self.graph.nodes[nid]
        t = self.types.get(node.type)
        slots, many = self._input_slots(nid, t)
        inputs = self.analysis.inputs[nid]
        module = make_module(t, node.params, inputs, self.targets)
        if module is None:
            fn = _function(t, node.params, inputs)
        else:
            self.model.add_module(self.attrs[nid], module)
            fn = called(module, t.call, node.params)
        has_params = module is not None and any(True for _ in module.parameters())
        self.model.nodes.append(NodeInfo(nid, t.type_id, self.attrs[nid], has_params, t.watch == "dead",
                                         t.watch == "saturation", t.saturated_outside,
                                         self.analysis.outputs[nid]["output"]))
        self.model._steps.append((len(self.model.nodes) - 1, fn, slots, many))
        self.slot_of[(nid, "output")] = len(self.model._steps)


# ------------------------------------------------------------------ the rest of a run


@dataclass
class TrainingPlan:
    """Everything besides the model that a run needs, read from the graph (plain data)."""

    data_node: str
    data_params: dict
    features: TensorInfo
    target: TensorInfo
    loss_node: str
    loss_type: str
    loss_kwargs: dict
    optimizer_node: str
    optimizer_type: str
    optimizer_kwargs: dict
    clip_grad_norm: float
    scheduler_node: str | None
    scheduler_type: str | None
    scheduler_kwargs: dict
    settings: dict
    # Per model node with l1/l2/max_norm set: (node_id, l1, l2, max_norm).
    regularization: list[tuple[str, float, float, float]] = field(default_factory=list)
    # The loss type's facts: what its targets are ("class", "binary", "regress") and where a
    # one-output prediction turns to the positive class (see :func:`binary_threshold`).
    loss_family: str = "class"
    binary_threshold: float = 0.0

    @property
    def task(self) -> str:
        return self.target.task or ("classification" if self.target.dtype == "int64" else "regression")

    @property
    def classification(self) -> bool:
        return self.task == "classification"

    def make_loss(self) -> nn.Module:
        if self.loss_type not in LOSSES:
            raise BuildError(f"unsupported loss {self.loss_type}")
        return _nn_class(self.loss_type)(**self.loss_kwargs)

    def make_optimizer(self, parameters: Any) -> torch.optim.Optimizer:
        if self.optimizer_type not in OPTIMIZERS:
            raise BuildError(f"unsupported optimizer {self.optimizer_type}")
        return getattr(torch.optim, self.optimizer_type)(parameters, **self.optimizer_kwargs)

    def make_scheduler(self, optimizer: torch.optim.Optimizer) -> Any:
        if self.scheduler_type is None:
            return None
        if self.scheduler_type not in SCHEDULERS:
            raise BuildError(f"unsupported schedule {self.scheduler_type}")
        return getattr(torch.optim.lr_scheduler, self.scheduler_type)(optimizer, **self.scheduler_kwargs)


def binary_threshold(loss: NodeType) -> float:
    """Where a one-output prediction turns to the positive class under ``loss``: the loss type's
    ``threshold`` (BCELoss: probabilities, 0.5), else 0 (raw scores, whose sigmoid is 0.5 there).
    The one rule for the trainer's accuracy, its class predictions and the results view."""
    return loss.threshold if loss.threshold is not None else 0.0


def training_plan(graph: Graph, base_dir: str | None = None, analysis: Analysis | None = None, *,
                  catalogue: Catalogue | None = None) -> TrainingPlan:
    types = catalogue or _catalogue.CATALOGUE
    a = check_graph(graph, base_dir, analysis, catalogue=types)
    data_id, loss_id, opt_id = (_single(graph, c, types) for c in ("data", "loss", "optimizer"))
    assert data_id and loss_id and opt_id
    loss_node, opt_node = graph.nodes[loss_id], graph.nodes[opt_id]
    sched_edges = graph.edges_into(opt_id, "schedule")
    sched_id = sched_edges[0].source.node if sched_edges else None
    reg = []
    for nid in graph.topological_order():
        p = graph.nodes[nid].params
        if p.get("l1") or p.get("l2") or p.get("max_norm"):
            reg.append((nid, p.get("l1", 0.0), p.get("l2", 0.0), p.get("max_norm", 0.0)))
    lt, ot = types.get(loss_node.type), types.get(opt_node.type)
    st = types.get(graph.nodes[sched_id].type) if sched_id else None
    return TrainingPlan(
        data_node=data_id,
        data_params=dict(graph.nodes[data_id].params),
        features=a.outputs[data_id]["features"],
        target=a.outputs[data_id]["target"],
        loss_node=loss_id,
        loss_type=lt.target_name,
        loss_kwargs=lt.torch_kwargs(loss_node.params, a.inputs.get(loss_id, {})),
        optimizer_node=opt_id,
        optimizer_type=ot.target_name,
        optimizer_kwargs=ot.torch_kwargs(opt_node.params, a.inputs.get(opt_id, {})),
        clip_grad_norm=float(opt_node.params.get("clip_grad_norm", 0.0)),
        scheduler_node=sched_id,
        scheduler_type=st.target_name if st else None,
        scheduler_kwargs=st.torch_kwargs(graph.nodes[sched_id].params, {}) if st and sched_id else {},
        settings=dict(graph.settings),
        regularization=reg,
        loss_family=lt.family or "class",
        binary_threshold=binary_threshold(lt),
    )
