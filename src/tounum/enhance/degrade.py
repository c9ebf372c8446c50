"""Synthetic degradations (seeded), for training the restorer and the descreener and for evaluation.

All take and return uint8 (H, W, 3) or (H, W) arrays; the result is clipped and rounded to
8 bits, as a real degraded file would be.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

from tounum.enhance.quality import is_gray


def add_gaussian_noise(pixels: np.ndarray, sigma: float, *, seed: int | np.random.Generator = 0
                       ) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` (0..255 scale), clip to 8 bits.

    Grey images stored as RGB (three equal channels) stay grey: one noise field for all.

    Example
    -------
    >>> add_gaussian_noise(np.full((4, 4, 3), 128, np.uint8), 10.0).dtype
    dtype('uint8')
    """
    rng = np.random.default_rng(seed)
    img = np.asarray(pixels, np.float64)
    gray = img.ndim == 3 and is_gray(img)
    shape = img.shape[:2] + (1,) if gray else img.shape
    noisy = img + rng.normal(0.0, sigma, shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def gaussian_blur(pixels: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation ``sigma`` pixels on each channel (reflecting edges).

    Example
    -------
    >>> gaussian_blur(np.zeros((8, 8, 3), np.uint8), 1.5).shape
    (8, 8, 3)
    """
    img = np.asarray(pixels, np.float64)
    if sigma <= 0:
        return np.asarray(pixels, np.uint8).copy()
    spatial = (sigma, sigma) + (0,) * (img.ndim - 2)
    return np.clip(np.rint(ndimage.gaussian_filter(img, spatial, mode="reflect")), 0, 255).astype(
        np.uint8)


def halftone(pixels: np.ndarray, period: float = 4.0, angle: float = 45.0) -> np.ndarray:
    """Printed halftone screening: each channel becomes a clustered-dot pattern, then scanned.

    Parameters
    ----------
    pixels : (H, W, 3) uint8
    period : float
        Screen period in pixels (dots per ``period``).
    angle : float
        Screen angle in degrees; each channel's screen is turned a further 15 degrees, as in print.

    Returns
    -------
    (H, W, 3) uint8 with values 0 or 255 per channel, lightly blurred as a scanner would.

    Example
    -------
    >>> halftone(np.full((16, 16, 3), 128, np.uint8)).dtype
    dtype('uint8')
    """
    h, w = pixels.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty_like(pixels)
    for c in range(3):
        theta = np.deg2rad(angle + 15.0 * c)
        u = (x * np.cos(theta) + y * np.sin(theta)) * (2 * np.pi / period)
        v = (-x * np.sin(theta) + y * np.cos(theta)) * (2 * np.pi / period)
        screen = (np.cos(u) * np.cos(v) + 1.0) / 2.0  # dots grow from the cell centres
        out[..., c] = np.where(pixels[..., c] / 255.0 > screen, 255, 0)
    return gaussian_blur(out, 0.5)


def jpeg_compress(pixels: np.ndarray, quality: int) -> np.ndarray:
    """Encode as baseline JPEG at ``quality`` (1..95) with Pillow and decode again.

    Example
    -------
    >>> jpeg_compress(np.zeros((16, 16, 3), np.uint8), 20).shape
    (16, 16, 3)
    """
    img = np.asarray(pixels, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB" if img.ndim == 3 else "L"))


def degrade(pixels: np.ndarray, *, noise: float = 0.0, blur: float = 0.0, jpeg: int = 0,
            seed: int | np.random.Generator = 0) -> np.ndarray:
    """Blur, then add noise, then JPEG-compress (each step only when asked for).

    Example
    -------
    >>> degrade(np.full((16, 16, 3), 99, np.uint8), noise=5, blur=1.0, jpeg=50).shape
    (16, 16, 3)
    """
    out = np.asarray(pixels, np.uint8)
    if blur > 0:
        out = gaussian_blur(out, blur)
    if noise > 0:
        out = add_gaussian_noise(out, noise, seed=seed)
    if jpeg > 0:
        out = jpeg_compress(out, jpeg)
    return out
