"""Scan-condition augmentations: (H, W, 3) uint8 in, (H', W', 3) uint8 out, seeded.

Each function is one thing a scanner, a printer or old paper does to a document (noise, blur,
JPEG and halftone screening come from :mod:`tounum.enhance.degrade`); :func:`scan_view`
draws a random combination of them so that the classifier learns what a photo or a text page *is*
rather than the quirks of the training sources (image size, JPEG grain, white receipt paper).
"""

from __future__ import annotations

import cv2
import numpy as np

from tounum.enhance.degrade import add_gaussian_noise, gaussian_blur, halftone, jpeg_compress

Seed = int | np.random.Generator | None

INPUT_SIZE = 224  # a backbone input side (Lite0's; Lite2's 260 sees them 16% coarser): screens are sized for it


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def greyscale(pixels: np.ndarray) -> np.ndarray:
    """Luminance (ITU-R 601) copied to three channels, as a greyscale scan.

    Example
    -------
    >>> greyscale(np.zeros((2, 2, 3), np.uint8)).shape
    (2, 2, 3)
    """
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    return np.repeat(grey[..., None], 3, axis=2)


def paper_tint(pixels: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """Yellowed paper: whites turn cream, dark ink stays dark (a multiplicative tint).

    ``strength`` 0 leaves the image unchanged, 1 is strongly aged paper.

    Example
    -------
    >>> paper_tint(np.full((1, 1, 3), 255, np.uint8), 1.0)[0, 0].tolist()
    [242, 222, 178]
    """
    aged = np.array([0.95, 0.87, 0.70])
    tint = 1.0 - strength * (1.0 - aged)
    return _to_uint8(pixels * tint)


def aged_print(pixels: np.ndarray, tone: float = 1.0, fade: float = 0.25, grain: float = 10.0,
               vignette: float = 0.5, seed: Seed = 0) -> np.ndarray:
    """An old photographic print: toned monochrome, faded contrast, film grain, darkened corners.

    Heritage collections are full of such prints; a photograph that only ever looked like a modern
    colour picture in training is taken for a painting once it is sepia and faded.

    Parameters
    ----------
    pixels : (H, W, 3) uint8
    tone : float
        0: neutral grey, 1: sepia (browns; highlights cream).
    fade : float
        Share of contrast lost towards mid-grey (0: none).
    grain : float
        Standard deviation of the grain (grey levels), blurred to the size a grain has at the
        backbone's input (:data:`INPUT_SIZE`), whatever the image size.
    vignette : float
        Darkening in the corners (0: none).
    seed : int or numpy Generator

    Example
    -------
    >>> aged_print(np.full((8, 8, 3), 255, np.uint8), fade=0.0, grain=0.0, vignette=0.0)[0, 0].tolist()
    [255, 242, 191]
    """
    rng = _rng(seed)
    h, w = pixels.shape[:2]
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = (1.0 - fade) * grey + fade * 120.0
    if grain:
        noise = rng.normal(0.0, grain, (h, w)).astype(np.float32)
        grey += cv2.GaussianBlur(noise, (0, 0), 0.7 * max(h, w) / INPUT_SIZE)
    if vignette:
        yy, xx = np.mgrid[-1:1:h * 1j, -1:1:w * 1j]
        grey *= (1.0 - vignette * (xx ** 2 + yy ** 2) / 2.0).astype(np.float32)
    colour = 1.0 + tone * (np.array([1.07, 0.95, 0.75], np.float32) - 1.0)
    return _to_uint8(grey[..., None] * colour)


def random_halftone(pixels: np.ndarray, seed: Seed = None) -> np.ndarray:
    """:func:`halftone` at a random angle and a period of 2.5-6 pixels at the backbone's input.

    The period is drawn relative to :data:`INPUT_SIZE`, whatever the image size: a fixed period
    in image pixels would vanish in the resize of large scans and teach nothing. The screen of
    :func:`scan_view`.

    Example
    -------
    >>> random_halftone(np.full((32, 32, 3), 128, np.uint8), seed=0).shape
    (32, 32, 3)
    """
    rng = _rng(seed)
    return halftone(pixels, rng.uniform(2.5, 6.0) * max(pixels.shape[:2]) / INPUT_SIZE, rng.uniform(0, 90))


def bleed_through(pixels: np.ndarray, other: np.ndarray, strength: float = 0.15) -> np.ndarray:
    """The faint, mirrored image of the other side of the page showing through.

    Parameters
    ----------
    pixels : (H, W, 3) uint8
    other : (h, w, 3) uint8
        The page on the back; resized to ``pixels`` and mirrored left-right.
    strength : float
        How much the back's ink darkens the front (0: none).

    Example
    -------
    >>> bleed_through(np.full((4, 4, 3), 255, np.uint8), np.zeros((2, 2, 3), np.uint8), 0.2)[0, 0, 0]
    np.uint8(204)
    """
    h, w = pixels.shape[:2]
    back = cv2.resize(greyscale(other), (w, h), interpolation=cv2.INTER_AREA)[:, ::-1]
    ink = 1.0 - back.astype(np.float32) / 255.0
    return _to_uint8(pixels * (1.0 - strength * ink))


def rotate90(pixels: np.ndarray, k: int = 1) -> np.ndarray:
    """Rotate by ``k`` quarter turns counter-clockwise (a page fed sideways).

    Example
    -------
    >>> rotate90(np.zeros((2, 3, 3), np.uint8)).shape
    (3, 2, 3)
    """
    return np.ascontiguousarray(np.rot90(pixels, k))


def random_crop(pixels: np.ndarray, min_fraction: float = 0.6, seed: Seed = None) -> np.ndarray:
    """A random crop keeping at least ``min_fraction`` of each side (a partial scan or a detail).

    Example
    -------
    >>> random_crop(np.zeros((10, 10, 3), np.uint8), 0.5, seed=0).shape[0] >= 5
    True
    """
    rng = _rng(seed)
    h, w = pixels.shape[:2]
    ch = max(1, int(round(h * rng.uniform(min_fraction, 1.0))))
    cw = max(1, int(round(w * rng.uniform(min_fraction, 1.0))))
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    return np.ascontiguousarray(pixels[top:top + ch, left:left + cw])


def add_border(pixels: np.ndarray, width: float = 0.08, colour: tuple[int, int, int] = (255, 255, 255),
               ) -> np.ndarray:
    """Surround with a margin ``width`` (fraction of the longer side) of ``colour`` (page or scanner bed).

    Example
    -------
    >>> add_border(np.zeros((10, 10, 3), np.uint8), 0.1).shape
    (12, 12, 3)
    """
    pad = int(round(width * max(pixels.shape[:2])))
    return cv2.copyMakeBorder(pixels, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=tuple(map(int, colour)))


def scan_view(pixels: np.ndarray, seed: Seed = None, other: np.ndarray | None = None, *, grey: float = 0.3,
              screen: float = 0.25, aged: float = 0.0) -> np.ndarray:
    """A random "as scanned" version of an image: a few of the operations above, in scan order.

    Geometry first (crop, border, quarter turn), then the paper (tint, bleed-through, greyscale,
    old print, halftone), then the scanner (blur, noise, JPEG). Each step is drawn independently, so some views
    stay nearly clean.

    Parameters
    ----------
    pixels : (H, W, 3) uint8
    seed : int or numpy Generator
    other : (h, w, 3) uint8, optional
        Another image to show through as bleed-through.
    grey, screen, aged : float
        Chance of the greyscale, of the halftone and of the old-print (:func:`aged_print`) step;
        ``aged`` 0 draws nothing, so the views stay those drawn before the step existed.

    Example
    -------
    >>> scan_view(np.zeros((32, 32, 3), np.uint8), seed=1).dtype
    dtype('uint8')
    """
    rng = _rng(seed)
    out = pixels
    if rng.random() < 0.4:
        out = random_crop(out, 0.6, rng)
    if rng.random() < 0.3:
        paper = rng.integers(200, 256)
        bed = rng.integers(0, 60)
        out = add_border(out, rng.uniform(0.02, 0.15), (paper,) * 3 if rng.random() < 0.7 else (bed,) * 3)
    if rng.random() < 0.25:
        out = rotate90(out, int(rng.integers(1, 4)))
    if rng.random() < 0.3:
        out = paper_tint(out, rng.uniform(0.3, 1.0))
    if other is not None and rng.random() < 0.2:
        out = bleed_through(out, other, rng.uniform(0.05, 0.25))
    if rng.random() < grey:
        out = greyscale(out)
    if aged and rng.random() < aged:
        out = aged_print(out, rng.uniform(0.0, 1.0), rng.uniform(0.0, 0.35), rng.uniform(0.0, 12.0),
                         rng.uniform(0.0, 0.6), rng)
    if rng.random() < screen:
        out = random_halftone(out, rng)
    if rng.random() < 0.3:
        out = gaussian_blur(out, rng.uniform(0.5, 2.0))
    if rng.random() < 0.4:
        out = add_gaussian_noise(out, rng.uniform(3, 25), seed=rng)
    if rng.random() < 0.5:
        out = jpeg_compress(out, int(rng.integers(20, 90)))
    return out


DEGRADATIONS = {
    "noise15": lambda p: add_gaussian_noise(p, 15.0, seed=0),
    "blur1.5": lambda p: gaussian_blur(p, 1.5),
    "jpeg30": lambda p: jpeg_compress(p, 30),
    "grey": greyscale,
    "halftone": halftone,
    "aged": aged_print,
}
"""The fixed degradations of the robustness table (issue 5), by name."""
