"""`tounum enhance`, `tounum evaluate enhance` and `tounum train restorer`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

# Suffixes written as they came; anything else gets a PNG copy.
KEEP_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")


def register(commands: Any, train: Any, evaluate: Any) -> None:
    from tounum.config import ENHANCE_METHODS as methods
    parser = commands.add_parser(
        "enhance", help="write denoised/sharpened copies of images (originals untouched)",
        description="Measure each image's noise and blur and write an enhanced copy under DIR, "
                    "mirroring the input tree. One row per file on stdout: status, path, steps "
                    "or error. Exit 1 when some files failed.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--method", choices=methods, default=None,
                        help="auto (the policy, default) or one operation for every image")
    parser.add_argument("--config", metavar="FILE", help="TOML settings ([enhance] section)")
    parser.set_defaults(func=_enhance)

    ev = evaluate.add_parser(
        "enhance", help="degrade clean images, restore them blind, print PSNR/SSIM as JSON")
    ev.add_argument("folder", metavar="FOLDER", help="folder of clean images")
    ev.add_argument("--noise", type=float, default=0.0, metavar="SIGMA",
                    help="Gaussian noise sigma on 0..255")
    ev.add_argument("--blur", type=float, default=0.0, metavar="SIGMA",
                    help="Gaussian blur sigma in pixels (applied before the noise)")
    ev.add_argument("--jpeg", type=int, default=0, metavar="Q", help="JPEG quality (0: none)")
    ev.add_argument("--method", choices=methods, default="auto")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--limit", type=int, default=0, metavar="N", help="first N images only")
    ev.add_argument("--config", metavar="FILE", help="TOML settings ([enhance] section)")
    ev.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    ev.set_defaults(func=_evaluate)

    tr = train.add_parser("restorer", help="train the learned restorer (CPU, resumable)")
    from tounum.enhance import train_restorer

    train_restorer.add_arguments(tr)
    tr.set_defaults(func=train_restorer.run)


def _config(args: argparse.Namespace, method: str | None):
    from tounum import config as cfg

    enhance_config = (cfg.load(args.config) if args.config else cfg.Config()).enhance
    if method:
        enhance_config.method = method
    return enhance_config


def _enhance(args: argparse.Namespace) -> int:
    from pathlib import PurePosixPath

    from tounum import io as tio
    from tounum.enhance.policy import enhance

    config = _config(args, args.method)
    try:
        out_dir = tio.check_output_dir(args.out, args.inputs)
    except (tio.OutputPathError, OSError) as exc:
        print(f"tounum enhance: {exc}", file=sys.stderr)
        return 2
    manifest = tio.discover(args.inputs, checksum=False)
    if manifest.empty:
        print("tounum enhance: no input files found", file=sys.stderr)
        return 2
    failed = 0
    for row in manifest.itertuples():
        try:
            if row.error:
                raise ValueError(f"{row.relpath}: {row.error}")
            image = tio.read_image(row.path, root=row.root)
            result = enhance(image.pixels, config)
            suffix = PurePosixPath(row.output_relpath).suffix.lower()
            dest = tio.safe_output_path(out_dir, row.output_relpath,
                                        suffix=None if suffix in KEEP_SUFFIXES else ".png")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tio.write_image(result.pixels, dest)
            print(f"ok\t{row.relpath}\t{json.dumps(result.steps)}", flush=True)
        except (tio.ImageReadError, ValueError, OSError) as exc:
            failed += 1
            if isinstance(exc, tio.ImageReadError):
                message = f"{row.relpath}: {exc.reason}"
            else:
                message = str(exc) if str(exc).startswith(row.relpath) else f"{row.relpath}: {exc}"
            print(f"error\t{row.relpath}\t{message}", flush=True)
            log.error("%s", message)
    return 1 if failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    from tounum import io as tio
    from tounum.enhance.evaluate import KEYS, evaluate_images

    config = _config(args, args.method)
    manifest = tio.discover([args.folder], checksum=False)
    manifest = manifest[manifest["error"].isna()]
    if args.limit:
        manifest = manifest.head(args.limit)
    images = []
    for path, root in zip(manifest["path"], manifest["root"]):
        try:
            images.append(tio.read_image(path, root=root).pixels)
        except tio.ImageReadError as exc:
            log.warning("%s", exc)
    if not images:
        print(f"tounum evaluate enhance: no readable images in {args.folder}", file=sys.stderr)
        return 2
    result = evaluate_images(images, noise=args.noise, blur=args.blur, jpeg=args.jpeg,
                             config=config, seed=args.seed)
    print(json.dumps({key: result[key] for key in KEYS}))  # the documented keys, exactly
    return 0
