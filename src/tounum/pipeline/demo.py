"""`python -m tounum.pipeline.demo --out DIR`: sample scans from the dependencies, then `tounum run`.

The sample folder is made offline from images that ship inside the installed packages
(scikit-image, scikit-learn and Matplotlib photographs, some degraded with noise or blur),
rendered text pages, charts, box-and-arrow diagrams and line drawings, plus a few bad files that
must end as error rows. `make_scans` is also the benchmark's and the tests' image source.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

log = logging.getLogger(__name__)

BAD_FILES = ("bad/empty.jpg", "bad/truncated.jpg", "bad/notes.png")
TEXT = (
    "Minutes of the meeting of the parish council held in the village hall. The chairman opened "
    "the meeting and welcomed the members. Apologies were received from two councillors. The "
    "minutes of the previous meeting were read, approved and signed. The clerk reported on the "
    "repairs to the footbridge over the river and on the cost of new lamps for the green. After "
    "discussion it was agreed to ask for three quotations before the next meeting. The treasurer "
    "presented the accounts for the quarter, which showed a small surplus. Correspondence from the "
    "county council about the bus timetable was noted. There being no other business, the meeting "
    "closed at nine o'clock."
)


def _font(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size)


def _photos() -> dict[str, Callable[[], np.ndarray]]:
    """Photographs shipped inside the dependencies, by a readable name."""
    import matplotlib.cbook
    import skimage.data
    from sklearn.datasets import load_sample_images

    def sklearn_image(i: int) -> Callable[[], np.ndarray]:
        return lambda: load_sample_images().images[i]

    def hopper() -> np.ndarray:
        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB"))

    return {"astronaut": skimage.data.astronaut, "coffee": skimage.data.coffee,
            "chelsea": skimage.data.chelsea, "rocket": skimage.data.rocket,
            "camera": skimage.data.camera, "hubble": skimage.data.hubble_deep_field,
            "china": sklearn_image(0), "flower": sklearn_image(1), "grace_hopper": hopper}


def _rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == bool:  # a mask: True is the figure, drawn dark on white
        a = np.where(a, 0, 255).astype(np.uint8)
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]


def _resize(a: np.ndarray, long_side: int | None) -> np.ndarray:
    if not long_side:
        return a
    h, w = a.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(a).resize(size, Image.Resampling.LANCZOS))


def add_noise(a: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian sensor noise of standard deviation ``sigma`` (8-bit levels)."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, a.shape)
    return np.clip(a.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def add_blur(a: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian defocus blur of ``radius`` pixels."""
    return np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(radius)))


def text_page(seed: int, size: tuple[int, int] = (850, 1100)) -> np.ndarray:
    """A typed page: a title and paragraphs in DejaVu Sans on slightly uneven paper."""
    rng = np.random.default_rng(seed)
    width, height = size
    paper = 235 + rng.normal(0, 4, (height, width)).clip(-20, 20)
    image = Image.fromarray(paper.astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(image)
    margin, y = width // 10, height // 12
    draw.text((margin, y), f"Parish council, minutes no. {seed + 12}", fill=(20, 20, 20),
              font=_font(width // 24))
    y += width // 12
    body = _font(width // 45)
    words = TEXT.split()
    for paragraph in range(4):
        start = (seed * 7 + paragraph * 13) % len(words)
        text = " ".join(words[start:] + words[:start])
        for line in textwrap.wrap(text, width=70):
            draw.text((margin, y), line, fill=(30, 30, 30), font=body)
            y += int(width / 45 * 1.5)
            if y > height - margin:
                return np.asarray(image)
        y += width // 40
    return np.asarray(image)


def chart(kind: str, seed: int) -> np.ndarray:
    """A Matplotlib chart (``kind`` "bar" or "line") rendered to pixels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    if kind == "bar":
        ax.bar(["1921", "1931", "1951", "1961", "1971"], rng.integers(200, 900, 5), color="#557")
        ax.set_title("Population of the parish")
    else:
        x = np.arange(1900, 1980)
        ax.plot(x, np.cumsum(rng.normal(0, 1, x.size)), color="k")
        ax.set_title("Rainfall anomaly")
        ax.grid(True)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return pixels


def diagram(seed: int, size: tuple[int, int] = (1000, 750)) -> np.ndarray:
    """A schematic: labelled boxes joined by arrows, black on white."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = _font(width // 40)
    labels = ["Intake", "Scanner", "Cleaning", "Index", "Archive", "Reading room"]
    boxes = []
    for i, label in enumerate(labels[: 4 + seed % 3]):
        row, col = divmod(i, 3)
        col = col if row % 2 == 0 else 2 - col  # a snake: left to right, then back
        x = 60 + col * (width - 120) // 3 + int(rng.integers(0, 30))
        y = 80 + row * height // 2 + int(rng.integers(0, 60))
        box = (x, y, x + width // 5, y + height // 7)
        draw.rectangle(box, outline="black", width=3)
        draw.text((box[0] + 12, box[1] + 20), label, fill="black", font=font)
        boxes.append(box)
    for a, b in zip(boxes, boxes[1:]):
        if abs(a[1] - b[1]) < height // 4:  # same row: side to side
            y = (max(a[1], b[1]) + min(a[3], b[3])) // 2
            start, end = ((a[2], y), (b[0], y)) if b[0] > a[0] else ((a[0], y), (b[2], y))
        else:  # next row: bottom to top
            x = (max(a[0], b[0]) + min(a[2], b[2])) // 2
            start, end = (x, a[3]), (x, b[1])
        draw.line([start, end], fill="black", width=3)
        direction = np.subtract(end, start) / max(1.0, float(np.hypot(*np.subtract(end, start))))
        normal = np.array([-direction[1], direction[0]])
        tip = np.array(end, float)
        draw.polygon([tuple(tip), tuple(tip - 18 * direction + 8 * normal),
                      tuple(tip - 18 * direction - 8 * normal)], fill="black")
    return np.asarray(image)


def line_drawing(photo: np.ndarray) -> np.ndarray:
    """Line art from a photograph: its Canny edges, dark strokes on white paper."""
    from skimage.color import rgb2gray
    from skimage.feature import canny

    edges = canny(rgb2gray(photo), sigma=2.0)
    strokes = np.asarray(Image.fromarray(edges).convert("L").filter(ImageFilter.MaxFilter(3))) > 0
    return _rgb(strokes)


def make_scans(long_side: int | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """The demo's images as ``(relative path, RGB pixels)``, optionally resized to ``long_side``.

    Example
    -------
    >>> names = [name for name, _ in make_scans(long_side=64)]
    >>> "photos/coffee.jpg" in names and "documents/page-1.png" in names
    True
    """
    photos = _photos()
    for name, load in photos.items():
        yield f"photos/{name}.jpg", _resize(_rgb(load()), long_side)
    for i, (name, sigma) in enumerate((("coffee", 18), ("china", 25), ("astronaut", 12))):
        yield f"photos/degraded/{name}-noisy.jpg", add_noise(_resize(_rgb(photos[name]()), long_side), sigma, i)
    for name, radius in (("rocket", 2.5), ("flower", 3.5)):
        photo = _resize(_rgb(photos[name]()), long_side)
        yield f"photos/degraded/{name}-blurred.jpg", add_blur(photo, radius * (photo.shape[1] / 640))
    from tounum.enhance.degrade import halftone

    photo = _resize(_rgb(photos["coffee"]()), long_side)  # as printed in a magazine, then scanned
    yield "photos/degraded/coffee-printed.png", halftone(photo, max(3.0, 5.0 * photo.shape[1] / 640), 30.0)
    for i in range(3):
        yield f"documents/page-{i + 1}.png", _resize(text_page(i), long_side)
    import skimage.data

    yield "documents/scanned-page.png", _resize(_rgb(skimage.data.page()), long_side)
    yield "documents/chart-bar.png", _resize(chart("bar", 0), long_side)
    yield "documents/chart-line.png", _resize(chart("line", 1), long_side)
    for i in range(2):
        yield f"diagrams/flow-{i + 1}.png", _resize(diagram(i), long_side)
    for name in ("chelsea", "astronaut"):
        yield f"drawings/{name}-lines.png", _resize(line_drawing(_rgb(photos[name]())), long_side)
    yield "drawings/horse.png", _resize(_rgb(~skimage.data.horse()), long_side)


def write_scans(folder: str | Path, long_side: int | None = None, *, bad_files: bool = True) -> list[Path]:
    """Write `make_scans` into ``folder`` (JPEG or PNG by suffix), plus `BAD_FILES`."""
    folder = Path(folder)
    written = []
    jpeg = b""
    for relpath, pixels in make_scans(long_side):
        path = folder / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(pixels)
        if path.suffix == ".jpg":
            image.save(path, quality=90)
            jpeg = jpeg or path.read_bytes()
        else:
            image.save(path)
        written.append(path)
    if bad_files:
        contents = {"bad/empty.jpg": b"", "bad/truncated.jpg": jpeg[: len(jpeg) // 3],
                    "bad/notes.png": b"not an image: notes from the scanning desk\n"}
        for relpath in BAD_FILES:
            path = folder / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(contents[relpath])
            written.append(path)
    return written


STAGE_FLAGS = ("--no-enhance", "--no-classify", "--no-caption")


def missing_stages(command: list[str]) -> list[str]:
    """The options that turn off the stages whose code or model is not installed, saying so.

    The demo then shows what the installed stages do, and says loudly what it left out,
    instead of stopping; `tounum run` itself never drops a stage on its own.
    """
    from tounum.cli import build_parser
    from tounum.pipeline.cli import effective_config
    from tounum.pipeline.job import Job, StageUnavailable

    flags: list[str] = []
    while True:
        config = effective_config(build_parser().parse_args(command + flags))
        try:
            Job(config, ".").check()
            return flags
        except StageUnavailable as exc:
            if not exc.option or exc.option in flags:
                return flags  # the run will stop with this message
            print(f"demo: NOT INSTALLED: {exc}\ndemo: the demo runs without it ({exc.option})",
                  file=sys.stderr)
            flags.append(exc.option)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tounum.pipeline.demo",
        description="Make sample scans from the installed packages and run `tounum run` on them.")
    parser.add_argument("--out", default="demo_output", help="output folder (default demo_output)")
    parser.add_argument("--workers", type=int, default=0, help="as tounum run --workers")
    parser.add_argument("--config", help="as tounum run --config (TOML settings)")
    for flag in STAGE_FLAGS:
        parser.add_argument(flag, action="store_true", help=f"as tounum run {flag}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    scans = out / "scans"
    results = out / "results"
    n = len(write_scans(scans))
    print(f"demo: {n} sample scans (including {len(BAD_FILES)} bad files) in {scans}", file=sys.stderr)
    from tounum.cli import main as tounum

    command = ["run", str(scans), "--out", str(results), "--workers", str(args.workers)]
    command += [flag for flag in STAGE_FLAGS if getattr(args, flag[2:].replace("-", "_"))]
    command += ["--config", args.config] if args.config else []
    left_out = missing_stages(command)
    command += left_out
    print(f"demo: tounum {' '.join(command)}", file=sys.stderr)
    code = tounum(command)
    if code == 2:
        print("demo: the run could not start (see the message above); nothing was produced",
              file=sys.stderr)
        return 2
    import pandas as pd

    table = pd.read_csv(results / "results.csv", keep_default_na=False)
    failed = set(table.loc[table["status"] == "error", "path"])
    unexpected = sorted(failed - set(BAD_FILES))
    missed = sorted(set(BAD_FILES) - failed)
    print(f"demo: {int((table['status'] == 'ok').sum())} images processed, {len(failed)} error rows "
          f"({len(failed) - len(unexpected)} of them the planted bad files)", file=sys.stderr)
    for path in unexpected:
        print(f"demo: UNEXPECTED failure: {table.set_index('path').loc[path, 'error']}", file=sys.stderr)
    for path in missed:
        print(f"demo: the bad file {path} did NOT get an error row", file=sys.stderr)
    if left_out:
        print(f"demo: stages LEFT OUT because they are not installed: {' '.join(left_out)}",
              file=sys.stderr)
    print(f"results: {results / 'results.csv'}")
    print(f"report:  {(results / 'report.html').resolve()}")
    return 1 if unexpected or missed else 0


if __name__ == "__main__":
    sys.exit(main())
