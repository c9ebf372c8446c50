"""Fixtures shared by the test modules."""

import numpy as np
import pytest


@pytest.fixture
def toy_doctype_tree(tmp_path, monkeypatch):
    """A tiny ``train/`` (8 a class) and ``dev/`` (2 a class) tree in the client's folder names, each
    class its own grey level and grain, with the feature caches of this run in ``tmp_path``."""
    from PIL import Image

    monkeypatch.setenv("TOUNUM_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("dev", 2)):
        for k, folder in enumerate(("Photo", "Paintings", "Sketch", "Schematics", "Text")):
            d = tmp_path / "data" / split / folder
            d.mkdir(parents=True)
            for i in range(n):
                pixels = 40.0 * k + rng.normal(0, 8 * (k + 1), (48, 64, 3))
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(d / f"{i}.png")
    return tmp_path / "data"
