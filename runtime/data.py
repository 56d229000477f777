"""Loading a Dataset node's data: arrays, split and fitted preprocessing in one ``DataBundle``.

``load_dataset(params, base_dir)`` takes a Dataset node's parameters and returns the training,
validation and test arrays. The numbers themselves come from ``runtime.datagen`` (generation,
file reading, the split and preprocessing), which the code exporter copies into the standalone
script; its docstring lists the exact call sequence used here. This module adds what the script
does not need: parameter defaults and checks, a fast in-process cache of the scikit-learn sets,
turning every failure into a ``DataError``, and the ``TensorInfo`` descriptions.

Invariants:

* ``bundle.features`` and ``bundle.target`` equal what ``graph.analyze`` infers for the Dataset
  node's ports (the conformance tests in ``tests/runtime/test_data.py`` check every built-in set
  and the file formats).
* Preprocessing statistics are fitted on the training split only, then applied to the others.
* Every failure is a ``DataError`` naming the file and the row and column (CSV) or the array
  (NPZ), and the Dataset node when the caller passes it; files are never unpickled, and only
  regular files are opened (a device or a FIFO is refused by name, see ``datagen.open_data_file``).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from graph import datasets as gd
from graph.catalogue import get as get_node_type
from graph.document import Node
from graph.errors import DatasetError
from graph.tensors import TensorInfo

from . import datagen
from .errors import DataError


@dataclass
class DataBundle:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray  # 0 rows when val_split == 0
    y_val: np.ndarray
    x_test: np.ndarray  # 0 rows when test_split == 0
    y_test: np.ndarray
    features: TensorInfo  # per sample, after preprocessing
    target: TensorInfo
    class_names: list[str] | None  # classification: the original label of each class index
    preprocessing: dict  # fitted statistics as plain Python data (see datagen.fit_preprocessing)


SKLEARN_SETS = tuple(datagen.SKLEARN_LOADERS)


def load_dataset(params: dict, base_dir: str | None = None, node: Node | None = None) -> DataBundle:
    """Load, split and preprocess the data a Dataset node with ``params`` describes.

    Relative file paths are resolved against ``base_dir`` (the graph file's folder).
    Raises DataError for anything wrong with the parameters or the data; given the ``node``,
    the error names it (``Node 'data' (Dataset): ...``) and carries its id.
    """
    try:
        return _load(params, base_dir)
    except DataError as exc:
        if node is None:
            raise
        raise DataError(f"Node {node.label()}: {exc}", node.id) from None


def _load(params: dict, base_dir: str | None) -> DataBundle:
    p = {**get_node_type("Dataset").defaults(), **params}
    name = p["dataset"]
    x, y, class_names = _raw_arrays(name, p, base_dir)
    prep = p["preprocessing"]
    if prep != "none" and x.dtype == np.int64:
        raise DataError(f"preprocessing '{prep}' needs real-valued features; this data set has token ids")
    if prep in ("pca", "whiten"):
        if x.ndim != 2:
            raise DataError(f"preprocessing '{prep}' needs flat features; got "
                            f"{'×'.join(map(str, x.shape[1:]))} (set layout to flat)")
        if p["pca_components"] > x.shape[1]:
            raise DataError(f"pca_components is {p['pca_components']} but the data has only "
                            f"{x.shape[1]} features")
    try:
        train, val, test = datagen.split_indices(len(x), p["val_split"], p["test_split"], p["split_seed"])
        stats = datagen.fit_preprocessing(prep, x[train], p["pca_components"], p["whiten_eps"])
    except ValueError as exc:
        raise DataError(str(exc)) from None
    x_train, x_val, x_test = (datagen.apply_preprocessing(stats, x[i]) for i in (train, val, test))

    features = TensorInfo(tuple(x_train.shape[1:]), "int64" if x.dtype == np.int64 else "float32")
    if y.dtype == np.int64:
        classes = _class_count(name, p, y)
        target = TensorInfo((), "int64", "classification", classes)
    else:
        target = TensorInfo(tuple(y.shape[1:]), "float32", "regression")
    return DataBundle(x_train, y[train], x_val, y[val], x_test, y[test], features, target,
                      class_names, stats)


def _raw_arrays(name: str, p: dict, base_dir: str | None) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """``x, y, class_names`` before the split (step 1 of ``runtime.datagen``'s docstring)."""
    if name in datagen.GENERATORS:
        rng = np.random.default_rng(p["split_seed"])
        args = [p[a] for a in datagen.GENERATOR_ARGS[name]]
        x, y = datagen.GENERATORS[name](*args, rng)
        return x, y, _synthetic_class_names(name, p)
    if name in SKLEARN_SETS:
        x, y, names = _sklearn_arrays(name)
        if name == "digits" and p["layout"] == "image":
            x = x.reshape(-1, 1, 8, 8)
        return x, y, list(names) if names is not None else None
    if name not in gd.FILE_SETS:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(gd.DATASET_CHOICES)}")
    try:
        path = gd.resolve_path(p["path"], base_dir)
    except DatasetError as exc:
        raise DataError(str(exc)) from None
    try:
        # Both readers open regular files only (datagen.open_data_file): a device or a FIFO
        # named as the data file is refused, never read.
        if name == "csv":
            return datagen.read_csv(path, p["target_column"], p["task"])
        return datagen.read_npz(path, p["task"])
    except ValueError as exc:
        raise DataError(str(exc)) from None


def _class_count(name: str, p: dict, y: np.ndarray) -> int:
    """Classes of a classification target: fixed by the set or the ``classes`` parameter for
    built-in sets (a tiny sample may miss some), counted from the labels for files."""
    spec = gd.BUILTIN.get(name)
    if spec is not None:
        return spec.classes if spec.classes is not None else p["classes"]
    return max(int(y.max()) + 1, 1) if len(y) else 1


def _synthetic_class_names(name: str, p: dict) -> list[str] | None:
    spec = gd.BUILTIN[name]
    if spec.task != "classification":
        return None
    if name == "sequences":
        return ["sum <= 0", "sum > 0"]
    if name == "tokens":
        return ["2 before 1", "1 before 2"]
    count = spec.classes if spec.classes is not None else p["classes"]
    return [str(k) for k in range(count)]


# ---------------------------------------------------------------- scikit-learn sets


@functools.cache
def _sklearn_arrays(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None]:
    """The arrays of ``datagen.load_sklearn(name)``, read-only and cached in-process.

    NOTE: [fast-sklearn] importing scikit-learn costs about a second, longer than loading any
    of its small sets. The data files ship inside the installed scikit-learn package, so we read
    them with numpy exactly as its loaders do, without importing it; if the files are not where
    we expect, we fall back to the loader. ``test_sklearn_fast_path_equals_loader`` keeps the two
    identical.
    """
    try:
        x, y, names = _read_sklearn_files(name)
    except (OSError, ValueError, IndexError):
        try:
            x, y, names = datagen.load_sklearn(name)
        except ImportError:
            raise DataError(f"the '{name}' set needs scikit-learn (pip install scikit-learn)") from None
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y, tuple(names) if names is not None else None


def _sklearn_data_dir() -> str:
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DataError("scikit-learn is not installed; it ships the iris, wine, breast cancer, "
                        "digits and diabetes sets (pip install scikit-learn)")
    return os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")


def _read_sklearn_files(name: str) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    folder = _sklearn_data_dir()
    if name == "digits":
        data = np.loadtxt(os.path.join(folder, "digits.csv.gz"), delimiter=",")
        return (data[:, :-1].astype(np.float32), data[:, -1].astype(np.int64),
                [str(i) for i in range(10)])
    if name == "diabetes":
        x = np.loadtxt(os.path.join(folder, "diabetes_data_raw.csv.gz"))
        y = np.loadtxt(os.path.join(folder, "diabetes_target.csv.gz"))
        return x.astype(np.float32), y.astype(np.float32).reshape(-1, 1), None
    filename = {"iris": "iris.csv", "wine": "wine_data.csv", "breast_cancer": "breast_cancer.csv"}[name]
    path = os.path.join(folder, filename)
    with open(path, encoding="utf-8") as fh:
        first = fh.readline().strip().split(",")
    n, d, names = int(first[0]), int(first[1]), first[2:]
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    if data.shape != (n, d + 1):
        raise ValueError(f"{filename}: expected {n}×{d + 1} values, found {data.shape}")
    return data[:, :-1].astype(np.float32), data[:, -1].astype(np.int64), names
