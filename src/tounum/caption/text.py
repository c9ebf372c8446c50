"""Caption text: normalisation, vocabulary with special tokens, encoding to padded id arrays.

The vocabulary is saved as JSON next to the model weights, so that a shipped model turns ids back
into the very same words on any machine.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)  # ids 0..3; id 0 is padding, masked out of the loss
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """Lowercase, replace punctuation by spaces, collapse whitespace.

    Parameters
    ----------
    text : str
        A raw caption.

    Returns
    -------
    str
        Words separated by single spaces.

    Example
    -------
    >>> normalize("  A dog's  ball, red! ")
    'a dog s ball red'
    """
    return _NOT_WORD.sub(" ", text.lower()).strip()


@dataclass(frozen=True)
class Vocabulary:
    """Words by id; ``words[:4]`` are ``<pad> <start> <end> <unk>``."""

    words: tuple[str, ...]

    def __post_init__(self) -> None:
        if tuple(self.words[:4]) != SPECIALS:
            raise ValueError(f"vocabulary must start with {SPECIALS}, got {self.words[:4]}")
        object.__setattr__(self, "_ids", {w: i for i, w in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def start_id(self) -> int:
        return 1

    @property
    def end_id(self) -> int:
        return 2

    @property
    def unk_id(self) -> int:
        return 3

    def encode(self, text: str, max_length: int) -> list[int]:
        """``<start> w1 .. wn <end>`` ids of a caption, at most ``max_length`` words kept.

        Example
        -------
        >>> v = Vocabulary(SPECIALS + ("a", "dog"))
        >>> v.encode("A dog runs", 5)
        [1, 4, 5, 3, 2]
        """
        ids = [self._ids.get(w, self.unk_id) for w in normalize(text).split()[:max_length]]
        return [self.start_id, *ids, self.end_id]

    def decode(self, ids: Iterable[int]) -> str:
        """Words of ``ids`` up to the first ``<end>``; padding and ``<start>`` dropped.

        Example
        -------
        >>> Vocabulary(SPECIALS + ("a", "dog")).decode([1, 4, 5, 2, 4])
        'a dog'
        """
        out = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i not in (self.pad_id, self.start_id):
                out.append(self.words[i])
        return " ".join(out)

    def to_json(self) -> str:
        return json.dumps({"words": list(self.words)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        return cls(tuple(json.loads(text)["words"]))

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


_SIDES = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def mirror_caption(text: str) -> str:
    """The caption of the left-right mirrored photo: "left" and "right" swapped (case kept).

    Example
    -------
    >>> mirror_caption("A dog turns Left, then right.")
    'A dog turns Right, then left.'
    """
    def swap(match: re.Match) -> str:
        word = match.group(0)
        other = "right" if word.lower() == "left" else "left"
        return other.capitalize() if word[0].isupper() else other

    return _SIDES.sub(swap, text)


def build_vocabulary(
    captions: Iterable[str], *, min_count: int = 5, max_size: int | None = None
) -> Vocabulary:
    """Vocabulary of the words seen at least ``min_count`` times, the most frequent first.

    Parameters
    ----------
    captions : iterable of str
        Training captions (raw; they are normalised here).
    min_count : int
        Words rarer than this become ``<unk>``.
    max_size : int or None
        Keep at most this many words (special tokens included).

    Returns
    -------
    Vocabulary
        Ties in frequency are broken alphabetically so that the result is deterministic.

    Example
    -------
    >>> build_vocabulary(["a dog", "a cat", "A dog."], min_count=2).words
    ('<pad>', '<start>', '<end>', '<unk>', 'a', 'dog')
    """
    counts = Counter(w for c in captions for w in normalize(c).split())
    ranked = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    if max_size is not None:
        ranked = ranked[: max(0, max_size - len(SPECIALS))]
    return Vocabulary(SPECIALS + tuple(ranked))


def encode_batch(vocab: Vocabulary, captions: Sequence[str], max_length: int) -> np.ndarray:
    """Padded ``(N, max_length + 2)`` int32 array of encoded captions (0 = padding).

    Example
    -------
    >>> encode_batch(Vocabulary(SPECIALS + ("a",)), ["a", "a a"], 3).tolist()
    [[1, 4, 2, 0, 0], [1, 4, 4, 2, 0]]
    """
    out = np.zeros((len(captions), max_length + 2), dtype=np.int32)
    for row, text in enumerate(captions):
        ids = vocab.encode(text, max_length)
        out[row, : len(ids)] = ids
    return out
