"""Errors raised by the graph package.

Every error names what is wrong and where: the node id and type, the parameter, the JSON path.
All derive from :class:`GraphError` so callers can catch the package's errors in one place.

A :class:`ShapeError` may carry a :data:`FixHint`: one of three frozen dataclasses saying which
single edit would make the node's shapes agree. The analysis turns a hint into a one-click fix
(``graph.analysis``); the hint vocabulary is this closed set, so a shape rule cannot invent one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class GraphError(Exception):
    """Base class of every error raised by ``graph``."""


class ParamError(GraphError, ValueError):
    """A parameter value is of the wrong type or out of range."""

    def __init__(self, name: str, message: str, node_id: str | None = None, type_id: str = ""):
        self.name = name
        self.node_id = node_id
        self.type_id = type_id
        self.reason = message
        where = f"Node '{node_id}' ({type_id}): " if node_id else ""
        super().__init__(f"{where}{name} {message}")


class EditError(GraphError, ValueError):
    """A mutation of the graph was refused (unknown port, cycle, port already connected...)."""


@dataclass(frozen=True)
class SetParamHint:
    """Setting the node's parameter ``name`` to ``value`` makes its shapes agree."""

    name: str
    value: Any


@dataclass(frozen=True)
class InsertHint:
    """A node of type ``type_id`` inserted before the node's input ``port`` makes its shapes agree."""

    type_id: str
    port: str = "input"


@dataclass(frozen=True)
class ClassCountHint:
    """The prediction must have ``classes`` outputs per sample: the layer that makes it must change."""

    classes: int


FixHint = SetParamHint | InsertHint | ClassCountHint


class ShapeError(GraphError):
    """A node cannot accept the tensors that reach it; ``hint`` names the one edit that fixes it, if any."""

    def __init__(self, message: str, hint: FixHint | None = None):
        super().__init__(message)
        self.hint = hint

    def __reduce__(self) -> tuple:  # keep the hint across pickling (the worker process)
        return type(self), (str(self), self.hint)


class DatasetError(GraphError):
    """A data set described by a Dataset node cannot be read or described."""


class FileFormatError(GraphError):
    """A graph file cannot be read. ``path`` is the JSON path, ``node_id`` the node if known."""

    def __init__(self, message: str, path: str = "$", node_id: str | None = None):
        self.path = path
        self.node_id = node_id
        self.reason = message
        node = f" (node {_quoted(node_id)})" if node_id else ""
        super().__init__(_one_line(f"{path}{node}: {message}"))


# NOTE: [one line] The message of a FileFormatError goes into a dialog, a status bar and
# ``netwright validate``'s one line per file. Its parts quote the file's text short already;
# these two are the backstop for a part that does not: a node id from a hostile file may hold a
# newline or a megabyte.
MAX_MESSAGE = 600


def _quoted(text: str) -> str:
    r = repr(text)
    return r if len(r) <= 50 else r[:47] + "...'"


def _one_line(text: str) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
