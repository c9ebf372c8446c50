"""The shipped classifier through the CLI: evaluate JSON (with an other/ folder), classify, obvious cases."""

import json

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw, ImageFont

from tounum.classify import CLASSES, load_classifier
from tounum.cli import main


def letter_page(seed: int = 0) -> np.ndarray:
    """A typed letter: Pillow's default font, black on white, drawn here (not the training renderer)."""
    rng = np.random.default_rng(seed)
    page = Image.new("RGB", (620, 820), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(15)
    draw.text((60, 50), "Dear Sir,", fill="black", font=font)
    words = "the committee has received your letter of the third and will reply in due course".split()
    for row in range(34):
        line = " ".join(rng.choice(words, 10))
        draw.text((60, 90 + 20 * row), line, fill="black", font=font)
    return np.asarray(page)


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@pytest.mark.slow
def test_shipped_model_gets_the_obvious_cases_right(classifier):
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]
    pages = [letter_page(0), np.repeat(skimage.data.page()[..., None], 3, axis=2)]
    pred = classifier.classify_images(photos + pages)
    assert pred.probs.shape == (5, 5)
    assert pred.doc_type == ["photo"] * 3 + ["text"] * 2, pred.probs.round(3)
    assert pred.is_photo.tolist() == [True] * 3 + [False] * 2


def test_evaluate_json_scores_every_image_and_other_folders(tmp_path, capsys):
    tree = {"Photos": [skimage.data.astronaut(), skimage.data.chelsea()], "Text": [letter_page(1)],
            "other": [letter_page(2), np.full((300, 400, 3), 250, np.uint8)]}
    for folder, images in tree.items():
        (tmp_path / folder).mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image).save(tmp_path / folder / f"{i}.png")
    (tmp_path / "Text" / "broken.jpg").write_bytes(b"not a jpeg")
    code = main(["evaluate", "classifier", str(tmp_path), "--json"])
    out = capsys.readouterr()
    assert code == 1 and "broken.jpg" in out.err  # reported and skipped, not fatal
    result = json.loads(out.out)
    assert {"n_images", "accuracy", "macro_f1", "photo_vs_rest", "per_class", "confusion"} <= set(result)
    assert result["n_images"] == 5  # the other/ images count in photo-vs-rest
    assert set(result["photo_vs_rest"]) == {"accuracy", "precision", "recall", "f1"}
    assert result["accuracy"] == 1.0 and result["photo_vs_rest"]["accuracy"] == 1.0
    assert sum(map(sum, result["confusion"]["matrix"])) == 3 and result["confusion"]["labels"] == list(CLASSES)


def test_evaluate_without_class_folders_gives_null_five_class_scores(tmp_path, capsys):
    (tmp_path / "other").mkdir()
    Image.fromarray(letter_page(3)).save(tmp_path / "other" / "a.png")
    assert main(["evaluate", "classifier", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_images"] == 1 and result["accuracy"] is None and result["macro_f1"] is None
    assert result["photo_vs_rest"]["accuracy"] == 1.0


def test_classify_json_and_a_bad_file(tmp_path, capsys):
    good, bad = tmp_path / "cat.jpg", tmp_path / "bad.png"
    Image.fromarray(skimage.data.chelsea()).save(good)
    bad.write_bytes(b"\x89PNG broken")
    assert main(["classify", str(good), str(bad), "--json"]) == 1
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert len(rows) == 1 and rows[0]["path"] == str(good) and rows[0]["doc_type"] == "photo"
    assert set(rows[0]["probs"]) == set(CLASSES) and "bad.png" in out.err
