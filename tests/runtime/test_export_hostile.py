"""Hostile text in every field of a graph never becomes code in the exported script.

Titles, ids (within the id pattern), the Dataset's path and target_column, and the graph's title
and description are fed thousands of hostile strings: every script parses, imports only what it
may, and has exactly the syntax tree of a benign export (only names and string values differ),
so nothing a file says can add a statement. A few scripts full of injection payloads are run
and must train without creating the canary file; one of them starts from a checkpoint, which
loads only if its attribute names equal the runtime's state_dict keys.
"""

from __future__ import annotations

import ast
import csv
import keyword
import os
import subprocess
import tempfile
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import Graph, PortRef
from runtime.export import STDLIB_IMPORTS, THIRD_PARTY_IMPORTS, export_python, write_python
from tests.conftest import ROOT

PY = str(ROOT / ".venv" / "bin" / "python")
ALLOWED = set(STDLIB_IMPORTS) | set(THIRD_PARTY_IMPORTS)

SPECIAL_IDS = ["class", "None", "self", "torch", "nn", "np", "forward", "training", "__init__", "__import__",
               "x1", "x2", "features", "Model", "main", "n-1", "n_1", "_", "__class__", "print", "F", "lambda",
               "match", "type", "state_dict", "a-b-c", "load_data"]
PAYLOADS = [
    "__import__('os').system('touch CANARY')", "\nimport os\nos.system('touch CANARY')\n#",
    "'''", '"""', "\\", "\\'", '")\nopen("CANARY", "w")\n("', "# -*- coding: rot13 -*-", "\r\nx = 1",
    "\u2028open('CANARY','w')", "\x0cx", "é" * 200, "字" * 100, "🙂" * 50, "\u202e", "{0}{1}%s{}",
    "x" * 200,
]
ids = st.one_of(st.sampled_from(SPECIAL_IDS), st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}", fullmatch=True))
text = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=200))
file_text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=120)


def build(ids_: list[str], titles: list[str], graph_title: str, description: str, folder: str,
          file_name: str, target: str) -> Graph:
    """Dataset(csv) → Linear → ReLU → Linear → Add(skip) → CrossEntropyLoss → Adam, hostile everywhere."""
    path = os.path.join(folder, file_name)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["f0", target, "f1"])
        for i in range(12):
            w.writerow([i * 0.5, ("a", "b", "c")[i % 3], (i % 5) - 2.0])
    g = Graph()
    g.set_setting("title", graph_title)
    g.set_setting("description", description)
    d = g.add_node("Dataset", {"dataset": "csv", "path": file_name, "target_column": target, "val_split": 0.25,
                               "batch_size": 4}, title=titles[0], node_id=ids_[0])
    a = g.add_node("Linear", {"out_features": 3, "l2": 0.01}, title=titles[1], node_id=ids_[1])
    r = g.add_node("ReLU", title=titles[2], node_id=ids_[2])
    b = g.add_node("Linear", {"out_features": 3, "dropconnect": 0.2}, title=titles[3], node_id=ids_[3])
    s = g.add_node("Add", title=titles[4], node_id=ids_[4])
    loss = g.add_node("CrossEntropyLoss", title=titles[5], node_id=ids_[5])
    opt = g.add_node("Adam", title=titles[6], node_id=ids_[6])
    g.connect(PortRef(d.id, "features"), PortRef(a.id, "input"))
    g.connect(PortRef(a.id, "output"), PortRef(r.id, "input"))
    g.connect(PortRef(r.id, "output"), PortRef(b.id, "input"))
    g.connect(PortRef(a.id, "output"), PortRef(s.id, "inputs"))
    g.connect(PortRef(b.id, "output"), PortRef(s.id, "inputs"))
    g.connect(PortRef(s.id, "output"), PortRef(loss.id, "prediction"))
    g.connect(PortRef(d.id, "target"), PortRef(loss.id, "target"))
    g.connect(PortRef(loss.id, "loss"), PortRef(opt.id, "loss"))
    return g


def shape(source: str) -> Counter:
    """The script's syntax tree, ignoring names and string values: node types and their counts."""
    tree = ast.parse(source)
    return Counter(type(n).__name__ for n in ast.walk(tree))


BENIGN_IDS = [f"n{i}" for i in range(1, 8)]
_folder = tempfile.mkdtemp(prefix="netwright-hostile-")
BENIGN = shape(export_python(build(BENIGN_IDS, [""] * 7, "t", "d", _folder, "data.csv", "label"), _folder,
                             script_path=os.path.join(_folder, "s.py")))


def safe_file_name(name: str) -> str:
    name = name.replace("/", "_").replace(os.sep, "_")
    while len(name.encode("utf-8")) > 200:
        name = name[:-1]
    return name if name not in ("", ".", "..") else "d"


def check_script(source: str, same_shape: bool = True) -> None:
    tree = ast.parse(source)
    lines = source.splitlines()
    assert lines[0] == "#!/usr/bin/env python3" and lines[1].startswith("# Exported by Netwright")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name.split(".")[0] for a in node.names} <= ALLOWED
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] in ALLOWED
        elif isinstance(node, ast.Name):
            assert node.id.isascii() and node.id.isidentifier() and not keyword.iskeyword(node.id)
        elif isinstance(node, ast.Attribute):
            assert node.attr.isascii()
    if same_shape:
        assert shape(source) == BENIGN, "a hostile string changed the script's structure"


@given(
    node_ids=st.lists(ids, min_size=7, max_size=7, unique=True),
    titles=st.lists(text, min_size=7, max_size=7),
    graph_title=text,
    description=st.one_of(text, st.just("long line " * 1000), st.text(max_size=2000)),
    file_name=st.one_of(st.sampled_from([p for p in PAYLOADS if "\x00" not in p]), file_text),
    target=st.one_of(st.sampled_from(["CANARY'); x=('", 'a"b', "\\n", "é字🙂", "class"]), file_text),
)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_hostile_strings_never_become_code(node_ids, titles, graph_title, description, file_name, target) -> None:
    target = target.strip()[:256]
    if not target or target in ("f0", "f1") or "\x00" in target:
        target = "label"
    titles = [t[:200] for t in titles]
    with tempfile.TemporaryDirectory(dir=_folder) as folder:
        name = safe_file_name(file_name)
        g = build(node_ids, titles, graph_title[:200], description[:20_000], folder, name, target)
        source = export_python(g, folder, script_path=os.path.join(folder, "train.py"), source_name=graph_title)
    check_script(source)


CASES = [
    # (ids, title payload, file name, target column)
    (["__import__", "class", "self", "forward", "x1", "torch", "n-1"], "\nopen({canary!r}, 'w').close()\n#",
     "a'b\".csv", "');open({canary!r},'w');('"),
    (["n1", "None", "training", "__init__", "main", "nn", "np"], '""")\nopen({canary!r}, "w").close()\n("""',
     "\u2028x.csv", "é\nimport os"),
    (["features", "Model", "lambda", "a-b-c", "match", "F", "n_1"], "\r__import__('os').system('touch {canary}')",
     "--help.csv", "\\"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_hostile_scripts_run_and_create_no_canary(case, tmp_path) -> None:
    from runtime.train import Trainer

    ids_, title, file_name, target = CASES[case]
    canary = str(tmp_path / "CANARY")
    title, target = title.format(canary=canary), target.format(canary=canary)
    g = build(ids_, [title] * 7, title, title * 50, str(tmp_path), file_name, target)
    checkpoint = None
    if case == 0:  # weights from a Netwright run: the keys must agree with the script's attributes
        checkpoint = str(tmp_path / "ckpt")
        Trainer(g, str(tmp_path), epochs=1, seed=0, device="cpu", checkpoint_dir=checkpoint).run()
    script = tmp_path / "train.py"
    check_script(export_python(g, str(tmp_path), script_path=str(script), source_name=title))
    write_python(g, str(script), str(tmp_path), checkpoint, source_name=title)
    check_script(script.read_text(encoding="utf-8"), same_shape=checkpoint is None)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([PY, "-I", str(script), "--epochs", "1", "--device", "cpu"], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "epoch 1/1" in p.stdout
    assert not os.path.exists(canary)
