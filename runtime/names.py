"""Module attribute names for graph nodes: the one sanitiser that build and export share.

The live model (``runtime.build``) registers each node's module as an attribute of one
``nn.Module``, and the exported script's class assigns ``self.<name> = ...`` for the same nodes.
Their ``state_dict`` keys (``n3.weight``) must be equal, or a checkpoint written by the app will
not load into the script. Both therefore call :func:`attribute_names` with the whole graph.

Invariants:

* the result maps every node id of the graph (document order) to a distinct Python identifier
  that is not a keyword, does not start with ``_`` (``self.__x`` would be name-mangled inside a
  class body), and is not an attribute of ``torch.nn.Module`` (``forward``, ``training``...);
* an id that already satisfies those rules keeps its exact spelling (``n3`` -> ``n3``), so the
  usual ids give the obvious keys; the other ids are rewritten (``-`` -> ``_``, ``_x`` -> ``n_x``,
  ``class`` -> ``class_``) and, when the rewrite collides, numbered ``_2``, ``_3``... in
  document order;
* the names depend only on the ids and their order, never on the torch version: the reserved
  set below is frozen (a test checks it still covers ``dir(torch.nn.Module)``).

This module imports only the standard library and the graph package.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

# Public attributes of torch.nn.Module (torch 2.13) plus the instance attribute ``training``.
# Frozen on purpose: a torch upgrade must not rename anyone's state_dict keys.
MODULE_ATTRIBUTES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children",
    "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu",
    "load_state_dict", "modules", "mtia", "named_buffers", "named_children", "named_modules",
    "named_parameters", "parameters", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "training", "type", "xpu", "zero_grad",
})

_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")


def is_plain(name: str) -> bool:
    """True when ``name`` can be used unchanged as a module attribute."""
    return (
        name.isidentifier()
        and name.isascii()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and name not in MODULE_ATTRIBUTES
    )


def rewrite(node_id: str) -> str:
    """The attribute an id would get if nothing collided (see the module docstring)."""
    name = _NOT_IDENT.sub("_", node_id) or "n"
    if name[0].isdigit() or name.startswith("_"):
        name = "n" + name
    if keyword.iskeyword(name) or name in MODULE_ATTRIBUTES:
        name += "_"
    return name


def attribute_names(node_ids: Iterable[str]) -> dict[str, str]:
    """``{node_id: attribute}`` for every node id, given in document order (``graph.nodes``)."""
    ids = list(node_ids)
    out: dict[str, str] = {nid: nid for nid in ids if is_plain(nid)}
    used = set(out.values())
    for nid in ids:
        if nid in out:
            continue
        base = rewrite(nid)
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        out[nid] = name
    return {nid: out[nid] for nid in ids}
