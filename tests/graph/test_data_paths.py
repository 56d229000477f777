"""A Dataset's path that names no regular file (a device, a FIFO, a folder, a socket) or a file
that is one huge line: analysis answers at once with a finding naming the node and the kind of
file, and never opens or reads what it must not.

A regression here would not fail, it would hang or eat memory (``/dev/zero`` reads forever, a
FIFO blocks on open). So the risky cases run in a child process with a timeout, and the others
run with ``os.open``/``open`` replaced by a guard that fails the test if the path is opened.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import socket
import subprocess
import sys
import zipfile

import pytest

from graph import analyze, datasets, save_path
from graph.analysis import DATA_FINDING
from tests.conftest import ROOT
from tests.graph.helpers import chain

TIMEOUT_S = 60  # generous on a shared machine; the answer takes milliseconds


def csv_graph(path: str, dataset: str = "csv"):
    g = chain({"dataset": dataset, "path": path}, [("Linear", {"out_features": 2})], "CrossEntropyLoss")
    g.set_title("n1", "data")
    return g


def data_finding(g, base_dir: str | None = None):
    a = analyze(g, base_dir)
    found = [f for f in a.errors if f.code == DATA_FINDING]
    assert len(found) == 1 and found[0].node_id == "n1", [f.text(g) for f in a.findings]
    return found[0]


@pytest.fixture
def never_opened(monkeypatch):
    """Fail (instead of blocking or reading forever) when a path in the returned set is opened."""
    refused: set[str] = set()

    def guard(real):
        def opener(path, *args, **kwargs):
            if isinstance(path, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(path)) in refused:
                raise AssertionError(f"{os.fsdecode(path)} was opened")
            return real(path, *args, **kwargs)
        return opener

    os_open, open_ = guard(os.open), guard(builtins.open)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    return refused


def hostile_path(tmp_path, kind: str) -> str:
    if kind == "fifo":
        path = tmp_path / "pipe.csv"
        os.mkfifo(path)
    elif kind == "folder":
        path = tmp_path / "folder.csv"
        path.mkdir()
    elif kind == "socket":
        path = tmp_path / "s.csv"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()  # the socket file stays
    else:
        return "/dev/null"
    return str(path)


KINDS = {"fifo": "a FIFO (named pipe)", "folder": "a folder", "socket": "a socket",
         "null": "a character device"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file kinds")
@pytest.mark.parametrize("dataset", ["csv", "npz"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_path_that_is_no_regular_file_is_refused_by_kind_without_opening(tmp_path, never_opened, kind, dataset):
    path = hostile_path(tmp_path, kind)
    never_opened.add(os.path.realpath(path))
    finding = data_finding(csv_graph(path, dataset))
    assert f"path '{path}' is {KINDS[kind]}, not a regular file" in finding.message
    assert finding.text(csv_graph(path, dataset)).startswith("error: 'data' (n1, Dataset): ")


# The same in a child process that a hang cannot take down with the suite: /dev/zero (reads
# forever), and /dev/stdin when it is a pipe nobody writes to (opening it blocks).
CHILD = """
import json, sys
from graph import analyze, load_path
g = load_path(sys.argv[1])
print(json.dumps([[f.code, f.node_id, f.message] for f in analyze(g).errors]))
"""


@pytest.mark.parametrize("path,kind", [("/dev/zero", "a character device"), ("/dev/stdin", "a FIFO (named pipe)")])
def test_dev_zero_and_stdin_answer_at_once(tmp_path, path, kind):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    graph_file = tmp_path / "g.json"
    save_path(csv_graph(path), graph_file)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(graph_file)], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = child.communicate(timeout=TIMEOUT_S)  # stdin: an open pipe with no data
    finally:
        child.kill()
    assert child.returncode == 0, err
    errors = json.loads(out)
    assert [e[:2] for e in errors] == [[DATA_FINDING, "n1"]], errors
    assert f"path '{path}' is {kind}, not a regular file" in errors[0][2]


class CountingReader(io.BufferedReader):
    """A binary file that counts the bytes read from it."""

    read_bytes = 0

    def read(self, size=-1):
        data = super().read(size)
        self.read_bytes += len(data)
        return data

    def read1(self, size=-1):
        data = super().read1(size)
        self.read_bytes += len(data)
        return data

    def readinto(self, b):
        n = super().readinto(b)
        self.read_bytes += n or 0
        return n


def test_a_one_line_csv_of_5_mb_is_an_error_after_1_mib(tmp_path, monkeypatch):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"x," * (5 * 1024 * 1024 // 2))  # 5 MiB, no newline
    opened: list[CountingReader] = []

    def fdopen(fd, mode="r", *args, **kwargs):
        assert mode == "rb"
        opened.append(CountingReader(io.FileIO(fd, "r")))
        return opened[-1]

    monkeypatch.setattr(datasets.os, "fdopen", fdopen)
    finding = data_finding(csv_graph(str(path)))
    assert f"CSV file '{path}' line 1 is longer than 1 MiB" in finding.message
    assert len(opened) == 1 and opened[0].closed
    assert opened[0].read_bytes <= 2 * 1024 * 1024, opened[0].read_bytes


def npy(shape: tuple[int, ...], descr: str, data: bytes) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin1")
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data


def test_npz_shapes_come_from_headers_and_only_the_class_labels_are_read(tmp_path, monkeypatch):
    n = 100_000
    path = tmp_path / "big.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("x.npy", npy((n, 20), "<f8", bytes(n * 20 * 8)))  # 16 MB never read
        zf.writestr("y.npy", npy((n,), "<i1", bytes(range(3)) * (n // 3) + bytes(n % 3)))
    opened: list[CountingReader] = []

    def fdopen(fd, mode="r", *args, **kwargs):
        opened.append(CountingReader(io.FileIO(fd, "r")))
        return opened[-1]

    monkeypatch.setattr(datasets.os, "fdopen", fdopen)
    g = csv_graph(str(path), "npz")
    a = analyze(g)
    assert a.outputs["n1"]["features"].shape == (20,), [f.text(g) for f in a.findings]
    assert a.outputs["n1"]["target"].classes == 3
    assert len(opened) == 1 and opened[0].read_bytes < 1024 * 1024, opened[0].read_bytes


def test_a_file_larger_than_the_runtime_accepts_is_refused_from_its_size(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_text("a,y\n1,0\n")
    monkeypatch.setattr(datasets, "MAX_FILE_BYTES", 4)
    assert "is larger than" in data_finding(csv_graph(str(path))).message


def test_a_good_csv_still_describes_and_is_read_once(tmp_path, monkeypatch):
    path = tmp_path / "ok.csv"
    path.write_text("a,b,y\n1,2,cat\n3,4,dog\n5,6,cat\n")
    g = csv_graph(str(path))
    calls = []
    real = datasets._read_csv_target
    monkeypatch.setattr(datasets, "_read_csv_target", lambda *a: calls.append(1) or real(*a))
    a = analyze(g)
    assert a.valid, [f.text(g) for f in a.findings]
    assert a.outputs["n1"]["target"].classes == 2 and a.outputs["n1"]["features"].shape == (2,)
    assert len(calls) == 1  # the data check and the shape rule share one reading


def test_a_folder_is_accepted_where_a_folder_is_expected(tmp_path):
    assert datasets.check_path(str(tmp_path), "image folder", folder=True)
    with pytest.raises(datasets.DatasetError, match="is a regular file, not a folder"):
        (tmp_path / "f").write_text("x")
        datasets.check_path(str(tmp_path / "f"), "image folder", folder=True)


# ------------------------------------------------------------------ netwright validate


@pytest.mark.parametrize("path,kind", [("/dev/zero", "a character device"), ("/dev/null", "a character device")])
def test_netwright_validate_exits_2_naming_the_node_and_the_kind(tmp_path, path, kind):
    graph_file = tmp_path / "g.json"
    save_path(csv_graph(path), graph_file)
    p = subprocess.run([sys.executable, "-m", "runtime.cli", "validate", str(graph_file)], cwd=ROOT,
                       capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert p.returncode == 2, p.stdout + p.stderr
    assert f"'data' (n1, Dataset): CSV file path '{path}' is {kind}, not a regular file" in p.stdout
