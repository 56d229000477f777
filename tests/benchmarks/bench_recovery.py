"""Benchmark: seconds of edits a SIGKILL loses, with autosave and crash recovery.

Each round starts the designer as a child process (``--child``: ``designer.app.application()``
and ``designer.app.start()``, what ``python -m designer`` runs before its event loop, plus a
timer that adds a node every 0.2-0.5 s titled ``e<i>``, printing ``edit <i> <unix time>`` just
before it), kills it with SIGKILL after a random delay (a third of them within the first 5 s of
editing), then opens a window in this process that accepts the recovered graph and reads which
edits came back.

Lost = time of the last edit begun before the kill - time of the newest edit recovered (the
child's start when none came back); an edit printed but killed before it was made counts as
lost, so the figure errs high. Prints max, median and count. Target: max <= 5 s.

Run: .venv/bin/python tests/benchmarks/bench_recovery.py [--kills 24] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

EDIT_GAP = (0.2, 0.5)  # seconds between the child's edits
TITLE = re.compile(r"e(\d+)")


# ------------------------------------------------------------------ the child


def child_main() -> None:
    """The designer, started as ``python -m designer`` starts it, editing at a steady pace."""
    from PySide6.QtCore import QTimer

    from designer.app import application, parse_args, start

    app = application()
    window = start(parse_args([]))
    rng = random.Random(int(os.environ.get("BENCH_SEED", "0")))
    low, high = (float(v) for v in os.environ.get("BENCH_EDIT_GAP", f"{EDIT_GAP[0]},{EDIT_GAP[1]}").split(","))
    window.recovery.written.connect(lambda saved_at: print(f"saved {saved_at:.6f}", flush=True))
    timer = QTimer(app)
    timer.setSingleShot(True)
    count = 0

    def edit() -> None:
        nonlocal count
        count += 1
        print(f"edit {count} {time.time():.6f}", flush=True)  # before: a kill in between errs high
        window.document.add_node("ReLU", (120.0 * (count % 20), 90.0 * (count // 20)), title=f"e{count}")
        timer.start(round(rng.uniform(low, high) * 1000))

    timer.timeout.connect(edit)
    print(f"ready {time.time():.6f}", flush=True)
    timer.start(round(rng.uniform(low, high) * 1000))
    app.exec()


# ------------------------------------------------------------------ the parent


@dataclass
class ChildLog:
    ready: float = 0.0
    edits: dict[int, float] = field(default_factory=dict)  # edit number -> when it began
    saved: list[float] = field(default_factory=list)  # snapshot times of files known on disk

    def add(self, line: str) -> None:
        kind, *rest = line.split()
        if kind == "ready":
            self.ready = float(rest[0])
        elif kind == "edit":
            self.edits[int(rest[0])] = float(rest[1])
        elif kind == "saved":
            self.saved.append(float(rest[0]))

    def lost_seconds(self, recovered: list[int]) -> float:
        if not self.edits:
            return 0.0
        newest = self.edits[max(recovered)] if recovered else self.ready
        return max(0.0, max(self.edits.values()) - newest)


def start_child(env: dict[str, str]) -> subprocess.Popen:
    full = {**os.environ, **env, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen([sys.executable, "-m", "tests.benchmarks.bench_recovery", "--child"], cwd=ROOT,
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def read_until(proc: subprocess.Popen, log: ChildLog, kind: str, number: int | None = None) -> None:
    """Read the child's lines into ``log`` until one of ``kind`` (with ``number``) arrives."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.strip():
            continue
        log.add(line)
        words = line.split()
        if words[0] == kind and (number is None or int(words[1]) == number):
            return
    raise RuntimeError(f"the child ended before printing {kind} {number or ''}")


def kill_and_collect(proc: subprocess.Popen, log: ChildLog) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.stdout is not None
    for line in proc.stdout.read().splitlines():  # what it printed before it died
        if line.strip():
            log.add(line)
    proc.wait(10)


def recovered_edits(graph: Any) -> list[int]:
    """The edit numbers present in a recovered graph, in order."""
    found = (TITLE.fullmatch(node.title or "") for node in graph.nodes.values())
    return sorted(int(m.group(1)) for m in found if m)


def _accepting_window_class() -> type:
    from designer.mainwindow import MainWindow

    class AcceptingWindow(MainWindow):
        def ask_recover(self, text: str) -> bool:
            return True

        def ask_move_aside(self, text: str) -> bool:
            return True

        def ask_save_changes(self) -> str:
            return "discard"

    return AcceptingWindow


def recover_in_process(window_class: type) -> list[int]:
    window = window_class()  # offers (and here accepts) the killed session's recovery file
    edits = recovered_edits(window.document.graph) if window.document.is_modified() else []
    window.close()
    window.deleteLater()
    return edits


def kill_delays(rng: random.Random, kills: int, max_delay: float) -> list[float]:
    early = kills // 3  # within the first seconds of editing: nothing may be lost there either
    return [rng.uniform(0.2, 5.0) for _ in range(early)] + [rng.uniform(5.0, max_delay)
                                                            for _ in range(kills - early)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kills", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=15.0, help="latest kill, seconds into editing")
    opts = parser.parse_args()
    if opts.child:
        child_main()
        return
    from PySide6.QtWidgets import QApplication

    from designer.recovery import AutosaveSchedule

    tmp = tempfile.mkdtemp(prefix="nw-bench-recovery-")
    env = {"NETWRIGHT_RECOVERY_DIR": os.path.join(tmp, "recovery"), "NETWRIGHT_CONFIG_DIR": os.path.join(tmp, "config")}
    os.environ.update(env)
    app = QApplication.instance() or QApplication([])
    window_class = _accepting_window_class()
    schedule = AutosaveSchedule.from_environment()
    rng = random.Random(opts.seed)
    losses: list[float] = []
    delays = kill_delays(rng, opts.kills, opts.max_delay)
    for i, delay in enumerate(delays):
        proc = start_child({**env, "BENCH_SEED": str(opts.seed * 1000 + i)})
        log = ChildLog()
        read_until(proc, log, "ready")
        time.sleep(delay)  # a random moment: what the benchmark is about
        kill_and_collect(proc, log)
        recovered = recover_in_process(window_class)
        app.processEvents()
        losses.append(log.lost_seconds(recovered))
        print(f"kill {i + 1:2d} at {delay:5.2f} s: {len(log.edits):3d} edits made, "
              f"{len(recovered):3d} recovered, {losses[-1]:.2f} s of edits lost", flush=True)
    early = sum(1 for d in delays if d < 5.0)
    print(f"\nautosave: {schedule.debounce_s:g} s after the last edit, at least every {schedule.max_wait_s:g} s "
          f"while editing; edits every {EDIT_GAP[0]}-{EDIT_GAP[1]} s")
    print(f"edits lost per SIGKILL over {len(losses)} kills ({early} in the first 5 s of editing): "
          f"max {max(losses):.2f} s, median {statistics.median(losses):.2f} s, "
          f"mean {statistics.fmean(losses):.2f} s  (target: max <= 5 s)")


if __name__ == "__main__":
    main()
