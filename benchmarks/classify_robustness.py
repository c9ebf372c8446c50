"""Dev metrics of the classifier on clean images and under each fixed degradation (issue 5 table).

Degradations (``tounum.classify.augment.DEGRADATIONS``): Gaussian noise sigma 15, Gaussian blur
sigma 1.5, JPEG quality 30, greyscale, halftone screening; applied to each dev image at its own
resolution before the backbone. Target: each loses at most 1 point of photo-vs-rest accuracy and of
five-class macro-F1. Prints a Markdown table, and JSON with ``--json-out``. ``--held-out DATA_DIR``
scores the held-out part of DATA_DIR's train instead, as the model's training run split it (its
``config``), which decides between models where dev must not.

    nohup nice -n 5 .venv/bin/python benchmarks/classify_robustness.py --json-out /tmp/robust.json &
    nohup nice -n 5 .venv/bin/python benchmarks/classify_robustness.py --held-out ../shared/data/doctype &
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from tounum.classify.augment import DEGRADATIONS
from tounum.classify.classifier import load_classifier
from tounum.classify.evaluate import predict_table, predict_tree, report
from tounum.classify.train import train_files
from tounum.config import ClassifyConfig, cache_dir
from shared_data import SHARED_DATA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype/dev"), help="class tree to score")
    parser.add_argument("--model", help="classifier folder (default: the shipped one)")
    parser.add_argument("--held-out", metavar="DATA_DIR", help="score the held-out part of DATA_DIR/train instead")
    parser.add_argument("--json-out", help="also write the results as JSON here")
    args = parser.parse_args()
    clf = load_classifier(args.model)
    backbone = clf.backbone()
    held = None
    if args.held_out:
        paths, labels, mask = train_files(args.held_out, ClassifyConfig(**clf.info["config"]), backbone)
        held = pd.DataFrame({"path": paths, "label": labels})[mask].reset_index(drop=True)
    rows = {}
    for name in [None, *DEGRADATIONS]:
        if held is None:
            table, _ = predict_tree(args.data, clf, backbone, degrade=name, cache=cache_dir() / "classify")
        else:
            table, _ = predict_table(held, clf, backbone, degrade=name, cache=cache_dir() / "classify")
        r = report(table)
        rows[name or "clean"] = {"n_images": r["n_images"], "accuracy": r["accuracy"], "macro_f1": r["macro_f1"],
                                 "photo_vs_rest": r["photo_vs_rest"]}
    clean = rows["clean"]
    print("| condition | images | 5-class accuracy | macro-F1 | photo-vs-rest accuracy | photo recall |"
          " photo precision | change: macro-F1 / photo-vs-rest (points) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        pvr = r["photo_vs_rest"]
        d_f1 = 100 * (r["macro_f1"] - clean["macro_f1"])
        d_pvr = 100 * (pvr["accuracy"] - clean["photo_vs_rest"]["accuracy"])
        print(f"| {name} | {r['n_images']} | {100 * r['accuracy']:.2f}% | {r['macro_f1']:.4f} |"
              f" {100 * pvr['accuracy']:.2f}% | {100 * pvr['recall']:.2f}% | {100 * pvr['precision']:.2f}% |"
              f" {d_f1:+.2f} / {d_pvr:+.2f} |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
