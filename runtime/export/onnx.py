"""The graph's model as ONNX: no loss, no optimizer, a dynamic batch axis, checked.

:func:`onnx_bytes` exports the live model (``runtime.build``) with input ``features``
``(batch, *features)`` and output ``prediction``, checks the result with ``onnx.checker``
(``onnx`` is a dependency; onnxruntime is not needed) and returns the file's bytes; the caller
writes them (``files.py``). Any failure is an :class:`ExportError` that says why.
"""

from __future__ import annotations

import os

from graph import Graph, analyze

from ..codegen import flatten
from .errors import ExportError


def onnx_bytes(graph: Graph, base_dir: str | None, state: dict | None) -> bytes:
    """The ONNX file of the graph's model, with ``state``'s weights (None: the seeded initial
    weights of ``settings.seed``)."""
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the 'onnx' package: pip install onnx "
                          "(onnxruntime runs the result)") from None
    import tempfile
    import warnings

    import torch

    from ..build import build_model

    model = build_model(graph, base_dir, seed=int(graph.settings.get("seed", 0)))
    if state is not None:
        model.load_state_dict(state)
    model.eval()
    example = example_input(graph, base_dir, batch=2)
    # torch writes a path; the checked bytes go to the caller, who writes them atomically.
    with tempfile.TemporaryDirectory(prefix="netwright-onnx-") as scratch:
        tmp = os.path.join(scratch, "model.onnx")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about shapes read in forward
                torch.onnx.export(model, (example,), tmp, input_names=["features"], output_names=["prediction"],
                                  dynamic_axes={"features": {0: "batch"}, "prediction": {0: "batch"}},
                                  dynamo=False)
            onnx.checker.check_model(onnx.load(tmp), full_check=True)
            with open(tmp, "rb") as fh:
                return fh.read()
        except Exception as exc:  # torch's exporter raises many types; say which node type failed
            raise ExportError(f"ONNX export failed: {type(exc).__name__}: {flatten(str(exc), 400)}") from None


def example_input(graph: Graph, base_dir: str | None = None, batch: int = 2):
    """A batch of ``batch`` zero-ish features of the graph's Dataset shape and dtype (for tracing)."""
    import torch

    analysis = analyze(graph, base_dir)
    data = next(nid for nid, n in graph.nodes.items() if n.node_type.category == "data")
    info = analysis.outputs[data]["features"]
    if info.dtype == "int64":
        return torch.zeros((batch, *info.shape), dtype=torch.int64)
    numel = 1
    for d in info.shape:
        numel *= d
    return torch.linspace(-1.0, 1.0, batch * max(1, numel)).reshape(batch, *info.shape)
