"""The trainer: runs a graph's training loop, fast, reproducibly and observably (no Qt).

``Trainer(graph, ...).run()`` blocks and returns a :class:`RunResult`; ``on_record`` receives
plain-data records (floats, ints, str, small dicts; never tensors) as the run goes. The designer
calls ``run`` from a worker thread and ``request_stop/pause/resume`` from the GUI thread.

Canonical run algorithm
=======================

The exported script (``runtime.export``) implements exactly these steps, so a run in the app and
a run of the script give the same numbers (same torch version and device):

1. ``torch.manual_seed(seed)``, then build the model (``runtime.build``): modules created in
   graph topological order, each parametric module's init applied right after it is created,
   all with the global torch RNG. Then ``model.to(device)``.
2. Data (``runtime.data.load_dataset``): numpy arrays become tensors moved to the device once;
   loss targets are adapted once per split (``modules.family_target``), never per batch.
3. ``opt = torch.optim.<X>(model.parameters(), **kwargs)``; an LR schedule (StepLR,
   ExponentialLR), if wired, is stepped once after each epoch. Loss = ``torch.nn.<Loss>(**kwargs)``.
4. Shuffling: ``gen = torch.Generator().manual_seed(seed)`` on the CPU. Each epoch
   ``perm = torch.randperm(n_train, generator=gen).to(device)`` (no permutation when the
   Dataset's shuffle is off: batches are then the plain slices, which index the same rows).
   ``bs = batch_size`` (0 → n_train); batch k is rows ``perm[k*bs:(k+1)*bs]`` of the device tensors.
5. Per batch: ``model.train()`` (once per epoch); ``pred = model(xb)``;
   ``loss = loss_fn(pred, yb)``; ``total = loss + penalty`` when any layer has l1/l2
   (``modules.regularization_penalty`` over ``modules.layer_weights`` of those layers, in
   topological order; biases excluded); ``opt.zero_grad(set_to_none=True)``;
   ``total.backward()``; ``clip_grad_norm_(model.parameters(), c)`` when c > 0;
   ``opt.step()``; ``modules.apply_max_norm`` when any layer sets max_norm.
   Dropout and DropConnect draw from the global torch RNG; diagnostics draw nothing and change
   no numbers (they only read activations, gradients and weights).
6. Epoch metrics. ``losses[k]`` = batch k's data loss as float32 (on an accelerator
   ``loss_buf[k] = loss.detach()`` on the device; on the CPU the ``loss.item()`` of the NaN
   check, made a float32 tensor at the end of the epoch: the same values);
   ``train_loss = (losses * sizes).sum() / n_train`` where ``sizes[k]`` is batch k's row count
   (float32): the size-weighted mean of the per-batch data loss, without the penalty. For
   classification the batch predictions are kept (``preds.append(pred.detach())``) and
   ``train_accuracy = float(modules.family_correct(family, torch.cat(preds), y_train[perm], threshold)) /
   n_train``: from the same forward passes (the count is exact, so it equals the sum of
   per-batch counts; it crosses to the host as float32, exact below 2**24, and is divided
   there in Python floats). Validation: ``model.eval()`` and ``torch.no_grad()``
   over the validation split in chunks of ``VAL_CHUNK`` rows: ``val_loss = (Σ loss_fn(pred_c,
   y_c) * len_c) / n_val`` (summed in chunk order on the device, float32);
   ``val_accuracy = float(Σ family_correct) / n_val``. ``lr`` is ``opt.param_groups[0]["lr"]``
   during the epoch. All epoch numbers cross to the host in one ``torch.stack(...).tolist()``.
7. Early stopping (settings.patience > 0) monitors val_loss (train_loss without a validation
   split): an epoch improves when ``monitor < best - min_delta``; after ``patience`` epochs
   without improvement the run ends, and ``restore_best`` loads the best epoch's weights.
   ``checkpoint_best`` writes ``best.pt`` when the monitor improves (with a checkpoint folder).
   The best epoch is tracked in every run (for ``RunResult.best_epoch``).

Structure
=========

``Trainer._setup`` makes a ``_Run`` (steps 1-3, and the resume from a checkpoint), ``_Epoch``
runs one epoch (steps 4-6: batches, step records, pause/stop checks, evaluation, one host sync)
and gives its record, :class:`Diagnostics` measures the last batch, :class:`EarlyStopping` holds
step 7's state and decisions, and ``checkpoint.Checkpointer`` decides when a finished epoch is
written. ``Trainer._epochs`` is the loop that joins them.

Records
=======

Plain dicts; their kinds and end reasons are :mod:`runtime.records`' enums (stored as the
enums' plain string values).

* ``{"kind": "start", device, n_train, n_val, n_test, batch_size, steps_per_epoch, epochs,
  first_epoch, seed, task, classes, loss, optimizer, nodes, node_types, parametric, relu_like,
  saturating, total_params, history}`` — ``history``: epoch records restored from a checkpoint.
* ``{"kind": "step", epoch, step, steps, samples_seen, train_loss_running, lr, seconds}`` at most
  every ``progress_interval`` seconds within an epoch (0 = after every step, None = no step
  records). ``train_loss_running``: the size-weighted mean batch loss of the epoch so far; on
  the CPU summed in Python floats as the steps go (O(1) a record), on an accelerator from the
  device buffer (the only host sync a step record costs there).
* ``{"kind": "epoch", epoch, train_loss, val_loss, [train_accuracy, val_accuracy], lr,
  epoch_seconds, samples_per_second, grad_norm, weight_norm, dead_fraction,
  saturated_fraction, improved, best_epoch}``. ``val_*`` are None without a validation split;
  the accuracies are present for classification only. The four diagnostics are dicts keyed by
  node id in model (topological) order, measured on the epoch's last batch: grad_norm (before
  clipping) and weight_norm (after the step) over each parametric node's ``weight*`` tensors;
  dead_fraction for ReLU/LeakyReLU/ELU/GELU nodes (share of units whose output is exactly 0,
  hence zero gradient, for every sample of the batch: LeakyReLU/ELU outputs are 0 only at input
  0, so those units stay alive); saturated_fraction for Sigmoid (< 0.01 or > 0.99)
  and Tanh (|y| > 0.99) nodes (share of all outputs of the batch).
* ``{"kind": "paused"}`` / ``{"kind": "resumed"}`` around a pause.
* ``{"kind": "end", reason: "completed"|"early_stopped"|"stopped", epochs_completed,
  best_epoch, restored_best, seconds}``. Errors end a run with an exception instead
  (DivergedError, DataError, NodeError, DeviceError, BuildError, CheckpointError).

Invariants: same graph + seed + device (CPU) → identical records apart from the timing keys
(``seconds``, ``epoch_seconds``, ``samples_per_second``) and the time-throttled step records.
The hot loop does no host sync per step on accelerators; on the CPU, where ``.item()`` is not a
sync, the loss is checked for NaN/Inf after every step (an accelerator checks it whenever it
emits a record and at the end of each epoch, and names the first bad step from ``loss_buf``).
On the CPU a diverging run therefore stops within the step whose loss is not finite.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from graph.document import Graph
from graph.fileformat import dumps

from . import checkpoint as ckpt
from . import modules
from .build import GraphModule, TrainingPlan, build_model, check_graph, training_plan
from .device import device_name, resolve_device, synchronize
from .errors import BuildError, CheckpointError, DataError, DeviceError, DivergedError, NodeError
from .records import EndReason, RecordKind

VAL_CHUNK = 1024
TIMING_KEYS = frozenset({"seconds", "epoch_seconds", "samples_per_second"})

Record = dict[str, Any]


@dataclass
class RunResult:
    """What a finished run leaves: its records, best epoch, the trained model and a predictor."""

    records: list[Record]  # every record but step records (those go to on_record only)
    history: list[Record]  # every epoch record, including those restored from a checkpoint
    reason: str  # "completed", "early_stopped" or "stopped"
    best_epoch: int | None
    model: GraphModule
    device: torch.device
    plan: TrainingPlan
    data: Any  # runtime.data.DataBundle
    final: Record | None = None  # the last epoch record
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def predict(self, x: np.ndarray, chunk: int = VAL_CHUNK) -> np.ndarray:
        """The model's raw output (the loss's prediction input) for ``x``, in eval mode."""
        dtype = torch.int64 if self.plan.features.dtype == "int64" else torch.float32
        xs = torch.as_tensor(np.asarray(x), dtype=dtype)
        outs = []
        with self._lock, torch.no_grad():
            self.model.eval()
            for i in range(0, len(xs), chunk):
                outs.append(self.model(xs[i:i + chunk].to(self.device)).float().cpu())
        if not outs:
            return np.zeros((0, *self.model.nodes[-1].output.shape) if self.model.nodes else (0,), np.float32)
        return torch.cat(outs).numpy()

    def predict_classes(self, x: np.ndarray) -> np.ndarray | None:
        """Predicted class indices for ``x`` (classification only; None otherwise)."""
        if not self.plan.classification:
            return None
        out = torch.from_numpy(self.predict(x))
        if self.plan.loss_family == "binary":
            return (out[:, 0] > self.plan.binary_threshold).long().numpy()
        return out.argmax(1).numpy()

    def val_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """(raw predictions, true targets) on the validation split."""
        return self.predict(self.data.x_val), np.asarray(self.data.y_val)


class _Stopped(Exception):
    pass


# ---------------------------------------------------------------- the pieces of a run


@dataclass
class EarlyStopping:
    """Step 7 of the algorithm: the best monitored loss so far and the epochs since it improved.

    ``update`` is called once per epoch with the monitored loss; the best epoch is tracked in
    every run (``patience`` 0 never stops). With ``restore_best`` (and patience > 0) the best
    epoch's weights are kept as a copy, replaced (never changed in place) when the monitor
    improves, so a checkpoint may hold the dict without copying it.
    """

    patience: int
    min_delta: float
    restore_best: bool
    best: float = math.inf
    best_epoch: int | None = None
    bad_epochs: int = 0
    best_state: dict[str, torch.Tensor] | None = None

    @property
    def keep_best(self) -> bool:
        return self.patience > 0 and self.restore_best

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def update(self, epoch: int, monitor: float, model: torch.nn.Module) -> bool:
        """Count epoch ``epoch``, whose monitored loss is ``monitor``; whether it improved."""
        improved = monitor < self.best - self.min_delta
        if improved:
            self.best, self.best_epoch, self.bad_epochs = monitor, epoch, 0
            if self.keep_best:
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        return improved

    def restore(self, model: torch.nn.Module) -> bool:
        """Load the best epoch's weights into ``model`` where they were kept; whether it did."""
        if self.keep_best and self.best_state is not None:
            model.load_state_dict(self.best_state)
            return True
        return False

    def state(self) -> dict[str, Any]:
        """The counters as a checkpoint stores them (``"early_stopping"``)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load(self, counters: dict[str, Any], best_model: dict | None, device: torch.device) -> None:
        """Continue from a checkpoint's counters and best weights (those only when kept)."""
        self.best = float(counters.get("best", math.inf))
        self.best_epoch = counters.get("best_epoch")
        self.bad_epochs = int(counters.get("bad_epochs", 0))
        if self.keep_best and best_model is not None:
            self.best_state = {k: v.to(device) for k, v in best_model.items()}


class Diagnostics:
    """The epoch record's four diagnostics, measured on the epoch's last batch.

    Which nodes are measured is fixed by the model: ``weights`` (parametric nodes and their
    ``weight*`` tensors), ``dead`` (ReLU-like nodes) and ``saturated`` (Sigmoid/Tanh nodes, with
    their type), all in model order; ``watch``: the nodes whose outputs the last batch captures.
    Everything stays on the device: :meth:`tensors` gives 0-dim tensors for the epoch's one host
    sync, and :meth:`read` takes their values back, in the same order, as the record's dicts.
    """

    def __init__(self, model: GraphModule) -> None:
        weights = [(n.node_id, modules.layer_weights(model.node_module(n.node_id)))
                   for n in model.nodes if n.has_params]
        self.weights = [(nid, ws) for nid, ws in weights if ws]
        self.dead = [n.node_id for n in model.nodes if n.relu_like]
        self.saturated = [(n.node_id, n.saturated_outside) for n in model.nodes if n.saturating]
        self.watch = self.dead + [nid for nid, _ in self.saturated]

    def grad_norms(self, device: torch.device) -> list[torch.Tensor]:
        """Each parametric node's gradient norm, now (after backward, before clipping)."""
        return [_norm([w.grad for w in ws], device) for _, ws in self.weights]

    def tensors(self, grad_norms: list[torch.Tensor], acts: dict[str, torch.Tensor],
                device: torch.device) -> list[torch.Tensor]:
        """The diagnostics as 0-dim tensors: ``grad_norms``, then the weight norms (now, after
        the step), the dead and the saturated shares of the captured outputs ``acts``."""
        out = list(grad_norms)
        out += [_norm(ws, device) for _, ws in self.weights]
        for nid in self.dead:  # dead = exactly 0 for the whole batch: no gradient
            out.append((acts[nid] == 0).flatten(1).all(0).float().mean())
        for nid, (low, high) in self.saturated:
            a = acts[nid]
            out.append(((a < low) | (a > high)).float().mean())
        return out

    def read(self, values: Iterator[float]) -> dict[str, dict[str, float]]:
        """The values of :meth:`tensors`, taken from ``values`` in order, keyed by node id."""
        return {
            "grad_norm": {nid: next(values) for nid, _ in self.weights},
            "weight_norm": {nid: next(values) for nid, _ in self.weights},
            "dead_fraction": {nid: next(values) for nid in self.dead},
            "saturated_fraction": {nid: next(values) for nid, _ in self.saturated},
        }


@dataclass
class _Optimisation:
    """Step 3 of the algorithm: the loss, the optimizer and what acts on each step."""

    loss_fn: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    clip: float
    reg_terms: list[tuple[torch.Tensor, float, float]]  # (weight, l1, l2) of the penalty
    constraints: list[tuple[torch.Tensor, float]]  # (weight, max_norm) applied after each step

    @classmethod
    def of(cls, plan: TrainingPlan, model: GraphModule, params: list[torch.nn.Parameter],
           device: torch.device) -> _Optimisation:
        loss_fn = plan.make_loss().to(device)
        opt = plan.make_optimizer(params)
        out = cls(loss_fn, opt, plan.make_scheduler(opt), plan.clip_grad_norm, [], [])
        in_model = set(model.node_ids)
        for nid, l1, l2, max_norm in plan.regularization:
            if nid not in in_model:
                continue
            for w in modules.layer_weights(model.node_module(nid)):
                if l1 or l2:
                    out.reg_terms.append((w, l1, l2))
                if max_norm:
                    out.constraints.append((w, max_norm))
        return out


@dataclass
class _Run:
    """What setup makes (steps 1-3 and the resume): everything a run's epochs use."""

    plan: TrainingPlan
    bundle: Any  # runtime.data.DataBundle
    device: torch.device
    seed: int
    epochs: int
    bs: int
    model: GraphModule
    params: list[torch.nn.Parameter]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    optim: _Optimisation
    gen: torch.Generator  # the shuffle generator (step 4)
    diagnostics: Diagnostics
    stopping: EarlyStopping
    graph_text: str
    history: list[Record] = field(default_factory=list)  # epoch records, restored ones first
    start_epoch: int = 0  # epochs completed before this run (a resumed checkpoint's)

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def n_val(self) -> int:
        return len(self.x_val)

    @property
    def steps(self) -> int:
        return math.ceil(self.n_train / self.bs)


@dataclass
class _Trained:
    """An epoch's training phase, as its measurement needs it."""

    t0: float  # when the phase started (perf_counter)
    seconds: float  # its duration without pauses
    losses: torch.Tensor  # the batch losses, float32 on the device
    perm: torch.Tensor | None  # the epoch's row order (None: not shuffled)
    preds: list[torch.Tensor] | None  # the batch predictions (classification only)
    acts: dict[str, torch.Tensor]  # the last batch's captured outputs (Diagnostics.watch)
    grad_norms: list[torch.Tensor]  # the last batch's gradient norms


class Trainer:
    """Trains one graph; see the module docstring for the algorithm and the records."""

    def __init__(
        self,
        graph: Graph,
        base_dir: str | None = None,
        *,
        epochs: int | None = None,
        seed: int | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        on_record: Callable[[Record], None] | None = None,
        checkpoint_dir: str | None = None,
        resume_from: str | None = None,
        progress_interval: float | None = 0.25,
        data: Any = None,
        checkpoint_interval: float = 0.0,
    ) -> None:
        self.graph = graph.copy()  # a snapshot: editing the document during a run is safe
        self.base_dir = base_dir
        self.epochs = epochs
        self.seed = seed
        self.device = device
        self.batch_size = batch_size
        self.on_record = on_record
        self.checkpoint_dir = checkpoint_dir
        self.resume_from = resume_from
        self.progress_interval = progress_interval
        self.data = data  # a DataBundle to train on instead of loading the Dataset node's data
        # Seconds between checkpoint writes: 0 writes after every epoch; more keeps the newest
        # epoch's state in memory and writes it at most that often, and when the run ends.
        self.checkpoint_interval = checkpoint_interval
        # The model being trained, once built. Observers (on_record) may read its weights, e.g.
        # copy them between steps; they must never change them.
        self.model: GraphModule | None = None
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._interrupt = False  # one attribute read per batch in the hot loop
        self._paused_seconds = 0.0

    # ------------------------------------------------------------ control (any thread)

    def request_stop(self) -> None:
        with self._lock:
            self._stop.set()
            self._interrupt = True
            self._go.set()

    def request_pause(self) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._go.clear()
                self._interrupt = True

    def request_resume(self) -> None:
        with self._lock:
            self._go.set()
            self._interrupt = self._stop.is_set()

    def _honour_requests(self) -> None:
        """Called at a batch boundary when a request is pending; raises _Stopped to stop."""
        if not self._go.is_set() and not self._stop.is_set():
            self._emit({"kind": RecordKind.PAUSED.value})
            t0 = time.perf_counter()
            self._go.wait()
            self._paused_seconds += time.perf_counter() - t0
            if not self._stop.is_set():
                self._emit({"kind": RecordKind.RESUMED.value})
        if self._stop.is_set():
            raise _Stopped
        with self._lock:
            self._interrupt = self._stop.is_set() or not self._go.is_set()

    def _emit(self, record: Record) -> None:
        if record["kind"] != RecordKind.STEP:  # progress only: a run of hours would keep millions
            self.records.append(record)
        if self.on_record is not None:
            self.on_record(record)

    # ------------------------------------------------------------ the run

    def run(self) -> RunResult:
        """Train; blocks until the run completes, stops early or is stopped."""
        self.records = []
        try:
            return self._run()
        except torch.cuda.OutOfMemoryError:
            batch = self._batch_size_used
            raise DeviceError(f"The GPU ran out of memory (batch size {batch}): try a smaller batch "
                              "size or a smaller model.") from None

    _batch_size_used: int | None = None
    # NaN/Inf check after every step (None: on the CPU only, where .item() costs no sync). Tests
    # set False to exercise the deferred check that accelerators use.
    check_every_step: bool | None = None

    def _run(self) -> RunResult:
        run = self._setup()
        self._emit(_start_record(run))
        epoch = _Epoch(self, run)
        saver = ckpt.Checkpointer(self.checkpoint_dir, self.checkpoint_interval) if self.checkpoint_dir else None
        restored = False
        try:
            reason, restored = self._epochs(run, epoch, saver)
        except _Stopped:
            reason = EndReason.STOPPED
        except BaseException:
            if saver is not None:  # the last finished epoch stays resumable; the run's error wins
                try:
                    saver.flush()
                except CheckpointError:
                    pass
            raise
        if saver is not None:
            saver.flush()
        history = run.history
        self._emit({"kind": RecordKind.END.value, "reason": reason.value,
                    "epochs_completed": history[-1]["epoch"] if history else 0,
                    "best_epoch": run.stopping.best_epoch, "restored_best": restored,
                    "seconds": time.perf_counter() - epoch.run_start})
        run.model.eval()
        return RunResult(list(self.records), history, reason.value, run.stopping.best_epoch, run.model,
                         run.device, run.plan, run.bundle, history[-1] if history else None)

    def _epochs(self, run: _Run, epoch_runner: _Epoch, saver: ckpt.Checkpointer | None
                ) -> tuple[EndReason, bool]:
        """The epoch loop: (why it ended, whether the best weights were restored)."""
        stopping = run.stopping
        best_to_file = bool(self.graph.settings["checkpoint_best"])
        for epoch in range(run.start_epoch + 1, run.epochs + 1):
            rec = epoch_runner.run(epoch)
            monitor = rec["val_loss"] if run.n_val else rec["train_loss"]
            improved = stopping.update(epoch, monitor, run.model)
            rec["improved"] = improved
            rec["best_epoch"] = stopping.best_epoch
            run.history.append(rec)
            self._emit(rec)
            if run.optim.sched is not None:
                run.optim.sched.step()
            if saver is not None:
                saver.epoch_done(functools.partial(_checkpoint_state, run, epoch), best=improved and best_to_file)
            if stopping.should_stop:
                return EndReason.EARLY_STOPPED, stopping.restore(run.model)
            if self._interrupt:
                self._honour_requests()
        return EndReason.COMPLETED, False

    # ------------------------------------------------------------ setup

    def _setup(self) -> _Run:
        """Steps 1-3 of the algorithm and the resume, in the order that fixes the RNG's use."""
        graph = self.graph
        settings = graph.settings
        analysis = check_graph(graph, self.base_dir)
        plan = training_plan(graph, self.base_dir, analysis)
        state = ckpt.load_checkpoint(self.resume_from) if self.resume_from else None
        config = state["config"] if state else {}
        seed = _first(self.seed, config.get("seed"), settings["seed"])
        epochs = _first(self.epochs, settings["epochs"])
        device = resolve_device(_first(self.device, settings["device"]))
        bundle = self._dataset(plan)
        bs = self._batch_size(config, plan, len(bundle.x_train))

        # 1. model
        torch.manual_seed(seed)
        model = build_model(graph, self.base_dir, (bundle.features, bundle.target), analysis=analysis)
        model.to(device)
        self.model = model
        params = list(model.parameters())
        if not params:
            raise BuildError("the model has no trainable parameters: add a layer (e.g. Linear) before the loss")

        # 2. data on the device, targets adapted once
        classes = plan.target.classes or 0
        x_train = _tensor(bundle.x_train, device)
        x_val = _tensor(bundle.x_val, device)
        y_train = modules.family_target(plan.loss_family, _tensor(bundle.y_train, device), classes)
        y_val = modules.family_target(plan.loss_family, _tensor(bundle.y_val, device), classes)

        # 3. loss, optimizer, schedule, regularisation; the shuffle generator
        optim = _Optimisation.of(plan, model, params, device)
        gen = torch.Generator().manual_seed(seed)
        stopping = EarlyStopping(settings["patience"], settings["min_delta"], settings["restore_best"])
        run = _Run(plan, bundle, device, seed, epochs, bs, model, params, x_train, y_train, x_val, y_val,
                   optim, gen, Diagnostics(model), stopping, dumps(graph))
        if state is not None:
            _resume(run, state)
        return run

    def _dataset(self, plan: TrainingPlan) -> Any:
        """The data bundle: the one given, or the Dataset node's; the training split not empty."""
        bundle = self.data
        if bundle is None:
            from .data import load_dataset  # numpy and the data sets load only when training

            bundle = load_dataset(plan.data_params, self.base_dir, self.graph.nodes[plan.data_node])  # errors name the node
        if len(bundle.x_train) == 0:
            raise DataError("the training split is empty: lower val_split/test_split or add samples")
        return bundle

    def _batch_size(self, config: dict[str, Any], plan: TrainingPlan, n_train: int) -> int:
        """The run's batch size: asked for, a resumed run's, or the Dataset node's (0 → all)."""
        bs = _first(self.batch_size, config.get("batch_size"), plan.data_params.get("batch_size", 32))
        if bs < 0:
            raise DataError(f"batch size must be 0 (the whole training split) or positive; got {bs}")
        bs = n_train if bs == 0 else min(bs, n_train)
        self._batch_size_used = bs
        return bs


def _resume(run: _Run, state: dict[str, Any]) -> None:
    """Continue ``run`` from a checkpoint ``state``: weights, optimizer, schedule, both RNGs,
    early stopping and the history."""
    _restore(state, run.model, run.optim.opt, run.optim.sched, run.gen, run.device)
    run.start_epoch = int(state["epoch"])
    run.stopping.load(state.get("early_stopping") or {}, state.get("best_model"), run.device)
    run.history = [dict(r) for r in state["records"]]


def _start_record(run: _Run) -> Record:
    model, plan, diag = run.model, run.plan, run.diagnostics
    return {
        "kind": RecordKind.START.value, "device": device_name(run.device), "n_train": run.n_train,
        "n_val": run.n_val, "n_test": len(run.bundle.x_test), "batch_size": run.bs,
        "steps_per_epoch": run.steps, "epochs": run.epochs, "first_epoch": run.start_epoch + 1,
        "seed": run.seed, "task": plan.task, "classes": plan.target.classes, "loss": plan.loss_type,
        "optimizer": plan.optimizer_type, "nodes": model.node_ids,
        "node_types": {n.node_id: n.type_id for n in model.nodes},
        "parametric": [nid for nid, _ in diag.weights], "relu_like": list(diag.dead),
        "saturating": [nid for nid, _ in diag.saturated],
        "total_params": sum(p.numel() for p in run.params), "history": [dict(r) for r in run.history],
    }


class _Epoch:
    """One epoch (steps 4-6): its batches with their step records and pause/stop checks, then
    the evaluation and the diagnostics, all read back in one host sync, as the epoch record
    (without ``improved`` and ``best_epoch``, which early stopping adds).

    Made once per run: it holds the run's per-step constants and the epoch's loss buffers.
    """

    def __init__(self, trainer: Trainer, run: _Run) -> None:
        self.trainer = trainer
        self.run_ = run
        device, bs, steps, n_train = run.device, run.bs, run.steps, run.n_train
        self.shuffle = bool(run.plan.data_params.get("shuffle", True))
        self.last_step = steps - 1
        self.sizes = torch.tensor([min(bs, n_train - k * bs) for k in range(steps)], dtype=torch.float32,
                                  device=device)
        check_each_step = device.type == "cpu" if trainer.check_every_step is None else trainer.check_every_step
        # NOTE: [batch losses] Where each step fetches its loss (.item() for the NaN check), the
        # batch losses are kept as those Python floats: float32 values exactly, so the float32
        # tensor made from them at the end of the epoch equals the device buffer that the
        # accelerator path fills (loss_buf[k] = loss.detach()), and so do the sums. The list
        # saves a select and a copy per step.
        self.loss_vals: list[float] = [0.0] * steps
        self.loss_buf = None if check_each_step else torch.zeros(steps, dtype=torch.float32, device=device)
        # The running loss of step records, where the losses are Python floats: summed as they
        # come (a step record after every batch must not re-sum the epoch so far each time).
        self.size_vals = [float(min(bs, n_train - k * bs)) for k in range(steps)]
        self.seen_loss = 0.0  # this epoch's size-weighted batch losses so far (CPU path)
        self.emit_steps = trainer.progress_interval is not None
        self.interval = max(float(trainer.progress_interval or 0.0), 0.0)
        self.next_emit = 0.0
        self.loss_label = f"Node '{run.plan.loss_node}' ({trainer.graph.nodes[run.plan.loss_node].type})"
        self.acts: dict[str, torch.Tensor] = {}
        self.grad_norms: list[torch.Tensor] = []
        self.run_start = time.perf_counter()

    def run(self, epoch: int) -> Record:
        """Train epoch ``epoch`` and measure it: its record."""
        lr = float(self.run_.optim.opt.param_groups[0]["lr"])
        trained = self._train(epoch, lr)
        return self._record(epoch, lr, trained)

    # ------------------------------------------------------------ the training phase

    def _train(self, epoch: int, lr: float) -> _Trained:
        run, trainer = self.run_, self.trainer
        run.model.train()
        perm = torch.randperm(run.n_train, generator=run.gen).to(run.device) if self.shuffle else None
        trainer._paused_seconds = 0.0
        t0 = time.perf_counter()
        self.next_emit = t0 + self.interval
        self.acts, self.grad_norms = {}, []
        # the epoch's batch predictions (detached: no copy, no graph kept), for accuracy
        preds: list[torch.Tensor] | None = [] if run.plan.classification else None
        self.seen_loss = 0.0
        x_train, y_train, bs, last_step = run.x_train, run.y_train, run.bs, self.last_step
        for k in range(run.steps):
            if trainer._interrupt:
                trainer._honour_requests()
            lo = k * bs
            if perm is None:
                xb, yb = x_train[lo:lo + bs], y_train[lo:lo + bs]
            else:
                idx = perm[lo:lo + bs]
                xb, yb = x_train[idx], y_train[idx]
            pred, loss = self._step(k, xb, yb)
            self._keep_loss(epoch, k, loss, lr)
            if preds is not None:
                preds.append(pred.detach())
            if self.emit_steps and k != last_step:
                now = time.perf_counter()
                if now >= self.next_emit:
                    self.next_emit = now + self.interval
                    self._step_record(epoch, k, lr)
        # the epoch's training phase ends here
        synchronize(run.device)
        seconds = time.perf_counter() - t0 - trainer._paused_seconds
        return _Trained(t0, seconds, self._batch_losses(run.steps), perm, preds, self.acts, self.grad_norms)

    def _step(self, k: int, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Step 5 on batch ``k``: (prediction, data loss). The last batch also captures the
        watched outputs and the gradient norms for the diagnostics."""
        run, optim = self.run_, self.run_.optim
        model, last = run.model, k == self.last_step
        if last and run.diagnostics.watch:
            with model.capturing(run.diagnostics.watch) as self.acts:
                pred = model(xb)
        else:
            pred = model(xb)
        try:
            loss = optim.loss_fn(pred, yb)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise NodeError(run.plan.loss_node, f"{self.loss_label}: {' '.join(str(exc).split())[:400]}") from exc
        if optim.reg_terms:
            total = loss + modules.regularization_penalty(optim.reg_terms)
        else:
            total = loss
        optim.opt.zero_grad(set_to_none=True)
        total.backward()
        if last:
            self.grad_norms = run.diagnostics.grad_norms(run.device)
        if optim.clip > 0.0:
            torch.nn.utils.clip_grad_norm_(run.params, optim.clip)
        optim.opt.step()
        if optim.constraints:
            modules.apply_max_norm(optim.constraints)
        return pred, loss

    def _keep_loss(self, epoch: int, k: int, loss: torch.Tensor, lr: float) -> None:
        """Keep batch ``k``'s loss: on the device, or as a float checked for NaN/Inf at once."""
        if self.loss_buf is None:
            value = loss.item()
            self.loss_vals[k] = value
            self.seen_loss += value * self.size_vals[k]
            if not math.isfinite(value):
                _diverged(epoch, k + 1, value, lr, self.run_.optim.clip)
        else:
            self.loss_buf[k] = loss.detach()

    def _batch_losses(self, upto: int) -> torch.Tensor:
        """The first ``upto`` batch losses of the epoch (float32, on the device)."""
        if self.loss_buf is not None:
            return self.loss_buf[:upto]
        return torch.tensor(self.loss_vals[:upto], dtype=torch.float32, device=self.run_.device)

    def _step_record(self, epoch: int, k: int, lr: float) -> None:
        """After step ``k`` (0-based). On an accelerator the running loss comes from the device
        buffer; where the losses are Python floats, from their sum so far (``seen_loss``)."""
        run = self.run_
        seen = float(min((k + 1) * run.bs, run.n_train))
        if self.loss_buf is None:
            running = self.seen_loss / seen
        else:
            running = (self.loss_buf[:k + 1] * self.sizes[:k + 1]).sum().item() / seen
            if not math.isfinite(running):  # an accelerator's deferred NaN check
                _find_divergence(epoch, self.loss_buf[:k + 1], lr, run.optim.clip)
        self.trainer._emit({"kind": RecordKind.STEP.value, "epoch": epoch, "step": k + 1, "steps": run.steps,
                            "samples_seen": min((k + 1) * run.bs, run.n_train), "train_loss_running": running,
                            "lr": lr, "seconds": time.perf_counter() - self.run_start})

    # ------------------------------------------------------------ evaluation and the record

    def _measure(self, trained: _Trained) -> list[float]:
        """Step 6's numbers, in record order: train loss (and correct count), validation loss
        (and correct count), then the diagnostics; all in one host sync."""
        run = self.run_
        family, threshold = run.plan.loss_family, run.plan.binary_threshold
        stats = [(trained.losses * self.sizes).sum() / run.n_train]
        if trained.preds is not None:
            target = run.y_train if trained.perm is None else run.y_train[trained.perm]
            stats.append(modules.family_correct(family, torch.cat(trained.preds), target, threshold))
        if run.n_val:
            run.model.eval()
            val_loss, val_correct = _evaluate(run.model, run.optim.loss_fn, (family, threshold), run.x_val, run.y_val,
                                              run.plan.classification)
            stats.append(val_loss / run.n_val)
            if run.plan.classification:
                stats.append(val_correct)
            run.model.train()
        stats += run.diagnostics.tensors(trained.grad_norms, trained.acts, run.device)
        # The one host sync per epoch. float32 throughout (MPS has no float64); correct
        # counts are exact in float32 up to 2**24 samples and are divided on the host.
        return torch.stack([s.detach().float() for s in stats]).tolist()

    def _record(self, epoch: int, lr: float, trained: _Trained) -> Record:
        run = self.run_
        n_train, n_val, classification = run.n_train, run.n_val, run.plan.classification
        values = self._measure(trained)
        epoch_seconds = time.perf_counter() - trained.t0 - self.trainer._paused_seconds
        it = iter(values)
        train_loss = next(it)
        if not math.isfinite(train_loss):
            _find_divergence(epoch, trained.losses, lr, run.optim.clip)
        rec: Record = {"kind": RecordKind.EPOCH.value, "epoch": epoch, "train_loss": train_loss}
        train_acc = next(it) / n_train if trained.preds is not None else None
        val_loss = next(it) if n_val else None
        val_acc = next(it) / n_val if n_val and classification else None
        rec["val_loss"] = val_loss
        if classification:
            rec["train_accuracy"] = train_acc
            rec["val_accuracy"] = val_acc
        rec["lr"] = lr
        rec["epoch_seconds"] = epoch_seconds
        rec["samples_per_second"] = n_train / trained.seconds if trained.seconds > 0 else None
        rec.update(run.diagnostics.read(it))
        return rec


# ---------------------------------------------------------------- divergence


def _find_divergence(epoch: int, losses: torch.Tensor, lr: float, clip: float) -> None:
    """Raise for the first non-finite batch loss in ``losses`` (the last batch when all are
    finite but their weighted sum overflowed)."""
    bad = (~torch.isfinite(losses)).nonzero()
    k = int(bad[0, 0]) if len(bad) else len(losses) - 1
    _diverged(epoch, k + 1, float(losses[k]), lr, clip)


def _diverged(epoch: int, step: int, value: float, lr: float, clip: float) -> None:
    what = "NaN" if math.isnan(value) else "infinite"
    hint = (f"Try a smaller learning rate (now {lr:g}) or gradient clipping (clip_grad_norm on the optimizer)."
            if clip <= 0 else f"Try a smaller learning rate (now {lr:g}) or a smaller clip_grad_norm (now {clip:g}).")
    raise DivergedError(f"Training diverged at epoch {epoch}, step {step}: the loss became {what}. {hint}",
                        epoch, step)


# ---------------------------------------------------------------- checkpoints


def _checkpoint_state(run: _Run, epoch: int, copy: bool = False) -> dict:
    """The checkpoint of epoch ``epoch``, just finished (see runtime.checkpoint). ``copy``:
    tensors cloned (on their device) so that the state can be written later while training goes
    on; the records are taken when it is written (``history`` only grows)."""
    model_state = {k: v.detach() for k, v in run.model.state_dict().items()}
    opt_state = run.optim.opt.state_dict()
    sched = run.optim.sched
    sched_state = sched.state_dict() if sched is not None else None
    if copy:
        model_state, opt_state, sched_state = ckpt.copied((model_state, opt_state, sched_state))
    history, n_records, device = run.history, len(run.history), run.device
    return {
        "graph": run.graph_text,
        "epoch": epoch,
        "config": {"seed": run.seed, "batch_size": run.bs, "epochs": run.epochs, "device": device.type},
        "model": model_state,
        "optimizer": opt_state,
        "scheduler": sched_state,
        "rng": {"torch": torch.get_rng_state(), "shuffle": run.gen.get_state(),
                "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None},
        "early_stopping": run.stopping.state(),
        # best_state is replaced when the monitor improves, never changed in place
        "best_model": run.stopping.best_state or None,
        "records": lambda: [dict(r) for r in history[:n_records]],
    }


def _restore(state: dict, model: GraphModule, opt: torch.optim.Optimizer, sched: Any,
             gen: torch.Generator, device: torch.device) -> None:
    mine = model.state_dict()
    theirs = state["model"]
    if not isinstance(theirs, dict) or set(theirs) != set(mine) or any(
            tuple(theirs[k].shape) != tuple(v.shape) for k, v in mine.items()):
        raise CheckpointError("the checkpoint was written for a different model (its layers or shapes "
                              "differ from this graph's)")
    try:
        model.load_state_dict(theirs)
        opt.load_state_dict(state["optimizer"])
        if sched is not None and state.get("scheduler") is not None:
            sched.load_state_dict(state["scheduler"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        gen.set_state(rng["shuffle"])
        if device.type == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state(rng["cuda"], device)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"the checkpoint cannot be restored: {' '.join(str(exc).split())[:300]}") from None


# ---------------------------------------------------------------- small helpers


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def _tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.tensor(np.asarray(a)).to(device)  # a copy: bundle arrays may be read-only


def _norm(tensors: list[torch.Tensor | None], device: torch.device) -> torch.Tensor:
    """L2 norm over several tensors (None counts as zeros), on the device, no sync."""
    parts = [torch.linalg.vector_norm(t.detach()) for t in tensors if t is not None]
    if not parts:
        return torch.zeros((), device=device)
    if len(parts) == 1:  # most layers: one weight tensor
        return parts[0]
    return torch.linalg.vector_norm(torch.stack(parts))


def _evaluate(model: GraphModule, loss_fn: torch.nn.Module, rule: tuple[str, float], x: torch.Tensor, y: torch.Tensor,
              classification: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Σ chunk loss × chunk rows and Σ correct over a split, in eval mode without gradients;
    ``rule`` is the loss's (family, binary threshold)."""
    family, threshold = rule
    total = correct = None
    with torch.no_grad():
        for i in range(0, len(x), VAL_CHUNK):
            xc, yc = x[i:i + VAL_CHUNK], y[i:i + VAL_CHUNK]
            pred = model(xc)
            part = loss_fn(pred, yc) * len(xc)
            total = part if total is None else total + part
            if classification:
                c = modules.family_correct(family, pred, yc, threshold)
                correct = c if correct is None else correct + c
    assert total is not None
    return total, correct
