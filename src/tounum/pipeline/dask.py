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
import itertools
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from tounum import __version__
from tounum.config import ConfigError
from tounum.pipeline.distribute import default_workers
from tounum.pipeline.job import FileRef, Job, batch_id
from tounum.pipeline.record import Record

log = logging.getLogger(__name__)

RETRIES = 2  # a batch whose task raises (a shared-filesystem hiccup in commit) is run again
CONNECT_TIMEOUT = 30  # seconds to reach a scheduler, and to wait for its first worker
CRASHED = "the file killed every Dask worker it was given to (a decoder crash or out of memory)"
# One batch at a time per worker thread: when a worker dies, only the batch it was running is
# blamed (counted towards ``allowed-failures``), not the ones queued behind it.
SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0}
# One thread per worker process, TensorFlow's pools included: the cores are shared by workers.
THREAD_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


def distributor(job: Job, batches: Iterable[Sequence[FileRef]], *, workers: int = 0,
                scheduler: str = "", retries: int = RETRIES, **_: object) -> Iterator[list[Record]]:
    """Run ``job`` on each batch on a Dask cluster; yield each batch's records as it completes.

    Parameters
    ----------
    job : the picklable job (its ``out_dir`` must be on a filesystem every worker sees).
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
            with (dask.config.set(SCHEDULER_CONFIG),
                  LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, env=THREAD_ENV) as cluster,
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

    return tounum.__version__, os.path.isdir(out_dir)


def run_batches(client: object, job: Job, batches: Iterable[Sequence[FileRef]], *,
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


def _submit(client: object, job: Job, batch: Sequence[FileRef], retries: int) -> object:
    return client.submit(job, list(batch), key=f"tounum-batch-{batch_id(batch)}",  # type: ignore[attr-defined]
                         retries=retries, pure=False)


def crashed(job: Job, batch: Sequence[FileRef]) -> list[Record]:
    """Error rows, committed here, for files that killed every worker they were given to."""
    records = [job.write(job.prepare(dataclasses.replace(ref, error=CRASHED))) for ref in batch]
    job.commit(records)
    return records
