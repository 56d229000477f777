"""The "This graph" section of an exported script: the code written from the graph.

``load_data()`` makes the arrays with the calls ``runtime.data.load_dataset`` makes (the
helpers it calls are copied from ``runtime.datagen``); ``Model`` has one line per layer in
``__init__`` and one assignment per node in ``forward``; then the factories and hooks the loop
(``loop.py``) looks up: ``make_loss``, ``loss_target``, ``count_correct``, ``make_optimizer``,
``make_scheduler``, ``penalty`` and ``max_norm`` (None where the graph has nothing for them).

Nothing from the file becomes code: identifiers come from a ``codegen.Namespace``, values from
``codegen.literal``, user text only from ``codegen.comment_lines``/``inline_comment``. Lines
fit ``codegen.LINE_WIDTH`` columns.
"""

from __future__ import annotations

import keyword
import os
import re
from typing import Any

from graph.catalogue import Call, InputFn
from graph.catalogue.core import MODULE_KINDS

from .. import datagen
from ..codegen import LINE_WIDTH, Namespace, comment_lines, display_width, inline_comment, literal
from .errors import ExportError
from .plan import Plan

_NUMBERED = re.compile(r"n(\d{1,12})")


# ------------------------------------------------------------------ lines of calls


def wrap_call(line: str, indent: int) -> str:
    """Indent one statement; a too-long call is split after its opening parenthesis."""
    pad = " " * indent
    if display_width(pad + line) <= LINE_WIDTH or "(" not in line or "\n" in line:
        return pad + line
    head, _, rest = line.partition("(")
    assert rest.endswith(")"), line
    return f"{pad}{head}(\n{pad}    {rest[:-1]}\n{pad})"


def call_args(kwargs: dict[str, Any], indent: int) -> list[str]:
    """``["name=<literal>", ...]``: names are the catalogue's keyword names, values literals."""
    for name in kwargs:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ExportError(f"internal: keyword argument {name!r} is not an identifier")
    return [f"{k}={literal(v, indent)}" for k, v in kwargs.items()]


def call(head: str, args: list[str], indent: int, comment: str = "") -> list[str]:
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


# ------------------------------------------------------------------ data


def data_section(plan: Plan, base_dir: str | None, script_dir: str | None) -> tuple[list[str], list[str]]:
    """``(constants, load_data function)`` reproducing runtime.data.load_dataset's calls."""
    p = plan.run.data_params
    consts, body = _raw_arrays(p, base_dir, script_dir)
    body.append("train_rows, val_rows, _ = split_indices(len(x), "
                f"{literal(p['val_split'])}, {literal(p['test_split'])}, {literal(p['split_seed'])})")
    prep = p["preprocessing"]
    if prep == "none":
        body += ["x_train, x_val = x[train_rows], x[val_rows]"]
    else:
        body += [
            "# Statistics from the training rows only, then applied to both splits.",
            f"stats = fit_preprocessing({literal(prep)}, x[train_rows], "
            f"{literal(p['pca_components'])}, {literal(p['whiten_eps'])})",
            "x_train = apply_preprocessing(stats, x[train_rows])",
            "x_val = apply_preprocessing(stats, x[val_rows])",
        ]
    body.append("return x_train, y[train_rows], x_val, y[val_rows]")
    fn = ["def load_data():", '    """Training and validation arrays, made exactly as Netwright makes them."""']
    return consts, fn + [wrap_call(line, 4) for line in body]


def _raw_arrays(p: dict, base_dir: str | None, script_dir: str | None) -> tuple[list[str], list[str]]:
    """``(constants, lines)`` that make the raw ``x, y`` of the Dataset node."""
    name = p["dataset"]
    if name in datagen.GENERATORS:
        fn = datagen.GENERATORS[name].__name__
        args = ", ".join(literal(p[a]) for a in datagen.GENERATOR_ARGS[name])
        return [], [f"rng = np.random.default_rng({literal(p['split_seed'])})", f"x, y = {fn}({args}, rng)"]
    if name in datagen.SKLEARN_LOADERS:
        body = [f"x, y, _ = load_sklearn({literal(name)})"]
        if name == "digits" and p["layout"] == "image":
            body.append("x = x.reshape(-1, 1, 8, 8)  # 1x8x8 images")
        return [], body
    consts = _data_file(p["path"], base_dir, script_dir)
    if name == "csv":
        return consts, [f"x, y, _ = read_csv(DATA_FILE, {literal(p['target_column'])}, {literal(p['task'])})"]
    return consts, [f"x, y, _ = read_npz(DATA_FILE, {literal(p['task'])})"]


def _data_file(path: str, base_dir: str | None, script_dir: str | None) -> list[str]:
    """``DATA_FILE``: relative to the script's folder when the file lies below it."""
    path = os.path.join(base_dir, path) if base_dir and not os.path.isabs(path) else path
    path = os.path.abspath(path)
    rel = None
    if script_dir is not None:
        try:
            rel = os.path.relpath(path, os.path.abspath(script_dir))
        except ValueError:  # another drive (Windows)
            rel = None
        if rel is not None and (rel == os.pardir or rel.startswith(os.pardir + os.sep)):
            rel = None  # not below the script's folder: keep the absolute path
    out = ["# The data file: relative to this script's folder when it lies below it."]
    if rel is not None:
        return out + [f"DATA_FILE = os.path.join(HERE, {literal(rel.replace(os.sep, '/'), 0)})"]
    return out + [f"DATA_FILE = {literal(path, 0)}"]


# ------------------------------------------------------------------ the model


class _ModelWriter:
    """Writes ``class Model``: a Namespace for forward's variables, one line per node."""

    def __init__(self, plan: Plan, reserved: frozenset[str]) -> None:
        self.plan = plan
        self.ns = Namespace(reserved | set(plan.attrs.values()))
        data = plan.run.data_node
        self.values = {(data, "features"): self.ns.create_name(_variable(data, "features"))}
        self.init: list[str] = []
        self.forward: list[str] = []

    def write(self) -> list[str]:
        for nid in self.plan.order:
            self._node(nid)
        g = self.plan.graph
        pred = g.edges_into(self.plan.run.loss_node, "prediction")[0].source
        title = g.settings.get("title", "")
        out = ["class Model(nn.Module):"]
        out += comment_lines(f"The network of '{title}'." if title else "The network of the graph.", indent=4)
        out += ["    def __init__(self):", "        super().__init__()"]
        if self.plan.order:
            out += ["        # One line per layer, created in the graph's order (this order draws the",
                    "        # initial weights from the seeded random number generator)."]
        features = self.values[(self.plan.run.data_node, "features")]
        return out + self.init + ["", f"    def forward(self, {features}):", *self.forward,
                                  f"        return {self.values[(pred.node, pred.port)]}"]

    def _node(self, nid: str) -> None:
        node = self.plan.graph.nodes[nid]
        t = node.node_type
        var = self.ns.create_name(_variable(nid, nid))
        args = []
        for port in t.inputs:
            names = [self.values[(e.source.node, e.source.port)] for e in self.plan.graph.edges_into(nid, port.name)]
            args.append(names if port.many else names[0])
        self.values[(nid, "output")] = var
        title = node.title if node.title and node.title != nid else ""
        if t.target_kind in MODULE_KINDS:
            expr = self._module(nid, title)
            self.forward.append(wrap_call(f"{var} = {_called(expr, t.call, node.params, args[0])}", 8))
        else:
            line = f"{var} = {_function_call(node, self.plan.kwargs(nid), args[0])}"
            self.forward.append(wrap_call(line, 8) + inline_comment(title, "        " + line))

    def _module(self, nid: str, title: str) -> str:
        """Adds the module's ``__init__`` lines; returns the module's name in ``forward``."""
        node = self.plan.graph.nodes[nid]
        t = node.node_type
        attr, p, kw = self.plan.attrs[nid], node.params, self.plan.kwargs(nid)
        cls = t.target_name if t.target_kind == "custom" else f"nn.{t.target_name}"
        if p.get("dropconnect", 0.0) > 0.0 and t.dropconnect:
            cls, kw = t.dropconnect, {**kw, "dropconnect": p["dropconnect"]}
        self.init += call(f"self.{attr} = {cls}", call_args(kw, 12), 8, title)
        inits = {k: p[k] for k in ("weight_init", "bias_init", "bias_value") if k in p}
        if any(inits.get(k, "default") != "default" for k in ("weight_init", "bias_init")):
            self.init += call("apply_init", [f"self.{attr}", *call_args(inits, 12)], 8)
        return f"self.{attr}"


def _called(module: str, convention: Call, params: dict, arg: str) -> str:
    """The module's call in ``forward`` per its type's call convention (``runtime.build.called``
    applies the same): ``module(x)``, or e.g. ``module(x, x, x, need_weights=False)[0]``."""
    options = []
    for key, value in convention.call_options(params).items():
        if not key.isidentifier() or keyword.iskeyword(key):
            raise ExportError(f"internal: call option {key!r} is not an identifier")
        # an InputFn names a runtime.modules helper: the script gets it copied
        options.append(f"{key}={_identifier(value.name)}({arg})" if isinstance(value, InputFn)
                       else f"{key}={literal(value)}")
    expr = f"{module}({', '.join([arg] * convention.repeat + options)})"
    if convention.select is not None:
        expr += f"[{int(convention.select)}]"
    return expr + ("[:, -1]" if convention.takes_last_step(params) else "")


def _identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ExportError(f"internal: {name!r} is not an identifier")
    return name


def _variable(node_id: str, fallback: str) -> str:
    m = _NUMBERED.fullmatch(node_id)
    return f"x{m.group(1)}" if m else fallback


def _function_call(node: Any, kw: dict[str, Any], arg: Any) -> str:
    """The expression of a function node (``fn.*``) on its input variable(s)."""
    target = node.node_type.torch
    if target == "fn.add":
        return " + ".join(arg)
    if target == "fn.cat":
        return f"torch.cat([{', '.join(arg)}], dim={literal(kw['dim'])})"
    if target == "fn.reshape":
        return f"{arg}.reshape({arg}.shape[0], {', '.join(literal(d) for d in kw['shape'])})"
    if target == "fn.step":
        return f"step({arg})"
    if target == "fn.sign":
        return f"torch.sign({arg})"
    raise ExportError(f"{node.label()}: the exporter does not know the target {target!r}")


def model_section(plan: Plan, reserved: frozenset[str]) -> list[str]:
    """``class Model(nn.Module)``; ``reserved``: the script's global names (never a variable)."""
    return _ModelWriter(plan, reserved).write()


# ------------------------------------------------------------------ loss, optimizer, schedule, hooks


def _torch_name(name: str | None) -> str:
    if not name or not name.isidentifier() or keyword.iskeyword(name):
        raise ExportError(f"internal: unexpected torch target {name!r}")
    return name


def training_parts(plan: Plan) -> list[list[str]]:
    """The factories and hooks the loop looks up, one block of lines each."""
    run = plan.run
    loss_name = _torch_name(run.loss_type)
    loss_title = plan.graph.nodes[run.loss_node].title
    opt_title = plan.graph.nodes[run.optimizer_node].title
    blocks = [
        ["def make_loss():", *comment_lines(loss_title, indent=4),
         *call(f"return nn.{loss_name}", call_args(run.loss_kwargs, 8), 4)],
        ["def loss_target(y):", '    """The targets of a whole split in the form the loss expects."""',
         f"    return family_target({literal(run.loss_family)}, y, {literal(plan.classes)})"],
        ["def count_correct(prediction, target):",
         '    """Correctly classified rows of a batch (a tensor, so no device sync)."""',
         f"    return family_correct({literal(run.loss_family)}, prediction, target, "
         f"{literal(run.binary_threshold)})"]
        if run.classification else ["count_correct = None  # not a classification: no accuracy"],
        ["def make_optimizer(model):", *comment_lines(opt_title, indent=4),
         *call(f"return torch.optim.{_torch_name(run.optimizer_type)}",
               ["model.parameters()", *call_args(run.optimizer_kwargs, 8)], 4)],
        _scheduler(plan),
    ]
    return blocks + _regularisation(plan)


def _scheduler(plan: Plan) -> list[str]:
    out = ["def make_scheduler(optimizer):", '    """Stepped once after every epoch."""']
    if plan.run.scheduler_type is None:
        return out + ["    return None  # the graph has no learning-rate schedule"]
    name = _torch_name(plan.run.scheduler_type)
    return out + call(f"return torch.optim.lr_scheduler.{name}",
                      ["optimizer", *call_args(plan.run.scheduler_kwargs, 8)], 4)


def _regularisation(plan: Plan) -> list[list[str]]:
    penalties, norms = plan.penalties(), plan.max_norms()
    penalty = ["penalty = None  # no layer has an L1 or L2 penalty"]
    if penalties:
        penalty = ["def penalty(model):",
                   '    """L1/L2 penalty of the layers that ask for one, added to the data loss."""',
                   "    terms = []",
                   *(f"    terms += [(w, {literal(l1)}, {literal(l2)}) for w in layer_weights(model.{attr})]"
                     for attr, l1, l2 in penalties),
                   "    return regularization_penalty(terms)"]
    max_norm = ["max_norm = None  # no layer has a max-norm constraint"]
    if norms:
        max_norm = ["def max_norm(model):",
                    '    """Max-norm: project each unit\'s incoming weights after every step."""',
                    "    constraints = []",
                    *(f"    constraints += [(w, {literal(m)}) for w in layer_weights(model.{attr})]"
                      for attr, m in norms),
                    "    apply_max_norm(constraints)"]
    return [penalty, max_norm]
