"""What a piece of Python source imports, for the tests that keep the layering and the copied
code honest (one walk instead of one per test file)."""

from __future__ import annotations

import ast


def top_modules(source: str | ast.AST, relative: bool = False) -> set[str]:
    """Top-level names of every module ``source`` imports, anywhere in it (functions included).

    ``from .x import y`` counts as ``".x"`` when ``relative`` is true and is skipped otherwise;
    ``from __future__`` counts as ``"__future__"``."""
    tree = ast.parse(source) if isinstance(source, str) else source
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (relative or not node.level):
            found.add("." * node.level + (node.module or "").split(".")[0])
    return found
