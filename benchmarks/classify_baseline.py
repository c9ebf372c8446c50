"""Train the client's from-scratch 3-convolution CNN (250x250) on the doctype train split, score dev.

Same train split, same held-out part of train for early stopping, same dev metrics as the shipped
classifier, so that the two can be compared line by line. Prints one JSON object.

    nohup nice -n 5 .venv/bin/python benchmarks/classify_baseline.py --json-out /tmp/baseline.json &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tounum.classify.baseline import BaselineConfig, score, squash, train_baseline
from tounum.classify.data import CLASSES, holdout_split, read_images, scan_tree
from tounum.config import cache_dir
from shared_data import SHARED_DATA


def load_split(root: Path, size: int) -> tuple[np.ndarray, list[str]]:
    table = scan_tree(root).labelled
    images, kept, errors = read_images(table["path"])
    for e in errors:
        print(f"skipped: {e}", file=sys.stderr)
    return squash(images, size), [table["label"][i] for i in kept]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype"), help="folder with train/ and dev/")
    parser.add_argument("--epochs", type=int, default=BaselineConfig.epochs)
    parser.add_argument("--json-out", help="also write the JSON here")
    args = parser.parse_args()
    config = BaselineConfig(epochs=args.epochs)

    t0 = time.perf_counter()
    x, labels = load_split(Path(args.data) / "train", config.input_size)
    x_dev, dev_labels = load_split(Path(args.data) / "dev", config.input_size)
    y = np.array([CLASSES.index(c) for c in labels])
    held = holdout_split(labels, seed=config.seed)
    t1 = time.perf_counter()
    model, history = train_baseline(x[~held], y[~held], x[held], y[held], config)
    t2 = time.perf_counter()
    (cache_dir() / "classify").mkdir(parents=True, exist_ok=True)
    model.save(cache_dir() / "classify" / "baseline.keras")
    result = {"model": "client 3-conv CNN from scratch, 250x250", "params": int(model.count_params()),
              "n_train": int((~held).sum()), "n_holdout": int(held.sum()), "epochs_run": len(history["loss"]),
              "train_seconds": round(t2 - t1, 1), "load_seconds": round(t1 - t0, 1),
              "history": {k: [round(float(v), 4) for v in vals] for k, vals in history.items()},
              "dev": score(model, x_dev, dev_labels)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text)


if __name__ == "__main__":
    main()
