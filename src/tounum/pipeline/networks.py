"""The enhancement's networks run in the process that already holds TensorFlow, for the pool.

The restorer and the descreener are Keras networks; a pool process that ran them itself would
first import TensorFlow, about 7 s of CPU per process (on the 48 scans of
benchmarks/pipeline_throughput.py, more than all their learned passes together). So the local
distributor's pool processes send each network call
(:func:`tounum.enhance.restorer.restore_with`, the same arguments) to a `NetworkServer` in the
main process, which runs it there and sends the pixels back; the enhancement policy does not
know the difference, and its results are the same.
"""

from __future__ import annotations

import logging
import secrets
import threading
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _not_shared_tracing(record: logging.LogRecord) -> bool:
    """Drop TensorFlow's "N out of the last M calls ... triggered tf.function retracing" warning.

    Every Keras model's predict step is the same Python function, so TensorFlow adds up the first
    traces of the main process's models (backbones, decoder, restorer, descreener: one or two
    each, for a new input shape) and warns of a retracing loop that is not there.
    """
    return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_not_shared_tracing)


class NetworkServer:
    """Serves ``restore_with`` calls from pool processes, one thread per connected process.

    Example
    -------
    >>> with NetworkServer() as server:  # doctest: +SKIP
    ...     remote = RemoteNetworks(server.address, server.authkey)  # in a pool process
    """

    def __init__(self) -> None:
        self.authkey = secrets.token_bytes(16)  # only our own processes may connect
        self._listener = Listener(authkey=self.authkey)  # a Unix socket in a private temp folder
        self.address = self._listener.address
        self._lock = threading.Lock()  # one pass at a time: TensorFlow already uses every core
        threading.Thread(target=self._accept, name="tounum-networks", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except AuthenticationError:  # not one of our processes
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        from tounum.enhance.restorer import restore_with

        with conn:
            while True:
                try:
                    args, kwargs = conn.recv()
                except (EOFError, OSError):  # the pool process is gone
                    return
                try:
                    with self._lock:
                        reply: tuple[str, Any] = ("ok", restore_with(*args, **kwargs))
                except Exception as exc:  # the worker raises it, and its row says so
                    log.debug("network call failed", exc_info=True)
                    reply = ("error", f"{type(exc).__name__}: {exc}")
                conn.send(reply)

    def close(self) -> None:
        self._listener.close()

    def __enter__(self) -> NetworkServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class RemoteNetworks:
    """``restore_with`` as a pool process calls it: sent to the `NetworkServer` at ``address``."""

    def __init__(self, address: str, authkey: bytes) -> None:
        self.address, self.authkey = address, authkey
        self._conn: Connection | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        if self._conn is None:
            self._conn = Client(self.address, authkey=self.authkey)
        self._conn.send((args, kwargs))
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"the learned network failed in the main process: {value}")
        return value
