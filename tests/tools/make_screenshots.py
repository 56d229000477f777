"""Make the README's screenshots with the app itself, offscreen.

Opens samples in the real MainWindow, trains them through ``actionTrain`` and grabs the window
mid-training and after. Run from the repository root:

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/tools/make_screenshots.py [OUT_DIR]

OUT_DIR defaults to ``docs/``. tests/designer/test_readme_screenshots.py runs it into a temporary
folder, so the script stays working and the README's images stay reproducible.
"""

from __future__ import annotations

import os
import pathlib
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QSplitter  # noqa: E402

SHOTS = {
    # file name: (sample, epochs, batch size, epochs to wait before the "during" shot, results tab)
    "designer-training.png": ("digits_mlp.json", 40, 16, 3, "images"),
    "decision-regions.png": ("residual_mlp.json", None, None, None, "regions"),
}
SIZE = (1600, 1000)


def wait_until(condition, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not get there in time")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)


def shoot(out_dir: pathlib.Path, name: str, spec: tuple) -> pathlib.Path:
    from designer import MainWindow

    sample, epochs, batch, during, tab = spec
    window = MainWindow()
    window.resize(*SIZE)
    window.show()
    try:
        assert window.open_path(ROOT / "samples" / sample, ask=False)
        panel, controller = window.training.panel, window.training.controller
        if epochs is not None:
            panel.epochs_spin.setValue(epochs)
        if batch is not None:
            panel.batch_spin.setValue(batch)
        window.actionTrain.trigger()
        results = window.training.results
        if during:
            wait_until(lambda: controller.run is not None and len(controller.run.epochs) >= during
                       and results.payload is not None)
        else:
            wait_until(lambda: not controller.active)
        if tab == "regions":  # otherwise the view's own choice (validation images for digits)
            results.setCurrentIndex(results.indexOf(results.regions_plot))
            split = window.findChild(QSplitter, "trainingSplitter")
            split.setSizes([SIZE[0] // 2, SIZE[0] // 2])
        window.canvas.fitInView(window.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20),
                                Qt.AspectRatioMode.KeepAspectRatio)
        settle()
        path = out_dir / name
        if not window.grab().save(str(path)):
            raise OSError(f"cannot write {path}")
        controller.stop()
        wait_until(lambda: not controller.active)
        return path
    finally:
        window.document.undo_stack.setClean()
        window.close()
        settle(0.1)


def main(argv: list[str]) -> int:
    out_dir = pathlib.Path(argv[0]) if argv else ROOT / "docs"
    out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    for name, spec in SHOTS.items():
        print(shoot(out_dir, name, spec))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
