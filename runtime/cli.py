"""The ``netwright`` command line: validate, summary, train, export.

``validate`` and ``summary`` use only the graph package, so they start fast and never import
torch or Qt. ``train`` and ``export`` import the runtime lazily. Exit codes: 0 success, 2 bad
input (the message says what and where), 1 only for a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from graph import analyze, load_path
from graph.errors import FileFormatError

COMMANDS = ("validate", "summary", "train", "export")


def _load(path: str):
    """Load and analyse a file; returns (graph, analysis)."""
    g = load_path(path)
    return g, analyze(g, os.path.dirname(os.path.abspath(path)))


def cmd_validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            g, a = _load(path)
        except FileFormatError as exc:
            print(f"{path}: {exc}")
            status = 2
            continue
        if a.errors:
            status = 2
            print(f"{path}: " + "; ".join(_flat(f.text(g)) for f in a.errors))
        else:
            warn = [f for f in a.findings if f.severity == "warning"]
            extra = f" ({len(warn)} warning{'s' * (len(warn) != 1)}: " + "; ".join(_flat(f.text(g)) for f in warn) + ")" if warn else ""
            print(f"OK {path}{extra}")
    return status


def _flat(text: str) -> str:
    return " ".join(text.split())


def cmd_summary(args: argparse.Namespace) -> int:
    try:
        g, a = _load(args.file)
    except FileFormatError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    rows = [("node", "type", "output shape", "parameters")]
    for nid in g.topological_order():
        node = g.nodes[nid]
        outs = a.outputs.get(nid)
        if outs is None:
            shape = "?"
        elif node.type == "Dataset":
            shape = "features " + outs["features"].describe() + ", target " + outs["target"].describe()
        else:
            shape = ", ".join(info.describe() for info in outs.values()) or "-"
        name = nid if not node.title or node.title == nid else f"{nid} {_flat(node.title)[:30]}"
        rows.append((name, node.type, shape, f"{a.params.get(nid, 0):,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"Total parameters: {a.total_params:,}")
    for f in a.findings:
        print(_flat(f.text(g)))
    return 2 if a.errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netwright", description="Design, check, train and export neural-network graphs.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check graph files; exit 2 if any is invalid")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("summary", help="per-node output shapes and parameter counts")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("train", help="train a graph headless")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--batch-size", type=int)
    p.add_argument("--metrics-out", metavar="F.jsonl")
    p.add_argument("--checkpoint", metavar="DIR")
    p.add_argument("--resume", metavar="DIR")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_lazy("runtime.commands", "cmd_train"))
    p = sub.add_parser("export", help="export a standalone Python script or an ONNX model")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("python", "onnx"), default="python")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--checkpoint", metavar="DIR", help="start the script from this checkpoint's weights")
    p.set_defaults(func=_lazy("runtime.export", "cmd_export"))
    return parser


def _lazy(module: str, name: str):
    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(args)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
