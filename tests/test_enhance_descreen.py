"""Descreening: a halftone screen is found and low-passed; pictures, lines and JPEG blocks are left alone."""

import numpy as np
import pytest

from tounum.classify.augment import greyscale
from tounum.enhance.degrade import halftone, jpeg_compress
from tounum.enhance.descreen import descreen, measure_screen, remove_screen, unscreen
from tounum.enhance.samples import scene

MIN = 30.0


def lines(size: int, period: float, angle: float) -> np.ndarray:
    """Dark lines of one direction on white paper (ruled text lines, hatching)."""
    y, x = np.mgrid[0:size, 0:size]
    t = np.deg2rad(angle)
    ink = np.cos(2 * np.pi * (x * np.cos(t) + y * np.sin(t)) / period) > 0.6
    return np.repeat(np.where(ink, 30, 235).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize("period, angle", [(4.0, 45.0), (6.0, 20.0), (9.0, 70.0)])
def test_a_halftone_screen_is_found_with_its_period(period, angle):
    screen = measure_screen(halftone(scene(256, 256, seed=1), period, angle))
    assert screen.strength > 3 * MIN and screen.found
    # the strongest lattice peak is a side (period) or a diagonal (period / sqrt 2) of the dot cell
    assert period / np.sqrt(2) * 0.85 <= screen.period <= period * 1.15


@pytest.mark.parametrize("make", [
    lambda: scene(256, 256, seed=2),
    lambda: jpeg_compress(scene(256, 256, seed=3), 15),  # 8-pixel blocks: peaks on the axes only
    lambda: lines(256, 9.0, 90.0),  # text lines
    lambda: lines(256, 5.0, 35.0),  # hatching, one direction
    lambda: lines(256, 4.0, 60.0),  # pixel-sharp lines alias into other directions, weakly
])
def test_pictures_lines_and_jpeg_blocks_are_left_alone(make):
    image = make()
    screen = measure_screen(image)
    assert screen.strength < MIN or not screen.found
    assert descreen(image, MIN) is image


def test_descreening_removes_the_screen_and_keeps_the_picture():
    clean = scene(256, 256, seed=4)
    screened = halftone(clean, 5.0, 30.0)
    out = descreen(screened, MIN)
    assert out.shape == screened.shape and out.dtype == np.uint8
    assert measure_screen(out).strength < MIN
    assert descreen(screened, 1e9) is screened  # below the strength asked for: untouched
    error = lambda a: np.abs(a.astype(float) - clean).mean()  # noqa: E731
    assert error(out) < 0.5 * error(screened)


def test_grey_stays_grey_and_small_or_2d_images_work():
    grey = np.repeat(halftone(greyscale(scene(200, 240, seed=5)), 5.0, 45.0)[..., :1], 3, axis=2)  # one screen
    out = descreen(grey, MIN)
    assert out is not grey and (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    plane = descreen(grey[..., 0], MIN)
    assert plane.shape == (200, 240) and np.array_equal(plane, out[..., 0])
    tiny = halftone(scene(40, 50, seed=6), 4.0)
    assert measure_screen(tiny).strength == 0 and descreen(tiny, MIN) is tiny


@pytest.mark.parametrize("cell", [4.0, 8.0, 12.0])  # 8, 12: shrunk to the trained cells and enlarged back
def test_the_learned_descreener_beats_the_low_pass(cell):
    clean = scene(320, 256, seed=7)
    screened = halftone(clean, cell, 20.0)
    period = measure_screen(screened).period  # the cell's diagonal, as the policy measures it
    out = unscreen(screened, period)
    assert out.shape == screened.shape and out.dtype == np.uint8
    assert not measure_screen(out).screened(MIN)
    error = lambda a: np.abs(a.astype(float) - clean).mean()  # noqa: E731
    assert error(out) < error(remove_screen(screened, period)) < error(screened)


def test_the_learned_descreener_keeps_grey_grey():
    grey = np.repeat(halftone(greyscale(scene(96, 128, seed=8)), 4.0, 45.0)[..., :1], 3, axis=2)
    out = unscreen(grey, 4.0)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert unscreen(grey[..., 0], 4.0).shape == (96, 128)
