"""The training vocabulary of the designer, typed: run states, run statuses, error kinds.

* :class:`RunState` is the controller's state machine (idle → running ⇄ paused → stopping → idle);
  it decides which of Train, Pause, Resume and Stop are enabled.
* :class:`RunStatus` is where one run stands (a runs-list line, CSV, resume); the finished ones
  are :data:`FINISHED`. The trainer's end reasons (runtime.records.EndReason) are mapped once,
  by :func:`RunStatus.from_reason`.
* :class:`ErrorKind` classifies a failed run. The run's process reports the runtime error's class
  name (``runtime.worker.describe_error``); :meth:`RunFailure.from_info` maps it once, where the
  message enters the designer, and nothing downstream looks at names or message text again.

All are ``str`` enums: a member equals its value (``RunStatus.COMPLETED == "completed"``), so
stored and compared values keep working. Nothing here imports Qt, torch or numpy (the end
reasons are runtime.records' EndReason, a module without torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from runtime.records import EndReason


class _StrEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class RunState(_StrEnum):
    """The training controller's state: at most one run is active."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"

    @property
    def active(self) -> bool:
        """A run is going on and can be stopped (not yet asked to)."""
        return self in (RunState.RUNNING, RunState.PAUSED)


class RunStatus(_StrEnum):
    """Where one run stands."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    STOPPED = "stopped"
    FAILED = "failed"

    @classmethod
    def from_reason(cls, reason: Any) -> RunStatus:
        """The status a run's end reason (the trainer's ``end`` record, the process's summary)
        gives to a run that did not fail: ``early_stopped`` and ``stopped`` as such, anything
        else (``completed``, a missing reason) reads as completed."""
        ends = {EndReason.EARLY_STOPPED: cls.EARLY_STOPPED, EndReason.STOPPED: cls.STOPPED}
        return ends.get(str(reason or ""), cls.COMPLETED)


FINISHED = frozenset({RunStatus.COMPLETED, RunStatus.EARLY_STOPPED, RunStatus.STOPPED, RunStatus.FAILED})


class ErrorKind(_StrEnum):
    """Why a run failed. The values are the runtime's error class names (runtime/errors.py)."""

    DIVERGED = "DivergedError"
    DEVICE = "DeviceError"
    DATA = "DataError"
    BUILD = "BuildError"
    NODE = "NodeError"
    CHECKPOINT = "CheckpointError"
    PROCESS = "ProcessError"  # the run's process ended unexpectedly (runtime.worker)
    OTHER = "other"  # anything else: out of memory, a bug (the message carries the trace)

    @classmethod
    def from_name(cls, name: Any) -> ErrorKind:
        try:
            return cls(str(name))
        except ValueError:
            return cls.OTHER

    @property
    def title(self) -> str:
        """The title of the message box that reports it."""
        return ERROR_TITLES[self]


ERROR_TITLES: dict[ErrorKind, str] = {
    ErrorKind.DIVERGED: "Training diverged", ErrorKind.DEVICE: "Device problem",
    ErrorKind.DATA: "Cannot load the data", ErrorKind.BUILD: "Cannot build the model",
    ErrorKind.NODE: "A node failed", ErrorKind.CHECKPOINT: "Checkpoint problem",
    ErrorKind.PROCESS: "Training failed", ErrorKind.OTHER: "Training failed",
}


@dataclass(frozen=True)
class RunFailure:
    """A failed run, as the designer sees it: what kind, the message (naming the node), where.

    ``bug`` is True when the failure is not one of the runtime's own errors."""

    kind: ErrorKind
    message: str
    node_id: str | None = None
    epoch: int | None = None
    step: int | None = None
    bug: bool = False

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> RunFailure:
        """From the plain dict the run's process sends (``runtime.worker.describe_error``)."""
        return cls(kind=ErrorKind.from_name(info.get("error")), message=str(info.get("message") or ""),
                   node_id=info.get("node_id"), epoch=info.get("epoch"), step=info.get("step"),
                   bug=bool(info.get("bug")))

    @property
    def diverged(self) -> bool:
        """The loss or a gradient became NaN or infinite."""
        return self.kind is ErrorKind.DIVERGED
