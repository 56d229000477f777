"""The PySide6 + pyqtgraph editor. ``designer.MainWindow`` is imported lazily so that the
``netwright`` launcher can serve headless commands without loading Qt."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "MainWindow":
        from .mainwindow import MainWindow

        return MainWindow
    raise AttributeError(name)
