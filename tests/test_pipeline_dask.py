"""`tounum run --engine dask` on a real `distributed.LocalCluster` (two worker processes, loopback).

Same rows and same enhanced bytes as the local engine; a worker killed mid-batch loses and
duplicates nothing; a file that kills every worker gets one error row; fsspec URLs (``file://``
on worker processes, ``memory://`` on worker threads). Most runs read and enhance only
(``--no-classify``, fast); one runs every stage with the shipped models, which each worker
process loads once.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tounum.config import Config, ConfigError
from tounum.pipeline import dask as dask_engine
from tounum.pipeline.job import Job
from tounum.pipeline.run import run

distributed = pytest.importorskip("distributed")

TIMING = ["t_read", "t_enhance", "t_features", "t_classify", "t_caption", "t_write", "t_total"]
WAIT = 240  # seconds: generous, the machine is shared


def config(engine: str = "local", **run: object) -> Config:
    """Read and enhance only (the model stages have their own test, being slow to load)."""
    cfg = Config()
    cfg.run.classify = cfg.run.caption = False
    cfg.run.engine, cfg.run.batch_size, cfg.run.workers = engine, 2, 1
    for key, value in run.items():
        setattr(cfg.run, key, value)
    return cfg


def scans(folder: Path, n: int = 7) -> list[str]:
    """A small mixed folder: JPEG, PNG, TIFF and BMP, clean and noisy, and one truncated file."""
    rng = np.random.default_rng(1)
    names = []
    for i in range(n):
        y, x = np.mgrid[0:40, 0:56]
        pixels = np.stack([x * 4 + i, y * 6, (x + y) * 3], axis=2) % 256
        if i % 2:
            pixels = pixels + rng.normal(0, 25, pixels.shape)
        name = f"{'pq'[i % 2]}/scan{i}{('.jpg', '.png', '.tif', '.bmp')[i % 4]}"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / name)
        names.append(name)
    data = (folder / names[0]).read_bytes()
    (folder / "p/truncated.jpg").write_bytes(data[: len(data) // 2])
    return [*names, "p/truncated.jpg"]


def results(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "results.csv", keep_default_na=False).drop(columns=TIMING)


def copies(out: Path) -> dict[str, bytes]:
    """The enhanced copies' bytes by path."""
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted((out / "enhanced").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each, on 127.0.0.1, as `dask worker` would give."""
    with dask.config.set(dask_engine.CLUSTER_CONFIG), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=WAIT)
        yield cluster, client


def test_dask_engine_gives_the_local_engine_rows_and_resumes(tmp_path):
    names = scans(tmp_path / "in")
    local = run([tmp_path / "in"], tmp_path / "local", config("local"))
    # no --scheduler: the engine starts its own local cluster of two worker processes
    dask = run([tmp_path / "in"], tmp_path / "dask", config("dask", workers=2))
    assert (local.exit_code, dask.exit_code) == (1, 1)  # the truncated file
    assert (dask.processed, dask.ok, dask.errors) == (len(names), len(names) - 1, 1)
    expected, got = results(tmp_path / "local"), results(tmp_path / "dask")
    assert sorted(got["path"]) == sorted(names)
    pd.testing.assert_frame_equal(got, expected)
    assert len(copies(tmp_path / "dask")) == len(names) - 1
    assert copies(tmp_path / "dask") == copies(tmp_path / "local")
    # resumable like the local engine: only the failed file is tried again
    again = run([tmp_path / "in"], tmp_path / "dask", config("dask", workers=2))
    assert (again.processed, again.reused) == (1, len(names) - 1)
    pd.testing.assert_frame_equal(results(tmp_path / "dask"), expected)


class StallingJob(Job):
    """Stops before the first batch's commit, after its reads and writes, until killed.

    The first worker to get here writes its pid into ``gate/victim``; the test kills that
    process from outside; the batch then runs again on a worker that passes straight on.
    """

    def __init__(self, config, out_dir, gate):
        super().__init__(config, out_dir)
        self.gate = gate

    def commit(self, records):
        mine = Path(self.gate) / f"pid.{os.getpid()}"
        mine.write_text(str(os.getpid()))
        try:
            os.link(mine, Path(self.gate) / "victim")  # only one worker wins
        except FileExistsError:
            return super().commit(records)
        time.sleep(WAIT)  # killed here
        return super().commit(records)


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(tmp_path, cluster, monkeypatch):
    cluster, client = cluster
    names = scans(tmp_path / "in", n=9)
    (tmp_path / "gate").mkdir()
    monkeypatch.setattr("tounum.pipeline.run.Job",
                        lambda config, out: StallingJob(config, out, str(tmp_path / "gate")))
    before = set(client.run(os.getpid).values())
    killed = []

    def kill_the_victim() -> None:
        victim = tmp_path / "gate" / "victim"
        deadline = time.monotonic() + WAIT
        while not victim.exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        pid = int(victim.read_text())
        assert pid in before  # a worker process of the cluster
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_the_victim)
    killer.start()
    summary = run([tmp_path / "in"], tmp_path / "out",
                  config("dask", scheduler=cluster.scheduler_address))
    killer.join()
    assert killed and killed[0] not in set(client.run(os.getpid).values())
    table = results(tmp_path / "out")
    assert sorted(table["path"]) == sorted(names)  # one row per file, none lost, none twice
    assert summary.processed == len(names) and summary.errors == 1
    rows = list((tmp_path / "out" / ".tounum" / "rows").glob("*.parquet"))
    assert len(rows) == math.ceil(len(names) / 2)  # one rows file per batch, the retried one once
    again = run([tmp_path / "in"], tmp_path / "out", config("dask", scheduler=cluster.scheduler_address))
    assert again.reused == len(names) - 1


class CrashingJob(Job):
    """A job whose worker process dies (as on a decoder segfault) on files named crash*."""

    def prepare(self, ref):
        if os.path.basename(ref.relpath).startswith("crash") and not ref.error:
            os._exit(11)
        return super().prepare(ref)


def test_a_file_that_kills_every_worker_gets_one_error_row(tmp_path, cluster, monkeypatch):
    cluster, client = cluster
    names = scans(tmp_path / "in", n=3)
    (tmp_path / "in" / "p" / "crash.png").write_bytes((tmp_path / "in" / names[1]).read_bytes())
    monkeypatch.setattr("tounum.pipeline.run.Job", CrashingJob)
    monkeypatch.setattr(cluster.scheduler, "allowed_failures", 0)  # give up after one death
    summary = run([tmp_path / "in"], tmp_path / "out",
                  config("dask", scheduler=cluster.scheduler_address, batch_size=4))
    table = results(tmp_path / "out").set_index("path")
    assert sorted(table.index) == sorted([*names, "p/crash.png"])
    assert table.loc["p/crash.png", "error"] == f"p/crash.png: {dask_engine.CRASHED}"
    assert set(table.drop(index=["p/crash.png", "p/truncated.jpg"])["status"]) == {"ok"}
    assert summary.errors == 2  # the crash and the truncated file; the others are ok
    client.wait_for_workers(2, timeout=WAIT)


def test_an_unreachable_scheduler_is_a_configuration_error(tmp_path, monkeypatch):
    scans(tmp_path / "in", n=1)
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT", 1)
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        run([tmp_path / "in"], tmp_path / "out", config("dask", scheduler="tcp://127.0.0.1:9"))


def same(table: pd.DataFrame) -> pd.DataFrame:
    """The columns that do not depend on where the inputs are (root, key) nor on timings."""
    return table.drop(columns=["root", "key"])


def test_fsspec_urls_in_and_out_on_the_memory_filesystem(tmp_path):
    import fsspec

    names = scans(tmp_path / "in")
    memory, base = fsspec.filesystem("memory"), f"/tounum-{tmp_path.name}"
    for name in names:
        memory.pipe(f"{base}/in/{name}", (tmp_path / "in" / name).read_bytes())
    run([tmp_path / "in"], tmp_path / "local", config("local"))
    expected = results(tmp_path / "local")
    # memory:// lives in one process: the workers are threads here
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        settings = config("dask", scheduler=cluster.scheduler_address)
        summary = dask_engine.run([f"memory://{base}/in"], f"memory://{base}/out", settings)
        assert (summary.processed, summary.errors) == (len(names), 1)
        with memory.open(f"{base}/out/results.csv") as f:
            got = pd.read_csv(f, keep_default_na=False)
        pd.testing.assert_frame_equal(same(got.drop(columns=TIMING)), same(expected))
        assert set(got["root"]) == {f"memory://{base}/in"}
        for path, data in copies(tmp_path / "local").items():
            assert memory.cat_file(f"{base}/out/{path}") == data, path
        assert memory.exists(f"{base}/out/report.html") and memory.exists(f"{base}/out/captions.json")
        assert len(memory.glob(f"{base}/out/.tounum/rows/*.parquet")) == math.ceil(len(names) / 2)
        again = dask_engine.run([f"memory://{base}/in"], f"memory://{base}/out", settings)
        assert (again.processed, again.reused) == (1, len(names) - 1)
    memory.rm(base, recursive=True)


def test_file_urls_on_worker_processes_give_the_local_rows(tmp_path, cluster):
    from tounum.cli import main

    cluster, _ = cluster
    scans(tmp_path / "in", n=4)
    run([tmp_path / "in"], tmp_path / "local", config("local"))
    url = f"file://{tmp_path / 'in'}"
    assert main(["run", url, "--out", str(tmp_path / "out"), "--engine", "dask", "--scheduler",
                 cluster.scheduler_address, "--no-classify", "--batch-size", "2",
                 "--no-progress"]) == 1  # the truncated file
    got = results(tmp_path / "out")
    pd.testing.assert_frame_equal(same(got), same(results(tmp_path / "local")))
    assert set(got["root"]) == {url}
    assert copies(tmp_path / "out") == copies(tmp_path / "local")


def _model_loads() -> tuple[int, int]:
    """(loads, reuses) of this process's model registry."""
    from tounum.pipeline.job import _models

    info = _models.cache_info()
    return info.misses, info.hits


def test_every_stage_on_the_cluster_gives_the_local_rows_and_loads_models_once(tmp_path, cluster):
    from tounum.pipeline.demo import make_scans

    cluster, client = cluster
    scans_ = list(make_scans(long_side=160))
    photos = [s for s in scans_ if s[0].startswith("photos/")][:3]
    others = [s for s in scans_ if not s[0].startswith("photos/")][:3]
    for relpath, pixels in photos + others:
        (tmp_path / "in" / relpath).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / "in" / relpath)
    every_stage = dict(classify=True, caption=True, batch_size=1)
    run([tmp_path / "in"], tmp_path / "local", config("local", **every_stage))
    before = client.run(_model_loads)
    summary = run([tmp_path / "in"], tmp_path / "dask",
                  config("dask", scheduler=cluster.scheduler_address, **every_stage))
    assert (summary.processed, summary.ok) == (6, 6)
    got, expected = results(tmp_path / "dask"), results(tmp_path / "local")
    assert (got["caption"] != "").any()
    pd.testing.assert_frame_equal(got, expected)  # probabilities and captions, bit for bit
    assert copies(tmp_path / "dask") == copies(tmp_path / "local")  # captions in the metadata
    loads = {w: (m - before[w][0], h - before[w][1]) for w, (m, h) in client.run(_model_loads).items()}
    assert all(m <= 1 for m, _ in loads.values())  # each worker process loaded them once at most
    assert sum(m + h for m, h in loads.values()) == 6 and max(h for _, h in loads.values()) >= 2
