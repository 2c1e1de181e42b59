"""The verify path's parsers that were regular expressions until issue 13
(`re` is start-up cost on every verified message, qmail-dkimd(8) SPEED),
against those regular expressions, kept here as the oracle: the same
results on random input."""
import re

from hypothesis import example, given, settings, strategies as st

from qmail_dkim.arc import aar
from tests.profiles import examples


# ------------------------------------------------------------- arc/aar.py

_OLD_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s="]+|=')
_OLD_NAME = re.compile(r"^[A-Za-z0-9_.-]+(?:/[0-9]+)?$")


def _old_unquote(v):
    m = re.match(r'"((?:[^"\\]|\\.)*)"(.*)$', v, re.S)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group(1)) + m.group(2)
    return v


def _old_pairs(seg):
    parts = []
    end = -1
    for m in _OLD_TOKEN.finditer(seg):
        t = m.group(0)
        if parts and m.start() == end and t != "=" and parts[-1][-1] != "=":
            parts[-1].append(t)
        else:
            parts.append([t])
        end = m.end()
    toks = ["".join(p) for p in parts]
    return [(toks[i - 1], toks[i + 1]) for i in range(1, len(toks) - 1)
            if toks[i] == "=" and toks[i + 1] != "=" and _OLD_NAME.match(toks[i - 1])]


def old_aar_parse(value):
    """arc/aar.py's parse() before issue 13."""
    value = value[:aar.MAX_OCTETS]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    segs = aar._segments(value.replace("\r", " ").replace("\n", " "))
    out = aar.Aar()
    m = re.match(r"\s*i\s*=\s*([0-9]{1,10})\s*$", segs[0]) if segs else None
    if not m:
        return out
    out.instance = int(m.group(1))
    if len(segs) < 2:
        return out
    words = segs[1].split()
    out.authserv_id = _old_unquote(words[0]).lower() if words else None
    for seg in segs[2:2 + aar.MAX_RESULTS]:
        pairs = _old_pairs(seg)
        if not pairs:
            continue
        method, result = pairs[0]
        props = {}
        reason = None
        for k, v in pairs[1:]:
            k = k.lower()
            if k == "reason":
                reason = _old_unquote(v)
            else:
                props.setdefault(k, _old_unquote(v))
        out.results.append(aar.Result(method.split("/")[0].lower(), result.lower(), props, reason))
    return out


def _shape(a):
    return (a.instance, a.authserv_id,
            [(r.method, r.result, r.props, r.reason) for r in a.results])


AAR_PIECES = st.sampled_from([
    "i", "=", "1", "23", " ", "\t", "\r\n ", ";", "; ", "mx.example", "spf", "dkim", "dmarc",
    "pass", "fail", "smtp.mailfrom", "header.from", "header.d", "reason", "\"", "\\", "\\\"",
    "\"a b\"", "\"x\\\"y\"", "(", ")", "(comment)", "@", "a@b.example", "/1", "/", "x/y",
    "\u00a0", "\u2003", "\x1c", "\x0b", "\u00e9", "-", "_", ".", "0", "\"unclosed"])


@settings(max_examples=examples(600))
@given(st.one_of(st.lists(AAR_PIECES, max_size=40).map("".join), st.text(max_size=60)))
@example("i=1; mx.example; spf=pass smtp.mailfrom=a@b.example; dmarc=pass header.from=b.example")
@example(" i = 7 ; \"quoted id\"; dkim/1=pass reason=\"x \\\" y\" header.d=\"a b\"@c")
@example("i=1;mx;a=\"b")
@example("i=1;mx;a=\"b\\")
@example("i=\u00a01\u2003;mx")
@example("i=1;mx;\"a\"\"b\"=c")
def test_aar_parse_is_the_regex_one(text):
    assert _shape(aar.parse(text)) == _shape(old_aar_parse(text))
    raw = text.encode("utf-8", "surrogatepass")
    assert _shape(aar.parse(raw)) == _shape(old_aar_parse(raw))
