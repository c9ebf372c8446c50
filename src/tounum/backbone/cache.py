"""On-disk float16 cache of backbone features, one file per image and backbone version."""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def pixels_key(pixels: np.ndarray) -> str:
    """sha256 of an image's content (shape, dtype and pixel bytes), the cache key.

    Example
    -------
    >>> len(pixels_key(np.zeros((2, 2, 3), np.uint8)))
    64
    """
    pixels = np.ascontiguousarray(pixels)
    digest = hashlib.sha256(f"{pixels.shape}{pixels.dtype.str}".encode())
    digest.update(memoryview(pixels).cast("B"))
    return digest.hexdigest()


class FeatureCache:
    """``<folder>/<version>/<key[:2]>/<key>.npz`` holding float16 ``pooled``, ``grid``, ``style``, ``top``.

    Features are stored as float16 (half the disk, about 3 significant digits, plenty for the
    classifier and captioner heads); a hit returns them widened to float32. Writes are atomic
    (:func:`tounum.io.atomic_write`), so concurrent workers and interrupted runs never leave a
    torn entry; an unreadable entry counts as a miss.

    Parameters
    ----------
    folder : path-like
        Cache root; created on the first write.
    version : str
        Backbone version (``Backbone.version``): entries of other versions are never read.

    Example
    -------
    >>> import tempfile
    >>> cache = FeatureCache(tempfile.mkdtemp(), "demo-v1")
    >>> cache.put("ab" * 32, np.ones(4), np.ones((1, 1, 4)))
    >>> cache.get("ab" * 32)[0].dtype
    dtype('float32')
    """

    def __init__(self, folder: str | os.PathLike[str], version: str):
        self.root = Path(folder) / version

    def _path(self, key: str) -> Path:
        if len(key) < 8 or not key.isalnum():
            raise ValueError(f"bad feature cache key {key!r}")
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """``(pooled, grid, style, top)`` as float32 (style or top empty in entries stored without
        them), or None when absent or unreadable."""
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                pooled, grid = data["pooled"].astype(np.float32), data["grid"].astype(np.float32)
                style, top = (data[k].astype(np.float32) if k in data.files else np.zeros(0, np.float32)
                              for k in ("style", "top"))
                return pooled, grid, style, top
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("%s: unreadable feature cache entry, recomputing: %s", path, exc)
            return None

    def put(self, key: str, pooled: np.ndarray, grid: np.ndarray, style: np.ndarray | None = None,
            top: np.ndarray | None = None) -> None:
        """Store one image's features (as float16); ``style`` (S,) and ``top`` are optional."""
        from tounum.io import atomic_write  # here: tounum.io loads pandas

        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        style = np.zeros(0) if style is None else style
        top = np.zeros(0) if top is None else top
        with atomic_write(path) as f:
            np.savez(f, pooled=pooled.astype(np.float16), grid=grid.astype(np.float16),
                     style=style.astype(np.float16), top=top.astype(np.float16))
