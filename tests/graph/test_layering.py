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
    from tests.imports import top_modules

    allowed_top = set(sys.stdlib_module_names) | {"graph"}
    paths = sorted((ROOT / "graph").rglob("*.py"))  # graph/catalogue/ is a package: walk it too
    assert any(p.parent.name == "catalogue" for p in paths)
    for path in paths:
        outside = top_modules(path.read_text(encoding="utf-8")) - allowed_top
        assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}"
