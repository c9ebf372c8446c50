"""Backbone features of an image list: the clean image and K augmented "as scanned" views.

The classifier's input vector of an image (:func:`descriptor`) is the pooled vector, optionally
followed by the style statistics (channel means and standard deviations of a middle layer).
Each image as read (after a benchmark's degradation, if any) may be descreened first
(:func:`prepare`), as :class:`tounum.classify.Classifier` does at inference; the augmented scan
views are not: they teach the head what scans look like, halftone screens included (a screen too
faint for the detector reaches the backbone as it is). Measured both ways in
``benchmarks/README.md`` (classify): descreening the views too lost held-out accuracy.
Computed in chunks and cached on disk (``<cache_dir>/classify/features/``), so that an interrupted
extraction resumes where it stopped and the head can be retrained many times for free. The key of
a cache folder is the backbone version, the file list (paths, sizes, modification times), the
number of views, the seed, the degradation, the descreening and the inputs, so a change in any of
them starts a fresh folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tounum.classify.augment import DEGRADATIONS, scan_view
from tounum.classify.data import read_images
from tounum.enhance.descreen import descreen as descreen_image

log = logging.getLogger(__name__)

AUGMENT_VERSION = 3  # bump when scan_view or a degradation changes: the cached views are stale
# the scan view's chances (tounum.classify.augment.scan_view) that the first cached views were drawn
# with: their cache keys name no chances
FIRST_VIEW_CHANCES = {"grey": 0.3, "screen": 0.25, "aged": 0.0}
INPUTS = ("pooled", "style", "top")  # the fields of tounum.backbone.Features a descriptor may use


def scan_chances(config) -> dict[str, float]:
    """The chances of the scan view's steps that ``config`` (a :class:`tounum.config.ClassifyConfig`)
    sets, as :func:`image_views` and :func:`tounum.classify.augment.scan_view` take them.

    Example
    -------
    >>> from tounum.config import ClassifyConfig
    >>> scan_chances(ClassifyConfig())
    {'grey': 0.3, 'screen': 0.25, 'aged': 0.15}
    """
    return {"grey": config.grey_views, "screen": config.halftone_views, "aged": config.aged_views}


def descriptor(features, inputs: Sequence[str] = ("pooled",)) -> np.ndarray:
    """The classifier's input vectors: the named fields of ``features`` side by side, (N, D) float32.

    Parameters
    ----------
    features : tounum.backbone.Features
    inputs : sequence of str
        Names among :data:`INPUTS`, e.g. ``("pooled", "style")``.

    Example
    -------
    >>> from tounum.backbone import Features
    >>> f = Features(np.ones((2, 3)), np.ones((2, 1, 1, 3)), np.zeros((2, 4)))
    >>> descriptor(f, ("pooled", "style")).shape
    (2, 7)
    """
    unknown = [name for name in inputs if name not in INPUTS]
    if unknown or not inputs:
        raise ValueError(f"unknown classifier inputs {list(inputs)} (known: {', '.join(INPUTS)})")
    parts = []
    for name in inputs:
        part = getattr(features, name)
        if part is None:
            raise ValueError(f"the features have no {name!r} (a backbone without style layers?)")
        parts.append(np.asarray(part, np.float32).reshape(len(features.pooled), -1))
    return np.concatenate(parts, axis=1)


@dataclass
class PooledViews:
    """``pooled`` (V, N, D) float32 descriptors: view 0 is the clean image, views 1.. are augmented.

    ``ok`` (N,) bool marks the images that could be read (rows of unreadable ones are zeros);
    ``errors`` names the skipped files.
    """

    pooled: np.ndarray
    ok: np.ndarray
    errors: list[str]


def prepare(images: Sequence[np.ndarray], descreen: Mapping[str, float] | None = None) -> list[np.ndarray]:
    """The images as the classifier's backbone sees them: descreened when ``descreen`` is set.

    Parameters
    ----------
    images : sequence of (H, W, 3) uint8
    descreen : mapping, optional
        Keyword arguments of :func:`tounum.enhance.descreen.descreen` (``min_strength``, ``blur``);
        None: the images unchanged.

    Example
    -------
    >>> flat = np.full((64, 64, 3), 9, np.uint8)
    >>> prepare([flat], {"min_strength": 30.0, "blur": 0.6})[0] is flat
    True
    """
    if descreen is None:
        return list(images)
    return [descreen_image(im, **descreen) for im in images]


def _key(paths: Sequence[str], backbone_version: str, n_augmented: int, seed: int, degrade: str | None,
         inputs: Sequence[str] = ("pooled",), descreen: Mapping[str, float] | None = None,
         scan: Mapping[str, float] | None = None) -> str:
    settings = [backbone_version, AUGMENT_VERSION, n_augmented, seed, degrade, list(inputs)]
    # optional settings join the key only when set, so that the caches made before them stay valid
    if descreen is not None:
        settings.append(["input view", dict(sorted(descreen.items()))])
    if n_augmented and scan and {**FIRST_VIEW_CHANCES, **scan} != FIRST_VIEW_CHANCES:
        settings.append(["scan", dict(sorted(scan.items()))])
    h = hashlib.sha256(json.dumps(settings).encode())
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()[:16]


def image_views(images: list[np.ndarray], indices: Sequence[int], n_augmented: int, seed: int,
                degrade: str | None = None, scan: Mapping[str, float] | None = None) -> list[list[np.ndarray]]:
    """The views of each image: ``[clean, augmented 1..K]``, degraded afterwards if ``degrade`` is set.

    Parameters
    ----------
    images : list of (H, W, 3) uint8
    indices : sequence of int
        Global index of each image, so that its augmentations do not depend on the chunking.
    n_augmented : int
        K, the number of augmented views per image.
    seed : int
    degrade : str, optional
        A name of :data:`tounum.classify.augment.DEGRADATIONS`, applied to every view.
    scan : mapping, optional
        Keyword arguments of :func:`tounum.classify.augment.scan_view` (``grey``, ``screen``, ``aged``).

    Returns
    -------
    ``views[v][i]``, V = K + 1 lists of images.

    Example
    -------
    >>> v = image_views([np.zeros((8, 8, 3), np.uint8)], [0], 2, seed=0)
    >>> len(v), len(v[0])
    (3, 1)
    """
    views = [list(images)]
    for k in range(1, n_augmented + 1):
        out = []
        for j, (index, image) in enumerate(zip(indices, images)):
            rng = np.random.default_rng([seed, index, k])
            other = images[(j + 1 + int(rng.integers(len(images) - 1))) % len(images)] if len(images) > 1 else None
            out.append(scan_view(image, rng, other, **(scan or {})))
        views.append(out)
    if degrade is not None:
        views = [[DEGRADATIONS[degrade](im) for im in view] for view in views]
    return views


def pooled_views(paths: Sequence[str], backbone, *, n_augmented: int = 0, seed: int = 0,
                 degrade: str | None = None, cache: str | Path | None = None, chunk: int = 128,
                 inputs: Sequence[str] = ("pooled",), descreen: Mapping[str, float] | None = None,
                 scan: Mapping[str, float] | None = None) -> PooledViews:
    """Descriptors of every image in ``paths`` and of its augmented views, cached and resumable.

    Parameters
    ----------
    paths : sequence of str
        Image files; unreadable ones are reported and get ``ok`` False.
    backbone : tounum.backbone.Backbone
        Anything with ``.version`` (and ``.style_layers``) and ``.features(images)``.
    n_augmented : int
        Augmented views per image (0: the clean image only).
    seed : int
    degrade : str, optional
        Degradation applied to every view (robustness measurements).
    cache : str or Path, optional
        Cache root; a sub-folder per key is used. None: no cache.
    chunk : int
        Images per cached chunk.
    inputs : sequence of str
        What the descriptor holds (:func:`descriptor`); the cache key includes it and, with
        "style" or "top", the backbone's style or top layers. With "top" (9408 values an image)
        the chunks are stored as float16.
    descreen : mapping, optional
        Descreening (:func:`prepare`) of view 0, the image as read (after ``degrade``), before the
        backbone; the augmented views are left as they are.
    scan : mapping, optional
        Chances of the scan view's steps (:func:`image_views`); they join the cache key only where
        views are drawn and the chances differ from :data:`FIRST_VIEW_CHANCES`.

    Returns
    -------
    PooledViews

    Example
    -------
    >>> feats = pooled_views(paths, load_backbone(), n_augmented=3, cache=cache_dir() / "classify")  # doctest: +SKIP
    """
    paths = [str(p) for p in paths]
    folder = None
    if cache is not None:
        version = backbone.version
        if "style" in inputs:
            version += "+style:" + ",".join(getattr(backbone, "style_layers", ()))
        if "top" in inputs:
            version += "+top:" + getattr(backbone, "top_layer", "")
        folder = Path(cache) / "features" / _key(paths, version, n_augmented, seed, degrade, inputs, descreen, scan)
        folder.mkdir(parents=True, exist_ok=True)
    parts, oks, errors = [], [], []
    for start in range(0, len(paths), chunk):
        part_file = folder / f"chunk{start // chunk:05d}.npz" if folder else None
        if part_file is not None and part_file.exists():
            with np.load(part_file) as saved:
                parts.append(saved["pooled"].astype(np.float32))
                oks.append(saved["ok"])
                errors += [str(e) for e in saved["errors"]]
            continue
        batch = paths[start:start + chunk]
        images, kept, errs = read_images(batch)
        ok = np.zeros(len(batch), bool)
        ok[kept] = True
        pooled = None
        if images:
            views = image_views(images, [start + i for i in kept], n_augmented, seed, degrade, scan)
            views[0] = prepare(views[0], descreen)
            feats = descriptor(backbone.features([im for view in views for im in view]), inputs)
            feats = feats.reshape(n_augmented + 1, len(images), -1).astype(np.float32)
            pooled = np.zeros((n_augmented + 1, len(batch), feats.shape[-1]), np.float32)
            pooled[:, kept] = feats
        else:
            pooled = np.zeros((n_augmented + 1, len(batch), 0), np.float32)
        if part_file is not None:
            tmp = part_file.with_suffix(".tmp.npz")
            stored = pooled.astype(np.float16) if "top" in inputs else pooled  # top: 9408 values an image
            np.savez(tmp, pooled=stored, ok=ok, errors=np.array(errs, dtype=str))
            os.replace(tmp, part_file)  # a finished chunk appears whole or not at all
        log.info("features: %d/%d images", min(start + chunk, len(paths)), len(paths))
        parts.append(pooled)
        oks.append(ok)
        errors += errs
    if not parts:
        return PooledViews(np.zeros((n_augmented + 1, 0, 0), np.float32), np.zeros(0, bool), [])
    width = max(p.shape[-1] for p in parts)
    parts = [p if p.shape[-1] == width else np.zeros(p.shape[:2] + (width,), np.float32) for p in parts]
    return PooledViews(np.concatenate(parts, axis=1), np.concatenate(oks), errors)
