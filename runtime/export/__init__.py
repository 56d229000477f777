"""Export a graph as a standalone PyTorch training script, or its model as ONNX.

``export_python(graph)`` returns the source of one script that imports only torch, numpy, the
standard library and (for the built-in scikit-learn sets) scikit-learn. It reads like a person
wrote it: a header, the imports, the settings, the helpers it needs copied verbatim from
``runtime.datagen`` and ``runtime.modules``, the "This graph" section (``load_data()``, one
``Model(nn.Module)`` with one line per layer in ``__init__`` and one assignment per node in
``forward``, the loss, optimizer and schedule factories and the optional hooks), then the
training loop copied verbatim from :mod:`.loop`, and an ``argparse`` main.

The package, by job:

* ``plan.py``: what the script needs from the graph (``runtime.build.training_plan``, the
  model's nodes);
* ``sources.py``: copying definitions by source, with what each needs worked out from its
  code, and the import block;
* ``sections.py``: the code written from the graph; ``script.py``: assembling the script;
* ``loop.py``: the training loop, real Python that unit tests import and run
  (``this_graph.py`` stands in for a script's graph section there);
* ``weights.py``, ``files.py``: which weights an export starts from, the files it writes;
  ``onnx.py``: the model as ONNX; ``cli.py``: ``netwright export``.

Invariants:

* **Same run, same numbers.** The script performs the run algorithm of ``runtime.train`` (see
  its docstring) with the same calls in the same order: seed, modules created in topological
  order with each init right after creation, the same data calls as ``runtime.data``, the
  optimizer over ``model.parameters()``, the same ``torch.Generator`` permutation per epoch, the
  same per-batch steps. Constructor arguments come from the catalogue's one ``kwargs`` function
  per node type, the very function ``runtime.build`` calls, and module attribute names come
  from ``runtime.names.attribute_names``, which ``runtime.build`` also uses, so ``state_dict``
  keys agree and a Netwright checkpoint loads into the script.
* **Nothing from the file becomes code.** Identifiers come from a ``codegen.Namespace``, values
  from ``codegen.literal`` (the one allow-listed printer), user text only from
  ``codegen.comment_lines``/``inline_comment`` (one line each, printable characters, capped).
  The first two lines of a script are fixed text, so no title can become a ``coding:`` cookie.
* **No code in strings.** Code that every script shares lives as Python in a module
  (``loop.py``, ``runtime.modules``, ``runtime.datagen``) and is copied by source; what a graph
  changes is ordinary Python in its "This graph" section (``penalty = None`` where no layer has
  a penalty), never a template.
* **Scale out.** Under ``torchrun`` the script joins a process group (gloo on CPU, nccl on
  CUDA), wraps the model in ``DistributedDataParallel``, gives each rank a slice of every batch
  of the shared permutation, scales each rank's loss so that the averaged gradient equals the
  one-process gradient of the whole batch, sums metrics over ranks, and only rank 0 logs and
  saves.
* **Checkpoints.** ``checkpoint=DIR`` copies that checkpoint's model weights next to the
  script as ``<script>.weights.pt`` (a plain ``state_dict``) and the script loads them with
  ``torch.load(weights_only=True)``; ``--weights`` chooses another file, ``--save`` writes one.
* **One export.** :func:`export_to` is what both ``Export ▸ Python Script…/ONNX Model…`` and
  ``netwright export`` run; it returns :class:`Exported`, every file written and a sentence
  naming the weights. Every file goes through ``graph.fileformat.atomic_write``.

``export_onnx(graph, path)`` exports the live model (no loss, no optimizer) with a dynamic
batch axis and checks it with ``onnx.checker``. Every failure is an :class:`ExportError` with a
message that says why; ``cmd_export`` prints it and exits 2.
"""

from __future__ import annotations

from .cli import cmd_export
from .errors import ExportError
from .files import Exported, ExportFormat, export_onnx, export_to, write_python
from .onnx import example_input
from .script import export_python
from .sources import STDLIB_IMPORTS, THIRD_PARTY_IMPORTS
from .weights import Weights, checkpoint_model_state

__all__ = [
    "STDLIB_IMPORTS",
    "THIRD_PARTY_IMPORTS",
    "ExportError",
    "ExportFormat",
    "Exported",
    "Weights",
    "checkpoint_model_state",
    "cmd_export",
    "example_input",
    "export_onnx",
    "export_python",
    "export_to",
    "write_python",
]
