"""Full-reference scores of a restored image against the clean one (PSNR, SSIM)."""

from __future__ import annotations

import numpy as np


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images (inf when identical).

    Example
    -------
    >>> a = np.zeros((4, 4), np.uint8); b = a.copy(); b[0, 0] = 255
    >>> round(psnr(a, b), 2)
    12.04
    """
    ref = np.asarray(reference, np.float64)
    mse = float(np.mean((ref - np.asarray(image, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """Structural similarity (``skimage.metrics.structural_similarity``, Gaussian window), over
    channels for colour images.

    Example
    -------
    >>> a = np.full((16, 16, 3), 90, np.uint8)
    >>> ssim(a, a)
    1.0
    """
    from skimage.metrics import structural_similarity

    ref, img = np.asarray(reference), np.asarray(image)
    return float(structural_similarity(ref, img, data_range=255, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False,
                                       channel_axis=-1 if ref.ndim == 3 else None))
