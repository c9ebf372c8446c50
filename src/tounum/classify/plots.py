"""Figures for the classification notebook (matplotlib; each function returns a Figure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from tounum.classify.data import CLASSES


def training_curves(history: dict[str, Sequence[float]]) -> Figure:
    """Loss and accuracy per epoch, training vs held-out (validation), best epoch marked.

    Example
    -------
    >>> fig = training_curves({"loss": [1, .5], "val_loss": [1, .6], "accuracy": [.5, .8], "val_accuracy": [.5, .7]})
    """
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    axes = fig.subplots(1, 2)
    epochs = np.arange(1, len(history["loss"]) + 1)
    best = int(np.argmin(history["val_loss"])) + 1
    for ax, key, title in zip(axes, ("loss", "accuracy"), ("cross-entropy loss", "accuracy")):
        ax.plot(epochs, history[key], label="train (augmented views)")
        ax.plot(epochs, history[f"val_{key}"], label="held-out part of train")
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
        ax.set(xlabel="epoch", title=title)
        ax.grid(alpha=0.3)
    axes[0].legend()
    return fig


def confusion_matrix(confusion: dict[str, Any] | np.ndarray, title: str = "dev confusion matrix") -> Figure:
    """Counts with row-normalised colour; rows true class, columns predicted.

    Parameters
    ----------
    confusion : the report's ``confusion`` object (``labels``, ``matrix``) or a (5, 5) array
    """
    if isinstance(confusion, dict):
        labels, matrix = confusion["labels"], np.asarray(confusion["matrix"])
    else:
        labels, matrix = list(CLASSES), np.asarray(confusion)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(4.8, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true", title=title)
    ax.tick_params(axis="x", rotation=45)
    return fig


def error_gallery(errors: pd.DataFrame, images: Sequence[np.ndarray] | None = None, columns: int = 6,
                  max_images: int = 18) -> Figure:
    """Thumbnails of misclassified images with true class, predicted class and its probability.

    Parameters
    ----------
    errors : the table of :func:`tounum.classify.evaluate.errors` (``path``, ``label``, ``doc_type``,
        ``confidence``)
    images : the images, in the table's order; default: read from ``path`` with :mod:`tounum.io`
    """
    rows = errors.head(max_images)
    if images is None:
        from tounum.io import read_image

        images = [read_image(p).pixels for p in rows["path"]]
    n = max(len(rows), 1)
    nrows = int(np.ceil(n / columns))
    fig = Figure(figsize=(2 * columns, 2.3 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, columns)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, image, (_, row) in zip(axes, images, rows.iterrows()):
        ax.imshow(image)
        ax.set_title(f"{row['label']} -> {row['doc_type']}\np={row['confidence']:.2f}", fontsize=8)
    if rows.empty:
        axes[0].text(0.5, 0.5, "no errors", ha="center", va="center")
    return fig


def architecture(layers: Sequence[tuple[str, str, int]] | None = None, hidden: int = 0,
                 n_features: int = 1280, backbone_params: int = 0, n_style: int = 0,
                 backbone_name: str = "efficientnet_lite2", input_size: int = 260, grid: int = 9,
                 tuned: bool = False) -> Figure:
    """A block diagram of backbone + head: one box per layer with its output shape and parameters.

    Parameters
    ----------
    layers : (name, output shape, parameters) per layer; default: described from ``hidden``
    hidden : width of the head's hidden layer (0: none), used when ``layers`` is None
    n_features : pooled feature width
    backbone_params : parameters of the backbone (e.g. ``backbone.model.count_params()``), shown if given
    n_style : width of the style statistics appended to the pooled vector (0: none), e.g.
        ``backbone.style_size``
    backbone_name, input_size, grid : the backbone's name, input side and grid side
        (``backbone.name``, ``backbone.input_size``, ``backbone.grid_shape[0]``)
    tuned : the backbone's ImageNet weights were fine-tuned with the head (else: frozen)
    """
    if layers is None:
        layers = [("image (H, W, 3) uint8", f"resize/pad to {input_size}x{input_size}", 0),
                  (f"{backbone_name} ({'ImageNet, fine-tuned' if tuned else 'frozen, ImageNet'})",
                   f"{grid}x{grid}x{n_features} -> mean -> {n_features}", backbone_params)]
        if n_style:
            layers += [("+ style: channel mean, std of middle layers", f"{n_features} + {n_style}", 0)]
        width = n_features + n_style
        layers += [("standardise (train mean/std)", f"{width}", 0), ("dropout", f"{width}", 0)]
        if hidden:
            layers += [("dense ReLU + L2", f"{hidden}", width * hidden + hidden), ("dropout", f"{hidden}", 0)]
            width = hidden
        layers += [("dense + L2 (logits)", f"{len(CLASSES)}", width * len(CLASSES) + len(CLASSES)),
                   ("softmax(logits / T)", "5 probabilities", 1), ("is_photo: p_photo >= threshold", "bool", 1)]
    fig = Figure(figsize=(6, 0.62 * len(layers) + 0.4), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(0, 10)
    ax.set_ylim(-len(layers), 0.5)
    ax.axis("off")
    for i, (name, shape, params) in enumerate(layers):
        y = -i
        ax.add_patch(FancyBboxPatch((0.3, y - 0.35), 9.4, 0.6, boxstyle="round,pad=0.02",
                                    facecolor="#dde8f5" if i != 1 else "#eeeeee", edgecolor="#4a6fa5"))
        ax.text(0.5, y - 0.05, name, va="center", fontsize=9, weight="bold")
        ax.text(9.5, y - 0.05, f"{shape}   {params:,} params" if params > 1 else shape, va="center",
                ha="right", fontsize=8)
        if i:
            ax.annotate("", (5, y + 0.25), (5, y + 0.65), arrowprops={"arrowstyle": "->"})
    return fig


def regularisation(study: pd.DataFrame) -> Figure:
    """Held-out and dev accuracy, and the train/held-out gap, per regularisation setting."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    axes = fig.subplots(1, 2)
    cols = [c for c in ("train_accuracy", "holdout_accuracy", "dev_accuracy") if c in study]
    study[cols].plot.barh(ax=axes[0])
    axes[0].set(xlim=(max(0.0, float(study[cols].min().min()) - 0.05), 1.0), title="accuracy", ylabel="")
    study["holdout_nll"].plot.barh(ax=axes[1], color="#c55")
    axes[1].set(title="held-out cross-entropy (lower is better)", ylabel="")
    return fig


def reliability(probs: np.ndarray, y: np.ndarray, temperature: float | None = None, n_bins: int = 10) -> Figure:
    """Reliability diagram: accuracy against confidence per bin (the diagonal is perfect calibration).

    ``probs`` are T = 1 probabilities; with ``temperature`` the calibrated ones are drawn too.
    """
    from scipy.special import softmax

    fig = Figure(figsize=(4.2, 4), layout="constrained")
    ax = fig.subplots()
    curves = [("T = 1", probs)]
    if temperature:
        curves.append((f"T = {temperature:.2f}", softmax(np.log(np.clip(probs, 1e-12, 1)) / temperature, axis=1)))
    for label, p in curves:
        conf, correct = p.max(1), (p.argmax(1) == y)
        edges = np.linspace(0, 1, n_bins + 1)
        idx = np.clip(np.digitize(conf, edges) - 1, 0, n_bins - 1)
        xs = [conf[idx == b].mean() for b in range(n_bins) if (idx == b).any()]
        ys = [correct[idx == b].mean() for b in range(n_bins) if (idx == b).any()]
        ax.plot(xs, ys, marker="o", label=label)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="confidence", ylabel="accuracy", title="reliability", xlim=(0, 1), ylim=(0, 1))
    ax.legend()
    return fig
