"""Scan-condition augmentations keep uint8 RGB, are seeded, and do what they say."""

import numpy as np
import pytest

from tounum.classify import augment
from tounum.classify.features import image_views


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)


@pytest.mark.parametrize("op", [
    lambda p: augment.jpeg_compress(p, 30), lambda p: augment.add_gaussian_noise(p, 15, seed=1),
    lambda p: augment.gaussian_blur(p, 1.5), augment.greyscale, lambda p: augment.paper_tint(p, 0.7),
    lambda p: augment.halftone(p, 4.0), lambda p: augment.bleed_through(p, p[::-1, :, :], 0.2),
    *augment.DEGRADATIONS.values()])
def test_pixel_ops_keep_shape_and_dtype(image, op):
    out = op(image)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_geometry_ops(image):
    assert augment.rotate90(image, 1).shape == (60, 40, 3)
    assert augment.rotate90(image, 2).shape == image.shape
    assert augment.add_border(image, 0.1, (255, 255, 255)).shape == (52, 72, 3)
    crop = augment.random_crop(image, 0.5, seed=0)
    assert 20 <= crop.shape[0] <= 40 and 30 <= crop.shape[1] <= 60 and crop.dtype == np.uint8


def test_greyscale_has_equal_channels_and_tint_yellows_white(image):
    grey = augment.greyscale(image)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    r, g, b = augment.paper_tint(np.full((2, 2, 3), 255, np.uint8), 1.0)[0, 0].astype(int)
    assert r > g > b


def test_halftone_is_mostly_ink_or_paper():
    flat = np.full((64, 64, 3), 128, np.uint8)
    out = augment.halftone(flat)
    assert abs(out.mean() - 128) < 20  # the screen keeps the tone
    assert np.mean((out < 60) | (out > 195)) > 0.6  # ...with dots, not grey


def test_noise_and_views_are_seeded(image):
    assert (augment.add_gaussian_noise(image, 15, seed=7) == augment.add_gaussian_noise(image, 15, seed=7)).all()
    assert not (augment.add_gaussian_noise(image, 15, seed=7) == augment.add_gaussian_noise(image, 15, seed=8)).all()
    a = augment.scan_view(image, seed=5, other=image[::-1])
    b = augment.scan_view(image, seed=5, other=image[::-1])
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and (a == b).all()
    views = [augment.scan_view(image, seed=s) for s in range(20)]
    assert len({v.tobytes() for v in views}) > 15  # different seeds, different views


def test_image_views_clean_first_and_seeded(image):
    other = image[::-1].copy()
    views = image_views([image, other], [10, 11], 3, seed=0)
    assert len(views) == 4 and all(len(v) == 2 for v in views)
    assert views[0][0] is image
    again = image_views([image, other], [10, 11], 3, seed=0)
    assert all((a == b).all() for va, vb in zip(views, again) for a, b in zip(va, vb))


def test_scan_view_halftone_screens_stay_visible_at_the_backbone_input():
    # on a large scan a screen of a few image pixels would vanish in the resize to 224: the
    # augmentation sizes it for the backbone's input, so some views keep clear dots there
    import cv2

    flat = np.full((900, 900, 3), 128, np.uint8)
    spreads = []
    for seed in range(40):
        view = augment.scan_view(flat, seed=seed)
        small = cv2.resize(view, (augment.INPUT_SIZE, augment.INPUT_SIZE), interpolation=cv2.INTER_AREA)
        spreads.append(small[56:168, 56:168].astype(float).std())  # the centre: no border
    assert max(spreads) > 30, sorted(spreads)[-5:]


def test_scan_view_chances_of_grey_and_screen(image):
    def grey(view):
        return np.abs(view.astype(int) - view[..., :1]).max() <= 2  # JPEG may leave a trace of colour

    always = [augment.scan_view(image, seed=s, grey=1.0, screen=0.0) for s in range(12)]
    never = [augment.scan_view(image, seed=s, grey=0.0, screen=0.0) for s in range(12)]
    assert all(grey(v) for v in always) and not any(grey(v) for v in never)
    def spread(view):  # of the centre, which crops and borders leave to the image
        h, w = view.shape[:2]
        return view[h // 4:3 * h // 4, w // 4:3 * w // 4].astype(float).std()

    flat = np.full((augment.INPUT_SIZE,) * 2 + (3,), 128, np.uint8)
    screened = np.mean([spread(augment.scan_view(flat, seed=s, screen=1.0)) for s in range(12)])
    plain = np.mean([spread(augment.scan_view(flat, seed=s, screen=0.0)) for s in range(12)])
    assert screened > 3 * plain  # dots on a flat grey, where noise alone leaves it nearly flat


def test_aged_print_is_toned_faded_and_darker_in_the_corners():
    white = np.full((64, 64, 3), 255, np.uint8)
    r, g, b = augment.aged_print(white, tone=1.0, fade=0.0, grain=0.0, vignette=0.0)[0, 0].astype(int)
    assert r > g > b  # sepia
    neutral = augment.aged_print(white, tone=0.0, fade=0.0, grain=0.0, vignette=0.0)
    assert (neutral == 255).all()
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = 255
    faded = augment.aged_print(stripes, tone=0.0, fade=0.3, grain=0.0, vignette=0.0)
    assert faded.min() > 20 and faded.max() < 235  # blacks lifted, whites dulled
    corners = augment.aged_print(white, tone=0.0, fade=0.0, grain=0.0, vignette=0.5)
    assert corners[0, 0, 0] < corners[32, 32, 0] - 60
    size = augment.INPUT_SIZE
    grainy = augment.aged_print(np.full((size, size, 3), 128, np.uint8), tone=0.0, fade=0.0, grain=10.0,
                                vignette=0.0, seed=3)
    assert 1.0 < grainy.astype(float).std() < 6.0  # grain, softened by its blur



def test_scan_view_old_prints_are_toned_monochrome():
    colour = np.zeros((48, 48, 3), np.uint8)
    colour[..., 2] = 220  # pure blue: an old print turns it into a warm or neutral grey
    toned = [augment.scan_view(colour, seed=s, grey=0.0, screen=0.0, aged=1.0) for s in range(8)]
    plain = [augment.scan_view(colour, seed=s, grey=0.0, screen=0.0, aged=0.0) for s in range(8)]
    assert all(v[..., 0].mean() >= v[..., 2].mean() for v in toned)
    assert all(v[..., 2].mean() > v[..., 0].mean() + 50 for v in plain)
