"""Simulated trainer records for plot tests and the plot soak benchmark.

``simulated_records`` yields the record stream a ``runtime.train.Trainer`` sends to ``on_record``
(same kinds and keys), with plausible numbers: falling losses, rising accuracy, a decaying
learning rate, per-layer gradient norms spread over decades, dead and saturated shares. With
``diverge_at`` the losses and gradient norms turn into inf/nan from that epoch on, as a run with
a too-large learning rate does. No torch, no Qt: cheap enough to drive plots at full rate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

LAYERS = ("n2", "n4", "n6", "n8")


def simulated_records(epochs: int = 20, steps: int = 23, *, layers: tuple[str, ...] = LAYERS,
                      step_every: int = 1, diverge_at: int | None = None, seed: int = 0,
                      task: str = "classification") -> Iterator[dict]:
    rng = random.Random(seed)
    yield {"kind": "start", "device": "CPU", "n_train": steps * 64, "n_val": steps * 16,
           "steps_per_epoch": steps, "epochs": epochs, "task": task}
    lr0 = 0.01
    seconds = 0.0
    for epoch in range(1, epochs + 1):
        bad = diverge_at is not None and epoch >= diverge_at
        for step in range(1, steps + 1):
            seconds += 0.002
            if step % step_every == 0 or step == steps:
                t = epoch - 1 + step / steps
                loss = 2.3 * math.exp(-t / 4) + 0.05 + 0.05 * rng.random()
                yield {"kind": "step", "epoch": epoch, "step": step, "steps": steps,
                       "samples_seen": ((epoch - 1) * steps + step) * 64,
                       "lr": lr0 * 0.97 ** t, "seconds": seconds,
                       "train_loss_running": math.inf if bad and step > steps // 2 else loss}
        t = float(epoch)
        train_loss = 2.3 * math.exp(-t / 4) + 0.04
        val_loss = 2.3 * math.exp(-t / 4) + 0.08 + 0.004 * max(0.0, t - 12) ** 1.5
        record = {
            "kind": "epoch", "epoch": epoch,
            "train_loss": math.nan if bad else train_loss,
            "val_loss": math.inf if bad else val_loss,
            "lr": lr0 * 0.97 ** t, "epoch_seconds": 0.05, "samples_per_second": 30000.0,
            "grad_norm": {nid: (math.nan if bad else 10.0 ** (-3 + i) * (1 + 0.2 * rng.random()))
                          for i, nid in enumerate(layers)},
            "weight_norm": {nid: 5.0 + i + 0.01 * t for i, nid in enumerate(layers)},
            "dead_fraction": {nid: min(1.0, 0.05 * (i + 1) + 0.01 * t) for i, nid in enumerate(layers[:-1])},
            "saturated_fraction": {nid: 0.02 * (i + 1) for i, nid in enumerate(layers[:-1])},
        }
        if task == "classification":
            record["train_accuracy"] = math.nan if bad else 1 - 0.9 * math.exp(-t / 3)
            record["val_accuracy"] = math.nan if bad else 1 - 0.9 * math.exp(-t / 3) - 0.03
        yield record
        if bad:
            return
    yield {"kind": "end", "reason": "completed", "best_epoch": epochs, "epochs_run": epochs}


def endless_records(steps: int = 50, layers: tuple[str, ...] = LAYERS, seed: int = 0) -> Iterator[dict]:
    """An unbounded stream (the soak): epochs keep counting up, one epoch record per ``steps``."""
    epoch = 0
    while True:
        for record in simulated_records(epochs=1000, steps=steps, layers=layers, seed=seed + epoch):
            if record["kind"] in ("start", "end"):
                continue
            record = dict(record)
            record["epoch"] = record["epoch"] + epoch
            yield record
        epoch += 1000
