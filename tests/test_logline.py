"""logline.quote (qmail-dkim(8), LOG): the same output as the per-character
version it replaced (kept here as the oracle), for every code point and
for random mixes of the characters that matter."""
import random
import sys

from qmail_dkim import logline

_SPECIAL = frozenset(' \t\n\r\x0b\x0c"=\\')


def old_quote(value):
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    value = str(value)
    value = "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in value)
    if value and not any(c in _SPECIAL or c.isspace() for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_the_only_printable_white_space_is_space():
    """What quote() relies on to test four characters instead of each one."""
    assert [hex(i) for i in range(sys.maxunicode + 1)
            if chr(i).isspace() and chr(i).isprintable() and i != 0x20] == []


def test_code_points_alone_and_inside_text():
    rnd = random.Random(7)
    points = list(range(0x3100)) + [rnd.randrange(0x3100, sys.maxunicode + 1) for _ in range(20000)]
    for i in points:
        c = chr(i)
        for v in (c, "a" + c + "b"):
            assert logline.quote(v) == old_quote(v), hex(i)


def test_random_mixes_lists_and_empty():
    rnd = random.Random(13)
    alphabet = ['a', 'Z', '0', '.', '-', ' ', '\t', '\n', '\r', '"', '=', '\\', '\x00', '\x7f', '\x85',
                '\u00a0', '\u2028', '\u3000', '\u200b', 'é', '\U0001f600', '\ud800']
    cases = ["", [], ["a", "b c"], ("x=y", 3), 81, None]
    cases += ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 12))) for _ in range(20000)]
    for v in cases:
        assert logline.quote(v) == old_quote(v), repr(v)
    assert logline.quote("signed") == "signed" and logline.quote("a b") == '"a b"'
    assert logline.quote("a\nb") == '"a\\\\x0ab"'
