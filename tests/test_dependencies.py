"""Everything the app imports is installed by ``make run``: every third-party module that
``graph/``, ``runtime/`` or ``designer/`` imports (anywhere: inside functions too) comes from a
distribution named in pyproject.toml's ``[project] dependencies``, not only from a test extra.

``Export ▸ ONNX Model…`` once failed on a ``make run`` install because ``onnx`` was a test extra:
the menu offered what the install could not do. Needs neither torch nor Qt.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys

import pytest

from tests.conftest import ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

OWN_PACKAGES = ("graph", "runtime", "designer")


def normalise(name: str) -> str:
    """PEP 503 names: ``PySide6_Essentials`` and ``pyside6-essentials`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_dependencies() -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    return {normalise(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec).group(0)) for spec in project["dependencies"]}


def imported_modules() -> dict[str, set[str]]:
    """Top-level module name -> the source files that import it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for package in OWN_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def third_party(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    skip = set(sys.stdlib_module_names) | set(OWN_PACKAGES)
    return {name: files for name, files in modules.items() if name not in skip}


def test_the_walk_sees_imports_inside_functions():
    modules = imported_modules()
    assert {"torch", "PySide6", "numpy", "onnx"} <= set(third_party(modules))  # onnx: inside a function
    assert "runtime/export/onnx.py" in modules["onnx"]


def test_every_third_party_import_is_a_main_dependency():
    declared = declared_dependencies()
    providers = importlib.metadata.packages_distributions()
    missing = []
    for name, files in sorted(third_party(imported_modules()).items()):
        dists = {normalise(d) for d in providers.get(name, [])}
        if not dists:
            missing.append(f"{name} (imported by {', '.join(sorted(files))}) is not installed at all")
        elif not dists & declared:
            missing.append(f"{name} (imported by {', '.join(sorted(files))}) comes from {', '.join(sorted(dists))}, "
                           "which pyproject.toml does not list in [project] dependencies")
    assert not missing, "\n".join(missing)


def test_names_are_normalised_the_way_pip_does():
    assert normalise("PySide6_Essentials") == normalise("PySide6-Essentials") == "pyside6-essentials"
    assert normalise("scikit_learn") == "scikit-learn"
    assert {"pyside6-essentials", "scikit-learn", "torch"} <= declared_dependencies()
