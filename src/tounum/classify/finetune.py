"""Fine-tuning the whole backbone together with the classifier's head, on fresh scan views.

    image ─scan view (new each epoch) or the clean image─▶ EfficientNet-Lite (float32, batch
        norms folded, every layer trainable) ─▶ pooled vector ┬▶ standardise ▶ dropout ▶ dense ▶ 5 logits
                    style statistics ─────────────────────────┘  (the fitted head's mean, scale, weights)

Before training the network is the classifier fitted on the pretrained features (its head is
the start), so fine-tuning moves it from there. Each epoch every training image is seen once, as
a new ``scan_view`` with the training run's chances (the clean, descreened image one time in
six), the classes weighted equally; after each epoch the network's own head is scored on the
held-out part of train (the clean image and the recipe's scan views of each), and the epoch of
lowest held-out NLL is kept. The training run (:func:`tounum.classify.train.train_classifier`)
then saves the backbone's weights (:func:`tounum.backbone.weights.save_tuned_weights`) and fits
the head again on the tuned network's bfloat16 features, as it did on the pretrained ones.
An epoch over 2966 images takes 2-3 minutes on a 2-core CPU (benchmarks/README.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from tounum.classify.augment import scan_view
from tounum.classify.calibrate import nll
from tounum.classify.data import CLASSES
from tounum.classify.features import image_views, prepare, scan_chances
from tounum.classify.model import LinearStack, class_weights
from tounum.config import ClassifyConfig, ConfigError

log = logging.getLogger(__name__)


def build_network(variant: str, style_layers: tuple[str, ...], head: LinearStack, dropout: float = 0.3) -> Any:
    """The trainable network ``images -> logits``, equal (dropout aside) to ``head`` on the pretrained features.

    Parameters
    ----------
    variant : "efficientnet_lite0" or "efficientnet_lite2"
    style_layers : layers whose statistics follow the pooled vector in the head's input; () for none
    head : a one-layer :class:`LinearStack` on ``[pooled, style]`` (the fitted classifier's)
    dropout : rate before the dense layer, while training

    Example
    -------
    >>> net = build_network("efficientnet_lite2", STYLE_LAYERS["efficientnet_lite2"], clf.head)  # doctest: +SKIP
    >>> net.output.shape  # doctest: +SKIP
    (None, 5)
    """
    import keras
    from keras import layers

    from tounum.backbone.features import with_style_output
    from tounum.backbone.weights import load_efficientnet_lite

    if len(head.weights) != 1:
        raise ConfigError("fine-tuning the backbone needs a head of one dense layer (classify.hidden = 0)")
    base = load_efficientnet_lite(variant=variant, precision="float32")
    x = base.outputs[1]  # pooled
    if style_layers:  # eps keeps the gradient finite on a channel constant over the image
        style = with_style_output(base, style_layers, eps=1e-12).outputs[-1]
        x = layers.Concatenate(name="descriptor")([x, style])
    x = layers.Normalization(mean=head.mean, variance=head.scale**2, name="standardise")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    dense = layers.Dense(len(CLASSES), name="doctype")
    logits = dense(x)
    dense.set_weights([head.weights[0], head.biases[0]])
    return keras.Model(base.inputs, logits, name="doctype_finetune")


def finetune_seed(config: ClassifyConfig) -> int:
    """The seed of the fine-tuning's views, order and dropout (``classify.seed`` unless set apart,
    since that one also draws the held-out split)."""
    return config.seed if config.finetune_backbone_seed < 0 else config.finetune_backbone_seed


def _epoch_batches(images: list[np.ndarray], y: np.ndarray, fit_idx: np.ndarray, epoch: int, backbone,
                   config: ClassifyConfig, descreen: dict[str, float] | None) -> Iterator[tuple]:
    """(pixels, labels, sample weights) batches of one epoch: a fresh view of every fit image."""
    scan = scan_chances(config)
    weights = class_weights(y[fit_idx])
    seed = finetune_seed(config)
    order = np.random.default_rng([seed, epoch]).permutation(fit_idx)
    for start in range(0, len(order), config.finetune_backbone_batch):
        idx = order[start:start + config.finetune_backbone_batch]
        views = []
        for j in idx:
            rng = np.random.default_rng([seed, epoch, int(j)])
            if rng.random() < 1 / (config.augmented_views + 1):  # the clean image, as the classifier sees it
                views.append(prepare([images[j]], descreen)[0])
            else:
                views.append(scan_view(images[j], rng, images[int(rng.integers(len(images)))], **scan))
        yield (backbone.preprocess(views).astype(np.float32), y[idx],
               np.array([weights[int(k)] for k in y[idx]], np.float32))


def _produce(ready: queue.Queue, batches: Iterator[tuple]) -> None:
    """Put ``batches`` on ``ready``, then None; or the exception that stopped them."""
    try:
        for batch in batches:
            ready.put(batch)
    except Exception as exc:  # the training loop raises it
        ready.put(exc)
        return
    ready.put(None)


def finetune_backbone(images: list[np.ndarray], y: np.ndarray, held: np.ndarray, head: LinearStack, backbone,
                      config: ClassifyConfig, descreen: dict[str, float] | None = None,
                      ) -> tuple[Any, list[dict[str, float]]]:
    """Fine-tune ``backbone``'s network with ``head`` on the training images; keep the best held-out NLL.

    Parameters
    ----------
    images : the training images, (H, W, 3) uint8
    y : (N,) class indices
    held : (N,) bool, the held-out part of train (scored after each epoch, never trained on)
    head : the classifier's head fitted on ``backbone``'s features (:func:`build_network`)
    backbone : tounum.backbone.Backbone, the pretrained one (name, style layers, resizing)
    config : ``finetune_backbone_*`` settings (learning rate, its cosine decay, epochs, patience,
        batch, seed), the scan views' chances, ``dropout``, ``seed`` (the held-out views)
    descreen : the classifier's descreening of the clean image (``Classifier.descreen``)

    Returns
    -------
    (the network's backbone part, a float32 EfficientNet-Lite with the tuned weights, for
    :func:`tounum.backbone.weights.save_tuned_weights`; per-epoch history: ``train_loss``,
    ``held_accuracy``, ``held_nll``, ``seconds``; epoch 0 is the start)
    """
    import keras

    keras.utils.set_random_seed(finetune_seed(config))
    net = build_network(backbone.name, backbone.style_layers, head, config.dropout)
    fit_idx, held_idx = np.flatnonzero(~held), np.flatnonzero(held)
    rate = config.finetune_backbone_learning_rate
    if config.finetune_backbone_decay:
        steps = -(-len(fit_idx) // config.finetune_backbone_batch) * config.finetune_backbone_epochs
        rate = keras.optimizers.schedules.CosineDecay(rate, steps)
    net.compile(keras.optimizers.Adam(rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    scan = scan_chances(config)
    held_views, held_y = [], []
    for j in held_idx:  # the recipe's views of each held-out image, as its features score them
        views = image_views([images[j]], [int(j)], config.augmented_views, config.seed, None, scan)
        held_views += prepare(views[0], descreen) + [v[0] for v in views[1:]]
        held_y += [y[j]] * len(views)
    held_y = np.array(held_y)

    def score() -> dict[str, float]:
        batch = config.finetune_backbone_batch
        logits = np.concatenate([np.asarray(net.predict_on_batch(backbone.preprocess(held_views[s:s + batch])
                                                                  .astype(np.float32)))
                                 for s in range(0, len(held_views), batch)])
        return {"held_accuracy": float((logits.argmax(1) == held_y).mean()), "held_nll": nll(logits, held_y)}

    history = [{"epoch": 0, **score()}]
    log.info("backbone fine-tuning, start: %s", history[-1])
    best, best_weights = (history[0]["held_nll"], 0), net.get_weights()
    for epoch in range(1, config.finetune_backbone_epochs + 1):
        t0 = time.perf_counter()
        ready: queue.Queue = queue.Queue(maxsize=4)  # views are drawn in a thread while the network trains
        threading.Thread(target=_produce, args=(ready, _epoch_batches(images, y, fit_idx, epoch, backbone, config,
                                                                      descreen)), daemon=True).start()
        losses = []
        while (batch := ready.get()) is not None:
            if isinstance(batch, Exception):
                raise batch
            losses.append(float(net.train_on_batch(batch[0], batch[1], sample_weight=batch[2])))
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), **score(),
                        "seconds": round(time.perf_counter() - t0)})
        log.info("backbone fine-tuning, epoch %s", history[-1])
        if history[-1]["held_nll"] < best[0]:
            best, best_weights = (history[-1]["held_nll"], epoch), net.get_weights()
        elif epoch - best[1] >= config.finetune_backbone_patience:
            break
    net.set_weights(best_weights)
    log.info("backbone fine-tuning: kept epoch %d (held-out NLL %.4f)", best[1], best[0])
    base = keras.Model(net.inputs, net.get_layer("pool").output, name=backbone.name)
    return base, history
