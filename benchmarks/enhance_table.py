"""Restoration table: every method on CBSD68 (colour) and Set12 (grey) under each degradation.

    .venv/bin/python benchmarks/enhance_table.py [--limit N] [--methods auto,nlm] [--sets cbsd68]
        [--cache /tmp/enhance_table.jsonl] [--markdown]

Each cell is ``tounum.enhance.evaluate.evaluate_images`` (what ``tounum evaluate enhance``
prints): mean PSNR/SSIM of the restored images against the clean ones, and enhancement seconds
per megapixel (wall and CPU). Degradations are seeded (seed 0 + image index). Results are
appended to the cache as they come, so an interrupted run resumes; ``--markdown`` prints the
table from the cache.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from tounum.config import EnhanceConfig
from tounum.enhance.evaluate import evaluate_images
from shared_data import SHARED_DATA

DATA = SHARED_DATA / "restoration"
CONDITIONS = {  # name: degrade() arguments
    "sigma 15": dict(noise=15), "sigma 25": dict(noise=25), "sigma 50": dict(noise=50),
    "blur 1.0 + noise 2": dict(blur=1.0, noise=2), "blur 1.5 + noise 2": dict(blur=1.5, noise=2),
    "blur 2.0 + noise 2": dict(blur=2.0, noise=2), "JPEG q20": dict(jpeg=20), "clean": dict(),
}
METHODS = ("auto", "client", "client_nlm", "client_laplacian", "nlm", "bilateral", "wavelet",
           "unsharp", "wiener", "restorer", "none")


def load(folder: str, limit: int) -> list[np.ndarray]:
    out = []
    for path in sorted((DATA / folder).glob("*.png"))[:limit or None]:
        img = np.asarray(iio.imread(path))
        out.append(np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3])
    return out


def markdown(rows: list[dict]) -> str:
    lines = []
    for set_name in dict.fromkeys(r["set"] for r in rows):
        subset = [r for r in rows if r["set"] == set_name]
        conditions = list(dict.fromkeys(r["condition"] for r in subset))
        methods = [m for m in METHODS if any(r["method"] == m for r in subset)]
        n = max(r["n_images"] for r in subset)
        lines += [f"**{set_name}** ({n} images): PSNR dB / SSIM of the output (input in the "
                  "`none` row); last column: s/MP wall (CPU) averaged over conditions", "",
                  "| method | " + " | ".join(conditions) + " | s/MP |",
                  "|---|" + "---|" * (len(conditions) + 1)]
        for method in methods:
            cells, speeds = [], []
            for condition in conditions:
                hit = [r for r in subset if r["method"] == method and r["condition"] == condition]
                if hit:
                    r = hit[-1]
                    cells.append(f"{r['psnr_out']:.2f} / {r['ssim_out']:.3f}")
                    if method != "none":
                        speeds.append((r["seconds_per_megapixel"], r["cpu_seconds_per_megapixel"]))
                else:
                    cells.append("")
            speed = (f"{np.mean([s[0] for s in speeds]):.2f} ({np.mean([s[1] for s in speeds]):.2f})"
                     if speeds else "")
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {speed} |")
        lines.append("")
    return "\n".join(lines)


def parse_with_cache(parser: argparse.ArgumentParser, default_cache: str
                     ) -> tuple[argparse.Namespace, Path, list[dict]]:
    """Add ``--cache`` (JSON lines, appended as results come) and ``--markdown``; parse the
    command line and read the rows cached so far."""
    parser.add_argument("--cache", default=default_cache)
    parser.add_argument("--markdown", action="store_true", help="print the table from the cache")
    args = parser.parse_args()
    cache = Path(args.cache)
    rows = [json.loads(line) for line in cache.read_text().splitlines()] if cache.is_file() else []
    return args, cache, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0, help="first N images of each set")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--sets", default="cbsd68,set12")
    args, cache, rows = parse_with_cache(parser, "/tmp/enhance_table.jsonl")
    if args.markdown:
        print(markdown(rows))
        return
    done = {(r["set"], r["condition"], r["method"], r["n_images"]) for r in rows}
    for set_folder in args.sets.split(","):
        images = load(set_folder, args.limit)
        set_name = {"cbsd68": "CBSD68", "set12": "Set12"}[set_folder]
        for condition in args.conditions.split(","):
            for method in args.methods.split(","):
                if (set_name, condition, method, len(images)) in done:
                    continue
                start = time.perf_counter()
                result = evaluate_images(images, config=EnhanceConfig(method=method),
                                         **CONDITIONS[condition])
                row = {"set": set_name, "condition": condition, "method": method, **result}
                with open(cache, "a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{set_name} {condition} {method}: {result['psnr_in']:.2f} -> "
                      f"{result['psnr_out']:.2f} dB, {result['seconds_per_megapixel']:.2f} s/MP "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
