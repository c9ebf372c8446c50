"""Find the input files: folders (recursive), single files, and text or CSV lists of paths.

Every regular file found gets one row, whatever it holds: the reader refuses non-images later
with a clear reason, so a shop sees one record per file it handed over.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from tounum.io.read import ImageReadError, check_input_path, display_path, sha256_file

COLUMNS = ["path", "root", "relpath", "size", "sha256", "error", "output_relpath"]
LIST_SUFFIXES = (".txt", ".csv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif")
_HEADER_WORDS = {"path", "file", "filename", "filepath", "image", "name"}


def read_path_list(list_file: str | os.PathLike[str]) -> list[str]:
    """The paths in a ``.txt`` (one per line) or ``.csv`` (``path`` column, else the first) list.

    Relative paths are taken from the list's own folder; blank lines and ``#`` comments are
    skipped; bytes that are not UTF-8 are kept (as Python's ``surrogateescape``).

    Example
    -------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "l.csv"
    >>> _ = f.write_text("id,path\\n1,a.jpg\\n2,/b.png\\n")
    >>> [p.replace(str(f.parent), "D") for p in read_path_list(f)]
    ['D/a.jpg', '/b.png']
    """
    base = os.path.dirname(os.path.abspath(list_file))
    with open(list_file, encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read().removeprefix("\ufeff")
    if str(list_file).lower().endswith(".csv"):
        rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
        column = 0
        if rows:
            header = [cell.strip().lower() for cell in rows[0]]
            if "path" in header:
                column, rows = header.index("path"), rows[1:]
            elif header[0] in _HEADER_WORDS and not os.path.exists(os.path.join(base, rows[0][0])):
                rows = rows[1:]
        entries = [row[column].strip() for row in rows if len(row) > column and row[column].strip()]
    else:
        entries = [line.strip() for line in text.splitlines()]
        entries = [e for e in entries if e and not e.startswith("#")]
    return [os.path.normpath(os.path.join(base, e)) for e in entries]


def _walk(root: str, follow_symlinks: bool) -> Iterator[tuple[str, str | None]]:
    """(path, error) for every file under ``root``, depth first; each real folder walked once."""
    failures: list[OSError] = []
    seen = {os.path.realpath(root)}
    for folder, dirs, files in os.walk(root, onerror=failures.append, followlinks=follow_symlinks):
        while failures:
            exc = failures.pop()
            yield exc.filename or folder, f"cannot list folder: {exc.strerror}"
        # Real folders before links to folders, so that a folder is listed under its own name;
        # a link to a folder already walked (a loop, or an alias) is not followed.
        entries = sorted((os.path.islink(os.path.join(folder, d)), d) for d in dirs)
        dirs[:] = []
        for is_link, name in entries:
            full = os.path.join(folder, name)
            real = os.path.realpath(full)
            if is_link and not follow_symlinks:
                yield full, "symbolic link to a folder, not followed (follow_symlinks is off)"
                continue
            if real in seen:
                yield full, "symbolic link to a folder listed already (a loop or an alias), not followed"
                continue
            seen.add(real)
            dirs.append(name)
            if name.lower().endswith(IMAGE_SUFFIXES):
                yield full, "is a directory named like an image, not an image file (its content is listed)"
        for name in sorted(files):
            yield os.path.join(folder, name), None
    while failures:
        exc = failures.pop()
        yield exc.filename or root, f"cannot list folder: {exc.strerror}"


def _entries(inputs: Iterable[str | os.PathLike[str]], follow_symlinks: bool) -> Iterator[tuple[str, str, str | None]]:
    """(path, root, error-from-walking) for every input, in input order."""
    for item in inputs:
        path = os.path.abspath(os.fsdecode(item))
        if os.path.isdir(path):  # a link to a folder named as an input is followed: asked for
            for found, error in sorted(_walk(path, follow_symlinks), key=lambda e: _sort_key(e[0], path)):
                yield found, path, error
        elif path.lower().endswith(LIST_SUFFIXES) and os.path.isfile(path):
            listed = read_path_list(path)
            folders = [p for p in listed if os.path.isdir(p)]
            files = [p for p in listed if not os.path.isdir(p)]
            root = os.path.commonpath([os.path.dirname(p) for p in files]) if files else ""
            yield from _entries(folders, follow_symlinks)
            for found in files:
                yield found, root, None
        else:
            yield path, os.path.dirname(path), None


def _sort_key(path: str, root: str) -> tuple[str, ...]:
    # Component-wise, so that "a/b" sorts with "a" and not after "a b".
    return tuple(os.path.relpath(path, root).split(os.sep))


def discover(inputs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *,
             follow_symlinks: bool = False, checksum: bool = True) -> pd.DataFrame:
    """The manifest of input files: one row per file found.

    Parameters
    ----------
    inputs : folders (walked recursively, sorted), files, and ``.txt``/``.csv`` lists of paths.
    follow_symlinks : descend into symbolic links to folders (links to files are always read,
        when they stay inside their input folder).
    checksum : compute the content SHA-256 (streamed; the stable identity of each file).

    Returns
    -------
    DataFrame with columns

    * ``path``: absolute path (``os.fsdecode`` form, object dtype: it may hold the surrogates
      of non-UTF-8 bytes, so write ``relpath``, not ``path``, to CSV/Parquet; open files with it);
    * ``root``: the input folder the file was found in (a single file's own folder; the folder
      common to a list's entries);
    * ``relpath``: path relative to ``root`` with ``/`` separators, printable (non-UTF-8 bytes as
      ``\\xNN``; see :func:`tounum.io.read.display_path`);
    * ``size`` (bytes, or <NA>), ``sha256`` (or None), ``error`` (None, or why the file cannot
      be used: link leaving its folder, broken link, unreadable, empty, directory...);
    * ``output_relpath``: ``relpath``, prefixed with the root folder's name when two roots hold
      the same relative path, so that it is unique in the manifest (use it to place outputs).

    The same file reached twice (for example a folder and a file inside it) is listed once.

    Example
    -------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "sub").mkdir(); _ = (d / "sub" / "a.jpg").write_bytes(b"x"); _ = (d / "b.png").write_bytes(b"")
    >>> discover([d])[["relpath", "size", "error"]].values.tolist()
    [['b.png', 0, 'empty file (0 bytes)'], ['sub/a.jpg', 1, None]]
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    rows, seen = [], set()
    for path, root, error in _entries(inputs, follow_symlinks):
        identity = os.path.normpath(path)  # the same entry reached through two inputs
        if identity in seen:
            continue
        seen.add(identity)
        digest = None
        if error is None:
            try:
                check_input_path(path, root)
                digest = sha256_file(path) if checksum else None
            except ImageReadError as exc:
                error = exc.reason
            except OSError as exc:
                error = f"cannot read: {exc.strerror}"
        relpath = Path(os.path.relpath(path, root)).as_posix() if root else Path(path).name
        rows.append({"path": path, "root": root, "relpath": display_path(relpath), "size": _size(path),
                     "sha256": digest, "error": error})
    # object columns: paths may hold non-UTF-8 bytes (surrogates), which Arrow strings cannot,
    # and a missing sha256/error stays None.
    frame = pd.DataFrame({name: pd.Series([r[name] for r in rows], dtype=object)
                          for name in ("path", "root", "relpath", "size", "sha256", "error")})
    frame["relpath"] = frame["relpath"].astype(str)
    frame["size"] = frame["size"].astype("Int64")
    frame["output_relpath"] = pd.Series(_unique_output_relpaths(frame), dtype=str)
    return frame


def _size(path: str) -> int | None:
    """Size of a regular file itself (not of what a link points to), else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _unique_output_relpaths(frame: pd.DataFrame) -> list[str]:
    counts = Counter(frame["relpath"])
    roots = sorted(set(frame["root"]))
    names = Counter(os.path.basename(r) or "root" for r in roots)
    prefix = {}
    for index, root in enumerate(roots):
        name = os.path.basename(root) or "root"
        prefix[root] = display_path(name if names[name] == 1 else f"{name}-{index + 1}")
    return [rel if counts[rel] == 1 else f"{prefix[root]}/{rel}"
            for rel, root in zip(frame["relpath"], frame["root"])]
