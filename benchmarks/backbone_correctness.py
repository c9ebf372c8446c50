"""Backbone correctness: Keras logits vs the PyTorch reference, and sample-photo top classes.

    .venv/bin/python benchmarks/backbone_correctness.py
    .venv/bin/python benchmarks/backbone_correctness.py --variant efficientnet_lite2

The reference (``tests/data/backbone_reference.npz``; Lite2's ``backbone_reference_efficientnet_lite2.npz``)
holds the logits the original PyTorch model gives for five fixed inputs (see
``benchmarks/backbone_reference.py``). Prints the largest
absolute logit difference per input, then the top-3 ImageNet classes of the scikit-image sample
photos in each resize mode, as Markdown, then how far bfloat16 features are from float32.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from tounum.backbone import load_backbone
from tounum.backbone.efficientnet_lite import INPUT_SIZES, STAGES
from tounum.backbone.samples import SAMPLES, reference_file, reference_inputs, sample_images
from tounum.backbone.weights import load_efficientnet_lite
from tounum.config import BackboneConfig

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="efficientnet_lite0", choices=sorted(STAGES))
    variant = parser.parse_args().variant
    ref = np.load(DATA / reference_file(variant))
    names, images = reference_inputs(INPUT_SIZES[variant])
    if hashlib.sha256(images.tobytes()).hexdigest() != str(ref["inputs_sha256"]):
        raise SystemExit("reference inputs differ from those the reference was computed on")
    logits = load_efficientnet_lite(variant=variant).predict_on_batch(images.astype(np.float32))[0]
    diff = np.abs(logits - ref["logits"]).max(axis=1)
    print(f"Keras vs PyTorch {ref['torch_version']} logits, max abs difference "
          f"(logits span {ref['logits'].min():.1f}..{ref['logits'].max():.1f}):\n")
    print("| input | max abs diff | top-1 same |")
    print("|---|---:|---|")
    for name, d, a, b in zip(names, diff, logits.argmax(1), ref["logits"].argmax(1)):
        print(f"| {name} | {d:.2e} | {'yes' if a == b else 'NO'} |")
    print(f"| all | {diff.max():.2e} | |\n")

    photos = sample_images()
    print("| photo | resize | top-1 | p | 2nd | 3rd | expected class in top-1 / top-5 |")
    print("|---|---|---|---:|---|---|---|")
    for mode in ("pad", "crop", "squash"):
        tops = load_backbone(BackboneConfig(name=variant, resize=mode)).imagenet_top5(list(photos.values()))
        for name, top in zip(photos, tops):
            expected = SAMPLES[name]
            verdict = ("n/a (no ImageNet class)" if not expected else
                       f"{'yes' if top[0][0] in expected else 'no'} / "
                       f"{'yes' if any(c in expected for c, _ in top) else 'no'}")
            print(f"| {name} | {mode} | {top[0][0]} | {top[0][1]:.2f} | {top[1][0]} | "
                  f"{top[2][0]} | {verdict} |")

    # bfloat16 (BackboneConfig.precision): how far its features are from float32
    exact = load_backbone(BackboneConfig(name=variant)).features(list(photos.values()))
    fast = load_backbone(BackboneConfig(name=variant, precision="bfloat16")).features(list(photos.values()))
    cosine = (exact.pooled * fast.pooled).sum(1) / (
        np.linalg.norm(exact.pooled, axis=1) * np.linalg.norm(fast.pooled, axis=1))
    grid_rel = np.abs(exact.grid - fast.grid).max() / np.abs(exact.grid).max()
    print(f"\nbfloat16 vs float32 on the sample photos: pooled cosine similarity min "
          f"{cosine.min():.4f}, grid max abs difference {grid_rel:.3f} of the grid's max")


if __name__ == "__main__":
    main()
