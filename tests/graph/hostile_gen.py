"""Hypothesis strategies for hostile graph files, shared by the graph-level and the window-level
property tests.

:func:`hostile_cases` draws a :class:`Hostile`: the bytes of a file made from a valid sample by
one hostile change, and what loading it must give: ``refused`` (True: a FileFormatError; None:
either, e.g. odd text in a title may load) and ``path``, the JSON path of the change, which a
refusal's path must equal or lie above (``$.nodes[1].position`` for ``$.nodes[1].position[0]``),
or also below it where ``deeper`` is set (a bad key in ``$.settings`` is named
``$.settings.<key>``). A ``path`` of None accepts any path (bytes that do not parse have no
finer path than ``$``).

Pure standard library plus hypothesis: no torch, no Qt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from hypothesis import strategies as st

from graph import catalogue
from tests.conftest import SAMPLES

SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.json"))
HOLE = "@@HOSTILE@@"  # a placeholder replaced by raw JSON text no json.dumps would write

PAYLOADS = ["__import__('os').system('touch /tmp/pwned')", "$(rm -rf /)", "`reboot`", "\x00",
            "\u0000\u0001\ufeff", "../../etc/passwd", "{{7*7}}", "%s%n%x", "<script>alert(1)</script>",
            "é" * 300, "\u202eevil", "x" * 4_097, "y" * 20_001]
LONG = ["z" * 100_001, "w" * 1_000_000]  # over fileformat.MAX_STRING: refused wherever they stand
BIG_NUMBERS = ["9" * 5_000, "-" + "9" * 5_000, "1" + "0" * 100, "1e999", "-1e999", "1" * 4_000 + ".5e400"]
NOT_JSON = ["NaN", "Infinity", "-Infinity"]
BAD_BYTES = [0xFF, 0xFE, 0xC0, 0xC1, 0xF8]  # never valid anywhere in UTF-8
UNKNOWN_TYPES = ["Sequential", "torch.nn.Linear", "os.system", "__import__", "", "linear ", "LINEAR"]
OTHER_TYPES = [None, "x", [], {}, True, 3.5]


@dataclass(frozen=True)
class Hostile:
    label: str
    data: bytes
    refused: bool | None
    path: str | None
    deeper: bool = False

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep them readable
        return f"Hostile({self.label!r}, {len(self.data)} bytes, refused={self.refused}, path={self.path!r})"

    def _repr_pretty_(self, printer, cycle) -> None:  # what hypothesis's printer calls
        printer.text(repr(self))


@cache
def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_doc(name: str) -> dict:
    return json.loads(sample_bytes(name))


def leaves(obj, path: str = "$", keys: tuple = ()):
    """``(json_path, keys)`` of every scalar and empty container, in the loader's notation."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj)
    for k, v in items:
        sub = f"{path}.{k}" if isinstance(obj, dict) else f"{path}[{k}]"
        if isinstance(v, (dict, list)) and v:
            yield from leaves(v, sub, keys + (k,))
        else:
            yield sub, keys + (k,)


def containers(obj, path: str = "$", keys: tuple = ()):
    """``(json_path, keys)`` of every object (where a hostile key can go)."""
    if isinstance(obj, dict):
        yield path, keys
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        sub = f"{path}.{k}" if isinstance(obj, dict) else f"{path}[{k}]"
        yield from containers(v, sub, keys + (k,))


def put(doc, keys: tuple, value) -> None:
    for k in keys[:-1]:
        doc = doc[k]
    doc[keys[-1]] = value


def get(doc, keys: tuple):
    for k in keys:
        doc = doc[k]
    return doc


def with_hole(doc: dict, raw: str) -> bytes:
    """``doc`` as JSON with the placeholder string replaced by the raw text ``raw``."""
    return json.dumps(doc).replace(json.dumps(HOLE), raw, 1).encode("utf-8")


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def other_type(value) -> list:
    def same(a, b):
        return type(a) is type(b) or (is_number(a) and is_number(b))

    return [c for c in OTHER_TYPES if not same(c, value)]


# ------------------------------------------------------------------ one strategy per hostility


@st.composite
def truncated(draw, name: str) -> Hostile:
    raw = sample_bytes(name)
    cut = draw(st.integers(0, len(raw.rstrip()) - 2))  # the closing brace always goes
    return Hostile(f"{name} cut at {cut}", raw[:cut], True, None)


@st.composite
def wrong_type(draw, name: str) -> Hostile:
    doc = sample_doc(name)
    path, keys = draw(st.sampled_from(list(leaves(doc))))
    value = draw(st.sampled_from(other_type(get(doc, keys))))
    put(doc, keys, value)
    return Hostile(f"{name} {path} = {value!r}", json.dumps(doc).encode(), True, path)


@st.composite
def huge_number(draw, name: str) -> Hostile:
    doc = sample_doc(name)
    numeric = [(p, k) for p, k in leaves(doc) if is_number(get(doc, k))]
    path, keys = draw(st.sampled_from(numeric))
    literal = draw(st.sampled_from(BIG_NUMBERS + NOT_JSON))
    put(doc, keys, HOLE)
    where = None if literal in NOT_JSON else path  # NaN is refused while parsing: no finer path
    return Hostile(f"{name} {path} = {literal[:12]}… ({len(literal)} chars)", with_hole(doc, literal), True, where)


@st.composite
def deep(draw, name: str) -> Hostile:
    doc = sample_doc(name)
    path, keys = draw(st.sampled_from(list(leaves(doc))))
    depth = draw(st.sampled_from([30, 33, 200, 5_000, 100_000]))
    opener = draw(st.sampled_from(["[", '{"a":']))
    closer = "]" if opener == "[" else "}"
    put(doc, keys, HOLE)
    return Hostile(f"{name} {path} nested {depth} deep", with_hole(doc, opener * depth + "1" + closer * depth),
                   True, None)


@st.composite
def unknown_type(draw, name: str) -> Hostile:
    doc = sample_doc(name)
    i = draw(st.integers(0, len(doc["nodes"]) - 1))
    text = draw(st.sampled_from(UNKNOWN_TYPES + PAYLOADS)
                | st.text(max_size=20).filter(lambda t: t not in catalogue.REGISTRY))
    doc["nodes"][i]["type"] = text
    return Hostile(f"{name} $.nodes[{i}].type = {text[:30]!r}", json.dumps(doc).encode(), True, f"$.nodes[{i}].type")


@st.composite
def payload_value(draw, name: str) -> Hostile:
    doc = sample_doc(name)
    strings = [(p, k) for p, k in leaves(doc) if isinstance(get(doc, k), str)]
    path, keys = draw(st.sampled_from(strings))
    text = draw(st.sampled_from(PAYLOADS + LONG + ["\ud800", "a\udfffb"]))
    put(doc, keys, text)
    refused = True if text in LONG or "\ud800" in text or "\udfff" in text else None
    return Hostile(f"{name} {path} = {text[:30]!r} ({len(text)} chars)",
                   json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass"), refused, path)


@st.composite
def free_text(draw, name: str) -> Hostile:
    """Payloads where text is free (titles, the description): these load and are shown."""
    doc = sample_doc(name)
    spots = [(f"$.nodes[{i}].title", ("nodes", i, "title")) for i in range(len(doc["nodes"]))]
    spots += [("$.settings.title", ("settings", "title")), ("$.settings.description", ("settings", "description"))]
    path, keys = draw(st.sampled_from(spots))
    text = draw(st.sampled_from(PAYLOADS) | st.text(max_size=60))
    put(doc, keys, text)
    return Hostile(f"{name} {path} = {text[:30]!r} ({len(text)} chars)", json.dumps(doc).encode(), None, path)


@st.composite
def payload_key(draw, name: str) -> Hostile:
    doc = sample_doc(name)
    path, keys = draw(st.sampled_from(list(containers(doc))))
    text = draw(st.sampled_from(PAYLOADS + LONG))
    target = get(doc, keys) if keys else doc
    target[text] = 1
    return Hostile(f"{name} key {text[:30]!r} in {path}", json.dumps(doc).encode(), True, path, deeper=True)


@st.composite
def structural(draw, name: str) -> Hostile:
    doc = sample_doc(name)
    nodes, edges = doc["nodes"], doc["edges"]
    kind = draw(st.sampled_from(["duplicate id", "dangling", "cycle", "missing key"]))
    if kind == "duplicate id":
        i, j = sorted(draw(st.lists(st.integers(0, len(nodes) - 1), min_size=2, max_size=2, unique=True)))
        nodes[j]["id"] = nodes[i]["id"]
        path = f"$.nodes[{j}].id"
    elif kind == "dangling":
        k = draw(st.integers(0, len(edges) - 1))
        end = draw(st.sampled_from(["from", "to"]))
        edges[k][end]["node"] = draw(st.sampled_from(["ghost", "", "n999999"]))
        path = f"$.edges[{k}].{end}.node"
    elif kind == "cycle":  # u → v exists; v → u closes a loop
        types = {n["id"]: catalogue.get(n["type"]) for n in nodes}
        loops = [(e["to"]["node"], out.name, e["from"]["node"], inp.name) for e in edges
                 for out in types[e["to"]["node"]].outputs for inp in types[e["from"]["node"]].inputs]
        v, out, u, inp = draw(st.sampled_from(loops))
        edges.append({"from": {"node": v, "port": out}, "to": {"node": u, "port": inp}})
        path = f"$.edges[{len(edges) - 1}]"  # a cycle, a taken input or a kind mismatch
    else:
        key = draw(st.sampled_from(["format", "version", "nodes", "edges"]))
        del doc[key]
        path = None  # '$' for most; '$.version' or '$.format' for those
    return Hostile(f"{name} {kind} at {path}", json.dumps(doc).encode(), True, path)


@st.composite
def raw_bytes(draw, name: str) -> Hostile:
    raw = sample_bytes(name)
    kind = draw(st.sampled_from(["bad byte", "duplicate key", "binary"]))
    if kind == "bad byte":
        at = draw(st.integers(0, len(raw)))
        data = raw[:at] + bytes([draw(st.sampled_from(BAD_BYTES))]) + raw[at:]
    elif kind == "duplicate key":
        data = raw.replace(b'"edges"', b'"edges": [], "edges"', 1)
    else:  # random bytes: a valid graph would need "format": "netwright-graph" by chance
        data = draw(st.binary(min_size=0, max_size=200))
    return Hostile(f"{name} {kind}", data, True, None)


KINDS = [truncated, wrong_type, huge_number, deep, unknown_type, payload_value, free_text, payload_key,
         structural, raw_bytes]


@st.composite
def hostile_cases(draw) -> Hostile:
    name = draw(st.sampled_from(SAMPLE_NAMES))
    kind = draw(st.sampled_from(KINDS))
    return draw(kind(name))


def _inside(inner: str, outer: str) -> bool:
    return inner == outer or (inner.startswith(outer) and inner[len(outer)] in ".[")


def path_fits(case: Hostile, error_path: str) -> bool:
    """The refusal names the changed place, a place holding it, or (``deeper``) one inside it."""
    if case.path is None:
        return True
    return _inside(case.path, error_path) or (case.deeper and _inside(error_path, case.path))
