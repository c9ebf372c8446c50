"""Write outputs safely: atomically, only inside the output folder, never over an input.

Three guarantees the pipeline builds on:

* :func:`atomic_write` - a reader (or a rerun after SIGKILL) sees the old file or the complete
  new one, never half of one; the temporary file lies beside the destination and ends in
  :data:`TEMP_SUFFIX`, so leftovers of a killed run are easy to find and remove.
* :func:`safe_output_path` - no input name and no generated text can lead outside the output
  folder.
* :func:`check_output_dir` - the output folder and the input trees do not overlap, so no
  original can be written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import imageio.v3 as iio
import numpy as np

from tounum.io.discover import LIST_SUFFIXES, read_path_list
from tounum.io.read import display_path

TEMP_SUFFIX = ".tounum-part"
MAX_NAME_BYTES = 200  # below the 255-byte limit of common file systems, leaving room for suffixes

# Destination suffix -> Pillow format, the format families tounum writes.
FORMAT_BY_SUFFIX = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".tif": "TIFF",
                    ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP", ".gif": "GIF"}
SUFFIX_BY_FORMAT = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp",
                    "GIF": ".gif"}

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                     *(f"LPT{i}" for i in range(10))}
_FORBIDDEN = set('/<>:"|?*\\')  # separators, and what Windows/SMB shares (where scans live) forbid


class OutputPathError(ValueError):
    """An output location that would escape the output folder or touch the inputs."""


@contextmanager
def atomic_write(dest: str | os.PathLike[str], mode: str = "wb", *,
                 encoding: str | None = None, newline: str | None = None) -> Iterator[IO[Any]]:
    """Open ``dest`` for writing so that it appears complete or not at all.

    Writes go to a temporary file in the destination folder, which is flushed, fsynced and
    renamed over ``dest`` when the block ends; on an exception it is removed and ``dest`` is
    left as it was.

    Parameters
    ----------
    dest : the final path; its folder must exist.
    mode : "wb" or "w" (text, UTF-8 unless ``encoding`` says otherwise).
    encoding, newline : as for ``open`` in text mode.

    Returns
    -------
    A context manager yielding the open temporary file.

    Example
    -------
    >>> import tempfile, pathlib
    >>> dest = pathlib.Path(tempfile.mkdtemp()) / "results.csv"
    >>> with atomic_write(dest, "w") as f:
    ...     _ = f.write("path,status\\n")
    >>> dest.read_text()
    'path,status\\n'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', not {mode!r}")
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name[:60]}.", suffix=TEMP_SUFFIX)
    try:
        text = {"encoding": encoding or "utf-8", "newline": newline} if mode == "w" else {}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(dest.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it keeps the new file)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def remove_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files a killed run left under ``folder``; returns them.

    Example
    -------
    >>> import tempfile
    >>> remove_temporaries(tempfile.mkdtemp())
    []
    """
    found = sorted(Path(folder).rglob(f".*{TEMP_SUFFIX}"))
    for path in found:
        path.unlink(missing_ok=True)
    return found


def format_for(dest: str | os.PathLike[str], format: str | None = None) -> str:
    """The image format to write: ``format`` if given, else from the destination's suffix.

    Example
    -------
    >>> format_for("out/scan.TIFF"), format_for("out/x.bin", "jpeg")
    ('TIFF', 'JPEG')
    """
    if format is not None:
        name = {"JPG": "JPEG", "TIF": "TIFF"}.get(format.upper(), format.upper())
        if name not in SUFFIX_BY_FORMAT:
            raise ValueError(f"cannot write format {format!r} (known: {', '.join(SUFFIX_BY_FORMAT)})")
        return name
    suffix = Path(dest).suffix.lower()
    if suffix not in FORMAT_BY_SUFFIX:
        raise ValueError(f"{display_path(dest)}: cannot tell the image format from suffix "
                         f"{suffix or '(none)'!r}; pass format=")
    return FORMAT_BY_SUFFIX[suffix]


def encode_image(pixels: np.ndarray, format: str, *, quality: int = 92, xmp: bytes | None = None,
                 iptc: bytes | None = None, icc_profile: bytes | None = None,
                 dpi: tuple[float, float] | None = None) -> bytes:
    """Encode an 8-bit RGB (or greyscale) array as image file bytes, with optional metadata.

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) uint8.
    format : "JPEG", "PNG", "TIFF", "WEBP", "BMP" or "GIF".
    quality : JPEG and WebP quality (1-100).
    xmp : an XMP packet, embedded for JPEG (APP1), PNG (iTXt), TIFF (tag 700) and WebP.
    iptc : IPTC IIM datasets, embedded for JPEG (APP13 Photoshop IRB) and TIFF (tag 33723).
    icc_profile, dpi : kept where the format can hold them.

    Returns
    -------
    The file content.

    Example
    -------
    >>> encode_image(np.zeros((2, 2, 3), np.uint8), "PNG")[:4]
    b'\\x89PNG'
    """
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError(f"expected (H, W, 3) or (H, W) uint8 pixels, got {pixels.shape} {pixels.dtype}")
    params: dict[str, Any] = {}
    if dpi and format in ("JPEG", "PNG", "TIFF", "BMP"):
        params["dpi"] = tuple(float(d) for d in dpi)
    if icc_profile and format in ("JPEG", "PNG", "TIFF", "WEBP"):
        params["icc_profile"] = icc_profile
    if format in ("JPEG", "WEBP"):
        params["quality"] = int(quality)
    if format == "JPEG":
        if xmp:
            params["xmp"] = xmp
        if iptc:
            from tounum.io.metadata import photoshop_app13  # metadata imports this module

            params["extra"] = photoshop_app13(iptc)
    elif format == "PNG":
        params["compress_level"] = 6
        if xmp:
            from PIL.PngImagePlugin import PngInfo

            info = PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
            params["pnginfo"] = info
    elif format == "TIFF":
        params["compression"] = "tiff_adobe_deflate"
        tags = {}
        if xmp:
            tags[700] = xmp
        if iptc:
            tags[33723] = iptc + b"\x00" * (-len(iptc) % 4)  # readers expect whole LONGs
        if tags:
            params["tiffinfo"] = tags
    elif format == "WEBP" and xmp:
        params["xmp"] = xmp
    if (xmp or iptc) and format in ("BMP", "GIF"):
        raise ValueError(f"{format} cannot hold XMP or IPTC metadata; write JPEG, PNG, TIFF or WebP")
    if iptc and format not in ("JPEG", "TIFF"):
        raise ValueError(f"{format} has no place for IPTC IIM; pass the XMP only")
    return iio.imwrite("<bytes>", pixels, plugin="pillow", extension=SUFFIX_BY_FORMAT[format], **params)


def write_image(pixels: np.ndarray, dest: str | os.PathLike[str], *, format: str | None = None,
                quality: int = 92, xmp: bytes | None = None, iptc: bytes | None = None,
                icc_profile: bytes | None = None, dpi: tuple[float, float] | None = None) -> Path:
    """Write an image atomically (see :func:`encode_image` for the parameters).

    Parameters
    ----------
    pixels : (H, W, 3) or (H, W) uint8.
    dest : the destination; its suffix chooses the format unless ``format`` is given. Build it
        with :func:`safe_output_path`.

    Returns
    -------
    ``dest`` as a Path.

    Example
    -------
    >>> import tempfile
    >>> p = write_image(np.zeros((4, 4, 3), np.uint8), tempfile.mkdtemp() + "/black.jpg")
    >>> p.read_bytes()[:2]
    b'\\xff\\xd8'
    """
    data = encode_image(pixels, format_for(dest, format), quality=quality, xmp=xmp, iptc=iptc,
                        icc_profile=icc_profile, dpi=dpi)
    with atomic_write(dest) as f:
        f.write(data)
    return Path(dest)


def _escape_undecodable(raw: bytes) -> str:
    """UTF-8 text, with each byte that is not valid UTF-8 written as ``%XX``."""
    out = []
    while raw:
        try:
            out.append(raw.decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            out.append(raw[: exc.start].decode("utf-8"))
            out.append("".join(f"%{b:02X}" for b in raw[exc.start: exc.end]))
            raw = raw[exc.end:]
    return "".join(out)


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def safe_name(component: str | bytes) -> str:
    """One path component made safe to create inside a folder on any common file system.

    Keeps spaces and ordinary punctuation so that names stay recognisable; escapes non-UTF-8
    bytes (``%XX``); replaces control, bidirectional-override and Windows-forbidden characters
    with ``_``; defuses a leading ``-`` and the names ``.``, ``..`` and ``CON``-style reserved
    ones; shortens long names with a hash of the original so that they stay distinct.

    Example
    -------
    >>> safe_name("-rf *.jpg"), safe_name(".."), safe_name(b"caf\\xe9.png"), safe_name("CON.txt")
    ('_-rf _.jpg', '%2E%2E', 'caf%E9.png', '_CON.txt')
    """
    raw = os.fsencode(component)
    text = _escape_undecodable(raw)
    text = "".join("_" if c in _FORBIDDEN or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")
                   else c for c in text)
    text = text.strip(" ")
    if text in ("", ".", ".."):
        return text.replace(".", "%2E") or "_"
    if text.startswith("-"):
        text = "_" + text
    text = text.rstrip(". ") or "_"  # Windows drops trailing dots and spaces
    stem = text.split(".")[0].upper()
    if stem in _WINDOWS_RESERVED:
        text = "_" + text
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        digest = hashlib.sha256(raw).hexdigest()[:10]
        suffix = Path(text).suffix if len(Path(text).suffix) <= 16 else ""
        keep = MAX_NAME_BYTES - len(suffix.encode("utf-8")) - len(digest) - 1
        text = f"{_truncate_utf8(text[: len(text) - len(suffix)], keep)}~{digest}{suffix}"
    return text


def safe_output_path(out_dir: str | os.PathLike[str], relpath: str | bytes, *,
                     suffix: str | None = None) -> Path:
    """The path under ``out_dir`` for an input's relative path, guaranteed to stay inside.

    Parameters
    ----------
    out_dir : the output folder (or a subfolder of it, such as ``out/enhanced``).
    relpath : the input's path relative to its root, ``/``-separated. Absolute paths, ``..``,
        empty and ``.`` components, hostile characters and overlong names are all made safe
        (see :func:`safe_name`).
    suffix : replace the file's suffix (e.g. ``".jpg"``).

    Returns
    -------
    ``out_dir / <safe components>``. Folders are not created.

    Raises
    ------
    OutputPathError : if nothing usable remains, or the result would still resolve outside
        ``out_dir`` (a symbolic link planted inside it, for instance).

    Example
    -------
    >>> str(safe_output_path("/out", "../../etc/passwd"))
    '/out/%2E%2E/%2E%2E/etc/passwd'
    >>> str(safe_output_path("/out", "scans/-x y.tif", suffix=".jpg"))
    '/out/scans/_-x y.jpg'
    """
    text = os.fsdecode(relpath) if isinstance(relpath, bytes) else str(relpath)
    parts = [safe_name(p) for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise OutputPathError(f"{display_path(relpath)!r}: no file name left to write")
    if suffix is not None:
        if not suffix.startswith(".") or safe_name(suffix) != suffix or "/" in suffix:
            raise OutputPathError(f"suffix {suffix!r} is not a plain file suffix such as '.jpg'")
        stem = parts[-1][: -len(Path(parts[-1]).suffix)] if Path(parts[-1]).suffix else parts[-1]
        parts[-1] = safe_name(stem + suffix)
    out = Path(out_dir)
    dest = out.joinpath(*parts)
    real_out, real_dest = os.path.realpath(out), os.path.realpath(dest)
    if os.path.commonpath([real_out, real_dest]) != real_out or real_out == real_dest:
        raise OutputPathError(f"{display_path(dest)}: resolves outside the output folder "
                              f"{display_path(out)} (to {display_path(real_dest)}); refused")
    return dest


def check_output_dir(out_dir: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]]) -> Path:
    """Refuse an output folder that overlaps an input folder or contains an input file.

    Parameters
    ----------
    out_dir : the output folder (need not exist yet).
    inputs : the input folders and files as given; the entries of ``.txt``/``.csv`` lists
        are checked too.

    Returns
    -------
    ``out_dir`` resolved.

    Raises
    ------
    OutputPathError : naming both folders, if writing there could touch an original or make
        the next run read its own outputs.

    Example
    -------
    >>> try:
    ...     check_output_dir("/scans/out", ["/scans"])
    ... except OutputPathError as err:
    ...     print(err)
    /scans/out: the output folder is inside the input folder /scans; choose a folder outside the inputs
    """
    out = Path(os.path.realpath(out_dir))
    expanded: list[str | os.PathLike[str]] = []
    for item in inputs:
        expanded.append(item)
        if str(item).lower().endswith(LIST_SUFFIXES) and os.path.isfile(item):
            expanded.extend(read_path_list(item))
    for item in expanded:
        real = Path(os.path.realpath(item))
        is_dir = not real.is_file()  # a missing input counts as a folder: the safe side
        if is_dir and (out == real or real in out.parents):
            raise OutputPathError(f"{display_path(out_dir)}: the output folder is inside the input "
                                  f"folder {display_path(item)}; choose a folder outside the inputs")
        if out in real.parents:
            what = "folder" if is_dir else "file"
            raise OutputPathError(f"{display_path(out_dir)}: the output folder contains the input "
                                  f"{what} {display_path(item)}; choose a folder outside the inputs")
    return out
