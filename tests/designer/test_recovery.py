"""Autosave and crash recovery (issue 14, "nothing blocks, nothing is lost"): the schedule that
decides when a recovery file is written, what is written, where it lives whatever the
application's names, and that a recovery file that cannot be read is moved aside with its reason
and never stops the designer from starting."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from PySide6.QtCore import QCoreApplication, QStandardPaths, QTimer

from designer.mainwindow import MainWindow
from designer.recovery import (
    DAMAGED,
    AutosaveSchedule,
    RecoverySession,
    app_settings,
    recovery_dir,
    set_app_names,
)
from graph import fileformat
from tests.conftest import ROOT, SAMPLES

# ------------------------------------------------------------------ the schedule (fake clock)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_schedule_saves_a_debounce_after_the_last_edit():
    clock = FakeClock()
    schedule = AutosaveSchedule(debounce_s=1.0, max_wait_s=3.0, clock=clock)
    assert schedule.edited() == pytest.approx(1.0)
    clock.now += 0.4
    assert schedule.edited() == pytest.approx(1.0)  # pushed back by the newer edit
    schedule.saved()
    clock.now += 10.0
    assert schedule.edited() == pytest.approx(1.0)  # a fresh start after a save


def test_schedule_caps_the_wait_during_continuous_editing():
    clock = FakeClock()
    schedule = AutosaveSchedule(debounce_s=1.0, max_wait_s=3.0, clock=clock)
    delays = []
    for _ in range(8):  # an edit every 0.5 s: the debounce alone would never fire
        delays.append(schedule.edited())
        clock.now += 0.5
    assert delays[:5] == pytest.approx([1.0, 1.0, 1.0, 1.0, 1.0])
    assert delays[5:] == pytest.approx([0.5, 0.0, 0.0])  # due 3 s after the first unsaved edit


def test_schedule_stretches_the_wait_for_a_graph_that_is_slow_to_snapshot():
    clock = FakeClock()
    schedule = AutosaveSchedule(debounce_s=1.0, max_wait_s=3.0, clock=clock)
    schedule.saved(cost_s=0.001)
    assert schedule.max_wait() == 3.0
    schedule.saved(cost_s=0.2)  # 200 ms on the GUI thread: at most every 10 s (2 %)
    assert schedule.max_wait() == pytest.approx(10.0)


def test_schedule_reads_the_environment(monkeypatch):
    monkeypatch.setenv("NETWRIGHT_AUTOSAVE_DEBOUNCE_SECONDS", "0.25")
    monkeypatch.setenv("NETWRIGHT_AUTOSAVE_SECONDS", "7")
    schedule = AutosaveSchedule.from_environment()
    assert (schedule.debounce_s, schedule.max_wait_s) == (0.25, 7.0)
    monkeypatch.setenv("NETWRIGHT_AUTOSAVE_SECONDS", "0.1")  # the debounce never outlasts the cap
    assert AutosaveSchedule.from_environment().debounce_s == 0.1
    monkeypatch.setenv("NETWRIGHT_AUTOSAVE_SECONDS", "nan")
    assert AutosaveSchedule.from_environment().max_wait_s == 3.0


# ------------------------------------------------------------------ the window's autosave


def test_an_edit_is_autosaved_a_debounce_later(qtbot, monkeypatch):
    monkeypatch.setenv("NETWRIGHT_AUTOSAVE_DEBOUNCE_SECONDS", "0.1")
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_path(SAMPLES / "xor_mlp.json")
    assert not os.path.exists(window.recovery.file)
    node = window.document.add_node("ReLU", (300.0, 300.0), title="just added")
    assert window.autosave_timer.isActive() and window.autosave_timer.interval() <= 100
    with qtbot.waitSignal(window.recovery.written, timeout=5000):
        pass
    rec = RecoverySession.read(window.recovery.file)
    assert rec.graph.nodes[node].title == "just added"
    assert rec.path == str(SAMPLES / "xor_mlp.json")
    assert "xor_mlp.json" in rec.prompt() and f"({len(rec.graph.nodes)} nodes)" in rec.prompt()


def test_continuous_edits_are_saved_within_the_max_wait(qtbot, monkeypatch):
    monkeypatch.setenv("NETWRIGHT_AUTOSAVE_SECONDS", "0.3")  # the debounce becomes 0.3 s too
    window = MainWindow()
    qtbot.addWidget(window)
    first = window.document.graph.settings["epochs"]
    edits = QTimer(window)
    edits.setInterval(20)  # each edit pushes the debounce back: only the cap can save
    edits.timeout.connect(lambda: window.document.set_setting("epochs", window.document.graph.settings["epochs"] + 1))
    edits.start()
    with qtbot.waitSignal(window.recovery.written, timeout=10000):
        pass
    edits.stop()
    saved = RecoverySession.read(window.recovery.file).graph.settings["epochs"]
    assert first < saved <= window.document.graph.settings["epochs"]


def test_a_clean_save_removes_the_file_even_with_a_write_queued(qtbot, tmp_path):
    window = MainWindow()
    qtbot.addWidget(window)
    window.document.add_node("ReLU", (0.0, 0.0))
    assert window.autosave_now()  # queued for the writer thread
    assert window.save_to(tmp_path / "saved.json")
    assert window.recovery.wait_idle(10)
    assert not os.path.exists(window.recovery.file)
    assert not window.autosave_now()  # nothing unsaved: nothing to write


def test_an_autosave_that_cannot_write_says_why(qtbot, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NETWRIGHT_RECOVERY_DIR", str(blocker))
    window = MainWindow()
    qtbot.addWidget(window)
    window.document.add_node("ReLU", (0.0, 0.0))
    assert not window.autosave_now()
    assert window.statusBar().currentMessage().startswith("Autosave failed")


# ------------------------------------------------------------------ where the files live


@pytest.fixture
def app_names(qapp):
    before = (QCoreApplication.organizationName(), QCoreApplication.applicationName())
    yield
    QCoreApplication.setOrganizationName(before[0])
    QCoreApplication.setApplicationName(before[1])


def test_locations_do_not_depend_on_the_application_names(qtbot, monkeypatch, tmp_path, qapp, app_names):
    monkeypatch.delenv("NETWRIGHT_RECOVERY_DIR")
    monkeypatch.delenv("NETWRIGHT_CONFIG_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def locations() -> tuple[str, str, str, str]:
        window = MainWindow(offer_recovery=False)
        qtbot.addWidget(window)
        app_data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        return recovery_dir(), window.recovery.folder, app_settings().fileName(), app_data

    QCoreApplication.setOrganizationName("")
    QCoreApplication.setApplicationName("")  # as a bare QApplication: Qt falls back to the script name
    bare = locations()
    set_app_names(qapp)  # as run_app does
    named = locations()
    assert bare[3] != named[3]  # what the recovery folder used to follow
    assert bare[:3] == named[:3]
    assert named[0] == named[1] == str(tmp_path / "data" / "Netwright" / "Netwright" / "recovery")
    assert "Netwright" in named[2]


# ------------------------------------------------------------------ unreadable recovery files


def recovery_text(graph_text: str, path: str = "") -> str:
    return json.dumps({"netwright-recovery": 1, "path": path, "saved_at": 1.7e9, "graph": graph_text})


def fill_recovery_dir(folder) -> dict[str, str]:
    """A 5,000-digit epochs value, garbage bytes and one good file, as crashed sessions left them."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = (SAMPLES / "xor_mlp.json").read_text(encoding="utf-8")
    doc = json.loads(sample)
    doc["settings"]["epochs"] = 424242  # replaced by 5,000 digits: json.dumps cannot write them
    huge = json.dumps(doc).replace("424242", "7" * 5000)
    files = {"huge": "111-aaaa.recovery.json", "garbage": "222-bbbb.recovery.json", "good": "333-cccc.recovery.json"}
    (folder / files["huge"]).write_text(recovery_text(huge, "/work/huge.json"), encoding="utf-8")
    (folder / files["garbage"]).write_bytes(b"\xff\xfe\x00\x9c garbage \x00")
    (folder / files["good"]).write_text(recovery_text(sample, "/work/good.json"), encoding="utf-8")
    return files


def test_unreadable_recovery_files_are_moved_aside_with_the_reason(qtbot, prompts):
    rec_dir = os.environ["NETWRIGHT_RECOVERY_DIR"]
    files = fill_recovery_dir(pathlib.Path(rec_dir))
    prompts.answers["recover"] = True
    window = MainWindow()
    qtbot.addWidget(window)
    asked = [a for a in prompts.asked if a.startswith("move_aside: A recovery file could not be read: ")]
    assert len(asked) == 2
    assert any("5000 digits" in a and files["huge"] in a for a in asked)
    assert any("utf-8" in a and files["garbage"] in a for a in asked)
    assert sorted(os.listdir(os.path.join(rec_dir, DAMAGED))) == sorted([files["huge"], files["garbage"]])
    offers = [a for a in prompts.asked if a.startswith("recover: ")]
    assert len(offers) == 1 and "good.json" in offers[0]
    assert window.document.path == "/work/good.json"
    assert window.document.graph == fileformat.load_path(SAMPLES / "xor_mlp.json")
    assert not [n for n in os.listdir(rec_dir) if n in files.values()]


def test_a_declined_move_keeps_the_file_for_the_next_start(qtbot, prompts):
    rec_dir = os.environ["NETWRIGHT_RECOVERY_DIR"]
    files = fill_recovery_dir(pathlib.Path(rec_dir))
    prompts.answers["move_aside"] = False
    for _ in range(2):
        prompts.asked.clear()
        window = MainWindow()
        qtbot.addWidget(window)
        assert len([a for a in prompts.asked if a.startswith("move_aside: ")]) == 2
        assert {files["huge"], files["garbage"]} <= set(os.listdir(rec_dir))
        assert not os.path.exists(os.path.join(rec_dir, DAMAGED))


@pytest.mark.skipif(sys.platform == "win32", reason="offscreen start of a subprocess")
def test_python_m_designer_starts_despite_unreadable_recovery_files(tmp_path):
    rec_dir = tmp_path / "recovery-sub"
    fill_recovery_dir(rec_dir)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NETWRIGHT_RECOVERY_DIR": str(rec_dir),
           "NETWRIGHT_CONFIG_DIR": str(tmp_path / "config-sub")}
    proc = subprocess.run([sys.executable, "-m", "designer", "--exit-after-start"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    prompts = [line for line in proc.stdout.splitlines() if line.startswith("prompt: ")]
    assert len([p for p in prompts if "could not be read" in p and "Move it aside?" in p]) == 2, proc.stdout
    assert len([p for p in prompts if "did not close properly" in p]) == 1, proc.stdout
