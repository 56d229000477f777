"""The training loop of every exported script, as real Python, copied into scripts verbatim.

``runtime.export`` copies what :func:`main` needs from this module, by source
(``sources.Library.closure``), below the script's "This graph" section. The loop performs the
run algorithm of ``runtime/train.py`` (see its docstring) with the same calls in the same
order, so on the CPU a script repeats ``netwright train`` epoch for epoch.

What differs between graphs is ordinary Python that the script's "This graph" section defines
and the loop looks up when it runs. Here those names come from :mod:`.this_graph`, a tiny
stand-in network, so that this module imports, lints and runs in unit tests:

* ``Model``, ``load_data``, ``loss_target``, ``make_loss``, ``make_optimizer`` and
  ``make_scheduler`` (None without a learning-rate schedule);
* ``count_correct(prediction, target)``, None when the task is not a classification (the
  records then have no accuracy);
* ``penalty(model)``, the L1/L2 penalty added to the loss, and ``max_norm(model)``, which
  projects weights after each step: each None when no layer asks for it;
* the settings: ``EPOCHS``, ``SEED``, ``DEVICE``, ``BATCH_SIZE``, ``SHUFFLE``, ``PATIENCE``,
  ``MIN_DELTA``, ``RESTORE_BEST``, ``VAL_CHUNK``, ``INITIAL_WEIGHTS`` and ``CLIP_GRAD_NORM``
  (0: no clipping).

Invariants (keep them when editing):

* This is the script: plain functions and classes without type hints, lines within 88
  columns, comments for a reader of the script. It imports only the standard library, torch
  and :mod:`.this_graph`; the exporter works out which definitions and imports a script needs.
* Same numbers as the app: ``train_loss`` is the size-weighted mean of the batch data losses
  (float32 on the device, ``(losses * sizes).sum() / n_train`` as the trainer sums them), the
  training accuracy counts the epoch's own predictions in one pass at its end, validation sums
  ``loss * rows`` chunk by chunk. tests/runtime/test_export.py compares every sample to 1e-6.
* A step does what the app's step does and nothing more: no host sync, no tensor stores. The
  first version (a template in strings) ran at 0.90-0.95 × the app's samples/s on digits_mlp
  (tests/benchmarks/bench_export.py). Measured on one CPU thread, of about 2 ms a step and
  47 ms an epoch: a correct count per batch (18 µs), storing each batch's loss and size into
  tensors (8 µs), a strided copy of the rows for one process (3 µs): about 1.4 %; and
  validation (1.6 ms an epoch) timed as training: about 3.5 %. Now: one ``torch.cat`` and
  count per epoch, losses kept in a list (2 µs a step), the sizes made once, the batch itself
  in one process. A graph's optional parts cost one ``is None`` test a step.
* ``samples_per_second`` is measured over the training steps only, ``epoch_seconds`` over the
  whole epoch, as in the app's records.
* Under ``torchrun`` each process takes every ``world_size``-th row of each batch of the shared
  permutation and of the validation split; its loss is weighed by its share, so the averaged
  gradient is the one-process gradient of the whole batch; sums are combined over processes
  and only rank 0 logs and saves.
"""

import argparse
import gc
import json
import math
import os
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .this_graph import (
    BATCH_SIZE,
    CLIP_GRAD_NORM,
    DEVICE,
    EPOCHS,
    INITIAL_WEIGHTS,
    MIN_DELTA,
    PATIENCE,
    RESTORE_BEST,
    SEED,
    SHUFFLE,
    VAL_CHUNK,
    Model,
    count_correct,
    load_data,
    loss_target,
    make_loss,
    make_optimizer,
    make_scheduler,
    max_norm,
    penalty,
)


def pick_device(name, local_rank=0):
    """auto: CUDA, then Apple MPS, then CPU. Under torchrun, one GPU per process."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)


def setup_distributed(device):
    """Join the process group when started by torchrun; returns (rank, world_size)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world_size


def all_sum(*tensors):
    """Sum tensors over all processes, in place (nothing to do in a single process)."""
    if dist.is_initialized():
        for tensor in tensors:
            dist.all_reduce(tensor)


def synchronize(device):
    """Wait for the device's queued work, for timings (the CPU has none)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Training:
    """One process's run: the model, the data on the device, the loss, the optimizer and
    the schedule, made in the order Netwright makes them (the order draws the random
    numbers), and one epoch of training at a time."""

    def __init__(self, args, device, rank=0, world_size=1):
        self.device, self.rank, self.world_size = device, rank, world_size
        # 1. The model, seeded: every process (and Netwright) starts from the same
        # weights.
        torch.manual_seed(args.seed)
        model = Model().to(device)
        if args.weights:
            state = torch.load(args.weights, map_location=device, weights_only=True)
            model.load_state_dict(state)
        self.model = self.net = model
        if world_size > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.net = DistributedDataParallel(model, device_ids=ids)

        # 2. The data: on the device once, targets in the loss's form once per split.
        # Each process validates every world_size-th row.
        x_train, y_train, x_val, y_val = load_data()
        self.x_train = torch.as_tensor(x_train, device=device)
        self.t_train = loss_target(torch.as_tensor(y_train, device=device))
        self.x_val = torch.as_tensor(x_val, device=device)[rank::world_size]
        t_val = loss_target(torch.as_tensor(y_val, device=device))
        self.t_val = t_val[rank::world_size]
        self.n_train, self.n_val = len(x_train), len(x_val)
        if args.batch_size < 0:
            raise ValueError("--batch-size must be 0 (the whole split) or positive")
        self.batch_size = min(args.batch_size or self.n_train, self.n_train)
        self.sizes = self.share_sizes()

        # 3. Loss, optimizer and schedule.
        self.criterion = make_loss().to(device)
        self.optimizer = make_optimizer(self.model)
        self.scheduler = make_scheduler(self.optimizer)

        # 4. Shuffling from its own seeded generator: the same batches on every process.
        self.generator = torch.Generator().manual_seed(args.seed)

    def share_sizes(self):
        """The rows this process takes from each batch (float32, to weigh the batch
        losses)."""
        sizes = []
        for start in range(0, self.n_train, self.batch_size):
            rows = min(self.batch_size, self.n_train - start)
            sizes.append(len(range(self.rank, rows, self.world_size)))
        return torch.tensor(sizes, dtype=torch.float32, device=self.device)

    def shares(self, order):
        """This process's rows of each batch of ``order`` and the weight of its loss:
        DDP averages the processes' gradients, so each share counts by its size."""
        for start in range(0, self.n_train, self.batch_size):
            batch = order[start:start + self.batch_size]
            if self.world_size == 1:
                yield batch, 1.0
            else:
                rows = batch[self.rank::self.world_size]
                yield rows, len(rows) * self.world_size / len(batch)

    def epoch(self, epoch):
        """Train one epoch and measure it: its record, without early stopping's keys."""
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.model.train()
        if SHUFFLE:
            order = torch.randperm(self.n_train, generator=self.generator)
            order = order.to(self.device)
        else:
            order = torch.arange(self.n_train, device=self.device)
        started = time.perf_counter()
        losses, predictions, targets = self.steps(order)
        synchronize(self.device)
        training_seconds = time.perf_counter() - started
        record = self.metrics(epoch, lr, losses, predictions, targets)
        seconds = time.perf_counter() - started
        record.update(lr=lr, epoch_seconds=seconds)
        record["samples_per_second"] = self.n_train / training_seconds
        return record

    def steps(self, order):
        """5. One step per batch, on this process's share of it. Returns the batch
        losses (the data loss, detached: no device sync) and, for the accuracy, the
        predictions with their targets."""
        model, net, criterion = self.model, self.net, self.criterion
        optimizer = self.optimizer
        losses, predictions, targets = [], [], []
        for rows, weight in self.shares(order):
            prediction = net(self.x_train[rows])
            target = self.t_train[rows]
            if len(rows):
                data_loss = criterion(prediction, target)
            else:  # more processes than rows in this batch
                data_loss = prediction.sum() * 0.0
            loss = data_loss if weight == 1.0 else data_loss * weight
            if penalty is not None:
                loss = loss + penalty(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if CLIP_GRAD_NORM:
                torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_GRAD_NORM)
            optimizer.step()
            if max_norm is not None:
                max_norm(model)
            losses.append(data_loss.detach())
            if count_correct is not None:
                predictions.append(prediction.detach())
                targets.append(target)
        return losses, predictions, targets

    def metrics(self, epoch, lr, losses, predictions, targets):
        """6. The epoch's record: the size-weighted mean of the batch losses, the
        accuracy of the epoch's predictions, then validation."""
        total = (torch.stack(losses) * self.sizes).sum()
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        if count_correct is not None:
            correct = count_correct(torch.cat(predictions), torch.cat(targets))
        all_sum(total, correct)
        record = {"epoch": epoch, "train_loss": (total / self.n_train).item()}
        if not math.isfinite(record["train_loss"]):
            diverged(epoch, losses, lr)
        record["val_loss"] = None
        if count_correct is not None:
            record["train_accuracy"] = correct.item() / self.n_train
            record["val_accuracy"] = None
        if self.n_val:
            val_sum, val_correct = self.evaluate()
            record["val_loss"] = (val_sum / self.n_val).item()
            if count_correct is not None:
                record["val_accuracy"] = val_correct.item() / self.n_val
        return record

    def evaluate(self):
        """Summed loss and correct count over the validation split, in eval mode without
        gradients, in chunks of VAL_CHUNK rows; each process evaluates its rows and the
        sums are combined, so every process gets the totals of the whole split."""
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        with torch.no_grad():
            for i in range(0, len(self.x_val), VAL_CHUNK):
                prediction = self.model(self.x_val[i:i + VAL_CHUNK])
                target = self.t_val[i:i + VAL_CHUNK]
                loss_sum = loss_sum + self.criterion(prediction, target) * len(target)
                if count_correct is not None:
                    correct = correct + count_correct(prediction, target)
        all_sum(loss_sum, correct)
        return loss_sum, correct


def diverged(epoch, losses, lr):
    """Stop with a message that names the first batch whose loss is not finite."""
    losses = torch.stack(losses)
    bad = (~torch.isfinite(losses)).nonzero()
    step = int(bad[0, 0]) + 1 if len(bad) else len(losses)
    raise SystemExit(
        f"error: training diverged at epoch {epoch}, step {step}: the loss "
        f"became {losses[step - 1].item()}. Try a smaller learning rate "
        f"(now {lr:g}) or gradient clipping."
    )


class EarlyStopping:
    """7. Watches the validation loss (else the training loss): an epoch improves on the
    best so far by more than MIN_DELTA, or counts towards PATIENCE (0: never stop)."""

    def __init__(self):
        self.best, self.best_epoch, self.stale = math.inf, None, 0
        self.best_state = None

    def update(self, model, record):
        """Mark the epoch's record (improved, best_epoch); True when the run should
        stop."""
        watched = record["val_loss"]
        if watched is None:
            watched = record["train_loss"]
        improved = watched < self.best - MIN_DELTA
        if improved:
            self.best, self.best_epoch, self.stale = watched, record["epoch"], 0
            if PATIENCE and RESTORE_BEST:
                state = model.state_dict()
                self.best_state = {k: v.detach().clone() for k, v in state.items()}
        else:
            self.stale += 1
        record.update(improved=improved, best_epoch=self.best_epoch)
        return bool(PATIENCE) and self.stale >= PATIENCE


def fit(training, epochs, metrics):
    """Train up to ``epochs`` epochs; the records (the same on every process)."""
    stopping = EarlyStopping()
    history = []
    for epoch in range(1, epochs + 1):
        record = training.epoch(epoch)
        stop = stopping.update(training.model, record)
        history.append(record)
        if training.rank == 0:
            log(record, epochs, metrics)
        if training.scheduler is not None:
            training.scheduler.step()
        if stop:
            if stopping.best_state is not None:
                training.model.load_state_dict(stopping.best_state)
            if training.rank == 0:
                restored = ""
                if stopping.best_state is not None:
                    restored = ", best weights restored"
                best = stopping.best_epoch
                print(f"stopped early after epoch {epoch}: best {best}{restored}")
            break
    return history


def run(args, device, rank, world_size):
    """The training run; returns the per-epoch records (the same on every process)."""
    training = Training(args, device, rank, world_size)
    metrics = None
    if args.metrics_out and rank == 0:
        metrics = open(args.metrics_out, "w")
    try:
        history = fit(training, args.epochs, metrics)
    finally:
        if metrics is not None:
            metrics.close()
    if args.save and rank == 0:
        torch.save(training.model.state_dict(), args.save)
        print(f"saved the weights to {args.save}")
    return history


def train(args):
    """Set up (one process, or one of many under torchrun), run, clean up."""
    device = pick_device(args.device, int(os.environ.get("LOCAL_RANK", "0")))
    rank, world_size = setup_distributed(device)
    try:
        records = run(args, device, rank, world_size)
        if world_size > 1:
            # Wait for every process (rank 0 saves last) before tearing the group
            # down: closing it while a peer still uses it can abort that peer.
            dist.barrier()
        return records
    finally:
        if world_size > 1:
            # Free the DDP wrapper (held by reference cycles) while the group
            # exists: collected after it, at exit, it can abort the process.
            gc.collect()
            dist.destroy_process_group()


def log(record, epochs, metrics):
    """One line per epoch on the console; one JSON line per epoch in --metrics-out."""
    text = f"epoch {record['epoch']}/{epochs}  train_loss {record['train_loss']:.6g}"
    if record.get("train_accuracy") is not None:
        text += f"  train_acc {record['train_accuracy']:.4g}"
    if record["val_loss"] is not None:
        text += f"  val_loss {record['val_loss']:.6g}"
    if record.get("val_accuracy") is not None:
        text += f"  val_acc {record['val_accuracy']:.4g}"
    print(text, flush=True)
    if metrics is not None:
        metrics.write(json.dumps(record) + "\n")
        metrics.flush()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train the exported network.")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=SEED)
    devices = ("auto", "cpu", "cuda", "mps")
    parser.add_argument("--device", choices=devices, default=DEVICE)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="rows per step, over all processes (0 = the whole split)")
    parser.add_argument("--metrics-out", metavar="FILE.jsonl",
                        help="write one JSON line of metrics per epoch")
    parser.add_argument("--weights", default=INITIAL_WEIGHTS, metavar="FILE.pt",
                        help="start from these weights (a state_dict from --save)")
    parser.add_argument("--save", metavar="FILE.pt", help="save the weights here")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        train(args)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
