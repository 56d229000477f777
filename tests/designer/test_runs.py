"""Run records: what is kept, resumes that redo epochs, and the cached epoch list."""

from __future__ import annotations

from designer.runs import Run


def make_run() -> Run:
    return Run(run_id=1, name="Run 1", graph_text="{}", settings={"epochs": 10}, summary="Adam",
               node_titles={}, checkpoint_dir="/nonexistent")


def epoch(n: int, loss: float = 1.0) -> dict:
    return {"kind": "epoch", "epoch": n, "train_loss": loss}


def test_steps_are_dropped_and_epochs_kept_in_order():
    run = make_run()
    run.add_record({"kind": "start", "device": "CPU"})
    for n in range(1, 4):
        run.add_record({"kind": "step", "epoch": n, "step": 1})
        run.add_record(epoch(n))
    assert [r["kind"] for r in run.records] == ["start", "epoch", "epoch", "epoch"]
    assert [r["epoch"] for r in run.epochs] == [1, 2, 3] and run.last_epoch == 3
    assert run.device == "CPU"


def test_a_resume_that_redoes_epochs_replaces_them():
    run = make_run()
    for n in range(1, 6):
        run.add_record(epoch(n, loss=1.0))
    assert run.last_epoch == 5
    run.add_record({"kind": "start"})
    for n in range(4, 8):  # resumed from the checkpoint of epoch 3
        run.add_record(epoch(n, loss=0.5))
    assert [r["epoch"] for r in run.epochs] == list(range(1, 8))
    assert [r["train_loss"] for r in run.epochs] == [1.0] * 3 + [0.5] * 4


def test_the_epoch_list_follows_every_change_of_the_records():
    run = make_run()
    for n in range(1, 1001):
        run.add_record(epoch(n))
        assert run.last_epoch == n  # asked after every epoch, as the runs list does
    assert len(run.epochs) == 1000
    run.records = [epoch(1), {"kind": "end"}]
    assert [r["epoch"] for r in run.epochs] == [1]
    run.records.append(epoch(2))
    assert run.last_epoch == 2
