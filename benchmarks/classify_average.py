"""Averaging the calibrated probabilities of two or more classifiers: does the mean beat its members?

E.g. the shipped logistic regression and a ``--finetune-top`` model (``classify_finetune.py
--save-dir``). Each member reads its own descriptors (``info["inputs"]``) and applies its own
temperature; the mean decides ``doc_type`` by its most probable class and ``is_photo`` by a
threshold chosen on clean dev for the training's photo recall (as training chooses a member's).
Scored on the held-out part of train as the first model's training run split it (all views:
what decides between models; then clean and under each degradation) and on dev (for
information), macro-F1 / photo-vs-rest. Prints Markdown tables, and JSON with ``--json-out``.

    nohup nice -n 5 .venv/bin/python benchmarks/classify_average.py src/tounum/models/classifier \\
        /tmp/cls-ft/lr0.0001 > /tmp/cls-average.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from tounum.classify import metrics
from tounum.classify.augment import DEGRADATIONS
from tounum.classify.calibrate import photo_threshold
from tounum.classify.classifier import PHOTO, load_classifier
from tounum.classify.data import CLASSES, scan_tree
from tounum.classify.evaluate import predict_table
from tounum.classify.train import extract, train_files
from tounum.config import cache_dir
from shared_data import SHARED_DATA

CONDITIONS = ("clean", *DEGRADATIONS)


def probabilities(table: pd.DataFrame, clfs, condition: str) -> list[np.ndarray]:
    """Each classifier's calibrated probabilities (N, 5) on the images of ``table``, on its own backbone."""
    degrade = None if condition == "clean" else condition
    out = []
    for clf in clfs:
        rows, _ = predict_table(table, clf, degrade=degrade, cache=cache_dir() / "classify")
        out.append(rows[[f"p_{c}" for c in CLASSES]].to_numpy())
    return out


def scores(labels: list[str], probs: np.ndarray, threshold: float) -> str:
    r = metrics.report(labels, [CLASSES[i] for i in probs.argmax(1)], probs[:, PHOTO] >= threshold)
    return f"{r['macro_f1']:.4f} / {100 * r['photo_vs_rest']['accuracy']:.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="MODEL_DIR")
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype"), help="folder with train/ and dev/")
    parser.add_argument("--json-out", help="also write the results as JSON here")
    args = parser.parse_args()
    clfs = [load_classifier(m) for m in args.models]
    names = [Path(m).name for m in args.models] + ["mean"]
    config = clfs[0].training_config()

    # the held-out part of train, every view, each member on its own backbone and descriptors
    held_views = []
    for clf in clfs:
        data = extract(args.data, config, clf.backbone(), inputs=tuple(clf.inputs))
        x, y = data.rows("held")
        held_views.append(clf.predict(x).probs)
    view_labels = [CLASSES[i] for i in y]

    dev = scan_tree(Path(args.data) / "dev").labelled
    paths, labels, held = train_files(args.data, config, clfs[0].backbone())
    held_table = pd.DataFrame({"path": paths, "label": labels})[held].reset_index(drop=True)
    tables = {"held-out": held_table, "dev": dev}
    probs = {(split, c): probabilities(t, clfs, c) for split, t in tables.items() for c in CONDITIONS}
    for key, members in probs.items():
        members.append(np.mean(members, axis=0))
    held_views.append(np.mean(held_views, axis=0))
    dev_photo = np.asarray(dev["label"]) == "photo"
    thresholds = [clf.photo_threshold for clf in clfs]
    thresholds.append(photo_threshold(probs["dev", "clean"][-1][:, PHOTO], dev_photo, config.min_photo_recall))

    result = []
    for i, name in enumerate(names):
        row = {"model": name, "photo_threshold": thresholds[i],
               "held_out_all_views_accuracy": float(np.mean(held_views[i].argmax(1) == y)),
               "held_out_all_views": scores(view_labels, held_views[i], thresholds[i])}
        for (split, condition), members in probs.items():
            row[f"{split} {condition}"] = scores(list(tables[split]["label"]), members[i], thresholds[i])
        result.append(row)
    for split in tables:
        views = split == "held-out"
        print(f"\n{split} (macro-F1 / photo-vs-rest)\n")
        header = ["model", "photo threshold"] + (["all views: accuracy, macro-F1 / photo-vs-rest"] if views else [])
        print("| " + " | ".join(header + list(CONDITIONS)) + " |")
        print("|" + "---|" * (len(header) + len(CONDITIONS)))
        for r in result:
            cells = [r["model"], f"{r['photo_threshold']:.3f}"]
            if views:
                cells.append(f"{100 * r['held_out_all_views_accuracy']:.2f}%, {r['held_out_all_views']}")
            print("| " + " | ".join(cells + [r[f"{split} {c}"] for c in CONDITIONS]) + " |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
