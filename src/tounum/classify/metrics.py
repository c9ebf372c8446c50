"""Scores of a classifier: five-class accuracy and macro-F1, photo-vs-rest, calibration error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from tounum.classify.data import CLASSES


def five_class(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix over :data:`CLASSES`.

    Parameters
    ----------
    y_true, y_pred : sequences of class names

    Returns
    -------
    dict with ``accuracy``, ``macro_f1`` (None when empty), ``per_class`` ({class: {precision,
    recall, f1, support}}) and ``confusion`` ({"labels": CLASSES, "matrix": rows = true class}).

    Example
    -------
    >>> five_class(["photo", "text"], ["photo", "sketch"])["accuracy"]
    0.5
    """
    y_true, y_pred = list(y_true), list(y_pred)
    matrix = confusion_matrix(y_true, y_pred, labels=list(CLASSES)) if y_true else np.zeros((5, 5), int)
    result: dict[str, Any] = {"accuracy": None, "macro_f1": None, "per_class": {},
                              "confusion": {"labels": list(CLASSES), "matrix": matrix.tolist()}}
    if not y_true:
        return result
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(CLASSES), zero_division=0)
    present = s > 0  # macro over the classes the data has, so a partial tree is not punished for absent ones
    result["accuracy"] = float(np.mean(np.array(y_true) == np.array(y_pred)))
    result["macro_f1"] = float(np.mean(f[present]))
    result["per_class"] = {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                               "support": int(s[i])} for i, c in enumerate(CLASSES)}
    return result


def binary(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float | None]:
    """Accuracy, precision, recall and F1 of a yes/no decision (photo vs rest).

    Example
    -------
    >>> binary([True, False, False], [True, True, False])["precision"]
    0.5
    """
    t, p = np.asarray(truth, bool), np.asarray(predicted, bool)
    if t.size == 0:
        return {"accuracy": None, "precision": None, "recall": None, "f1": None}
    tp, fp, fn = int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float(np.mean(t == p)), "precision": precision, "recall": recall, "f1": f1}


def report(labels: Sequence[str | None], doc_type: Sequence[str], is_photo: Sequence[bool]) -> dict[str, Any]:
    """The ``tounum evaluate classifier`` object.

    Parameters
    ----------
    labels : sequence of str or None
        True class per image; None for an image in a folder that is none of the classes
        (it is scored in photo-vs-rest as not-photo, and left out of the five-class scores).
    doc_type : sequence of str
        Predicted class per image.
    is_photo : sequence of bool
        Predicted photo decision per image.

    Returns
    -------
    dict with ``n_images``, ``accuracy``, ``macro_f1``, ``photo_vs_rest``, ``per_class``, ``confusion``.

    Example
    -------
    >>> sorted(report(["photo", None], ["photo", "text"], [True, False]))
    ['accuracy', 'confusion', 'macro_f1', 'n_images', 'per_class', 'photo_vs_rest']
    """
    known = [i for i, label in enumerate(labels) if label is not None]
    scores = five_class([labels[i] for i in known], [doc_type[i] for i in known])
    return {"n_images": len(labels), "accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"],
            "photo_vs_rest": binary([label == "photo" for label in labels], is_photo),
            "per_class": scores["per_class"], "confusion": scores["confusion"]}


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Top-label expected calibration error: mean |accuracy - confidence| over confidence bins.

    Parameters
    ----------
    probs : (N, K) float
    y : (N,) int
        True class indices.

    Example
    -------
    >>> round(expected_calibration_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1])), 2)
    0.4
    """
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    correct = (predicted == y).astype(float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)
