"""Score a classifier on a class tree: one prediction row per image, and the evaluation report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tounum.classify import metrics
from tounum.classify.classifier import Classifier
from tounum.classify.data import CLASSES, scan_tree
from tounum.classify.features import pooled_views


def predict_tree(root: str | Path, classifier: Classifier, backbone=None, *, degrade: str | None = None,
                 cache: str | Path | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Classify every image of a tree, folders of unknown names included (their label is None).

    Parameters
    ----------
    root : folder of class folders
    classifier : Classifier
    backbone : tounum.backbone.Backbone, optional (default: the classifier's own, :meth:`Classifier.backbone`)
    degrade : str, optional
        A name of :data:`tounum.classify.augment.DEGRADATIONS` applied to every image first.
    cache : str or Path, optional
        Feature cache root (None: compute afresh).

    Returns
    -------
    (table, errors): one row per readable image with ``path``, ``folder``, ``label``, ``doc_type``,
    ``is_photo`` and ``p_<class>`` columns; one message per unreadable image.

    Example
    -------
    >>> table, errors = predict_tree("../shared/data/doctype/dev", load_classifier())  # doctest: +SKIP
    """
    return predict_table(scan_tree(root, include_unknown=True).table, classifier, backbone, degrade=degrade,
                         cache=cache)


def predict_table(table: pd.DataFrame, classifier: Classifier, backbone=None, *, degrade: str | None = None,
                  cache: str | Path | None = None) -> tuple[pd.DataFrame, list[str]]:
    """:func:`predict_tree` for a table of images with ``path`` and ``label`` columns (any list of files).

    Example
    -------
    >>> table = pd.DataFrame({"path": paths, "label": labels})  # doctest: +SKIP
    >>> predict_table(table, load_classifier(), degrade="halftone")[0]["doc_type"]  # doctest: +SKIP
    """
    backbone = backbone or classifier.backbone()
    feats = pooled_views(table["path"], backbone, degrade=degrade, cache=cache, inputs=classifier.inputs,
                         descreen=classifier.descreen)
    table = table[feats.ok].reset_index(drop=True)
    pred = classifier.predict(feats.pooled[0][feats.ok])
    table["doc_type"] = pred.doc_type
    table["is_photo"] = pred.is_photo
    for i, cls in enumerate(CLASSES):
        table[f"p_{cls}"] = pred.probs[:, i]
    return table, feats.errors


def report(table: pd.DataFrame) -> dict[str, Any]:
    """The evaluation object (``n_images``, ``accuracy``, ``macro_f1``, ``photo_vs_rest``, ...) of a table."""
    labels = [None if pd.isna(v) else v for v in table["label"]]
    return metrics.report(labels, list(table["doc_type"]), np.asarray(table["is_photo"], bool))


def errors(table: pd.DataFrame) -> pd.DataFrame:
    """The misclassified rows of a prediction table, most confident mistakes first."""
    known = table[table["label"].notna()]
    wrong = known[known["label"] != known["doc_type"]].copy()
    wrong["confidence"] = [row[f"p_{row['doc_type']}"] for _, row in wrong.iterrows()]
    return wrong.sort_values("confidence", ascending=False).reset_index(drop=True)
