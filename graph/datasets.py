"""Static descriptions of the data a Dataset node produces, without loading it.

Shape inference needs to know what a Dataset node's ``features`` and ``target`` ports carry
before torch or numpy are imported. Built-in sets are described from a table; a user's CSV is
described from its header and target column, a ``.npz`` from the ``.npy`` headers inside it
(parsed as literals, never unpickled). The runtime loads the real arrays and must agree with
this module; the conformance tests check that it does.

Reading is bounded, because analysis runs in the window's thread while a graph opens: a data
path must be a regular file (a folder where a folder is expected), checked with ``os.stat``
before anything is opened, so a device (``/dev/zero``), a FIFO (``/dev/stdin``, which blocks
on open) or a socket is refused by name and never read; no CSV line is read past
``MAX_LINE_CHARS`` (a multi-gigabyte one-line file is an error after 1 MiB, not a freeze); a
file larger than ``MAX_FILE_BYTES`` (the runtime's limit) is refused from its size; ``.npz``
shapes come from the zip directory and the ``.npy`` headers, and only an integer target's
values are read, at most the bytes its header declares.

Class labels: a classification target with values ``v`` is mapped to class indices by the
position of ``v`` in ``sorted(set(values))`` (numbers sorted numerically, text lexically), so
labels ``{1, 2, 3}`` or ``{"cat", "dog"}`` both become ``0..K-1``.
"""

from __future__ import annotations

import array
import ast
import csv
import io
import os
import stat
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

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
MAX_LINE_CHARS = 1024 * 1024  # the longest CSV line read for a description (header included)
MAX_FILE_BYTES = 2 * 1024**3  # as runtime.datagen.MAX_FILE_BYTES: larger files never load


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


# ------------------------------------------------------------------ what a path may name

_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """``st_mode`` in words: "a regular file", "a folder", "a character device", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((words for test, words in _NOT_REGULAR if test(mode)), "not a file")


def check_path(path: str, what: str, folder: bool = False) -> os.stat_result:
    """``os.stat(path)``, refusing anything but a regular file (a folder when ``folder``).

    Nothing is opened: opening a FIFO blocks until a writer comes, and reading a device such as
    ``/dev/zero`` never ends. ``what`` names the file in messages ("CSV file").
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise DatasetError(f"cannot open {what} '{path}': {reason}") from None
    regular = stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode)
    if not regular:
        wanted = "a folder" if folder else "a regular file"
        raise DatasetError(f"{what} path '{path}' is {file_kind(st.st_mode)}, not {wanted}")
    return st


def open_regular(path: str, what: str) -> BinaryIO:
    """Open a regular file for reading in binary, after :func:`check_path`.

    The descriptor is opened without blocking and checked again, so a path swapped for a FIFO
    or a device between the two checks is still refused rather than read.
    """
    check_path(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise DatasetError(f"cannot open {what} '{path}': {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise DatasetError(f"{what} path '{path}' is {file_kind(mode)}, not a regular file")
    return os.fdopen(fd, "rb")


def _file_key(path: str, st: os.stat_result, *params: object) -> tuple:
    """A cache key that changes when the file does (replaced, rewritten or touched)."""
    return (path, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, *params)


def _check_size(path: str, st: os.stat_result, what: str) -> None:
    if st.st_size > MAX_FILE_BYTES:
        raise DatasetError(f"{what} '{path}' is larger than {MAX_FILE_BYTES // 1024**2} MiB")


# ------------------------------------------------------------------ CSV

_csv_cache: dict[tuple, tuple[TensorInfo, TensorInfo]] = {}


def _describe_csv(path: str, params: dict) -> tuple[TensorInfo, TensorInfo]:
    st = check_path(path, "CSV file")
    _check_size(path, st, "CSV file")
    key = _file_key(path, st, params.get("target_column", ""), params.get("task", "auto"))
    if key not in _csv_cache:
        # utf-8-sig skips a byte order mark; newline="" lets csv see quoted line breaks as they are.
        with io.TextIOWrapper(open_regular(path, "CSV file"), encoding="utf-8-sig", newline="") as text:
            header, col, values = _read_csv_target(text, path, params.get("target_column", ""))
        _csv_cache[key] = _csv_infos(path, header, col, values, params.get("task", "auto"))
    return _csv_cache[key]


def _bounded_lines(text: io.TextIOBase, path: str) -> Iterator[str]:
    """The file's lines, none read past ``MAX_LINE_CHARS``: a one-line file of gigabytes costs
    1 MiB and a clear error, not all of memory."""
    number = 0
    while True:
        line = text.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise DatasetError(f"CSV file '{path}' line {number} is longer than "
                               f"{MAX_LINE_CHARS // 1024**2} MiB: is it really a CSV file?")
        yield line


def _read_csv_target(text: io.TextIOBase, path: str, target_column: str) -> tuple[list[str], int, list[str]]:
    """``(header, target column index, target cells)`` of up to MAX_DESCRIBE_ROWS data rows."""
    reader = csv.reader(_bounded_lines(text, path))
    try:
        header = next(reader, None)
        if not header:
            raise DatasetError(f"CSV file '{path}' is empty: expected a header row")
        col = column_index(header, target_column)
        values = []
        for i, row in enumerate(reader):
            if i >= MAX_DESCRIBE_ROWS:
                break
            if len(row) > col and row[col].strip() != "":
                values.append(row[col].strip())
    except UnicodeDecodeError:
        raise DatasetError(f"CSV file '{path}' is not UTF-8 text (line {reader.line_num + 1})") from None
    except csv.Error as exc:
        raise DatasetError(f"CSV file '{path}' cannot be parsed: {exc}") from None
    except OSError as exc:
        raise DatasetError(f"cannot read CSV file '{path}': {exc.strerror or exc}") from None
    return header, col, values


def _csv_infos(path: str, header: list[str], col: int, values: list[str],
               task: str) -> tuple[TensorInfo, TensorInfo]:
    if not values:
        raise DatasetError(f"CSV file '{path}' has no data rows")
    n_features = len(header) - 1
    if n_features < 1:
        raise DatasetError(f"CSV file '{path}' needs at least one feature column besides the target")
    numeric = all(_is_number(v) for v in values)
    task = target_task(task, numeric, values)
    if task == "classification":
        # Numbers are labels by value: "1" and "1.0" are one class, as in runtime.datagen.
        labels = set(float(v) for v in values) if numeric else set(values)
        target = TensorInfo((), "int64", "classification", max(len(labels), 1))
    else:
        if not numeric:
            bad = next(v for v in values if not _is_number(v))
            raise DatasetError(f"regression target column '{header[col]}' holds text: {bad[:40]!r}")
        target = TensorInfo((1,), "float32", "regression")
    return TensorInfo((n_features,)), target


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


_npz_cache: dict[tuple, tuple[TensorInfo, TensorInfo]] = {}


def _describe_npz(path: str, params: dict) -> tuple[TensorInfo, TensorInfo]:
    st = check_path(path, ".npz file")
    key = _file_key(path, st, params.get("task", "auto"))
    if key not in _npz_cache:
        with open_regular(path, ".npz file") as fh:
            try:
                zf = zipfile.ZipFile(fh)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise DatasetError(f"'{path}' is not a readable .npz archive: {exc}") from None
            with zf:
                _npz_cache[key] = _describe_npz_members(zf, params.get("task", "auto"))
    return _npz_cache[key]


def _describe_npz_members(zf: zipfile.ZipFile, task: str) -> tuple[TensorInfo, TensorInfo]:
    """From the zip directory and the .npy headers; of the arrays themselves only an integer
    classification target is read (its classes), never more bytes than its header declares."""
    names = zf.namelist()
    fx, fy = npz_keys(names)
    members = {n[:-4] if n.endswith(".npy") else n: n for n in names}
    with zf.open(members[fx]) as fh:
        xdescr, _, xshape, _ = read_npy_header(fh.read(65536 + 16))
    if len(xshape) < 2:
        raise DatasetError(f"features array '{fx}' must have a sample axis and features; shape {xshape}")
    with zf.open(members[fy]) as fh:
        head = fh.read(65536 + 16)
        ydescr, _, yshape, off = read_npy_header(head)
        if not yshape or yshape[0] != xshape[0]:
            raise DatasetError(f"target '{fy}' has shape {yshape} but features have {xshape[0]} samples")
        is_int = ydescr[1:] in _INT_CODES
        if task == "auto":
            task = "classification" if is_int or ydescr[1:] == "b1" else "regression"
        if task == "classification":
            target = _npz_classes(fy, ydescr, yshape, head[off:], fh)
        else:
            dim = 1
            for d in yshape[1:]:
                dim *= d
            target = TensorInfo((dim,), "float32", "regression")
    dtype = "int64" if xdescr[1:] in _INT_CODES else "float32"
    return TensorInfo(tuple(xshape[1:]), dtype), target


def _npz_classes(key: str, descr: str, shape: tuple[int, ...], start: bytes, fh: BinaryIO) -> TensorInfo:
    """The classification target of an integer array: as many classes as distinct values."""
    if len(shape) != 1:
        raise DatasetError(f"classification target '{key}' must be 1-D; shape {shape}")
    if descr[1:] not in _INT_CODES:
        raise DatasetError(f"classification target '{key}' must hold integers; dtype {descr}")
    n = shape[0]
    if n > MAX_DESCRIBE_ROWS:
        raise DatasetError(f"target '{key}' has {n} rows; at most {MAX_DESCRIBE_ROWS}")
    arr = array.array(_INT_CODES[descr[1:]])
    want = n * arr.itemsize
    raw = start[:want]
    raw += fh.read(want - len(raw))  # what the header declares, however long the member is
    if len(raw) < want:
        raise DatasetError(f"target '{key}' is truncated")
    arr.frombytes(raw)
    if descr[0] == ">" and arr.itemsize > 1:
        arr.byteswap()
    return TensorInfo((), "int64", "classification", max(len(set(arr)), 1))
