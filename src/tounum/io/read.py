"""Read one image file safely, by content, into 8-bit RGB.

The reader is the project's only way in for pixels, so it refuses loudly rather than guessing:
every refusal is an :class:`ImageReadError` whose message is ``"<path>: <reason>"``.

Pillow does the decoding directly (imageio's Pillow plugin would hide the original mode, clip
16-bit PNGs and decode before we can check the dimensions); writing goes through imageio.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
import zlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageFile, TiffImagePlugin

# Formats read by content; anything else Pillow could open (EPS runs Ghostscript, PSD, ICO...)
# is refused. Pillow's JPEG opener also gives MPO, the multi-picture JPEG of many cameras.
FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP", "GIF")

# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Leading bytes of common non-images, to say what a refused file looks like.
_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"%!PS", "a PostScript document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office/ODF document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"MZ", "a Windows executable"),
    (b"8BPS", "a Photoshop document (PSD)"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"II*\x00\x10\x00\x00\x00CR", "a Canon raw photo (CR2)"),
)

MAX_EXIF_VALUE_BYTES = 256  # longer binary EXIF values (maker notes, thumbnails) are left out


def display_path(path: str | bytes | os.PathLike) -> str:
    """A path as printable text: non-UTF-8 bytes as ``\\xNN``, control characters escaped.

    Safe for logs, tables and reports (a name cannot forge a line); use the original to open.

    Example
    -------
    >>> display_path(b"caf\\xe9\\nx.png")
    'caf\\\\xe9\\\\nx.png'
    """
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ImageReadError(ValueError):
    """An input that is not a readable image; ``str(err)`` is ``"<path>: <reason>"``.

    ``path`` is the printable form of the path (see :func:`display_path`).
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = display_path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class LoadedImage:
    """A decoded image and what the original file was.

    ``width`` and ``height`` are those of ``pixels`` (after the EXIF orientation);
    ``mode`` and ``bit_depth`` (bits per sample) describe the original.
    """

    pixels: np.ndarray  # (H, W, 3) uint8 RGB, upright
    path: str
    format: str  # "JPEG", "PNG", "TIFF", "BMP", "WEBP" or "GIF"
    mode: str  # the original Pillow mode: "L", "P", "RGBA", "CMYK", "I;16", "F"...
    bit_depth: int
    width: int
    height: int
    n_frames: int = 1
    exif: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    orientation: int = 1  # the EXIF orientation that was applied (1: none)
    dpi: tuple[float, float] | None = None
    icc_profile: bytes | None = None  # kept only when it describes RGB, so it fits ``pixels``


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content, read in chunks (memory does not grow with the file).

    Parameters
    ----------
    path : path of the file.
    chunk_size : bytes read at a time.

    Returns
    -------
    The 64-character lowercase hex digest.

    Example
    -------
    >>> import tempfile
    >>> f = tempfile.NamedTemporaryFile(delete=False); _ = f.write(b"abc"); f.close()
    >>> sha256_file(f.name)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def check_input_path(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> os.stat_result:
    """Refuse what is not a regular file inside ``root``, before opening it.

    Parameters
    ----------
    path : the input file.
    root : the input folder it was found in; a path (or symbolic link) resolving outside it is
        refused. None: no containment check.

    Returns
    -------
    The ``os.stat`` of the resolved file.

    Example
    -------
    >>> import tempfile
    >>> try:
    ...     check_input_path(tempfile.gettempdir())
    ... except ImageReadError as err:
    ...     print(err.reason)
    is a directory, not an image file
    """
    is_link = stat.S_ISLNK(_stat(os.lstat, path, "no such file").st_mode)
    if root is not None:
        real, real_root = os.path.realpath(path), os.path.realpath(root)
        if os.path.commonpath([real, real_root]) != real_root:
            what = "symbolic link leads" if is_link else "path is"
            raise ImageReadError(path, f"{what} outside the input folder {display_path(root)!r} "
                                       f"(to {display_path(real)!r}); refused")
    st = _stat(os.stat, path, "broken symbolic link (its target does not exist)")
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(path, "is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(path, "not a regular file (a device, FIFO or socket)")
    if st.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    return st


def _stat(how: Any, path: str | os.PathLike[str], missing: str) -> os.stat_result:
    try:
        return how(path)
    except FileNotFoundError:
        raise ImageReadError(path, missing) from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read: {exc.strerror}") from None


def describe_non_image(head: bytes) -> str:
    """Say what a file that is not a supported image looks like, from its first bytes.

    Example
    -------
    >>> describe_non_image(b"%PDF-1.7 ...")
    'a PDF document'
    """
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("latin-1")
        return f"an ISO media file (brand {brand!r}: HEIC/AVIF/video)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sample is still text.
        try:
            text = head[:-3].decode("utf-8") if len(head) > 3 else ""
        except UnicodeDecodeError:
            text = ""
    text = text.removeprefix("\ufeff")
    if text and sum(c.isprintable() or c in "\r\n\t" for c in text) >= 0.95 * len(text):
        lowered = text.lstrip().lower()
        if "<svg" in lowered:
            return "an SVG drawing (vector graphics; rasterise it to PNG first)"
        if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered[:512]:
            return "an HTML page"
        if lowered.startswith("<?xml") or lowered.startswith("<"):
            return "an XML document"
        first = text.strip().splitlines()[0][:40] if text.strip() else ""
        return f"a text file (starts {first!r})"
    return f"not an image (starts with bytes {head[:8].hex(' ')})"


def _bit_depth(im: Image.Image, head: bytes) -> int:
    """Bits per sample of the original file (Pillow narrows some, e.g. 16-bit RGB PNG to 8)."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) > 24:
        return head[24]  # IHDR bit depth, which Pillow does not expose
    if isinstance(im, TiffImagePlugin.TiffImageFile):
        bits = im.tag_v2.get(258)
        if bits:
            return int(bits[0] if isinstance(bits, tuple) else bits)
    return {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}.get(im.mode, 8)


def _plain(value: Any) -> Any:
    """An EXIF value as plain Python (rationals to float, short bytes to text)."""
    if isinstance(value, TiffImagePlugin.IFDRational):
        return float(value) if value.denominator else None
    if isinstance(value, bytes):
        if len(value) > MAX_EXIF_VALUE_BYTES:
            return None
        return value.rstrip(b"\x00").decode("utf-8", "replace")
    if isinstance(value, str):
        return value.rstrip("\x00")
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float)):
        return value
    return str(value)


def _exif_dict(im: Image.Image, notes: list[str]) -> tuple[dict[str, Any], int]:
    """The EXIF tags by name (main IFD and Exif sub-IFD) and the orientation."""
    try:
        exif = im.getexif()
        tags = dict(exif)
        tags.update(exif.get_ifd(ExifTags.IFD.Exif))
    except Exception as exc:  # Pillow raises many kinds on corrupt EXIF; the pixels are still fine
        notes.append(f"EXIF unreadable, ignored: {exc}")
        return {}, 1
    out = {}
    for key, value in tags.items():
        if key in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop):
            continue
        plain = _plain(value)
        if plain is not None:
            out[ExifTags.TAGS.get(key, str(key))] = plain
    orientation = tags.get(ExifTags.Base.Orientation, 1)
    if orientation not in range(1, 9):
        notes.append(f"EXIF orientation {orientation!r} is not valid, ignored")
        orientation = 1
    return out, int(orientation)


def _scale_to_uint8(a: np.ndarray, bit_depth: int, notes: list[str]) -> np.ndarray:
    """Map integer or float samples to 0..255: by bit depth, or by the data's range."""
    is_float = a.dtype.kind == "f"
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.all():
        notes.append("non-finite samples (NaN/inf) set to the darkest value")
        a = np.where(finite, a, a[finite].min() if finite.any() else 0.0)
    lo, hi = float(a.min()), float(a.max())
    if is_float and lo >= 0 and hi <= 1:
        low, high = 0.0, 1.0  # float images in 0..1, the usual convention
    elif not is_float and bit_depth < 32 and lo >= 0 and hi <= 2**bit_depth - 1:
        low, high = 0.0, float(2**bit_depth - 1)
    else:
        low, high = lo, hi
        notes.append(f"samples scaled by their range {lo:g}..{hi:g}")
    if high <= low:
        return np.zeros(a.shape, np.uint8)
    return np.clip(np.rint((a - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)


def _composite_on_white(rgba: Image.Image) -> np.ndarray:
    a = np.asarray(rgba.convert("RGBA"), dtype=np.uint16)
    alpha = a[..., 3:4]
    return ((a[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _to_rgb8(im: Image.Image, bit_depth: int, notes: list[str]) -> np.ndarray:
    """Every Pillow mode to (H, W, 3) uint8; alpha composited on white."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        grey = _scale_to_uint8(np.asarray(im), bit_depth, notes)
        return np.repeat(grey[..., None], 3, axis=2)
    has_alpha = mode in ("LA", "La", "PA", "RGBA", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info)
    if has_alpha:
        return _composite_on_white(im)
    return np.asarray(im.convert("RGB"))


def read_image(path: str | os.PathLike[str], *, max_pixels: int = 200_000_000,
               root: str | os.PathLike[str] | None = None) -> LoadedImage:
    """Read an image file by its content into upright 8-bit RGB, or refuse it.

    Parameters
    ----------
    path : the file. Its extension is ignored: JPEG, PNG, TIFF, BMP, WebP and GIF are
        recognised by content. Multi-page TIFF and animated GIF give their first frame and a
        warning.
    max_pixels : decompression-bomb guard, checked on the header before any decoding.
    root : the input folder; a path or symbolic link resolving outside it is refused.

    Returns
    -------
    LoadedImage with ``pixels`` (H, W, 3) uint8: greyscale and palette expanded, alpha
    composited on white, CMYK converted, 16-bit and float samples scaled to 0..255, the EXIF
    orientation applied.

    Raises
    ------
    ImageReadError : ``"<path>: <reason>"`` for empty, truncated, corrupt or oversized files,
        non-images, directories and links leaving ``root``.

    Example
    -------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> p = tempfile.mkdtemp() + "/scan.dat"
    >>> Image.fromarray(np.zeros((2, 3), np.uint8)).save(p, format="PNG")
    >>> im = read_image(p)
    >>> im.format, im.mode, im.pixels.shape
    ('PNG', 'L', (2, 3, 3))
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated scans would be "
                           "read as grey; unset it")
    check_input_path(path, root)
    # Our limit is the guard; lift Pillow's own (89 Mpx warning, 179 Mpx error) above it.
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels
    notes: list[str] = []
    try:
        # O_NONBLOCK: a FIFO swapped in after the check must not hang the batch.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ImageReadError(path, f"cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fp:
        if not stat.S_ISREG(os.fstat(fp.fileno()).st_mode):
            raise ImageReadError(path, "not a regular file")
        head = fp.read(2048)
        fp.seek(0)
        # Pillow's warnings (corrupt EXIF...) go into the record. catch_warnings is process-wide:
        # the pipeline reads from one thread per process, so each list is exact.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            im = _open(fp, head, path, max_pixels)
            loaded = _decode(im, head, path, notes)
        notes.extend(f"{w.category.__name__}: {w.message}" for w in caught
                     if not issubclass(w.category, Image.DecompressionBombWarning))
    loaded.warnings = notes
    return loaded


def _open(fp: Any, head: bytes, path: str | os.PathLike[str], max_pixels: int) -> Image.Image:
    try:
        im = Image.open(fp, formats=FORMATS)
    except Image.UnidentifiedImageError:
        described = describe_non_image(head)
        raise ImageReadError(path, f"not a supported image: looks like {described}"
                             if not described.startswith("not an image") else described) from None
    except Image.DecompressionBombError as exc:  # Pillow's own guard, above ours
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageReadError(path, f"decompression bomb guard: the header declares {size}, over "
                                   f"the limit of {max_pixels:,} (io.max_pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise ImageReadError(path, f"corrupt image header: {exc}") from None
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"corrupt image header: size {width}x{height}")
    if width * height > max_pixels:
        raise ImageReadError(
            path, f"decompression bomb guard: the header declares {width}x{height} = "
                  f"{width * height:,} pixels, over the limit of {max_pixels:,} (io.max_pixels)")
    return im


def _decode(im: Image.Image, head: bytes, path: str | os.PathLike[str], notes: list[str]) -> LoadedImage:
    fmt = "JPEG" if im.format == "MPO" else str(im.format)
    try:
        n_frames = int(getattr(im, "n_frames", 1))
        if n_frames > 1:
            what = {"TIFF": "multi-page TIFF", "GIF": "animated GIF", "WEBP": "animated WebP"}.get(
                fmt, f"{fmt} with several images")
            notes.append(f"{what}: {n_frames} frames, only the first is read")
            im.seek(0)
        mode, bit_depth = im.mode, _bit_depth(im, head)
        im.load()  # before EXIF: a PNG's EXIF may follow the pixels, and a failed load must raise
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason or isinstance(exc, EOFError):
            raise ImageReadError(path, f"truncated image: {reason}") from None
        raise ImageReadError(path, f"corrupt image data: {reason}") from None
    exif, orientation = _exif_dict(im, notes)
    try:
        rgb = _to_rgb8(im, bit_depth, notes)
    except ValueError as exc:  # e.g. LAB, which Pillow cannot convert without a colour profile
        raise ImageReadError(path, f"unsupported colour mode {im.mode}: {exc}") from None
    if orientation in _ORIENTATION:
        rgb = np.asarray(Image.fromarray(rgb).transpose(_ORIENTATION[orientation]))
    dpi = im.info.get("dpi")
    icc = im.info.get("icc_profile")
    if icc and icc[16:20] != b"RGB ":
        icc = None
    return LoadedImage(
        pixels=np.ascontiguousarray(rgb), path=os.fsdecode(path), format=fmt, mode=mode,
        bit_depth=bit_depth, width=rgb.shape[1], height=rgb.shape[0], n_frames=n_frames,
        exif=exif, orientation=orientation,
        dpi=(float(dpi[0]), float(dpi[1])) if dpi else None, icc_profile=icc or None)
