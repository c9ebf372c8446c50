"""Caption metrics with the standard COCO caption evaluation code (``pycocoevalcap``).

BLEU-1..4 (0..1), METEOR, ROUGE-L and CIDEr (unscaled), after the PTB tokenizer, as the COCO
evaluation server reports them. The tokenizer and METEOR run Java: without Java the text is
tokenised by :func:`tounum.caption.text.normalize` instead (said in the result's ``tokenizer``) and
METEOR is ``None``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence

from tounum.caption.text import normalize

log = logging.getLogger(__name__)
METRIC_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider")


def _java() -> bool:
    return shutil.which("java") is not None


def bleu_simple(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> list[float]:
    """Corpus BLEU-1..4 with :func:`normalize` tokenisation (no Java; the training monitor).

    Example
    -------
    >>> round(bleu_simple([["a dog runs"]], ["a dog runs"])[0], 3)
    1.0
    """
    from pycocoevalcap.bleu.bleu import Bleu

    gts = {i: [normalize(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [normalize(h) or "."] for i, h in enumerate(hypotheses)}
    return [float(s) for s in Bleu(4).compute_score(gts, res, verbose=0)[0]]


def score_captions(references: Sequence[Sequence[str]], hypotheses: Sequence[str], *,
                   use_java: bool | None = None) -> dict:
    """Corpus caption metrics of ``hypotheses[i]`` against ``references[i]``.

    Parameters
    ----------
    references : sequence of sequences of str
        The human captions of each image.
    hypotheses : sequence of str
        One generated caption per image.
    use_java : bool or None
        None: use Java (PTB tokenizer, METEOR) when it is installed.

    Returns
    -------
    dict
        ``n_images, bleu1..bleu4, meteor, rouge_l, cider`` and ``tokenizer`` ("ptb" or "simple").

    Example
    -------
    >>> s = score_captions([["a dog runs on grass", "a dog is running"]], ["a dog runs"], use_java=False)
    >>> s["n_images"], s["meteor"], s["bleu1"] > 0.5
    (1, None, True)
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} reference sets for {len(hypotheses)} hypotheses")
    java = _java() if use_java is None else use_java
    if java:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tokenizer = PTBTokenizer()
        gts = tokenizer.tokenize({i: [{"caption": r} for r in refs] for i, refs in enumerate(references)})
        res = tokenizer.tokenize({i: [{"caption": h}] for i, h in enumerate(hypotheses)})
    else:
        log.warning("no Java: simple tokenizer instead of PTB, METEOR not computed")
        gts = {i: [normalize(r) for r in refs] for i, refs in enumerate(references)}
        res = {i: [normalize(h)] for i, h in enumerate(hypotheses)}
    res = {i: [h[0] if h and h[0] else "."] for i, h in res.items()}  # empty captions break BLEU
    bleu = Bleu(4).compute_score(gts, res, verbose=0)[0]
    out = {"n_images": len(hypotheses), **{f"bleu{n + 1}": float(b) for n, b in enumerate(bleu)},
           "meteor": None, "rouge_l": float(Rouge().compute_score(gts, res)[0]),
           "cider": float(Cider().compute_score(gts, res)[0]), "tokenizer": "ptb" if java else "simple"}
    if java:
        from pycocoevalcap.meteor.meteor import Meteor

        out["meteor"] = float(Meteor().compute_score(gts, res)[0])
    return out


def caption_dataset(captioner, grid, rows, *, beam: int | None = None, alpha: float | None = None,
                    chunk: int = 256) -> list:
    """Captions for ``grid[rows]`` (a memory-mapped cache), a chunk at a time.

    Example
    -------
    >>> caps = caption_dataset(load_captioner(), grids.grid, grids.rows)  # doctest: +SKIP
    """
    import numpy as np

    out = []
    for start in range(0, len(rows), chunk):
        features = np.asarray(grid[rows[start:start + chunk]], dtype=np.float32)
        out += captioner.caption(features, beam=beam, alpha=alpha)
    return out
