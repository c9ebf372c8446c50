"""tounum.enhance: measure each image's noise and blur, and clean it by an automatic policy.

``assess(pixels) -> Quality`` and ``enhance(pixels, config) -> Enhanced`` are the stage's API;
the operations themselves are in ``filters`` (classical) and ``restorer`` (learned). Names are
imported on first use, so that ``tounum --help`` does not load OpenCV and SciPy.
"""

import importlib

_EXPORTS = {"METHODS": "policy", "Enhanced": "policy", "enhance": "policy", "Quality": "quality",
            "assess": "quality", "estimate_blur": "quality", "estimate_noise": "quality"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tounum.enhance.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tounum.enhance' has no attribute {name!r}")
