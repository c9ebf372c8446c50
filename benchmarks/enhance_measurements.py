"""How well the quality measurements work, on synthetic degradations of the restoration sets.

    .venv/bin/python benchmarks/enhance_measurements.py [--limit N] [--calibrate]

Noise estimator: relative error |estimate - sigma| / sigma per sigma (5..50), on clean and on
blurred (Gaussian 1.5) images of CBSD68 (colour) and Set12 (grey), 8-bit clipped. Sharpness:
``Quality.sharpness`` (noise-corrected reblur ratio) and the client's variance of the Laplacian
against blur (0..2.5) and noise (0..50). ``--calibrate`` instead prints the median reblur ratio
per blur on TRAIN images (train400_gray, Flickr8k train), the table in ``quality.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from tounum.enhance.degrade import degrade
from tounum.enhance.quality import estimate_noise, laplacian_variance, reblur_ratio
from shared_data import SHARED_DATA

DATA = SHARED_DATA / "restoration"


def load(folder: str, limit: int) -> list[np.ndarray]:
    out = []
    for path in sorted((DATA / folder).glob("*.png"))[:limit]:
        img = np.asarray(iio.imread(path))
        out.append(np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3])
    return out


def noise_table(sets: dict[str, list[np.ndarray]]) -> None:
    print("## Noise estimator: mean / max relative error, 8-bit clipped\n")
    print("| set | blur | " + " | ".join(f"sigma {s}" for s in (5, 10, 15, 25, 35, 50)) + " |")
    print("|---|---|" + "---|" * 6)
    for name, images in sets.items():
        for blur in (0.0, 1.5):
            cells = []
            for sigma in (5, 10, 15, 25, 35, 50):
                est = np.array([estimate_noise(degrade(im, noise=sigma, blur=blur, seed=i))
                                for i, im in enumerate(images)])
                err = np.abs(est - sigma) / sigma
                cells.append(f"{err.mean():.1%} / {err.max():.1%}")
            print(f"| {name} | {blur} | " + " | ".join(cells) + " |", flush=True)
    clean = {n: np.mean([estimate_noise(im) for im in ims]) for n, ims in sets.items()}
    print("\nEstimate on the clean images (their own noise): "
          + ", ".join(f"{n} {v:.2f}" for n, v in clean.items()) + "\n")


def sharpness_table(sets: dict[str, list[np.ndarray]]) -> None:
    print("## Sharpness vs blur and noise (means over images)\n")
    print("| set | blur | noise | sharpness (1 - reblur ratio) | variance of Laplacian |")
    print("|---|---|---|---|---|")
    for name, images in sets.items():
        for blur in (0.0, 1.0, 1.5, 2.0, 2.5):
            for sigma in (0, 5, 25, 50):
                degraded = [degrade(im, noise=sigma, blur=blur, seed=i) for i, im in enumerate(images)]
                sharp = np.mean([1 - reblur_ratio(d) for d in degraded])
                lap = np.mean([laplacian_variance(d) for d in degraded])
                print(f"| {name} | {blur} | {sigma} | {sharp:.3f} | {lap:.0f} |", flush=True)


def calibrate(limit: int) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from enhance_tune import train_images

    images = train_images(limit)
    for blur in (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        ratios = [reblur_ratio(degrade(im, blur=blur), 0.0) for im in images]
        print(f"blur {blur}: median ratio {np.median(ratios):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=1000, help="images per set")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()
    if args.calibrate:
        calibrate(min(args.limit, 10))
        return
    sets = {"CBSD68": load("cbsd68", args.limit), "Set12": load("set12", args.limit)}
    noise_table(sets)
    sharpness_table(sets)


if __name__ == "__main__":
    main()
