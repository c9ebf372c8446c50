"""The automatic policy's guards on real line art and on clean / lightly noisy photographs.

    .venv/bin/python benchmarks/enhance_guard.py [--n 20]

1. Line art: the first N images of doctype dev sketch / schematic / text (and photo / painting
   for contrast), clean and with Gaussian noise sigma 10 / 25: how many read as line art, the
   patch noise estimate against the paper noise, what the policy did (share of images it left
   unchanged) and the PSNR of its output against the input.
2. No harm: CBSD68 (all 68) and the train images of ``enhance_tune.py`` (N grey + N colour),
   clean and at sigma 5 / 8: for each denoising the policy tried, the RMS change over the
   measured sigma (the quantity ``policy.MIN_CHANGE`` thresholds), and the worst output PSNR
   of the clean images against themselves.
"""

from __future__ import annotations

import argparse

import imageio.v3 as iio
import numpy as np

from tounum.config import EnhanceConfig
from tounum.enhance.degrade import add_gaussian_noise
from tounum.enhance.policy import enhance
from tounum.enhance.score import psnr
from enhance_table import load
from enhance_tune import train_images
from shared_data import SHARED_DATA

PSNR_CAP = 100.0


def doctype(cls: str, n: int) -> list[np.ndarray]:
    out = []
    for path in sorted((SHARED_DATA / "doctype" / "dev" / cls).iterdir())[:n]:
        img = np.asarray(iio.imread(path))
        out.append(np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3])
    return out


def line_art(n: int) -> None:
    print("| class | noise | line art | patch estimate (median) | paper noise (median) | "
          "unchanged | output vs input PSNR, min / median |")
    print("|---|---|---|---|---|---|---|")
    for cls in ("sketch", "schematic", "text", "photo", "painting"):
        images = doctype(cls, n)
        for sigma in (0, 10, 25):
            rows = []
            for i, img in enumerate(images):
                x = add_gaussian_noise(img, sigma, seed=i) if sigma else img
                r = enhance(x)
                rows.append((r.quality_before.is_line_art, r.quality_before.noise_sigma,
                             r.quality_before.flat_noise_sigma, np.array_equal(r.pixels, x),
                             min(psnr(x, r.pixels), PSNR_CAP)))
            a = np.array(rows, dtype=float)
            print(f"| {cls} | {sigma} | {int(a[:, 0].sum())}/{len(a)} | {np.median(a[:, 1]):.1f} | "
                  f"{np.median(a[:, 2]):.1f} | {int(a[:, 3].sum())}/{len(a)} | "
                  f"{a[:, 4].min():.1f} / {np.median(a[:, 4]):.1f} |", flush=True)


def no_harm(n: int) -> None:
    print("\n| images | noise | denoisings tried | kept | change/sigma of kept (min) | "
          "of undone (max) | worst output vs input (clean) or gain (noisy) dB |")
    print("|---|---|---|---|---|---|---|")
    sets = {"CBSD68": load("cbsd68", 0), f"train ({n} grey + {n} colour)": train_images(n)}
    for name, images in sets.items():
        for sigma in (0, 5, 8):
            kept, undone, worst = [], [], []
            for i, clean in enumerate(images):
                x = add_gaussian_noise(clean, sigma, seed=i) if sigma else clean
                r = enhance(x, EnhanceConfig())
                for step in r.steps:
                    if "change_over_sigma" in step:
                        undone.append(step["change_over_sigma"])
                    elif step.get("op") in ("bilateral", "nlm", "wavelet", "restorer"):
                        kept.append(float(np.sqrt(np.mean((x.astype(float) - r.pixels) ** 2)))
                                    / r.quality_before.noise_sigma)
                worst.append(min(psnr(x, r.pixels), PSNR_CAP) if not sigma
                             else psnr(clean, r.pixels) - psnr(clean, x))
            print(f"| {name} | {sigma} | {len(kept) + len(undone)} | {len(kept)} | "
                  f"{min(kept) if kept else float('nan'):.2f} | "
                  f"{max(undone) if undone else float('nan'):.2f} | {min(worst):.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    line_art(args.n)
    no_harm(args.n)


if __name__ == "__main__":
    main()
