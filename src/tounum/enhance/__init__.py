"""tounum.enhance: measure each image's noise and blur, and clean it by an automatic policy.

``assess(pixels) -> Quality`` and ``enhance(pixels, config) -> Enhanced`` are the stage's API;
the operations themselves are in ``filters`` (classical) and ``restorer`` (learned).
"""

from tounum.enhance.policy import METHODS, Enhanced, enhance
from tounum.enhance.quality import Quality, assess, estimate_blur, estimate_noise

__all__ = ["METHODS", "Enhanced", "Quality", "assess", "enhance", "estimate_blur", "estimate_noise"]
