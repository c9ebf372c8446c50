"""Turn grid features into words: greedy, beam search (batched, deterministic), or seeded sampling.

All three run the model one step at a time on a batch and return a :class:`Hypothesis` per image
with the attention weights of every emitted word, for plotting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import ops

from tounum.caption.text import Vocabulary


@dataclass
class Hypothesis:
    text: str
    tokens: list[int]  # emitted word ids, <end> excluded
    score: float  # sum of log-probabilities (including <end>), divided by length ** alpha
    attention: np.ndarray  # (len(tokens) + 1, positions): one row per emitted id, <end> included


def _as_positions(grid: np.ndarray) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.float32)
    return grid.reshape(grid.shape[0], -1, grid.shape[-1]) if grid.ndim == 4 else grid


def compiled_step(model):
    """``model.step`` compiled once per model when the backend can (TensorFlow), else as is."""
    step = getattr(model, "_compiled_step", None)
    if step is None:
        import keras

        step = model.step
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            step = tf.function(model.step, reduce_retracing=True)
        model._compiled_step = step
    return step


def suppressed_ids(vocab: Vocabulary) -> tuple[int, ...]:
    """Ids never emitted by any decoder: <pad>, <start> and <unk> (a caption never says "<unk>")."""
    return vocab.pad_id, vocab.start_id, vocab.unk_id


def _log_softmax(logits, vocab: Vocabulary) -> np.ndarray:
    """Log-probabilities with the :func:`suppressed_ids` ruled out."""
    logp = np.asarray(ops.log_softmax(logits, axis=-1), dtype=np.float64)
    logp[:, list(suppressed_ids(vocab))] = -np.inf
    return logp


def _normalised(logp: float, length: int, alpha: float) -> float:
    return logp / (max(length, 1) ** alpha)


def greedy(model, vocab: Vocabulary, grid: np.ndarray, max_length: int = 22, *,
           temperature: float = 0.0, seed: int | None = None, alpha: float = 0.0) -> list[Hypothesis]:
    """Most likely word at each step (``temperature == 0``) or a seeded sample (``temperature > 0``).

    Parameters
    ----------
    model : CaptionModel
    vocab : Vocabulary
    grid : ndarray
        (N, 7, 7, C) or (N, 49, C) features.
    max_length : int
        Steps at most, ``<end>`` included.
    temperature : float
        0 for greedy; otherwise words are sampled from ``softmax(logits / temperature)``.
    seed : int or None
        Seed of the sampler (sampling only).
    alpha : float
        Length-normalisation exponent of the reported score.

    Returns
    -------
    list of Hypothesis

    Example
    -------
    >>> greedy(model, vocab, features.grid)[0].text  # doctest: +SKIP
    'a dog runs through the grass'
    """
    rng = np.random.default_rng(seed)
    features = _as_positions(grid)
    n = len(features)
    encoded, keys, state = model.encode(features)
    run_step = compiled_step(model)
    token = np.full(n, vocab.start_id, dtype=np.int32)
    out = np.zeros((n, max_length), dtype=np.int32)
    logp = np.zeros(n)
    alphas = np.zeros((n, max_length, features.shape[1]), dtype=np.float32)
    done = np.zeros(n, dtype=bool)
    lengths = np.full(n, max_length)
    for t in range(max_length):
        logits, state, alpha_t = run_step(token, state, encoded, keys)
        step_logp = _log_softmax(logits, vocab)
        if temperature > 0:
            probs = np.exp((step_logp - step_logp.max(1, keepdims=True)) / temperature)
            cdf = np.cumsum(probs / probs.sum(1, keepdims=True), axis=1)
            token = np.minimum((cdf < rng.random((n, 1))).sum(1), cdf.shape[1] - 1).astype(np.int32)
        else:
            token = step_logp.argmax(1).astype(np.int32)
        logp += np.where(done, 0.0, step_logp[np.arange(n), token])
        out[:, t] = token
        alphas[:, t] = np.asarray(alpha_t)
        ended = ~done & (token == vocab.end_id)
        lengths[ended] = t + 1
        done |= ended
        if done.all():
            break
    results = []
    for i in range(n):
        ids = [int(x) for x in out[i, :lengths[i]] if x != vocab.end_id]
        results.append(Hypothesis(vocab.decode(ids), ids, _normalised(logp[i], lengths[i], alpha),
                                  alphas[i, :lengths[i]].copy()))
    return results


def beam_search(model, vocab: Vocabulary, grid: np.ndarray, beam: int = 3, max_length: int = 22, *,
                alpha: float = 0.7) -> list[Hypothesis]:
    """Batched beam search: per image, keep the ``beam`` best partial captions.

    A hypothesis that emits ``<end>`` is finished and its slot is retired (the live beam shrinks),
    so that ``beam=1`` is exactly greedy decoding. The best finished hypothesis by
    ``log p / length ** alpha`` wins; ties are broken by candidate order, so results are
    deterministic.

    Parameters
    ----------
    model, vocab, grid, max_length : see :func:`greedy`
    beam : int
        Beam width (1 = greedy).
    alpha : float
        Length normalisation (0: raw log-probability, favouring short captions; 1: per-word mean).

    Returns
    -------
    list of Hypothesis

    Example
    -------
    >>> beam_search(model, vocab, features.grid, beam=3)[0].text  # doctest: +SKIP
    'a black dog is running through the grass'
    """
    features = _as_positions(grid)
    n, k, positions = len(features), beam, features.shape[1]
    encoded, keys, state = model.encode(np.repeat(features, k, axis=0))
    run_step = compiled_step(model)
    scores = np.full((n, k), -np.inf)
    scores[:, 0] = 0.0  # one live start per image, so the first step does not pick duplicates
    live = np.full(n, k)  # slots still searching, per image
    tokens = np.full((n, k, 0), 0, dtype=np.int32)
    alphas = np.zeros((n, k, 0, positions), dtype=np.float32)
    last = np.full(n * k, vocab.start_id, dtype=np.int32)
    finished: list[list[tuple[float, int, list[int], np.ndarray]]] = [[] for _ in range(n)]
    for t in range(max_length):
        logits, state, alpha_t = run_step(last, state, encoded, keys)
        step = _log_softmax(logits, vocab).reshape(n, k, -1)
        alpha_t = np.asarray(alpha_t).reshape(n, k, positions)
        candidates = (scores[:, :, None] + step).reshape(n, -1)
        vocab_size = step.shape[2]
        parents = np.zeros((n, k), dtype=np.int64)
        words = np.zeros((n, k), dtype=np.int32)
        new_scores = np.full((n, k), -np.inf)
        for i in range(n):
            if live[i] == 0:
                continue
            top = np.argpartition(-candidates[i], live[i] - 1)[:live[i]]
            order = top[np.lexsort((top, -candidates[i, top]))]  # best first; ties by index
            slot = 0
            for c in order:
                if not np.isfinite(candidates[i, c]):
                    continue
                parent, word = divmod(int(c), vocab_size)
                if word == vocab.end_id or t == max_length - 1:
                    ids = [int(x) for x in tokens[i, parent]]
                    if word != vocab.end_id:
                        ids.append(word)
                    att = np.concatenate([alphas[i, parent], alpha_t[i, parent][None]], 0)
                    finished[i].append((_normalised(candidates[i, c], t + 1, alpha), len(finished[i]), ids, att))
                    live[i] -= 1
                else:
                    parents[i, slot], words[i, slot], new_scores[i, slot] = parent, word, candidates[i, c]
                    slot += 1
        if not live.any():
            break
        flat_parents = (np.arange(n)[:, None] * k + parents).reshape(-1)
        state = ops.take(state, flat_parents, axis=0)
        tokens = np.concatenate([np.take_along_axis(tokens, parents[:, :, None], 1), words[:, :, None]], 2)
        alphas = np.concatenate([np.take_along_axis(alphas, parents[:, :, None, None], 1),
                                 alpha_t.reshape(n, k, positions)[np.arange(n)[:, None], parents][:, :, None]], 2)
        scores = new_scores
        last = words.reshape(-1)
    results = []
    for i in range(n):
        score, _, ids, att = max(finished[i], key=lambda f: (f[0], -f[1]))
        results.append(Hypothesis(vocab.decode(ids), ids, float(score), att))
    return results
