"""The pool's learned enhancement runs in the main process (tounum.pipeline.networks)."""

from __future__ import annotations

import logging
import sys
from multiprocessing import AuthenticationError

import numpy as np
import pytest
from PIL import Image

from tounum.config import Config
from tounum.enhance import enhance
from tounum.enhance.degrade import add_gaussian_noise
from tounum.enhance.restorer import restore_with
from tounum.enhance.samples import scene
from tounum.pipeline.distribute import local
from tounum.pipeline.job import FileRef, Job
from tounum.pipeline.networks import NetworkServer, RemoteNetworks
from tounum.pipeline.run import plan


def test_a_remote_call_returns_what_a_local_one_does_and_says_why_it_failed(tmp_path):
    noisy = add_gaussian_noise(scene(48, 64, seed=1), 25, seed=2)
    with NetworkServer() as server:
        remote = RemoteNetworks(server.address, server.authkey)
        assert np.array_equal(remote(noisy, tile=32), restore_with(noisy, tile=32))
        with pytest.raises(RuntimeError, match="missing.weights.h5"):
            remote(noisy, str(tmp_path / "missing.weights.h5"))
        assert remote(noisy[:16, :16], tile=32).shape == (16, 16, 3)  # the connection goes on


def test_a_stranger_without_the_key_is_refused_and_the_server_goes_on():
    image = np.zeros((8, 8, 3), np.uint8)
    with NetworkServer() as server:
        with pytest.raises((AuthenticationError, OSError, EOFError)):
            RemoteNetworks(server.address, b"not the key")(image)
        assert RemoteNetworks(server.address, server.authkey)(image, tile=32).shape == (8, 8, 3)


class TellingJob(Job):
    """Says in each row whether its pool process had imported TensorFlow."""

    def prepare(self, ref: FileRef):
        record = super().prepare(ref)
        record.add_warning(f"tensorflow imported: {'tensorflow' in sys.modules}")
        return record


def test_pool_processes_send_the_restorer_to_the_main_process(tmp_path):
    noisy = add_gaussian_noise(scene(96, 128, seed=3), 25, seed=4)
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(noisy).save(tmp_path / "in" / name)
    config = Config()
    config.run.classify = config.run.caption = False
    refs, _ = plan([tmp_path / "in"], tmp_path / "out", config)
    records = [r for batch in local(TellingJob(config, tmp_path / "out"), [refs[:2], refs[2:]], workers=2,
                                    prefetch=1) for r in batch]
    expected = enhance(noisy, config.enhance)
    assert "restorer" in {step["op"] for step in expected.steps}
    for record in records:
        assert record.status == "ok", record.error
        assert "tensorflow imported: False" in record.warnings
        written = np.asarray(Image.open(tmp_path / "out" / "enhanced" / record.path))
        assert np.array_equal(written, expected.pixels)


def test_only_the_shared_tracing_warning_of_tensorflow_is_dropped(caplog):
    import tounum.pipeline.networks  # noqa: F401  (installs the filter)

    tf_log = logging.getLogger("tensorflow")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        tf_log.warning("5 out of the last 6 calls to <function f> triggered tf.function retracing. Tracing is ...")
        tf_log.warning("something else went wrong")
    assert [r.getMessage() for r in caplog.records] == ["something else went wrong"]
