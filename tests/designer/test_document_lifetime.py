"""Lifetimes that once crashed the interpreter. Dropping a Document that holds undo commands frees it cleanly. Before the graph listener
was weak, the garbage collector broke a cycle through C++-owned command wrappers and the
interpreter segfaulted (it showed as exit code 139 after a green test session)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT, SAMPLES

SCRIPT = textwrap.dedent(f"""
    import gc, sys
    sys.path.insert(0, {str(ROOT)!r})
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from designer.document import Document
    for i in range(60):
        doc = Document()
        doc.load({str(SAMPLES / "digits_cnn.json")!r})
        ids = list(doc.graph.nodes)
        doc.set_param(ids[1], "out_channels", 5)
        doc.remove_items(ids[2:4], [])
        doc.undo_stack.undo()
        del doc
        gc.collect()
    print("clean")
""")


def test_dropped_documents_with_undo_history_are_freed_without_crashing():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "clean"


EXIT_AFTER_COPY = textwrap.dedent(f"""
    import sys
    sys.path.insert(0, {str(ROOT)!r})
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from designer import MainWindow
    w = MainWindow()
    w.open_path({str(SAMPLES / "xor_mlp.json")!r}, ask=False)
    w.select_all()
    assert w.copy()
    print("copied")
""")


def test_exit_with_a_copied_graph_on_the_clipboard_is_clean():
    """A Python-made QMimeData left on the clipboard segfaulted PySide6 6.11 at exit; the
    designer swaps it for plain text (the same JSON) first."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", EXIT_AFTER_COPY], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "copied"
