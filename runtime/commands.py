"""``netwright train``: train a graph file headless.

Exit codes: 0 when the run completes, stops early or is stopped; 2 for bad input (an unreadable
file, an invalid graph with its findings, bad data, a diverged run, an unavailable device, a bad
checkpoint), always with a one-paragraph message and never a traceback; 1 only for a bug.

Output: on a terminal, a progress line on stderr (rewritten in place) and one line per epoch;
a final summary line on stdout. ``--metrics-out F.jsonl`` gets one JSON object per epoch (the
epoch record without ``kind``; non-finite numbers become null), flushed as each epoch ends; a
resumed run first writes the epochs restored from its checkpoint, so the file always describes
the whole run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import IO, Any

from graph import load_path
from graph.errors import FileFormatError

from .errors import RunError
from .records import EndReason, RecordKind


def _plain(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


class _Reporter:
    """Turns records into terminal progress, metrics lines and the summary."""

    def __init__(self, metrics: IO[str] | None, progress: IO[str] | None) -> None:
        self.metrics = metrics
        self.progress = progress
        self.epochs = 0
        self.last_epoch: dict | None = None
        self.device = ""

    def __call__(self, rec: dict) -> None:
        kind = rec["kind"]
        if kind == RecordKind.START:
            self.epochs = rec["epochs"]
            self.device = rec["device"]
            for old in rec["history"]:
                self._write_metrics(old)
            if self.progress:
                first = rec["first_epoch"]
                resumed = f", resuming at epoch {first}" if first > 1 else ""
                print(f"training on {rec['device']}: {rec['n_train']} samples, batch {rec['batch_size']}, "
                      f"{rec['steps_per_epoch']} steps per epoch, {rec['epochs']} epochs{resumed}", file=self.progress)
        elif kind == RecordKind.STEP and self.progress:
            width = 20
            done = int(width * rec["step"] / rec["steps"])
            self.progress.write(f"\repoch {rec['epoch']}/{self.epochs} [{'#' * done}{'.' * (width - done)}] "
                                f"step {rec['step']}/{rec['steps']} loss {_fmt(rec['train_loss_running'])}\x1b[K")
            self.progress.flush()
        elif kind == RecordKind.EPOCH:
            self.last_epoch = rec
            self._write_metrics(rec)
            if self.progress:
                self.progress.write("\r\x1b[K" + self._line(rec) + "\n")
                self.progress.flush()
        elif kind in (RecordKind.PAUSED, RecordKind.RESUMED) and self.progress:
            print(f"\r{kind}", file=self.progress)

    def _write_metrics(self, rec: dict) -> None:
        if self.metrics is not None:
            line = {k: v for k, v in rec.items() if k != "kind"}
            self.metrics.write(json.dumps(_plain(line), allow_nan=False) + "\n")
            self.metrics.flush()

    def _line(self, rec: dict) -> str:
        parts = [f"epoch {rec['epoch']}/{self.epochs}", *_metric_parts(rec, short=True)]
        parts.append(f"{_fmt(rec['samples_per_second'], 3)} samples/s")
        return "  ".join(parts)


def _metric_parts(rec: dict, short: bool) -> list[str]:
    """``name value`` for the epoch metrics a record has (the progress line uses short names)."""
    parts = [f"train_loss {_fmt(rec['train_loss'])}"]
    acc = "acc" if short else "accuracy"
    if rec.get("train_accuracy") is not None:
        parts.append(f"train_{acc} {_fmt(rec['train_accuracy'])}")
    if rec.get("val_loss") is not None:
        parts.append(f"val_loss {_fmt(rec['val_loss'])}")
    if rec.get("val_accuracy") is not None:
        parts.append(f"val_{acc} {_fmt(rec['val_accuracy'])}")
    return parts


def cmd_train(args: argparse.Namespace) -> int:
    path = args.file
    try:
        graph = load_path(path)
    except FileFormatError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    base_dir = os.path.dirname(os.path.abspath(path))
    progress = sys.stderr if not getattr(args, "quiet", False) and sys.stderr.isatty() else None
    metrics = None
    try:
        if args.metrics_out:
            try:
                metrics = open(args.metrics_out, "w", encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as exc:
                print(f"{args.metrics_out}: cannot write the metrics file: {exc.strerror or exc}", file=sys.stderr)
                return 2
        reporter = _Reporter(metrics, progress)
        from .train import Trainer  # torch loads only when training

        trainer = Trainer(graph, base_dir, epochs=args.epochs, seed=args.seed, device=args.device,
                          batch_size=args.batch_size, on_record=reporter, checkpoint_dir=args.checkpoint,
                          resume_from=args.resume)
        try:
            result = trainer.run()
        except RunError as exc:
            if progress:
                progress.write("\r\x1b[K")
            print(f"{path}: {exc}", file=sys.stderr)
            return 2
    finally:
        if metrics is not None:
            metrics.close()
    final = result.final
    words = {EndReason.COMPLETED: "completed", EndReason.EARLY_STOPPED: "stopped early",
             EndReason.STOPPED: "stopped"}[result.reason]
    if final is None:
        print(f"{path}: {words} after 0 epochs on {reporter.device}")
        return 0
    summary = [f"{path}: {words} after {final['epoch']} epochs on {reporter.device}:",
               *_metric_parts(final, short=False)]
    if result.best_epoch is not None:
        summary.append(f"(best epoch {result.best_epoch}{', weights restored' if result.reason == EndReason.EARLY_STOPPED and trainer.records[-1].get('restored_best') else ''})")
    print(" ".join(summary))
    return 0
