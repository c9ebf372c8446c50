"""Reading images by content: every format, every mode, and every refusal with its message."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from tounum.config import IOConfig
from tounum.io import ImageReadError, read_image, sha256_file
from tounum.io.read import describe_non_image, display_path
from tounum.io.samples import bad_images, encode, good_images, gradient, png_header_only, raw_png


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    for name, data in good_images().items():
        (folder / name).write_bytes(data)
    return folder


def refused(path, **kwargs) -> ImageReadError:
    with pytest.raises(ImageReadError) as info:
        read_image(path, **kwargs)
    return info.value


@pytest.mark.parametrize("name, fmt", [("photo.jpg", "JPEG"), ("photo.png", "PNG"), ("photo.tif", "TIFF"),
                                       ("photo.bmp", "BMP"), ("photo.webp", "WEBP"), ("photo.gif", "GIF"),
                                       ("no_extension", "PNG"), ("png_named.jpg", "PNG")])
def test_formats_read_by_content(good, name, fmt):
    im = read_image(good / name)
    assert im.format == fmt
    assert im.pixels.dtype == np.uint8 and im.pixels.shape == (48, 64, 3)
    assert (im.width, im.height) == (64, 48)
    tolerance = {"JPEG": 12, "GIF": 40}.get(fmt, 0)
    assert np.abs(im.pixels.astype(int) - gradient()).mean() <= tolerance
    assert im.path == str(good / name) and im.warnings == []


def test_lossless_formats_are_exact(good):
    for name in ("photo.png", "photo.tif", "photo.bmp", "photo.webp"):
        np.testing.assert_array_equal(read_image(good / name).pixels, gradient(), err_msg=name)


def test_greyscale_and_bilevel_expand_to_rgb(good):
    grey = read_image(good / "grey.png")
    assert grey.mode == "L" and grey.bit_depth == 8
    np.testing.assert_array_equal(grey.pixels, np.repeat(gradient()[..., :1], 3, axis=2))
    bilevel = read_image(good / "bilevel.png")
    assert bilevel.mode == "1" and bilevel.bit_depth == 1
    assert set(np.unique(bilevel.pixels)) == {0, 255}


@pytest.mark.parametrize("name, mode", [("rgba.png", "RGBA"), ("grey_alpha.png", "LA"),
                                        ("palette_transparent.png", "P")])
def test_alpha_is_composited_on_white(good, name, mode):
    im = read_image(good / name)
    assert im.mode == mode
    if mode == "P":  # palette index 0 is the transparent one
        index = np.asarray(Image.open(good / name))
        assert (im.pixels[index == 0] == 255).all() and (index == 0).any()
        assert not (im.pixels[index != 0] == 255).all()
    else:  # the left half is fully transparent, the right half opaque
        assert (im.pixels[:, :32] == 255).all()
        expected = gradient()[:, 32:] if mode == "RGBA" else np.repeat(gradient()[:, 32:, :1], 3, axis=2)
        np.testing.assert_array_equal(im.pixels[:, 32:], expected)


def test_cmyk_jpeg_becomes_rgb(good):
    im = read_image(good / "cmyk.jpg")
    assert im.mode == "CMYK" and im.format == "JPEG"
    assert np.abs(im.pixels.astype(int) - gradient()).mean() < 12


def test_16_bit_png_scaled_by_bit_depth(good):
    im = read_image(good / "grey16.png")
    assert im.mode.startswith("I;16") and im.bit_depth == 16
    np.testing.assert_array_equal(im.pixels[..., 0], gradient()[..., 0])


def test_16_bit_rgb_png_and_16_bit_tiff(tmp_path):
    values = np.array([[[0, 32896, 65535], [65535, 257, 0]]], ">u2")  # 1 row, 2 RGB pixels
    path = _write(tmp_path / "rgb48.png", raw_png(2, 1, b"\x00" + values.tobytes(), bit_depth=16, colour_type=2))
    im = read_image(path)
    assert im.bit_depth == 16 and im.mode == "RGB"
    assert np.abs(im.pixels.astype(int) - np.rint(values / 257)).max() <= 1
    tif = tmp_path / "grey16.tif"
    Image.fromarray(np.array([[0, 65535, 257 * 100]], np.uint16)).save(tif)
    im = read_image(tif)
    assert im.bit_depth == 16 and im.mode.startswith("I;16")
    assert im.pixels[0, :, 0].tolist() == [0, 255, 100]


def test_32_bit_integer_tiff_scaled_by_its_range(tmp_path):
    path = tmp_path / "counts.tif"
    Image.fromarray(np.array([[100_000, 150_000, 200_000]], np.int32)).save(path)
    im = read_image(path)
    assert im.mode == "I" and im.bit_depth == 32
    assert im.pixels[0, :, 0].tolist() == [0, 128, 255]
    assert im.warnings == ["samples scaled by their range 100000..200000"]


def test_float_tiff_in_unit_range_and_outside_it(good, tmp_path):
    im = read_image(good / "float.tif")
    assert im.mode == "F" and im.bit_depth == 32
    assert np.abs(im.pixels[..., 0].astype(int) - gradient()[..., 0]).max() <= 1
    wide = tmp_path / "wide.tif"
    Image.fromarray(np.array([[-5.0, 0.0, 15.0, np.nan]], np.float32)).save(wide)
    im = read_image(wide)
    assert im.pixels[0, :, 0].tolist() == [0, 64, 255, 0]
    assert any("range -5..15" in w for w in im.warnings) and any("non-finite" in w for w in im.warnings)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_like_pillow(tmp_path, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(gradient(6, 10)).save(path, exif=exif.tobytes())
    im = read_image(path)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_array_equal(im.pixels, expected)
    assert im.orientation == orientation and im.exif["Orientation"] == orientation
    assert (im.width, im.height) == ((6, 10) if orientation >= 5 else (10, 6))


def test_exif_rotated_jpeg(good):
    im = read_image(good / "rotated.jpg")
    assert im.orientation == 6 and im.pixels.shape == (64, 48, 3)
    # rotated clockwise: the original's left column is now the top row
    assert np.abs(im.pixels[0].astype(int) - gradient()[::-1, 0]).mean() < 12


@pytest.mark.parametrize("name, what", [("pages.tif", "multi-page TIFF"), ("animated.gif", "animated GIF")])
def test_first_frame_with_a_warning(good, name, what):
    im = read_image(good / name)
    assert im.n_frames == 3
    assert im.warnings == [f"{what}: 3 frames, only the first is read"]
    assert abs(int(np.median(im.pixels)) - 10) <= 2  # the first frame is the dark one


def test_metadata_kept(tmp_path):
    path = tmp_path / "scan.jpg"
    exif = Image.Exif()
    exif[0x010F] = "ScanCo"  # Make
    Image.fromarray(gradient()).save(path, dpi=(300, 300), exif=exif.tobytes())
    im = read_image(path)
    assert im.exif["Make"] == "ScanCo" and im.dpi == (300.0, 300.0)


@pytest.mark.parametrize("name", sorted(bad_images()))
def test_refusals_name_the_file_and_the_reason(tmp_path, name):
    data, reason = bad_images()[name]
    path = tmp_path / name
    path.write_bytes(data)
    err = refused(path)
    assert str(err).startswith(f"{path}: ")
    assert reason in str(err)


def test_refusal_messages_are_specific(tmp_path):
    cases = {name: str(refused(_write(tmp_path / name, data))) for name, (data, _) in bad_images().items()}
    assert cases["notes.jpg"].endswith("not a supported image: looks like a text file (starts 'Shopping list:')")
    assert "looks like a PDF document" in cases["letter.jpg"]
    assert "rasterise it to PNG" in cases["drawing.svg"]
    assert "10,000,000,000 pixels, over the limit of 200,000,000" in cases["bomb.png"]
    assert "truncated image" in cases["truncated.jpg"]


def _write(path, data):
    path.write_bytes(data)
    return path


def test_bomb_checked_on_the_header_with_a_configurable_limit(tmp_path):
    path = _write(tmp_path / "big.png", png_header_only(20_000, 10_000))  # 200 Mpx, valid header
    assert IOConfig().max_pixels == 200_000_000
    err = refused(path, max_pixels=1_000_000)
    assert str(err) == (f"{path}: decompression bomb guard: the header declares 20000x10000 = "
                        "200,000,000 pixels, over the limit of 1,000,000 (io.max_pixels)")
    small = _write(tmp_path / "small.png", encode(Image.fromarray(gradient()), "PNG"))
    assert "48x64" not in str(refused(small, max_pixels=64 * 48 - 1)) and read_image(small, max_pixels=64 * 48)


def test_truncated_png_and_truncation_flag_untouched(tmp_path):
    data = encode(Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8)), "PNG")
    err = refused(_write(tmp_path / "cut.png", data[: len(data) * 2 // 3]))
    assert "cut.png: " in str(err) and ("truncated" in err.reason or "corrupt" in err.reason)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_directory_named_like_an_image(tmp_path):
    (tmp_path / "x.jpg").mkdir()
    assert str(refused(tmp_path / "x.jpg")) == f"{tmp_path}/x.jpg: is a directory, not an image file"


def test_missing_file_and_fifo(tmp_path):
    assert str(refused(tmp_path / "gone.png")) == f"{tmp_path}/gone.png: no such file"
    os.mkfifo(tmp_path / "pipe.png")
    assert "not a regular file" in str(refused(tmp_path / "pipe.png"))


def test_symlinks_inside_root_read_outside_refused(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    outside = _write(tmp_path / "secret.png", encode(Image.fromarray(gradient()), "PNG"))
    inside = _write(root / "real.png", outside.read_bytes())
    (root / "inner.png").symlink_to(inside)
    (root / "escape.png").symlink_to(outside)
    (root / "dangling.png").symlink_to(root / "nothing.png")
    assert read_image(root / "inner.png", root=root).format == "PNG"
    err = refused(root / "escape.png", root=root)
    assert str(err).startswith(f"{root}/escape.png: symbolic link leads outside the input folder")
    assert str(outside) in str(err)
    assert "broken symbolic link" in str(refused(root / "dangling.png", root=root))
    assert "path is outside the input folder" in str(refused(outside, root=root))
    assert read_image(root / "escape.png").format == "PNG"  # no root given: no containment


def test_non_utf8_and_newline_names_print_safely(tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), b"bad\xff\nname.jpg")
    with open(raw, "wb") as f:
        f.write(b"")
    err = refused(os.fsdecode(raw))
    assert str(err) == f"{tmp_path}/bad\\xff\\nname.jpg: empty file (0 bytes)"
    str(err).encode("utf-8")  # printable anywhere
    assert display_path("ok name.png") == "ok name.png"


def test_describe_non_image():
    assert describe_non_image(b"\xef\xbb\xbf<svg xmlns=...>") .startswith("an SVG drawing")
    assert describe_non_image(b"<html><head>") == "an HTML page"
    assert describe_non_image(b"\x00\x00\x00\x18ftypheic") == "an ISO media file (brand 'heic': HEIC/AVIF/video)"
    assert describe_non_image(b"PK\x03\x04rest") .startswith("a ZIP archive")
    assert describe_non_image("Grüße\n".encode()) == "a text file (starts 'Grüße')"


def test_unsupported_pillow_format_refused(tmp_path):
    path = _write(tmp_path / "scan.jpg", encode(Image.fromarray(gradient()), "PPM"))
    assert "not an image" in str(refused(path)) and str(path) in str(refused(path))


def test_sha256_file(tmp_path):
    path = _write(tmp_path / "a.bin", b"abc" * 1000)
    import hashlib

    assert sha256_file(path, chunk_size=7) == hashlib.sha256(b"abc" * 1000).hexdigest()
