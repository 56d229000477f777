"""One export, for the menu and the command line: the files it writes and the words for them.

:func:`export_to` is what both ``Export ▸ Python Script…/ONNX Model…`` and ``netwright export``
run: the caller says which weights (:class:`~.weights.Weights`: a checkpoint and who made it,
or why fresh ones), and gets back :class:`Exported`: every file written and a sentence naming
the weights, which the menu's message and the command's output both show. A script from a
checkpoint travels with ``<script>.weights.pt`` (a plain ``state_dict``), written first.
Everything is checked before anything is written, and every file goes through
``graph.fileformat.atomic_write``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from graph import Graph
from graph.fileformat import atomic_write

from .errors import ExportError
from .onnx import onnx_bytes
from .script import export_python, weights_name
from .sources import STDLIB_IMPORTS, THIRD_PARTY_IMPORTS
from .weights import Weights, checkpoint_model_state, starting_weights, tensor_file

ExportFormat = Literal["python", "onnx"]
# A script named after a module it imports would import itself instead.
SHADOWED = frozenset(STDLIB_IMPORTS + THIRD_PARTY_IMPORTS + ("numpy", "np"))
FRESH = Weights()  # no checkpoint, no reason given


@dataclass(frozen=True)
class Exported:
    """What one export wrote, and which weights it holds (Python: starts from)."""

    format: ExportFormat
    files: tuple[str, ...]  # the script or the model first, then the script's weights file
    weights: str  # "the best weights of Run 2 (epoch 7)", "fresh weights initialised with seed 0"
    from_checkpoint: bool

    def weights_sentence(self) -> str:
        verb = "starts from" if self.format == "python" else "holds"
        return f"It {verb} {self.weights}."

    def report(self) -> str:
        """For a message box: every file written, one per line, then which weights."""
        what = "Python script" if self.format == "python" else "ONNX model"
        what += " and its weights" if len(self.files) > 1 else ""
        return "\n".join([f"Exported the {what}:", *(f"    {path}" for path in self.files), self.weights_sentence()])

    def summary(self) -> str:
        """The same on one line (a status bar)."""
        return f"Exported {', '.join(self.files)}. {self.weights_sentence()}"


def export_to(graph: Graph, output: str, fmt: ExportFormat = "python", base_dir: str | None = None,
              weights: Weights = FRESH, source_name: str | None = None) -> Exported:
    """Write ``graph`` as a training script (plus, from a checkpoint, its weights file
    ``<script>.weights.pt`` beside it) or as an ONNX model. The one export that both the Export
    menu and ``netwright export`` run, so both write the same files and say the same about them.

    ``source_name`` is the graph file's name for the script's header (None: an unsaved graph).
    Raises :class:`ExportError` for an invalid graph, a checkpoint that does not fit it or a
    script name that would shadow a module it imports (all before anything is written), and for
    a file it cannot write."""
    if fmt == "python":
        _check_script_name(output)
    state, described = starting_weights(graph, base_dir, weights)
    if fmt == "onnx":
        write_bytes(output, onnx_bytes(graph, base_dir, state))
        return Exported("onnx", (output,), described, state is not None)
    text = export_python(graph, base_dir, weights.checkpoint if state is not None else None, output,
                         source_name, described if state is not None or weights.reason else None)
    files = [output]
    if state is not None:  # first the weights, then the script that names them
        files.append(os.path.join(os.path.dirname(output), weights_name(output)))  # as given
        write_bytes(files[1], tensor_file(state))
    write_bytes(output, text.encode("utf-8"))
    return Exported("python", tuple(files), described, state is not None)


def write_python(graph: Graph, output: str, base_dir: str | None = None, checkpoint: str | None = None,
                 source_name: str | None = None) -> list[str]:
    """:func:`export_to` as a script, from ``checkpoint``'s weights when given; returns the paths."""
    return list(export_to(graph, output, "python", base_dir, Weights(checkpoint), source_name).files)


def export_onnx(graph: Graph, path: str, base_dir: str | None = None, checkpoint: str | None = None) -> None:
    """Write the graph's model (no loss, no optimizer) as ONNX with a dynamic batch axis.

    Input ``features`` (batch, *features), output ``prediction``; weights from ``checkpoint``
    when given, else the seeded initial weights (``settings.seed``). The file is checked with
    ``onnx.checker`` before it is written."""
    state = checkpoint_model_state(graph, base_dir, checkpoint) if checkpoint else None
    write_bytes(path, onnx_bytes(graph, base_dir, state))


def write_bytes(path: str, data: bytes) -> None:
    """Atomically, through the project's one writer; an OSError becomes an ExportError."""
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def _check_script_name(output: str) -> None:
    stem = os.path.splitext(os.path.basename(output))[0]
    if stem in SHADOWED or not stem:
        raise ExportError(f"a script named {os.path.basename(output)!r} would shadow the module "
                          f"{stem!r} it imports; choose another name")
