"""Static descriptions of the data a Dataset node produces, without loading it.

Shape inference needs to know what a Dataset node's ``features`` and ``target`` ports carry
before torch or numpy are imported. Built-in sets are described from a table; a user's CSV is
described from its header and target column, a ``.npz`` from the ``.npy`` headers inside it
(parsed as literals, never unpickled). The runtime loads the real arrays and must agree with
this module; the conformance tests check that it does.

Class labels: a classification target with values ``v`` is mapped to class indices by the
position of ``v`` in ``sorted(set(values))`` (numbers sorted numerically, text lexically), so
labels ``{1, 2, 3}`` or ``{"cat", "dog"}`` both become ``0..K-1``.
"""

from __future__ import annotations

import ast
import csv
import os
import struct
import zipfile
from dataclasses import dataclass

from .errors import DatasetError
from .tensors import TensorInfo


@dataclass(frozen=True)
class BuiltinSet:
    name: str
    title: str
    features: tuple[int, ...]
    task: str  # "classification" or "regression"
    classes: int | None  # None: from the node's ``classes`` parameter (synthetic sets)
    target_dim: int = 1
    synthetic: bool = True
    doc: str = ""


BUILTIN: dict[str, BuiltinSet] = {
    s.name: s
    for s in (
        BuiltinSet("xor", "XOR", (2,), "classification", 2, doc="The four corners of the unit square; class = x1 XOR x2."),
        BuiltinSet("moons", "Two moons", (2,), "classification", 2, doc="Two interleaving half circles."),
        BuiltinSet("circles", "Circles", (2,), "classification", 2, doc="A small circle inside a large one."),
        BuiltinSet("spirals", "Spirals", (2,), "classification", None, doc="Interleaved spiral arms, one per class."),
        BuiltinSet("blobs", "Gaussian blobs", (2,), "classification", None, doc="Isotropic Gaussian clusters, one per class."),
        BuiltinSet("sine", "Sine regression", (1,), "regression", None, doc="y = sin(x) + noise for x in [-pi, pi]."),
        BuiltinSet("iris", "Iris (scikit-learn)", (4,), "classification", 3, synthetic=False, doc="150 flowers, 4 measurements, 3 species."),
        BuiltinSet("wine", "Wine (scikit-learn)", (13,), "classification", 3, synthetic=False, doc="178 wines, 13 chemical measurements, 3 cultivars."),
        BuiltinSet("breast_cancer", "Breast cancer (scikit-learn)", (30,), "classification", 2, synthetic=False, doc="569 tumours, 30 features, malignant or benign."),
        BuiltinSet("digits", "Digits 8x8 (scikit-learn)", (64,), "classification", 10, synthetic=False, doc="1797 handwritten digits as 8x8 images."),
        BuiltinSet("diabetes", "Diabetes (scikit-learn)", (10,), "regression", None, synthetic=False, doc="442 patients, 10 features, disease progression after a year."),
        BuiltinSet("sequences", "Sequence memory", (0, 1), "classification", 2, doc="Random sequences; class = sign of the sum of the first 3 steps (needs memory)."),
        BuiltinSet("tokens", "Token sequences", (0,), "classification", 2, doc="Random token ids in [0, 16); class = whether token 1 occurs before token 2."),
    )
}

TOKEN_VOCAB = 16
FILE_SETS = ("csv", "npz")
DATASET_CHOICES = tuple(BUILTIN) + FILE_SETS
MAX_DESCRIBE_ROWS = 1_000_000


def describe(params: dict, base_dir: str | None = None) -> tuple[TensorInfo, TensorInfo]:
    """Return ``(features, target)`` for a Dataset node's parameters, before preprocessing."""
    name = params["dataset"]
    if name in BUILTIN:
        s = BUILTIN[name]
        features = s.features
        dtype = "float32"
        if name == "digits" and params.get("layout") == "image":
            features = (1, 8, 8)
        if name == "sequences":
            features = (params["seq_len"], 1)
        if name == "tokens":
            features = (params["seq_len"],)
            dtype = "int64"
        if s.task == "classification":
            classes = s.classes if s.classes is not None else params["classes"]
            target = TensorInfo((), "int64", "classification", classes)
        else:
            target = TensorInfo((s.target_dim,), "float32", "regression")
        return TensorInfo(features, dtype), target
    path = resolve_path(params.get("path", ""), base_dir)
    if name == "csv":
        return _describe_csv(path, params)
    return _describe_npz(path, params)


def resolve_path(path: str, base_dir: str | None) -> str:
    if not path:
        raise DatasetError("no file is chosen: set 'path'")
    if "\x00" in path:
        raise DatasetError("path contains a NUL character")
    if not os.path.isabs(path) and base_dir:
        path = os.path.join(base_dir, path)
    return path


_csv_cache: dict[tuple, tuple[TensorInfo, TensorInfo]] = {}


def _describe_csv(path: str, params: dict) -> tuple[TensorInfo, TensorInfo]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DatasetError(f"cannot open CSV file '{path}': {exc.strerror}") from None
    key = (path, st.st_mtime_ns, st.st_size, params.get("target_column", ""), params.get("task", "auto"))
    if key in _csv_cache:
        return _csv_cache[key]
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # skips a byte order mark
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise DatasetError(f"CSV file '{path}' is empty: expected a header row")
            col = column_index(header, params.get("target_column", ""))
            values = []
            for i, row in enumerate(reader):
                if i >= MAX_DESCRIBE_ROWS:
                    break
                if len(row) > col and row[col].strip() != "":
                    values.append(row[col].strip())
    except UnicodeDecodeError as exc:
        raise DatasetError(f"CSV file '{path}' is not UTF-8 text (byte {exc.start})") from None
    except csv.Error as exc:
        raise DatasetError(f"CSV file '{path}' cannot be parsed: {exc}") from None
    except OSError as exc:
        raise DatasetError(f"cannot read CSV file '{path}': {exc.strerror}") from None
    if not values:
        raise DatasetError(f"CSV file '{path}' has no data rows")
    n_features = len(header) - 1
    if n_features < 1:
        raise DatasetError(f"CSV file '{path}' needs at least one feature column besides the target")
    numeric = all(_is_number(v) for v in values)
    task = target_task(params.get("task", "auto"), numeric, values)
    if task == "classification":
        # Numbers are labels by value: "1" and "1.0" are one class, as in runtime.datagen.
        labels = set(float(v) for v in values) if numeric else set(values)
        target = TensorInfo((), "int64", "classification", max(len(labels), 1))
    else:
        if not numeric:
            bad = next(v for v in values if not _is_number(v))
            raise DatasetError(f"regression target column '{header[col]}' holds text: {bad[:40]!r}")
        target = TensorInfo((1,), "float32", "regression")
    result = (TensorInfo((n_features,)), target)
    _csv_cache[key] = result
    return result


def column_index(header: list[str], target_column: str) -> int:
    """Index of the target column: by name, else the last column when no name is given."""
    names = [h.strip() for h in header]
    if not target_column:
        return len(names) - 1
    if target_column in names:
        return names.index(target_column)
    shown = ", ".join(repr(n) for n in names[:12])
    raise DatasetError(f"target column {target_column!r} is not in the header; columns: {shown}")


def target_task(task: str, numeric: bool, values: list) -> str:
    """Decide classification vs regression for a file's target column (see module docstring)."""
    if task != "auto":
        return task
    if not numeric:
        return "classification"
    if all(float(v).is_integer() for v in values) and len(set(float(v) for v in values)) <= 20:
        return "classification"
    return "regression"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity")


NPZ_FEATURE_KEYS = ("x", "X", "features")
NPZ_TARGET_KEYS = ("y", "Y", "target", "targets", "labels")


def npz_keys(names: list[str]) -> tuple[str, str]:
    """Which arrays of an .npz archive hold the features and the target."""
    stems = {n[:-4] if n.endswith(".npy") else n: n for n in names}
    fx = next((k for k in NPZ_FEATURE_KEYS if k in stems), None)
    fy = next((k for k in NPZ_TARGET_KEYS if k in stems), None)
    if fx is None or fy is None:
        raise DatasetError(
            "an .npz file needs a features array named x, X or features and a target array "
            f"named y, target or labels; it has {sorted(stems)[:10]}"
        )
    return fx, fy


def read_npy_header(data: bytes) -> tuple[str, bool, tuple[int, ...], int]:
    """Parse a .npy header without numpy: ``(descr, fortran_order, shape, data_offset)``."""
    if len(data) < 10 or data[:6] != b"\x93NUMPY":
        raise DatasetError("not a .npy array (bad magic bytes)")
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", data[8:10])
        start = 10
    elif major in (2, 3):
        (hlen,) = struct.unpack("<I", data[8:12])
        start = 12
    else:
        raise DatasetError(f"unsupported .npy version {major}")
    if hlen > 65536:
        raise DatasetError(".npy header is too long")
    try:
        text = data[start : start + hlen].decode("latin1")
        header = ast.literal_eval(text)  # literals only: never runs code
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise DatasetError(".npy header cannot be parsed") from None
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= set(header):
        raise DatasetError(".npy header lacks descr, fortran_order or shape")
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str) or not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise DatasetError(".npy header has a malformed descr or shape")
    if "O" in descr or "V" in descr:
        raise DatasetError("object arrays are refused (they would need unpickling)")
    return descr, bool(fortran), shape, start + hlen


_INT_CODES = {"i1": "b", "i2": "h", "i4": "i", "i8": "q", "u1": "B", "u2": "H", "u4": "I", "u8": "Q"}


def _describe_npz(path: str, params: dict) -> tuple[TensorInfo, TensorInfo]:
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DatasetError(f"cannot open .npz file '{path}': no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"'{path}' is not a readable .npz archive: {exc}") from None
    with zf:
        names = zf.namelist()
        fx, fy = npz_keys(names)
        members = {n[:-4] if n.endswith(".npy") else n: n for n in names}
        with zf.open(members[fx]) as fh:
            xdescr, _, xshape, _ = read_npy_header(fh.read(65536 + 16))
        with zf.open(members[fy]) as fh:
            head = fh.read(65536 + 16)
            ydescr, yfortran, yshape, off = read_npy_header(head)
            if len(xshape) < 2:
                raise DatasetError(f"features array '{fx}' must have a sample axis and features; shape {xshape}")
            if not yshape or yshape[0] != xshape[0]:
                raise DatasetError(f"target '{fy}' has shape {yshape} but features have {xshape[0]} samples")
            is_int = ydescr[1:] in _INT_CODES
            task = params.get("task", "auto")
            if task == "auto":
                task = "classification" if is_int or ydescr[1:] == "b1" else "regression"
            if task == "classification":
                n = 1
                for d in yshape:
                    n *= d
                if len(yshape) != 1:
                    raise DatasetError(f"classification target '{fy}' must be 1-D; shape {yshape}")
                if not is_int:
                    raise DatasetError(f"classification target '{fy}' must hold integers; dtype {ydescr}")
                if n > MAX_DESCRIBE_ROWS:
                    raise DatasetError(f"target '{fy}' has {n} rows; at most {MAX_DESCRIBE_ROWS}")
                import array

                code = _INT_CODES[ydescr[1:]]
                arr = array.array(code)
                raw = head[off:] + fh.read()
                if len(raw) < n * arr.itemsize:
                    raise DatasetError(f"target '{fy}' is truncated")
                arr.frombytes(raw[: n * arr.itemsize])
                if ydescr[0] == ">" and arr.itemsize > 1:
                    arr.byteswap()
                target = TensorInfo((), "int64", "classification", max(len(set(arr)), 1))
            else:
                dim = 1
                for d in yshape[1:]:
                    dim *= d
                target = TensorInfo((dim,), "float32", "regression")
    dtype = "int64" if xdescr[1:] in _INT_CODES else "float32"
    return TensorInfo(tuple(xshape[1:]), dtype), target
