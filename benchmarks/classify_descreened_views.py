"""Training the classifier's head on descreened halftone views too: measured, not shipped.

The shipped head learns halftone screens from raw screened views (``scan_view``), while at
inference a screened image is descreened first: by the classifier's own low-pass, or, in
``tounum run``, by the enhancement's learned descreener, whose copies the head reads as painted
(``classify_descreen.py --learned``). Here each training image gets one more view, halftoned by
the augmentation's ``random_halftone`` and then descreened as inference would (the learned
descreener, the low-pass, or one view of each), and the logistic regression is refitted on the
cached features of the shipped recipe plus these views (C fixed: ``--c``, the shipped model's;
temperature on the held-out part's usual views, photo threshold on clean dev, as training does).

Each model is scored on the held-out part of train (what decides) and on dev (for information),
clean and under every degradation of the robustness table; halftone twice: descreened by the
low-pass (``halftone``) and by the learned descreener (``halftone, learned``), the path of a model
trained on learned views.

    nohup nice -n 5 .venv/bin/python benchmarks/classify_descreened_views.py \\
        --json-out /tmp/cls-dviews.json > /tmp/cls-dviews.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tounum.classify import metrics
from tounum.classify.augment import DEGRADATIONS, random_halftone
from tounum.classify.calibrate import calibrated_probs
from tounum.classify.classifier import PHOTO
from tounum.classify.data import CLASSES, read_images
from tounum.classify.features import descriptor, prepare
from tounum.classify.model import train_logistic
from tounum.classify.train import decisions, extract, training_backbone
from tounum.config import ClassifyConfig
from classify_descreen import learned
from shared_data import add_doctype_arguments

VARIANTS = {"shipped recipe": (), "+ learned view": ("learned",), "+ low-pass view": ("low-pass",),
            "+ both views": ("learned", "low-pass")}


def descriptors(images: list[np.ndarray], backbone, inputs) -> np.ndarray:
    # 64 at a time: the features of thousands of images at once (grids included) take gigabytes
    return np.concatenate([descriptor(backbone.features(images[i:i + 64]), inputs)
                           for i in range(0, len(images), 64)])


def descreened_views(images: list[np.ndarray], low_pass: dict, backbone, inputs, seed: int = 1000
                     ) -> dict[str, np.ndarray]:
    """One random halftone per image, descreened by the learned descreener and by the low-pass."""
    screened = [random_halftone(im, seed + i) for i, im in enumerate(images)]
    return {"learned": descriptors([learned(im, low_pass["min_strength"]) for im in screened], backbone, inputs),
            "low-pass": descriptors(prepare(screened, low_pass), backbone, inputs)}


def conditions(images: list[np.ndarray], clean: np.ndarray, low_pass: dict, backbone, inputs
               ) -> dict[str, np.ndarray]:
    """Descriptors of the images clean (``clean``, as extracted) and under each degradation, as the
    classifier prepares them."""
    out = {"clean": clean}
    for name, degrade in DEGRADATIONS.items():
        degraded = [degrade(im) for im in images]
        out[name] = descriptors(prepare(degraded, low_pass), backbone, inputs)
        if name == "halftone":
            out["halftone, learned"] = descriptors([learned(im, low_pass["min_strength"]) for im in degraded],
                                                   backbone, inputs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_doctype_arguments(parser)
    parser.add_argument("--c", type=float, default=0.003, help="inverse L2 strength (the shipped model's)")
    parser.add_argument("--json-out", help="also write the results as JSON here")
    args = parser.parse_args()
    config = ClassifyConfig(extra_photos=args.extra_photos)
    backbone = training_backbone(config)
    data = extract(args.data, config, backbone)
    train_images, _, errors = read_images(data.train.paths)
    if errors:
        raise SystemExit(f"unreadable training images: {errors}")
    low_pass = data.descreen  # the classifier's own descreening: {"min_strength", "blur"}
    extra = descreened_views(train_images, low_pass, backbone, data.inputs)
    held_images = [im for im, h in zip(train_images, data.held) if h]
    dev_images, kept, _ = read_images(data.dev.paths)
    held_clean = data.train.clean[data.held]
    scored = {"held-out part of train": (conditions(held_images, held_clean, low_pass, backbone, data.inputs),
                                         data.train.y[data.held]),
              "dev": (conditions(dev_images, data.dev.clean[kept], low_pass, backbone, data.inputs),
                      data.dev.y[kept])}
    rows = []
    for variant, views in VARIANTS.items():
        pooled = np.concatenate([data.train.pooled] + [extra[v][None] for v in views])
        fit = ~data.held
        head = train_logistic(pooled[:, fit].reshape(-1, pooled.shape[-1]), np.tile(data.train.y[fit], len(pooled)),
                              args.c, config.seed, config.balanced)
        temperature, threshold = decisions(head, data, config)
        for split, (features, y) in scored.items():
            truth = [CLASSES[i] for i in y]
            for condition, x in features.items():
                probs = calibrated_probs(head.logits(x), temperature)
                r = metrics.report(truth, [CLASSES[i] for i in probs.argmax(1)], probs[:, PHOTO] >= threshold)
                rows.append({"variant": variant, "images": split, "condition": condition, "n": len(y),
                             "threshold": round(float(threshold), 4), "macro_f1": r["macro_f1"],
                             "photo_vs_rest": r["photo_vs_rest"]["accuracy"]})
                print(json.dumps(rows[-1]), flush=True)
    names = list(scored["dev"][0])
    for split in scored:
        print(f"\n{split}: macro-F1 / photo-vs-rest\n\n| head | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for variant in VARIANTS:
            cells = [r for r in rows if r["variant"] == variant and r["images"] == split]
            print(f"| {variant} | " + " | ".join(f"{r['macro_f1']:.4f} / {100 * r['photo_vs_rest']:.2f}%"
                                                for r in cells) + " |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
