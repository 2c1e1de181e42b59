"""The test suite's own rules (issue 8): one import root, helper modules not
named test_*, one QMAILHOME fixture, one key factory, no developer paths,
hypothesis sizes from the profile."""
import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SOURCES = sorted(p for p in TESTS.rglob("*.py")
                 if "__pycache__" not in p.parts and p != Path(__file__).resolve())


def rel(p):
    return str(p.relative_to(TESTS.parent))


def offenders(check, paths=SOURCES):
    return [rel(p) for p in paths if check(p, p.read_text())]


def test_one_import_root():
    """Helpers are imported as tests.realparts / tests.<module>: never under a
    second top-level name; nothing aliases modules or edits sys.path in tests/."""
    assert offenders(lambda p, src: re.search(r"^\s*(from|import)\s+realparts\b", src, re.M)) == []
    assert offenders(lambda p, src: re.search(r"sys\.modules\s*(\[[^]]*\]\s*=[^=]|\.setdefault)",
                                              src)) == []
    assert offenders(lambda p, src: p.parent == TESTS and "sys.path" in src) == []


def test_no_developer_tmp_paths():
    """No fallback to a path that exists on one developer's machine."""
    assert offenders(lambda p, src: re.search(r"""["']/tmp/""", src)) == []


def test_one_key_factory():
    """Test keys come from tests/realparts/keys.py (cached per process)."""
    assert offenders(lambda p, src: p.name != "keys.py" and re.search(
        r"generate_private_key|PrivateKey\.generate\(|\bgenrsa\b|\bgenpkey\b", src)) == []


def test_hypothesis_sizes_follow_the_profile():
    """max_examples is written as examples(n) (tests/profiles.py), so that
    QMAIL_DKIM_HYPOTHESIS=deep deepens every property test."""
    assert offenders(lambda p, src: p.name != "profiles.py"
                     and re.search(r"max_examples\s*=\s*(?!examples\()", src)) == []


def _has_tests(src):
    return any((isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test"))
               or (isinstance(n, ast.ClassDef) and n.name.startswith("Test"))
               for n in ast.walk(ast.parse(src)))


def test_test_modules_hold_tests():
    """A module named test_* holds tests; helpers have other names."""
    named = [p for p in SOURCES if p.name.startswith("test_")]
    assert len(named) > 20
    assert offenders(lambda p, src: not _has_tests(src), named) == []


def _fixtures(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for d in node.decorator_list:
                f = d.func if isinstance(d, ast.Call) else d
                if ast.unparse(f) in ("pytest.fixture", "fixture"):
                    yield node


def _own_home(p, src):
    """A fixture named home that lays out a QMAILHOME of its own."""
    if p.name == "conftest.py":
        return False
    for fx in _fixtures(ast.parse(src)):
        if fx.name in ("home", "qmail_home"):
            params = {a.arg for a in fx.args.args}
            calls = {ast.unparse(n.func).rsplit(".", 1)[-1] for n in ast.walk(fx)
                     if isinstance(n, ast.Call)}
            if not (params & {"home", "home_factory"} or calls & {"make_home", "_make_home", "home"}):
                return True
    return False


def test_home_fixture_extends_the_one_in_conftest():
    """A test module may add to the QMAILHOME of tests/conftest.py (keys, a
    chdir), but does not lay out its own: a fixture named home takes
    conftest's home or home_factory, or calls make_home (or a real-parts
    harness's home(), which lays one out for another account)."""
    assert offenders(_own_home) == []
