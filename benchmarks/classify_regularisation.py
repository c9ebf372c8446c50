"""The measured effect of each regulariser of the classification head (dropout, weight decay,
early stopping, augmentation), on the cached features of the doctype train/dev splits.

Trains the head once per setting (``tounum.classify.train.regularisation_study``) and prints a
Markdown table. ``--hidden 256`` studies a head with a hidden layer, where over-fitting shows more.

    nohup nice -n 5 .venv/bin/python benchmarks/classify_regularisation.py --hidden 0 \
        --extra-photos ../shared/data/captions/flickr8k/images &
"""

from __future__ import annotations

import argparse
import dataclasses

from tounum.classify.train import extract, regularisation_study
from tounum.config import ClassifyConfig
from shared_data import SHARED_DATA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype"))
    parser.add_argument("--hidden", type=int, default=0, help="hidden layer width of the head (0: none)")
    parser.add_argument("--extra-photos", default="", help="as `tounum train classifier --extra-photos` "
                                                           "(the shipped model: the Flickr8k images)")
    parser.add_argument("--csv-out", help="also write the table as CSV here")
    args = parser.parse_args()
    config = dataclasses.replace(ClassifyConfig(), hidden=args.hidden, extra_photos=args.extra_photos)
    study = regularisation_study(extract(args.data, config), config)
    print("| setting | " + " | ".join(study.columns) + " |")
    print("|---" * (len(study.columns) + 1) + "|")
    for name, row in study.iterrows():
        print(f"| {name} | " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |")
    if args.csv_out:
        study.to_csv(args.csv_out)


if __name__ == "__main__":
    main()
