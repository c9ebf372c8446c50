"""Probability a captioner puts on words no decoder emits (<pad>, <start>, <unk>), per checkpoint.

    .venv/bin/python benchmarks/caption_suppressed_mass.py --run ~/.cache/tounum/runs/captioner-scst \
        [--epochs 1 2 3] [--n 64]

Teacher-forced on the first reference caption of the first ``n`` Flickr8k dev images; prints, per
weights file (the shipped model first, then the run's ``checkpoint/epoch-NNN.weights.h5``), the
mean and largest softmax mass on those ids at the caption's real positions. Self-critical training
that leaves them in its softmax lets this mass grow (see the captioner's model card).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from shared_data import SHARED_DATA

FLICKR = SHARED_DATA / "captions" / "flickr8k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="training run folder (--out of tounum train captioner)")
    parser.add_argument("--epochs", type=int, nargs="*", default=None, help="default: every kept epoch")
    parser.add_argument("--n", type=int, default=64)
    args = parser.parse_args()

    from keras import ops

    from tounum.caption import SHIPPED_MODEL
    from tounum.caption.cli import _backbone
    from tounum.caption.decode import suppressed_ids
    from tounum.caption.features import dataset_grids
    from tounum.caption.store import load_model_dir
    from tounum.caption.text import encode_batch
    from tounum.caption.train import epoch_weights_path

    run = Path(args.run).expanduser()
    model, vocab, config = load_model_dir(run)
    data, grids = dataset_grids(FLICKR / "images", FLICKR / "captions.csv", FLICKR / "splits" / "dev.txt",
                                _backbone("squash"), "squash")
    features = np.asarray(grids.grid[grids.rows[:args.n]], np.float32)
    tokens = encode_batch(vocab, [caps[0] for caps in data.captions[:args.n]], config["train"]["max_words"])
    epochs = args.epochs if args.epochs is not None else sorted(
        int(p.name[6:9]) for p in (run / "checkpoint").glob("epoch-*.weights.h5"))
    weights = [("shipped model.weights.h5", SHIPPED_MODEL / "model.weights.h5")]
    weights += [(f"epoch {e}", epoch_weights_path(run, e)) for e in epochs]
    out = {}
    for name, path in weights:
        model.load_weights(path)
        logits, _ = model((features, tokens[:, :-1]), training=False)
        mass = np.asarray(ops.softmax(logits, -1))[..., list(suppressed_ids(vocab))].sum(-1)
        real = mass[tokens[:, 1:] != 0]
        out[name] = {"mean": round(float(real.mean()), 4), "max": round(float(real.max()), 4)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
