"""Training of the document-type classifier: features, head comparison, calibration, threshold.

    tree ─scan─▶ images ─backbone (clean + K scan views, cached)─▶ pooled vector + style statistics
         ─fit──▶ Keras head  vs  logistic regression  (held-out part of train decides)
    or, with ``finetune_top``: the block-14 activation + style statistics
         ─fit──▶ logistic regression (pretrained top)  vs  top layers fine-tuned from it (topblocks)
    then, with ``finetune_backbone``: the whole backbone trained with the kept head (finetune), its
         weights saved, and the features and heads again on the tuned network
         ─calibrate─▶ temperature (held-out part of train)  ─threshold─▶ is_photo (dev)
         ─save──▶ head.npz, config.json, metrics.json, model_card.md (and backbone.npz)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tounum.classify import metrics
from tounum.classify.calibrate import calibrated_probs, fit_temperature, nll, photo_threshold
from tounum.classify.classifier import PHOTO, TUNED_WEIGHTS, Classifier
from tounum.classify.data import CLASSES, IMAGE_SUFFIXES, holdout_split, read_images, scan_tree
from tounum.classify.features import pooled_views, scan_chances
from tounum.classify.model import LinearStack, export_head, train_head, train_logistic
from tounum.classify.topblocks import FINETUNE_BACKBONE, TopStack, build_top_model, export_top, top_convs, train_top
from tounum.config import ClassifyConfig, ConfigError, cache_dir

log = logging.getLogger(__name__)

LOGISTIC_C = (0.001, 0.003, 0.01, 0.03)  # inverse L2 strengths tried for the logistic regression


@dataclass
class Split:
    """Descriptors of one split: ``pooled`` (V, N, D), labels ``y`` (N,), file ``paths``."""

    pooled: np.ndarray
    y: np.ndarray
    paths: list[str]

    @property
    def clean(self) -> np.ndarray:
        return self.pooled[0]


@dataclass
class FeatureData:
    """What a training run needs: train (with views), its held-out mask, and dev (clean) if any.

    ``inputs`` names what each descriptor holds (:func:`tounum.classify.features.descriptor`);
    ``top_shape`` is the shape of the "top" activation when it is one of them; ``descreen`` the
    descreening settings each image as read went through before the backbone (None: none).
    """

    train: Split
    held: np.ndarray
    dev: Split | None
    inputs: tuple[str, ...] = ("pooled",)
    top_shape: tuple[int, ...] = ()
    descreen: dict[str, float] | None = None

    def rows(self, part: str, views: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows and labels of ``part`` ("fit" or "held"), all views or only the clean one."""
        mask = ~self.held if part == "fit" else self.held
        pooled = self.train.pooled if views else self.train.pooled[:1]
        x = pooled[:, mask].reshape(-1, pooled.shape[-1])
        return x, np.tile(self.train.y[mask], pooled.shape[0])


def photo_files(folder: str | Path) -> list[str]:
    """Every image file under ``folder`` (any depth), sorted."""
    return sorted(str(p) for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def sample_photos(folder: str | Path, n: int, seed: int = 0) -> list[str]:
    """The seeded sample of at most ``n`` of :func:`photo_files` that training adds to the photo class.

    Example
    -------
    >>> sample_photos("../shared/data/captions/flickr8k/images", 1300)[:1]  # doctest: +SKIP
    ['.../flickr8k/images/1000268201_693b08cb0e.jpg']
    """
    photos = photo_files(folder)
    if not photos:
        raise ValueError(f"{folder}: no images for extra_photos")
    return sorted(np.random.default_rng(seed).choice(photos, min(len(photos), n), replace=False))


def split_dirs(data_dir: str | Path) -> tuple[Path, Path | None]:
    """``DATA/train`` and ``DATA/dev`` when they exist, else ``DATA`` itself as train and no dev."""
    data_dir = Path(data_dir)
    if (data_dir / "train").is_dir():
        return data_dir / "train", (data_dir / "dev") if (data_dir / "dev").is_dir() else None
    return data_dir, None


def training_backbone(config: ClassifyConfig):
    """The backbone ``config`` trains the classifier on (``backbone``, ``backbone_precision``)."""
    from tounum.backbone import trained_backbone

    return trained_backbone({"name": config.backbone, "precision": config.backbone_precision})


def extract(data_dir: str | Path, config: ClassifyConfig | None = None, backbone=None,
            cache: str | Path | None = None, inputs: tuple[str, ...] = ("pooled", "style")) -> FeatureData:
    """Scan ``data_dir``, compute (or read from the cache) the descriptors of train and dev.

    Parameters
    ----------
    data_dir : folder with ``train/`` (and ``dev/``) class trees, or a class tree itself
    config : ClassifyConfig
    backbone : tounum.backbone.Backbone, optional (default: :func:`training_backbone` of ``config``)
    cache : cache root, default ``cache_dir()/classify``
    inputs : what a descriptor holds: the pooled vector and, by default, the style statistics
        (dropped when the backbone has no style layers); ``("pooled",)`` for the pooled vector only;
        ``("top", "style")`` for fine-tuning the top layers (:func:`fit_top`)

    Returns
    -------
    FeatureData
    """
    config = config or ClassifyConfig()
    backbone = backbone or training_backbone(config)
    cache = Path(cache) if cache else cache_dir() / "classify"
    descreen = {"min_strength": config.descreen_min_strength, "blur": config.descreen_blur} \
        if config.descreen else None
    scan = scan_chances(config)
    if not getattr(backbone, "style_size", 0):
        inputs = tuple(name for name in inputs if name != "style")
    train_dir, dev_dir = split_dirs(data_dir)

    def split(folder: Path, views: int) -> Split:
        table = scan_tree(folder).labelled
        if table.empty:
            raise ValueError(f"{folder}: no images in class folders ({', '.join(CLASSES)})")
        feats = pooled_views(table["path"], backbone, n_augmented=views, seed=config.seed, cache=cache,
                             inputs=inputs, descreen=descreen, scan=scan)
        ok = feats.ok
        y = np.array([CLASSES.index(c) for c in table["label"]])
        return Split(feats.pooled[:, ok], y[ok], [p for p, k in zip(table["path"], ok) if k])

    train = split(train_dir, config.augmented_views)
    extra: dict[str, list[str]] = {}
    if config.synthetic_text:  # rendered pages widen "text" beyond receipts and forms
        from tounum.classify.synthetic import write_text_pages

        extra["text"] = write_text_pages(cache / "synthetic_text", config.synthetic_text, config.seed)
    if config.extra_photos:  # photos of other subjects break the sources' content cues (dogs = painting)
        extra["photo"] = sample_photos(config.extra_photos, config.extra_photos_max, config.seed)
    for cls, paths in extra.items():
        feats = pooled_views(paths, backbone, n_augmented=config.augmented_views, seed=config.seed, cache=cache,
                             inputs=inputs, descreen=descreen, scan=scan)
        train = Split(np.concatenate([train.pooled, feats.pooled[:, feats.ok]], axis=1),
                      np.r_[train.y, np.full(int(feats.ok.sum()), CLASSES.index(cls))],
                      train.paths + [p for p, k in zip(paths, feats.ok) if k])
    dev = split(dev_dir, 0) if dev_dir else None
    held = holdout_split([CLASSES[i] for i in train.y], config.holdout, config.seed)
    top_shape = tuple(getattr(backbone, "top_shape", ())) if "top" in inputs else ()
    return FeatureData(train, held, dev, inputs, top_shape, descreen)


def train_files(data_dir: str | Path, config: ClassifyConfig | None = None, backbone=None,
                ) -> tuple[list[str], list[str], np.ndarray]:
    """The training images as :func:`extract` reads and splits them: paths, labels, held-out mask.

    From the (cached) features, which say which images could be read; ``config`` must be the
    training run's (its ``extra_photos``, ``synthetic_text``, ``holdout`` and ``seed`` set the split).

    Example
    -------
    >>> paths, labels, held = train_files("../shared/data/doctype", clf.training_config())  # doctest: +SKIP
    """
    data = extract(data_dir, config, backbone)
    return data.train.paths, [CLASSES[i] for i in data.train.y], data.held


def _scores(head: LinearStack | TopStack, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    logits = head.logits(x)
    pred = logits.argmax(axis=1)
    return {"accuracy": float(np.mean(pred == y)), "nll": nll(logits, y),
            "macro_f1": metrics.five_class([CLASSES[i] for i in y], [CLASSES[i] for i in pred])["macro_f1"]}


def fit_keras_head(data: FeatureData, config: ClassifyConfig, augment: bool = True,
                   ) -> tuple[LinearStack, dict[str, list[float]], Any]:
    """Train the Keras head (all views, or only clean ones when ``augment`` is False)."""
    x, y = data.rows("fit", views=augment)
    xv, yv = data.rows("held", views=augment)
    model, history = train_head(x, y, xv, yv, config)
    return export_head(model), history, model


def fit_logistic(data: FeatureData, config: ClassifyConfig) -> tuple[LinearStack, float]:
    """Logistic regression, its L2 strength chosen on the held-out part of train (macro-F1, then NLL)."""
    x, y = data.rows("fit")
    xv, yv = data.rows("held")
    best = None
    for c in LOGISTIC_C:
        head = train_logistic(x, y, c, config.seed, config.balanced)
        s = _scores(head, xv, yv)
        log.info("logistic C=%g: held-out accuracy %.4f macro-F1 %.4f nll %.4f", c, s["accuracy"], s["macro_f1"],
                 s["nll"])
        if best is None or (s["macro_f1"], -s["nll"]) > (best[2]["macro_f1"], -best[2]["nll"]):
            best = (head, c, s)
    return best[0], best[1]


def linear_top(data: FeatureData, config: ClassifyConfig, backbone_model=None) -> tuple[TopStack, float]:
    """The logistic regression on the pretrained top's pooled vector and the style statistics.

    The backbone's own top layers turn each cached ``top`` activation back into its pooled vector,
    and :func:`fit_logistic` fits the head on ``[pooled, style]``: the linear head, as a
    :class:`TopStack` that reads ``[top, style]`` descriptors.

    Returns
    -------
    (TopStack with the backbone's top layers, the logistic C chosen on the held-out part)
    """
    if backbone_model is None:
        from tounum.backbone.weights import load_efficientnet_lite

        backbone_model = load_efficientnet_lite(variant=FINETUNE_BACKBONE)
    pretrained = TopStack(data.top_shape, top_convs(backbone_model))
    pooled = np.stack([pretrained.descriptor(view) for view in data.train.pooled])
    dev = Split(pretrained.descriptor(data.dev.clean)[None], data.dev.y, data.dev.paths) if data.dev else None
    head, c = fit_logistic(FeatureData(Split(pooled, data.train.y, data.train.paths), data.held, dev), config)
    return dataclasses.replace(pretrained, head=head), c


def finetune_top(data: FeatureData, start: TopStack, config: ClassifyConfig,
                 ) -> tuple[TopStack, dict[str, list[float]]]:
    """The top layers and the head fine-tuned together from ``start`` (:func:`linear_top`) on all views."""
    n_style = data.train.pooled.shape[-1] - int(np.prod(data.top_shape))
    x, y = data.rows("fit")
    xv, yv = data.rows("held")
    model, history = train_top(x, y, xv, yv, build_top_model(start, n_style, config), data.top_shape, config)
    return export_top(model, data.top_shape), history


def fit_top(data: FeatureData, config: ClassifyConfig, backbone_model=None,
            ) -> tuple[dict[str, TopStack], dict[str, list[float]], float]:
    """The linear head on the pretrained top, then the top layers fine-tuned from it, on ``[top, style]``.

    Returns
    -------
    ({"logistic_regression": ..., "finetuned_top": ...}, fine-tuning history, the logistic C); both
    candidates read the same ``[top, style]`` descriptors.
    """
    linear, c = linear_top(data, config, backbone_model)
    tuned, history = finetune_top(data, linear, config)
    return {"logistic_regression": linear, "finetuned_top": tuned}, history, c


def fit(data: FeatureData, config: ClassifyConfig | None = None, backbone_info: dict | None = None,
        ) -> tuple[Classifier, dict[str, Any]]:
    """Compare the heads, calibrate the better one and choose the photo threshold.

    With ``config.finetune_top`` (and ``data`` holding ``["top", "style"]``) the candidates are
    those of :func:`fit_top` instead of the Keras head and the logistic regression.

    Returns
    -------
    (classifier, metrics) where metrics holds the comparison, temperature, ECE, threshold, the
    Keras head's (or the fine-tuning's) training history and the dev report.
    """
    config = config or ClassifyConfig()
    t0 = time.perf_counter()
    candidates: dict[str, LinearStack | TopStack]
    if config.finetune_top:
        candidates, history, c = fit_top(data, config)
    else:
        keras_head, history, _ = fit_keras_head(data, config)
        logistic_head, c = fit_logistic(data, config)
        candidates = {"keras_head": keras_head, "logistic_regression": logistic_head}
    xv, yv = data.rows("held")
    xf, yf = data.rows("fit")
    comparison = {}
    for name, head in candidates.items():
        comparison[name] = {"train": _scores(head, xf, yf), "held_out": _scores(head, xv, yv)}
        if data.dev is not None:
            comparison[name]["dev"] = _scores(head, data.dev.clean, data.dev.y)
    kind = max(candidates, key=lambda k: (comparison[k]["held_out"]["macro_f1"], -comparison[k]["held_out"]["nll"]))
    head = candidates[kind]
    log.info("kept %s (held-out macro-F1 %.4f)", kind, comparison[kind]["held_out"]["macro_f1"])

    temperature, threshold = decisions(head, data, config)
    info = {"kind": kind, "logistic_c": c if kind != "keras_head" else None,
            "backbone": backbone_info or {}, "inputs": list(data.inputs), "descreen": data.descreen,
            "config": dataclasses.asdict(config)}
    clf = Classifier(head, temperature, threshold, info)

    result: dict[str, Any] = {
        "kept": kind, "comparison": comparison, "temperature": temperature, "photo_threshold": threshold,
        "min_photo_recall": config.min_photo_recall, "balanced": config.balanced,
        "backbone": backbone_info or {}, "inputs": list(data.inputs),
        "descreen": data.descreen,
        "threshold_chosen_on": "dev" if data.dev is not None else "train hold-out",
        "n_train_images": int((~data.held).sum()), "n_holdout_images": int(data.held.sum()),
        "views_per_image": int(data.train.pooled.shape[0]), "n_features": int(data.train.pooled.shape[-1]),
        "view_chances": {"grey": config.grey_views, "aged": config.aged_views, "halftone": config.halftone_views},
        "history": history,
        "fit_seconds": round(time.perf_counter() - t0, 1),
        "held_out": calibration(clf, xv, yv),
    }
    if data.dev is not None:
        result["dev"] = evaluate_features(clf, data.dev.clean, [CLASSES[i] for i in data.dev.y])
        result["dev_calibration"] = calibration(clf, data.dev.clean, data.dev.y)
        # the same head deciding photo by its most probable class instead (no recall constraint)
        argmax = clf.logits(data.dev.clean).argmax(axis=1) == PHOTO
        result["dev_photo_vs_rest_argmax"] = metrics.binary(data.dev.y == PHOTO, argmax)
    return clf, result


def decisions(head: LinearStack | TopStack, data: FeatureData, config: ClassifyConfig) -> tuple[float, float]:
    """Temperature (fitted on the held-out part of train) and the recall-first photo threshold.

    The threshold is chosen on dev (clean images) as the brief says; without dev, on the held-out part.
    """
    xv, yv = data.rows("held")
    temperature = fit_temperature(head.logits(xv), yv)
    xt, yt = (data.dev.clean, data.dev.y) if data.dev is not None else data.rows("held", views=False)
    threshold = photo_threshold(calibrated_probs(head.logits(xt), temperature)[:, PHOTO], yt == PHOTO,
                                config.min_photo_recall)
    return temperature, threshold


def calibration(clf: Classifier, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """NLL and ECE before (T = 1) and after temperature scaling."""
    logits = clf.logits(x)
    return {"nll_before": nll(logits, y), "nll_after": nll(logits, y, clf.temperature),
            "ece_before": metrics.expected_calibration_error(calibrated_probs(logits, 1.0), y),
            "ece_after": metrics.expected_calibration_error(calibrated_probs(logits, clf.temperature), y)}


def evaluate_features(clf: Classifier, x: np.ndarray, labels: list[str | None]) -> dict[str, Any]:
    """The evaluation report of ``clf`` on descriptors with their folder labels (None: not a class)."""
    pred = clf.predict(x)
    return metrics.report(labels, pred.doc_type, pred.is_photo)


def train_classifier(data_dir: str | Path, out_dir: str | Path, config: ClassifyConfig | None = None,
                     command: str = "") -> dict[str, Any]:
    """Train from a class tree and write the model folder (weights, config, metrics, model card)."""
    config = config or ClassifyConfig()
    if config.finetune_top and config.backbone != FINETUNE_BACKBONE:
        raise ConfigError(f"classify.finetune_top is written for backbone {FINETUNE_BACKBONE!r}, not "
                          f"{config.backbone!r}: set classify.backbone = {FINETUNE_BACKBONE!r} with it")
    if config.finetune_top and config.finetune_backbone:
        raise ConfigError("classify.finetune_top and classify.finetune_backbone exclude each other")
    backbone = training_backbone(config)
    t0 = time.perf_counter()
    inputs = ("top", "style") if config.finetune_top else ("pooled", "style")
    data = extract(data_dir, config, backbone, inputs=inputs)
    t1 = time.perf_counter()
    clf, result = fit(data, config, backbone.record)
    if config.finetune_backbone:
        backbone, finetuning = tune_backbone(data, clf, backbone, config, Path(out_dir))
        finetuning["pretrained"] = {part: result["comparison"][result["kept"]][part]  # the head it started from
                                    for part in ("held_out", "dev") if part in result["comparison"][result["kept"]]}
        data = extract(data_dir, config, backbone, inputs=inputs)
        clf, result = fit(data, config, {**backbone.record, "weights": TUNED_WEIGHTS})
        result["backbone_finetuning"] = finetuning
        t1 = time.perf_counter()  # feature time: that of the tuned network
    result["feature_seconds"] = round(t1 - t0, 1)
    result["data"] = {"train_dir": str(split_dirs(data_dir)[0]), "dev_dir": str(split_dirs(data_dir)[1]),
                      "train_counts": {c: int(n) for c, n in pd.Series([CLASSES[i] for i in data.train.y]).value_counts().items()},
                      "dev_counts": {c: int(n) for c, n in pd.Series([CLASSES[i] for i in data.dev.y]).value_counts().items()}
                      if data.dev is not None else {}, "synthetic_text_pages": config.synthetic_text,
                      "extra_photos": config.extra_photos, "extra_photos_max": config.extra_photos_max}
    result["command"] = command
    clf.save(out_dir)
    out_dir = Path(out_dir)
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=1, default=int) + "\n")
    return result


def tune_backbone(data: FeatureData, clf: Classifier, backbone, config: ClassifyConfig, out_dir: Path,
                  ) -> tuple[Any, dict[str, Any]]:
    """Fine-tune ``backbone`` with ``clf``'s head (:mod:`tounum.classify.finetune`), save its weights
    as ``out_dir / TUNED_WEIGHTS`` and return the backbone with them, and what the run measured.

    ``data`` and ``clf`` are the training run's on the pretrained features: the same images,
    labels and held-out part, and the head the network starts from.
    """
    from tounum.backbone import trained_backbone
    from tounum.backbone.weights import save_tuned_weights
    from tounum.classify.finetune import finetune_backbone, finetune_seed

    images, _, errors = read_images(data.train.paths)
    if errors:  # read once already, by the feature extraction
        raise ValueError(f"training images unreadable since their features were computed: {errors}")
    t0 = time.perf_counter()
    network, history = finetune_backbone(images, data.train.y, data.held, clf.head, backbone, config, clf.descreen)
    digest = save_tuned_weights(network, out_dir / TUNED_WEIGHTS)
    best = min(history, key=lambda row: row["held_nll"])
    return trained_backbone({**backbone.record, "weights": TUNED_WEIGHTS}, folder=out_dir), {
        "learning_rate": config.finetune_backbone_learning_rate, "decay": config.finetune_backbone_decay,
        "seed": finetune_seed(config),
        "kept_epoch": best["epoch"], "history": history, "seconds": round(time.perf_counter() - t0),
        "weights_sha256": digest}


def regularisation_study(data: FeatureData, config: ClassifyConfig | None = None) -> pd.DataFrame:
    """Train the Keras head with each regulariser removed in turn and measure the effect.

    Settings: all on; no dropout; no weight decay; no early stopping (all epochs); no augmentation
    (clean views only); none of them. On a one-hidden-layer head the effect is larger, so pass
    ``config.hidden`` to study it too.

    Returns
    -------
    DataFrame, one row per setting: ``train_accuracy``, ``holdout_accuracy``, ``holdout_nll``,
    ``gap`` (train minus held-out accuracy), ``dev_accuracy``, ``dev_macro_f1``, ``epochs``.
    """
    base = config or ClassifyConfig()
    settings = {
        "all regularisers": (base, True),
        "no dropout": (dataclasses.replace(base, dropout=0.0), True),
        "no weight decay": (dataclasses.replace(base, weight_decay=0.0), True),
        "no early stopping": (dataclasses.replace(base, patience=0), True),
        "no augmentation": (base, False),
        "none": (dataclasses.replace(base, dropout=0.0, weight_decay=0.0, patience=0), False),
    }
    rows = []
    xv, yv = data.rows("held")
    for name, (cfg, augment) in settings.items():
        head, history, _ = fit_keras_head(data, cfg, augment)
        x, y = data.rows("fit", views=augment)
        train, held = _scores(head, x, y), _scores(head, xv, yv)
        row = {"setting": name, "train_accuracy": train["accuracy"], "holdout_accuracy": held["accuracy"],
               "holdout_nll": held["nll"], "gap": train["accuracy"] - held["accuracy"],
               "epochs": len(history["loss"])}
        if data.dev is not None:
            dev = _scores(head, data.dev.clean, data.dev.y)
            row.update(dev_accuracy=dev["accuracy"], dev_macro_f1=dev["macro_f1"])
        rows.append(row)
    return pd.DataFrame(rows).set_index("setting")


def bias_variance(result: dict[str, Any], target_error: float = 0.03) -> pd.DataFrame:
    """Train / held-out / dev error of the kept head (from :func:`fit`'s metrics) and what they say.

    ``target_error`` is the error one could accept (1 - the macro-F1 target, roughly): a training error
    above it means bias (the head is too weak or the features too poor); a held-out error far above
    the training error means variance (over-fitting).
    """
    kept = result["comparison"][result["kept"]]
    train_err = 1 - kept["train"]["accuracy"]
    held_err = 1 - kept["held_out"]["accuracy"]
    dev_err = 1 - result["dev"]["accuracy"] if "dev" in result else float("nan")
    avoidable, variance = train_err, held_err - train_err  # human error on these classes is ~0
    if avoidable > target_error:
        verdict = "bias dominates: a stronger head or better features would help"
    elif variance > max(target_error, avoidable):
        verdict = "variance dominates: more data, augmentation or regularisation would help"
    else:
        verdict = "neither dominates: errors are near the target"
    return pd.DataFrame({"error": [train_err, held_err, dev_err],
                         "note": ["training views (kept head)", "held-out part of train, all views",
                                  "dev, clean images"]},
                        index=["train", "held-out", "dev"]).assign(verdict=verdict)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def write_model_card(model_dir: str | Path, result: dict[str, Any]) -> Path:
    """Write ``model_card.md`` from a training result (every figure in it comes from ``result``)."""
    model_dir = Path(model_dir)
    dev, comp = result.get("dev"), result["comparison"]
    cal = result.get("dev_calibration") or result["held_out"]
    layers = ", ".join(f"`{name}`" for name in result["backbone"].get("style_layers", []))
    inputs = ("its pooled vector and its style statistics, the mean and standard deviation of each"
              f" channel of {layers} (texture rather than content; the places were chosen in EfficientNet-Lite0,"
              " among six layers, alone and in sets, on the held-out part of train, with photographs of a source"
              " never trained on (COCO-mini) as a guard: `benchmarks/classify_style_layers.py`; in Lite2 they are"
              " the same places in its deeper stages)"
              if "style" in result.get("inputs", []) else "its pooled vector")
    if "top" in result.get("inputs", []):
        summary = (f"The last block (block15) and head conv of the backbone `{result['backbone'].get('name', '')}`,"
                   " fine-tuned (from the pretrained weights) together with a linear head on their pooled vector"
                   " and the style statistics, the mean and standard deviation of each channel of"
                   f" {layers}; they run on the activation `{result['backbone'].get('top_layer')}` that the"
                   " backbone pass computes anyway, so the backbone runs once. Candidates: the logistic"
                   " regression on the pretrained top (the linear head) and the top fine-tuned from it, early"
                   f" stopping on the held-out loss. {result['kept'].replace('_', ' ').capitalize()} kept"
                   " (see the comparison below)")
    else:
        precision = result["backbone"].get("precision", "float32")
        tuned = (", fine-tuned on this data with the head (its weights: `backbone.npz`; see \"Backbone"
                 " fine-tuning\" below)" if result["backbone"].get("weights") else "")
        summary = (f"Head on {result.get('n_features', 1280)}-d descriptors from one pass of the backbone"
                   f" `{result['backbone'].get('name', '')}`{tuned} (computed in {precision}; the head is trained on"
                   f" such features, so the backbone runs so at inference too): {inputs}."
                   f" {result['kept'].replace('_', ' ').capitalize()} kept (see the comparison below)")
    chances = result.get("view_chances", {})  # not recorded before 30 Nov 2026 (no old prints then)
    lines = [
        "# Document-type classifier (photo, painting, sketch, schematic, text)", "",
        f"{summary}, temperature-scaled probabilities and a recall-first photo"
        " threshold. Written by the training command; do not edit.", "",
        "## Data", "",
        f"- Train: `{result['data']['train_dir']}` ({result['n_train_images']} images fitted,"
        f" {result['n_holdout_images']} held out for early stopping and temperature), each image as"
        f" {result['views_per_image']} views: the clean image and {result['views_per_image'] - 1}"
        " random \"as scanned\" versions (crops, borders, quarter turns, yellowed paper, bleed-through,"
        f" greyscale, {'old photographic prints, ' if chances.get('aged') else ''}halftone, blur, noise, JPEG"
        + ("; greyscale in {grey:.0%}, old prints in {aged:.0%}, halftone in {halftone:.0%} of them"
           .format(**chances) if chances else "") + ").",
        f"- Counts per class (train, hold-out included): {result['data']['train_counts']}"
        + (f", of which {result['data']['synthetic_text_pages']} text images are rendered book/letter pages"
           " (`tounum.classify.synthetic`)" if result['data'].get('synthetic_text_pages') else "")
        + (f"; the photos include a seeded sample of up to {result['data']['extra_photos_max']} images of"
           f" `{result['data']['extra_photos']}`." if result['data'].get('extra_photos') else "."),
        f"- Dev: `{result['data']['dev_dir']}` {result['data']['dev_counts']}: threshold choice and"
        " the figures below. Sources: PACS photos/paintings/sketches, TU-Berlin sketches, UML diagrams,"
        " SROIE receipts and FUNSD forms (research licences; see the data README).", "",
        "## Training", "", "```", result.get("command", ""), "```", "",
        f"Temperature T = {result['temperature']:.3f} (fitted on the held-out part of train); photo"
        f" threshold {result['photo_threshold']:.4f} on the calibrated photo probability, chosen on"
        f" {result['threshold_chosen_on']} for photo recall >= {result['min_photo_recall']:.0%} at the best precision."
        + (" Classes weighted equally in the heads' loss (`classify.balanced`): train is photo-heavy."
           if result.get("balanced") else ""), "",
    ]
    if result.get("descreen"):
        settings = ", ".join(f"{k} {v:g}" for k, v in result["descreen"].items())
        lines += [f"Descreening (`tounum.enhance.descreen`, {settings}): an image whose power spectrum"
                  " shows a halftone screen (lattice peaks at least `min_strength` times the median power of"
                  " their ring) is blurred by `blur` screen periods before the backbone: every image as read,"
                  " at training (the clean view), evaluation, `tounum classify` and in the pipeline alike; the"
                  " augmented scan views are not descreened (they teach the head halftone screens too).", ""]
    tuning = result.get("backbone_finetuning")
    if tuning:
        before = tuning["pretrained"]["held_out"]
        after = comp[result["kept"]]["held_out"]
        decay = " decayed to 0 along a cosine" if tuning.get("decay") else ""
        lines += ["## Backbone fine-tuning", "",
                  "First the head is fitted on the pretrained (ImageNet) features. Then every layer of the backbone"
                  " (float32, batch norms folded) trains with that head on top (`tounum.classify.finetune`):"
                  f" Adam at {tuning['learning_rate']:g}{decay}, each epoch a fresh scan view of every fitted"
                  f" image (the clean image one time in {result['views_per_image']}; seed {tuning.get('seed', 0)}),"
                  " classes weighted equally; the epoch of lowest"
                  f" held-out NLL is kept (epoch {tuning['kept_epoch']}; {tuning['seconds']} s in all). The head"
                  " is then fitted again on the tuned network's features, as below.", "",
                  "| epoch | training loss | held-out accuracy | held-out NLL |", "|---|---|---|---|"]
        for row in tuning["history"]:
            loss = f"{row['train_loss']:.4f}" if "train_loss" in row else "(start)"
            lines.append(f"| {row['epoch']} | {loss} | {_pct(row['held_accuracy'])} | {row['held_nll']:.4f} |")
        lines += ["", "(The network's own head, dropout off, on the held-out images' clean and scan views.)", "",
                  f"Kept head on the held-out part of train, all views: pretrained backbone accuracy"
                  f" {_pct(before['accuracy'])}, macro-F1 {before['macro_f1']:.4f}, NLL {before['nll']:.4f};"
                  f" fine-tuned backbone {_pct(after['accuracy'])}, {after['macro_f1']:.4f}, {after['nll']:.4f}.", ""]
    lines += [
        "## Head comparison (same features; the held-out macro-F1 decides, then its NLL)", "",
        "| head | train accuracy | held-out accuracy | held-out macro-F1 | held-out NLL | dev accuracy | dev macro-F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in comp.items():
        d = c.get("dev", {})
        lines.append(f"| {name} | {_pct(c['train']['accuracy'])} | {_pct(c['held_out']['accuracy'])} |"
                     f" {c['held_out'].get('macro_f1', float('nan')):.4f} | {c['held_out']['nll']:.4f} |"
                     f" {_pct(d.get('accuracy'))} | {d.get('macro_f1', float('nan')):.4f} |")
    if dev:
        pvr = dev["photo_vs_rest"]
        lines += ["", "## Dev figures", "",
                  f"- Five-class (``doc_type``, the most probable class): accuracy {_pct(dev['accuracy'])},"
                  f" macro-F1 {dev['macro_f1']:.4f} (target 0.97).",
                  f"- Photo vs rest (``is_photo``, the recall-first threshold): accuracy {_pct(pvr['accuracy'])}"
                  f" (target 99.5%), precision"
                  f" {_pct(pvr['precision'])}, recall {_pct(pvr['recall'])}, F1 {pvr['f1']:.4f}.",
                  f"- For comparison, photo decided by the most probable class instead: photo-vs-rest accuracy"
                  f" {_pct(result['dev_photo_vs_rest_argmax']['accuracy'])}, recall"
                  f" {_pct(result['dev_photo_vs_rest_argmax']['recall'])}, precision"
                  f" {_pct(result['dev_photo_vs_rest_argmax']['precision'])}.",
                  "- Per class: " + ", ".join(f"{c} F1 {v['f1']:.3f}" for c, v in dev["per_class"].items()) + ".",
                  f"- Confusion (rows true, columns predicted, {', '.join(CLASSES)}): {dev['confusion']['matrix']}.",
                  "- The threshold is chosen on dev, so the dev photo-vs-rest figures are slightly optimistic."]
    held = result["held_out"]
    lines += ["", "## Calibration (expected calibration error, 15 bins; NLL)", "",
              f"- Held-out part of train (all views; where T was fitted): ECE {held['ece_before']:.4f} before,"
              f" {held['ece_after']:.4f} after temperature scaling; NLL {held['nll_before']:.4f} -> {held['nll_after']:.4f}."]
    if result.get("dev_calibration"):
        lines += [f"- Dev (clean images): ECE {cal['ece_before']:.4f} before, {cal['ece_after']:.4f} after;"
                  f" NLL {cal['nll_before']:.4f} -> {cal['nll_after']:.4f}."]
    lines += ["",
              "## Limits", "",
              "Trained on a few thousand images of five sources; the sealed test also holds heritage scans,"
              " letters, book pages, manuscripts and cartoons, which these sources only approximate"
              " (augmentations stand in for scan conditions). Robustness and speed: `benchmarks/README.md`.", ""]
    path = model_dir / "model_card.md"
    path.write_text("\n".join(lines))
    return path
