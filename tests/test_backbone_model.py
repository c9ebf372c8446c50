"""Keras EfficientNet-Lite0 and -Lite2 vs logits from the original PyTorch models; weight conversion cache."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tounum.backbone import torch_weights, weights
from tounum.backbone.efficientnet_lite import efficientnet_lite
from tounum.backbone.samples import reference_inputs

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("backbone_weights")


@pytest.fixture(scope="module")
def model(folder):
    return weights.load_efficientnet_lite(folder)


def check_reference(model, reference: Path, size: int) -> None:
    """``model``'s logits of the reference inputs equal those torch computed (benchmarks/backbone_reference.py)."""
    ref = np.load(reference)
    names, images = reference_inputs(size)
    assert list(ref["names"]) == names
    # the inputs are rebuilt here (scikit-image photos, Pillow resize): they must be the same bytes
    assert hashlib.sha256(images.tobytes()).hexdigest() == str(ref["inputs_sha256"])
    logits, pooled, grid = model.predict_on_batch(images.astype(np.float32))
    assert np.abs(logits - ref["logits"]).max() < 1e-4
    side = -(-size // 32)
    assert pooled.shape == (5, 1280) and grid.shape == (5, side, side, 1280)
    np.testing.assert_allclose(grid.mean(axis=(1, 2)), pooled, atol=1e-5)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["folded", "batch_norm"])
def test_logits_match_the_pytorch_reference(folder, model, batch_norm):
    if batch_norm:
        model = weights.load_efficientnet_lite(folder, batch_norm=True)
    check_reference(model, DATA / "backbone_reference.npz", 224)


def test_lite2_logits_match_the_pytorch_reference(folder):
    model = weights.load_efficientnet_lite(folder, variant="efficientnet_lite2")
    assert model.name == "efficientnet_lite2" and model.inputs[0].shape[1] == 260
    assert sum(layer.name.endswith("_project_conv") for layer in model.layers) == 21
    check_reference(model, DATA / "backbone_reference_efficientnet_lite2.npz", 260)


def test_layers_are_named_by_role(model):
    names = {layer.name for layer in model.layers}
    assert {"input_scaling", "stem_conv", "block0_depthwise_conv", "block1_expand_conv",
            "block15_project_conv", "head_relu6", "pool", "logits"} <= names
    assert "block0_expand_conv" not in names  # expand ratio 1: no expansion
    assert not any(name.endswith("_bn") for name in names)  # folded into the convolutions
    assert sum(name.endswith("_add") for name in names) == 16 - 7  # skips where shapes allow
    literal = efficientnet_lite(batch_norm=True)
    assert sum(layer.name.endswith("_bn") for layer in literal.layers) == 1 + 16 * 3 - 1 + 1


def test_second_load_reads_the_converted_file(folder, model, monkeypatch):
    assert weights.converted_weights_path(folder).is_file()

    def refuse(path):
        raise AssertionError("converted again instead of loading the cache")

    monkeypatch.setattr(torch_weights, "load_state_dict", refuse)
    again = weights.load_efficientnet_lite(folder)
    for a, b in zip(model.weights, again.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_stale_conversion_is_redone(tmp_path):
    target = weights.converted_weights_path(tmp_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"garbage from an older converter")
    sidecar = target.with_suffix("").with_suffix(".json")
    sidecar.write_text(json.dumps({"source_sha256": "0" * 64, "converter_version": 0}))
    model = weights.load_efficientnet_lite(tmp_path)
    assert json.loads(sidecar.read_text())["source_sha256"] == weights.SOURCE_SHA256["efficientnet_lite0"]
    assert model.get_layer("logits").weights[0].numpy().std() > 0.01


def test_unexpected_source_file_is_refused(tmp_path, monkeypatch):
    other = tmp_path / "other.pth"
    other.write_bytes(b"some other weights")
    monkeypatch.setattr(weights, "source_weights_path", lambda variant="efficientnet_lite0": other)
    with pytest.raises(ValueError, match="sha256"):
        weights.load_efficientnet_lite(tmp_path / "cache")
