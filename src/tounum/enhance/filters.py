"""Classical enhancement filters: one function per operation, uint8 arrays in and out.

Every function takes an (H, W, 3) RGB or (H, W) grey uint8 image and returns the same shape
and dtype. Strengths are explicit parameters; :mod:`tounum.enhance.policy` chooses them from
the measurements of :mod:`tounum.enhance.quality`.
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from tounum.enhance.quality import is_gray

CLIENT_KERNEL = np.array([[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]], np.float32)


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _per_gray(pixels: np.ndarray, grey_fn, colour_fn) -> np.ndarray:
    """Run ``grey_fn`` on one channel for grey images (kept grey), else ``colour_fn`` on RGB."""
    img = np.asarray(pixels, np.uint8)
    if img.ndim == 2:
        return grey_fn(img)
    if is_gray(img):
        return np.repeat(grey_fn(np.ascontiguousarray(img[..., 0]))[..., None], 3, axis=2)
    return colour_fn(np.ascontiguousarray(img[..., :3]))


def client_nlm(pixels: np.ndarray) -> np.ndarray:
    """The client's baseline denoiser: ``cv2.fastNlMeansDenoisingColored(img, None, 10, 10, 7, 15)``.

    Example
    -------
    >>> client_nlm(np.full((32, 32, 3), 100, np.uint8)).shape
    (32, 32, 3)
    """
    img = np.asarray(pixels, np.uint8)
    rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    out = cv2.fastNlMeansDenoisingColored(bgr, None, 10, 10, 7, 15)[..., ::-1]
    return out[..., 0].copy() if img.ndim == 2 else np.ascontiguousarray(out)


def client_laplacian(pixels: np.ndarray) -> np.ndarray:
    """The client's baseline sharpener: the 3x3 kernel [[-1,-1,-1],[-1,9,-1],[-1,-1,-1]].

    Example
    -------
    >>> client_laplacian(np.full((8, 8, 3), 50, np.uint8))[4, 4].tolist()
    [50, 50, 50]
    """
    img = np.asarray(pixels, np.uint8)
    return cv2.filter2D(img, -1, CLIENT_KERNEL, borderType=cv2.BORDER_REFLECT_101)


# Tuned by benchmarks/enhance_tune.py on train400_gray and Flickr8k train (sigma 15/25/50):
# OpenCV's colour variant filters CIELAB, where the noise is weaker, so it wants a smaller h.
NLM_H_RATIO_GREY, NLM_H_RATIO_COLOUR = 1.0, 0.7


def nlm(pixels: np.ndarray, sigma: float, *, h_ratio: float | None = None, template: int = 5,
        search: int = 11) -> np.ndarray:
    """Non-local means with its strength set from the noise level: ``h = h_ratio * sigma``.

    Colour images use OpenCV's colour variant (luminance and chroma filtered in CIELAB);
    grey images the one-channel variant.

    Parameters
    ----------
    sigma : estimated noise standard deviation (0..255 scale).
    h_ratio : filter strength per unit of sigma; default: the tuned value for grey or colour.
    template, search : patch and search window sizes (odd).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(128 + rng.normal(0, 20, (48, 48, 3)), 0, 255).astype(np.uint8)
    >>> float(nlm(noisy, 20).std()) < float(noisy.std())
    True
    """
    def grey(ch):
        h = max(float((h_ratio or NLM_H_RATIO_GREY) * sigma), 0.1)
        return cv2.fastNlMeansDenoising(ch, None, h, template, search)

    def colour(rgb):
        h = max(float((h_ratio or NLM_H_RATIO_COLOUR) * sigma), 0.1)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        return np.ascontiguousarray(
            cv2.fastNlMeansDenoisingColored(bgr, None, h, h, template, search)[..., ::-1])

    return _per_gray(pixels, grey, colour)


def bilateral(pixels: np.ndarray, sigma: float, *, colour_ratio: float = 4.0,
              spatial: float = 2.0) -> np.ndarray:
    """Bilateral filter, range sigma ``colour_ratio * sigma``, spatial sigma ``spatial`` pixels.

    The defaults were tuned by benchmarks/enhance_tune.py on Flickr8k train photos.

    Example
    -------
    >>> bilateral(np.zeros((16, 16, 3), np.uint8), 10).dtype
    dtype('uint8')
    """
    diameter = int(2 * round(2 * spatial) + 1)
    return _per_gray(
        pixels,
        lambda ch: cv2.bilateralFilter(ch, diameter, colour_ratio * sigma, spatial),
        lambda rgb: cv2.bilateralFilter(rgb, diameter, colour_ratio * sigma, spatial),
    )


def wavelet(pixels: np.ndarray, sigma: float) -> np.ndarray:
    """BayesShrink wavelet denoising (``skimage.restoration.denoise_wavelet``), YCbCr for colour.

    Example
    -------
    >>> wavelet(np.zeros((16, 16, 3), np.uint8), 10).shape
    (16, 16, 3)
    """
    from skimage.restoration import denoise_wavelet

    s = max(sigma, 0.1) / 255.0

    def grey(ch):
        return _u8(255 * denoise_wavelet(ch / 255.0, sigma=s, method="BayesShrink", mode="soft",
                                         wavelet="db2", rescale_sigma=True))

    def colour(rgb):
        return _u8(255 * denoise_wavelet(rgb / 255.0, sigma=s, method="BayesShrink", mode="soft",
                                         wavelet="db2", channel_axis=-1, convert2ycbcr=True,
                                         rescale_sigma=True))

    return _per_gray(pixels, grey, colour)


def unsharp(pixels: np.ndarray, *, radius: float = 1.0, amount: float = 0.8,
            noise_sigma: float = 0.0) -> np.ndarray:
    """Unsharp masking whose amount falls with the noise, and which leaves noise-sized detail alone.

    The detail layer (image minus its Gaussian blur) is scaled by
    ``amount / (1 + (noise_sigma / 5)^2)`` and soft-thresholded at twice the noise the detail layer
    carries, so that flat noisy areas are not sharpened.

    Example
    -------
    >>> step = np.zeros((8, 8, 3), np.uint8); step[:, 4:] = 100
    >>> int(unsharp(step, amount=1.0)[0, 4, 0]) > 100
    True
    """
    img = np.asarray(pixels, np.float64)
    spatial = (radius, radius) + (0,) * (img.ndim - 2)
    detail = img - ndimage.gaussian_filter(img, spatial, mode="reflect")
    gain = amount / (1.0 + (noise_sigma / 5.0) ** 2)
    threshold = 2.0 * noise_sigma * 0.6  # the detail layer keeps ~60% of white noise's std
    detail = np.sign(detail) * np.maximum(np.abs(detail) - threshold, 0.0)
    return _u8(img + gain * detail)


def wiener(pixels: np.ndarray, blur_sigma: float, noise_sigma: float, *,
           regularisation: float = 0.3, max_gain: float = 0.0) -> np.ndarray:
    """Wiener deconvolution of a Gaussian blur of ``blur_sigma`` pixels.

    The signal spectrum is modelled as ``c / f^2`` (natural images), fitted to the image, so the
    inverse filter is damped where noise of ``noise_sigma`` dominates. Borders are mirrored
    to avoid wrap-around ringing. ``max_gain`` > 0 caps the filter's gain at any frequency,
    which bounds what an overestimated blur or underestimated noise can amplify (JPEG
    artefacts, a denoiser's leftovers).

    Example
    -------
    >>> wiener(np.full((16, 20, 3), 80, np.uint8), 1.5, 2.0).shape
    (16, 20, 3)
    """
    if blur_sigma <= 0:
        return np.asarray(pixels, np.uint8).copy()
    img = np.asarray(pixels, np.float32)  # float32 transforms: ample for an 8-bit result
    chans = img[..., None] if img.ndim == 2 else img
    h, w = chans.shape[:2]
    pad = int(np.ceil(4 * blur_sigma)) + 8
    # mirrored by at least ``pad`` on each side, then on to sizes whose FFT is fast
    ph, pw = (sfft.next_fast_len(n + 2 * pad, real=True) for n in (h, w))
    padded = np.pad(chans, ((pad, ph - h - pad), (pad, pw - w - pad), (0, 0)), mode="symmetric")
    fy = np.fft.fftfreq(ph).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(pw).astype(np.float32)[None, :]
    otf = np.exp(-2 * (np.pi * blur_sigma) ** 2 * (fx**2 + fy**2))[..., None]
    f2 = np.maximum(fx**2 + fy**2, 1.0 / max(ph, pw) ** 2)
    spectrum = sfft.rfft2(padded, axes=(0, 1))
    # Fit each channel's 1/f^2 prior constant to the observed power at mid frequencies.
    band = (f2 > 0.01) & (f2 < 0.04)
    power = np.abs(spectrum[band]) ** 2 / (ph * pw)  # (frequencies, channels)
    c_prior = np.maximum(np.median((power - noise_sigma**2) * f2[band][:, None], axis=0), 1e-3)
    nsr = regularisation * max(noise_sigma, 0.5) ** 2 * f2[..., None] / c_prior
    gain = otf / (otf**2 + nsr)
    if max_gain > 0:
        gain = np.minimum(gain, max_gain)
    restored = sfft.irfft2(spectrum * gain, s=(ph, pw), axes=(0, 1))[pad:pad + h, pad:pad + w]
    return _u8(restored[..., 0] if img.ndim == 2 else restored)


def richardson_lucy(pixels: np.ndarray, blur_sigma: float, *, iterations: int = 10) -> np.ndarray:
    """Richardson-Lucy deconvolution of a Gaussian blur (``skimage.restoration.richardson_lucy``).

    Example
    -------
    >>> richardson_lucy(np.full((16, 16, 3), 80, np.uint8), 1.0, iterations=2).shape
    (16, 16, 3)
    """
    from skimage.restoration import richardson_lucy as rl

    if blur_sigma <= 0:
        return np.asarray(pixels, np.uint8).copy()
    radius = int(np.ceil(3 * blur_sigma))
    impulse = np.zeros((2 * radius + 1,) * 2)
    impulse[radius, radius] = 1.0
    psf = ndimage.gaussian_filter(impulse, blur_sigma)

    def grey(ch):
        padded = np.pad(ch / 255.0, radius, mode="symmetric")
        return _u8(255 * rl(padded, psf, num_iter=iterations, clip=True)[radius:-radius, radius:-radius])

    def colour(rgb):
        return np.stack([grey(rgb[..., c]) for c in range(3)], axis=2)

    return _per_gray(pixels, grey, colour)
