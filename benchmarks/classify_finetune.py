"""Fine-tuning the backbone's top layers (block15 + head conv) against the linear head, per learning rate.

The linear head is the logistic regression on the pretrained top's pooled vector and the style
statistics (what ships); each learning rate fine-tunes the top layers and the head together from
it (``tounum.classify.train.finetune_top``), early stopping on the held-out part of train. The
held-out part (all views) decides; dev columns, clean and under each degradation of the robustness
table (temperature from the held-out part, photo threshold from clean dev, as the training command
does), are for information. ``--save-dir`` writes each fine-tuned model as a model folder, which
``classify_robustness.py --model`` and ``classify_speed.py --against`` read.

    nohup nice -n 5 .venv/bin/python benchmarks/classify_finetune.py --lr 1e-4 3e-5 1e-5 \\
        --save-dir /tmp/cls-finetune --json-out /tmp/cls-finetune.json > /tmp/cls-finetune.log 2>&1 &
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
from tounum.classify.classifier import PHOTO, Classifier
from tounum.classify.data import CLASSES, scan_tree
from tounum.classify.features import pooled_views
from tounum.classify.topblocks import FINETUNE_BACKBONE
from tounum.classify.train import _scores, decisions, extract, finetune_top, linear_top, split_dirs, training_backbone
from tounum.config import ClassifyConfig, cache_dir
from shared_data import SHARED_DATA

CONDITIONS = ("clean", *DEGRADATIONS)


def dev_conditions(dev_dir: Path, backbone, descreen: dict[str, float] | None = None,
                   ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``[top, style]`` descriptors and labels of the dev images, clean and under each degradation
    (descreened as the training images were)."""
    table = scan_tree(dev_dir).labelled
    out = {}
    for name in CONDITIONS:
        feats = pooled_views(table["path"], backbone, degrade=None if name == "clean" else name,
                             cache=cache_dir() / "classify", inputs=("top", "style"), descreen=descreen)
        y = np.array([CLASSES.index(c) for c in table["label"]])
        out[name] = feats.pooled[0][feats.ok], y[feats.ok]
    return out


def row(name: str, clf: Classifier, data, dev: dict, epochs: int | None) -> dict:
    xv, yv = data.rows("held")
    held = _scores(clf.head, xv, yv)
    result = {"setting": name, "epochs": epochs, "holdout_accuracy": held["accuracy"], "holdout_nll": held["nll"]}
    for condition, (x, y) in dev.items():
        pred = clf.predict(x)
        report = metrics.report([CLASSES[i] for i in y], pred.doc_type, pred.is_photo)
        result[f"{condition}_macro_f1"] = report["macro_f1"]
        result[f"{condition}_photo_vs_rest"] = report["photo_vs_rest"]["accuracy"]
        result[f"{condition}_photo_vs_rest_argmax"] = metrics.binary(y == PHOTO, pred.probs.argmax(1) == PHOTO)["accuracy"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype"))
    parser.add_argument("--extra-photos", default=str(SHARED_DATA / "captions/flickr8k/images"))
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-4, 3e-5, 1e-5], help="fine-tuning learning rates")
    parser.add_argument("--epochs", type=int, default=12, help="at most this many epochs per rate")
    parser.add_argument("--json-out", help="also write the rows as JSON here")
    parser.add_argument("--save-dir", help="write each fine-tuned model to DIR/lr<rate>")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # the top layers are EfficientNet-Lite0's (tounum.classify.topblocks), in float32 as measured
    config = ClassifyConfig(extra_photos=args.extra_photos, finetune_top=True, finetune_epochs=args.epochs,
                            backbone=FINETUNE_BACKBONE, backbone_precision="float32")
    backbone = training_backbone(config)
    data = extract(args.data, config, backbone, inputs=("top", "style"))
    dev = dev_conditions(split_dirs(args.data)[1], backbone, data.descreen)
    info = {"kind": "finetuned_top", "inputs": ["top", "style"], "descreen": data.descreen,
            "backbone": backbone.record}
    linear, c = linear_top(data, config)
    rows = [row(f"linear head (logistic regression, C={c:g})",
                Classifier(linear, *decisions(linear, data, config), info), data, dev, None)]
    for lr in args.lr:
        tuned, history = finetune_top(data, linear, dataclasses.replace(config, finetune_learning_rate=lr))
        clf = Classifier(tuned, *decisions(tuned, data, config), {**info, "finetune_learning_rate": lr})
        if args.save_dir:
            clf.save(Path(args.save_dir) / f"lr{lr:g}")
        rows.append(row(f"fine-tuned, learning rate {lr:g}", clf, data, dev, int(np.argmin(history["val_loss"])) + 1))
        print(json.dumps(rows[-1]), flush=True)
    print("| setting | best epoch | held-out accuracy | held-out NLL | clean photo-vs-rest by argmax | "
          + " | ".join(f"{c}: macro-F1 / photo-vs-rest" for c in CONDITIONS) + " |")
    print("|---|" + "---|" * (4 + len(CONDITIONS)))
    for r in rows:
        cells = [str(r["epochs"] or ""), f"{100 * r['holdout_accuracy']:.2f}%", f"{r['holdout_nll']:.4f}",
                 f"{100 * r['clean_photo_vs_rest_argmax']:.2f}%"]
        cells += [f"{r[f'{c}_macro_f1']:.4f} / {100 * r[f'{c}_photo_vs_rest']:.2f}%" for c in CONDITIONS]
        print(f"| {r['setting']} | " + " | ".join(cells) + " |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
