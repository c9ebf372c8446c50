import json

import keras
import numpy as np
import pytest

from tounum.caption.captioner import Captioner
from tounum.caption.decode import beam_search, greedy
from tounum.caption.model import Ensemble, ModelConfig, build_model
from tounum.caption.store import load_model_dir, save_ensemble_dir, save_model_dir
from tounum.caption.text import SPECIALS, Vocabulary

VOCAB = Vocabulary(SPECIALS + tuple(f"w{i}" for i in range(20)))
SHAPE = ModelConfig(vocab_size=len(VOCAB), feature_dim=16, embed_dim=8, units=12, attention_units=8, dropout=0.0)


def _member(seed: int):
    keras.utils.set_random_seed(seed)
    model = build_model(SHAPE)
    # untrained weights are near uniform; scale the output layer so that words are clearly ranked
    kernel, bias = model.word_logits.get_weights()
    model.word_logits.set_weights([kernel * 20, bias])
    return model


def _folder(path, model, vocab=VOCAB):
    save_model_dir(path, model, vocab, {"model": SHAPE.to_dict(), "train": {"max_words": 6}})
    return path


def _grid(n=5):
    return np.random.default_rng(3).standard_normal((n, 49, SHAPE.feature_dim)).astype(np.float32)


def _same(a, b):
    assert [h.text for h in a] == [h.text for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], rtol=1e-5)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.attention, y.attention, atol=1e-6)


def test_ensemble_of_one_is_the_model():
    model = _member(0)
    for decode in (lambda m: beam_search(m, VOCAB, _grid(), beam=3, max_length=7),
                   lambda m: greedy(m, VOCAB, _grid(), max_length=7)):
        _same(decode(model), decode(Ensemble([model])))


def test_two_identical_members_give_the_same_captions():
    model = _member(0)
    _same(beam_search(model, VOCAB, _grid(), beam=3, max_length=7),
          beam_search(Ensemble([model, model]), VOCAB, _grid(), beam=3, max_length=7))


def test_step_is_the_log_of_the_members_mean_probability():
    a, b = _member(0), _member(1)
    ensemble = Ensemble([a, b])
    features, token = _grid(2), np.array([VOCAB.start_id] * 2, np.int32)
    encoded, keys, state = ensemble.encode(features)
    log_p, state, alpha = ensemble.step(token, state, encoded, keys)
    probs, alphas = [], []
    for member in (a, b):
        encoded, keys, member_state = member.encode(features)
        logits, _, member_alpha = member.step(token, member_state, encoded, keys)
        probs.append(np.asarray(keras.ops.softmax(logits, axis=-1)))
        alphas.append(np.asarray(member_alpha))
    np.testing.assert_allclose(np.asarray(log_p), np.log((probs[0] + probs[1]) / 2), atol=1e-5)
    np.testing.assert_allclose(np.asarray(alpha), (alphas[0] + alphas[1]) / 2, atol=1e-6)
    assert tuple(state.shape) == (2, 2 * SHAPE.units)
    assert not np.allclose(probs[0], probs[1])  # the members do differ


def test_ensemble_folder_round_trip(tmp_path):
    a, b = _member(0), _member(1)
    out = save_ensemble_dir(tmp_path / "ens", [_folder(tmp_path / "a", a),
                                               _folder(tmp_path / "b", b) / "model.weights.h5"],
                            decoding={"beam": 2, "alpha": 1.0})
    config = json.loads((out / "config.json").read_text())
    assert config["members"] == ["model.weights.h5", "member-2.weights.h5"]
    model, vocab, config = load_model_dir(out)
    assert isinstance(model, Ensemble) and len(model.members) == 2 and vocab == VOCAB
    captioner = Captioner(model, vocab, config, out)
    assert (captioner.beam, captioner.alpha) == (2, 1.0)  # the folder's decoding is the default
    for beam, alpha in ((3, 0.7), (None, None)):
        expected = beam_search(Ensemble([a, b]), VOCAB, _grid(), beam=beam or 2, alpha=alpha or 1.0,
                               max_length=captioner.max_words + 1)
        captions = captioner.caption(_grid(), beam=beam, alpha=alpha)
        assert [(c.text, c.score) for c in captions] == [(h.text, h.score) for h in expected]
    assert all(c.attention.shape[1] == 49 for c in captions)
    (out / "member-2.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match="member-2.weights.h5"):
        load_model_dir(out)


def test_mismatched_vocabularies_are_refused(tmp_path):
    other = Vocabulary(SPECIALS + tuple(f"v{i}" for i in range(20)))
    first, second = _folder(tmp_path / "a", _member(0)), _folder(tmp_path / "b", _member(1), other)
    with pytest.raises(ValueError, match="vocabulary"):
        save_ensemble_dir(tmp_path / "ens", [first, second])
    assert not (tmp_path / "ens").exists()
