"""How long a fresh process takes to ``import tiermem`` and to print ``tiermem --help``.

Each figure is the median of several fresh interpreters (nothing cached in the
process; the OS file cache is warm after the first run), printed beside the floor
of starting Python at all (``python -c pass``) and ``import lancedb`` for scale.

    python benchmarks/import_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

__all__ = ["main"]

_CASES = {
    "python -c pass (the floor)": [sys.executable, "-c", "pass"],
    "import tiermem": [sys.executable, "-c", "import tiermem"],
    "tiermem --help": [sys.executable, "-c", "from tiermem.cli import main; main()", "--help"],
    "import lancedb (for scale)": [sys.executable, "-c", "import lancedb"],
}


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per case")
    args = parser.parse_args(argv)
    floor = None
    print(f"{'case':<30} {'median':>8} {'min':>8} {'x floor':>8}   ({args.runs} runs)")
    for name, command in _CASES.items():
        _seconds(command)  # warm the file cache: every case starts equal
        times = [_seconds(command) for _ in range(args.runs)]
        median = statistics.median(times)
        floor = floor or median
        print(f"{name:<30} {median:>7.3f}s {min(times):>7.3f}s {median / floor:>8.1f}")


if __name__ == "__main__":
    main()
