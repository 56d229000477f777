"""Pure analysis of a graph: shapes on every edge, parameter counts, findings and their fixes.

``analyze(graph)`` recomputes everything from the model; nothing here is stored in the document.
A :class:`Finding` names the node, a severity (``error`` blocks training, ``warning`` is a likely
mistake, ``info`` explains what the graph will show) and, where one exists, a :class:`Fix`: a
short list of plain-data edit operations that :func:`apply_fix` performs through the document's
mutation methods (the designer wraps them into one undoable step).

A Dataset node whose data cannot be described (a missing or unreadable file, a path that is a
device or a FIFO, a malformed CSV) gets a :data:`DATA_FINDING` error, apart from shape errors,
so that the runtime can report it as a data problem of that node (``runtime.build.check_graph``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import catalogue, datasets
from .catalogue import RuleContext
from .document import Edge, Graph, PortRef
from .errors import DatasetError, EditError, GraphError, ShapeError
from .tensors import TensorInfo, format_shape

PARAMETRIC = {"Linear", "Conv1d", "Conv2d", "Maxout", "Embedding", "LSTM", "GRU"}
# Nodes that keep a map linear: two Linear layers joined only through these collapse into one.
LINEAR_PASSTHROUGH = {"Dropout", "Identity", "BatchNorm1d", "Flatten", "Reshape"}
NONLINEAR_SETS = {"xor", "moons", "circles", "spirals"}
DATA_FINDING = "data"  # the code of a Dataset node's finding when its data cannot be read


@dataclass(frozen=True)
class Fix:
    label: str
    ops: tuple[dict, ...]


@dataclass(frozen=True)
class Finding:
    severity: str  # "error", "warning" or "info"
    code: str
    message: str
    node_id: str | None = None
    fix: Fix | None = None

    def text(self, graph: Graph | None = None) -> str:
        where = ""
        if self.node_id:
            node = graph.nodes.get(self.node_id) if graph else None
            where = (node.label() if node else f"'{self.node_id}'") + ": "
        return f"{self.severity}: {where}{self.message}"


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


def analyze(graph: Graph, base_dir: str | None = None) -> Analysis:
    result = Analysis()
    ctx = RuleContext(base_dir)
    add = result.findings.append
    into: dict[tuple[str, str], list[Edge]] = {}  # one pass instead of a scan per port
    for e in graph.edges:
        into.setdefault((e.target.node, e.target.port), []).append(e)
    for nid in graph.topological_order():
        node = graph.nodes[nid]
        t = node.node_type
        ins: dict[str, Any] = {}
        ready = True
        for port in t.inputs:
            edges = into.get((nid, port.name), [])
            infos = [result.outputs.get(e.source.node, {}).get(e.source.port) for e in edges]
            if not edges and not port.optional:
                add(Finding("error", "unconnected", f"input '{port.name}' is not connected", nid))
                ready = False
                continue
            if any(i is None for i in infos):
                ready = False  # an upstream node failed; its finding says why
                continue
            if port.many:
                ins[port.name] = infos
            elif infos:
                ins[port.name] = infos[0]
        if not ready:
            continue
        problem = _data_problem(node.params, ctx) if node.type == "Dataset" else None
        if problem is not None:
            add(Finding("error", DATA_FINDING, problem, nid))
            continue
        try:
            result.outputs[nid] = t.infer(node.params, ins, ctx)
            result.inputs[nid] = ins
            result.params[nid] = t.count(node.params, ins)
        except ShapeError as exc:
            add(Finding("error", "shape", str(exc), nid, _fix_for(graph, nid, getattr(exc, "hint", None))))
    _structure(graph, result)
    _lint(graph, result)
    order = {"error": 0, "warning": 1, "info": 2}
    node_pos = {nid: i for i, nid in enumerate(graph.nodes)}
    result.findings.sort(key=lambda f: (order[f.severity], node_pos.get(f.node_id, -1)))
    return result


def _data_problem(params: dict, ctx: RuleContext) -> str | None:
    """Why the data a Dataset node names cannot be described, or None. The description is
    cached per file state, so the node's shape rule that follows does not read the file again."""
    try:
        datasets.describe(params, ctx.base_dir)
    except DatasetError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------ structure


def _of(graph: Graph, category: str) -> list[str]:
    return [nid for nid, n in graph.nodes.items() if n.node_type.category == category]


def _structure(graph: Graph, a: Analysis) -> None:
    add = a.findings.append
    data, losses, opts = _of(graph, "data"), _of(graph, "loss"), _of(graph, "optimizer")
    if not data:
        add(Finding("error", "no-data", "the graph has no Dataset node: add one from the palette's Data section"))
    for extra in data[1:]:
        add(Finding("error", "many-data", "only one Dataset node per graph is supported", extra))
    if not losses:
        add(Finding("error", "no-loss", "the graph has no loss: nothing tells training what to minimise "
                                        "(add e.g. CrossEntropyLoss for classes or MSELoss for numbers)"))
    for extra in losses[1:]:
        add(Finding("error", "many-losses", "only one loss per graph is supported", extra))
    if not opts:
        add(Finding("error", "no-optimizer", "the graph has no optimizer: add one (Adam is a good start) and wire the loss into it"))
    for extra in opts[1:]:
        add(Finding("error", "many-optimizers", "only one optimizer per graph is supported", extra))
    for nid in losses:
        if not graph.edges_from(nid, "loss"):
            add(Finding("error", "loss-unused", "the loss is not wired to an optimizer, so nothing is trained", nid))
    # Everything should lie on a path into the loss; otherwise it is never trained or used.
    if losses:
        preds: dict[str, list[str]] = {}
        for e in graph.edges:
            preds.setdefault(e.target.node, []).append(e.source.node)
        feeds = set()
        stack = list(losses)
        while stack:
            nid = stack.pop()
            if nid in feeds:
                continue
            feeds.add(nid)
            stack.extend(preds.get(nid, ()))
        for nid, node in graph.nodes.items():
            cat = node.node_type.category
            if cat in ("layer", "activation") and nid not in feeds:
                add(Finding("warning", "unused", "this node does not lead to the loss, so it is neither trained nor used", nid))
    for nid in _of(graph, "schedule"):
        if not graph.edges_from(nid):
            add(Finding("warning", "unused", "this schedule is not wired to an optimizer's schedule input", nid))


# ------------------------------------------------------------------ lint


def _source(graph: Graph, nid: str, port: str = "input") -> str | None:
    edges = graph.edges_into(nid, port)
    return edges[0].source.node if len(edges) == 1 else None


def _type(graph: Graph, nid: str | None) -> str | None:
    return graph.nodes[nid].type if nid in graph.nodes else None


def _lint(graph: Graph, a: Analysis) -> None:
    add = a.findings.append
    for nid, node in graph.nodes.items():
        t = node.type
        if t == "CrossEntropyLoss":
            src = _source(graph, nid, "prediction")
            if _type(graph, src) in ("Softmax", "LogSoftmax"):
                add(Finding("warning", "double-softmax",
                            f"CrossEntropyLoss applies softmax itself; the {_type(graph, src)} before it applies it twice "
                            "(gradients shrink and training slows): feed it raw scores", nid,
                            Fix(f"Remove the {_type(graph, src)} before the loss", ({"op": "bridge", "node": src, "into": nid},))))
        elif t == "NLLLoss":
            src = _source(graph, nid, "prediction")
            st = _type(graph, src)
            if st == "Softmax":
                add(Finding("warning", "nll-softmax", "NLLLoss expects log-probabilities but Softmax gives probabilities", nid,
                            Fix("Replace Softmax with LogSoftmax", ({"op": "replace", "node": src, "type": "LogSoftmax"},))))
            elif src and st != "LogSoftmax":
                add(Finding("warning", "nll-no-logsoftmax", "NLLLoss expects log-probabilities: put a LogSoftmax before it", nid,
                            Fix("Insert LogSoftmax before the loss", ({"op": "insert", "type": "LogSoftmax", "node": nid, "port": "prediction"},))))
        elif t == "BCELoss":
            src = _source(graph, nid, "prediction")
            if src and _type(graph, src) != "Sigmoid":
                add(Finding("warning", "bce-no-sigmoid",
                            "BCELoss expects probabilities in (0, 1) but its input is not a Sigmoid; "
                            "BCEWithLogitsLoss takes raw scores and is numerically stable", nid,
                            Fix("Replace BCELoss with BCEWithLogitsLoss", ({"op": "replace", "node": nid, "type": "BCEWithLogitsLoss"},))))
        elif t == "BCEWithLogitsLoss":
            src = _source(graph, nid, "prediction")
            if _type(graph, src) == "Sigmoid":
                add(Finding("warning", "double-sigmoid", "BCEWithLogitsLoss applies a sigmoid itself; the Sigmoid before it applies it twice", nid,
                            Fix("Remove the Sigmoid before the loss", ({"op": "bridge", "node": src, "into": nid},))))
        elif t == "Linear":
            x = a.inputs.get(nid, {}).get("input")
            if x is not None and len(x.shape) > 1:
                add(Finding("warning", "flatten-needed",
                            f"Linear acts on the last axis only of its {format_shape(x.shape)} input: "
                            "insert a Flatten to connect every value", nid,
                            Fix("Insert Flatten before this layer", ({"op": "insert", "type": "Flatten", "node": nid, "port": "input"},))))
            prev = _source(graph, nid)
            while prev and _type(graph, prev) in LINEAR_PASSTHROUGH:
                prev = _source(graph, prev)
            if prev and _type(graph, prev) == "Linear" and nid in a.outputs and prev in a.outputs:
                n_in = a.inputs[prev]["input"].shape[-1]
                mid = graph.nodes[prev].params["out_features"]
                out = node.params["out_features"]
                add(Finding("warning", "linear-collapse",
                            f"two Linear layers with no activation between them collapse into one linear map "
                            f"({n_in}×{mid} then {mid}×{out} is just one {n_in}×{out} matrix): add an activation",
                            nid, Fix("Insert ReLU between the layers", ({"op": "insert", "type": "ReLU", "node": nid, "port": "input"},))))
    _lint_linear_model(graph, a)


def _lint_linear_model(graph: Graph, a: Analysis) -> None:
    """A model with one parametric layer on a set no straight line separates: say what to expect."""
    data = _of(graph, "data")
    if len(data) != 1 or graph.nodes[data[0]].params["dataset"] not in NONLINEAR_SETS:
        return
    layers = [nid for nid, n in graph.nodes.items() if n.type in PARAMETRIC]
    if len(layers) == 1:
        name = graph.nodes[data[0]].params["dataset"]
        a.findings.append(Finding(
            "info", "linear-model",
            f"a single layer draws one straight line (a hyperplane) through the input: it cannot separate "
            f"the '{name}' classes; add a hidden layer with an activation to bend the boundary", layers[0]))


def _fix_for(graph: Graph, nid: str, hint: Any) -> Fix | None:
    if hint is None:
        return None
    if hint.code == "set-param":
        name, value = hint.data["name"], hint.data["value"]
        return Fix(f"Set {name} to {value}", ({"op": "set_param", "node": nid, "name": name, "value": value},))
    if hint.code == "insert-flatten":
        return Fix("Insert Flatten before this layer", ({"op": "insert", "type": "Flatten", "node": nid, "port": "input"},))
    if hint.code == "class-count":
        prev = _source(graph, nid, "prediction")
        while prev and (graph.nodes[prev].node_type.category == "activation" or _type(graph, prev) == "Dropout"):
            prev = _source(graph, prev)
        if prev and _type(graph, prev) in ("Linear", "Maxout"):
            n = hint.data["classes"]
            return Fix(f"Set out_features of '{prev}' to {n}", ({"op": "set_param", "node": prev, "name": "out_features", "value": n},))
    return None


# ------------------------------------------------------------------ fixes


def apply_fix(graph: Graph, fix: Fix) -> list[str]:
    """Perform a fix's operations through the document's mutations; returns ids of created nodes."""
    created: list[str] = []
    for op in fix.ops:
        kind = op["op"]
        if kind == "set_param":
            graph.set_param(op["node"], op["name"], op["value"])
        elif kind == "insert":
            created.append(_insert_before(graph, op["node"], op["port"], op["type"]))
        elif kind == "bridge":
            _bridge(graph, op["node"], op.get("into"))
        elif kind == "replace":
            created.append(_replace(graph, op["node"], op["type"]))
        else:
            raise GraphError(f"unknown fix operation {kind!r}")
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
    t = catalogue.get(type_id)
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
