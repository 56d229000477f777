"""Small graphs and data files for the runtime tests (tiny, CPU, fixed seeds)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence

import numpy as np

from graph import Graph, PortRef

Body = Callable[[Graph, PortRef], PortRef]


def write_npz(folder: pathlib.Path, x: np.ndarray, y: np.ndarray, name: str = "data.npz") -> str:
    path = folder / name
    np.savez(path, x=x, y=y)
    return name


def npz_data(folder: pathlib.Path, x: np.ndarray, y: np.ndarray, **params) -> dict:
    """Dataset parameters for an .npz file written into ``folder`` (no validation split unless given)."""
    return {"dataset": "npz", "path": write_npz(folder, x, y), "val_split": 0.0, "batch_size": 0, **params}


def layers(*specs: str | tuple[str, dict]) -> Body:
    """A body that chains ``specs`` (type id, or (type id, params)) after the features."""

    def body(g: Graph, prev: PortRef) -> PortRef:
        for spec in specs:
            t, p = (spec, {}) if isinstance(spec, str) else spec
            n = g.add_node(t, p)
            g.connect(prev, PortRef(n.id, "input"))
            prev = PortRef(n.id, "output")
        return prev

    return body


def make_graph(data: dict, body: Body, loss: str = "CrossEntropyLoss", opt: str = "SGD",
               opt_params: dict | None = None, loss_params: dict | None = None,
               schedule: tuple[str, dict] | None = None, settings: dict | None = None) -> Graph:
    """Dataset → body → loss ← target; loss → optimizer (← schedule)."""
    g = Graph()
    d = g.add_node("Dataset", data, node_id="n1")
    out = body(g, PortRef(d.id, "features"))
    lo = g.add_node(loss, loss_params or {})
    g.connect(out, PortRef(lo.id, "prediction"))
    g.connect(PortRef(d.id, "target"), PortRef(lo.id, "target"))
    o = g.add_node(opt, opt_params or {})
    g.connect(PortRef(lo.id, "loss"), PortRef(o.id, "loss"))
    if schedule:
        s = g.add_node(schedule[0], schedule[1])
        g.connect(PortRef(s.id, "schedule"), PortRef(o.id, "schedule"))
    for k, v in (settings or {}).items():
        g.set_setting(k, v)
    return g


def blobs(n: int = 64, features: int = 4, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable Gaussian clusters: float32 (n, features), int64 labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centers = rng.normal(0, 3, (classes, features))
    x = centers[y] + rng.normal(0, 0.5, (n, features))
    return x.astype(np.float32), y.astype(np.int64)


def epochs_of(records: Sequence[dict]) -> list[dict]:
    return [r for r in records if r["kind"] == "epoch"]


TIMING = ("epoch_seconds", "samples_per_second", "seconds")


def without_timing(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in TIMING}
