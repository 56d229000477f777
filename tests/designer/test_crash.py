"""SIGKILL during a save keeps the old file; SIGKILL while editing leaves a recovery file that
the next start offers once, holding every edit of the newest snapshot written (the reduced form
of tests/benchmarks/bench_recovery.py)."""

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
from tests.benchmarks.bench_recovery import (
    ChildLog,
    kill_and_collect,
    read_until,
    recovered_edits,
    start_child,
)
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


def test_sigkill_while_editing_steadily_keeps_every_saved_edit(prompts, qtbot):
    """bench_recovery.py in small: the designer edits every 50-150 ms and is killed after edit 2,
    right after a save once edit 8 is made, and after edit 20. The recovered graph holds edits
    1..m with no gap, and every edit begun before the newest snapshot known to be on disk."""
    env = {"NETWRIGHT_RECOVERY_DIR": os.environ["NETWRIGHT_RECOVERY_DIR"],
           "NETWRIGHT_CONFIG_DIR": os.environ["NETWRIGHT_CONFIG_DIR"],
           "NETWRIGHT_AUTOSAVE_DEBOUNCE_SECONDS": "0.2", "NETWRIGHT_AUTOSAVE_SECONDS": "0.5",
           "BENCH_EDIT_GAP": "0.05,0.15"}
    prompts.answers["recover"] = True
    for stop in (("edit", 2), ("saved", 8), ("edit", 20)):
        proc = start_child(env)
        log = ChildLog()
        read_until(proc, log, "edit", stop[1])
        if stop[0] == "saved":
            read_until(proc, log, "saved")
        kill_and_collect(proc, log)
        prompts.asked.clear()
        window = MainWindow()
        qtbot.addWidget(window)
        recovered = recovered_edits(window.document.graph) if window.document.is_modified() else []
        assert recovered == list(range(1, len(recovered) + 1)), recovered
        newest_on_disk = max(log.saved, default=0.0)
        assert all(i in recovered for i, t in log.edits.items() if t < newest_on_disk), (recovered, log)
        offers = [a for a in prompts.asked if a.startswith("recover")]
        assert len(offers) == 1 if log.saved else len(offers) <= 1
        window.close()
