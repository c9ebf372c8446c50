"""Head, calibration, threshold and the training flow on random features (no backbone, no images)."""

import dataclasses

import numpy as np
import pytest

from tounum.classify import CLASSES, Classifier, load_classifier
from tounum.classify.data import holdout_split
from tounum.classify.calibrate import calibrated_probs, fit_temperature, nll, photo_threshold
from tounum.classify.metrics import expected_calibration_error
from tounum.classify.model import class_weights, export_head, train_head, train_logistic
from tounum.classify.train import FeatureData, Split, bias_variance, fit
from tounum.config import ClassifyConfig

D = 32


def separable(n, seed=0, views=1):
    """Five Gaussian blobs in D dimensions, well apart; ``views`` noisy copies of each point."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 5
    centres = rng.normal(size=(5, D)) * 3
    base = centres[y] + rng.normal(size=(n, D))
    pooled = np.stack([base + 0.3 * rng.normal(size=base.shape) * (v > 0) for v in range(views)]).astype(np.float32)
    return pooled, y


@pytest.mark.slow
def test_keras_head_learns_separable_features_and_exports_to_numpy():
    pooled, y = separable(300)
    cfg = ClassifyConfig(epochs=12, patience=3, batch_size=64, hidden=16, learning_rate=3e-2)
    model, history = train_head(pooled[0][:240], y[:240], pooled[0][240:], y[240:], cfg)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history)
    head = export_head(model)
    logits = head.logits(pooled[0][240:])
    assert (logits.argmax(1) == y[240:]).mean() > 0.95
    np.testing.assert_allclose(logits, np.asarray(model(pooled[0][240:], training=False)), rtol=1e-4, atol=1e-4)


def test_logistic_regression_learns_separable_features():
    pooled, y = separable(200)
    assert (train_logistic(pooled[0], y).logits(pooled[0]).argmax(1) == y).mean() > 0.95


def test_balanced_classes_stop_a_crowded_class_from_taking_the_doubtful_points():
    # two overlapping classes, the first nine times as numerous (like photos against paintings)
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0.0, 1.0, (900, 2)), rng.normal(1.5, 1.0, (100, 2))].astype(np.float32)
    y = np.r_[np.zeros(900, int), np.ones(100, int)]
    assert class_weights(y) == pytest.approx({0: 1000 / 1800, 1: 1000 / 200})
    minority_recall = {balanced: (train_logistic(x, y, 1.0, balanced=balanced).logits(x)[y == 1].argmax(1) == 1).mean()
                       for balanced in (False, True)}
    assert minority_recall[True] > minority_recall[False] + 0.2


def test_temperature_scaling_lowers_nll_and_ece_of_an_overconfident_toy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    logits = rng.normal(size=(2000, 5))
    logits[np.arange(2000), y] += 1.5  # right about 60% of the time...
    logits *= 6  # ...but far too sure
    t = fit_temperature(logits, y)
    assert t > 2
    assert nll(logits, y, t) < nll(logits, y) - 0.5
    assert expected_calibration_error(calibrated_probs(logits, t), y) < expected_calibration_error(
        calibrated_probs(logits, 1.0), y) / 2
    assert (calibrated_probs(logits, t).argmax(1) == logits.argmax(1)).all()


@pytest.mark.parametrize("min_recall", [0.9, 0.99, 1.0])
def test_photo_threshold_meets_recall_at_best_precision(min_recall):
    rng = np.random.default_rng(1)
    is_photo = rng.random(500) < 0.25
    scores = np.clip(rng.normal(0.7, 0.2, 500) * is_photo + rng.normal(0.25, 0.2, 500) * ~is_photo, 0, 1)
    t = photo_threshold(scores, is_photo, min_recall)
    pred = scores >= t
    recall = (pred & is_photo).sum() / is_photo.sum()
    precision = (pred & is_photo).sum() / pred.sum()
    assert recall >= min_recall
    for other in np.unique(scores):  # no cut-off with enough recall has a better precision
        p = scores >= other
        if (p & is_photo).sum() / is_photo.sum() >= min_recall:
            assert (p & is_photo).sum() / p.sum() <= precision + 1e-12


@pytest.mark.slow
def test_fit_compares_heads_calibrates_and_round_trips(tmp_path):
    pooled, y = separable(250, seed=2, views=2)
    dev_pooled, dev_y = separable(100, seed=2)
    held = holdout_split([CLASSES[i] for i in y], 0.2)
    data = FeatureData(Split(pooled, y, [f"{i}.jpg" for i in range(250)]), held,
                       Split(dev_pooled, dev_y, [f"d{i}.jpg" for i in range(100)]),
                       descreen={"min_strength": 30.0, "blur": 0.6})
    clf, result = fit(data, ClassifyConfig(epochs=8, patience=2, batch_size=128, learning_rate=3e-2))
    assert result["kept"] in ("keras_head", "logistic_regression")
    assert result["dev"]["accuracy"] > 0.95 and result["dev"]["photo_vs_rest"]["recall"] >= 0.99
    assert result["temperature"] > 0 and len(result["history"]["val_loss"]) >= 1
    summary = bias_variance(result)
    assert list(summary.index) == ["train", "held-out", "dev"] and (summary["error"] < 0.1).all()

    clf.save(tmp_path / "m")
    again = load_classifier(tmp_path / "m")
    assert isinstance(again, Classifier) and again is load_classifier(tmp_path / "m")
    assert again.descreen == data.descreen == result["descreen"]  # the model applies what training did
    a, b = clf.predict(dev_pooled[0]), again.predict(dev_pooled[0])
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-6)
    assert a.probs.shape == (100, 5) and np.allclose(a.probs.sum(1), 1, atol=1e-5)
    assert all(d in CLASSES for d in a.doc_type)
    assert (np.array(a.doc_type) == np.array(CLASSES)[a.probs.argmax(1)]).all()
    assert (a.is_photo == (a.probs[:, 0] >= clf.photo_threshold)).all()
    assert again.training_config().aged_views == ClassifyConfig().aged_views  # saved with the model


def test_a_model_saved_before_a_setting_existed_reports_the_value_it_was_trained_with():
    saved = dataclasses.asdict(ClassifyConfig(holdout=0.2))
    old = {k: v for k, v in saved.items() if k != "aged_views"}  # a config.json from before 30 Nov 2026
    assert Classifier(None, 1.0, 0.5, {"config": old}).training_config().aged_views == 0.0
    now = Classifier(None, 1.0, 0.5, {"config": saved}).training_config()
    assert now.aged_views == ClassifyConfig().aged_views and now.holdout == 0.2


def test_loading_a_folder_without_a_model_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        Classifier.load(tmp_path)
