"""Throughput of `tounum run --engine dask` with 1 and 2 worker processes on this machine.

    .venv/bin/python benchmarks/pipeline_dask.py [--images 48] [--long-side 1000] [--workers 1 2]

Makes a mixed set of scans from `tounum.pipeline.demo` (photos clean, noisy and blurred; text
pages, charts, diagrams, drawings), cycled to ``--images`` files, then for each worker count:

- ``cold``: what ``tounum run INPUT --out DIR --engine dask --workers W`` costs end to end:
  the engine starts its own local cluster, the workers import tounum and load the models;
- ``warm``: the same run on a cluster that is already up and has run one batch (models loaded),
  as with ``--scheduler`` on a long-lived cluster: the steady-state throughput.

The local engine (``--engine local --workers W``) is measured alongside for reference, its runs
interleaved with the warm ones (``--repeat`` times each; medians), since the machine's load
drifts. The
stages are those that can run in this checkout (an enabled stage whose model is not shipped yet
is turned off, never faked); the JSON says which ran. Prints one JSON object and, with
``--markdown``, the table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def make_set(folder: Path, n_images: int, long_side: int) -> None:
    """``n_images`` files cycling through the demo's scans (same bytes, distinct names)."""
    from tounum.pipeline.demo import write_scans

    base = sorted(write_scans(folder / "_base", long_side, bad_files=False))
    for i in range(n_images):
        src = base[i % len(base)]
        dest = folder / "set" / src.parent.name / f"{src.stem}-{i:04d}{src.suffix}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    shutil.rmtree(folder / "_base")


def runnable_config(batch_size: int):
    """The default settings, less the stages that cannot run here (and why)."""
    import dataclasses

    from tounum.config import Config
    from tounum.pipeline.job import Job, StageUnavailable

    config = Config()
    config.run.batch_size = batch_size
    off = {}
    for stage, alone in (("enhance", {"classify": False, "caption": False}),
                         ("classify", {"enhance": False, "caption": False}),
                         ("caption", {"enhance": False})):
        probe = dataclasses.replace(config, run=dataclasses.replace(config.run, **alone))
        try:
            Job(probe, tempfile.gettempdir()).check()
        except StageUnavailable as exc:
            off[stage] = str(exc)
    for stage in off:
        setattr(config.run, stage, False)
    config.run.caption = config.run.caption and config.run.classify
    return config, off


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and all its descendants, living or reaped."""
    import resource

    import psutil

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass  # it just ended: its time is in RUSAGE_CHILDREN once reaped
    return total


def cluster_overhead(client, seconds: float = 20.0) -> float:
    """CPU seconds per second that the cluster's processes use while a task only sleeps."""
    start, cpu = time.perf_counter(), cpu_seconds()
    client.submit(time.sleep, seconds, pure=False).result()
    return (cpu_seconds() - cpu) / (time.perf_counter() - start)


def timed_run(inputs: Path, out: Path, config, **run_settings) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process tree) of one run."""
    import dataclasses

    from tounum.pipeline.run import run

    config = dataclasses.replace(config, run=dataclasses.replace(config.run, **run_settings))
    shutil.rmtree(out, ignore_errors=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    summary = run([inputs], out, config, progress=False)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    assert summary.processed == summary.total and summary.errors == 0, summary
    return seconds, cpu


def measure(inputs: Path, work: Path, config, workers: int, n_images: int,
            repeat: int) -> dict[str, object]:
    """Cold once; then local and warm runs interleaved ``repeat`` times (the load drifts)."""
    import statistics

    import dask
    from distributed import Client, LocalCluster

    from tounum.pipeline import dask as engine

    seconds: dict[str, list[tuple[float, float]]] = {"local": [], "dask_cold": [], "dask_warm": []}
    seconds["dask_cold"].append(timed_run(inputs, work / "out", config, engine="dask",
                                          workers=workers))
    with (dask.config.set(engine.CLUSTER_CONFIG),
          LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1",
                       dashboard_address=None) as cluster,
          Client(cluster) as client):
        # warm up every worker: one batch each loads their models
        warm_inputs = work / "warmup"
        files = sorted(p for p in inputs.rglob("*") if p.is_file())
        for i, path in enumerate(files[: workers * config.run.batch_size]):
            (warm_inputs / f"{i}{path.suffix}").parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, warm_inputs / f"{i}{path.suffix}")
        timed_run(warm_inputs, work / "out", config, engine="dask",
                  scheduler=cluster.scheduler_address)
        idle = cluster_overhead(client)
        for _ in range(repeat):
            seconds["local"].append(timed_run(inputs, work / "out", config, engine="local",
                                              workers=workers))
            seconds["dask_warm"].append(timed_run(inputs, work / "out", config, engine="dask",
                                                  scheduler=cluster.scheduler_address))
    out: dict[str, object] = {"cluster_cpu_s_per_s_while_a_task_sleeps": round(idle, 3)}
    for name, values in seconds.items():
        out[f"{name}_images_per_s"] = round(n_images / statistics.median(w for w, _ in values), 3)
        out[f"{name}_cpu_s_per_image"] = round(statistics.median(c for _, c in values) / n_images, 2)
        out[f"{name}_seconds"] = [round(w, 1) for w, _ in values]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--long-side", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2, help="local and warm runs, interleaved")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    config, off = runnable_config(args.batch_size)
    with tempfile.TemporaryDirectory(prefix="tounum-bench-dask-") as tmp:
        work = Path(tmp)
        make_set(work, args.images, args.long_side)
        results = {}
        load = []
        for w in args.workers:
            results[w] = measure(work / "set", work, config, w, args.images, args.repeat)
            load.append(round(os.getloadavg()[0], 1))
    report = {"load_average": load, "images": args.images, "long_side": args.long_side, "batch_size": args.batch_size,
              "stages": {s: getattr(config.run, s) for s in ("enhance", "classify", "caption")},
              "stages_off": off, "workers": results}
    print(json.dumps(report, indent=1))
    if args.markdown:
        print("\n| workers | dask warm img/s | dask cold img/s | local engine img/s | "
              "CPU s/img (warm; cold; local) | seconds (warm; cold; local) |")
        print("|---|---|---|---|---|---|")
        for w, r in results.items():
            print(f"| {w} | {r['dask_warm_images_per_s']} | {r['dask_cold_images_per_s']} | "
                  f"{r['local_images_per_s']} | {r['dask_warm_cpu_s_per_image']}; "
                  f"{r['dask_cold_cpu_s_per_image']}; {r['local_cpu_s_per_image']} | "
                  f"{r['dask_warm_seconds']}; {r['dask_cold_seconds']}; {r['local_seconds']} |")
        print(f"\nload average during the runs (1 min, sampled): {load}")
        print("cluster CPU s per s while a task sleeps: "
              + ", ".join(f"{w} workers {r['cluster_cpu_s_per_s_while_a_task_sleeps']}"
                          for w, r in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
