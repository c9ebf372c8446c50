"""``tounum train classifier``, ``tounum classify`` and ``tounum evaluate classifier``."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys

log = logging.getLogger(__name__)


def register(commands, train, evaluate) -> None:
    p = train.add_parser("classifier", help="train the document-type classifier on a class tree",
                         description="Train on DATA_DIR/train (threshold on DATA_DIR/dev) when they exist, "
                                     "else on DATA_DIR itself: one folder per class (Photo/, Paintings/, ...).")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--out", metavar="MODEL_DIR", help="model folder to write (default: <cache>/classify/model)")
    p.add_argument("--views", type=int, help="augmented views per training image (default from config)")
    p.add_argument("--extra-photos", metavar="DIR", help="folder of more photographs for the photo class "
                                                         "(a seeded sample of classify.extra_photos_max)")
    p.add_argument("--finetune-top", action="store_true",
                   help="also fine-tune the backbone's last block and head conv with the head, from the "
                        "logistic regression (classify.finetune_top); the held-out part of train decides")
    p.add_argument("--finetune-backbone", action="store_true",
                   help="then fine-tune the whole backbone with that head and fit the head again on its "
                        "features (classify.finetune_backbone; 2-3 minutes an epoch on a 2-core CPU); its "
                        "weights are saved in the model folder")
    p.add_argument("--config", metavar="FILE", help="TOML configuration ([classify] section)")
    p.set_defaults(func=run_train)

    p = commands.add_parser("classify", help="classify images: photo, painting, sketch, schematic, text")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", metavar="MODEL_DIR", help="classifier folder (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="one JSON list on stdout")
    p.set_defaults(func=run_classify)

    p = evaluate.add_parser("classifier", help="score the classifier on a class tree",
                            description="Five-class scores over the class folders; photo-vs-rest over every "
                                        "image (any other folder counts as not-photo).")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--model", metavar="MODEL_DIR", help="classifier folder (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--degrade", choices=["noise15", "blur1.5", "jpeg30", "grey", "halftone"],
                   help="degrade every image first (robustness)")
    p.set_defaults(func=run_evaluate)


def _config(args):
    from tounum import config

    return config.load(args.config) if getattr(args, "config", None) else config.Config()


def run_train(args: argparse.Namespace) -> int:
    import dataclasses

    from tounum.classify.train import train_classifier, write_model_card
    from tounum.config import cache_dir

    cfg = _config(args).classify
    if args.views is not None:
        cfg = dataclasses.replace(cfg, augmented_views=args.views)
    if args.extra_photos:
        cfg = dataclasses.replace(cfg, extra_photos=args.extra_photos)
    if args.finetune_top:
        cfg = dataclasses.replace(cfg, finetune_top=True)
    if args.finetune_backbone:
        cfg = dataclasses.replace(cfg, finetune_backbone=True)
    out = args.out or str(cache_dir() / "classify" / "model")
    command = " ".join(["tounum train classifier", shlex.quote(args.data_dir), "--out", shlex.quote(out)]
                       + (["--views", str(args.views)] if args.views is not None else [])
                       + (["--extra-photos", shlex.quote(args.extra_photos)] if args.extra_photos else [])
                       + (["--finetune-top"] if args.finetune_top else [])
                       + (["--finetune-backbone"] if args.finetune_backbone else [])
                       + (["--config", shlex.quote(args.config)] if args.config else []))
    try:
        result = train_classifier(args.data_dir, out, cfg, command=command)
    except (FileNotFoundError, ValueError) as exc:
        print(f"tounum: {exc}", file=sys.stderr)
        return 2
    write_model_card(out, result)
    dev = result.get("dev") or {}
    print(json.dumps({"model_dir": out, "kept": result["kept"], "dev_accuracy": dev.get("accuracy"),
                      "dev_macro_f1": dev.get("macro_f1"), "dev_photo_vs_rest": dev.get("photo_vs_rest")}))
    return 0


def run_classify(args: argparse.Namespace) -> int:
    from tounum.classify.classifier import load_classifier
    from tounum.classify.data import CLASSES, read_images

    clf = load_classifier(args.model)
    images, kept, errors = read_images(args.images)
    for e in errors:
        print(f"tounum: {e}", file=sys.stderr)
    rows = []
    if images:
        pred = clf.classify_images(images)
        for j, i in enumerate(kept):
            rows.append({"path": args.images[i], "doc_type": pred.doc_type[j], "is_photo": bool(pred.is_photo[j]),
                         "probs": {c: round(float(p), 4) for c, p in zip(CLASSES, pred.probs[j])}})
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['path']}\t{r['doc_type']}\t{r['probs'][r['doc_type']]:.3f}")
    return 1 if errors else 0


def run_evaluate(args: argparse.Namespace) -> int:
    from tounum.classify.classifier import load_classifier
    from tounum.classify.evaluate import predict_tree, report

    try:
        table, errors = predict_tree(args.data_dir, load_classifier(args.model), degrade=args.degrade)
    except FileNotFoundError as exc:
        print(f"tounum: {exc}", file=sys.stderr)
        return 2
    for e in errors:
        print(f"tounum: skipped {e}", file=sys.stderr)
    result = report(table)
    result["skipped"] = len(errors)
    if args.json:
        print(json.dumps(result))
    else:
        pvr = result["photo_vs_rest"]
        five = "n/a" if result["accuracy"] is None else f"{result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}"
        print(f"{result['n_images']} images; five-class accuracy {five}; photo-vs-rest accuracy "
              f"{pvr['accuracy']}, precision {pvr['precision']}, recall {pvr['recall']}")
    return 1 if errors else 0
