import json

import h5py
import numpy as np
import pytest

from tounum.enhance.train_restorer import TrainConfig, compiled_model, train


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_training_runs_saves_and_resumes(tmp_path, precision):
    rng = np.random.default_rng(0)
    # A patch cache in the output folder stands in for the shared data sets.
    np.save(tmp_path / "patches.npy", rng.integers(0, 256, (80, 64, 64, 3), dtype=np.uint8))
    config = TrainConfig(out=str(tmp_path), samples_per_epoch=64, batch_size=32, epochs=1,
                         minutes=5, precision=precision)
    weights = train(config)
    assert weights.is_file()
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 1
    model, epoch = compiled_model(config)  # a rerun resumes after the saved epoch,
    assert epoch == 1                      # Adam's moments included
    with h5py.File(weights, "r") as f:
        saved = sorted(float(np.abs(f["optimizer/vars"][k][()]).sum()) for k in f["optimizer/vars"])
    restored = sorted(float(np.abs(np.asarray(v)).sum()) for v in model.optimizer.variables)
    np.testing.assert_allclose(restored, saved, rtol=1e-6)
    config.epochs = 2
    train(config)
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2] and all(np.isfinite(h["loss"]) for h in history)
