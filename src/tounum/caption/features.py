"""Backbone grid features of a caption data set, cached once on disk.

One float16 ``grid.npy`` per data set (rows of 49 x 1280), opened memory-mapped so that training
touches the pages it needs instead of holding 6,000 grids in RAM, plus ``index.json`` mapping each
image's content sha256 to its row (identical files share a row). The cache is filled batch by
batch and the index is rewritten after each batch, so an interrupted extraction resumes where it
stopped. A *view* (``"flip"``: the image mirrored left to right) is a transform applied to the
pixels before the backbone, cached in its own folder: training augmentation at the price of one
more extraction, with the same memory-mapped float16 layout.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tounum.caption.store import write_json

log = logging.getLogger(__name__)
GRID_FILE, INDEX_FILE = "grid.npy", "index.json"


def flip_horizontal(pixels: np.ndarray) -> np.ndarray:
    """The image mirrored left to right.

    Example
    -------
    >>> flip_horizontal(np.arange(6).reshape(1, 3, 2))[0, :, 0].tolist()
    [4, 2, 0]
    """
    return np.ascontiguousarray(pixels[:, ::-1])


VIEWS = {"": None, "flip": flip_horizontal}  # view tag -> pixel transform ("" = the image as is)


@dataclass
class GridFeatures:
    """Grid rows for a list of image paths; ``rows[i] == -1`` where image i could not be read."""

    grid: np.ndarray  # (rows, 49, C) float16, memory-mapped read-only
    rows: np.ndarray  # (n_paths,) int64
    problems: list[str] = field(default_factory=list)


def cache_folder(images_dir: str | Path, backbone_version: str, resize: str, view: str = "") -> Path:
    """``cache_dir()/captions/<dir name>-<key>``: one folder per image folder, backbone, resizing
    and view (see ``VIEWS``; the plain view keeps the key it always had).

    Example
    -------
    >>> cache_folder("/data/flickr8k/images", "lite0-v1", "squash").parent.name
    'captions'
    """
    from tounum.config import cache_dir

    images_dir = Path(images_dir).resolve()
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {sorted(VIEWS)}")
    text = f"{images_dir}|{backbone_version}|{resize}" + (f"|{view}" if view else "")
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    return cache_dir() / "captions" / f"{images_dir.name}-{key}"


def _open_grid(folder: Path, capacity: int, shape: tuple[int, ...]) -> np.ndarray:
    """The writable memory-mapped grid, created (or grown, keeping its rows) to ``capacity`` rows."""
    path = folder / GRID_FILE
    if path.is_file():
        grid = np.load(path, mmap_mode="r+")
        if grid.shape[0] >= capacity and grid.shape[1:] == shape:
            return grid
        if grid.shape[1:] != shape:
            raise ValueError(f"{path}: grid shape {grid.shape[1:]} does not match the backbone's {shape}")
        old = grid
        tmp = folder / "grid.grow.npy"
        grid = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(capacity, *shape))
        for start in range(0, old.shape[0], 512):
            chunk = old[start:start + 512]
            grid[start:start + len(chunk)] = chunk
        grid.flush()
        del old
        tmp.replace(path)
        return np.load(path, mmap_mode="r+")
    folder.mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(capacity, *shape))


def build_grid_cache(paths: Sequence[str], folder: str | Path, backbone, *,
                     batch_size: int = 32, view: str = "") -> GridFeatures:
    """Extract (or reuse) the backbone grid of every image in ``paths`` into ``folder``.

    Parameters
    ----------
    paths : sequence of str
        Image files.
    folder : path
        Cache folder (see :func:`cache_folder`).
    backbone : tounum.backbone.Backbone
        Gives ``features(images).grid`` (N, 7, 7, C) and ``version``.
    batch_size : int
        Images per backbone call; the index is saved after each batch.
    view : str
        Key of ``VIEWS``: the transform applied to the pixels first (``"flip"``); recorded in the
        index, and a folder made with another view is refused.

    Returns
    -------
    GridFeatures
        Unreadable images get row -1 and a line in ``problems`` (also logged).

    Example
    -------
    >>> f = build_grid_cache(paths, cache_folder(d, bb.version, "squash"), bb)  # doctest: +SKIP
    """
    from tounum.io import ImageReadError, read_image, sha256_file

    folder = Path(folder)
    index_path = folder / INDEX_FILE
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    if index and index.get("backbone") != backbone.version:
        raise ValueError(f"{folder}: cache made with backbone {index.get('backbone')}, not {backbone.version}")
    if index and index.get("view", "") != view:
        raise ValueError(f"{folder}: cache made with view {index.get('view', '')!r}, not {view!r}")
    transform = VIEWS[view] or (lambda pixels: pixels)
    rows: dict[str, int] = index.get("rows", {})
    failed: dict[str, str] = index.get("failed", {})
    hashes = [sha256_file(p) for p in paths]
    todo = [i for i, h in enumerate(hashes) if h not in rows and h not in failed]
    todo = [i for n, i in enumerate(todo) if hashes[i] not in {hashes[j] for j in todo[:n]}]
    shape = (int(np.prod(backbone.grid_shape[:2])), int(backbone.grid_shape[2]))
    grid = _open_grid(folder, max(len(rows) + len(todo), 1), shape)
    if todo:
        log.info("extracting %d grids into %s (%d cached)", len(todo), folder, len(rows))
    for start in range(0, len(todo), batch_size):
        batch, pixels = [], []
        for i in todo[start:start + batch_size]:
            try:
                pixels.append(transform(read_image(paths[i]).pixels))
                batch.append(i)
            except ImageReadError as exc:
                failed[hashes[i]] = str(exc)
        if pixels:
            features = backbone.features(pixels, batch_size=batch_size).grid
            for i, g in zip(batch, features):
                rows[hashes[i]] = len(rows)
                grid[rows[hashes[i]]] = g.reshape(shape).astype(np.float16)
            grid.flush()
        write_json(index_path, {"backbone": backbone.version, "rows": rows, "failed": failed,
                                **({"view": view} if view else {})})
        log.info("grids: %d / %d", min(start + batch_size, len(todo)), len(todo))
    del grid
    problems = []
    for p, h in zip(paths, hashes):
        if h in failed:
            problems.append(failed[h] if failed[h].startswith(str(p)) else f"{p}: {failed[h]}")
            log.warning("%s; skipped", problems[-1])
    out_rows = np.array([rows.get(h, -1) for h in hashes], dtype=np.int64)
    return GridFeatures(np.load(folder / GRID_FILE, mmap_mode="r"), out_rows, problems)


def dataset_grids(images_dir: str | Path, captions_path: str | Path, split_path: str | Path | None,
                  backbone, resize: str, *, batch_size: int = 32, view: str = ""):
    """Read a caption data set and its cached grids; images that failed are dropped (and reported).

    ``resize`` is the backbone's resize mode and ``view`` the pixel transform (``VIEWS``), both
    part of the cache key.

    Returns
    -------
    (CaptionSet, GridFeatures)
        Aligned: ``features.rows[i]`` is the grid row of ``captions.images[i]``; ``problems`` of
        both (missing images, unreadable images) are in ``captions.problems``.

    Example
    -------
    >>> data, grids = dataset_grids("flickr8k/images", "flickr8k/captions.csv", None, bb, "squash")  # doctest: +SKIP
    """
    from tounum.caption.data import read_captions

    data = read_captions(captions_path, images_dir, split_path)
    folder = cache_folder(images_dir, backbone.version, resize, view)
    grids = build_grid_cache(data.images, folder, backbone, batch_size=batch_size, view=view)
    keep = [i for i, r in enumerate(grids.rows) if r >= 0]
    data = data.subset(keep)
    data.problems += grids.problems
    return data, GridFeatures(grids.grid, grids.rows[keep], grids.problems)
