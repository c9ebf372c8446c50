"""Reading folder-per-class trees: name matching, unknown folders, unreadable images."""

import logging

import numpy as np
import pytest
from PIL import Image

from tounum.classify.data import CLASSES, holdout_split, match_class, read_images, scan_tree


@pytest.mark.parametrize("name, cls", [("Schematics", "schematic"), ("Photos", "photo"), ("PAINTING", "painting"),
                                       ("sketch", "sketch"), ("Texts", "text"), ("other", None), ("photograph", None),
                                       ("paintingss", None)])
def test_class_folder_names_match_case_and_plural_insensitively(name, cls):
    assert match_class(name) == cls


def make_tree(root):
    for folder, n in [("Photos", 2), ("Schematics", 1), ("Text", 1), ("other", 2)]:
        (root / folder).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (20, 16), (i * 40, 90, 200)).save(root / folder / f"{i}.png")
    (root / "Text" / "notes.txt").write_text("not an image")
    (root / "Text" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")


def test_scan_tree_labels_folders_and_reports_unknown_ones(tmp_path, caplog):
    make_tree(tmp_path)
    with caplog.at_level(logging.WARNING):
        tree = scan_tree(tmp_path)
    assert tree.unknown_folders == ["other"]
    assert "'other' matches no class" in caplog.text
    assert sorted(tree.table["label"].unique()) == ["photo", "schematic", "text"]
    assert len(tree.table) == 5  # 2 photos, 1 schematic, 2 text-folder images (one broken); .txt ignored
    with_other = scan_tree(tmp_path, include_unknown=True)
    assert with_other.table["label"].isna().sum() == 2 and len(with_other.labelled) == 5


def test_unreadable_image_is_reported_and_skipped(tmp_path):
    make_tree(tmp_path)
    paths = list(scan_tree(tmp_path).table["path"])
    images, kept, errors = read_images(paths)
    assert len(images) == len(kept) == 4 and len(errors) == 1
    assert "broken.jpg" in errors[0]
    assert all(im.dtype == np.uint8 and im.shape == (16, 20, 3) for im in images)


def test_missing_tree_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scan_tree(tmp_path / "nowhere")


def test_holdout_is_stratified_and_seeded():
    labels = [c for c in CLASSES for _ in range(20)]
    held = holdout_split(labels, 0.15, seed=3)
    assert all(held[i * 20:(i + 1) * 20].sum() == 3 for i in range(5))
    assert (held == holdout_split(labels, 0.15, seed=3)).all()
    assert not (held == holdout_split(labels, 0.15, seed=4)).all()
