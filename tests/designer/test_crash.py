"""SIGKILL during a save keeps the old file; SIGKILL while editing leaves a recovery file that
the next start offers once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from designer.mainwindow import MainWindow
from graph import fileformat
from tests.conftest import ROOT, SAMPLES
from tests.designer.helpers import make_big_graph

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
BIG = 2000  # nodes: a save takes long enough (~0.1 s) for kills to land inside it


def child(mode: str, path: str, env: dict[str, str]) -> subprocess.Popen:
    full = {**os.environ, **env, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen([sys.executable, "-m", "tests.designer.crash_child", mode, path], cwd=ROOT,
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_line(proc: subprocess.Popen, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.strip() == text:
            return
    proc.kill()
    raise AssertionError(f"child never printed {text!r}: {proc.stderr.read()[-2000:]}")


def test_sigkill_during_save_leaves_a_whole_file(tmp_path):
    path = tmp_path / "big.json"
    base = make_big_graph(BIG)
    for delay in (0.05, 0.23, 0.41):
        proc = child("save", str(path), {"BIG_NODES": str(BIG)})
        wait_line(proc, "saving")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        text = path.read_text(encoding="utf-8")
        seed = json.loads(text)["settings"]["seed"]  # whole JSON...
        base.settings["seed"] = seed
        assert text == fileformat.dumps(base), f"not saved version {seed}"  # ...and exactly a saved version
    fileformat.load_path(path)  # and a valid graph file


def test_sigkill_while_editing_offers_recovery_once(tmp_path, qtbot, prompts):
    rec_dir = os.environ["NETWRIGHT_RECOVERY_DIR"]
    sample = tmp_path / "xor.json"
    sample.write_bytes((SAMPLES / "xor_mlp.json").read_bytes())
    proc = child("edit", str(sample), {"NETWRIGHT_RECOVERY_DIR": rec_dir, "NETWRIGHT_AUTOSAVE_SECONDS": "0.2"})
    wait_line(proc, "edited")
    wait_line(proc, "waited")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert any(n.endswith(".recovery.json") for n in os.listdir(rec_dir))

    prompts.answers["recover"] = True
    window = MainWindow()
    qtbot.addWidget(window)
    asked = [a for a in prompts.asked if a.startswith("recover")]
    assert len(asked) == 1 and "xor.json" in asked[0]
    graph = window.document.graph
    original = fileformat.load_path(sample)
    assert len(graph.nodes) == len(original.nodes) + 1
    assert graph.settings["epochs"] == 777
    assert next(iter(graph.nodes.values())).title == "recovered-title"
    assert window.document.path == str(sample)
    assert window.document.is_modified() and window.isWindowModified()
    assert fileformat.load_path(sample) == original  # the file itself was never touched

    # Offered once: a later start finds nothing from the killed session.
    prompts.asked.clear()
    again = MainWindow()
    qtbot.addWidget(again)
    assert not [a for a in prompts.asked if a.startswith("recover")]
    # Saving the recovered graph removes this session's own recovery file too.
    assert window.save_to(tmp_path / "saved.json")
    assert not window.document.is_modified()
    assert not [n for n in os.listdir(rec_dir) if n.endswith(".recovery.json")]
