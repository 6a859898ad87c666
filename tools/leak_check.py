"""Fit/predict cycles with the resident set size sampled after each one.

The command line of ``tests/_leak.py`` (which the test suite runs for 120
cycles): a leak shows as RSS growing linearly with the number of cycles.

Usage::

    python tools/leak_check.py --cycles 1000          # prints a JSON report
    python tools/leak_check.py --cycles 1000 --max-slope 1024   # exit 1 above
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tests._leak import run  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--max-slope", type=float, default=None,
                        help="exit 1 if RSS grows faster than this many bytes per cycle")
    args = parser.parse_args(argv)
    report = run(args.cycles, args.warmup)
    print(json.dumps(report))
    if args.max_slope is not None and report["slope_bytes_per_cycle"] > args.max_slope:
        print(f"RSS grows {report['slope_bytes_per_cycle']:.0f} bytes per cycle "
              f"(limit {args.max_slope:.0f})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
