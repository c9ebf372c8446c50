"""Fine-tuning the whole EfficientNet-Lite2 on this CPU, then the shipped recipe on its features.

The last lever the issue names ("optionally fine-tuning the top blocks if it pays") for the Lite2
model, and the one earlier notes said needed a GPU: on the 2-core CPU an epoch of the whole
network over the 2966 fit images takes 2-3 minutes (benchmarks/README.md). The network (batch
norms folded, as at inference; ``pooled -> dropout 0.3 -> dense 5``, the dense layer started from
a logistic regression on the pretrained pooled vectors; with ``--with-style``, a head on the pooled
vector and the style statistics started from the shipped head itself, so that the network starts
as the shipped classifier) trains on the shipped model's training images, split and class-balanced as it was, each epoch on a fresh scan
view of every image (``scan_view`` with the shipped chances; the clean, descreened image one time
in six). Adam at ``--lr``; after every epoch the network's own head is scored on the held-out part
of train (its clean image and 5 recipe views); the epoch of lowest held-out NLL is kept (patience 2).

Its backbone then replaces the pretrained one in the shipped recipe (bfloat16 features: pooled
vector and style statistics of the clean image and 5 scan views; logistic regression with C chosen
on the held-out part; temperature; dev threshold), and both classifiers are scored on dev and on
the held-out images, clean and under each degradation of the robustness table (scan alone).

    nohup nice -n 5 .venv/bin/python benchmarks/classify_finetune_backbone.py --lr 1e-5 \\
        --json-out /tmp/cls-ftb.json > /tmp/cls-ftb.log 2>&1 &
    nohup nice -n 5 .venv/bin/python benchmarks/classify_finetune_backbone.py --lr 1e-5 --with-style \\
        --patience 4 --work /tmp/cls-ftb-style --json-out /tmp/cls-ftb-style.json > /tmp/cls-ftb-style.log 2>&1 &

TensorFlow on CPU is not bit-reproducible: a rerun gives a slightly different network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import queue
import threading
import time
from pathlib import Path

import keras
import numpy as np

from tounum.backbone import Backbone
from tounum.backbone.features import STYLE_LAYERS, with_style_output
from tounum.backbone.weights import load_efficientnet_lite
from tounum.classify import metrics
from tounum.classify.augment import DEGRADATIONS, scan_view
from tounum.classify.calibrate import nll
from tounum.classify.classifier import DEFAULT_MODEL_DIR, Classifier, load_metrics
from tounum.classify.data import CLASSES, read_images, scan_tree
from tounum.classify.features import descriptor, image_views, prepare
from tounum.classify.model import LinearStack, class_weights, train_logistic
from tounum.classify.train import extract, fit, split_dirs, train_files, training_backbone
from shared_data import SHARED_DATA

log = logging.getLogger("classify_finetune_backbone")
CONDITIONS = ("clean", *DEGRADATIONS)
START_C = 0.01  # the shipped head's C: the dense layer's start on the pretrained pooled vectors


def build_network(variant: str, start: LinearStack | None = None, dropout: float = 0.3):
    """``(trainable, base)``: the pretrained network (float32, batch norms folded) with the doctype head.

    Without ``start`` the head reads the pooled vector (its dense layer is set by the caller); with
    it, the pooled vector and the style statistics, standardised and weighted as ``start`` does
    (the shipped head), so that before training the network is the shipped classifier.
    """
    base = load_efficientnet_lite(variant=variant, precision="float32")
    x = base.outputs[1]
    if start is not None:  # the style statistics with a gradient that stays finite on a constant channel
        style = with_style_output(base, STYLE_LAYERS[variant], eps=1e-12).outputs[-1]
        x = keras.layers.Concatenate(name="descriptor")([x, style])
        x = keras.layers.Normalization(mean=start.mean, variance=start.scale ** 2, name="standardise")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    dense = keras.layers.Dense(len(CLASSES), name="doctype")
    logits = dense(x)
    if start is not None:
        dense.set_weights([start.weights[0], start.biases[0]])
    return keras.Model(base.inputs, [logits, base.outputs[1]], name="doctype_finetune"), base


def network_outputs(net, backbone: Backbone, images: list[np.ndarray], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(logits, pooled) of the network's own head, images resized as the backbone resizes them."""
    outs = [net.predict_on_batch(backbone.preprocess(images[s:s + batch]).astype(np.float32))
            for s in range(0, len(images), batch)]
    return np.concatenate([np.asarray(o[0]) for o in outs]), np.concatenate([np.asarray(o[1]) for o in outs])


def finetune(net, backbone: Backbone, images: list[np.ndarray], y: np.ndarray, fit_idx: np.ndarray,
             held_views: list[np.ndarray], held_y: np.ndarray, clf: Classifier, lr: float, epochs: int,
             patience: int, batch: int, weights_file: Path) -> list[dict]:
    """Train ``net`` on a fresh scan view of every fit image per epoch; keep the best held-out NLL."""
    config = clf.training_config()
    scan = {"grey": config.grey_views, "screen": config.halftone_views, "aged": config.aged_views}
    weights = class_weights(y[fit_idx])
    train_net = keras.Model(net.inputs, net.outputs[0])
    train_net.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def batches(epoch: int):
        order = np.random.default_rng([config.seed, epoch]).permutation(fit_idx)
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            views = []
            for j in idx:
                rng = np.random.default_rng([config.seed, epoch, int(j)])
                if rng.random() < 1 / 6:  # the clean image, as the classifier sees it
                    views.append(prepare([images[j]], clf.descreen)[0])
                else:
                    views.append(scan_view(images[j], rng, images[int(rng.integers(len(images)))], **scan))
            yield (backbone.preprocess(views).astype(np.float32), y[idx],
                   np.array([weights[int(k)] for k in y[idx]], np.float32))

    def held_nll() -> tuple[float, float]:
        logits, _ = network_outputs(net, backbone, held_views)
        return float((logits.argmax(1) == held_y).mean()), nll(logits, held_y)

    accuracy, loss = held_nll()
    history = [{"epoch": 0, "held_accuracy": accuracy, "held_nll": loss}]
    log.info("epoch %s", history[-1])
    best = (loss, 0)
    train_net.save_weights(weights_file)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        ready: queue.Queue = queue.Queue(maxsize=4)  # views are drawn in a thread while the network trains
        threading.Thread(target=lambda: [ready.put(b) for b in batches(epoch)] + [ready.put(None)], daemon=True).start()
        losses = []
        while (b := ready.get()) is not None:
            losses.append(float(train_net.train_on_batch(b[0], b[1], sample_weight=b[2])))
        accuracy, loss = held_nll()
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "held_accuracy": accuracy,
                        "held_nll": loss, "seconds": round(time.perf_counter() - t0)})
        log.info("epoch %s", history[-1])
        if loss < best[0]:
            best = (loss, epoch)
            train_net.save_weights(weights_file)
        elif epoch - best[1] >= patience:
            break
    train_net.load_weights(weights_file)
    return history


def finetuned_backbone(base, pretrained: Backbone, tag: str) -> Backbone:
    """A bfloat16 feature backbone (pooled, grid, style) with ``base``'s fine-tuned weights."""
    model = load_efficientnet_lite(variant=pretrained.name, precision=pretrained.precision)
    trained = {layer.name: layer for layer in base.layers if layer.weights}
    for layer in model.layers:
        if layer.name in trained:
            layer.set_weights(trained[layer.name].get_weights())
    logits, pooled, grid = model.outputs
    return Backbone(pretrained.name, f"{pretrained.version}-finetuned-{tag}", keras.Model(model.inputs, [pooled, grid, logits]),
                    lambda x: x, pretrained.resize, style_layers=STYLE_LAYERS[pretrained.name],
                    precision=pretrained.precision)


def condition_rows(classifiers: dict[str, tuple[Classifier, Backbone]],
                   splits: dict[str, tuple[list[np.ndarray], np.ndarray]]) -> dict[str, dict[str, list[float]]]:
    """Per classifier, ``split/condition`` -> [macro-F1, photo-vs-rest accuracy] on its backbone's
    features; each condition's images are degraded once for all classifiers."""
    rows: dict[str, dict[str, list[float]]] = {name: {} for name in classifiers}
    for condition in CONDITIONS:
        for split, (images, y) in splits.items():
            degraded = images if condition == "clean" else [DEGRADATIONS[condition](im) for im in images]
            for name, (clf, backbone) in classifiers.items():
                pred = clf.predict(descriptor(backbone.features(prepare(degraded, clf.descreen)), clf.inputs))
                report = metrics.report([CLASSES[i] for i in y], pred.doc_type, pred.is_photo)
                rows[name][f"{split}/{condition}"] = [report["macro_f1"], report["photo_vs_rest"]["accuracy"]]
                log.info("%s %s %s: %s", name, split, condition, rows[name][f"{split}/{condition}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA / "doctype"))
    parser.add_argument("--lr", type=float, default=1e-5, help="Adam learning rate of the fine-tuning")
    parser.add_argument("--epochs", type=int, default=6, help="at most this many epochs")
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--with-style", action="store_true",
                        help="the head reads the pooled vector and the style statistics, started from the shipped head")
    parser.add_argument("--weights", help="skip the fine-tuning: the network's weights saved by an earlier run")
    parser.add_argument("--work", default="/tmp/cls-ftb", help="folder for the weights and the classifier")
    parser.add_argument("--json-out", help="also write the results as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    shipped = Classifier.load(DEFAULT_MODEL_DIR)
    config = shipped.training_config()
    pretrained = training_backbone(config)
    paths, labels, held = train_files(args.data, config, pretrained)
    y = np.array([CLASSES.index(c) for c in labels])
    images, kept, errors = read_images(paths)
    if len(kept) != len(paths):
        raise SystemExit(f"unreadable training images: {errors}")
    fit_idx, held_idx = np.flatnonzero(~held), np.flatnonzero(held)
    scan = {"grey": config.grey_views, "screen": config.halftone_views, "aged": config.aged_views}
    held_views, held_y = [], []
    for j in held_idx:  # the recipe's views of each held-out image (drawn alone: no bleed-through)
        views = image_views([images[j]], [int(j)], config.augmented_views, config.seed, None, scan)
        held_views += prepare(views[0], shipped.descreen) + [v[0] for v in views[1:]]
        held_y += [y[j]] * len(views)

    net, base = build_network(pretrained.name, shipped.head if args.with_style else None)
    weights_file = Path(args.weights) if args.weights else work / "finetuned.weights.h5"
    if args.weights:
        keras.Model(net.inputs, net.outputs[0]).load_weights(weights_file)
        history = []
    else:
        if not args.with_style:
            _, pooled = network_outputs(net, pretrained, prepare([images[j] for j in fit_idx], shipped.descreen))
            start = train_logistic(pooled, y[fit_idx], c=START_C, balanced=True)
            net.get_layer("doctype").set_weights([start.weights[0] / start.scale[:, None],  # standardisation folded in
                                                  start.biases[0] - (start.mean / start.scale) @ start.weights[0]])
        history = finetune(net, pretrained, images, y, fit_idx, held_views, np.array(held_y), shipped, args.lr,
                           args.epochs, args.patience, args.batch, weights_file)

    # the weights' digest names the features, so that no cached feature of another network is read
    tuned = finetuned_backbone(base, pretrained, hashlib.sha256(weights_file.read_bytes()).hexdigest()[:12])
    clf, result = fit(extract(args.data, config, tuned, cache=work / "features"), config, tuned.record)
    clf.save(work / "classifier")
    dev_table = scan_tree(split_dirs(args.data)[1]).labelled
    dev_images, dev_kept, _ = read_images(dev_table["path"])
    splits = {"dev": (dev_images, np.array([CLASSES.index(c) for c in dev_table["label"]])[dev_kept]),
              "held-out": ([images[j] for j in held_idx], y[held_idx])}
    shipped_metrics = load_metrics()
    shipped_held = shipped_metrics["comparison"][shipped_metrics["kept"]]["held_out"]
    out = {"lr": args.lr, "history": history, "logistic_c": clf.info["logistic_c"],
           "held_out_all_views": {"finetuned": result["comparison"][result["kept"]]["held_out"], "shipped": shipped_held},
           **condition_rows({"finetuned": (clf, tuned), "shipped": (shipped, pretrained)}, splits)}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1))
    print(f"held-out part, all views (accuracy / macro-F1 / NLL): shipped "
          f"{shipped_held['accuracy']:.2%} / {shipped_held['macro_f1']:.4f} / {shipped_held['nll']:.4f}; fine-tuned "
          + "{accuracy:.2%} / {macro_f1:.4f} / {nll:.4f}".format(**out["held_out_all_views"]["finetuned"]))
    print("| images | backbone | " + " | ".join(CONDITIONS) + " |")
    print("|---|---|" + "---|" * len(CONDITIONS))
    for split in splits:
        for name in ("shipped", "finetuned"):
            cells = [f"{f1:.4f} / {pvr:.2%}" for f1, pvr in (out[name][f"{split}/{c}"] for c in CONDITIONS)]
            print(f"| {split} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
