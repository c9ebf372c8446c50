"""Seconds per megapixel of restorer networks of several sizes on this machine.

The quality side of the trade-off for large networks is published (CDnCNN-B, 17 layers of 64
channels: 33.99 / 31.31 / 28.01 dB on CBSD68 at sigma 15 / 25 / 50); this measures its cost
here, through the same tiled `restore` the policy uses, with untrained weights (speed does not
depend on the weights). Usage::

    .venv/bin/python benchmarks/enhance_restorer_size.py [--megapixels 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from tounum.enhance.restorer import RestorerSpec, build_restorer, native_bfloat16, restore

SIZES = {  # name: (width, hidden layers between head and tail)
    "7 layers x 32 (shipped until 30 Nov)": (32, 5),
    "10 layers x 48 (shipped)": (48, 8),
    "CDnCNN size (17 layers x 64)": (64, 15),
}


def seconds_per_megapixel(spec: RestorerSpec, image: np.ndarray, repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds per megapixel of ``restore`` over ``repeats`` runs (after a warm-up)."""
    model = build_restorer(spec)
    restore(image[:spec.tile, :spec.tile], model, spec=spec)  # warm-up: graph tracing, allocation
    megapixels = image.shape[0] * image.shape[1] / 1e6
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        restore(image, model, spec=spec)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return min(wall) / megapixels, min(cpu) / megapixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    side = int(round((args.megapixels * 1e6) ** 0.5))
    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    precisions = ["float32"] + (["bfloat16"] if native_bfloat16() else [])
    rows = []
    for name, (width, depth) in SIZES.items():
        for precision in precisions:
            spec = RestorerSpec(width=width, depth=depth, tile=512, precision=precision)
            wall, cpu = seconds_per_megapixel(spec, image, args.repeats)
            rows.append({"network": name, "precision": precision, "wall_s_per_mp": round(wall, 2),
                         "cpu_s_per_mp": round(cpu, 2)})
            print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"image": f"{side}x{side}", "cpus": os.cpu_count(),
                      "load_average_1min": round(os.getloadavg()[0], 2), "rows": rows}))


if __name__ == "__main__":
    main()
