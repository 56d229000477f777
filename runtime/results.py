"""What a trained model does with the data, as plain numbers: confusion matrix, decision regions
over a grid, validation images mistakes first, predicted vs. true for regression.

:func:`compute_results` runs where the model is (the training process); given a
``predict(x) -> outputs`` function and the run's arrays it returns a dict of numpy arrays and
numbers (never tensors) that pickles cheaply and that ``designer.results.ResultsView`` shows.
numpy only: no torch, no Qt.

Invariants: a fresh payload dict per call (never mutated afterwards); every array is bounded
(GRID x GRID regions, MAX_IMAGES images, MAX_POINTS points) whatever the data size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

GRID = 120  # decision-region resolution per axis
MAX_IMAGES = 48
MAX_POINTS = 4000  # points drawn over the regions / in the regression scatter



def predicted_classes(outputs: np.ndarray, binary_threshold: float = 0.0) -> np.ndarray:
    """Class indices from model outputs: argmax over scores, or a threshold for one output."""
    out = np.asarray(outputs)
    if out.ndim == 2 and out.shape[1] > 1:
        return np.argmax(out, axis=1)
    return (out.reshape(len(out)) > binary_threshold).astype(np.int64)


def image_shape(features_shape: tuple[int, ...], dataset: str = "") -> tuple[int, int] | None:
    """(H, W) when samples are pictures: C×H×W with C in 1..4, H×W, or digits as 64 flat pixels."""
    shape = tuple(features_shape)
    if len(shape) == 3 and shape[0] in (1, 3, 4) and min(shape[1:]) >= 4:
        return shape[1], shape[2]
    if len(shape) == 2 and min(shape) >= 5:
        return shape
    if dataset == "digits" and shape == (64,):
        return 8, 8
    return None


def display_pixels(x: np.ndarray, preprocessing: dict | None) -> np.ndarray:
    """Undo per-pixel preprocessing (center, zscore, minmax) so images look like images again;
    other kinds are returned as they are."""
    stats = preprocessing or {}
    kind = stats.get("kind", "none")
    if kind not in ("center", "zscore", "minmax"):
        return x
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    offset = np.asarray(stats["min"] if kind == "minmax" else stats["mean"], dtype=np.float64)
    scale = np.asarray(stats.get("std", stats.get("range", 1.0)), dtype=np.float64)
    if offset.shape[-1:] != flat.shape[-1:]:
        return x
    return (flat * (1.0 if kind == "center" else scale) + offset).reshape(np.shape(x))


def confusion_matrix(true: np.ndarray, pred: np.ndarray, classes: int) -> np.ndarray:
    k = max(classes, int(true.max(initial=-1)) + 1, int(pred.max(initial=-1)) + 1, 1)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (true.astype(np.int64), pred.astype(np.int64)), 1)
    return cm


def compute_results(predict: Callable[[np.ndarray], np.ndarray], *, task: str, classes: int | None,
                    x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                    class_names: list[str] | None = None, dataset: str = "",
                    preprocessing: dict | None = None,
                    binary_threshold: float = 0.0, epoch: int = 0) -> dict[str, Any]:
    """Everything the results view shows for one model state. Runs in the worker thread.

    Uses the validation split (the training split when there is none).
    """
    if len(x_val) == 0:
        x_val, y_val = x_train, y_train
    payload: dict[str, Any] = {"epoch": int(epoch), "task": task, "n": int(len(x_val))}
    if len(x_val) == 0:
        return payload
    outputs = np.asarray(predict(x_val))
    if task == "classification":
        true = np.asarray(y_val).reshape(len(y_val)).astype(np.int64)
        pred = predicted_classes(outputs, binary_threshold)
        k = int(classes or 0)
        cm = confusion_matrix(true, pred, k)
        names = list(class_names or [])[: len(cm)]
        names += [str(i) for i in range(len(names), len(cm))]
        payload.update(confusion=cm, class_names=names, accuracy=float((true == pred).mean()))
        features = tuple(x_val.shape[1:])
        if features == (2,):
            payload["regions"] = _regions(predict, x_train, y_train, x_val, true, binary_threshold)
        hw = image_shape(features, dataset)
        if hw is not None:
            wrong = np.flatnonzero(true != pred)
            right = np.flatnonzero(true == pred)
            pick = np.concatenate([wrong, right])[:MAX_IMAGES]
            imgs = np.asarray(display_pixels(x_val[pick], preprocessing), dtype=np.float32)
            imgs = imgs.reshape(len(pick), -1, hw[0], hw[1]).mean(axis=1)  # channels averaged
            payload["images"] = {"images": imgs, "true": true[pick], "pred": pred[pick],
                                 "wrong": int(len(wrong))}
    elif task == "regression":
        true = np.asarray(y_val, dtype=np.float64).reshape(-1)
        pred = outputs.astype(np.float64).reshape(-1)
        n = min(len(true), len(pred))
        payload["regression"] = {"true": true[:n][:MAX_POINTS], "pred": pred[:n][:MAX_POINTS]}
        if n:
            err = pred[:n] - true[:n]
            payload["rmse"] = float(np.sqrt(np.mean(err * err)))
    return payload


def _regions(predict, x_train, y_train, x_val, y_val_true, threshold) -> dict[str, Any]:
    pts = np.concatenate([np.asarray(x_train, dtype=np.float64), np.asarray(x_val, dtype=np.float64)])
    finite = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = (finite.min(axis=0), finite.max(axis=0)) if len(finite) else (np.zeros(2), np.ones(2))
    pad = np.maximum((hi - lo) * 0.08, 1e-3)
    lo, hi = lo - pad, hi + pad
    gx = np.linspace(lo[0], hi[0], GRID)
    gy = np.linspace(lo[1], hi[1], GRID)
    xx, yy = np.meshgrid(gx, gy, indexing="ij")  # [i, j] = (gx[i], gy[j]): pyqtgraph's x-major order
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.asarray(x_train).dtype)
    classes = predicted_classes(np.asarray(predict(grid)), threshold).reshape(GRID, GRID)
    n_train = len(x_train)
    labels = np.concatenate([np.asarray(y_train).reshape(-1), y_val_true]).astype(np.int64)
    is_val = np.arange(len(pts)) >= n_train
    if len(pts) > MAX_POINTS:
        keep = np.linspace(0, len(pts) - 1, MAX_POINTS).astype(np.int64)
        pts, labels, is_val = pts[keep], labels[keep], is_val[keep]
    return {"extent": (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
            "classes": classes.astype(np.int16), "points": pts.astype(np.float32),
            "labels": labels, "is_val": is_val}
