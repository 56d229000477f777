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


_MAIN_DEPENDENCIES_ONLY = """
import importlib.abc, os, sys
TEST_EXTRAS = {"onnxscript", "onnx_ir", "onnxruntime", "pytest", "hypothesis"}

class Absent(importlib.abc.MetaPathFinder):  # a `make run` install: no test extras
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in TEST_EXTRAS:
            raise ImportError(f"{name} is a test extra")
        return None

sys.meta_path.insert(0, Absent())
from graph import load_path
from runtime.export import export_onnx
for name in sys.argv[2:]:
    export_onnx(load_path(os.path.join(sys.argv[1], name + ".json")), name + ".onnx", sys.argv[1])
    print(name, os.path.getsize(name + ".onnx"))
"""


def test_onnx_export_needs_only_the_main_dependencies(tmp_path) -> None:
    """torch.onnx.export(dynamo=False) and onnx.checker work without onnxscript or onnxruntime,
    which are test extras: the menu's ONNX export works on a `make run` install."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    names = ["xor_mlp", "digits_cnn", "sequence_lstm", "tokens_gru"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", _MAIN_DEPENDENCIES_ONLY, str(SAMPLES), *names], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert [line.split()[0] for line in p.stdout.splitlines()] == names
    for name in names:
        onnx.checker.check_model(onnx.load(str(tmp_path / f"{name}.onnx")), full_check=True)
