"""The trainer's pieces alone: early stopping's decisions, the checkpoint writer's throttling (on a
fake clock), the diagnostics of a tiny model, and the record vocabulary."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from runtime import checkpoint as ckpt
from runtime.build import build_model
from runtime.records import EndReason, RecordKind
from runtime.train import Diagnostics, EarlyStopping, Trainer
from tests.runtime.graphs import blobs, layers, make_graph, npz_data

torch.set_num_threads(1)


# ---------------------------------------------------------------- early stopping


def run_stopping(stopping: EarlyStopping, losses: list[float], model=None) -> list[tuple[bool, int | None, bool]]:
    """(improved, best_epoch, should_stop) after each epoch's monitored loss."""
    model = model if model is not None else torch.nn.Linear(1, 1)
    out = []
    for epoch, loss in enumerate(losses, start=1):
        improved = stopping.update(epoch, loss, model)
        out.append((improved, stopping.best_epoch, stopping.should_stop))
    return out


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    steps = run_stopping(EarlyStopping(patience=2, min_delta=0.0, restore_best=False), [1.0, 0.5, 0.6, 0.5, 0.7])
    assert steps == [(True, 1, False), (True, 2, False), (False, 2, False), (False, 2, True), (False, 2, True)]


def test_an_improvement_must_beat_the_best_by_more_than_min_delta():
    steps = run_stopping(EarlyStopping(patience=3, min_delta=0.1, restore_best=False), [1.0, 0.95, 0.85, 0.8])
    assert [s[0] for s in steps] == [True, False, True, False]  # 0.85 < 1.0 - 0.1; 0.8 is not < 0.75
    assert steps[-1][1] == 3


def test_patience_zero_never_stops_but_tracks_the_best_epoch():
    stopping = EarlyStopping(patience=0, min_delta=0.0, restore_best=True)
    steps = run_stopping(stopping, [3.0, 1.0] + [2.0] * 10)
    assert not any(s[2] for s in steps) and stopping.best_epoch == 2
    assert not stopping.keep_best and stopping.best_state is None  # restore_best needs patience


def test_a_nan_loss_never_improves():
    steps = run_stopping(EarlyStopping(patience=1, min_delta=0.0, restore_best=False), [float("nan")])
    assert steps == [(False, None, True)]


def test_restore_best_loads_a_copy_of_the_best_epochs_weights():
    model = torch.nn.Linear(2, 1)
    stopping = EarlyStopping(patience=1, min_delta=0.0, restore_best=True)
    with torch.no_grad():
        model.weight.fill_(1.0)
    stopping.update(1, 0.5, model)
    with torch.no_grad():
        model.weight.fill_(7.0)  # a later, worse epoch changes the weights in place
    stopping.update(2, 0.9, model)
    assert stopping.should_stop and stopping.restore(model)
    assert torch.equal(model.weight, torch.ones(1, 2))


def test_restore_without_kept_weights_does_nothing():
    model = torch.nn.Linear(2, 1)
    before = model.weight.detach().clone()
    stopping = EarlyStopping(patience=1, min_delta=0.0, restore_best=False)
    stopping.update(1, 0.5, model)
    assert not stopping.restore(model) and torch.equal(model.weight, before)


def test_early_stopping_state_round_trips_through_a_checkpoint():
    a = EarlyStopping(patience=3, min_delta=0.0, restore_best=True)
    run_stopping(a, [1.0, 0.5, 0.7])
    b = EarlyStopping(patience=3, min_delta=0.0, restore_best=True)
    b.load(a.state(), a.best_state, torch.device("cpu"))
    assert (b.best, b.best_epoch, b.bad_epochs) == (0.5, 2, 1)
    assert b.best_state is not None and all(torch.equal(b.best_state[k], v) for k, v in a.best_state.items())
    assert run_stopping(b, [0.6, 0.6])[-1] == (False, 2, True)  # counts on where a left off
    c = EarlyStopping(patience=3, min_delta=0.0, restore_best=False)
    c.load({}, a.best_state, torch.device("cpu"))  # an old checkpoint without counters
    assert (c.best, c.best_epoch, c.bad_epochs, c.best_state) == (float("inf"), None, 0, None)


# ---------------------------------------------------------------- checkpoint throttling


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def written(monkeypatch) -> list[tuple[str, int]]:
    """(file name, epoch) of every checkpoint write, in order; nothing reaches the disk."""
    out: list[tuple[str, int]] = []
    monkeypatch.setattr(ckpt, "save_checkpoint", lambda path, state: out.append((path.rsplit("/", 1)[-1], state["epoch"])))
    return out


def state_maker(epoch: int, copies: list[int]):
    """A Trainer-like make_state for ``epoch``; ``copies`` collects the epochs made with copy=True."""
    def make_state(copy: bool = False) -> dict:
        if copy:
            copies.append(epoch)
        return {"epoch": epoch, "model": {"w": torch.zeros(1)}, "best_model": None, "records": lambda: []}
    return make_state


def test_interval_zero_writes_every_epoch_without_copying(written):
    clock, copies = FakeClock(), []
    saver = ckpt.Checkpointer("ck", 0.0, clock=clock)
    for epoch in (1, 2, 3):
        saver.epoch_done(state_maker(epoch, copies), best=epoch == 2)
    saver.flush()
    assert written == [("last.pt", 1), ("best.pt", 2), ("last.pt", 2), ("last.pt", 3)]
    assert copies == [] and not saver.pending


def test_an_interval_keeps_the_newest_epoch_in_memory_until_a_write_is_due(written):
    clock, copies = FakeClock(), []
    saver = ckpt.Checkpointer("ck", 10.0, clock=clock)  # the first write is due at t = 10
    for t, epoch in ((1.0, 1), (2.0, 2), (3.0, 3)):
        clock.now = t
        saver.epoch_done(state_maker(epoch, copies), best=False)
    assert written == [] and copies == [1, 2, 3] and saver.pending
    clock.now = 10.0
    saver.epoch_done(state_maker(4, copies), best=False)  # due: written now, not copied
    assert written == [("last.pt", 4)] and copies == [1, 2, 3] and not saver.pending
    clock.now = 19.0
    saver.epoch_done(state_maker(5, copies), best=False)  # the next is due at t = 20
    assert written == [("last.pt", 4)]
    saver.flush()  # the run ends: the pending epoch goes out
    assert written == [("last.pt", 4), ("last.pt", 5)]
    saver.flush()
    assert len(written) == 2  # nothing pending, nothing written twice


def test_a_pending_best_epoch_goes_out_with_the_next_write(written):
    clock, copies = FakeClock(), []
    saver = ckpt.Checkpointer("ck", 10.0, clock=clock)
    clock.now = 1.0
    saver.epoch_done(state_maker(1, copies), best=True)
    clock.now = 2.0
    saver.epoch_done(state_maker(2, copies), best=False)
    clock.now = 10.0
    saver.epoch_done(state_maker(3, copies), best=False)
    assert written == [("best.pt", 1), ("last.pt", 3)]  # best.pt never older than last.pt says


def test_flush_writes_the_pending_best_before_the_last(written):
    clock, copies = FakeClock(), []
    saver = ckpt.Checkpointer("ck", 10.0, clock=clock)
    for t, epoch, best in ((1.0, 1, True), (2.0, 2, True), (3.0, 3, False)):
        clock.now = t
        saver.epoch_done(state_maker(epoch, copies), best=best)
    saver.flush()
    assert written == [("best.pt", 2), ("last.pt", 3)]


def test_for_file_moves_weights_to_the_cpu_and_takes_the_records():
    records = [{"kind": "epoch", "epoch": 1}]
    state = {"epoch": 1, "model": {"w": torch.ones(2)}, "best_model": {"w": torch.zeros(2, requires_grad=True)},
             "records": lambda: list(records)}
    out = ckpt.for_file(state)
    assert out["records"] == records and not out["best_model"]["w"].requires_grad
    assert callable(state["records"])  # the state itself is left as it was


def test_copied_clones_every_tensor_in_nested_containers():
    t = torch.ones(2)
    obj = {"a": [t, (t, 3)], "b": "x"}
    out = ckpt.copied(obj)
    t.add_(1)
    assert torch.equal(out["a"][0], torch.ones(2)) and torch.equal(out["a"][1][0], torch.ones(2))
    assert out["a"][1][1] == 3 and out["b"] == "x" and isinstance(out["a"][1], tuple)


# ---------------------------------------------------------------- diagnostics


def tiny_model(tmp_path):
    """Linear(4→3) → ReLU → Linear(3→2) → Tanh → Linear(2→3), weights set by hand: the ReLU's
    first unit is always 0 (dead), the Tanh's first output always ≈ 1 (saturated)."""
    x, y = blobs(12, features=4, classes=3)
    g = make_graph(npz_data(tmp_path, x, y),
                   layers(("Linear", {"out_features": 3}), "ReLU", ("Linear", {"out_features": 2}), "Tanh",
                          ("Linear", {"out_features": 3})))
    model = build_model(g, str(tmp_path))
    linears = [n.node_id for n in model.nodes if n.type_id == "Linear"]
    with torch.no_grad():
        first, second = (model.node_module(nid) for nid in linears[:2])
        first.weight.zero_()
        first.bias.copy_(torch.tensor([-1.0, 1.0, 2.0]))
        second.weight.zero_()
        second.bias.copy_(torch.tensor([10.0, 0.0]))
    return model, torch.from_numpy(x), torch.from_numpy(y), linears


def test_diagnostics_know_which_nodes_they_measure(tmp_path):
    model, _, _, linears = tiny_model(tmp_path)
    diag = Diagnostics(model)
    by_type = {n.type_id: n.node_id for n in model.nodes}
    assert [nid for nid, _ in diag.weights] == linears
    assert diag.dead == [by_type["ReLU"]] and diag.saturated == [(by_type["Tanh"], (-0.99, 0.99))]
    assert diag.watch == [by_type["ReLU"], by_type["Tanh"]]


def test_diagnostics_of_a_batch(tmp_path):
    model, x, y, linears = tiny_model(tmp_path)
    diag = Diagnostics(model)
    device = torch.device("cpu")
    assert [float(t) for t in diag.grad_norms(device)] == [0.0, 0.0, 0.0]  # no gradient yet
    with model.capturing(diag.watch) as acts:
        pred = model(x)
    torch.nn.functional.cross_entropy(pred, y).backward()
    grads = diag.grad_norms(device)
    values = torch.stack([t.float() for t in diag.tensors(grads, acts, device)]).tolist()
    out = diag.read(iter(values))
    assert list(out) == ["grad_norm", "weight_norm", "dead_fraction", "saturated_fraction"]
    weights = [model.node_module(nid).weight for nid in linears]
    assert out["grad_norm"] == pytest.approx({nid: float(w.grad.norm()) for nid, w in zip(linears, weights)})
    assert out["weight_norm"] == pytest.approx({nid: float(w.detach().norm()) for nid, w in zip(linears, weights)})
    assert out["weight_norm"][linears[0]] == 0.0
    (relu,), ((tanh, _),) = diag.dead, diag.saturated
    assert out["dead_fraction"] == {relu: pytest.approx(1 / 3)}  # unit 0 of 3 is 0 for every sample
    assert out["saturated_fraction"] == {tanh: pytest.approx(0.5)}  # tanh(10) of tanh(10), tanh(0)


# ---------------------------------------------------------------- the record vocabulary


def test_record_kinds_are_the_strings_the_records_carry(tmp_path):
    x, y = blobs(40, features=4, classes=2)
    g = make_graph(npz_data(tmp_path, x, y, val_split=0.25, batch_size=8), layers(("Linear", {"out_features": 2})),
                   settings={"epochs": 2})
    seen = []
    result = Trainer(g, str(tmp_path), device="cpu", on_record=seen.append, progress_interval=0).run()
    kinds = {r["kind"] for r in seen}
    assert kinds == {"start", "step", "epoch", "end"} <= {k.value for k in RecordKind}
    assert all(type(r["kind"]) is str for r in seen)  # plain strings: pickle, JSON, weights_only
    assert type(result.reason) is str and result.reason == EndReason.COMPLETED
    assert seen[-1]["reason"] == "completed" and type(seen[-1]["reason"]) is str
    assert pickle.loads(pickle.dumps(seen)) == seen and json.loads(json.dumps(seen[-1])) == seen[-1]


def test_a_kind_compares_equal_to_its_string():
    assert RecordKind.EPOCH == "epoch" and "step" == RecordKind.STEP and str(RecordKind.END) == "end"
    assert f"{EndReason.EARLY_STOPPED}" == "early_stopped" and RecordKind.PAUSED in {"paused"}
