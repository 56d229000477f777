"""The worker that drives one run's process from its own QThread.

The Trainer runs on a *snapshot* of the graph in a child process (``runtime.worker``: in a thread
it would share the interpreter lock with the painting GUI thread, which measured 2-3x slower;
see there). :class:`RunWorker` (a QObject moved to a QThread) reads the child's messages,
appends records to a locked queue and emits ``records_ready`` only when the queue was empty, so
however fast records come, the GUI thread sees one queued signal per drain. Results (confusion
matrix, decision regions...) are computed in the child next to the model and arrive as plain
numpy data.

Invariants: the worker talks to the GUI only through its signals and its queue; signals carry
plain data (dicts of floats, strings and numpy arrays; a :class:`RunFailure`), never tensors or
Qt objects. A failure's error class name becomes an :class:`~designer.run_types.ErrorKind` here,
where it enters the designer. ``run_finished`` is always the last signal.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from runtime.worker import RunRequest

from .run_types import RunFailure


class RunWorker(QObject):
    """Drives one run's child process (``runtime.worker.TrainingProcess``) from a worker thread:
    reads its messages and turns them into signals; talks to the GUI only through signals and a
    queue."""

    records_ready = Signal()  # the queue went from empty to non-empty: call take_records()
    results_ready = Signal(object)  # a results payload (see runtime.results.compute_results)
    run_failed = Signal(object)  # RunFailure
    run_finished = Signal(object)  # {"reason", "best_epoch", ...}; always the last signal

    def __init__(self, request: RunRequest):
        super().__init__()
        self.request = request
        self._lock = threading.Lock()
        self._queue: deque[dict] = deque()
        self._process: Any = None
        self._commands: list[str] = []  # asked for before the process existed

    # ------------------------------------------------------------------ called from the GUI thread

    def take_records(self) -> list[dict]:
        with self._lock:
            records = list(self._queue)
            self._queue.clear()
        return records

    def request_stop(self) -> None:
        self._command("stop")

    def request_pause(self) -> None:
        self._command("pause")

    def request_resume(self) -> None:
        self._command("resume")

    def kill(self) -> None:
        """End the child process now (a run that did not stop when asked)."""
        with self._lock:
            process = self._process
        if process is not None:
            process.kill()

    def child_process(self) -> Any:
        """The run's ``multiprocessing`` process, once started (None before)."""
        with self._lock:
            process = self._process
        return None if process is None else process.process

    def _command(self, command: str) -> None:
        with self._lock:
            process = self._process
            if process is None:
                self._commands.append(command)
        if process is not None:
            process.request(command)

    # ------------------------------------------------------------------ the worker thread

    @Slot()
    def run(self) -> None:
        from runtime.worker import TrainingProcess, describe_error

        summary: dict[str, Any] = {"reason": "failed"}
        process = None
        try:
            process = TrainingProcess(self.request)
            with self._lock:
                self._process = process
                commands, self._commands = self._commands, []
            for command in commands:
                process.request(command)
            summary = self._read(process) or summary
        except Exception as exc:  # e.g. the process could not start; the thread always finishes
            self.run_failed.emit(RunFailure.from_info(describe_error(exc)))
        finally:
            if process is not None:
                process.close()
            self.run_finished.emit(summary)

    def _read(self, process: Any) -> dict[str, Any] | None:
        """Turn the child's messages into signals until it finishes; returns its summary."""
        summary = None
        for kind, payload in process.messages():
            if kind == "records":
                self._enqueue(payload)
            elif kind == "results":
                self.results_ready.emit(payload)
            elif kind == "failed":
                self.run_failed.emit(RunFailure.from_info(payload))
            elif kind == "finished":
                summary = payload
        return summary

    def _enqueue(self, records: list[dict]) -> None:
        with self._lock:
            was_empty = not self._queue
            self._queue.extend(records)
        if was_empty and records:
            self.records_ready.emit()
