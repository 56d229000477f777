"""Benchmark: `netwright validate` on 500 files, against a same-run reference (json.load of the
same files, the least any validator must do). Prints seconds and the ratio.

Run: .venv/bin/python tests/benchmarks/bench_validate.py
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> None:
    samples = sorted((ROOT / "samples").glob("*.json"))
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(500):
            src = samples[i % len(samples)]
            dst = pathlib.Path(tmp) / f"{src.stem}_{i}.json"
            shutil.copy(src, dst)
            files.append(str(dst))
        t0 = time.perf_counter()
        for f in files:
            with open(f, "rb") as fh:
                json.load(fh)
        ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "runtime.cli", "validate", *files], cwd=ROOT,
                              capture_output=True, text=True)
        ours = time.perf_counter() - t0
        assert proc.returncode == 0, proc.stdout[-2000:]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        start = time.perf_counter() - t0
    print(f"validate 500 files: {ours:.3f} s (process start alone {start:.3f} s); "
          f"json.load reference {ref:.3f} s; ratio {ours / ref:.1f}x")


if __name__ == "__main__":
    main()
