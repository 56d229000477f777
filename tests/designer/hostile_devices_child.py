"""A designer process for test_hostile_devices.py: opens paths that could block a reader forever.

``python -m tests.designer.hostile_devices_child PATH...`` opens each PATH in one window with
``open_path`` (a graph file whose Dataset names a device or a pipe, or a device or pipe named as
the graph file itself) and prints one JSON line per path: whether it opened, the error dialogs
it showed and the analysis errors. Then it opens ``samples/xor_mlp.json`` and prints the line
``usable <true|false>``. The parent runs it under a timeout, with a stdin pipe it never writes
to, so a read that blocks shows as the last path printed instead of a hung test run.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtWidgets import QApplication

from tests.conftest import SAMPLES


def main() -> None:
    app = QApplication([])
    from designer.mainwindow import MainWindow

    window = MainWindow(offer_recovery=False)
    errors: list[list[str]] = []
    window.show_error = lambda title, text: errors.append([title, text])  # no modal box
    window.ask_save_changes = lambda: "discard"
    for path in sys.argv[1:]:
        print(json.dumps({"opening": path}), flush=True)
        errors.clear()
        opened = window.open_path(path)
        app.processEvents()
        found = [f.text(window.document.graph) for f in window.document.analysis().errors] if opened else []
        print(json.dumps({"path": path, "opened": opened, "dialogs": errors, "findings": found}), flush=True)
    ok = window.open_path(SAMPLES / "xor_mlp.json") and window.document.analysis().valid
    app.processEvents()
    print(f"usable {json.dumps(bool(ok and window.actionTrain.isEnabled()))}", flush=True)


if __name__ == "__main__":
    main()
