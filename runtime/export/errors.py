"""The export package's one error type (every module of the package raises it)."""

from __future__ import annotations

from ..errors import RunError


class ExportError(RunError):
    """The graph cannot be exported; the message says why (and which node)."""
