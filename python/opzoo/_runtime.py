"""Thread count, SIMD level and build facts."""

from __future__ import annotations

from importlib import metadata

from . import _cpu, _device


def _version() -> str:
    try:
        return metadata.version("opzoo")
    except metadata.PackageNotFoundError:
        return "unknown"


def set_num_threads(n: int) -> None:
    """Use `n` threads in every parallel kernel, from any calling thread (process-wide).

    Results do not depend on the thread count.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number of threads: expected an int, got {type(n).__name__}")
    _cpu.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads kernels use; OpenMP's default until set_num_threads."""
    return _cpu.num_threads()


def info() -> dict:
    """Build and run-time facts.

    Returns
    -------
    dict
        ``version``; ``compiler``; ``simd`` (the level kernels dispatch to now:
        "avx512", "avx2", "neon" or "scalar"), ``simd_detected`` (the best this CPU
        supports; ``OPZOO_SIMD=avx2`` etc. in the environment lowers ``simd``);
        ``cpu_vendor`` (the CPU vendor kernels tune for: "intel", "amd" or "other",
        the detected one unless ``OPZOO_CPU_VENDOR`` replaces it; results do not
        depend on it); ``openmp``; ``num_threads``; ``cuda``: a dict with ``built``
        (whether this build has the CUDA module), ``emulated`` (whether that module runs its kernels
        on the host: a build with ``OPZOO_CUDA=emulate``, whose one device is the CPU),
        ``available`` (whether a CUDA device can be used)
        and ``device`` (its name, None when not available); a build with the CUDA module
        adds ``device_count``, ``runtime_version``, ``architectures`` and ``error``
        (why no device is available, else None).

    Examples
    --------
    >>> import opzoo
    >>> sorted(opzoo.info())
    ['compiler', 'cpu_vendor', 'cuda', 'num_threads', 'openmp', 'simd', 'simd_detected', 'version']
    """
    return {
        "version": _version(),
        "compiler": _cpu.compiler(),
        "simd": _cpu.simd_level(),
        "simd_detected": _cpu.detected_simd_level(),
        "cpu_vendor": _cpu.cpu_vendor(),
        "openmp": _cpu.openmp(),
        "num_threads": _cpu.num_threads(),
        "cuda": _device._cuda.info() if _device._cuda is not None
        else {"built": False, "emulated": False, "available": False, "device": None},
    }
