"""Fine-tuned top of EfficientNet-Lite0: a trainable copy of its last block and head conv, plus the head.

    top (7x7x192, Features.top) ─block15 (expand 1152, depthwise 3x3, project 320)─▶ head conv 1280
        ─mean over the grid─▶ pooled' (1280) ─┬─ style (2384, fixed) ─▶ standardise ─▶ dropout ─▶ dense ─▶ 5 logits

The copy starts from the pretrained weights (batch norm folded, as in the inference backbone), so
that before training ``pooled'`` is the backbone's own pooled vector; the dense layer starts from a
logistic regression on those (the linear head), and fine-tuning moves both. Training reads the
activations cached at the top block's input (``Features.top``), so an epoch costs the top layers
only, and at inference they run on the tensor the backbone pass already computed. The trained
weights are exported as arrays (:class:`TopStack`, saved like the linear head); inference rebuilds
the top layers from them in a small Keras model and runs the head in NumPy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tounum.classify.data import CLASSES
from tounum.classify.model import LinearStack, class_weights
from tounum.config import ClassifyConfig

# The fine-tuned layers, named as in tounum.backbone.efficientnet_lite (weights are copied by name),
# and the one backbone they are written for (the option was measured on it, not shipped).
TOP_CONVS = ("block15_expand", "block15_depthwise", "block15_project", "head")
FINETUNE_BACKBONE = "efficientnet_lite0"

log = logging.getLogger(__name__)


def _top_layers(top):
    """The backbone's layers after ``block14``, on a Keras tensor: block15, the head conv, the mean."""
    from keras import layers

    from tounum.backbone.efficientnet_lite import HEAD_CHANNELS, STAGES, _conv_bn, _mbconv

    _, kernel, stride, expand, out = STAGES[FINETUNE_BACKBONE][-1]
    x = _mbconv(top, "block15", kernel, stride, expand, out, bn=False)
    x = _conv_bn(x, HEAD_CHANNELS, 1, "head", bn=False)
    return layers.GlobalAveragePooling2D(name="pool")(x)


def _set_top_weights(model: Any, convs: dict[str, list[np.ndarray]]) -> None:
    for name in TOP_CONVS:
        model.get_layer(f"{name}_conv").set_weights(convs[name])


def build_top_model(start: TopStack, n_style: int, config: ClassifyConfig) -> Any:
    """The Keras model ``[top, style] -> logits``, initialised from ``start``.

    Parameters
    ----------
    start : TopStack
        The top layers' weights (the backbone's own: :func:`top_convs`) and one dense layer on
        ``[pooled, style]`` (e.g. :func:`tounum.classify.model.train_logistic`), whose
        standardisation becomes a fixed layer and whose weights the dense layer's start.
    n_style : width of the style statistics
    config : ClassifyConfig
        ``dropout`` and ``weight_decay`` (L2 on the dense kernel).

    Example
    -------
    >>> start = TopStack((7, 7, 192), top_convs(load_efficientnet_lite()), head)  # doctest: +SKIP
    >>> build_top_model(start, 2384, ClassifyConfig()).output.shape  # doctest: +SKIP
    (None, 5)
    """
    import keras
    from keras import layers

    head = start.head
    top = keras.Input(start.top_shape, name="top")
    style = keras.Input((n_style,), name="style")
    x = layers.Concatenate(name="descriptor")([_top_layers(top), style])
    x = layers.Normalization(mean=head.mean, variance=head.scale**2, name="standardise")(x)
    x = layers.Dropout(config.dropout, name="dropout_in")(x)
    l2 = keras.regularizers.L2(config.weight_decay) if config.weight_decay else None
    logits = layers.Dense(len(CLASSES), kernel_regularizer=l2, name="logits")(x)
    model = keras.Model([top, style], logits, name="doctype_top")
    _set_top_weights(model, start.convs)
    model.get_layer("logits").set_weights([head.weights[0], head.biases[0]])
    return model


def split_descriptor(x: np.ndarray, top_shape: tuple[int, ...]) -> list[np.ndarray]:
    """Descriptors ``[top (flattened), style]`` (N, D) -> the model's inputs ``[top (N, 7, 7, C), style]``."""
    n_top = int(np.prod(top_shape))
    return [x[:, :n_top].reshape(-1, *top_shape), x[:, n_top:]]


def train_top(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, model: Any,
              top_shape: tuple[int, ...], config: ClassifyConfig | None = None, verbose: int = 0,
              ) -> tuple[Any, dict[str, list[float]]]:
    """Fine-tune ``model`` (:func:`build_top_model`) on ``[top, style]`` descriptors.

    Adam at ``config.finetune_learning_rate`` (small: the top layers start pretrained), early stopping
    on the held-out loss with ``config.finetune_patience``, best weights restored, as the head's
    training does.

    Returns
    -------
    (model, history) with per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.
    """
    import keras

    config = config or ClassifyConfig()
    keras.utils.set_random_seed(config.seed)
    model.compile(optimizer=keras.optimizers.Adam(config.finetune_learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    callbacks = [keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: log.info("top epoch %d: %s", epoch + 1,
                                                  {k: round(float(v), 4) for k, v in logs.items()}))]
    if config.finetune_patience:
        callbacks.append(keras.callbacks.EarlyStopping(patience=config.finetune_patience, restore_best_weights=True))
    history = model.fit(split_descriptor(x, top_shape), y,
                        validation_data=(split_descriptor(x_val, top_shape), y_val),
                        epochs=config.finetune_epochs, batch_size=config.batch_size, callbacks=callbacks,
                        verbose=verbose, shuffle=True, class_weight=class_weights(y) if config.balanced else None)
    return model, {k: [float(v) for v in vals] for k, vals in history.history.items()}


@dataclass
class TopStack:
    """The (fine-tuned) top layers, then a :class:`LinearStack` on ``[pooled, style]``: the trained model.

    ``convs`` maps each name of :data:`TOP_CONVS` to its ``[kernel, bias]`` (:func:`top_convs`); with
    the backbone's own weights, :meth:`descriptor` gives its pooled vector and the style statistics.
    The top layers run in a small Keras model built on first use (TensorFlow's fused depthwise and
    1x1 convolutions are faster than NumPy's); the head is NumPy. ``head`` may be None
    for :meth:`descriptor` alone.
    """

    top_shape: tuple[int, ...]
    convs: dict[str, list[np.ndarray]]
    head: LinearStack | None = None
    _net: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def width(self) -> int:
        """Values in one input descriptor: the flattened top activation and the style statistics."""
        return int(np.prod(self.top_shape)) + self.head.width - self.convs["head"][0].shape[-1]

    def pooled(self, top: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, 7, 7, C) top activations -> (N, 1280) pooled vectors of these top layers."""
        if self._net is None:
            import keras

            inputs = keras.Input(self.top_shape, name="top")
            self._net = keras.Model(inputs, _top_layers(inputs), name="doctype_top_layers")
            _set_top_weights(self._net, self.convs)
        rows = [np.asarray(self._net.predict_on_batch(np.asarray(top[i:i + batch_size], np.float32)))
                for i in range(0, len(top), batch_size)]
        return np.concatenate(rows) if rows else np.zeros((0, self.convs["head"][0].shape[-1]), np.float32)

    def descriptor(self, x: np.ndarray) -> np.ndarray:
        """``[top (flattened), style]`` descriptors (N, D) -> ``[pooled, style]`` (N, 1280 + S)."""
        top, style = split_descriptor(np.asarray(x, np.float32), self.top_shape)
        return np.concatenate([self.pooled(top), style], axis=1)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.head.logits(self.descriptor(x))

    def save(self, path) -> None:
        arrays = {"top_shape": np.array(self.top_shape), "mean": self.head.mean, "scale": self.head.scale,
                  "w0": self.head.weights[0], "b0": self.head.biases[0]}
        for name, (kernel, bias) in self.convs.items():
            arrays[f"{name}_kernel"], arrays[f"{name}_bias"] = kernel.astype(np.float32), bias.astype(np.float32)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path) -> TopStack:
        with np.load(path) as f:
            convs = {name: [f[f"{name}_kernel"], f[f"{name}_bias"]] for name in TOP_CONVS}
            return cls(tuple(int(d) for d in f["top_shape"]), convs,
                       LinearStack(f["mean"], f["scale"], [f["w0"]], [f["b0"]]))


def top_convs(model: Any) -> dict[str, list[np.ndarray]]:
    """The :data:`TOP_CONVS` ``[kernel, bias]`` of a Keras model (the backbone, or :func:`build_top_model`'s)."""
    return {name: [np.asarray(w, np.float32) for w in model.get_layer(f"{name}_conv").get_weights()]
            for name in TOP_CONVS}


def export_top(model: Any, top_shape: tuple[int, ...]) -> TopStack:
    """The array form of a trained :func:`build_top_model` (dropout is the identity at inference)."""
    convs = top_convs(model)
    norm = model.get_layer("standardise")
    dense = model.get_layer("logits")
    head = LinearStack(np.asarray(norm.mean, np.float32).reshape(-1),
                       np.sqrt(np.asarray(norm.variance, np.float32).reshape(-1)),
                       [np.asarray(dense.kernel, np.float32)], [np.asarray(dense.bias, np.float32)])
    return TopStack(tuple(top_shape), convs, head)
