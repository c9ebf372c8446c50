"""Distributors: plain functions that hand batches of files to a `Job` and yield finished batches.

A distributor is called as ``distributor(job, batches, workers=N)`` and yields, for each batch,
the list of `Record` the job returned, after the job has committed that batch's rows file. The
local one below keeps the models in this process (batched inference) and uses a process pool for
the per-file CPU work (decode, assess, enhance, encode); a Dask distributor
(``tounum.pipeline.dask``) runs the whole ``job(batch)`` on cluster workers instead.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from tounum.pipeline.job import FileRef, Job
from tounum.pipeline.networks import NetworkServer, RemoteNetworks
from tounum.pipeline.record import Record

Distributor = Callable[..., Iterator[list[Record]]]
T = TypeVar("T")

_worker_job: Job | None = None  # the job of this pool process, set once by the initializer


def _init_worker(job: Job, networks: str, authkey: bytes) -> None:
    global _worker_job
    _worker_job = job
    from tounum.enhance.restorer import run_networks_with

    run_networks_with(RemoteNetworks(networks, authkey))  # no TensorFlow in pool processes
    try:  # the pool is the parallelism: OpenCV's own threads would only oversubscribe the cores
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


def _prepare(ref: FileRef) -> Record:
    assert _worker_job is not None
    return _worker_job.prepare(ref)


def _write(record: Record) -> Record:
    assert _worker_job is not None
    return _worker_job.write(record)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def local(job: Job, batches: Iterable[Sequence[FileRef]], *, workers: int = 0, prefetch: int = 3,
          **_: object) -> Iterator[list[Record]]:
    """Run the job here: models in this process, per-file work in ``workers`` processes.

    With ``workers == 1`` everything runs in this process. Otherwise the pool reads and
    enhances the next ``prefetch`` batches and writes the copies of batch k-1 while this
    process runs the models on batch k, so the cores stay busy and at most ``prefetch + 2``
    batches of pixels are in memory whatever the number of inputs. The pool starts on the first
    batches while this process loads the models (several seconds, when a single core works), and
    its learned enhancement (restorer, descreener) runs here, where TensorFlow is loaded already
    (`tounum.pipeline.networks`). A pool process that dies (a decoder crash, the out-of-memory
    killer) costs a fresh pool and an error row for the file it was on; the run goes on.
    """
    workers = workers or default_workers()
    if workers == 1:
        for i, batch in enumerate(batches):
            if i == 0:
                job.check()
            yield job(batch)
        return
    with _Pool(job, workers) as pool:
        pending = iter(batches)
        prepared: deque[tuple[Sequence[FileRef], list[Future[Record]]]] = deque()
        written: deque[tuple[list[Record], list[Future[Record]]]] = deque()

        def infer_next() -> None:
            refs, futures = prepared.popleft()
            records = pool.results(_prepare, refs, futures,
                                   lambda ref: job.prepare(dataclasses.replace(ref, error=CRASHED)))
            job.infer(records)
            written.append((records, [pool.submit(_write, r) for r in records]))

        def commit(keep: int) -> Iterator[list[Record]]:
            while len(written) > keep:
                records, futures = written.popleft()
                records = pool.results(_write, records, futures,
                                       lambda r: job.write(r.fail(CRASHED)))
                job.commit(records)
                yield records

        def submit(count: int) -> None:
            for batch in itertools.islice(pending, count):
                prepared.append((batch, [pool.submit(_prepare, ref) for ref in batch]))

        submit(prefetch + 1)
        if prepared:
            job.check()  # loads the models while the pool works on the first batches
        while prepared:
            infer_next()
            yield from commit(keep=1)
            submit(1)
        yield from commit(keep=0)


CRASHED = "the worker process died on this file (a decoder crash or out of memory)"


class _Pool:
    """A spawn process pool that replaces itself when one of its processes dies."""

    def __init__(self, job: Job, workers: int) -> None:
        self.job, self.workers = job, workers
        self.networks = NetworkServer()  # the learned enhancement runs here, for the pool
        self.pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: this process holds TensorFlow's threads, which do not survive a fork.
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker,
                                   initargs=(self.job, self.networks.address, self.networks.authkey))

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *_: object) -> None:
        self.pool.shutdown(cancel_futures=True)
        self.networks.close()

    def _restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._start()

    def submit(self, fn: Callable[[T], Record], arg: T) -> Future[Record]:
        try:
            return self.pool.submit(fn, arg)
        except BrokenProcessPool:
            self._restart()
            return self.pool.submit(fn, arg)

    def results(self, fn: Callable[[T], Record], args: Sequence[T], futures: list[Future[Record]],
                crashed: Callable[[T], Record]) -> list[Record]:
        """The futures' records; those lost with a dead process are redone one at a time."""
        out = []
        for arg, future in zip(args, futures, strict=True):
            try:
                out.append(future.result())
            except BrokenProcessPool:
                try:  # alone, so that only the file that kills a process gets the error row
                    out.append(self.submit(fn, arg).result())
                except BrokenProcessPool:
                    self._restart()
                    out.append(crashed(arg))
        return out
