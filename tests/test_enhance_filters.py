import numpy as np
import pytest

from tounum.enhance import filters
from tounum.enhance.degrade import add_gaussian_noise, degrade
from tounum.enhance.samples import scene
from tounum.enhance.score import psnr

OPERATIONS = {
    "client_nlm": lambda img: filters.client_nlm(img),
    "client_laplacian": lambda img: filters.client_laplacian(img),
    "nlm": lambda img: filters.nlm(img, 20.0),
    "bilateral": lambda img: filters.bilateral(img, 20.0),
    "wavelet": lambda img: filters.wavelet(img, 20.0),
    "unsharp": lambda img: filters.unsharp(img, noise_sigma=2.0),
    "wiener": lambda img: filters.wiener(img, 1.5, 2.0),
    "richardson_lucy": lambda img: filters.richardson_lucy(img, 1.5, iterations=3),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize("kind", ["colour", "grey-as-rgb", "2d"])
def test_shape_and_dtype_kept(name, kind):
    img = scene(37, 53, seed=1, gray=kind != "colour")  # odd sizes on purpose
    if kind == "2d":
        img = img[..., 0]
    out = OPERATIONS[name](img)
    assert out.shape == img.shape and out.dtype == np.uint8
    if kind == "grey-as-rgb" and name != "client_nlm":  # the client's NLM works in CIELAB
        assert np.array_equal(out[..., 0], out[..., 2])  # grey stays grey


@pytest.mark.parametrize("name", ["nlm", "bilateral", "wavelet"])
def test_denoisers_improve_a_noisy_image(name):
    clean = scene(96, 128, seed=2)
    noisy = add_gaussian_noise(clean, 20, seed=3)
    assert psnr(clean, OPERATIONS[name](noisy)) > psnr(clean, noisy) + 3


@pytest.mark.parametrize("name", ["wiener", "unsharp"])
def test_deblurring_improves_a_blurred_image(name):
    clean = scene(96, 128, seed=4)
    blurred = degrade(clean, blur=1.5, noise=2, seed=5)
    assert psnr(clean, OPERATIONS[name](blurred)) > psnr(clean, blurred)


def test_client_laplacian_amplifies_noise():
    clean = scene(96, 128, seed=6)
    slightly_noisy = degrade(clean, blur=1.0, noise=2, seed=7)
    assert psnr(clean, filters.client_laplacian(slightly_noisy)) < psnr(clean, slightly_noisy) - 3
