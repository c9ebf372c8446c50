"""The whole backbone fine-tuned with the head: its start, its weights file, the model folder that holds it."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tounum.backbone import load_backbone, trained_backbone
from tounum.backbone.efficientnet_lite import efficientnet_lite
from tounum.backbone.features import STYLE_LAYERS
from tounum.backbone.weights import load_tuned_weights, save_tuned_weights
from tounum.classify import CLASSES, load_classifier
from tounum.classify.features import descriptor
from tounum.classify.finetune import build_network
from tounum.classify.model import LinearStack
from tounum.config import BackboneConfig, ConfigError


def test_tuned_weights_round_trip_in_float16_and_refuse_another_network(tmp_path):
    model = efficientnet_lite(input_size=64)
    rng = np.random.default_rng(0)
    layer = model.get_layer("block3_project_conv")
    layer.set_weights([rng.normal(scale=0.1, size=w.shape).astype(np.float32) for w in layer.get_weights()])
    digest = save_tuned_weights(model, tmp_path / "w.npz")
    assert len(digest) == 64
    with np.load(tmp_path / "w.npz") as saved:
        assert "logits/0" not in saved.files and saved["block3_project_conv/0"].dtype == np.float16
    fresh = efficientnet_lite(input_size=64)
    load_tuned_weights(fresh, tmp_path / "w.npz")
    np.testing.assert_allclose(fresh.get_layer("block3_project_conv").get_weights()[0], layer.get_weights()[0],
                               rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="do not fit"):
        load_tuned_weights(efficientnet_lite("efficientnet_lite2", input_size=64), tmp_path / "w.npz")
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="bad.npz: not a fine-tuned weights file"):
        load_tuned_weights(fresh, tmp_path / "bad.npz")


def test_the_network_starts_as_the_head_on_the_pretrained_features():
    backbone = load_backbone(BackboneConfig(name="efficientnet_lite0"))
    images = [np.random.default_rng(k).integers(0, 255, (80, 120, 3), dtype=np.uint8) for k in range(3)]
    x = descriptor(backbone.features(images), ("pooled", "style"))
    rng = np.random.default_rng(1)
    head = LinearStack(x.mean(0), x.std(0) + 0.1, [rng.normal(scale=0.05, size=(x.shape[1], len(CLASSES)))
                                                     .astype(np.float32)], [np.zeros(len(CLASSES), np.float32)])
    net = build_network("efficientnet_lite0", STYLE_LAYERS["efficientnet_lite0"], head)
    logits = net.predict_on_batch(backbone.preprocess(images).astype(np.float32))
    np.testing.assert_allclose(logits, head.logits(x), atol=2e-3)
    with pytest.raises(ConfigError, match="one dense layer"):
        build_network("efficientnet_lite0", (), LinearStack(head.mean, head.scale, head.weights * 2, head.biases * 2))


def test_recorded_weights_need_the_model_folder(tmp_path):
    with pytest.raises(ConfigError, match="load it from its folder"):
        trained_backbone({"name": "efficientnet_lite0", "weights": "backbone.npz"})
    with pytest.raises(ConfigError, match="is not a fine-tuned weights file"):
        trained_backbone({"name": "efficientnet_lite0", "weights": "backbone.npz"}, folder=tmp_path)
    # a keras_file path in the configuration is not taken for fine-tuned weights of the recorded backbone
    assert trained_backbone({"name": "efficientnet_lite0"}, BackboneConfig(weights=str(tmp_path / "x.keras"))
                            ).version == load_backbone().version


@pytest.mark.slow
def test_train_cli_with_finetune_backbone_ships_the_weights_with_the_head(tmp_path, toy_doctype_tree, capsys):
    from tounum.cli import main

    config = tmp_path / "small.toml"
    config.write_text("[classify]\nsynthetic_text = 0\naugmented_views = 1\nholdout = 0.25\nepochs = 5\n"
                      "finetune_backbone_epochs = 1\nfinetune_backbone_learning_rate = 1e-3\n"
                      "finetune_backbone_decay = true\n"
                      'backbone = "efficientnet_lite0"\nbackbone_precision = "float32"\n')
    out = tmp_path / "model"
    assert main(["train", "classifier", str(toy_doctype_tree), "--out", str(out), "--finetune-backbone",
                 "--config", str(config)]) == 0
    capsys.readouterr()
    info = json.loads((out / "config.json").read_text())
    assert info["backbone"]["weights"] == "backbone.npz" and (out / "backbone.npz").is_file()
    assert "-tuned-" in info["backbone"]["version"] and info["config"]["finetune_backbone"] is True
    metrics = json.loads((out / "metrics.json").read_text())
    assert "--finetune-backbone" in metrics["command"]
    tuning = metrics["backbone_finetuning"]
    assert [row["epoch"] for row in tuning["history"]] == [0, 1] and tuning["kept_epoch"] in (0, 1)
    assert tuning["decay"] is True and "decayed to 0 along a cosine" in (out / "model_card.md").read_text()
    assert "held_out" in tuning["pretrained"]

    clf = load_classifier(out)
    tuned, pretrained = clf.backbone(), load_backbone(BackboneConfig(name="efficientnet_lite0"))
    assert tuned.version == info["backbone"]["version"] != pretrained.version
    images = [np.random.default_rng(7).integers(0, 255, (64, 64, 3), dtype=np.uint8)]
    if tuning["kept_epoch"] == 1:  # the tuned network computes other features than the pretrained one
        assert not np.allclose(tuned.features(images).pooled, pretrained.features(images).pooled, atol=1e-3)
    clf.save(tmp_path / "copy")  # the weights travel with the head
    assert (tmp_path / "copy" / "backbone.npz").read_bytes() == (out / "backbone.npz").read_bytes()
    assert main(["evaluate", "classifier", str(toy_doctype_tree / "dev"), "--model", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_images"] == 10
    dev_files = sorted(str(p) for p in (toy_doctype_tree / "dev").rglob("*.png"))
    assert main(["classify", *dev_files, "--model", str(out), "--json"]) == 0
    classified = {Path(row["path"]).resolve(): row["doc_type"] for row in json.loads(capsys.readouterr().out)}
    assert set(classified.values()) <= set(CLASSES)

    # the main job builds the same backbone from the model folder and classifies alike
    run_config = tmp_path / "run.toml"
    run_config.write_text(f'[classify]\nmodel_dir = "{out}"\n')
    assert main(["run", str(toy_doctype_tree / "dev"), "--out", str(tmp_path / "job"), "--config", str(run_config),
                 "--no-enhance", "--no-caption", "--no-progress"]) == 0
    rows = pd.read_csv(tmp_path / "job" / "results.csv", keep_default_na=False)
    assert set(rows["status"]) == {"ok"}
    assert {(toy_doctype_tree / "dev" / p).resolve(): t for p, t in zip(rows["path"], rows["doc_type"])} == classified



def test_the_views_seed_is_the_split_seed_unless_set_apart():
    from tounum.classify.finetune import finetune_seed
    from tounum.config import ClassifyConfig

    assert finetune_seed(ClassifyConfig(seed=3)) == 3
    assert finetune_seed(ClassifyConfig(seed=3, finetune_backbone_seed=0)) == 0
