"""Op calls run in a child process under a memory cap, so a crash, a hang or a runaway
allocation fails the one test that made it instead of the whole run.

:class:`IsolatedRunner` keeps one child (``python -c`` reading pickled calls from its
stdin) and restarts it after a call kills it. The cap is RLIMIT_AS, except under
AddressSanitizer, which reserves terabytes of shadow address space: there the child's
allocator is capped instead (ASAN_OPTIONS max_allocation_size_mb, returning null).
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

import kit

#: Address space a child may take: opzoo, NumPy and OpenMP's thread stacks use well
#: under 1 GiB; a call that needs more is allocating for something it does not compute.
MEMORY_CAP = 3 << 30

_CHILD = r"""
import os, pickle, resource, struct, sys
cap = int(sys.argv[1])
if "asan" not in os.environ.get("LD_PRELOAD", ""):
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import numpy as np
from opzoo import _cpu

def read():
    head = sys.stdin.buffer.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(sys.stdin.buffer.read(struct.unpack("<Q", head)[0]))

def write(message):
    data = pickle.dumps(message)
    sys.stdout.buffer.write(struct.pack("<Q", len(data)) + data)
    sys.stdout.buffer.flush()

while (call := read()) is not None:
    op, arrays, params, level = call
    _cpu.set_simd_level(level)
    try:
        result = op(**arrays, **params)
        outputs = result if isinstance(result, tuple) else (result,)
        write(("ok", tuple(np.asarray(o) for o in outputs)))
    except BaseException as e:  # everything goes back to the test, which judges it
        write(("raised", type(e).__name__, str(e)))
"""


@dataclass
class Outcome:
    """What one isolated call did: "ok" (outputs), "raised" (error type name and
    message), or "died"/"hung" (message says how)."""

    kind: str
    outputs: tuple = ()
    error: str = ""
    message: str = ""

    def __str__(self) -> str:
        return {"ok": "returned", "raised": f"raised {self.error}: {self.message}"}.get(self.kind, self.message)


class IsolatedRunner:
    def __init__(self, memory_cap: int = MEMORY_CAP, timeout: float = 60.0):
        self.memory_cap = memory_cap
        self.timeout = timeout
        self._child: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        if "asan" in env.get("LD_PRELOAD", ""):
            cap_mb = self.memory_cap >> 20
            env["ASAN_OPTIONS"] = f"{env.get('ASAN_OPTIONS', '')}:allocator_may_return_null=1:max_allocation_size_mb={cap_mb}"
        self._stderr = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child never blocks on it
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self.memory_cap)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
        )

    def call(self, op, arrays: dict, params: dict, simd_level: str) -> Outcome:
        if self._child is None or self._child.poll() is not None:
            self._child = self._start()
        child = self._child
        data = pickle.dumps((op, arrays, params, simd_level))
        try:
            child.stdin.write(struct.pack("<Q", len(data)) + data)
            child.stdin.flush()
        except BrokenPipeError:
            return self._died(child)
        head = self._read(child, 8)
        if head is None:
            return self._hung(child) if child.poll() is None else self._died(child)
        body = self._read(child, struct.unpack("<Q", head)[0])
        if body is None:
            return self._died(child)
        message = pickle.loads(body)
        if message[0] == "ok":
            return Outcome("ok", outputs=message[1])
        return Outcome("raised", error=message[1], message=message[2])

    def _read(self, child: subprocess.Popen, n: int) -> bytes | None:
        fd, chunks, left = child.stdout.fileno(), [], n
        while left:
            ready, _, _ = select.select([fd], [], [], self.timeout)
            if not ready:
                return None
            chunk = os.read(fd, left)
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _died(self, child: subprocess.Popen) -> Outcome:
        rc = child.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read().decode(errors="replace")[-2000:]
        how = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
        self._child = None
        return Outcome("died", message=f"the process died ({how}); its stderr ends:\n{stderr}")

    def _hung(self, child: subprocess.Popen) -> Outcome:
        child.kill()
        child.wait()
        self._child = None
        return Outcome("hung", message=f"no answer within {self.timeout:g} s (killed)")

    def close(self) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.stdin.close()
            self._child.wait(timeout=10)
        self._child = None


def describe(op: Any, arrays: dict, params: dict) -> str:
    """A call as a line a test failure prints: array shapes and dtypes, then the parameters."""
    shown = {k: (None if v is None else f"{getattr(v, 'dtype', type(v).__name__)}{tuple(getattr(v, 'shape', ()))}")
             for k, v in arrays.items()}
    return f"{getattr(op, '__name__', op)}({shown}, {params})"


def check_isolated(entry, runner, simd_level, arrays, params):
    """One call of a kit entry through the runner, judged by the entry's int_outcome."""
    expected = entry.int_outcome((arrays, params))
    outcome = runner.call(entry.op, arrays, params, simd_level)
    call = f"{describe(entry.op, arrays, params)} at {simd_level}"
    assert outcome.kind in ("ok", "raised"), f"{call}: {outcome}"
    if expected == "ok":
        assert outcome.kind == "ok", f"{call} must succeed, but {outcome}"
        kit.assert_outputs_close(entry, outcome.outputs, entry.reference(**arrays, **params))
    elif expected == "error":
        assert outcome.error == "ValueError", f"{call} must raise ValueError, but {outcome}"
    else:
        assert outcome.kind == "ok" or outcome.error in ("ValueError", "MemoryError"), f"{call}: {outcome}"
