"""Loss node types. Each declares its ``family`` (what its target must be: class indices,
0/1 labels, real values) and, for the binary ones, the ``threshold`` above which a prediction
is the positive class: the analysis checks targets by family, the runtime adapts targets,
counts correct predictions and picks classes from these two facts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..errors import ClassCountHint, ShapeError
from ..params import Choice, Float
from ..tensors import LOSS, TensorInfo, format_shape
from .core import Family, Inputs, LintRule, NodeType, Port, RuleContext, ShapeRule, register
from .findings import Bridge, Finding, Fix, InsertBefore, LintView, Replace

LOSS_INPUTS = (Port("prediction", doc="The network's output."), Port("target", doc="The Dataset's target."))
LOSS_OUTPUTS = (Port("loss", kind="loss", doc="The scalar to minimise: wire it to an optimizer."),)


def _mismatch(name: str, pred: TensorInfo, tgt: TensorInfo) -> ShapeError:
    return ShapeError(f"{name} needs the prediction ({format_shape(pred.shape)}) to match the target "
                      f"({format_shape(tgt.shape)})")


def _class_targets(name: str, pred: TensorInfo, tgt: TensorInfo) -> None:
    if tgt.task not in ("classification", None) or (tgt.task is None and tgt.dtype != "int64"):
        raise ShapeError(f"{name} needs class labels; the target holds real values (use MSELoss for regression)")
    if len(pred.shape) != 1:
        raise ShapeError(f"{name} needs one score per class (a vector); the prediction is {format_shape(pred.shape)}")
    if tgt.classes is not None and pred.shape[0] != tgt.classes:
        raise ShapeError(f"the prediction has {pred.shape[0]} scores per sample but the data has "
                         f"{tgt.classes} classes", ClassCountHint(tgt.classes))


def _binary_targets(name: str, pred: TensorInfo, tgt: TensorInfo) -> None:
    if tgt.task != "classification":
        if pred.shape != tgt.shape:
            raise _mismatch(name, pred, tgt)
        return
    if tgt.classes is not None and tgt.classes != 2:
        raise ShapeError(f"{name} is for two classes; the data has {tgt.classes} "
                         "(use CrossEntropyLoss for several classes)")
    if pred.shape != (1,):
        raise ShapeError(f"{name} on two classes needs one output per sample; the prediction is "
                         f"{format_shape(pred.shape)}", ClassCountHint(1))


def _regress_targets(name: str, pred: TensorInfo, tgt: TensorInfo) -> None:
    if tgt.task != "classification":
        if pred.shape != tgt.shape:
            raise _mismatch(name, pred, tgt)
        return
    if pred.shape != (tgt.classes,):
        raise ShapeError(f"{name} on class labels compares against one-hot vectors of {tgt.classes}; the "
                         f"prediction is {format_shape(pred.shape)}", ClassCountHint(tgt.classes) if tgt.classes else None)


TARGET_CHECKS: dict[Family, Callable[[str, TensorInfo, TensorInfo], None]] = {
    "class": _class_targets, "binary": _binary_targets, "regress": _regress_targets,
}


def _loss_rule(family: Family, name: str) -> ShapeRule:
    def rule(p: dict, ins: Inputs, ctx: RuleContext) -> dict:
        pred, tgt = ins["prediction"], ins["target"]
        if pred.dtype == "int64":
            raise ShapeError(f"{name} needs real-valued predictions; got integer ids")
        TARGET_CHECKS[family](name, pred, tgt)
        return {"loss": LOSS}
    return rule


# ---------------------------------------------------------------- what each loss expects before it


def _lint_cross_entropy(view: LintView, nid: str) -> Iterator[Finding]:
    src = view.source(nid, "prediction")
    st = view.type_id(src)
    if src and st in ("Softmax", "LogSoftmax"):
        yield Finding("warning", "double-softmax",
                      f"CrossEntropyLoss applies softmax itself; the {st} before it applies it twice "
                      "(gradients shrink and training slows): feed it raw scores", nid,
                      Fix(f"Remove the {st} before the loss", (Bridge(src, into=nid),)))


def _lint_nll(view: LintView, nid: str) -> Iterator[Finding]:
    src = view.source(nid, "prediction")
    st = view.type_id(src)
    if src and st == "Softmax":
        yield Finding("warning", "nll-softmax", "NLLLoss expects log-probabilities but Softmax gives probabilities", nid,
                      Fix("Replace Softmax with LogSoftmax", (Replace(src, "LogSoftmax"),)))
    elif src and st != "LogSoftmax":
        yield Finding("warning", "nll-no-logsoftmax", "NLLLoss expects log-probabilities: put a LogSoftmax before it", nid,
                      Fix("Insert LogSoftmax before the loss", (InsertBefore(nid, "prediction", "LogSoftmax"),)))


def _lint_bce(view: LintView, nid: str) -> Iterator[Finding]:
    src = view.source(nid, "prediction")
    if src and view.type_id(src) != "Sigmoid":
        yield Finding("warning", "bce-no-sigmoid",
                      "BCELoss expects probabilities in (0, 1) but its input is not a Sigmoid; "
                      "BCEWithLogitsLoss takes raw scores and is numerically stable", nid,
                      Fix("Replace BCELoss with BCEWithLogitsLoss", (Replace(nid, "BCEWithLogitsLoss"),)))


def _lint_bce_logits(view: LintView, nid: str) -> Iterator[Finding]:
    src = view.source(nid, "prediction")
    if src and view.type_id(src) == "Sigmoid":
        yield Finding("warning", "double-sigmoid", "BCEWithLogitsLoss applies a sigmoid itself; the Sigmoid before it applies it twice", nid,
                      Fix("Remove the Sigmoid before the loss", (Bridge(src, into=nid),)))


def _loss(type_id: str, family: Family, doc: str, params: tuple = (), kwargs=None, *,
          threshold: float | None = None, lint: LintRule | None = None) -> None:
    register(NodeType(type_id, type_id, "loss", doc, LOSS_INPUTS, LOSS_OUTPUTS, params,
                      _loss_rule(family, type_id), torch=f"loss.{type_id}", kwargs=kwargs or (lambda p, ins: {}),
                      family=family, threshold=threshold, lint=lint))


_loss("MSELoss", "regress", "Mean squared error; for regression (class labels become one-hot vectors).")
_loss("L1Loss", "regress", "Mean absolute error; robust to outliers.")
_loss("SmoothL1Loss", "regress", "Huber-like: squared near 0, absolute beyond beta.",
      (Float("beta", 1.0, "Where the loss turns from squared to absolute.", 1e-6, 1e6),), lambda p, ins: {"beta": p["beta"]})
_loss("CrossEntropyLoss", "class", "Softmax + negative log-likelihood in one stable step: feed it raw scores (logits).",
      (Float("label_smoothing", 0.0, "Share of probability spread over the other classes.", 0.0, 0.99),),
      lambda p, ins: {"label_smoothing": p["label_smoothing"]}, lint=_lint_cross_entropy)
_loss("NLLLoss", "class", "Negative log-likelihood of log-probabilities: put a LogSoftmax before it.", lint=_lint_nll)
_loss("BCELoss", "binary", "Binary cross-entropy of probabilities in (0, 1): put a Sigmoid before it.",
      threshold=0.5, lint=_lint_bce)  # probabilities: the positive class above 0.5
_loss("BCEWithLogitsLoss", "binary", "Sigmoid + binary cross-entropy in one stable step: feed it raw scores.",
      threshold=0.0, lint=_lint_bce_logits)  # raw scores: sigmoid(0) = 0.5
_loss("MultiMarginLoss", "class", "Multiclass hinge loss (Weston-Watkins SVM): each wrong class must score margin below the right one.",
      (Float("margin", 1.0, "Required gap between the right class and the others.", 0.0, 1e6),
       Choice("power", "1", ("1", "2"), "1: hinge; 2: squared hinge.")),
      lambda p, ins: {"margin": p["margin"], "p": int(p["power"])})
