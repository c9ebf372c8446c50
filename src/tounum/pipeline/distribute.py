"""Distributors: plain functions that hand batches of files to a `Job` and yield finished batches.

A distributor is called as ``distributor(job, batches, workers=N)`` and yields, for each batch,
the list of `Record` the job returned, after the job has committed that batch's rows file. The
local one below keeps the models in this process (batched inference) and uses a process pool for
the per-file CPU work (decode, assess, enhance, encode); a Dask distributor
(``tounum.pipeline.dask``) runs the whole ``job(batch)`` on cluster workers instead.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from tounum.pipeline.job import FileRef, Job
from tounum.pipeline.record import Record

Distributor = Callable[..., Iterator[list[Record]]]

_worker_job: Job | None = None  # the job of this pool process, set once by the initializer


def _init_worker(job: Job) -> None:
    global _worker_job
    _worker_job = job


def _prepare(ref: FileRef) -> Record:
    assert _worker_job is not None
    return _worker_job.prepare(ref)


def _write(record: Record) -> Record:
    assert _worker_job is not None
    return _worker_job.write(record)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def local(job: Job, batches: Iterable[Sequence[FileRef]], *, workers: int = 0,
          **_: object) -> Iterator[list[Record]]:
    """Run the job here: models in this process, per-file work in ``workers`` processes.

    With ``workers == 1`` everything runs in this process. Otherwise the next batch is read and
    enhanced by the pool while this process runs the models on the current one, so that at most
    two batches of pixels are in memory whatever the number of inputs.
    """
    workers = workers or default_workers()
    if workers == 1:
        for batch in batches:
            yield job(batch)
        return
    # spawn, not fork: this process holds TensorFlow's threads, which do not survive a fork.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(job,)) as pool:
        pending: list[Future[Record]] | None = None
        for batch in batches:
            submitted = [pool.submit(_prepare, ref) for ref in batch]
            if pending is not None:
                yield _finish(job, pool, pending)
            pending = submitted
        if pending is not None:
            yield _finish(job, pool, pending)


def _finish(job: Job, pool: ProcessPoolExecutor, prepared: list[Future[Record]]) -> list[Record]:
    records = [future.result() for future in prepared]
    job.infer(records)
    records = list(pool.map(_write, records))
    job.commit(records)
    return records
