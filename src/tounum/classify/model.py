"""The classification head on pooled backbone features, in Keras, and its plain-NumPy twin.

    pooled (1280) -> standardise -> dropout -> [dense ReLU -> dropout] -> dense -> 5 logits

Loss: softmax cross-entropy; optimiser: Adam; regularisation: dropout, L2 weight decay on the
kernels, early stopping on a held-out part of train. The trained weights are exported as NumPy
arrays (:class:`LinearStack`) so that inference needs no Keras and runs in microseconds; a
scikit-learn logistic regression exports to the same form, which lets the two be compared and
either one shipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tounum.classify.data import CLASSES
from tounum.config import ClassifyConfig


@dataclass
class LinearStack:
    """``logits = layers(standardise(x))``: dense layers with ReLU between them, as NumPy arrays."""

    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray] = field(default_factory=list)
    biases: list[np.ndarray] = field(default_factory=list)

    @property
    def width(self) -> int:
        """Values in one input vector."""
        return self.mean.shape[0]

    def logits(self, pooled: np.ndarray) -> np.ndarray:
        x = (np.asarray(pooled, np.float32) - self.mean) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = x @ w + b
            if i < len(self.weights) - 1:
                x = np.maximum(x, 0.0)
        return x

    def save(self, path) -> None:
        arrays = {"mean": self.mean, "scale": self.scale}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"w{i}"], arrays[f"b{i}"] = w.astype(np.float32), b.astype(np.float32)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path) -> LinearStack:
        with np.load(path) as f:
            n = sum(1 for k in f.files if k.startswith("w"))
            return cls(f["mean"], f["scale"], [f[f"w{i}"] for i in range(n)], [f[f"b{i}"] for i in range(n)])


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale (std, floored) of training features."""
    return x.mean(axis=0).astype(np.float32), np.maximum(x.std(axis=0), 1e-3).astype(np.float32)


def build_head(n_features: int, config: ClassifyConfig, mean: np.ndarray, scale: np.ndarray):
    """The Keras head; standardisation is a fixed layer so the model takes raw pooled features."""
    import keras
    from keras import layers

    l2 = keras.regularizers.L2(config.weight_decay) if config.weight_decay else None
    inputs = keras.Input((n_features,), name="pooled")
    x = layers.Normalization(mean=mean, variance=scale**2, name="standardise")(inputs)
    x = layers.Dropout(config.dropout, name="dropout_in")(x)
    if config.hidden:
        x = layers.Dense(config.hidden, activation="relu", kernel_regularizer=l2, name="hidden")(x)
        x = layers.Dropout(config.dropout, name="dropout_hidden")(x)
    outputs = layers.Dense(len(CLASSES), kernel_regularizer=l2, name="logits")(x)
    return keras.Model(inputs, outputs, name="doctype_head")


def train_head(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
               config: ClassifyConfig | None = None, verbose: int = 0) -> tuple[Any, dict[str, list[float]]]:
    """Fit the head on pooled features ``x`` (N, D) with class indices ``y``.

    Parameters
    ----------
    x, y : training features and labels
    x_val, y_val : held-out part of train: validation curves and early stopping
    config : ClassifyConfig
        ``hidden``, ``dropout``, ``weight_decay``, ``learning_rate``, ``epochs``, ``batch_size``,
        ``patience`` (0: no early stopping), ``seed``.
    verbose : int
        Keras verbosity.

    Returns
    -------
    (model, history): the Keras model (best held-out loss restored when early stopping) and the
    per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.

    Example
    -------
    >>> model, history = train_head(x, y, x_val, y_val, ClassifyConfig(epochs=20))  # doctest: +SKIP
    """
    import keras

    config = config or ClassifyConfig()
    keras.utils.set_random_seed(config.seed)
    mean, scale = standardiser(x)
    model = build_head(x.shape[1], config, mean, scale)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True)] \
        if config.patience else []
    history = model.fit(x, y, validation_data=(x_val, y_val), epochs=config.epochs,
                        batch_size=config.batch_size, callbacks=callbacks, verbose=verbose, shuffle=True,
                        class_weight=class_weights(y) if config.balanced else None)
    return model, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def export_head(model) -> LinearStack:
    """The NumPy form of a trained Keras head (dropout is the identity at inference)."""
    norm = model.get_layer("standardise")
    mean = np.asarray(norm.mean).reshape(-1).astype(np.float32)
    scale = np.sqrt(np.asarray(norm.variance).reshape(-1)).astype(np.float32)
    dense = [layer for layer in model.layers if layer.name in ("hidden", "logits")]
    return LinearStack(mean, scale, [np.asarray(d.kernel) for d in dense], [np.asarray(d.bias) for d in dense])


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Per-class loss weights that make every class present in ``y`` count alike (mean weight 1).

    Example
    -------
    >>> class_weights(np.array([0, 0, 0, 1]))
    {0: 0.6666666666666666, 1: 2.0}
    """
    classes, counts = np.unique(y, return_counts=True)
    return {int(k): float(len(y) / (len(classes) * n)) for k, n in zip(classes, counts)}


def train_logistic(x: np.ndarray, y: np.ndarray, c: float = 0.1, seed: int = 0,
                   balanced: bool = False) -> LinearStack:
    """Multinomial logistic regression (scikit-learn, L2 strength ``1/c``) on standardised features.

    ``balanced`` weights the classes by :func:`class_weights`.

    Example
    -------
    >>> rng = np.random.default_rng(0); y = np.arange(50) % 5
    >>> x = rng.normal(size=(50, 8)) + np.eye(5, 8)[y] * 4
    >>> (train_logistic(x, y).logits(x).argmax(1) == y).mean() > 0.9
    np.True_
    """
    from sklearn.linear_model import LogisticRegression

    mean, scale = standardiser(x)
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed,
                             class_weight=class_weights(y) if balanced else None).fit((x - mean) / scale, y)
    w = np.zeros((x.shape[1], len(CLASSES)), np.float32)
    b = np.zeros(len(CLASSES), np.float32)
    if len(clf.classes_) == 2:  # scikit-learn keeps one row for two classes: the second's logit over the first's
        w[:, clf.classes_[1]], b[clf.classes_[1]] = clf.coef_[0], clf.intercept_[0]
    else:
        w[:, clf.classes_] = clf.coef_.T
        b[clf.classes_] = clf.intercept_
    missing = np.setdiff1d(np.arange(len(CLASSES)), clf.classes_)
    b[missing] = -1e4  # a class absent from training is never predicted
    return LinearStack(mean, scale, [w], [b])
