"""The client's prototype, for comparison: a 3-convolution CNN trained from scratch on 250x250 images.

Trained on the same train split (and the same held-out part of it for early stopping) as the
shipped head, scored on dev with the same metrics. Run by ``benchmarks/classify_baseline.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from tounum.classify import metrics
from tounum.classify.data import CLASSES

log = logging.getLogger(__name__)


@dataclass
class BaselineConfig:
    input_size: int = 250
    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 3  # early stopping on the held-out part of train
    seed: int = 0


def squash(images: list[np.ndarray], size: int) -> np.ndarray:
    """Resize every image to ``size`` x ``size`` ignoring its aspect ratio, as the prototype did.

    Example
    -------
    >>> squash([np.zeros((10, 20, 3), np.uint8)], 8).shape
    (1, 8, 8, 3)
    """
    return np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images])


def build_baseline(input_size: int = 250, n_classes: int = len(CLASSES)):
    """Three convolution + pooling blocks, a dense layer with dropout, and class logits."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="scale")(inputs)
    x = layers.RandomFlip("horizontal", name="flip")(x)
    for i, filters in enumerate((32, 64, 128), start=1):
        x = layers.Conv2D(filters, 3, activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="hidden")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="client_cnn")


def train_baseline(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                   config: BaselineConfig | None = None):
    """Fit the prototype on uint8 images ``x`` (N, S, S, 3) with class indices ``y``.

    Returns
    -------
    (model, history) where history is Keras' per-epoch dict (loss, accuracy, val_loss, val_accuracy).
    """
    import keras

    config = config or BaselineConfig()
    keras.utils.set_random_seed(config.seed)
    model = build_baseline(config.input_size)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True)
    history = model.fit(x, y, validation_data=(x_val, y_val), epochs=config.epochs,
                        batch_size=config.batch_size, callbacks=[stop], verbose=2)
    return model, history.history


def score(model, x: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Dev report of the prototype; photo is its argmax (it has no calibrated threshold)."""
    predicted = [CLASSES[i] for i in model.predict(x, batch_size=64, verbose=0).argmax(axis=1)]
    return metrics.report(labels, predicted, [p == "photo" for p in predicted])
