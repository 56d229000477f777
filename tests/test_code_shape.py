"""The house rules that a reader relies on, checked: product functions are short (≤ 60 lines) and
simple (McCabe complexity ≤ 12, ruff's C901 as configured in pyproject.toml), and the product code
passes the project's ruff rules. (STYLE.md: a 280-line method cannot be read or tested in parts.)"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("graph", "runtime", "designer")
MAX_LINES = 60


def functions(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(ROOT), node


@pytest.mark.parametrize("package", PACKAGES)
def test_no_product_function_is_longer_than_60_lines(package):
    long = [f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, node in functions(package) if node.end_lineno - node.lineno + 1 > MAX_LINES]
    assert not long, "\n".join(long)


def test_ruff_passes_with_complexity_at_most_12():
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"C90"' in config and "max-complexity = 12" in config
    out = subprocess.run([sys.executable, "-m", "ruff", "check", *PACKAGES], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
