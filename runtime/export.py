"""Export a graph as a standalone PyTorch training script, or its model as ONNX.

``export_python(graph)`` returns the source of one script that imports only torch, numpy, the
standard library and (for the built-in scikit-learn sets) scikit-learn. It reads like a person
wrote it: a header, the helper functions it needs copied verbatim from ``runtime.datagen`` and
``runtime.modules`` (with ``inspect.getsource``), ``load_data()``, one ``Model(nn.Module)`` with
one line per layer in ``__init__`` and one assignment per node in ``forward``, the loss,
optimizer and schedule factories, the training loop, and an ``argparse`` main.

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
* **Scale out.** Under ``torchrun`` the script joins a process group (gloo on CPU, nccl on
  CUDA), wraps the model in ``DistributedDataParallel``, gives each rank a slice of every batch
  of the shared permutation, scales each rank's loss so that the averaged gradient equals the
  one-process gradient of the whole batch, sums metrics over ranks, and only rank 0 logs and
  saves.
* **Checkpoints.** ``checkpoint=DIR`` copies that checkpoint's model weights next to the
  script as ``<script>.weights.pt`` (a plain ``state_dict``) and the script loads them with
  ``torch.load(weights_only=True)``; ``--weights`` chooses another file, ``--save`` writes one.
* **One export.** :func:`export_to` is what both ``Export ▸ Python Script…/ONNX Model…`` and
  ``netwright export`` run: the caller says which weights (:class:`Weights`: a checkpoint and
  who made it, or why fresh ones), and gets back :class:`Exported`: every file written and a
  sentence naming the weights, which the menu's message and the command's output both show.
  Every file goes through ``graph.fileformat.atomic_write``.

``export_onnx(graph, path)`` exports the live model (no loss, no optimizer) with a dynamic
batch axis and checks it with ``onnx.checker``. Every failure is an :class:`ExportError` with a
message that says why; ``cmd_export`` prints it and exits 2.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import keyword
import os
import re
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from graph import Graph, analyze, load_path
from graph.errors import GraphError
from graph.fileformat import atomic_write

from . import codegen, datagen
from .codegen import (
    LINE_WIDTH,
    Namespace,
    comment_lines,
    display_width,
    flatten,
    inline_comment,
    literal,
)
from .errors import RunError
from .names import attribute_names

_NUMBERED = re.compile(r"n(\d{1,12})")


class ExportError(RunError):
    """The graph cannot be exported; the message says why (and which node)."""


# Standard-library modules the script may import (the tests walk its AST against this list).
STDLIB_IMPORTS = ("argparse", "csv", "gc", "io", "json", "math", "os", "time", "zipfile")
THIRD_PARTY_IMPORTS = ("numpy", "sklearn", "torch")
# Module names the script binds at top level; a file's ids never shadow them.
SCRIPT_GLOBALS = frozenset({
    "argparse", "gc", "json", "math", "os", "time", "np", "torch", "nn", "F", "dist", "DistributedDataParallel",
    "Model", "load_data", "make_loss", "make_optimizer", "make_scheduler", "loss_target", "penalty",
    "apply_max_norm", "accuracy", "train", "main", "pick_device", "setup_distributed", "all_sum",
    "evaluate", "parse_args", "HERE", "SETTINGS", "DATA_FILE", "INITIAL_WEIGHTS", "REGULARISED",
    "csv", "io", "zipfile", "sklearn", "self",
})


# ------------------------------------------------------------------ helper copying


@dataclass
class _Definition:
    name: str
    start: int  # line index in the module source, for ordering
    text: str
    uses: set[str]


@dataclass
class _Library:
    """Top-level definitions and imports of one module, for copying helpers by name."""

    module: ModuleType
    defs: dict[str, _Definition] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def of(cls, module: ModuleType) -> _Library:
        source = inspect.getsource(module)
        lines = source.splitlines()
        lib = cls(module)
        for node in ast.parse(source).body:
            if isinstance(node, ast.Import):
                for a in node.names:
                    lib.imports[a.asname or a.name.split(".")[0]] = ("import", a.name, a.asname)
                continue
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if node.module != "__future__":
                        lib.imports[a.asname or a.name] = ("from", node.module or "", a.name + (f" as {a.asname}" if a.asname else ""))
                continue
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = [node.name]
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
                names = [t.id for t in node.targets]  # type: ignore[attr-defined]
                first = node.lineno
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
                first = node.lineno
            else:
                continue
            text = "\n".join(lines[first - 1 : node.end_lineno])
            uses = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            uses |= {n.value.id for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
            for name in names:
                lib.defs[name] = _Definition(name, first, text, uses - {name})
        return lib

    def closure(self, names: set[str]) -> tuple[list[_Definition], set[str]]:
        """The definitions ``names`` need (transitively), in source order, and the imports they use."""
        todo, seen = list(names), set()
        while todo:
            name = todo.pop()
            if name in seen or name not in self.defs:
                if name not in self.defs and name in names:
                    raise ExportError(f"internal: {self.module.__name__} has no helper {name!r}")
                continue
            seen.add(name)
            todo.extend(u for u in self.defs[name].uses if u in self.defs)
        defs = sorted({id(self.defs[n]): self.defs[n] for n in seen}.values(), key=lambda d: d.start)
        used = set().union(*(d.uses for d in defs)) if defs else set()
        return defs, {n for n in used if n in self.imports}


_LIBRARIES: dict[str, _Library] = {}


def _library(module: ModuleType) -> _Library:
    if module.__name__ not in _LIBRARIES:
        _LIBRARIES[module.__name__] = _Library.of(module)
    return _LIBRARIES[module.__name__]


# ------------------------------------------------------------------ import block


def _import_block(imports: set[tuple[str, str, str | None]]) -> list[str]:
    """isort-ordered import lines: stdlib then third party; ``import x`` before ``from x``."""
    def section(mod: str) -> int:
        return 0 if mod.split(".")[0] in STDLIB_IMPORTS else 1

    def fmt(kind: str, mod: str, what: str | None) -> str:
        if kind == "import":
            return f"import {mod}" + (f" as {what}" if what else "")
        return f"from {mod} import {what}"

    out: list[str] = []
    for sec in (0, 1):
        rows = sorted((i for i in imports if section(i[1]) == sec),
                      key=lambda i: (i[0] == "from", i[1].lower(), (i[2] or "").lower()))
        merged: list[str] = []
        froms: dict[str, list[str]] = {}
        for kind, mod, what in rows:
            if kind == "from":
                froms.setdefault(mod, []).append(what or "")
            else:
                merged.append(fmt(kind, mod, what))
        for mod in sorted(froms, key=str.lower):
            merged.append(f"from {mod} import {', '.join(sorted(set(froms[mod])))}")
        if merged:
            out.extend(merged)
            out.append("")
    return out[:-1] if out else out


# ------------------------------------------------------------------ the plan


@dataclass
class _Plan:
    """What the script needs, gathered from the graph before any text is written."""

    graph: Graph
    analysis: Any
    order: list[str]  # model nodes (layers and activations) in topological order
    data: str
    loss: str
    optimizer: str
    schedule: str | None
    attrs: dict[str, str]  # node id -> module attribute (runtime.names)
    values: dict[tuple[str, str], str] = field(default_factory=dict)  # (node, port) -> forward variable
    helpers: set[str] = field(default_factory=set)  # runtime.modules definitions to copy
    data_helpers: set[str] = field(default_factory=set)  # runtime.datagen definitions to copy
    imports: set[tuple[str, str, str | None]] = field(default_factory=set)
    flags: dict[str, Any] = field(default_factory=dict)  # penalty, max_norm, clip: optional loop lines


def _plan(graph: Graph, base_dir: str | None) -> _Plan:
    analysis = analyze(graph, base_dir)
    if analysis.errors:
        shown = "; ".join(flatten(f.text(graph), 160) for f in analysis.errors[:3])
        more = f" (and {len(analysis.errors) - 3} more)" if len(analysis.errors) > 3 else ""
        raise ExportError(f"the graph is not valid, so it cannot be exported: {shown}{more}")
    by_cat: dict[str, list[str]] = {}
    for nid, node in graph.nodes.items():
        by_cat.setdefault(node.node_type.category, []).append(nid)
    # The model: the nodes that lead into the loss's prediction input, in topological order
    # (runtime.build's rule; other nodes are neither created nor run).
    data, loss = by_cat["data"][0], by_cat["loss"][0]
    needed: set[str] = set()
    stack = [graph.edges_into(loss, "prediction")[0].source.node]
    while stack:
        nid = stack.pop()
        if nid not in needed and nid != data:
            needed.add(nid)
            stack.extend(graph.predecessors(nid))
    order = [nid for nid in graph.topological_order() if nid in needed]
    for nid in order:
        if graph.nodes[nid].node_type.category not in ("layer", "activation"):
            raise ExportError(f"{graph.nodes[nid].label()} cannot be part of the model")
    opt = by_cat["optimizer"][0]
    sched_edges = graph.edges_into(opt, "schedule")
    return _Plan(graph, analysis, order, data, loss, opt,
                 sched_edges[0].source.node if sched_edges else None, attribute_names(graph.nodes))


# ------------------------------------------------------------------ sections


def _header(plan: _Plan, source_name: str, script_name: str, checkpoint_note: str | None) -> list[str]:
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
    uses_sklearn = plan.graph.nodes[plan.data].params["dataset"] in datagen.SKLEARN_LOADERS
    needs = "torch, numpy" + (" and scikit-learn" if uses_sklearn else "")
    out += [
        "#",
        "# Train:",
        *comment_lines(f"python {script} --epochs N --seed S --metrics-out metrics.jsonl", prefix="#     "),
        "# Scale out over processes or machines (DistributedDataParallel: gloo on CPU,",
        "# nccl on GPUs; --batch-size counts the rows of all processes together):",
        *comment_lines(f"torchrun --nproc_per_node=4 {script}", prefix="#     "),
        "# With the same seed on CPU this script repeats `netwright train` on the graph file",
        "# epoch for epoch. It needs " + needs + "; nothing from Netwright.",
    ]
    return out


def _data_section(plan: _Plan, base_dir: str | None, script_dir: str | None) -> tuple[list[str], list[str]]:
    """``(constants, load_data function)`` reproducing runtime.data.load_dataset's calls."""
    p = plan.graph.nodes[plan.data].params
    name = p["dataset"]
    consts: list[str] = []
    body: list[str] = []
    if name in datagen.GENERATORS:
        fn = datagen.GENERATORS[name].__name__
        plan.data_helpers.add(fn)
        args = ", ".join(literal(p[a]) for a in datagen.GENERATOR_ARGS[name])
        body += [f"rng = np.random.default_rng({literal(p['split_seed'])})", f"x, y = {fn}({args}, rng)"]
    elif name in datagen.SKLEARN_LOADERS:
        plan.data_helpers.add("load_sklearn")
        body.append(f"x, y, _ = load_sklearn({literal(name)})")
        if name == "digits" and p["layout"] == "image":
            body.append("x = x.reshape(-1, 1, 8, 8)  # 1x8x8 images")
    else:
        path = os.path.join(base_dir, p["path"]) if base_dir and not os.path.isabs(p["path"]) else p["path"]
        path = os.path.abspath(path)
        rel = None
        if script_dir is not None:
            try:
                rel = os.path.relpath(path, os.path.abspath(script_dir))
            except ValueError:  # another drive (Windows)
                rel = None
            if rel is not None and (rel == os.pardir or rel.startswith(os.pardir + os.sep)):
                rel = None  # not below the script's folder: keep the absolute path
        consts.append("# The data file: relative to this script's folder when it lies below it.")
        if rel is not None:
            consts.append(f"DATA_FILE = os.path.join(HERE, {literal(rel.replace(os.sep, '/'), 0)})")
        else:
            consts.append(f"DATA_FILE = {literal(path, 0)}")
        if name == "csv":
            plan.data_helpers.add("read_csv")
            body.append(f"x, y, _ = read_csv(DATA_FILE, {literal(p['target_column'])}, {literal(p['task'])})")
        else:
            plan.data_helpers.add("read_npz")
            body.append(f"x, y, _ = read_npz(DATA_FILE, {literal(p['task'])})")
    plan.data_helpers.add("split_indices")
    body.append("train_rows, val_rows, _ = split_indices(len(x), "
                f"{literal(p['val_split'])}, {literal(p['test_split'])}, {literal(p['split_seed'])})")
    prep = p["preprocessing"]
    if prep == "none":
        body += ["x_train, x_val = x[train_rows], x[val_rows]"]
    else:
        plan.data_helpers |= {"fit_preprocessing", "apply_preprocessing"}
        body += [
            "# Statistics from the training rows only, then applied to both splits.",
            f"stats = fit_preprocessing({literal(prep)}, x[train_rows], "
            f"{literal(p['pca_components'])}, {literal(p['whiten_eps'])})",
            "x_train = apply_preprocessing(stats, x[train_rows])",
            "x_val = apply_preprocessing(stats, x[val_rows])",
        ]
    body.append("return x_train, y[train_rows], x_val, y[val_rows]")
    fn = ["def load_data():",
          '    """Training and validation arrays, made exactly as Netwright makes them."""']
    fn += [_wrap_call(line, 4) for line in body]
    return consts, fn


def _wrap_call(line: str, indent: int) -> str:
    """Indent one statement; a too-long call is split after its opening parenthesis."""
    pad = " " * indent
    if display_width(pad + line) <= LINE_WIDTH or "(" not in line or "\n" in line:
        return pad + line
    head, _, rest = line.partition("(")
    assert rest.endswith(")"), line
    args = rest[:-1]
    return f"{pad}{head}(\n{pad}    {args}\n{pad})"


# ------------------------------------------------------------------ fixed text: running

_RUNNING = '''
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
'''


# ------------------------------------------------------------------ the model

_DROPCONNECT_CLASSES = {"nn.Linear": "DropConnectLinear", "nn.Conv1d": "DropConnectConv1d", "nn.Conv2d": "DropConnectConv2d"}


def _kwargs(plan: _Plan, nid: str) -> dict[str, Any]:
    node = plan.graph.nodes[nid]
    return node.node_type.torch_kwargs(node.params, plan.analysis.inputs[nid])


def _call_args(kwargs: dict[str, Any], indent: int) -> list[str]:
    """``["name=<literal>", ...]``: names are the catalogue's keyword names, values literals."""
    for name in kwargs:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ExportError(f"internal: keyword argument {name!r} is not an identifier")
    return [f"{k}={literal(v, indent)}" for k, v in kwargs.items()]


def _call(head: str, args: list[str], indent: int, comment: str = "") -> list[str]:
    """``head(args)`` as source lines at ``indent``: on one line when it fits (with the trailing
    comment), else the arguments on one continuation line, else one argument per line (the
    comment then goes on its own line above)."""
    pad = " " * indent
    one = f"{pad}{head}({', '.join(args)})"
    tail = inline_comment(comment, one) if comment else ""
    if "\n" not in one and display_width(one + tail) <= LINE_WIDTH and (tail or not comment):
        return [one + tail]
    above = comment_lines(comment, indent=indent, limit=80) if comment else []
    if "\n" not in one and display_width(one) <= LINE_WIDTH:
        return above + [one]
    inner = ", ".join(args)
    if "\n" not in inner and display_width(pad + "    " + inner) <= LINE_WIDTH:
        return above + [f"{pad}{head}(", f"{pad}    {inner}", f"{pad})"]
    return above + [f"{pad}{head}("] + [f"{pad}    {a}," for a in args] + [f"{pad})"]


def _model_section(plan: _Plan) -> list[str]:
    g = plan.graph
    ns = Namespace(SCRIPT_GLOBALS | set(plan.attrs.values()))
    m = _NUMBERED.fullmatch(plan.data)
    data_var = ns.create_name(f"x{m.group(1)}" if m else "features")
    plan.values[(plan.data, "features")] = data_var
    init: list[str] = []
    fwd: list[str] = []
    for nid in plan.order:
        node = g.nodes[nid]
        t = node.node_type
        attr = plan.attrs[nid]
        m = _NUMBERED.fullmatch(nid)
        var = ns.create_name(f"x{m.group(1)}" if m else nid)
        plan.values[(nid, "output")] = var
        args = []
        for port in t.inputs:
            edges = g.edges_into(nid, port.name)
            names = [plan.values[(e.source.node, e.source.port)] for e in edges]
            args.append(names if port.many else names[0])
        kind, _, target = t.torch.partition(".")
        kw = _kwargs(plan, nid)
        title = node.title if node.title and node.title != nid else ""
        if kind in ("nn", "custom", "recurrent"):
            cls = f"nn.{target}" if kind in ("nn", "recurrent") else target
            if kind == "custom":
                plan.helpers.add(target)
            p = node.params
            if p.get("dropconnect", 0.0) > 0.0:
                if kind == "custom":
                    kw = {**kw, "dropconnect": p["dropconnect"]}
                else:
                    cls = _DROPCONNECT_CLASSES[t.torch]
                    plan.helpers.add(cls)
                    kw = {**kw, "dropconnect": p["dropconnect"]}
            init += _call(f"self.{attr} = {cls}", _call_args(kw, 12), 8, title)
            inits = {k: p[k] for k in ("weight_init", "bias_init", "bias_value") if k in p}
            if any(inits.get(k, "default") != "default" for k in ("weight_init", "bias_init")):
                plan.helpers.add("apply_init")
                init += _call("apply_init", [f"self.{attr}", *_call_args(inits, 12)], 8)
            expr = f"self.{attr}({args[0]})"
            if kind == "recurrent":  # modules.recurrent_output: (output, state)[0], last step or all
                expr = f"self.{attr}({args[0]})[0]" + ("[:, -1]" if p["output"] == "last" else "")
        elif t.torch == "fn.add":
            expr = " + ".join(args[0])
        elif t.torch == "fn.cat":
            expr = f"torch.cat([{', '.join(args[0])}], dim={literal(kw['dim'])})"
        elif t.torch == "fn.reshape":
            shape = ", ".join(literal(d) for d in kw["shape"])
            expr = f"{args[0]}.reshape({args[0]}.shape[0], {shape})"
        elif t.torch == "fn.step":
            plan.helpers.add("step")
            expr = f"step({args[0]})"
        elif t.torch == "fn.sign":
            expr = f"torch.sign({args[0]})"
        else:
            raise ExportError(f"{node.label()}: the exporter does not know the target {t.torch!r}")
        line = f"{var} = {expr}"
        comment = inline_comment(title, "        " + line) if kind not in ("nn", "custom", "recurrent") else ""
        fwd.append(_wrap_call(line, 8) + comment)
    pred = g.edges_into(plan.loss, "prediction")[0].source
    out = ["class Model(nn.Module):"]
    title = g.settings.get("title", "")
    out += comment_lines(f"The network of '{title}'." if title else "The network of the graph.", indent=4)
    out += ["    def __init__(self):", "        super().__init__()"]
    if plan.order:
        out += ["        # One line per layer, created in the graph's order (this order draws the",
                "        # initial weights from the seeded random number generator)."]
    out += init
    out += ["", f"    def forward(self, {data_var}):"] + fwd + [f"        return {plan.values[(pred.node, pred.port)]}"]
    return out


# ------------------------------------------------------------------ loss, optimizer, schedule, regularisation


def _torch_name(target: str, prefix: str) -> str:
    name = target[len(prefix):] if target.startswith(prefix) else ""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ExportError(f"internal: unexpected torch target {target!r}")
    return name


def _training_parts(plan: _Plan) -> list[str]:
    g = plan.graph
    loss = g.nodes[plan.loss]
    opt = g.nodes[plan.optimizer]
    target = plan.analysis.outputs[plan.data]["target"]
    classes = target.classes or 0
    loss_name = _torch_name(loss.node_type.torch, "loss.")
    opt_name = _torch_name(opt.node_type.torch, "optim.")
    plan.helpers |= {"adapt_target", "correct_count"}
    out = [
        "def make_loss():",
        *comment_lines(loss.title, indent=4),
        *_call(f"return nn.{loss_name}", _call_args(_kwargs(plan, plan.loss), 8), 4),
        "",
        "",
        "def loss_target(y):",
        '    """The targets of a whole split in the form the loss expects."""',
        f"    return adapt_target({literal(loss_name)}, y, {literal(classes)})",
    ]
    classification = target.task == "classification" or (target.task is None and target.dtype == "int64")
    if classification:
        out += ["", "", "def count_correct(prediction, target):",
                '    """Correctly classified rows of a batch (a tensor, so no device sync)."""',
                f"    return correct_count({literal(loss_name)}, prediction, target)"]
    else:
        plan.helpers.discard("correct_count")
    okw = _kwargs(plan, plan.optimizer)
    out += ["", "", "def make_optimizer(model):"]
    out += comment_lines(opt.title, indent=4)
    out += _call(f"return torch.optim.{opt_name}", ["model.parameters()", *_call_args(okw, 8)], 4)
    out += ["", "", "def make_scheduler(optimizer):", '    """Stepped once after every epoch."""']
    if plan.schedule:
        s = g.nodes[plan.schedule]
        skw = _call_args(_kwargs(plan, plan.schedule), 8)
        name = _torch_name(s.node_type.torch, "lr_scheduler.")
        out += _call(f"return torch.optim.lr_scheduler.{name}", ["optimizer", *skw], 4)
    else:
        out.append("    return None  # the graph has no learning-rate schedule")
    penalties, norms = [], []
    for nid in plan.order:
        p = g.nodes[nid].params
        attr = plan.attrs[nid]
        if p.get("l1", 0.0) or p.get("l2", 0.0):
            penalties.append(f"    terms += [(w, {literal(p['l1'])}, {literal(p['l2'])}) for w in layer_weights(model.{attr})]")
        if p.get("max_norm", 0.0):
            norms.append(f"    constraints += [(w, {literal(p['max_norm'])}) for w in layer_weights(model.{attr})]")
    if penalties:
        plan.helpers |= {"layer_weights", "regularization_penalty"}
        out += ["", "", "def penalty(model):", '    """L1/L2 penalty of the layers that ask for one, added to the data loss."""',
                "    terms = []", *penalties, "    return regularization_penalty(terms)"]
    if norms:
        plan.helpers |= {"layer_weights", "apply_max_norm"}
        out += ["", "", "def max_norm(model):", '    """Max-norm: project each unit\'s incoming weights after every step."""',
                "    constraints = []", *norms, "    apply_max_norm(constraints)"]
    plan.flags = {"penalty": bool(penalties), "max_norm": bool(norms), "classification": classification,
                  "clip": float(opt.params.get("clip_grad_norm", 0.0))}
    return out


# ------------------------------------------------------------------ fixed text: the training loop
# Lines tagged ``#?flag`` are kept only when the graph needs them (the tag is removed).

_LOOP = '''
def evaluate(model, criterion, x, target, rank, world_size):
    \"\"\"Summed loss and correct count over a split, in eval mode without gradients, in
    chunks of VAL_CHUNK rows. Each process takes every world_size-th row; the sums are
    combined, so every process gets the totals of the whole split.\"\"\"
    model.eval()
    rows = torch.arange(rank, len(x), world_size, device=x.device)
    x, target = x[rows], target[rows]
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    with torch.no_grad():
        for i in range(0, len(x), VAL_CHUNK):
            prediction = model(x[i:i + VAL_CHUNK])
            chunk = target[i:i + VAL_CHUNK]
            loss_sum = loss_sum + criterion(prediction, chunk) * len(chunk)
            correct = correct + count_correct(prediction, chunk)  #?classification
    all_sum(loss_sum, correct)
    return loss_sum, correct


def train(args):
    \"\"\"Set up (one process, or one of many under torchrun), run, clean up.\"\"\"
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


def run(args, device, rank, world_size):
    \"\"\"The training run; returns the per-epoch records (the same on every process).\"\"\"
    # 1. The model, seeded: every process (and Netwright) starts from the same weights.
    torch.manual_seed(args.seed)
    model = Model().to(device)
    if args.weights:
        state = torch.load(args.weights, map_location=device, weights_only=True)
        model.load_state_dict(state)
    net = model
    if world_size > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids)

    # 2. The data: on the device once, targets in the loss's form once per split.
    x_train, y_train, x_val, y_val = load_data()
    x_train = torch.as_tensor(x_train, device=device)
    t_train = loss_target(torch.as_tensor(y_train, device=device))
    x_val = torch.as_tensor(x_val, device=device)
    t_val = loss_target(torch.as_tensor(y_val, device=device))
    n_train, n_val = len(x_train), len(x_val)
    if args.batch_size < 0:
        raise ValueError("--batch-size must be 0 (the whole split) or positive")
    batch_size = min(args.batch_size or n_train, n_train)
    steps = math.ceil(n_train / batch_size)

    # 3. Loss, optimizer and schedule.
    criterion = make_loss().to(device)
    optimizer = make_optimizer(model)
    scheduler = make_scheduler(optimizer)

    # 4. Shuffling from its own seeded generator: the same batches on every process.
    generator = torch.Generator().manual_seed(args.seed)
    losses = torch.zeros(steps, device=device)  # each batch's mean data loss
    sizes = torch.zeros(steps, device=device)  # rows this process used from each batch
    metrics = open(args.metrics_out, "w") if args.metrics_out and rank == 0 else None
    history, best, best_epoch, stale, best_state = [], math.inf, None, 0, None
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])
        model.train()
        if SHUFFLE:
            order = torch.randperm(n_train, generator=generator).to(device)
        else:
            order = torch.arange(n_train, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for k in range(steps):
            # 5. One step on this process's share of batch k.
            batch = order[k * batch_size:(k + 1) * batch_size]
            rows = batch[rank::world_size]
            prediction = net(x_train[rows])
            target = t_train[rows]
            if len(rows):
                data_loss = criterion(prediction, target)
            else:  # more processes than rows in this batch
                data_loss = prediction.sum() * 0.0
            loss = data_loss
            if world_size > 1:
                # DDP averages gradients over processes: weigh each share by its size.
                loss = loss * (len(rows) * world_size / len(batch))
            loss = loss + penalty(model)  #?penalty
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_GRAD_NORM)  #?clip
            optimizer.step()
            max_norm(model)  #?max_norm
            losses[k] = data_loss.detach()
            sizes[k] = len(rows)
            correct += count_correct(prediction.detach(), target)  #?classification

        # 6. Epoch metrics: size-weighted mean of the batch losses, then validation.
        total = (losses * sizes).sum()
        all_sum(total, correct)
        record = {"epoch": epoch, "train_loss": (total / n_train).item()}
        if not math.isfinite(record["train_loss"]):
            bad = int((~torch.isfinite(losses)).nonzero()[0, 0]) + 1
            value = losses[bad - 1].item()
            raise SystemExit(
                f"error: training diverged at epoch {epoch}, step {bad}: the loss "
                f"became {value}. Try a smaller learning rate (now {lr:g}) or "
                "gradient clipping."
            )
        record["val_loss"] = None
        record["train_accuracy"] = correct.item() / n_train  #?classification
        record["val_accuracy"] = None  #?classification
        if n_val:
            val_sum, val_correct = evaluate(
                model, criterion, x_val, t_val, rank, world_size
            )
            record["val_loss"] = (val_sum / n_val).item()
            record["val_accuracy"] = val_correct.item() / n_val  #?classification
        seconds = time.perf_counter() - started
        record.update(lr=lr, epoch_seconds=seconds)
        record["samples_per_second"] = n_train / seconds

        # 7. Early stopping watches the validation loss (else the training loss).
        watched = record["val_loss"]
        if watched is None:
            watched = record["train_loss"]
        improved = watched < best - MIN_DELTA
        if improved:
            best, best_epoch, stale = watched, epoch, 0
            if PATIENCE and RESTORE_BEST:
                state = model.state_dict()
                best_state = {k: v.detach().clone() for k, v in state.items()}
        else:
            stale += 1
        record.update(improved=improved, best_epoch=best_epoch)
        history.append(record)
        if rank == 0:
            log(record, args.epochs, metrics)
        if scheduler is not None:
            scheduler.step()
        if PATIENCE and stale >= PATIENCE:
            if best_state is not None:
                model.load_state_dict(best_state)
            if rank == 0:
                restored = ", best weights restored" if best_state is not None else ""
                print(f"stopped early after epoch {epoch}: best {best_epoch}{restored}")
            break
    if metrics is not None:
        metrics.close()
    if args.save and rank == 0:
        torch.save(model.state_dict(), args.save)
        print(f"saved the weights to {args.save}")
    return history


def log(record, epochs, metrics):
    \"\"\"One line per epoch on the console; one JSON line per epoch in --metrics-out.\"\"\"
    text = f"epoch {record['epoch']}/{epochs}  train_loss {record['train_loss']:.6g}"
    if record.get("train_accuracy") is not None:
        text += f"  train_acc {record['train_accuracy']:.4g}"
    if record["val_loss"] is not None:
        text += f"  val_loss {record['val_loss']:.6g}"
    if record.get("val_accuracy") is not None:
        text += f"  val_acc {record['val_accuracy']:.4g}"
    print(text, flush=True)
    if metrics is not None:
        metrics.write(json.dumps(record) + "\\n")
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
'''


def _loop_text(flags: dict[str, Any]) -> list[str]:
    out = []
    for line in _LOOP.strip("\n").splitlines():
        code, tag, name = line.partition("  #?")
        if tag:
            if flags.get(name):
                out.append(code)
        else:
            out.append(line)
    return out


# ------------------------------------------------------------------ assembly


def export_python(graph: Graph, base_dir: str | None = None, checkpoint: str | None = None,
                  script_path: str | None = None, source_name: str | None = None,
                  weights_text: str | None = None) -> str:
    """The standalone training script for ``graph`` (see the module docstring).

    ``base_dir`` is the graph file's folder (relative data paths start there); ``script_path``
    where the script will be written (data paths are made relative to its folder, the header
    names it; default: ``train.py`` in ``base_dir``); ``checkpoint`` a checkpoint whose weights
    the script starts from (the caller writes them next to the script, see :func:`export_to`);
    ``weights_text`` says in the header which weights those are, or why there are none.
    """
    from . import modules
    from .train import VAL_CHUNK

    try:
        plan = _plan(graph, base_dir)
        script_dir = os.path.dirname(os.path.abspath(script_path)) if script_path else base_dir
        script_name = os.path.basename(script_path) if script_path else "train.py"
        consts, load_fn = _data_section(plan, base_dir, script_dir)
        model = _model_section(plan)
        parts = _training_parts(plan)
    except codegen.LiteralError as exc:
        raise ExportError(f"a value cannot be written into the script: {exc}") from None
    s = graph.settings
    weights_file = _weights_name(script_name) if checkpoint else None
    header = _header(plan, source_name or "an unsaved graph", script_name,
                     _weights_note(checkpoint, weights_file, weights_text))

    mod_defs, mod_imports = _library(modules).closure(plan.helpers)
    needs = set(plan.data_helpers)
    for name in plan.data_helpers:
        needs |= set(getattr(datagen, "EXPORT_NEEDS", {}).get(name, ()))
    data_defs, data_imports = _library(datagen).closure(needs)

    imports = {("import", "argparse", None), ("import", "gc", None), ("import", "json", None),
               ("import", "math", None), ("import", "os", None), ("import", "time", None),
               ("import", "numpy", "np"),
               ("import", "torch", None), ("import", "torch.distributed", "dist"),
               ("from", "torch", "nn"), ("from", "torch.nn.parallel", "DistributedDataParallel")}
    for lib, names in ((_library(modules), mod_imports), (_library(datagen), data_imports)):
        for n in names:
            kind, mod, what = lib.imports[n]
            imports.add((kind, mod, what))
    imports.discard(("import", "torch.nn", "nn"))

    settings = [
        "# Settings from the graph: the defaults of the command-line options.",
        f"EPOCHS = {literal(s['epochs'])}",
        f"SEED = {literal(s['seed'])}",
        f"DEVICE = {literal(s['device'])}",
        f"BATCH_SIZE = {literal(graph.nodes[plan.data].params['batch_size'])}  # 0 = full batch",
        f"SHUFFLE = {literal(graph.nodes[plan.data].params['shuffle'])}",
        f"PATIENCE = {literal(s['patience'])}  # early stopping (0 = off)",
        f"MIN_DELTA = {literal(s['min_delta'])}",
        f"RESTORE_BEST = {literal(s['restore_best'])}",
        f"VAL_CHUNK = {literal(VAL_CHUNK)}  # validation rows per forward pass",
    ]
    if plan.flags["clip"]:
        settings.append(f"CLIP_GRAD_NORM = {literal(plan.flags['clip'])}")
    needs_here = bool(consts) and "HERE" in "".join(consts) or weights_file is not None
    if needs_here:
        settings.insert(0, "HERE = os.path.dirname(os.path.abspath(__file__))")
    if weights_file:
        settings.append(f"INITIAL_WEIGHTS = os.path.join(HERE, {literal(weights_file)})")
    else:
        settings.append("INITIAL_WEIGHTS = None  # or a state_dict file to start from")
    settings += consts

    lines: list[str] = header + [""] + _import_block(imports) + [""] + settings
    for title, defs in (("Data helpers, copied from Netwright's runtime/datagen.py", data_defs),
                        ("Model helpers, copied from Netwright's runtime/modules.py", mod_defs)):
        if defs:
            lines += ["", "", f"# {'-' * 8} {title}"]
            for d in defs:
                lines += ["", ""] + d.text.splitlines()
    lines += ["", "", f"# {'-' * 8} This graph", "", ""] + load_fn + ["", ""] + model + ["", ""] + parts
    lines += ["", "", f"# {'-' * 8} Training (the algorithm of Netwright's runtime/train.py)"]
    lines += [""] + _RUNNING.strip("\n").splitlines() + ["", ""] + _loop_text(plan.flags)
    text = "\n".join(line.rstrip() for line in lines) + "\n"
    _self_check(text)
    return text


def _weights_note(checkpoint: str | None, weights_file: str | None, weights_text: str | None) -> str | None:
    """The header's sentence about the starting weights (None: nothing worth saying)."""
    if checkpoint:
        which = weights_text or f"the weights of checkpoint {os.path.basename(os.path.normpath(checkpoint))}"
        return f"Starts from {which}, copied next to this script as {weights_file}."
    return f"Starts from {weights_text}." if weights_text else None


def _weights_name(script_name: str) -> str:
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


# ------------------------------------------------------------------ one export: menu and command line


ExportFormat = Literal["python", "onnx"]


@dataclass(frozen=True)
class Weights:
    """The weights an export starts from: a checkpoint's, or fresh seeded ones.

    ``checkpoint`` is a checkpoint file or folder (then its ``last.pt``); ``origin`` names its
    maker in messages (``"Run 2"``; default: the checkpoint's path); ``reason`` says why there is
    no checkpoint (``"no run of this graph has finished yet"``)."""

    checkpoint: str | None = None
    origin: str = ""
    reason: str = ""


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
              weights: Weights = Weights(), source_name: str | None = None) -> Exported:
    """Write ``graph`` as a training script (plus, from a checkpoint, its weights file
    ``<script>.weights.pt`` beside it) or as an ONNX model. The one export that both the Export
    menu and ``netwright export`` run, so both write the same files and say the same about them.

    ``source_name`` is the graph file's name for the script's header (None: an unsaved graph).
    Raises :class:`ExportError` for an invalid graph, a checkpoint that does not fit it or a
    script name that would shadow a module it imports (all before anything is written), and for
    a file it cannot write."""
    if fmt == "python":
        _check_script_name(output)
    state, described = _starting_weights(graph, base_dir, weights)
    if fmt == "onnx":
        _write_onnx(graph, output, base_dir, state)
        return Exported("onnx", (output,), described, state is not None)
    text = export_python(graph, base_dir, weights.checkpoint if state is not None else None, output,
                         source_name, described if state is not None or weights.reason else None)
    files = [output]
    if state is not None:  # first the weights, then the script that names them
        files.append(os.path.join(os.path.dirname(output), _weights_name(output)))  # as given
        _write_bytes(files[1], _tensor_file(state))
    _write_bytes(output, text.encode("utf-8"))
    return Exported("python", tuple(files), described, state is not None)


def write_python(graph: Graph, output: str, base_dir: str | None = None, checkpoint: str | None = None,
                 source_name: str | None = None) -> list[str]:
    """:func:`export_to` as a script, from ``checkpoint``'s weights when given; returns the paths."""
    return list(export_to(graph, output, "python", base_dir, Weights(checkpoint), source_name).files)


SHADOWED = frozenset(STDLIB_IMPORTS + THIRD_PARTY_IMPORTS + ("numpy", "np"))


def _check_script_name(output: str) -> None:
    stem = os.path.splitext(os.path.basename(output))[0]
    if stem in SHADOWED or not stem:
        raise ExportError(f"a script named {os.path.basename(output)!r} would shadow the module "
                          f"{stem!r} it imports; choose another name")


def _starting_weights(graph: Graph, base_dir: str | None, weights: Weights) -> tuple[dict | None, str]:
    """``(state_dict or None for fresh weights, how to name them to the user)``."""
    if not weights.checkpoint:
        why = f" ({weights.reason})" if weights.reason else ""
        return None, f"fresh weights initialised with seed {int(graph.settings.get('seed', 0))}{why}"
    from .checkpoint import BEST, checkpoint_path

    state, epoch = _checkpoint_weights(graph, base_dir, weights.checkpoint)
    origin = weights.origin or f"checkpoint {weights.checkpoint}"
    if os.path.basename(checkpoint_path(weights.checkpoint)) == BEST:
        return state, f"the best weights of {origin} (epoch {epoch})"
    return state, f"the weights of {origin} after epoch {epoch}"


def _write_bytes(path: str, data: bytes) -> None:
    """Atomically, through the project's one writer; an OSError becomes an ExportError."""
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def _tensor_file(state: dict) -> bytes:
    """A plain ``state_dict`` file (it loads with ``torch.load(weights_only=True)``)."""
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def checkpoint_model_state(graph: Graph, base_dir: str | None, checkpoint: str) -> dict:
    """The model weights of a checkpoint (file, or folder → ``last.pt``), checked against the
    graph's model: same keys, same shapes (ExportError otherwise)."""
    return _checkpoint_weights(graph, base_dir, checkpoint)[0]


def _checkpoint_weights(graph: Graph, base_dir: str | None, checkpoint: str) -> tuple[dict, int]:
    """:func:`checkpoint_model_state` and the checkpoint's epoch."""
    from . import checkpoint as ckpt
    from .build import build_model

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


# ------------------------------------------------------------------ ONNX


def export_onnx(graph: Graph, path: str, base_dir: str | None = None, checkpoint: str | None = None) -> None:
    """Write the graph's model (no loss, no optimizer) as ONNX with a dynamic batch axis.

    Input ``features`` (batch, *features), output ``prediction``; weights from ``checkpoint``
    when given, else the seeded initial weights (``settings.seed``). The file is checked with
    ``onnx.checker`` before this returns (``onnx`` is a dependency; onnxruntime is not needed).
    """
    state = checkpoint_model_state(graph, base_dir, checkpoint) if checkpoint else None
    _write_onnx(graph, path, base_dir, state)


def _write_onnx(graph: Graph, path: str, base_dir: str | None, state: dict | None) -> None:
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the 'onnx' package: pip install onnx "
                          "(onnxruntime runs the result)") from None
    import tempfile
    import warnings

    import torch

    from .build import build_model

    model = build_model(graph, base_dir, seed=int(graph.settings.get("seed", 0)))
    if state is not None:
        model.load_state_dict(state)
    model.eval()
    example = example_input(graph, base_dir, batch=2)
    # torch writes a path; it writes there, the checked bytes then go through atomic_write.
    with tempfile.TemporaryDirectory(prefix="netwright-onnx-") as scratch:
        tmp = os.path.join(scratch, "model.onnx")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about shapes read in forward
                torch.onnx.export(model, (example,), tmp, input_names=["features"], output_names=["prediction"],
                                  dynamic_axes={"features": {0: "batch"}, "prediction": {0: "batch"}},
                                  dynamo=False)
            onnx.checker.check_model(onnx.load(tmp), full_check=True)
            with open(tmp, "rb") as fh:
                data = fh.read()
        except Exception as exc:  # torch's exporter raises many types; say which node type failed
            raise ExportError(f"ONNX export failed: {type(exc).__name__}: {flatten(str(exc), 400)}") from None
    _write_bytes(path, data)


def example_input(graph: Graph, base_dir: str | None = None, batch: int = 2):
    """A batch of ``batch`` zero-ish features of the graph's Dataset shape and dtype (for tracing)."""
    import torch

    analysis = analyze(graph, base_dir)
    data = next(nid for nid, n in graph.nodes.items() if n.node_type.category == "data")
    info = analysis.outputs[data]["features"]
    if info.dtype == "int64":
        return torch.zeros((batch, *info.shape), dtype=torch.int64)
    return torch.linspace(-1.0, 1.0, batch * max(1, _numel(info.shape))).reshape(batch, *info.shape)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# ------------------------------------------------------------------ command line


def cmd_export(args: argparse.Namespace) -> int:
    """``netwright export FILE --format python|onnx -o OUT [--checkpoint DIR]``; exit 2 on bad input."""
    try:
        graph = load_path(args.file)
        base_dir = os.path.dirname(os.path.abspath(args.file))
        result = export_to(graph, args.output, args.format, base_dir, Weights(args.checkpoint),
                           os.path.basename(args.file))
    except (GraphError, RunError) as exc:
        print(f"{args.file}: cannot export: {flatten(str(exc), 2000)}", file=sys.stderr)
        return 2
    for path in result.files:
        print(f"wrote {path}")
    print(result.weights_sentence())
    return 0
