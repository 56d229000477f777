"""Start the designer: ``run_app(argv)`` creates the QApplication and the main window.

Invariants: the window is shown before anything slow happens, and torch is never imported on
this path (training code imports it lazily when a run starts). A graph left by a crashed session
is offered once, before the file named on the command line is opened; nothing read from a
recovery file can stop the start (designer/recovery.py). Where files live does not depend on the
application's names (a window built without ``run_app`` finds the same recovery files), but
``run_app`` still names the application, through :func:`designer.recovery.set_app_names`.

``--exit-after-start`` (hidden: for smoke tests) starts as usual, declines every question the
start asks (printing ``prompt: <text>`` for each) and exits with status 0.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from .recovery import set_app_names

if TYPE_CHECKING:
    from .mainwindow import MainWindow

_log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="netwright", description="Design neural networks visually.")
    parser.add_argument("file", nargs="?", help="a graph file (.json) to open")
    parser.add_argument("--exit-after-start", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(args)


def application() -> QApplication:
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "netwright"])
    assert isinstance(app, QApplication)
    set_app_names(app)
    app.setStyle("Fusion")
    return app


def start(opts: argparse.Namespace) -> MainWindow:
    """Show the window, offer recovery, open the file asked for: everything but the event loop."""
    from .mainwindow import MainWindow

    window = MainWindow(offer_recovery=False)
    window.show()
    recovered = _offer_recovery(window)
    if opts.file and not recovered:
        window.open_path(opts.file)
    return window


def _offer_recovery(window: MainWindow) -> bool:
    try:
        return window.offer_recovery()
    except Exception:  # offer_recovery already survives any file; this keeps a bug from stopping the start
        _log.exception("offering recovered work failed")
        return False


def _decline_prompts(app: QApplication) -> QTimer:
    """For --exit-after-start: answer each modal question with its escape button (No, Cancel)."""

    def decline() -> None:
        box = app.activeModalWidget()
        if box is None:
            return
        text = box.text() if isinstance(box, QMessageBox) else box.windowTitle()
        print("prompt:", " ".join(text.split()), flush=True)
        escape = box.escapeButton() if isinstance(box, QMessageBox) else None
        if escape is not None:
            escape.click()
        else:
            box.close()

    timer = QTimer(app)
    timer.setInterval(10)
    timer.timeout.connect(decline)
    timer.start()
    return timer


def run_app(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    app = application()
    if opts.exit_after_start:
        _decline_prompts(app)
    window = start(opts)
    if opts.exit_after_start:
        QTimer.singleShot(0, window.close)
        QTimer.singleShot(0, app.quit)
    return app.exec()
