"""A designer process for the crash tests, meant to be SIGKILLed by the parent test.

``python -m tests.designer.crash_child save FILE``: saves a big graph to FILE again and again
through ``MainWindow.save_to``, each version with ``seed`` = its number (printed once the first
save is done).
``python -m tests.designer.crash_child edit SAMPLE``: opens SAMPLE, makes edits, prints
``edited``, then keeps the event loop running (autosave interval from the environment) and
prints ``waited`` after 1.5 s.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    app = QApplication([])
    from designer.mainwindow import MainWindow

    window = MainWindow(offer_recovery=False)
    doc = window.document
    if mode == "save":
        from tests.designer.helpers import make_big_graph

        doc.reset(make_big_graph(int(os.environ.get("BIG_NODES", "2000"))))
        i = 0
        while True:
            doc.set_setting("seed", i)
            assert window.save_to(path)
            if i == 0:
                print("saving", flush=True)
            i += 1
    doc.reset()
    assert window.open_path(path)
    doc.add_node("ReLU", (400.0, 600.0))
    doc.set_setting("epochs", 777)
    doc.set_title(next(iter(doc.graph.nodes)), "recovered-title")
    print("edited", flush=True)
    QTimer.singleShot(1500, lambda: print("waited", flush=True))
    app.exec()


if __name__ == "__main__":
    main()
