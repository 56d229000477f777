"""Checkpoints: exact resume, atomic writes, and refusal of files that carry code."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from graph import save_path
from runtime import checkpoint as ckpt
from runtime.cli import main
from runtime.errors import CheckpointError
from runtime.train import Trainer
from tests.runtime.graphs import blobs, layers, make_graph, npz_data, without_timing

torch.set_num_threads(1)


def resumable_graph(tmp_path, **settings):
    """Dropout (global RNG), shuffling (generator), Adam state, a StepLR schedule and early-stopping
    counters: everything a resume has to restore."""
    x, y = blobs(120, features=5, classes=3)
    return make_graph(npz_data(tmp_path, x, y, val_split=0.25, batch_size=16),
                      layers(("Linear", {"out_features": 24}), "ReLU", ("Dropout", {"p": 0.3}),
                             ("Linear", {"out_features": 24, "dropconnect": 0.2}), "Tanh", ("Linear", {"out_features": 3})),
                      opt="Adam", opt_params={"lr": 0.01}, schedule=("StepLR", {"step_size": 2, "gamma": 0.5}),
                      settings={"patience": 50, "seed": 3, **settings})


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    g = resumable_graph(tmp_path)
    full = Trainer(g, str(tmp_path), epochs=6, device="cpu").run()
    folder = tmp_path / "ck"
    first = Trainer(g, str(tmp_path), epochs=3, device="cpu", checkpoint_dir=str(folder)).run()
    assert (folder / ckpt.LAST).is_file() and len(first.history) == 3
    resumed = Trainer(g, str(tmp_path), epochs=6, device="cpu", resume_from=str(folder)).run()
    assert resumed.records[0]["first_epoch"] == 4 and len(resumed.records[0]["history"]) == 3
    assert [without_timing(r) for r in resumed.history] == [without_timing(r) for r in full.history]
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_from_the_command_line_writes_the_whole_run(tmp_path):
    g = resumable_graph(tmp_path)
    path = tmp_path / "g.json"
    save_path(g, path)
    full, part, rest = (tmp_path / f"{n}.jsonl" for n in ("full", "part", "rest"))
    assert main(["train", str(path), "--epochs", "4", "--metrics-out", str(full), "--quiet"]) == 0
    assert main(["train", str(path), "--epochs", "2", "--checkpoint", str(tmp_path / "c"), "--metrics-out", str(part),
                 "--quiet"]) == 0
    assert main(["train", str(path), "--epochs", "4", "--resume", str(tmp_path / "c"), "--metrics-out", str(rest),
                 "--quiet"]) == 0

    def lines(p):
        return [without_timing(json.loads(x)) for x in p.read_text().splitlines()]

    assert lines(rest) == lines(full) and len(lines(full)) == 4


def test_checkpoint_best_writes_the_best_epoch(tmp_path):
    g = resumable_graph(tmp_path, checkpoint_best=True)
    folder = tmp_path / "ck"
    result = Trainer(g, str(tmp_path), epochs=5, device="cpu", checkpoint_dir=str(folder)).run()
    best = ckpt.load_checkpoint(folder / ckpt.BEST)
    assert best["epoch"] == result.best_epoch
    assert best["early_stopping"]["best_epoch"] == result.best_epoch
    assert set(best["model"]) == set(result.model.state_dict())
    assert json.loads(best["graph"])["format"] == "netwright-graph"
    assert [n for n in os.listdir(folder) if n.endswith(".tmp")] == []


def _count_writes(monkeypatch) -> list[tuple[str, int]]:
    writes: list[tuple[str, int]] = []
    save = ckpt.save_checkpoint

    def counting(path, state):
        writes.append((os.path.basename(path), state["epoch"]))
        save(path, state)

    monkeypatch.setattr(ckpt, "save_checkpoint", counting)
    return writes


def _stopped_mid_epoch(g, tmp_path, folder, epochs: int, stop_at: tuple[int, int]):
    """A run with a long checkpoint interval, stopped at (epoch, step)."""
    trainer = Trainer(g, str(tmp_path), epochs=epochs, device="cpu", checkpoint_dir=str(folder), progress_interval=0,
                      checkpoint_interval=1000.0)

    def stop(record):
        if record["kind"] == "step" and (record["epoch"], record["step"]) == stop_at:
            trainer.request_stop()

    trainer.on_record = stop
    return trainer.run()


def test_checkpoint_interval_writes_when_the_run_stops_and_resumes_exactly(tmp_path, monkeypatch):
    """The designer's runs checkpoint at most every few seconds: the epochs in between stay in
    memory, and the newest finished one is written when the run is stopped mid-epoch."""
    g = resumable_graph(tmp_path, checkpoint_best=True)
    full = Trainer(g, str(tmp_path), epochs=6, device="cpu").run()
    writes = _count_writes(monkeypatch)
    folder = tmp_path / "ck"
    first = _stopped_mid_epoch(g, tmp_path, folder, epochs=6, stop_at=(4, 2))
    assert first.reason == "stopped" and len(first.history) == 3
    # one write at the end, not one per epoch; best.pt holds the best of the three epochs
    assert writes == [("best.pt", first.best_epoch), ("last.pt", 3)]
    assert ckpt.load_checkpoint(folder / ckpt.BEST)["early_stopping"]["best_epoch"] == first.best_epoch
    assert len(ckpt.load_checkpoint(folder)["records"]) == 3
    resumed = Trainer(g, str(tmp_path), epochs=6, device="cpu", resume_from=str(folder)).run()
    assert [without_timing(r) for r in resumed.history] == [without_timing(r) for r in full.history]
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_interval_zero_writes_after_every_epoch(tmp_path, monkeypatch):
    writes = _count_writes(monkeypatch)
    Trainer(resumable_graph(tmp_path), str(tmp_path), epochs=3, device="cpu", checkpoint_dir=str(tmp_path / "ck")).run()
    assert writes == [("last.pt", 1), ("last.pt", 2), ("last.pt", 3)]


def test_checkpoint_interval_keeps_the_last_finished_epoch_when_a_run_fails(tmp_path, monkeypatch):
    """A run that ends with an error (here a failing observer in epoch 3) still leaves the
    pending epoch on disk, and the run's own error is what the caller sees."""

    class Boom(RuntimeError):
        pass

    def fail_in_epoch_3(record):
        if record["kind"] == "step" and record["epoch"] == 3:
            raise Boom("observer failed")

    writes = _count_writes(monkeypatch)
    folder = tmp_path / "ck"
    trainer = Trainer(resumable_graph(tmp_path), str(tmp_path), epochs=6, device="cpu", checkpoint_dir=str(folder),
                      progress_interval=0, checkpoint_interval=1000.0, on_record=fail_in_epoch_3)
    with pytest.raises(Boom):
        trainer.run()
    assert writes == [("last.pt", 2)]
    assert ckpt.load_checkpoint(folder)["epoch"] == 2


def test_pending_checkpoint_is_a_copy_not_the_live_weights(tmp_path):
    """Epoch 1's state kept in memory must not change while epoch 2 trains."""
    folder = tmp_path / "ck"
    g = resumable_graph(tmp_path)
    one = Trainer(g, str(tmp_path), epochs=1, device="cpu").run()
    _stopped_mid_epoch(g, tmp_path, folder, epochs=2, stop_at=(2, 3))
    saved = ckpt.load_checkpoint(folder)
    assert saved["epoch"] == 1
    assert all(torch.equal(saved["model"][k], v) for k, v in one.model.state_dict().items())


class _Payload:
    """Unpickling this would create the canary file: the code a crafted checkpoint carries."""

    def __init__(self, canary: str):
        self.canary = canary

    def __reduce__(self):
        return (open, (self.canary, "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_checkpoint_carrying_code_runs_nothing_and_is_refused(tmp_path, writer):
    canary = tmp_path / "canary"
    folder = tmp_path / "evil"
    folder.mkdir()
    state = {"format": ckpt.FORMAT, "version": ckpt.VERSION, "epoch": 1, "model": _Payload(str(canary))}
    path = folder / ckpt.LAST
    if writer == "torch.save":
        torch.save(state, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump(state, fh, protocol=2)
    with pytest.raises(CheckpointError, match="refused|not a readable"):
        ckpt.load_checkpoint(folder)
    assert not canary.exists()
    g = resumable_graph(tmp_path)
    with pytest.raises(CheckpointError):
        Trainer(g, str(tmp_path), epochs=2, device="cpu", resume_from=str(folder)).run()
    gpath = tmp_path / "g.json"
    save_path(g, gpath)
    assert main(["train", str(gpath), "--resume", str(folder), "--quiet"]) == 2
    assert not canary.exists()


@pytest.mark.parametrize("protocol", [2, 4, pickle.HIGHEST_PROTOCOL, "torch.save"])
def test_a_refused_checkpoint_prints_only_the_refusal(tmp_path, protocol):
    """``netwright train --resume`` on a crafted file: stderr is the one clear line, no warning
    from torch first (pickle.dump's default protocols made torch warn before refusing)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    canary = tmp_path / "canary"
    folder = tmp_path / "evil"
    folder.mkdir()
    state = {"format": ckpt.FORMAT, "version": ckpt.VERSION, "epoch": 1, "model": _Payload(str(canary)),
             "optimizer": {}, "rng": {}, "records": [], "config": {}}
    if protocol == "torch.save":
        torch.save(state, folder / ckpt.LAST)
    else:
        with open(folder / ckpt.LAST, "wb") as fh:
            pickle.dump(state, fh, protocol=protocol)
    gpath = tmp_path / "g.json"
    save_path(resumable_graph(tmp_path), gpath)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    p = subprocess.run([sys.executable, "-m", "designer.launcher", "train", str(gpath), "--resume", str(folder),
                        "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 2
    assert p.stderr.splitlines() == [f"{gpath}: '{folder / ckpt.LAST}' is not a readable Netwright checkpoint: "
                                     "it contains Python objects other than tensors and numbers "
                                     "(refused without running them)"]
    assert p.stdout == "" and not canary.exists()


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError):
        ckpt.load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a Netwright checkpoint"):
        ckpt.load_checkpoint(other)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        ckpt.load_checkpoint(tmp_path / "missing")


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    folder = tmp_path / "ck"
    Trainer(resumable_graph(tmp_path), str(tmp_path), epochs=1, device="cpu", checkpoint_dir=str(folder)).run()
    x, y = blobs(120, features=5, classes=3)
    other = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 3})))
    with pytest.raises(CheckpointError, match="different model"):
        Trainer(other, str(tmp_path), epochs=2, device="cpu", resume_from=str(folder)).run()


def test_an_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    ckpt.save_checkpoint(path, {"epoch": 1, "model": {}, "optimizer": {}, "rng": {}, "records": [], "config": {}})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CheckpointError, match="disk full"):
        ckpt.save_checkpoint(path, {"epoch": 2, "model": {}, "optimizer": {}, "rng": {}, "records": [], "config": {}})
    monkeypatch.undo()
    assert ckpt.load_checkpoint(path)["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["last.pt"]
