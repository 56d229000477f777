"""``netwright validate`` and ``netwright summary`` output and exit codes."""

from __future__ import annotations

import json

from runtime.cli import main
from tests.conftest import SAMPLES


def test_validate_reports_ok_and_findings(tmp_path, capsys):
    bad = json.loads((SAMPLES / "digits_mlp.json").read_text())
    for node in bad["nodes"]:
        if node["type"] == "Linear" and node["params"]["out_features"] == 10:
            node["params"]["out_features"] = 3
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    assert main(["validate", str(SAMPLES / "xor_mlp.json"), str(p)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"OK {SAMPLES / 'xor_mlp.json'}"
    assert out[1].startswith(f"{p}: error: ") and "10 classes" in out[1]


def test_summary_prints_shapes_and_total(capsys):
    assert main(["summary", str(SAMPLES / "digits_cnn.json")]) == 0
    out = capsys.readouterr().out
    assert "16×8×8" in out and "Conv2d" in out and "128" in out
    assert "Total parameters: 13,706" in out


def test_summary_of_unreadable_file_exits_2(tmp_path, capsys):
    p = tmp_path / "x.json"
    p.write_text("{")
    assert main(["summary", str(p)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
