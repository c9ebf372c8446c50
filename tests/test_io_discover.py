"""Discovery: one stable record per input file, whatever the folder holds."""

from __future__ import annotations

import hashlib
import os

import pytest

from tounum.io import ImageReadError, read_image
from tounum.io.discover import COLUMNS, discover, read_path_list
from tounum.io.read import display_path
from tounum.io.samples import write_hostile_folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "scans"
    return root, write_hostile_folder(root)


def test_hostile_folder_one_clear_record_per_file_no_crash(hostile):
    root, expected = hostile
    manifest = discover([root])
    assert list(manifest.columns) == COLUMNS
    # every file is listed once; the directory named like an image is listed with its reason
    assert sorted(manifest["relpath"]) == sorted(display_path(rel) for rel in expected)
    assert manifest["relpath"].is_unique and manifest["path"].is_unique
    outcomes = {}
    for row in manifest.itertuples():
        if row.error is not None:
            outcomes[row.relpath] = row.error
            continue
        try:
            image = read_image(row.path, root=row.root)
            outcomes[row.relpath] = None
            assert image.pixels.ndim == 3 and image.pixels.shape[2] == 3
        except ImageReadError as exc:
            assert str(exc).startswith(display_path(row.path) + ": ")
            outcomes[row.relpath] = exc.reason
    for rel, reason in expected.items():
        got = outcomes[display_path(rel)]
        if reason is None:
            assert got is None, (rel, got)
        else:
            assert got is not None and reason in got, (rel, got)


def test_manifest_fields(hostile):
    root, _ = hostile
    manifest = discover([root]).set_index("relpath")
    photo = manifest.loc["photo.jpg"]
    assert photo.path == str(root / "photo.jpg") and photo.root == str(root)
    assert photo.sha256 == hashlib.sha256((root / "photo.jpg").read_bytes()).hexdigest()
    assert photo["size"] == (root / "photo.jpg").stat().st_size and photo.error is None
    assert manifest.loc["sub dir/with space.png"].path == str(root / "sub dir" / "with space.png")
    assert manifest.loc["caf\\xe9-latin1.png"].path == os.path.join(str(root), "caf\udce9-latin1.png")
    assert manifest.loc["empty.jpg", "size"] == 0 and manifest.loc["empty.jpg"].error == "empty file (0 bytes)"
    escape = manifest.loc["escape.png"]
    assert escape.error.startswith("symbolic link leads outside the input folder") and escape.sha256 is None
    assert "not an image file" in manifest.loc["folder.jpg"].error
    # the same content gives the same identity
    assert manifest.loc["photo.png"].sha256 == manifest.loc["sub dir/with space.png"].sha256


def test_order_is_sorted_and_stable(hostile):
    root, _ = hostile
    first, second = discover([root]), discover([str(root)])
    assert first.equals(second)
    top = [r for r in first["relpath"] if "/" not in r]
    assert top == sorted(top)


def test_files_folders_duplicates_and_missing(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "x").mkdir(parents=True)
    b.mkdir()
    for path in (a / "one.jpg", a / "x" / "two.jpg", b / "one.jpg"):
        path.write_bytes(path.name.encode())
    manifest = discover([a, a / "x" / "two.jpg", b / "one.jpg", tmp_path / "gone.png"])
    assert manifest["relpath"].tolist() == ["one.jpg", "x/two.jpg", "one.jpg", "gone.png"]
    assert manifest["root"].tolist() == [str(a), str(a), str(b), str(tmp_path)]
    assert manifest["error"].tolist() == [None, None, None, "no such file"]
    # two roots hold "one.jpg": output paths are made unique with the root's name
    assert manifest["output_relpath"].tolist() == ["a/one.jpg", "x/two.jpg", "b/one.jpg", "gone.png"]


def test_text_and_csv_lists(tmp_path):
    scans = tmp_path / "scans"
    (scans / "d").mkdir(parents=True)
    for name in ("p1.jpg", "d/p2.png", "p 3.tif"):
        (scans / name).write_bytes(b"data " + name.encode())
    (tmp_path / "list.txt").write_text("# today's scans\nscans/p1.jpg\n\n  scans/d/p2.png  \n"
                                       f"{scans}/p 3.tif\nscans/missing.jpg\n")
    manifest = discover([tmp_path / "list.txt"])
    assert manifest["relpath"].tolist() == ["p1.jpg", "d/p2.png", "p 3.tif", "missing.jpg"]
    assert set(manifest["root"]) == {str(scans)}
    assert manifest["error"].tolist() == [None, None, None, "no such file"]
    (tmp_path / "with_header.csv").write_text('id,path,note\n1,scans/p1.jpg,x\n2,"scans/p 3.tif",y\n')
    assert discover(tmp_path / "with_header.csv")["relpath"].tolist() == ["p1.jpg", "p 3.tif"]
    (tmp_path / "plain.csv").write_text("scans/d/p2.png,first\nscans/p1.jpg,second\n")
    assert read_path_list(tmp_path / "plain.csv") == [str(scans / "d/p2.png"), str(scans / "p1.jpg")]
    (tmp_path / "named.csv").write_text("file\nscans/p1.jpg\n")
    assert read_path_list(tmp_path / "named.csv") == [str(scans / "p1.jpg")]
    (tmp_path / "folders.txt").write_text("scans/d\n")
    assert discover(tmp_path / "folders.txt")["path"].tolist() == [str(scans / "d" / "p2.png")]


def test_symlinked_folders_only_followed_when_asked(tmp_path):
    root, other = tmp_path / "in", tmp_path / "in" / "real"
    other.mkdir(parents=True)
    (other / "a.png").write_bytes(b"a")
    (root / "alias").symlink_to(other)
    plain = discover([root])
    assert plain["relpath"].tolist() == ["alias", "real/a.png"]
    assert plain["error"].iloc[0] == "symbolic link to a folder, not followed (follow_symlinks is off)"
    followed = discover([root], follow_symlinks=True)  # the folder is listed under its own name
    assert followed["relpath"].tolist() == ["alias", "real/a.png"]
    assert followed["error"].iloc[0].startswith("symbolic link to a folder listed already")
    assert followed["error"].iloc[1] is None


def test_symlink_loop_does_not_hang(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.png").write_bytes(b"a")
    (root / "sub" / "loop").symlink_to(root)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.png").write_bytes(b"b")
    (root / "away").symlink_to(tmp_path / "out")
    manifest = discover([root], follow_symlinks=True)
    assert manifest["relpath"].tolist() == ["away/b.png", "sub/a.png", "sub/loop"]
    assert manifest["error"].iloc[0].startswith("path is outside the input folder")
    assert "loop or an alias" in manifest["error"].iloc[2]


def test_symlinked_file_and_its_target_both_listed(tmp_path):
    (tmp_path / "real.png").write_bytes(b"r")
    (tmp_path / "alias.png").symlink_to(tmp_path / "real.png")
    manifest = discover([tmp_path, tmp_path / "real.png"])
    assert manifest["relpath"].tolist() == ["alias.png", "real.png"]
    assert manifest["sha256"].nunique() == 1 and manifest["error"].isna().all()


def test_checksum_can_be_skipped(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"abc")
    manifest = discover(tmp_path, checksum=False)
    assert manifest["sha256"].tolist() == [None] and manifest["error"].tolist() == [None]


def test_non_utf8_manifest_is_writable(hostile, tmp_path):
    root, _ = hostile
    manifest = discover([root]).drop(columns=["path", "root"])
    manifest.to_csv(tmp_path / "m.csv", index=False)
    manifest.to_parquet(tmp_path / "m.parquet")
    assert len(open(tmp_path / "m.csv", encoding="utf-8").read().splitlines()) >= len(manifest) + 1
