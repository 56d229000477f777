"""The Dataset node: where samples come from (``runtime.data`` loads it; ``graph.datasets``
describes it without loading)."""

from __future__ import annotations

from .. import datasets
from ..errors import DatasetError, ShapeError
from ..params import Bool, Choice, Float, Int, Str
from ..tensors import TensorInfo, format_shape
from .core import Inputs, NodeType, Port, RuleContext, register

DATASET_PARAMS = (
    Choice("dataset", "xor", datasets.DATASET_CHOICES,
           "Which data: a built-in set (ships with the install), or your own csv/npz file."),
    Str("path", "", "CSV or .npz file, relative to the graph file's folder (csv/npz only).", max_len=1024),
    Str("target_column", "", "CSV column holding the target (empty = the last column).", max_len=256),
    Choice("task", "auto", ("auto", "classification", "regression"),
           "csv/npz: treat the target as class labels or as numbers (auto: text or few integers = classes)."),
    Choice("layout", "flat", ("flat", "image"), "digits: 64 flat features, or 1×8×8 images for convolutions."),
    Int("n_samples", 400, "Number of samples generated (synthetic sets only; XOR repeats its 4 corners).", 4, 1_000_000),
    Float("noise", 0.1, "Noise added to synthetic sets.", 0.0, 10.0),
    Int("classes", 3, "Number of classes (spirals, blobs).", 2, 20),
    Int("seq_len", 20, "Sequence length (sequences, tokens).", 2, 1000),
    Float("val_split", 0.2, "Share of samples held out for validation (0 = none).", 0.0, 0.9),
    Float("test_split", 0.0, "Share of samples held out for a final test (0 = none).", 0.0, 0.9),
    Int("split_seed", 0, "Seed of the data generation and of the split, so runs with other seeds see the same data.", 0, 2**31 - 1),
    Choice("preprocessing", "none", ("none", "center", "zscore", "minmax", "pca", "whiten"),
           "Fitted on the training split only, then applied to validation and test: mean subtraction, "
           "z-score, min-max scaling to [0, 1], PCA rotation, PCA whitening."),
    Int("pca_components", 0, "pca/whiten: components kept (0 = all).", 0, 100_000),
    Float("whiten_eps", 1e-5, "whiten: added to each variance before dividing (keeps tiny components from exploding).", 1e-12, 1.0),
    Int("batch_size", 32, "Mini-batch size (0 = the whole training split: full-batch gradient descent; 1 = pure SGD).", 0, 1_000_000),
    Bool("shuffle", True, "Shuffle the training split every epoch (seeded)."),
)


def _dataset_rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
    try:
        features, target = datasets.describe(p, ctx.base_dir)
    except DatasetError as exc:
        raise ShapeError(str(exc)) from None
    prep = p["preprocessing"]
    if prep != "none" and features.dtype == "int64":
        raise ShapeError(f"preprocessing '{prep}' needs real-valued features; this data set has token ids")
    if prep in ("pca", "whiten"):
        if len(features.shape) != 1:
            raise ShapeError(f"preprocessing '{prep}' needs flat features; got {format_shape(features.shape)} (set layout to flat)")
        k = p["pca_components"]
        if k > features.shape[0]:
            raise ShapeError(f"pca_components is {k} but the data has only {features.shape[0]} features")
        if k:
            features = TensorInfo((k,), features.dtype)
    return {"features": features, "target": target}


register(NodeType(
    "Dataset", "Dataset", "data",
    "Where samples come from: a built-in set or your file, its split, preprocessing and batch size.",
    (), (Port("features", doc="Input samples."), Port("target", doc="What the network should predict.")),
    DATASET_PARAMS, _dataset_rule, torch="data", key_params=("dataset", "batch_size", "preprocessing"),
))
