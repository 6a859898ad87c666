"""Peak memory of a one-epoch fit, crnn vs PyTorch, each in a fresh process.

For every workload x cell, a child process imports the library, makes the
data, records its resident set (the baseline: interpreter, library, data),
runs one training epoch from a fresh model and reports the peak resident
set. The table shows both the raw peak and the growth above the baseline,
which is what the fit itself costs.

    python benchmarks/peakmem.py [--workloads W1,W2] [--cells rnn,lstm]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, resource, sys, warnings
sys.path.insert(0, {here!r})
import common
warnings.simplefilter("ignore")
library, workload, cell = sys.argv[1:4]
if library == "torch":
    import torch  # noqa: F401
else:
    import crnn  # noqa: F401
X, y = common.make_data(workload)
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
base = rss_mb()
runner = common.make_runner(library, workload, cell, X, y, warm=False)
runner.train_epoch()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"base": base, "peak": peak}}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    parser.add_argument("--cells", default="rnn,lstm,gru")
    args = parser.parse_args()
    libraries = ["crnn"]
    try:
        import torch  # noqa: F401
        libraries.append("torch")
    except ImportError:
        pass
    code = CHILD.format(here=HERE)
    print(f"{'workload':>8} {'cell':>5} " + " ".join(
        f"{lib + ' peak MB':>15} {lib + ' growth MB':>17}" for lib in libraries))
    for workload in args.workloads.split(","):
        for cell in args.cells.split(","):
            cols = []
            for lib in libraries:
                out = subprocess.run([sys.executable, "-c", code, lib, workload, cell],
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                cols.append(f"{r['peak']:>15.0f} {r['peak'] - r['base']:>17.0f}")
            print(f"{workload:>8} {cell:>5} " + " ".join(cols), flush=True)


if __name__ == "__main__":
    main()
