"""Dev figures of the learned restorer, written to ``tounum/models/restorer/metrics.json``.

    .venv/bin/python benchmarks/enhance_restorer_metrics.py [--n 40] [--weights PATH]

Flickr8k dev photos (the first N of splits/dev.txt; the restorer trained on the train split)
and Set12 (grey), each degraded with seeded noise 15/25/50, blur 1.5 + noise 2 and JPEG q20,
restored by the restorer alone (the automatic policy's figures are in benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from tounum.config import EnhanceConfig
from tounum.enhance.evaluate import evaluate_images
from tounum.enhance.restorer import WEIGHTS
from shared_data import SHARED_DATA

DATA = SHARED_DATA
CONDITIONS = {"sigma 15": dict(noise=15), "sigma 25": dict(noise=25), "sigma 50": dict(noise=50),
              "blur 1.5 + noise 2": dict(blur=1.5, noise=2), "JPEG q20": dict(jpeg=20)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--weights", default=str(WEIGHTS))
    parser.add_argument("--out", default=str(WEIGHTS.parent / "metrics.json"))
    args = parser.parse_args()
    flickr = DATA / "captions" / "flickr8k"
    names = (flickr / "splits" / "dev.txt").read_text().split()[:args.n]
    sets = {"flickr8k_dev": [np.asarray(iio.imread(flickr / "images" / n))[..., :3] for n in names],
            "set12": [np.repeat(np.asarray(iio.imread(p))[..., None], 3, axis=2)
                      for p in sorted((DATA / "restoration" / "set12").glob("*.png"))]}
    metrics = {"weights": Path(args.weights).name, "n_images": {k: len(v) for k, v in sets.items()},
               "results": []}
    for set_name, images in sets.items():
        for condition, degradation in CONDITIONS.items():
            config = EnhanceConfig(method="restorer", restorer_weights=args.weights)
            result = evaluate_images(images, config=config, **degradation)
            metrics["results"].append({"set": set_name, "condition": condition, **result})
            print(set_name, condition, result, flush=True)
    Path(args.out).write_text(json.dumps(metrics, indent=1) + "\n")


if __name__ == "__main__":
    main()
