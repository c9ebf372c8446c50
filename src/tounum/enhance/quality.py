"""Measurements of an image's quality: noise level and blur, each robust to the other.

The noise estimator is the patch-PCA method of Chen, Zhu and Heng (ICCV 2015): the covariance
of small patches has the noise variance as its smallest eigenvalues, whatever the texture.
Patches whose mean is close to 0 or 255 are left out (clipping lowers their variance there).

The blur measure follows the "reblur" idea (Crete et al. 2007) with the noise removed
analytically: gradient energy at a smoothing scale, and again at a coarser scale; a blurred
image loses little energy when blurred again. The known noise variance times the squared filter
norm is subtracted from each energy first, so that noise is not read as sharpness (unlike the
variance of the Laplacian). The ratio is mapped to an equivalent Gaussian blur through a
calibration on train images.

Two more measures guard the policy against reading the wrong thing as noise. Line art (text
pages, drawings, schematics: mostly paper and ink) has almost no flat patch away from 0/255,
so the patch estimator reads its strokes as noise; there the median absolute response of a
noise-only Laplacian mask (Immerkaer 1996, made robust with the median) measures the paper's
own noise. JPEG blocking shows as extra luminance steps on one column and row phase of an
8-pixel grid.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

_LUMA = np.array([0.299, 0.587, 0.114])
_PATCH = 7
_MAX_PATCHES = 15_000
_SMOOTH = 1.0  # gradient scale of the blur measure (pixels): averages noise away
_REBLUR = 2.0  # extra scale of the reblurred measurement


@dataclass
class Quality:
    """What the enhancement policy needs to know about one image.

    noise_sigma: estimated Gaussian noise standard deviation per channel, 0..255 scale.
    blur_sigma: Gaussian blur (pixels) relative to a typical sharp photograph (0 when sharp).
    sharpness: 1 - reblur ratio, in [0, 1]; about 0.7 for sharp photos, lower when blurred;
        noise does not inflate it.
    laplacian_variance: the client's sharpness metric, for comparison (noise inflates it).
    is_gray: the three channels are equal.
    flat_noise_sigma: noise read from the median Laplacian response (paper areas on line art).
    paper_fraction: share of pixels near the commonest grey level or far darker (paper and ink).
    is_line_art: paper and ink make up the image and the flat areas are far cleaner than the
        patch estimate says (strokes read as noise): the policy uses ``flat_noise_sigma``.
    blockiness: luminance steps on the strongest 8-pixel grid phase over the others (about 1.0
        without JPEG blocking, 1.4 and more at JPEG quality 20-40).
    spectral_blur_sigma: Gaussian blur (pixels) fitted to the power spectrum; no calibration,
        about 0.3 on sharp photographs; precise while the noise is low (what deblurring uses).
    """

    noise_sigma: float
    blur_sigma: float
    sharpness: float
    laplacian_variance: float
    is_gray: bool
    flat_noise_sigma: float = 0.0
    paper_fraction: float = 0.0
    is_line_art: bool = False
    blockiness: float = 1.0
    spectral_blur_sigma: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _as_float_channels(pixels: np.ndarray) -> np.ndarray:
    img = np.asarray(pixels)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")
    return img[..., :3].astype(np.float64)


def is_gray(pixels: np.ndarray) -> bool:
    """True when an RGB image has three equal channels (a grey scan stored as colour)."""
    img = np.asarray(pixels)
    if img.ndim == 2 or img.shape[2] == 1:
        return True
    return bool(np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Float64 luminance (Rec. 601 weights) of an (H, W, 3) or (H, W) image, 0..255 scale."""
    img = _as_float_channels(pixels)
    return img[..., 0] if img.shape[2] == 1 else img @ _LUMA


def _tail_sigma(patches: np.ndarray) -> float:
    """Chen et al. (2015): sqrt of the mean of the eigenvalues left once mean <= median."""
    centred = patches - patches.mean(axis=0)
    eig = np.clip(np.linalg.eigvalsh(centred.T @ centred / len(centred)), 0.0, None)  # ascending
    for k in range(len(eig), 0, -1):
        tail = eig[:k]
        tau = tail.mean()
        if np.sum(tail > tau) >= np.sum(tail < tau):  # mean no longer above the median
            return float(np.sqrt(tau))
    return float(np.sqrt(eig[0]))


def _box_sums(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Sums of ``values`` over every rows x cols window (top-left anchored), valid part only."""
    sums = cv2.boxFilter(values.astype(np.float32), -1, (cols, rows), anchor=(0, 0),
                         normalize=False, borderType=cv2.BORDER_CONSTANT)
    return sums[: values.shape[0] - rows + 1, : values.shape[1] - cols + 1]


def _texture(channel: np.ndarray) -> np.ndarray:
    """Per 7x7 patch: summed squared horizontal and vertical differences (Liu et al. 2013)."""
    p = _PATCH
    dh = _box_sums(np.diff(channel, axis=1) ** 2, p, p - 1)  # (h-p+1, w-p+1)
    dv = _box_sums(np.diff(channel, axis=0) ** 2, p - 1, p)
    return dh + dv


@functools.lru_cache(maxsize=1)
def _texture_quantile() -> float:
    """99th percentile of the texture statistic of pure unit-variance noise (simulated once)."""
    noise = np.random.default_rng(12345).normal(size=(400, 400))
    return float(np.quantile(_texture(noise), 0.99))


def _flat_patches(channel: np.ndarray, count: int, rng: np.random.Generator):
    """A random subset of ``count`` 7x7 patches of one channel: (patches, texture, means)."""
    h, w = channel.shape
    if h < _PATCH or w < _PATCH:
        raise ValueError(f"image too small to measure noise ({h}x{w}, need {_PATCH}x{_PATCH})")
    view = sliding_window_view(channel, (_PATCH, _PATCH))
    texture = _texture(channel).reshape(-1)
    pick = np.arange(len(texture))
    if len(pick) > count:  # a random subset: the cost stays bounded on large scans
        pick = rng.choice(len(pick), count, replace=False)
    rows, cols = np.divmod(pick, view.shape[1])
    windows = view[rows, cols].reshape(len(pick), -1).astype(np.float32)
    return windows, texture[pick], windows.mean(axis=1)


def _pca_noise(windows: np.ndarray, texture: np.ndarray, means: np.ndarray) -> float:
    """Noise std from weakly textured patches (Liu et al. 2013 selection, Chen et al. 2015
    eigenvalue tail), iterated until the selection settles."""
    sigma = _tail_sigma(windows)
    for _ in range(6):
        # Flat patches only (texture within what noise of this sigma explains), and away from
        # 0/255 by 2 sigma, where clipping shrinks the noise.
        margin = 2.0 * sigma
        keep = (texture <= _texture_quantile() * sigma**2) & (means > margin) & (means < 255 - margin)
        if keep.sum() < 4 * windows.shape[1]:
            break
        previous, sigma = sigma, _tail_sigma(windows[keep])
        if abs(sigma - previous) <= 2e-3 * previous:
            break
    return sigma


def estimate_noise(pixels: np.ndarray, *, seed: int = 0) -> float:
    """Standard deviation of additive Gaussian noise, per channel, on the 0..255 scale.

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) array, uint8 or float on 0..255.
    seed : patches are subsampled on large images; the seed makes that reproducible.

    Returns
    -------
    float
        The estimated sigma (the mean over colour channels; one channel for grey images).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> flat = np.full((128, 128, 3), 120.0)
    >>> noisy = np.clip(flat + rng.normal(0, 20, flat.shape), 0, 255).astype(np.uint8)
    >>> 18 < estimate_noise(noisy) < 22
    True
    """
    img = _as_float_channels(pixels)
    rng = np.random.default_rng(seed)
    channels = [img[..., 0]] if is_gray(pixels) else [img[..., c] for c in range(img.shape[2])]
    # Patches of all channels pooled: one estimate of the (assumed common) channel noise.
    parts = [_flat_patches(c, _MAX_PATCHES // len(channels), rng) for c in channels]
    return _pca_noise(*(np.concatenate(p) for p in zip(*parts)))


@functools.lru_cache(maxsize=8)
def _gaussian_kernels(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """1-D Gaussian and Gaussian-derivative kernels of ``scale`` (SciPy's, truncated at 4)."""
    radius = int(4.0 * scale + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    return (ndimage.gaussian_filter1d(impulse, scale, order=0).astype(np.float32),
            ndimage.gaussian_filter1d(impulse, scale, order=1).astype(np.float32))


def _gradient_energy(y: np.ndarray, scale: float, noise_var: float) -> float:
    """Mean squared Gaussian-derivative gradient at ``scale``, minus the noise's share."""
    g, dg = _gaussian_kernels(scale)
    y32 = y.astype(np.float32)
    gx = cv2.sepFilter2D(y32, -1, dg, g, borderType=cv2.BORDER_REFLECT)
    gy = cv2.sepFilter2D(y32, -1, g, dg, borderType=cv2.BORDER_REFLECT)
    energy = float(np.mean(gx[8:-8, 8:-8] ** 2 + gy[8:-8, 8:-8] ** 2, dtype=np.float64))
    # The noise share: noise_var times the squared norm of the two separable kernels.
    return energy - noise_var * 2.0 * float(np.sum(g**2) * np.sum(dg**2))


def reblur_ratio(pixels: np.ndarray, noise_sigma: float | None = None) -> float:
    """Gradient energy after a further Gaussian blur, over the energy before, noise removed.

    Near 0.25 for a sharp photograph, rising towards 1 as the image gets blurrier; additive
    noise of the given sigma is subtracted from both energies, so it does not read as detail.
    0 when there are no edges to measure (a flat page): no evidence of blur.

    Example
    -------
    >>> step = np.zeros((64, 64)); step[:, 32:] = 200.0
    >>> reblur_ratio(step, 0.0) < reblur_ratio(ndimage.gaussian_filter(step, 2.0), 0.0)
    True
    """
    if noise_sigma is None:
        noise_sigma = estimate_noise(pixels)
    # Luminance noise: channel noise times the norm of the weights (independent channels).
    noise_var = noise_sigma**2 * (1.0 if is_gray(pixels) else float(np.sum(_LUMA**2)))
    y = luminance(pixels)
    e1 = _gradient_energy(y, _SMOOTH, noise_var)
    e2 = _gradient_energy(y, float(np.hypot(_SMOOTH, _REBLUR)), noise_var)
    if e1 <= 1.0:  # flat or smooth shading (or pure noise): no edges, no evidence of blur
        return 0.0
    return float(np.clip(e2 / e1, 0.0, 1.0))


# Median reblur ratio of Flickr8k train and train400_gray images under a known Gaussian blur
# (blur then no noise), from benchmarks/enhance_measurements.py --calibrate.
_CALIBRATION_RATIO = (0.289, 0.325, 0.421, 0.529, 0.627, 0.704, 0.760)
_CALIBRATION_BLUR = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


def estimate_blur(pixels: np.ndarray, noise_sigma: float | None = None) -> float:
    """Gaussian blur (pixels) that a typical sharp photograph would need to look like this one.

    The reblur ratio mapped through a calibration on train images; noise does not change it.

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) array on 0..255.
    noise_sigma : the per-channel noise sigma if already known (else estimated).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> texture = ndimage.gaussian_filter(rng.normal(128, 60, (96, 96)), 0.6)
    >>> estimate_blur(texture, 0.0) < estimate_blur(ndimage.gaussian_filter(texture, 2.0), 0.0)
    True
    """
    ratio = reblur_ratio(pixels, noise_sigma)
    return float(np.interp(ratio, _CALIBRATION_RATIO, _CALIBRATION_BLUR, right=4.0))


_SPECTRUM_SIDE = 512  # the spectral fit reads a central crop at most this big
_SPECTRUM_BAND = (0.03, 0.45)  # radial frequencies fitted (cycles per pixel)


def _radial_power(y: np.ndarray, bins: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of a Hann-windowed image: (frequency, power)."""
    h, w = y.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.rfft2((y - y.mean()) * window)) ** 2 / np.sum(window**2)
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]).ravel()
    edges = np.linspace(0.01, 0.5, bins + 1)
    which = np.digitize(radius, edges) - 1
    inside = (which >= 0) & (which < bins)
    counts = np.bincount(which[inside], minlength=bins)
    sums = np.bincount(which[inside], weights=power.ravel()[inside], minlength=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    filled = counts > 0
    return centres[filled], sums[filled] / counts[filled]


def spectral_blur(pixels: np.ndarray, noise_sigma: float | None = None) -> float:
    """Gaussian blur (pixels) fitted to the image's power spectrum, without calibration.

    The radially averaged spectrum of the luminance is fitted, in log scale, by
    ``A f^-alpha exp(-4 pi^2 s^2 f^2) + N``: a natural image's power law (its slope ``alpha``
    fitted per image) times a Gaussian blur's transfer function squared, plus the white noise
    floor ``N`` of the known noise (and 8-bit rounding). Fitting the slope per image is what
    makes it more precise than a calibrated edge-width measure: on CBSD68 with noise 2 its
    spread across images is 0.08-0.13 px at blur 1-2 (the reblur measure's 0.28-0.34).
    Reliable while the noise is low (the policy deconvolves only then).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> texture = ndimage.gaussian_filter(rng.normal(128, 60, (128, 128)), 0.6)
    >>> round(spectral_blur(ndimage.gaussian_filter(texture, 1.5), 0.0), 0)
    2.0
    """
    from scipy.optimize import least_squares

    if noise_sigma is None:
        noise_sigma = estimate_noise(pixels)
    y = luminance(pixels)
    h, w = y.shape
    if min(h, w) < 32:
        return 0.0
    top, left = max((h - _SPECTRUM_SIDE) // 2, 0), max((w - _SPECTRUM_SIDE) // 2, 0)
    y = y[top:top + _SPECTRUM_SIDE, left:left + _SPECTRUM_SIDE]
    freq, power = _radial_power(y)
    band = (freq > _SPECTRUM_BAND[0]) & (freq < _SPECTRUM_BAND[1])
    freq, power = freq[band], np.maximum(power[band], 1e-12)
    floor = noise_sigma**2 * (1.0 if is_gray(pixels) else float(np.sum(_LUMA**2))) + 1.0 / 12

    def residual(x: np.ndarray) -> np.ndarray:
        log_a, alpha, s = x
        model = np.exp(log_a) * freq ** (-alpha) * np.exp(-4 * np.pi**2 * s**2 * freq**2)
        return np.log(model + floor) - np.log(power)

    start = np.array([np.log(power[0] * freq[0] ** 2), 2.0, 1.0])
    fit = least_squares(residual, start, bounds=([-60.0, 0.5, 0.0], [60.0, 4.5, 5.0]))
    return float(fit.x[2])


def laplacian_variance(pixels: np.ndarray) -> float:
    """The client's sharpness metric: variance of the 3x3 Laplacian of the luminance.

    Example
    -------
    >>> laplacian_variance(np.zeros((16, 16, 3), np.uint8))
    0.0
    """
    y = luminance(pixels)
    lap = ndimage.convolve(y, np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float), mode="reflect")
    return float(lap.var())


_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)  # norm 6; flat: 0
_MAX_MEDIAN_PIXELS = 400_000  # the median of a regular subsample beyond this


def flat_noise(pixels: np.ndarray) -> float:
    """Noise sigma per channel from the median absolute response of Immerkaer's mask.

    The mask cancels flat areas and linear ramps; the median ignores the minority of pixels on
    edges and strokes. On line art (mostly paper) it measures the paper's noise; on a
    textured photograph texture raises it. Noise clipped at 0/255 (white paper) reads lower.

    Example
    -------
    >>> page = np.full((64, 64, 3), 255, np.uint8); page[20:24, 8:56] = 0
    >>> flat_noise(page)
    0.0
    """
    y = luminance(pixels).astype(np.float32)
    response = np.abs(cv2.filter2D(y, -1, _IMMERKAER, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1])
    step = int(np.ceil(np.sqrt(response.size / _MAX_MEDIAN_PIXELS)))
    luma_sigma = float(np.median(response[::step, ::step])) / (0.6745 * 6.0)
    # Back to per-channel noise: independent channel noise shrinks in the luminance sum.
    return luma_sigma / (1.0 if is_gray(pixels) else float(np.sqrt(np.sum(_LUMA**2))))


def paper_fraction(pixels: np.ndarray) -> float:
    """Share of pixels within 20 grey levels of the commonest luminance (the paper) or at
    least 60 darker than it (ink): near 1 for text pages and drawings, about 0.3 for photos.

    Example
    -------
    >>> page = np.full((64, 64), 240, np.uint8); page[10:12] = 20
    >>> paper_fraction(page)
    1.0
    """
    y = np.clip(np.rint(luminance(pixels)), 0, 255).astype(np.int64)
    hist = np.bincount(y.ravel(), minlength=256)
    paper = int(np.argmax(np.convolve(hist, np.ones(9), mode="same")))
    return float(np.mean((np.abs(y - paper) <= 20) | (y < paper - 60)))


def blockiness(pixels: np.ndarray) -> float:
    """JPEG blocking: mean luminance step across the strongest 8-pixel grid phase (columns and
    rows together) over the mean step of the other seven phases.

    About 1.0-1.2 for images without blocking, 1.35-3 at JPEG quality 20 (CBSD68).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> tiles = np.kron(rng.uniform(50, 200, (8, 8)), np.ones((8, 8))) + rng.normal(0, 2, (64, 64))
    >>> blockiness(tiles) > 2
    True
    """
    y = luminance(pixels)
    if min(y.shape) < 17:
        return 1.0
    steps = np.zeros(8)
    for axis in (0, 1):
        per_line = np.abs(np.diff(y, axis=axis)).mean(axis=1 - axis)  # line k: between k, k+1
        steps += [per_line[phase::8].mean() for phase in range(8)]
    strongest = int(np.argmax(steps))
    rest = np.delete(steps, strongest).mean()
    if steps[strongest] == 0:  # flat image
        return 1.0
    return float(min(steps[strongest] / max(rest, 1e-6), 100.0))


# Line art: paper and ink at least this share of the pixels, and the flat-area noise below
# this fraction of the patch estimate (doctype dev sketches/schematics/text: paper share
# 0.78-1.0 and flat noise 0-1 where the patch estimate reads 6-14; photos 0.15-0.98 but with
# their flat noise at or above the patch estimate; benchmarks/enhance_guard.py).
LINE_ART_PAPER = 0.75
LINE_ART_NOISE_RATIO = 0.5


def assess(pixels: np.ndarray) -> Quality:
    """Measure noise and blur of one image.

    Example
    -------
    >>> q = assess(np.full((64, 64, 3), 128, np.uint8))
    >>> q.noise_sigma < 1.0
    True
    """
    noise = estimate_noise(pixels)
    flat = flat_noise(pixels)
    paper = paper_fraction(pixels)
    line_art = paper >= LINE_ART_PAPER and flat < LINE_ART_NOISE_RATIO * noise
    ratio = reblur_ratio(pixels, flat if line_art else noise)
    return Quality(
        noise_sigma=noise,
        blur_sigma=float(np.interp(ratio, _CALIBRATION_RATIO, _CALIBRATION_BLUR, right=4.0)),
        sharpness=1.0 - ratio,
        laplacian_variance=laplacian_variance(pixels),
        is_gray=is_gray(pixels),
        flat_noise_sigma=flat,
        paper_fraction=paper,
        is_line_art=bool(line_art),
        blockiness=blockiness(pixels),
        spectral_blur_sigma=spectral_blur(pixels, flat if line_art else noise),
    )
