"""runtime.data on the built-in sets: conformance with graph.analyze, determinism, the split,
preprocessing fitted on the training split only, and the exportability of runtime.datagen."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import numpy as np
import pytest

import graph
from graph import datasets as gd
from runtime import datagen
from runtime.data import DataBundle, _read_sklearn_files, load_dataset
from runtime.errors import DataError
from tests.conftest import ROOT


def analysed(params: dict, base_dir: str | None = None) -> dict:
    """What graph.analyze infers for a one-node graph holding a Dataset with ``params``."""
    g = graph.Graph()
    node = g.add_node("Dataset", params)
    result = graph.analyze(g, base_dir)
    assert node.id in result.outputs, [f.message for f in result.findings if f.node_id == node.id]
    return result.outputs[node.id]


def assert_conforms(bundle: DataBundle, params: dict, base_dir: str | None = None) -> None:
    """The bundle's arrays, dtypes and descriptions are those the analysis promises."""
    out = analysed(params, base_dir)
    assert bundle.features == out["features"]
    assert bundle.target == out["target"]
    for x, y in ((bundle.x_train, bundle.y_train), (bundle.x_val, bundle.y_val),
                 (bundle.x_test, bundle.y_test)):
        assert x.shape[1:] == out["features"].shape
        assert str(x.dtype) == out["features"].dtype
        assert len(x) == len(y)
        assert str(y.dtype) == out["target"].dtype
        if out["target"].task == "classification":
            assert y.ndim == 1
            assert ((y >= 0) & (y < out["target"].classes)).all()
        else:
            assert y.shape[1:] == out["target"].shape
            assert np.isfinite(y).all()
        if x.dtype == np.float32:
            assert np.isfinite(x).all()
    if out["target"].task == "classification":
        assert bundle.class_names is not None and len(bundle.class_names) == out["target"].classes
    else:
        assert bundle.class_names is None


BUILTIN = sorted(gd.BUILTIN)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_set_loads_with_defaults_and_conforms(name):
    params = {"dataset": name}
    bundle = load_dataset(params)
    assert_conforms(bundle, params)
    n = len(bundle.x_train) + len(bundle.x_val) + len(bundle.x_test)
    assert len(bundle.x_val) == round(n * 0.2) and len(bundle.x_test) == 0
    assert bundle.preprocessing == {"kind": "none"}


VARIANTS = [
    {"dataset": "xor", "n_samples": 4, "val_split": 0.0, "noise": 0.0},
    {"dataset": "moons", "n_samples": 101, "test_split": 0.1, "preprocessing": "zscore"},
    {"dataset": "circles", "n_samples": 50, "noise": 0.0, "preprocessing": "minmax"},
    {"dataset": "spirals", "classes": 5, "n_samples": 333, "preprocessing": "whiten"},
    {"dataset": "spirals", "classes": 20, "n_samples": 4, "val_split": 0.0},  # classes outnumber samples
    {"dataset": "blobs", "classes": 7, "n_samples": 70, "preprocessing": "pca", "pca_components": 1},
    {"dataset": "sine", "n_samples": 64, "noise": 0.0, "preprocessing": "center", "test_split": 0.25},
    {"dataset": "iris", "preprocessing": "pca", "pca_components": 2},
    {"dataset": "wine", "preprocessing": "whiten", "test_split": 0.2, "split_seed": 9},
    {"dataset": "breast_cancer", "preprocessing": "zscore", "val_split": 0.0},
    {"dataset": "digits", "layout": "image", "preprocessing": "zscore"},
    {"dataset": "digits", "layout": "image", "preprocessing": "minmax", "test_split": 0.1},
    {"dataset": "digits", "preprocessing": "whiten", "pca_components": 20},
    {"dataset": "diabetes", "preprocessing": "zscore", "test_split": 0.1},
    {"dataset": "sequences", "seq_len": 7, "n_samples": 50, "preprocessing": "zscore"},
    {"dataset": "sequences", "seq_len": 2, "n_samples": 10},
    {"dataset": "tokens", "seq_len": 2, "n_samples": 30},
    {"dataset": "tokens", "seq_len": 50, "n_samples": 200, "test_split": 0.3},
]


@pytest.mark.parametrize("params", VARIANTS, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_builtin_variants_conform(params):
    assert_conforms(load_dataset(params), params)


def test_digits_image_layout_is_the_flat_layout_reshaped():
    flat = load_dataset({"dataset": "digits"})
    image = load_dataset({"dataset": "digits", "layout": "image"})
    assert image.x_train.shape[1:] == (1, 8, 8)
    np.testing.assert_array_equal(image.x_train.reshape(len(image.x_train), 64), flat.x_train)
    np.testing.assert_array_equal(image.y_val, flat.y_val)


@pytest.mark.parametrize("name", sorted(datagen.SKLEARN_LOADERS))
def test_sklearn_fast_path_equals_loader(name):
    """The in-app reader (no sklearn import) and datagen.load_sklearn (used by exported
    scripts) give identical arrays and names."""
    x, y, names = _read_sklearn_files(name)
    x2, y2, names2 = datagen.load_sklearn(name)
    assert x.dtype == x2.dtype and y.dtype == y2.dtype
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert names == names2


def test_sklearn_sets_are_cached_read_only_but_bundles_are_writable():
    a = load_dataset({"dataset": "iris"})
    a.x_train[:] = 0.0  # the caller owns its arrays
    b = load_dataset({"dataset": "iris"})
    assert b.x_train.any()


def test_sklearn_labels_and_names():
    iris = load_dataset({"dataset": "iris", "val_split": 0.0})
    assert iris.class_names == ["setosa", "versicolor", "virginica"]
    assert np.bincount(iris.y_train).tolist() == [50, 50, 50]
    digits = load_dataset({"dataset": "digits", "val_split": 0.0})
    assert digits.class_names == [str(i) for i in range(10)]
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 16.0
    diabetes = load_dataset({"dataset": "diabetes", "val_split": 0.0})
    # Raw target (disease progression 25..346), not rescaled.
    assert 25.0 <= diabetes.y_train.min() and diabetes.y_train.max() <= 346.0


# ---------------------------------------------------------------- synthetic sets


def test_xor_is_the_four_corners_with_xor_labels():
    b = load_dataset({"dataset": "xor", "n_samples": 8, "noise": 0.0, "val_split": 0.0})
    pairs = sorted({(tuple(x.tolist()), int(y)) for x, y in zip(b.x_train, b.y_train)})
    assert pairs == [((0.0, 0.0), 0), ((0.0, 1.0), 1), ((1.0, 0.0), 1), ((1.0, 1.0), 0)]


def test_sine_targets_are_sin_of_x_without_noise():
    b = load_dataset({"dataset": "sine", "noise": 0.0, "n_samples": 100, "val_split": 0.0})
    assert b.x_train.min() >= -np.pi and b.x_train.max() <= np.pi
    np.testing.assert_allclose(b.y_train, np.sin(b.x_train), atol=1e-6)


def test_sequence_labels_depend_on_the_first_three_steps():
    b = load_dataset({"dataset": "sequences", "n_samples": 300, "val_split": 0.0})
    np.testing.assert_array_equal(b.y_train, (b.x_train[:, :3, 0].astype(np.float64).sum(1) > 0))
    assert 0.35 < b.y_train.mean() < 0.65


def test_tokens_are_ids_in_vocab_with_balanced_order_labels():
    b = load_dataset({"dataset": "tokens", "n_samples": 1000, "seq_len": 12, "val_split": 0.0})
    x, y = b.x_train, b.y_train
    assert x.dtype == np.int64 and x.min() >= 0 and x.max() < gd.TOKEN_VOCAB
    first1 = np.argmax(x == 1, axis=1)
    first2 = np.argmax(x == 2, axis=1)
    assert ((x == 1).sum(1) == 1).all() and ((x == 2).sum(1) == 1).all()
    np.testing.assert_array_equal(y, (first1 < first2).astype(np.int64))
    assert 0.45 < y.mean() < 0.55


@pytest.mark.parametrize("name,classes", [("spirals", 4), ("blobs", 6)])
def test_arms_and_blobs_fill_every_class_evenly(name, classes):
    b = load_dataset({"dataset": name, "classes": classes, "n_samples": 120, "val_split": 0.0})
    assert np.bincount(b.y_train, minlength=classes).tolist() == [120 // classes] * classes


def test_token_ids_refuse_preprocessing():
    with pytest.raises(DataError, match="token ids"):
        load_dataset({"dataset": "tokens", "preprocessing": "zscore"})


@pytest.mark.parametrize("params,match", [
    ({"dataset": "digits", "layout": "image", "preprocessing": "pca"}, "flat features"),
    ({"dataset": "iris", "preprocessing": "pca", "pca_components": 5}, "only 4 features"),
    ({"dataset": "xor", "n_samples": 4, "val_split": 0.5, "test_split": 0.5}, "no training rows"),
    ({"dataset": "nope"}, "unknown data set"),
])
def test_impossible_requests_raise_data_error(params, match):
    with pytest.raises(DataError, match=match):
        load_dataset(params)


# ---------------------------------------------------------------- determinism and split


def arrays(b: DataBundle) -> list[np.ndarray]:
    return [b.x_train, b.y_train, b.x_val, b.y_val, b.x_test, b.y_test]


@pytest.mark.parametrize("name", ["moons", "spirals", "tokens", "wine"])
def test_same_params_give_identical_arrays(name):
    params = {"dataset": name, "test_split": 0.1, "preprocessing": "none" if name == "tokens" else "zscore"}
    first, second = load_dataset(params), load_dataset(dict(params))
    for a, b in zip(arrays(first), arrays(second)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert first.preprocessing == second.preprocessing


def test_a_different_split_seed_gives_a_different_split():
    a = load_dataset({"dataset": "iris", "split_seed": 0})
    b = load_dataset({"dataset": "iris", "split_seed": 1})
    assert a.x_train.shape == b.x_train.shape
    assert not np.array_equal(a.x_val, b.x_val)
    # The same 150 samples either way: only the split differs for a fixed data set.
    rows = lambda bundle: sorted(map(tuple, np.concatenate([bundle.x_train, bundle.x_val]).tolist()))  # noqa: E731
    assert rows(a) == rows(b)


def test_synthetic_data_follows_split_seed():
    a = load_dataset({"dataset": "moons", "split_seed": 3})
    b = load_dataset({"dataset": "moons", "split_seed": 4})
    assert not np.array_equal(a.x_train, b.x_train)


@pytest.mark.parametrize("n,val,test", [(10, 0.2, 0.0), (150, 0.2, 0.1), (7, 0.0, 0.5), (4, 0.25, 0.25), (1, 0.0, 0.0)])
def test_split_indices_partition_the_rows(n, val, test):
    train, v, t = datagen.split_indices(n, val, test, 5)
    assert len(t) == round(n * test) and len(v) == round(n * val) and len(train) == n - len(t) - len(v)
    assert sorted(np.concatenate([train, v, t]).tolist()) == list(range(n))
    perm = np.random.default_rng(6).permutation(n)  # seed + 1
    np.testing.assert_array_equal(np.concatenate([t, v, train]), perm)


def test_split_indices_refuses_an_empty_training_split():
    with pytest.raises(ValueError, match="no training rows"):
        datagen.split_indices(10, 0.5, 0.5, 0)


# ---------------------------------------------------------------- preprocessing


def shifted_data(n_train: int = 60, n_val: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training rows around mean 0, validation rows around mean 100 (very different)."""
    rng = np.random.default_rng(seed)
    train = rng.normal(0.0, [1.0, 3.0, 0.5], size=(n_train, 3))
    val = rng.normal(100.0, 2.0, size=(n_val, 3))
    return train.astype(np.float32), val.astype(np.float32)


@pytest.mark.parametrize("kind", ["center", "zscore", "minmax", "pca", "whiten"])
def test_statistics_come_from_the_training_split_only(kind):
    train, val = shifted_data()
    stats = datagen.fit_preprocessing(kind, train, 0, 1e-5)
    mean = train.astype(np.float64).mean(0)
    if kind == "minmax":
        np.testing.assert_allclose(stats["min"], train.min(0))
        np.testing.assert_allclose(stats["range"], train.max(0) - train.min(0), rtol=1e-6)
    else:
        np.testing.assert_allclose(stats["mean"], mean)
        assert abs(stats["mean"][0]) < 1.0  # nowhere near the validation mean of 100
    if kind == "zscore":
        np.testing.assert_allclose(stats["std"], train.astype(np.float64).std(0))
    # The validation rows moved away from the training statistics stay moved: no refit.
    out_val = datagen.apply_preprocessing(stats, val)
    assert np.abs(out_val.mean(0)).max() > 1.0
    out_train = datagen.apply_preprocessing(stats, train)
    if kind in ("center", "zscore", "pca", "whiten"):
        np.testing.assert_allclose(out_train.mean(0), 0.0, atol=1e-5)
    # Other validation rows do not change the statistics.
    _, other_val = shifted_data(seed=1)
    assert datagen.fit_preprocessing(kind, train, 0, 1e-5) == stats
    assert not np.array_equal(other_val, val)


def test_load_dataset_fits_on_train_rows_and_ignores_val_rows(tmp_path):
    """End to end through a CSV: the fitted mean is the training rows' mean, and changing only
    the validation rows leaves the statistics and training features unchanged."""
    n = 50
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, size=(n, 2))
    y = rng.integers(0, 2, n)
    params = {"dataset": "csv", "path": "d.csv", "preprocessing": "zscore", "val_split": 0.4}
    train, val, _ = datagen.split_indices(n, 0.4, 0.0, 0)

    def write(values):
        lines = ["a,b,label"] + [f"{float(r[0])!r},{float(r[1])!r},{int(t)}" for r, t in zip(values, y)]
        (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")

    write(x)
    first = load_dataset(params, str(tmp_path))
    x32 = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(first.preprocessing["mean"], x32[train].mean(0))
    np.testing.assert_allclose(first.preprocessing["std"], x32[train].std(0))
    assert not np.allclose(first.preprocessing["mean"], x32.mean(0))
    x2 = x.copy()
    x2[val] += 1000.0  # only validation rows change
    write(x2)
    second = load_dataset(params, str(tmp_path))
    assert second.preprocessing == first.preprocessing
    np.testing.assert_array_equal(second.x_train, first.x_train)
    assert second.x_val.mean() > 100.0  # scaled by training statistics, not re-centred


def test_zscore_and_minmax_never_divide_by_zero_on_constant_features():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]], np.float32)
    for kind in ("zscore", "minmax", "whiten"):
        stats = datagen.fit_preprocessing(kind, x, 0, 1e-5)
        out = datagen.apply_preprocessing(stats, x)
        assert np.isfinite(out).all()
    z = datagen.apply_preprocessing(datagen.fit_preprocessing("zscore", x), x)
    np.testing.assert_array_equal(z[:, 1], 0.0)
    m = datagen.apply_preprocessing(datagen.fit_preprocessing("minmax", x), x)
    np.testing.assert_allclose(m[:, 0], [0.0, 0.5, 1.0])


def test_minmax_maps_training_features_onto_the_unit_interval():
    b = load_dataset({"dataset": "wine", "preprocessing": "minmax"})
    assert b.x_train.min(0).tolist() == [0.0] * 13
    np.testing.assert_allclose(b.x_train.max(0), 1.0, rtol=1e-6)


def test_image_statistics_are_per_pixel():
    b = load_dataset({"dataset": "digits", "layout": "image", "preprocessing": "center"})
    assert len(b.preprocessing["mean"]) == 64
    np.testing.assert_allclose(b.x_train.mean(0), 0.0, atol=1e-4)


def correlated(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    mix = np.array([[2.0, 0.5, 0.0, 0.1], [0.0, 1.0, 0.9, 0.0], [0.3, 0.0, 0.2, 1.5], [1.0, 1.0, 1.0, 1.0]])
    return (z @ mix + 5.0).astype(np.float32)


def test_pca_decorrelates_training_features_largest_variance_first():
    x = correlated()
    stats = datagen.fit_preprocessing("pca", x, 0, 1e-5)
    out = datagen.apply_preprocessing(stats, x).astype(np.float64)
    cov = np.cov(out.T, bias=True)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-4)
    variances = np.diag(cov)
    assert (np.diff(variances) <= 1e-6).all()
    np.testing.assert_allclose(variances, stats["variance"], rtol=1e-4)
    # A rotation keeps the total variance.
    np.testing.assert_allclose(variances.sum(), x.astype(np.float64).var(0).sum(), rtol=1e-4)


def test_whitening_gives_identity_covariance_and_keeps_components():
    x = correlated()
    stats = datagen.fit_preprocessing("whiten", x, 3, 1e-8)
    out = datagen.apply_preprocessing(stats, x).astype(np.float64)
    assert out.shape == (len(x), 3)
    np.testing.assert_allclose(np.cov(out.T, bias=True), np.eye(3), atol=1e-4)


def test_whitening_eps_bounds_tiny_components():
    x = correlated()
    x[:, 3] = x[:, 0] * 2.0  # a direction with (almost) zero variance
    stats = datagen.fit_preprocessing("whiten", x, 0, 1e-2)
    out = datagen.apply_preprocessing(stats, x)
    assert np.isfinite(out).all() and np.abs(out[:, -1]).max() < 1.0


def test_pca_axes_have_deterministic_signs():
    stats = datagen.fit_preprocessing("pca", correlated(), 0, 1e-5)
    for axis in np.asarray(stats["components"]):
        assert axis[np.argmax(np.abs(axis))] > 0


def test_statistics_are_plain_python_data():
    import json

    b = load_dataset({"dataset": "iris", "preprocessing": "whiten"})
    assert json.loads(json.dumps(b.preprocessing)) == b.preprocessing


# ---------------------------------------------------------------- exportability


def test_datagen_imports_only_numpy_and_the_standard_library():
    tree = ast.parse(inspect.getsource(datagen))
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add((node.module or "").split(".")[0])
    assert top <= {"__future__", "csv", "io", "math", "os", "zipfile", "numpy"}, top
    code = "import runtime.datagen, sys; print(sorted(m for m in ('torch', 'sklearn', 'graph') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def exported_namespace() -> dict:
    """Every datagen function and constant copied by source into a namespace holding only the
    standard-library modules and numpy, as an exported script would."""
    import csv
    import io
    import math
    import os
    import zipfile

    ns: dict = {"np": np, "csv": csv, "io": io, "math": math, "os": os, "zipfile": zipfile}
    for name, value in vars(datagen).items():
        if inspect.isfunction(value) and value.__module__ == datagen.__name__:
            exec(compile(inspect.getsource(value), "<export>", "exec"), ns)
        elif name.isupper():
            ns[name] = value
    return ns


def test_datagen_functions_reproduce_the_app_when_copied_by_source():
    ns = exported_namespace()
    params = {"dataset": "spirals", "classes": 4, "n_samples": 200, "noise": 0.2, "split_seed": 11,
              "val_split": 0.25, "test_split": 0.1, "preprocessing": "whiten", "pca_components": 0,
              "whiten_eps": 1e-5}
    bundle = load_dataset(params)
    rng = np.random.default_rng(params["split_seed"])
    x, y = ns["make_spirals"](params["n_samples"], params["classes"], params["noise"], rng)
    train, val, test = ns["split_indices"](len(x), params["val_split"], params["test_split"], params["split_seed"])
    stats = ns["fit_preprocessing"](params["preprocessing"], x[train], params["pca_components"], params["whiten_eps"])
    assert stats == bundle.preprocessing
    np.testing.assert_array_equal(ns["apply_preprocessing"](stats, x[train]), bundle.x_train)
    np.testing.assert_array_equal(ns["apply_preprocessing"](stats, x[test]), bundle.x_test)
    np.testing.assert_array_equal(y[val], bundle.y_val)


def test_copied_file_readers_match_the_app(tmp_path):
    ns = exported_namespace()
    (tmp_path / "d.csv").write_text("a,b,kind\n1,2,x\n3,4,y\n5,6,x\n")
    np.savez(tmp_path / "d.npz", x=np.arange(6.0).reshape(3, 2), y=np.array([4, 2, 4]))
    for name, args in (("csv", ("", "auto")), ("npz", ("auto",))):
        reader = ns["read_csv"] if name == "csv" else ns["read_npz"]
        x, y, class_names = reader(str(tmp_path / f"d.{name}"), *args)
        b = load_dataset({"dataset": name, "path": f"d.{name}", "val_split": 0.0}, str(tmp_path))
        train, _, _ = ns["split_indices"](len(x), 0.0, 0.0, 0)
        np.testing.assert_array_equal(x[train], b.x_train)
        np.testing.assert_array_equal(y[train], b.y_train)
        assert class_names == b.class_names


@pytest.mark.parametrize("name", sorted(datagen.GENERATORS))
def test_generator_args_name_dataset_params(name):
    params = graph.catalogue.get("Dataset").defaults()
    args = [params[a] for a in datagen.GENERATOR_ARGS[name]]
    x, y = datagen.GENERATORS[name](*args, np.random.default_rng(0))
    assert len(x) == len(y) == params["n_samples"]
    sig = inspect.signature(datagen.GENERATORS[name])
    assert list(sig.parameters)[len(args)] == "rng"


@pytest.mark.parametrize("values", [["a", "b"], [1.0, 2.0], [0.5, 1.0], [float(i) for i in range(21)],
                                    [float(i) for i in range(20)], [3.0, 3.0, -1.0]])
@pytest.mark.parametrize("task", ["auto", "classification", "regression"])
def test_task_rule_agrees_with_graph(values, task):
    text = [v if isinstance(v, str) else repr(v) for v in values]
    numeric = not any(isinstance(v, str) for v in values)
    assert datagen.resolve_task(task, values) == gd.target_task(task, numeric, text)


def test_npz_key_names_agree_with_graph():
    assert datagen.NPZ_FEATURE_KEYS == gd.NPZ_FEATURE_KEYS
    assert datagen.NPZ_TARGET_KEYS == gd.NPZ_TARGET_KEYS
    assert datagen.MAX_ROWS == gd.MAX_DESCRIBE_ROWS
