"""What flows along an edge, as far as static analysis knows it.

Shapes are per sample: the batch dimension is never included. ``(64,)`` is a vector of 64
features, ``(1, 8, 8)`` a one-channel 8x8 image, ``(20, 1)`` a sequence of 20 steps of 1 feature.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: str = "float32"  # "float32" or "int64"
    # For targets: what the numbers mean. "classification" targets are class indices in
    # [0, classes); "regression" targets are real vectors of ``shape``; "multilabel" targets
    # are 0/1 vectors of ``shape``.
    task: str | None = None
    classes: int | None = None
    kind: str = "tensor"  # port kind: "tensor", "loss" or "schedule"

    def describe(self) -> str:
        if self.kind != "tensor":
            return self.kind
        text = format_shape(self.shape)
        if self.dtype == "int64":
            text += " int"
        if self.task == "classification" and self.classes:
            text += f" ({self.classes} classes)"
        return text


def format_shape(shape: tuple[int, ...]) -> str:
    """``(1, 8, 8)`` -> ``1×8×8``; a scalar per sample -> ``scalar``."""
    if not shape:
        return "scalar"
    return "×".join(str(d) for d in shape)


def numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


LOSS = TensorInfo((), kind="loss")
SCHEDULE = TensorInfo((), kind="schedule")
