"""A training run in a child process that streams plain-data messages to its parent.

Why a process and not a thread: a Trainer in a thread of the designer shares the interpreter lock
with the GUI thread. Small models run many short torch calls that each drop and re-take the lock,
and every re-take waits while the GUI thread paints the live plots in Python. Measured on a
2-core machine (digits_mlp): a run in a thread of the window reached 0.3–0.5× the samples/s of
``netwright train``, even 0.7× with every plot switched off, and the GUI thread stalled for up to
0.1 s at a time. In a child process neither side waits for the other, and a crash in native code
(a driver, an out-of-memory kill) ends the run, not the designer.

Parent side: :class:`TrainingProcess` starts the child for a :class:`RunRequest`, yields its
messages (:meth:`TrainingProcess.messages`) and forwards stop / pause / resume.
Child side: :func:`child_main` (the process target; never call it in the parent).

Protocol: two one-way pipes of pickled tuples.

* child → parent: ``("records", [record, ...])`` (the Trainer's records, in order),
  ``("results", payload)`` (:func:`runtime.results.compute_results`), ``("failed", info)``
  (:func:`describe_error`), and always last ``("finished", summary)``.
* parent → child: ``("stop",)``, ``("pause",)``, ``("resume",)``. The parent going away (end of
  file on the control pipe) counts as a stop.

Invariants:

* Only plain data crosses: dicts, lists, strings, numbers, numpy arrays; never tensors.
* The child sends records in order and in batches: epoch, start, end and pause records at once,
  step records at most ``STEP_FLUSH_S`` apart (one pickle per batch of them, not per step), and
  of the step records only one per ``STEP_SAMPLE_S`` of the run's time (always the newest): a
  fast run makes a thousand a second, more than any plot can show, and every one costs the
  window time. When the run fails, every step record not yet sent goes out: a run that
  diverges in its first epoch still leaves the finite part of its loss on the plot.
* If the child dies without ``finished`` (a native crash, a kill), :meth:`TrainingProcess.messages`
  yields a ``failed`` message naming the exit code, then a ``finished`` one: the parent always
  sees the end of a run.
* Start method: ``forkserver`` on Linux (a server process that imported torch and the runtime
  once forks each run in milliseconds; :func:`warm_up` starts it ahead of the first run), the
  platform's default (``spawn``) elsewhere. Measured: the first record arrives 0.1 s after the
  start with torch and ``torch._dynamo`` (which every optimizer imports) preloaded, 2.5 s
  without. As with any multiprocessing program, the program's main module must be safe to
  import (the ``if __name__ == "__main__":`` idiom): the child imports it again.
* Torch threads: as many as ``netwright train`` uses (torch's default; ``OMP_NUM_THREADS`` set
  by the user wins; ``RunRequest.threads`` overrides both). The window keeps its share small
  instead (designer.plots.WINDOW_SHARE): measured on 2 cores, leaving one core to the window
  capped the run at the CLI's 1-thread speed (0.75-0.85x of ``netwright train``), while 2
  threads beside a window that keeps to ~5 % of a CPU reached 0.91-0.97x (beside one that took
  15-18 %: 0.74-0.78x). A thread team waits for its slowest member, so every burst of work in
  the window stalls the whole team.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from runtime.records import RecordKind

STEP_FLUSH_S = 0.05  # step records are sent at most 20 times a second (in batches)
STEP_SAMPLE_S = 0.02  # ...one per 20 ms of the run (the newest of a batch always)
RESULTS_MIN_INTERVAL_S = 0.5  # live results at most this often (and at the end)
RESULTS_MAX_SHARE = 0.05  # ...and never more than this share of the run's time
# The designer's runs write their checkpoint at most this often (and when they end): two synced
# file writes after every epoch took ~30 % of the wall time of a run of 20 ms epochs.
CHECKPOINT_INTERVAL_S = 2.0
KILL_GRACE_S = 3.0  # after a stop request, how long the child may take before it is killed
# What the forkserver imports once so that each run starts warm (names of modules).
PRELOAD = ["numpy", "torch", "torch._dynamo", "runtime.build", "runtime.data", "runtime.train",
           "runtime.checkpoint", "runtime.results"]


@dataclass
class RunRequest:
    """Everything the child needs, fixed when the run starts (plain data, picklable)."""

    graph_text: str  # the snapshot, as the file format writes it
    base_dir: str | None
    epochs: int | None = None
    seed: int | None = None
    batch_size: int | None = None
    device: str | None = None
    checkpoint_dir: str | None = None
    resume_from: str | None = None
    # A step record after every batch (the child sends a sample of them, see the module
    # docstring): a run that diverges in its first epoch still leaves the finite part of its
    # loss on the plot.
    step_interval: float | None = 0.0
    live_results: bool = True
    threads: int | None = None  # torch CPU threads; None: see the module docstring
    checkpoint_interval: float = CHECKPOINT_INTERVAL_S  # seconds; 0: after every epoch


# ====================================================================== parent side


def _context() -> Any:
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context()


def warm_up() -> None:
    """Start the fork server now (it imports torch in its own process), so that the first run
    starts as fast as the next ones. Returns at once; a no-op where runs are spawned."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class TrainingProcess:
    """One run in a child process, seen from the parent. Not thread-safe except that
    :meth:`request` may be called from another thread than the one reading :meth:`messages`."""

    def __init__(self, request: RunRequest):
        ctx = _context()
        self._data_r, data_w = ctx.Pipe(duplex=False)
        ctrl_r, self._ctrl_w = ctx.Pipe(duplex=False)
        self._ctrl_lock = threading.Lock()
        self.process = ctx.Process(target=child_main, args=(data_w, ctrl_r, request), name="netwright-run",
                                   daemon=True)
        self.process.start()
        # The parent keeps only its own ends: the child's exit then reads as end of file.
        data_w.close()
        ctrl_r.close()
        self._stop_requested_at: float | None = None

    def request(self, command: str) -> None:
        """Send ``stop``, ``pause`` or ``resume`` (ignored once the child has gone)."""
        if command == "stop" and self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()
        with self._ctrl_lock:
            try:
                self._ctrl_w.send((command,))
            except (OSError, ValueError):
                pass

    def messages(self) -> Iterator[tuple[str, Any]]:
        """The child's messages until ``finished`` (always the last one yielded)."""
        while True:
            ready = wait([self._data_r], timeout=0.25)
            if not ready:
                if (self._stop_requested_at is not None
                        and time.monotonic() - self._stop_requested_at > KILL_GRACE_S):
                    self.kill()  # a child stuck in native code: its end of file follows
                continue
            try:
                kind, payload = self._data_r.recv()
            except (EOFError, OSError):
                break
            yield kind, payload
            if kind == "finished":
                return
        self.process.join(timeout=5.0)
        code = self.process.exitcode
        if self._stop_requested_at is not None and code is not None and code < 0:
            yield "finished", {"reason": "stopped", "best_epoch": None}
            return
        yield "failed", {"error": "ProcessError", "bug": True, "node_id": None, "epoch": None, "step": None,
                         "message": f"The training process ended unexpectedly (exit code {code}). "
                                    "The designer is fine; the run's records up to here are kept."}
        yield "finished", {"reason": "failed", "best_epoch": None}

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def close(self, timeout: float = 5.0) -> None:
        """Wait for the child to exit (killing it after ``timeout``) and release the pipes."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5.0)
        for conn in (self._data_r, self._ctrl_w):
            conn.close()


def describe_error(exc: BaseException) -> dict[str, Any]:
    """A failed run as plain data: {"error": class name, "message", "node_id", "epoch", "step",
    "bug": True when it is not one of the runtime's own errors (then the message has the trace)}."""
    from runtime.errors import RunError  # light: no torch

    info: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc) or type(exc).__name__,
                            "node_id": getattr(exc, "node_id", None), "epoch": getattr(exc, "epoch", None),
                            "step": getattr(exc, "step", None), "bug": not isinstance(exc, RunError)}
    if info["bug"]:
        if isinstance(exc, MemoryError):
            info["message"] = "The computer ran out of memory; try a smaller batch size or model."
            info["bug"] = False
        else:
            tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
            info["message"] = f"Unexpected error ({type(exc).__name__}): {exc}\n\n{tail}"
    return info


# ====================================================================== child side


def child_main(data: Connection, ctrl: Connection, request: RunRequest) -> None:
    """The child process: train, stream, and always end with ``finished``."""
    run = _ChildRun(request, data)
    threading.Thread(target=run.listen, args=(ctrl,), name="netwright-control", daemon=True).start()
    summary: dict[str, Any] = {"reason": "failed", "best_epoch": None}
    try:
        summary = run.train()
    except BaseException as exc:  # every error becomes a message; the run always finishes
        run.flush(sample=False)  # the last steps before the failure, all of them
        run.send(("failed", describe_error(exc)))
    finally:
        run.flush()
        run.send(("finished", summary))
        data.close()


class _ChildRun:
    def __init__(self, request: RunRequest, conn: Connection):
        self.request = request
        self.conn = conn
        self._lock = threading.Lock()
        self._trainer: Any = None
        self._stop = self._pause = False
        self._pending: list[dict] = []
        self._last_flush = 0.0
        self._step_sent = -1.0  # the run time ("seconds") of the last step record sent
        self._results_due = 0.0
        self._results_context: dict[str, Any] | None = None
        self._viewer: Any = None
        self._gone = False

    # ------------------------------------------------------------------ talking to the parent

    def send(self, message: tuple[str, Any]) -> None:
        if self._gone:
            return
        try:
            self.conn.send(message)
        except (OSError, ValueError):  # the parent went away: stop quietly
            self._gone = True
            self._command("stop")

    def flush(self, sample: bool = True) -> None:
        """Send the pending records; ``sample``: of their step records only one per
        STEP_SAMPLE_S of run time, and the newest."""
        if self._pending:
            batch, self._pending = self._pending, []
            if sample:
                batch = self._sample_steps(batch)
            self.send(("records", batch))
        self._last_flush = time.perf_counter()

    def _sample_steps(self, batch: list[dict]) -> list[dict]:
        last = max((i for i, r in enumerate(batch) if r.get("kind") == RecordKind.STEP), default=-1)
        kept = []
        for i, r in enumerate(batch):
            if r.get("kind") == RecordKind.STEP:
                t = r.get("seconds", 0.0)
                if i != last and t - self._step_sent < STEP_SAMPLE_S:
                    continue
                self._step_sent = t
            kept.append(r)
        return kept

    def listen(self, ctrl: Connection) -> None:
        while True:
            try:
                (command,) = ctrl.recv()
            except (EOFError, OSError, ValueError, TypeError):
                self._command("stop")
                return
            self._command(command)

    def _command(self, command: str) -> None:
        with self._lock:
            if command == "stop":
                self._stop = True
            elif command == "pause":
                self._pause = True
            elif command == "resume":
                self._pause = False
            trainer = self._trainer
        if trainer is not None:
            {"stop": trainer.request_stop, "pause": trainer.request_pause,
             "resume": trainer.request_resume}.get(command, lambda: None)()

    # ------------------------------------------------------------------ the run

    def train(self) -> dict[str, Any]:
        import torch

        from graph import fileformat
        from runtime.build import build_model, training_plan
        from runtime.data import load_dataset
        from runtime.train import Trainer

        req = self.request
        if req.threads:
            torch.set_num_threads(req.threads)
        graph = fileformat.loads(req.graph_text)
        plan = training_plan(graph, req.base_dir)
        data = load_dataset(plan.data_params, req.base_dir, graph.nodes[plan.data_node])  # errors name the node
        if req.live_results:
            self._results_context = _results_context(graph, data, plan)
            # A second copy of the model, only for the results: it copies the trained weights
            # at the end of an epoch, so predicting never touches the model being trained.
            # Built before the run: the trainer seeds the global RNG itself when it starts.
            self._viewer = build_model(graph, req.base_dir, (data.features, data.target))
            self._viewer.eval()
        trainer = Trainer(graph, req.base_dir, epochs=req.epochs, seed=req.seed, device=req.device,
                          batch_size=req.batch_size, on_record=self._on_record,
                          checkpoint_dir=req.checkpoint_dir, resume_from=req.resume_from, data=data,
                          progress_interval=req.step_interval, checkpoint_interval=req.checkpoint_interval)
        with self._lock:
            self._trainer = trainer
            stop, pause = self._stop, self._pause
        if stop:
            trainer.request_stop()
        elif pause:
            trainer.request_pause()
        result = trainer.run()
        self.flush()
        if req.live_results:
            # The final model (best weights restored when the graph asks for it): one last update.
            final = result.history[-1]["epoch"] if result.history else 0
            self._emit_results(result.predict, epoch=final)
        return {"reason": result.reason, "best_epoch": result.best_epoch}

    def _on_record(self, record: dict) -> None:
        self._pending.append(record)
        kind = record.get("kind")
        if kind != RecordKind.STEP or time.perf_counter() - self._last_flush >= STEP_FLUSH_S:
            self.flush()
        if (kind == RecordKind.EPOCH and self._results_context is not None
                and time.perf_counter() >= self._results_due):
            self._live_results(record.get("epoch", 0))

    def _live_results(self, epoch: int) -> None:
        """Results of the epoch that just ended (its record is the one being emitted): the
        trained weights are copied into the viewer model, outside the epoch's timed phase."""
        import torch

        model = getattr(self._trainer, "model", None)
        if model is None:
            return
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                self._viewer.load_state_dict(model.state_dict())
        except Exception:  # never let the results end the run
            return
        self._emit_results(self._viewer_predict, epoch=epoch, started=t0)

    def _viewer_predict(self, x: Any) -> Any:
        import numpy as np
        import torch

        dtype = torch.int64 if np.asarray(x).dtype == np.int64 else torch.float32
        with torch.inference_mode():
            return self._viewer(torch.as_tensor(np.asarray(x), dtype=dtype)).float().numpy()

    def _emit_results(self, predict: Any, *, epoch: Any, started: float | None = None) -> None:
        """Compute and send a results payload now, and set when the next live one is due (its
        cost is at most RESULTS_MAX_SHARE of the run, at most every RESULTS_MIN_INTERVAL_S;
        ``_on_record`` keeps to that). ``started``: when the work for it began."""
        from runtime.results import compute_results

        now = time.perf_counter() if started is None else started
        if predict is None or self._results_context is None:
            return
        try:
            payload = compute_results(predict, epoch=int(epoch or 0), **self._results_context)
        except Exception:  # a model that cannot predict (e.g. diverged) must not end the run
            return
        cost = time.perf_counter() - now
        self._results_due = time.perf_counter() + max(RESULTS_MIN_INTERVAL_S, cost / RESULTS_MAX_SHARE)
        self.flush()  # records first: the payload belongs after the epoch it shows
        self.send(("results", payload))


def _results_context(graph: Any, data: Any, plan: Any) -> dict[str, Any]:
    # One output unit: split where the loss type says (runtime.build.binary_threshold).
    threshold = plan.binary_threshold
    return {
        "task": plan.task, "classes": plan.target.classes,
        "x_train": data.x_train, "y_train": data.y_train, "x_val": data.x_val, "y_val": data.y_val,
        "class_names": data.class_names, "dataset": plan.data_params.get("dataset", ""),
        "preprocessing": data.preprocessing, "binary_threshold": threshold,
    }
