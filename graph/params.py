"""Typed parameter declarations.

A :class:`Param` says what a node parameter holds: its kind, default, range or choices and a
one-line doc. The inspector builds its editors from these, the file loader and the document's
``set_param`` check values through :meth:`Param.check`, and nothing else decides what is valid.
Values are plain JSON data: int, float, bool, str, or a list of ints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import ParamError

KINDS = ("int", "float", "bool", "choice", "str", "ints")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    max_len: int = 4096  # str: characters; ints: items
    multiline: bool = False  # str shown in a text box

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        # The default must itself be valid: a declaration error fails at import, not in a user's file.
        self.check(self.default)

    def range_text(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = "-inf" if self.min is None else _num(self.min)
        hi = "inf" if self.max is None else _num(self.max)
        what = {"int": "an integer", "float": "a number", "ints": "a list of integers"}.get(
            self.kind, "a " + self.kind
        )
        if self.kind in ("int", "float", "ints") and (self.min is not None or self.max is not None):
            return f"{what} in [{lo}, {hi}]"
        return what

    def check(self, value: Any) -> Any:
        """Return ``value`` normalised (ints become floats for float params) or raise ParamError."""
        return _CHECKS[self.kind](self, value)

    def _refuse(self, value: Any) -> ParamError:
        return ParamError(self.name, f"must be {self.range_text()}; got {_show(value)}")

    def _check_bool(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ParamError(self.name, f"must be true or false; got {_show(value)}")
        return value

    def _check_int(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._refuse(value)
        self._in_range(value)
        return value

    def _check_float(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._refuse(value)
        try:
            value = float(value)
        except OverflowError:  # an int beyond ±1.8e308
            raise self._refuse(value) from None
        if not math.isfinite(value):
            raise ParamError(self.name, f"must be a finite number; got {_show(value)}")
        self._in_range(value)
        return value

    def _check_choice(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise self._refuse(value)
        return value

    def _check_str(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ParamError(self.name, f"must be text; got {_show(value)}")
        if len(value) > self.max_len:
            raise ParamError(self.name, f"must be at most {self.max_len} characters; got {len(value)}")
        return value

    def _check_ints(self, value: Any) -> list[int]:
        if not isinstance(value, (list, tuple)) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise self._refuse(value)
        if not 1 <= len(value) <= self.max_len:
            raise ParamError(self.name, f"must have 1 to {self.max_len} items; got {len(value)}")
        for v in value:
            self._in_range(v)
        return list(value)

    def _in_range(self, v: float) -> None:
        if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
            raise ParamError(self.name, f"must be {self.range_text()}; got {_show(v)}")


_CHECKS = {"bool": Param._check_bool, "int": Param._check_int, "float": Param._check_float,
           "choice": Param._check_choice, "str": Param._check_str, "ints": Param._check_ints}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def _show(value: Any) -> str:
    """A short, single-line rendering of a user's value for messages."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        # repr() of an int over 4,300 digits raises ValueError; count the digits instead.
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"{'a negative' if value < 0 else 'an'} integer of about {digits} digits"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text.replace("\n", "\\n")


def Int(name: str, default: int, doc: str, lo: int | None = None, hi: int | None = None) -> Param:
    return Param(name, "int", default, doc, lo, hi)


def Float(name: str, default: float, doc: str, lo: float | None = None, hi: float | None = None) -> Param:
    return Param(name, "float", float(default), doc, lo, hi)


def Bool(name: str, default: bool, doc: str) -> Param:
    return Param(name, "bool", default, doc)


def Choice(name: str, default: str, choices: tuple[str, ...], doc: str) -> Param:
    return Param(name, "choice", default, doc, choices=tuple(choices))


def Str(name: str, default: str, doc: str, max_len: int = 4096, multiline: bool = False) -> Param:
    return Param(name, "str", default, doc, max_len=max_len, multiline=multiline)


def Ints(name: str, default: list[int], doc: str, lo: int | None = None, hi: int | None = None, max_len: int = 8) -> Param:
    return Param(name, "ints", list(default), doc, lo, hi, max_len=max_len)
