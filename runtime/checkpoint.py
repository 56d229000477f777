"""Checkpoints: everything needed to resume a run exactly, written atomically, read safely.

A checkpoint folder holds ``last.pt`` (the newest finished epoch, when the run has a checkpoint
folder) and ``best.pt`` (the newest epoch whose monitored loss improved, when the graph's
``checkpoint_best`` setting is on). The Trainer writes them after every epoch, or, with a
``checkpoint_interval`` (the designer's runs: a few seconds), at most that often and always when
the run ends, however it ends (completed, stopped, diverged, failed): an epoch of a few
milliseconds then does not pay two synced file writes. Each file is one ``torch.save``'d dict
of plain data:

``format``  ``"netwright-checkpoint"``; ``version`` 1
``graph``   the graph file's JSON text (what was trained; the exporter can rebuild from it)
``epoch``   epochs completed
``config``  {"seed", "batch_size", "epochs", "device"} of the run that wrote it
``model``   the model's ``state_dict`` (keys ``n3.weight``: see runtime.names), on the CPU
``optimizer``, ``scheduler`` (or None)   their ``state_dict``s
``rng``     {"torch": global CPU RNG state, "shuffle": the shuffle generator's state,
            "cuda": the current CUDA device's RNG state or None}
``early_stopping``  {"best": float, "best_epoch": int, "bad_epochs": int}
``best_model``      the best epoch's ``state_dict`` kept for restore_best, or None
``records``  every record emitted so far (plain dicts)

Invariants:

* Writing is atomic (temporary file in the same folder, fsync, ``os.replace``): a crash leaves
  the previous checkpoint intact.
* Reading uses ``torch.load(..., weights_only=True)`` only: tensors, numbers, strings, lists,
  tuples and dicts. A file carrying any other pickle object (code) is refused with a
  :class:`CheckpointError` before anything in it runs, and the refusal is the only thing said:
  torch's warnings while reading an untrusted file are not shown.
* :class:`Checkpointer` never lets ``best.pt`` be older than what ``last.pt`` says was best: a
  pending best state goes out with the next write of ``last.pt``.
"""

from __future__ import annotations

import io
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from graph.fileformat import atomic_write

from .errors import CheckpointError

FORMAT = "netwright-checkpoint"
VERSION = 1
LAST = "last.pt"
BEST = "best.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` (see the module docstring) to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write(path, buffer.getvalue())
    except OSError as exc:
        raise CheckpointError(f"cannot write the checkpoint '{path}': {exc.strerror or exc}") from None


def checkpoint_path(path: str | os.PathLike, name: str = LAST) -> str:
    """A checkpoint folder → its ``last.pt`` (or ``name``); a file path is returned as is."""
    path = os.fspath(path)
    return os.path.join(path, name) if os.path.isdir(path) else path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file or folder (then its ``last.pt``); CheckpointError for anything
    that is not a readable Netwright checkpoint. Tensors are loaded onto the CPU."""
    file = checkpoint_path(path)
    if not os.path.isfile(file):
        raise CheckpointError(f"no checkpoint at '{file}'")
    try:
        with warnings.catch_warnings():
            # A file pickled with protocol 4 or 5 (pickle.dump's defaults) makes torch warn
            # before it reads (or refuses) it; our refusal below already says everything, and a
            # warning line printed first only made the message harder to read.
            warnings.simplefilter("ignore")
            state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # an untrusted file: any failure is a refusal, never a crash
        reason = " ".join(str(exc).split())
        if "Weights only load failed" in reason or "Unsupported global" in reason:
            reason = "it contains Python objects other than tensors and numbers (refused without running them)"
        raise CheckpointError(f"'{file}' is not a readable Netwright checkpoint: {reason[:300]}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"'{file}' is not a Netwright checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(f"'{file}' has checkpoint version {state.get('version')!r}; "
                              f"this Netwright reads version {VERSION}")
    for key in ("epoch", "model", "optimizer", "rng", "records", "config"):
        if key not in state:
            raise CheckpointError(f"'{file}' is incomplete: it has no '{key}'")
    return state


class Checkpointer:
    """Writes a run's ``last.pt`` (and ``best.pt``) in its checkpoint folder, after every epoch
    or, with an interval, at most every ``interval`` seconds: the epochs in between are kept as
    one copied state in memory (the newest) and written by the next due write or by
    :meth:`flush` when the run ends. A pending best state is always written with the next write,
    so ``best.pt`` is never older than what ``last.pt`` says was best.

    A state is a dict as the Trainer makes it (see :func:`for_file`); ``clock``: seconds, for the
    interval (tests pass a fake one).
    """

    def __init__(self, folder: str, interval: float, clock: Callable[[], float] = time.perf_counter):
        self.folder = folder
        self.interval = max(float(interval or 0.0), 0.0)
        self._clock = clock
        self._due = clock() + self.interval
        self._last: dict | None = None  # newest epoch's copied state, not yet written
        self._best: dict | None = None  # newest improved epoch's copied state, not yet written

    @property
    def pending(self) -> bool:
        """Whether a finished epoch waits in memory for the next write."""
        return self._last is not None

    def epoch_done(self, make_state: Callable[..., dict], best: bool) -> None:
        """``make_state(copy=...)``: the finished epoch's state; ``best``: it goes to best.pt too."""
        if self._clock() >= self._due:
            state = make_state(copy=False)  # written now, before training changes it: no copy
            self._write(state, best_state=state if best else self._best)
            self._due = self._clock() + self.interval
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
            save_checkpoint(os.path.join(self.folder, BEST), for_file(best_state))
        save_checkpoint(os.path.join(self.folder, LAST), for_file(state))


def for_file(state: dict) -> dict:
    """A Trainer's checkpoint state as the file stores it: weights on the CPU, and the records,
    which the state holds as a function (``"records"``: called when written), as a list."""
    out = dict(state)
    out["model"] = {k: v.cpu() for k, v in state["model"].items()}
    if state["best_model"] is not None:
        out["best_model"] = {k: v.detach().cpu() for k, v in state["best_model"].items()}
    out["records"] = state["records"]()
    return out


def copied(obj: Any) -> Any:
    """``obj`` with every tensor in it cloned (dicts, lists and tuples rebuilt)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: copied(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(copied(v) for v in obj)
    return obj
