"""Where the designer's training speed goes, without the window: the run's child process
(runtime.worker) with the designer's settings against `netwright train`, alternating.

Four contenders train ``samples/digits_mlp.json`` for ``--epochs`` epochs, ``--rounds`` times
in turn, each reporting its median per-epoch training samples/s:

* ``child, designer settings``: a TrainingProcess as the designer starts it (a step record after
  every batch, of which one per 20 ms goes over the pipe, in batches; live results every half
  second; checkpoint at most every 2 s), with torch's default threads like the command line;
* ``child, CLI settings``: the same process with the command line's settings (a step record every
  0.25 s, no live results);
* ``netwright train`` with one torch thread, and with torch's default threads (the reference of
  bench_gui_latency.py).

The first ratio is the cost of the designer's records and results; the second shows what the
second thread is worth; the last is the designer's child against the command line as users run
it (bench_gui_latency.py measures the same with the window drawing beside it).

Run: .venv/bin/python tests/benchmarks/bench_worker.py [--rounds 4] [--epochs 60]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "samples" / "digits_mlp.json"


def child_run(epochs: int, designer: bool) -> float:
    from graph import fileformat, load_path
    from runtime.worker import RunRequest, TrainingProcess

    with tempfile.TemporaryDirectory() as tmp:
        request = RunRequest(graph_text=fileformat.dumps(load_path(SAMPLE)), base_dir=str(SAMPLE.parent),
                             epochs=epochs, checkpoint_dir=tmp, step_interval=0.0 if designer else 0.25,
                             live_results=designer)
        process = TrainingProcess(request)
        records = [r for kind, batch in process.messages() if kind == "records" for r in batch]
        process.close()
    return statistics.median([r["samples_per_second"] for r in records if r["kind"] == "epoch"][1:])


def cli_run(epochs: int, threads: int | None) -> float:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        subprocess.run([sys.executable, "-m", "runtime.cli", "train", str(SAMPLE), "--epochs", str(epochs),
                        "--metrics-out", metrics, "--quiet"], cwd=ROOT, env=env, check=True, capture_output=True)
        with open(metrics) as fh:
            return statistics.median([json.loads(line)["samples_per_second"] for line in fh][1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    from runtime.worker import warm_up

    warm_up()
    time.sleep(5)  # the fork server imports torch once
    contenders = {
        "child, designer settings": lambda: child_run(args.epochs, True),
        "child, CLI settings": lambda: child_run(args.epochs, False),
        "netwright train, 1 thread": lambda: cli_run(args.epochs, 1),
        "netwright train, default threads": lambda: cli_run(args.epochs, None),
    }
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            results[name].append(run())
    med = {name: statistics.median(v) for name, v in results.items()}
    for name, values in results.items():
        print(f"{name:34s} {med[name]:9,.0f} samples/s  (rounds: {', '.join(f'{v:,.0f}' for v in values)})")
    names = list(contenders)
    print(f"designer settings / CLI settings, same process kind: {med[names[0]] / med[names[1]]:.2f}")
    print(f"netwright train, default threads / 1 thread:         {med[names[3]] / med[names[2]]:.2f}")
    print(f"designer child / netwright train as users run it:    {med[names[0]] / med[names[3]]:.2f}")


if __name__ == "__main__":
    main()
