"""Caption data sets: MS COCO caption JSON (2014 and 2017 naming) and Flickr8k.

Each reader returns a :class:`CaptionSet`: image paths that exist, their captions, and a list of
problems (captions pointing at missing images, empty captions, split names without captions), each
problem also logged. Images that exist but cannot be decoded are found later, when features are
extracted (:mod:`tounum.caption.features`), and reported there.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class CaptionSet:
    """Images (absolute paths, sorted) with their reference captions."""

    images: list[str] = field(default_factory=list)
    captions: list[list[str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, keep: list[int]) -> "CaptionSet":
        return CaptionSet([self.images[i] for i in keep], [self.captions[i] for i in keep],
                          list(self.problems))


def _report(problems: list[str], message: str) -> None:
    log.warning(message)
    problems.append(message)


def _assemble(by_name: dict[str, list[str]], images_dir: Path, problems: list[str],
              split: set[str] | None) -> CaptionSet:
    if split is not None:
        for name in sorted(split - set(by_name)):
            _report(problems, f"{images_dir / name}: in the split but has no captions; skipped")
    out = CaptionSet(problems=problems)
    for name in sorted(by_name):
        if split is not None and name not in split:
            continue
        path = images_dir / name
        if not path.is_file():
            _report(problems, f"{path}: {len(by_name[name])} caption(s) point at a missing image; skipped")
            continue
        out.images.append(str(path.resolve()))
        out.captions.append(by_name[name])
    return out


def read_split(path: str | Path) -> set[str]:
    """Image file names listed one per line (Flickr8k ``*Images.txt`` style); blank lines ignored.

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "dev.txt"
    >>> _ = p.write_text("a.jpg\\n\\nb.jpg\\n")
    >>> sorted(read_split(p))
    ['a.jpg', 'b.jpg']
    """
    return {line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()}


def _coco_file_name(image: dict, json_path: Path, images_dir: Path) -> str:
    """The entry's ``file_name``, or the 2017 / 2014 naming built from its id when it is absent."""
    if image.get("file_name"):
        name = Path(image["file_name"]).name
        if (images_dir / name).is_file():
            return name
    image_id = int(image["id"])
    for candidate in (f"{image_id:012d}.jpg", *(f"COCO_{part}2014_{image_id:012d}.jpg"
                                               for part in ("train", "val", "test"))):
        if (images_dir / candidate).is_file():
            return candidate
    # Missing on disk: name it as the JSON does, or as its split would (for the report).
    part = "val" if "val" in json_path.name else "train"
    return image.get("file_name") or (f"COCO_{part}2014_{image_id:012d}.jpg"
                                      if "2014" in json_path.name else f"{image_id:012d}.jpg")


def read_coco_captions(json_path: str | Path, images_dir: str | Path,
                       split: set[str] | None = None) -> CaptionSet:
    """Read an MS COCO caption file (``images`` + ``annotations``), 2014 or 2017 naming.

    Parameters
    ----------
    json_path : path
        ``captions_train2014.json``, ``captions_val2017.json``...
    images_dir : path
        Folder holding the images (``COCO_train2014_%012d.jpg`` or ``%012d.jpg``).
    split : set of str or None
        Keep only these file names.

    Returns
    -------
    CaptionSet

    Example
    -------
    >>> s = read_coco_captions("annotations/captions_val2017.json", "val2017")  # doctest: +SKIP
    """
    json_path, images_dir = Path(json_path), Path(images_dir)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    names = {int(im["id"]): _coco_file_name(im, json_path, images_dir) for im in data.get("images", [])}
    by_name: dict[str, list[str]] = defaultdict(list)
    for ann in data.get("annotations", []):
        image_id = int(ann["image_id"])
        caption = str(ann.get("caption", "")).strip()
        if image_id not in names:
            _report(problems, f"{json_path}: annotation {ann.get('id')} points at unknown image id {image_id}; skipped")
        elif not caption:
            _report(problems, f"{json_path}: annotation {ann.get('id')} has an empty caption; skipped")
        else:
            by_name[names[image_id]].append(caption)
    return _assemble(by_name, images_dir, problems, split)


def read_flickr_captions(captions_path: str | Path, images_dir: str | Path,
                         split: set[str] | None = None) -> CaptionSet:
    """Read Flickr8k captions: ``captions.csv`` (``image,caption``) or ``Flickr8k.token.txt``.

    The token format has lines ``name.jpg#k<TAB>caption``.

    Example
    -------
    >>> s = read_flickr_captions("flickr8k/captions.csv", "flickr8k/images")  # doctest: +SKIP
    """
    captions_path, images_dir = Path(captions_path), Path(images_dir)
    problems: list[str] = []
    by_name: dict[str, list[str]] = defaultdict(list)
    text = captions_path.read_text(encoding="utf-8")
    if captions_path.suffix.lower() == ".csv":
        rows = ((i + 2, r.get("image"), r.get("caption")) for i, r in enumerate(csv.DictReader(text.splitlines())))
    else:
        rows = ((i + 1, *line.split("\t", 1)) if "\t" in line else (i + 1, line, None)
                for i, line in enumerate(text.splitlines()) if line.strip())
    for line_no, name, caption in rows:
        name = (name or "").split("#", 1)[0].strip()
        caption = (caption or "").strip()
        if not name or not caption:
            _report(problems, f"{captions_path}:{line_no}: no image name or no caption; skipped")
            continue
        by_name[name].append(caption)
    return _assemble(by_name, images_dir, problems, split)


def read_captions(captions_path: str | Path, images_dir: str | Path,
                  split_path: str | Path | None = None) -> CaptionSet:
    """Read a caption file of either format (``.json``: COCO, otherwise Flickr8k), optionally a split.

    Example
    -------
    >>> s = read_captions("flickr8k/captions.csv", "flickr8k/images", "flickr8k/splits/dev.txt")  # doctest: +SKIP
    """
    split = read_split(split_path) if split_path else None
    if Path(captions_path).suffix.lower() == ".json":
        return read_coco_captions(captions_path, images_dir, split)
    return read_flickr_captions(captions_path, images_dir, split)
