"""Runs in a child process (runtime.worker): the messages a parent sees, stop/pause, batching of
step records, results next to the model, and a child that dies or a parent that goes away."""

from __future__ import annotations

import os
import signal

import numpy as np

from graph import fileformat, load_path
from runtime.worker import STEP_SAMPLE_S, RunRequest, TrainingProcess
from tests.conftest import SAMPLES
from tests.runtime.graphs import without_timing


def request(sample: str, tmp_path, **kw) -> RunRequest:
    graph = load_path(SAMPLES / sample)
    kw.setdefault("checkpoint_dir", str(tmp_path))
    return RunRequest(graph_text=fileformat.dumps(graph), base_dir=str(SAMPLES), **kw)


def collect(proc: TrainingProcess, on_message=None) -> list[tuple[str, object]]:
    messages = []
    try:
        for kind, payload in proc.messages():
            messages.append((kind, payload))
            if on_message is not None:
                on_message(kind, payload, messages)
    finally:
        proc.close()
    return messages


def records_of(messages) -> list[dict]:
    return [r for kind, batch in messages if kind == "records" for r in batch]


def test_a_run_streams_records_in_batches_then_results_then_finished(tmp_path):
    proc = TrainingProcess(request("xor_mlp.json", tmp_path, epochs=30, threads=1))
    assert proc.process.pid != os.getpid()
    messages = collect(proc)
    kinds = [k for k, _ in messages]
    assert kinds[-1] == "finished" and kinds.count("finished") == 1
    assert messages[-1][1]["reason"] == "completed"
    assert "failed" not in kinds
    records = records_of(messages)
    assert records[0]["kind"] == "start" and records[-1]["kind"] == "end"
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == list(range(1, 31))
    assert epochs[-1]["train_accuracy"] == 1.0  # the same run as `netwright train`
    # the last results payload shows the final model, after the last epoch's records
    results = [p for k, p in messages if k == "results"]
    assert results and results[-1]["epoch"] == 30
    assert results[-1]["regions"]["classes"].shape == (120, 120)  # XOR is 2-D: decision regions
    assert kinds.index("results") > kinds.index("records")
    assert os.path.exists(tmp_path / "last.pt")


def test_live_results_show_the_epoch_that_just_ended(tmp_path):
    """Each results payload comes right after the epoch record it shows (the weights are copied
    from the model at the end of that epoch; no lag of an epoch, no checkpoint file read)."""
    proc = TrainingProcess(request("xor_mlp.json", tmp_path, epochs=40, threads=1, checkpoint_interval=1000.0))
    messages = collect(proc)
    last_epoch, shown = 0, []
    for kind, payload in messages:
        if kind == "records":
            last_epoch = max([r["epoch"] for r in payload if r["kind"] == "epoch"], default=last_epoch)
        elif kind == "results":
            assert payload["epoch"] == last_epoch
            shown.append(payload["epoch"])
    assert shown[0] == 1 and shown[-1] == 40  # the first epoch at once, the final model at the end
    assert os.listdir(tmp_path) == ["last.pt"]  # written once, when the run ended


def test_same_request_same_records(tmp_path):
    def run(folder):
        folder.mkdir()
        recs = records_of(collect(TrainingProcess(request("xor_mlp.json", folder, epochs=5, threads=1))))
        return [without_timing(r) for r in recs if r["kind"] == "epoch"]

    assert run(tmp_path / "a") == run(tmp_path / "b")


def test_stop_ends_the_child_inside_the_epoch(tmp_path):
    """Stopped after a few steps of a 50-epoch run, the child ends inside epoch 1: the records
    after the stop request are steps of epoch 1 and the end record, nothing else."""
    proc = TrainingProcess(request("digits_mlp.json", tmp_path, epochs=50, batch_size=1, threads=1))
    state = {"sent_after": None}  # how many records the parent had when it asked to stop

    def stop_after_a_few_steps(kind, payload, messages):
        records = records_of(messages)
        if state["sent_after"] is None and any(r["kind"] == "step" and r["step"] >= 20 for r in records):
            state["sent_after"] = len(records)
            proc.request("stop")

    messages = collect(proc, stop_after_a_few_steps)
    assert messages[-1] == ("finished", {"reason": "stopped", "best_epoch": None})
    after = records_of(messages)[state["sent_after"]:]
    assert after[-1]["kind"] == "end" and after[-1]["reason"] == "stopped"
    assert after[-1]["epochs_completed"] == 0
    assert all(r["kind"] == "step" and r["epoch"] == 1 for r in after[:-1])
    assert not proc.process.is_alive()


def test_pause_holds_the_run_and_resume_continues(tmp_path):
    """Paused before it starts, the run sends "paused" within epoch 1 and nothing more until the
    parent resumes it: the record after "paused" is "resumed", and then the rest of the run."""
    proc = TrainingProcess(request("digits_mlp.json", tmp_path, epochs=2, batch_size=1, threads=1))
    proc.request("pause")  # before the trainer exists: applied when it starts
    seen: list[dict] = []
    for kind, payload in proc.messages():
        if kind == "records":
            seen += payload
            if any(r["kind"] == "paused" for r in payload):
                break
    assert seen[0]["kind"] == "start" and seen[-1]["kind"] == "paused"
    assert all(r["kind"] == "step" and r["epoch"] == 1 for r in seen[1:-1])  # usually none: it pauses at the first batch
    proc.request("resume")
    rest = records_of(collect(proc))
    assert rest[0]["kind"] == "resumed" and rest[-1]["kind"] == "end"
    assert rest[-1]["reason"] == "completed"
    assert [r["epoch"] for r in rest if r["kind"] == "epoch"] == [1, 2]


def test_a_child_that_dies_is_reported_and_the_stream_still_finishes(tmp_path):
    proc = TrainingProcess(request("digits_mlp.json", tmp_path, epochs=50, batch_size=1, threads=1))

    def kill_after_first_records(kind, payload, messages):
        if kind == "records" and proc.process.is_alive():
            os.kill(proc.process.pid, signal.SIGKILL)  # a native crash, an out-of-memory kill

    messages = collect(proc, kill_after_first_records)
    kinds = [k for k, _ in messages]
    assert kinds[-2:] == ["failed", "finished"]
    info = messages[-2][1]
    assert "ended unexpectedly" in info["message"] and "-9" in info["message"]
    assert messages[-1][1]["reason"] == "failed"


def test_a_bad_graph_fails_with_the_runtime_message(tmp_path):
    graph = load_path(SAMPLES / "xor_mlp.json")
    data = next(n for n in graph.nodes.values() if n.type == "Dataset")
    graph.nodes[data.id].params["path"] = "missing.csv"
    graph.nodes[data.id].params["dataset"] = "csv"
    req = RunRequest(graph_text=fileformat.dumps(graph), base_dir=str(tmp_path), epochs=1,
                     checkpoint_dir=str(tmp_path))
    messages = collect(TrainingProcess(req))
    kinds = [k for k, _ in messages]
    assert kinds[-2:] == ["failed", "finished"]
    info = messages[-2][1]
    assert not info["bug"] and "missing.csv" in info["message"]


def test_the_child_stops_when_its_parent_goes_away(tmp_path):
    proc = TrainingProcess(request("digits_mlp.json", tmp_path, epochs=50, batch_size=1, threads=1))
    for kind, _ in proc.messages():
        if kind == "records":
            break
    proc._ctrl_w.close()  # what the parent's death does to the control pipe
    proc.process.join(10.0)
    assert proc.process.exitcode == 0  # stopped and exited by itself, not killed
    proc._data_r.close()


def test_step_records_travel_in_batches_as_a_sample_of_the_run(tmp_path):
    messages = collect(TrainingProcess(request("digits_mlp.json", tmp_path, epochs=3, threads=1)))
    records = records_of(messages)
    steps = [r for r in records if r["kind"] == "step"]
    per_epoch = records[0]["steps_per_epoch"]
    # the trainer makes one after every batch but each epoch's last (the epoch record stands for
    # it); of those the child sends one per STEP_SAMPLE_S of the run and the newest of a batch
    assert steps and all(1 <= r["step"] < per_epoch for r in steps)
    order = [(r["epoch"], r["step"]) for r in steps]
    assert order == sorted(set(order))
    assert len(steps) < 3 * (per_epoch - 1)  # ~1 ms a batch here: most are left out
    for kind, batch in messages:
        if kind == "records":
            sent = [r["seconds"] for r in batch if r["kind"] == "step"][:-1]  # the newest always goes
            assert all(b - a >= STEP_SAMPLE_S for a, b in zip(sent, sent[1:]))
    assert [k for k, _ in messages].count("records") < 3 * (per_epoch - 1) / 4  # not one per batch
    payload = [p for k, p in messages if k == "results"][-1]
    assert isinstance(payload["confusion"], np.ndarray) and payload["confusion"].sum() == 359
    assert payload["images"]["images"].dtype == np.float32


def test_a_run_that_fails_sends_every_step_before_the_failure(tmp_path):
    # diverging_lr blows up at epoch 1, step 9, a few milliseconds in: the steps before it
    # would mostly fall out of the sample, but a failing run sends all that it has
    messages = collect(TrainingProcess(request("diverging_lr.json", tmp_path, threads=1)))
    kinds = [k for k, _ in messages]
    assert kinds[-2:] == ["failed", "finished"] and messages[-2][1]["error"] == "DivergedError"
    steps = [r for r in records_of(messages) if r["kind"] == "step"]
    assert len(steps) >= 3 and steps[-1]["step"] == 8
    assert all(np.isfinite(r["train_loss_running"]) for r in steps)
