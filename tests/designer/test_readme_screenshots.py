"""The README's screenshots come from tests/tools/make_screenshots.py: it must keep working, and
the images it makes must be the ones the README shows (same names and size)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from PySide6.QtGui import QImage

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_screenshot_script_makes_the_readme_images(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "tools" / "make_screenshots.py"), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    readme = (ROOT / "README.md").read_text()
    for name in ("designer-training.png", "decision-regions.png", "tour-wired-default.png",
                 "tour-trained-default.png", "tour-trained-1280x800.png"):
        made, committed = QImage(str(tmp_path / name)), QImage(str(ROOT / "docs" / name))
        assert not made.isNull() and not committed.isNull()
        assert made.size() == committed.size()
        assert f"docs/{name}" in readme
