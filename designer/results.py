"""What a trained model does with the data: confusion matrix, decision regions, images, regression.

Two halves with a plain-data payload between them:

* ``runtime.results.compute_results`` runs in the training process, next to the model. Given a
  ``predict(x) -> outputs`` function and the run's arrays it returns a dict of numpy arrays and
  numbers (never tensors): the confusion matrix, the predicted class over a grid for 2-D data,
  the validation images with mistakes first, predicted vs. true values for regression.
* :class:`ResultsView` (objectName ``resultsView``) shows the newest payload on the GUI thread.
  Its pages are created once; each payload only feeds them with ``setImage``/``setData``/text.

Invariants: the payload is never mutated after it is emitted (the worker builds a fresh dict each
time); the view keeps only the latest payload; painting never calls into the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QScrollArea, QSizePolicy, QTabWidget, QVBoxLayout, QWidget

from .plots import BACKGROUND, FOREGROUND, make_plot

CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf")


def class_color(k: int) -> QColor:
    if k < len(CLASS_COLORS):
        return QColor(CLASS_COLORS[k])
    return pg.intColor(k, hues=17)


# --------------------------------------------------------------------- GUI side


class ImageGrid(QWidget):
    """Validation images in a grid, each captioned ``true → predicted``; mistakes framed red."""

    CELL = 64
    CAPTION = 16

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._images: list[QImage] = []
        self._captions: list[tuple[str, bool]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_images(self, images: np.ndarray, true: np.ndarray, pred: np.ndarray, names: list[str]) -> None:
        self._images.clear()
        self._captions.clear()
        a = np.nan_to_num(np.asarray(images, dtype=np.float32))
        if a.ndim == 3 and len(a):
            lo = a.min(axis=(1, 2), keepdims=True)
            span = a.max(axis=(1, 2), keepdims=True) - lo
            g = np.where(span > 0, (a - lo) / np.where(span > 0, span, 1.0), 0.0)
            pixels = np.ascontiguousarray((255 - g * 255).astype(np.uint8))  # dark ink on white
        else:
            pixels = np.zeros((0, 1, 1), dtype=np.uint8)
        for data, t, p in zip(pixels, true, pred):
            qimg = QImage(data.data, data.shape[1], data.shape[0], data.shape[1],
                          QImage.Format.Format_Grayscale8).copy()
            self._images.append(qimg)
            tn = names[int(t)] if 0 <= int(t) < len(names) else str(int(t))
            pn = names[int(p)] if 0 <= int(p) < len(names) else str(int(p))
            self._captions.append((f"{tn} → {pn}", int(t) != int(p)))
        self._relayout()
        self.update()

    def captions(self) -> list[str]:
        """The captions shown, in order (``true → predicted``)."""
        return [c for c, _ in self._captions]

    def _columns(self) -> int:
        return max(1, (self.width() - 4) // (self.CELL + 6))

    def _relayout(self) -> None:
        rows = math.ceil(len(self._images) / self._columns()) if self._images else 0
        self.setMinimumHeight(rows * (self.CELL + self.CAPTION + 8) + 4)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._relayout()
        super().resizeEvent(event)

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(BACKGROUND))
        cols = self._columns()
        font = QFont()
        font.setPointSize(8)
        p.setFont(font)
        exposed = QRectF(event.rect())
        for i, (img, (caption, wrong)) in enumerate(zip(self._images, self._captions)):
            r, c = divmod(i, cols)
            x = 4 + c * (self.CELL + 6)
            y = 4 + r * (self.CELL + self.CAPTION + 8)
            if not exposed.intersects(QRectF(x - 3, y - 2, self.CELL + 6, self.CELL + self.CAPTION + 4)):
                continue  # scrolled out of view
            target = QRectF(x, y, self.CELL, self.CELL)
            p.drawImage(target, img)
            p.setPen(QPen(QColor("#d62728") if wrong else QColor("#c8ccd2"), 2 if wrong else 1))
            p.drawRect(target)
            p.setPen(QColor("#d62728") if wrong else QColor(FOREGROUND))
            p.drawText(QRectF(x - 3, y + self.CELL + 1, self.CELL + 6, self.CAPTION),
                       Qt.AlignmentFlag.AlignCenter, caption)
        p.end()


class ResultsView(QTabWidget):
    """Tabs for the newest results payload; tabs not relevant to the task are hidden."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("resultsView")
        self.payload: dict[str, Any] | None = None
        self._drawn: set[str] = set()  # the pages that show the current payload

        self._empty = QLabel("Train the model to see its predictions here.")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setStyleSheet(f"color: {FOREGROUND};")

        self._make_confusion_page()
        self._make_regions_page()
        self._make_images_page()
        self._make_regression_page()

        self._tabs = {
            "empty": self.addTab(self._empty, "Results"),
            "regions": self.addTab(self.regions_plot, "Decision regions"),
            "confusion": self.addTab(self.confusion_plot, "Confusion matrix"),
            "images": self.addTab(self.images_page, "Validation images"),
            "regression": self.addTab(self.regression_plot, "Predicted vs. true"),
        }
        for key, tip in TAB_TIPS.items():
            self.setTabToolTip(self._tabs[key], tip)
        for key in self._tabs:
            self.setTabVisible(self._tabs[key], key == "empty")
        self.currentChanged.connect(self._draw_current)

    def _make_confusion_page(self) -> None:
        self.confusion_plot = make_plot("confusionPlot", "Confusion matrix", "true class", grid=False)
        self.confusion_plot.getPlotItem().setLabel("bottom", "predicted class", color=FOREGROUND)
        self.confusion_plot.getPlotItem().invertY(True)
        self.confusion_plot.getPlotItem().setAspectLocked(True)
        self.confusion_plot.getPlotItem().showGrid(False, False)
        self._cm_image = pg.ImageItem()
        self._cm_image.setLookupTable(_blues_lut())
        self.confusion_plot.getPlotItem().addItem(self._cm_image)
        self._cm_texts: list[pg.TextItem] = []
        self._cm_shown: list[tuple[str, str] | None] = []  # what each cell's text item shows

    def _make_regions_page(self) -> None:
        self.regions_plot = make_plot("regionsPlot", "Decision regions", "x₂", grid=False)
        self.regions_plot.getPlotItem().setLabel("bottom", "x₁", color=FOREGROUND)
        self.regions_plot.getPlotItem().showGrid(False, False)
        self._regions_image = pg.ImageItem()
        self._regions_scatter = pg.ScatterPlotItem(size=6, pxMode=True)
        self.regions_plot.getPlotItem().addItem(self._regions_image)
        self.regions_plot.getPlotItem().addItem(self._regions_scatter)

    def _make_images_page(self) -> None:
        self.image_grid = ImageGrid()
        self._images_title = QLabel()
        self._images_title.setStyleSheet(f"color: {FOREGROUND}; padding: 2px;")
        # Its text changes with every update: its width must not move the splitter beside it.
        self._images_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._images_title.setToolTip("Validation images, the misclassified ones first; each caption "
                                      "reads true class → predicted class.")
        images_page = self.images_page = QWidget()
        box = QVBoxLayout(images_page)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self._images_title)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.image_grid)
        box.addWidget(scroll)

    def _make_regression_page(self) -> None:
        self.regression_plot = make_plot("regressionPlot", "Predicted vs. true", "predicted")
        self.regression_plot.getPlotItem().setLabel("bottom", "true", color=FOREGROUND)
        self._diagonal = pg.PlotCurveItem(pen=pg.mkPen("#888", width=1, style=Qt.PenStyle.DashLine))
        self._reg_scatter = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(31, 119, 180, 150))
        self.regression_plot.getPlotItem().addItem(self._diagonal)
        self.regression_plot.getPlotItem().addItem(self._reg_scatter)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        # Fixed, not the pages' (whose titles change with every update): the splitter beside the
        # plots keeps its place while a run trains.
        return QSize(540, 320)

    # ------------------------------------------------------------------ updates

    def clear_results(self) -> None:
        self.payload = None
        for key, index in self._tabs.items():
            self.setTabVisible(index, key == "empty")

    def show_results(self, payload: dict[str, Any]) -> None:
        first = self.payload is None
        self.payload = None  # nothing is drawn while the tabs change (each change of page draws)
        shown = {"confusion": "confusion" in payload, "regions": "regions" in payload,
                 "images": "images" in payload, "regression": "regression" in payload}
        shown["empty"] = not any(shown.values())
        current_visible = self.isTabVisible(self.currentIndex())
        for key, index in self._tabs.items():
            self.setTabVisible(index, shown[key])
        if first or not current_visible:
            for key in ("regions", "images", "confusion", "regression", "empty"):
                if shown[key]:
                    self.setCurrentIndex(self._tabs[key])
                    break
        self.payload, self._drawn = payload, set()
        self._draw_current()

    def _draw_current(self) -> None:
        """Draw the payload on the page in view only (the others when they come into view): a
        run updates its results every half second, and drawing all pages took ~4 ms each."""
        payload = self.payload
        key = next((k for k, i in self._tabs.items() if i == self.currentIndex()), None)
        if payload is None or key is None or key in self._drawn or key not in payload:
            return
        self._drawn.add(key)
        epoch = payload.get("epoch")
        if key == "confusion":
            self._show_confusion(payload["confusion"], payload["class_names"], epoch, payload.get("accuracy"))
        elif key == "regions":
            self._show_regions(payload["regions"], epoch)
        elif key == "images":
            imgs = payload["images"]
            self.image_grid.set_images(imgs["images"], imgs["true"], imgs["pred"], payload["class_names"])
            # short enough for the pane at 1280×800; the tooltip explains the captions
            self._images_title.setText(f"Epoch {epoch} · {imgs['wrong']} of {payload['n']} wrong, shown first")
        elif key == "regression":
            self._show_regression(payload["regression"], epoch, payload.get("rmse"))

    def confusion_matrix(self) -> np.ndarray | None:
        return None if self.payload is None else self.payload.get("confusion")

    def confusion_texts(self) -> list[str]:
        """The cell labels the confusion page shows, row by row (true class) ("" for 0)."""
        return [t.toPlainText() for t in self._cm_texts]

    def _show_confusion(self, cm: np.ndarray, names: list[str], epoch: Any, accuracy: Any) -> None:
        k = len(cm)
        row_sums = cm.sum(axis=1, keepdims=True)
        share = np.where(row_sums > 0, cm / np.maximum(row_sums, 1), 0.0)
        self._cm_image.setImage(share.T.astype(np.float32), levels=(0.0, 1.0))  # x = predicted
        self._cm_image.setRect(QRectF(-0.5, -0.5, k, k))
        item = self.confusion_plot.getPlotItem()
        if len(self._cm_texts) != k * k:
            for t in self._cm_texts:
                item.removeItem(t)
            font = QFont()
            font.setPointSize(7 if k > 10 else 8)
            self._cm_texts = []
            self._cm_shown = [None] * (k * k)
            for i in range(k):
                for j in range(k):
                    t = pg.TextItem(anchor=(0.5, 0.5))
                    t.setFont(font)
                    t.setPos(j, i)
                    item.addItem(t)
                    self._cm_texts.append(t)
            ticks = [(i, _short(names[i])) for i in range(k)]
            item.getAxis("bottom").setTicks([ticks])
            item.getAxis("left").setTicks([ticks])
            item.setXRange(-0.5, k - 0.5, padding=0.02)
            item.setYRange(-0.5, k - 0.5, padding=0.02)
        for i in range(k):
            for j in range(k):
                t = self._cm_texts[i * k + j]
                n = int(cm[i, j])
                text, color = (str(n) if n else ""), ("white" if share[i, j] > 0.55 else FOREGROUND)
                if (text, color) != self._cm_shown[i * k + j]:  # most cells keep their count
                    t.setText(text, color=color)
                    self._cm_shown[i * k + j] = (text, color)
        acc = f" · val acc {accuracy:.3f}" if isinstance(accuracy, float) else ""
        _set_title(item, f"Epoch {epoch}{acc}")

    def _show_regions(self, regions: dict[str, Any], epoch: Any) -> None:
        classes = np.asarray(regions["classes"])
        x0, x1, y0, y1 = regions["extent"]
        k = max(int(classes.max(initial=0)), int(np.asarray(regions["labels"]).max(initial=0))) + 1
        light = np.array([_mix(class_color(c), 0.32) for c in range(k)], dtype=np.uint8)
        rgb = light[np.clip(classes, 0, k - 1)]
        self._regions_image.setImage(rgb, levels=(0, 255))
        self._regions_image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        pts, labels, is_val = regions["points"], regions["labels"], regions["is_val"]
        brushes = [pg.mkBrush(class_color(int(c))) for c in range(k)]
        white, dark = pg.mkPen("w", width=0.8), pg.mkPen("#222", width=1.2)
        self._regions_scatter.setData(
            pos=pts, brush=[brushes[int(c)] for c in labels],
            pen=[dark if v else white for v in is_val], symbol=["t" if v else "o" for v in is_val])
        item = self.regions_plot.getPlotItem()
        item.setXRange(x0, x1, padding=0)
        item.setYRange(y0, y1, padding=0)
        _set_title(item, f"Epoch {epoch} · ● train ▲ val")

    def _show_regression(self, reg: dict[str, Any], epoch: Any, rmse: Any) -> None:
        true, pred = np.asarray(reg["true"]), np.asarray(reg["pred"])
        ok = np.isfinite(true) & np.isfinite(pred)
        self._reg_scatter.setData(true[ok], pred[ok])
        if ok.any():
            lo = float(min(true[ok].min(), pred[ok].min()))
            hi = float(max(true[ok].max(), pred[ok].max()))
            self._diagonal.setData([lo, hi], [lo, hi])
        text = f" · val RMSE {rmse:.4g}" if isinstance(rmse, float) and math.isfinite(rmse) else ""
        _set_title(self.regression_plot.getPlotItem(), f"Epoch {epoch}{text}")


TAB_TIPS = {
    "regions": "The class the model predicts at each point of the plane, with the training points (●) "
               "and the validation points (▲, dark outline) in their true classes' colours.",
    "confusion": "Validation rows by true class (rows) and predicted class (columns): the diagonal is right.",
    "images": "Validation images, the misclassified ones first; each caption reads true class → predicted class.",
    "regression": "Each validation row's prediction against its true value: on the dashed diagonal is exact.",
}


def _set_title(item: pg.PlotItem, text: str) -> None:
    """A one-line plot title that never widens the plot beyond its pane.

    pyqtgraph makes a title's text width the plot's minimum width, so a long title pushed the
    plot past the results pane's right edge (cut off at 1280×800). The tab names what the page
    shows; the title keeps only the epoch and the figures."""
    item.setTitle(f"<span style='color:{FOREGROUND}; font-size:9pt'>{text}</span>")
    item.titleLabel.setMinimumWidth(0)


def _short(text: str, limit: int = 10) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mix(color: QColor, amount: float) -> tuple[int, int, int]:
    """``color`` blended with white: ``amount`` of the colour."""
    return (round(255 + (color.red() - 255) * amount), round(255 + (color.green() - 255) * amount),
            round(255 + (color.blue() - 255) * amount))


def _blues_lut() -> np.ndarray:
    t = np.linspace(0.0, 1.0, 256)[:, None]
    lo, hi = np.array([247, 251, 255]), np.array([8, 69, 148])
    return (lo + (hi - lo) * t).astype(np.uint8)
