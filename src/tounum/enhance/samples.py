"""Synthetic clean pictures for tests and examples (no data is shipped)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def scene(height: int = 128, width: int = 160, *, seed: int = 0, gray: bool = False) -> np.ndarray:
    """A clean (H, W, 3) uint8 picture with flat areas, smooth shading, sharp edges and a
    little texture, kept away from 0 and 255 (like a photograph; nothing clipped).

    Example
    -------
    >>> scene(32, 40).shape
    (32, 40, 3)
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    img = np.empty((height, width, 3))
    for c in range(3):
        img[..., c] = 70 + 60 * x + 40 * y * (c + 1) / 3
    for _ in range(24):  # discs and boxes with sharp (slightly anti-aliased) edges
        cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.12)
        colour = rng.uniform(40, 215, 3)
        mask = ((y - cy) ** 2 + (x - cx) ** 2 < r**2) if rng.random() < 0.5 else (
            (np.abs(y - cy) < r) & (np.abs(x - cx) < r / 2))
        img[mask] = colour
    img = ndimage.gaussian_filter(img, (0.4, 0.4, 0))
    img += ndimage.gaussian_filter(rng.normal(0, 12, (height, width, 1)), 1.2)  # fine texture
    img = np.clip(img, 20, 235)
    if gray:
        img = np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2)
    return np.rint(img).astype(np.uint8)
