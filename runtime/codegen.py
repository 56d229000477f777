"""The three doors through which anything from a graph file reaches generated Python source.

Exported scripts are built from fixed text written here in the runtime plus three kinds of
holes, each filled by exactly one function of this module:

* identifiers come from a :class:`Namespace` (modelled on torch.fx's ``_Namespace.create_name``):
  characters that cannot appear in an identifier become ``_``, a leading digit or ``__`` gets an
  ``x`` prefix, keywords, builtins and reserved names get a ``_`` suffix, and collisions are
  numbered, so a name is always a fresh, valid, ASCII identifier;
* values go through :func:`literal`, an allow-list printer for ``None``, ``bool``, ``int``,
  finite ``float`` (``repr``, which round-trips exactly), ``str`` (double-quoted: printable
  characters as they are, ``"`` and ``\\`` escaped, every other character -- newlines, NUL,
  U+2028, lone surrogates -- as its ``repr`` escape) and tuples/lists of those; anything else
  (a dict, an object, ``nan``) raises :class:`LiteralError`;
* user text (titles, descriptions, file names) goes through :func:`comment_lines`, which keeps
  only printable characters, flattens all whitespace (``\\n``, ``\\r``, ``\\x0c``, U+2028...) to
  single spaces, caps the length and wraps it into ``# ...`` lines, so it can never leave the
  comment it is in.

A line of generated code never exceeds :data:`LINE_WIDTH` columns, counting every non-ASCII
character as two (ruff measures display width), so scripts pass ``ruff check`` with its default
line length; long strings are split into implicitly concatenated pieces by :func:`literal`.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from collections.abc import Iterable
from typing import Any

LINE_WIDTH = 88
_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")
_SUFFIX = re.compile(r"(.*)_(\d+)$")
RESERVED_BUILTINS = frozenset(dir(builtins))


class LiteralError(ValueError):
    """A value that the literal printer refuses to print."""


# ------------------------------------------------------------------ identifiers


class Namespace:
    """Hands out fresh identifiers: sanitised, never a keyword, builtin or reserved name, unique.

    ``create_name(candidate, obj)`` returns the same name again for the same ``obj``.
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._used: set[str] = set(reserved)
        self._by_obj: dict[Any, str] = {}
        self._count: dict[str, int] = {}

    def reserve(self, name: str) -> None:
        self._used.add(name)

    def __contains__(self, name: str) -> bool:
        return name in self._used

    def create_name(self, candidate: str, obj: Any = None) -> str:
        if obj is not None and obj in self._by_obj:
            return self._by_obj[obj]
        name = _NOT_IDENT.sub("_", candidate)[:48] or "_unnamed"
        if name[0].isdigit():
            name = "x" + name
        if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in RESERVED_BUILTINS:
            name += "_"
        if name.startswith("__"):
            name = "x" + name  # no dunders, no name mangling inside class bodies
        m = _SUFFIX.match(name)
        base, num = (m.group(1), int(m.group(2))) if m else (name, 0)
        if not base:
            base = "x"
        k = self._count.get(base, num)
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._count[base] = k
        self._used.add(name)
        if obj is not None:
            self._by_obj[obj] = name
        return name


# ------------------------------------------------------------------ values


def literal(value: Any, indent: int = 0, width: int = LINE_WIDTH) -> str:
    """Python source for ``value``; allow-listed types only (see the module docstring).

    A string longer than fits on one line comes back as a parenthesised, implicitly concatenated
    sequence of pieces on lines indented by ``indent + 4`` spaces.
    """
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LiteralError(f"cannot print the non-finite number {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        text = _quote(str(value))
        if display_width(text) + indent <= width - 24:
            return text
        return _split_string(str(value), indent + 4, width)
    if isinstance(value, (tuple, list)):
        items = [literal(v, indent, width) for v in value]
        if any("\n" in item for item in items):
            raise LiteralError("cannot print a sequence of long strings")
        if isinstance(value, tuple):
            return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
        return "[" + ", ".join(items) + "]"
    raise LiteralError(f"cannot print a value of type {type(value).__name__}")


def _quote(text: str) -> str:
    """A double-quoted string literal: printable characters as they are, ``"`` and ``\\``
    escaped, everything else (newlines, NUL, U+2028, lone surrogates...) as the escape ``repr``
    gives that one character."""
    out = []
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return '"' + "".join(out) + '"'


def _split_string(text: str, indent: int, width: int) -> str:
    pad = " " * indent
    room = max(20, width - indent - 4)
    pieces: list[str] = []
    piece = ""
    for ch in text:
        if piece and display_width(_quote(piece + ch)) > room:
            pieces.append(_quote(piece))
            piece = ""
        piece += ch
    pieces.append(_quote(piece))
    return "(\n" + "".join(f"{pad}{p}\n" for p in pieces) + " " * (indent - 4) + ")"


# ------------------------------------------------------------------ user text


def display_width(text: str) -> int:
    """Columns ``text`` takes at most: non-ASCII characters count as two."""
    return sum(1 if ord(ch) < 128 else 2 for ch in text)


def flatten(text: str, limit: int = 200) -> str:
    """One line of printable text: whitespace and control characters become single spaces,
    at most ``limit`` characters (an ellipsis marks a cut)."""
    kept = "".join(ch if ch.isprintable() else " " for ch in str(text))
    flat = " ".join(kept.split())
    if len(flat) > limit:
        flat = flat[: limit - 3].rstrip() + "..."
    return flat


def comment_lines(text: str, prefix: str = "# ", limit: int = 200, indent: int = 0, width: int = LINE_WIDTH) -> list[str]:
    """``text`` flattened and wrapped into comment lines that fit in ``width`` columns."""
    flat = flatten(text, limit)
    if not flat:
        return []
    room = width - indent - display_width(prefix)
    lines: list[str] = []
    line = ""
    for word in flat.split(" "):
        while display_width(word) > room:  # a very long word: cut it
            cut = _fit(word, room - display_width(line) - (1 if line else 0))
            if cut == 0:
                lines.append(line)
                line = ""
                continue
            line = (line + " " if line else "") + word[:cut]
            lines.append(line)
            line, word = "", word[cut:]
        if line and display_width(line) + 1 + display_width(word) > room:
            lines.append(line)
            line = word
        else:
            line = (line + " " if line else "") + word
    if line:
        lines.append(line)
    pad = " " * indent
    return [f"{pad}{prefix}{ln}".rstrip() for ln in lines if ln]


def _fit(word: str, room: int) -> int:
    n = 0
    used = 0
    for ch in word:
        w = display_width(ch)
        if used + w > room:
            break
        used += w
        n += 1
    return n


def inline_comment(text: str, code: str = "", width: int = LINE_WIDTH, limit: int = 40) -> str:
    """A short trailing comment (``  # hidden``) that fits after ``code``, or '' when empty."""
    flat = flatten(text, limit)
    room = width - display_width(code) - 4
    if display_width(flat) > room:
        flat = flat[: _fit(flat, room - 3)].rstrip() + "..." if room > 8 else ""
    return f"  # {flat}" if flat else ""
