"""Training runs kept for the session: settings, records, status, checkpoints, CSV export.

A :class:`Run` is plain data owned by the GUI thread. The worker never touches it: records
arrive as copies through the training controller, which appends them here.

Invariants:

* ``Run.graph_text`` is the file text of the snapshot the run trained, frozen when it started;
  "Resume" trains that snapshot again from the run's checkpoint, never the graph being edited.
* ``Run.records`` holds every record of kinds ``start``, ``epoch`` and ``end`` (step records are
  transient progress and are dropped); epochs stay in order even across resumes, because a resumed
  run continues at the checkpoint's next epoch and records after it replace nothing.
* Every run has its own checkpoint folder under the store's root; the store removes the root it
  created itself when ``close()`` is called (a caller-supplied root is left alone).
* Nothing here imports Qt, torch or numpy: the store can be tested and used anywhere. Record
  kinds are runtime.records' RecordKind (plain strings in the records themselves).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graph import fileformat
from graph.document import Graph
from runtime.records import RecordKind

from .run_types import FINISHED, RunStatus

# Scalar metrics of an epoch record, in CSV column order.
EPOCH_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "train_accuracy",
    "val_accuracy",
    "lr",
    "epoch_seconds",
    "samples_per_second",
)
# Per-node metrics of an epoch record (dicts keyed by node id).
NODE_METRICS = ("grad_norm", "weight_norm", "dead_fraction", "saturated_fraction")

KEPT_KINDS = frozenset({RecordKind.START, RecordKind.EPOCH, RecordKind.END})  # what a Run keeps
# How the runs list names each status.
STATE_WORDS = {RunStatus.RUNNING: "running", RunStatus.PAUSED: "paused", RunStatus.COMPLETED: "done",
               RunStatus.EARLY_STOPPED: "early stop", RunStatus.STOPPED: "stopped", RunStatus.FAILED: "failed"}


@dataclass
class Run:
    run_id: int
    name: str
    graph_text: str
    settings: dict[str, Any]  # what the run was asked for: epochs, seed, batch_size, device
    summary: str  # one line: optimizer and learning rate, for the runs list
    node_titles: dict[str, str]  # node id -> how plots label it
    checkpoint_dir: str
    started_at: float = field(default_factory=time.time)
    status: RunStatus = RunStatus.RUNNING
    message: str = ""  # the error or stop message, one paragraph
    error_node: str | None = None
    records: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    device: str = ""
    # designer.document.Document.content_token() of the graph the run trained: an export uses
    # this run's weights while the document still holds that content (None: not known).
    content_token: int | None = None
    # The epoch records, computed once per change of ``records`` (the runs list and the
    # progress ask for them after every epoch: a scan each time made long runs quadratic).
    _epochs_cache: tuple[int, int, list[dict]] | None = field(default=None, repr=False, compare=False)

    @property
    def epochs(self) -> list[dict]:
        key = (id(self.records), len(self.records))
        cache = self._epochs_cache
        if cache is None or cache[:2] != key:
            cache = self._epochs_cache = (*key, [r for r in self.records if r.get("kind") == RecordKind.EPOCH])
        return cache[2]

    @property
    def last_epoch(self) -> int:
        epochs = self.epochs
        return int(epochs[-1]["epoch"]) if epochs else 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def can_resume(self) -> bool:
        """A run that was stopped (or failed for a reason other than divergence) with a
        checkpoint on disk can continue where it ended."""
        return (self.status == RunStatus.STOPPED and self.last_epoch < int(self.settings.get("epochs") or 0)
                and has_checkpoint(self.checkpoint_dir))

    def graph(self) -> Graph:
        return fileformat.loads(self.graph_text)

    def label(self) -> str:
        """The runs list's text: where the run stands, then the last epoch's loss and accuracy,
        one split a line::

            Run 2 · done · 300 epochs · Adam lr=0.05
            train loss 0.012 acc 100 %
            val loss 0.03 acc 99.5 %

        One split a line because the list sits in a dock about 270 px wide at the window's
        default size, where both splits on one line were cut off. The optimizer comes last on
        the first line: if anything is cut there, it is that (the tooltip has it)."""
        head = [f"Run {self.run_id}", STATE_WORDS[self.status]]
        progress = self._progress_text()
        if progress:
            head.append(progress)
        head.append(self.summary)
        epochs = self.epochs
        return "\n".join([" · ".join(head), *(metric_parts(epochs[-1]) if epochs else ())])

    def details(self) -> str:
        """The long form for the runs list's tooltip: full names, more digits, the settings."""
        lines = [self.name, self.summary, f"{STATE_WORDS[self.status]}, {self._progress_text() or 'no epochs yet'}"]
        epochs = self.epochs
        if epochs:
            lines.extend(metric_parts(epochs[-1], long=True))
        if self.best_epoch is not None:
            lines.append(f"best epoch: {self.best_epoch}")
        lines.extend(f"{k}: {v}" for k, v in self.settings.items())
        if self.device:
            lines.append(f"trained on: {self.device}")
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)

    def _progress_text(self) -> str:
        """``epoch 5/300`` while it trains, ``300 epochs`` when done, ``12/300 epochs`` when cut short."""
        last, total = self.last_epoch, self.settings.get("epochs")
        if not last:
            return ""
        if self.status in (RunStatus.RUNNING, RunStatus.PAUSED) and total:
            return f"epoch {last}/{total}"
        if self.status != RunStatus.COMPLETED and total and last < int(total):
            return f"{last}/{total} epochs"
        return f"{last} epoch{'s' * (last != 1)}"

    def add_record(self, record: dict) -> None:
        kind = record.get("kind")
        if kind not in KEPT_KINDS:
            return  # step, paused, resumed: progress only
        if kind == RecordKind.EPOCH:
            # A resumed run restarts at the checkpoint's epoch: drop anything it will redo.
            epoch = record.get("epoch")
            if isinstance(epoch, int) and self.last_epoch >= epoch:
                self.records = [r for r in self.records
                                if r.get("kind") != RecordKind.EPOCH or int(r.get("epoch", 0)) < epoch]
                self._epochs_cache = None
        elif kind == RecordKind.START:
            self.device = str(record.get("device", self.device))
        elif kind == RecordKind.END:
            if record.get("best_epoch") is not None:
                self.best_epoch = int(record["best_epoch"])
        self.records.append(record)
        cache = self._epochs_cache
        if kind == RecordKind.EPOCH and cache is not None and cache[:2] == (id(self.records), len(self.records) - 1):
            cache[2].append(record)
            self._epochs_cache = (cache[0], cache[1] + 1, cache[2])

    def metrics_csv(self) -> str:
        """The run's per-epoch metrics as CSV text: scalar columns, then one column per node
        and per-node metric (``grad_norm:n2``), in the order nodes first appear."""
        epochs = self.epochs
        node_cols: dict[str, None] = {}
        for metric in NODE_METRICS:
            for r in epochs:
                for nid in (r.get(metric) or {}):
                    node_cols.setdefault(f"{metric}:{nid}", None)
        scalar = [c for c in EPOCH_COLUMNS if any(c in r for r in epochs)] or list(EPOCH_COLUMNS[:3])
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(scalar + list(node_cols))
        for r in epochs:
            row = [_cell(r.get(c)) for c in scalar]
            for col in node_cols:
                metric, nid = col.split(":", 1)
                row.append(_cell((r.get(metric) or {}).get(nid)))
            writer.writerow(row)
        return out.getvalue()


def metric_parts(record: dict, long: bool = False) -> list[str]:
    """An epoch record's loss and accuracy per split: ``train loss 0.012 acc 100 %`` (``long``:
    ``train loss 0.0123457, accuracy 100.0 %``). Accuracy only where the task has one (the
    trainer sends it for classification only); the validation split only where there is one."""
    parts = []
    for split in ("train", "val"):
        loss, acc = record.get(f"{split}_loss"), record.get(f"{split}_accuracy")
        if not _number(loss) and not _number(acc):
            continue
        text = f"{split} loss {_loss_text(loss, long)}"
        if _number(acc):
            text += f", accuracy {acc * 100:.1f} %" if long else f" acc {_percent(acc)}"
        parts.append(text)
    return parts


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _loss_text(value: Any, long: bool) -> str:
    if not _number(value):
        return "–"
    return f"{value:.6g}" if long else f"{value:.3g}"  # nan and inf print as such: a diverged run says so


def _percent(fraction: float) -> str:
    """``99.5 %``, ``100 %``: one decimal, dropped when it is zero, to keep the line short."""
    if not math.isfinite(fraction):
        return f"{fraction} %"
    text = f"{fraction * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + " %"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # round-trips exactly; nan/inf print as nan/inf
    return str(value)


def has_checkpoint(folder: str) -> bool:
    try:
        return any(not name.startswith(".") for name in os.listdir(folder))
    except OSError:
        return False


def run_summary(graph: Graph) -> str:
    """``Adam lr=0.001`` (plus the schedule's type, if any): what tells runs apart in a list."""
    parts = []
    for node in graph.nodes.values():
        category = node.node_type.category
        if category == "optimizer":
            lr = node.params.get("lr")
            parts.insert(0, f"{node.type} lr={lr:g}" if isinstance(lr, (int, float)) else node.type)
        elif category == "schedule":
            parts.append(node.type)
    return " + ".join(parts) or "no optimizer"


def node_titles(graph: Graph) -> dict[str, str]:
    """How plots and the canvas label a node: its title, else ``n2 Linear``."""
    out = {}
    for nid, node in graph.nodes.items():
        title = " ".join(node.title.split())
        out[nid] = f"{title[:24]} ({nid})" if title and title != nid else f"{nid} {node.type}"
    return out


class RunStore:
    """The session's runs, in the order they started, each with a checkpoint folder."""

    def __init__(self, root: str | None = None):
        self._own_root = root is None
        self.root = root if root is not None else tempfile.mkdtemp(prefix="netwright-runs-")
        os.makedirs(self.root, exist_ok=True)
        self.runs: list[Run] = []
        self._ids = itertools.count(1)

    def new_run(self, graph: Graph, settings: dict[str, Any]) -> Run:
        run_id = next(self._ids)
        folder = os.path.join(self.root, f"run-{run_id:03d}")
        os.makedirs(folder, exist_ok=True)
        title = " ".join(str(graph.settings.get("title") or "").split())[:40]
        run = Run(
            run_id=run_id,
            name=f"Run {run_id}" + (f" {title}" if title else ""),
            graph_text=fileformat.dumps(graph),
            settings=dict(settings),
            summary=run_summary(graph),
            node_titles=node_titles(graph),
            checkpoint_dir=folder,
        )
        self.runs.append(run)
        return run

    def get(self, run_id: int) -> Run | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    def remove(self, run_ids: Iterable[int]) -> None:
        ids = set(run_ids)
        for run in [r for r in self.runs if r.run_id in ids and r.finished]:
            self.runs.remove(run)
            shutil.rmtree(run.checkpoint_dir, ignore_errors=True)

    def close(self) -> None:
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
