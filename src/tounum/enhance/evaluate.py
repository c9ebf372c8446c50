"""Degrade clean images, restore them blind, and score the result (``tounum evaluate enhance``)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np

from tounum.config import EnhanceConfig
from tounum.enhance.degrade import degrade
from tounum.enhance.policy import enhance
from tounum.enhance.score import psnr, ssim

KEYS = ("n_images", "psnr_in", "psnr_out", "ssim_in", "ssim_out", "seconds_per_megapixel")
# PSNR of identical images is infinite; averages use this cap (what 8-bit rounding allows).
PSNR_CAP = 100.0


def evaluate_images(images: Iterable[np.ndarray], *, noise: float = 0.0, blur: float = 0.0,
                    jpeg: int = 0, config: EnhanceConfig | None = None, seed: int = 0) -> dict:
    """Mean PSNR/SSIM of degraded and restored images against the clean ones, and speed.

    Image ``i`` is degraded with seed ``seed + i`` (blur, then noise, then JPEG), restored by
    :func:`tounum.enhance.enhance` with ``config`` (which never sees the clean image or the
    degradation), and scored.

    Returns
    -------
    dict with ``n_images``, ``psnr_in``, ``psnr_out``, ``ssim_in``, ``ssim_out`` (means) and
    ``seconds_per_megapixel`` (total enhancement wall time over total megapixels, after an
    untimed warm-up call on a corner of the first image) and
    ``cpu_seconds_per_megapixel`` (CPU time of all threads: what a shared machine distorts less).

    Example
    -------
    >>> clean = [np.tile(np.arange(64, dtype=np.uint8) * 3, (48, 1))[..., None].repeat(3, 2)]
    >>> result = evaluate_images(clean, noise=10, config=EnhanceConfig(method="bilateral"))
    >>> result["n_images"], result["psnr_out"] > result["psnr_in"]
    (1, True)
    """
    rows, seconds, cpu_seconds, megapixels = [], 0.0, 0.0, 0.0
    for i, clean in enumerate(images):
        degraded = degrade(clean, noise=noise, blur=blur, jpeg=jpeg, seed=seed + i)
        if i == 0:  # untimed warm-up on a corner: imports and model loading are not speed
            enhance(degrade(clean[:96, :96], noise=noise, blur=blur, jpeg=jpeg, seed=seed), config)
        start, cpu_start = time.perf_counter(), time.process_time()
        restored = enhance(degraded, config).pixels
        seconds += time.perf_counter() - start
        cpu_seconds += time.process_time() - cpu_start
        megapixels += clean.shape[0] * clean.shape[1] / 1e6
        rows.append((min(psnr(clean, degraded), PSNR_CAP), min(psnr(clean, restored), PSNR_CAP),
                     ssim(clean, degraded), ssim(clean, restored)))
    if not rows:
        raise ValueError("no images to evaluate")
    means = np.mean(rows, axis=0)
    return {"n_images": len(rows), "psnr_in": round(float(means[0]), 3),
            "psnr_out": round(float(means[1]), 3), "ssim_in": round(float(means[2]), 4),
            "ssim_out": round(float(means[3]), 4),
            "seconds_per_megapixel": round(seconds / megapixels, 3),
            "cpu_seconds_per_megapixel": round(cpu_seconds / megapixels, 3)}
