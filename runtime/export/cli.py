"""``netwright export FILE --format python|onnx -o OUT [--checkpoint DIR]``.

Prints every file written and which weights they hold; bad input (an unreadable or invalid
graph, a checkpoint that does not fit, a file that cannot be written) is one line on stderr
and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from graph import load_path
from graph.errors import GraphError

from ..codegen import flatten
from ..errors import RunError
from .files import export_to
from .weights import Weights


def cmd_export(args: argparse.Namespace) -> int:
    """Run the export the arguments ask for; 0, or 2 with a message on bad input."""
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
