"""Make the README's screenshots with the app itself, offscreen.

Opens samples in the real MainWindow, trains them through ``actionTrain`` and grabs the window
mid-training and after; performs the README's quick tour through Qt events (tests/designer/tour.py)
and grabs the window after wiring and after training, at the default size and at 1280×800. Run
from the repository root:

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

from PySide6.QtCore import QCoreApplication  # noqa: E402
from PySide6.QtWidgets import QApplication, QSplitter  # noqa: E402

SHOTS = {
    # file name: (sample, epochs, batch size, epochs to wait before the "during" shot, results tab)
    "designer-training.png": ("digits_mlp.json", 40, 16, 3, "images"),
    "decision-regions.png": ("residual_mlp.json", None, None, None, "regions"),
}
SIZE = (1600, 1000)
TOUR_SIZES = {"default": None, "1280x800": (1280, 800)}  # None: the window's own default size


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
        # The canvas as the app opens it (readable text, the Dataset end in view), not fitted.
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


def shoot_tour(out_dir: pathlib.Path, label: str, size: tuple[int, int] | None) -> list[pathlib.Path]:
    """The README's tour as a user performs it: ``tour-wired-LABEL.png``, ``tour-trained-LABEL.png``."""
    from designer import MainWindow
    from tests.designer import tour

    window = MainWindow(offer_recovery=False)
    if size is not None:
        window.resize(*size)
    window.show()
    window.activateWindow()
    settle(0.2)
    shots = []
    try:
        text = tour.tour_text()
        ids = tour.build(window, text)
        window.scene.clearSelection()
        shots.append(grab(window, out_dir / f"tour-wired-{label}.png"))
        controller = window.training.controller
        tour.start_training(window, text, ids[1])
        wait_until(lambda: controller.run is not None and not controller.active)
        window.training.results.setCurrentIndex(window.training.results.indexOf(window.training.results.regions_plot))
        shots.append(grab(window, out_dir / f"tour-trained-{label}.png"))
        return shots
    finally:
        window.document.undo_stack.setClean()
        window.close()
        settle(0.1)


def grab(window, path: pathlib.Path) -> pathlib.Path:
    settle()
    if not window.grab().save(str(path)):
        raise OSError(f"cannot write {path}")
    return path


def main(argv: list[str]) -> int:
    out_dir = pathlib.Path(argv[0]) if argv else ROOT / "docs"
    out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    for name, spec in SHOTS.items():
        print(shoot(out_dir, name, spec))
    for label, size in TOUR_SIZES.items():
        for path in shoot_tour(out_dir, label, size):
            print(path)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
