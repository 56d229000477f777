"""Start the designer: ``run_app(argv)`` creates the QApplication and the main window.

Invariants: the window is shown before anything slow happens, and torch is never imported on
this path (training code imports it lazily when a run starts). A graph left by a crashed session
is offered once, before the file named on the command line is opened.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication


def run_app(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="netwright", description="Design neural networks visually.")
    parser.add_argument("file", nargs="?", help="a graph file (.json) to open")
    opts = parser.parse_args(args)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "netwright"])
    app.setApplicationName("Netwright")
    app.setOrganizationName("Netwright")
    app.setStyle("Fusion")
    from .mainwindow import MainWindow

    window = MainWindow(offer_recovery=False)
    window.show()
    recovered = window.offer_recovery()
    if opts.file and not recovered:
        window.open_path(opts.file)
    return app.exec()
