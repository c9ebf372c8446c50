"""A classifier on a fine-tuned backbone against the same recipe on the pretrained one, clean and degraded.

The classifier (``--model``; the shipped one is not fine-tuned) was trained with ``tounum train
classifier ... --finetune-backbone`` (``tounum.classify.finetune``: every layer of
EfficientNet-Lite2 trained with the head on a fresh scan view of each image per epoch, on this
2-core CPU; the epochs are in its ``metrics.json`` and model card). The baseline is that training run's first step, fitted again
here: the same recipe (features of the clean image and 5 scan views, logistic regression with C
chosen on the held-out part, temperature, dev threshold) on the pretrained backbone's features,
the classifier the fine-tuning started from. Both are scored by the same code on dev and on the
held-out part of train, clean and under each degradation of the robustness table (the scan
alone, as ``benchmarks/classify_robustness.py`` does without ``--enhance``).

    .venv/bin/tounum -v train classifier ../shared/data/doctype --out /tmp/clsft \\
        --extra-photos ../shared/data/captions/flickr8k/images --finetune-backbone
    nohup nice -n 5 .venv/bin/python benchmarks/classify_finetune_backbone.py --model /tmp/clsft \\
        --json-out /tmp/cls-ftb.json > /tmp/cls-ftb.log 2>&1 &

TensorFlow on CPU is not bit-reproducible: a second training run gives a slightly different network.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from tounum.classify import metrics
from tounum.classify.augment import DEGRADATIONS
from tounum.classify.classifier import Classifier, load_metrics
from tounum.classify.data import CLASSES, read_images, scan_tree
from tounum.classify.features import descriptor
from tounum.classify.train import extract, fit, split_dirs, training_backbone
from shared_data import SHARED_DATA

log = logging.getLogger("classify_finetune_backbone")
CONDITIONS = ("clean", *DEGRADATIONS)


def condition_rows(classifiers: dict[str, Classifier],
                   splits: dict[str, tuple[list[np.ndarray], np.ndarray]]) -> dict[str, dict[str, list[float]]]:
    """Per classifier, ``split/condition`` -> [macro-F1, photo-vs-rest accuracy] on its own backbone's
    features; each condition's images are degraded once for all classifiers."""
    rows: dict[str, dict[str, list[float]]] = {name: {} for name in classifiers}
    backbones = {name: clf.backbone() for name, clf in classifiers.items()}
    for condition in CONDITIONS:
        for split, (images, y) in splits.items():
            degraded = images if condition == "clean" else [DEGRADATIONS[condition](im) for im in images]
            for name, clf in classifiers.items():
                pred = clf.predict(descriptor(backbones[name].features(clf.prepare(degraded)), clf.inputs))
                report = metrics.report([CLASSES[i] for i in y], pred.doc_type, pred.is_photo)
                rows[name][f"{split}/{condition}"] = [report["macro_f1"], report["photo_vs_rest"]["accuracy"]]
                log.info("%s %s %s: %s", name, split, condition, rows[name][f"{split}/{condition}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype"))
    parser.add_argument("--model", required=True, help="a classifier folder trained with --finetune-backbone")
    parser.add_argument("--json-out", help="also write the results as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    tuned = Classifier.load(args.model)
    if not tuned.info["backbone"].get("weights"):
        raise SystemExit(f"{args.model}: its backbone is not fine-tuned (train it with --finetune-backbone)")
    config = dataclasses.replace(tuned.training_config(), finetune_backbone=False)
    pretrained = training_backbone(config)
    data = extract(args.data, config, pretrained)
    baseline, base_result = fit(data, config, pretrained.record)

    held_paths = [p for p, h in zip(data.train.paths, data.held) if h]
    held_images, kept, errors = read_images(held_paths)
    if errors:
        raise SystemExit(f"unreadable training images: {errors}")
    dev_table = scan_tree(split_dirs(args.data)[1]).labelled
    dev_images, dev_kept, _ = read_images(dev_table["path"])
    splits = {"dev": (dev_images, np.array([CLASSES.index(c) for c in dev_table["label"]])[dev_kept]),
              "held-out": (held_images, data.train.y[data.held])}
    tuned_result = load_metrics(args.model)
    held = {"fine-tuned": tuned_result["comparison"][tuned_result["kept"]]["held_out"],
            "pretrained": base_result["comparison"][base_result["kept"]]["held_out"]}
    out = {"model": args.model, "backbone_finetuning": tuned_result["backbone_finetuning"],
           "logistic_c": {"fine-tuned": tuned.info.get("logistic_c"), "pretrained": baseline.info.get("logistic_c")},
           "held_out_all_views": held,
           **condition_rows({"fine-tuned": tuned, "pretrained": baseline}, splits)}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1))
    print("held-out part, all views (accuracy / macro-F1 / NLL): "
          + "; ".join(f"{name} {h['accuracy']:.2%} / {h['macro_f1']:.4f} / {h['nll']:.4f}" for name, h in held.items()))
    print("| images | backbone | " + " | ".join(CONDITIONS) + " |")
    print("|---|---|" + "---|" * len(CONDITIONS))
    for split in splits:
        for name in ("pretrained", "fine-tuned"):
            cells = [f"{f1:.4f} / {pvr:.2%}" for f1, pvr in (out[name][f"{split}/{c}"] for c in CONDITIONS)]
            print(f"| {split} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
