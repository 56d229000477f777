"""Copying runtime code into scripts by source: what each definition needs comes from its code.

Every definition of runtime/modules.py, runtime/datagen.py and runtime/export/loop.py, copied
with its closure and nothing else, runs in a namespace that holds only the imports the closure
reports; so no module needs a hand-kept list of what goes with what.
"""

from __future__ import annotations

import builtins
import textwrap

import pytest
import torch

from runtime import datagen, modules
from runtime.export import loop
from runtime.export.errors import ExportError
from runtime.export.sources import (
    MAIN,
    Import,
    free_names,
    import_lines,
    imports_for,
    library,
    top_level_names,
)

LIBRARIES = {"modules": modules, "datagen": datagen, "loop": loop}


def test_free_names_are_the_globals_the_code_looks_up():
    source = textwrap.dedent('''
        import os
        LIMIT = 3

        @decorate(LIMIT)
        class Thing(Base):
            size = WIDTH

            def go(self, step, x=DEFAULT):
                total = [i * SCALE for i in range(step) if i < LIMIT]
                return helper(total) + (lambda q: q + OFFSET)(x) + os.sep + super().go(__file__)

        def run(step):
            return step + len(Thing.size)
    ''')
    assert free_names(source) == {"decorate", "Base", "WIDTH", "DEFAULT", "SCALE", "helper", "OFFSET"}
    assert top_level_names(source) == {"LIMIT", "Thing", "run"}


def test_a_parameter_or_local_that_shares_a_module_name_pulls_nothing_in():
    lib = library(modules)
    assert "step" in lib.defs  # the fn.step helper
    uses = {name for d in library(datagen).defs.values() for name in d.uses}
    assert "step" not in uses


@pytest.mark.parametrize("module", LIBRARIES)
def test_every_definition_runs_from_its_closure_alone(module):
    """Copy each definition with exactly the closure and imports the exporter would: the text
    compiles, defines it, and leaves no name unresolved."""
    lib = library(LIBRARIES[module])
    for name in lib.defs:
        if name == MAIN:
            continue
        defs = lib.closure({name})
        text = "\n\n\n".join(d.text for d in defs)
        free = free_names(text) - lib.provided(defs)
        imports = imports_for(free, [lib])
        assert free == {i.name for i in imports}, name
        namespace: dict = {}
        exec(compile("\n".join(import_lines(imports)), "<imports>", "exec"), namespace)  # our own source
        if lib.provided(defs):  # the loop: the graph's names from the stand-in
            namespace.update({n: getattr(loop, n) for n in lib.provided(defs)})
        exec(compile(text, f"<{module}.{name}>", "exec"), namespace)  # our own source
        assert name in namespace, name


def test_copied_helpers_behave_as_the_originals():
    lib = library(modules)
    namespace: dict = {}
    defs = lib.closure({"Maxout", "FUNCTIONS", "init_weight"})
    text = "\n\n\n".join(d.text for d in defs)
    exec(compile("\n".join(import_lines(imports_for(free_names(text), [lib]))) + "\n" + text, "<m>", "exec"),
         namespace)  # our own source
    torch.manual_seed(0)
    a = namespace["Maxout"](4, 3, 2)
    torch.manual_seed(0)
    b = modules.Maxout(4, 3, 2)
    x = torch.randn(5, 4)
    assert torch.equal(a(x), b(x))
    assert set(namespace["FUNCTIONS"]) == set(modules.FUNCTIONS)
    assert len(defs) > 3 and all(d.name in namespace for d in defs)  # with what they use


def test_closures_come_in_source_order_and_only_what_is_needed():
    defs = library(datagen).closure({"read_csv"})
    names = [d.name for d in defs]
    assert names[-1] != "MAX_ROWS" and {"read_csv", "open_data_file", "MAX_ROWS", "encode_classes"} <= set(names)
    assert [d.start for d in defs] == sorted(d.start for d in defs)
    assert "make_spirals" not in names and "fit_preprocessing" not in names
    with pytest.raises(ExportError, match="no definition 'nothing'"):
        library(datagen).closure({"nothing"})


def test_the_loops_relative_imports_are_what_the_script_provides():
    lib = library(loop)
    assert lib.imports["Model"] == Import("Model", "this_graph", "Model", 1)
    assert lib.provided(lib.closure({"main"})) >= {"Model", "load_data", "penalty", "CLIP_GRAD_NORM"}
    assert not lib.provided(lib.closure({"pick_device"}))
    with pytest.raises(ExportError, match="'Model'"):
        imports_for({"Model"}, [lib])


def test_import_lines_are_sorted_as_ruff_sorts_them():
    imports = {Import("torch", "torch"), Import("dist", "torch.distributed"), Import("np", "numpy"),
               Import("nn", "torch", "nn"), Import("F", "torch.nn", "functional"), Import("os", "os"),
               Import("argparse", "argparse"), Import("DistributedDataParallel", "torch.nn.parallel",
                                                      "DistributedDataParallel")}
    assert import_lines(imports) == [
        "import argparse", "import os", "", "import numpy as np", "import torch", "import torch.distributed as dist",
        "from torch import nn", "from torch.nn import functional as F",
        "from torch.nn.parallel import DistributedDataParallel"]


def test_builtins_and_module_attributes_are_never_free():
    assert free_names("x = len(__file__) + math.pi\nprint(__name__, np)") == {"math", "np"}
    assert not free_names("def f():\n    return super, print, range") & set(dir(builtins))
