"""The local distributor: a process pool that survives a worker dying on one file."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from tounum.config import Config
from tounum.pipeline.distribute import CRASHED, local
from tounum.pipeline.job import FileRef, Job
from tounum.pipeline.run import plan


class CrashingJob(Job):
    """A job whose pool process dies (as on a decoder segfault) on files named crash*."""

    def prepare(self, ref: FileRef):
        if os.path.basename(ref.relpath).startswith("crash") and os.getpid() != self.parent:
            os._exit(11)
        return super().prepare(ref)


def test_a_dead_worker_costs_one_error_row_and_the_run_goes_on(tmp_path):
    names = ["a.png", "b.png", "crash.png", "d.png", "e.png", "f.png", "g.png"]
    (tmp_path / "in").mkdir()
    for i, name in enumerate(names):
        Image.fromarray(np.full((16, 16, 3), i * 30, np.uint8)).save(tmp_path / "in" / name)
    config = Config()
    config.run.enhance = config.run.classify = config.run.caption = False
    refs, done = plan([tmp_path / "in"], tmp_path / "out", config)
    assert not done
    job = CrashingJob(config, tmp_path / "out")
    job.parent = os.getpid()
    batches = [refs[:3], refs[3:6], refs[6:]]
    records = [r for batch in local(job, batches, workers=2) for r in batch]
    assert [r.path for r in records] == names
    status = {r.path: (r.status, r.error) for r in records}
    assert status.pop("crash.png") == ("error", f"crash.png: {CRASHED}")
    assert {s for s, _ in status.values()} == {"ok"}
    assert len(list((tmp_path / "out" / ".tounum" / "rows").glob("*.parquet"))) == 3
