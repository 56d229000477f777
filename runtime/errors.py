"""Errors raised by the runtime. Every one names what is wrong and where (node, epoch and step,
CSV row and column); the command line prints the message and exits 2, the designer shows it."""

from __future__ import annotations


class RunError(Exception):
    """Base class of the runtime's user-facing errors."""


class DataError(RunError):
    """A data set cannot be loaded: names the file, row and column where it can, and the
    Dataset node (``node_id``, and the message starts ``Node 'data' (Dataset): ``) when known."""

    def __init__(self, message: str, node_id: str | None = None):
        self.node_id = node_id
        super().__init__(message)


class BuildError(RunError):
    """The graph cannot be turned into a model (invalid graph, unsupported node)."""


class NodeError(RunError):
    """A node failed while running; ``node_id`` says which."""

    def __init__(self, node_id: str, message: str):
        self.node_id = node_id
        super().__init__(message)


class DivergedError(RunError):
    """The loss or a gradient became NaN or infinite."""

    def __init__(self, message: str, epoch: int, step: int, node_id: str | None = None):
        self.epoch = epoch
        self.step = step
        self.node_id = node_id
        super().__init__(message)


class DeviceError(RunError):
    """The requested device is unavailable or ran out of memory."""


class CheckpointError(RunError):
    """A checkpoint cannot be written or read (or is not a Netwright checkpoint)."""
