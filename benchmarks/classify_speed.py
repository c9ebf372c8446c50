"""Classification throughput, features included: images per second on this machine.

Two figures on N dev images (after a warm-up batch): from decoded arrays (backbone + head), and
from files (read + backbone + head), at the backbone's default batch size. Target: 80 images/s.
The machine is shared: run it when it is quiet, and read the load average printed with it.
``--style-overhead`` also times the backbone with and without its style statistics, alternately
(three rounds each), to show what they cost; ``--against MODEL_DIR`` times that classifier and the
one measured, alternately from arrays (three rounds each), so that a shared machine's load falls
on both alike (e.g. a ``--finetune-top`` model, whose top layers run after the backbone).

    .venv/bin/python benchmarks/classify_speed.py --n 256 --style-overhead
    .venv/bin/python benchmarks/classify_speed.py --n 256 --against /tmp/cls-ft-model
"""

from __future__ import annotations

import argparse
import json
import os
import time

from tounum.backbone.features import Backbone, _efficientnet_lite
from tounum.classify.classifier import load_classifier
from tounum.classify.data import read_images, scan_tree
from shared_data import SHARED_DATA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype/dev"))
    parser.add_argument("--n", type=int, default=256, help="images to time")
    parser.add_argument("--model", help="classifier folder (default: the shipped one)")
    parser.add_argument("--style-overhead", action="store_true",
                        help="also time backbone features with and without the style statistics")
    parser.add_argument("--against", metavar="MODEL_DIR", help="also time this classifier, alternately")
    args = parser.parse_args()
    table = scan_tree(args.data).table
    paths = list(table["path"].sample(frac=1.0, random_state=0)[: args.n])
    clf = load_classifier(args.model)
    backbone = clf.backbone()
    images, _, _ = read_images(paths)
    clf.classify_images(images[:32], backbone)  # warm-up: graph tracing

    t0 = time.perf_counter()
    clf.classify_images(images, backbone)
    arrays = time.perf_counter() - t0
    t0 = time.perf_counter()
    clf.classify_images(read_images(paths)[0], backbone)
    files = time.perf_counter() - t0
    result = {"n_images": len(images), "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
              "images_per_s_from_arrays": round(len(images) / arrays, 1),
              "images_per_s_from_files": round(len(images) / files, 1),
              "batch_size": backbone.batch_size}
    if args.style_overhead:
        # the same network, weights and precision, without the style output
        plain = Backbone(backbone.name, backbone.version, _efficientnet_lite(backbone.name, backbone.precision),
                         backbone._scale, backbone.resize, backbone.batch_size, precision=backbone.precision)
        plain.features(images[:32])
        rounds: dict[str, list[float]] = {"with_style": [], "without_style": []}
        for _ in range(3):
            for name, b in (("without_style", plain), ("with_style", backbone)):
                t0 = time.perf_counter()
                b.features(images)
                rounds[name].append(round(len(images) / (time.perf_counter() - t0), 1))
        result["backbone_images_per_s"] = rounds
    if args.against:  # each classifier on its own backbone
        other = load_classifier(args.against)
        other.classify_images(images[:32])
        rounds = {"model": [], "against": []}
        for _ in range(3):
            for name, c in (("against", other), ("model", clf)):
                t0 = time.perf_counter()
                c.classify_images(images)
                rounds[name].append(round(len(images) / (time.perf_counter() - t0), 1))
        result["classify_images_per_s"] = rounds
    if args.style_overhead or args.against:
        result["load_average_after"] = os.getloadavg()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
