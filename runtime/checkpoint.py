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
"""

from __future__ import annotations

import io
import os
import warnings
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
