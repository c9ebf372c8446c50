import json

import numpy as np
from PIL import Image

from tounum.cli import main
from tounum.enhance.degrade import add_gaussian_noise
from tounum.enhance.samples import scene


def _write(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_evaluate_prints_one_json_object(tmp_path, capsys):
    for i in range(2):
        _write(tmp_path / f"img{i}.png", scene(48, 64, seed=i))
    code = main(["evaluate", "enhance", str(tmp_path), "--noise", "15", "--method", "bilateral",
                 "--seed", "3", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"n_images", "psnr_in", "psnr_out", "ssim_in", "ssim_out",
                           "seconds_per_megapixel"}
    assert result["n_images"] == 2 and result["psnr_out"] > result["psnr_in"]


def test_enhance_mirrors_tree_reports_bad_files_and_goes_on(tmp_path, capsys):
    src = tmp_path / "in"
    noisy = add_gaussian_noise(scene(48, 64, seed=4), 12, seed=5)
    _write(src / "a.png", noisy)
    _write(src / "sub" / "b.jpg", scene(48, 64, seed=6))
    (src / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    code = main(["enhance", str(src), "--out", str(tmp_path / "out")])
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    status = {row[1]: row[0] for row in rows}
    assert status == {"a.png": "ok", "sub/b.jpg": "ok", "sub/broken.png": "error"}
    broken = next(row for row in rows if row[1] == "sub/broken.png")
    assert broken[2].startswith("sub/broken.png: ")
    assert json.loads(next(row for row in rows if row[1] == "a.png")[2])[0]["op"] == "restorer"  # colour, sigma 12 >= 10
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "sub" / "b.jpg").is_file()
    assert {p: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before  # untouched
    cleaned = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert cleaned.shape == noisy.shape and not np.array_equal(cleaned, noisy)
