"""File format: byte-identical round trips, atomic saves, migrations, and clear errors."""

from __future__ import annotations

import json
import os

import pytest

from graph import FileFormatError, dumps, fileformat, load_path, loads, save_path
from tests.conftest import SAMPLES

SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_samples_save_load_save_is_byte_identical(path, tmp_path):
    original = path.read_bytes()
    g = load_path(path)
    assert dumps(g).encode() == original, f"{path.name} is not in canonical form: re-save it"
    out = tmp_path / "again.json"
    save_path(g, out)
    assert out.read_bytes() == original
    assert dumps(load_path(out)).encode() == original


def test_saved_files_are_deterministic_json(tmp_path):
    g = load_path(SAMPLE_FILES[0])
    text = dumps(g)
    doc = json.loads(text)
    assert doc["format"] == "netwright-graph" and doc["version"] == fileformat.VERSION
    assert text.endswith("\n") and json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
def test_interrupted_save_leaves_previous_file_intact(stage, tmp_path, monkeypatch):
    target = tmp_path / "model.json"
    g = load_path(SAMPLES / "digits_mlp.json")
    save_path(g, target)
    before = target.read_bytes()
    g.set_setting("epochs", 99)

    class Crash(BaseException):
        pass

    def boom(*args, **kwargs):
        raise Crash()

    if stage == "write":
        real_fdopen = os.fdopen

        def half_writer(fd, mode):
            fh = real_fdopen(fd, mode)
            real_write = fh.write

            def write(data):
                real_write(data[: len(data) // 2])
                raise Crash()

            fh.write = write
            return fh

        monkeypatch.setattr(fileformat.os, "fdopen", half_writer)
    elif stage == "fsync":
        monkeypatch.setattr(fileformat.os, "fsync", boom)
    else:
        monkeypatch.setattr(fileformat.os, "replace", boom)
    with pytest.raises(Crash):
        save_path(g, target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"], "temporary file left behind"
    save_path(g, target)
    assert load_path(target).settings["epochs"] == 99


def test_migration_chain_runs_step_by_step(monkeypatch):
    """A version-0 document (hypothetically: edges as "n1.out -> n2.in" strings) is migrated."""
    monkeypatch.setattr(fileformat, "VERSION", 2)
    calls = []

    def v0_to_v1(doc):
        calls.append(0)
        edges = []
        for text in doc["edges"]:
            src, dst = (part.strip().split(".") for part in text.split("->"))
            edges.append({"from": {"node": src[0], "port": src[1]}, "to": {"node": dst[0], "port": dst[1]}})
        return {**doc, "edges": edges}

    def v1_to_v2(doc):
        calls.append(1)
        return doc

    monkeypatch.setitem(fileformat._MIGRATIONS, 0, v0_to_v1)
    monkeypatch.setitem(fileformat._MIGRATIONS, 1, v1_to_v2)
    doc = {"format": "netwright-graph", "version": 0,
           "nodes": [{"id": "n1", "type": "Linear"}, {"id": "n2", "type": "ReLU"}],
           "edges": ["n1.output -> n2.input"]}
    g = loads(json.dumps(doc))
    assert calls == [0, 1]
    assert len(g.edges) == 1 and g.edges[0].target.node == "n2"
    monkeypatch.delitem(fileformat._MIGRATIONS, 1)
    with pytest.raises(FileFormatError, match="no migration from version 1"):
        loads(json.dumps(doc))


def test_newer_version_is_refused_with_advice():
    with pytest.raises(FileFormatError, match="newer than this Netwright"):
        loads('{"format": "netwright-graph", "version": 99, "nodes": [], "edges": []}')


def base_doc():
    return {"format": "netwright-graph", "version": 1,
            "nodes": [{"id": "n1", "type": "Linear", "params": {"out_features": 4}},
                      {"id": "n2", "type": "ReLU"}],
            "edges": [{"from": {"node": "n1", "port": "output"}, "to": {"node": "n2", "port": "input"}}]}


ERROR_CASES = [
    (lambda d: d["nodes"][0]["params"].update(out_features="4"), "$.nodes[0].params.out_features", "n1"),
    (lambda d: d["nodes"][0]["params"].update(out_features=0), "$.nodes[0].params.out_features", "n1"),
    (lambda d: d["nodes"][0]["params"].update(bogus=1), "$.nodes[0].params", "n1"),
    (lambda d: d["nodes"][1].update(type="Sequential"), "$.nodes[1].type", "n2"),
    (lambda d: d["nodes"][1].update(id="n1"), "$.nodes[1].id", "n1"),
    (lambda d: d["edges"][0]["to"].update(node="n9"), "$.edges[0].to.node", None),
    (lambda d: d["edges"][0]["to"].update(port="nope"), "$.edges[0].to.port", "n2"),
    (lambda d: d["edges"].append({"from": {"node": "n2", "port": "output"}, "to": {"node": "n1", "port": "input"}}),
     "$.edges[1]", "n1"),
    (lambda d: d["nodes"][0].update(position=[1]), "$.nodes[0].position", "n1"),
    (lambda d: d.update(settings={"epochs": -1}), "$.settings.epochs", None),
    (lambda d: d.update(nodes={}), "$.nodes", None),
    (lambda d: d.update(format="other"), "$.format", None),
    (lambda d: d.update(extra=1), "$", None),
    (lambda d: d["nodes"][0].update(title=["x"]), "$.nodes[0].title", "n1"),
]


@pytest.mark.parametrize("mutate,path,node", ERROR_CASES)
def test_errors_name_json_path_and_node(mutate, path, node):
    doc = base_doc()
    mutate(doc)
    with pytest.raises(FileFormatError) as info:
        loads(json.dumps(doc))
    err = info.value
    assert err.path == path, str(err)
    assert err.node_id == node, str(err)
    assert str(err).startswith(path)


@pytest.mark.parametrize("data,reason", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b"{" * 5000, "nesting is deeper"),
    (b'{"a": NaN}', "NaN is not a number"),
    (b'{"format": 1, "format": 2}', "appears twice"),
    (b"[1, 2", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[]", "a JSON object at the top level"),
])
def test_malformed_bytes(data, reason):
    with pytest.raises(FileFormatError, match=reason):
        loads(data)


def test_huge_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (fileformat.MAX_BYTES + 10))
    with pytest.raises(FileFormatError, match="at most"):
        load_path(big)
    with pytest.raises(FileFormatError, match="cannot read"):
        load_path(tmp_path / "missing.json")


@pytest.mark.parametrize("what,reason", [("folder", "it is a folder"), ("device", "not a regular file"),
                                         ("nul", "NUL character")])
def test_load_path_reads_only_regular_files(tmp_path, what, reason):
    """A pipe or device could block the reader forever (tests/designer/test_hostile_devices.py
    tries FIFOs and /dev/stdin in a child process under a timeout); /dev/null cannot block."""
    path = {"folder": str(tmp_path), "device": os.devnull, "nul": str(tmp_path / "a\x00b.json")}[what]
    with pytest.raises(FileFormatError, match=reason):
        load_path(path)


# ------------------------------------------------------------------ atomic_write: debris, modes, links


def test_a_save_removes_what_interrupted_saves_of_that_file_left_and_nothing_else(tmp_path):
    target = tmp_path / "model.json"
    save_path(load_path(SAMPLES / "xor_mlp.json"), target)
    leftovers = [".model.json.a1b2c3d4.tmp", ".model.json.x_9kq0zz.tmp"]  # hex (ours) and mkstemp's
    kept = [
        ".other.json.a1b2c3d4.tmp",  # another file's interrupted save
        "model.json.a1b2c3d4.tmp",  # no leading dot: a user's file
        ".model.json.backup.tmp",  # not 8 characters
        ".model.json.a1b2c3d4.tmp.keep",
        ".model.json.A1B2C3D4.tmp",
        ".model.jsonx.a1b2c3d4.tmp",
        "notes.txt",
    ]
    for name in leftovers + kept:
        (tmp_path / name).write_text("half a save")
    (tmp_path / ".model.json.dir12345.tmp").mkdir()  # not a regular file: not ours
    save_path(load_path(SAMPLES / "xor_mlp.json"), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["model.json", ".model.json.dir12345.tmp"])
    assert all((tmp_path / name).read_text() == "half a save" for name in kept)


_KILLED_SAVER = """
import os, sys, time
from graph import fileformat
def stall(src, dst):  # the data is written and synced: stop right before the rename
    print("ready", flush=True)
    time.sleep(600)
fileformat.os.replace = stall
fileformat.atomic_write(sys.argv[1], b"new")
"""


def test_a_save_killed_mid_way_leaves_a_temp_that_the_next_save_removes(tmp_path):
    """A save in another process is left alone while it runs; once SIGKILLed, its file is debris."""
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    target = tmp_path / "model.json"
    target.write_bytes(b"old")
    child = subprocess.Popen([sys.executable, "-c", _KILLED_SAVER, str(target)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        (pending,) = [p.name for p in tmp_path.iterdir() if p.name != "model.json"]
        assert fileformat.temp_name_pattern("model.json").fullmatch(pending)
        fileformat.atomic_write(target, b"mine")  # the running save holds its temp: kept
        assert (tmp_path / pending).read_bytes() == b"new" and target.read_bytes() == b"mine"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
    fileformat.atomic_write(target, b"after")
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"] and target.read_bytes() == b"after"


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664, 0o755])
def test_a_save_keeps_the_files_permission_bits(mode, tmp_path):
    target = tmp_path / "model.json"
    target.write_text("{}")
    os.chmod(target, mode)
    save_path(load_path(SAMPLES / "xor_mlp.json"), target)
    assert (target.stat().st_mode & 0o7777) == mode
    assert load_path(target).settings["title"]


def test_a_new_file_gets_the_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        save_path(load_path(SAMPLES / "xor_mlp.json"), tmp_path / "new.json")
    finally:
        os.umask(old)
    assert ((tmp_path / "new.json").stat().st_mode & 0o777) == 0o644


def test_a_save_writes_through_a_symlink_and_keeps_the_link(tmp_path):
    real = tmp_path / "real" / "real.json"
    real.parent.mkdir()
    real.write_text("{}")
    os.chmod(real, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(os.path.relpath(real, tmp_path))
    g = load_path(SAMPLES / "xor_mlp.json")
    save_path(g, link)
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(real, tmp_path)
    assert real.read_text() == dumps(g) and (real.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]
    assert [p.name for p in real.parent.iterdir()] == ["real.json"]
    # a link whose target does not exist yet: the target is created, the link stays
    dangling = tmp_path / "later.json"
    dangling.symlink_to("real/later.json")
    save_path(g, dangling)
    assert dangling.is_symlink() and (real.parent / "later.json").read_text() == dumps(g)
