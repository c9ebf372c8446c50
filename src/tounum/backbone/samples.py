"""Photos that ship with scikit-image, for the ImageNet self-check and the reference logits."""

from __future__ import annotations

import numpy as np
from PIL import Image

# name -> ImageNet classes (Keras names) that count as right for that photo. The astronaut has
# none: ImageNet has no class for a person in a space suit; it is shown, not judged.
SAMPLES = {
    "coffee": ("espresso", "cup", "coffee_mug"),
    "chelsea": ("tabby", "tiger_cat", "Egyptian_cat", "Persian_cat", "Siamese_cat"),
    "rocket": ("missile", "projectile", "space_shuttle"),
    "astronaut": (),
}


def sample_images() -> dict[str, np.ndarray]:
    """The scikit-image sample photos named in :data:`SAMPLES`, as (H,W,3) uint8 RGB.

    Example
    -------
    >>> sample_images()["coffee"].shape
    (400, 600, 3)
    """
    import skimage.data

    return {name: getattr(skimage.data, name)() for name in SAMPLES}


def reference_file(variant: str = "efficientnet_lite0") -> str:
    """The name, in ``tests/data``, of the file of ``variant``'s PyTorch logits on :func:`reference_inputs`.

    Written by ``benchmarks/backbone_reference.py``, read by ``backbone_correctness.py`` and the tests.

    Example
    -------
    >>> reference_file(), reference_file("efficientnet_lite2")
    ('backbone_reference.npz', 'backbone_reference_efficientnet_lite2.npz')
    """
    return "backbone_reference.npz" if variant == "efficientnet_lite0" else f"backbone_reference_{variant}.npz"


def reference_inputs(size: int = 224) -> tuple[list[str], np.ndarray]:
    """Fixed network inputs: each sample photo squashed to ``size`` (Pillow bicubic), plus noise.

    Independent of :mod:`tounum.backbone.preprocess` on purpose, so that the reference logits
    test the network alone.

    Returns
    -------
    names : list of str
    images : ndarray, (N, size, size, 3) uint8

    Example
    -------
    >>> names, images = reference_inputs()
    >>> names[-1], images.shape
    ('noise', (5, 224, 224, 3))
    """
    names, images = [], []
    for name, pixels in sample_images().items():
        names.append(name)
        images.append(np.asarray(Image.fromarray(pixels).resize((size, size), Image.BICUBIC)))
    names.append("noise")
    images.append(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))
    return names, np.stack(images)
