"""Read a folder-per-class image tree (the client's layout: ``Painting/``, ``Photo/``, ``Schematics/``...).

Class folder names are matched case- and plural-insensitively; folders that match no class are
reported (and, for evaluation, kept as "not a class": they still count in photo-vs-rest), never
guessed. Unreadable images are reported and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tounum.classify import CLASSES  # defined in the package (cheap to import), re-exported here

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jp2"}


def match_class(folder_name: str) -> str | None:
    """The class a folder name stands for, or None.

    Parameters
    ----------
    folder_name : str
        A folder name such as ``"Schematics"``, ``"PHOTOS"`` or ``"text"``.

    Returns
    -------
    str or None
        One of :data:`CLASSES`, or None when the name matches none (not guessed).

    Example
    -------
    >>> match_class("Schematics"), match_class("PAINTING"), match_class("other")
    ('schematic', 'painting', None)
    """
    name = folder_name.strip().lower()
    for cls in CLASSES:
        if name in (cls, cls + "s", cls + "es"):
            return cls
    return None


@dataclass
class ImageTree:
    """The images of a folder-per-class tree.

    ``table`` has one row per image file: ``path`` (str), ``folder`` (the class folder's own name)
    and ``label`` (one of :data:`CLASSES`, or None for a folder that matches no class).
    """

    root: Path
    table: pd.DataFrame
    unknown_folders: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> pd.DataFrame:
        """Rows whose folder is one of the five classes."""
        return self.table[self.table["label"].notna()].reset_index(drop=True)


def scan_tree(root: str | Path, *, include_unknown: bool = False) -> ImageTree:
    """List the images of ``root/<class folder>/**`` with their labels.

    Parameters
    ----------
    root : str or Path
        Folder whose sub-folders are the classes.
    include_unknown : bool
        Keep images of folders that match no class (label None), as evaluation does for
        photo-vs-rest; training leaves them out. Unknown folders are reported either way.

    Returns
    -------
    ImageTree

    Example
    -------
    >>> tree = scan_tree("../shared/data/doctype/dev")  # doctest: +SKIP
    >>> tree.table["label"].value_counts()  # doctest: +SKIP
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    rows, unknown = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = match_class(folder.name)
        if label is None:
            unknown.append(folder.name)
            log.warning("%s: folder %r matches no class (%s)%s", root, folder.name,
                        ", ".join(CLASSES), "; scored as not-photo" if include_unknown else "; skipped")
            if not include_unknown:
                continue
        files = sorted(p for p in folder.rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        rows += [(str(p), folder.name, label) for p in files]
    table = pd.DataFrame(rows, columns=["path", "folder", "label"])
    return ImageTree(root=root, table=table, unknown_folders=unknown)


def read_pixels(path: str) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB, through :func:`tounum.io.read_image`."""
    from tounum.io import read_image

    return read_image(path).pixels


def read_images(paths: Iterable[str], read: Callable[[str], np.ndarray] | None = None,
                ) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Read images, skipping (and reporting) the ones that cannot be read.

    Parameters
    ----------
    paths : iterable of str
    read : callable, optional
        ``path -> (H, W, 3) uint8``, raising on a bad file; default :func:`read_pixels`.

    Returns
    -------
    images : list of ndarray
        The images that could be read.
    kept : list of int
        Index in ``paths`` of each image returned.
    errors : list of str
        One message per skipped file, naming it.

    Example
    -------
    >>> images, kept, errors = read_images(["a.jpg", "broken.png"])  # doctest: +SKIP
    """
    read = read or read_pixels
    images, kept, errors = [], [], []
    for i, path in enumerate(paths):
        try:
            images.append(read(path))
        except Exception as exc:  # any bad file is reported and skipped, never fatal
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            log.warning("skipped unreadable image %s", message)
            errors.append(message)
            continue
        kept.append(i)
    return images, kept, errors


def holdout_split(labels: Iterable[str], fraction: float = 0.15, seed: int = 0) -> np.ndarray:
    """A stratified, seeded choice of images to hold out of training (early stopping, calibration).

    Split by image, so that the augmented views of one image never sit on both sides.

    Parameters
    ----------
    labels : iterable of str
    fraction : float
        Share of each class held out (at least one image per class with two or more).
    seed : int

    Returns
    -------
    (N,) bool, True for held-out images.

    Example
    -------
    >>> holdout_split(["photo"] * 10 + ["text"] * 10, 0.2).sum()
    np.int64(4)
    """
    labels = np.asarray(list(labels), dtype=object)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), bool)
    for cls in sorted(set(labels)):
        idx = np.flatnonzero(labels == cls)
        n = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        held[rng.choice(idx, n, replace=False)] = True
    return held
