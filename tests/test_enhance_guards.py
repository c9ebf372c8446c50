"""The policy's guards: line art, texture misread as noise, JPEG blocking, deconvolution gain."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from tounum.enhance import assess, enhance
from tounum.enhance import filters
from tounum.enhance.degrade import add_gaussian_noise, degrade, gaussian_blur, jpeg_compress
from tounum.enhance.quality import blockiness
from tounum.enhance.samples import scene
from tounum.enhance.score import psnr


def text_page(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """Black anti-aliased text on white paper, as a rendered document page."""
    rng = np.random.default_rng(seed)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=14)
    words = ["invoice", "total", "the", "quick", "brown", "fox", "12.50", "paid", "date", "item"]
    for y in range(10, height - 20, 20):
        draw.text((10, y), " ".join(rng.choice(words, 6)), fill=0, font=font)
    return np.repeat(np.asarray(page)[..., None], 3, axis=2)


def line_drawing(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """Lines and ellipses drawn at 4x and reduced (anti-aliased strokes), as a sketch."""
    rng = np.random.default_rng(seed)
    big = Image.new("L", (4 * width, 4 * height), 255)
    draw = ImageDraw.Draw(big)
    for _ in range(25):
        (x0, y0), (x1, y1) = (tuple(rng.uniform(0, [4 * width, 4 * height])) for _ in range(2))
        if rng.random() < 0.5:
            draw.line([(x0, y0), (x1, y1)], fill=0, width=6)
        else:
            draw.ellipse([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], outline=0, width=6)
    small = np.asarray(big.resize((width, height), Image.LANCZOS))
    return np.repeat(small[..., None], 3, axis=2)


@pytest.mark.parametrize("make", [text_page, line_drawing])
def test_clean_line_art_is_left_alone_though_strokes_read_as_noise(make):
    page = make()
    q = assess(page)
    assert q.noise_sigma > 10  # the patch estimator is fooled by the strokes...
    assert q.is_line_art and q.flat_noise_sigma < 1  # ...the paper is not
    result = enhance(page)
    assert np.array_equal(result.pixels, page)
    assert result.steps and all(s["op"] == "none" for s in result.steps)
    assert result.steps[0]["reason"].startswith("line art")


@pytest.mark.parametrize("make", [text_page, line_drawing])
def test_noisy_line_art_is_still_denoised(make):
    page = make()
    noisy = add_gaussian_noise(page, 15, seed=1)
    result = enhance(noisy)
    assert any(s["op"] == "nlm" for s in result.steps)
    assert psnr(page, result.pixels) > psnr(page, noisy) + 1


def test_photo_is_not_line_art():
    assert not assess(scene(160, 200, seed=2)).is_line_art
    assert not assess(add_gaussian_noise(scene(160, 200, seed=2), 20, seed=3)).is_line_art


def test_texture_read_as_noise_is_not_smoothed():
    # Fine texture everywhere and no flat patch: the estimator reads it as noise of about 6.
    rng = np.random.default_rng(3)
    texture = ndimage.gaussian_filter(rng.normal(0, 40, (160, 200, 1)), 0.8) * 3
    img = np.clip(np.rint(scene(160, 200, seed=4) + texture), 0, 255).astype(np.uint8)
    assert assess(img).noise_sigma >= 5
    result = enhance(img)
    assert np.array_equal(result.pixels, img)
    assert result.steps[0]["op"] == "none" and result.steps[0]["reverted"][0]["op"] == "bilateral"


def test_jpeg_blocking_is_measured_and_smoothed():
    clean = scene(160, 200, seed=5)
    blocky = jpeg_compress(clean, 20)
    assert blockiness(clean) < 1.2 and blockiness(add_gaussian_noise(clean, 10, seed=6)) < 1.2
    assert blockiness(blocky) > 1.5
    result = enhance(blocky)
    assert [s["op"] for s in result.steps] == ["deblock"]
    assert psnr(clean, result.pixels) > psnr(clean, blocky)


def test_wiener_gain_cap_bounds_the_change():
    soft = jpeg_compress(gaussian_blur(scene(96, 128, seed=7), 1.5), 70)
    free = filters.wiener(soft, 1.5, 0.0)
    capped = filters.wiener(soft, 1.5, 0.0, max_gain=3.0)
    assert psnr(soft, capped) > psnr(soft, free) + 3


def test_auto_deblurring_of_a_noiseless_image_stays_moderate():
    # A blurred image with no measurable noise (8-bit rounding only): the policy's Wiener
    # assumes a noise floor and caps its gain, so it sharpens without ringing.
    clean = scene(128, 160, seed=8)
    soft = gaussian_blur(clean, 1.5)
    result = enhance(soft)
    assert [s["op"] for s in result.steps] == ["wiener"]
    assert result.steps[0]["noise_sigma"] >= 2.0 and result.steps[0]["max_gain"] > 0
    assert psnr(clean, result.pixels) > psnr(clean, soft) + 0.5


def test_jpeg_blocking_on_a_text_page_is_left():
    page = jpeg_compress(text_page(seed=9), 30)
    q = assess(page)
    assert q.blockiness > 1.3 and q.paper_fraction > 0.75
    result = enhance(page)
    assert np.array_equal(result.pixels, page)
    assert all(s["op"] == "none" for s in result.steps)


def test_noisy_blurred_image_is_denoised_not_deconvolved():
    # From noise 4 up the spectral blur fit can read the noise floor as blur (a sharp train
    # image at noise 5 read 1.6 px), and deconvolving a denoiser's output amplified its
    # leftovers: the policy only denoises.
    clean = scene(128, 160, seed=10, gray=True)
    noisy = degrade(clean, blur=1.5, noise=6, seed=11)
    assert enhance(noisy).quality_before.spectral_blur_sigma > 1.0
    result = enhance(noisy)
    assert [s["op"] for s in result.steps] == ["nlm"]
    assert psnr(clean, result.pixels) > psnr(clean, noisy)


def test_deconvolution_that_overshoots_into_clipping_is_undone():
    # Blurred two-level graphics near 0 and 255: the deconvolution's overshoot at every edge
    # would clip about a tenth of the pixels.
    rng = np.random.default_rng(0)
    img = np.full((160, 200), 5.0)
    for _ in range(40):
        y, x = rng.integers(0, 150), rng.integers(0, 190)
        h, w = rng.integers(4, 30, 2)
        img[y:y + h, x:x + w] = 250 if rng.random() < 0.5 else 5
    soft = gaussian_blur(np.repeat(img[..., None], 3, axis=2).astype(np.uint8), 1.5)
    result = enhance(soft)
    assert np.array_equal(result.pixels, soft)
    assert result.steps[-1]["op"] == "none" and result.steps[-1]["reverted"][0]["op"] == "wiener"
    assert result.steps[-1]["new_clipped"] > 0.05
