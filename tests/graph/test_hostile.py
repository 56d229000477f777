"""Hundreds of mutated and hostile files: each gets exit code 2 and a one-line message from
``netwright validate``, never a traceback; in-process, loading raises only FileFormatError.

Issue 14 adds values past Python's own limits (a 5,000-digit integer made ``loads`` raise
ValueError), and a hypothesis property over the generated files of ``tests/graph/hostile_gen.py``:
each is refused with a FileFormatError naming the changed place, or loads and saves again."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings

from graph import FileFormatError, analyze, fileformat, load_path, loads
from graph.catalogue import REGISTRY
from graph.errors import ParamError
from graph.params import Float, Int
from tests.conftest import ROOT, SAMPLES
from tests.graph.hostile_gen import hostile_cases, path_fits

OTHER_TYPES = [None, "x", [], {}, True, 3.5]


def leaves(obj, path=()):
    """(container, key) of every scalar in a JSON document."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj)
    for k, v in items:
        if isinstance(v, (dict, list)) and v:
            yield from leaves(v, path + (k,))
        else:
            yield obj, k


def other_type(value, rng):
    def same(a, b):
        num = (int, float)
        return (type(a) is type(b)) or (isinstance(a, num) and isinstance(b, num)
                                        and not isinstance(a, bool) and not isinstance(b, bool))

    return rng.choice([c for c in OTHER_TYPES if not same(c, value)])


INJECT = ["__import__('os').system('touch /tmp/pwned')", "'; DROP TABLE nodes; --", "../../etc/passwd",
          "\x00", "{{7*7}}", "${HOME}", "é" * 300, "eval", "<script>alert(1)</script>"]


def hostile_files() -> list[tuple[str, bytes]]:
    rng = random.Random(1234)
    out: list[tuple[str, bytes]] = []
    for sample in sorted(SAMPLES.glob("*.json")):
        raw = sample.read_bytes()
        doc = json.loads(raw)
        stem = sample.stem
        for i in range(25):  # truncated anywhere before the closing brace
            cut = rng.randrange(0, len(raw.rstrip()) - 1)
            out.append((f"{stem}-trunc{i}", raw[:cut]))
        spots = list(leaves(doc))
        for i in range(30):  # wrong JSON type at a random place
            d = json.loads(raw)
            container, key = list(leaves(d))[rng.randrange(len(spots))]
            container[key] = other_type(container[key], rng)
            out.append((f"{stem}-type{i}", json.dumps(d).encode()))
        numeric = [(c, k) for c, k in spots if isinstance(c[k], (int, float)) and not isinstance(c[k], bool)]
        for i in range(12):  # absurd numbers
            d = json.loads(raw)
            idx = numeric[rng.randrange(len(numeric))]
            container, key = list((c, k) for c, k in leaves(d) if isinstance(c[k], (int, float)) and not isinstance(c[k], bool))[numeric.index(idx)]
            container[key] = rng.choice([10**30, -(10**30), 1e308, -1e308])
            out.append((f"{stem}-absurd{i}", json.dumps(d).encode()))
        for i, text in enumerate(INJECT):  # injected strings where only names are allowed
            d = json.loads(raw)
            target = rng.choice(["type", "id", "port", "choice", "key"])
            node = rng.choice(d["nodes"])
            if target == "type":
                node["type"] = text
            elif target == "id":
                node["id"] = text
            elif target == "port":
                d["edges"][0]["to"]["port"] = text
            elif target == "choice":
                d["nodes"][0]["params"]["dataset"] = text
            else:
                node["params"][text] = 1
            out.append((f"{stem}-inject{i}", json.dumps(d).encode()))
        for depth in (33, 200, 5000):  # deep nesting (built as text: json.dumps would recurse)
            d = json.loads(raw)
            d["nodes"][0]["params"]["n_samples"] = "DEEP"
            nested = "[" * depth + "1" + "]" * depth
            out.append((f"{stem}-deep{depth}", json.dumps(d).replace('"DEEP"', nested).encode()))
        for i in range(4):  # non-UTF-8 bytes
            pos = rng.randrange(len(raw))
            out.append((f"{stem}-bytes{i}", raw[:pos] + bytes([rng.choice([0xFF, 0xC3, 0x80, 0xFE])]) + raw[pos + 1:]))
        # structural: duplicate ids, dangling edges, cycles, unknown keys, duplicate keys, NaN
        d = json.loads(raw)
        d["nodes"][1]["id"] = d["nodes"][0]["id"]
        out.append((f"{stem}-dupid", json.dumps(d).encode()))
        d = json.loads(raw)
        d["edges"][0]["from"]["node"] = "ghost"
        out.append((f"{stem}-dangling", json.dumps(d).encode()))
        d = json.loads(raw)
        d["edges"].append({"from": d["edges"][2]["to"] | {"port": "output"}, "to": d["edges"][1]["to"]})
        out.append((f"{stem}-cycle", json.dumps(d).encode()))
        d = json.loads(raw)
        d["nodes"][0]["__class__"] = "os.system"
        out.append((f"{stem}-unknownkey", json.dumps(d).encode()))
        out.append((f"{stem}-dupkey", raw.replace(b'"format"', b'"format": "x", "format"', 1)))
        out.append((f"{stem}-nan", raw.replace(b'"noise": 0.1', b'"noise": NaN').replace(b'"lr": ', b'"lr": Infinity, "x": ', 1)))
        d = json.loads(raw)
        d["version"] = 10**40
        out.append((f"{stem}-version", json.dumps(d).encode()))
    many = {"format": "netwright-graph", "version": 1,
            "nodes": [{"id": f"n{i}", "type": "ReLU"} for i in range(20_001)], "edges": []}
    out.append(("too-many-nodes", json.dumps(many).encode()))
    out.append(("empty", b""))
    out.append(("bom-only", b"\xef\xbb\xbf"))
    out.append(("not-object", b'"netwright-graph"'))
    out.append(("pickle", b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94."))
    return out


HOSTILE = hostile_files()


def test_there_are_hundreds_of_hostile_files():
    assert len(HOSTILE) >= 300
    assert len({name for name, _ in HOSTILE}) == len(HOSTILE)


def test_every_hostile_file_is_rejected_in_process():
    for name, data in HOSTILE:
        try:
            g = loads(data)
        except FileFormatError as exc:
            assert str(exc).strip(), name
            assert "\n" not in str(exc), name
            continue
        # Loaded: then analysis must report an error (e.g. a shape no longer fits).
        assert not analyze(g, str(SAMPLES)).valid, f"{name} was accepted"


def test_validate_command_rejects_each_with_exit_2_and_one_line(tmp_path):
    paths = []
    for name, data in HOSTILE:
        p = tmp_path / f"{name}.json"
        p.write_bytes(data)
        paths.append(p)
    proc = subprocess.run([sys.executable, "-m", "runtime.cli", "validate", *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines):
        assert line.startswith(f"{path}: "), line
        assert len(line) > len(str(path)) + 10, line
    # And one by one, for a few: exit 2 each.
    for p in random.Random(5).sample(paths, 5):
        single = subprocess.run([sys.executable, "-m", "runtime.cli", "validate", str(p)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert single.returncode == 2 and "Traceback" not in single.stderr


def test_free_text_may_hold_anything_and_stays_inert():
    """Titles and descriptions are text: hostile content loads, round-trips and runs nothing."""
    raw = json.loads((SAMPLES / "xor_mlp.json").read_bytes())
    for text in INJECT:
        raw["nodes"][1]["title"] = text[:200]
        raw["settings"]["description"] = text
        g = loads(json.dumps(raw))
        assert g.nodes[raw["nodes"][1]["id"]].title == text[:200]


def test_catalogue_numbers_all_have_ranges():
    """Absurd numbers are always refused because every numeric parameter is bounded."""
    for t in REGISTRY.values():
        for p in t.params:
            if p.kind in ("int", "float", "ints"):
                assert p.min is not None and p.max is not None, f"{t.type_id}.{p.name}"


@pytest.mark.parametrize("name", ["digits_mlp", "xor_mlp"])
def test_valid_samples_pass_validate(name):
    proc = subprocess.run([sys.executable, "-m", "runtime.cli", "validate", str(SAMPLES / f"{name}.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("OK "), proc.stdout + proc.stderr


# ------------------------------------------------------------------ issue 14: values past Python's limits


def xor_with(literal: str, where: str = '"epochs": 300') -> bytes:
    raw = (SAMPLES / "xor_mlp.json").read_text(encoding="utf-8")
    assert where in raw
    return raw.replace(where, where.split(":")[0] + ": " + literal, 1).encode()


FIVE_THOUSAND_DIGITS = "9" * 5_000  # past Python's 4,300-digit int-string conversion limit


@pytest.mark.parametrize("literal", [FIVE_THOUSAND_DIGITS, "-" + FIVE_THOUSAND_DIGITS, "1" + "0" * 100])
def test_an_integer_too_long_to_convert_is_refused_with_its_path(literal):
    with pytest.raises(FileFormatError) as info:
        loads(xor_with(literal))
    assert info.value.path == "$.settings.epochs"
    assert f"an integer of {len(literal.lstrip('-'))} digits" in str(info.value)


def test_long_integers_are_refused_wherever_they_stand(tmp_path):
    doc = json.loads((SAMPLES / "xor_mlp.json").read_bytes())
    doc["nodes"][1]["position"][0] = "HOLE"
    text = json.dumps(doc).replace('"HOLE"', FIVE_THOUSAND_DIGITS)
    with pytest.raises(FileFormatError) as info:
        loads(text)
    assert info.value.path == "$.nodes[1].position[0]"
    path = tmp_path / "big.json"
    path.write_bytes(xor_with(FIVE_THOUSAND_DIGITS, '"version": 1'))
    with pytest.raises(FileFormatError, match=r"^\$\.version: an integer of 5000 digits"):
        load_path(path)


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "1" * 400, "1" * 4_000 + ".5"])
def test_numbers_beyond_a_float_are_refused_with_their_path(literal):
    data = xor_with(literal, '"noise": 0.0')
    with pytest.raises(FileFormatError) as info:
        loads(data)
    assert info.value.path == "$.nodes[0].params.noise", str(info.value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused(literal):
    with pytest.raises(FileFormatError, match=f"{literal} is not a number JSON allows"):
        loads(xor_with(literal, '"noise": 0.0'))


@pytest.mark.parametrize("where,text,path", [
    ('"description":', "x" * (fileformat.MAX_STRING + 1), "$.settings.description"),
    ('"title":', "\ud800", "$.settings.title"),  # valid JSON escape, not Unicode: could never be saved
])
def test_long_text_and_lone_surrogates_are_refused_with_their_path(where, text, path):
    doc = json.loads((SAMPLES / "xor_mlp.json").read_bytes())
    doc["settings"][where.strip('":')] = text
    with pytest.raises(FileFormatError) as info:
        loads(json.dumps(doc))  # ensure_ascii: the surrogate travels as the escape \ud800
    assert info.value.path == path


def test_a_long_key_is_refused_and_the_message_stays_short():
    doc = json.loads((SAMPLES / "xor_mlp.json").read_bytes())
    doc["nodes"][1]["params"]["k" * 2_000_000] = 1
    with pytest.raises(FileFormatError) as info:
        loads(json.dumps(doc))
    assert info.value.path == "$.nodes[1].params" and len(str(info.value)) < 200


def test_documents_built_in_python_get_the_same_checks():
    for value, reason in [(10**5_000, "digits"), (float("inf"), "finite"), (float("nan"), "finite")]:
        doc = json.loads((SAMPLES / "xor_mlp.json").read_bytes())
        doc["settings"]["epochs"] = value
        with pytest.raises(FileFormatError, match=reason) as info:
            fileformat.from_document(doc)
        assert info.value.path == "$.settings.epochs"
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(FileFormatError, match="nesting is deeper"):
        fileformat.from_document({"format": "netwright-graph", "x": nested})


def test_params_refuse_huge_integers_without_overflow():
    """Param.check serves the inspector too: float() of a 400-digit int overflows, repr() of a
    5,000-digit one raises; both must be a ParamError with a short message."""
    for p in (Float("x", 0.0, "doc", 0.0, 1.0), Int("n", 0, "doc", 0, 1)):
        for value in (10**400, -(10**5_000)):
            with pytest.raises(ParamError) as info:
                p.check(value)
            assert "integer of about" in str(info.value) and len(str(info.value)) < 100


def test_validate_refuses_a_5000_digit_integer_with_exit_2(tmp_path):
    path = tmp_path / "xor_big.json"
    path.write_bytes(xor_with(FIVE_THOUSAND_DIGITS))
    proc = subprocess.run([sys.executable, "-m", "runtime.cli", "validate", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == f"{path}: $.settings.epochs: an integer of 5000 digits; at most 100 are accepted\n"
    assert proc.stderr == ""


# ------------------------------------------------------------------ property: generated hostile files


@settings(max_examples=300, deadline=None)
@given(hostile_cases())
def test_generated_hostile_files_raise_only_file_format_errors_naming_the_place(case):
    try:
        g = loads(case.data)
    except FileFormatError as exc:
        text = str(exc)
        assert text.startswith(exc.path) and "\n" not in text and len(text) < 600, text[:300]
        assert path_fits(case, exc.path), f"{case}: refused at {exc.path}: {text}"
        return
    assert case.refused is not True, f"{case} was accepted"
    assert fileformat.dumps(g).encode("utf-8")  # what loads can be saved again
