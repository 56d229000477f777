"""The vocabulary of findings and fixes, shared by the node types' lint rules and the analysis.

A :class:`Finding` names a node, a severity and a code; its :class:`Fix` is a label and a tuple of
edit operations, each a frozen dataclass: :class:`SetParam`, :class:`InsertBefore`,
:class:`Bridge`, :class:`Replace` (:data:`FixOp`). ``graph.analysis.apply_fix`` performs them
through the document's mutations. Every operation has a class-level ``op`` naming its kind, and
the attributes ``node``, ``type``, ``port``, ``into``, ``name``, ``value`` where they apply.

A lint rule (``NodeType.lint``) reads the graph through :class:`LintView`, which the analysis
implements, so the catalogue needs nothing from the document model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from ..tensors import TensorInfo

if TYPE_CHECKING:
    from ..document import Graph
    from .core import NodeType

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")  # worst first


@dataclass(frozen=True)
class SetParam:
    """Set parameter ``name`` of node ``node`` to ``value``."""

    op: ClassVar[str] = "set_param"
    node: str
    name: str
    value: Any


@dataclass(frozen=True)
class InsertBefore:
    """Insert a new node of ``type`` on the one edge into ``node``'s input ``port``."""

    op: ClassVar[str] = "insert"
    node: str
    port: str
    type: str


@dataclass(frozen=True)
class Bridge:
    """Route ``node``'s input past it: to ``into`` only, or (``None``) to every consumer, and
    then remove it."""

    op: ClassVar[str] = "bridge"
    node: str
    into: str | None = None


@dataclass(frozen=True)
class Replace:
    """Replace ``node`` by a node of ``type`` in its place, keeping its wires and the
    parameters the new type shares."""

    op: ClassVar[str] = "replace"
    node: str
    type: str


FixOp = SetParam | InsertBefore | Bridge | Replace


@dataclass(frozen=True)
class Fix:
    label: str
    ops: tuple[FixOp, ...]


@dataclass(frozen=True)
class Finding:
    severity: Severity  # "error" blocks training, "warning" is a likely mistake, "info" explains
    code: str
    message: str
    node_id: str | None = None
    fix: Fix | None = None

    def text(self, graph: Graph | None = None) -> str:
        where = ""
        if self.node_id:
            node = graph.nodes.get(self.node_id) if graph else None
            where = (node.label() if node else f"'{self.node_id}'") + ": "
        return f"{self.severity}: {where}{self.message}"


class LintView(Protocol):
    """What a lint rule may read about the graph being analysed."""

    def type_of(self, node_id: str | None) -> NodeType | None:
        """The node's type (None for no node)."""

    def type_id(self, node_id: str | None) -> str | None:
        """The node's type id (None for no node)."""

    def source(self, node_id: str, port: str = "input") -> str | None:
        """The node wired into ``port``, when exactly one is."""

    def input_info(self, node_id: str, port: str = "input") -> TensorInfo | None:
        """What reaches ``port``, when the analysis got that far."""

    def output_info(self, node_id: str | None) -> TensorInfo | None:
        """The node's main output, when the analysis got that far."""

    def params(self, node_id: str) -> dict[str, Any]:
        """The node's parameter values."""

    def analysed(self, node_id: str) -> bool:
        """Whether the node's shapes are known (its inputs agreed with its shape rule)."""
