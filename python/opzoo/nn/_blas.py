"""One thread pool for the model layer: opzoo's. The matrix products run NumPy's BLAS in
opzoo's threads, the BLAS library's own pool held at one thread meanwhile.

OpenBLAS's worker threads spin for up to 2**28 cycles after each multi-threaded call
(OPENBLAS_THREAD_TIMEOUT, read only when the library loads), and OpenMP's spin after
each of opzoo's kernels: a model that alternates the two on the same cores has each
pool's idle threads take the cores from the other's work (EfficientNet-B0, batch 1,
2 cores: 300 ms instead of 10). So while a model runs, OpenBLAS gets one thread, and
``opzoo._cpu.gemm_bias_activation`` splits each product into row blocks that opzoo's
threads compute with OpenBLAS's sgemm, each block's bias, activation and residual
applied while its rows are in cache. Without an OpenBLAS to attach, the products are
NumPy's matmul and the epilogue a pass of its own.

OpenBLAS is found as threadpoolctl finds it: among the shared libraries the process has
loaded, by name (``libopenblas``, ``libscipy_openblas`` of NumPy's wheels), through its
``openblas_get_num_threads``/``openblas_set_num_threads`` (with the ``scipy_`` prefix
and ``64_`` suffix of NumPy's ILP64 build). Where none is loaded (another BLAS, or a
platform without /proc/self/maps), nothing is changed.
"""

from __future__ import annotations

import ctypes
import os
import threading
from contextlib import contextmanager

_LOCK = threading.Lock()
_USERS = 0
_SAVED: list[tuple[object, int]] = []
_CONTROLS: list[tuple[object, object]] | None = None
_ATTACHED: bool | None = None


def _loaded_openblas_paths() -> list[str]:
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[-1].strip() for line in f if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if os.path.isfile(p))


def _controls() -> list[tuple[object, object]]:
    """(get, set) of each loaded OpenBLAS's thread count."""
    global _CONTROLS
    if _CONTROLS is None:
        found = []
        for path in _loaded_openblas_paths():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix in ("scipy_", ""):
                for suffix in ("64_", ""):
                    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                        found.append((get, put))
                        break
                else:
                    continue
                break
        _CONTROLS = found
    return _CONTROLS


def sgemm_attached() -> bool:
    """Whether opzoo's kernel module has the sgemm of a loaded OpenBLAS (looked up once)."""
    global _ATTACHED
    if _ATTACHED is None:
        from .. import _cpu

        _ATTACHED = any(_cpu.blas_attach(path) for path in _loaded_openblas_paths())
    return _ATTACHED


@contextmanager
def single_threaded_blas():
    """OpenBLAS at one thread inside the block (nested and concurrent uses share one
    setting), its previous thread counts restored when the last user leaves."""
    global _USERS
    with _LOCK:
        if _USERS == 0:
            _SAVED[:] = [(put, get()) for get, put in _controls()]
            for put, _ in _SAVED:
                put(1)
        _USERS += 1
    try:
        yield
    finally:
        with _LOCK:
            _USERS -= 1
            if _USERS == 0:
                for put, threads in _SAVED:
                    put(threads)
                _SAVED.clear()
