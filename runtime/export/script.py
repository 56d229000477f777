"""Assembling an exported script: header, imports, settings, copied helpers, this graph, loop.

A script reads top to bottom as a person would write it: a header saying what it is and how to
run it, the imports, the settings (the defaults of its command-line options), the data and
model helpers it calls (copied verbatim from ``runtime.datagen`` and ``runtime.modules``), the
"This graph" section (``sections.py``) and the training loop (copied verbatim from
``loop.py``). Which helpers and which imports come from what the code uses (``sources.py``):
the loop's closure from ``main``, then the helpers that the graph section and the loop call,
then an import for every name still free. The graph section must define every name the loop
takes from ``this_graph.py``; a script that would not is an internal :class:`ExportError`, as is
one that does not parse or would import a module outside ``sources.STDLIB_IMPORTS`` and
``sources.THIRD_PARTY_IMPORTS``.

The first two lines of a script are fixed text, so no title can become a ``coding:`` cookie.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

from graph import Graph

from .. import codegen, datagen, modules
from ..codegen import comment_lines, flatten, literal
from . import loop, this_graph
from .errors import ExportError
from .plan import Plan, make_plan
from .sections import data_section, model_section, training_parts
from .sources import (
    MAIN,
    STDLIB_IMPORTS,
    THIRD_PARTY_IMPORTS,
    Definition,
    free_names,
    import_lines,
    imports_for,
    library,
    top_level_names,
)

RULE = "# " + "-" * 8


def export_python(graph: Graph, base_dir: str | None = None, checkpoint: str | None = None,
                  script_path: str | None = None, source_name: str | None = None,
                  weights_text: str | None = None) -> str:
    """The standalone training script for ``graph`` (see the package docstring).

    ``base_dir`` is the graph file's folder (relative data paths start there); ``script_path``
    where the script will be written (data paths are made relative to its folder, the header
    names it; default: ``train.py`` in ``base_dir``); ``checkpoint`` a checkpoint whose weights
    the script starts from (the caller writes them next to the script, see ``export_to``);
    ``weights_text`` says in the header which weights those are, or why there are none.
    """
    script_dir = os.path.dirname(os.path.abspath(script_path)) if script_path else base_dir
    script_name = os.path.basename(script_path) if script_path else "train.py"
    weights_file = weights_name(script_name) if checkpoint else None
    try:
        plan = make_plan(graph, base_dir)
        consts, load_fn = data_section(plan, base_dir, script_dir)
        ours = _Ours(_settings(plan, consts, weights_file),
                     [load_fn, model_section(plan, script_globals()), *training_parts(plan)])
    except codegen.LiteralError as exc:
        raise ExportError(f"a value cannot be written into the script: {exc}") from None
    header = _header(plan, source_name or "an unsaved graph", script_name,
                     _weights_note(checkpoint, weights_file, weights_text))
    text = "\n".join(line.rstrip() for line in header + [""] + _body(ours)) + "\n"
    _self_check(text)
    return text


@dataclass(frozen=True)
class _Ours:
    """The lines written from the graph: the settings and the "This graph" blocks."""

    settings: list[str]
    blocks: list[list[str]]

    def text(self) -> str:
        return "\n".join(self.settings + [line for block in self.blocks for line in block])


def _body(ours: _Ours) -> list[str]:
    """Everything below the header: imports, settings, copied helpers, this graph, the loop."""
    loop_lib, data_lib, model_lib = library(loop), library(datagen), library(modules)
    loop_defs = loop_lib.closure({"main", MAIN})
    missing = loop_lib.provided(loop_defs) - top_level_names(ours.text())
    if missing:
        raise ExportError(f"internal: the script does not define {', '.join(sorted(missing))}")
    needed = free_names(ours.text() + "\n" + _joined(loop_defs))
    data_defs = data_lib.closure(needed & set(data_lib.defs))
    model_defs = model_lib.closure(needed & set(model_lib.defs))
    sections = [("Data helpers, copied from Netwright's runtime/datagen.py", data_defs),
                ("Model helpers, copied from Netwright's runtime/modules.py", model_defs)]
    code = _joined(data_defs + model_defs + loop_defs) + "\n" + ours.text()
    imports = imports_for(free_names(code), [loop_lib, data_lib, model_lib])
    lines = import_lines(imports) + [""] + ours.settings
    for title, defs in sections:
        if defs:
            lines += ["", "", f"{RULE} {title}"]
            for d in defs:
                lines += ["", ""] + d.text.splitlines()
    lines += ["", "", f"{RULE} This graph"]
    for block in ours.blocks:
        lines += ["", ""] + block
    lines += ["", "", f"{RULE} Training, copied from Netwright's runtime/export/loop.py",
              "# (the algorithm of runtime/train.py)"]
    for d in loop_defs:
        lines += ["", ""] + d.text.splitlines()
    return lines


def _joined(defs: list[Definition]) -> str:
    return "\n\n".join(d.text for d in defs)


def script_globals() -> frozenset[str]:
    """Every name a script may bind at its top level: a generated variable never takes one."""
    names = {"self", "HERE", "DATA_FILE"}
    for module in (loop, this_graph, datagen, modules):
        lib = library(module)
        names |= set(lib.defs) | set(lib.imports)
    return frozenset(names)


def _settings(plan: Plan, consts: list[str], weights_file: str | None) -> list[str]:
    s, p = plan.graph.settings, plan.run.data_params
    out = [
        "# Settings from the graph: the defaults of the command-line options.",
        f"EPOCHS = {literal(s['epochs'])}",
        f"SEED = {literal(s['seed'])}",
        f"DEVICE = {literal(s['device'])}",
        f"BATCH_SIZE = {literal(p['batch_size'])}  # 0 = full batch",
        f"SHUFFLE = {literal(p['shuffle'])}",
        f"PATIENCE = {literal(s['patience'])}  # early stopping (0 = off)",
        f"MIN_DELTA = {literal(s['min_delta'])}",
        f"RESTORE_BEST = {literal(s['restore_best'])}",
        f"VAL_CHUNK = {literal(_val_chunk())}  # validation rows per forward pass",
        f"CLIP_GRAD_NORM = {literal(plan.run.clip_grad_norm)}  # 0 = no gradient clipping",
    ]
    if consts or weights_file is not None:
        out.insert(0, "HERE = os.path.dirname(os.path.abspath(__file__))")
    if weights_file:
        out.append(f"INITIAL_WEIGHTS = os.path.join(HERE, {literal(weights_file)})")
    else:
        out.append("INITIAL_WEIGHTS = None  # or a state_dict file to start from")
    return out + consts


def _val_chunk() -> int:
    from ..train import VAL_CHUNK  # the app's chunk: the same sums in the same order

    return VAL_CHUNK


def _header(plan: Plan, source_name: str, script_name: str, checkpoint_note: str | None) -> list[str]:
    settings = plan.graph.settings
    # Lines 1 and 2 are fixed: Python reads a coding cookie only there, so no user text goes there.
    out = ["#!/usr/bin/env python3", "# Exported by Netwright: a standalone PyTorch training script.", "#"]
    out += comment_lines(f"Source: {source_name}", limit=120)
    if settings.get("title"):
        out += comment_lines(f"Graph: {settings['title']}", limit=200)
    if settings.get("description"):
        out.append("#")
        out += comment_lines(settings["description"], limit=1200)
    if checkpoint_note:
        out.append("#")
        out += comment_lines(checkpoint_note, limit=400)
    script = flatten(script_name, 60) or "script.py"
    uses_sklearn = plan.run.data_params["dataset"] in datagen.SKLEARN_LOADERS
    needs = "torch, numpy" + (" and scikit-learn" if uses_sklearn else "")
    return out + [
        "#",
        "# Train:",
        *comment_lines(f"python {script} --epochs N --seed S --metrics-out metrics.jsonl", prefix="#     "),
        "# Scale out over processes or machines (DistributedDataParallel: gloo on CPU,",
        "# nccl on GPUs; --batch-size counts the rows of all processes together):",
        *comment_lines(f"torchrun --nproc_per_node=4 {script}", prefix="#     "),
        "# With the same seed on CPU this script repeats `netwright train` on the graph file",
        "# epoch for epoch. It needs " + needs + "; nothing from Netwright.",
    ]


def _weights_note(checkpoint: str | None, weights_file: str | None, weights_text: str | None) -> str | None:
    """The header's sentence about the starting weights (None: nothing worth saying)."""
    if checkpoint:
        which = weights_text or f"the weights of checkpoint {os.path.basename(os.path.normpath(checkpoint))}"
        return f"Starts from {which}, copied next to this script as {weights_file}."
    return f"Starts from {weights_text}." if weights_text else None


def weights_name(script_name: str) -> str:
    """``<script>.weights.pt``: the weights file that travels with a script."""
    stem = os.path.splitext(os.path.basename(script_name))[0] or "model"
    return stem + ".weights.pt"


def _self_check(text: str) -> None:
    """The generated source must parse and import only what it may (a bug here is ours)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:  # pragma: no cover - would be an exporter bug
        raise ExportError(f"internal: the generated script does not parse ({exc})") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for mod in mods:
                if mod.split(".")[0] not in STDLIB_IMPORTS + THIRD_PARTY_IMPORTS:
                    raise ExportError(f"internal: the generated script would import {mod!r}")
