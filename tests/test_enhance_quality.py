import numpy as np
import pytest

from tounum.enhance.degrade import add_gaussian_noise, degrade, gaussian_blur
from tounum.enhance.quality import assess, estimate_noise, laplacian_variance
from tounum.enhance.samples import scene


@pytest.mark.parametrize("sigma", [5, 15, 40])
@pytest.mark.parametrize("blur", [0.0, 1.5])
def test_noise_estimate_within_10_percent(sigma, blur):
    noisy = degrade(scene(160, 200, seed=1), noise=sigma, blur=blur, seed=2)
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.10)


def test_noise_estimate_on_clipped_grey_image():
    img = scene(160, 200, seed=3, gray=True)
    img[:60] = 250  # a bright band: the noise clips at 255 there
    noisy = add_gaussian_noise(img, 25, seed=4)
    assert noisy[..., 0].tolist() == noisy[..., 1].tolist()  # stays grey
    assert estimate_noise(noisy) == pytest.approx(25, rel=0.10)


def test_clean_image_reads_almost_noiseless():
    assert estimate_noise(scene(seed=5)) < 2.0


def test_sharpness_falls_with_blur_and_ignores_noise():
    clean = scene(160, 200, seed=6)
    sharp = assess(clean)
    blurred = assess(gaussian_blur(clean, 2.0))
    noisy = assess(add_gaussian_noise(clean, 25, seed=7))
    assert blurred.sharpness < sharp.sharpness - 0.1
    assert blurred.blur_sigma > sharp.blur_sigma + 1.0
    assert noisy.sharpness == pytest.approx(sharp.sharpness, abs=0.1)
    # ...whereas noise multiplies the client's variance of the Laplacian.
    assert laplacian_variance(add_gaussian_noise(clean, 25, seed=7)) > 5 * laplacian_variance(clean)


def test_assess_rejects_a_non_image():
    with pytest.raises(ValueError, match="shape"):
        assess(np.zeros((4, 4, 4, 4), np.uint8))
