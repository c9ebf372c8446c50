"""Throughput of `tounum run` against the client's per-image workflow, on the same scans.

    .venv/bin/python benchmarks/pipeline_throughput.py [--images 24] [--long-side 1200]

Makes a mixed set of ~1-megapixel scans (photos clean, noisy and blurred; text pages, charts,
diagrams, drawings) from `tounum.pipeline.demo`, then runs, each in its own child process so that
its peak memory is its own (sampled over the process tree, pool workers included):

- ``tounum``: ``tounum.pipeline.run`` with the default settings (``--workers 0``: one per core);
- ``client``: the client's notebook workflow, one image at a time: OpenCV NLM denoising
  (h=10, hColor=10, template 7, search 15) and the 3x3 Laplacian sharpening kernel on every image
  (`tounum.enhance.filters.client_nlm`, `client_laplacian`), their 3-convolution classifier at
  250x250 (`tounum.classify.baseline.build_baseline`), InceptionV3 features at 299 (``weights=None``: random
  weights cost the same compute) and a Bahdanau-attention GRU decoder sampling 20 words for
  each photo, then the copy written under a name made of its caption.

Prints one JSON object (images/s, seconds, peak memory, per-stage breakdown of both) and, with
``--markdown``, the table for benchmarks/README.md. Both runs include loading their models.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

PHOTO_PREFIX = "photos/"


def make_set(folder: Path, n_images: int, long_side: int) -> list[Path]:
    """``n_images`` scans cycling through the demo's kinds, ~``long_side`` pixels on the long side."""
    from PIL import Image

    from tounum.pipeline.demo import make_scans

    scans = list(make_scans(long_side))
    paths = []
    for i in range(n_images):
        relpath, pixels = scans[i % len(scans)]
        stem, suffix = os.path.splitext(relpath)
        path = folder / f"{stem}-{i:04d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, **({"quality": 90} if suffix == ".jpg" else {}))
        paths.append(path)
    return paths


# -- the client's workflow, as their notebooks do it ------------------------------------------
def client_models(vocab: int = 5000, units: int = 512, embedding: int = 256):
    """Their classifier (`tounum.classify.baseline`), InceptionV3 and the tutorial's decoder."""
    import keras
    from keras import layers

    from tounum.classify.baseline import build_baseline

    classifier = build_baseline(250)
    inception = keras.applications.InceptionV3(weights=None, include_top=False,
                                               input_shape=(299, 299, 3))
    encoder = layers.Dense(embedding, activation="relu", name="encoder")
    embed = layers.Embedding(vocab, embedding, name="embed")
    w1, w2, v = layers.Dense(units), layers.Dense(units), layers.Dense(1)
    gru = layers.GRU(units, return_state=True, name="gru")
    fc1, fc2 = layers.Dense(units), layers.Dense(vocab)

    def decode_step(word, features, hidden):  # the TensorFlow tutorial's Bahdanau decoder
        import tensorflow as tf

        score = v(tf.nn.tanh(w1(features) + w2(hidden)[:, None, :]))
        context = tf.reduce_sum(tf.nn.softmax(score, axis=1) * features, axis=1)
        x = tf.concat([context[:, None, :], embed(word)], axis=-1)
        output, state = gru(x, initial_state=hidden)
        return fc2(fc1(output)), state

    return classifier, inception, encoder, decode_step, units


def client_workflow(paths: list[Path], out: Path, root: Path) -> dict[str, float]:
    """One image at a time: read, NLM, 3x3 Laplacian sharpening, classify, caption, write."""
    import tensorflow as tf
    from PIL import Image

    from tounum.classify.baseline import squash
    from tounum.enhance.filters import client_laplacian, client_nlm

    times = dict.fromkeys(("load_models", "read", "nlm", "laplacian", "classify", "inception",
                           "decode", "write"), 0.0)
    start = time.perf_counter()
    classifier, inception, encoder, decode_step, units = client_models()
    times["load_models"] = time.perf_counter() - start

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        times[name] += now - since
        return now

    for path in paths:
        t = time.perf_counter()
        rgb = np.asarray(Image.open(path).convert("RGB"))
        t = lap("read", t)
        cleaned = client_nlm(rgb)
        t = lap("nlm", t)
        cleaned = client_laplacian(cleaned)
        t = lap("laplacian", t)
        classifier(squash([cleaned], 250), training=False)
        t = lap("classify", t)
        name = path.stem
        # Random weights cannot recognise photos: caption the ones that are, as a trained
        # classifier would.
        if path.relative_to(root).as_posix().startswith(PHOTO_PREFIX):
            x = squash([cleaned], 299).astype("float32") / 127.5 - 1.0
            grid = inception(x, training=False)
            features = encoder(tf.reshape(grid, (1, -1, grid.shape[-1])))
            t = lap("inception", t)
            word, hidden, words = tf.constant([[1]]), tf.zeros((1, units)), []
            for _ in range(20):
                logits, hidden = decode_step(word, features, hidden)
                word = tf.random.categorical(logits, 1, seed=0)
                words.append(int(word[0, 0]))
            name = "w" + "-".join(map(str, words[:8]))
            t = lap("decode", t)
        Image.fromarray(cleaned).save(out / f"{name}-{path.stem}{path.suffix}")
        lap("write", t)
    return times


# -- measuring a child process ------------------------------------------------------------------
def peak_memory_of(process: subprocess.Popen, interval: float = 0.2) -> dict[str, float]:
    """Sample the RSS of a process and all its children until it exits; the peak of the sum."""
    import psutil

    peak = {"rss": 0.0}

    def sample() -> None:
        try:
            parent = psutil.Process(process.pid)
        except psutil.NoSuchProcess:
            return
        while process.poll() is None:
            total = 0
            try:
                for p in [parent, *parent.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                return
            peak["rss"] = max(peak["rss"], total)
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    process.wait()
    thread.join()
    return peak


def measure(which: str, folder: Path, work: Path, config: str = "") -> dict:
    work.mkdir(parents=True, exist_ok=True)
    result_file = work / f"{which}.json"
    command = [sys.executable, __file__, "--child", which, "--folder", str(folder), "--work",
               str(work)] + (["--config", config] if config else [])
    start = time.perf_counter()
    process = subprocess.Popen(command)
    peak = peak_memory_of(process)
    wall = time.perf_counter() - start
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{which} failed with exit code {process.returncode}")
    result = json.loads(result_file.read_text())
    result.update(wall_s=wall, peak_rss_mib=peak["rss"] / 2**20)
    return result


def child(which: str, folder: Path, work: Path, config_file: str = "") -> None:
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    start = time.perf_counter()
    if which == "client":
        out = work / "client_out"
        out.mkdir(parents=True, exist_ok=True)
        breakdown = client_workflow(paths, out, folder)
        extra = {}
    else:
        import pandas as pd

        from tounum import config
        from tounum.pipeline.run import run

        settings = config.load(config_file) if config_file else config.Config()
        summary = run([folder], work / "tounum_out", settings, progress=False)
        table = pd.read_csv(summary.outputs["results.csv"])
        columns = [c for c in table.columns if c.startswith("t_") and c != "t_total"]
        breakdown = {c[2:]: float(table[c].sum()) for c in columns}
        extra = {"ok": summary.ok, "errors": summary.errors,
                 "doc_types": table["doc_type"].value_counts().to_dict(),
                 "enhanced": int((table["enhance_steps"].fillna("[]") != "[]").sum())}
    seconds = time.perf_counter() - start
    (work / f"{which}.json").write_text(json.dumps(
        {"images": len(paths), "seconds": seconds, "images_per_s": len(paths) / seconds,
         "breakdown_s": breakdown, **extra}))


def markdown(report: dict) -> str:
    lines = ["| workflow | images | seconds | images/s | peak memory (MiB) |",
             "|---|---:|---:|---:|---:|"]
    for which in ("client", "tounum"):
        r = report[which]
        lines.append(f"| {which} | {r['images']} | {r['seconds']:.1f} | {r['images_per_s']:.3f} "
                     f"| {r['peak_rss_mib']:.0f} |")
    if "scaling" in report:
        r = report["scaling"]
        lines.append(f"| tounum, {r['images'] // report['images']}x the images | {r['images']} "
                     f"| {r['seconds']:.1f} | {r['images_per_s']:.3f} | {r['peak_rss_mib']:.0f} |")
    lines.append(f"\nSpeed-up: **{report['speedup']:.2f}x**.\n")
    for which in ("client", "tounum"):
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in report[which]["breakdown_s"].items())
        lines.append(f"- {which} time by stage: {parts}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--long-side", type=int, default=1200, help="1200: ~1 megapixel at 4:3")
    parser.add_argument("--only", choices=["client", "tounum"])
    parser.add_argument("--scaling", type=int, default=0, metavar="K",
                        help="also run tounum on K times as many images: does peak memory grow?")
    parser.add_argument("--config", default="", help="tounum settings (TOML); default: defaults")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", choices=["client", "tounum"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.work, args.config)
        return
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="tounum-bench-") as tmp:
        work = Path(tmp)
        folder = work / "scans"
        paths = make_set(folder, args.images, args.long_side)
        pixels = [np.prod(Image.open(p).size) for p in paths]
        report = {"images": len(paths), "mean_megapixels": float(np.mean(pixels)) / 1e6,
                  "cores": len(os.sched_getaffinity(0))}
        for which in ("client", "tounum"):
            if args.only in (None, which):
                report[which] = measure(which, folder, work / which, args.config)
        if "client" in report and "tounum" in report:
            report["speedup"] = report["tounum"]["images_per_s"] / report["client"]["images_per_s"]
        if args.scaling:
            big = work / "scans-x"
            make_set(big, args.images * args.scaling, args.long_side)
            report["scaling"] = measure("tounum", big, work / "tounum-x", args.config)
    print(json.dumps(report, indent=1))
    if args.markdown and "speedup" in report:
        print(markdown(report))


if __name__ == "__main__":
    main()
