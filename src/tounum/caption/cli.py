"""``tounum caption``, ``tounum train captioner``, ``tounum evaluate captioner``."""

from __future__ import annotations

import argparse
import json
import logging
import sys

log = logging.getLogger(__name__)


def register(commands, train, evaluate) -> None:
    p = commands.add_parser("caption", help="caption photos (prints one line or JSON per image)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--beam", type=int, help="beam width; 1 = greedy (default: the model's setting)")
    p.add_argument("--model", default=None, help="captioner folder (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of text lines")
    p.set_defaults(func=caption_command)

    t = train.add_parser("captioner", help="train the captioner on cached backbone features")
    t.add_argument("--images", required=True, help="image folder")
    t.add_argument("--captions", required=True, help="captions.csv, Flickr8k.token.txt or COCO JSON")
    t.add_argument("--split", default=None, help="file of training image names (default: all)")
    t.add_argument("--dev-split", default=None, help="file of dev image names (early stopping)")
    t.add_argument("--dev-captions", default=None, help="dev caption file (default: --captions)")
    t.add_argument("--dev-images", default=None, help="dev image folder (default: --images)")
    t.add_argument("--out", default="captioner_model", help="model folder (resumes if it has a checkpoint)")
    for name, kind in (("epochs", int), ("batch-size", int), ("learning-rate", float),
                       ("label-smoothing", float), ("attention-reg", float), ("dropout", float),
                       ("lr-decay", float),
                       ("patience", int), ("units", int), ("embed-dim", int), ("seed", int),
                       ("samples", int), ("images-per-epoch", int)):
        t.add_argument(f"--{name}", type=kind, default=None)
    t.add_argument("--zero-init", action="store_true", help="zero initial state (no mean-feature init)")
    t.add_argument("--init-from", default=None, metavar="MODEL_DIR",
                   help="start from this model's weights and vocabulary (fine-tuning; fresh optimizer)")
    t.add_argument("--no-flip", action="store_true",
                   help="no mirrored-image augmentation (default: each caption sees its image or its mirror)")
    t.add_argument("--self-critical", action="store_true",
                   help="self-critical sequence training (CIDEr-D reward, leave-one-out baseline) of the "
                        "--init-from model; no mirrored view; --samples per image (default 5), "
                        "--images-per-epoch (default all); best epoch by dev CIDEr, beam 3")
    t.set_defaults(func=train_command)

    e = evaluate.add_parser("captioner", help="BLEU/METEOR/ROUGE-L/CIDEr of the captioner, as JSON")
    e.add_argument("--images", required=True)
    e.add_argument("--captions", required=True)
    e.add_argument("--split", default=None, help="image names to score (default: every captioned image)")
    e.add_argument("--model", default=None)
    e.add_argument("--beam", type=int, help="beam width (default: the model's setting)")
    e.add_argument("--alpha", type=float, default=None, help="length normalisation (default: the model's)")
    e.add_argument("--limit", type=int, default=None, help="score only the first N images")
    e.add_argument("--predictions", default=None, help="also write COCO results JSON here")
    e.add_argument("--json", action="store_true", help="(the output is always one JSON object)")
    e.set_defaults(func=evaluate_command)


def _backbone(resize: str):
    from tounum.backbone import load_backbone
    from tounum.config import BackboneConfig

    return load_backbone(BackboneConfig(resize=resize))


def caption_command(args: argparse.Namespace) -> int:
    from tounum.caption import load_captioner
    from tounum.io import ImageReadError, read_image

    captioner = load_captioner(args.model)
    pixels, paths, failed = [], [], 0
    for path in args.images:
        try:
            pixels.append(read_image(path).pixels)
            paths.append(path)
        except (ImageReadError, OSError) as exc:
            print(f"tounum caption: {exc}", file=sys.stderr)
            failed += 1
    captions = captioner.caption_images(pixels, beam=args.beam) if pixels else []
    if args.json:
        print(json.dumps([{"path": p, "caption": c.text, "score": round(c.score, 4)}
                          for p, c in zip(paths, captions)], indent=2))
    else:
        for p, c in zip(paths, captions):
            print(f"{p}\t{c.text}")
    return 1 if failed else 0


def train_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tounum.caption.features import dataset_grids
    from tounum.caption.text import mirror_caption
    from tounum.caption.train import TrainConfig, train

    overrides = {k: getattr(args, k) for k in ("epochs", "batch_size", "learning_rate", "label_smoothing",
                                               "attention_reg", "dropout", "patience", "units",
                                               "embed_dim", "seed", "lr_decay", "samples",
                                               "images_per_epoch") if getattr(args, k) is not None}
    if args.zero_init:
        overrides["init_from_features"] = False
    if args.no_flip or args.self_critical:
        overrides["flip"] = False
    if args.self_critical:
        if not args.init_from:
            print("tounum train captioner: --self-critical needs --init-from MODEL_DIR", file=sys.stderr)
            return 2
        overrides["self_critical"] = True
    config = replace(TrainConfig(), **overrides)
    backbone = _backbone("squash")  # Flickr8k is squashed to 224x224: train and caption alike
    data, grids = dataset_grids(args.images, args.captions, args.split, backbone, "squash")
    if not args.dev_split and not args.dev_captions:
        print("tounum train captioner: --dev-split or --dev-captions is needed for early stopping",
              file=sys.stderr)
        return 2
    dev, dev_grids = dataset_grids(args.dev_images or args.images, args.dev_captions or args.captions,
                                   args.dev_split, backbone, "squash")
    log.info("%d training and %d dev images; %d problems", len(data), len(dev),
             len(data.problems) + len(dev.problems))
    views = ()
    if config.flip:
        flipped, flipped_grids = dataset_grids(args.images, args.captions, args.split, backbone, "squash",
                                               view="flip")
        if flipped.images != data.images:
            print("tounum train captioner: the mirrored view lost other images than the original",
                  file=sys.stderr)
            return 2
        views = ((flipped_grids.grid, flipped_grids.rows,
                  [[mirror_caption(c) for c in caps] for caps in data.captions]),)
    extra = {"backbone": {"name": backbone.name, "version": backbone.version, "resize": "squash"},
             "decoding": {"beam": 3, "alpha": 0.7, "max_words": config.max_words},
             "data": {"images": str(args.images), "captions": str(args.captions), "split": args.split}}
    state = train((grids.grid, grids.rows, data.captions), (dev_grids.grid, dev_grids.rows, dev.captions),
                  args.out, config, extra, views, args.init_from)
    best = {"best_dev_cider": state["best_cider"]} if config.self_critical else {
        "best_dev_bleu4_greedy": state["best_bleu4"]}
    print(json.dumps({"best_epoch": state["best_epoch"], **best, "history": state["history"]}, indent=2))
    return 1 if data.problems or dev.problems else 0


def evaluate_command(args: argparse.Namespace) -> int:
    from tounum.caption import load_captioner
    from tounum.caption.evaluate import caption_dataset, score_captions
    from tounum.caption.features import dataset_grids

    captioner = load_captioner(args.model)
    data, grids = dataset_grids(args.images, args.captions, args.split, _backbone(captioner.resize),
                                captioner.resize)
    if args.limit is not None:
        keep = list(range(min(args.limit, len(data))))
        data, rows = data.subset(keep), grids.rows[keep]
    else:
        rows = grids.rows
    if not len(data):
        print("tounum evaluate captioner: no captioned images to score", file=sys.stderr)
        return 2
    captions = caption_dataset(captioner, grids.grid, rows, beam=args.beam, alpha=args.alpha)
    hypotheses = [c.text for c in captions]
    scores = score_captions(data.captions, hypotheses)
    scores.update(beam=captioner.beam if args.beam is None else args.beam,
                  alpha=captioner.alpha if args.alpha is None else args.alpha)
    if args.predictions:
        from pathlib import Path

        from tounum.caption.store import write_json

        write_json(args.predictions, [{"image_id": i, "file_name": Path(p).name, "caption": h}
                                      for i, (p, h) in enumerate(zip(data.images, hypotheses))])
    print(json.dumps(scores, indent=2))
    return 1 if data.problems else 0
