"""Dev scores of the shipped captioner under several decoding settings (greedy, beam widths, alpha).

    .venv/bin/python benchmarks/caption_decoding.py [--model DIR] [--images DIR --captions FILE --split FILE]
        [--settings BEAM:ALPHA ...]

Uses the grid feature cache (built on first use). Prints one JSON object: setting -> metrics.
"""

from __future__ import annotations

import argparse
import json
import time
from shared_data import SHARED_DATA

FLICKR = SHARED_DATA / "captions" / "flickr8k"
SETTINGS = (("greedy", 1, 0.0), ("beam3_alpha0", 3, 0.0), ("beam3_alpha0.7", 3, 0.7),
            ("beam3_alpha1", 3, 1.0), ("beam5_alpha0.7", 5, 0.7))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--images", default=str(FLICKR / "images"))
    parser.add_argument("--captions", default=str(FLICKR / "captions.csv"))
    parser.add_argument("--split", default=str(FLICKR / "splits" / "dev.txt"))
    parser.add_argument("--settings", nargs="+", metavar="BEAM:ALPHA",
                        help="beam width and length-normalisation alpha per setting (beam 1 = greedy); "
                             "default: greedy, beam 3 at alpha 0 / 0.7 / 1, beam 5 at 0.7")
    args = parser.parse_args()
    settings = SETTINGS if not args.settings else [
        (f"beam{b}_alpha{a}", int(b), float(a)) for b, a in (s.split(":") for s in args.settings)]

    from tounum.backbone import load_backbone
    from tounum.caption import load_captioner
    from tounum.caption.evaluate import caption_dataset, score_captions
    from tounum.caption.features import dataset_grids
    from tounum.config import BackboneConfig

    captioner = load_captioner(args.model)
    backbone = load_backbone(BackboneConfig(resize=captioner.resize))
    data, grids = dataset_grids(args.images, args.captions, args.split, backbone, captioner.resize)
    results = {}
    for name, beam, alpha in settings:
        start = time.perf_counter()
        captions = caption_dataset(captioner, grids.grid, grids.rows, beam=beam, alpha=alpha)
        seconds = time.perf_counter() - start
        texts = [c.text for c in captions]
        scores = score_captions(data.captions, texts)
        scores.update(decode_seconds=round(seconds, 1), mean_words=round(sum(len(t.split()) for t in texts) / len(texts), 2),
                      distinct_captions=len(set(texts)))
        results[name] = scores
        print(name, json.dumps(scores), flush=True, file=__import__("sys").stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
