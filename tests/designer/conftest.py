"""Designer test setup: every test gets its own recovery and settings folders, and the window's
prompts are replaced so no modal dialog can block a headless run.

``prompts`` records what the window would have asked or shown; a test sets
``prompts.answers[...]`` to choose an answer.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

import pytest

from designer.mainwindow import MainWindow


@dataclass
class Prompts:
    errors: list[tuple[str, str]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    answers: dict[str, object] = field(default_factory=lambda: {
        "save_changes": "discard", "recover": False, "move_aside": True, "open_path": "", "save_path": ""})


@pytest.fixture(autouse=True)
def collect_qt_garbage(qapp):
    """Collect reference cycles holding Qt wrappers right after each test, while the
    QApplication is alive, so a lifetime bug crashes at the test that caused it instead of at
    the end of the session (see test_document_lifetime.py)."""
    yield
    # A test may put its own QMimeData on the clipboard (as another program would); left there,
    # it segfaults the interpreter when the QApplication goes (see designer/clipboard.py).
    qapp.clipboard().clear()
    qapp.processEvents()
    gc.collect()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWRIGHT_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("NETWRIGHT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("NETWRIGHT_AUTOSAVE_SECONDS", raising=False)


@pytest.fixture(autouse=True)
def prompts(monkeypatch) -> Prompts:
    rec = Prompts()

    def ask_save_changes(self) -> str:
        rec.asked.append("save_changes")
        return rec.answers["save_changes"]  # type: ignore[return-value]

    def ask_recover(self, text: str) -> bool:
        rec.asked.append("recover: " + text)
        return bool(rec.answers["recover"])

    def ask_move_aside(self, text: str) -> bool:
        rec.asked.append("move_aside: " + text)
        return bool(rec.answers["move_aside"])

    def show_error(self, title: str, text: str) -> None:
        rec.errors.append((title, text))

    monkeypatch.setattr(MainWindow, "ask_save_changes", ask_save_changes)
    monkeypatch.setattr(MainWindow, "ask_recover", ask_recover)
    monkeypatch.setattr(MainWindow, "ask_move_aside", ask_move_aside)
    monkeypatch.setattr(MainWindow, "show_error", show_error)
    monkeypatch.setattr(MainWindow, "choose_open_path", lambda self: rec.answers["open_path"])
    monkeypatch.setattr(MainWindow, "choose_save_path", lambda self: rec.answers["save_path"])
    return rec


@pytest.fixture
def window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    return w
