"""What training a restorer costs on this machine: CPU seconds per training patch, per size.

The published networks that meet the sigma targets were trained on a GPU; CDnCNN-B (17 layers
of 64 channels) saw 128 x 3,000 patches of 50 x 50 per epoch (Zhang et al., IEEE TIP 2017).
This times the training step the project uses (`build_restorer`, Adam, MSE, as in
`tounum.enhance.train_restorer`) on batches of such patches, after a warm-up, for the shipped
size and larger ones, in float32 and (where the CPU has it) bfloat16 mixed precision, and
turns it into hours per epoch of that schedule. Speed does not depend on the pixel values, so
the patches are seeded noise. Usage::

    .venv/bin/python benchmarks/enhance_training_cost.py [--steps 6] [--batch 32] [--patch 50]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from tounum.enhance.restorer import RestorerSpec, build_restorer, native_bfloat16
from enhance_restorer_size import SIZES

EPOCH_PATCHES = 128 * 3000  # CDnCNN-B's patches per epoch


def seconds_per_patch(spec: RestorerSpec, batch: np.ndarray, steps: int) -> tuple[float, float]:
    """Median wall and CPU seconds per patch of one Adam/MSE training step, after two warm-up steps."""
    import keras

    model = build_restorer(spec)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mean_squared_error")
    for _ in range(2):  # graph tracing, allocation
        model.train_on_batch(batch, batch)
    wall, cpu = [], []
    for _ in range(steps):
        w0, c0 = time.perf_counter(), time.process_time()
        model.train_on_batch(batch, batch)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)) / len(batch), float(np.median(cpu)) / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps per setting")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--patch", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batch = rng.random((args.batch, args.patch, args.patch, 3), dtype=np.float32)
    precisions = ["float32"] + (["bfloat16"] if native_bfloat16() else [])
    rows = []
    for name, (width, depth) in SIZES.items():
        for precision in precisions:
            spec = RestorerSpec(width=width, depth=depth, precision=precision)
            wall, cpu = seconds_per_patch(spec, batch, args.steps)
            rows.append({"network": name, "parameters": build_restorer(spec).count_params(),
                         "precision": precision, "patches_per_s": round(1 / wall, 1),
                         "cpu_ms_per_patch": round(cpu * 1e3, 2),
                         "hours_per_cdncnn_epoch": round(EPOCH_PATCHES * wall / 3600, 2)})
            print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"patch": args.patch, "batch": args.batch, "cpus": os.cpu_count(),
                      "load_average_1min": round(os.getloadavg()[0], 2), "rows": rows}))


if __name__ == "__main__":
    main()
