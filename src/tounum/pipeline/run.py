"""`run`: the whole job on a set of inputs, resumable, into one output folder.

Layout of the output folder ``DIR`` (nothing is ever written outside it, nor into the inputs)::

    DIR/enhanced/...          cleaned copies mirroring the input tree, caption + type in metadata
    DIR/results.csv           one row per input file (`tounum.pipeline.record.COLUMNS`)
    DIR/results.parquet       the same table, typed
    DIR/captions.json         the photos' captions, COCO results format, with images and paths
    DIR/report.html           a self-contained page to check the batch
    DIR/.tounum/rows/*.parquet  one rows file per finished batch: the done-markers

Resuming: every input has a key made of its path, content hash and the settings hash; a rerun
skips the inputs whose key is in a rows file with status ok (failed ones are tried again), and
the tables are rebuilt from the rows files, one row per input of this run.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import tounum.io as tio
from tounum.config import Config, ConfigError
from tounum.pipeline.job import ROWS_DIR, FileRef, Job, file_key, settings_hash
from tounum.pipeline.record import COLUMNS, Record, arrow_schema

log = logging.getLogger(__name__)

STATUS_RANK = {"ok": 0, "skipped": 1, "error": 2}  # which row wins when an input has several


@dataclass
class RunSummary:
    """What a run did: counts, where the outputs are, and the exit code it deserves."""

    out_dir: Path
    total: int = 0
    processed: int = 0  # in this run
    reused: int = 0  # finished by an earlier run
    ok: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    outputs: dict[str, Path] = field(default_factory=dict)
    planned: list[tuple[str, str]] = field(default_factory=list)  # dry run: (action, path)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


def plan(inputs: Sequence[str | os.PathLike[str]], out_dir: str | Path,
         config: Config) -> tuple[list[FileRef], set[str]]:
    """Discover the inputs and the keys already finished: (every input, keys ok or skipped)."""
    try:  # before discovery: an output folder inside an input must not be listed as input
        out = tio.check_output_dir(out_dir, [str(p) for p in inputs])
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    manifest = tio.discover([str(p) for p in inputs])
    if len(manifest) == 0:
        raise ConfigError(f"no input files found in {', '.join(map(str, inputs))}")
    settings = settings_hash(config)
    refs = []
    for row in manifest.itertuples(index=False):
        sha = row.sha256 if isinstance(row.sha256, str) else ""
        refs.append(FileRef(
            path=str(row.path), root=str(row.root), relpath=str(row.relpath),
            size=None if pd.isna(row.size) else int(row.size), sha256=sha,
            key=file_key(str(row.root), str(row.relpath), sha, settings),
            output_relpath=str(row.output_relpath),
            error=row.error if isinstance(row.error, str) and row.error else "",
        ))
    done = {key for key, status in _read_statuses(out) if status in ("ok", "skipped")}
    return refs, done


def run(inputs: Sequence[str | os.PathLike[str]], out_dir: str | Path, config: Config | None = None,
        *, dry_run: bool = False, progress: bool | None = None) -> RunSummary:
    """Clean, classify and caption every image under ``inputs``; write everything into ``out_dir``.

    Parameters
    ----------
    inputs : files or folders (folders are walked).
    out_dir : the output folder; created if needed; must not be inside an input folder's tree
        of files to process, nor contain the inputs.
    config : every setting (`tounum.config.Config`); defaults when None.
    dry_run : only say what would be done (``summary.planned``); nothing is written.
    progress : show a progress bar on stderr (default: when stderr is a terminal).

    Returns
    -------
    RunSummary with the counts, the output paths and ``exit_code`` (0 all ok, 1 some failed).

    Raises
    ------
    ConfigError when the settings or the inputs cannot be used; `StageUnavailable` (a
    ConfigError) when an enabled stage's code or model is missing: the run does not pretend.

    Example
    -------
    >>> from tounum.config import Config
    >>> summary = run(["scans/"], "out/", Config())  # doctest: +SKIP
    >>> summary.exit_code  # doctest: +SKIP
    0
    """
    config = config or Config()
    _validate(config)
    start = time.perf_counter()
    out = Path(out_dir).resolve()
    refs, done = plan(inputs, out, config)
    todo = [r for r in refs if r.key not in done]
    summary = RunSummary(out_dir=out, total=len(refs), reused=len(refs) - len(todo))
    if dry_run:
        summary.planned = [("done" if r.key in done else "error" if r.error else "process",
                            _display(r)) for r in refs]
        return summary
    job = Job(config, out)
    if todo:  # the local distributor loads the models itself, while its pool starts on the files
        job.check(models=config.run.engine != "local")
    out.mkdir(parents=True, exist_ok=True)
    for path in tio.remove_temporaries(out):  # what a killed run was writing
        log.info("removed the partial file %s", path)
    distributor = _distributor(config)
    batches = _batches(todo, config.run.batch_size)
    with _progress_bar(len(refs), len(refs) - len(todo), progress) as bar:
        for records in distributor(job, batches, workers=config.run.workers,
                                   prefetch=config.run.prefetch, scheduler=config.run.scheduler):
            summary.processed += len(records)
            bar.update(len(records))
    table = merge_rows(out, refs)
    counts = table["status"].value_counts()
    summary.ok, summary.errors, summary.skipped = (int(counts.get(s, 0)) for s in
                                                   ("ok", "error", "skipped"))
    summary.outputs = write_outputs(table, out, config)
    summary.seconds = time.perf_counter() - start
    return summary


def _validate(config: Config) -> None:
    run = config.run
    if run.engine not in ("local", "dask"):
        raise ConfigError(f"run.engine: expected 'local' or 'dask', got {run.engine!r}")
    if run.name_by not in ("", "caption"):
        raise ConfigError(f"run.name_by: expected '' or 'caption', got {run.name_by!r}")
    if run.batch_size < 1 or run.workers < 0 or run.prefetch < 1:
        raise ConfigError("run.batch_size and run.prefetch must be >= 1 and run.workers >= 0")
    if run.caption and not run.classify:
        raise ConfigError("captions need the classifier (photos only): pass --no-caption too")


def _distributor(config: Config) -> Callable[..., Iterator[list[Record]]]:
    if config.run.engine == "local":
        from tounum.pipeline.distribute import local

        return local
    try:
        module = importlib.import_module("tounum.pipeline.dask")
    except ModuleNotFoundError as exc:
        if exc.name != "tounum.pipeline.dask":
            raise
        raise ConfigError("--engine dask is not available in this version yet "
                          "(tounum.pipeline.dask is missing); use --engine local") from exc
    return module.distributor


def _batches(refs: Sequence[FileRef], size: int) -> Iterator[list[FileRef]]:
    for i in range(0, len(refs), size):
        yield list(refs[i:i + size])


def _display(ref: FileRef) -> str:
    return ref.relpath if not ref.error else f"{ref.relpath}: {ref.error}"


def _read_statuses(out: Path) -> Iterator[tuple[str, str]]:
    rows_dir = out / ROWS_DIR
    if not rows_dir.is_dir():
        return
    import pyarrow.parquet as pq

    for path in sorted(rows_dir.glob("*.parquet")):
        try:
            table = pq.read_table(path, columns=["key", "status"])
        except Exception as exc:  # noqa: BLE001 - an unreadable rows file is redone, not fatal
            log.warning("%s: unreadable rows file, its files will be redone (%s)", path, exc)
            continue
        yield from zip(table.column("key").to_pylist(), table.column("status").to_pylist())


def merge_rows(out: Path, refs: Sequence[FileRef]) -> pd.DataFrame:
    """One row per input of this run, from the rows files (the best row when there are several)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = {r.key for r in refs}
    tables = []
    for path in sorted((out / ROWS_DIR).glob("*.parquet")):
        try:
            table = pq.read_table(path, schema=arrow_schema())
        except Exception:  # noqa: BLE001 - reported by _read_statuses already
            continue
        mask = pa.compute.is_in(table.column("key"), value_set=pa.array(sorted(wanted)))
        tables.append(table.filter(mask))
    schema = arrow_schema()
    frame = (pa.concat_tables(tables) if tables else schema.empty_table()).to_pandas(
        types_mapper=_pandas_types)
    frame["_rank"] = frame["status"].map(STATUS_RANK)
    frame = frame.sort_values("_rank", kind="stable").drop_duplicates("key").drop(columns="_rank")
    order = {r.key: i for i, r in enumerate(refs)}
    frame = frame.assign(_order=frame["key"].map(order)).sort_values("_order")
    missing = wanted - set(frame["key"])
    if missing:  # a distributor lost a batch: say so instead of writing a short table
        raise RuntimeError(f"{len(missing)} input(s) have no row after the run")
    return frame.drop(columns="_order").reset_index(drop=True)[list(COLUMNS)]


def _pandas_types(arrow_type: Any) -> Any:
    import pyarrow as pa

    if arrow_type == pa.int64():
        return pd.Int64Dtype()
    if arrow_type == pa.bool_():
        return pd.BooleanDtype()
    return None


def write_outputs(table: pd.DataFrame, out: Path, config: Config) -> dict[str, Path]:
    """results.csv, results.parquet, captions.json and report.html, each written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tounum.pipeline import report

    outputs = {name: out / name for name in ("results.csv", "results.parquet", "captions.json",
                                              "report.html")}
    with tio.atomic_write(outputs["results.csv"], mode="w") as f:
        table.to_csv(f, index=False)
    with tio.atomic_write(outputs["results.parquet"], mode="wb") as f:
        pq.write_table(pa.Table.from_pandas(table, schema=arrow_schema(), preserve_index=False), f)
    with tio.atomic_write(outputs["captions.json"], mode="w") as f:
        json.dump(coco_captions(table), f, indent=1, ensure_ascii=False)
    html = report.render(table, out, config)
    with tio.atomic_write(outputs["report.html"], mode="w") as f:
        f.write(html)
    return outputs


def coco_captions(table: pd.DataFrame) -> dict[str, Any]:
    """The photos' captions as COCO results (``annotations``) with their ``images`` and paths.

    ``annotations`` is the list a COCO caption evaluator loads as results
    (``[{"image_id": int, "caption": str}]``); ``images`` gives each id its ``file_name`` (the
    input path), ``width``, ``height``, and where its enhanced copy is. Ids are row numbers of
    ``results.csv`` + 1, stable between runs on the same inputs.
    """
    images, annotations = [], []
    for i, row in enumerate(table.itertuples(index=False), start=1):
        if row.status != "ok" or not row.caption:
            continue
        images.append({"id": i, "file_name": row.path, "width": int(row.width),
                       "height": int(row.height), "root": row.root,
                       "enhanced_path": row.enhanced_path})
        annotations.append({"image_id": i, "caption": row.caption,
                            "score": None if pd.isna(row.caption_score) else float(row.caption_score)})
    return {"info": {"description": "tounum captions", "format": "COCO results"},
            "images": images, "annotations": annotations}


class _NoBar:
    def __init__(self, *_: Any) -> None: ...
    def update(self, n: int) -> None: ...
    def __enter__(self) -> _NoBar:
        return self
    def __exit__(self, *_: Any) -> None: ...


def _progress_bar(total: int, initial: int, show: bool | None) -> Any:
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="img", file=sys.stderr, dynamic_ncols=True,
                desc="tounum run", smoothing=0.1)
