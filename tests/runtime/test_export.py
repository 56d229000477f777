"""The exported script: same run, same numbers as ``netwright train``; lint-clean; torchrun; CLI."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from graph import load_path
from runtime.cli import main as cli_main
from runtime.export import (
    STDLIB_IMPORTS,
    THIRD_PARTY_IMPORTS,
    ExportError,
    export_python,
    write_python,
)
from tests.conftest import ROOT, SAMPLES

PY = str(ROOT / ".venv" / "bin" / "python")
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.json"))
ALLOWED_IMPORTS = set(STDLIB_IMPORTS) | set(THIRD_PARTY_IMPORTS)


def run_script(script, *args: str, cwd=None, timeout: int = 300) -> subprocess.CompletedProcess:
    import torch

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The same intra-op thread count as this process (where `netwright train` runs): CPU
    # reductions split work by thread, so another count may round differently.
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    return subprocess.run([PY, str(script), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or os.path.dirname(str(script)), env=env)


def read_jsonl(path) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def imported_modules(tree: ast.AST) -> set[str]:
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            mods.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("eval", "exec", "__import__", "compile"), node.func.id
    return mods


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict:
    """Every sample exported once, into one folder."""
    folder = tmp_path_factory.mktemp("scripts")
    out = {}
    for name in SAMPLE_NAMES:
        path = folder / f"{name}_train.py"
        write_python(load_path(SAMPLES / f"{name}.json"), str(path), str(SAMPLES), source_name=f"{name}.json")
        out[name] = path
    return out


def test_scripts_parse_import_only_what_they_may_and_pass_ruff(scripts) -> None:
    for name, path in scripts.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        mods = imported_modules(tree)
        assert mods <= ALLOWED_IMPORTS, (name, mods - ALLOWED_IMPORTS)
        uses_sklearn = load_path(SAMPLES / f"{name}.json").nodes["n1"].params["dataset"] in (
            "iris", "wine", "breast_cancer", "digits", "diabetes")
        assert ("sklearn" in mods) == uses_sklearn, name
        # One class, one forward; an assignment per model node.
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model"]
        assert len(classes) == 1
    ruff = shutil.which("ruff", path=str(ROOT / ".venv" / "bin"))
    assert ruff, "ruff is a test extra"
    p = subprocess.run([ruff, "check", "--isolated", "--no-cache", "--select", "E,F,W,I", "--line-length", "120",
                        *[str(p) for p in scripts.values()]], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:]


def test_generated_lines_fit_88_columns(scripts) -> None:
    """Lines we write (not the helpers copied verbatim from the runtime) fit ruff's default."""
    text = scripts["csv_import"].read_text(encoding="utf-8")
    ours = text.split("# -------- This graph")[1]
    head = text.split("# -------- Data helpers")[0]
    for line in (ours + head).splitlines():
        assert len(line) <= 88, line


def test_xor_script_reads_like_a_person_wrote_it(scripts) -> None:
    text = scripts["xor_mlp"].read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[:2] == ["#!/usr/bin/env python3", "# Exported by Netwright: a standalone PyTorch training script."]
    assert "# Graph: XOR with one hidden layer" in lines
    for expected in ("self.n2 = nn.Linear(in_features=2, out_features=4, bias=True)  # hidden",
                     "self.n3 = nn.Tanh()", "x3 = self.n3(x2)", "def forward(self, x1):", "return x4",
                     "x, y = make_xor(4, 0.0, rng)", "return nn.BCEWithLogitsLoss()",
                     'parser.add_argument("--metrics-out"', "DistributedDataParallel(model"):
        assert expected in text, expected
    # Only the helpers it needs: no CSV reader, no preprocessing, no Maxout.
    for absent in ("def read_csv", "def fit_preprocessing", "class Maxout", "def make_moons", "import csv"):
        assert absent not in text


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_same_run_same_numbers(name, scripts, tmp_path) -> None:
    """``netwright train F --epochs 3 --seed 5`` and the script agree epoch for epoch."""
    ref_file, got_file = tmp_path / "train.jsonl", tmp_path / "script.jsonl"
    code = cli_main(["train", str(SAMPLES / f"{name}.json"), "--epochs", "3", "--seed", "5", "--device", "cpu",
                     "--quiet", "--metrics-out", str(ref_file)])
    p = run_script(scripts[name], "--epochs", "3", "--seed", "5", "--device", "cpu", "--metrics-out", str(got_file))
    ref, got = read_jsonl(ref_file), read_jsonl(got_file)
    if code != 0:  # diverging_lr: both stop in the same epoch with a message
        assert p.returncode != 0 and "diverged" in p.stderr and len(got) == len(ref)
        return
    assert p.returncode == 0, p.stderr[-2000:]
    assert len(ref) == len(got) == 3
    for a, b in zip(ref, got):
        assert a["epoch"] == b["epoch"]
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-6)
        if a["val_loss"] is None:
            assert b["val_loss"] is None
        else:
            assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-6)
        for key in ("train_accuracy", "val_accuracy", "lr", "improved", "best_epoch"):
            assert (key in a) == (key in b), key
            assert a.get(key) == pytest.approx(b.get(key)), key
        assert b.keys() >= {"epoch", "train_loss", "val_loss", "lr", "epoch_seconds", "samples_per_second"}


def test_torchrun_two_processes_match_one(tmp_path) -> None:
    """DDP on two CPU processes: exit 0, rank 0 writes the metrics, and with no dropout or
    batch norm the averaged gradients give one process's numbers (float rounding aside)."""
    g = load_path(SAMPLES / "sine_regression.json")
    script = tmp_path / "sine.py"
    write_python(g, str(script), str(SAMPLES))
    one = run_script(script, "--epochs", "2", "--device", "cpu", "--metrics-out", str(tmp_path / "one.jsonl"))
    assert one.returncode == 0, one.stderr[-2000:]
    torchrun = str(ROOT / ".venv" / "bin" / "torchrun")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    p = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", str(script), "--epochs", "2", "--device", "cpu",
                        "--metrics-out", str(tmp_path / "two.jsonl"), "--save", str(tmp_path / "w.pt")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    two, ref = read_jsonl(tmp_path / "two.jsonl"), read_jsonl(tmp_path / "one.jsonl")
    assert [r["epoch"] for r in two] == [1, 2]
    assert p.stdout.count("epoch 1/2") == 1  # only rank 0 logs
    for a, b in zip(ref, two):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
    assert (tmp_path / "w.pt").exists()


def test_torchrun_more_processes_than_rows_in_a_batch(tmp_path) -> None:
    """XOR is one batch of 4 rows; with batch size 1 every step leaves one process empty."""
    script = tmp_path / "xor.py"
    write_python(load_path(SAMPLES / "xor_mlp.json"), str(script), str(SAMPLES))
    torchrun = str(ROOT / ".venv" / "bin" / "torchrun")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    p = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", str(script), "--epochs", "2", "--batch-size", "1",
                        "--device", "cpu", "--metrics-out", str(tmp_path / "m.jsonl")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert len(read_jsonl(tmp_path / "m.jsonl")) == 2


def test_checkpoint_weights_travel_with_the_script(tmp_path) -> None:
    """Train 2 epochs with a checkpoint, export with --checkpoint: the script starts from exactly
    those weights (loaded with weights_only=True), and --save writes them back unchanged."""
    import torch

    from runtime.checkpoint import load_checkpoint
    from runtime.train import Trainer

    g = load_path(SAMPLES / "maxout.json")
    ckpt = tmp_path / "ckpt"
    Trainer(g, str(SAMPLES), epochs=2, seed=3, device="cpu", checkpoint_dir=str(ckpt)).run()
    out = tmp_path / "out" / "maxout_train.py"
    out.parent.mkdir()
    assert cli_main(["export", str(SAMPLES / "maxout.json"), "-o", str(out), "--checkpoint", str(ckpt)]) == 0
    weights = out.parent / "maxout_train.weights.pt"
    assert weights.exists()
    assert "maxout_train.weights.pt" in out.read_text(encoding="utf-8")
    p = run_script(out, "--epochs", "0", "--save", str(tmp_path / "saved.pt"), "--device", "cpu")
    assert p.returncode == 0, p.stderr[-2000:]
    saved = torch.load(tmp_path / "saved.pt", weights_only=True)
    expected = load_checkpoint(str(ckpt))["model"]
    assert saved.keys() == expected.keys()
    for k in expected:
        assert torch.equal(saved[k], expected[k]), k


def test_export_to_lists_the_files_and_names_the_weights(tmp_path, capsys) -> None:
    """The one export of the menu and the command line: the script's weights file is named after
    the script, the header names the script and the graph file, and the result (printed by
    ``netwright export``) says every file written and which weights."""
    from runtime.export import Weights, export_to
    from runtime.train import Trainer

    g = load_path(SAMPLES / "xor_mlp.json")
    g.set_setting("checkpoint_best", True)
    ckpt = tmp_path / "ckpt"
    Trainer(g, str(SAMPLES), epochs=3, seed=0, device="cpu", checkpoint_dir=str(ckpt)).run()
    out = tmp_path / "xor_tour.py"
    result = export_to(g, str(out), "python", str(SAMPLES), Weights(str(ckpt / "best.pt"), origin="Run 7"),
                       "xor_tour.json")
    assert result.files == (str(out), str(tmp_path / "xor_tour.weights.pt")) and result.from_checkpoint
    assert result.weights == "the best weights of Run 7 (epoch 3)"
    assert result.report().splitlines() == ["Exported the Python script and its weights:", f"    {out}",
                                            f"    {tmp_path / 'xor_tour.weights.pt'}",
                                            "It starts from the best weights of Run 7 (epoch 3)."]
    text = out.read_text(encoding="utf-8")
    assert "# Source: xor_tour.json\n" in text and "python xor_tour.py --epochs N" in text
    assert "python train.py" not in text and "an unsaved graph" not in text
    fresh = export_to(g, str(tmp_path / "f.onnx"), "onnx", str(SAMPLES), Weights(reason="no run yet"))
    assert fresh.files == (str(tmp_path / "f.onnx"),) and not fresh.from_checkpoint
    assert fresh.weights_sentence() == "It holds fresh weights initialised with seed 0 (no run yet)."
    # the command line prints the same
    capsys.readouterr()
    assert cli_main(["export", str(SAMPLES / "xor_mlp.json"), "-o", str(tmp_path / "cli.py"), "--checkpoint",
                     str(ckpt)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {tmp_path / 'cli.py'}", f"wrote {tmp_path / 'cli.weights.pt'}",
        f"It starts from the weights of checkpoint {ckpt} after epoch 3."]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "cli.py", "cli.weights.pt", "f.onnx",
                                                          "xor_tour.py", "xor_tour.weights.pt"]


def test_checkpoint_of_another_graph_is_refused(tmp_path, capsys) -> None:
    from runtime.train import Trainer

    ckpt = tmp_path / "ckpt"
    Trainer(load_path(SAMPLES / "xor_mlp.json"), str(SAMPLES), epochs=1, seed=0, device="cpu",
            checkpoint_dir=str(ckpt)).run()
    code = cli_main(["export", str(SAMPLES / "maxout.json"), "-o", str(tmp_path / "m.py"), "--checkpoint", str(ckpt)])
    assert code == 2
    err = capsys.readouterr().err
    assert "does not fit this graph's model" in err and "Traceback" not in err
    assert not (tmp_path / "m.py").exists()


def test_data_file_paths_relative_to_the_script_or_absolute(tmp_path) -> None:
    g = load_path(SAMPLES / "csv_import.json")
    data = SAMPLES / "data"
    # Next to the samples: relative to the script's folder.
    text = export_python(g, str(SAMPLES), script_path=str(SAMPLES / "x.py"))
    assert 'DATA_FILE = os.path.join(HERE, "data/' in text
    # Far away: absolute.
    script = tmp_path / "elsewhere" / "csv_train.py"
    script.parent.mkdir()
    write_python(g, str(script), str(SAMPLES))
    assert f'DATA_FILE = "{data}' in script.read_text(encoding="utf-8")
    p = run_script(script, "--epochs", "1", "--device", "cpu", cwd=tempfile.gettempdir())
    assert p.returncode == 0, p.stderr[-2000:]


def test_missing_data_file_is_a_message_not_a_traceback(tmp_path) -> None:
    shutil.copytree(SAMPLES / "data", tmp_path / "data")
    g = load_path(SAMPLES / "csv_import.json")
    script = tmp_path / "csv_train.py"
    write_python(g, str(script), str(tmp_path))
    os.remove(tmp_path / "data" / g.nodes["n1"].params["path"].split("/")[-1])
    p = run_script(script, "--epochs", "1", "--device", "cpu")
    assert p.returncode != 0 and p.stderr.startswith("error: cannot open CSV file") and "Traceback" not in p.stderr


# ------------------------------------------------------------------ command line


def test_cli_export_python_and_onnx(tmp_path, capsys) -> None:
    out = tmp_path / "xor.py"
    assert cli_main(["export", str(SAMPLES / "xor_mlp.json"), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    ast.parse(out.read_text(encoding="utf-8"))
    onnx_out = tmp_path / "xor.onnx"
    assert cli_main(["export", str(SAMPLES / "xor_mlp.json"), "--format", "onnx", "-o", str(onnx_out)]) == 0
    assert onnx_out.stat().st_size > 0


@pytest.mark.parametrize("case", ["invalid-graph", "not-json", "missing-file", "bad-output-dir", "shadowing-name",
                                  "missing-checkpoint"])
def test_cli_export_failures_exit_2_with_a_message(case, tmp_path, capsys) -> None:
    src = SAMPLES / "xor_mlp.json"
    out = tmp_path / "s.py"
    extra: list[str] = []
    if case == "invalid-graph":
        doc = json.loads(src.read_text())
        doc["edges"] = [e for e in doc["edges"] if e["to"]["port"] != "prediction"]
        src = tmp_path / "g.json"
        src.write_text(json.dumps(doc))
    elif case == "not-json":
        src = tmp_path / "g.json"
        src.write_text("{nope")
    elif case == "missing-file":
        src = tmp_path / "absent.json"
    elif case == "bad-output-dir":
        out = tmp_path / "no" / "such" / "dir" / "s.py"
    elif case == "shadowing-name":
        out = tmp_path / "torch.py"
    else:
        extra = ["--checkpoint", str(tmp_path / "nothing-here")]
    code = cli_main(["export", str(src), "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "cannot export" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_export_error_names_the_problem() -> None:
    doc = json.loads((SAMPLES / "xor_mlp.json").read_text())
    doc["edges"] = [e for e in doc["edges"] if e["to"]["port"] != "prediction"]
    from graph import loads

    with pytest.raises(ExportError, match="prediction"):
        export_python(loads(json.dumps(doc)))


def test_script_in_a_subprocess_has_no_netwright_on_its_path(scripts, tmp_path) -> None:
    """Run from an empty folder with -I (isolated): nothing from the repository can be imported."""
    script = tmp_path / "xor.py"
    shutil.copy(scripts["xor_mlp"], script)
    p = subprocess.run([PY, "-I", str(script), "--epochs", "2", "--device", "cpu"], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "epoch 2/2" in p.stdout


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("subprocess paths assume POSIX")


def test_early_stopping_and_restored_weights_match_the_trainer(scripts, tmp_path) -> None:
    """overfitting_early_stop stops after ~30 of 400 epochs and restores the best epoch's
    weights; the script stops at the same epoch and saves the same restored weights."""
    import torch

    from runtime.train import Trainer

    g = load_path(SAMPLES / "overfitting_early_stop.json")
    result = Trainer(g, str(SAMPLES), device="cpu").run()
    assert result.reason == "early_stopped"
    p = run_script(scripts["overfitting_early_stop"], "--device", "cpu", "--metrics-out", str(tmp_path / "m.jsonl"),
                   "--save", str(tmp_path / "w.pt"))
    assert p.returncode == 0, p.stderr[-2000:]
    got = read_jsonl(tmp_path / "m.jsonl")
    assert len(got) == len(result.history)
    assert got[-1]["best_epoch"] == result.best_epoch
    saved = torch.load(tmp_path / "w.pt", weights_only=True)
    for k, v in result.model.state_dict().items():
        assert torch.equal(saved[k], v.cpu()), k
