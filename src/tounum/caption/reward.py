"""Rewards for self-critical sequence training: CIDEr-D per caption, and the leave-one-out baseline.

CIDEr-D (Vedantam et al. 2015, the variant the COCO server reports as "CIDEr-D") with the document
frequencies of the training references, as SCST implementations use it: TF-IDF vectors of the
1..4-grams, the candidate's counts clipped at the reference's, a Gaussian penalty on the length
difference (sigma 6), mean cosine over the references and n-gram orders, times 10 (the formula of
pycocoevalcap's "CIDEr" scorer, which is CIDEr-D; tested equal). The references
of every image are turned into vectors once, so that scoring the many samples of a training epoch
only builds the candidates' vectors.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from tounum.caption.text import normalize

MAX_N, SIGMA = 4, 6.0


def _ngrams(words: Sequence[str]) -> Counter:
    return Counter(tuple(words[i:i + n]) for n in range(1, MAX_N + 1) for i in range(len(words) - n + 1))


class CiderD:
    """CIDEr-D scorer with document frequencies (and reference vectors) of a reference corpus.

    Parameters
    ----------
    references : sequence of sequences of str
        Raw reference captions per image (normalised with :func:`~tounum.caption.text.normalize`);
        the document frequency of an n-gram is the number of images whose references contain it.

    Example
    -------
    >>> scorer = CiderD([["a dog runs on grass", "a dog is running"], ["two men talk"]])
    >>> scorer.score(["a dog runs on grass", "two men talk"], [0, 0]).round(2).tolist()
    [5.91, 0.0]
    """

    def __init__(self, references: Sequence[Sequence[str]]):
        counts = [[_ngrams(normalize(r).split()) for r in refs] for refs in references]
        df = Counter(g for image in counts for g in set().union(*image))
        self._log_docs = math.log(max(len(references), 1))
        self._log_df = {g: math.log(d) for g, d in df.items()}
        self._refs = [[self._vector(c) for c in image] for image in counts]

    def _vector(self, counts: Counter) -> tuple[dict, np.ndarray, int]:
        """TF-IDF weights, their norm per n-gram order, and the length (bigram count, as in CIDEr-D)."""
        weights = {g: tf * (self._log_docs - self._log_df.get(g, 0.0)) for g, tf in counts.items()}
        norm = np.zeros(MAX_N)
        for g, w in weights.items():
            norm[len(g) - 1] += w * w
        length = sum(tf for g, tf in counts.items() if len(g) == 2)
        return weights, np.sqrt(norm), length

    def score(self, candidates: Sequence[str], images: Sequence[int]) -> np.ndarray:
        """CIDEr-D of ``candidates[i]`` against the references of image ``images[i]``.

        Parameters
        ----------
        candidates : sequence of str
            Generated captions (normalised here).
        images : sequence of int
            Index of each candidate's image in the ``references`` given to the constructor.

        Returns
        -------
        ndarray
            (len(candidates),) float64; 10 is a perfect match on every order and reference.
        """
        out = np.zeros(len(candidates))
        for i, (text, image) in enumerate(zip(candidates, images)):
            weights, norm, length = self._vector(_ngrams(normalize(text).split()))
            refs = self._refs[image]
            total = 0.0
            for ref_weights, ref_norm, ref_length in refs:
                dot = np.zeros(MAX_N)
                for g, w in weights.items():
                    r = ref_weights.get(g)
                    if r is not None:
                        dot[len(g) - 1] += min(w, r) * r
                denom = norm * ref_norm
                cos = np.divide(dot, denom, out=np.zeros(MAX_N), where=denom > 0)
                total += cos.sum() * math.exp(-((length - ref_length) ** 2) / (2 * SIGMA ** 2))
            out[i] = 10.0 * total / (MAX_N * max(len(refs), 1))
        return out


def leave_one_out_advantage(rewards: np.ndarray) -> np.ndarray:
    """Reward minus the mean reward of the other samples of the same image ("new self-critical").

    Parameters
    ----------
    rewards : ndarray
        (images, K) rewards of K >= 2 samples per image.

    Returns
    -------
    ndarray
        (images, K): ``r_k - mean_{j != k} r_j``; each row sums to 0.

    Example
    -------
    >>> leave_one_out_advantage(np.array([[1.0, 2.0, 3.0]])).tolist()
    [[-1.5, 0.0, 1.5]]
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    k = rewards.shape[1]
    if k < 2:
        raise ValueError("the leave-one-out baseline needs at least 2 samples per image")
    baseline = (rewards.sum(1, keepdims=True) - rewards) / (k - 1)
    return rewards - baseline
