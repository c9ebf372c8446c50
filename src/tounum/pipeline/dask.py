"""The Dask distributor: ``job(batch)`` on the workers of a Dask cluster (``--engine dask``).

``distributor(job, batches, workers=N, scheduler=ADDR)`` is called by `tounum.pipeline.run.run`
like the local one and yields each batch's records once its rows file is committed:

- without ``scheduler``: a `distributed.LocalCluster` on 127.0.0.1 with ``workers`` processes
  (one per core when 0), one thread each; with ``scheduler`` (``tcp://HOST:PORT``): a `Client`
  of a cluster the user started (``dask scheduler``, ``dask worker``).
- each batch runs whole on one worker (`Job.__call__`: prepare, infer, write, commit). The
  models are loaded by the job's per-process registry (`tounum.pipeline.job._models`, an
  ``lru_cache``), so a worker process loads them on its first batch and keeps them.
- fault tolerance: a worker that dies mid-batch costs nothing but time: the scheduler runs the
  batch again elsewhere (up to ``distributed.scheduler.allowed-failures`` times), and the job's
  writes are atomic and idempotent (same batch, same rows file; the rows file, written last, is
  the done-marker). A batch that keeps killing workers (a decoder crash, the out-of-memory
  killer) is retried at the end one file at a time, so that only the file that kills gets an
  error row.
- memory: at most ``2 x`` the cluster's threads batches are submitted at a time, so the client
  and the scheduler hold a bounded number of tasks whatever the number of inputs.
- batches are yielded as they complete (`distributed.as_completed`), so the progress bar of
  ``tounum run`` follows the cluster.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import os
import posixpath
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tounum import __version__
from tounum.config import Config, ConfigError
from tounum.pipeline.distribute import default_workers
from tounum.pipeline.job import ROWS_DIR, FileRef, Job, batch_id, file_key, settings_hash
from tounum.pipeline.record import Record

if TYPE_CHECKING:
    from tounum.pipeline.run import RunSummary

log = logging.getLogger(__name__)

RETRIES = 2  # a batch whose task raises (a shared-filesystem hiccup in commit) is run again
CONNECT_TIMEOUT = 30  # seconds to reach a scheduler, and to wait for its first worker
CRASHED = "the file killed every Dask worker it was given to (a decoder crash or out of memory)"
CLUSTER_CONFIG = {
    # One batch at a time per worker thread: when a worker dies, only the batch it was running
    # is blamed (counted towards ``allowed-failures``), not the ones queued behind it.
    "distributed.scheduler.worker-saturation": 1.0,
    # Workers keep this process's thread settings (Dask would set OMP/MKL/OpenBLAS to one
    # thread): the models' float sums depend on them (last bits of probabilities and caption
    # scores); with the same settings the rows are bit for bit those of ``--engine local``.
    "distributed.nanny.pre-spawn-environ": {"MALLOC_TRIM_THRESHOLD_": 65536},
}


def distributor(job: Job | StagedJob, batches: Iterable[Sequence[FileRef]], *, workers: int = 0,
                scheduler: str = "", retries: int = RETRIES, **_: object) -> Iterator[list[Record]]:
    """Run ``job`` on each batch on a Dask cluster; yield each batch's records as it completes.

    Parameters
    ----------
    job : the picklable job: a `Job` (its ``out_dir`` on a filesystem every worker sees), or a
        `StagedJob` (URLs).
    batches : batches of `FileRef`; consumed lazily.
    workers : worker processes of the local cluster (0: one per core); ignored with a scheduler.
    scheduler : address of an existing scheduler (``tcp://HOST:PORT``); empty: a local cluster.
    retries : how many times a batch whose task raised is run again.

    Yields
    ------
    list[Record], one list per batch (or per file of a batch that kept killing its worker),
    in the order they complete, after the rows file of that batch is written.

    Raises
    ------
    ConfigError when the scheduler cannot be reached, has no workers, or its workers run
    another tounum version or cannot see the output folder.

    Example
    -------
    >>> for records in distributor(job, batches, workers=2):  # doctest: +SKIP
    ...     print(len(records))
    """
    batches = iter(batches)
    first = next(batches, None)
    if first is None:  # everything was done by an earlier run: no cluster needed
        return
    with connect(scheduler, workers) as client:
        check_workers(client, job.out_dir)
        yield from run_batches(client, job, itertools.chain([first], batches), retries=retries)


@contextmanager
def connect(scheduler: str = "", workers: int = 0) -> Iterator[object]:
    """A `distributed.Client`: of the cluster at ``scheduler``, or of a new local cluster."""
    import dask
    from distributed import Client, LocalCluster

    with _quiet("distributed"):
        if not scheduler:
            n = workers or default_workers()
            log.info("starting a local Dask cluster of %d worker processes", n)
            with (dask.config.set(CLUSTER_CONFIG),
                  LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None) as cluster,
                  Client(cluster) as client):
                yield client
            return
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        with client:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            except TimeoutError as exc:
                raise ConfigError(f"the Dask scheduler at {scheduler} has no workers "
                                  f"(start some with: dask worker {scheduler})") from exc
            yield client


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Dask's INFO chatter (workers starting, clients closing) only with ``tounum -vv``."""
    logger = logging.getLogger(name)
    level = logger.level
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_workers(client: object, out_dir: str) -> None:
    """Refuse workers that run another tounum version or do not see the output folder."""
    facts = client.run(_worker_facts, out_dir)  # type: ignore[attr-defined]
    wrong = {addr: version for addr, (version, _) in facts.items() if version != __version__}
    if wrong:
        raise ConfigError(f"Dask workers run another tounum version than this one ({__version__}): "
                          + ", ".join(f"{a}: {v}" for a, v in sorted(wrong.items())))
    blind = sorted(addr for addr, (_, sees) in facts.items() if not sees)
    if blind:
        raise ConfigError(f"Dask workers {', '.join(blind)} do not see the output folder {out_dir}: "
                          "inputs and outputs must be on a filesystem every worker sees")


def _worker_facts(out_dir: str) -> tuple[str, bool]:
    import tounum

    # an object store's "folder" need not exist before its first object: only paths are checked
    return tounum.__version__, is_url(out_dir) or os.path.isdir(out_dir)


def run_batches(client: object, job: Job | StagedJob, batches: Iterable[Sequence[FileRef]], *,
                retries: int = RETRIES, window: int = 0) -> Iterator[list[Record]]:
    """Submit the batches, ``window`` at a time (default 2 per worker thread); yield as done.

    The files of a batch that killed its workers too often are run again at the end, one at a
    time with nothing else running, so that a worker's death is blamed on the file that caused
    it and not on a batch that happened to share the worker; those get an error row.
    """
    from distributed import KilledWorker, as_completed

    window = window or 2 * max(1, sum(client.nthreads().values()))  # type: ignore[attr-defined]
    todo = iter(batches)
    submitted: dict[str, Sequence[FileRef]] = {}
    done = as_completed()
    suspects: list[FileRef] = []

    def submit(batch: Sequence[FileRef]) -> None:
        future = _submit(client, job, batch, retries)
        submitted[future.key] = batch
        done.add(future)

    for batch in itertools.islice(todo, window):
        submit(batch)
    for future in done:
        batch = submitted.pop(future.key)
        try:
            records = future.result()
        except KilledWorker:
            log.warning("a batch of %d files killed its workers; its files will be retried "
                        "one at a time at the end", len(batch))
            suspects.extend(batch)
            records = []
        finally:
            future.release()
        if records:
            yield records
        for batch in itertools.islice(todo, 1):
            submit(batch)
    for ref in suspects:
        future = _submit(client, job, [ref], retries)
        try:
            yield future.result()
        except KilledWorker:
            yield crashed(job, [ref])
        finally:
            future.release()


def _submit(client: object, job: Job | StagedJob, batch: Sequence[FileRef], retries: int) -> object:
    return client.submit(job, list(batch), key=f"tounum-batch-{batch_id(batch)}",  # type: ignore[attr-defined]
                         retries=retries, pure=False)


def crashed(job: Job | StagedJob, batch: Sequence[FileRef]) -> list[Record]:
    """Error rows, committed here, for files that killed every worker they were given to."""
    return job([dataclasses.replace(ref, error=CRASHED) for ref in batch])


# -- fsspec URLs (s3://, gs://, memory://, file://): inputs and outputs not on a shared disk --
def is_url(path: str | os.PathLike[str]) -> bool:
    """True for an fsspec URL (``protocol://...``), False for a plain path."""
    return "://" in str(path)


def run(inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
        config: Config | None = None, *, dry_run: bool = False,
        progress: bool | None = None) -> RunSummary:
    """`tounum.pipeline.run.run` on the Dask engine, where inputs and ``out_dir`` may be URLs.

    Plain paths go to `tounum.pipeline.run.run` unchanged. With URLs, the client lists and
    hashes the inputs through fsspec, each worker copies its batch's files to a scratch folder,
    runs the job there and uploads the enhanced copies, then the rows file (the done-marker,
    last); the client merges the rows files and uploads results.csv, results.parquet,
    captions.json and report.html. Resuming works as for paths (the keys are the same
    recipe, with the input URL as root). Not done for URLs: path lists (``.txt``/``.csv``),
    the output/input overlap check, and the report's thumbnails (the report says they could
    not be read). With ``memory://``, the workers must be threads of this process.
    """
    from tounum.pipeline import run as local_run

    config = config or Config()
    if not any(is_url(p) for p in [*inputs, out_dir]):
        return local_run.run(inputs, out_dir, config, dry_run=dry_run, progress=progress)
    local_run._validate(config)
    if config.run.engine != "dask":
        raise ConfigError("URL inputs or outputs need --engine dask")
    start = time.perf_counter()
    out_fs, out_root = url_to_fs(str(out_dir))
    refs = discover_urls(inputs, settings_hash(config))
    with tempfile.TemporaryDirectory(prefix="tounum-rows-") as tmp:
        rows = _fetch_rows(out_fs, out_root, Path(tmp))
        done = {key for key, status in local_run._read_statuses(rows) if status == "ok"}
        todo = [r for r in refs if r.key not in done]
        summary = local_run.RunSummary(out_dir=str(out_dir), total=len(refs),  # type: ignore[arg-type]
                                       reused=len(refs) - len(todo))
        if dry_run:
            summary.planned = [("done" if r.key in done else "error" if r.error else "process",
                                local_run._display(r)) for r in refs]
            return summary
        job = StagedJob(config, str(out_dir))
        if todo:
            Job(config, tmp).check()
        out_fs.makedirs(out_root, exist_ok=True)
        if "file" in out_fs.protocol:  # what a killed run was uploading
            from tounum.io import remove_temporaries

            remove_temporaries(out_root)
        with local_run._progress_bar(len(refs), len(refs) - len(todo), progress) as bar:
            for records in distributor(job, local_run._batches(todo, config.run.batch_size),
                                       workers=config.run.workers, scheduler=config.run.scheduler):
                summary.processed += len(records)
                bar.update(len(records))
        rows = _fetch_rows(out_fs, out_root, Path(tmp))
        table = local_run.merge_rows(rows, refs)
        counts = table["status"].value_counts()
        summary.ok, summary.errors, summary.skipped = (int(counts.get(s, 0)) for s in
                                                       ("ok", "error", "skipped"))
        written = local_run.write_outputs(table, rows, config)
        summary.outputs = {}
        for name, path in written.items():
            summary.outputs[name] = join(str(out_dir), name)  # type: ignore[assignment]
            publish(path, summary.outputs[name])  # type: ignore[arg-type]
    summary.seconds = time.perf_counter() - start
    return summary


def url_to_fs(url: str) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(url)


def join(url: str, relpath: str) -> str:
    return f"{url.rstrip('/')}/{relpath}"


def discover_urls(inputs: Sequence[str | os.PathLike[str]], settings: str) -> list[FileRef]:
    """The files under each input (a folder or a file, URL or path), as `FileRef`, sorted.

    A folder's files are found recursively (``fs.find``); each is hashed (sha256, streamed);
    a file that cannot be listed or read gets a `FileRef` with its ``error``.
    """
    import pandas as pd

    from tounum.io.discover import _unique_output_relpaths

    found = []
    for given in inputs:
        fs, path = url_to_fs(str(given))
        if not fs.exists(path):
            raise ConfigError(f"{given}: no such file or folder")
        base = path.rstrip("/") if fs.isdir(path) else posixpath.dirname(path)
        files = sorted(fs.find(base)) if fs.isdir(path) else [path]
        root = fs.unstrip_protocol(base) if is_url(given) else base
        for file in files:
            relpath = posixpath.relpath(file, base)
            url = fs.unstrip_protocol(file) if is_url(given) else file
            try:
                size, sha256, error = fs.size(file), _sha256(fs, file), ""
            except OSError as exc:
                size, sha256, error = None, "", f"{relpath}: cannot read: {exc}"
            found.append((url, root, relpath, size, sha256, error))
    frame = pd.DataFrame(found, columns=["path", "root", "relpath", "size", "sha256", "error"])
    outputs = _unique_output_relpaths(frame) if len(frame) else []
    return [FileRef(path=p, root=r, relpath=rel, size=size, sha256=sha,
                    key=file_key(r, rel, sha, settings), output_relpath=out, error=error)
            for (p, r, rel, size, sha, error), out in zip(found, outputs, strict=True)]


def _sha256(fs: Any, path: str, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def publish(local: str | os.PathLike[str], url: str) -> None:
    """Copy a local file to ``url`` so that it appears complete or not at all.

    On a local filesystem through `tounum.io.atomic_write` (a temporary file, renamed); on
    object stores and the memory filesystem one ``put`` is already all-or-nothing.
    """
    fs, path = url_to_fs(url)
    if "file" in fs.protocol:
        from tounum.io import atomic_write

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(local, "rb") as src, atomic_write(path, mode="wb") as dest:
            shutil.copyfileobj(src, dest)
        return
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    fs.put_file(str(local), path)


def _fetch_rows(fs: Any, out_root: str, tmp: Path) -> Path:
    """Copy the rows files of ``out_root`` into ``tmp`` (the layout `merge_rows` reads)."""
    rows = tmp / ROWS_DIR
    rows.mkdir(parents=True, exist_ok=True)
    for path in fs.glob(posixpath.join(out_root, ROWS_DIR, "*.parquet")):
        fs.get_file(path, str(rows / posixpath.basename(path)))
    return tmp


class StagedJob:
    """`Job` for URL inputs and outputs: a scratch folder on the worker, uploads at the end.

    The batch's files are copied to the scratch folder, the job runs there as on a shared disk,
    the enhanced copies are uploaded, then the rows file (the done-marker, last). Uploads are
    all-or-nothing per file and the rows file is named by the batch, so a batch run twice
    (its worker died) overwrites its own outputs with the same bytes.
    """

    def __init__(self, config: Config, out_url: str) -> None:
        self.config, self.out_dir = config, out_url

    def __call__(self, batch: Sequence[FileRef]) -> list[Record]:
        with tempfile.TemporaryDirectory(prefix="tounum-batch-") as tmp:
            job = Job(self.config, Path(tmp) / "out")
            local = [self._fetch(ref, Path(tmp) / "in" / str(i)) for i, ref in enumerate(batch)]
            records = [job.prepare(ref) for ref in local]
            for record, ref in zip(records, batch, strict=True):
                record.root = ref.root  # the row names the input URL's root, not the scratch
            job.infer(records)
            records = [job.write(record) for record in records]
            for record in records:
                if record.enhanced_path:
                    publish(Path(job.out_dir) / record.enhanced_path,
                            join(self.out_dir, record.enhanced_path))
            rows = job.commit(records)
            publish(rows, join(self.out_dir, f"{ROWS_DIR}/{rows.name}"))
        return records

    @staticmethod
    def _fetch(ref: FileRef, folder: Path) -> FileRef:
        """The file copied into ``folder`` under its own name; its reference there."""
        if ref.error:
            return ref
        dest = folder / posixpath.basename(ref.relpath)
        folder.mkdir(parents=True)
        try:
            fs, path = url_to_fs(ref.path)
            fs.get_file(path, str(dest))
        except OSError as exc:
            return dataclasses.replace(ref, error=f"{ref.relpath}: cannot fetch: {exc}")
        return dataclasses.replace(ref, path=str(dest), root=str(folder))
