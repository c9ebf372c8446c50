"""The automatic enhancement policy: measure, decide, apply, check, and record what was done.

``enhance(pixels, config)`` measures noise and blur (:func:`tounum.enhance.quality.assess`),
then for ``method="auto"``:

0. a printed halftone screen (``config.descreen``: :func:`tounum.enhance.descreen.measure_screen`
   finds a lattice of at least ``descreen_min_strength``) is removed by the learned descreener
   (``descreener="learned"``; or low-passed away, ``"gaussian"``) and nothing else is done: the
   noise measure reads a screen as strong noise, and a denoiser smooths the picture around dots
   it does not remove (the copy and the classification lose; benchmarks/README.md);
1. line art (text pages, drawings, schematics: ``Quality.is_line_art``) is judged by the noise
   of its paper, not by the patch estimate, which reads strokes as noise;
2. clean input (noise below ``noise_floor``, blur below ``blur_floor``, no JPEG blocking)
   comes back unchanged;
3. JPEG blocking (``Quality.blockiness`` >= ``deblock_min_blockiness``) on an image that is
   not otherwise noisy, and not a page of paper and ink, is smoothed by a light bilateral
   filter;
4. a noisy image is denoised by ``config.denoiser`` at a strength set from the measured sigma
   (default: bilateral for colour, NLM for grey, as tuned on train images; colour images with
   sigma >= ``learned_min_noise`` go to the learned restorer, which measured better there);
   the denoising is kept only if it changed the image about as much as noise of that sigma
   explains (texture misread as noise changes far less), else it is undone;
5. a blurred image (``Quality.spectral_blur_sigma``, fitted per image to its power spectrum)
   whose input noise is low enough is deconvolved by ``config.deblurrer`` with that blur
   (Wiener: regularisation growing as the blur gets weaker, a noise floor and a gain cap, so
   JPEG grain is not amplified);
6. the result is measured again, and if it came out noisier than it went in (sharpening that
   amplified noise) the input is returned instead.

Every step is recorded as a dict (``{"op": "nlm", "h": 17.5, ...}``), so the results say what
was done to each derivative. Any single method can also be forced (``config.method``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tounum.config import ENHANCE_METHODS as METHODS
from tounum.config import EnhanceConfig
from tounum.enhance import filters
from tounum.enhance.descreen import measure_screen, remove_screen, unscreen
from tounum.enhance.quality import (LINE_ART_PAPER, Quality, assess, estimate_noise, is_gray,
                                     laplacian_variance)


@dataclass
class Enhanced:
    """An enhanced image and how it was obtained."""

    pixels: np.ndarray
    steps: list[dict] = field(default_factory=list)
    quality_before: Quality | None = None
    quality_after: Quality | None = None


def _restore(pixels: np.ndarray, config: EnhanceConfig) -> np.ndarray:
    from tounum.enhance.restorer import WEIGHTS, restore_with

    return restore_with(pixels, config.restorer_weights or str(WEIGHTS), tile=config.restorer_tile,
                        precision=config.restorer_precision, ensemble=config.restorer_ensemble)


def _denoise(pixels: np.ndarray, name: str, sigma: float, config: EnhanceConfig
             ) -> tuple[np.ndarray, dict]:
    if name == "nlm":
        ratio = filters.NLM_H_RATIO_GREY if is_gray(pixels) else filters.NLM_H_RATIO_COLOUR
        return filters.nlm(pixels, sigma), {"op": "nlm", "h": round(ratio * sigma, 2),
                                            "template": 5, "search": 11}
    if name == "bilateral":
        return filters.bilateral(pixels, sigma), {"op": "bilateral", "sigma": round(sigma, 2)}
    if name == "wavelet":
        return filters.wavelet(pixels, sigma), {"op": "wavelet", "sigma": round(sigma, 2)}
    if name == "restorer":
        return _restore(pixels, config), {"op": "restorer"}
    raise ValueError(f"unknown denoiser {name!r} (nlm, bilateral, wavelet, restorer)")


def _deblur(pixels: np.ndarray, name: str, blur: float, noise: float, config: EnhanceConfig,
            *, auto: bool = False) -> tuple[np.ndarray, dict]:
    if name == "wiener":
        if not auto:  # a forced method: the plain filter
            return filters.wiener(pixels, blur, noise), {"op": "wiener", "blur_sigma": round(blur, 2),
                                                         "noise_sigma": round(noise, 2)}
        noise = max(noise, config.deblur_noise_floor)
        # Weaker blurs want more regularisation (tuned on train images: blur 1.0 best near
        # 0.3, 1.5 near 0.1, 2.0 near 0.04).
        regularisation = config.deblur_regularisation * (1.5 / max(blur, 0.5)) ** 3
        out = filters.wiener(pixels, blur, noise, regularisation=regularisation,
                             max_gain=config.deblur_max_gain)
        return out, {"op": "wiener", "blur_sigma": round(blur, 2), "noise_sigma": round(noise, 2),
                     "regularisation": round(regularisation, 4),
                     "max_gain": config.deblur_max_gain}
    if name == "richardson_lucy":
        return filters.richardson_lucy(pixels, blur), {"op": "richardson_lucy",
                                                       "blur_sigma": round(blur, 2)}
    if name == "unsharp":
        amount = min(1.5, 0.6 * blur)
        return (filters.unsharp(pixels, radius=max(blur, 0.8), amount=amount, noise_sigma=noise),
                {"op": "unsharp", "radius": round(max(blur, 0.8), 2), "amount": round(amount, 2)})
    if name == "restorer":
        return _restore(pixels, config), {"op": "restorer"}
    raise ValueError(f"unknown deblurrer {name!r} (wiener, richardson_lucy, unsharp, restorer)")


def _client(pixels: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """The client's prototype as we read it: NLM when skimage's estimate_sigma sees noise,
    then the Laplacian kernel when the variance of the Laplacian is low (blurry)."""
    from skimage.restoration import estimate_sigma

    steps = []
    out = pixels
    sigma = 255.0 * float(np.mean(estimate_sigma(pixels / 255.0, channel_axis=-1)))
    if sigma > 2.0:
        out = filters.client_nlm(out)
        steps.append({"op": "client_nlm", "skimage_sigma": round(sigma, 2)})
    lap = laplacian_variance(out)
    if lap < 100.0:
        out = filters.client_laplacian(out)
        steps.append({"op": "client_laplacian", "laplacian_variance": round(lap, 1)})
    return out, steps


# Denoising is kept only if it removed at least this share of the measured sigma (RMS change
# over sigma). Noise of that sigma makes the bilateral filter change 0.63-0.85 sigma and NLM
# 0.26-0.9 (weaker at low sigma, where its h is small); texture misread as noise makes them
# change 0.47-0.53 and 0.1 (train images and CBSD68 clean; benchmarks/enhance_guard.py).
MIN_CHANGE = {"bilateral": 0.6, "nlm": 0.25, "wavelet": 0.25, "restorer": 0.6}


def _auto(pixels: np.ndarray, q: Quality, config: EnhanceConfig) -> tuple[np.ndarray, list[dict]]:
    if config.descreen:
        screen = measure_screen(pixels)
        if screen.screened(config.descreen_min_strength):
            step = {"op": "descreen", "method": config.descreener, "period": round(screen.period, 2),
                    "strength": round(screen.strength, 1)}
            if config.descreener == "learned":
                return unscreen(pixels, screen.period, config.descreener_weights or None,
                                tile=config.restorer_tile, precision=config.restorer_precision), [step]
            if config.descreener != "gaussian":
                raise ValueError(f"unknown descreener {config.descreener!r} (learned, gaussian)")
            return remove_screen(pixels, screen.period, config.descreen_blur), [
                {**step, "sigma": round(config.descreen_blur * screen.period, 2)}]
    steps: list[dict] = []
    noise = q.noise_sigma
    if q.is_line_art:  # strokes read as noise by the patch estimate: trust the paper
        noise = q.flat_noise_sigma
        if q.noise_sigma >= config.noise_floor:  # the guard changed the decision: say so
            steps.append({"op": "none", "reason": "line art: paper noise below patch estimate",
                          "patch_noise": round(q.noise_sigma, 2), "paper_noise": round(noise, 2),
                          "paper_fraction": round(q.paper_fraction, 3)})
    noisy = noise >= config.noise_floor
    blurred = q.spectral_blur_sigma >= config.blur_floor
    blocky = q.blockiness >= config.deblock_min_blockiness and not noisy
    if blocky and q.paper_fraction >= LINE_ART_PAPER:  # a page: smoothing would soften strokes
        steps.append({"op": "none", "reason": "JPEG blocking on a page of paper and ink: kept",
                      "blockiness": round(q.blockiness, 3),
                      "paper_fraction": round(q.paper_fraction, 3)})
        blocky = False
    if not (noisy or blurred or blocky):
        return pixels, steps
    if config.denoiser == "restorer":  # blind: one pass does both
        return _restore(pixels, config), steps + [{"op": "restorer"}]
    out = pixels
    if blocky:
        out = filters.bilateral(out, config.deblock_sigma)
        steps.append({"op": "deblock", "filter": "bilateral", "sigma": config.deblock_sigma,
                      "blockiness": round(q.blockiness, 3)})
    if noisy:
        # Tuned on train images: bilateral wins on colour photos, NLM on grey; the restorer
        # beats both on noisy colour photos (its model card), at about 3x the CPU time.
        denoiser = config.denoiser
        if denoiser == "auto" and not q.is_gray and noise >= config.learned_min_noise:
            denoiser = "restorer"
        elif denoiser == "auto":
            denoiser = "nlm" if q.is_gray else "bilateral"
        denoised, step = _denoise(out, denoiser, noise, config)
        if denoiser == "restorer":
            step["noise_sigma"] = round(noise, 2)
        change = float(np.sqrt(np.mean((denoised.astype(np.float64) - out) ** 2))) / noise
        if change >= MIN_CHANGE.get(denoiser, 0.0):
            out = denoised
            steps.append(step)
            if denoiser == "restorer":  # blind: it deblurs as well
                return out, steps
        else:
            steps.append({"op": "none", "reverted": [step], "change_over_sigma": round(change, 3),
                          "reason": "changed less than noise of the measured sigma explains "
                                    "(texture read as noise)"})
            noisy = False
    # Deconvolution only where the input had little noise (on a very noisy image the blur
    # measure is least reliable and the denoised result looks blurred anyway), and not on JPEG
    # blocking, which it would amplify.
    if blurred and not blocky and noise <= config.deblur_max_noise:
        residual_noise = estimate_noise(out) if noisy else noise
        deblurred, step = _deblur(out, config.deblurrer, q.spectral_blur_sigma, residual_noise,
                                  config, auto=True)
        overshoot = _clipped(deblurred) - _clipped(out)
        if overshoot <= MAX_NEW_CLIPPING:
            out = deblurred
            steps.append(step)
        else:
            steps.append({"op": "none", "reverted": [step], "new_clipped": round(overshoot, 4),
                          "reason": "deconvolution overshoots: pixels newly clipped at 0/255"})
    return out, steps


# Deconvolution is undone when it clips more than this share of pixels that were not clipped
# before: Gaussian-blurred train images (blur 1-2, noise 2) gained at most 3.3%; an
# upsampled photo and a text scan, which it over-sharpened, 8-9% (benchmarks/README.md).
MAX_NEW_CLIPPING = 0.05


def _clipped(pixels: np.ndarray) -> float:
    return float(np.mean((pixels == 0) | (pixels == 255)))


def enhance(pixels: np.ndarray, config: EnhanceConfig | None = None) -> Enhanced:
    """Measure one image, enhance it by the configured method or the automatic policy.

    Parameters
    ----------
    pixels : (H, W, 3) uint8 RGB (or (H, W) grey) image.
    config : ``EnhanceConfig``; ``method`` is one of ``METHODS`` ("auto" by default).

    Returns
    -------
    Enhanced
        ``pixels`` (same shape, uint8), ``steps`` (list of ``{"op": ..., params}``; empty when
        nothing was done), ``quality_before`` and ``quality_after``.

    Example
    -------
    >>> from tounum.enhance.samples import scene
    >>> clean = scene(96, 128)
    >>> result = enhance(clean)
    >>> result.steps, bool(np.array_equal(result.pixels, clean))
    ([], True)
    """
    config = config or EnhanceConfig()
    img = np.asarray(pixels)
    if img.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {img.dtype}")
    q = assess(img)
    method = config.method
    if method == "auto":
        out, steps = _auto(img, q, config)
    elif method == "none":
        out, steps = img, []
    elif method == "client":
        out, steps = _client(img)
    elif method == "client_nlm":
        out, steps = filters.client_nlm(img), [{"op": "client_nlm"}]
    elif method == "client_laplacian":
        out, steps = filters.client_laplacian(img), [{"op": "client_laplacian"}]
    elif method in ("nlm", "bilateral", "wavelet"):
        out, step = _denoise(img, method, q.noise_sigma, config)
        steps = [step]
    elif method in ("wiener", "richardson_lucy", "unsharp"):
        out, step = _deblur(img, method, q.blur_sigma, q.noise_sigma, config)
        steps = [step]
    elif method == "restorer":
        out, steps = _restore(img, config), [{"op": "restorer"}]
    else:
        raise ValueError(f"unknown enhancement method {method!r} (one of {', '.join(METHODS)})")
    changed = out is not img
    after = assess(out) if changed else q
    if method == "auto" and changed and after.noise_sigma > q.noise_sigma + config.noise_floor:
        # The result is noisier than the input: keep the input, and say so.
        steps = [{"op": "none", "reverted": steps, "reason": "output noisier than input"}]
        out, after = img, q
    return Enhanced(pixels=np.asarray(out, np.uint8), steps=steps, quality_before=q,
                    quality_after=after)

