"""Self-critical sequence training: CIDEr-D reward, leave-one-out baseline, weighted loss, smoke run."""

import json

import numpy as np
import pytest

from tounum.caption.decode import Hypothesis, greedy
from tounum.caption.model import caption_loss
from tounum.caption.reward import CiderD, leave_one_out_advantage
from tounum.caption.store import load_model_dir
from tounum.caption.text import Vocabulary
from tounum.caption.train import TrainConfig, sampled_tokens, train

REFS = [["a brown dog runs on green grass"], ["a man rides a red bike"], ["two children play in water"]]


def test_cider_d_is_10_for_the_reference_and_0_without_shared_words():
    scorer = CiderD(REFS)
    scores = scorer.score(["a brown dog runs on green grass", "Two children play in water.",
                           "two children play in water", "a brown dog runs on green grass"], [0, 2, 1, 1])
    assert scores[0] == pytest.approx(10.0) and scores[1] == pytest.approx(10.0)  # normalised text
    assert scores[2] == 0.0  # no word in common with image 1
    assert 0.0 < scores[3] < 1.0  # only "a" in common: a unigram in 2 of 3 images


def test_cider_d_ignores_words_every_image_has_and_clips_repeats():
    scorer = CiderD([["a dog runs"], ["a cat sleeps"], ["a man walks"]])
    assert scorer.score(["a"], [0])[0] == 0.0  # "a" is in every image's references: idf 0
    exact, repeated = scorer.score(["a dog runs", "a dog runs dog runs dog runs"], [0, 0])
    assert exact == pytest.approx(7.5) and 0 < repeated < exact  # 3 words: orders 1-3 match, no 4-gram
    # length penalty alone: same n-gram overlap clipped, longer caption scores less
    short, long = scorer.score(["dog runs", "dog runs a man a man a man a man"], [0, 0])
    assert long < short


def test_cider_d_equals_the_coco_evaluation_code():
    """pycocoevalcap's "CIDEr" is CIDEr-D (clipping, length penalty); with the same document
    frequencies (those of the scored references) the scores agree, repeats and lengths included."""
    from pycocoevalcap.cider.cider import Cider

    refs = [["a dog runs on grass", "the dog plays on the green grass"], ["a man rides his bike", "the man rides a bike"],
            ["two kids swim in water", "kids play in the water"]]
    cands = ["the dog runs on grass", "a man a man rides a bike bike bike", "kids"]
    ours = CiderD(refs).score(cands, [0, 1, 2])
    _, coco = Cider().compute_score({i: r for i, r in enumerate(refs)}, {i: [c] for i, c in enumerate(cands)})
    np.testing.assert_allclose(ours, coco, rtol=1e-9)
    assert len(set(np.round(ours, 6))) == 3


def test_leave_one_out_advantage():
    rewards = np.array([[1.0, 2.0, 3.0, 6.0], [0.5, 0.5, 0.5, 0.5]])
    adv = leave_one_out_advantage(rewards)
    # first row: baselines (2+3+6)/3, (1+3+6)/3, (1+2+6)/3, (1+2+3)/3
    np.testing.assert_allclose(adv[0], [1 - 11 / 3, 2 - 10 / 3, 3 - 3, 6 - 2])
    np.testing.assert_allclose(adv[1], 0.0)  # identical samples teach nothing
    np.testing.assert_allclose(adv.sum(1), 0.0, atol=1e-12)
    np.testing.assert_allclose(leave_one_out_advantage(rewards + 7.0), adv)  # shift-invariant
    with pytest.raises(ValueError):
        leave_one_out_advantage(np.ones((3, 1)))


def test_weighted_loss_is_the_policy_gradient_loss():
    rng = np.random.default_rng(0)
    targets = np.array([[5, 6, 2, 0], [7, 2, 0, 0]], np.int32)
    logits = rng.standard_normal((2, 4, 10)).astype(np.float32)
    alphas = np.full((2, 4, 49), 1 / 49, np.float32)
    weights = np.array([1.5, -0.5], np.float32)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    seq_logp = [logp[0, 0, 5] + logp[0, 1, 6] + logp[0, 2, 2], logp[1, 0, 7] + logp[1, 1, 2]]
    expected = -(1.5 * seq_logp[0] - 0.5 * seq_logp[1]) / 5  # 5 real tokens
    got = caption_loss(targets, logits, alphas, attention_reg=0.0, weights=weights)[1]
    assert float(got) == pytest.approx(expected, rel=1e-5)
    plain = caption_loss(targets, logits, alphas, attention_reg=0.0)[1]
    ones = caption_loss(targets, logits, alphas, attention_reg=0.0, weights=np.ones(2, np.float32))[1]
    assert float(ones) == pytest.approx(float(plain), rel=1e-6)


def test_excluded_words_are_ruled_out_of_the_loss_softmax():
    """The sampler never draws <pad>/<start>/<unk>; the policy-gradient softmax must not hold them
    either, or pushing bad samples down moves their probability there (the collapse it caused)."""
    rng = np.random.default_rng(2)
    targets = np.array([[5, 6, 2], [7, 2, 0]], np.int32)
    logits = rng.standard_normal((2, 3, 10)).astype(np.float32)
    alphas = np.full((2, 3, 49), 1 / 49, np.float32)
    kept = np.setdiff1d(np.arange(10), [0, 1, 3])
    logp = np.full_like(logits, -np.inf)
    logp[..., kept] = logits[..., kept] - np.log(np.exp(logits[..., kept]).sum(-1, keepdims=True))
    weights = np.array([2.0, -1.0], np.float32)
    expected = -(2.0 * (logp[0, 0, 5] + logp[0, 1, 6] + logp[0, 2, 2]) - (logp[1, 0, 7] + logp[1, 1, 2])) / 5
    got = caption_loss(targets, logits, alphas, attention_reg=0.0, weights=weights, excluded=(0, 1, 3))[1]
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_sampled_tokens_keep_end_only_when_emitted():
    vocab = Vocabulary(("<pad>", "<start>", "<end>", "<unk>", "a", "b"))
    hyps = [Hypothesis("a", [4], 0.0, None), Hypothesis("a b a", [4, 5, 4], 0.0, None)]
    assert sampled_tokens(hyps, vocab, 2).tolist() == [[1, 4, 2, 0], [1, 4, 5, 4]]


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    from test_caption_model import CAPTIONS, TINY, _grid

    out = tmp_path_factory.mktemp("base")
    grid = _grid()
    train((grid, np.arange(6), CAPTIONS), (grid, np.arange(6), CAPTIONS), out, TrainConfig(epochs=3, **TINY))
    return out, grid, CAPTIONS, TINY


def test_low_temperature_sampling_is_greedy(base_model):
    out, grid, _, _ = base_model
    model, vocab, _ = load_model_dir(out)
    features = np.asarray(grid, np.float32)
    sampled = greedy(model, vocab, features, 8, temperature=1e-4, seed=3)
    assert [h.tokens for h in sampled] == [h.tokens for h in greedy(model, vocab, features, 8)]
    a, b = (greedy(model, vocab, features, 8, temperature=1.0, seed=5) for _ in range(2))
    assert [h.tokens for h in a] == [h.tokens for h in b]  # seeded


def test_self_critical_smoke_run_and_resume(base_model, tmp_path, monkeypatch):
    monkeypatch.setattr("tounum.caption.evaluate._java", lambda: False)  # no Java start-up in a unit test
    base, grid, captions, tiny = base_model
    config = TrainConfig(epochs=1, self_critical=True, samples=5, images_per_epoch=4,
                         **{**tiny, "batch_size": 10, "learning_rate": 1e-3})  # 2 images a step: 2 steps
    data = (grid, np.arange(6), captions)
    out = tmp_path / "scst"
    state = train(data, data, out, config, init_from=base)
    record = state["history"][0]
    assert np.isfinite(record["train_loss"]) and 0 <= record["train_reward_cider_d"] <= 10
    assert state["best_epoch"] == 1 and state["best_cider"] == record["dev_cider"]
    before, _, _ = load_model_dir(base)
    after, _, _ = load_model_dir(out)
    changed = [not np.allclose(a, b) for a, b in zip(before.get_weights(), after.get_weights())]
    assert any(changed)
    state = train(data, data, out, TrainConfig(**{**vars(config), "epochs": 2}), init_from=base)
    assert [r["epoch"] for r in state["history"]] == [1, 2]
    assert json.loads((out / "checkpoint" / "state.json").read_text())["epoch"] == 2


def test_self_critical_needs_a_trained_model(tmp_path):
    from test_caption_model import CAPTIONS, TINY, _grid

    data = (_grid(), np.arange(6), CAPTIONS)
    with pytest.raises(ValueError, match="trained model"):
        train(data, data, tmp_path, TrainConfig(epochs=1, self_critical=True, **TINY))
