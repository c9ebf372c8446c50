"""The one place for configuration: plain dataclasses with defaults, read and written as TOML.

Each stage takes its own section (``Config().enhance``, ``Config().caption``...), so a library
caller can build just the part it needs, and ``tounum run --config FILE`` overrides any field.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w


def cache_dir() -> Path:
    """Folder for converted weights and feature caches (``$TOUNUM_CACHE`` or ``~/.cache/tounum``)."""
    root = os.environ.get("TOUNUM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tounum"
    )
    return Path(root)


@dataclass
class IOConfig:
    max_pixels: int = 200_000_000  # decompression-bomb guard
    jpeg_quality: int = 92  # quality of enhanced JPEG copies


@dataclass
class BackboneConfig:
    name: str = "efficientnet_lite0"  # "efficientnet_lite2", or "keras_file" with `weights` naming a Keras model file
    weights: str = ""  # the "keras_file" model; for efficientnet_lite*, fine-tuned weights (else ImageNet's)
    batch_size: int = 32
    resize: str = "pad"  # "pad"/"crop" keep the aspect ratio; "squash" as squashed training photos
    feature_cache: str = ""  # folder for the float16 feature cache; empty: no cache
    keras_file_scaling: str = "tf"  # "keras_file" input: "tf" x/127.5-1, "torch" mean/std, "none"
    precision: str = "float32"  # or "bfloat16": ~2x faster on AMX CPUs, features differ ~1%


# What ``EnhanceConfig.method`` may be: the automatic policy, the client's prototype and its two
# filters, one classical operation, the learned restorer, or nothing.
ENHANCE_METHODS = ("auto", "client", "client_nlm", "client_laplacian", "nlm", "bilateral",
                   "wavelet", "unsharp", "wiener", "richardson_lucy", "restorer", "none")


@dataclass
class EnhanceConfig:
    method: str = "auto"  # one of ENHANCE_METHODS
    # auto: a printed halftone screen (tounum.enhance.descreen) is removed instead of being
    # denoised and sharpened as noise. Stricter than the classifier's 30: the copy a shop keeps is
    # changed only for unmistakable screens (fine lattices in photos read 35-300, most below 100;
    # benchmarks/enhance_descreen.py)
    descreen: bool = True
    descreen_min_strength: float = 100.0
    # "learned": the restorer's network trained on halftones (tounum/models/descreener; closer
    # to the picture than the low-pass: benchmarks/enhance_descreen.py); "gaussian": a Gaussian
    # low-pass of descreen_blur screen periods
    descreener: str = "learned"
    descreener_weights: str = ""  # empty: the weights shipped in tounum/models/descreener
    descreen_blur: float = 0.8
    noise_floor: float = 5.0  # auto: below this estimated sigma (0..255) an image is not denoised
    # auto: below this spectral blur estimate (pixels) an image is not deblurred (sharp photos,
    # drawings and pages read 0.2-0.8: train, CBSD68, doctype dev)
    blur_floor: float = 0.85
    denoiser: str = "auto"  # auto: bilateral (colour) / nlm (grey); or nlm, bilateral, wavelet, restorer
    # auto: colour images at least this noisy go to the learned restorer (Flickr8k dev: +1.4 /
    # +1.7 / +1.9 dB over the bilateral filter at sigma 10 / 15 / 25, a tie at 5, 1.4-1.6x
    # the CPU time); 1000 or more: never.
    learned_min_noise: float = 10.0
    deblurrer: str = "wiener"  # auto: wiener, richardson_lucy, unsharp or restorer
    # auto: deblur only images whose noise is below this (the spectral blur fit reads a strong
    # noise floor as blur: a sharp train image at noise 5 read 1.6 px)
    deblur_max_noise: float = 4.0
    deblur_noise_floor: float = 2.0  # auto: Wiener assumes at least this noise (8-bit, JPEG)
    # auto: Wiener's noise-to-signal factor at blur 1.5, times (1.5 / blur)^3 (tuned on train)
    deblur_regularisation: float = 0.1
    deblur_max_gain: float = 5.0  # auto: cap on Wiener's gain at any frequency (0: none)
    deblock_min_blockiness: float = 1.3  # auto: JPEG blocking above this is smoothed
    deblock_sigma: float = 4.0  # auto: bilateral strength for deblocking (tuned on train)
    restorer_weights: str = ""  # empty: the weights shipped in tounum/models/restorer
    restorer_tile: int = 512  # restorer inference tile (pixels); memory grows with its square
    # auto: bfloat16 convolutions where the CPU has them natively (AMX, AVX512-BF16), else float32
    restorer_precision: str = "auto"
    restorer_ensemble: int = 1  # 1, 2, 4 or 8 flipped/transposed passes averaged (x slower)


@dataclass
class ClassifyConfig:
    model_dir: str = ""  # empty: the model shipped in the package
    # training (tounum train classifier): features, then a head on the pooled features
    # the backbone the head is trained on (BackboneConfig.name and .precision), recorded with it: Lite2
    # (260x260) separates photo from painting better than Lite0 and, in bfloat16, is as fast on AMX
    # CPUs as Lite0 in float32 (benchmarks/README.md, classify); efficientnet_lite0 until 30 Nov 2026
    backbone: str = "efficientnet_lite2"
    backbone_precision: str = "bfloat16"
    augmented_views: int = 5  # "as scanned" views per train image, besides the clean one (3 until 30 Nov 2026)
    grey_views: float = 0.3  # chance that a view is greyscale
    halftone_views: float = 0.25  # chance that a view is halftone-screened
    aged_views: float = 0.15  # chance that a view is an old print (sepia, faded, grainy; 0 until 30 Nov 2026)
    synthetic_text: int = 300  # rendered book/letter pages added to the text class of train
    extra_photos: str = ""  # folder of more photographs (any subject) for the photo class of train
    extra_photos_max: int = 1300  # a seeded sample of at most this many of them
    holdout: float = 0.15  # share of train held out for early stopping and temperature
    # weight each class equally in the heads' loss: the extra photos widen what the photo class
    # covers, they should not make "photo" the answer to every doubt (dev and the client's data
    # are not photo-heavy)
    balanced: bool = True
    seed: int = 0
    hidden: int = 0  # 0: dropout + one dense layer; >0: a ReLU layer of this width first
    dropout: float = 0.3
    weight_decay: float = 1e-4  # L2 factor on the dense kernels
    learning_rate: float = 1e-3
    epochs: int = 150
    batch_size: int = 64
    patience: int = 10  # early stopping on held-out loss; 0: train all epochs
    min_photo_recall: float = 0.99  # the is_photo threshold keeps at least this recall on dev
    # halftone screens low-passed before the backbone (tounum.enhance.descreen) in every image as
    # read, not in the augmented views; stored with the model, which applies them at training,
    # evaluation, `tounum classify` and in the pipeline alike
    descreen: bool = True
    descreen_min_strength: float = 30.0  # screen peak over its ring's median (4 of 2789 clean train images)
    descreen_blur: float = 0.8  # Gaussian sigma in screen periods (benchmarks/classify_descreen.py)
    # fine-tuning the backbone's top (block15 + head conv) with the head, on cached block14 outputs
    finetune_top: bool = False  # train that instead of the linear heads on fixed features
    finetune_learning_rate: float = 1e-4  # small: the top layers start from the pretrained weights
    finetune_epochs: int = 30
    finetune_patience: int = 3  # early stopping on held-out loss, best weights kept
    # fine-tuning the whole backbone (tounum.classify.finetune; CPU: 2-3 minutes an epoch): the head
    # fitted on the pretrained features starts it, every layer trains with it on a fresh scan view of
    # each image per epoch, then the head is fitted again on the tuned network's features; the tuned
    # weights are saved in the model folder (benchmarks/classify_finetune_backbone.py)
    finetune_backbone: bool = False
    finetune_backbone_learning_rate: float = 1e-5
    # the learning rate falls to 0 along a cosine over the epochs, so the last steps are small and
    # the kept epoch's weights less a matter of where the last step landed
    finetune_backbone_decay: bool = False
    finetune_backbone_epochs: int = 6
    finetune_backbone_patience: int = 4  # epochs without a lower held-out NLL before stopping
    finetune_backbone_batch: int = 32
    # seed of its views, their order and dropout; -1: classify.seed, which also draws the
    # held-out split, so that runs with other views keep the held-out part they are compared on
    finetune_backbone_seed: int = -1


@dataclass
class CaptionConfig:
    model_dir: str = ""  # empty: the model shipped in the package
    beam: int = 0  # beam width; 1 = greedy; 0: the model's own decoding setting
    max_length: int = 30  # words at most in a caption
    alpha: float = -1.0  # beam length normalisation: log p / length ** alpha; negative: the model's
    batch_size: int = 32  # images decoded together


@dataclass
class RunConfig:
    workers: int = 0  # processes for reading and enhancing; 0: one per core; 1: no pool
    batch_size: int = 8  # files per batch: the unit of model inference, memory and resume
    prefetch: int = 3  # batches read and cleaned ahead of the models (memory grows with it)
    enhance: bool = True  # clean the images and write enhanced copies
    classify: bool = True  # backbone features + document type (caption needs it)
    caption: bool = True  # caption the photos
    name_by: str = ""  # "caption": name photo copies after their caption; empty: input names
    engine: str = "local"  # "local" or "dask"
    scheduler: str = ""  # dask scheduler address; empty: a local cluster
    report_thumbnails: int = 24  # before/after pairs and captioned photos shown in report.html


@dataclass
class Config:
    io: IOConfig = field(default_factory=IOConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    enhance: EnhanceConfig = field(default_factory=EnhanceConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    caption: CaptionConfig = field(default_factory=CaptionConfig)
    run: RunConfig = field(default_factory=RunConfig)


class ConfigError(ValueError):
    """A configuration file or value that cannot be used."""


def _merge(obj: Any, values: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a table, got {type(value).__name__}")
            _merge(current, value, f"{where}.{key}")
        else:
            expected = type(current)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(
                    f"{where}.{key}: expected {expected.__name__}, got {type(value).__name__} {value!r}"
                )
            setattr(obj, key, value)
    return obj


def from_dict(values: dict[str, Any]) -> Config:
    """Defaults overridden by ``values`` (nested tables by section); unknown keys are errors."""
    return _merge(Config(), values, "config")


def load(path: str | os.PathLike[str]) -> Config:
    """Read a TOML configuration file; every missing key keeps its default.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.toml"
    >>> _ = p.write_text("[caption]\\nbeam = 5\\n")
    >>> load(p).caption.beam
    5
    """
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return _merge(Config(), values, str(path))


def to_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config)


def dumps(config: Config) -> str:
    """The configuration as TOML text, every key written (what ``--print-config`` shows)."""
    return tomli_w.dumps(to_dict(config))
