"""Fail when a pytest run skipped tests beyond the known, listed ones.

Usage: ``python tests/check_skips.py JUNIT_XML [KNOWN_SKIPS ...]``

Reads the JUnit XML of a pytest run (``--junitxml``) and the lists of
accepted skips (default ``tests/known_skips.txt``; format in its header).
CI adds ``tests/known_skips_without_extras.txt`` for the run of the README's
test command, where the optional integrations are not installed, and leaves
it out once they are: then those tests must run.
Every skipped test must match an entry (its id pattern and its reason text),
and no entry may match more tests than its count. Expected failures
(``xfail``) are not skips and are not counted here; ``xfail_strict`` in
pyproject.toml makes an unexpected pass fail the run itself. Exit status 1
with a report on any violation, 0 otherwise.
"""
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

DEFAULT_KNOWN = pathlib.Path(__file__).with_name("known_skips.txt")


def read_known(path):
    entries = []
    for number, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(" | ")]
        if len(fields) != 4 or not fields[0].isdigit() or not fields[3]:
            raise SystemExit(f"{path}:{number}: expected 'count | test id pattern | "
                             f"reason text | why', got {line!r}")
        entries.append({"max": int(fields[0]), "pattern": fields[1], "reason": fields[2],
                        "why": fields[3], "seen": []})
    return entries


def _matches(pattern, test_id):
    # "*" is the only wildcard: test ids are full of brackets
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, test_id) is not None


def read_skips(path):
    """(test id, reason) of every skipped test; xfails excluded."""
    skips = []
    for case in ET.parse(path).getroot().iter("testcase"):
        for skipped in case.findall("skipped"):
            if skipped.get("type") == "pytest.xfail":
                continue
            test_id = f"{case.get('classname')}::{case.get('name')}"
            # a module skipped at collection has the generic message
            # "collection skipped"; its reason is in the element's text
            reason = " ".join(filter(None, (skipped.get("message"), skipped.text)))
            skips.append((test_id, reason))
    return skips


def check(skips, entries):
    """Error messages (empty when every skip is accounted for)."""
    errors = []
    for test_id, reason in skips:
        for entry in entries:
            if _matches(entry["pattern"], test_id) and entry["reason"] in reason:
                entry["seen"].append(test_id)
                break
        else:
            errors.append(f"unlisted skip: {test_id}: {reason}")
    for entry in entries:
        if len(entry["seen"]) > entry["max"]:
            errors.append(f"{len(entry['seen'])} skips match {entry['pattern']!r} "
                          f"({entry['reason']!r}); at most {entry['max']} are known")
    return errors


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    skips = read_skips(argv[1])
    entries = [entry for path in (argv[2:] or [DEFAULT_KNOWN]) for entry in read_known(path)]
    errors = check(skips, entries)
    for entry in entries:
        print(f"known skip {len(entry['seen'])}/{entry['max']}: {entry['reason']}")
    if errors:
        print("\n".join(["skip check failed:"] + errors), file=sys.stderr)
        return 1
    print(f"skip check passed: {len(skips)} skipped, all known")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
