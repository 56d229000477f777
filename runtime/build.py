"""Build a trainable model from a graph: one ``nn.Module`` that runs the graph's DAG.

``build_model(graph)`` analyses the graph (``graph.analyze``), refuses it with a
:class:`BuildError` listing the findings when it has errors (a :class:`DataError` naming the
Dataset node when its data cannot be read), then creates one module per model
node and returns a :class:`GraphModule`. ``training_plan(graph)`` describes the rest of the run
(data, loss, optimizer, schedule, regularisation) as plain data plus factories.

Invariants:

* The model holds exactly the layer and activation nodes that lead into the loss's
  ``prediction`` input, created in ``graph.topological_order()`` (ties in document order). Each
  parametric module's ``weight_init``/``bias_init`` is applied right after the module is created,
  with the global torch RNG (``modules.apply_init``). Seed before building for a reproducible
  model; the exporter creates the same modules in the same order.
* Constructor arguments come only from ``NodeType.torch_kwargs(params, inputs)`` with the input
  shapes ``graph.analyze`` inferred: one source of truth shared with the exporter.
* Targets resolve through fixed allow-lists derived from the catalogue (``nn.X`` → ``torch.nn.X``
  only for the X the catalogue names; ``custom.X`` → ``runtime.modules``; ``fn.x`` →
  ``modules.FUNCTIONS``); nothing read from a file is ever passed to ``getattr``.
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

from graph import catalogue
from graph.analysis import DATA_FINDING, Analysis, analyze
from graph.document import Graph
from graph.tensors import TensorInfo

from . import modules
from .errors import BuildError, DataError, NodeError
from .names import attribute_names


def _allowed(prefix: str) -> frozenset[str]:
    return frozenset(t.torch[len(prefix):] for t in catalogue.REGISTRY.values() if t.torch.startswith(prefix))


# The only names that may be looked up on torch: those the catalogue itself declares.
NN_MODULES = _allowed("nn.")
CUSTOM_MODULES: dict[str, type[nn.Module]] = {"Maxout": modules.Maxout}
RECURRENT = {"LSTM": nn.LSTM, "GRU": nn.GRU}
LOSSES = _allowed("loss.")
OPTIMIZERS = _allowed("optim.")
SCHEDULERS = _allowed("lr_scheduler.")
# Modules swapped for a DropConnect variant (same parameters and keys) when dropconnect > 0.
DROPCONNECT = {"nn.Linear": modules.DropConnectLinear, "nn.Conv1d": modules.DropConnectConv1d,
               "nn.Conv2d": modules.DropConnectConv2d, "custom.Maxout": modules.Maxout}

RELU_LIKE = frozenset({"ReLU", "LeakyReLU", "ELU", "GELU"})
SATURATING = frozenset({"Sigmoid", "Tanh"})


def _nn_class(name: str) -> type[nn.Module]:
    if name not in NN_MODULES and name not in LOSSES:
        raise BuildError(f"'{name}' is not a torch.nn module this version of Netwright supports")
    return getattr(nn, name)


def make_module(type_id: str, params: dict, inputs: dict) -> nn.Module | None:
    """The module for one node (None for ``fn.*`` nodes), initialised per its init params."""
    t = catalogue.get(type_id)
    kind, _, name = t.torch.partition(".")
    kwargs = t.torch_kwargs(params, inputs)
    p = params.get("dropconnect", 0.0)
    if p > 0.0 and t.torch in DROPCONNECT:
        module = DROPCONNECT[t.torch](**kwargs, dropconnect=p)
    elif kind == "nn":
        module = _nn_class(name)(**kwargs)
    elif kind == "custom":
        module = CUSTOM_MODULES[name](**kwargs)
    elif kind == "recurrent":
        module = RECURRENT[name](**kwargs)
    elif kind == "fn":
        return None
    else:
        raise BuildError(f"node type {type_id} ({t.torch}) cannot be part of the model")
    if "weight_init" in params:
        modules.apply_init(module, params["weight_init"], params.get("bias_init", "default"),
                           params.get("bias_value", 0.0))
    return module


def _function(type_id: str, params: dict, inputs: dict) -> Callable[[Any], Any]:
    t = catalogue.get(type_id)
    fn = modules.FUNCTIONS[t.torch.partition(".")[2]]
    kwargs = t.torch_kwargs(params, inputs)
    if not kwargs:
        return fn
    return lambda x: fn(x, **kwargs)


@dataclass(frozen=True)
class NodeInfo:
    """What the runtime knows about one model node (plain data)."""

    node_id: str
    type_id: str
    attr: str
    has_params: bool
    relu_like: bool
    saturating: bool
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


def check_graph(graph: Graph, base_dir: str | None = None, analysis: Analysis | None = None) -> Analysis:
    """Analyse ``graph``; BuildError listing every error finding when it cannot be trained.

    When the Dataset node's data cannot be read (the file went away since the graph was
    checked, it is a device or a FIFO, ...), a DataError naming the node comes first: that is
    the problem to fix, and the designer marks the node it names."""
    a = analysis if analysis is not None else analyze(graph, base_dir)
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
        err.findings = lines  # type: ignore[attr-defined]
        raise err
    return a


def _single(graph: Graph, category: str) -> str | None:
    ids = [nid for nid, n in graph.nodes.items() if n.node_type.category == category]
    return ids[0] if ids else None


def build_model(
    graph: Graph,
    base_dir: str | None = None,
    data_info: tuple[TensorInfo, TensorInfo] | None = None,
    *,
    analysis: Analysis | None = None,
    seed: int | None = None,
) -> GraphModule:
    """Build the graph's model (on the CPU). ``data_info`` = the loaded data's (features,
    target): when given, a graph whose analysis disagrees with it is refused. ``seed``: call
    ``torch.manual_seed(seed)`` first (the trainer seeds itself and passes None)."""
    a = check_graph(graph, base_dir, analysis)
    data_id = _single(graph, "data")
    loss_id = _single(graph, "loss")
    assert data_id is not None and loss_id is not None  # check_graph guarantees both
    if data_info is not None:
        want = (a.outputs[data_id]["features"], a.outputs[data_id]["target"])
        if tuple(data_info) != want:
            raise BuildError(f"the loaded data ({data_info[0].describe()} → {data_info[1].describe()}) "
                             f"does not match the graph's Dataset node ({want[0].describe()} → "
                             f"{want[1].describe()}); was the file changed?")
    pred_edge = graph.edges_into(loss_id, "prediction")[0]
    # The model: every node that leads into the loss's prediction input.
    needed: set[str] = set()
    stack = [pred_edge.source.node]
    while stack:
        nid = stack.pop()
        if nid in needed or nid == data_id:
            continue
        needed.add(nid)
        stack.extend(graph.predecessors(nid))
    attrs = attribute_names(graph.nodes)
    model = GraphModule()
    slot_of: dict[tuple[str, str], int] = {(data_id, "features"): 0}
    if seed is not None:
        torch.manual_seed(seed)
    for nid in graph.topological_order():
        if nid not in needed:
            continue
        node = graph.nodes[nid]
        t = node.node_type
        if t.category not in ("layer", "activation"):
            raise BuildError(f"{node.label()} is a {t.category} node and cannot be part of the model")
        slots: list[int] = []
        many = False
        for port in t.inputs:
            for e in graph.edges_into(nid, port.name):
                key = (e.source.node, e.source.port)
                if key not in slot_of:
                    raise BuildError(f"{node.label()}: the model can only read the Dataset's features, "
                                     f"not {e.source}")
                slots.append(slot_of[key])
            many = many or port.many
        inputs = a.inputs[nid]
        module = make_module(t.type_id, node.params, inputs)
        index = len(model.nodes)
        if module is None:
            fn = _function(t.type_id, node.params, inputs)
        else:
            model.add_module(attrs[nid], module)
            fn = module
            if t.torch.startswith("recurrent."):
                mode = node.params["output"]
                fn = (lambda m, o: lambda x: modules.recurrent_output(m(x), o))(module, mode)
        model.nodes.append(NodeInfo(
            nid, t.type_id, attrs[nid], module is not None and any(True for _ in module.parameters()),
            t.type_id in RELU_LIKE, t.type_id in SATURATING, a.outputs[nid]["output"],
        ))
        model._steps.append((index, fn, tuple(slots), many))
        slot_of[(nid, "output")] = len(model._steps)
    model._output_slot = slot_of.get((pred_edge.source.node, pred_edge.source.port), 0)
    return model


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


def training_plan(graph: Graph, base_dir: str | None = None, analysis: Analysis | None = None) -> TrainingPlan:
    a = check_graph(graph, base_dir, analysis)
    data_id, loss_id, opt_id = (_single(graph, c) for c in ("data", "loss", "optimizer"))
    assert data_id and loss_id and opt_id
    loss_node, opt_node = graph.nodes[loss_id], graph.nodes[opt_id]
    sched_edges = graph.edges_into(opt_id, "schedule")
    sched_id = sched_edges[0].source.node if sched_edges else None
    reg = []
    for nid in graph.topological_order():
        p = graph.nodes[nid].params
        if p.get("l1") or p.get("l2") or p.get("max_norm"):
            reg.append((nid, p.get("l1", 0.0), p.get("l2", 0.0), p.get("max_norm", 0.0)))
    lt, ot = loss_node.node_type, opt_node.node_type
    st = graph.nodes[sched_id].node_type if sched_id else None
    return TrainingPlan(
        data_node=data_id,
        data_params=dict(graph.nodes[data_id].params),
        features=a.outputs[data_id]["features"],
        target=a.outputs[data_id]["target"],
        loss_node=loss_id,
        loss_type=lt.torch.partition(".")[2],
        loss_kwargs=lt.torch_kwargs(loss_node.params, a.inputs.get(loss_id, {})),
        optimizer_node=opt_id,
        optimizer_type=ot.torch.partition(".")[2],
        optimizer_kwargs=ot.torch_kwargs(opt_node.params, a.inputs.get(opt_id, {})),
        clip_grad_norm=float(opt_node.params.get("clip_grad_norm", 0.0)),
        scheduler_node=sched_id,
        scheduler_type=st.torch.partition(".")[2] if st else None,
        scheduler_kwargs=st.torch_kwargs(graph.nodes[sched_id].params, {}) if st and sched_id else {},
        settings=dict(graph.settings),
        regularization=reg,
    )
