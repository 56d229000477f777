"""The README shows the exported script of samples/xor_mlp.json in full: it must be the script
the exporter writes today, and the README must open with the two commands."""

from __future__ import annotations

from graph import load_path
from runtime.export import export_python
from tests.conftest import ROOT, SAMPLES


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```")[1]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make run", "make test"]


def test_readme_shows_the_current_xor_export_in_full():
    script = export_python(load_path(SAMPLES / "xor_mlp.json"), str(SAMPLES),
                           script_path=str(SAMPLES / "xor_mlp.py"), source_name="xor_mlp.json")
    text = (ROOT / "README.md").read_text()
    assert "```python\n" + script + "```" in text, "README's xor script is stale: regenerate it"
