"""The job on one batch of files: a picklable worker that never raises.

img2dataset's pattern: a *distributor* (the local process pool, a Dask cluster) is a plain
function that hands batches of `FileRef` to a `Job`; the job loads its models once per process
and returns one `Record` per file, failed files included (their row says why). The job has
four steps so that a distributor can place them where they run best:

- `Job.prepare` (one file, CPU): read, measure quality, enhance;
- `Job.infer` (a batch, models): backbone features once per image (and of a cleaned image as it
  was scanned too, which the classifier also reads: `classifier_views`), classify, caption the
  photos;
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
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from tounum import __version__
from tounum.config import Config, ConfigError
import tounum.io as tio
from tounum.io.discover import IMAGE_SUFFIXES
from tounum.io.metadata import caption_metadata
from tounum.pipeline.record import QUALITY_MEASURES, Record, arrow_schema

log = logging.getLogger(__name__)

STATE_DIR = ".tounum"  # inside the output folder: rows files (done-markers)
ROWS_DIR = f"{STATE_DIR}/rows"
ENHANCED_DIR = "enhanced"
# The format of an enhanced copy, by the original's format: same family, and able to carry the
# caption's metadata (BMP and GIF cannot: their copies are PNG, lossless like them).
COPY_FORMAT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "WEBP": "WEBP",
               "BMP": "PNG", "GIF": "PNG"}
FORMAT_BY_SUFFIX = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".tif": "TIFF",
                    ".tiff": "TIFF", ".webp": "WEBP"}
SUFFIX_BY_FORMAT = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp"}
SLUG_MAX = 60


class StageUnavailable(ConfigError):
    """An enabled stage whose code or model is missing; the run cannot honestly do it.

    ``option`` is the `tounum run` option that turns the stage off ("" when none would help).
    """

    def __init__(self, message: str, option: str = "") -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class FileRef:
    """One input file, as the distributor hands it to the job (small and picklable)."""

    path: str  # absolute
    root: str  # the input root it was found under
    relpath: str  # "/"-separated, relative to root
    size: int | None
    sha256: str
    key: str  # identifies file, content and settings: the resume key
    output_relpath: str  # its place in the output tree: relpath, unique across input roots
    error: str = ""  # a discovery error: the file is not processed


def settings_hash(config: Config) -> str:
    """Hash of everything that changes the outputs (not workers, engine, batch sizes, training)."""
    values = dataclasses.asdict(config)
    values["run"] = {k: values["run"][k] for k in ("enhance", "classify", "caption", "name_by")}
    values["classify"] = {"model_dir": values["classify"]["model_dir"]}  # the rest is training
    for section, key in (("backbone", "batch_size"), ("backbone", "feature_cache"),
                         ("caption", "batch_size")):
        values[section].pop(key, None)
    values["tounum"] = __version__
    values["models"] = {name: _fingerprint(folder) for name, folder in model_dirs(config).items()}
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_dirs(config: Config) -> dict[str, str]:
    """The model folders (or weights files) the enabled stages will load (retrained weights change the outputs)."""
    dirs = {}
    try:
        if config.run.enhance:
            restorer = importlib.import_module("tounum.enhance.restorer")
            dirs["restorer"] = config.enhance.restorer_weights or str(restorer.WEIGHTS)
            dirs["descreener"] = config.enhance.descreener_weights or str(restorer.DESCREENER_WEIGHTS)
        if config.run.classify:
            default = importlib.import_module("tounum.classify.classifier").DEFAULT_MODEL_DIR
            dirs["classifier"] = str(config.classify.model_dir or default)
        if config.run.caption:
            dirs["captioner"] = str(config.caption.model_dir or _stage("tounum.caption").SHIPPED_MODEL)
    except (ImportError, AttributeError):
        pass  # the stage is missing: `Job.check` says so before anything runs
    return dirs


@functools.lru_cache(maxsize=8)
def _fingerprint(folder: str) -> str:
    """Hash of the files in a model folder, or of one weights file (names and bytes); "missing" when there is none."""
    root = Path(folder)
    if root.is_file():
        return hashlib.sha256(root.read_bytes()).hexdigest()[:16]
    if not root.is_dir():
        return "missing"
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


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
    models = {"classifier": _load("tounum.classify", "load_classifier", values["classify_dir"],
                                  "the document-type classifier", "--no-classify")}
    if values["caption"]:
        models["captioner"] = _load("tounum.caption", "load_captioner", values["caption_dir"],
                                    "the captioner", "--no-caption")
    return models


def _load(module: str, loader: str, model_dir: str, what: str, option: str) -> Any:
    try:
        return getattr(importlib.import_module(module), loader)(model_dir or None)
    except (OSError, ValueError, ImportError, AttributeError, KeyError) as exc:
        raise StageUnavailable(f"{what} cannot be loaded ({type(exc).__name__}: {exc}); "
                               f"ship or train its model, or run with {option}", option) from exc


def classifier_views(scanned: np.ndarray, enhanced) -> tuple[np.ndarray, np.ndarray | None]:
    """What the classifier reads of an image the enhancement cleaned: ``(image, also)``.

    ``also`` is the second view whose class scores :meth:`tounum.classify.Classifier.predict`
    averages in, or None. Left unchanged: the image alone. Descreened: the scan alone, which the
    classifier descreens itself as it was trained to (to it the learned descreener's copy looks
    painted; ``benchmarks/classify_robustness.py --enhance``). Otherwise cleaned: the copy, and
    the scan as ``also`` (cleaning uncovers what a blur hid, but a denoiser's smoothness also
    makes a photograph look painted).

    Parameters
    ----------
    scanned : the image as read
    enhanced : tounum.enhance.Enhanced
        What :func:`tounum.enhance.enhance` made of it.
    """
    if enhanced.pixels is scanned or any(step.get("op") == "descreen" for step in enhanced.steps):
        return scanned, None
    return enhanced.pixels, scanned


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
        spec = {"classify_dir": self.config.classify.model_dir, "caption": run.caption,
                "caption_dir": self.config.caption.model_dir}
        return _models(json.dumps(spec, sort_keys=True))

    def check(self, models: bool = True) -> None:
        """Import every enabled stage and (``models``) load its model now: fail before any output.

        The local distributor loads the models itself (``check()``), while its pool already
        reads and cleans the first files: the main process's start-up is then not idle time.
        """
        if self.config.run.enhance:
            enhance = _stage("tounum.enhance")
            for name in ("assess", "enhance"):
                if not hasattr(enhance, name):
                    raise StageUnavailable(f"tounum.enhance has no {name}() in this version: the "
                                           "images cannot be cleaned; run with --no-enhance",
                                           "--no-enhance")
        if self.config.run.name_by and not self.config.run.caption:
            raise StageUnavailable("--name-by caption needs captions (do not pass --no-caption)")
        if not models:
            return
        try:
            for model in self.models().values():  # build the backbones now: fail before any work
                self.backbone(model)
        except (OSError, ValueError, ImportError) as exc:
            raise StageUnavailable(f"the backbone cannot be built ({type(exc).__name__}: {exc}); "
                                   "run with --no-classify", "--no-classify") from exc

    # -- step 1: one file, CPU ------------------------------------------------------------
    def prepare(self, ref: FileRef) -> Record:
        """Read, measure and enhance one file; the pixels travel in ``record.extra``."""
        record = Record(path=ref.relpath, root=ref.root, key=ref.key, sha256=ref.sha256,
                        size=ref.size)
        record.extra["output_relpath"] = ref.output_relpath
        if ref.error:
            return record.fail(ref.error)
        start = time.perf_counter()
        try:
            try:
                image = tio.read_image(ref.path, max_pixels=self.config.io.max_pixels,
                                      root=ref.root)
            except tio.ImageReadError as exc:
                record.fail(f"{ref.relpath}: {exc.reason}")
                if not ref.relpath.lower().endswith(IMAGE_SUFFIXES):
                    record.status = "skipped"  # notes.txt, Thumbs.db: not handed over as a scan
                return record
            record.width, record.height, record.format = image.width, image.height, image.format
            for warning in image.warnings:
                record.add_warning(warning)
            record.extra.update(icc_profile=image.icc_profile, dpi=image.dpi)
            pixels = image.pixels
            record.t_read = time.perf_counter() - start
            if self.config.run.enhance:
                start = time.perf_counter()
                result = self._enhance(record, pixels)
                record.t_enhance = time.perf_counter() - start
                if self.config.run.classify:
                    record.extra["read"], record.extra["scanned"] = classifier_views(pixels, result)
                pixels = result.pixels
            record.extra["pixels"] = pixels
        except Exception as exc:  # the worker never raises: the row says what went wrong
            log.debug("prepare %s", ref.relpath, exc_info=True)
            record.fail(f"{type(exc).__name__}: {exc}")
        return record

    def _enhance(self, record: Record, pixels: np.ndarray):
        enhance = _stage("tounum.enhance")
        result = enhance.enhance(pixels, self.config.enhance)
        for when, quality in (("before", result.quality_before), ("after", result.quality_after)):
            for column, field_name in QUALITY_MEASURES.items():
                setattr(record, f"{column}_{when}", _float(getattr(quality, field_name)))
        record.enhance_steps = json.dumps(result.steps, default=_json_default)
        return result

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
        pixels = [r.extra.get("read", r.extra["pixels"]) for r in records]
        start = time.perf_counter()
        backbone = self.backbone(models["classifier"])
        # descreened as the classifier was trained (halftone scans); the captioner reads these features too
        features = backbone.features(models["classifier"].prepare(pixels),
                                     batch_size=self.config.backbone.batch_size)
        # a cleaned image is also classified as it was scanned (see Classifier.predict)
        scanned = models["classifier"].as_scanned(features, [r.extra.get("scanned") for r in records],
                                                  backbone, self.config.backbone.batch_size)
        t_features = (time.perf_counter() - start) * share
        start = time.perf_counter()
        prediction = models["classifier"].predict(features, scanned)
        t_classify = (time.perf_counter() - start) * share
        classes = _stage("tounum.classify").CLASSES
        for i, record in enumerate(records):
            record.t_features, record.t_classify = t_features, t_classify
            record.doc_type = str(prediction.doc_type[i])
            record.is_photo = bool(prediction.is_photo[i])
            for j, name in enumerate(classes):
                setattr(record, f"p_{name}", float(prediction.probs[i, j]))
        photos = [i for i, r in enumerate(records) if r.is_photo]
        if not (self.config.run.caption and photos):
            return
        captioner = models["captioner"]
        start = time.perf_counter()
        grid = features.grid[photos]
        caption_backbone = self.backbone(captioner)
        if caption_backbone is not backbone:  # trained on another resize: its own features
            grid = caption_backbone.features([pixels[i] for i in photos],
                                             batch_size=self.config.backbone.batch_size).grid
        t_grid = (time.perf_counter() - start) / len(photos)
        start = time.perf_counter()
        c = self.config.caption
        captions = captioner.caption(grid, beam=c.beam or None, batch_size=c.batch_size,
                                     alpha=None if c.alpha < 0 else c.alpha, max_words=c.max_length)
        t_caption = (time.perf_counter() - start) / len(photos)
        for i, caption in zip(photos, captions, strict=True):
            records[i].caption, records[i].caption_score = caption.text, _float(caption.score)
            records[i].t_caption = t_caption
            records[i].t_features = (records[i].t_features or 0.0) + t_grid

    def backbone(self, model: Any) -> Any:
        """The backbone whose features ``model`` was trained on (name, resize, precision, as it says)."""
        recorded = dict(getattr(model, "info", {}).get("backbone", {}))
        if getattr(model, "resize", None):
            recorded["resize"] = model.resize
        return _stage("tounum.backbone").trained_backbone(recorded, self.config.backbone,
                                                          getattr(model, "folder", None))

    # -- step 3: one file, CPU ------------------------------------------------------------
    def write(self, record: Record) -> Record:
        """Write the enhanced copy (with metadata) under ``enhanced/``; drop the pixels."""
        pixels = record.extra.pop("pixels", None)
        record.extra.pop("scanned", None)
        record.extra.pop("read", None)
        if record.status != "ok" or pixels is None or not self.config.run.enhance:
            return self._finish(record)
        start = time.perf_counter()
        try:
            relpath = self.copy_relpath(record)
            dest = tio.safe_output_path(self.out_dir, relpath)
            dest.parent.mkdir(parents=True, exist_ok=True)
            keywords = [record.doc_type] if record.doc_type else []
            meta = (caption_metadata(record.caption or None, keywords,
                                              writer=f"tounum {__version__}" if record.caption else None)
                    if record.caption or keywords else None)
            family = COPY_FORMAT[record.format]
            tio.write_image(pixels, dest, format=family, quality=self.config.io.jpeg_quality,
                           xmp=meta.xmp if meta else None,
                           iptc=meta.iptc if meta and family in ("JPEG", "TIFF") else None,
                           icc_profile=record.extra.get("icc_profile"), dpi=record.extra.get("dpi"))
            record.enhanced_path = dest.relative_to(self.out_dir).as_posix()
        except Exception as exc:
            log.debug("write %s", record.path, exc_info=True)
            record.fail(f"cannot write the enhanced copy: {type(exc).__name__}: {exc}")
        record.t_write = time.perf_counter() - start
        return self._finish(record)

    def copy_relpath(self, record: Record) -> str:
        """Where the enhanced copy goes, relative to the output folder ("/" separators).

        The input's relative path, with the suffix of the copy's format appended when the name
        does not already say it (``scan.bmp`` -> ``scan.bmp.png``); with ``name_by =
        "caption"``, photos are named after their caption instead.
        """
        family = COPY_FORMAT[record.format]
        relpath = PurePosixPath(ENHANCED_DIR, record.extra["output_relpath"])
        suffix = SUFFIX_BY_FORMAT[family]
        name = relpath.name
        if FORMAT_BY_SUFFIX.get(relpath.suffix.lower()) != family:
            name += suffix
        if self.config.run.name_by == "caption" and record.is_photo and record.caption:
            # The client's naming, made safe: the slug of the caption, and a short hash of the
            # input path so that two photos with the same caption never collide, run after run.
            tag = hashlib.sha256(f"{record.root}\0{record.path}".encode()).hexdigest()[:8]
            name = f"{slugify(record.caption)}-{tag}{suffix}"
        return (relpath.parent / name).as_posix()

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

        refs = [FileRef(path="", root=r.root, relpath=r.path, size=None, sha256="", key=r.key,
                        output_relpath="") for r in records]
        dest = tio.safe_output_path(self.out_dir, f"{ROWS_DIR}/{batch_id(refs)}.parquet")
        dest.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([r.to_row() for r in records], schema=arrow_schema())
        with tio.atomic_write(dest, mode="wb") as f:
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
