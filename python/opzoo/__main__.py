"""python -m opzoo {info,bench,demo}"""

import json
import sys

USAGE = """usage: python -m opzoo {info,bench,demo} [options]

  info    build and run-time facts (SIMD level, threads, CUDA) as JSON
  bench   time opzoo against the installed peers (--case NAME, --quick, --json FILE, --threads N,
          --back-to-back, --gpu)
  demo    run each op once on small random data and check it against the reference
"""


def demo() -> int:
    """Each registered op once, on small random data, against its reference."""
    from opzoo._cases import demos

    failed = 0
    registered = demos()
    width = max(len(d.name) for d in registered)
    for d in registered:
        line, ok = d.run()
        failed += not ok
        print(f"{d.name:<{width}}  {line}{'' if ok else '  FAILED'}")
    return 1 if failed else 0


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
