"""The feature API everything downstream uses: one backbone per process, batched features.

>>> backbone = load_backbone()                      # doctest: +SKIP
>>> feats = backbone.features([pixels_a, pixels_b])  # doctest: +SKIP
>>> feats.pooled.shape, feats.grid.shape             # doctest: +SKIP
((2, 1280), (2, 7, 7, 1280))
>>> feats.style.shape                                # doctest: +SKIP
(2, 2384)
>>> feats.top.shape                                  # doctest: +SKIP
(2, 7, 7, 192)

Backbones are chosen by ``BackboneConfig.name``: ``"efficientnet_lite0"`` or ``"efficientnet_lite2"``
(ImageNet weights installed with the package) or ``"keras_file"`` (any Keras model file named by
``BackboneConfig.weights``, e.g. an InceptionV3 299x299 -> 8x8x2048). Keras is imported only when
a backbone is built.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tounum.backbone.cache import FeatureCache, pixels_key
from tounum.backbone.preprocess import RESIZE_MODES, fit_square
from tounum.config import BackboneConfig, ConfigError

log = logging.getLogger(__name__)

# The ILSVRC-2012 class names in Keras' short form (keras imagenet_class_index.json order), as
# listed in pytorch/hub's imagenet_classes.txt (BSD-3-Clause): line k is class k.
CLASS_NAMES_FILE = Path(__file__).with_name("imagenet_classes.txt")

# Input scalings for "keras_file" models, RGB 0..255 float in.
KERAS_FILE_SCALINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tf": lambda x: x / 127.5 - 1.0,  # keras.applications InceptionV3, MobileNet, Xception
    "torch": lambda x: (x / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225],
    "none": lambda x: x,  # the model scales its input itself
}


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names in the standard order (Keras' names, ``0 tench``)."""
    return tuple(CLASS_NAMES_FILE.read_text().splitlines())


# EfficientNet-Lite0 layers whose channel statistics form ``Features.style``: block 4 (28x28x40) and
# blocks 8 and 11 (14x14x480, 14x14x672); 2384 values. Texture statistics of the middle layers
# (Gram-like, as in style transfer) separate painting from photo better than the pooled last layer,
# which is mostly content; these three together beat any one of them on the held-out part of train,
# and adding the 7x7 layers (blocks 14, 15) cost photo recall on photographs of a source never
# trained on (benchmarks/README.md, classify). Changing them changes ``Features.style`` and needs a
# retrained classifier. EfficientNet-Lite2's are the same places in its deeper stages: the last
# block of stage 3 (33x33x48 at 260x260) and the expansions of the first blocks of stages 5 and 6
# (17x17x528, 17x17x720); 2592 values.
STYLE_LAYERS = {
    "efficientnet_lite0": ("block4_add", "block8_expand_relu6", "block11_expand_relu6"),
    "efficientnet_lite2": ("block6_add", "block11_expand_relu6", "block15_expand_relu6"),
}
# The input of the last MBConv block (Lite0: 7x7x192), kept as ``Features.top`` so that a
# classifier with fine-tuned copies of the top layers (the last block and the head conv) runs them
# on the tensor this pass already computed instead of a second backbone pass.
TOP_LAYER = {"efficientnet_lite0": "block14_add", "efficientnet_lite2": "block19_add"}


@dataclass
class Features:
    """Backbone outputs for N images, float32: ``pooled`` (N, C), ``grid`` (N, H, W, C), ``style``, ``top``.

    ``style`` (N, S) holds texture statistics: the mean and standard deviation over the image of
    each channel of the backbone's style layers (``Backbone.style_layers``); (N, 0) when it has none.
    ``top`` is the activation at the input of the top block (``Backbone.top_layer``), (N, 7, 7, 192)
    for EfficientNet-Lite0; (N, 0) when the backbone names none.
    """

    pooled: np.ndarray
    grid: np.ndarray
    style: np.ndarray | None = None
    top: np.ndarray | None = None


class Backbone:
    """A pretrained CNN with a fixed square input; see :func:`load_backbone`.

    Parameters
    ----------
    name, version : str
        ``version`` changes whenever features would change (weights, resize mode, scaling);
        it keys the feature cache and should be recorded by anything trained on features.
    model : keras.Model
        Input (N, S, S, 3) float; outputs ``[pooled, grid]``, optionally followed by ImageNet
        logits or probabilities (N, 1000).
    scale : callable
        RGB 0..255 float32 batch -> what ``model`` expects.
    resize : str
        One of :data:`tounum.backbone.preprocess.RESIZE_MODES`.
    batch_size : int
        Default batch size of :meth:`features`.
    cache_folder : str
        Feature cache root; empty for no cache.
    style_layers : sequence of str
        Names of 4-D layers of ``model`` whose channel means and standard deviations make
        ``Features.style``, computed in the same forward pass.
    top_layer : str
        Name of the layer whose output is ``Features.top`` (same pass); empty for none.
    precision : str
        What ``model`` computes in ("float32" or "bfloat16"; :data:`tounum.backbone.weights.PRECISIONS`).
    """

    def __init__(self, name: str, version: str, model: Any, scale: Callable, resize: str,
                 batch_size: int = 32, cache_folder: str = "", style_layers: Sequence[str] = (),
                 top_layer: str = "", precision: str = "float32"):
        self.name, self.version, self.resize, self.precision = name, version, resize, precision
        self.input_size = int(model.inputs[0].shape[1])
        self.grid_shape = tuple(int(d) for d in model.outputs[1].shape[1:])
        self.batch_size = batch_size
        self._scale = scale
        self._has_imagenet = len(model.outputs) > 2
        self.style_layers = tuple(style_layers)
        if self.style_layers:
            model = with_style_output(model, self.style_layers)
        self.style_size = int(model.outputs[-1].shape[-1]) if self.style_layers else 0
        self.top_layer = top_layer
        self.top_shape: tuple[int, ...] = (0,)
        if top_layer:
            model = with_layer_output(model, top_layer)
            self.top_shape = tuple(int(d) for d in model.outputs[-1].shape[1:])
        self._style_index = -2 if top_layer else -1
        # One model for features, style and ImageNet outputs: one compiled graph; the 1000-way
        # dense layer costs 0.3% of the network, the style statistics less.
        self._model = model
        self.cache = FeatureCache(cache_folder, version) if cache_folder else None

    @property
    def record(self) -> dict[str, Any]:
        """What a model trained on these features records of them (its ``info["backbone"]``), from
        which :func:`trained_backbone` builds this backbone again."""
        return {"name": self.name, "version": self.version, "resize": self.resize, "precision": self.precision,
                "style_layers": list(self.style_layers), "top_layer": self.top_layer}

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Images of any size -> (N, S, S, 3) uint8, resized by the configured mode.

        Raises ``ValueError`` naming the image's index when one is not a usable RGB array.
        """
        return self._preprocess(images, 0)

    def _preprocess(self, images: Sequence[np.ndarray], first: int) -> np.ndarray:
        out = np.empty((len(images), self.input_size, self.input_size, 3), np.uint8)
        for i, pixels in enumerate(images):
            try:
                out[i] = fit_square(pixels, self.input_size, self.resize)
            except ValueError as exc:
                raise ValueError(f"image {first + i}: {exc}") from exc
        return out

    def _batches(self, images: Sequence[np.ndarray], batch_size: int | None):
        batch_size = batch_size or self.batch_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        for start in range(0, len(images), batch_size):
            batch = self._preprocess(images[start:start + batch_size], start)
            yield self._scale(batch.astype(np.float32)).astype(np.float32)

    def _empty(self, n: int) -> Features:
        return Features(np.empty((n, self.grid_shape[-1]), np.float32),
                        np.empty((n, *self.grid_shape), np.float32), np.empty((n, self.style_size), np.float32),
                        np.empty((n, *self.top_shape), np.float32))

    def _compute(self, images: Sequence[np.ndarray], batch_size: int | None) -> Features:
        out = self._empty(len(images))
        start = 0
        for x in self._batches(images, batch_size):
            outputs = self._model.predict_on_batch(x)
            out.pooled[start:start + len(x)], out.grid[start:start + len(x)] = outputs[:2]
            if self.style_size:
                out.style[start:start + len(x)] = outputs[self._style_index]
            if self.top_layer:
                out.top[start:start + len(x)] = outputs[-1]
            start += len(x)
        return out

    def features(self, images: Sequence[np.ndarray], batch_size: int | None = None,
                 keys: Sequence[str] | None = None) -> Features:
        """Pooled vector and spatial grid of each image, from one forward pass.

        Parameters
        ----------
        images : list of ndarray
            (H, W, 3) uint8 RGB of any size (grey and RGBA are accepted too).
        batch_size : int, optional
            Images per forward pass; default ``BackboneConfig.batch_size`` (32).
        keys : list of str, optional
            Feature-cache keys (e.g. the files' sha256 from ``tounum.io.discover``); default
            the sha256 of each image's pixels. Ignored when the cache is off.

        Returns
        -------
        Features
            ``pooled`` (N, C), ``grid`` (N, H, W, C), ``style`` (N, S) and ``top`` float32; (N, 1280),
            (N, 7, 7, 1280), (N, 2384) and (N, 7, 7, 192) for EfficientNet-Lite0. Cache hits are
            float16 values widened to float32.
        """
        if self.cache is None:
            return self._compute(images, batch_size)
        if keys is None:
            keys = [pixels_key(p) for p in images]
        if len(keys) != len(images):
            raise ValueError(f"{len(keys)} keys for {len(images)} images")
        out = self._empty(len(images))
        missing = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key)
            # entries written before the style statistics or the top activation existed are misses
            if (hit is None or hit[1].shape != self.grid_shape or hit[2].shape != (self.style_size,)
                    or hit[3].shape != self.top_shape):
                missing.append(i)
            else:
                out.pooled[i], out.grid[i], out.style[i], out.top[i] = hit
        if missing:
            new = self._compute([images[i] for i in missing], batch_size)
            for j, i in enumerate(missing):
                out.pooled[i], out.grid[i], out.style[i], out.top[i] = new.pooled[j], new.grid[j], new.style[j], new.top[j]
                self.cache.put(keys[i], new.pooled[j], new.grid[j], new.style[j], new.top[j])
        log.debug("features: %d cached, %d computed", len(images) - len(missing), len(missing))
        return out

    def imagenet_probabilities(self, images: Sequence[np.ndarray],
                               batch_size: int | None = None) -> np.ndarray:
        """(N, 1000) ImageNet class probabilities."""
        if not self._has_imagenet:
            raise ValueError(f"backbone {self.name!r} has no 1000-class ImageNet output")
        rows = []
        for x in self._batches(images, batch_size):
            out = np.asarray(self._model.predict_on_batch(x)[2], np.float64)
            is_probs = out.min() >= 0 and np.allclose(out.sum(1), 1, atol=1e-3)
            if not is_probs:  # logits
                out = np.exp(out - out.max(1, keepdims=True))
                out /= out.sum(1, keepdims=True)
            rows.append(out.astype(np.float32))
        return np.concatenate(rows) if rows else np.empty((0, 1000), np.float32)

    def imagenet_top5(self, images: Sequence[np.ndarray]) -> list[list[tuple[str, float]]]:
        """Each image's five most likely ImageNet classes as ``(name, probability)``."""
        names = imagenet_classes()
        result = []
        for p in self.imagenet_probabilities(images):
            top = np.argsort(-p)[:5]
            result.append([(names[k], float(p[k])) for k in top])
        return result


def with_style_output(model: Any, layer_names: Sequence[str], eps: float = 0.0) -> Any:
    """``model`` with one more output: per layer, the channel means then standard deviations.

    Parameters
    ----------
    model : keras.Model
    layer_names : sequence of str
        Layers with a 4-D output (N, H, W, C); the statistics are over H and W.
    eps : float
        Added to the variance under the square root: > 0 keeps the gradient finite on a channel
        that is constant over the image (for training through the statistics); 0, the exact
        standard deviation the shipped heads were trained on.

    Returns
    -------
    keras.Model
        Same inputs, outputs ``[*model.outputs, style]`` with style (N, 2 * sum of C).

    Example
    -------
    >>> with_style_output(model, ["block8_expand_relu6"]).outputs[-1].shape  # doctest: +SKIP
    (None, 960)
    """
    import keras

    stats = []
    for name in layer_names:
        try:
            activation = model.get_layer(name).output
        except ValueError as exc:
            raise ConfigError(f"backbone: no layer {name!r} for style statistics") from exc
        if len(activation.shape) != 4:
            raise ConfigError(f"backbone: layer {name!r} is not 4-D, cannot give style statistics")
        std = (keras.ops.sqrt(keras.ops.var(activation, axis=(1, 2)) + eps) if eps
               else keras.ops.std(activation, axis=(1, 2)))
        stats += [keras.ops.mean(activation, axis=(1, 2)), std]
    style = keras.layers.Concatenate(name="style")(stats)
    return keras.Model(model.inputs, [*model.outputs, style], name=model.name)


def with_layer_output(model: Any, layer_name: str) -> Any:
    """``model`` with one more output: the activation of layer ``layer_name``, as computed in its pass.

    Example
    -------
    >>> with_layer_output(model, "block14_add").outputs[-1].shape  # doctest: +SKIP
    (None, 7, 7, 192)
    """
    import keras

    try:
        activation = model.get_layer(layer_name).output
    except ValueError as exc:
        raise ConfigError(f"backbone: no layer {layer_name!r} for the top activation") from exc
    return keras.Model(model.inputs, [*model.outputs, activation], name=model.name)


def efficientnet_lite_backbone(config: BackboneConfig) -> Backbone:
    """EfficientNet-Lite0 (224x224 -> pooled 1280, grid 7x7x1280, style 2384, top 7x7x192) or
    -Lite2 (260x260 -> pooled 1280, grid 9x9x1280, style 2592, top 9x9x208), ImageNet weights or
    the fine-tuned ones of ``config.weights``."""
    from tounum.backbone.weights import PRECISIONS, version

    if config.precision not in PRECISIONS:
        raise ConfigError(f"backbone.precision: unknown {config.precision!r} "
                          f"(known: {', '.join(PRECISIONS)})")
    name = config.name
    suffix = "" if config.precision == "float32" else "-bf16"
    tuned = ""
    if config.weights:  # fine-tuned weights (tounum.classify.finetune): they name the features
        path = Path(config.weights)
        if not path.is_file():
            raise ConfigError(f"backbone.weights: {config.weights!r} is not a fine-tuned weights file")
        tuned = hashlib.sha256(path.read_bytes()).hexdigest()
    # the ImageNet network is shared by all configs; a fine-tuned copy belongs to this Backbone, which
    # load_backbone caches (and builds again when the file is rewritten)
    model = _build_efficientnet_lite(name, config.precision, config.weights) if tuned else \
        _efficientnet_lite(name, config.precision)
    return Backbone(name, f"{version(name)}{suffix}-{config.resize}" + (f"-tuned-{tuned[:12]}" if tuned else ""),
                    model, lambda x: x, config.resize, config.batch_size, config.feature_cache,
                    STYLE_LAYERS[name], TOP_LAYER[name], config.precision)


@functools.lru_cache(maxsize=4)
def _efficientnet_lite(variant: str, precision: str) -> Any:
    """The ImageNet network with outputs reordered to [pooled, grid, logits], shared by all configs."""
    return _build_efficientnet_lite(variant, precision)


def _build_efficientnet_lite(variant: str, precision: str, weights: str = "") -> Any:
    """The network with outputs reordered to [pooled, grid, logits]; with ``weights`` (a
    :func:`tounum.backbone.weights.save_tuned_weights` file) instead of the ImageNet ones."""
    import keras

    from tounum.backbone.weights import load_efficientnet_lite, load_tuned_weights

    model = load_efficientnet_lite(precision=precision, variant=variant)
    if weights:
        try:
            load_tuned_weights(model, weights)
        except ValueError as exc:
            raise ConfigError(f"backbone.weights: {exc}") from exc
    logits, pooled, grid = model.outputs
    return keras.Model(model.inputs, [pooled, grid, logits], name=model.name)


def keras_file_backbone(config: BackboneConfig) -> Backbone:
    """A user's Keras model file (``config.weights``): the grid is its last 4-D layer output.

    The pooled vector is the grid's global average. If the model's final output has 1000
    classes it serves :meth:`Backbone.imagenet_top5`. Input pixels are scaled by
    ``config.keras_file_scaling`` (see :data:`KERAS_FILE_SCALINGS`).
    """
    import keras

    path = Path(config.weights)
    if not config.weights or not path.is_file():
        raise ConfigError(f"backbone.weights: {config.weights!r} is not a Keras model file")
    if config.keras_file_scaling not in KERAS_FILE_SCALINGS:
        raise ConfigError(f"backbone.keras_file_scaling: unknown {config.keras_file_scaling!r} "
                          f"(known: {', '.join(KERAS_FILE_SCALINGS)})")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ConfigError(f"{path}: cannot load as a Keras model: {exc}") from exc
    shape = model.inputs[0].shape
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ConfigError(f"{path}: needs a fixed square RGB input, has {tuple(shape)}")
    grids = [layer.output for layer in model.layers
             if len(getattr(layer.output, "shape", ())) == 4 and layer.output is not model.inputs[0]]
    if not grids:
        raise ConfigError(f"{path}: no 4-D (spatial) layer output to use as the grid")
    grid = grids[-1]
    pooled = keras.layers.GlobalAveragePooling2D(name="tounum_pool")(grid)
    outputs = [pooled, grid]
    if model.outputs[0].shape[-1] == 1000 and len(model.outputs[0].shape) == 2:
        outputs.append(model.outputs[0])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    version = f"keras_file-{digest}-{config.keras_file_scaling}-{config.resize}"
    return Backbone("keras_file", version, keras.Model(model.inputs, outputs),
                    KERAS_FILE_SCALINGS[config.keras_file_scaling], config.resize,
                    config.batch_size, config.feature_cache)


BACKBONES: dict[str, Callable[[BackboneConfig], Backbone]] = {
    "efficientnet_lite0": efficientnet_lite_backbone,
    "efficientnet_lite2": efficientnet_lite_backbone,
    "keras_file": keras_file_backbone,
}


@functools.lru_cache(maxsize=4)
def _load(frozen: tuple, stamp: tuple = ()) -> Backbone:  # stamp: a weights file rewritten is read again
    config = BackboneConfig(*frozen)
    return BACKBONES[config.name](config)


def load_backbone(config: BackboneConfig | None = None) -> Backbone:
    """The backbone ``config`` selects, built once per process and configuration.

    Parameters
    ----------
    config : BackboneConfig, optional
        Default: EfficientNet-Lite0, "pad" resizing, batch 32, no feature cache.

    Raises
    ------
    ConfigError
        Unknown backbone name or resize mode, or an unusable Keras model file.

    Example
    -------
    >>> backbone = load_backbone()  # doctest: +SKIP
    >>> backbone.input_size, backbone.grid_shape  # doctest: +SKIP
    (224, (7, 7, 1280))
    """
    config = config or BackboneConfig()
    if config.name not in BACKBONES:
        raise ConfigError(f"backbone.name: unknown {config.name!r} (known: {', '.join(BACKBONES)})")
    if config.resize not in RESIZE_MODES:
        raise ConfigError(f"backbone.resize: unknown {config.resize!r} "
                          f"(known: {', '.join(RESIZE_MODES)})")
    if config.batch_size < 1:
        raise ConfigError(f"backbone.batch_size: must be at least 1, got {config.batch_size}")
    try:
        stat = os.stat(config.weights) if config.weights else None
    except OSError:
        stat = None  # the backbone's builder names the missing file
    stamp = (stat.st_mtime_ns, stat.st_size) if stat else ()
    return _load(tuple(getattr(config, f.name) for f in dataclasses.fields(config)), stamp)


def trained_backbone(recorded: Mapping[str, Any], config: BackboneConfig | None = None,
                     folder: str | Path | None = None) -> Backbone:
    """The backbone a model was trained on, as its ``info["backbone"]`` records it.

    Parameters
    ----------
    recorded : mapping
        ``name``, ``resize`` and ``precision`` (those missing, as in models saved before they were
        recorded, come from ``config``); ``weights``, for a model trained on a fine-tuned
        EfficientNet-Lite, the file of its weights in the model's folder.
    config : BackboneConfig, optional
        Everything else: batch size, feature cache, a Keras file's path.
    folder : str or Path, optional
        The model's folder, where ``recorded["weights"]`` is.

    Raises
    ------
    ConfigError
        A recorded weights file without ``folder``, or missing from it.

    Example
    -------
    >>> trained_backbone({"name": "efficientnet_lite2", "precision": "bfloat16"}).input_size  # doctest: +SKIP
    260
    """
    config = config or BackboneConfig()
    changes = {key: recorded[key] for key in ("name", "resize", "precision") if recorded.get(key)}
    if recorded.get("name", "").startswith("efficientnet_lite"):  # ImageNet weights unless it names its own
        changes["weights"] = ""
        if recorded.get("weights"):
            if folder is None:
                raise ConfigError(f"the model's backbone has fine-tuned weights ({recorded['weights']}): "
                                  "load it from its folder")
            changes["weights"] = str(Path(folder) / recorded["weights"])
    return load_backbone(dataclasses.replace(config, **changes))
