"""Classifier inputs: descriptors from backbone features, their cache keys, and what a classifier reads."""

import numpy as np
import pytest
from PIL import Image

from tounum.backbone import Features
from tounum.classify import Classifier
from tounum.classify.features import FIRST_VIEW_CHANCES, _key, descriptor, image_views, pooled_views
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
    both = Classifier(train_logistic(np.r_[x, x], y), 1.0, 0.5,
                      {"inputs": ["pooled", "style"], "backbone": {"style_layers": ["block8_expand_relu6"]}})
    np.testing.assert_allclose(both.predict(f).probs, both.predict(x).probs)
    # features of a backbone with other style layers: the error says which layers the head expects
    with pytest.raises(ValueError, match=r"pooled\+style vectors of 7 values.*style layers: block8_expand_relu6"):
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

    def features(self, images, batch_size=None):
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


class RecordingBackbone(FakeBackbone):
    """A fake backbone that keeps the images it was given."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def features(self, images, batch_size=None):
        self.seen += [im.copy() for im in images]
        return super().features(images)


def test_descreening_reaches_the_backbone_at_training_and_inference_and_keys_the_cache(tmp_path):
    from tounum.enhance.degrade import halftone
    from tounum.enhance.samples import scene

    clean = scene(160, 192, seed=3)
    screened = halftone(clean, 5.0, 30.0)
    paths = [str(tmp_path / "screened.png"), str(tmp_path / "clean.png")]
    Image.fromarray(screened).save(paths[0])
    Image.fromarray(clean).save(paths[1])
    settings = {"min_strength": 30.0, "blur": 0.6}

    backbone = RecordingBackbone()
    pooled_views(paths, backbone, cache=tmp_path / "cache")
    pooled_views(paths, backbone, n_augmented=1, cache=tmp_path / "cache", descreen=settings)
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 2  # a cache folder each
    raw, prepared, views = backbone.seen[:2], backbone.seen[2:4], backbone.seen[4:]
    assert np.array_equal(raw[0], screened) and np.array_equal(prepared[1], clean)  # clean: untouched
    # the augmented scan views reach the backbone as drawn, halftone screens and all
    assert all(np.array_equal(a, b) for a, b in zip(views, image_views([screened, clean], [0, 1], 1, 0)[1]))
    assert np.abs(prepared[0].astype(float) - clean).mean() < 0.5 * np.abs(screened.astype(float) - clean).mean()

    x = np.r_[np.eye(5, 3), np.eye(5, 3)].astype(np.float32)
    y = np.arange(10) % 5
    clf = Classifier(train_logistic(x, y), 1.0, 0.5, {"descreen": settings})
    clf.save(tmp_path / "m")
    loaded = Classifier.load(tmp_path / "m")
    assert loaded.descreen == settings
    backbone.seen = []
    loaded.classify_images([screened, clean], backbone)  # `tounum classify` and the pipeline: the same images
    assert all(np.array_equal(a, b) for a, b in zip(backbone.seen, prepared))
    assert Classifier(clf.head, 1.0, 0.5, {}).prepare([screened])[0] is screened  # older models: none


def test_a_cleaned_image_is_also_read_as_scanned_and_the_class_scores_averaged():
    from tounum.classify.calibrate import calibrated_probs

    x = np.r_[np.eye(5, 3), np.eye(5, 3)].astype(np.float32) * 100
    clf = Classifier(train_logistic(x, np.arange(10) % 5), 1.0, 0.5, {})
    backbone = RecordingBackbone()
    cleaned = [np.full((8, 8, 3), v, np.uint8) for v in (10, 200)]
    scanned = [None, np.full((8, 8, 3), (90, 0, 0), np.uint8)]  # only the second was changed by cleaning
    features = backbone.features(cleaned)
    also = clf.as_scanned(features, scanned, backbone)
    assert len(backbone.seen) == 3 and np.array_equal(backbone.seen[2], scanned[1])  # read again: the changed one
    np.testing.assert_array_equal(also[0], features.pooled[0])
    np.testing.assert_array_equal(also[1], backbone.features([scanned[1]]).pooled[0])
    both, alone = clf.predict(features, also), clf.predict(features)
    np.testing.assert_allclose(both.probs, calibrated_probs((clf.logits(features) + clf.logits(also)) / 2, 1.0),
                               rtol=1e-5)
    np.testing.assert_allclose(both.probs[0], alone.probs[0], rtol=1e-5)  # unchanged image: as before
    assert np.abs(both.probs[1] - alone.probs[1]).max() > 0.01
    assert clf.as_scanned(features, [None, None], backbone) is None
    np.testing.assert_allclose(clf.classify_images(cleaned, backbone, scanned).probs, both.probs, rtol=1e-5)


def test_scan_chances_join_the_cache_key_only_where_they_change_the_views():
    plain = _key(["a.jpg"], "v", 5, 0, None)
    assert _key(["a.jpg"], "v", 5, 0, None, scan=FIRST_VIEW_CHANCES) == plain  # caches of earlier runs
    assert _key(["a.jpg"], "v", 5, 0, None, scan={"grey": 0.3, "screen": 0.25}) == plain
    assert _key(["a.jpg"], "v", 5, 0, None, scan={**FIRST_VIEW_CHANCES, "aged": 0.15}) != plain
    no_views = _key(["a.jpg"], "v", 0, 0, None)
    assert _key(["a.jpg"], "v", 0, 0, None, scan={**FIRST_VIEW_CHANCES, "aged": 0.15}) == no_views
