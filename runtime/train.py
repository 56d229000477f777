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
   loss targets are adapted once per split (``modules.adapt_target``), never per batch.
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
   ``train_accuracy = float(modules.correct_count(loss, torch.cat(preds), y_train[perm])) /
   n_train``: from the same forward passes (the count is exact, so it equals the sum of
   per-batch counts; it crosses to the host as float32, exact below 2**24, and is divided
   there in Python floats). Validation: ``model.eval()`` and ``torch.no_grad()``
   over the validation split in chunks of ``VAL_CHUNK`` rows: ``val_loss = (Σ loss_fn(pred_c,
   y_c) * len_c) / n_val`` (summed in chunk order on the device, float32);
   ``val_accuracy = float(Σ correct_count) / n_val``. ``lr`` is ``opt.param_groups[0]["lr"]``
   during the epoch. All epoch numbers cross to the host in one ``torch.stack(...).tolist()``.
7. Early stopping (settings.patience > 0) monitors val_loss (train_loss without a validation
   split): an epoch improves when ``monitor < best - min_delta``; after ``patience`` epochs
   without improvement the run ends, and ``restore_best`` loads the best epoch's weights.
   ``checkpoint_best`` writes ``best.pt`` when the monitor improves (with a checkpoint folder).
   The best epoch is tracked in every run (for ``RunResult.best_epoch``).

Records
=======

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
import os
import threading
import time
from collections.abc import Callable
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
            self._emit({"kind": "paused"})
            t0 = time.perf_counter()
            self._go.wait()
            self._paused_seconds += time.perf_counter() - t0
            if not self._stop.is_set():
                self._emit({"kind": "resumed"})
        if self._stop.is_set():
            raise _Stopped
        with self._lock:
            self._interrupt = self._stop.is_set() or not self._go.is_set()

    def _emit(self, record: Record) -> None:
        if record["kind"] != "step":  # progress only: a run of hours would keep millions
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
        graph = self.graph
        settings = graph.settings
        analysis = check_graph(graph, self.base_dir)
        plan = training_plan(graph, self.base_dir, analysis)
        state = ckpt.load_checkpoint(self.resume_from) if self.resume_from else None
        config = state["config"] if state else {}
        seed = _first(self.seed, config.get("seed"), settings["seed"])
        epochs = _first(self.epochs, settings["epochs"])
        device = resolve_device(_first(self.device, settings["device"]))
        bundle = self.data
        if bundle is None:
            from .data import load_dataset  # numpy and the data sets load only when training

            bundle = load_dataset(plan.data_params, self.base_dir, graph.nodes[plan.data_node])  # errors name the node
        n_train, n_val = len(bundle.x_train), len(bundle.x_val)
        if n_train == 0:
            raise DataError("the training split is empty: lower val_split/test_split or add samples")
        bs = _first(self.batch_size, config.get("batch_size"), plan.data_params.get("batch_size", 32))
        if bs < 0:
            raise DataError(f"batch size must be 0 (the whole training split) or positive; got {bs}")
        bs = n_train if bs == 0 else min(bs, n_train)
        self._batch_size_used = bs
        steps = math.ceil(n_train / bs)

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
        y_train = modules.adapt_target(plan.loss_type, _tensor(bundle.y_train, device), classes)
        y_val = modules.adapt_target(plan.loss_type, _tensor(bundle.y_val, device), classes)

        # 3. loss, optimizer, schedule, regularisation
        loss_fn = plan.make_loss().to(device)
        opt = plan.make_optimizer(params)
        sched = plan.make_scheduler(opt)
        clip = plan.clip_grad_norm
        reg_terms: list[tuple[torch.Tensor, float, float]] = []
        constraints: list[tuple[torch.Tensor, float]] = []
        in_model = set(model.node_ids)
        for nid, l1, l2, max_norm in plan.regularization:
            if nid not in in_model:
                continue
            for w in modules.layer_weights(model.node_module(nid)):
                if l1 or l2:
                    reg_terms.append((w, l1, l2))
                if max_norm:
                    constraints.append((w, max_norm))
        gen = torch.Generator().manual_seed(seed)

        # diagnostics: what to measure on each epoch's last batch
        diag_weights = [(n.node_id, modules.layer_weights(model.node_module(n.node_id)))
                        for n in model.nodes if n.has_params]
        diag_weights = [(nid, ws) for nid, ws in diag_weights if ws]
        dead_nodes = [(n.node_id, n.type_id == "ReLU") for n in model.nodes if n.relu_like]
        sat_nodes = [(n.node_id, n.type_id) for n in model.nodes if n.saturating]
        watch = [nid for nid, _ in dead_nodes] + [nid for nid, _ in sat_nodes]

        # early stopping and resume
        patience = settings["patience"]
        min_delta = settings["min_delta"]
        keep_best = patience > 0 and settings["restore_best"]
        best, best_epoch, bad_epochs, best_state = math.inf, None, 0, None
        history: list[Record] = []
        start_epoch = 0
        if state is not None:
            self._restore(state, model, opt, sched, gen, device)
            start_epoch = int(state["epoch"])
            es = state.get("early_stopping") or {}
            best = float(es.get("best", math.inf))
            best_epoch = es.get("best_epoch")
            bad_epochs = int(es.get("bad_epochs", 0))
            if keep_best and state.get("best_model") is not None:
                best_state = {k: v.to(device) for k, v in state["best_model"].items()}
            history = [dict(r) for r in state["records"]]
        graph_text = dumps(graph)

        self._emit({
            "kind": "start", "device": device_name(device), "n_train": n_train, "n_val": n_val,
            "n_test": len(bundle.x_test), "batch_size": bs, "steps_per_epoch": steps, "epochs": epochs,
            "first_epoch": start_epoch + 1, "seed": seed, "task": plan.task, "classes": plan.target.classes,
            "loss": plan.loss_type, "optimizer": plan.optimizer_type, "nodes": model.node_ids,
            "node_types": {n.node_id: n.type_id for n in model.nodes},
            "parametric": [nid for nid, _ in diag_weights], "relu_like": [nid for nid, _ in dead_nodes],
            "saturating": [nid for nid, _ in sat_nodes],
            "total_params": sum(p.numel() for p in params), "history": [dict(r) for r in history],
        })

        shuffle = bool(plan.data_params.get("shuffle", True))
        classification = plan.classification
        sizes = torch.tensor([min(bs, n_train - k * bs) for k in range(steps)], dtype=torch.float32, device=device)
        check_each_step = device.type == "cpu" if self.check_every_step is None else self.check_every_step
        # NOTE: [batch losses] Where each step fetches its loss (.item() for the NaN check), the
        # batch losses are kept as those Python floats: float32 values exactly, so the float32
        # tensor made from them at the end of the epoch equals the device buffer that the
        # accelerator path fills (loss_buf[k] = loss.detach()), and so do the sums. The list
        # saves a select and a copy per step.
        loss_vals: list[float] = [0.0] * steps
        loss_buf = None if check_each_step else torch.zeros(steps, dtype=torch.float32, device=device)
        # The running loss of step records, where the losses are Python floats: summed as they
        # come (a step record after every batch must not re-sum the epoch so far each time).
        size_vals = [float(min(bs, n_train - k * bs)) for k in range(steps)]

        def batch_losses(upto: int) -> torch.Tensor:
            """The first ``upto`` batch losses of the epoch (float32, on the device)."""
            if loss_buf is not None:
                return loss_buf[:upto]
            return torch.tensor(loss_vals[:upto], dtype=torch.float32, device=device)

        emit_steps = self.progress_interval is not None
        interval = max(float(self.progress_interval or 0.0), 0.0)
        run_start = time.perf_counter()
        reason = "completed"
        restored = False
        last_step = steps - 1
        loss_type = plan.loss_type
        loss_label = f"Node '{plan.loss_node}' ({graph.nodes[plan.loss_node].type})"

        saver = _Checkpointer(self.checkpoint_dir, self.checkpoint_interval) if self.checkpoint_dir else None
        epoch = start_epoch
        try:
            for epoch in range(start_epoch + 1, epochs + 1):
                lr = float(opt.param_groups[0]["lr"])
                model.train()
                perm = torch.randperm(n_train, generator=gen).to(device) if shuffle else None
                self._paused_seconds = 0.0
                t0 = time.perf_counter()
                next_emit = t0 + interval
                acts: dict[str, torch.Tensor] = {}
                grad_norms: list[torch.Tensor] = []
                # the epoch's batch predictions (detached: no copy, no graph kept), for accuracy
                preds: list[torch.Tensor] | None = [] if classification else None
                seen_loss = 0.0  # this epoch's size-weighted batch losses so far (CPU path)
                for k in range(steps):
                    if self._interrupt:
                        self._honour_requests()
                    lo = k * bs
                    if perm is None:
                        xb, yb = x_train[lo:lo + bs], y_train[lo:lo + bs]
                    else:
                        idx = perm[lo:lo + bs]
                        xb, yb = x_train[idx], y_train[idx]
                    if k == last_step and watch:
                        with model.capturing(watch) as acts:
                            pred = model(xb)
                    else:
                        pred = model(xb)
                    try:
                        loss = loss_fn(pred, yb)
                    except (RuntimeError, ValueError, IndexError) as exc:
                        raise NodeError(plan.loss_node, f"{loss_label}: {' '.join(str(exc).split())[:400]}") from exc
                    if reg_terms:
                        total = loss + modules.regularization_penalty(reg_terms)
                    else:
                        total = loss
                    opt.zero_grad(set_to_none=True)
                    total.backward()
                    if k == last_step:
                        grad_norms = [_norm([w.grad for w in ws], device) for _, ws in diag_weights]
                    if clip > 0.0:
                        torch.nn.utils.clip_grad_norm_(params, clip)
                    opt.step()
                    if constraints:
                        modules.apply_max_norm(constraints)
                    if loss_buf is None:
                        value = loss.item()
                        loss_vals[k] = value
                        seen_loss += value * size_vals[k]
                        if not math.isfinite(value):
                            self._diverged(epoch, k + 1, value, lr, clip)
                    else:
                        loss_buf[k] = loss.detach()
                    if preds is not None:
                        preds.append(pred.detach())
                    if emit_steps and k != last_step:
                        now = time.perf_counter()
                        if now >= next_emit:
                            next_emit = now + interval
                            self._step_record(epoch, k, steps, bs, n_train, loss_buf, sizes, seen_loss, lr,
                                              run_start, clip)
                # the epoch's training phase ends here
                synchronize(device)
                train_seconds = time.perf_counter() - t0 - self._paused_seconds
                losses = batch_losses(steps)
                stats = [(losses * sizes).sum() / n_train]
                if preds is not None:
                    target = y_train if perm is None else y_train[perm]
                    stats.append(modules.correct_count(loss_type, torch.cat(preds), target))
                if n_val:
                    model.eval()
                    val_loss, val_correct = _evaluate(model, loss_fn, loss_type, x_val, y_val,
                                                      classification)
                    stats.append(val_loss / n_val)
                    if classification:
                        stats.append(val_correct)
                    model.train()
                stats += grad_norms
                stats += [_norm(ws, device) for _, ws in diag_weights]
                for nid, _ in dead_nodes:  # dead = exactly 0 for the whole batch: no gradient
                    stats.append((acts[nid] == 0).flatten(1).all(0).float().mean())
                for nid, kind in sat_nodes:
                    a = acts[nid]
                    sat = (a.abs() > 0.99) if kind == "Tanh" else ((a < 0.01) | (a > 0.99))
                    stats.append(sat.float().mean())
                # The one host sync per epoch. float32 throughout (MPS has no float64); correct
                # counts are exact in float32 up to 2**24 samples and are divided on the host.
                values = torch.stack([s.detach().float() for s in stats]).tolist()
                epoch_seconds = time.perf_counter() - t0 - self._paused_seconds
                it = iter(values)
                train_loss = next(it)
                if not math.isfinite(train_loss):
                    self._find_divergence(epoch, losses, lr, clip)
                rec: Record = {"kind": "epoch", "epoch": epoch, "train_loss": train_loss}
                train_acc = next(it) / n_train if preds is not None else None
                val_loss = next(it) if n_val else None
                val_acc = next(it) / n_val if n_val and classification else None
                rec["val_loss"] = val_loss
                if classification:
                    rec["train_accuracy"] = train_acc
                    rec["val_accuracy"] = val_acc
                rec["lr"] = lr
                rec["epoch_seconds"] = epoch_seconds
                rec["samples_per_second"] = n_train / train_seconds if train_seconds > 0 else None
                rec["grad_norm"] = {nid: next(it) for nid, _ in diag_weights}
                rec["weight_norm"] = {nid: next(it) for nid, _ in diag_weights}
                rec["dead_fraction"] = {nid: next(it) for nid, _ in dead_nodes}
                rec["saturated_fraction"] = {nid: next(it) for nid, _ in sat_nodes}
                monitor = val_loss if n_val else train_loss
                improved = monitor < best - min_delta
                if improved:
                    best, best_epoch, bad_epochs = monitor, epoch, 0
                    if keep_best:
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad_epochs += 1
                rec["improved"] = improved
                rec["best_epoch"] = best_epoch
                history.append(rec)
                self._emit(rec)
                if sched is not None:
                    sched.step()
                if saver is not None:
                    saver.epoch_done(functools.partial(self._checkpoint_state, graph_text, epoch, seed, bs, epochs,
                                                       device, model, opt, sched, gen, best, best_epoch,
                                                       bad_epochs, best_state, history),
                                     best=improved and settings["checkpoint_best"])
                if patience > 0 and bad_epochs >= patience:
                    reason = "early_stopped"
                    if keep_best and best_state is not None:
                        model.load_state_dict(best_state)
                        restored = True
                    break
                if self._interrupt:
                    self._honour_requests()
        except _Stopped:
            reason = "stopped"
        except BaseException:
            if saver is not None:  # the last finished epoch stays resumable; the run's error wins
                try:
                    saver.flush()
                except CheckpointError:
                    pass
            raise
        if saver is not None:
            saver.flush()
        completed = history[-1]["epoch"] if history else 0
        self._emit({"kind": "end", "reason": reason, "epochs_completed": completed, "best_epoch": best_epoch,
                    "restored_best": restored, "seconds": time.perf_counter() - run_start})
        model.eval()
        return RunResult(list(self.records), history, reason, best_epoch, model, device, plan, bundle,
                         history[-1] if history else None)

    # ------------------------------------------------------------ helpers

    def _step_record(self, epoch: int, k: int, steps: int, bs: int, n_train: int, loss_buf: torch.Tensor | None,
                     sizes: torch.Tensor, seen_loss: float, lr: float, run_start: float, clip: float) -> None:
        """After step ``k`` (0-based). ``loss_buf``: the device buffer of batch losses on an
        accelerator; None where the losses are Python floats, summed so far in ``seen_loss``."""
        seen = float(min((k + 1) * bs, n_train))
        if loss_buf is None:
            running = seen_loss / seen
        else:
            running = (loss_buf[:k + 1] * sizes[:k + 1]).sum().item() / seen
            if not math.isfinite(running):  # an accelerator's deferred NaN check
                self._find_divergence(epoch, loss_buf[:k + 1], lr, clip)
        self._emit({"kind": "step", "epoch": epoch, "step": k + 1, "steps": steps,
                    "samples_seen": min((k + 1) * bs, n_train), "train_loss_running": running, "lr": lr,
                    "seconds": time.perf_counter() - run_start})

    def _find_divergence(self, epoch: int, losses: torch.Tensor, lr: float, clip: float) -> None:
        """Raise for the first non-finite batch loss in ``losses`` (the last batch when all are
        finite but their weighted sum overflowed)."""
        bad = (~torch.isfinite(losses)).nonzero()
        k = int(bad[0, 0]) if len(bad) else len(losses) - 1
        self._diverged(epoch, k + 1, float(losses[k]), lr, clip)

    @staticmethod
    def _diverged(epoch: int, step: int, value: float, lr: float, clip: float) -> None:
        what = "NaN" if math.isnan(value) else "infinite"
        hint = (f"Try a smaller learning rate (now {lr:g}) or gradient clipping (clip_grad_norm on the optimizer)."
                if clip <= 0 else f"Try a smaller learning rate (now {lr:g}) or a smaller clip_grad_norm (now {clip:g}).")
        raise DivergedError(f"Training diverged at epoch {epoch}, step {step}: the loss became {what}. {hint}",
                            epoch, step)

    @staticmethod
    def _checkpoint_state(graph_text: str, epoch: int, seed: int, bs: int, epochs: int, device: torch.device,
                          model: GraphModule, opt: torch.optim.Optimizer, sched: Any, gen: torch.Generator,
                          best: float, best_epoch: int | None, bad_epochs: int,
                          best_state: dict | None, history: list[Record], copy: bool = False) -> dict:
        """The checkpoint of the epoch just finished. ``copy``: tensors cloned (on their device)
        so that the state can be written later while training goes on; the records are taken
        when it is written (``history`` only grows)."""
        model_state = {k: v.detach() for k, v in model.state_dict().items()}
        opt_state = opt.state_dict()
        sched_state = sched.state_dict() if sched is not None else None
        if copy:
            model_state, opt_state, sched_state = _copied((model_state, opt_state, sched_state))
        n_records = len(history)
        return {
            "graph": graph_text,
            "epoch": epoch,
            "config": {"seed": seed, "batch_size": bs, "epochs": epochs, "device": device.type},
            "model": model_state,
            "optimizer": opt_state,
            "scheduler": sched_state,
            "rng": {"torch": torch.get_rng_state(), "shuffle": gen.get_state(),
                    "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None},
            "early_stopping": {"best": best, "best_epoch": best_epoch, "bad_epochs": bad_epochs},
            # best_state is replaced when the monitor improves, never changed in place
            "best_model": best_state or None,
            "records": lambda: [dict(r) for r in history[:n_records]],
        }

    @staticmethod
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


class _Checkpointer:
    """Writes a run's ``last.pt`` (and ``best.pt``) in its checkpoint folder, after every epoch
    or, with an interval, at most every ``interval`` seconds: the epochs in between are kept as
    one copied state in memory (the newest) and written by the next due write or by
    :meth:`flush` when the run ends. A pending best state is always written with the next write,
    so ``best.pt`` is never older than what ``last.pt`` says was best."""

    def __init__(self, folder: str, interval: float):
        self.folder = folder
        self.interval = max(float(interval or 0.0), 0.0)
        self._due = time.perf_counter() + self.interval
        self._last: dict | None = None  # newest epoch's copied state, not yet written
        self._best: dict | None = None  # newest improved epoch's copied state, not yet written

    def epoch_done(self, make_state: Callable[..., dict], best: bool) -> None:
        """``make_state(copy=...)``: the finished epoch's state; ``best``: it goes to best.pt too."""
        now = time.perf_counter()
        if now >= self._due:
            state = make_state(copy=False)  # written now, before training changes it: no copy
            self._write(state, best_state=state if best else self._best)
            self._due = time.perf_counter() + self.interval
        else:
            self._last = make_state(copy=True)
            if best:
                self._best = self._last

    def flush(self) -> None:
        """Write what is pending (the run ends, however it ends)."""
        if self._last is not None:
            self._write(self._last, best_state=self._best)

    def _write(self, state: dict, best_state: dict | None) -> None:
        self._last = self._best = None
        if best_state is not None:
            ckpt.save_checkpoint(os.path.join(self.folder, ckpt.BEST), _for_file(best_state))
        ckpt.save_checkpoint(os.path.join(self.folder, ckpt.LAST), _for_file(state))


def _for_file(state: dict) -> dict:
    """A state of Trainer._checkpoint_state as the checkpoint file stores it (weights on the CPU)."""
    out = dict(state)
    out["model"] = {k: v.cpu() for k, v in state["model"].items()}
    if state["best_model"] is not None:
        out["best_model"] = {k: v.detach().cpu() for k, v in state["best_model"].items()}
    out["records"] = state["records"]()
    return out


def _copied(obj: Any) -> Any:
    """``obj`` with every tensor in it cloned (dicts, lists and tuples rebuilt)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _copied(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_copied(v) for v in obj)
    return obj


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


def _evaluate(model: GraphModule, loss_fn: torch.nn.Module, loss_type: str, x: torch.Tensor, y: torch.Tensor,
              classification: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Σ chunk loss × chunk rows and Σ correct over a split, in eval mode without gradients."""
    total = correct = None
    with torch.no_grad():
        for i in range(0, len(x), VAL_CHUNK):
            xc, yc = x[i:i + VAL_CHUNK], y[i:i + VAL_CHUNK]
            pred = model(xc)
            part = loss_fn(pred, yc) * len(xc)
            total = part if total is None else total + part
            if classification:
                c = modules.correct_count(loss_type, pred, yc)
                correct = c if correct is None else correct + c
    assert total is not None
    return total, correct

