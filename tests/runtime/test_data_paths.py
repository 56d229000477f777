"""Loading data at training time: a path that names no regular file is refused by name and never
opened; a data file that went away or holds a bad row after the graph was checked is a
DataError naming the Dataset node and the file (and the row), not "cannot build the model"."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from graph import datasets, fileformat, save_path
from runtime import datagen
from runtime.build import check_graph, training_plan
from runtime.data import load_dataset
from runtime.errors import BuildError, DataError
from runtime.worker import RunRequest, TrainingProcess
from tests.conftest import ROOT
from tests.graph.test_data_paths import KINDS, csv_graph, hostile_path, never_opened  # noqa: F401
from tests.runtime.test_data import exported_namespace

GOOD_CSV = "a,b,y\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40))
TIMEOUT_S = 120  # a child that imports torch, on a shared machine


def good_csv(tmp_path, text: str = GOOD_CSV) -> str:
    path = tmp_path / "d.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file kinds")
@pytest.mark.parametrize("dataset", ["csv", "npz"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_loading_refuses_what_is_no_regular_file_without_opening_it(tmp_path, never_opened, kind, dataset):  # noqa: F811
    path = hostile_path(tmp_path, kind)
    never_opened.add(os.path.realpath(path))
    with pytest.raises(DataError) as err:
        load_dataset({"dataset": dataset, "path": path})
    assert f"path '{path}' is {KINDS[kind]}, not a regular file" in str(err.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file kinds")
def test_the_exported_readers_refuse_a_fifo_too(tmp_path, never_opened):  # noqa: F811
    path = hostile_path(tmp_path, "fifo")
    never_opened.add(os.path.realpath(path))
    ns = exported_namespace()
    for reader, args in ((ns["read_csv"], ("", "auto")), (ns["read_npz"], ("auto",))):
        with pytest.raises(ValueError, match="is a FIFO"):
            reader(path, *args)


def test_the_file_kinds_spelled_out_for_scripts_are_stats_and_graphs():
    # datagen cannot import stat (exported scripts do not) nor graph; all three must agree.
    assert datagen.FILE_TYPE_MASK == 0o170000 and datagen.REGULAR_FILE == stat.S_IFREG
    assert datagen.FILE_KINDS == {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device",
                                  stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO (named pipe)",
                                  stat.S_IFSOCK: "a socket"}
    for bits, words in datagen.FILE_KINDS.items():
        assert datasets.file_kind(bits | 0o644) == words


def test_a_data_error_names_the_node_when_given_it(tmp_path):
    g = csv_graph(str(tmp_path / "gone.csv"))
    with pytest.raises(DataError) as err:
        load_dataset(g.nodes["n1"].params, str(tmp_path), g.nodes["n1"])
    assert err.value.node_id == "n1"
    assert str(err.value).startswith("Node 'data' (n1, Dataset): cannot open CSV file ")
    assert "gone.csv" in str(err.value)


def test_a_deleted_file_is_a_data_error_of_the_node_not_a_build_error(tmp_path):
    path = good_csv(tmp_path)
    g = csv_graph(path)
    check_graph(g)  # fine while the file is there
    os.remove(path)
    with pytest.raises(DataError) as err:
        training_plan(g)
    assert not isinstance(err.value, BuildError) and err.value.node_id == "n1"
    assert str(err.value) == f"Node 'data' (n1, Dataset): cannot open CSV file '{path}': No such file or directory"


def test_other_errors_are_counted_after_the_data_error(tmp_path):
    g = csv_graph(str(tmp_path / "gone.csv"))
    g.remove_node(next(n for n in g.nodes if g.nodes[n].type == "Adam"))
    with pytest.raises(DataError, match=r"gone\.csv.*\(and 2 more errors in the graph\)"):  # no optimizer, loss unused
        check_graph(g)


def run_messages(graph, base_dir: str, tmp_path) -> list:
    proc = TrainingProcess(RunRequest(graph_text=fileformat.dumps(graph), base_dir=base_dir, epochs=1,
                                      threads=1, checkpoint_dir=str(tmp_path / "ckpt"), live_results=False))
    try:
        return list(proc.messages())
    finally:
        proc.close()


def test_a_bad_row_at_training_time_fails_the_run_naming_node_file_and_row(tmp_path):
    # Analysis reads the header and the target column only: a bad feature cell shows when loading.
    path = good_csv(tmp_path, GOOD_CSV + "1,oops,0\n")
    messages = run_messages(csv_graph(path), str(tmp_path), tmp_path)
    failed = [p for kind, p in messages if kind == "failed"]
    assert len(failed) == 1 and messages[-1][0] == "finished", messages
    info = failed[0]
    assert info["error"] == "DataError" and info["node_id"] == "n1" and not info["bug"]
    assert info["message"].startswith("Node 'data' (n1, Dataset): d.csv row 42, column 'b'"), info


# ------------------------------------------------------------------ netwright train


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo"])
def test_netwright_train_exits_2_with_the_message(tmp_path, kind):
    path = kind if kind.startswith("/") else hostile_path(tmp_path, kind)
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    graph_file = tmp_path / "g.json"
    save_path(csv_graph(path), graph_file)
    p = subprocess.run([sys.executable, "-m", "runtime.cli", "train", str(graph_file), "--epochs", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert p.returncode == 2, p.stdout + p.stderr
    words = KINDS["null"] if kind.startswith("/") else KINDS[kind]
    assert f"Node 'data' (n1, Dataset): CSV file path '{path}' is {words}, not a regular file" in p.stderr
    assert "Traceback" not in p.stderr


def test_netwright_train_names_the_node_file_and_row_of_a_bad_row(tmp_path):
    path = good_csv(tmp_path, GOOD_CSV + "1,oops,0\n")
    graph_file = tmp_path / "g.json"
    save_path(csv_graph(path), graph_file)
    p = subprocess.run([sys.executable, "-m", "runtime.cli", "train", str(graph_file), "--epochs", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Node 'data' (n1, Dataset): d.csv row 42, column 'b'" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
