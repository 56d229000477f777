"""The vocabulary of the Trainer's records: every record kind and every way a run ends, in one place.

A record is a plain dict (``{"kind": "epoch", ...}``; the fields of each kind are listed in
``runtime.train``'s docstring). The kinds and end reasons are ``str`` enums so that code that
makes or reads records names a member (``RecordKind.EPOCH``), and a misspelt kind is an
AttributeError (and a type checker's error) instead of a record that nobody ever matches.

Invariant: the value stored in a record is the member's plain ``str`` value
(``RecordKind.EPOCH.value``), never the enum itself. Records cross a process pipe (pickle), are
written into checkpoints that are read back with ``torch.load(weights_only=True)`` (which refuses
any class it does not know, enums included) and into JSON files; a plain string goes everywhere.
A member still compares equal to its string, so ``record["kind"] == RecordKind.EPOCH`` and
``record["kind"] == "epoch"`` read the same records.

``class ...(str, Enum)`` rather than ``enum.StrEnum``: the project supports Python 3.10, which has
no StrEnum; ``__str__`` gives the value as StrEnum's does.
"""

from __future__ import annotations

from enum import Enum


class _StrValue(str, Enum):
    def __str__(self) -> str:
        return self.value


class RecordKind(_StrValue):
    """The ``"kind"`` of a Trainer record."""

    START = "start"  # once, before the first epoch: the run's setup and restored history
    STEP = "step"  # progress within an epoch (throttled; never kept in RunResult.records)
    EPOCH = "epoch"  # one finished epoch: its metrics and diagnostics
    PAUSED = "paused"  # the run waits at a batch boundary...
    RESUMED = "resumed"  # ...and goes on
    END = "end"  # once, last: why and when the run ended


class EndReason(_StrValue):
    """How a run that did not fail ended (``end`` records, ``RunResult.reason``)."""

    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    STOPPED = "stopped"
