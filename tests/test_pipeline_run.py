"""`tounum run` end to end on tiny images: layout, hostile inputs, resume, safety, config.

These runs use ``--no-classify`` (no TensorFlow): they test the job's frame, the io and the
enhancement stages; the model stages are covered in test_pipeline_models.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tounum.cli import main
from tounum.io import read_image
from tounum.io.discover import IMAGE_SUFFIXES
from tounum.io.write import TEMP_SUFFIX
from tounum.pipeline.record import COLUMNS

FAST = ["--no-classify", "--workers", "1", "--batch-size", "3", "--no-progress"]


def tree_hashes(root: Path) -> dict[str, str]:
    """Every file and link under ``root`` (without following links) -> hash of its bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.fsdecode(os.path.relpath(path, os.fsencode(root)))
            if os.path.islink(path):
                out[rel] = "link:" + os.fsdecode(os.readlink(path))
            elif os.path.isfile(path):
                out[rel] = hashlib.sha256(open(path, "rb").read()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def scans(folder: Path, n: int = 6, size: int = 48) -> list[str]:
    """``n`` small images (clean, noisy; JPEG, PNG, TIFF) in two sub-folders."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(n):
        y, x = np.mgrid[0:size, 0:size]
        pixels = np.stack([x * 5 + i, y * 5, (x + y) * 2], axis=2) % 256
        if i % 2:
            pixels = pixels + rng.normal(0, 20, pixels.shape)
        suffix = (".jpg", ".png", ".tif")[i % 3]
        name = f"{'ab'[i % 2]}/scan {i}{suffix}"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
        names.append(name)
    return names


def read_results(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "results.csv", keep_default_na=False)


def test_outputs_layout_and_columns(tmp_path):
    names = scans(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "in"), "--out", str(out), *FAST]) == 0
    table = read_results(out)
    assert tuple(table.columns) == COLUMNS
    assert sorted(table["path"]) == sorted(names)
    assert set(table["status"]) == {"ok"}
    parquet = pd.read_parquet(out / "results.parquet")
    assert list(parquet["path"]) == list(table["path"])
    assert parquet["width"].dtype.kind in "iu" or str(parquet["width"].dtype) == "Int64"
    for name in names:  # the enhanced copies mirror the input tree, same format family
        row = table.set_index("path").loc[name]
        assert row["enhanced_path"] == f"enhanced/{name}"
        assert Image.open(out / row["enhanced_path"]).format == Image.open(tmp_path / "in" / name).format
        json.loads(row["enhance_steps"])
        assert float(row["noise_before"]) >= 0 and float(row["sharpness_after"]) >= 0
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((out / "captions.json").read_text())["annotations"] == []


def test_hostile_inputs_get_error_rows_and_the_batch_goes_on(tmp_path, capsys):
    from tounum.io.read import display_path
    from tounum.io.samples import write_hostile_folder

    expected = write_hostile_folder(tmp_path / "in")
    before = tree_hashes(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "in"), "--out", str(out), *FAST]) == 1
    table = read_results(out).set_index("path")
    assert table.index.is_unique
    for name, reason in expected.items():
        name = display_path(name)
        if name not in table.index:  # discovery may leave out what is not a file at all
            assert reason in ("directory",), name
            continue
        row = table.loc[name]
        if reason is None:
            assert row["status"] == "ok", (name, row["error"])
        else:  # refused; what is not even named like an image is skipped, not failed
            named_like_image = name.lower().endswith(IMAGE_SUFFIXES) or reason == "directory"
            assert row["status"] == ("error" if named_like_image else "skipped"), name
            assert reason.split()[0].lower() in row["error"].lower(), (name, row["error"])
    assert "Errors (" in (out / "report.html").read_text()
    after = tree_hashes(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("out")} == before  # inputs untouched
    assert "failed" in capsys.readouterr().err


def test_rerun_skips_finished_files_and_writes_nothing_new(tmp_path):
    scans(tmp_path / "in")
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "in"), "--out", str(out), *FAST]
    assert main(args) == 0
    copies = {p: p.stat().st_mtime_ns for p in (out / "enhanced").rglob("*") if p.is_file()}
    assert main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in copies} == copies  # nothing redone
    assert len(read_results(out)) == len(copies)


def test_changed_settings_redo_the_files(tmp_path):
    scans(tmp_path / "in", n=2)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "in"), "--out", str(out), *FAST]) == 0
    assert main(["run", str(tmp_path / "in"), "--out", str(out), *FAST, "--no-enhance"]) == 0
    table = read_results(out)
    assert len(table) == 2 and set(table["enhance_steps"]) == {""}


def test_kill_at_any_time_then_rerun_completes_with_one_row_per_input(tmp_path):
    names = scans(tmp_path / "in", n=24, size=96)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tounum", "run", str(tmp_path / "in"), "--out", str(out),
               "--no-classify", "--workers", "1", "--batch-size", "2", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = out / ".tounum" / "rows"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if rows.is_dir() and len(list(rows.glob("*.parquet"))) >= 2:
            break
        time.sleep(0.005)
    assert process.poll() is None, process.stderr.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "results.csv").exists(), "the run finished before it could be killed"
    finished = len(list(rows.glob("*.parquet")))
    assert 2 <= finished < 12
    for path in out.rglob("*"):  # what the kill left: complete files, or temporaries
        if path.is_file() and not path.name.endswith(TEMP_SUFFIX):
            if path.suffix == ".parquet":
                pd.read_parquet(path)
            else:
                read_image(path)
    assert main(command[3:]) == 0
    table = read_results(out)
    assert sorted(table["path"]) == sorted(names)
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    expected = ({f"enhanced/{n}" for n in names} | {"results.csv", "results.parquet",
                "captions.json", "report.html"})
    assert {f for f in files if not f.startswith(".tounum/rows/")} == expected  # no partial file


def test_nothing_is_written_outside_the_output_folder(tmp_path):
    scans(tmp_path / "in", n=3)
    (tmp_path / "elsewhere").mkdir()
    before = tree_hashes(tmp_path)
    assert main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), *FAST]) == 0
    after = tree_hashes(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("out")} == before


def test_output_inside_the_input_folder_is_refused(tmp_path, capsys):
    scans(tmp_path / "in", n=1)
    assert main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "in" / "out"), *FAST]) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert not (tmp_path / "in" / "out").exists()


def test_dry_run_lists_and_writes_nothing(tmp_path, capsys):
    names = scans(tmp_path / "in", n=3)
    (tmp_path / "in" / "empty.png").write_bytes(b"")
    assert main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), *FAST, "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split("\t")[1] for line in lines if line.startswith("process")) == sorted(names)
    assert not (tmp_path / "out").exists()


def test_print_config_round_trips_through_config(tmp_path, capsys):
    assert main(["run", "--print-config", "--beam", "5", "--workers", "3", "--no-caption"]) == 0
    text = capsys.readouterr().out
    assert "beam = 5" in text and "workers = 3" in text and "caption = false" in text
    (tmp_path / "c.toml").write_text(text)
    assert main(["run", "--config", str(tmp_path / "c.toml"), "--print-config"]) == 0
    assert capsys.readouterr().out == text


@pytest.mark.parametrize("args, words", [
    (["--engine", "local", "--batch-size", "0"], "batch_size"),
    (["--config", "missing.toml"], "cannot read"),
    ([], "--out DIR are required"),
])
def test_usage_errors_exit_2(tmp_path, capsys, args, words):
    inputs = [str(tmp_path)] if args else []
    out = ["--out", str(tmp_path / "out")] if args else []
    assert main(["run", *inputs, *out, *args]) == 2
    assert words in capsys.readouterr().err


def test_a_missing_model_stops_the_run_before_any_work(tmp_path, capsys):
    scans(tmp_path / "in", n=1)
    config = tmp_path / "c.toml"
    config.write_text(f'[classify]\nmodel_dir = "{tmp_path / "no-model"}"\n')
    code = main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--config",
                 str(config), "--no-enhance", "--no-caption", "--no-progress"])
    assert code == 2
    assert "no-model" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_demo_leaves_out_a_missing_model_loudly(tmp_path, capsys):
    from tounum.pipeline.demo import missing_stages

    config = tmp_path / "c.toml"
    config.write_text(f'[classify]\nmodel_dir = "{tmp_path / "no-model"}"\n')
    assert missing_stages(["run", "in", "--out", "out", "--config", str(config)]) == ["--no-classify"]
    assert "NOT INSTALLED" in capsys.readouterr().err


def test_a_cleaned_scan_travels_with_what_the_classifier_reads(tmp_path):
    from tounum.config import Config
    from tounum.enhance.degrade import add_gaussian_noise, halftone
    from tounum.enhance.samples import scene
    from tounum.pipeline.job import FileRef, Job

    (tmp_path / "in").mkdir()
    images = {"clean.png": scene(96, 128, seed=1), "noisy.png": add_gaussian_noise(scene(96, 128, seed=1), 20, seed=2),
              "printed.png": halftone(scene(256, 256, seed=3), 4.0, 30.0)}
    for name, pixels in images.items():
        Image.fromarray(pixels).save(tmp_path / "in" / name)
    refs = [FileRef(str(tmp_path / "in" / n), str(tmp_path / "in"), n, None, "", n, n) for n in images]
    config = Config()
    clean, noisy, printed = (Job(config, tmp_path / "out").prepare(ref) for ref in refs)
    assert clean.status == noisy.status == printed.status == "ok"
    # left as it was: the image alone
    assert clean.extra["read"] is clean.extra["pixels"] and clean.extra["scanned"] is None
    # denoised: the cleaned copy, and the scan as read beside it
    assert noisy.extra["read"] is noisy.extra["pixels"]
    assert np.array_equal(noisy.extra["scanned"], images["noisy.png"])
    assert not np.array_equal(noisy.extra["pixels"], images["noisy.png"])
    # descreened: the copy for the shop, the scan for the classifier, which descreens it as trained
    assert json.loads(printed.enhance_steps)[0]["op"] == "descreen"
    assert np.array_equal(printed.extra["read"], images["printed.png"]) and printed.extra["scanned"] is None
    assert not np.array_equal(printed.extra["pixels"], images["printed.png"])
    Job(config, tmp_path / "out").write(noisy)
    assert not {"scanned", "read", "pixels"} & set(noisy.extra)
    config.run.classify = False  # nobody reads them: not kept
    assert not {"scanned", "read"} & set(Job(config, tmp_path / "out").prepare(refs[1]).extra)


def test_retrained_enhancement_weights_change_the_settings(tmp_path):
    from tounum.config import Config
    from tounum.enhance.restorer import DESCREENER_WEIGHTS
    from tounum.pipeline.job import settings_hash

    config = Config()
    before = settings_hash(config)
    other = tmp_path / "d.weights.h5"
    other.write_bytes(DESCREENER_WEIGHTS.read_bytes() + b"retrained")
    config.enhance.descreener_weights = str(other)
    assert settings_hash(config) != before
    config.enhance.descreener_weights = ""
    assert settings_hash(config) == before
