"""runtime.data on the user's files: CSV and .npz that load (and agree with graph.analyze), and
hostile files that must each give a DataError naming the row and column or the array, never a
traceback, and never run code from a pickle."""

from __future__ import annotations

import inspect
import pickle
import zipfile

import numpy as np
import pytest

from runtime import data, datagen
from runtime.data import load_dataset
from runtime.errors import DataError
from tests.runtime.test_data import assert_conforms


def load_file(tmp_path, name: str, content, **params):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    full = {"dataset": "csv" if name.endswith(".csv") else "npz", "path": name, "val_split": 0.0, **params}
    return load_dataset(full, str(tmp_path)), full


# ---------------------------------------------------------------- CSV that loads


def test_csv_text_labels_become_sorted_class_indices(tmp_path):
    text = "sepal,petal,species\n1,2,virginica\n3,4,setosa\n5,6,versicolor\n7,8,setosa\n"
    b, params = load_file(tmp_path, "flowers.csv", text)
    assert b.class_names == ["setosa", "versicolor", "virginica"]
    assert b.target.classes == 3
    by_row = dict(zip(map(tuple, b.x_train.tolist()), b.y_train.tolist()))
    assert by_row == {(1.0, 2.0): 2, (3.0, 4.0): 0, (5.0, 6.0): 1, (7.0, 8.0): 0}
    assert_conforms(b, params, str(tmp_path))


def test_csv_numeric_labels_map_by_value(tmp_path):
    text = "a,label\n0.5,3\n1.5,1.0\n2.5,1\n3.5,10\n"  # "1" and "1.0" are one class; 10 sorts after 3
    b, params = load_file(tmp_path, "d.csv", text)
    assert b.class_names == ["1", "3", "10"]
    assert sorted(zip(b.x_train[:, 0].tolist(), b.y_train.tolist())) == [(0.5, 1), (1.5, 0), (2.5, 0), (3.5, 2)]
    assert_conforms(b, params, str(tmp_path))


def test_csv_target_column_by_name_and_regression(tmp_path):
    rows = "\n".join(f"{i * 0.37!r},{i * 1.1 + 0.05!r},{i}" for i in range(30))
    b, params = load_file(tmp_path, "r.csv", "x1,price,x2\n" + rows + "\n", target_column="price")
    assert b.target.task == "regression" and b.y_train.shape == (30, 1) and b.y_train.dtype == np.float32
    assert b.x_train.shape == (30, 2) and b.class_names is None
    np.testing.assert_allclose(np.sort(b.y_train[:, 0]), [i * 1.1 + 0.05 for i in range(30)], rtol=1e-6)
    assert_conforms(b, params, str(tmp_path))


@pytest.mark.parametrize("task,expected", [("regression", "regression"), ("classification", "classification")])
def test_csv_task_parameter_overrides_the_auto_rule(tmp_path, task, expected):
    b, params = load_file(tmp_path, "t.csv", "a,y\n1,0\n2,1\n3,0.5\n", task=task)
    assert b.target.task == expected
    assert_conforms(b, params, str(tmp_path))


def test_csv_tolerates_bom_crlf_quotes_spaces_and_blank_lines(tmp_path):
    numeric = b'\xef\xbb\xbf"a", b ,y\r\n 1.5 ,"2",7\r\n\r\n3,4 , 8 \r\n'
    # The first column is found by its clean name despite the byte order mark.
    b, params = load_file(tmp_path, "w.csv", numeric, target_column="a")
    assert sorted(b.x_train.tolist()) == [[2.0, 7.0], [4.0, 8.0]]
    assert b.target.task == "regression" and sorted(b.y_train[:, 0].tolist()) == [1.5, 3.0]
    assert_conforms(b, params, str(tmp_path))
    text = b'\xef\xbb\xbf"a", b ,y\r\n 1.5 ,"2",cat\r\n\r\n3,4 , dog \r\n'
    b2, params2 = load_file(tmp_path, "w2.csv", text)
    assert b2.class_names == ["cat", "dog"]
    assert sorted(b2.x_train.tolist()) == [[1.5, 2.0], [3.0, 4.0]]
    assert_conforms(b2, params2, str(tmp_path))


def test_csv_with_preprocessing_and_split(tmp_path):
    rows = "\n".join(f"{i},{(i * 7) % 11},{'ab'[i % 2]}" for i in range(40))
    b, params = load_file(tmp_path, "p.csv", "u,v,c\n" + rows + "\n", val_split=0.25, preprocessing="pca",
                          pca_components=1)
    assert b.x_train.shape == (30, 1) and b.x_val.shape == (10, 1)
    assert_conforms(b, params, str(tmp_path))


# ---------------------------------------------------------------- hostile CSV

HEADER = "sepal,petal_width,species\n"
HOSTILE_CSV = [
    ("bad number", HEADER + "1,2,a\n3,abc,b\n", {}, ["row 3", "column 'petal_width'", "'abc' is not a number"]),
    ("too few fields", HEADER + "1,2,a\n3,b\n", {}, ["row 3 has 2 fields; the header has 3"]),
    ("too many fields", HEADER + "1,2,a\n1,2,3,4\n", {}, ["row 3 has 4 fields; the header has 3"]),
    ("empty feature cell", HEADER + "1,,a\n", {}, ["row 2", "column 'petal_width'", "empty"]),
    ("empty target cell", HEADER + "1,2,a\n1,2, \n", {}, ["row 3", "column 'species'", "empty"]),
    ("nan feature", HEADER + "1,2,a\nnan,2,b\n", {}, ["row 3", "column 'sepal'", "'nan' is not a finite"]),
    ("inf feature", HEADER + "1,-inf,a\n", {}, ["row 2", "column 'petal_width'", "'-inf'"]),
    ("overflowing number", HEADER + "1,2,a\n1e400,2,b\n", {}, ["row 3", "column 'sepal'", "finite"]),
    ("beyond float32", HEADER + "1,2,a\n1,5e38,b\n", {}, ["row 3", "column 'petal_width'", "float32"]),
    ("not utf-8", HEADER.encode() + b"1,2,a\n1,2,caf\xe9\n", {}, ["row 3", "not UTF-8", "offset 39"]),
    ("latin-1 header", b"caf\xe9,y\n1,2\n", {}, ["row 1", "not UTF-8", "offset 3"]),
    ("empty file", "", {}, ["is empty"]),
    ("whitespace only", " \n\n \n", {}, ["is empty"]),
    ("header only", HEADER, {}, ["header but no data rows"]),
    ("header and blank lines", HEADER + "\n\n", {}, ["no data rows"]),
    ("blank header line", "\n1,2,3\n", {}, ["row 1", "header row is empty"]),
    ("duplicate columns", "a,b,a,y\n1,2,3,4\n", {}, ["row 1", "'a' appears twice", "columns 1 and 3"]),
    ("unnamed column", "a,,y\n1,2,3\n", {}, ["row 1", "column 2 of the header has no name"]),
    ("one column", "value\n1\n2\n", {}, ["single column", "'value'"]),
    ("semicolons", "a;b;y\n1;2;3\n", {}, ["single column", "commas"]),
    ("unknown target column", HEADER + "1,2,a\n", {"target_column": "colour"}, ["'colour' is not in the header"]),
    ("text regression target", HEADER + "1,2,3.5\n1,2,big\n", {"task": "regression"},
     ["row 3", "column 'species'", "'big' is not a number"]),
    ("nan regression target", "a,y\n1,0.5\n2,nan\n3,1.5\n", {}, ["row 3", "column 'y'", "'nan' is not a finite"]),
    ("NUL byte", HEADER + "1,2\x003,a\n", {}, ["row 2", "column 'petal_width'", "not a number"]),
    ("huge field", HEADER + "1,2," + "x" * 200_000 + "\n", {}, ["row 2", "cannot be parsed as CSV"]),
    ("unterminated quote", HEADER + '1,"2,a\n3,4,b\n', {}, ["row 2 has 2 fields", "runs to row 3"]),
    ("quoted newline", HEADER + '1,2,a\n"1\n2",3,b\n', {}, ["row 3", "column 'sepal'", "not a number"]),
    ("blank lines still count", HEADER + "1,2,a\n\n\n1,x,b\n", {}, ["row 5", "column 'petal_width'"]),
]


@pytest.mark.parametrize("content,params,parts", [c[1:] for c in HOSTILE_CSV], ids=[c[0] for c in HOSTILE_CSV])
def test_hostile_csv_names_row_and_column(tmp_path, content, params, parts):
    with pytest.raises(DataError) as info:
        load_file(tmp_path, "data.csv", content, **params)
    message = str(info.value)
    assert "data.csv" in message
    for part in parts:
        assert part in message, message


@pytest.mark.parametrize("params,part", [
    ({"path": ""}, "no file is chosen"),
    ({"path": "missing.csv"}, "cannot open CSV file"),
    ({"path": "."}, "is a folder, not a regular file"),
    ({"path": "a\x00b.csv"}, "NUL"),
])
def test_unusable_csv_paths(tmp_path, params, part):
    with pytest.raises(DataError, match=part):
        load_dataset({"dataset": "csv", **params}, str(tmp_path))


# ---------------------------------------------------------------- NPZ that loads


def save_npz(tmp_path, name: str = "d.npz", **arrays) -> str:
    np.savez(tmp_path / name, **arrays)
    return name


def test_npz_integer_labels_map_via_sorted_unique(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    name = save_npz(tmp_path, x=x, y=np.array([9, 3, 7, 3, 9, 9], np.int32))
    params = {"dataset": "npz", "path": name, "val_split": 0.0}
    b = load_dataset(params, str(tmp_path))
    assert b.class_names == ["3", "7", "9"]
    assert b.x_train.dtype == np.float32
    by_first = dict(zip(b.x_train[:, 0].tolist(), b.y_train.tolist()))
    assert by_first == {0.0: 2, 2.0: 0, 4.0: 1, 6.0: 0, 8.0: 2, 10.0: 2}
    assert_conforms(b, params, str(tmp_path))


@pytest.mark.parametrize("arrays,params", [
    ({"features": np.random.default_rng(0).normal(size=(20, 1, 4, 4)), "labels": np.arange(20) % 3},
     {"preprocessing": "zscore", "val_split": 0.2}),
    ({"X": np.random.default_rng(1).integers(0, 16, (10, 6)), "target": np.arange(10) % 2}, {}),
    ({"x": np.random.default_rng(2).normal(size=(15, 3)).astype(np.float16),
      "targets": np.random.default_rng(3).normal(size=(15, 2))}, {"test_split": 0.2, "preprocessing": "whiten"}),
    ({"x": np.ones((8, 2), bool), "Y": np.linspace(0, 1, 8)}, {}),
    ({"x": np.asfortranarray(np.arange(24.0).reshape(8, 3)), "y": np.arange(8) % 2}, {"task": "regression"}),
])
def test_npz_variants_conform(tmp_path, arrays, params):
    name = save_npz(tmp_path, **arrays)
    full = {"dataset": "npz", "path": name, **params}
    b = load_dataset(full, str(tmp_path))
    assert_conforms(b, full, str(tmp_path))


def test_npz_integer_features_stay_ids(tmp_path):
    name = save_npz(tmp_path, x=np.array([[1, 2], [3, 4], [5, 6]], np.uint8), y=np.array([0, 1, 0]))
    b = load_dataset({"dataset": "npz", "path": name, "val_split": 0.0}, str(tmp_path))
    assert b.x_train.dtype == np.int64 and b.features.dtype == "int64"
    with pytest.raises(DataError, match="token ids"):
        load_dataset({"dataset": "npz", "path": name, "preprocessing": "zscore"}, str(tmp_path))


# ---------------------------------------------------------------- hostile NPZ


class Payload:
    """Pickles to a call of ``open(path, 'w')``: unpickling it would create ``path``."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_canary_payload_is_live(tmp_path):
    """Guards the pickle tests below: unpickling this payload does create the canary."""
    canary = tmp_path / "live-canary"
    pickle.loads(pickle.dumps(Payload(str(canary)))).close()
    assert canary.exists()


def npz_bytes(tmp_path, **arrays) -> bytes:
    path = tmp_path / "src.npz"
    np.savez(path, **arrays)
    return path.read_bytes()


def zip_of(tmp_path, members: dict[str, bytes]) -> bytes:
    path = tmp_path / "raw.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return path.read_bytes()


def npy_bytes(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)  # only to build hostile inputs
    return buf.getvalue()


X = np.zeros((5, 3))
Y = np.arange(5) % 2


def hostile_npz(tmp_path, case: str, canary: str) -> bytes:
    evil = np.empty(5, dtype=object)
    for i in range(5):
        evil[i] = Payload(canary)
    good = npz_bytes(tmp_path, x=X, y=Y)
    builders = {
        "not a zip": lambda: b"hello, this is text\n" * 10,
        "empty file": lambda: b"",
        "raw pickle": lambda: pickle.dumps(Payload(canary)),
        "bare npy": lambda: npy_bytes(X),
        "truncated zip": lambda: good[: len(good) // 2],
        "object features": lambda: npz_bytes(tmp_path, x=evil, y=Y),
        "object target": lambda: npz_bytes(tmp_path, x=X, y=evil),
        "mismatched lengths": lambda: npz_bytes(tmp_path, x=X, y=np.arange(4)),
        "nan features": lambda: npz_bytes(tmp_path, x=np.where(np.eye(5, 3) > 0, np.nan, 0.0), y=Y),
        "inf target": lambda: npz_bytes(tmp_path, x=X, y=np.array([0.5, np.inf, 1, 2, 3])),
        "zero rows": lambda: npz_bytes(tmp_path, x=np.zeros((0, 3)), y=np.zeros(0, int)),
        "missing keys": lambda: npz_bytes(tmp_path, a=X, b=Y),
        "flat features": lambda: npz_bytes(tmp_path, x=np.zeros(5), y=Y),
        "text features": lambda: npz_bytes(tmp_path, x=np.array([["a", "b"]] * 5), y=Y),
        "complex features": lambda: npz_bytes(tmp_path, x=X.astype(complex), y=Y),
        "structured features": lambda: npz_bytes(tmp_path, x=np.zeros((5, 2), dtype=[("a", "i4")]), y=Y),
        "2-D class target": lambda: npz_bytes(tmp_path, x=X, y=np.zeros((5, 2), int)),
        "float class target": lambda: npz_bytes(tmp_path, x=X, y=np.linspace(0, 1, 5)),
        "bool class target": lambda: npz_bytes(tmp_path, x=X, y=Y.astype(bool)),
        "empty target axis": lambda: npz_bytes(tmp_path, x=X, y=np.zeros((5, 0))),
        "empty feature axis": lambda: npz_bytes(tmp_path, x=np.zeros((5, 0)), y=Y),
        "beyond float32": lambda: npz_bytes(tmp_path, x=np.full((5, 3), 1e300), y=Y),
        "beyond float32 target": lambda: npz_bytes(tmp_path, x=X, y=np.full(5, -1e300)),
        "scalar target": lambda: zip_of(tmp_path, {"x.npy": npy_bytes(X), "y.npy": npy_bytes(np.array(3))}),
        "not an npy member": lambda: zip_of(tmp_path, {"x": b"just bytes", "y.npy": npy_bytes(Y)}),
        "corrupt npy header": lambda: zip_of(tmp_path, {"x.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <<<}   \n",
                                                        "y.npy": npy_bytes(Y)}),
        "truncated npy data": lambda: zip_of(tmp_path, {"x.npy": npy_bytes(X)[:-16], "y.npy": npy_bytes(Y)}),
        "header executes nothing": lambda: zip_of(tmp_path, {
            "x.npy": b"\x93NUMPY\x01\x00\x40\x00" + f"__import__('os').system('touch {canary}')".ljust(63).encode() + b"\n",
            "y.npy": npy_bytes(Y)}),
    }
    return builders[case]()


HOSTILE_NPZ = [
    ("not a zip", {}, ["not an .npz archive"]),
    ("empty file", {}, ["not an .npz archive"]),
    ("raw pickle", {}, ["not an .npz archive", "pickle"]),
    ("bare npy", {}, ["not an .npz archive"]),
    ("truncated zip", {}, ["d.npz"]),
    ("object features", {}, ["array 'x'", "Python objects"]),
    ("object target", {}, ["array 'y'", "Python objects"]),
    ("mismatched lengths", {}, ["target 'y'", "features 'x' have 5 samples"]),
    ("nan features", {}, ["array 'x'", "NaN"]),
    ("inf target", {}, ["array 'y'", "NaN or infinite"]),
    ("zero rows", {}, ["'x' has 0 samples"]),
    ("missing keys", {}, ["features array named x", "['a', 'b']"]),
    ("flat features", {}, ["features array 'x'", "sample axis"]),
    ("text features", {}, ["array 'x'", "dtype <U1"]),
    ("complex features", {}, ["array 'x'", "complex128"]),
    ("structured features", {}, ["array 'x'", "dtype"]),
    ("2-D class target", {"task": "classification"}, ["target 'y'", "1-D"]),
    ("float class target", {"task": "classification"}, ["target 'y'", "integers"]),
    ("bool class target", {}, ["target 'y'", "integers"]),
    ("empty target axis", {}, ["target 'y'", "no values"]),
    ("empty feature axis", {}, ["array 'x'", "empty axis"]),
    ("beyond float32", {}, ["array 'x'", "float32 range"]),
    ("beyond float32 target", {}, ["target 'y'", "float32 range"]),
    ("scalar target", {}, ["target 'y'"]),
    ("not an npy member", {}, ["array 'x'", "not a .npy array"]),
    ("corrupt npy header", {}, ["array 'x'", "cannot be read"]),
    ("truncated npy data", {}, ["array 'x'", "cannot be read"]),
    ("header executes nothing", {}, ["array 'x'", "cannot be read"]),
]


@pytest.mark.parametrize("case,params,parts", HOSTILE_NPZ, ids=[c[0] for c in HOSTILE_NPZ])
def test_hostile_npz_names_the_array_and_runs_no_code(tmp_path, case, params, parts):
    canary = tmp_path / "canary"
    blob = hostile_npz(tmp_path, case, str(canary))
    (tmp_path / "d.npz").write_bytes(blob)
    with pytest.raises(DataError) as info:
        load_dataset({"dataset": "npz", "path": "d.npz", **params}, str(tmp_path))
    message = str(info.value)
    for part in parts:
        assert part in message, message
    assert not canary.exists()


def test_missing_npz_file(tmp_path):
    with pytest.raises(DataError, match="cannot open .npz file"):
        load_dataset({"dataset": "npz", "path": "nothing.npz"}, str(tmp_path))


def test_no_loader_ever_allows_pickles():
    for module in (data, datagen):
        source = inspect.getsource(module)
        assert "allow_pickle=True" not in source
        assert "pickle.load" not in source
