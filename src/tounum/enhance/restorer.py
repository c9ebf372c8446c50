"""A small blind restorer: a DnCNN-style residual CNN (without batch norm), tiled inference.

A plain stack of 3x3 convolutions predicts the correction that is added to the input. It is
blind: it is never told the noise level, blur or JPEG quality. Grey images go through as three
equal channels. (A half-resolution variant with pixel-unshuffle was 4x cheaper but learned far
more slowly in the CPU budget we had: 23.9 against 27.0 dB after the same 256 steps.)

Backend-agnostic Keras 3: only ``keras.ops`` inside the model. With ``precision="bfloat16"``
the convolutions run in bfloat16 (weights kept in float32; the residual sum in float32), which
CPUs with AMX or AVX512-BF16 run several times faster (benchmarks/enhance_tradeoff.py).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tounum.enhance.quality import is_gray

WEIGHTS = Path(__file__).resolve().parent.parent / "models" / "restorer" / "restorer.weights.h5"
# the same network trained to remove printed halftone screens (tounum.enhance.descreen.unscreen)
DESCREENER_WEIGHTS = WEIGHTS.parent.parent / "descreener" / "descreener.weights.h5"


@dataclass(frozen=True)
class RestorerSpec:
    width: int = 48  # channels of the hidden convolutions
    depth: int = 8  # hidden 3x3 convolutions between the head and the tail
    tile: int = 256  # inference tile (pixels)
    overlap: int = 16  # context on each side of a tile (>= the receptive field's radius, 10)
    precision: str = "float32"  # or "bfloat16" (convolutions only)


@functools.lru_cache(maxsize=1)
def native_bfloat16() -> bool:
    """Whether this CPU has bfloat16 instructions (AMX or AVX512-BF16; read from Linux's
    /proc/cpuinfo; False elsewhere), where the bfloat16 restorer is the faster one."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str) -> str:
    """``"auto"``: bfloat16 where the CPU has it natively, else float32."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"unknown restorer precision {precision!r} (auto, float32, bfloat16)")
    return precision


def build_restorer(spec: RestorerSpec = RestorerSpec()):
    """The residual CNN: RGB in 0..1 (any even or odd size), RGB out, same shape.

    Example
    -------
    >>> model = build_restorer(RestorerSpec(width=8, depth=1))
    >>> tuple(model(np.zeros((1, 16, 16, 3), "float32")).shape)
    (1, 16, 16, 3)
    """
    import keras
    from keras import layers

    conv = "mixed_bfloat16" if spec.precision == "bfloat16" else "float32"
    image = keras.Input((None, None, 3), name="degraded")
    h = layers.Conv2D(spec.width, 3, padding="same", activation="relu", name="head", dtype=conv)(image)
    for i in range(spec.depth):
        h = layers.Conv2D(spec.width, 3, padding="same", activation="relu", name=f"body_{i}",
                          dtype=conv)(h)
    correction = layers.Conv2D(3, 3, padding="same", name="tail", dtype=conv)(h)
    restored = layers.Add(name="residual", dtype="float32")([image, correction])
    return keras.Model(image, restored, name="restorer")


@functools.lru_cache(maxsize=8)
def spec_of(weights: str, spec: RestorerSpec = RestorerSpec()) -> RestorerSpec:
    """``spec`` with the width and depth of the network saved in ``weights`` (read from the
    file's kernels), and enough tile context for its receptive field, so that weights of any
    size (``tounum train restorer --width --depth``) load and tile correctly.

    Example
    -------
    >>> spec_of(str(WEIGHTS)).width, spec_of(str(WEIGHTS)).depth
    (48, 8)
    """
    import h5py

    with h5py.File(weights, "r") as f:
        kernels = [v["vars/0"].shape for v in f["layers"].values()
                   if "vars" in v and "0" in v["vars"] and len(v["vars/0"].shape) == 4]
    if len(kernels) < 2:
        raise ValueError(f"{weights}: not a restorer's weights (found {len(kernels)} convolutions)")
    depth = len(kernels) - 2  # hidden layers between the head and the tail
    return replace(spec, width=max(k[-1] for k in kernels), depth=depth, overlap=max(spec.overlap, depth + 2))


@functools.lru_cache(maxsize=4)
def load_restorer(weights: str = str(WEIGHTS), spec: RestorerSpec = RestorerSpec()):
    """The shipped restorer, built and loaded once per process."""
    if not Path(weights).is_file():
        raise FileNotFoundError(f"{weights}: restorer weights not found")
    model = build_restorer(spec_of(weights, spec))
    model.load_weights(weights)
    return model


def _tiles(length: int, tile: int) -> list[int]:
    starts = list(range(0, max(length - tile, 0) + 1, tile))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def _tiled(rgb: np.ndarray, model, spec: RestorerSpec, batch_size: int | None) -> np.ndarray:
    """The model on a float (H, W, 3) image in 0..1, tile by tile with reflected context."""
    h, w = rgb.shape[:2]
    tile, pad = spec.tile, spec.overlap
    # Equal tiles of at most `tile` pixels (whole tiles of `tile` computed up to 1.9 times a
    # 1200x800 image), padded to whole tiles plus context (reflected).
    th, tw = (math.ceil(n / math.ceil(n / tile)) for n in (h, w))
    padded = np.pad(rgb, ((pad, pad + (th - h % th) % th), (pad, pad + (tw - w % tw) % tw), (0, 0)),
                    mode="reflect")
    out = np.zeros((padded.shape[0] - 2 * pad, padded.shape[1] - 2 * pad, 3), np.float32)
    boxes = [(y, x) for y in _tiles(out.shape[0], th) for x in _tiles(out.shape[1], tw)]
    if batch_size is None:  # about 260,000 pixels (four 256-pixel tiles) per batch, from the
        # largest tile, not this image's: a batch of a shape seen before is not traced again
        batch_size = max(1, 4 * 256**2 // tile**2)
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i:i + batch_size]
        batch = np.stack([padded[y:y + th + 2 * pad, x:x + tw + 2 * pad] for y, x in chunk])
        pred = np.asarray(model.predict_on_batch(batch), np.float32)
        for (y, x), p in zip(chunk, pred):
            out[y:y + th, x:x + tw] = p[pad:pad + th, pad:pad + tw]
    return out[:h, :w]


# Self-ensemble: (flip rows, flip columns, transpose), each undone after the pass.
_TRANSFORMS = ((False, False, False), (False, True, False), (True, False, False), (True, True, False),
               (False, False, True), (False, True, True), (True, False, True), (True, True, True))


def _apply(img: np.ndarray, flip_rows: bool, flip_cols: bool, transpose: bool, *, undo=False):
    if undo and transpose:
        img = img.transpose(1, 0, 2)
    img = img[::-1] if flip_rows else img
    img = img[:, ::-1] if flip_cols else img
    if not undo and transpose:
        img = img.transpose(1, 0, 2)
    return np.ascontiguousarray(img)


def restore(pixels: np.ndarray, model=None, *, spec: RestorerSpec = RestorerSpec(),
            batch_size: int | None = None, ensemble: int = 1) -> np.ndarray:
    """Run the restorer on an image of any size in overlapping tiles (bounded memory).

    Each tile of ``spec.tile`` pixels is cut with ``spec.overlap`` pixels of context on every
    side (reflected at the image border) and only its centre is kept, so the result equals a
    whole-image pass wherever the receptive field fits in the overlap.

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) uint8 image.
    model : a Keras model from :func:`build_restorer`; default: the shipped weights.
    ensemble : 1, 2, 4 or 8 passes on flipped / transposed copies, averaged (self-ensemble:
        a little better, as many times slower).

    Returns
    -------
    uint8 array of the input's shape.

    Example
    -------
    >>> out = restore(np.full((40, 50, 3), 128, np.uint8), build_restorer(RestorerSpec(8, 1)))
    >>> out.shape, out.dtype
    ((40, 50, 3), dtype('uint8'))
    """
    if ensemble not in (1, 2, 4, 8):
        raise ValueError(f"ensemble must be 1, 2, 4 or 8, got {ensemble}")
    if model is None:
        spec = spec_of(str(WEIGHTS), spec)
        model = load_restorer(str(WEIGHTS), spec)
    img = np.asarray(pixels)
    gray_in = img.ndim == 2
    rgb = (np.repeat(img[..., None], 3, axis=2) if gray_in else img[..., :3]).astype(np.float32) / 255.0
    out = np.zeros_like(rgb)
    for transform in _TRANSFORMS[:ensemble]:
        passed = _tiled(_apply(rgb, *transform), model, spec, batch_size)
        out += _apply(passed, *transform, undo=True)
    result = np.clip(np.rint(out / ensemble * 255.0), 0, 255).astype(np.uint8)
    if gray_in:
        return result.mean(axis=2).round().astype(np.uint8)
    if is_gray(img):  # a grey scan stored as RGB stays grey
        result = np.repeat(np.rint(result.mean(axis=2, keepdims=True)), 3, axis=2).astype(np.uint8)
    return result


# Where restore_with runs when not here: set in pipeline pool processes, which send the network
# to the main process (tounum.pipeline.networks) instead of importing TensorFlow themselves.
_runner: Callable[..., np.ndarray] | None = None


def run_networks_with(runner: Callable[..., np.ndarray] | None) -> None:
    """Hand every :func:`restore_with` call of this process to ``runner`` (same arguments), or
    run them here again (None)."""
    global _runner
    _runner = runner


def restore_with(pixels: np.ndarray, weights: str = str(WEIGHTS), *, tile: int = 512, precision: str = "auto",
                 ensemble: int = 1) -> np.ndarray:
    """:func:`restore` by the network saved in ``weights`` (its size read from the file,
    :func:`spec_of`; loaded once per process) at ``precision`` (:func:`resolve_precision`).
    The restorer and the descreener of the enhancement policy both run through it (see
    :func:`run_networks_with`).

    Example
    -------
    >>> restore_with(np.full((40, 50, 3), 128, np.uint8), str(DESCREENER_WEIGHTS)).shape  # doctest: +SKIP
    (40, 50, 3)
    """
    if _runner is not None:
        return _runner(pixels, weights, tile=tile, precision=precision, ensemble=ensemble)
    spec = spec_of(weights, RestorerSpec(tile=tile, precision=resolve_precision(precision)))
    return restore(pixels, load_restorer(weights, spec), spec=spec, ensemble=ensemble)
