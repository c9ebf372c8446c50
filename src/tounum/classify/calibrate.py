"""Decisions on top of the logits: temperature scaling and the ``is_photo`` threshold."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true classes under ``softmax(logits / temperature)``.

    Example
    -------
    >>> round(nll(np.array([[0.0, 0.0]]), np.array([0])), 3)
    0.693
    """
    return float(-np.mean(log_softmax(logits / temperature, axis=1)[np.arange(len(y)), y]))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T > 0 minimising the NLL of ``softmax(logits / T)`` (Guo et al., 2017).

    Parameters
    ----------
    logits : (N, K) float
        Uncalibrated scores of held-out examples (not the ones the head was fitted on).
    y : (N,) int
        True class indices.

    Returns
    -------
    float
        T; dividing logits by it keeps every argmax and only changes confidence.

    Example
    -------
    >>> logits = np.array([[8.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 0.0]])
    >>> fit_temperature(logits, np.array([0, 1, 1, 0])) > 1  # over-confident: soften
    True
    """
    result = minimize_scalar(lambda log_t: nll(logits, y, float(np.exp(log_t))),
                             bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def calibrated_probs(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` as float32.

    Example
    -------
    >>> calibrated_probs(np.array([[1.0, 1.0]]), 2.0).tolist()
    [[0.5, 0.5]]
    """
    return softmax(logits / temperature, axis=1).astype(np.float32)


def photo_threshold(scores: np.ndarray, is_photo: np.ndarray, min_recall: float = 0.99) -> float:
    """The decision threshold on photo probability with recall >= ``min_recall`` at the best precision.

    Among the cut-offs that keep at least ``min_recall`` of the photos, the one with the highest
    precision (ties: the highest recall); the threshold is placed half-way to the next lower score,
    so that it does not sit exactly on a dev example.

    Parameters
    ----------
    scores : (N,) float
        Photo probability per image.
    is_photo : (N,) bool
        Truth.
    min_recall : float

    Returns
    -------
    float
        Predict photo when ``score >= threshold``.

    Example
    -------
    >>> photo_threshold(np.array([0.9, 0.8, 0.3, 0.2]), np.array([True, True, False, False]), 0.99)
    0.55
    """
    scores, is_photo = np.asarray(scores, float), np.asarray(is_photo, bool)
    if not is_photo.any():
        raise ValueError("photo_threshold: no photos among the examples")
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], is_photo[order]
    tp, fp = np.cumsum(t), np.cumsum(~t)
    recall, precision = tp / t.sum(), tp / (tp + fp)
    last = np.r_[s[1:] != s[:-1], True]  # a cut-off takes every example with the same score
    ok = np.flatnonzero(last & (recall >= min_recall - 1e-12))
    best = ok[np.lexsort((-recall[ok], -precision[ok]))[0]]
    below = s[best + 1] if best + 1 < len(s) else 0.0
    return float((s[best] + below) / 2)
