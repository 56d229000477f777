"""Copying runtime code into exported scripts, by source, with what it needs worked out.

A :class:`Library` reads one module's top-level definitions (functions, classes, assignments)
and imports with ``ast``. ``closure(names)`` returns the definitions ``names`` need,
transitively, in source order, copied verbatim. What a definition needs comes from its own
source through :mod:`symtable`: the names its code looks up at module level (functions,
classes, constants, imported modules), so no module keeps a list of what goes with what.
``free_names(text)`` does the same for a whole script, and :func:`import_lines` writes the
import block for the names a script uses.

Invariants:

* Source order is a valid order for the copies: the module itself runs in that order, so
  whatever a definition needs while the module is executed (a base class, the functions in a
  table) is defined above it.
* Only names that copied code looks up as globals are copied or imported: a parameter or a
  local variable that shares a module-level name (``step``, ``x``) pulls nothing in.
* A relative import in a copied module (``from .this_graph import Model``) stands for a name
  the script defines itself (its "This graph" section): it is never copied nor imported;
  :meth:`Library.provided` lists those names.
* A script imports only the standard-library modules in :data:`STDLIB_IMPORTS` and the third
  party ones in :data:`THIRD_PARTY_IMPORTS` (tests walk its syntax tree against them).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import symtable
from dataclasses import dataclass, field
from types import ModuleType

from .errors import ExportError

# Standard-library modules a script may import (the tests walk its AST against this list).
STDLIB_IMPORTS = ("argparse", "csv", "gc", "io", "json", "math", "os", "time", "zipfile")
THIRD_PARTY_IMPORTS = ("numpy", "sklearn", "torch")

_BUILTINS = frozenset(dir(builtins))
# ``if __name__ == "__main__":`` at the end of a module: a definition named MAIN.
MAIN = "__main__"
_MAIN_TESTS = frozenset({"__name__ == '__main__'", "'__main__' == __name__"})


@dataclass(frozen=True)
class Import:
    """One imported name: ``import mod [as alias]`` or ``from mod import what [as alias]``."""

    name: str  # the name it binds
    module: str
    what: str | None = None  # None: ``import module``
    level: int = 0  # > 0: a relative import, a name the script defines itself

    def line_parts(self) -> tuple[str, str]:
        """``(module, what)`` for grouping into an import block."""
        if self.what is None:
            return self.module, ""
        alias = f" as {self.name}" if self.name != self.what else ""
        return self.module, self.what + alias


@dataclass(frozen=True)
class Definition:
    """One top-level definition, its source text and the module-level names it looks up."""

    name: str
    start: int  # line in the module, for ordering
    text: str
    uses: frozenset[str]


def free_names(source: str) -> set[str]:
    """The names ``source`` (module text) looks up as globals without binding them at its top
    level, builtins and module attributes (``__file__``) excluded: what it needs from around it."""
    top = symtable.symtable(source, "<export>", "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    used = {s.get_name() for s in top.get_symbols() if s.is_referenced()}
    tables = list(top.get_children())
    while tables:
        table = tables.pop()
        tables.extend(table.get_children())
        used |= {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    return {n for n in used - bound - _BUILTINS if not (n.startswith("__") and n.endswith("__"))}


def top_level_names(source: str) -> set[str]:
    """The names ``source`` defines at its top level (functions, classes, assignments)."""
    return {name for node in ast.parse(source).body for name in _bound_names(node)}


@dataclass
class Library:
    """The top-level definitions and imports of one module, for copying by name."""

    module: ModuleType
    defs: dict[str, Definition] = field(default_factory=dict)
    imports: dict[str, Import] = field(default_factory=dict)

    @classmethod
    def of(cls, module: ModuleType) -> Library:
        source = inspect.getsource(module)
        lines = source.splitlines()
        lib = cls(module)
        for node in ast.parse(source).body:
            for imported in _imports(node):
                lib.imports[imported.name] = imported
            names = _bound_names(node)
            if not names:
                continue
            decorators = getattr(node, "decorator_list", [])
            first = min([node.lineno] + [d.lineno for d in decorators])
            text = "\n".join(lines[first - 1 : node.end_lineno])
            uses = frozenset(free_names(text))
            for name in names:
                lib.defs[name] = Definition(name, first, text, uses)
        return lib

    def closure(self, names: set[str]) -> list[Definition]:
        """The definitions ``names`` need (themselves included), transitively, in source order."""
        missing = sorted(n for n in names if n not in self.defs)
        if missing:
            raise ExportError(f"internal: {self.module.__name__} has no definition {missing[0]!r}")
        todo, seen = list(names), set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(u for u in self.defs[name].uses if u in self.defs)
        unique = {id(self.defs[n]): self.defs[n] for n in seen}  # ``a = b = ...`` is one text
        return sorted(unique.values(), key=lambda d: d.start)

    def provided(self, defs: list[Definition]) -> set[str]:
        """The names ``defs`` take from the script itself (this module's relative imports)."""
        used = set().union(*(d.uses for d in defs)) if defs else set()
        return {n for n in used if n in self.imports and self.imports[n].level > 0}


def _imports(node: ast.stmt) -> list[Import]:
    if isinstance(node, ast.Import):
        return [Import(a.asname, a.name) if a.asname else Import(a.name.split(".")[0], a.name.split(".")[0])
                for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module != "__future__":
        return [Import(a.asname or a.name, node.module or "", a.name, node.level) for a in node.names]
    return []


def _bound_names(node: ast.stmt) -> list[str]:
    """The names a top-level statement defines (functions, classes, plain assignments)."""
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        return [t.id for t in node.targets]  # type: ignore[attr-defined]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.If) and ast.unparse(node.test) in _MAIN_TESTS:
        return [MAIN]  # the script's entry point, copied like a definition
    return []


_LIBRARIES: dict[str, Library] = {}


def library(module: ModuleType) -> Library:
    """The (cached) :class:`Library` of ``module``."""
    if module.__name__ not in _LIBRARIES:
        _LIBRARIES[module.__name__] = Library.of(module)
    return _LIBRARIES[module.__name__]


def import_lines(imports: set[Import]) -> list[str]:
    """isort-ordered import lines: standard library, then third party, each ``import x``
    before ``from x import``; a blank line between the groups."""
    out: list[str] = []
    for third_party in (False, True):
        group = [i for i in imports if (i.module.split(".")[0] not in STDLIB_IMPORTS) == third_party]
        plain = sorted({f"import {i.module}" + (f" as {i.name}" if i.name != i.module else "")
                        for i in group if i.what is None}, key=str.lower)
        froms: dict[str, set[str]] = {}
        for i in group:
            if i.what is not None:
                froms.setdefault(i.module, set()).add(i.line_parts()[1])
        plain += [f"from {mod} import {', '.join(sorted(froms[mod]))}" for mod in sorted(froms, key=str.lower)]
        if plain:
            out += [*plain, ""]
    return out[:-1]


def imports_for(names: set[str], libraries: list[Library]) -> set[Import]:
    """The imports that bind ``names``, spelled as the libraries spell them (ExportError, an
    exporter bug, for a name none imports or two import differently)."""
    found: set[Import] = set()
    for name in names:
        spellings = {lib.imports[name] for lib in libraries if name in lib.imports and lib.imports[name].level == 0}
        if len(spellings) != 1:
            why = "is imported differently by" if spellings else "is defined by none of"
            raise ExportError(f"internal: the script uses {name!r}, which {why} "
                              f"{', '.join(lib.module.__name__ for lib in libraries)}")
        found |= spellings
    return found
