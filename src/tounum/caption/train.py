"""Train the captioner on cached grid features: teacher forcing, checkpoints, early stopping.

The loop is nanoGPT-small: batches of captions bucketed by length, one compiled gradient step, a
checkpoint after every epoch (weights, optimizer state and history, each written atomically), and
the best epoch by dev BLEU-4 (greedy decoding) kept as the model. Rerunning the same command after
an interruption continues from the last finished epoch. Each epoch's weights are kept too, so that
a few of them can be averaged afterwards (:func:`average_checkpoints`). Augmented views of the
training images (the mirrored grid, with "left" and "right" swapped in its captions) are drawn per
caption at random.

Self-critical sequence training (Rennie et al. 2017, in the "new self-critical" form of Luo 2020)
fine-tunes a trained model on its own samples: K captions sampled per image, each rewarded with its
CIDEr-D against the image's references, minus the mean reward of the other K-1 as baseline. The
policy-gradient loss is the teacher-forced cross-entropy of the same train step on the sampled
captions, weighted per caption by that advantage; the best epoch is chosen by dev CIDEr with the
default beam search.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tounum.caption.store import load_model_dir, save_model_dir, save_weights, write_json
from tounum.caption.text import Vocabulary, build_vocabulary, encode_batch

log = logging.getLogger(__name__)
CHECKPOINT_DIR, STATE_FILE, HISTORY_FILE = "checkpoint", "state.json", "history.json"


@dataclass
class TrainConfig:
    embed_dim: int = 256
    units: int = 512
    attention_units: int = 256
    dropout: float = 0.4
    init_from_features: bool = True
    vocab_min_count: int = 5
    vocab_max_size: int = 5000
    max_words: int = 20  # longer training captions are cut (97% of Flickr8k fit)
    batch_size: int = 64
    epochs: int = 20
    learning_rate: float = 1e-3
    lr_decay: float = 0.9  # per epoch
    clip_norm: float = 5.0
    label_smoothing: float = 0.1
    attention_reg: float = 1.0  # doubly stochastic attention weight; 0 turns it off
    flip: bool = True  # each caption sees its image or the mirrored image, at random
    patience: int = 4  # epochs without a better dev BLEU-4 (self-critical: CIDEr) before stopping
    seed: int = 0
    self_critical: bool = False  # SCST from an --init-from model (no smoothing, no attention term)
    samples: int = 5  # captions sampled per image (self-critical); batch_size // samples images a step
    images_per_epoch: int = 0  # self-critical: a seeded subset of the training images per epoch; 0 = all


@dataclass
class CaptionData:
    """Training or dev captions flattened: one row per caption, with its image's grid row."""

    grid: np.ndarray  # (rows, 49, C) float16 memmap
    image_rows: np.ndarray  # (n_images,) grid row of each image
    references: list[list[str]]  # raw captions per image
    caption_image: np.ndarray  # (n_captions,) index into image_rows
    tokens: np.ndarray  # (n_captions, max_words + 2) int32
    views: tuple = ()  # augmented views: (grid, image_rows, tokens) each, aligned with the above


def flatten(grid: np.ndarray, image_rows: np.ndarray, references: list[list[str]],
            vocab: Vocabulary, max_words: int) -> CaptionData:
    """One row per caption, encoded with ``vocab``."""
    caption_image = np.array([i for i, caps in enumerate(references) for _ in caps], dtype=np.int64)
    tokens = encode_batch(vocab, [c for caps in references for c in caps], max_words)
    return CaptionData(grid, image_rows, references, caption_image, tokens)


def length_batches(tokens: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Caption indices in batches of similar length (less padding), in random order when ``rng``."""
    lengths = (tokens != 0).sum(1) + (rng.random(len(tokens)) if rng is not None else 0)
    order = np.argsort(lengths, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def _batch(data: CaptionData, idx: np.ndarray, rng: np.random.Generator | None = None):
    """Features (float32) and tokens trimmed to the batch's longest caption, rounded up to 4.

    With ``rng``, each caption takes its view (the original or one of ``data.views``) at random.
    """
    sources = [(data.grid, data.image_rows, data.tokens), *data.views]
    choice = rng.integers(0, len(sources), len(idx)) if rng is not None else np.zeros(len(idx), int)
    features = np.empty((len(idx), *data.grid.shape[1:]), np.float32)
    tokens = np.empty((len(idx), data.tokens.shape[1]), data.tokens.dtype)
    for k, (grid, image_rows, view_tokens) in enumerate(sources):
        pick = np.flatnonzero(choice == k)
        if len(pick):
            features[pick] = grid[image_rows[data.caption_image[idx[pick]]]]
            tokens[pick] = view_tokens[idx[pick]]
    return features, _trim(tokens)


def _trim(tokens: np.ndarray) -> np.ndarray:
    """Tokens cut to the longest caption rounded up to 4 (fewer distinct shapes to compile)."""
    width = int((tokens != 0).sum(1).max())
    return tokens[:, :min(tokens.shape[1], -(-width // 4) * 4 + 1)]  # +1: inputs and targets are shifted


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_steps(model, optimizer, config: TrainConfig, excluded: tuple[int, ...] = ()):
    """Compiled train and loss steps for the TensorFlow backend (teacher forcing).

    ``train_step(features, tokens, weights)`` weights each caption's loss (ones for plain
    training, advantages for self-critical training, which drops label smoothing, the
    attention term and dropout: its loss is the policy gradient alone, of the very model, in
    inference mode, that sampled the captions, over the words the sampler can draw: ``excluded``
    ids are ruled out of its softmax; not of ``loss_step``'s, whose references may hold <unk>).
    """
    import keras
    import tensorflow as tf

    from tounum.caption.model import caption_loss

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("training uses the TensorFlow backend (KERAS_BACKEND=tensorflow)")

    smoothing, attention_reg = ((0.0, 0.0) if config.self_critical
                                else (config.label_smoothing, config.attention_reg))
    dropout = not config.self_critical

    def losses(features, tokens, training, weights=None, excluded=()):
        logits, alphas = model((features, tokens[:, :-1]), training=training)
        return caption_loss(tokens[:, 1:], logits, alphas, label_smoothing=smoothing,
                            attention_reg=attention_reg, weights=weights, excluded=excluded)

    @tf.function
    def train_step(features, tokens, weights):
        with tf.GradientTape() as tape:
            total, cross_entropy = losses(features, tokens, dropout, weights, excluded)
        grads = tape.gradient(total, model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, config.clip_norm)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return total, cross_entropy

    @tf.function
    def loss_step(features, tokens):
        return losses(features, tokens, False)

    return train_step, loss_step


def dev_loss(loss_step, data: CaptionData, batch_size: int) -> float:
    """Mean cross-entropy (no smoothing weight change) over the dev captions."""
    total, n = 0.0, 0
    for idx in length_batches(data.tokens, batch_size, None):
        features, tokens = _batch(data, idx)
        total += float(loss_step(features, tokens)[1]) * len(idx)
        n += len(idx)
    return total / max(n, 1)


def dev_bleu4(model, vocab: Vocabulary, data: CaptionData, max_words: int) -> float:
    """Corpus BLEU-4 of greedy captions on the dev images (simple tokenisation; fast monitor)."""
    from tounum.caption.decode import greedy
    from tounum.caption.evaluate import bleu_simple

    texts = []
    for start in range(0, len(data.image_rows), 128):
        rows = data.image_rows[start:start + 128]
        grid = np.asarray(data.grid[rows], dtype=np.float32)
        texts += [h.text for h in greedy(model, vocab, grid, max_words + 2)]
    return bleu_simple(data.references, texts)[3]


def dev_scores(model, vocab: Vocabulary, config: dict, data: CaptionData) -> dict:
    """COCO metrics of the default decoding (beam 3) on the dev images; ``config`` as in config.json."""
    from tounum.caption.captioner import Captioner
    from tounum.caption.evaluate import caption_dataset, score_captions

    captioner = Captioner(model, vocab, config, ".")
    texts = [c.text for c in caption_dataset(captioner, data.grid, data.image_rows)]
    return score_captions(data.references, texts)


def sampled_tokens(hypotheses: list, vocab: Vocabulary, max_words: int) -> np.ndarray:
    """``(N, max_words + 2)`` padded ids ``<start> words <end>`` of sampled captions, as training
    targets; a sample that ran out of steps gets no ``<end>`` (it never emitted one).

    Example
    -------
    >>> from tounum.caption.decode import Hypothesis
    >>> v = Vocabulary(("<pad>", "<start>", "<end>", "<unk>", "a"))
    >>> sampled_tokens([Hypothesis("a", [4], 0.0, None), Hypothesis("a a a", [4, 4, 4], 0.0, None)], v, 1).tolist()
    [[1, 4, 2], [1, 4, 4]]
    """
    out = np.zeros((len(hypotheses), max_words + 2), dtype=np.int32)
    for row, h in enumerate(hypotheses):
        ids = [vocab.start_id, *h.tokens, vocab.end_id][:max_words + 2]
        out[row, :len(ids)] = ids
    return out


def self_critical_epoch(model, vocab: Vocabulary, train_step, data: CaptionData, scorer,
                        config: TrainConfig, rng: np.random.Generator) -> tuple[float, float]:
    """One epoch of self-critical training; returns (mean train loss, mean sample reward).

    Per step, ``config.batch_size // config.samples`` images: K samples each from the model in
    inference mode (words drawn from its distribution, at most ``max_words + 1`` steps), rewarded
    by ``scorer`` (:class:`~tounum.caption.reward.CiderD`), weighted by the leave-one-out advantage.
    """
    from tounum.caption.decode import greedy
    from tounum.caption.reward import leave_one_out_advantage

    k = config.samples
    images = rng.permutation(len(data.image_rows))
    if config.images_per_epoch:
        images = images[:config.images_per_epoch]
    per_step = max(1, config.batch_size // k)
    total_loss = total_reward = 0.0
    steps = -(-len(images) // per_step)
    for b in range(steps):
        idx = images[b * per_step:(b + 1) * per_step]
        features = np.repeat(np.asarray(data.grid[data.image_rows[idx]], dtype=np.float32), k, axis=0)
        hyps = greedy(model, vocab, features, config.max_words + 1, temperature=1.0,
                      seed=int(rng.integers(2 ** 31)))
        rewards = scorer.score([h.text for h in hyps], np.repeat(idx, k))
        advantage = leave_one_out_advantage(rewards.reshape(-1, k)).reshape(-1).astype(np.float32)
        tokens = _trim(sampled_tokens(hyps, vocab, config.max_words))
        total_loss += float(train_step(features, tokens, advantage)[1])
        total_reward += float(rewards.mean())
        if b % 50 == 0:
            log.info("self-critical step %d/%d loss %.4f reward %.3f", b, steps, total_loss / (b + 1),
                     total_reward / (b + 1))
    return total_loss / steps, total_reward / steps


def _settings(config: dict) -> dict:
    """What a resumed run must share with the checkpoint (more epochs or patience are fine)."""
    return {k: v for k, v in config.items() if k not in ("epochs", "patience")}


def epoch_weights_path(out_dir: str | Path, epoch: int) -> Path:
    """Where training keeps the weights of ``epoch`` (inside the checkpoint folder)."""
    return Path(out_dir) / CHECKPOINT_DIR / f"epoch-{epoch:03d}.weights.h5"


def average_checkpoints(run_dir: str | Path, epochs: list[int], out_dir: str | Path) -> Path:
    """A model whose weights are the mean of the weights of ``epochs`` of a training run.

    Averaging the weights of the last few epochs (Polyak averaging) smooths the noise of the last
    updates, often for a better model at no training cost.

    Parameters
    ----------
    run_dir : path
        The ``--out`` folder of a training run (its best model gives vocabulary and configuration;
        ``checkpoint/epoch-NNN.weights.h5`` the weights).
    epochs : list of int
    out_dir : path
        Model folder written (``config.json`` says ``averaged_epochs``).

    Returns
    -------
    Path
        ``out_dir``.

    Example
    -------
    >>> average_checkpoints("run", [6, 7, 8], "model")  # doctest: +SKIP
    """
    if not epochs:
        raise ValueError("average_checkpoints needs at least one epoch")
    model, vocab, config = load_model_dir(run_dir)
    total = None
    for epoch in epochs:
        path = epoch_weights_path(run_dir, epoch)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no weights kept for epoch {epoch}")
        model.load_weights(path)
        weights = model.get_weights()
        total = weights if total is None else [t + w for t, w in zip(total, weights)]
    model.set_weights([t / len(epochs) for t in total])
    save_model_dir(out_dir, model, vocab, {**config, "epoch": max(epochs), "averaged_epochs": list(epochs)})
    return Path(out_dir)


def _restore_optimizer(optimizer, model, path: Path) -> None:
    optimizer.build(model.trainable_variables)
    saved = np.load(path)
    for i, variable in enumerate(optimizer.variables):
        variable.assign(saved[f"v{i}"])


def _save_optimizer(optimizer, path: Path) -> None:
    from tounum.caption.store import replace_atomically

    arrays = {f"v{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)}
    replace_atomically(path, lambda p: np.savez(p, **arrays), suffix=".npz")


def train(train_data: tuple, dev_data: tuple, out_dir: str | Path, config: TrainConfig | None = None,
          extra_config: dict | None = None, views: tuple = (), init_from: str | Path | None = None) -> dict:
    """Train (or resume training) a captioner; the best epoch by dev BLEU-4 (greedy) goes to
    ``out_dir``, or, with ``config.self_critical``, by dev CIDEr (beam 3).

    Parameters
    ----------
    train_data, dev_data : tuple
        ``(grid, image_rows, references)``: the memory-mapped grid, each image's row in it, and each
        image's raw captions.
    out_dir : path
        Model folder; ``out_dir/checkpoint`` holds the resumable state.
    config : TrainConfig
    extra_config : dict
        Written into the model's ``config.json`` too (backbone name, resize mode, data...).
    views : tuple
        Augmented views of the training images, each ``(grid, image_rows, references)`` aligned
        with ``train_data`` (references of the mirrored view have left and right swapped). Needed
        when ``config.flip`` (the mirrored view), not allowed otherwise.
    init_from : path or None
        A model folder to start from (its weights and vocabulary; the optimizer starts afresh):
        fine-tuning, e.g. a few epochs at a lower learning rate. Ignored when resuming.

    Returns
    -------
    dict
        The history: per epoch train/dev loss, dev BLEU-4, seconds, and the peak RSS.

    Example
    -------
    >>> history = train((grid, rows, caps), (grid, dev_rows, dev_caps), "model")  # doctest: +SKIP
    """
    import keras

    from tounum.caption.evaluate import METRIC_KEYS
    from tounum.caption.model import ModelConfig, build_model

    config = config or TrainConfig()
    if config.flip != bool(views):
        raise ValueError("config.flip needs the mirrored view of the training grids, and only it")
    if config.self_critical and (config.flip or config.samples < 2):
        raise ValueError("self-critical training takes no mirrored view and at least 2 samples per image")
    out_dir = Path(out_dir)
    ckpt = out_dir / CHECKPOINT_DIR
    state_path = ckpt / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else None
    if state is not None:
        if _settings(state["train_config"]) != _settings(asdict(config)):
            raise ValueError(f"{ckpt}: checkpoint was made with another configuration; "
                             "use a new --out or delete the checkpoint folder")
        vocab = Vocabulary.load(ckpt / "vocab.json")
    elif init_from is not None:
        vocab = Vocabulary.load(Path(init_from) / "vocab.json")
    elif config.self_critical:
        raise ValueError("self-critical training starts from a trained model (init_from)")
    else:
        vocab = build_vocabulary((c for caps in train_data[2] for c in caps),
                                 min_count=config.vocab_min_count, max_size=config.vocab_max_size)
    keras.utils.set_random_seed(config.seed)
    model_config = ModelConfig(vocab_size=len(vocab), feature_dim=int(train_data[0].shape[2]),
                               positions=int(train_data[0].shape[1]), embed_dim=config.embed_dim,
                               units=config.units, attention_units=config.attention_units,
                               dropout=config.dropout, init_from_features=config.init_from_features)
    model = build_model(model_config)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    full_config = {"model": model_config.to_dict(), "train": asdict(config), **(extra_config or {})}
    if init_from is not None:
        full_config["init_from"] = str(init_from)
    if state is not None:
        model.load_weights(ckpt / "last.weights.h5")
        _restore_optimizer(optimizer, model, ckpt / "optimizer.npz")
        state["train_config"] = asdict(config)
        log.info("resuming after epoch %d", state["epoch"])
    else:
        if init_from is not None:
            model.load_weights(Path(init_from) / "model.weights.h5")
        state = {"epoch": 0, "train_config": asdict(config), "history": [], "best_bleu4": -1.0,
                 "best_cider": -1.0, "best_epoch": 0}
        ckpt.mkdir(parents=True, exist_ok=True)
        (ckpt / "vocab.json").write_text(vocab.to_json(), encoding="utf-8")
    train_set = flatten(*train_data, vocab, config.max_words)
    train_set.views = tuple((grid, rows, flatten(grid, rows, refs, vocab, config.max_words).tokens)
                            for grid, rows, refs in views)
    dev_set = flatten(*dev_data, vocab, config.max_words)
    from tounum.caption.decode import suppressed_ids

    train_step, loss_step = make_steps(model, optimizer, config,
                                       suppressed_ids(vocab) if config.self_critical else ())
    best_key = "best_cider" if config.self_critical else "best_bleu4"
    if config.self_critical:
        from tounum.caption.reward import CiderD

        scorer = CiderD(train_data[2])  # document frequencies of the training references
    log.info("vocabulary %d words, %d train captions, %d dev images, %d parameters",
             len(vocab), len(train_set.tokens), len(dev_set.image_rows), model.count_params())

    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        if epoch - state["best_epoch"] > config.patience and state["best_epoch"] > 0:
            log.info("early stop: no better dev %s since epoch %d", best_key[5:], state["best_epoch"])
            break
        optimizer.learning_rate.assign(config.learning_rate * config.lr_decay ** (epoch - 1))
        rng = np.random.default_rng([config.seed, epoch])
        start = time.time()
        if config.self_critical:
            train_loss, reward = self_critical_epoch(model, vocab, train_step, train_set, scorer, config, rng)
            seconds = time.time() - start
            record = {"epoch": epoch, "train_loss": train_loss, "train_reward_cider_d": reward,
                      "dev_loss": dev_loss(loss_step, dev_set, 256),
                      **{f"dev_{k}": v for k, v in dev_scores(model, vocab, full_config, dev_set).items()
                         if k in METRIC_KEYS},
                      "seconds": round(seconds, 1), "seconds_with_dev": round(time.time() - start, 1),
                      "peak_rss_mb": round(peak_rss_mb(), 1)}
            score = record["dev_cider"]
        else:
            record = _cross_entropy_epoch(epoch, model, vocab, train_step, loss_step, train_set, dev_set,
                                          config, rng, start)
            score = record["dev_bleu4_greedy"]
        log.info("epoch %s", json.dumps(record))
        state["history"].append(record)
        if score > state.get(best_key, -1.0):
            state.update({best_key: score, "best_epoch": epoch})
            save_model_dir(out_dir, model, vocab, {**full_config, "epoch": epoch})
        save_weights(model, ckpt / "last.weights.h5")
        save_weights(model, epoch_weights_path(out_dir, epoch))
        _save_optimizer(optimizer, ckpt / "optimizer.npz")
        state["epoch"] = epoch
        write_json(out_dir / HISTORY_FILE, state["history"])
        write_json(state_path, state)  # last: the epoch counts as done only once all is saved
    return state


def _cross_entropy_epoch(epoch: int, model, vocab: Vocabulary, train_step, loss_step, train_set: CaptionData,
                         dev_set: CaptionData, config: TrainConfig, rng: np.random.Generator,
                         start: float) -> dict:
    """One teacher-forced epoch over every training caption; its history record."""
    total, n = 0.0, 0
    batches = length_batches(train_set.tokens, config.batch_size, rng)
    view_rng = np.random.default_rng([config.seed, epoch, 1])  # batch order stays that of no views
    for b, idx in enumerate(batches):
        features, tokens = _batch(train_set, idx, view_rng)
        total += float(train_step(features, tokens, np.ones(len(idx), np.float32))[1]) * len(idx)
        n += len(idx)
        if b % 100 == 0:
            log.info("epoch %d batch %d/%d loss %.3f", epoch, b, len(batches), total / n)
    seconds = time.time() - start
    record = {"epoch": epoch, "train_loss": total / n, "dev_loss": dev_loss(loss_step, dev_set, 256),
              "dev_bleu4_greedy": dev_bleu4(model, vocab, dev_set, config.max_words),
              "seconds": round(seconds, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}
    return record
