"""The enhancement's descreening step: which images it fires on, what it costs and what it gains.

    nohup nice -n 5 .venv/bin/python benchmarks/enhance_descreen.py --json-out /tmp/enh-descreen.json \\
        > /tmp/enh-descreen.log 2>&1 &

1. Photographs without a screen (CBSD68, Set12, the 400 BSD training crops), clean and degraded
   (noise sigma 15 / 25 / 50, blur 1.5, JPEG 20): how many a screen detector of each minimum
   strength would descreen (``--strengths``; the classifier uses 30, ``EnhanceConfig`` its own),
   and for the clean ones, their strength and the PSNR against the original of the copy
   descreened by the low-pass and by the learned descreener: the cost of a fine lattice in a
   photo (fabric, a grid) read as a screen.
2. Printed images: doctype dev, every class, halftoned as in the classifier's robustness table
   (period 4, ``classify.augment.DEGRADATIONS``) and with the training views' range of periods
   and angles: how many each strength descreens, and the PSNR against the unprinted original of
   the halftoned input, of ``tounum.enhance.enhance`` with the learned descreener (the
   default), with the Gaussian low-pass (``descreener="gaussian"``), and without descreening
   (``descreen=False``: the policy before, which read the screen as noise); and the mean wall
   seconds per image of each.
3. Screen sizes: CBSD68 (481x321 photographs never trained on) halftoned with dot cells of
   ``--cells`` pixels (image i at 15 + 7i degrees), descreened with the measured period by the
   low-pass and by the learned descreener (which shrinks cells beyond its trained 6.5 pixels):
   mean PSNR against the original.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from tounum.classify.augment import DEGRADATIONS, random_halftone
from tounum.classify.data import read_images
from tounum.classify.train import photo_files
from tounum.config import EnhanceConfig
from tounum.enhance.degrade import add_gaussian_noise, gaussian_blur, halftone, jpeg_compress
from tounum.enhance.descreen import measure_screen, remove_screen, unscreen
from tounum.enhance.policy import enhance
from tounum.enhance.score import psnr
from shared_data import SHARED_DATA

PHOTO_SETS = {"CBSD68": "restoration/cbsd68", "Set12": "restoration/set12", "BSD train400": "restoration/train400_gray"}
CONDITIONS = {
    "clean": lambda im, i: im,
    "noise15": lambda im, i: add_gaussian_noise(im, 15, seed=i),
    "noise25": lambda im, i: add_gaussian_noise(im, 25, seed=i),
    "noise50": lambda im, i: add_gaussian_noise(im, 50, seed=i),
    "blur1.5": lambda im, i: gaussian_blur(im, 1.5),
    "jpeg20": lambda im, i: jpeg_compress(im, 20),
}


def images_of(folder: Path) -> tuple[list[np.ndarray], list[str]]:
    paths = photo_files(folder)
    images, kept, _ = read_images(paths)
    return images, [paths[i] for i in kept]


def photographs(strengths: list[float]) -> list[dict]:
    rows = []
    for name, sub in PHOTO_SETS.items():
        images, paths = images_of(SHARED_DATA / sub)
        for condition, make in CONDITIONS.items():
            screens = [measure_screen(make(im, i)) for i, im in enumerate(images)]
            row = {"set": name, "condition": condition, "n": len(images),
                   "descreened": {str(s): sum(sc.screened(s) for sc in screens) for s in strengths}}
            if condition == "clean":
                row["fired"] = [{"file": Path(p).name, "strength": round(sc.strength, 1),
                                 "psnr_low_pass_vs_original": round(psnr(im, remove_screen(im, sc.period)), 2),
                                 "psnr_learned_vs_original": round(psnr(im, unscreen(im, sc.period)), 2)}
                                for im, p, sc in zip(images, paths, screens) if sc.screened(min(strengths))]
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def printed(strengths: list[float], config: EnhanceConfig) -> list[dict]:
    images, _ = images_of(SHARED_DATA / "doctype" / "dev")
    rng = np.random.default_rng(0)
    screens_as = {
        "robustness halftone (period 4)": lambda im: DEGRADATIONS["halftone"](im),
        "training views' halftone": lambda im: random_halftone(im, rng),  # as scan_view draws them
    }
    policies = {"enhanced": dataclasses.replace(config, descreener="learned"),
                "enhanced, low-pass": dataclasses.replace(config, descreener="gaussian"),
                "enhanced without descreening": dataclasses.replace(config, descreen=False)}
    rows = []
    for name, make in screens_as.items():
        printed_images = [make(im) for im in images]
        screens = [measure_screen(x) for x in printed_images]
        scores = {"input": [psnr(im, x) for im, x in zip(images, printed_images)]}
        seconds = {}
        for policy, policy_config in policies.items():
            enhance(printed_images[0], policy_config)  # load the model outside the timing
            start = time.perf_counter()
            scores[policy] = [psnr(im, enhance(x, policy_config).pixels) for im, x in zip(images, printed_images)]
            seconds[policy] = round((time.perf_counter() - start) / len(images), 4)
        row = {"images": name, "n": len(images),
               "descreened": {str(s): sum(sc.screened(s) for sc in screens) for s in strengths},
               "mean_psnr_vs_original": {k: round(float(np.mean(v)), 2) for k, v in scores.items()},
               "seconds_per_image": seconds}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def screen_sizes(cells: list[float]) -> list[dict]:
    images, _ = images_of(SHARED_DATA / PHOTO_SETS["CBSD68"])
    rows = []
    for cell in cells:
        scores: dict[str, list[float]] = {"input": [], "low-pass": [], "learned": []}
        for i, im in enumerate(images):
            printed_image = halftone(im, cell, 15.0 + 7.0 * i)
            period = measure_screen(printed_image).period
            scores["input"].append(psnr(im, printed_image))
            scores["low-pass"].append(psnr(im, remove_screen(printed_image, period)))
            scores["learned"].append(psnr(im, unscreen(printed_image, period)))
        rows.append({"cell": cell, "n": len(images),
                     "mean_psnr_vs_original": {k: round(float(np.mean(v)), 2) for k, v in scores.items()}})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strengths", type=float, nargs="+", default=[30.0, 100.0],
                        help="minimum screen strengths to count (the smallest lists the clean photos it fires on)")
    parser.add_argument("--cells", type=float, nargs="+", default=[3.0, 4.0, 6.0, 8.0, 12.0],
                        help="dot cell sizes (pixels) of the screen-size table")
    parser.add_argument("--json-out", help="also write the results as JSON here")
    args = parser.parse_args()
    config = EnhanceConfig()
    result = {"enhance_min_strength": config.descreen_min_strength, "blur": config.descreen_blur,
              "descreener_weights": config.descreener_weights or "shipped",
              "photographs": photographs(args.strengths), "printed": printed(args.strengths, config),
              "screen_sizes": screen_sizes(args.cells)}
    heads = " | ".join(f"descreened at {s:g}" for s in args.strengths)
    print(f"\n| photographs | condition | n | {heads} |\n|---|---|---|{'---|' * len(args.strengths)}")
    for r in result["photographs"]:
        print(f"| {r['set']} | {r['condition']} | {r['n']} | " + " | ".join(str(v) for v in r["descreened"].values()) + " |")
    print("\nclean photographs read as screened:", *[f"{r['set']} {f}" for r in result["photographs"] for f in r.get("fired", [])],
          sep="\n  ")
    print(f"\n| printed images (doctype dev) | n | {heads} | PSNR vs original: input / enhanced (learned) /"
          f" enhanced (low-pass) / enhanced without descreening | seconds per image: learned / low-pass /"
          f" without |\n|---|---|{'---|' * len(args.strengths)}---|---|")
    for r in result["printed"]:
        p, t = r["mean_psnr_vs_original"], r["seconds_per_image"]
        print(f"| {r['images']} | {r['n']} | " + " | ".join(str(v) for v in r["descreened"].values())
              + f" | {p['input']} / {p['enhanced']} / {p['enhanced, low-pass']} / {p['enhanced without descreening']} dB"
              + f" | {t['enhanced']} / {t['enhanced, low-pass']} / {t['enhanced without descreening']} |")
    print("\n| CBSD68 halftoned, dot cell (pixels) | n | PSNR vs original: input / low-pass / learned |\n|---|---|---|")
    for r in result["screen_sizes"]:
        p = r["mean_psnr_vs_original"]
        print(f"| {r['cell']:g} | {r['n']} | {p['input']} / {p['low-pass']} / {p['learned']} dB |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
