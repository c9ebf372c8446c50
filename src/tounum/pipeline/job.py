"""The job on one batch of files: a picklable worker that never raises.

img2dataset's pattern: a *distributor* (the local process pool, a Dask cluster) is a plain
function that hands batches of `FileRef` to a `Job`; the job loads its models once per process
and returns one `Record` per file, failed files included (their row says why). The job has
four steps so that a distributor can place them where they run best:

- `Job.prepare` (one file, CPU): read, measure quality, enhance;
- `Job.infer` (a batch, models): backbone features once per image, classify, caption the photos;
- `Job.write` (one file, CPU): the enhanced copy with its caption and type in its metadata;
- `Job.commit` (a batch): the batch's rows file, written atomically and LAST; it is the
  done-marker of every file in it, so a killed run redoes exactly the batches not committed.

``job(batch)`` runs the four in turn in the calling process (what a Dask worker does).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import logging
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tounum import __version__
from tounum.config import BackboneConfig, Config, ConfigError
from tounum.pipeline.record import Record, arrow_schema

log = logging.getLogger(__name__)

STATE_DIR = ".tounum"  # inside the output folder: rows files (done-markers)
ROWS_DIR = f"{STATE_DIR}/rows"
ENHANCED_DIR = "enhanced"
# Formats whose family we write back as is; anything else gets a PNG copy.
WRITABLE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}
SLUG_MAX = 60


class StageUnavailable(ConfigError):
    """An enabled stage whose code or model is missing; the run cannot honestly do it."""


@dataclass(frozen=True)
class FileRef:
    """One input file, as the distributor hands it to the job (small and picklable)."""

    path: str  # absolute
    root: str  # the input root it was found under
    relpath: str  # "/"-separated, relative to root
    size: int | None
    sha256: str
    key: str  # identifies file, content and settings: the resume key
    copy_dir: str  # where its enhanced copy goes, relative to the output folder
    error: str = ""  # a discovery error: the file is not processed


def settings_hash(config: Config) -> str:
    """Hash of everything that changes the outputs (not workers, engine or batch size)."""
    values = dataclasses.asdict(config)
    run = values.pop("run")
    values["run"] = {k: run[k] for k in ("enhance", "classify", "caption", "name_by")}
    values["tounum"] = __version__
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_key(root: str, relpath: str, sha256: str, settings: str) -> str:
    return hashlib.sha256(f"{root}\0{relpath}\0{sha256}\0{settings}".encode()).hexdigest()[:32]


def batch_id(refs: Sequence[FileRef]) -> str:
    """Same batch, same id: a retried batch overwrites its own rows file."""
    return hashlib.sha256("\0".join(r.key for r in refs).encode()).hexdigest()[:24]


def slugify(text: str, max_length: int = SLUG_MAX) -> str:
    """A file-name-safe slug of a caption: ASCII letters, digits and dashes, cut at a word.

    Example
    -------
    >>> slugify("A dog runs / on the ../grass!")
    'a-dog-runs-on-the-grass'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or (words[0][:max_length] if words else "photo")


def _stage(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise StageUnavailable(f"{module} is not available: {exc}") from exc


@functools.lru_cache(maxsize=4)
def _models(spec: str) -> dict[str, Any]:
    """Load the models once per process (the registry a worker keeps across batches).

    ``spec`` is the JSON of the settings that choose the models, so that it can key the cache.
    """
    values = json.loads(spec)
    models: dict[str, Any] = {}
    backbone = _stage("tounum.backbone")
    classify = _stage("tounum.classify")
    try:
        models["backbone"] = backbone.load_backbone(BackboneConfig(**values["backbone"]))
        models["classifier"] = classify.load_classifier(values["classify_dir"] or None)
        if values["caption"]:
            caption = _stage("tounum.caption")
            models["captioner"] = caption.load_captioner(values["caption_dir"] or None)
    except StageUnavailable:
        raise
    except (OSError, ValueError, ImportError, AttributeError) as exc:
        raise StageUnavailable(f"cannot load a model: {type(exc).__name__}: {exc}") from exc
    return models


class Job:
    """The work on one batch of files; picklable, loads its models lazily, once per process."""

    def __init__(self, config: Config, out_dir: str | Path) -> None:
        self.config = config
        self.out_dir = str(Path(out_dir).resolve())

    def __call__(self, batch: Sequence[FileRef]) -> list[Record]:
        records = [self.prepare(ref) for ref in batch]
        self.infer(records)
        records = [self.write(record) for record in records]
        self.commit(records)
        return records

    # -- models ----------------------------------------------------------------------------
    def models(self) -> dict[str, Any]:
        """The loaded models (raises `StageUnavailable` with the reason when one is missing)."""
        run = self.config.run
        if not run.classify:
            return {}
        spec = {"backbone": dataclasses.asdict(self.config.backbone),
                "classify_dir": self.config.classify.model_dir, "caption": run.caption,
                "caption_dir": self.config.caption.model_dir}
        return _models(json.dumps(spec, sort_keys=True))

    def check(self) -> None:
        """Import every enabled stage and load its model now: fail before any work is done."""
        _stage("tounum.io")
        if self.config.run.enhance:
            enhance = _stage("tounum.enhance")
            for name in ("assess", "enhance"):
                if not hasattr(enhance, name):
                    raise StageUnavailable(f"tounum.enhance has no {name}() yet")
        if self.config.run.name_by and not self.config.run.caption:
            raise StageUnavailable("--name-by caption needs captions (do not pass --no-caption)")
        self.models()

    # -- step 1: one file, CPU ------------------------------------------------------------
    def prepare(self, ref: FileRef) -> Record:
        """Read, measure and enhance one file; the pixels travel in ``record.extra``."""
        record = Record(path=ref.relpath, root=ref.root, key=ref.key, sha256=ref.sha256,
                        size=ref.size)
        record.extra["copy_dir"] = ref.copy_dir
        if ref.error:
            return record.fail(ref.error)
        start = time.perf_counter()
        try:
            io = _stage("tounum.io")
            try:
                image = io.read_image(ref.path, max_pixels=self.config.io.max_pixels)
            except io.ImageReadError as exc:
                return record.fail(str(exc).replace(ref.path, ref.relpath))
            record.width, record.height, record.format = image.width, image.height, image.format
            for warning in image.warnings:
                record.add_warning(warning)
            record.extra["suffix"] = Path(ref.relpath).suffix.lower()
            pixels = image.pixels
            record.t_read = time.perf_counter() - start
            if self.config.run.enhance:
                start = time.perf_counter()
                pixels = self._enhance(record, pixels)
                record.t_enhance = time.perf_counter() - start
            record.extra["pixels"] = pixels
        except Exception as exc:  # the worker never raises: the row says what went wrong
            log.debug("prepare %s", ref.relpath, exc_info=True)
            record.fail(f"{type(exc).__name__}: {exc}")
        return record

    def _enhance(self, record: Record, pixels: np.ndarray) -> np.ndarray:
        enhance = _stage("tounum.enhance")
        result = enhance.enhance(pixels, self.config.enhance)
        before, after = result.quality_before, result.quality_after
        record.noise_before, record.sharpness_before = _float(before.noise_sigma), _float(before.sharpness)
        record.noise_after, record.sharpness_after = _float(after.noise_sigma), _float(after.sharpness)
        record.enhance_steps = json.dumps(result.steps, default=_json_default)
        return result.pixels

    # -- step 2: a batch, models ----------------------------------------------------------
    def infer(self, records: Sequence[Record]) -> None:
        """Features once per image, shared by the classifier and the captioner (photos only)."""
        todo = [r for r in records if r.status == "ok"]
        if not todo or not self.config.run.classify:
            return
        try:
            self._infer(todo)
        except Exception as exc:
            if len(todo) == 1:
                log.debug("infer %s", todo[0].path, exc_info=True)
                todo[0].fail(f"inference failed: {type(exc).__name__}: {exc}")
                return
            for record in todo:  # find the image that broke the batch; the others go on
                self.infer([record])

    def _infer(self, records: Sequence[Record]) -> None:
        models = self.models()
        share = 1.0 / len(records)  # batch times are shared equally by its images
        start = time.perf_counter()
        features = models["backbone"].features([r.extra["pixels"] for r in records],
                                               batch_size=self.config.backbone.batch_size)
        t_features = (time.perf_counter() - start) * share
        start = time.perf_counter()
        prediction = models["classifier"].predict(features.pooled)
        t_classify = (time.perf_counter() - start) * share
        classes = _stage("tounum.classify").CLASSES
        for i, record in enumerate(records):
            record.t_features, record.t_classify = t_features, t_classify
            record.doc_type = str(prediction.doc_type[i])
            record.is_photo = bool(prediction.is_photo[i])
            for j, name in enumerate(classes):
                setattr(record, f"p_{name}", float(prediction.probs[i, j]))
        photos = [i for i, r in enumerate(records) if r.is_photo]
        if self.config.run.caption and photos:
            start = time.perf_counter()
            captions = models["captioner"].caption(features.grid[photos], beam=self.config.caption.beam)
            t_caption = (time.perf_counter() - start) / len(photos)
            for i, caption in zip(photos, captions, strict=True):
                records[i].caption, records[i].caption_score = caption.text, _float(caption.score)
                records[i].t_caption = t_caption

    # -- step 3: one file, CPU ------------------------------------------------------------
    def write(self, record: Record) -> Record:
        """Write the enhanced copy (with metadata) under ``enhanced/``; drop the pixels."""
        pixels = record.extra.pop("pixels", None)
        if record.status != "ok" or pixels is None or not self.config.run.enhance:
            return self._finish(record)
        start = time.perf_counter()
        try:
            io = _stage("tounum.io")
            relpath = self.copy_relpath(record)
            dest = io.safe_output_path(self.out_dir, relpath)
            io.write_image(pixels, dest, quality=self.config.io.jpeg_quality,
                           **self._metadata(record))
            record.enhanced_path = relpath
        except Exception as exc:
            log.debug("write %s", record.path, exc_info=True)
            record.fail(f"cannot write the enhanced copy: {type(exc).__name__}: {exc}")
        record.t_write = time.perf_counter() - start
        return self._finish(record)

    def copy_relpath(self, record: Record) -> str:
        """Where the enhanced copy goes, relative to the output folder ("/" separators)."""
        relpath = Path(record.extra["copy_dir"], record.path)
        suffix = record.extra.get("suffix", relpath.suffix.lower())
        name = relpath.name if suffix in WRITABLE_SUFFIXES else f"{relpath.name}.png"
        if self.config.run.name_by == "caption" and record.is_photo and record.caption:
            # The client's naming, made safe: slug of the caption, plus a short hash of the input
            # path so that two photos with the same caption never collide, run after run.
            tag = hashlib.sha256(f"{record.root}\0{record.path}".encode()).hexdigest()[:8]
            name = f"{slugify(record.caption)}-{tag}{suffix if suffix in WRITABLE_SUFFIXES else '.png'}"
        return (relpath.parent / name).as_posix()

    def _metadata(self, record: Record) -> dict[str, Any]:
        keywords = [record.doc_type] if record.doc_type else []
        if not (record.caption or keywords):
            return {}
        metadata = _stage("tounum.io.metadata")
        return metadata.write_kwargs(description=record.caption, keywords=keywords)

    @staticmethod
    def _finish(record: Record) -> Record:
        times = (record.t_read, record.t_enhance, record.t_features, record.t_classify,
                 record.t_caption, record.t_write)
        if any(t is not None for t in times):
            record.t_total = float(sum(t for t in times if t is not None))
        return record

    # -- step 4: a batch ------------------------------------------------------------------
    def commit(self, records: Sequence[Record]) -> Path:
        """Write the batch's rows file atomically: the done-marker of all its files."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        io = _stage("tounum.io")
        refs = [FileRef(path="", root=r.root, relpath=r.path, size=None, sha256="", key=r.key,
                        copy_dir="") for r in records]
        dest = io.safe_output_path(self.out_dir, f"{ROWS_DIR}/{batch_id(refs)}.parquet")
        table = pa.Table.from_pylist([r.to_row() for r in records], schema=arrow_schema())
        with io.atomic_write(dest, mode="wb") as f:
            pq.write_table(table, f)
        return dest


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
