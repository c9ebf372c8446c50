"""Train the blind restorer, or the descreener (the same network), on degraded clean patches.

    python -m tounum.enhance.train_restorer --out /tmp/restorer --minutes 60
    python -m tounum.enhance.train_restorer --task descreen --init src/tounum/models/restorer/restorer.weights.h5 ...

Clean 64x64 patches are cut once from train400_gray (grey, as three equal channels) and the
Flickr8k train photos into ``patches.npy``; every epoch degrades a fresh random subset
(:data:`DEGRADERS`). ``restore``: one of Gaussian noise sigma 0..55, Gaussian blur 0..2.5 plus
noise 0..5, or JPEG quality 10..90 (after light noise). ``descreen``: a halftone screen
(:func:`tounum.enhance.degrade.halftone`) of period 2.5..6.5 pixels at any angle, then in 30%
of patches noise 0..8 and in 30% JPEG quality 40..94, as a scanner leaves them. Weights are saved
after every epoch and a rerun resumes from them; it stops after ``--minutes`` of wall time.
``restorer.weights.h5`` (or ``descreener.weights.h5``) in the output folder is what ships in
``tounum/models/restorer/`` (``tounum/models/descreener/``).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


@dataclass
class TrainConfig:
    out: str = "/tmp/restorer"
    data: str = str(DATA)
    patch: int = 64  # cut once; each epoch trains on random 48x48 crops of them
    crop: int = 48
    patches_per_gray: int = 24  # train400_gray: 400 images of 180x180
    patches_per_photo: int = 3  # Flickr8k train: 6,000 photos of 224x224
    samples_per_epoch: int = 6144
    batch_size: int = 32
    learning_rate: float = 1e-3
    epochs: int = 60  # the cosine schedule's length; --minutes usually stops first
    minutes: float = 60.0
    seed: int = 0
    width: int = 48  # the network's size (RestorerSpec); the weights file records it
    depth: int = 8
    # or "bfloat16": mixed precision, float32 weights; ~3x the steps per second on AMX (the
    # shipped weights were trained in it)
    precision: str = "float32"
    task: str = "restore"  # a key of DEGRADERS: what the network learns to undo
    init: str = ""  # weights to start a fresh run from (the descreener starts from the restorer's)

    @property
    def weights_name(self) -> str:
        return {"restore": "restorer", "descreen": "descreener"}[self.task] + ".weights.h5"


def extract_patches(config: TrainConfig) -> np.ndarray:
    """Random clean patches (N, p, p, 3) uint8 from the two training sets, cached as .npy."""
    import imageio.v3 as iio

    cache = Path(config.out) / "patches.npy"
    if cache.is_file():
        return np.load(cache)
    rng = np.random.default_rng(config.seed)
    p = config.patch
    root = Path(config.data)
    sources = [(f, config.patches_per_gray) for f in sorted((root / "restoration" / "train400_gray").glob("*.png"))]
    flickr = root / "captions" / "flickr8k"
    names = (flickr / "splits" / "train.txt").read_text().split()
    sources += [(flickr / "images" / n, config.patches_per_photo) for n in names]
    patches = []
    for path, count in sources:
        img = np.asarray(iio.imread(path))
        img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
        h, w = img.shape[:2]
        for _ in range(count):
            y, x = rng.integers(0, h - p + 1), rng.integers(0, w - p + 1)
            patch = img[y:y + p, x:x + p]
            patches.append(np.rot90(patch, rng.integers(4))[:, :: rng.choice((1, -1))])
    patches = np.ascontiguousarray(np.stack(patches))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, patches)
    log.info("extracted %d patches from %d images", len(patches), len(sources))
    return patches


def degrade_randomly(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random degradation of one uint8 patch: noise, blur + light noise, or JPEG."""
    from tounum.enhance.degrade import add_gaussian_noise, gaussian_blur, jpeg_compress

    kind = rng.random()
    if kind < 0.5:
        return add_gaussian_noise(clean, rng.uniform(0, 55), seed=rng)
    if kind < 0.75:
        blurred = gaussian_blur(clean, rng.uniform(0, 2.5))
        return add_gaussian_noise(blurred, rng.uniform(0, 5), seed=rng)
    return jpeg_compress(add_gaussian_noise(clean, rng.uniform(0, 5), seed=rng), int(rng.integers(10, 91)))


def screen_randomly(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random printed-and-scanned version of one uint8 patch: a halftone screen, maybe noise or JPEG."""
    from tounum.enhance.degrade import add_gaussian_noise, halftone, jpeg_compress

    screened = halftone(clean, rng.uniform(2.5, 6.5), rng.uniform(0, 90))
    kind = rng.random()
    if kind < 0.3:
        return add_gaussian_noise(screened, rng.uniform(0, 8), seed=rng)
    if kind < 0.6:
        return jpeg_compress(screened, int(rng.integers(40, 95)))
    return screened


# task -> the degradation the network learns to undo, drawn per patch
DEGRADERS = {"restore": degrade_randomly, "descreen": screen_randomly}


def compiled_model(config: TrainConfig):
    """The network and its optimizer, resumed from ``config.out`` if a run saved an epoch there.

    Returns ``(model, epoch)``: the compiled Keras model and the number of epochs already done.
    """
    import keras

    from tounum.enhance.restorer import RestorerSpec, build_restorer

    out = Path(config.out)
    weights, state_file = out / config.weights_name, out / "state.json"
    model = build_restorer(RestorerSpec(width=config.width, depth=config.depth,
                                        precision=config.precision))
    steps = config.samples_per_epoch // config.batch_size
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps,
                                                     alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)
    model.compile(optimizer=optimizer, loss="mean_squared_error")
    epoch = 0
    if weights.is_file() and state_file.is_file():
        # Built first, the optimizer gets its saved moments back too: a fresh Adam state at a
        # high learning rate threw a resumed run back (model card).
        optimizer.build(model.trainable_variables)
        model.load_weights(weights)
        epoch = json.loads(state_file.read_text())["epoch"]
        log.info("resuming after epoch %d", epoch)
    elif config.init:  # a fresh run from other weights: the network only, Adam starts afresh
        model.load_weights(config.init)
        log.info("starting from %s", config.init)
    optimizer.iterations.assign(epoch * steps)  # the schedule's position, whatever --epochs is now
    return model, epoch


def train(config: TrainConfig) -> Path:
    """Train (resuming from the last epoch's weights) until the time or epoch budget ends."""
    out = Path(config.out)
    if config.task not in DEGRADERS:
        raise ValueError(f"unknown task {config.task!r} ({', '.join(DEGRADERS)})")
    out.mkdir(parents=True, exist_ok=True)
    weights, state_file = out / config.weights_name, out / "state.json"
    degrade = DEGRADERS[config.task]
    patches = extract_patches(config)
    model, epoch = compiled_model(config)
    rng = np.random.default_rng(config.seed + epoch)
    start = time.monotonic()
    history = []
    while epoch < config.epochs and (time.monotonic() - start) / 60 < config.minutes:
        pick = rng.choice(len(patches), config.samples_per_epoch, replace=False)
        y, x = rng.integers(0, config.patch - config.crop + 1, 2)
        clean = patches[pick, y:y + config.crop, x:x + config.crop]
        degraded = np.stack([degrade(c, rng) for c in clean])
        loss = model.fit(degraded.astype(np.float32) / 255, clean.astype(np.float32) / 255,
                         batch_size=config.batch_size, epochs=1, verbose=0).history["loss"][0]
        epoch += 1
        model.save_weights(weights)
        history.append({"epoch": epoch, "loss": loss, "minutes": (time.monotonic() - start) / 60})
        state_file.write_text(json.dumps({"epoch": epoch, "config": asdict(config)}))
        with open(out / "history.jsonl", "a") as f:
            f.write(json.dumps(history[-1]) + "\n")
        log.info("epoch %d loss %.5f (%.1f min)", epoch, loss, history[-1]["minutes"])
    return weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    parser.add_argument("--out", default=defaults.out, help="folder for patches, weights, log")
    parser.add_argument("--data", default=defaults.data, help="the shared data folder")
    parser.add_argument("--minutes", type=float, default=defaults.minutes, help="wall-time budget")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--samples-per-epoch", type=int, default=defaults.samples_per_epoch)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--width", type=int, default=defaults.width, help="channels per layer")
    parser.add_argument("--depth", type=int, default=defaults.depth,
                        help="hidden layers between the first and the last convolution")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default=defaults.precision,
                        help="bfloat16: mixed precision (float32 weights), about 3x faster on "
                             "AMX CPUs")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                        help="Adam's starting rate (cosine decay to 5%% of it over --epochs)")
    parser.add_argument("--task", choices=tuple(DEGRADERS), default=defaults.task,
                        help="restore: noise, blur, JPEG; descreen: printed halftone screens")
    parser.add_argument("--init", default=defaults.init,
                        help="weights file a fresh run starts from (e.g. the shipped restorer)")


def run(args: argparse.Namespace) -> int:
    config = TrainConfig(out=args.out, data=args.data, minutes=args.minutes, epochs=args.epochs,
                         samples_per_epoch=args.samples_per_epoch, seed=args.seed,
                         width=args.width, depth=args.depth, precision=args.precision,
                         learning_rate=args.learning_rate, task=args.task, init=args.init)
    print(train(config))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
