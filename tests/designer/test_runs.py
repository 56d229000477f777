"""Run records: what is kept, resumes that redo epochs, and the cached epoch list."""

from __future__ import annotations

from designer.run_types import ErrorKind, RunFailure, RunStatus
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


def classification_epoch(n: int) -> dict:
    return {"kind": "epoch", "epoch": n, "train_loss": 0.01234, "val_loss": 0.0312,
            "train_accuracy": 1.0, "val_accuracy": 0.995}


def test_the_label_shows_the_last_epochs_train_and_val_loss_and_accuracy():
    run = make_run()
    assert run.label() == "Run 1 · running · Adam"  # no epoch yet: no metrics lines
    run.add_record({"kind": "epoch", "epoch": 1, "train_loss": 0.9, "val_loss": 0.8,
                    "train_accuracy": 0.5, "val_accuracy": 0.25})
    run.add_record(classification_epoch(2))
    assert run.label() == ("Run 1 · running · epoch 2/10 · Adam\n"
                           "train loss 0.0123 acc 100 %\n"
                           "val loss 0.0312 acc 99.5 %")
    run.status = RunStatus.STOPPED
    assert run.label().splitlines()[0] == "Run 1 · stopped · 2/10 epochs · Adam"
    run.settings["epochs"] = 2
    run.status = RunStatus.COMPLETED
    assert run.label().splitlines()[0] == "Run 1 · done · 2 epochs · Adam"
    details = run.details()  # the tooltip: more digits, one split a line
    assert "train loss 0.01234, accuracy 100.0 %" in details
    assert "val loss 0.0312, accuracy 99.5 %" in details


def test_the_label_leaves_out_what_the_task_or_the_data_does_not_have():
    run = make_run()
    run.add_record({"kind": "epoch", "epoch": 1, "train_loss": 0.25, "val_loss": None})  # regression, no val split
    assert run.label().splitlines()[1:] == ["train loss 0.25"]
    run.add_record({"kind": "epoch", "epoch": 2, "train_loss": 0.125, "val_loss": 0.5})
    assert run.label().splitlines()[1:] == ["train loss 0.125", "val loss 0.5"]
    run.add_record({"kind": "epoch", "epoch": 3, "train_loss": float("inf"), "val_loss": float("nan")})
    run.status = RunStatus.FAILED
    assert run.label().splitlines()[1:] == ["train loss inf", "val loss nan"]  # a diverged run says so
    run.add_record({"kind": "epoch", "epoch": 4, "train_loss": 0.5, "train_accuracy": 0.0,
                    "val_loss": 0.5, "val_accuracy": 0.1234})
    assert run.label().splitlines()[1:] == ["train loss 0.5 acc 0 %", "val loss 0.5 acc 12.3 %"]


def test_statuses_and_error_kinds_are_typed_once_and_still_compare_as_text():
    assert RunStatus.from_reason("early_stopped") is RunStatus.EARLY_STOPPED
    assert RunStatus.from_reason(None) is RunStatus.COMPLETED
    assert RunStatus.STOPPED == "stopped" and str(RunStatus.STOPPED) == "stopped"
    failure = RunFailure.from_info({"error": "DivergedError", "message": "the loss became nan", "epoch": 2})
    assert failure.kind is ErrorKind.DIVERGED and failure.diverged and failure.epoch == 2
    assert failure.kind.title == "Training diverged"
    # a data error about "information.csv" is not a divergence: the kind decides, not the text
    data = RunFailure.from_info({"error": "DataError", "message": "cannot open information.csv (nan)"})
    assert data.kind is ErrorKind.DATA and not data.diverged
    odd = RunFailure.from_info({"error": "ZeroDivisionError", "message": "boom", "bug": True})
    assert odd.kind is ErrorKind.OTHER and odd.bug and odd.kind.title == "Training failed"
