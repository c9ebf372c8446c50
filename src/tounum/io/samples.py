"""Make image files of every awkward kind, for tests and demos (no data is shipped).

``write_hostile_folder`` fills a folder with good images in every supported format and mode
and with every input the reader must refuse, and says what reading each should give.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    """A (H, W, 3) uint8 test picture whose rows, columns and channels all differ.

    Example
    -------
    >>> gradient(4, 6).shape
    (4, 6, 3)
    """
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                     (x + y) * 255 // max(width + height - 2, 1)], axis=2).astype(np.uint8)


def encode(image: Image.Image, format: str, **params) -> bytes:
    """``image`` saved to bytes in ``format`` (Pillow's save parameters in ``params``)."""
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    return buffer.getvalue()


def raw_png(width: int, height: int, rows: bytes, *, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    """A PNG assembled by hand from filtered scanlines ``rows``, for what Pillow cannot write
    (16-bit RGB) or would refuse (a header declaring more pixels than the data holds).

    Example
    -------
    >>> raw_png(1, 1, b"\\x00\\x7f")[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb's shape).

    Example
    -------
    >>> len(png_header_only(100_000, 100_000)) < 100
    True
    """
    return raw_png(width, height, b"\x00" * 64)


def good_images() -> dict[str, bytes]:
    """Readable files: every supported format and the awkward modes, by file name."""
    rgb = gradient()
    pil = Image.fromarray(rgb)
    grey = rgb[..., 0]
    alpha = np.where(np.arange(rgb.shape[1]) < rgb.shape[1] // 2, 0, 255).astype(np.uint8)
    rgba = Image.fromarray(np.dstack([rgb, np.broadcast_to(alpha, grey.shape)]))
    palette = pil.quantize(16)
    palette.info["transparency"] = 0
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    frames = [Image.fromarray(np.full_like(rgb, v)) for v in (10, 128, 250)]
    return {
        "photo.jpg": encode(pil, "JPEG", quality=90),
        "photo.png": encode(pil, "PNG"),
        "photo.tif": encode(pil, "TIFF", compression="tiff_deflate"),
        "photo.bmp": encode(pil, "BMP"),
        "photo.webp": encode(pil, "WEBP", lossless=True),
        "photo.gif": encode(pil.quantize(64), "GIF"),
        "grey.png": encode(Image.fromarray(grey), "PNG"),
        "bilevel.png": encode(Image.fromarray(grey > 127), "PNG"),
        "grey_alpha.png": encode(Image.fromarray(np.dstack([grey, np.broadcast_to(alpha, grey.shape)]), "LA"), "PNG"),
        "rgba.png": encode(rgba, "PNG"),
        "palette_transparent.png": encode(palette, "PNG"),
        "cmyk.jpg": encode(pil.convert("CMYK"), "JPEG", quality=95),
        "grey16.png": encode(Image.fromarray(grey.astype(np.uint16) * 257), "PNG"),
        "float.tif": encode(Image.fromarray(grey.astype(np.float32) / 255), "TIFF"),
        "rotated.jpg": encode(pil, "JPEG", quality=95, exif=exif.tobytes()),
        "pages.tif": encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
        "animated.gif": encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100),
        "no_extension": encode(pil, "PNG"),
        "png_named.jpg": encode(pil, "PNG"),
    }


def bad_images() -> dict[str, tuple[bytes, str]]:
    """Files the reader must refuse: name -> (content, words its reason must contain)."""
    jpeg = encode(Image.fromarray(gradient(256, 256)), "JPEG", quality=90)
    png = bytearray(encode(Image.fromarray(gradient(64, 64)), "PNG"))
    idat = png.index(b"IDAT")
    png[idat + 20: idat + 40] = bytes(20)  # zeros in the compressed pixel data
    return {
        "empty.jpg": (b"", "empty file"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "corrupt.png": (bytes(png), "corrupt"),
        "notes.jpg": (b"Shopping list:\n- milk\n- scanner glass cleaner\n", "text file"),
        "page.png": (b"<!DOCTYPE html>\n<html><body>not a scan</body></html>\n", "HTML page"),
        "letter.jpg": (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF document"),
        "drawing.svg": (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
                        b'width="10" height="10"><rect width="10" height="10"/></svg>\n', "SVG"),
        "bomb.png": (png_header_only(100_000, 100_000), "decompression bomb"),
        "random.tif": (bytes(np.random.default_rng(0).integers(0, 256, 512, dtype=np.uint8)), "not an image"),
    }


HOSTILE_NAMES = ("with space.png", ";rm -rf ~;.png", "-leading-dash.png", "..double-dot.png",
                 ".hidden.png", "$(reboot).png", "new\nline.png")
NON_UTF8_NAME = b"caf\xe9-latin1.png"


def write_hostile_folder(folder: str | os.PathLike[str]) -> dict[str, str | None]:
    """Fill ``folder`` (created) with good, bad and hostile inputs.

    Returns
    -------
    A dict from each entry's path relative to ``folder`` (``os.fsdecode`` form, ``/``
    separators) to None for an image that must read, or to words its refusal must contain.
    Besides files it makes a directory named ``folder.jpg``, a symbolic link leaving the folder
    and a broken one, and names with spaces, shell characters, a leading dash, ``..``, a newline
    and non-UTF-8 bytes.

    Example
    -------
    >>> import tempfile
    >>> expected = write_hostile_folder(tempfile.mkdtemp() + "/in")
    >>> expected["photo.jpg"] is None, expected["empty.jpg"]
    (True, 'empty file')
    """
    root = Path(folder)
    (root / "sub dir").mkdir(parents=True, exist_ok=True)
    expected: dict[str, str | None] = {}
    for name, data in good_images().items():
        (root / name).write_bytes(data)
        expected[name] = None
    for name, (data, reason) in bad_images().items():
        (root / name).write_bytes(data)
        expected[name] = reason
    png = good_images()["photo.png"]
    for name in HOSTILE_NAMES:
        (root / "sub dir" / name).write_bytes(png)
        expected[f"sub dir/{name}"] = None
    with open(os.path.join(os.fsencode(root), NON_UTF8_NAME), "wb") as f:
        f.write(png)
    expected[os.fsdecode(NON_UTF8_NAME)] = None
    (root / "folder.jpg").mkdir(exist_ok=True)
    expected["folder.jpg"] = "directory"
    outside = root.parent / f"{root.name}-outside.png"
    outside.write_bytes(png)
    for name, target in (("escape.png", outside), ("broken.png", root / "missing.png")):
        if not (root / name).is_symlink():
            (root / name).symlink_to(target)
    expected["escape.png"] = "outside the input folder"
    expected["broken.png"] = "broken symbolic link"
    return expected
