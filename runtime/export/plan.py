"""What an exported script needs from a graph, gathered before any text is written.

:func:`make_plan` checks the graph (an invalid graph is an :class:`ExportError` quoting its
first findings) and collects what the script is written from. Everything besides the model
comes from ``runtime.build.training_plan``, the very plan the trainer runs: data parameters,
loss, optimizer, schedule, clipping, regularisation, the task. The model's nodes come from
``runtime.build.model_nodes``, the one traversal the model builder uses; module attribute
names from ``runtime.names.attribute_names`` (as ``runtime.build`` names its submodules);
constructor arguments from the catalogue's one ``torch_kwargs`` function per node type. So
``state_dict`` keys, arguments and the order of creation agree with the app's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph import Graph, analyze
from graph.analysis import Analysis

from ..build import TrainingPlan, model_nodes, training_plan
from ..codegen import flatten
from ..errors import BuildError
from ..names import attribute_names
from .errors import ExportError


@dataclass(frozen=True)
class Plan:
    """The graph, its analysis, the trainer's plan and the model's nodes in order."""

    graph: Graph
    analysis: Analysis
    run: TrainingPlan
    order: tuple[str, ...]  # model nodes (layers and activations), topological order
    attrs: dict[str, str]  # node id -> module attribute

    def kwargs(self, node_id: str) -> dict[str, Any]:
        """The node's constructor (or function) keyword arguments, as runtime.build gets them."""
        node = self.graph.nodes[node_id]
        return node.node_type.torch_kwargs(node.params, self.analysis.inputs[node_id])

    @property
    def classes(self) -> int:
        return self.run.target.classes or 0

    def penalties(self) -> list[tuple[str, float, float]]:
        """``(attribute, l1, l2)`` of the model's layers with an L1/L2 penalty, in order."""
        return [(self.attrs[nid], l1, l2) for nid, l1, l2, _ in self._regularised() if l1 or l2]

    def max_norms(self) -> list[tuple[str, float]]:
        """``(attribute, max_norm)`` of the model's layers with a max-norm constraint."""
        return [(self.attrs[nid], m) for nid, _, _, m in self._regularised() if m]

    def _regularised(self) -> list[tuple[str, float, float, float]]:
        in_model = set(self.order)  # as the trainer: nodes outside the model are not trained
        return [r for r in self.run.regularization if r[0] in in_model]


def make_plan(graph: Graph, base_dir: str | None) -> Plan:
    analysis = analyze(graph, base_dir)
    if analysis.errors:
        shown = "; ".join(flatten(f.text(graph), 160) for f in analysis.errors[:3])
        more = f" (and {len(analysis.errors) - 3} more)" if len(analysis.errors) > 3 else ""
        raise ExportError(f"the graph is not valid, so it cannot be exported: {shown}{more}")
    try:
        order = model_nodes(graph)
        run = training_plan(graph, base_dir, analysis)
    except BuildError as exc:
        raise ExportError(str(exc)) from None
    return Plan(graph, analysis, run, tuple(order), attribute_names(graph.nodes))
