"""Shared builders for graph tests: example inputs for every node type, small graphs."""

from __future__ import annotations

from graph import Graph, PortRef
from graph.catalogue import REGISTRY
from graph.tensors import LOSS, SCHEDULE, TensorInfo

VEC = TensorInfo((6,))
IMG = TensorInfo((3, 8, 8))
SEQ = TensorInfo((5, 4))
CLS = TensorInfo((), "int64", "classification", 6)


def example_inputs(type_id: str) -> dict:
    """Inputs every type accepts with its default parameters."""
    t = REGISTRY[type_id]
    if t.category == "data" or t.category == "schedule":
        return {}
    if t.category == "optimizer":
        return {"loss": LOSS, "schedule": SCHEDULE}
    if t.category == "loss":
        if type_id in ("BCELoss", "BCEWithLogitsLoss"):
            return {"prediction": TensorInfo((1,)), "target": TensorInfo((), "int64", "classification", 2)}
        return {"prediction": VEC, "target": CLS}
    if type_id in ("Add", "Concat"):
        return {"inputs": [VEC, VEC]}
    if type_id in ("Conv1d", "MaxPool1d", "AvgPool1d"):
        return {"input": TensorInfo((3, 8))}
    if type_id in ("Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d"):
        return {"input": IMG}
    if type_id in ("LSTM", "GRU"):
        return {"input": SEQ}
    if type_id == "Embedding":
        return {"input": TensorInfo((5,), "int64")}
    return {"input": VEC}


def chain(data: dict, layers: list, loss: str, opt: str = "Adam", opt_params: dict | None = None) -> Graph:
    """Dataset → layers... → loss ← target; loss → optimizer."""
    g = Graph()
    d = g.add_node("Dataset", data)
    prev = PortRef(d.id, "features")
    for spec in layers:
        t, p = (spec, {}) if isinstance(spec, str) else spec
        n = g.add_node(t, p)
        g.connect(prev, PortRef(n.id, "input"))
        prev = PortRef(n.id, "output")
    loss_node = g.add_node(loss)
    g.connect(prev, PortRef(loss_node.id, "prediction"))
    g.connect(PortRef(d.id, "target"), PortRef(loss_node.id, "target"))
    o = g.add_node(opt, opt_params or {})
    g.connect(PortRef(loss_node.id, "loss"), PortRef(o.id, "loss"))
    return g
