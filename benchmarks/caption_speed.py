"""Photos captioned per second, features included: read + backbone (squash) + beam search.

    .venv/bin/python benchmarks/caption_speed.py [--images DIR] [--n 128] [--beam 3] [--batch 32]

Prints one JSON object. The CPU is shared with other jobs while this runs: figures are a floor.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from shared_data import SHARED_DATA

DEFAULT_IMAGES = SHARED_DATA / "captions" / "flickr8k" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=str(DEFAULT_IMAGES))
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--beam", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from tounum.backbone import load_backbone
    from tounum.caption import load_captioner
    from tounum.config import BackboneConfig
    from tounum.io import read_image

    paths = sorted(str(p) for p in Path(args.images).glob("*.jpg"))[-args.n:]  # dev-ish tail, fixed
    captioner = load_captioner(args.model)
    backbone = load_backbone(BackboneConfig(resize=captioner.resize))
    warm = [read_image(p).pixels for p in paths[: args.batch]]
    captioner.caption(backbone.features(warm, batch_size=args.batch).grid, beam=args.beam)  # warm-up
    t_read = t_features = t_decode = 0.0
    for start in range(0, len(paths), args.batch):
        t0 = time.perf_counter()
        pixels = [read_image(p).pixels for p in paths[start:start + args.batch]]
        t1 = time.perf_counter()
        grid = backbone.features(pixels, batch_size=args.batch).grid
        t2 = time.perf_counter()
        captioner.caption(grid, beam=args.beam, batch_size=args.batch)
        t3 = time.perf_counter()
        t_read, t_features, t_decode = t_read + t1 - t0, t_features + t2 - t1, t_decode + t3 - t2
    total = t_read + t_features + t_decode
    print(json.dumps({
        "n_images": len(paths), "beam": args.beam, "batch": args.batch,
        "photos_per_s": round(len(paths) / total, 1),
        "photos_per_s_decoding_only": round(len(paths) / t_decode, 1),
        "seconds": {"read": round(t_read, 2), "backbone": round(t_features, 2), "decode": round(t_decode, 2)},
        "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
