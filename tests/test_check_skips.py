"""The CI skip check (tests/check_skips.py) itself: it must be able to fail."""
import textwrap

from . import check_skips

KNOWN = """\
# comment
2 | tests.test_a::test_x[*] | no widget | widgets are optional here
"""


def _junit(tmp_path, cases):
    body = "".join(
        f'<testcase classname="{cls}" name="{name}">'
        + (f'<skipped type="{kind}" message="{msg}"/>' if kind else "")
        + "</testcase>"
        for cls, name, kind, msg in cases)
    path = tmp_path / "junit.xml"
    path.write_text(f'<testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')
    return path


def _run(tmp_path, cases):
    known = tmp_path / "known.txt"
    known.write_text(textwrap.dedent(KNOWN))
    return check_skips.main(["check_skips", str(_junit(tmp_path, cases)), str(known)])


def test_known_skips_within_count_pass(tmp_path):
    cases = [("tests.test_a", "test_x[1]", "pytest.skip", "no widget installed"),
             ("tests.test_a", "test_x[2]", "pytest.skip", "no widget installed"),
             ("tests.test_a", "test_y", "pytest.xfail", "expected"),
             ("tests.test_a", "test_z", None, None)]
    assert _run(tmp_path, cases) == 0


def test_more_skips_than_listed_fail(tmp_path, capsys):
    cases = [("tests.test_a", f"test_x[{i}]", "pytest.skip", "no widget") for i in range(3)]
    assert _run(tmp_path, cases) == 1
    assert "at most 2 are known" in capsys.readouterr().err


def test_unlisted_skip_fails(tmp_path, capsys):
    # right test, other reason; and another test with the listed reason
    cases = [("tests.test_a", "test_x[1]", "pytest.skip", "pandas missing"),
             ("tests.test_b", "test_x[1]", "pytest.skip", "no widget")]
    assert _run(tmp_path, cases) == 1
    assert capsys.readouterr().err.count("unlisted skip") == 2


def test_repository_list_parses():
    entries = check_skips.read_known(check_skips.DEFAULT_KNOWN)
    assert entries and all(e["max"] >= 1 and e["why"] for e in entries)


def test_collection_skip_reason_is_read_from_the_text(tmp_path):
    # pytest reports a module skipped at collection as message="collection
    # skipped" with the importorskip reason in the element text
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest"><testcase classname="" name="tests.test_a">'
        '<skipped message="collection skipped">(\'tests/test_a.py\', 3, "Skipped: '
        'could not import \'widget\'")</skipped></testcase></testsuite></testsuites>')
    (tmp_path / "known.txt").write_text(
        "1 | ::tests.test_a | could not import 'widget' | optional\n")
    assert check_skips.read_skips(junit)[0][1].endswith("could not import 'widget'\")")
    assert check_skips.main(["check_skips", str(junit), str(tmp_path / "known.txt")]) == 0


def test_a_second_list_is_needed_for_its_skips(tmp_path):
    cases = [("tests.test_a", "test_x[1]", "pytest.skip", "no widget"),
             ("tests.test_c", "test_w", "pytest.skip", "no gadget")]
    junit = _junit(tmp_path, cases)
    known = tmp_path / "known.txt"
    known.write_text(textwrap.dedent(KNOWN))
    extra = tmp_path / "extra.txt"
    extra.write_text("1 | tests.test_c::test_w | no gadget | gadgets are an extra\n")
    assert check_skips.main(["check_skips", str(junit), str(known)]) == 1
    assert check_skips.main(["check_skips", str(junit), str(known), str(extra)]) == 0


def test_without_extras_list_parses():
    path = check_skips.DEFAULT_KNOWN.with_name("known_skips_without_extras.txt")
    entries = check_skips.read_known(path)
    assert entries and all(e["max"] >= 1 and e["why"] for e in entries)
