"""Speed of the self-critical reward: tounum's CIDEr-D against pycocoevalcap's CIDEr(-D) scorer.

    .venv/bin/python benchmarks/caption_reward_speed.py [--n 30000]

Scores ``n`` captions (training captions of other images, as a stand-in for samples) against the
references of Flickr8k train images, as one SCST epoch over the 6,000 images with 5 samples does.
pycocoevalcap's "CIDEr" (the same CIDEr-D formula, but document frequencies of the scored set) is
timed on the same pairs for comparison; it rebuilds every reference vector on each call. Prints one JSON object. The CPU is
shared with other jobs: figures are a floor.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from shared_data import SHARED_DATA

FLICKR = SHARED_DATA / "captions" / "flickr8k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30000)
    args = parser.parse_args()

    from pycocoevalcap.cider.cider import Cider

    from tounum.caption.data import read_captions
    from tounum.caption.reward import CiderD
    from tounum.caption.text import normalize

    data = read_captions(FLICKR / "captions.csv", FLICKR / "images", FLICKR / "splits" / "train.txt")
    refs = data.captions
    rng = np.random.default_rng(0)
    images = rng.integers(0, len(refs), args.n)
    others = rng.integers(0, len(refs), args.n)
    candidates = [refs[o][int(rng.integers(len(refs[o])))] for o in others]

    start = time.perf_counter()
    scorer = CiderD(refs)
    build = time.perf_counter() - start
    start = time.perf_counter()
    ours = scorer.score(candidates, images)
    score = time.perf_counter() - start

    gts = {i: [normalize(r) for r in refs[im]] for i, im in enumerate(images)}
    res = {i: [normalize(c)] for i, c in enumerate(candidates)}
    start = time.perf_counter()
    _, coco = Cider().compute_score(gts, res)
    coco_seconds = time.perf_counter() - start
    print(json.dumps({"n_candidates": args.n, "train_images": len(refs),
                      "cider_d_build_seconds": round(build, 2), "cider_d_score_seconds": round(score, 2),
                      "cider_d_per_second": round(args.n / score),
                      "pycocoevalcap_cider_seconds": round(coco_seconds, 2),
                      "pycocoevalcap_per_second": round(args.n / coco_seconds),
                      "mean_cider_d": round(float(ours.mean()), 4), "mean_pycocoevalcap_cider": round(float(np.mean(coco)), 4),
                      "load_average_1min": round(os.getloadavg()[0], 2)}, indent=2))


if __name__ == "__main__":
    main()
