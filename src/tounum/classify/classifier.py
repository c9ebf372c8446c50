"""The shipped classifier: head weights, temperature and photo threshold, loaded once per process.

A model folder holds ``head.npz`` (:class:`tounum.classify.model.LinearStack`, or when the inputs
include "top" a :class:`tounum.classify.topblocks.TopStack`), ``config.json`` (classes,
temperature, photo threshold, backbone name and version, head kind, ``inputs``: the backbone
outputs the head reads, ``["pooled"]``, ``["pooled", "style"]`` or ``["top", "style"]``;
``descreen``: the settings of the descreening applied to images before the backbone, or null),
with a fine-tuned backbone its weights (:data:`TUNED_WEIGHTS`, named by ``backbone.weights``) and
``metrics.json`` (dev figures, training history) with a ``model_card.md``.
"""

from __future__ import annotations

import functools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tounum.classify.calibrate import calibrated_probs
from tounum.classify.data import CLASSES
from tounum.classify.features import FIRST_VIEW_CHANCES, descriptor, prepare
from tounum.classify.model import LinearStack
from tounum.classify.topblocks import TopStack
from tounum.config import ClassifyConfig

# ClassifyConfig settings added after models were first saved, at the value that applied before them
BEFORE_SETTING = {"aged_views": FIRST_VIEW_CHANCES["aged"]}

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "classifier"
TUNED_WEIGHTS = "backbone.npz"  # a fine-tuned backbone's weights, in the model folder (info["backbone"]["weights"])
PHOTO = CLASSES.index("photo")


@dataclass
class ClassPrediction:
    """``probs`` (N, 5) calibrated, in :data:`CLASSES` order; ``doc_type`` and ``is_photo`` per image.

    ``doc_type`` is the most probable class. ``is_photo`` is the recall-first routing decision
    (``probs[:, photo] >= photo_threshold``, the threshold chosen for at least 99% photo recall), so
    a borderline painting may be ``doc_type`` "painting" and still ``is_photo`` (it gets a caption).
    """

    probs: np.ndarray
    doc_type: list[str]
    is_photo: np.ndarray


class Classifier:
    """Document-type classifier over backbone features (``info["inputs"]``, default the pooled vector)."""

    def __init__(self, head: LinearStack | TopStack, temperature: float, photo_threshold: float, info: dict[str, Any]):
        self.head = head
        self.temperature = float(temperature)
        self.photo_threshold = float(photo_threshold)
        self.info = info
        self.inputs = tuple(info.get("inputs", ("pooled",)))  # models saved before style: pooled only
        self.descreen: dict[str, float] | None = info.get("descreen")  # models saved before it: none
        self.folder: Path | None = None  # set by load: where a fine-tuned backbone's weights are

    def training_config(self) -> ClassifyConfig:
        """The configuration this classifier was trained with (it decides the training run's split).

        Settings added since a model was saved take the value that applied when it was trained.
        """
        return ClassifyConfig(**{**BEFORE_SETTING, **self.info["config"]})

    @classmethod
    def load(cls, model_dir: str | Path) -> Classifier:
        model_dir = Path(model_dir)
        try:
            info = json.loads((model_dir / "config.json").read_text())
            stack = TopStack if "top" in info.get("inputs", ()) else LinearStack
            head = stack.load(model_dir / "head.npz")
        except (OSError, ValueError, KeyError) as exc:
            raise FileNotFoundError(f"{model_dir}: not a classifier model folder ({exc})") from exc
        if tuple(info.get("classes", ())) != CLASSES:
            raise ValueError(f"{model_dir}: classes {info.get('classes')} differ from {CLASSES}")
        clf = cls(head, info["temperature"], info["photo_threshold"], info)
        clf.folder = model_dir
        return clf

    def save(self, model_dir: str | Path) -> None:
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        weights = self.info.get("backbone", {}).get("weights")
        if weights and self.folder is not None and self.folder.resolve() != model_dir.resolve():
            shutil.copyfile(self.folder / weights, model_dir / weights)  # the backbone goes with the head
        self.head.save(model_dir / "head.npz")
        info = {**self.info, "classes": list(CLASSES), "temperature": self.temperature,
                "photo_threshold": self.photo_threshold}
        (model_dir / "config.json").write_text(json.dumps(info, indent=1) + "\n")

    def prepare(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """The images as this classifier's backbone must see them (descreened if it was trained so).

        Whoever computes the features that :meth:`predict` reads calls it first (the pipeline does).
        """
        return prepare(images, self.descreen)

    def _vectors(self, features) -> np.ndarray:
        if hasattr(features, "pooled"):  # tounum.backbone.Features
            features = descriptor(features, self.inputs)
        x = np.asarray(features, np.float32)
        x = x[None] if x.ndim == 1 else x
        width = self.head.width
        if x.ndim != 2 or x.shape[1] != width:
            layers = ", ".join(self.info.get("backbone", {}).get("style_layers", [])) or "none"
            raise ValueError(f"the classifier reads {'+'.join(self.inputs)} vectors of {width} values, "
                             f"got an array of shape {x.shape} (it was trained with style layers: "
                             f"{layers}; retrain it if the backbone's differ)")
        return x

    def logits(self, features) -> np.ndarray:
        """Uncalibrated class scores, (N, 5), of :class:`tounum.backbone.Features` or descriptors."""
        return self.head.logits(self._vectors(features))

    def as_scanned(self, features, scanned: list[np.ndarray | None], backbone, batch_size: int | None = None,
                   ) -> np.ndarray | None:
        """Descriptors of cleaned images as they were scanned, for :meth:`predict`'s ``also``.

        Parameters
        ----------
        features : tounum.backbone.Features or ndarray
            Of the cleaned images (what :meth:`predict` reads).
        scanned : list
            Per image, its pixels before cleaning, or None where cleaning left it unchanged.
        backbone : tounum.backbone.Backbone
            The one ``features`` came from.

        Returns
        -------
        (N, D) descriptors: ``features``' own rows where ``scanned`` is None, the scanned images'
        (prepared as :meth:`prepare` does) elsewhere; None when no image was changed.
        """
        changed = [i for i, pixels in enumerate(scanned) if pixels is not None]
        if not changed:
            return None
        out = self._vectors(features).copy()
        out[changed] = self._vectors(backbone.features(self.prepare([scanned[i] for i in changed]),
                                                       batch_size=batch_size))
        return out

    def predict(self, features, also=None) -> ClassPrediction:
        """Classify backbone features.

        Parameters
        ----------
        features : tounum.backbone.Features or ndarray
            The backbone's output (the classifier takes the fields it reads), or descriptors
            (N, D) as :func:`tounum.classify.features.descriptor` makes them.
        also : tounum.backbone.Features or ndarray, optional
            The same images seen another way, whose class scores are averaged with ``features``'
            before calibration. The pipeline passes the scans as read when ``features`` are of
            their cleaned copies (:meth:`as_scanned`): cleaning uncovers the lines a blur hid,
            but a denoiser's smoothness also makes a photograph look painted, and the average
            keeps what each view sees (``benchmarks/classify_robustness.py --enhance``).

        Example
        -------
        >>> load_classifier().predict(load_backbone().features(images)).doc_type  # doctest: +SKIP
        ['photo', 'text']
        """
        logits = self.logits(features)
        if also is not None:
            logits = (logits + self.logits(also)) / 2
        probs = calibrated_probs(logits, self.temperature)
        doc_type = [CLASSES[int(i)] for i in probs.argmax(axis=1)]
        return ClassPrediction(probs, doc_type, probs[:, PHOTO] >= self.photo_threshold)

    def backbone(self, config=None):
        """The backbone this classifier was trained on (:func:`tounum.backbone.trained_backbone`).

        Parameters
        ----------
        config : tounum.config.BackboneConfig, optional
            Batch size and feature cache; name, resize mode and precision come from the model.
        """
        from tounum.backbone import trained_backbone

        return trained_backbone(self.info.get("backbone", {}), config, self.folder)

    def classify_images(self, images: list[np.ndarray], backbone=None,
                        scanned: list[np.ndarray | None] | None = None) -> ClassPrediction:
        """Classify (H, W, 3) uint8 RGB images, computing their features with the backbone.

        The default backbone is the one the head was trained on (:meth:`backbone`). ``scanned``:
        when ``images`` are cleaned copies, each one's pixels before cleaning (None where
        cleaning changed nothing), also read (:meth:`as_scanned`), as the pipeline does.
        """
        backbone = backbone or self.backbone()
        features = backbone.features(self.prepare(images))
        also = None if scanned is None else self.as_scanned(features, scanned, backbone)
        return self.predict(features, also)


@functools.lru_cache(maxsize=4)
def _load(model_dir: str) -> Classifier:
    return Classifier.load(model_dir)


def load_classifier(model_dir: str | Path | None = None) -> Classifier:
    """The classifier in ``model_dir`` (default: the one shipped in the package), loaded once per process.

    Example
    -------
    >>> clf = load_classifier()  # doctest: +SKIP
    >>> clf.predict(backbone.features(images)).doc_type  # doctest: +SKIP
    """
    return _load(str(Path(model_dir).resolve() if model_dir else DEFAULT_MODEL_DIR))


def load_metrics(model_dir: str | Path | None = None) -> dict[str, Any]:
    """The ``metrics.json`` of a model folder (default: the shipped model): training history,
    head comparison, temperature, threshold, calibration and the dev report."""
    path = Path(model_dir or DEFAULT_MODEL_DIR) / "metrics.json"
    return json.loads(path.read_text())
