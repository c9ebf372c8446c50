"""Enhanced copies: where they go (mirrored tree, format family, --name-by caption) and what they carry."""

from __future__ import annotations

import pytest

from tounum.config import Config
from tounum.io import safe_output_path
from tounum.pipeline.job import SLUG_MAX, Job, slugify
from tounum.pipeline.record import Record

HOSTILE_CAPTIONS = [
    "../../etc/passwd",
    "/absolute/path",
    "a dog\x00 runs\nthrough ..\\..\\windows",
    "CON",
    "-rf *",
    "",
    "!!!",
    "ÉCOLE: élèves à l'heure — 日本語のキャプション",
    "a " * 200 + "very long caption",
]


def record(path: str, caption: str = "", fmt: str = "JPEG", photo: bool = True) -> Record:
    r = Record(path=path, root="/scans", caption=caption, format=fmt, is_photo=photo,
               doc_type="photo" if photo else "text")
    r.extra["output_relpath"] = path
    return r


def job(name_by: str = "") -> Job:
    config = Config()
    config.run.name_by = name_by
    return Job(config, "/out")


@pytest.mark.parametrize("caption", HOSTILE_CAPTIONS)
def test_slug_is_a_short_safe_file_name(caption):
    slug = slugify(caption)
    assert 0 < len(slug) <= SLUG_MAX
    assert set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert not slug.startswith("-") and ".." not in slug


@pytest.mark.parametrize("caption", HOSTILE_CAPTIONS)
def test_named_by_caption_stays_in_the_mirrored_folder(caption):
    relpath = job("caption").copy_relpath(record("a/b/scan.jpg", caption or "x"))
    folder, name = relpath.rsplit("/", 1)
    assert folder == "enhanced/a/b"
    assert name.endswith(".jpg") and name == safe_output_path("/out", relpath).name
    assert str(safe_output_path("/out", relpath)).startswith("/out/enhanced/a/b/")


def test_same_caption_different_photos_never_collide_and_names_are_stable():
    j = job("caption")
    names = {j.copy_relpath(record(f"s/{i}.jpg", "a dog runs on the grass")) for i in range(50)}
    assert len(names) == 50
    assert all(n.startswith("enhanced/s/a-dog-runs-on-the-grass-") for n in names)
    assert j.copy_relpath(record("s/1.jpg", "a dog runs on the grass")) in names  # rerun: same name


def test_only_photos_with_captions_are_renamed():
    j = job("caption")
    assert j.copy_relpath(record("t/page.png", "", fmt="PNG", photo=False)) == "enhanced/t/page.png"
    assert j.copy_relpath(record("p/x.jpg", "")) == "enhanced/p/x.jpg"


@pytest.mark.parametrize("path, fmt, expected", [
    ("x.jpg", "JPEG", "enhanced/x.jpg"),
    ("x.JPEG", "JPEG", "enhanced/x.JPEG"),
    ("x.tiff", "TIFF", "enhanced/x.tiff"),
    ("x.bmp", "BMP", "enhanced/x.bmp.png"),  # BMP cannot carry the caption's metadata
    ("x.gif", "GIF", "enhanced/x.gif.png"),
    ("png_named.jpg", "PNG", "enhanced/png_named.jpg.png"),  # the content decides the family
    ("no_extension", "PNG", "enhanced/no_extension.png"),
])
def test_copies_keep_the_format_family(path, fmt, expected):
    assert job().copy_relpath(record(path, fmt=fmt)) == expected


@pytest.mark.parametrize("fmt, suffix", [("JPEG", ".jpg"), ("TIFF", ".tif"), ("PNG", ".png")])
def test_copy_carries_caption_and_type_for_an_independent_reader(tmp_path, fmt, suffix):
    import numpy as np
    import pyexiv2  # the independent reader pinned in the test extras

    caption = 'two dogs & a "cat" <on> the beach — été'
    r = record(f"in/scan{suffix}", caption, fmt=fmt)
    r.extra["pixels"] = np.full((24, 32, 3), 120, np.uint8)
    written = Job(Config(), tmp_path).write(r)
    assert written.status == "ok", written.error
    assert written.enhanced_path.startswith("enhanced/in/") and "pixels" not in written.extra
    image = pyexiv2.Image(str(tmp_path / written.enhanced_path))
    try:
        xmp, iptc = image.read_xmp(), image.read_iptc()
    finally:
        image.close()
    assert xmp["Xmp.dc.description"] == {'lang="x-default"': caption}
    assert xmp["Xmp.dc.subject"] == ["photo"]
    if fmt in ("JPEG", "TIFF"):  # PNG has no IPTC IIM block
        assert iptc["Iptc.Application2.Caption"] == caption
        assert iptc["Iptc.Application2.Keywords"] == ["photo"]
