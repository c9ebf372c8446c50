"""Captions in image metadata, checked with an independent reader (exiv2, through pyexiv2)."""

from __future__ import annotations

import numpy as np
import pytest
import pyexiv2
from PIL import Image

from tounum.io import read_image
from tounum.io.metadata import (MAX_CAPTION_BYTES, build_iptc, build_xmp, caption_metadata, embed_in_jpeg,
                                embed_metadata, parse_iptc, read_metadata, truncate_utf8)
from tounum.io.samples import encode, gradient
from tounum.io.write import write_image

CAPTION = 'Two dogs & a "cat" <on> the beach — été 😀'
KEYWORDS = ["photo", "été", "photo", "  ", "dog;cat"]
WRITER = "tounum-captioner 0.1"


def exiv2(path) -> tuple[dict, dict]:
    """XMP and IPTC as exiv2 reads them."""
    image = pyexiv2.Image(str(path))
    try:
        return image.read_xmp(), image.read_iptc()
    finally:
        image.close()


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_jpeg_and_tiff_carry_xmp_and_iptc_for_independent_readers(tmp_path, suffix):
    meta = caption_metadata(CAPTION, KEYWORDS, writer=WRITER)
    path = write_image(gradient(), tmp_path / f"out{suffix}", xmp=meta.xmp, iptc=meta.iptc)
    xmp, iptc = exiv2(path)
    assert xmp["Xmp.dc.description"] == {'lang="x-default"': CAPTION}
    assert xmp["Xmp.dc.subject"] == ["photo", "été", "dog;cat"]
    assert xmp["Xmp.iptc.AltTextAccessibility"] == {'lang="x-default"': CAPTION}
    assert xmp["Xmp.photoshop.CaptionWriter"] == WRITER
    assert iptc["Iptc.Envelope.CharacterSet"] == "\x1b%G"
    assert iptc["Iptc.Application2.Caption"] == CAPTION
    assert iptc["Iptc.Application2.Keywords"] == ["photo", "été", "dog;cat"]
    assert iptc["Iptc.Application2.Writer"] == [WRITER]
    # our own reader agrees, and the pixels are intact
    assert read_metadata(path) == {"description": CAPTION, "subject": ["photo", "été", "dog;cat"],
                                   "alt_text": CAPTION, "caption_writer": WRITER, "iptc_caption": CAPTION,
                                   "iptc_keywords": ["photo", "été", "dog;cat"], "iptc_writer": WRITER}
    assert read_image(path).pixels.shape == (48, 64, 3)


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_png_and_webp_carry_xmp(tmp_path, suffix):
    meta = caption_metadata(CAPTION, ["text"], writer=WRITER)
    path = write_image(gradient(), tmp_path / f"out{suffix}", xmp=meta.xmp)
    xmp, _ = exiv2(path)
    assert xmp["Xmp.dc.description"] == {'lang="x-default"': CAPTION}
    assert xmp["Xmp.dc.subject"] == ["text"]
    assert read_metadata(path)["description"] == CAPTION


def test_limits_cut_on_character_boundaries(tmp_path):
    caption = "é" * 1500  # 3000 bytes
    keyword = "ü" * 40  # 80 bytes
    meta = caption_metadata(caption, [keyword])
    path = write_image(gradient(), tmp_path / "long.jpg", xmp=meta.xmp, iptc=meta.iptc)
    xmp, iptc = exiv2(path)
    assert iptc["Iptc.Application2.Caption"] == "é" * (MAX_CAPTION_BYTES // 2)
    assert iptc["Iptc.Application2.Keywords"] == ["ü" * 32]
    assert xmp["Xmp.dc.description"] == {'lang="x-default"': caption}  # XMP has no such limit
    assert xmp["Xmp.iptc.AltTextAccessibility"] == {'lang="x-default"': "é" * 250}
    assert truncate_utf8("a😀", 4) == b"a" and truncate_utf8("a😀", 5) == "a😀".encode()


def test_xml_special_and_invalid_characters(tmp_path):
    nasty = "</rdf:li></rdf:Alt><evil/> ]]> &amp; \x00\x07 end"
    meta = caption_metadata(nasty, ["<b>"])
    path = write_image(gradient(), tmp_path / "x.jpg", xmp=meta.xmp, iptc=meta.iptc)
    xmp, _ = exiv2(path)
    assert xmp["Xmp.dc.description"] == {'lang="x-default"': "</rdf:li></rdf:Alt><evil/> ]]> &amp;  end"}
    assert xmp["Xmp.dc.subject"] == ["<b>"]


def test_empty_caption_writes_keywords_only():
    xmp = build_xmp(None, ["text"])
    assert b"dc:description" not in xmp and b"AltText" not in xmp and b"<rdf:li>text</rdf:li>" in xmp
    assert parse_iptc(build_iptc("", ["text"])) == {"iptc_caption": None, "iptc_keywords": ["text"],
                                                    "iptc_writer": None}


def test_embed_in_existing_jpeg_replaces_without_reencoding(tmp_path):
    path = tmp_path / "copy.jpg"
    path.write_bytes(encode(Image.fromarray(gradient()), "JPEG", quality=90))
    before = read_image(path).pixels
    embed_metadata(path, "first caption", ["photo"], writer=WRITER)
    embed_metadata(path, CAPTION, ["sketch"], writer=WRITER)  # replaces, does not add
    xmp, iptc = exiv2(path)
    assert xmp["Xmp.dc.description"] == {'lang="x-default"': CAPTION}
    assert iptc["Iptc.Application2.Keywords"] == ["sketch"]
    data = path.read_bytes()
    assert data.count(b"http://ns.adobe.com/xap/1.0/\x00") == 1 and data.count(b"Photoshop 3.0\x00") == 1
    np.testing.assert_array_equal(read_image(path).pixels, before)  # same compressed data


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_embed_in_existing_lossless_files(tmp_path, suffix):
    path = write_image(gradient(), tmp_path / f"a{suffix}")
    embed_metadata(path, CAPTION, ["photo"])
    assert read_metadata(path)["description"] == CAPTION
    np.testing.assert_array_equal(read_image(path).pixels, gradient())


def test_embed_refuses_webp_and_non_jpeg_bytes(tmp_path):
    path = write_image(gradient(), tmp_path / "a.webp")
    with pytest.raises(ValueError, match="a.webp: cannot embed metadata in WEBP in place"):
        embed_metadata(path, "x")
    with pytest.raises(ValueError, match="not a JPEG"):
        embed_in_jpeg(b"\x89PNG....", b"x", None)


def test_read_metadata_of_plain_file_is_empty(tmp_path):
    path = write_image(gradient(), tmp_path / "plain.jpg")
    assert read_metadata(path) == {"description": None, "subject": [], "alt_text": None, "caption_writer": None,
                                   "iptc_caption": None, "iptc_keywords": [], "iptc_writer": None}
