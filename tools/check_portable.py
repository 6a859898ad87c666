"""Check that a built crnn runs on any x86-64 CPU: only the AVX2 and AVX-512
builds of the gate passes (functions named *_avx2, *_avx512 in
_gate_rows.h, and what gcc cloned or outlined from them) may contain
VEX/EVEX-encoded instructions (mnemonics starting with "v"), so no
-march=... or -mavx leaked into the rest of the code.

Also that no portable activation of _activations.h (crnn_exp, crnn_tanhf,
...) was compiled out of line: such a copy is baseline code, without the
FMA the AVX2 and AVX-512 rows contract into their inlined copies, so rows
calling it give other last bits than the same rows elsewhere
(benchmarks/NOTES.md, seventeenth session).

Usage: python tools/check_portable.py WHEEL_OR_DIRECTORY...
Needs objdump (binutils). Exits non-zero listing the offending functions.
"""
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

GCC_SUFFIX = r"(\.[a-z_]+\.?\d*)*$"    # gcc's .part.0, .constprop.1, .cold
LEVEL = re.compile(r"_(avx2|avx512)" + GCC_SUFFIX)
# the portable activations, as _activations.h declares them
ACTIVATIONS = Path(__file__).resolve().parents[1] / "src" / "crnn" / "_activations.h"
ACTIVATION_NAMES = re.findall(r"^CRNN_ACT_INLINE \w+ (crnn_\w+)\(", ACTIVATIONS.read_text(),
                              flags=re.M)
if not ACTIVATION_NAMES:
    raise SystemExit(f"{ACTIVATIONS}: no CRNN_ACT_INLINE functions found")
ACTIVATION = re.compile(r"^(" + "|".join(ACTIVATION_NAMES) + ")" + GCC_SUFFIX)


def shared_objects(path, tmp):
    path = Path(path)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as whl:
            whl.extractall(tmp)
        path = Path(tmp)
    return sorted(path.rglob("*.so")) if path.is_dir() else [path]


def offending_functions(so):
    """{function: what is wrong with it} for one shared object."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(so)],
                         capture_output=True, text=True, check=True).stdout
    function, found, named = None, {}, 0
    for line in out.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if header:
            function = header[1]
            named += 1
            if ACTIVATION.match(function):
                found.setdefault(function, "is compiled out of line")
            continue
        insn = re.match(r"^\s+[0-9a-f]+:\s+(\S+)", line)
        if insn and insn[1].startswith("v") and insn[1] not in ("verr", "verw") \
                and not LEVEL.search(function or ""):
            found.setdefault(function, f"uses {insn[1]}")
    if named < 10:
        raise SystemExit(f"{so}: no symbols (stripped?); cannot attribute instructions")
    return found


def main(paths):
    bad, checked = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(paths):
            for so in shared_objects(path, f"{tmp}/{i}"):
                checked += 1
                for function, problem in offending_functions(so).items():
                    print(f"{so.name}: {function} {problem}", file=sys.stderr)
                    bad += 1
    print(f"{checked} shared objects: {bad} functions outside the AVX2/AVX-512 "
          f"gate passes use VEX/EVEX instructions or are activations out of line")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
