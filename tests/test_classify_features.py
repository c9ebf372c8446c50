"""Classifier inputs: descriptors from backbone features, their cache keys, and what a classifier reads."""

import numpy as np
import pytest
from PIL import Image

from tounum.backbone import Features
from tounum.classify import Classifier
from tounum.classify.features import descriptor, pooled_views
from tounum.classify.model import train_logistic


def features(n=6, seed=0, style=True):
    rng = np.random.default_rng(seed)
    return Features(rng.normal(size=(n, 4)).astype(np.float32), np.zeros((n, 1, 1, 4), np.float32),
                    rng.normal(size=(n, 3)).astype(np.float32) if style else None)


def test_descriptor_puts_the_named_fields_side_by_side():
    f = features()
    x = descriptor(f, ("pooled", "style"))
    assert x.shape == (6, 7) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, :4], f.pooled)
    np.testing.assert_allclose(x[:, 4:], f.style)
    np.testing.assert_allclose(descriptor(f), f.pooled)
    with pytest.raises(ValueError, match="unknown"):
        descriptor(f, ("colour",))
    with pytest.raises(ValueError, match="style"):
        descriptor(features(style=False), ("pooled", "style"))


def test_classifier_reads_the_inputs_it_was_trained_on(tmp_path):
    f = features()
    x = descriptor(f, ("pooled", "style"))
    y = np.arange(12) % 5
    both = Classifier(train_logistic(np.r_[x, x], y), 1.0, 0.5, {"inputs": ["pooled", "style"]})
    np.testing.assert_allclose(both.predict(f).probs, both.predict(x).probs)
    with pytest.raises(ValueError, match=r"pooled\+style vectors of 7 values"):
        both.predict(f.pooled)
    both.save(tmp_path / "m")
    assert Classifier.load(tmp_path / "m").inputs == ("pooled", "style")
    # a model saved before the style statistics existed reads the pooled vector only
    old = Classifier(train_logistic(np.r_[f.pooled, f.pooled], y), 1.0, 0.5, {})
    assert old.inputs == ("pooled",)
    np.testing.assert_allclose(old.predict(f).probs, old.predict(f.pooled).probs)


class FakeBackbone:
    """Features from the mean colour of each image: enough to check shapes and the cache."""

    version, style_layers = "fake-v1", ("layer_a",)

    def __init__(self):
        self.calls = 0

    def features(self, images):
        self.calls += 1
        means = np.array([im.reshape(-1, 3).mean(0) for im in images], np.float32).reshape(-1, 3)
        return Features(means, means[:, None, None, :], np.c_[means, -means])


def test_pooled_views_cache_keys_include_the_inputs(tmp_path):
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(paths[-1])
    backbone = FakeBackbone()
    pooled = pooled_views(paths, backbone, n_augmented=1, cache=tmp_path / "cache")
    both = pooled_views(paths, backbone, n_augmented=1, cache=tmp_path / "cache", inputs=("pooled", "style"))
    assert pooled.pooled.shape == (2, 3, 3) and both.pooled.shape == (2, 3, 9) and backbone.calls == 2
    np.testing.assert_allclose(both.pooled[..., :3], pooled.pooled)
    again = pooled_views(paths, backbone, n_augmented=1, cache=tmp_path / "cache", inputs=("pooled", "style"))
    assert backbone.calls == 2 and np.array_equal(again.pooled, both.pooled)  # read from the cache
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 2
