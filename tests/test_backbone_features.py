"""Feature API: resizing modes, batching, the float16 cache, the Keras-file backbone, the CLI."""

import numpy as np
import pytest

from tounum.backbone import cli, features
from tounum.backbone.cache import FeatureCache, pixels_key
from tounum.backbone.preprocess import PAD_VALUE, as_rgb, fit_square
from tounum.backbone.samples import SAMPLES, sample_images
from tounum.config import BackboneConfig, ConfigError


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Converted weights go to a temporary cache, not the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TOUNUM_CACHE", str(tmp_path_factory.mktemp("tounum_cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def backbone():
    return features.load_backbone()


def _photo(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- resizing ---------------------------------------------------------------------------------

def test_pad_keeps_the_whole_image_and_its_aspect_ratio():
    out = fit_square(np.full((100, 200, 3), 255, np.uint8), 224, "pad")
    rows = np.flatnonzero((out == 255).all(axis=(1, 2)))
    assert (rows[0], rows[-1]) == (56, 167)  # 112 rows of image, centred
    assert (out[:55] == PAD_VALUE).all() and (out[169:] == PAD_VALUE).all()
    assert (out[:, :, 0] == 255).any(axis=0).all()  # full width used


def test_crop_keeps_the_centre():
    thirds = np.zeros((100, 300, 3), np.uint8)
    thirds[:, :100, 0] = thirds[:, 100:200, 1] = thirds[:, 200:, 2] = 255
    out = fit_square(thirds, 224, "crop")
    assert out.shape == (224, 224, 3)
    assert (out[:, 20:-20, 1] == 255).all() and (out[:, 20:-20, [0, 2]] == 0).all()


def test_squash_fills_the_square():
    image = np.zeros((50, 400, 3), np.uint8)
    image[:, :200] = 200
    out = fit_square(image, 224, "squash")
    assert (out[:, :100] == 200).all() and (out[:, 124:] == 0).all()


def test_grey_and_rgba_are_accepted_bad_input_is_refused():
    assert as_rgb(np.zeros((3, 4), np.uint8)).shape == (3, 4, 3)
    assert as_rgb(np.zeros((3, 4, 4), np.uint8)).shape == (3, 4, 3)
    with pytest.raises(ValueError, match="uint8"):
        as_rgb(np.zeros((3, 4, 3), np.float32))
    with pytest.raises(ValueError, match="image"):
        as_rgb(np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="mode"):
        fit_square(np.zeros((3, 4, 3), np.uint8), 224, "stretch")


def test_preprocess_names_the_bad_image(backbone):
    with pytest.raises(ValueError, match="image 1"):
        backbone.preprocess([_photo(10, 10), np.zeros((0, 5, 3), np.uint8)])
    with pytest.raises(ValueError, match="image 2"):  # counted over batches
        backbone.features([_photo(10, 10), _photo(9, 9), np.zeros((5, 5), np.float64)],
                          batch_size=2)


# -- features ---------------------------------------------------------------------------------

def test_features_shapes_and_one_pass_consistency(backbone):
    assert (backbone.name, backbone.input_size, backbone.grid_shape) == \
        ("efficientnet_lite0", 224, (7, 7, 1280))
    images = [_photo(300, 200, 1), _photo(64, 640, 2), _photo(224, 224, 3)]
    f = backbone.features(images, batch_size=2)
    assert f.pooled.shape == (3, 1280) and f.grid.shape == (3, 7, 7, 1280)
    assert f.pooled.dtype == f.grid.dtype == np.float32
    np.testing.assert_allclose(f.grid.mean(axis=(1, 2)), f.pooled, atol=1e-5)
    single = backbone.features(images[1:2], batch_size=1)
    np.testing.assert_allclose(single.grid[0], f.grid[1], atol=1e-4)
    empty = backbone.features([])
    assert empty.pooled.shape == (0, 1280) and empty.grid.shape == (0, 7, 7, 1280)


def test_style_statistics_come_from_the_same_pass(backbone):
    import keras

    assert backbone.style_layers == features.STYLE_LAYERS["efficientnet_lite0"] and backbone.style_size == 2384
    images = [_photo(300, 200, 1), _photo(120, 120, 6)]
    f = backbone.features(images)
    assert f.style.shape == (2, 2384) and f.style.dtype == np.float32
    # the same statistics computed directly from each layer's activations, in layer order
    layers = [backbone._model.get_layer(name).output for name in features.STYLE_LAYERS["efficientnet_lite0"]]
    acts = keras.Model(backbone._model.inputs, layers).predict_on_batch(backbone.preprocess(images).astype(np.float32))
    expected = np.concatenate([s for a in map(np.asarray, acts) for s in (a.mean(axis=(1, 2)), a.std(axis=(1, 2)))],
                              axis=1)
    np.testing.assert_allclose(f.style, expected, rtol=1e-3, atol=1e-4)
    assert backbone.features([]).style.shape == (0, 2384)


def test_sample_photos_get_the_expected_classes(backbone):
    tops = dict(zip(SAMPLES, backbone.imagenet_top5(list(sample_images().values()))))
    assert tops["coffee"][0][0] in SAMPLES["coffee"]
    assert tops["chelsea"][0][0] in SAMPLES["chelsea"]
    assert any(name in SAMPLES["rocket"] for name, _ in tops["rocket"])
    assert all(abs(sum(p for _, p in top) - 1) < 1 for top in tops.values())
    assert tops["coffee"][0][1] > 0.5


def test_load_backbone_is_cached_and_validates():
    assert features.load_backbone() is features.load_backbone(BackboneConfig())
    with pytest.raises(ConfigError, match="resize"):
        features.load_backbone(BackboneConfig(resize="stretch"))
    with pytest.raises(ConfigError, match="name"):
        features.load_backbone(BackboneConfig(name="resnet"))
    with pytest.raises(ConfigError, match="batch_size"):
        features.load_backbone(BackboneConfig(batch_size=0))


def test_resize_mode_is_part_of_the_version(backbone):
    squash = features.load_backbone(BackboneConfig(resize="squash"))
    assert squash.version != backbone.version and squash.version.endswith("squash")


# -- feature cache ----------------------------------------------------------------------------

def test_feature_cache_round_trip_and_reuse(tmp_path, monkeypatch):
    config = BackboneConfig(feature_cache=str(tmp_path / "features"))
    cached = features.load_backbone(config)
    images = [_photo(120, 90, 4), _photo(90, 120, 5)]
    first = cached.features(images)
    key = pixels_key(images[0])
    assert (tmp_path / "features" / cached.version / key[:2] / f"{key}.npz").is_file()

    def no_compute(*args, **kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(cached, "_compute", no_compute)
    again = cached.features(images)
    np.testing.assert_allclose(again.grid, first.grid, rtol=2e-3, atol=2e-3)  # float16 storage
    np.testing.assert_allclose(again.pooled, first.pooled, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(again.style, first.style, rtol=2e-3, atol=2e-3)


def test_cache_entry_without_style_is_recomputed(tmp_path):
    config = BackboneConfig(feature_cache=str(tmp_path / "features"))
    cached = features.load_backbone(config)
    image = _photo(100, 80, 7)
    # an entry as written before the style statistics existed, then one of another set of style layers
    for style in (None, np.zeros(960)):
        FeatureCache(tmp_path / "features", cached.version).put(
            pixels_key(image), np.zeros(1280), np.zeros((7, 7, 1280)), style)
        f = cached.features([image])
        assert np.abs(f.pooled).sum() > 0 and f.style.shape == (1, 2384) and np.abs(f.style).sum() > 0
        assert cached.cache.get(pixels_key(image))[2].shape == (2384,)


def test_corrupt_cache_entry_is_a_miss(tmp_path):
    cache = FeatureCache(tmp_path, "v1")
    key = pixels_key(_photo(8, 8))
    cache.put(key, np.ones(4), np.ones((1, 1, 4)))
    path = tmp_path / "v1" / key[:2] / f"{key}.npz"
    path.write_bytes(b"torn")
    assert cache.get(key) is None
    assert FeatureCache(tmp_path, "v2").get(pixels_key(_photo(9, 9))) is None
    assert pixels_key(_photo(8, 8)) != pixels_key(_photo(8, 8).reshape(4, 16, 3))


# -- pluggable backbone: a user's Keras file --------------------------------------------------

def _tiny_keras_file(path, classes):
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)  # random weights only
    return str(path)


def test_keras_file_backbone(tmp_path):
    config = BackboneConfig(name="keras_file", weights=_tiny_keras_file(tmp_path / "m.keras", 1000),
                            resize="crop")
    user = features.load_backbone(config)
    assert (user.name, user.input_size, user.grid_shape) == ("keras_file", 32, (8, 8, 16))
    f = user.features([_photo(50, 70), _photo(40, 40, 1)])
    assert f.pooled.shape == (2, 16) and f.grid.shape == (2, 8, 8, 16) and f.style.shape == (2, 0)
    np.testing.assert_allclose(f.grid.mean(axis=(1, 2)), f.pooled, atol=1e-5)
    top = user.imagenet_top5([_photo(50, 70)])[0]
    assert len(top) == 5 and top[0][1] >= top[4][1]


def test_keras_file_backbone_without_imagenet_head(tmp_path):
    config = BackboneConfig(name="keras_file", weights=_tiny_keras_file(tmp_path / "m.keras", 5))
    user = features.load_backbone(config)
    assert user.features([_photo(32, 32)]).grid.shape == (1, 8, 8, 16)
    with pytest.raises(ValueError, match="ImageNet"):
        user.imagenet_top5([_photo(32, 32)])


def test_keras_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not a Keras model file"):
        features.load_backbone(BackboneConfig(name="keras_file", weights=str(tmp_path / "no")))
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="cannot load"):
        features.load_backbone(BackboneConfig(name="keras_file", weights=str(bad)))


# -- command line -----------------------------------------------------------------------------

def test_cli_prints_top5_and_reports_bad_files(tmp_path, capsys):
    from PIL import Image

    good = tmp_path / "coffee.png"
    Image.fromarray(sample_images()["coffee"]).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 broken")
    assert cli.main([str(good), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == str(good) and "espresso" in out.splitlines()[1]
    assert len(out.splitlines()) == 6
    assert "bad.jpg" in err
    assert cli.main([]) == 2


def test_bfloat16_precision_is_close_and_versioned(backbone):
    fast = features.load_backbone(BackboneConfig(precision="bfloat16"))
    assert fast.version != backbone.version and "bf16" in fast.version
    images = list(sample_images().values())[:2]
    a, b = backbone.features(images), fast.features(images)
    assert b.pooled.dtype == np.float32
    cosine = (a.pooled * b.pooled).sum(1) / np.linalg.norm(a.pooled, axis=1) / np.linalg.norm(
        b.pooled, axis=1)
    assert cosine.min() > 0.99
    with pytest.raises(ConfigError, match="precision"):
        features.load_backbone(BackboneConfig(precision="int8"))


def test_lite2_backbone_knows_the_sample_photos():
    lite2 = features.load_backbone(BackboneConfig(name="efficientnet_lite2", precision="bfloat16"))
    assert lite2.version == "efficientnet_lite2-9656183e-v1-bf16-pad"
    assert lite2.input_size == 260 and lite2.grid_shape == (9, 9, 1280)
    assert lite2.style_size == 2 * (48 + 528 + 720) and lite2.top_shape == (9, 9, 208)
    tops = dict(zip(SAMPLES, lite2.imagenet_top5(list(sample_images().values()))))
    assert tops["coffee"][0][0] in SAMPLES["coffee"] and tops["chelsea"][0][0] in SAMPLES["chelsea"]
    f = lite2.features([_photo(300, 200), _photo(64, 640, 1)])
    assert f.pooled.shape == (2, 1280) and f.style.shape == (2, 2592) and f.pooled.dtype == np.float32


def test_trained_backbone_follows_the_model_and_falls_back_to_the_config(backbone):
    old = features.trained_backbone({})  # a model saved before the backbone was recorded: the config's
    assert (old.name, old.version) == (backbone.name, backbone.version)
    config = BackboneConfig(batch_size=7)
    squash = features.trained_backbone({"name": "efficientnet_lite0", "resize": "squash"}, config)
    assert squash.resize == "squash" and squash.batch_size == 7 and squash.name == "efficientnet_lite0"
    lite2 = features.trained_backbone({"name": "efficientnet_lite2", "precision": "bfloat16"}, config)
    assert lite2.name == "efficientnet_lite2" and lite2.version.endswith("-bf16-pad") and lite2.batch_size == 7
    assert lite2.record["precision"] == "bfloat16"
    assert features.trained_backbone(lite2.record, config).version == lite2.version  # the record builds it again
    with pytest.raises(ConfigError, match="unknown"):
        features.trained_backbone({"name": "resnet"})
