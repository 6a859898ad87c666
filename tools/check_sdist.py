"""Check that a crnn sdist holds exactly what a build and the tests need.

Usage: python tools/check_sdist.py dist/crnn-X.Y.Z.tar.gz

The top level must be exactly the build files (CMakeLists.txt,
pyproject.toml), LICENSE, README.md, CHANGELOG.md, PKG-INFO, src/ and
tests/; nothing compiled or cached may be inside; and, in a git checkout,
the files under src/ and tests/ must be exactly the tracked ones.
Exits non-zero with the differences otherwise.
"""
import subprocess
import sys
import tarfile
from pathlib import PurePosixPath

TOP_LEVEL = {"CMakeLists.txt", "pyproject.toml", "LICENSE", "README.md", "CHANGELOG.md",
             "PKG-INFO", "src", "tests"}
STRAY_SUFFIXES = (".so", ".pyc", ".pyd", ".o", ".c")


def sdist_files(path):
    with tarfile.open(path) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    # drop the crnn-X.Y.Z/ prefix
    return {str(PurePosixPath(*PurePosixPath(n).parts[1:])) for n in names}


def tracked_files(dirs):
    try:
        out = subprocess.run(["git", "ls-files", *dirs], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return set(out.split())


def main(path):
    files = sdist_files(path)
    problems = []
    top = {f.split("/")[0] for f in files}
    if top != TOP_LEVEL:
        problems.append(f"top level: missing {sorted(TOP_LEVEL - top)}, "
                        f"stray {sorted(top - TOP_LEVEL)}")
    stray = sorted(f for f in files if f.endswith(STRAY_SUFFIXES) or "__pycache__" in f)
    if stray:
        problems.append(f"compiled or cached files: {stray}")
    tracked = tracked_files(["src", "tests"])
    if tracked is not None:
        packed = {f for f in files if f.startswith(("src/", "tests/"))}
        if packed != tracked:
            problems.append(f"src/ and tests/ differ from git: missing "
                            f"{sorted(tracked - packed)}, stray {sorted(packed - tracked)}")
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{path}: {len(files)} files, contents as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
