"""Descreening before the classifier's backbone: which images it fires on, and what its blur does.

``tounum.enhance.descreen`` with the settings of ``ClassifyConfig`` (``descreen_min_strength``,
``descreen_blur``). Two parts:

- ``--triggers``: the images it descreens, per class: dev clean and under each degradation of the
  robustness table, train clean (with the rendered text pages and the extra photos) and train
  with one halftone view each (the augmentation's range of screen periods and angles). Clean
  images should not trigger: the clean ones that do are listed.
- ``--blur F...``: a classifier (``--model``, default the shipped one) on the held-out part of
  train (what decides) and on dev (for information), clean and halftoned (the robustness table's
  halftone), without descreening and with each blur factor; the model's own descreening setting is
  replaced by each row's. ``--learned`` adds a row with the enhancement's learned descreener
  (``tounum.enhance.descreen.unscreen``) in place of the blur.

    nohup nice -n 5 .venv/bin/python benchmarks/classify_descreen.py --triggers --blur 0.4 0.6 0.8 1.0 --learned \\
        --json-out /tmp/cls-descreen.json > /tmp/cls-descreen.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from tounum.classify import metrics
from tounum.classify.augment import DEGRADATIONS, random_halftone
from tounum.classify.classifier import load_classifier
from tounum.classify.data import CLASSES, read_images, scan_tree
from tounum.classify.train import train_files
from tounum.config import ClassifyConfig
from tounum.enhance.descreen import descreen, measure_screen, unscreen
from shared_data import add_doctype_arguments


def triggers(data_dir: str, config: ClassifyConfig) -> tuple[dict[str, dict[str, int]], list[str]]:
    counts: dict[str, Counter] = {}
    clean_fired: list[str] = []

    def count(group: str, label: str, pixels: np.ndarray, path: str) -> None:
        c = counts.setdefault(group, Counter())
        c["n"] += 1
        if measure_screen(pixels).screened(config.descreen_min_strength):
            c["fired"] += 1
            c[label] += 1
            if group.endswith("clean"):
                clean_fired.append(path)

    dev = scan_tree(Path(data_dir) / "dev").labelled
    for path, label in zip(dev["path"], dev["label"]):
        image = read_images([path])[0][0]
        count("dev clean", label, image, path)
        for name, degrade in DEGRADATIONS.items():
            count(f"dev {name}", label, degrade(image), path)
    paths, labels, _ = train_files(data_dir, config)
    rng = np.random.default_rng(0)
    for path, label in zip(paths, labels):
        image = read_images([path])[0][0]
        count("train clean", label, image, path)
        count("train halftone view", label, random_halftone(image, rng), path)  # as scan_view draws it
    return {group: dict(c) for group, c in counts.items()}, clean_fired


def learned(pixels: np.ndarray, min_strength: float) -> np.ndarray:
    """``descreen`` with the learned descreener in place of the blur."""
    screen = measure_screen(pixels)
    return unscreen(pixels, screen.period) if screen.screened(min_strength) else pixels


def blur_sweep(data_dir: str, config: ClassifyConfig, model: str | None, blurs: list[float | str]) -> list[dict]:
    clf = load_classifier(model)
    backbone = clf.backbone()
    paths, labels, held = train_files(data_dir, config, backbone)
    dev = scan_tree(Path(data_dir) / "dev").labelled
    sets = {"held-out part of train": ([p for p, h in zip(paths, held) if h], [c for c, h in zip(labels, held) if h]),
            "dev": (list(dev["path"]), list(dev["label"]))}
    rows = []
    for name, (files, classes) in sets.items():
        images, kept, _ = read_images(files)
        truth = [classes[i] for i in kept]
        for condition in ("clean", "halftone"):
            inputs = images if condition == "clean" else [DEGRADATIONS["halftone"](im) for im in images]
            for blur in [0.0, *blurs]:
                if blur == "learned":
                    seen = [learned(im, config.descreen_min_strength) for im in inputs]
                else:
                    seen = inputs if blur == 0 else [descreen(im, config.descreen_min_strength, blur) for im in inputs]
                pred = clf.predict(backbone.features(seen))
                r = metrics.report(truth, pred.doc_type, pred.is_photo)
                rows.append({"images": name, "condition": condition, "blur": blur, "n": len(truth),
                             "descreened": sum(a is not b for a, b in zip(seen, inputs)),
                             "accuracy": r["accuracy"], "macro_f1": r["macro_f1"],
                             "photo_vs_rest": r["photo_vs_rest"]["accuracy"]})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_doctype_arguments(parser)
    parser.add_argument("--model", help="classifier folder (default: the shipped one)")
    parser.add_argument("--triggers", action="store_true", help="count the images descreened")
    parser.add_argument("--blur", type=float, nargs="*", default=[], help="blur factors to compare")
    parser.add_argument("--learned", action="store_true", help="also compare the learned descreener")
    parser.add_argument("--json-out", help="also write the results as JSON here")
    args = parser.parse_args()
    config = ClassifyConfig(extra_photos=args.extra_photos)
    result: dict = {"settings": {"min_strength": config.descreen_min_strength, "blur": config.descreen_blur}}
    if args.triggers:
        result["triggers"], result["clean_descreened"] = triggers(args.data, config)
        print("| images | n | descreened | by class |\n|---|---|---|---|")
        for group, c in result["triggers"].items():
            by_class = ", ".join(f"{k} {c[k]}" for k in CLASSES if c.get(k))
            print(f"| {group} | {c['n']} | {c.get('fired', 0)} | {by_class} |")
        print("clean images descreened:", *result["clean_descreened"], sep="\n  ")
    if args.blur or args.learned:
        result["blur"] = blur_sweep(args.data, config, args.model, args.blur + ["learned"] * args.learned)
        print("| images | condition | blur (periods) | descreened | accuracy | macro-F1 | photo-vs-rest |")
        print("|---|---|---|---|---|---|---|")
        for r in result["blur"]:
            print(f"| {r['images']} | {r['condition']} | {r['blur'] or 'none'} | {r['descreened']}/{r['n']} |"
                  f" {100 * r['accuracy']:.2f}% | {r['macro_f1']:.4f} | {100 * r['photo_vs_rest']:.2f}% |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
