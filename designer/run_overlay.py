"""A training run's figures on the canvas: each layer's gradient norm as a coloured band, and
"failed here" on the node a failure names.

Invariants: the overlay paints only through the scene's own methods
(``GraphScene.set_run_overlay`` / ``clear_run_overlays``), never on its items; it draws only on
the document graph the run started from (after File ▸ Open the scene shows another graph, and
its nodes, even with the same ids, are not the run's).
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtGui import QColor

from .document import Document
from .scene import GraphScene

FAILED_COLOR = "#d62728"


class RunOverlay:
    """The active run's figures on the scene of the document it started from."""

    def __init__(self, scene: GraphScene, document: Document):
        self.scene = scene
        self.document = document
        self._graph: Any = None  # the document graph the overlay belongs to

    def begin(self) -> None:
        """A run starts: clear the previous run's figures; draw on the graph shown now."""
        self.scene.clear_run_overlays()
        self._graph = self.document.graph

    def _current(self) -> bool:
        return self._graph is not None and self._graph is self.document.graph

    def show_epoch(self, record: dict) -> None:
        """An epoch record's gradient norms, one band per layer."""
        if not self._current():
            return
        for nid, value in (record.get("grad_norm") or {}).items():
            if isinstance(value, (int, float)):
                self.scene.set_run_overlay(nid, *grad_overlay(float(value)))

    def mark_failed(self, node_id: str | None) -> None:
        if node_id and self._current():
            self.scene.set_run_overlay(node_id, "✖ failed here", QColor(FAILED_COLOR))


def grad_overlay(value: float) -> tuple[str, QColor]:
    """The canvas band for a layer's gradient norm: text and colour (vanishing → exploding)."""
    if not math.isfinite(value):
        return f"‖∇‖ {value} ✖", QColor(FAILED_COLOR)
    if value <= 0:
        return "‖∇‖ 0", QColor("#6b7280")
    exponent = math.log10(value)
    # -6 (vanishing: violet) .. -3 (small: blue) .. -1 (healthy: green) .. 1+ (exploding: orange/red)
    stops = ((-6.0, (110, 64, 170)), (-3.5, (49, 130, 189)), (-1.5, (44, 160, 44)),
             (0.5, (230, 170, 30)), (2.0, (214, 39, 40)))
    if exponent <= stops[0][0]:
        rgb = stops[0][1]
    elif exponent >= stops[-1][0]:
        rgb = stops[-1][1]
    else:
        for (x0, c0), (x1, c1) in zip(stops, stops[1:]):
            if x0 <= exponent <= x1:
                t = (exponent - x0) / (x1 - x0)
                rgb = tuple(round(a + (b - a) * t) for a, b in zip(c0, c1))
                break
    return f"‖∇‖ {value:.2g}", QColor(*rgb)
