"""The classifier on material from sources it was not trained on (a sanity check, not a tuning set).

Since 30 Nov 2026 COCO-mini and the demo scans also guard the choice of the style layers and of the
number of Flickr8k photos in train (``classify_style_layers.py --guard``): a candidate that loses
photos here is refused, so these figures are no longer wholly independent of the model's design.

- photos: the COCO-mini train and val images (159 photographs, longest side 320), and the
  restoration benchmarks' CBSD68 (68 colour photographs, 481x321) and Set12 (12 grey ones):
  every one should be ``is_photo``. (Flickr8k is not used here: the shipped model's photo class
  includes a sample of its images.) CBSD68 and Set12 were added on 30 Nov 2026, when they also
  helped choose between the Lite0 and Lite2 backbones.
- the pipeline demo's scans (``tounum.pipeline.demo.make_scans``): photos of scikit-image, typed
  pages and a real scanned page fragment, charts, flow diagrams, line drawings: photo-vs-rest.

Prints one JSON object: per source, the share called photo and the predicted class counts.

    .venv/bin/python benchmarks/classify_generalisation.py
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from tounum.classify.classifier import load_classifier
from tounum.classify.data import read_images
from tounum.pipeline.demo import make_scans
from shared_data import SHARED_DATA


def summary(pred, n: int) -> dict:
    return {"n": n, "called_photo": round(float(np.mean(pred.is_photo)), 4),
            "doc_type": dict(Counter(pred.doc_type).most_common())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", default=str(SHARED_DATA / "captions"), help="folder with coco_mini/")
    parser.add_argument("--restoration", default=str(SHARED_DATA / "restoration"), help="folder with cbsd68/, set12/")
    parser.add_argument("--model", help="classifier folder (default: the shipped one)")
    args = parser.parse_args()
    clf = load_classifier(args.model)
    root = Path(args.captions)
    sources = {"coco_mini_photos": sorted((root / "coco_mini").glob("*2017/*.jpg")),
               "cbsd68_photos": sorted((Path(args.restoration) / "cbsd68").glob("*.png")),
               "set12_photos": sorted((Path(args.restoration) / "set12").glob("*.png"))}
    result = {}
    for name, paths in sources.items():
        images = read_images([str(p) for p in paths])[0]
        result[name] = summary(clf.classify_images(images), len(images))
    scans = list(make_scans(long_side=640))
    pred = clf.classify_images([pixels for _, pixels in scans])
    result["demo_scans"] = {relpath: {"doc_type": d, "is_photo": bool(p)}
                            for (relpath, _), d, p in zip(scans, pred.doc_type, pred.is_photo)}
    truth = np.array([relpath.startswith("photos/") for relpath, _ in scans])
    result["demo_photo_vs_rest_accuracy"] = round(float(np.mean(truth == pred.is_photo)), 4)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
