import json

import numpy as np
import pytest
from keras import ops

from tounum.caption.decode import beam_search, greedy
from tounum.caption.model import ModelConfig, build_model, caption_loss
from tounum.caption.store import load_model_dir
from tounum.caption.text import build_vocabulary
from tounum.caption.train import (TrainConfig, _batch, average_checkpoints, epoch_weights_path, flatten,
                                  train)

CAPTIONS = [["a dog runs on the grass"], ["a man rides a red bike"], ["two children play in the water"],
            ["a girl in a pink dress"], ["a black cat sleeps"], ["people walk down the street"]]
TINY = dict(embed_dim=32, units=64, attention_units=32, dropout=0.0, vocab_min_count=1, batch_size=6,
            learning_rate=1e-2, lr_decay=1.0, label_smoothing=0.0, patience=100, flip=False)


def _grid(n=6, channels=64):
    return np.random.default_rng(0).standard_normal((n, 49, channels)).astype(np.float16)


def test_forward_shapes():
    model = build_model(ModelConfig(vocab_size=50, feature_dim=64, embed_dim=16, units=24, attention_units=8))
    logits, alphas = model((np.zeros((3, 49, 64), np.float32), np.ones((3, 7), np.int32)))
    assert tuple(logits.shape) == (3, 7, 50) and tuple(alphas.shape) == (3, 7, 49)
    np.testing.assert_allclose(np.asarray(ops.sum(alphas, -1)), 1.0, rtol=1e-5)


def test_masked_loss_ignores_padding():
    rng = np.random.default_rng(1)
    targets = np.array([[5, 6, 2, 0, 0], [7, 2, 0, 0, 0]], np.int32)
    logits = rng.standard_normal((2, 5, 10)).astype(np.float32)
    alphas = np.full((2, 5, 49), 1 / 49, np.float32)
    changed = logits.copy()
    changed[targets == 0] = rng.standard_normal((int((targets == 0).sum()), 10)) * 100
    for smoothing in (0.0, 0.1):
        a = caption_loss(targets, logits, alphas, label_smoothing=smoothing)
        b = caption_loss(targets, changed, alphas, label_smoothing=smoothing)
        assert float(a[0]) == pytest.approx(float(b[0]), rel=1e-6)
    # the cross-entropy is the mean over the 5 real tokens only
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    real = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    expected = -np.mean([logp[i, t, targets[i, t]] for i, t in real])
    assert float(caption_loss(targets, logits, alphas, attention_reg=0.0)[1]) == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    out = tmp_path_factory.mktemp("overfit")
    grid = _grid()
    state = train((grid, np.arange(6), CAPTIONS), (grid, np.arange(6), CAPTIONS), out,
                  TrainConfig(epochs=40, **TINY))
    return out, grid, state


def test_tiny_overfit_reproduces_training_captions(overfit):
    out, grid, state = overfit
    model, vocab, config = load_model_dir(out)
    texts = [h.text for h in greedy(model, vocab, grid)]
    assert sum(t == c[0] for t, c in zip(texts, CAPTIONS)) >= 5, texts
    assert state["history"][-1]["train_loss"] < state["history"][0]["train_loss"] / 10
    assert json.loads((out / "history.json").read_text())[0]["epoch"] == 1


def test_beam_one_equals_greedy_and_beam_is_deterministic(overfit):
    out, grid, _ = overfit
    model, vocab, _ = load_model_dir(out)
    noisy = grid.astype(np.float32) + np.random.default_rng(3).standard_normal(grid.shape) * 2
    g = greedy(model, vocab, noisy)
    b1 = beam_search(model, vocab, noisy, beam=1)
    assert [h.tokens for h in g] == [h.tokens for h in b1]
    b3 = beam_search(model, vocab, noisy, beam=3)
    assert [h.text for h in b3] == [h.text for h in beam_search(model, vocab, noisy, beam=3)]
    for h in b3:
        assert h.attention.shape == (len(h.tokens) + 1, 49)
        np.testing.assert_allclose(h.attention.sum(1), 1.0, rtol=1e-4)
    assert all(b.score >= -1e9 for b in b3)


def test_resume_continues_from_saved_epoch(tmp_path, caplog):
    grid = _grid()
    data = (grid, np.arange(6), CAPTIONS)
    first = train(data, data, tmp_path, TrainConfig(epochs=1, **TINY))
    assert first["epoch"] == 1
    caplog.set_level("INFO", logger="tounum.caption.train")
    second = train(data, data, tmp_path, TrainConfig(epochs=2, **TINY))
    assert "resuming after epoch 1" in caplog.text
    assert [h["epoch"] for h in second["history"]] == [1, 2]
    assert second["history"][0] == first["history"][0]
    assert epoch_weights_path(tmp_path, 1).is_file() and epoch_weights_path(tmp_path, 2).is_file()
    with pytest.raises(ValueError, match="another configuration"):
        train(data, data, tmp_path, TrainConfig(epochs=3, **{**TINY, "units": 32}))


def test_batches_draw_each_caption_from_a_random_view():
    grid, mirrored = _grid(), -_grid()
    vocab = build_vocabulary([c for caps in CAPTIONS for c in caps], min_count=1)
    data = flatten(grid, np.arange(6), CAPTIONS, vocab, 10)
    data.views = ((mirrored, np.arange(6), flatten(mirrored, np.arange(6), CAPTIONS[::-1], vocab, 10).tokens),)
    idx = np.arange(6)
    features, tokens = _batch(data, idx)
    np.testing.assert_array_equal(features, grid.astype(np.float32))  # no rng: the images as they are
    features, tokens = _batch(data, np.tile(idx, 20), np.random.default_rng(0))
    from_view = features[:, 0, 0] == -grid[np.tile(idx, 20), 0, 0].astype(np.float32)
    assert 0.3 < from_view.mean() < 0.7
    for i, (row, flipped) in enumerate(zip(np.tile(idx, 20), from_view)):  # caption goes with its image
        assert vocab.decode(tokens[i]) == (CAPTIONS[::-1] if flipped else CAPTIONS)[row][0]


def test_flip_config_needs_the_mirrored_view(tmp_path):
    data = (_grid(), np.arange(6), CAPTIONS)
    with pytest.raises(ValueError, match="mirrored view"):
        train(data, data, tmp_path, TrainConfig(epochs=1, **{**TINY, "flip": True}))
    state = train(data, data, tmp_path, TrainConfig(epochs=1, **{**TINY, "flip": True}),
                  views=((-data[0], data[1], CAPTIONS),))
    assert state["epoch"] == 1


def test_average_checkpoints_is_the_mean_of_the_epochs(tmp_path):
    data = (_grid(), np.arange(6), CAPTIONS)
    train(data, data, tmp_path / "run", TrainConfig(epochs=3, **TINY))
    model, _, _ = load_model_dir(tmp_path / "run")
    kept = []
    for epoch in (2, 3):
        model.load_weights(epoch_weights_path(tmp_path / "run", epoch))
        kept.append(model.get_weights())
    average_checkpoints(tmp_path / "run", [2, 3], tmp_path / "avg")
    averaged, _, config = load_model_dir(tmp_path / "avg")
    assert config["averaged_epochs"] == [2, 3]
    for got, a, b in zip(averaged.get_weights(), *kept):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-6)
    assert not np.allclose(kept[0][0], kept[1][0])  # the epochs differ, so the mean is a new model
    with pytest.raises(FileNotFoundError, match="epoch 7"):
        average_checkpoints(tmp_path / "run", [2, 7], tmp_path / "bad")


def test_init_from_starts_with_the_models_weights_and_vocabulary(overfit, tmp_path):
    out, grid, _ = overfit
    data = (grid, np.arange(6), [["a zebra"]] * 6)  # other words: the vocabulary must still be out's
    train(data, data, tmp_path, TrainConfig(epochs=1, **{**TINY, "learning_rate": 0.0}), init_from=out)
    start, vocab, _ = load_model_dir(out)
    tuned, tuned_vocab, config = load_model_dir(tmp_path)
    assert tuned_vocab == vocab and config["init_from"] == str(out)
    for a, b in zip(start.get_weights(), tuned.get_weights()):  # learning rate 0: nothing moved
        np.testing.assert_array_equal(a, b)
