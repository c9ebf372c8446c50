"""Synthetic printed pages (book pages, letters, typed sheets) to widen the "text" class.

The shared train split's text class is receipts and forms only; the sealed test also holds book
pages and letters. Rendered pages of running text in several typefaces, sizes and layouts, then
put through the same scan augmentations as the real images, teach "a page of text" rather than
"a receipt".
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/TTF", "/usr/share/fonts", "/Library/Fonts",
             "C:/Windows/Fonts")
SYLLABLES = ("la", "re", "mi", "con", "ter", "an", "de", "sta", "per", "ul", "ti", "mo", "ra", "ven", "in",
             "tur", "que", "al", "es", "or", "gen", "pro", "na", "ci", "um", "ex", "vel", "ber", "schaft",
             "the", "and", "ing", "ion", "ment", "lo", "be", "ka", "ne", "ost", "wy", "ch", "ou", "ai")


@functools.lru_cache(maxsize=1)
def font_files() -> tuple[str, ...]:
    """TrueType fonts installed on this machine (empty if none: Pillow's default font is used)."""
    found = []
    for folder in FONT_DIRS:
        if Path(folder).is_dir():
            found += sorted(str(p) for p in Path(folder).rglob("*.ttf"))
    return tuple(found)


def _font(rng: np.random.Generator, size: int) -> ImageFont.ImageFont:
    files = font_files()
    if files:
        return ImageFont.truetype(files[int(rng.integers(len(files)))], size)
    return ImageFont.load_default(size)


def _word(rng: np.random.Generator) -> str:
    word = "".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), rng.integers(1, 4)))
    r = rng.random()
    if r < 0.1:
        word = word.capitalize()
    elif r < 0.14:
        word = str(rng.integers(1, 2000))
    return word + ("," if rng.random() < 0.07 else "." if rng.random() < 0.05 else "")


def text_page(seed: int | np.random.Generator | None = None) -> np.ndarray:
    """A rendered page of running text: (H, W, 3) uint8, layout and typeface drawn at random.

    Portrait pages of 500-900 px width with a margin, optional title, one or two columns of
    paragraphs in one typeface (10-26 px), dark ink on white to cream paper.

    Example
    -------
    >>> page = text_page(0)
    >>> page.dtype, page.ndim
    (dtype('uint8'), 3)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    width = int(rng.integers(500, 900))
    height = int(width * rng.uniform(1.2, 1.5))
    paper = tuple(int(v) for v in np.array([255, 252, 240]) - rng.integers(0, 25) * np.array([0, 1, 2]))
    ink = tuple(int(v) for v in rng.integers(0, 70, 3))
    page = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(page)
    size = int(rng.integers(10, 27))
    font = _font(rng, size)
    margin = int(width * rng.uniform(0.05, 0.15))
    columns = 2 if rng.random() < 0.25 else 1
    gutter = int(width * 0.04)
    col_width = (width - 2 * margin - (columns - 1) * gutter) // columns
    line_height = int(size * rng.uniform(1.2, 1.7))
    y0 = margin
    if rng.random() < 0.4:
        title = _font(rng, int(size * rng.uniform(1.4, 2.2)))
        draw.text((margin, y0), " ".join(_word(rng) for _ in range(rng.integers(2, 6))).title(), fill=ink, font=title)
        y0 += int(size * 3.2)
    for col in range(columns):
        x0 = margin + col * (col_width + gutter)
        y, x = y0, x0 + int(size * 1.5)  # first line of a paragraph is indented
        while y < height - margin - line_height:
            word = _word(rng) + " "
            w = draw.textlength(word, font=font)
            if x + w > x0 + col_width:
                y, x = y + line_height, x0
                if rng.random() < 0.08:  # paragraph break
                    y, x = y + line_height // 2, x0 + int(size * 1.5)
                continue
            draw.text((x, y), word, fill=ink, font=font)
            x += w
    if rng.random() < 0.5:
        draw.text((width // 2, height - margin // 2), str(rng.integers(1, 400)), fill=ink, font=font)
    return np.asarray(page)


def write_text_pages(folder: str | Path, n: int, seed: int = 0) -> list[str]:
    """Render ``n`` pages into ``folder`` as PNG (reused when already there); returns their paths.

    A training-data helper (it writes files), used by ``tounum train classifier`` when
    ``ClassifyConfig.synthetic_text`` is positive.
    """
    from tounum.io import write_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"page_{seed}_{i:05d}.png"
        if not path.exists():
            write_image(text_page(np.random.default_rng([seed, i])), path, format="PNG")
        paths.append(str(path))
    return paths
