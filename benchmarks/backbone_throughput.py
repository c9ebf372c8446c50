"""Backbone throughput: images/s at batch 32, pooled only vs pooled + grid, and CPU settings.

    .venv/bin/python benchmarks/backbone_throughput.py [--runs 3] [--batches 4]

Each setting runs in its own process (oneDNN is chosen by an environment variable read when
TensorFlow loads): one warm-up batch (graph tracing), then ``--runs`` timed runs of
``--batches`` batches of 32 preprocessed 224x224 images; the table gives the median and the
best run (a setting still running after ``--budget`` seconds starts no further run; the runs
column says how many were timed). "features()" is the whole public call on 640x480 photos,
preprocessing included. bf16 rows also give the largest logit change against float32 and the
top-1 agreement on the five reference inputs, because speed that changes the answers is not
free. Prints a Markdown table. The machine is shared: the load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = {
    # name: (environment, precision policy, XLA, outputs)
    "fp32, pooled only": ({}, "float32", False, "pooled"),
    "fp32, pooled + grid (default)": ({}, "float32", False, "features"),
    "fp32, oneDNN off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "float32", False, "features"),
    "fp32, XLA jit_compile": ({}, "float32", True, "features"),
    "mixed_bfloat16": ({}, "mixed_bfloat16", False, "features"),
    "mixed_bfloat16, XLA": ({}, "mixed_bfloat16", True, "features"),
    "features() on 640x480 photos": ({}, "float32", False, "api"),
}
BATCH = 32


def worker(name: str, runs: int, batches: int, budget: float) -> dict:
    import keras
    import numpy as np

    _, policy, xla, outputs = SETTINGS[name]
    rng = np.random.default_rng(0)
    if outputs == "api":
        from tounum.backbone import load_backbone

        backbone = load_backbone()
        photos = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(BATCH)]
        step = lambda: backbone.features(photos, batch_size=BATCH)  # noqa: E731
        extra = {}
    else:
        from tounum.backbone.efficientnet_lite import efficientnet_lite0
        from tounum.backbone.samples import reference_inputs
        from tounum.backbone.weights import converted_weights_path

        keras.mixed_precision.set_global_policy(policy)
        full = efficientnet_lite0()
        full.load_weights(converted_weights_path())
        logits, pooled, grid = full.outputs
        model = keras.Model(full.inputs, pooled if outputs == "pooled" else [pooled, grid])
        model.compile(jit_compile=xla)
        x = rng.integers(0, 256, (BATCH, 224, 224, 3)).astype(np.float32)
        step = lambda: model.predict_on_batch(x)  # noqa: E731
        extra = {}
        if policy != "float32":
            full.compile(jit_compile=xla)
            _, ref_images = reference_inputs()
            ref = np.load(os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                       "backbone_reference.npz"))["logits"]
            got = np.asarray(full.predict_on_batch(ref_images.astype(np.float32))[0], np.float32)
            extra = {"max_logit_diff": float(np.abs(got - ref).max()),
                     "top1_agree": f"{int((got.argmax(1) == ref.argmax(1)).sum())}/{len(ref)}"}
    step()  # warm-up: tracing and compilation
    rates, began = [], time.perf_counter()
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(batches):
            step()
        rates.append(batches * BATCH / (time.perf_counter() - start))
        if time.perf_counter() - began > budget:
            break  # a setting this slow has answered the question already
    return {"median": statistics.median(rates), "best": max(rates), "runs": len(rates), **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--budget", type=float, default=60,
                        help="seconds per setting after which no further run starts")
    parser.add_argument("--only", help="one setting (used by the parent process)")
    args = parser.parse_args()
    if args.only:
        print(json.dumps(worker(args.only, args.runs, args.batches, args.budget)))
        return
    from tounum.backbone.weights import load_efficientnet_lite0

    load_efficientnet_lite0()  # convert once before the workers start
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    rows = []
    for name, (env, *_rest) in SETTINGS.items():
        proc = subprocess.run(
            [sys.executable, __file__, "--only", name, "--runs", str(args.runs),
             "--batches", str(args.batches), "--budget", str(args.budget)],
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
            capture_output=True, text=True, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append((name, result))
        print(f"{name}: {result}", file=sys.stderr)
    print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print("| setting (batch 32) | images/s median | images/s best | runs | "
          "bf16 max abs logit diff | top-1 agree |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        diff = f"{r['max_logit_diff']:.3g}" if "max_logit_diff" in r else ""
        print(f"| {name} | {r['median']:.1f} | {r['best']:.1f} | {r['runs']} | {diff} | "
              f"{r.get('top1_agree', '')} |")


if __name__ == "__main__":
    main()
