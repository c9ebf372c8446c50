"""Training the restorer's network: the descreen task's data, a fresh run from other weights, resume."""

import json

import imageio.v3 as iio
import numpy as np
import pytest

from tounum.enhance.descreen import measure_screen
from tounum.enhance.restorer import RestorerSpec, build_restorer
from tounum.enhance.samples import scene
from tounum.enhance.train_restorer import DEGRADERS, TrainConfig, screen_randomly, train


def test_screened_patches_carry_a_screen_and_keep_the_tones():
    rng = np.random.default_rng(0)
    clean = scene(192, 192, seed=1)
    printed = [screen_randomly(clean, rng) for _ in range(6)]
    assert all(p.shape == clean.shape and p.dtype == np.uint8 for p in printed)
    assert sum(measure_screen(p).screened(30.0) for p in printed) >= 4  # JPEG or noise may hide a few
    assert all(abs(float(p.mean()) - float(clean.mean())) < 20 for p in printed)  # dots, same ink
    assert set(DEGRADERS) == {"restore", "descreen"}


def _data(root):
    grey = root / "restoration" / "train400_gray"
    photos = root / "captions" / "flickr8k" / "images"
    grey.mkdir(parents=True)
    photos.mkdir(parents=True)
    for i in range(2):
        iio.imwrite(grey / f"g{i}.png", scene(80, 80, seed=i)[..., 0])
        iio.imwrite(photos / f"p{i}.jpg", scene(96, 96, seed=10 + i))
    (root / "captions" / "flickr8k" / "splits").mkdir()
    (root / "captions" / "flickr8k" / "splits" / "train.txt").write_text("p0.jpg\np1.jpg\n")


def test_descreen_run_starts_from_init_weights_and_resumes(tmp_path):
    _data(tmp_path / "data")
    init = tmp_path / "init.weights.h5"
    start = build_restorer(RestorerSpec(width=8, depth=1))
    start.save_weights(init)
    config = TrainConfig(out=str(tmp_path / "run"), data=str(tmp_path / "data"), patches_per_gray=3,
                         patches_per_photo=3, samples_per_epoch=8, batch_size=4, epochs=2, minutes=10,
                         width=8, depth=1, task="descreen", init=str(init), learning_rate=0.0)
    weights = train(config)
    assert weights.name == "descreener.weights.h5"
    trained = build_restorer(RestorerSpec(width=8, depth=1))
    trained.load_weights(weights)
    for a, b in zip(start.get_weights(), trained.get_weights()):  # learning rate 0: still the init
        np.testing.assert_array_equal(a, b)
    assert json.loads((tmp_path / "run" / "state.json").read_text())["epoch"] == 2
    # a rerun with more epochs resumes from the folder's weights, not from init
    train(TrainConfig(**{**vars(config), "epochs": 3, "init": str(tmp_path / "missing.h5")}))
    assert json.loads((tmp_path / "run" / "state.json").read_text())["epoch"] == 3


def test_unknown_task_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown task"):
        train(TrainConfig(out=str(tmp_path), task="colourise"))
