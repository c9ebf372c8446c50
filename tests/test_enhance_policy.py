import numpy as np
import pytest

from tounum.config import EnhanceConfig
from tounum.enhance import enhance
from tounum.enhance.degrade import add_gaussian_noise, degrade
from tounum.enhance.samples import scene
from tounum.enhance.score import psnr


@pytest.mark.parametrize("gray", [False, True])
def test_clean_input_comes_back_unchanged(gray):
    clean = scene(128, 160, seed=11, gray=gray)
    result = enhance(clean)
    assert psnr(clean, result.pixels) >= 40
    assert result.steps == []
    assert result.quality_before.noise_sigma < 3


def test_noisy_input_is_denoised_and_the_step_recorded():
    clean = scene(128, 160, seed=12)
    noisy = add_gaussian_noise(clean, 25, seed=13)
    result = enhance(noisy)
    assert psnr(clean, result.pixels) > psnr(clean, noisy) + 4
    assert [s["op"] for s in result.steps] == ["restorer"]  # colour, sigma >= 10: learned
    assert result.steps[0]["noise_sigma"] == pytest.approx(25, rel=0.1)


def test_lightly_noisy_colour_input_goes_to_the_bilateral_filter():
    clean = scene(128, 160, seed=20)
    noisy = add_gaussian_noise(clean, 7, seed=21)  # below learned_min_noise (10)
    result = enhance(noisy)
    assert [s["op"] for s in result.steps] == ["bilateral"]
    assert result.steps[0]["sigma"] == pytest.approx(7, rel=0.1)
    assert psnr(clean, result.pixels) > psnr(clean, noisy) + 2
    assert result.quality_after.noise_sigma < result.quality_before.noise_sigma / 2


def test_noisy_grey_input_goes_to_nlm_with_h_from_sigma():
    clean = scene(128, 160, seed=18, gray=True)
    noisy = add_gaussian_noise(clean, 25, seed=19)
    result = enhance(noisy)
    assert [s["op"] for s in result.steps] == ["nlm"] and result.steps[0]["h"] > 20
    assert psnr(clean, result.pixels) > psnr(clean, noisy) + 4
    assert np.array_equal(result.pixels[..., 0], result.pixels[..., 2])


def test_blurred_input_is_sharpened_not_harmed():
    clean = scene(128, 160, seed=14)
    blurred = degrade(clean, blur=1.5, noise=2, seed=15)
    result = enhance(blurred)
    assert [s["op"] for s in result.steps] == ["wiener"]
    assert psnr(clean, result.pixels) > psnr(clean, blurred)


@pytest.mark.parametrize("method", ["none", "client", "client_nlm", "client_laplacian", "nlm",
                                    "bilateral", "wavelet", "unsharp", "wiener",
                                    "richardson_lucy"])
def test_every_classical_method_runs(method):
    noisy = add_gaussian_noise(scene(48, 64, seed=16), 10, seed=17)
    result = enhance(noisy, EnhanceConfig(method=method))
    assert result.pixels.shape == noisy.shape and result.pixels.dtype == np.uint8
    assert (result.steps == []) == (method == "none") or method == "client"


def test_unknown_method_and_bad_dtype_are_errors():
    img = scene(32, 32)
    with pytest.raises(ValueError, match="unknown enhancement method"):
        enhance(img, EnhanceConfig(method="magic"))
    with pytest.raises(ValueError, match="uint8"):
        enhance(img.astype(np.float32))


def test_a_halftone_screen_is_descreened_not_denoised():
    from tounum.enhance.degrade import halftone
    from tounum.enhance.descreen import measure_screen

    clean = scene(192, 192, seed=30)
    screened = halftone(clean, 4.0, 30.0)
    result = enhance(screened)  # the learned descreener
    assert [(s["op"], s["method"]) for s in result.steps] == [("descreen", "learned")]
    assert not measure_screen(result.pixels).screened(30.0)
    low_pass = enhance(screened, EnhanceConfig(descreener="gaussian"))
    assert low_pass.steps[0]["sigma"] == pytest.approx(0.8 * low_pass.steps[0]["period"], abs=0.02)
    assert not measure_screen(low_pass.pixels).screened(30.0)
    assert psnr(clean, result.pixels) > psnr(clean, low_pass.pixels) > psnr(clean, screened) + 3
    with pytest.raises(ValueError, match="unknown descreener"):
        enhance(screened, EnhanceConfig(descreener="magic"))
    # without the step the policy reads the screen as noise: no descreening, the screen stays found
    plain = enhance(screened, EnhanceConfig(descreen=False))
    assert "descreen" not in [s["op"] for s in plain.steps]
