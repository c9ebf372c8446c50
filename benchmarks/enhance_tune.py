"""Tune the classical filters' strength per unit of sigma on TRAIN images (never on CBSD68/Set12).

    .venv/bin/python benchmarks/enhance_tune.py [--n 6]

Images: the first N of train400_gray (grey) and of the Flickr8k train split (colour photos),
degraded with seeded Gaussian noise at sigma 15/25/50. Prints PSNR and seconds per megapixel
for each setting; the chosen values are the defaults in ``tounum.enhance.filters`` and the
policy.
"""

from __future__ import annotations

import argparse
import itertools
import time

import imageio.v3 as iio
import numpy as np

from tounum.enhance import filters
from tounum.enhance.degrade import add_gaussian_noise
from tounum.enhance.quality import estimate_noise
from tounum.enhance.score import psnr
from shared_data import SHARED_DATA

DATA = SHARED_DATA


def train_images(n: int) -> list[np.ndarray]:
    gray = sorted((DATA / "restoration" / "train400_gray").glob("*.png"))[:n]
    flickr = DATA / "captions" / "flickr8k"
    names = (flickr / "splits" / "train.txt").read_text().split()[:n]
    imgs = [np.repeat(np.asarray(iio.imread(p))[..., None], 3, axis=2) for p in gray]
    return imgs + [np.asarray(iio.imread(flickr / "images" / name))[..., :3] for name in names]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=6)
    args = parser.parse_args()
    images = train_images(args.n)
    settings = {
        "nlm": [dict(h_ratio=r, template=t, search=s)
                for r, t, s in itertools.product((0.6, 0.7, 0.8, 0.9, 1.0, 1.15), (5, 7), (11, 15))],
        "bilateral": [dict(colour_ratio=r, spatial=s) for r, s in itertools.product((1.5, 2.0, 3.0), (1.5, 3.0))],
    }
    for sigma in (15, 25, 50):
        noisy = [add_gaussian_noise(img, sigma, seed=i) for i, img in enumerate(images)]
        est = [estimate_noise(x) for x in noisy]
        print(f"sigma {sigma}: noisy {np.mean([psnr(c, x) for c, x in zip(images, noisy)]):.2f} dB")
        for name, grid in settings.items():
            fn = getattr(filters, name)
            for params in grid:
                start = time.perf_counter()
                out = [fn(x, s, **params) for x, s in zip(noisy, est)]
                seconds = time.perf_counter() - start
                mp = sum(x.shape[0] * x.shape[1] for x in noisy) / 1e6
                gray_psnr = np.mean([psnr(c, o) for c, o in zip(images[:args.n], out[:args.n])])
                col_psnr = np.mean([psnr(c, o) for c, o in zip(images[args.n:], out[args.n:])])
                print(f"  {name} {params}: grey {gray_psnr:.2f} colour {col_psnr:.2f} dB, "
                      f"{seconds / mp:.2f} s/MP", flush=True)


if __name__ == "__main__":
    main()
