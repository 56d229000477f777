"""The weights an export starts from: a checkpoint's (checked against the graph) or fresh ones.

:class:`Weights` is what a caller says (a checkpoint and who made it, or why there is none);
:func:`starting_weights` turns it into a ``state_dict`` (None: fresh, seeded weights) and the
words that name those weights to the user, which the script's header, the menu's message and
the command's output all show.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from graph import Graph

from ..codegen import flatten
from ..errors import RunError
from .errors import ExportError


@dataclass(frozen=True)
class Weights:
    """The weights an export starts from: a checkpoint's, or fresh seeded ones.

    ``checkpoint`` is a checkpoint file or folder (then its ``last.pt``); ``origin`` names its
    maker in messages (``"Run 2"``; default: the checkpoint's path); ``reason`` says why there is
    no checkpoint (``"no run of this graph has finished yet"``)."""

    checkpoint: str | None = None
    origin: str = ""
    reason: str = ""


def starting_weights(graph: Graph, base_dir: str | None, weights: Weights) -> tuple[dict | None, str]:
    """``(state_dict or None for fresh weights, how to name them to the user)``."""
    if not weights.checkpoint:
        why = f" ({weights.reason})" if weights.reason else ""
        return None, f"fresh weights initialised with seed {int(graph.settings.get('seed', 0))}{why}"
    from ..checkpoint import BEST, checkpoint_path

    state, epoch = checkpoint_weights(graph, base_dir, weights.checkpoint)
    origin = weights.origin or f"checkpoint {weights.checkpoint}"
    if os.path.basename(checkpoint_path(weights.checkpoint)) == BEST:
        return state, f"the best weights of {origin} (epoch {epoch})"
    return state, f"the weights of {origin} after epoch {epoch}"


def checkpoint_model_state(graph: Graph, base_dir: str | None, checkpoint: str) -> dict:
    """The model weights of a checkpoint (file, or folder → ``last.pt``), checked against the
    graph's model: same keys, same shapes (ExportError otherwise)."""
    return checkpoint_weights(graph, base_dir, checkpoint)[0]


def checkpoint_weights(graph: Graph, base_dir: str | None, checkpoint: str) -> tuple[dict, int]:
    """:func:`checkpoint_model_state` and the checkpoint's epoch."""
    from .. import checkpoint as ckpt
    from ..build import build_model

    try:
        saved = ckpt.load_checkpoint(checkpoint)
        model = build_model(graph, base_dir)
    except RunError as exc:
        raise ExportError(f"cannot use checkpoint {checkpoint}: {exc}") from None
    state = saved["model"]
    if not isinstance(state, dict):
        raise ExportError(f"checkpoint {checkpoint} holds no model weights")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, KeyError) as exc:
        raise ExportError(f"checkpoint {checkpoint} does not fit this graph's model: "
                          f"{flatten(str(exc), 400)}") from None
    return model.state_dict(), int(saved["epoch"])


def tensor_file(state: dict) -> bytes:
    """A plain ``state_dict`` file (it loads with ``torch.load(weights_only=True)``)."""
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
