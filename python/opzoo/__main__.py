"""python -m opzoo {info,bench,demo}"""

import json
import sys

USAGE = """usage: python -m opzoo {info,bench,demo} [options]

  info    build and run-time facts (SIMD level, threads, CUDA) as JSON
  bench   time opzoo against the installed peers (--quick, --json FILE, --threads N)
  demo    run each op once on small random data and check it against the reference
"""


def demo() -> int:
    import numpy as np

    import opzoo
    from opzoo import reference

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 32, 32), dtype=np.float32)
    w = rng.standard_normal((16, 1, 3, 3), dtype=np.float32)
    y = opzoo.depthwise_conv2d(x, w, stride=2, padding="same", activation="silu")
    ref = reference.depthwise_conv2d(x, w, stride=2, padding="same", activation="silu")
    err = float(np.abs(y - ref).max())
    print(f"depthwise_conv2d  x{x.shape} -> y{y.shape}  max |error| vs reference {err:.2e}")
    return 0 if err < 1e-4 else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "info":
        import opzoo

        print(json.dumps(opzoo.info(), indent=2))
        return 0
    if command == "bench":
        from opzoo._bench import main as bench_main

        return bench_main(rest)
    if command == "demo":
        return demo()
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
