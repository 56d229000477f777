"""The trainer and `netwright train`: results, reproducibility, records, control, failures."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from graph import save_path
from runtime.cli import main
from runtime.errors import DeviceError, DivergedError
from runtime.train import Trainer
from tests.conftest import SAMPLES
from tests.runtime.graphs import blobs, epochs_of, layers, make_graph, npz_data, without_timing

torch.set_num_threads(1)

EPOCH_KEYS = {"kind", "epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr",
              "epoch_seconds", "samples_per_second", "grad_norm", "weight_norm", "dead_fraction",
              "saturated_fraction", "improved", "best_epoch"}


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def mlp_graph(tmp_path, n=96, batch_size=16, epochs=4, dropout=0.0, **settings):
    x, y = blobs(n, features=4, classes=3)
    body = [("Linear", {"out_features": 16}), "ReLU"]
    if dropout:
        body.append(("Dropout", {"p": dropout}))
    body.append(("Linear", {"out_features": 3}))
    return make_graph(npz_data(tmp_path, x, y, val_split=0.25, batch_size=batch_size), layers(*body), opt="Adam",
                      opt_params={"lr": 0.01}, settings={"epochs": epochs, **settings})


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


# ---------------------------------------------------------------- the acceptance runs


def test_xor_mlp_reaches_train_accuracy_one(tmp_path, capsys):
    out = tmp_path / "m.jsonl"
    assert main(["train", str(SAMPLES / "xor_mlp.json"), "--seed", "0", "--metrics-out", str(out)]) == 0
    lines = read_jsonl(out)
    assert lines[-1]["train_accuracy"] == 1.0
    assert len(lines) == 300 and [r["epoch"] for r in lines] == list(range(1, 301))
    assert EPOCH_KEYS - {"kind"} <= set(lines[-1])
    summary = capsys.readouterr().out
    assert "completed after 300 epochs" in summary and "train_accuracy 1" in summary


@pytest.mark.slow
def test_digits_mlp_reaches_095_validation_accuracy():
    from graph import load_path

    result = Trainer(load_path(SAMPLES / "digits_mlp.json"), str(SAMPLES), seed=0, device="cpu").run()
    assert result.final["val_accuracy"] >= 0.95


@pytest.mark.slow
def test_digits_cnn_reaches_097_validation_accuracy():
    from graph import load_path

    result = Trainer(load_path(SAMPLES / "digits_cnn.json"), str(SAMPLES), seed=0, device="cpu").run()
    assert result.final["val_accuracy"] >= 0.97


def test_two_runs_with_the_same_seed_write_identical_metrics(tmp_path):
    g = mlp_graph(tmp_path, dropout=0.3)
    path = tmp_path / "g.json"
    save_path(g, path)
    files = []
    for i in range(2):
        out = tmp_path / f"m{i}.jsonl"
        assert main(["train", str(path), "--seed", "7", "--metrics-out", str(out), "--quiet"]) == 0
        files.append([without_timing(r) for r in read_jsonl(out)])
    assert files[0] == files[1] and len(files[0]) == 4
    out = tmp_path / "other.jsonl"
    assert main(["train", str(path), "--seed", "8", "--metrics-out", str(out), "--quiet"]) == 0
    assert [without_timing(r) for r in read_jsonl(out)] != files[0]


# ---------------------------------------------------------------- records


def test_records_are_plain_data_with_the_documented_keys(tmp_path):
    seen = []
    result = Trainer(mlp_graph(tmp_path), str(tmp_path), device="cpu", on_record=seen.append,
                     progress_interval=0).run()
    assert all(_plain(r) for r in seen)
    assert result.records == [r for r in seen if r["kind"] != "step"]  # progress is not kept
    kinds = [r["kind"] for r in seen]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 4
    start = seen[0]
    assert start["device"] == "CPU" and start["n_train"] == 72 and start["n_val"] == 24
    assert start["steps_per_epoch"] == 5 and start["nodes"] == ["n2", "n3", "n4"] and start["task"] == "classification"
    steps = [r for r in seen if r["kind"] == "step"]
    assert steps and {"epoch", "step", "steps", "samples_seen", "train_loss_running", "lr", "seconds"} <= set(steps[0])
    epoch = epochs_of(seen)[-1]
    assert set(epoch) == EPOCH_KEYS
    assert list(epoch["grad_norm"]) == ["n2", "n4"] == list(epoch["weight_norm"])
    assert list(epoch["dead_fraction"]) == ["n3"] and epoch["saturated_fraction"] == {}
    assert epoch["samples_per_second"] > 0 and 0 <= epoch["val_accuracy"] <= 1
    assert seen[-1]["reason"] == "completed" and seen[-1]["epochs_completed"] == 4


def test_train_loss_is_the_size_weighted_mean_of_batch_losses(tmp_path):
    # 72 training rows in batches of 32: sizes 32, 32, 8. SGD with lr 0 keeps the weights fixed,
    # so every batch loss can be recomputed from the final model.
    g = mlp_graph(tmp_path, batch_size=32, epochs=1)
    g.set_param("n6", "lr", 1e-8)
    result = Trainer(g, str(tmp_path), device="cpu").run()
    data = result.data
    pred = torch.from_numpy(result.predict(data.x_train))
    full = torch.nn.functional.cross_entropy(pred, torch.from_numpy(data.y_train)).item()
    assert result.final["train_loss"] == pytest.approx(full, rel=1e-4)
    correct = (pred.argmax(1).numpy() == data.y_train).mean()
    assert result.final["train_accuracy"] == pytest.approx(correct)


def test_regression_has_no_accuracy_and_no_validation_gives_none(tmp_path):
    x = np.linspace(-1, 1, 40, dtype=np.float32).reshape(-1, 1)
    g = make_graph(npz_data(tmp_path, x, 2 * x), layers(("Linear", {"out_features": 1})), loss="MSELoss",
                   opt_params={"lr": 0.1})
    result = Trainer(g, str(tmp_path), epochs=3, device="cpu").run()
    rec = result.final
    assert "train_accuracy" not in rec and rec["val_loss"] is None and result.predict_classes(x) is None
    assert result.best_epoch == 3  # monitored on train loss without a validation split


def test_diagnostics_show_dead_and_saturated_units(tmp_path):
    x, y = blobs(features=4, classes=2)
    g = make_graph(npz_data(tmp_path, x, y),
                   layers(("Linear", {"out_features": 6, "bias_init": "constant", "bias_value": -100.0}), "ReLU",
                          ("Linear", {"out_features": 5, "bias_init": "constant", "bias_value": 50.0}), "Sigmoid",
                          ("Linear", {"out_features": 4}), "Tanh", ("Linear", {"out_features": 2})))
    rec = Trainer(g, str(tmp_path), epochs=1, device="cpu").run().final
    assert rec["dead_fraction"] == {"n3": 1.0}
    assert rec["saturated_fraction"]["n5"] == 1.0 and 0.0 <= rec["saturated_fraction"]["n7"] < 1.0
    assert rec["grad_norm"]["n2"] == 0.0 and rec["grad_norm"]["n8"] > 0.0  # nothing flows through dead units
    assert rec["weight_norm"]["n2"] > 0.0


def test_regularisation_max_norm_clipping_and_dropconnect_run(tmp_path):
    x, y = blobs(features=4, classes=3)

    def graph(**extra):
        hidden = {"out_features": 12, **extra}
        return make_graph(npz_data(tmp_path, x, y, batch_size=16), layers(("Linear", hidden), "ReLU", ("Linear", {"out_features": 3})),
                          opt="SGD", opt_params={"lr": 0.5, "clip_grad_norm": 0.0})

    base = Trainer(graph(), str(tmp_path), epochs=3, device="cpu").run()
    l1 = Trainer(graph(l1=0.05), str(tmp_path), epochs=3, device="cpu").run()
    assert l1.final["weight_norm"]["n2"] < base.final["weight_norm"]["n2"]
    capped = Trainer(graph(max_norm=0.5), str(tmp_path), epochs=3, device="cpu").run()
    rows = capped.model.n2.weight.detach().norm(dim=1)
    assert rows.max().item() <= 0.5 + 1e-5
    dc = Trainer(graph(dropconnect=0.5, l2=0.01), str(tmp_path), epochs=3, device="cpu").run()
    assert type(dc.model.n2).__name__ == "DropConnectLinear" and np.isfinite(dc.final["train_loss"])
    g = graph()
    g.set_param("n6", "clip_grad_norm", 0.01)
    clipped = Trainer(g, str(tmp_path), epochs=1, device="cpu").run()
    assert clipped.final["train_loss"] != base.history[0]["train_loss"]


def test_early_stopping_restores_the_best_weights(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    y = rng.integers(0, 2, 60)  # noise: validation loss soon rises
    g = make_graph(npz_data(tmp_path, x, y, val_split=0.3, batch_size=8),
                   layers(("Linear", {"out_features": 64}), "ReLU", ("Linear", {"out_features": 2})), opt="Adam",
                   opt_params={"lr": 0.02}, settings={"patience": 3, "epochs": 200, "restore_best": True})
    result = Trainer(g, str(tmp_path), device="cpu").run()
    assert result.reason == "early_stopped" and len(result.history) < 200
    best = result.history[result.best_epoch - 1]
    assert result.history[-1]["epoch"] == result.best_epoch + 3
    pred = torch.from_numpy(result.predict(result.data.x_val))
    val = torch.nn.functional.cross_entropy(pred, torch.from_numpy(result.data.y_val)).item()
    assert val == pytest.approx(best["val_loss"], rel=1e-5)
    assert result.records[-1]["restored_best"] is True


# ---------------------------------------------------------------- divergence


def test_diverging_lr_exits_2_with_a_clear_message(capsys):
    assert main(["train", str(SAMPLES / "diverging_lr.json")]) == 2
    err = capsys.readouterr().err
    assert "Training diverged at epoch 1, step" in err and "learning rate (now 10)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("every_step", [True, False])
def test_divergence_is_caught_at_the_first_bad_step(every_step):
    from graph import load_path

    seen = []
    trainer = Trainer(load_path(SAMPLES / "diverging_lr.json"), str(SAMPLES), device="cpu", on_record=seen.append,
                      progress_interval=0 if every_step else 1000.0)
    trainer.check_every_step = every_step  # False: the deferred check accelerators use
    with pytest.raises(DivergedError) as err:
        trainer.run()
    e = err.value
    assert (e.epoch, e.step) == (1, 9)
    assert str(e).startswith("Training diverged at epoch 1, step 9: the loss became")
    steps = [r for r in seen if r["kind"] == "step"]
    assert all(np.isfinite(r["train_loss_running"]) for r in steps)  # records before stay valid
    if every_step:
        assert [r["step"] for r in steps] == list(range(1, 9))


# ---------------------------------------------------------------- control from another thread


def test_stop_from_another_thread_ends_at_the_next_batch(tmp_path):
    g = mlp_graph(tmp_path, n=400, batch_size=4, epochs=50)
    trainer: Trainer
    steps = []

    def on_record(rec):
        if rec["kind"] == "step":
            steps.append(rec)
        if rec["kind"] == "step" and rec["epoch"] == 2 and rec["step"] == 5:
            t = threading.Thread(target=trainer.request_stop)
            t.start()
            t.join()

    trainer = Trainer(g, str(tmp_path), device="cpu", on_record=on_record, progress_interval=0)
    result = trainer.run()
    assert (steps[-1]["epoch"], steps[-1]["step"]) == (2, 5)
    assert not [r for r in result.records if r["kind"] == "step"]  # progress is not kept
    assert result.reason == "stopped" and result.records[-1]["epochs_completed"] == 1


def test_stop_from_the_main_thread_while_the_run_goes_on_in_another(tmp_path):
    """As in the designer: run() on a worker thread, stop from the caller's. The run is held at a
    step record until the stop has been requested; between that record and the end record the
    trainer takes no further step (it checks the flag at the next batch boundary)."""
    g = mlp_graph(tmp_path, n=400, batch_size=1, epochs=10_000)
    at_step, stop_sent = threading.Event(), threading.Event()
    kinds: list[tuple] = []

    def on_record(rec):
        kinds.append((rec["kind"], rec.get("epoch"), rec.get("step")))
        if rec["kind"] == "step" and rec["epoch"] == 2 and rec["step"] == 7:
            at_step.set()
            assert stop_sent.wait(timeout=60)  # a guard against a hang, not a measurement

    trainer = Trainer(g, str(tmp_path), device="cpu", on_record=on_record, progress_interval=0)
    box = {}
    worker = threading.Thread(target=lambda: box.update(result=trainer.run()))
    worker.start()
    assert at_step.wait(timeout=60)
    trainer.request_stop()
    stop_sent.set()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert kinds[-2:] == [("step", 2, 7), ("end", None, None)]
    assert box["result"].reason == "stopped" and box["result"].records[-1]["epochs_completed"] == 1


def test_pause_then_resume_completes_with_the_same_numbers(tmp_path):
    """Paused at a batch boundary, the run emits nothing until it is resumed: the record after
    "paused" is "resumed", then the next step. Resumed from the main thread once "paused" came."""
    g = mlp_graph(tmp_path, dropout=0.2)
    reference = Trainer(g, str(tmp_path), device="cpu").run()
    paused = threading.Event()
    seen: list[tuple] = []
    trainer: Trainer

    def on_record(rec):
        seen.append((rec["kind"], rec.get("epoch"), rec.get("step")))
        if rec["kind"] == "step" and rec["epoch"] == 2 and rec["step"] == 2:
            threading.Thread(target=trainer.request_pause).start()
        if rec["kind"] == "paused":
            paused.set()

    trainer = Trainer(g, str(tmp_path), device="cpu", on_record=on_record, progress_interval=0)
    box = {}
    worker = threading.Thread(target=lambda: box.update(result=trainer.run()))
    worker.start()
    assert paused.wait(timeout=60)
    trainer.request_resume()
    worker.join(timeout=60)
    assert not worker.is_alive()
    i = seen.index(("paused", None, None))
    assert seen[i - 1:i + 3] == [("step", 2, 2), ("paused", None, None), ("resumed", None, None), ("step", 2, 3)]
    result = box["result"]
    assert result.reason == "completed"
    assert [without_timing(r) for r in result.history] == [without_timing(r) for r in reference.history]


# ---------------------------------------------------------------- bad input at the command line


def test_invalid_graph_exits_2_with_its_findings(tmp_path, capsys):
    x, y = blobs()
    g = make_graph(npz_data(tmp_path, x, y), layers(("Linear", {"out_features": 5})))
    path = tmp_path / "bad.json"
    save_path(g, path)
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cannot be trained" in err and "'n3' (CrossEntropyLoss)" in err and "3 classes" in err
    assert "Traceback" not in err


def test_unreadable_file_and_bad_data_exit_2(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    assert main(["train", str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n")
    g = make_graph({"dataset": "csv", "path": "d.csv", "val_split": 0.0},
                   layers(("Linear", {"out_features": 2})))
    gpath = tmp_path / "csv.json"
    save_path(g, gpath)
    assert main(["train", str(gpath)]) == 2
    err = capsys.readouterr().err
    assert "oops" in err and "Traceback" not in err


def test_unavailable_device_is_a_device_error(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceError, match="CUDA"):
        Trainer(mlp_graph(tmp_path), str(tmp_path), device="cuda").run()
    path = tmp_path / "g.json"
    save_path(mlp_graph(tmp_path), path)
    assert main(["train", str(path), "--device", "cuda"]) == 2
    assert "CUDA" in capsys.readouterr().err


def test_a_failing_node_during_training_exits_2_naming_it(tmp_path, capsys):
    ids = np.array([[1, 2, 30], [0, 1, 2]], np.int64)  # 30 is past the vocabulary of 16
    g = make_graph(npz_data(tmp_path, ids, np.array([0, 1])),
                   layers(("Embedding", {"num_embeddings": 16, "embedding_dim": 2}), "Flatten",
                          ("Linear", {"out_features": 2})))
    path = tmp_path / "g.json"
    save_path(g, path)
    assert main(["train", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Node 'n2' (Embedding): " in err and "Traceback" not in err


def test_out_of_device_memory_suggests_a_smaller_batch(tmp_path, monkeypatch):
    import runtime.train as train_module

    real_build = train_module.build_model

    def build_then_fail(*args, **kwargs):
        model = real_build(*args, **kwargs)

        def oom(module, inputs):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        model.n2.register_forward_pre_hook(oom)
        return model

    monkeypatch.setattr(train_module, "build_model", build_then_fail)
    with pytest.raises(DeviceError, match="smaller batch size") as err:
        Trainer(mlp_graph(tmp_path), str(tmp_path), device="cpu").run()
    assert "batch size 16" in str(err.value)
