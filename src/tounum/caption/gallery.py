"""Pictures of what the captioner looked at: attention overlays and a per-word figure."""

from __future__ import annotations

import numpy as np


def attention_overlay(pixels: np.ndarray, attention: np.ndarray, *, strength: float = 0.7) -> np.ndarray:
    """Darken the parts of ``pixels`` that one attention row (49 weights) ignored.

    Parameters
    ----------
    pixels : ndarray
        (H, W, 3) uint8 image, as the model saw it (squashed to a square for the shipped model).
    attention : ndarray
        (49,) weights over the 7x7 grid (one row of ``Caption.attention``).
    strength : float
        0 leaves the image unchanged; 1 blacks out unattended cells.

    Returns
    -------
    ndarray
        (H, W, 3) uint8.

    Example
    -------
    >>> img = np.full((14, 14, 3), 200, np.uint8)
    >>> att = np.zeros(49); att[0] = 1
    >>> out = attention_overlay(img, att)
    >>> int(out[0, 0, 0]), int(out[13, 13, 0])
    (200, 60)
    """
    from skimage.transform import resize

    side = int(round(np.sqrt(attention.size)))
    heat = np.asarray(attention, dtype=np.float64).reshape(side, side)
    heat = resize(heat / max(heat.max(), 1e-12), pixels.shape[:2], order=1, mode="edge")
    weight = 1.0 - strength * (1.0 - np.clip(heat, 0.0, 1.0))
    return np.clip(pixels * weight[..., None], 0, 255).astype(np.uint8)


def plot_attention(pixels: np.ndarray, caption, *, columns: int = 5, references: list[str] | None = None):
    """A matplotlib figure: the image, then one overlay per generated word (and ``<end>``).

    Example
    -------
    >>> fig = plot_attention(pixels, load_captioner().caption(grid)[0])  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    words = caption.text.split() + ["<end>"]
    panels = len(words) + 1
    rows = -(-panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.4 * columns, 2.4 * rows + 0.6 * bool(references)))
    axes = np.atleast_1d(axes).ravel()
    axes[0].imshow(pixels)
    axes[0].set_title(f"{caption.score:.2f}", fontsize=9)
    for ax, word, row in zip(axes[1:], words, caption.attention):
        ax.imshow(attention_overlay(pixels, row))
        ax.set_title(word, fontsize=10)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(caption.text + ("\n" + " | ".join(references[:2]) if references else ""), fontsize=10)
    fig.tight_layout()
    return fig
