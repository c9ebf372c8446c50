"""`tounum backbone IMAGE...` / `python -m tounum.backbone IMAGE...`: ImageNet top-5 self-check.

Prints each image's five most likely ImageNet classes: a quick way to see that the converted
weights are right (``--samples`` uses photos shipped with scikit-image: coffee should come out
as espresso or cup, chelsea as a cat).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    parser.add_argument("--samples", action="store_true",
                        help="also classify the scikit-image sample photos")
    parser.add_argument("--resize", choices=("pad", "crop", "squash"), default=None,
                        help="how images are fitted to the input (default: from --config, pad)")
    parser.add_argument("--config", help="TOML configuration file ([backbone] section)")
    parser.add_argument("--json", action="store_true", help="one JSON object per image")


def run(args: argparse.Namespace) -> int:
    """Handler: classify ``args.images`` (and samples); exit 1 if any image failed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notices
    from tounum import config as cfg
    from tounum.backbone.features import load_backbone
    from tounum.io import ImageReadError, read_image

    config = cfg.load(args.config).backbone if args.config else cfg.BackboneConfig()
    if args.resize:
        config.resize = args.resize
    if not args.images and not args.samples:
        print("tounum backbone: give IMAGE files or --samples", file=sys.stderr)
        return EXIT_USAGE
    names, pixels, failed = [], [], 0
    for path in args.images:
        try:
            pixels.append(read_image(path).pixels)
            names.append(path)
        except ImageReadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    if args.samples:
        from tounum.backbone.samples import sample_images

        for name, image in sample_images().items():
            names.append(f"skimage.data.{name}")
            pixels.append(image)
    backbone = load_backbone(config)
    for name, top in zip(names, backbone.imagenet_top5(pixels)):
        if args.json:
            print(json.dumps({"image": name, "top5": [{"class": c, "probability": round(p, 4)}
                                                      for c, p in top]}))
        else:
            print(name)
            for cls, p in top:
                print(f"  {p:6.3f}  {cls}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def register(commands: Any, train: Any, evaluate: Any) -> None:
    parser = commands.add_parser("backbone", help="ImageNet top-5 of images: backbone self-check")
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tounum.backbone", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    from tounum.config import ConfigError

    try:
        return run(args)
    except ConfigError as exc:
        print(f"tounum backbone: {exc}", file=sys.stderr)
        return EXIT_USAGE
