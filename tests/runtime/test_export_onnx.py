"""ONNX export: every sample passes onnx.checker and matches PyTorch in onnxruntime (dynamic batch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graph import analyze, load_path
from runtime.build import build_model
from runtime.errors import RunError
from runtime.export import export_onnx
from tests.conftest import SAMPLES

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.json"))


def features(graph, batch: int) -> torch.Tensor:
    a = analyze(graph, str(SAMPLES))
    data = next(n for n in graph.nodes if graph.nodes[n].type == "Dataset")
    info = a.outputs[data]["features"]
    g = torch.Generator().manual_seed(batch)
    if info.dtype == "int64":
        return torch.randint(0, 16, (batch, *info.shape), generator=g)
    return torch.randn((batch, *info.shape), generator=g)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_onnx_matches_pytorch(name, tmp_path) -> None:
    graph = load_path(SAMPLES / f"{name}.json")
    path = tmp_path / "model.onnx"
    export_onnx(graph, str(path), str(SAMPLES))
    model_proto = onnx.load(str(path))
    onnx.checker.check_model(model_proto, full_check=True)
    model = build_model(graph, str(SAMPLES), seed=graph.settings["seed"]).eval()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["features"]
    for batch in (1, 7):  # neither is the traced batch size of 2: the batch axis is dynamic
        x = features(graph, batch)
        with torch.no_grad():
            want = model(x).numpy()
        got = session.run(None, {"features": x.numpy()})[0]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_onnx_with_checkpoint_weights(tmp_path) -> None:
    from runtime.checkpoint import load_checkpoint
    from runtime.train import Trainer

    graph = load_path(SAMPLES / "xor_mlp.json")
    Trainer(graph, str(SAMPLES), epochs=5, seed=2, device="cpu", checkpoint_dir=str(tmp_path / "c")).run()
    export_onnx(graph, str(tmp_path / "m.onnx"), str(SAMPLES), str(tmp_path / "c"))
    model = build_model(graph, str(SAMPLES))
    model.load_state_dict(load_checkpoint(str(tmp_path / "c"))["model"])
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"features": x.numpy()})[0]
    np.testing.assert_allclose(got, model.eval()(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_onnx_refuses_an_invalid_graph(tmp_path) -> None:
    graph = load_path(SAMPLES / "xor_mlp.json")
    graph.disconnect(graph.edges_into("n5", "prediction")[0])
    with pytest.raises(RunError, match="prediction"):
        export_onnx(graph, str(tmp_path / "m.onnx"), str(SAMPLES))
    assert not (tmp_path / "m.onnx").exists()
