"""Training throughput: the exported script against the app (``netwright train``), on the CPU.

Exports ``samples/digits_mlp.json`` (64-256-256-10 ReLU MLP, Adam, batch 64) once, then runs
``netwright train`` (``runtime.cli.main``, the command's own code path and settings) and the
exported script (its ``main(argv)``, loaded with ``runpy``) in alternating rounds in this one
process, same seed, same epochs, same device and thread count; the app goes first in even
rounds and last in odd ones, so neither always follows the other.

Two figures per run, both from the run itself:

* **training phase**: the ``samples_per_second`` of each epoch's metrics line (JSONL), both
  measured over the epoch's training steps only (validation excluded; scripts exported before
  the loop moved to runtime/export/loop.py counted validation too); a run's figure is
  ``n_train × epochs ÷ Σ n_train / samples_per_second`` over its epochs but the first (which
  warms caches);
* **whole run**: ``n_train × epochs ÷ seconds`` of the whole call (data loading, model build,
  training, validation, logging), by the wall clock and by this process's CPU time; with one
  torch thread the CPU time barely moves when other processes share the machine, where the
  wall-clock figures swing by ±30 %.

The headline is the median over rounds of exported ÷ app (target ≥ 0.97). One torch thread
by default: the development machine is shared, and one thread keeps the figures steady.
``--script FILE`` measures an already exported script of digits_mlp.json instead (e.g. one
written by an older exporter, for a before/after comparison).

    .venv/bin/python tests/benchmarks/bench_export.py [--rounds 5] [--epochs 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import runpy
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

from graph import load_path  # noqa: E402
from runtime.cli import main as cli_main  # noqa: E402
from runtime.export import write_python  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "digits_mlp.json")


def read_rates(path: str) -> tuple[list[float], int]:
    """(samples/s of each epoch, epochs) from a metrics file."""
    with open(path, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    return [r["samples_per_second"] for r in records], len(records)


def phase_rate(rates: list[float]) -> float:
    """Training-phase samples/s over every epoch but the first: total rows ÷ total seconds."""
    rest = rates[1:] or rates
    return len(rest) / sum(1.0 / r for r in rest)


def run_app(epochs: int, seed: int, metrics: str) -> tuple[float, float]:
    """``netwright train`` in this process; returns its (wall, CPU) seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(["train", SAMPLE, "--epochs", str(epochs), "--seed", str(seed), "--device", "cpu",
                         "--quiet", "--metrics-out", metrics])
    seconds = time.perf_counter() - t0, time.process_time() - c0
    assert code == 0, code
    return seconds


def run_script(script_main, epochs: int, seed: int, metrics: str) -> tuple[float, float]:
    """The exported script's ``main`` in this process; returns its (wall, CPU) seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        script_main(["--epochs", str(epochs), "--seed", str(seed), "--device", "cpu", "--metrics-out", metrics])
    return time.perf_counter() - t0, time.process_time() - c0


FIGURES = ("training phase", "whole run, wall", "whole run, CPU")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the dev machine is shared)")
    ap.add_argument("--script", help="an exported script of digits_mlp.json to measure (default: export one now)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = tempfile.mkdtemp(prefix="bench-export-")
    script = args.script or os.path.join(folder, "digits_train.py")
    if not args.script:
        write_python(load_path(SAMPLE), script, os.path.dirname(SAMPLE), source_name="digits_mlp.json")
    script_main = runpy.run_path(script, run_name="exported_script")["main"]
    metrics = {"app": os.path.join(folder, "app.jsonl"), "exported": os.path.join(folder, "exported.jsonl")}
    runners = {"app": lambda e, s: run_app(e, s, metrics["app"]),
               "exported": lambda e, s: run_script(script_main, e, s, metrics["exported"])}
    for which in runners:  # warm-up: allocator, kernels, lazy imports (scikit-learn in the script)
        runners[which](2, args.seed)
    n_train = training_rows()
    figures = {which: {title: [] for title in FIGURES} for which in runners}
    gc.disable()  # collections land at random points; each run starts from a clean heap instead
    for r in range(args.rounds):
        for which in ("app", "exported") if r % 2 == 0 else ("exported", "app"):
            gc.collect()
            wall, cpu = runners[which](args.epochs, args.seed)
            rates, epochs = read_rates(metrics[which])
            assert epochs == args.epochs, (which, epochs)
            for title, value in zip(FIGURES, (phase_rate(rates), n_train * epochs / wall, n_train * epochs / cpu)):
                figures[which][title].append(value)
        print(f"round {r + 1}: " + ";  ".join(
            f"{title} app {figures['app'][title][-1]:,.0f} exported {figures['exported'][title][-1]:,.0f} "
            f"({figures['exported'][title][-1] / figures['app'][title][-1]:.3f})" for title in FIGURES))
    gc.enable()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, cpu, threads {torch.get_num_threads()}, load average {load:.2f}, "
          f"{args.rounds} rounds x {args.epochs} epochs, seed {args.seed}, {n_train} training samples, "
          f"script {script}")
    for title in FIGURES:
        app, exported = figures["app"][title], figures["exported"][title]
        ratios = [e / a for e, a in zip(exported, app)]
        print(f"{title}: median samples/s  app {statistics.median(app):,.0f}  exported "
              f"{statistics.median(exported):,.0f};  exported / app = {statistics.median(ratios):.3f} "
              "(median of rounds; target >= 0.97)")
    return 0


def training_rows() -> int:
    """Rows in the training split (both runs train on the same ones)."""
    from runtime.data import load_dataset

    graph = load_path(SAMPLE)
    return len(load_dataset(graph.nodes["n1"].params, os.path.dirname(SAMPLE)).x_train)


if __name__ == "__main__":
    sys.exit(main())
