"""A small blind restorer: residual CNN working at half resolution, tiled inference.

The image is folded into 2x2 pixel blocks (pixel-unshuffle: 3 channels -> 12 at half size),
a plain stack of 3x3 convolutions predicts the correction, which is unfolded back and added
to the input. Working at half resolution quarters the cost and doubles the receptive field;
that keeps it near 1 s per megapixel on two CPU cores. It is blind: it is never told the noise
level, blur or JPEG quality. Grey images go through as three equal channels.

Backend-agnostic Keras 3: only ``keras.ops`` inside the model.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).resolve().parent.parent / "models" / "restorer" / "restorer.weights.h5"


@dataclass(frozen=True)
class RestorerSpec:
    width: int = 48  # channels of the hidden convolutions
    depth: int = 5  # hidden 3x3 convolutions between the head and the tail
    tile: int = 256  # inference tile (pixels, multiple of 2)
    overlap: int = 24  # context on each side of a tile (>= half the receptive field)


def build_restorer(spec: RestorerSpec = RestorerSpec()):
    """The residual CNN: RGB in 0..1 (any even or odd size), RGB out, same shape.

    Example
    -------
    >>> model = build_restorer(RestorerSpec(width=8, depth=1))
    >>> tuple(model(np.zeros((1, 16, 16, 3), "float32")).shape)
    (1, 16, 16, 3)
    """
    import keras
    from keras import layers, ops

    def unshuffle(t):  # (B, H, W, C) -> (B, H/2, W/2, 4C)
        b, h, w, c = ops.shape(t)
        t = ops.reshape(t, (b, h // 2, 2, w // 2, 2, c))
        return ops.reshape(ops.transpose(t, (0, 1, 3, 2, 4, 5)), (b, h // 2, w // 2, 4 * c))

    def shuffle(t):  # inverse of unshuffle
        b, h, w, c4 = ops.shape(t)
        c = c4 // 4
        t = ops.reshape(t, (b, h, w, 2, 2, c))
        return ops.reshape(ops.transpose(t, (0, 1, 3, 2, 4, 5)), (b, 2 * h, 2 * w, c))

    image = keras.Input((None, None, 3), name="degraded")
    folded = layers.Lambda(unshuffle, name="pixel_unshuffle")(image)
    h = layers.Conv2D(spec.width, 3, padding="same", activation="relu", name="head")(folded)
    for i in range(spec.depth):
        h = layers.Conv2D(spec.width, 3, padding="same", activation="relu", name=f"body_{i}")(h)
    correction = layers.Conv2D(12, 3, padding="same", name="tail")(h)
    correction = layers.Lambda(shuffle, name="pixel_shuffle")(correction)
    restored = layers.Add(name="residual")([image, correction])
    return keras.Model(image, restored, name="restorer")


@functools.lru_cache(maxsize=4)
def load_restorer(weights: str = str(WEIGHTS), spec: RestorerSpec = RestorerSpec()):
    """The shipped restorer, built and loaded once per process."""
    if not Path(weights).is_file():
        raise FileNotFoundError(f"{weights}: restorer weights not found")
    model = build_restorer(spec)
    model.load_weights(weights)
    return model


def _tiles(length: int, tile: int) -> list[int]:
    starts = list(range(0, max(length - tile, 0) + 1, tile))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def restore(pixels: np.ndarray, model=None, *, spec: RestorerSpec = RestorerSpec(),
            batch_size: int = 4) -> np.ndarray:
    """Run the restorer on an image of any size in overlapping tiles (bounded memory).

    Each tile of ``spec.tile`` pixels is cut with ``spec.overlap`` pixels of context on every
    side (reflected at the image border) and only its centre is kept, so the result equals a
    whole-image pass wherever the receptive field fits in the overlap.

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) uint8 image.
    model : a Keras model from :func:`build_restorer`; default: the shipped weights.

    Returns
    -------
    uint8 array of the input's shape.

    Example
    -------
    >>> out = restore(np.full((40, 50, 3), 128, np.uint8), build_restorer(RestorerSpec(8, 1)))
    >>> out.shape, out.dtype
    ((40, 50, 3), dtype('uint8'))
    """
    model = load_restorer() if model is None else model
    img = np.asarray(pixels)
    gray_in = img.ndim == 2
    rgb = np.repeat(img[..., None], 3, axis=2) if gray_in else img[..., :3]
    h, w = rgb.shape[:2]
    tile, pad = spec.tile, spec.overlap
    # Pad to whole tiles plus context; even sizes so that 2x2 folding lines up with the image.
    th, tw = min(tile, h + h % 2), min(tile, w + w % 2)
    padded = np.pad(rgb.astype(np.float32) / 255.0,
                    ((pad, pad + (th - h % th) % th), (pad, pad + (tw - w % tw) % tw), (0, 0)),
                    mode="reflect")
    out = np.zeros((padded.shape[0] - 2 * pad, padded.shape[1] - 2 * pad, 3), np.float32)
    boxes = [(y, x) for y in _tiles(out.shape[0], th) for x in _tiles(out.shape[1], tw)]
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i:i + batch_size]
        batch = np.stack([padded[y:y + th + 2 * pad, x:x + tw + 2 * pad] for y, x in chunk])
        pred = np.asarray(model.predict_on_batch(batch))
        for (y, x), p in zip(chunk, pred):
            out[y:y + th, x:x + tw] = p[pad:pad + th, pad:pad + tw]
    result = np.clip(np.rint(out[:h, :w] * 255.0), 0, 255).astype(np.uint8)
    if gray_in:
        return result.mean(axis=2).round().astype(np.uint8)
    if img.ndim == 3 and np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(
            img[..., 1], img[..., 2]):
        result = np.repeat(np.rint(result.mean(axis=2, keepdims=True)), 3, axis=2).astype(np.uint8)
    return result
