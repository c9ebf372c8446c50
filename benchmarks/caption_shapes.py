"""Captions of non-square photos under each backbone resize mode (squash / pad / crop).

    .venv/bin/python benchmarks/caption_shapes.py [--model DIR] [--beam 3]

The shipped model was trained on Flickr8k photos squashed to 224x224, so it captions with
``resize="squash"``; this prints what the other modes would say, on scikit-image's sample photos
(portrait, landscape and square) and on a wide panorama crop, for a human to judge.
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--beam", type=int, default=3)
    args = parser.parse_args()

    import skimage.data

    from tounum.backbone import RESIZE_MODES, load_backbone
    from tounum.caption import load_captioner
    from tounum.config import BackboneConfig

    photos = {name: getattr(skimage.data, name)() for name in
              ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")}
    photos["coffee_wide_strip"] = photos["coffee"][100:260]  # 160x600: a 3.75:1 panorama
    photos["rocket_tall_strip"] = photos["rocket"][:, 200:330]  # 427x130: a tall portrait
    captioner = load_captioner(args.model)
    table = {}
    for mode in RESIZE_MODES:
        grid = load_backbone(BackboneConfig(resize=mode)).features(list(photos.values())).grid
        for name, cap in zip(photos, captioner.caption(grid, beam=args.beam)):
            table.setdefault(name, {"shape": list(photos[name].shape[:2])})[mode] = cap.text
    print(json.dumps({"model_resize": captioner.resize, "captions": table}, indent=2))


if __name__ == "__main__":
    main()
