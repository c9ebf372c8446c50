"""Backbone throughput: images/s at batch 32, pooled only vs pooled + grid, and CPU settings.

    .venv/bin/python benchmarks/backbone_throughput.py [--runs 5] [--batches 2]

All settings run in one process, warmed up (graph tracing, XLA compilation), then timed
round-robin, ``--runs`` rounds of ``--batches`` batches of 32 preprocessed 224x224 images, so
that the changing load of a shared machine falls on every setting alike; a setting slower than
5 images/s in its first round is not timed again. oneDNN is read from the environment when
TensorFlow loads, so "oneDNN off" runs afterwards in a second process. "features()" is the
whole public call on 640x480 photos, preprocessing included (also for EfficientNet-Lite2, the
classifier's backbone since 30 Nov 2026). bf16 rows also give the largest
logit change against the float32 reference and the top-1 agreement on its five inputs, because
speed that changes the answers is not free. Prints the load average and a Markdown table.
"images per CPU-second" divides by the CPU time this process got (all its threads), which
depends much less on what else runs on the machine than images/s does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# name: (precision policy, XLA, outputs). All run in one process, round-robin, so that the
# load of a shared machine drifts over every setting alike.
SETTINGS = {
    "fp32, pooled only": ("float32", False, "pooled"),
    "fp32, pooled + grid (default)": ("float32", False, "features"),
    "fp32, batch-norm layers kept (not folded)": ("float32", False, "features-bn"),
    "mixed_bfloat16, pooled + grid": ("mixed_bfloat16", False, "features"),
    "features() on 640x480 photos (default, resize included)": ("float32", False, "api"),
    "features(), EfficientNet-Lite2 at 260, fp32": ("float32", False, "api:efficientnet_lite2"),
    "features(), EfficientNet-Lite2 at 260, bfloat16 (the classifier's)": ("mixed_bfloat16", False,
                                                                          "api:efficientnet_lite2"),
    "fp32, XLA jit_compile": ("float32", True, "features"),
    "mixed_bfloat16, XLA jit_compile": ("mixed_bfloat16", True, "features"),
}
# The same as the default, in a second process started with oneDNN off.
ONEDNN_OFF = "fp32, pooled + grid, TF_ENABLE_ONEDNN_OPTS=0"
SLOW = 5.0  # images/s; a setting slower than this in its first run is not run again
BATCH = 32


def _step(name: str, policy: str, xla: bool, outputs: str, rng) -> tuple:
    """A callable running one batch of the setting, and its accuracy figures for bf16."""
    import keras
    import numpy as np

    if outputs.startswith("api"):
        from tounum.backbone import load_backbone
        from tounum.config import BackboneConfig

        backbone = load_backbone(BackboneConfig(name=outputs.partition(":")[2] or "efficientnet_lite0",
                                                precision="bfloat16" if policy == "mixed_bfloat16" else "float32"))
        photos = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(BATCH)]
        return (lambda: backbone.features(photos, batch_size=BATCH)), {}
    from tounum.backbone.efficientnet_lite import efficientnet_lite
    from tounum.backbone.samples import reference_inputs
    from tounum.backbone.weights import converted_weights_path

    batch_norm = outputs == "features-bn"
    keras.mixed_precision.set_global_policy(policy)
    try:
        full = efficientnet_lite(batch_norm=batch_norm)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    full.load_weights(converted_weights_path(batch_norm=batch_norm))
    logits, pooled, grid = full.outputs
    model = keras.Model(full.inputs, pooled if outputs == "pooled" else [pooled, grid])
    model.compile(jit_compile=xla)
    x = rng.integers(0, 256, (BATCH, 224, 224, 3)).astype(np.float32)
    extra = {}
    if policy != "float32":
        full.compile(jit_compile=xla)
        _, ref_images = reference_inputs()
        ref = np.load(os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                   "backbone_reference.npz"))["logits"]
        got = np.asarray(full.predict_on_batch(ref_images.astype(np.float32))[0], np.float32)
        extra = {"max_logit_diff": float(np.abs(got - ref).max()),
                 "top1_agree": f"{int((got.argmax(1) == ref.argmax(1)).sum())}/{len(ref)}"}
    return (lambda: model.predict_on_batch(x)), extra


def worker(names: list[str], runs: int, batches: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    steps, extras = {}, {}
    for name in names:
        steps[name], extras[name] = _step(name, *SETTINGS[name], rng)
        steps[name]()  # warm-up: tracing and compilation
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpu_rates: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(runs):
        for name, step in steps.items():
            if rates[name] and rates[name][0] < SLOW:
                continue  # answered: far too slow to matter
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(batches):
                step()
            rates[name].append(batches * BATCH / (time.perf_counter() - start))
            cpu_rates[name].append(batches * BATCH / (time.process_time() - cpu_start))
    return {name: {"median": statistics.median(r), "best": max(r), "runs": len(r),
                   "per_cpu_second": statistics.median(cpu_rates[name]), **extras[name]}
            for name, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.runs, args.batches)))
        return
    from tounum.backbone.weights import load_efficientnet_lite

    for batch_norm in (False, True):  # convert once before the workers start
        load_efficientnet_lite(batch_norm=batch_norm)
    load = [os.getloadavg()[0]]
    results = {}
    groups = [(list(SETTINGS), {}, None),
              (["fp32, pooled + grid (default)"], {"TF_ENABLE_ONEDNN_OPTS": "0"}, ONEDNN_OFF)]
    for names, env, rename in groups:
        proc = subprocess.run(
            [sys.executable, __file__, "--runs", str(args.runs), "--batches", str(args.batches),
             "--worker", *names],
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
            capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(proc.stderr[-3000:])
        for name, r in json.loads(proc.stdout.strip().splitlines()[-1]).items():
            results[rename or name] = r
            print(f"{rename or name}: {r}", file=sys.stderr)
        load.append(os.getloadavg()[0])
    print(f"load average (1 min) before/between/after: {', '.join(f'{x:.1f}' for x in load)} "
          f"on {os.cpu_count()} CPUs")
    print()
    print("| setting (batch 32) | images/s median | images/s best | runs | images per "
          "CPU-second | bf16 max abs logit diff | top-1 agree |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        diff = f"{r['max_logit_diff']:.3g}" if "max_logit_diff" in r else ""
        print(f"| {name} | {r['median']:.1f} | {r['best']:.1f} | {r['runs']} | "
              f"{r['per_cpu_second']:.1f} | {diff} | {r.get('top1_agree', '')} |")


if __name__ == "__main__":
    main()
