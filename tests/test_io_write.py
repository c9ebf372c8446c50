"""Writing: atomic files, safe output paths, and no writing into the inputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tounum.io import read_image
from tounum.io.samples import gradient
from tounum.io.write import (TEMP_SUFFIX, OutputPathError, atomic_write, check_output_dir, format_for,
                             remove_temporaries, safe_name, safe_output_path, write_image)


def test_atomic_write_replaces_whole_file(tmp_path):
    dest = tmp_path / "results.csv"
    dest.write_text("old\n")
    with atomic_write(dest, "w") as f:
        f.write("new,é\n")
        assert dest.read_text() == "old\n"  # not visible until the block ends
    assert dest.read_text(encoding="utf-8") == "new,é\n"
    assert oct(dest.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_atomic_write_error_keeps_old_and_removes_temporary(tmp_path):
    dest = tmp_path / "a.bin"
    dest.write_bytes(b"original")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(dest) as f:
            f.write(b"half")
            raise RuntimeError("disk full")
    assert dest.read_bytes() == b"original"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_sigkill_mid_write_leaves_no_partial_file(tmp_path):
    dest = tmp_path / "big.bin"
    script = textwrap.dedent(f"""
        import os, sys, time
        from tounum.io.write import atomic_write
        with atomic_write({str(dest)!r}) as f:
            f.write(b"x" * 100000)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"writing\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not dest.exists()
    leftovers = list(tmp_path.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.endswith(TEMP_SUFFIX)
    assert remove_temporaries(tmp_path) == leftovers and list(tmp_path.iterdir()) == []


def test_atomic_write_rejects_append_mode(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "x", "ab"):
            pass


@pytest.mark.parametrize("suffix, fmt, tolerance", [(".jpg", "JPEG", 8), (".png", "PNG", 0), (".tif", "TIFF", 0),
                                                    (".webp", "WEBP", 8), (".bmp", "BMP", 0), (".gif", "GIF", 40)])
def test_write_image_format_from_suffix(tmp_path, suffix, fmt, tolerance):
    dest = write_image(gradient(), tmp_path / f"out{suffix}", dpi=(300, 300))
    im = read_image(dest)
    assert im.format == fmt
    assert np.abs(im.pixels.astype(int) - gradient()).mean() <= tolerance
    if fmt in ("JPEG", "PNG", "TIFF"):
        assert im.dpi == pytest.approx((300, 300), abs=0.5)


def test_write_image_quality_and_explicit_format(tmp_path):
    rng = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    low = write_image(rng, tmp_path / "low.jpg", quality=30).stat().st_size
    high = write_image(rng, tmp_path / "high.jpg", quality=95).stat().st_size
    assert low < high
    assert read_image(write_image(rng, tmp_path / "noext", format="png")).format == "PNG"
    assert read_image(write_image(rng[..., 0], tmp_path / "grey.png")).mode == "L"


def test_write_image_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the image format from suffix '.xyz'"):
        write_image(gradient(), tmp_path / "a.xyz")
    with pytest.raises(ValueError, match="uint8"):
        write_image(gradient().astype(float), tmp_path / "a.png")
    with pytest.raises(ValueError, match="cannot write format 'pdf'"):
        format_for("a.png", "pdf")
    with pytest.raises(ValueError, match="BMP cannot hold XMP"):
        write_image(gradient(), tmp_path / "a.bmp", xmp=b"<x/>")
    with pytest.raises(ValueError, match="PNG has no place for IPTC"):
        write_image(gradient(), tmp_path / "a.png", iptc=b"\x1c\x02\x00\x00\x00")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("relpath, expected", [
    ("a/b c.jpg", "a/b c.jpg"),
    ("../../etc/passwd", "%2E%2E/%2E%2E/etc/passwd"),
    ("/etc/passwd", "etc/passwd"),
    ("./a//b/./c.png", "a/b/c.png"),
    ("-rf.jpg", "_-rf.jpg"),
    (";rm -rf ~;.png", ";rm -rf ~;.png"),
    ("new\nline\t.png", "new_line_.png"),
    ("evil\u202egnp.exe", "evil_gnp.exe"),
    ('a<b>:c"d|e?f*g\\h.png', "a_b__c_d_e_f_g_h.png"),
    ("CON.jpg", "_CON.jpg"),
    ("trailing. ", "trailing"),
    ("caf\udce9.png", "caf%E9.png"),
    (b"raw\xff\xfe.png", "raw%FF%FE.png"),
])
def test_safe_output_path(tmp_path, relpath, expected):
    out = safe_output_path(tmp_path, relpath)
    assert out == tmp_path / expected
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"ok")  # every result can really be created
    assert tmp_path in out.parents


def test_safe_output_path_suffix_and_long_names(tmp_path):
    assert safe_output_path(tmp_path, "scans/page.TIF", suffix=".jpg") == tmp_path / "scans/page.jpg"
    assert safe_output_path(tmp_path, "no_suffix", suffix=".png") == tmp_path / "no_suffix.png"
    long_a, long_b = "é" * 300 + "a.jpg", "é" * 300 + "b.jpg"
    a, b = safe_output_path(tmp_path, long_a), safe_output_path(tmp_path, long_b)
    assert a != b and a.suffix == ".jpg" and len(a.name.encode()) <= 200
    a.write_bytes(b"ok")
    with pytest.raises(OutputPathError, match="not a plain file suffix"):
        safe_output_path(tmp_path, "x.png", suffix="/../x")
    with pytest.raises(OutputPathError, match="no file name left"):
        safe_output_path(tmp_path, "/./")


def test_safe_output_path_refuses_planted_symlink(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere)
    with pytest.raises(OutputPathError) as info:
        safe_output_path(out, "sub/x.jpg")
    assert str(info.value).startswith(f"{out}/sub/x.jpg: resolves outside the output folder {out}")


def test_safe_name_never_yields_separators_or_dots():
    hostile = ["..", ".", "", "/", "a/b", "\x00", "-", " ", "NUL", "aux.txt"]
    for name in hostile:
        safe = safe_name(name)
        assert safe and "/" not in safe and "\x00" not in safe and safe not in (".", "..")
        assert not safe.startswith("-")


def test_check_output_dir(tmp_path):
    scans = tmp_path / "scans"
    (scans / "day1").mkdir(parents=True)
    photo = scans / "day1" / "p.jpg"
    photo.write_bytes(b"x")
    assert check_output_dir(tmp_path / "out", [scans]) == tmp_path / "out"
    for bad, words in [(scans, "is inside the input folder"), (scans / "out", "is inside the input folder"),
                       (tmp_path, "contains the input folder")]:
        with pytest.raises(OutputPathError) as info:
            check_output_dir(bad, [scans])
        assert str(info.value).startswith(f"{bad}: the output folder") and words in str(info.value)
        assert str(scans) in str(info.value)
    with pytest.raises(OutputPathError, match="contains the input file"):
        check_output_dir(scans / "day1", [photo])
    # the entries of a list of paths count as inputs
    (tmp_path / "list.txt").write_text(f"{photo}\n")
    with pytest.raises(OutputPathError, match="contains the input file"):
        check_output_dir(scans, [tmp_path / "list.txt"])
    # a single file's folder may hold the output folder
    assert check_output_dir(scans / "day1" / "out", [photo])
    # reached through a symbolic link: still the same folder
    (tmp_path / "alias").symlink_to(scans)
    with pytest.raises(OutputPathError):
        check_output_dir(tmp_path / "alias" / "out", [scans])


def test_write_into_new_folder_needs_it_created(tmp_path):
    dest = safe_output_path(tmp_path, "a/b/c.png")
    with pytest.raises(FileNotFoundError):
        write_image(gradient(), dest)
    dest.parent.mkdir(parents=True)
    assert write_image(gradient(), dest).is_file()
    assert not any(p.name.endswith(TEMP_SUFFIX) for p in dest.parent.iterdir())
    assert os.listdir(dest.parent) == ["c.png"]
