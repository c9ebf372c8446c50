"""Descreening: find a printed halftone screen in a scan and remove it (learned, or a low-pass).

A halftone screen is a lattice of dots. In the power spectrum of the image it shows as sharp peaks
far above the picture's own spectrum at the same frequency, in two directions at the same radius
and of about the same power (the lattice's two axes, or the several screens of colour print).
Text lines, hatching and ruled paper are periodic too, but in one direction: what they show in a
second direction (aliased harmonics of pixel-sharp lines) is far weaker than their
main peak. JPEG's 8-pixel blocks sit on the frequency axes, which the measurement leaves out (so
does it a screen printed at exactly 0 or 90 degrees). The spectrum is measured on a grey copy of at most
:data:`ANALYSIS_SIDE` pixels, averaged over :data:`TILE`-pixel tiles (Welch), so that it is cheap
and its background is smooth enough for peaks to stand out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ANALYSIS_SIDE = 448  # twice the classifier's input: screens it sees are resolved, finer ones too
TILE = 64
MIN_RADIUS = 4  # frequency bins: periods of at most TILE / 4 = 16 pixels of the grey copy
AXIS_MARGIN = 6.0  # degrees around the frequency axes left out (JPEG blocks, scan lines, borders)
MIN_BALANCE = 0.25  # a lattice's second peak against its first: near 1 for screens, far below for lines
# The learned descreener was trained on dot cells of 2.5-6.5 pixels (its receptive field spans 21):
# a coarser screen is shrunk to cells of LEARNED_PERIOD first.
LEARNED_MAX_PERIOD = 6.5
LEARNED_PERIOD = 4.0

_WINDOW = np.outer(np.hanning(TILE), np.hanning(TILE)).astype(np.float32)
_FY, _FX = np.fft.fftfreq(TILE)[:, None], np.fft.rfftfreq(TILE)[None, :]
_RADIUS = np.hypot(_FY, _FX) + np.zeros_like(_FX)  # cycles per pixel, (TILE, TILE // 2 + 1)
_ANGLE = np.degrees(np.arctan2(_FY, _FX)) + np.zeros_like(_FX)  # (-90, 90]
_BIN = np.rint(_RADIUS * TILE).astype(int)
_RINGS = [np.flatnonzero(_BIN.ravel() == k) for k in range(MIN_RADIUS, TILE // 2 + 1)]
# the rings as rows padded with the index of an infinite value, so that one sort gives every median
_RING_ROWS = np.full((len(_RINGS), max(map(len, _RINGS))), _BIN.size)
for _row, _ring in zip(_RING_ROWS, _RINGS):
    _row[:len(_ring)] = _ring
_RING_SIZES = np.array([len(ring) for ring in _RINGS])
_RING_OF = np.clip(_BIN.ravel() - MIN_RADIUS, 0, len(_RINGS) - 1)  # outside the searched rings: unused
_SEARCHED = ((_BIN >= MIN_RADIUS) & (_BIN <= TILE // 2)
             & (np.abs(_ANGLE) > AXIS_MARGIN) & (np.abs(_ANGLE) < 90.0 - AXIS_MARGIN))


@dataclass(frozen=True)
class Screen:
    """A measured halftone screen.

    ``period``: pixels of the image (its own resolution) per cycle of the strongest peak;
    ``strength``: power of the strongest peak in another direction (45 degrees or more away) at
    about the same radius, over the median power of its ring: about 1-20 on photographs,
    drawings and pages, tens to hundreds on a visible screen; 0 when the image is too small;
    ``balance``: that peak's ratio over the strongest peak's (a screen's two are about equal).
    """

    period: float
    strength: float
    balance: float

    @property
    def found(self) -> bool:
        """Whether the peaks make a lattice (``balance`` at least :data:`MIN_BALANCE`)."""
        return self.balance >= MIN_BALANCE

    def screened(self, min_strength: float = 30.0) -> bool:
        """Whether the image counts as screened: a lattice (:attr:`found`) of at least ``min_strength``."""
        return self.found and self.strength >= min_strength


def measure_screen(pixels: np.ndarray) -> Screen:
    """Measure the halftone screen of an image (its lattice peaks in the power spectrum).

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) uint8

    Returns
    -------
    Screen
        All 0 when the grey copy is smaller than one tile or flat.

    Example
    -------
    >>> y, x = np.mgrid[0:128, 0:128] * 2 * np.pi / 6  # a dot screen of period 6 turned by 30 degrees
    >>> dots = np.cos(0.87 * x + 0.5 * y) * np.cos(0.87 * y - 0.5 * x) > 0.3
    >>> s = measure_screen(np.where(dots, 0, 255).astype(np.uint8))
    >>> round(s.period, 1), s.found, s.strength > 30  # the cell's diagonal, 6 / sqrt(2)
    (4.4, True, True)
    """
    grey = np.asarray(pixels, np.uint8)
    if grey.ndim == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(grey[..., :3]), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    scale = min(1.0, ANALYSIS_SIDE / max(h, w))
    if scale < 1.0:
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA)
    if min(grey.shape) < TILE:
        return Screen(0.0, 0.0, 0.0)
    tiles = np.lib.stride_tricks.sliding_window_view(grey, (TILE, TILE))[::TILE, ::TILE]
    tiles = tiles.reshape(-1, TILE, TILE).astype(np.float32)
    tiles -= tiles.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.rfft2(tiles * _WINDOW)) ** 2).mean(axis=0).ravel()
    # the picture's own spectrum falls with frequency: compare each peak with its ring's median
    rows = np.sort(np.append(power, np.inf)[_RING_ROWS], axis=1)
    index = np.arange(len(rows))
    median = 0.5 * (rows[index, (_RING_SIZES - 1) // 2] + rows[index, _RING_SIZES // 2])
    ratio = np.where(_SEARCHED.ravel(), power / (median[_RING_OF] + 1e-6), 0.0)
    best = int(np.argmax(ratio))
    if ratio[best] == 0.0:  # a flat image: no spectrum at all
        return Screen(0.0, 0.0, 0.0)
    radius, angle = _RADIUS.flat[best], _ANGLE.flat[best]
    turn = np.abs((_ANGLE.ravel() - angle + 90.0) % 180.0 - 90.0)
    # a lattice's peaks share one radius (up to the bins' spacing); an aliased harmonic of lines rarely does
    other = (np.abs(_RADIUS.ravel() - radius) <= max(0.1 * radius, 1.0 / TILE)) & (turn >= 45.0)
    second = float(ratio[other].max(initial=0.0))
    return Screen(float(1.0 / (radius * scale)), second, second / float(ratio[best]))


def descreen(pixels: np.ndarray, min_strength: float = 30.0, blur: float = 0.8) -> np.ndarray:
    """Low-pass an image that carries a halftone screen; return any other image unchanged.

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) uint8
    min_strength : float
        :attr:`Screen.strength` from which an image whose peaks make a lattice
        (:attr:`Screen.found`) counts as screened (:meth:`Screen.screened`).
    blur : float
        Gaussian standard deviation in periods of the strongest peak. At 0.8 that peak keeps 3e-6
        of its amplitude, and a peak of sqrt(2) times its period (the side of a dot cell when the
        strongest is its diagonal) 0.2%.

    Returns
    -------
    The same array when no screen is found, else a blurred copy (same shape, uint8; grey stays
    grey).

    Example
    -------
    >>> flat = np.full((128, 128, 3), 200, np.uint8)
    >>> descreen(flat) is flat
    True
    """
    screen = measure_screen(pixels)
    if not screen.screened(min_strength):
        return pixels
    return remove_screen(pixels, screen.period, blur)


def remove_screen(pixels: np.ndarray, period: float, blur: float = 0.8) -> np.ndarray:
    """Low-pass away a screen of ``period`` pixels: a Gaussian of ``blur`` periods (see :func:`descreen`).

    Example
    -------
    >>> remove_screen(np.full((8, 8, 3), 9, np.uint8), 4.0)[0, 0].tolist()
    [9, 9, 9]
    """
    return cv2.GaussianBlur(np.asarray(pixels, np.uint8), (0, 0), blur * period, borderType=cv2.BORDER_REFLECT_101)


def unscreen(pixels: np.ndarray, period: float, weights: str | None = None, *, tile: int = 512,
             precision: str = "auto") -> np.ndarray:
    """Remove a screen of ``period`` pixels with the learned descreener.

    The descreener is the restorer's network (:mod:`tounum.enhance.restorer`) trained to turn
    halftoned, scanned patches back into the photographs they were printed from
    (``tounum train restorer --task descreen``; model card in ``tounum/models/descreener``).
    A screen whose dot cells may be coarser than :data:`LEARNED_MAX_PERIOD` is first shrunk to
    cells of :data:`LEARNED_PERIOD` pixels and the result enlarged back: the picture a screen
    leaves is no finer than its cells, so the round trip loses nothing the screen had kept. The
    cell is taken as ``period`` times sqrt(2): a square lattice's strongest peak is its side or
    its diagonal, and on the screens tested it is the diagonal (shrinking a cell measured by its
    side a little further stays within the trained range).

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) uint8
    period : float
        The screen's period in pixels (:attr:`Screen.period`).
    weights : str, optional
        Weights file; default the shipped ``tounum/models/descreener/descreener.weights.h5``.
    tile, precision : as for :func:`tounum.enhance.restorer.restore_with`

    Returns
    -------
    uint8 array of the input's shape.

    Example
    -------
    >>> from tounum.enhance.degrade import halftone
    >>> printed = halftone(np.full((64, 64, 3), 100, np.uint8), 4.0)
    >>> bool(np.abs(unscreen(printed, 4.0).astype(int) - 100).mean() < 10)  # doctest: +SKIP
    True
    """
    from tounum.enhance.restorer import DESCREENER_WEIGHTS, restore_with

    img = np.asarray(pixels, np.uint8)
    h, w = img.shape[:2]
    cell = period * np.sqrt(2.0)
    factor = cell / LEARNED_PERIOD if cell > LEARNED_MAX_PERIOD else 1.0
    if factor > 1.0:
        img = cv2.resize(img, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    out = restore_with(img, weights or str(DESCREENER_WEIGHTS), tile=tile, precision=precision)
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC) if factor > 1.0 else out
