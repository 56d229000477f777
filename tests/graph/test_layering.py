"""The layering contract: graph uses the standard library only; the fast commands stay fast."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, SAMPLES

HEAVY = ("torch", "numpy", "PySide6", "pyqtgraph", "sklearn")


def loaded_after(code: str) -> list[str]:
    probe = code + f"\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_import_graph_loads_no_heavy_module():
    assert loaded_after("import graph, graph.analysis, graph.layout, graph.fileformat, graph.datasets") == []


def test_validate_and_summary_import_neither_torch_nor_qt():
    code = (f"from designer.launcher import main\n"
            f"import contextlib, io\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['validate', r'{SAMPLES / 'digits_cnn.json'}'])\n"
            f"    main(['summary', r'{SAMPLES / 'digits_cnn.json'}'])")
    assert loaded_after(code) == []


def test_graph_sources_import_only_the_standard_library():
    import ast

    allowed_top = set(sys.stdlib_module_names) | {"graph"}
    for path in (ROOT / "graph").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [] if node.level else [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed_top, f"{path.name} imports {name}"
