"""Write a captioner ensemble folder from trained members (model folders or checkpoint weight files).

    .venv/bin/python benchmarks/caption_ensemble.py --out /tmp/ens-a src/tounum/models/captioner /tmp/cap-old \
        [~/.cache/tounum/runs/captioner-flip/checkpoint/epoch-010.weights.h5] [--beam 5 --alpha 1.0]

The folder is scored like any model with the contract command
``tounum evaluate captioner ... --split .../dev.txt --json --model OUT`` (its default decoding). Members must share
the vocabulary and model shape (refused otherwise).
"""

from __future__ import annotations

import argparse

from tounum.caption.store import save_ensemble_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="ensemble folder to write")
    parser.add_argument("members", nargs="+", help="model folders or .weights.h5 files")
    parser.add_argument("--beam", type=int, help="default beam width of the folder (else the first member's)")
    parser.add_argument("--alpha", type=float, help="default length normalisation (else the first member's)")
    args = parser.parse_args()
    decoding = {k: v for k, v in (("beam", args.beam), ("alpha", args.alpha)) if v is not None}
    print(save_ensemble_dir(args.out, args.members, decoding))


if __name__ == "__main__":
    main()
