"""The shipped captioner through the CLI, on a handful of Flickr8k dev images."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tounum.cli import main

FLICKR = Path(__file__).resolve().parents[2] / "shared" / "data" / "captions" / "flickr8k"


@pytest.fixture
def few_dev_images(tmp_path, monkeypatch):
    if not FLICKR.is_dir():
        pytest.fail(f"{FLICKR} is missing (the shared data set)")
    monkeypatch.setenv("TOUNUM_CACHE", str(tmp_path / "cache"))  # a fresh feature cache
    names = (FLICKR / "splits" / "dev.txt").read_text().split()[:4]
    rows = [r for r in csv.DictReader((FLICKR / "captions.csv").open()) if r["image"] in names]
    path = tmp_path / "captions.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["image", "caption"])
        writer.writeheader()
        writer.writerows(rows)
    return path, names


def test_evaluate_prints_the_metric_keys(few_dev_images, capsys):
    captions, _ = few_dev_images
    code = main(["evaluate", "captioner", "--images", str(FLICKR / "images"), "--captions", str(captions),
                 "--beam", "2", "--json"])
    assert code == 0
    scores = json.loads(capsys.readouterr().out)
    for key in ("n_images", "bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider"):
        assert key in scores
    assert scores["n_images"] == 4 and 0 < scores["bleu1"] <= 1 and scores["cider"] >= 0


def test_caption_command_reports_bad_files(few_dev_images, tmp_path, capsys):
    _, names = few_dev_images
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    wide = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 300, 3), dtype=np.uint8)).save(wide)
    code = main(["caption", str(FLICKR / "images" / names[0]), str(bad), str(wide), "--json"])
    out = capsys.readouterr()
    assert code == 1 and "broken.jpg" in out.err
    result = json.loads(out.out)
    assert [Path(r["path"]).name for r in result] == [names[0], "wide.png"]
    assert all(r["caption"] and len(r["caption"].split()) <= 31 for r in result)
