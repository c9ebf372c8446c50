"""Dev scores of single epochs and of weight averages (Polyak) of epochs of one captioner training run.

    .venv/bin/python benchmarks/caption_averaging.py --run ~/.cache/tounum/runs/captioner-flip \
        --epochs 8 6-9 7-10 [--beam 3] [--alpha A] [--images DIR --captions FILE --split FILE]

Each candidate is one epoch (``8``) or a range whose weights are averaged (``6-9``); its model folder
is written to ``RUN/averaged/epochs-<candidate>`` (a folder that ``tounum evaluate captioner --model``
and ``tounum caption --model`` take as is) and scored on Flickr8k dev with the contract's decoding
(beam 3, the model's length normalisation unless ``--alpha``). Prints one JSON object: candidate ->
metrics; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from shared_data import SHARED_DATA

FLICKR = SHARED_DATA / "captions" / "flickr8k"


def epochs_of(candidate: str) -> list[int]:
    """``"7"`` -> [7]; ``"6-9"`` -> [6, 7, 8, 9]."""
    first, _, last = candidate.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the --out folder of `tounum train captioner`")
    parser.add_argument("--epochs", nargs="+", required=True, help="candidates: N or FIRST-LAST")
    parser.add_argument("--beam", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=None)
    parser.add_argument("--images", default=str(FLICKR / "images"))
    parser.add_argument("--captions", default=str(FLICKR / "captions.csv"))
    parser.add_argument("--split", default=str(FLICKR / "splits" / "dev.txt"))
    parser.add_argument("--limit", type=int, default=None, help="score only the first N images (a smoke test)")
    args = parser.parse_args()

    from tounum.backbone import load_backbone
    from tounum.caption import load_captioner
    from tounum.caption.evaluate import caption_dataset, score_captions
    from tounum.caption.features import dataset_grids
    from tounum.caption.train import average_checkpoints
    from tounum.config import BackboneConfig

    run = Path(args.run).expanduser()
    data = grids = None
    results = {}
    for candidate in args.epochs:
        model_dir = average_checkpoints(run, epochs_of(candidate), run / "averaged" / f"epochs-{candidate}")
        captioner = load_captioner(model_dir)
        if data is None:
            backbone = load_backbone(BackboneConfig(resize=captioner.resize))
            data, grids = dataset_grids(args.images, args.captions, args.split, backbone, captioner.resize)
            if args.limit is not None:
                data, grids.rows = data.subset(list(range(min(args.limit, len(data))))), grids.rows[:args.limit]
        start = time.perf_counter()
        texts = [c.text for c in caption_dataset(captioner, grids.grid, grids.rows, beam=args.beam,
                                                 alpha=args.alpha)]
        scores = score_captions(data.captions, texts)
        scores.update(model=str(model_dir), decode_seconds=round(time.perf_counter() - start, 1),
                      mean_words=round(sum(len(t.split()) for t in texts) / len(texts), 2))
        results[candidate] = scores
        print(candidate, json.dumps(scores), flush=True, file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
