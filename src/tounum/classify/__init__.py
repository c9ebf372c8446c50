"""tounum.classify: document type (photo, painting, sketch, schematic, text) from backbone features.

>>> from tounum.classify import load_classifier  # doctest: +SKIP
>>> load_classifier().predict(features).is_photo  # features: tounum.backbone.Features  # doctest: +SKIP

For the classification notebook:

- ``train.extract(data_dir)``: cached features (pooled vector and style statistics) of train (clean + scan views) and dev;
  ``train.fit(data)``: the head comparison, temperature, threshold and dev report;
  ``train.regularisation_study(data)``: the head trained with each regulariser removed (DataFrame);
  ``train.bias_variance(metrics)``: train / held-out / dev error and the verdict.
- ``classifier.load_metrics()``: the shipped model's ``metrics.json`` (training history, head
  comparison, calibration, dev report); its settings are in ``load_classifier().info``.
- ``evaluate.predict_tree(folder, classifier)``: one prediction row per image; ``evaluate.errors``.
- ``plots``: ``training_curves``, ``confusion_matrix``, ``error_gallery``, ``architecture``,
  ``regularisation``, ``reliability``.
- ``Classifier.prepare`` (``features.prepare``): each image as read descreened when it carries a
  halftone screen (``tounum.enhance.descreen``), as the model was trained; whoever computes the
  features that ``predict`` reads calls it first (``classify_images`` and the pipeline do).
- ``topblocks`` with ``train.fit_top``: the backbone's top layers fine-tuned with the head on cached
  ``Features.top`` activations (``tounum train classifier --finetune-top``; measured against the
  linear head in ``benchmarks/classify_finetune.py``, not shipped).
- ``finetune.finetune_backbone``: the whole backbone fine-tuned with the head on fresh scan views
  (``tounum train classifier --finetune-backbone``; measured in
  ``benchmarks/classify_finetune_backbone.py``, not shipped); its weights live in the model
  folder, and ``Classifier.backbone()`` builds the backbone with them.
"""

CLASSES = ("photo", "painting", "sketch", "schematic", "text")

__all__ = ["CLASSES", "ClassPrediction", "Classifier", "load_classifier"]


def __getattr__(name: str):
    # the classifier (SciPy, NumPy) loads on first use, so that `tounum --help` stays instant
    if name in ("ClassPrediction", "Classifier", "load_classifier"):
        from tounum.classify import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'tounum.classify' has no attribute {name!r}")
