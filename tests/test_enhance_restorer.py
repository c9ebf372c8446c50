import numpy as np
import pytest

from tounum.enhance.restorer import RestorerSpec, build_restorer, restore
from tounum.enhance.samples import scene


def test_tiled_inference_equals_one_pass():
    spec = RestorerSpec(width=8, depth=2, tile=256, overlap=16)
    model = build_restorer(spec)
    tail = model.get_layer("tail")  # zero-initialised: randomise it so that the net is no identity
    rng = np.random.default_rng(0)
    tail.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in tail.get_weights()])
    img = scene(71, 93, seed=1)  # bigger than one small tile in both directions, odd sizes
    whole = restore(img, model, spec=spec)
    tiled = restore(img, model, spec=RestorerSpec(width=8, depth=2, tile=32, overlap=16))
    assert whole.shape == img.shape and whole.dtype == np.uint8
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1  # float rounding only


def test_odd_sizes_and_grey_inputs_keep_their_shape():
    spec = RestorerSpec(width=4, depth=1, tile=32, overlap=8)
    model = build_restorer(spec)
    grey = scene(33, 47, seed=2, gray=True)
    out = restore(grey, model, spec=spec)
    assert out.shape == grey.shape and np.array_equal(out[..., 0], out[..., 1])
    assert restore(grey[..., 0], model, spec=spec).shape == (33, 47)


def test_shipped_restorer_denoises_blind():
    from tounum.enhance.degrade import add_gaussian_noise
    from tounum.enhance.score import psnr

    clean = scene(96, 128, seed=3)
    for sigma in (15, 40):  # never told the level
        noisy = add_gaussian_noise(clean, sigma, seed=4)
        assert psnr(clean, restore(noisy)) > psnr(clean, noisy) + 3


def test_bfloat16_restorer_stays_within_a_level_of_float32():
    import pytest

    from tounum.enhance.restorer import resolve_precision

    spec32 = RestorerSpec(width=8, depth=2, tile=64, overlap=16)
    spec16 = RestorerSpec(width=8, depth=2, tile=64, overlap=16, precision="bfloat16")
    model32, model16 = build_restorer(spec32), build_restorer(spec16)
    rng = np.random.default_rng(5)
    weights = [rng.normal(0, 0.1, w.shape).astype("float32") for w in model32.get_weights()]
    model32.set_weights(weights)
    model16.set_weights(weights)
    assert model16.get_layer("body_0").compute_dtype == "bfloat16"
    img = scene(70, 90, seed=6)
    out32, out16 = restore(img, model32, spec=spec32), restore(img, model16, spec=spec16)
    assert not np.array_equal(out32, img)  # the net does something
    assert np.abs(out32.astype(int) - out16.astype(int)).mean() < 1.0
    assert resolve_precision("float32") == "float32"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("float8")


def test_self_ensemble_undoes_its_flips():
    import pytest

    model = build_restorer(RestorerSpec(width=4, depth=1))
    tail = model.get_layer("tail")  # a zero correction: the net is the identity
    tail.set_weights([np.zeros_like(w) for w in tail.get_weights()])
    img = scene(37, 52, seed=7)  # not symmetric: a flip left undone would show
    assert np.array_equal(restore(img, model, ensemble=8), img)
    with pytest.raises(ValueError, match="ensemble"):
        restore(img, model, ensemble=3)


def test_weights_of_any_size_load_with_their_own_architecture(tmp_path):
    import keras

    from tounum.config import EnhanceConfig
    from tounum.enhance.policy import enhance
    from tounum.enhance.restorer import spec_of

    model = build_restorer(RestorerSpec(width=8, depth=16))
    weights = tmp_path / "big.weights.h5"
    model.save_weights(weights)
    spec = spec_of(str(weights))
    assert (spec.width, spec.depth) == (8, 16)
    assert spec.overlap == 18  # context covers the receptive field's radius (18 layers of 3x3)
    img = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    out = enhance(img, EnhanceConfig(method="restorer", restorer_weights=str(weights),
                                     restorer_precision="float32"))
    expected = restore(img, model, spec=spec)
    np.testing.assert_array_equal(out.pixels, expected)
    other = tmp_path / "other.weights.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(other)
    with pytest.raises(ValueError, match="other.weights.h5"):
        spec_of(str(other))
