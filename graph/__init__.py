"""Netwright's document model: graphs of typed nodes, the node catalogue, the file format, analysis.

Standard library only: importing ``graph`` never loads torch, numpy or Qt (a test checks it).
"""

from __future__ import annotations

from . import catalogue
from .analysis import Analysis, Finding, Fix, analyze, apply_fix
from .catalogue import NodeType, Port
from .document import Edge, Graph, GraphEvent, Node, PortRef
from .errors import DatasetError, EditError, FileFormatError, GraphError, ParamError, ShapeError
from .fileformat import dumps, load_path, loads, save_path
from .params import Param
from .tensors import TensorInfo, format_shape

__all__ = [
    "Analysis", "DatasetError", "Edge", "EditError", "FileFormatError", "Finding", "Fix", "Graph",
    "GraphError", "GraphEvent", "Node", "NodeType", "Param", "ParamError", "Port", "PortRef",
    "ShapeError", "TensorInfo", "analyze", "apply_fix", "catalogue", "dumps", "format_shape",
    "load_path", "loads", "save_path",
]
