"""tounum.backbone: the pretrained CNN whose features the classifier and captioner share.

``load_backbone(config)`` returns a :class:`Backbone` (built once per process) whose
``.features(images)`` gives the pooled vector and the spatial grid of each image. Importing
this package is cheap; Keras is loaded when a backbone is built.
"""

from tounum.backbone.features import (
    BACKBONES,
    Backbone,
    Features,
    imagenet_classes,
    load_backbone,
    trained_backbone,
)
from tounum.backbone.preprocess import RESIZE_MODES, fit_square

__all__ = ["BACKBONES", "Backbone", "Features", "RESIZE_MODES", "fit_square", "imagenet_classes",
           "load_backbone", "trained_backbone"]
