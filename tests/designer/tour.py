"""The README's "A quick tour" as steps a user performs, read from the README itself.

Both tests/designer/test_readme_tour.py (which asserts what the tour promises) and
tests/tools/make_screenshots.py (which photographs it) perform the tour through these functions,
so the README's text, its test and its pictures describe the same clicks.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from graph import catalogue
from tests.designer.helpers import click_node, drop_node, type_into, wire

ROOT = pathlib.Path(__file__).resolve().parents[2]


def tour_text() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## A quick tour")
    return text[start:text.index("\n## ", start + 3)]


def step(tour: str, n: int) -> str:
    """The text of numbered step ``n`` of the tour, on one line."""
    match = re.search(rf"^{n}\. (.*?)(?=^\d+\. |\Z)", tour, re.S | re.M)
    assert match, f"the tour has no step {n}"
    return " ".join(match.group(1).split())


def node_types(tour: str) -> list[str]:
    """The catalogue types step 2 names in italics, in the order it names them."""
    return [name for name in re.findall(r"\*(\w+)\*", step(tour, 2)) if name in catalogue.REGISTRY]


def out_features(tour: str) -> list[int]:
    """The Linear layers' out_features, in the order step 2 sets them."""
    pairs = re.findall(r"(\d+) into its `out_features`|`out_features` to (\d+)", step(tour, 2))
    return [int(a or b) for a, b in pairs]


def tour_epochs(tour: str) -> int:
    return int(re.search(r"Type (\d+) into the Training panel's \*Epochs\* field", step(tour, 3)).group(1))


def promised_loss(tour: str) -> float:
    return float(re.search(r"train loss below ([\d.]+)", step(tour, 3)).group(1))


def press(window: Any, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key press where a user's lands: on the canvas, which has the focus after a click."""
    QTest.keyClick(window.canvas, key, modifier)


def build(window: Any, tour: str) -> list[str]:
    """Steps 1 and 2: Ctrl+N, drop the nodes from the palette, type the Inspector values, wire.

    Returns the node ids in the order the tour names the nodes."""
    press(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    vp = window.canvas.viewport().rect()
    ids = []
    for i, type_id in enumerate(node_types(tour)):  # left to right, in two rows, all in view
        col, row = i % 3, i // 3
        pos = QPoint(vp.left() + vp.width() * (2 * col + 1) // 6, vp.top() + vp.height() * (30 + 45 * row) // 100)
        ids.append(drop_node(window, type_id, pos))
    data, lin1, tanh, lin2, loss, opt = ids
    for node_id, value in zip((lin1, lin2), out_features(tour), strict=True):
        click_node(window, node_id)
        type_into(window.inspector.editors["out_features"].widget, str(value))
    for src, sp, dst, dp in ((data, "features", lin1, "input"), (lin1, "output", tanh, "input"),
                             (tanh, "output", lin2, "input"), (lin2, "output", loss, "prediction"),
                             (data, "target", loss, "target"), (loss, "loss", opt, "loss")):
        wire(window, src, sp, dst, dp)
    return ids


def start_training(window: Any, tour: str, node_id: str) -> None:
    """Step 3: the epochs into the Training panel's field (Return), a click on the canvas, F5."""
    type_into(window.training.panel.epochs_spin, str(tour_epochs(tour)))
    click_node(window, node_id)
    press(window, Qt.Key.Key_F5)
