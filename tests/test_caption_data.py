import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tounum.caption.data import read_captions, read_coco_captions, read_flickr_captions

COCO_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "captions" / "coco_mini"


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(path)


def test_coco_2017_naming_on_coco_mini():
    if not COCO_MINI.is_dir():
        pytest.fail(f"{COCO_MINI} is missing (the shared data set)")
    data = read_coco_captions(COCO_MINI / "annotations" / "captions_val2017.json", COCO_MINI / "val2017")
    assert len(data) == 79 and data.problems == []
    assert all(Path(p).name.endswith(".jpg") and len(Path(p).stem) == 12 for p in data.images)
    assert all(len(c) >= 5 for c in data.captions)


def test_coco_2014_naming_and_bad_entries(tmp_path):
    images = tmp_path / "train2014"
    _image(images / "COCO_train2014_000000000042.jpg")
    _image(images / "COCO_train2014_000000000007.jpg")
    ann = {"images": [{"id": 42, "file_name": "COCO_train2014_000000000042.jpg"},
                      {"id": 7},  # no file_name: found by the 2014 naming
                      {"id": 9, "file_name": "COCO_train2014_000000000009.jpg"}],  # not on disk
           "annotations": [{"id": 1, "image_id": 42, "caption": "A dog."},
                           {"id": 2, "image_id": 42, "caption": "A brown dog runs."},
                           {"id": 3, "image_id": 7, "caption": "A cat."},
                           {"id": 4, "image_id": 9, "caption": "Missing."},
                           {"id": 5, "image_id": 1234, "caption": "Nowhere."},
                           {"id": 6, "image_id": 7, "caption": "  "}]}
    path = tmp_path / "captions_train2014.json"
    path.write_text(json.dumps(ann))
    data = read_captions(path, images)
    assert [Path(p).name for p in data.images] == ["COCO_train2014_000000000007.jpg",
                                                   "COCO_train2014_000000000042.jpg"]
    assert data.captions[1] == ["A dog.", "A brown dog runs."]
    joined = "\n".join(data.problems)
    assert len(data.problems) == 3
    assert "COCO_train2014_000000000009.jpg" in joined and "missing image" in joined
    assert "unknown image id 1234" in joined and "empty caption" in joined


def test_flickr_csv_and_token_formats_agree(tmp_path):
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        _image(tmp_path / "images" / name)
    (tmp_path / "captions.csv").write_text(
        'image,caption\na.jpg,"A dog, running ."\na.jpg,A dog .\nb.jpg,A cat .\n'
        "ghost.jpg,Nothing here .\nc.jpg,\n")
    (tmp_path / "Flickr8k.token.txt").write_text(
        "a.jpg#0\tA dog, running .\na.jpg#1\tA dog .\nb.jpg#0\tA cat .\nghost.jpg#0\tNothing here .\n"
        "c.jpg#0\n")
    (tmp_path / "train.txt").write_text("a.jpg\nb.jpg\nc.jpg\n")
    csv = read_flickr_captions(tmp_path / "captions.csv", tmp_path / "images")
    token = read_flickr_captions(tmp_path / "Flickr8k.token.txt", tmp_path / "images")
    for data in (csv, token):
        assert [Path(p).name for p in data.images] == ["a.jpg", "b.jpg"]
        assert data.captions == [["A dog, running .", "A dog ."], ["A cat ."]]
        assert len(data.problems) == 2  # ghost.jpg missing; c.jpg without caption
        assert any("ghost.jpg" in p for p in data.problems)
    split = read_captions(tmp_path / "captions.csv", tmp_path / "images", tmp_path / "train.txt")
    assert [Path(p).name for p in split.images] == ["a.jpg", "b.jpg"]
    assert any("c.jpg" in p and "no captions" in p for p in split.problems)
