"""tounum.classify: document type (photo, painting, sketch, schematic, text) from pooled backbone features.

>>> from tounum.classify import load_classifier  # doctest: +SKIP
>>> load_classifier().predict(features.pooled).is_photo  # doctest: +SKIP
"""

from tounum.classify.classifier import ClassPrediction, Classifier, load_classifier
from tounum.classify.data import CLASSES

__all__ = ["CLASSES", "ClassPrediction", "Classifier", "load_classifier"]
