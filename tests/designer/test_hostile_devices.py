"""Nothing blocks (issue 14): device files, pipes and folders, named as the graph file or as a
Dataset's path, are refused at once, in the window and by ``netwright validate``.

A read of ``/dev/zero`` never ends and a read of a pipe (``/dev/stdin``, a FIFO) waits for a
writer, so each check runs in a child process under a timeout, with a stdin pipe that the test
holds open and never writes to: a regression shows as a failure naming the path that hung, never
as a hung test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLES

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs /dev and FIFOs")
DEVICES = ["/dev/zero", "/dev/urandom", "/dev/stdin"]


@pytest.fixture
def hostile_paths(tmp_path):
    """``(graphs, unreadable)``: graph files whose Dataset names a device, a FIFO or a folder;
    and devices, a FIFO and a folder named as graph files themselves."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    graph_fifo = tmp_path / "pipe.json"
    os.mkfifo(graph_fifo)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    doc = json.loads((SAMPLES / "xor_mlp.json").read_bytes())
    graphs = []
    for i, (dataset, target) in enumerate((d, t) for d in ("csv", "npz")
                                          for t in [*DEVICES, str(fifo), str(folder), "../" * 12 + "dev/zero"]):
        doc["nodes"][0]["params"].update(dataset=dataset, path=target)
        path = tmp_path / f"data{i}_{dataset}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        graphs.append(path)
    return graphs, [*DEVICES, str(graph_fifo), str(folder)]


def run_child(args: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``args`` with a stdin pipe nobody writes to; a timeout fails with the output so far."""
    read_end, write_end = os.pipe()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        proc = subprocess.run(args, cwd=ROOT, env=env, stdin=read_end, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        last = out.strip().splitlines()[-1:] or ["(nothing)"]
        pytest.fail(f"blocked for {timeout} s; the last line was {last[0]}")
    finally:
        os.close(read_end)
        os.close(write_end)
    return proc.returncode, proc.stdout, proc.stderr


def test_the_window_refuses_devices_and_pipes_at_once(hostile_paths):
    graphs, unreadable = hostile_paths
    rc, out, err = run_child([sys.executable, "-m", "tests.designer.hostile_devices_child",
                              *map(str, graphs), *unreadable], timeout=120)
    assert rc == 0 and "Traceback" not in err, err[-3000:]
    lines = out.splitlines()
    results = {r["path"]: r for r in map(json.loads, (x for x in lines if x.startswith('{"path"')))}
    assert len(results) == len(graphs) + len(unreadable)
    for graph in map(str, graphs):  # the file is fine, its data is not: opened, and the Problems say why
        r = results[graph]
        assert r["opened"] and r["dialogs"] == [], r
        assert any("Dataset" in f for f in r["findings"]), r
    for path in unreadable:  # one dialog naming the file and why
        r = results[path]
        assert not r["opened"] and len(r["dialogs"]) == 1, r
        title, text = r["dialogs"][0]
        assert title == "Cannot open file" and text.startswith(f"{path}\n\n"), r
        assert "not a regular file" in text or "folder" in text, r
    assert lines[-1] == "usable true"


def test_validate_refuses_devices_and_pipes_with_exit_2(hostile_paths):
    graphs, unreadable = hostile_paths
    paths = [*map(str, graphs), *unreadable]
    rc, out, err = run_child([sys.executable, "-m", "runtime.cli", "validate", *paths], timeout=60)
    assert rc == 2 and "Traceback" not in err, err[-3000:]
    lines = out.splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines):
        assert line.startswith(f"{path}: "), line
