"""Read PyTorch state-dict files into NumPy arrays without torch and without running pickled code.

A ``.pth`` file is pickle plus raw tensor bytes. Unpickling an untrusted pickle can run any
code, so :class:`RestrictedUnpickler` resolves only the handful of globals a state dict needs,
each mapped to a small NumPy builder of our own, and refuses everything else before it runs.

Two layouts are read:

* legacy (torch < 1.6): pickles of a magic number, protocol version and system info, then the
  state dict, then the list of storage keys, then each storage as an int64 element count and
  its little-endian bytes;
* zip (torch >= 1.6): ``<prefix>/data.pkl`` plus one ``<prefix>/data/<key>`` file per storage.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for a global that a plain state dict never needs."""


@dataclass(frozen=True)
class _StorageType:
    """Stands for ``torch.FloatStorage`` & co.: only the element dtype matters here."""

    name: str
    dtype: np.dtype


# torch storage class name -> little-endian NumPy dtype. bfloat16 has no NumPy dtype; it is
# kept as uint16 and widened to float32 by _rebuild_tensor_v2.
_STORAGE_DTYPES = {
    "DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
    "BFloat16Storage": "<u2", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
    "UntypedStorage": "u1",
}


@dataclass
class _Storage:
    """A flat array of one storage; filled in after unpickling for the legacy layout."""

    type: _StorageType
    key: str
    numel: int
    data: np.ndarray | None = None


@dataclass
class _LazyTensor:
    """A view into a storage; becomes an ndarray once every storage has been read."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError(f"storage {self.storage.key!r} was never read")
        if any(s < 0 for s in self.stride) or self.offset < 0:
            raise pickle.UnpicklingError(f"tensor on storage {self.storage.key!r}: negative stride")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride) if n > 0)
        if 0 not in self.size and last >= data.size:
            raise pickle.UnpicklingError(
                f"tensor on storage {self.storage.key!r} reaches element {last} "
                f"of a storage with {data.size}"
            )
        flat = data[self.offset:] if data.size else data
        view = np.lib.stride_tricks.as_strided(
            flat, shape=self.size, strides=[s * data.itemsize for s in self.stride], writeable=False
        )
        array = np.array(view, order="C")  # own, contiguous copy
        if self.storage.type.name == "BFloat16Storage":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None) -> _LazyTensor:
    if not isinstance(storage, _Storage):
        raise UnsafePickleError("_rebuild_tensor_v2 called without a storage")
    return _LazyTensor(storage, int(storage_offset), tuple(int(n) for n in size),
                       tuple(int(s) for s in stride))


def _rebuild_tensor(storage, storage_offset, size, stride) -> _LazyTensor:
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None) -> Any:
    return data  # a Parameter is its tensor for our purposes


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name, np.dtype(code)) for name, code in _STORAGE_DTYPES.items()},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for state dicts: only :data:`_SAFE_GLOBALS`, storages via ``persistent_load``.

    Parameters
    ----------
    file : binary file
        Positioned at the pickle to read.
    source : str
        Name used in error messages (the file the pickle comes from).
    storages : dict
        Shared ``key -> _Storage`` table, filled as persistent ids are met.
    """

    def __init__(self, file: BinaryIO, source: str, storages: dict[str, _Storage]):
        super().__init__(file)
        self.source = source
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refused to load global {module}.{name}: a state dict needs only "
                "tensors, so this file may be unsafe (nothing from it was executed)"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        # legacy: ('storage', type, key, location, numel, view_metadata); zip: the first five.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise UnsafePickleError(f"{self.source}: unsupported persistent id {pid!r:.80}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise UnsafePickleError(f"{self.source}: storage {key!r} has no storage type")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError(f"{self.source}: storage views are not supported")
        storage = self.storages.setdefault(key, _Storage(storage_type, key, numel))
        return storage


def _materialize(obj: Any) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.materialize()
    if isinstance(obj, dict):
        return type(obj)((k, _materialize(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v) for v in obj)
    return obj


def _read_legacy(f: BinaryIO, source: str) -> Any:
    storages: dict[str, _Storage] = {}

    def load() -> Any:
        return RestrictedUnpickler(f, source, storages).load()

    if load() != LEGACY_MAGIC:
        raise pickle.UnpicklingError(f"{source}: not a PyTorch file (bad magic number)")
    if (protocol := load()) != LEGACY_PROTOCOL:
        raise pickle.UnpicklingError(f"{source}: unsupported legacy protocol {protocol!r}")
    sys_info = load()
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise pickle.UnpicklingError(f"{source}: big-endian files are not supported")
    result = load()
    keys = load()
    for key in keys:
        storage = storages.get(str(key))
        (numel,) = struct.unpack("<q", f.read(8))
        if storage is None or numel != storage.numel:
            raise pickle.UnpicklingError(f"{source}: storage {key!r} does not match its header")
        nbytes = numel * storage.type.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise pickle.UnpicklingError(f"{source}: truncated storage {key!r}")
        storage.data = np.frombuffer(raw, dtype=storage.type.dtype)
    return _materialize(result)


def _read_zip(f: BinaryIO, source: str) -> Any:
    with zipfile.ZipFile(f) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise pickle.UnpicklingError(f"{source}: zip file without exactly one <prefix>/data.pkl")
        prefix = pkl[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder") != b"little":
            raise pickle.UnpicklingError(f"{source}: big-endian files are not supported")
        storages: dict[str, _Storage] = {}
        with archive.open(pkl[0]) as pf:
            result = RestrictedUnpickler(io.BytesIO(pf.read()), source, storages).load()
        for key, storage in storages.items():
            try:
                raw = archive.read(f"{prefix}data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(f"{source}: storage {key!r} is missing") from None
            count = len(raw) // storage.type.dtype.itemsize
            if count < storage.numel:
                raise pickle.UnpicklingError(f"{source}: truncated storage {key!r}")
            storage.data = np.frombuffer(raw, dtype=storage.type.dtype, count=count)
    return _materialize(result)


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a PyTorch state-dict file (legacy or zip layout) as NumPy arrays, safely.

    Parameters
    ----------
    path : path-like
        A ``.pth`` / ``.pt`` file written by ``torch.save(model.state_dict(), path)``.

    Returns
    -------
    dict
        Parameter name -> ndarray (contiguous copy, torch's NCHW/OIHW layout), in file order.

    Raises
    ------
    UnsafePickleError
        If the pickle needs any global other than the few a state dict uses; nothing from the
        file is executed.
    pickle.UnpicklingError
        If the file is not a readable PyTorch state dict.

    Example
    -------
    >>> sd = load_state_dict("efficientnet-lite0.pth")  # doctest: +SKIP
    >>> sd["_conv_stem.weight"].shape  # doctest: +SKIP
    (32, 3, 3, 3)
    """
    source = os.fspath(path)
    with open(path, "rb") as f:
        try:
            if zipfile.is_zipfile(f):
                f.seek(0)
                return _read_zip(f, source)
            f.seek(0)
            return _read_legacy(f, source)
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError,
                IndexError, KeyError, zipfile.BadZipFile) as exc:
            if str(exc).startswith(source):
                raise
            raise pickle.UnpicklingError(f"{source}: not a readable PyTorch file: {exc}") from exc


__all__ = ["load_state_dict", "RestrictedUnpickler", "UnsafePickleError"]
