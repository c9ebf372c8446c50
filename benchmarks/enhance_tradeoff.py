"""Quality against speed: every denoiser and the automatic policy on CBSD68 at sigma 15/25/50.

    .venv/bin/python benchmarks/enhance_tradeoff.py [--limit 24] [--weights W.h5]
        [--set cbsd68|flickr8k_dev] [--variants "A;B"] [--cache /tmp/enhance_tradeoff.jsonl]
        [--markdown]

Each cell is ``tounum.enhance.evaluate.evaluate_images`` (what ``tounum evaluate enhance``
prints) on the first ``--limit`` CBSD68 images, seeded noise (image i: seed i), with one
variant of ``EnhanceConfig``. Seconds per megapixel cover the whole ``enhance()`` call: the
two quality measurements (about 0.3-0.4 CPU s/MP) and the filter. Each variant is run once on
a small image first, so that TensorFlow's start-up and the model load are not counted. CPU
seconds (all threads) are what a shared machine distorts least; the load average is recorded.
Results are appended to the cache as they come (an interrupted run resumes).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import imageio.v3 as iio
import numpy as np

from tounum.config import EnhanceConfig
from tounum.enhance.degrade import add_gaussian_noise
from tounum.enhance.evaluate import evaluate_images
from tounum.enhance.policy import enhance
from enhance_table import load, parse_with_cache
from shared_data import SHARED_DATA

SIGMAS = (15, 25, 50)
VARIANTS = {  # label: EnhanceConfig arguments
    "client NLM (h 10, 7/15)": dict(method="client_nlm"),
    "NLM, h from measured sigma (5/11)": dict(method="nlm"),
    "bilateral, range 4 sigma": dict(method="bilateral"),
    "wavelet BayesShrink": dict(method="wavelet"),
    "restorer float32, tile 256": dict(method="restorer", restorer_precision="float32",
                                       restorer_tile=256),
    "restorer float32, tile 512": dict(method="restorer", restorer_precision="float32",
                                       restorer_tile=512),
    "restorer bfloat16, tile 128": dict(method="restorer", restorer_precision="bfloat16",
                                        restorer_tile=128),
    "restorer bfloat16, tile 512": dict(method="restorer", restorer_precision="bfloat16",
                                        restorer_tile=512),
    "restorer bfloat16, tile 512, 4-pass self-ensemble": dict(
        method="restorer", restorer_precision="bfloat16", restorer_tile=512, restorer_ensemble=4),
    "auto (default policy)": dict(method="auto"),
    "auto, restorer from sigma 5": dict(method="auto", learned_min_noise=5.0),
    "auto, no restorer": dict(method="auto", learned_min_noise=1000.0),
}


def flickr_dev(limit: int) -> list[np.ndarray]:
    flickr = SHARED_DATA / "captions" / "flickr8k"
    names = (flickr / "splits" / "dev.txt").read_text().split()[:limit or None]
    return [np.asarray(iio.imread(flickr / "images" / name))[..., :3] for name in names]


def markdown(rows: list[dict]) -> str:
    sigmas = sorted({r["sigma"] for r in rows})
    lines = ["| method | " + " | ".join(f"sigma {s}: dB / SSIM / CPU s/MP (wall)" for s in sigmas)
             + " |", "|---|" + "---|" * len(sigmas)]
    for label in dict.fromkeys(r["variant"] for r in rows):
        cells = []
        for sigma in sigmas:
            hit = [r for r in rows if r["variant"] == label and r["sigma"] == sigma]
            r = hit[-1] if hit else None
            cells.append(f"{r['psnr_out']:.2f} / {r['ssim_out']:.3f} / "
                         f"{r['cpu_seconds_per_megapixel']:.2f} ({r['seconds_per_megapixel']:.2f})"
                         if r else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    inputs = {r["sigma"]: r["psnr_in"] for r in rows}
    lines.append("| (noisy input) | " + " | ".join(f"{inputs[s]:.2f}" for s in sigmas) + " |")
    loads = [r["load"] for r in rows]
    lines += ["", f"{max(r['n_images'] for r in rows)} images; load average (1 min) during the "
              f"runs {min(loads):.1f}-{max(loads):.1f}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--weights", default="", help="restorer weights (default: shipped)")
    parser.add_argument("--variants", default="", help="labels separated by ; (default: all)")
    parser.add_argument("--sigmas", default=",".join(map(str, SIGMAS)))
    parser.add_argument("--set", default="cbsd68", choices=("cbsd68", "flickr8k_dev"),
                        help="flickr8k_dev: the first --limit photos of the Flickr8k dev split "
                             "(to choose policy settings without looking at CBSD68)")
    parser.add_argument("--gray", action="store_true",
                        help="the images' luminance as three equal channels (a grey dev set)")
    args, cache, rows = parse_with_cache(parser, "/tmp/enhance_tradeoff.jsonl")
    if args.gray:
        args.set += "_gray"
    if args.markdown:
        print(markdown([r for r in rows if r.get("set", "cbsd68") == args.set]))
        return
    images = load("cbsd68", args.limit) if args.set.startswith("cbsd68") else flickr_dev(args.limit)
    if args.gray:
        images = [np.repeat(np.rint(img @ [0.299, 0.587, 0.114]).astype(np.uint8)[..., None], 3, axis=2)
                  for img in images]
    rows = [r for r in rows if r.get("set", "cbsd68") == args.set]
    done = {(r["variant"], r["sigma"], r["n_images"]) for r in rows}
    labels = args.variants.split(";") if args.variants else list(VARIANTS)
    warm = add_gaussian_noise(images[0][:64, :64], 30)  # noisy: the auto policy loads its model
    for label in labels:
        config = EnhanceConfig(restorer_weights=args.weights, **VARIANTS[label])
        enhance(warm, config)
        for sigma in [int(x) for x in args.sigmas.split(",")]:
            if (label, sigma, len(images)) in done:
                continue
            result = evaluate_images(images, noise=sigma, config=config)
            row = {"set": args.set, "variant": label, "sigma": sigma,
                   "weights": args.weights or "shipped",
                   "load": os.getloadavg()[0], "time": time.strftime("%H:%M"), **result}
            with open(cache, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{label} sigma {sigma}: {result['psnr_in']:.2f} -> {result['psnr_out']:.2f} dB, "
                  f"{result['cpu_seconds_per_megapixel']:.2f} CPU s/MP, load {row['load']:.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
