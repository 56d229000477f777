"""Pure analysis of a graph: shapes on every edge, parameter counts, findings and their fixes.

``analyze(graph)`` recomputes everything from the model; nothing here is stored in the document.
A :class:`Finding` names the node, a severity (``error`` blocks training, ``warning`` is a likely
mistake, ``info`` explains what the graph will show) and, where one exists, a :class:`Fix`: a
label and a tuple of edit operations (frozen dataclasses, ``graph.catalogue.findings``) that
:func:`apply_fix` performs through the document's mutation methods (the designer wraps them
into one undoable step).

What is checked comes from the node types: each type's shape rule (whose ``ShapeError.hint``
becomes a fix), each type's ``lint`` rule, and the few rules about the graph as a whole
(one data set, one loss, one optimizer, everything leads to the loss) that live here. The
catalogue is a parameter (``analyze(graph, catalogue=...)``), the application's by default.

A Dataset node whose data cannot be described (a missing or unreadable file, a path that is a
device or a FIFO, a malformed CSV) gets a :data:`DATA_FINDING` error, apart from shape errors,
so that the runtime can report it as a data problem of that node (``runtime.build.check_graph``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import catalogue as _catalogue
from . import datasets
from .catalogue import (
    SEVERITIES,
    Bridge,
    Catalogue,
    Finding,
    Fix,
    FixOp,
    InsertBefore,
    NodeType,
    Replace,
    RuleContext,
    SetParam,
)
from .document import Edge, Graph, PortRef
from .errors import (
    ClassCountHint,
    DatasetError,
    EditError,
    FixHint,
    GraphError,
    InsertHint,
    SetParamHint,
    ShapeError,
)
from .tensors import TensorInfo

NONLINEAR_SETS = {"xor", "moons", "circles", "spirals"}
DATA_FINDING = "data"  # the code of a Dataset node's finding when its data cannot be read

__all__ = ["DATA_FINDING", "Analysis", "Finding", "Fix", "FixOp", "analyze", "apply_fix"]


@dataclass
class Analysis:
    outputs: dict[str, dict[str, TensorInfo]] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(self.params.values())

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.errors

    def for_node(self, node_id: str) -> list[Finding]:
        return [f for f in self.findings if f.node_id == node_id]

    def edge_info(self, edge: Edge) -> TensorInfo | None:
        return self.outputs.get(edge.source.node, {}).get(edge.source.port)

    def output_info(self, node_id: str) -> TensorInfo | None:
        """The node's main output: ``output``, else its first output port."""
        outs = self.outputs.get(node_id) or {}
        return outs.get("output") or next(iter(outs.values()), None)


@dataclass
class _Pass:
    """One analysis in progress: the graph, the catalogue its types come from, the result."""

    graph: Graph
    types: Catalogue
    result: Analysis
    ctx: RuleContext

    def type_of(self, node_id: str | None) -> NodeType | None:
        node = self.graph.nodes.get(node_id) if node_id is not None else None
        return self.types.get(node.type) if node is not None else None

    def of(self, category: str) -> list[str]:
        return [nid for nid, n in self.graph.nodes.items() if self.types.get(n.type).category == category]

    def add(self, finding: Finding) -> None:
        self.result.findings.append(finding)

    # ---- graph.catalogue.LintView

    def type_id(self, node_id: str | None) -> str | None:
        t = self.type_of(node_id)
        return t.type_id if t is not None else None

    def source(self, node_id: str, port: str = "input") -> str | None:
        edges = self.graph.edges_into(node_id, port)
        return edges[0].source.node if len(edges) == 1 else None

    def input_info(self, node_id: str, port: str = "input") -> TensorInfo | None:
        info = self.result.inputs.get(node_id, {}).get(port)
        return info if isinstance(info, TensorInfo) else None

    def output_info(self, node_id: str | None) -> TensorInfo | None:
        return self.result.output_info(node_id) if node_id is not None else None

    def params(self, node_id: str) -> dict[str, Any]:
        return self.graph.nodes[node_id].params

    def analysed(self, node_id: str) -> bool:
        return node_id in self.result.outputs


def analyze(graph: Graph, base_dir: str | None = None, *, catalogue: Catalogue | None = None) -> Analysis:
    """Shapes, counts and findings of ``graph`` (node types from ``catalogue``, the
    application's by default), worst findings first, then in document order."""
    run = _Pass(graph, catalogue or _catalogue.CATALOGUE, Analysis(), RuleContext(base_dir))
    into: dict[tuple[str, str], list[Edge]] = {}  # one pass instead of a scan per port
    for e in graph.edges:
        into.setdefault((e.target.node, e.target.port), []).append(e)
    for nid in graph.topological_order():
        _infer(run, nid, into)
    _structure(run)
    for nid in graph.nodes:
        t = run.type_of(nid)
        if t is not None and t.lint is not None:
            for finding in t.lint(run, nid):
                run.add(finding)
    _lint_linear_model(run)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    node_pos = {nid: i for i, nid in enumerate(graph.nodes)}
    run.result.findings.sort(key=lambda f: (order[f.severity], node_pos.get(f.node_id, -1)))
    return run.result


def _gather_inputs(run: _Pass, nid: str, into: dict[tuple[str, str], list[Edge]]) -> dict[str, Any] | None:
    """What reaches each input port of ``nid``; None when something is missing (said by a finding
    here for an unconnected port, upstream for a node that failed)."""
    ins: dict[str, Any] = {}
    ready = True
    for port in run.type_of(nid).inputs:  # type: ignore[union-attr]
        edges = into.get((nid, port.name), [])
        infos = [run.result.outputs.get(e.source.node, {}).get(e.source.port) for e in edges]
        if not edges and not port.optional:
            run.add(Finding("error", "unconnected", f"input '{port.name}' is not connected", nid))
            ready = False
        elif any(i is None for i in infos):
            ready = False  # an upstream node failed; its finding says why
        elif port.many:
            ins[port.name] = infos
        elif infos:
            ins[port.name] = infos[0]
    return ins if ready else None


def _infer(run: _Pass, nid: str, into: dict[tuple[str, str], list[Edge]]) -> None:
    node, t = run.graph.nodes[nid], run.type_of(nid)
    assert t is not None
    ins = _gather_inputs(run, nid, into)
    if ins is None:
        return
    problem = _data_problem(node.params, run.ctx) if t.category == "data" else None
    if problem is not None:
        run.add(Finding("error", DATA_FINDING, problem, nid))
        return
    try:
        run.result.outputs[nid] = t.infer(node.params, ins, run.ctx)
        run.result.inputs[nid] = ins
        run.result.params[nid] = t.count(node.params, ins)
    except ShapeError as exc:
        run.add(Finding("error", "shape", str(exc), nid, _fix_for(run, nid, exc.hint)))


def _data_problem(params: dict, ctx: RuleContext) -> str | None:
    """Why the data a Dataset node names cannot be described, or None. The description is
    cached per file state, so the node's shape rule that follows does not read the file again."""
    try:
        datasets.describe(params, ctx.base_dir)
    except DatasetError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------ structure

_ONE_OF_EACH = (
    ("data", "no-data", "the graph has no Dataset node: add one from the palette's Data section",
     "many-data", "only one Dataset node per graph is supported"),
    ("loss", "no-loss", "the graph has no loss: nothing tells training what to minimise "
                        "(add e.g. CrossEntropyLoss for classes or MSELoss for numbers)",
     "many-losses", "only one loss per graph is supported"),
    ("optimizer", "no-optimizer", "the graph has no optimizer: add one (Adam is a good start) and wire the loss into it",
     "many-optimizers", "only one optimizer per graph is supported"),
)


def _structure(run: _Pass) -> None:
    for category, none_code, none_text, many_code, many_text in _ONE_OF_EACH:
        ids = run.of(category)
        if not ids:
            run.add(Finding("error", none_code, none_text))
        for extra in ids[1:]:
            run.add(Finding("error", many_code, many_text, extra))
    losses = run.of("loss")
    for nid in losses:
        if not run.graph.edges_from(nid, "loss"):
            run.add(Finding("error", "loss-unused", "the loss is not wired to an optimizer, so nothing is trained", nid))
    if losses:
        _unused_model_nodes(run, losses)
    for nid in run.of("schedule"):
        if not run.graph.edges_from(nid):
            run.add(Finding("warning", "unused", "this schedule is not wired to an optimizer's schedule input", nid))


def _unused_model_nodes(run: _Pass, losses: list[str]) -> None:
    """Everything should lie on a path into the loss; otherwise it is never trained or used."""
    preds: dict[str, list[str]] = {}
    for e in run.graph.edges:
        preds.setdefault(e.target.node, []).append(e.source.node)
    feeds: set[str] = set()
    stack = list(losses)
    while stack:
        nid = stack.pop()
        if nid not in feeds:
            feeds.add(nid)
            stack.extend(preds.get(nid, ()))
    for nid in run.graph.nodes:
        if run.type_of(nid).category in ("layer", "activation") and nid not in feeds:  # type: ignore[union-attr]
            run.add(Finding("warning", "unused", "this node does not lead to the loss, so it is neither trained nor used", nid))


# ------------------------------------------------------------------ whole-model lint


def _lint_linear_model(run: _Pass) -> None:
    """A model with one learned map on a set no straight line separates: say what to expect."""
    data = run.of("data")
    if len(data) != 1 or run.graph.nodes[data[0]].params["dataset"] not in NONLINEAR_SETS:
        return
    layers = [nid for nid in run.graph.nodes if run.type_of(nid).weighted]  # type: ignore[union-attr]
    if len(layers) == 1:
        name = run.graph.nodes[data[0]].params["dataset"]
        run.add(Finding(
            "info", "linear-model",
            f"a single layer draws one straight line (a hyperplane) through the input: it cannot separate "
            f"the '{name}' classes; add a hidden layer with an activation to bend the boundary", layers[0]))


# ------------------------------------------------------------------ fixes


def _fix_for(run: _Pass, nid: str, hint: FixHint | None) -> Fix | None:
    if isinstance(hint, SetParamHint):
        return Fix(f"Set {hint.name} to {hint.value}", (SetParam(nid, hint.name, hint.value),))
    if isinstance(hint, InsertHint):
        return Fix(f"Insert {hint.type_id} before this layer", (InsertBefore(nid, hint.port, hint.type_id),))
    if isinstance(hint, ClassCountHint):
        layer = _output_layer(run, nid)
        if layer is not None:
            n = hint.classes
            return Fix(f"Set out_features of '{layer}' to {n}", (SetParam(layer, "out_features", n),))
    return None


def _output_layer(run: _Pass, loss: str) -> str | None:
    """The layer with ``out_features`` that decides the prediction's size, if one does: the
    loss's source, past activations and nodes that keep their input's shape."""
    for prev in _upstream(run, run.source(loss, "prediction")):
        t = run.type_of(prev)
        if t is not None and "out_features" in t.param_index:
            return prev
        if t is None or not (t.category == "activation" or (t.keeps_linear and _keeps_shape(run, prev))):
            return None
    return None


def _upstream(run: _Pass, nid: str | None) -> Iterator[str]:
    while nid is not None:
        yield nid
        nid = run.source(nid)


def _keeps_shape(run: _Pass, nid: str) -> bool:
    x = run.input_info(nid)
    return x is not None and run.output_info(nid) == x


def apply_fix(graph: Graph, fix: Fix) -> list[str]:
    """Perform a fix's operations through the document's mutations; returns ids of created nodes."""
    created: list[str] = []
    for op in fix.ops:
        if isinstance(op, SetParam):
            graph.set_param(op.node, op.name, op.value)
        elif isinstance(op, InsertBefore):
            created.append(_insert_before(graph, op.node, op.port, op.type))
        elif isinstance(op, Bridge):
            _bridge(graph, op.node, op.into)
        elif isinstance(op, Replace):
            created.append(_replace(graph, op.node, op.type))
        else:
            raise GraphError(f"unknown fix operation {op!r}")
    return created


def _insert_before(graph: Graph, nid: str, port: str, type_id: str) -> str:
    edges = graph.edges_into(nid, port)
    if len(edges) != 1:
        raise EditError(f"cannot insert before {nid}.{port}: it has {len(edges)} incoming edges")
    edge = edges[0]
    src = graph.node(edge.source.node)
    dst = graph.node(nid)
    pos = ((src.position[0] + dst.position[0]) / 2, (src.position[1] + dst.position[1]) / 2 + 40)
    new = graph.add_node(type_id, position=pos)
    index = graph.disconnect(edge)
    graph.connect(edge.source, PortRef(new.id, "input"), index=index)
    graph.connect(PortRef(new.id, "output"), edge.target)
    return new.id


def _bridge(graph: Graph, nid: str, into: str | None) -> None:
    """Route ``nid``'s input past it: to ``into`` only, or to all consumers (then remove it)."""
    inputs = graph.edges_into(nid, "input")
    if len(inputs) != 1:
        raise EditError(f"cannot bypass {nid}: it has {len(inputs)} inputs")
    source = inputs[0].source
    outs = graph.edges_from(nid)
    targets = [e for e in outs if into is None or e.target.node == into]
    for e in targets:
        index = graph.disconnect(e)
        graph.connect(source, e.target, index=index)
    if len(targets) == len(outs):
        graph.remove_node(nid)


def _replace(graph: Graph, nid: str, type_id: str) -> str:
    old = graph.node(nid)
    t = _catalogue.get(type_id)
    params = {k: v for k, v in old.params.items() if k in t.param_index}
    index = list(graph.nodes).index(nid)
    edges = [(i, e) for i, e in enumerate(graph.edges) if nid in (e.source.node, e.target.node)]
    graph.remove_node(nid)
    new = graph.add_node(type_id, params, old.position, old.title, index=index)
    for i, e in edges:
        src = PortRef(new.id, e.source.port) if e.source.node == nid else e.source
        dst = PortRef(new.id, e.target.port) if e.target.node == nid else e.target
        graph.connect(src, dst, index=i)
    return new.id
