"""The captioning API: a trained model with its vocabulary, loaded once per process."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "models" / "captioner"


@dataclass
class Caption:
    text: str
    score: float  # length-normalised log-probability of the caption
    attention: np.ndarray | None  # (words + 1, 49): where the model looked for each word and <end>


class Captioner:
    """A trained captioner: grid features in, captions out (batched).

    ``resize`` is the backbone resize mode the model was trained with ("squash" for the shipped
    Flickr8k model); :meth:`caption_images` uses it, and callers extracting features themselves
    should too.
    """

    def __init__(self, model, vocab, config: dict, model_dir: str | Path):
        self.model, self.vocab, self.config = model, vocab, config
        self.model_dir = Path(model_dir)
        self.resize: str = config.get("backbone", {}).get("resize", "squash")
        decoding = config.get("decoding", {})
        self.max_words: int = int(decoding.get("max_words", config["train"]["max_words"]))
        self.beam: int = int(decoding.get("beam", 3))
        self.alpha: float = float(decoding.get("alpha", 0.7))

    def caption(self, grid: np.ndarray, beam: int | None = None, *, batch_size: int = 32,
                alpha: float | None = None,
                max_words: int | None = None, temperature: float = 0.0,
                seed: int | None = None) -> list[Caption]:
        """Captions of (N, 7, 7, C) or (N, 49, C) grid features.

        Parameters
        ----------
        grid : ndarray
            Backbone grid features.
        beam : int or None
            Beam width; 1 is greedy decoding (default: the model's decoding setting).
        batch_size : int
            Images decoded together.
        alpha : float or None
            Length normalisation of beam search (default: the model's decoding setting).
        max_words : int or None
            Longest caption (default: the model's setting).
        temperature : float
            Above 0: sample words (seeded by ``seed``) instead of searching; only on request.

        Returns
        -------
        list of Caption

        Example
        -------
        >>> load_captioner().caption(features.grid)[0].text  # doctest: +SKIP
        'a dog runs through the grass'
        """
        from tounum.caption.decode import beam_search, greedy

        grid = np.asarray(grid)
        if grid.ndim not in (3, 4):
            raise ValueError(f"grid features must be (N,7,7,C) or (N,49,C), got shape {grid.shape}")
        beam = self.beam if beam is None else beam
        alpha = self.alpha if alpha is None else alpha
        steps = (self.max_words if max_words is None else max_words) + 1
        out: list[Caption] = []
        for start in range(0, len(grid), batch_size):
            chunk = grid[start:start + batch_size]
            if temperature > 0:
                hyps = greedy(self.model, self.vocab, chunk, steps, temperature=temperature,
                              seed=None if seed is None else seed + start, alpha=alpha)
            else:
                hyps = beam_search(self.model, self.vocab, chunk, beam, steps, alpha=alpha)
            out += [Caption(h.text, float(h.score), h.attention) for h in hyps]
        return out

    def caption_images(self, images: list[np.ndarray], beam: int | None = None, **kwargs) -> list[Caption]:
        """Captions of RGB uint8 images: runs the backbone (with this model's resize mode) first."""
        from tounum.backbone import load_backbone
        from tounum.config import BackboneConfig

        backbone = load_backbone(BackboneConfig(resize=self.resize))
        return self.caption(backbone.features(images).grid, beam, **kwargs)


@functools.lru_cache(maxsize=4)
def _load(model_dir: str) -> Captioner:
    from tounum.caption.store import load_model_dir

    return Captioner(*load_model_dir(model_dir), model_dir)


def load_captioner(model_dir: str | Path | None = None) -> Captioner:
    """The captioner in ``model_dir`` (default: the model shipped in the package), cached per process.

    Example
    -------
    >>> captioner = load_captioner()  # doctest: +SKIP
    """
    return _load(str(Path(model_dir or SHIPPED_MODEL).resolve()))
