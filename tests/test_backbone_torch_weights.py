"""The safe PyTorch state-dict reader: the real legacy file, a torch-made zip, hostile pickles."""

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tounum.backbone.torch_weights import UnsafePickleError, load_state_dict
from tounum.backbone.weights import source_weights_path

DATA = Path(__file__).parent / "data"


def test_reads_the_shipped_legacy_file():
    sd = load_state_dict(source_weights_path())
    assert len(sd) == 296
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert sd["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert sd["_fc.weight"].shape == (1000, 1280) and sd["_fc.weight"].dtype == np.float32
    assert sd["_bn0.num_batches_tracked"].shape == () and sd["_bn0.num_batches_tracked"].dtype == np.int64
    assert np.isfinite(sd["_fc.weight"]).all() and 0.01 < np.abs(sd["_fc.weight"]).mean() < 1


def test_reads_a_zip_file_written_by_torch():
    # made by benchmarks/backbone_reference.py with torch 2.13's torch.save
    sd = load_state_dict(DATA / "torch_zip_sample.pt")
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(sd["float32"], base)
    np.testing.assert_array_equal(sd["transposed"], base.T)  # a strided view of a shared storage
    assert sd["transposed"].flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(sd["float16"], np.linspace(-1, 1, 5).astype(np.float16))
    np.testing.assert_array_equal(sd["bfloat16"], np.array([1.5, -2.0, 3.25], np.float32))
    np.testing.assert_array_equal(sd["int64"], np.array([[1, -2], [3, 4]]))
    assert sd["scalar"].shape == () and sd["scalar"] == 7


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_refuses_a_pickle_that_calls_os_system(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps(_Exploit(marker), protocol=2))
    with pytest.raises(UnsafePickleError) as err:
        load_state_dict(evil)
    assert str(evil) in str(err.value) and "system" in str(err.value)
    assert not marker.exists()


def test_refuses_hand_written_globals_in_a_legacy_stream(tmp_path):
    marker = tmp_path / "pwned"
    # a valid legacy header, then a "state dict" that is an exec of builtins.eval
    header = pickle.dumps(0x1950A86A20F9469CFC6C, 2) + pickle.dumps(1001, 2) + pickle.dumps({}, 2)
    payload = f"cbuiltins\neval\n(S'open({str(marker)!r}, \"w\")'\ntR.".encode()
    evil = tmp_path / "evil_legacy.pth"
    evil.write_bytes(header + payload)
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_state_dict(evil)
    assert not marker.exists()


def test_refuses_a_hostile_zip(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(_Exploit(marker), protocol=2))
    with pytest.raises(UnsafePickleError, match="refused"):
        load_state_dict(evil)
    assert not marker.exists()


def test_refuses_an_unknown_torch_global(tmp_path):
    evil = tmp_path / "other.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02ctorch\nload\nq\x00.")
    with pytest.raises(UnsafePickleError, match="torch.load"):
        load_state_dict(evil)


def test_truncated_and_foreign_files_are_clear_errors(tmp_path):
    data = source_weights_path().read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(pickle.UnpicklingError, match="cut.pth"):
        load_state_dict(cut)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(pickle.UnpicklingError, match="junk.pth"):
        load_state_dict(junk)


def test_zip_with_missing_storage_is_an_error(tmp_path):
    source = zipfile.ZipFile(DATA / "torch_zip_sample.pt")
    broken = tmp_path / "broken.pt"
    with zipfile.ZipFile(broken, "w") as z:
        for info in source.infolist():
            if "/data/" not in info.filename:
                z.writestr(info, source.read(info))
    with pytest.raises(pickle.UnpicklingError, match="missing"):
        load_state_dict(broken)
