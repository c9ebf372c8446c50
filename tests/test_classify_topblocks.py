"""The fine-tuned top layers: copies of the backbone's own, their array form, training and the model folder."""

import numpy as np
import pytest

from tounum.backbone import Features
from tounum.backbone.efficientnet_lite import efficientnet_lite
from tounum.classify import CLASSES, Classifier, load_classifier
from tounum.classify.model import LinearStack
from tounum.classify.topblocks import TOP_CONVS, TopStack, build_top_model, export_top, top_convs
from tounum.classify.train import FeatureData, Split, fit, fit_top
from tounum.config import ClassifyConfig

N_STYLE = 6


@pytest.fixture(scope="module")
def backbone():
    """A small-input EfficientNet-Lite0 (2x2 top grid) whose top layers have random non-zero weights,
    and its activations of a few random images: (model, top, pooled)."""
    import keras

    model = efficientnet_lite(input_size=64)
    rng = np.random.default_rng(0)
    for name in TOP_CONVS:
        layer = model.get_layer(f"{name}_conv")
        layer.set_weights([rng.normal(scale=0.1, size=w.shape).astype(np.float32) for w in layer.get_weights()])
    taps = keras.Model(model.inputs, [model.get_layer("block14_add").output, model.get_layer("pool").output])
    top, pooled = taps.predict(rng.uniform(0, 255, (4, 64, 64, 3)).astype(np.float32), verbose=0)
    return model, top, pooled


def _head(width, seed=0):
    rng = np.random.default_rng(seed)
    return LinearStack(rng.normal(size=width).astype(np.float32), rng.uniform(0.5, 2, width).astype(np.float32),
                       [rng.normal(scale=0.1, size=(width, len(CLASSES))).astype(np.float32)],
                       [rng.normal(size=len(CLASSES)).astype(np.float32)])


def test_top_layers_from_the_backbones_weights_give_its_pooled_vector(backbone):
    model, top, pooled = backbone
    layers = TopStack(top.shape[1:], top_convs(model))
    style = np.arange(4 * N_STYLE, dtype=np.float32).reshape(4, N_STYLE)
    out = layers.descriptor(np.c_[top.reshape(4, -1), style])
    assert np.abs(pooled).max() > 0.1
    np.testing.assert_allclose(out[:, :-N_STYLE], pooled, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(out[:, -N_STYLE:], style)


def test_keras_copy_starts_as_the_backbone_and_exports_to_the_same_function(backbone):
    model, top, pooled = backbone
    style = np.random.default_rng(1).normal(size=(4, N_STYLE)).astype(np.float32)
    head = _head(pooled.shape[1] + N_STYLE)
    copy = build_top_model(TopStack(top.shape[1:], top_convs(model), head), N_STYLE, ClassifyConfig())
    expected = head.logits(np.c_[pooled, style])
    np.testing.assert_allclose(np.asarray(copy([top, style], training=False)), expected, rtol=1e-3, atol=1e-3)
    stack = export_top(copy, top.shape[1:])
    np.testing.assert_allclose(stack.logits(np.c_[top.reshape(4, -1), style]), expected, rtol=1e-3, atol=1e-3)
    assert stack.width == top[0].size + N_STYLE


def _toy_data(top_shape, n=100, views=2, seed=0):
    """[top, style] descriptors whose class shows in the top activations' channel means."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASSES)
    channels = top_shape[-1]
    signal = np.zeros((n, channels), np.float32)
    signal[np.arange(n), y * (channels // len(CLASSES))] = 4.0
    x = []
    for _ in range(views):
        top = rng.normal(size=(n, *top_shape)).astype(np.float32) + signal[:, None, None, :]
        x.append(np.c_[top.reshape(n, -1), rng.normal(size=(n, N_STYLE)).astype(np.float32)])
    held = np.zeros(n, bool)
    held[::5] = True
    dev = Split(x[0][None, :40], y[:40], [f"dev{i}.png" for i in range(40)])
    return FeatureData(Split(np.stack(x), y, [f"{i}.png" for i in range(n)]), held, dev, ("top", "style"), top_shape)


def test_fine_tuning_trains_and_both_candidates_read_the_same_descriptors(backbone):
    model, top, _ = backbone
    data = _toy_data(top.shape[1:])
    config = ClassifyConfig(finetune_top=True, finetune_epochs=3, finetune_patience=2, batch_size=32,
                            finetune_learning_rate=1e-3)
    candidates, history, c = fit_top(data, config, backbone_model=model)
    assert set(candidates) == {"logistic_regression", "finetuned_top"} and c > 0
    assert 1 <= len(history["loss"]) <= 3 and "val_loss" in history
    x, y = data.rows("fit")
    linear, tuned = candidates["logistic_regression"], candidates["finetuned_top"]
    assert (linear.logits(x).argmax(1) == y).mean() > 0.9
    # the linear candidate keeps the backbone's layers; fine-tuning moved them
    np.testing.assert_array_equal(linear.convs["head"][0], top_convs(model)["head"][0])
    assert not np.array_equal(tuned.convs["head"][0], linear.convs["head"][0])


@pytest.mark.slow
def test_fit_with_finetune_top_saves_a_model_the_classifier_loads_and_reads_features_with(tmp_path):
    data = _toy_data((7, 7, 192), n=60)
    config = ClassifyConfig(finetune_top=True, finetune_epochs=2, finetune_patience=1, batch_size=32)
    clf, result = fit(data, config)
    assert result["kept"] in ("logistic_regression", "finetuned_top")
    assert isinstance(clf.head, TopStack) and result["dev"]["n_images"] == 40
    clf.save(tmp_path)
    loaded = load_classifier(tmp_path)
    x = data.dev.clean[:5]
    np.testing.assert_allclose(loaded.logits(x), clf.logits(x), rtol=1e-5, atol=1e-5)
    top, style = x[:, :-N_STYLE].reshape(5, 7, 7, 192), x[:, -N_STYLE:]
    features = Features(np.zeros((5, 1280), np.float32), np.zeros((5, 7, 7, 1280), np.float32), style, top)
    pred = loaded.predict(features)
    assert pred.probs.shape == (5, 5) and len(pred.doc_type) == 5
    np.testing.assert_allclose(pred.probs, Classifier.predict(clf, x).probs, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="top\\+style"):
        loaded.predict(np.zeros((2, 10), np.float32))


@pytest.mark.slow
def test_the_backbones_top_activation_through_copied_top_layers_gives_its_pooled_vector(tmp_path):
    from tounum.backbone import load_backbone
    from tounum.backbone.weights import load_efficientnet_lite
    from tounum.config import BackboneConfig

    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (90 + 10 * i, 120, 3), dtype=np.uint8) for i in range(3)]
    backbone = load_backbone(BackboneConfig(feature_cache=str(tmp_path)))
    f = backbone.features(images)
    assert f.top.shape == (3, 7, 7, 192) and backbone.top_layer == "block14_add"
    pooled = TopStack(backbone.top_shape, top_convs(load_efficientnet_lite())).pooled(f.top)
    np.testing.assert_allclose(pooled, f.pooled, rtol=1e-3, atol=1e-3)
    cached = backbone.features(images)  # from the float16 cache
    np.testing.assert_allclose(cached.top, f.top, rtol=2e-3, atol=2e-3)


@pytest.mark.slow
def test_train_cli_with_finetune_top_writes_a_model_that_evaluate_reads(tmp_path, toy_doctype_tree, capsys):
    import json

    from tounum.cli import main

    config = tmp_path / "small.toml"
    config.write_text("[classify]\nsynthetic_text = 0\naugmented_views = 1\nfinetune_epochs = 1\nholdout = 0.25\n"
                      'backbone = "efficientnet_lite0"\nbackbone_precision = "float32"\n')
    out = tmp_path / "model"
    assert main(["train", "classifier", str(toy_doctype_tree), "--out", str(out), "--finetune-top"]) == 2
    assert "finetune_top is written for backbone 'efficientnet_lite0'" in capsys.readouterr().err
    assert main(["train", "classifier", str(toy_doctype_tree), "--out", str(out), "--finetune-top",
                 "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["kept"] in ("logistic_regression", "finetuned_top")
    info = json.loads((out / "config.json").read_text())
    assert info["inputs"] == ["top", "style"] and info["config"]["finetune_top"] is True
    assert "--finetune-top" in json.loads((out / "metrics.json").read_text())["command"]
    assert "block15" in (out / "model_card.md").read_text()
    assert main(["evaluate", "classifier", str(toy_doctype_tree / "dev"), "--model", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_images"] == 10
