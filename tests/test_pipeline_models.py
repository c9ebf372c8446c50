"""`tounum run` with every stage on: shipped classifier and captioner, metadata read back by exiv2.

One module-scoped run on small demo scans (the models load once); the tests read its outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyexiv2  # the independent reader pinned in the test extras
import pytest

from tounum.classify import CLASSES
from tounum.cli import main
from tounum.pipeline.demo import write_scans



def exiv2(path: Path) -> tuple[dict, dict]:
    """XMP and IPTC as exiv2 reads them."""
    image = pyexiv2.Image(str(path))
    try:
        return image.read_xmp(), image.read_iptc()
    finally:
        image.close()


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> tuple[Path, pd.DataFrame, int]:
    root = tmp_path_factory.mktemp("models")
    write_scans(root / "in", long_side=160)
    out = root / "out"
    code = main(["run", str(root / "in"), "--out", str(out), "--workers", "1", "--batch-size", "8",
                 "--beam", "2", "--name-by", "caption", "--no-progress"])
    return out, pd.read_csv(out / "results.csv", keep_default_na=False), code


def test_every_image_is_classified_and_every_photo_captioned(full_run):
    out, table, code = full_run
    assert code == 1  # the demo's three bad files
    ok = table[table["status"] == "ok"]
    assert len(ok) == len(table) - 3
    assert set(ok["doc_type"]) <= set(CLASSES)
    probs = ok[[f"p_{c}" for c in CLASSES]].astype(float).to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    photos = ok[ok["is_photo"].astype(str) == "True"]
    assert len(photos) > 0 and (photos["caption"].str.len() > 0).all()
    assert (ok.loc[ok["is_photo"].astype(str) == "False", "caption"] == "").all()
    assert (ok["t_features"].astype(float) > 0).all()


def test_captions_json_is_coco_results_with_paths(full_run):
    out, table, _ = full_run
    captions = json.loads((out / "captions.json").read_text())
    results = captions["annotations"]
    images = {image["id"]: image for image in captions["images"]}
    assert results and all(set(r) >= {"image_id", "caption"} for r in results)
    for r in results:
        image = images[r["image_id"]]
        row = table.iloc[r["image_id"] - 1]
        assert row["path"] == image["file_name"] and row["caption"] == r["caption"]
        assert (image["width"], image["height"]) == (int(row["width"]), int(row["height"]))


def test_photo_copies_are_named_by_caption_and_carry_it_in_xmp_and_iptc(full_run):
    out, table, _ = full_run
    photos = table[(table["is_photo"].astype(str) == "True") & table["format"].eq("JPEG")]
    assert len(photos) > 0
    for row in photos.itertuples():
        path = out / row.enhanced_path
        assert path.parent == (out / "enhanced" / row.path).parent
        assert path.name.startswith(row.caption.split()[0].lower())
        xmp, iptc = exiv2(path)
        assert xmp["Xmp.dc.description"] == {'lang="x-default"': row.caption}
        assert xmp["Xmp.dc.subject"] == [row.doc_type]
        assert iptc["Iptc.Application2.Caption"] == row.caption
        assert iptc["Iptc.Application2.Keywords"] == [row.doc_type]


def test_non_photo_copies_carry_their_type_as_keyword(full_run):
    out, table, _ = full_run
    others = table[(table["is_photo"].astype(str) == "False") & (table["status"] == "ok")]
    for row in others.head(3).itertuples():
        xmp, iptc = exiv2(out / row.enhanced_path)
        assert row.doc_type in str(xmp["Xmp.dc.subject"])
        if row.format in ("JPEG", "TIFF"):
            assert row.doc_type in str(iptc["Iptc.Application2.Keywords"])


def test_report_shows_classes_captions_and_errors(full_run):
    out, table, _ = full_run
    html = (out / "report.html").read_text()
    for words in ("Document types", "Photos and captions", "Errors (3)", "data:image/png;base64"):
        assert words in html
    first = table.loc[table["caption"] != "", "caption"].iloc[0]
    assert first.split()[0] in html
