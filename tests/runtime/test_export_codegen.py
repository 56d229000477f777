"""The doors into generated source: identifiers, literals, comments; and the shared attribute names."""

from __future__ import annotations

import ast
import keyword

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.codegen import (
    LINE_WIDTH,
    LiteralError,
    Namespace,
    comment_lines,
    display_width,
    flatten,
    inline_comment,
    literal,
)
from runtime.names import MODULE_ATTRIBUTES, attribute_names

HOSTILE = [
    "", " ", "\n", "'", '"', "'''", '"""', "\\", "\\n", "\r", "\r\n", "\x0c", "\x00", "\u2028", "\u2029", "\x85",
    "__import__('os').system('touch /tmp/x')", "class", "None", "def", "lambda", "self", "torch", "nn",
    "é" * 300, "字" * 100, "\u202e", "\ud800", "# -*- coding: rot13 -*-", "\")\nimport os\n#", "x" * 10_000,
    "1abc", "_", "__init__", "__class__", "a-b", "a b", "🙂",
]


def test_namespace_names_are_fresh_valid_identifiers() -> None:
    ns = Namespace(reserved={"torch", "nn", "self"})
    names = [ns.create_name(s) for s in HOSTILE + HOSTILE]
    assert len(set(names)) == len(names)
    for name in names:
        assert name.isidentifier() and name.isascii(), name
        assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
        assert name not in {"torch", "nn", "self", "print", "len", "__import__"}
        assert not name.startswith("__")
        assert len(name) <= 60


def test_namespace_keeps_plain_names_and_numbers_collisions() -> None:
    ns = Namespace()
    assert ns.create_name("x3") == "x3"
    assert ns.create_name("hidden") == "hidden"
    assert ns.create_name("hidden") == "hidden_1"
    assert ns.create_name("hidden") == "hidden_2"
    assert ns.create_name("a-b") == "a_b"
    assert ns.create_name("a b") == "a_b_1"
    assert ns.create_name("class") == "class_"
    assert ns.create_name("len") == "len_"
    assert ns.create_name("9lives") == "x9lives"
    obj = object()
    assert ns.create_name("thing", obj) == ns.create_name("other", obj) == "thing"


@pytest.mark.parametrize("value", [0, -3, 2**70, 0.1, -1e-300, 1e300, 5e-324, True, False, None, "", "a'b\"c",
                                   "line\nbreak", "\ud800", "\u2028", (1, 2), (3,), (), [1, -1], [0.5, "x"]])
def test_literal_round_trips(value) -> None:
    text = literal(value)
    assert ast.literal_eval(text) == value
    assert type(ast.literal_eval(text)) is type(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), {"a": 1}, {1}, object(), b"x",
                                   print, 1j, [float("nan")], (object(),)])
def test_literal_refuses_everything_else(value) -> None:
    with pytest.raises(LiteralError):
        literal(value)


def test_long_strings_are_split_into_short_lines() -> None:
    for text in ("x" * 10_000, "字" * 3000, "'\n\"" * 2000, "\ud800" * 500):
        src = literal(text, indent=4)
        assert ast.literal_eval(src) == text
        assert all(display_width(line) <= LINE_WIDTH for line in src.splitlines())


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_comments_stay_comments(text: str) -> None:
    lines = comment_lines(text, limit=300, indent=4)
    src = "def f():\n" + "\n".join(lines) + "\n    return 1\n"
    tree = ast.parse(src)
    assert len(tree.body) == 1 and len(tree.body[0].body) == 1  # nothing but the return statement
    for line in lines:
        assert line.startswith("    # ") and display_width(line) <= LINE_WIDTH
    code = "y = 1"
    tail = inline_comment(text, code)
    assert ast.parse(code + tail).body[0].value.value == 1
    assert display_width(code + tail) <= LINE_WIDTH


def test_flatten_removes_every_line_break_and_control_character() -> None:
    text = "a\nb\rc\x0cd\x0be\x1cf\x1dg\x1eh\x85i\u2028j\u2029k\x00l\u202em\ud800n\to"
    assert flatten(text) == "a b c d e f g h i j k l m n o"
    assert len(flatten("y" * 10_000, 50)) == 50


def test_attribute_names_keep_plain_ids_and_sanitise_the_rest() -> None:
    ids = ["n1", "n-1", "n_1", "class", "_x", "forward", "training", "__init__", "None", "x-", "x_"]
    names = attribute_names(ids)
    assert list(names) == ids
    assert names["n1"] == "n1" and names["n_1"] == "n_1" and names["x_"] == "x_"
    assert len(set(names.values())) == len(ids)
    for name in names.values():
        assert name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
        assert name not in MODULE_ATTRIBUTES
    # Every name can be registered on a real module, and the state_dict keys use it verbatim.
    m = torch.nn.Module()
    for name in names.values():
        m.add_module(name, torch.nn.Linear(1, 1))
    assert {k.split(".")[0] for k in m.state_dict()} == set(names.values())


def test_attribute_names_reserved_set_covers_this_torch() -> None:
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")} | set(vars(torch.nn.Module()))
    assert {n for n in public if not n.startswith("_")} <= MODULE_ATTRIBUTES
