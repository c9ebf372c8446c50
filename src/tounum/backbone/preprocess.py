"""Fit an image of any size into the backbone's square input.

Three modes (``BackboneConfig.resize``):

* ``"pad"`` (default): the whole image, aspect ratio kept, longer side scaled to ``size``, centred
  on a grey (127) border, which the network's ``(x - 127) / 128`` scaling turns into zeros.
  Nothing is lost, which matters for documents and wide panoramas.
* ``"crop"``: shorter side scaled to ``size``, centre square kept (the usual ImageNet eval).
* ``"squash"``: stretched to ``size`` x ``size``, aspect ratio lost (how some caption training
  sets were prepared; use it to match features computed that way).

Resampling is Pillow bicubic, which low-pass filters when shrinking, so fine scan texture does
not alias.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

RESIZE_MODES = ("pad", "crop", "squash")
PAD_VALUE = 127


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as (H, W, 3) uint8: grey is repeated, alpha dropped.

    Raises
    ------
    ValueError
        If ``pixels`` is not uint8 grey, grey+alpha, RGB or RGBA, or is empty.

    Example
    -------
    >>> as_rgb(np.zeros((4, 5), np.uint8)).shape
    (4, 5, 3)
    """
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or 0 in pixels.shape:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got {pixels.shape}")
    if pixels.shape[2] <= 2:
        return np.repeat(pixels[:, :, :1], 3, axis=2)
    return pixels[:, :, :3]


def fit_square(pixels: np.ndarray, size: int = 224, mode: str = "pad") -> np.ndarray:
    """Resize ``pixels`` to (size, size, 3) uint8 by ``mode`` ("pad", "crop" or "squash").

    Parameters
    ----------
    pixels : ndarray
        (H, W), (H, W, 3) or (H, W, 4) uint8.
    size : int
        Side of the square output.
    mode : str
        See the module docstring.

    Returns
    -------
    ndarray
        (size, size, 3) uint8.

    Example
    -------
    >>> out = fit_square(np.full((100, 200, 3), 255, np.uint8), 224, "pad")
    >>> out.shape, out[0, 0, 0], out[112, 112, 0]
    ((224, 224, 3), np.uint8(127), np.uint8(255))
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r} (known: {', '.join(RESIZE_MODES)})")
    image = Image.fromarray(as_rgb(pixels))
    w, h = image.size
    if mode == "squash":
        return np.asarray(image.resize((size, size), Image.BICUBIC, reducing_gap=3.0))
    if mode == "crop":
        side = min(w, h)
        left, top = (w - side) / 2, (h - side) / 2
        box = (left, top, left + side, top + side)
        return np.asarray(image.resize((size, size), Image.BICUBIC, box=box, reducing_gap=3.0))
    scale = size / max(w, h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.full((size, size, 3), PAD_VALUE, np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    resized = image.resize((new_w, new_h), Image.BICUBIC, reducing_gap=3.0)
    out[top:top + new_h, left:left + new_w] = np.asarray(resized)
    return out
