"""Print pip constraints pinning every run-time dependency of crnn to the
oldest version pyproject.toml declares (">=X" becomes "==X").

Usage: python tools/oldest_deps.py [pyproject.toml] > oldest.txt
(needs Python >= 3.11 for tomllib). Used by tools/build_wheels.sh --only oldest.
"""
import re
import sys
import tomllib


def main(path="pyproject.toml"):
    with open(path, "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    for dep in deps:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)\s*", dep)
        if match is None:
            sys.exit(f"cannot pin {dep!r}: expected 'name>=version'")
        print(f"{match[1]}=={match[2]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
