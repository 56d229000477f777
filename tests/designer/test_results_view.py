"""The results view draws the page in view, and the others when the user turns to them."""

from __future__ import annotations

import numpy as np

from designer.results import ResultsView


def payload(epoch: int, cm: list[list[int]], pred: list[int]) -> dict:
    images = np.linspace(0.0, 1.0, 4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8)
    images[1] = np.nan  # a broken image is drawn blank, never an error
    images[2] = 0.5  # so is a flat one
    true = np.array([0, 1, 2, 2])
    return {"epoch": epoch, "n": 4, "confusion": np.array(cm), "class_names": ["a", "b", "c"],
            "accuracy": float(np.trace(cm)) / 4,
            "images": {"images": images, "true": true, "pred": np.array(pred), "wrong": int((true != pred).sum())}}


def test_only_the_page_in_view_is_drawn_and_the_others_when_shown(qtbot):
    view = ResultsView()
    qtbot.addWidget(view)
    view.resize(540, 320)
    view.show()
    view.show_results(payload(1, [[1, 0, 0], [0, 0, 1], [0, 1, 1]], [0, 2, 1, 2]))
    assert view.currentWidget() is view.images_page  # pictures first for image data
    assert view.image_grid.captions() == ["a → a", "b → c", "c → b", "c → c"]
    assert view.confusion_texts() == []  # not drawn while out of view

    view.setCurrentWidget(view.confusion_plot)
    assert view.confusion_texts() == ["1", "", "", "", "", "1", "", "1", "1"]

    # the next update draws the confusion page (in view) and leaves the images page for later
    view.show_results(payload(2, [[1, 0, 0], [0, 1, 0], [0, 0, 2]], [0, 1, 2, 2]))
    assert view.confusion_texts() == ["1", "", "", "", "1", "", "", "", "2"]
    assert view.image_grid.captions() == ["a → a", "b → c", "c → b", "c → c"]
    view.setCurrentWidget(view.images_page)
    assert view.image_grid.captions() == ["a → a", "b → b", "c → c", "c → c"]
    assert view.grab().width() > 0  # painting the NaN and the flat image does not raise


def regions_payload(epoch: int) -> dict:
    grid = np.zeros((40, 40), dtype=np.int64)
    grid[:, 20:] = 1
    rng = np.random.default_rng(0)
    return {"epoch": epoch, "n": 20, "accuracy": 0.95, "confusion": np.array([[9, 1], [0, 10]]),
            "class_names": ["0", "1"],
            "regions": {"classes": grid, "extent": (-0.5, 1.5, -0.5, 1.5), "points": rng.random((20, 2)),
                        "labels": np.array([0, 1] * 10), "is_val": np.array([False, True] * 10)}}


def test_every_page_fits_the_pane_the_window_gives_it(qtbot):
    """The results pane is ~280 px wide at 1280×800: a title must not push a plot past its edge
    (pyqtgraph makes a title's text width the plot's minimum width)."""
    view = ResultsView()
    qtbot.addWidget(view)
    view.resize(270, 300)
    view.show()
    view.show_results(regions_payload(123))
    for plot in (view.regions_plot, view.confusion_plot):
        view.setCurrentWidget(plot)
        qtbot.waitUntil(lambda p=plot: p.isVisible())
        item = plot.getPlotItem()
        assert "123" in item.titleLabel.text
        width = plot.viewport().width()
        assert item.sceneBoundingRect().right() <= width + 1, (item.sceneBoundingRect(), width)
        assert item.getViewBox().sceneBoundingRect().width() > 100  # the picture keeps room
        assert view.tabToolTip(view.indexOf(plot))  # the long explanation moved to the tab
