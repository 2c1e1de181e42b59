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


# ------------------------------------------------------------- verify/authresults.py

from qmail_dkim.verify import authresults  # noqa: E402
from qmail_dkim.dns import txt as dnstxt  # noqa: E402

_OLD_AR_TOKEN = re.compile(rb'^[!#$%&\'*+\-.0-9A-Z^_`a-z{|}~]+$')


def old_quoted(v):
    if v and _OLD_AR_TOKEN.match(v.encode()):
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def old_authserv_id(value):
    i = authresults._skip_cfws(value, 0)
    if value[i:i + 1] == b'"':
        return authresults.field_authserv_id(value)     # unchanged: no regex there
    m = re.match(rb'[^\s;()"]+', value[i:])
    return m.group(0).decode("utf-8", "replace").lower() if m else None


@settings(max_examples=examples(400))
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2100), max_size=20))
@example("mx.example.net")
@example("a b")
@example("x\n")
@example("")
def test_authresults_token_is_the_regex_one(v):
    """On what _quoted is given (_ascii's printable ASCII) both agree."""
    v = authresults._ascii(v)
    assert authresults._quoted(v) == old_quoted(v)


def test_authresults_token_no_trailing_newline():
    """The regex's $ let a value ending in a newline pass as a token (never
    reached: values go through _ascii first); the scan quotes it."""
    assert old_quoted("x\n") == "x\n"
    assert authresults._quoted("x\n") == '"x\n"'


AR_PIECES = st.sampled_from([b" ", b"\t", b"\r\n", b"\x0b", b"\x0c", b"\x1c", b"\xa0", b";",
                             b"(", b")", b"(c)", b'"', b"\\", b"mx.example", b"MX", b"\xc3\xa9",
                             b"a", b"1", b"dkim=pass", b"\x00", b"\x85"])


@settings(max_examples=examples(400))
@given(st.one_of(st.lists(AR_PIECES, max_size=12).map(b"".join), st.binary(max_size=20)))
@example(b" (comment) mx.example.net; dkim=pass")
@example(b"mx\x0bx")
def test_authserv_id_is_the_regex_one(value):
    assert authresults.field_authserv_id(value) == old_authserv_id(value)


# ------------------------------------------------------------- dns/txt.py

def old_parse_dnscacheip(value, bad=None):
    out = []
    for token in re.split(r"[\s,]+", value.strip()):
        if not token:
            continue
        m = re.fullmatch(r"(\d{1,3}(?:\.\d{1,3})+)", token)
        if m and token.count(".") % 4 == 3 and token.count(".") > 3:
            parts = token.split(".")
            for i in range(0, len(parts), 4):
                s = dnstxt._parse_server(".".join(parts[i:i + 4]))
                if s:
                    out.append(s)
                elif bad is not None:
                    bad.append(".".join(parts[i:i + 4]))
            continue
        s = dnstxt._parse_server(token)
        if s:
            out.append(s)
        elif bad is not None:
            bad.append(token)
    return out


DNSCACHEIP_PIECES = st.sampled_from(["127.0.0.1", "10.0.0.2", "1", "22", "333", "4444", ".", ",",
                                     " ", "\t", "\u00a0", "\u2003", ":53", "[::1]", "::1", "[",
                                     "]", "\u0661", "\u0662\u0663", "0.0.0.0", "x", "%eth0"])


@settings(max_examples=examples(400))
@given(st.one_of(st.lists(DNSCACHEIP_PIECES, max_size=12).map("".join), st.text(max_size=30)))
@example("10.0.0.1.10.0.0.2")
@example("127.0.0.1:5353,[::1]:5353")
@example("\u0661\u0662\u0667.0.0.1.1.2.3.4")
@example(" , 1.2.3.4 ,, 5.6.7.8 ")
def test_dnscacheip_is_the_regex_one(value):
    bad_new, bad_old = [], []
    assert dnstxt._parse_dnscacheip(value, bad_new) == old_parse_dnscacheip(value, bad_old)
    assert bad_new == bad_old


# ------------------------------------------------------------- spf/check.py

from qmail_dkim.spf import check as spfcheck  # noqa: E402

_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_OLD_IP4 = re.compile(r"%s\.%s\.%s\.%s" % ((_QNUM,) * 4))
_OLD_CIDR = re.compile(r"0|[1-9][0-9]?[0-9]?")
_OLD_MACRO = re.compile(r"%\{([A-Za-z])([0-9]*)(r?)([.\-+,/_=]*)\}", re.I)
_OLD_TOPLABEL = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9]")
_OLD_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)=(.*)", re.S)
_OLD_MECH = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9_.\-]*)(.*)", re.S)
_OLD_DUAL_CIDR = re.compile(r"(.*?)(?:/([0-9]+))?(?://([0-9]+))?", re.S)

# SPF records are 7-bit ASCII (select_record refuses others), so the words
# the scanners see are printable ASCII.
SPF_PIECES = st.sampled_from(["0", "1", "25", "255", "256", "01", "9", ".", "/", "//", ":", "%",
                              "{", "}", "r", "R", "d", "D", "s", "=", "-", "+", "~", "?", "_",
                              ",", "a", "mx", "ip4", "ip6", "all", "include", "x", "Z", "f",
                              "::", "ffff", "exp", "redirect", "example", "com", "%{d}",
                              "%{ir}", "%{l1r-}", "%{d2}", "%{S}"])
SPF_TEXT = st.one_of(st.lists(SPF_PIECES, max_size=14).map("".join),
                     st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                             max_size=16))


def _groups(m):
    return m.groups() if m else None


@settings(max_examples=examples(600))
@given(SPF_TEXT)
@example("192.0.2.1")
@example("1.2.3.04")
@example("a:example.com/24//64")
@example("a///6")
@example("/5/6")
@example("mx/0//0")
@example("-ip4:1.2.3.4/32")
@example("%{ir}.%{v}._spf.%{d2}")
@example("foo-bar")
@example("1-2")
def test_spf_scanners_are_the_regex_ones(text):
    assert spfcheck.ip4_ok(text) == bool(_OLD_IP4.fullmatch(text))
    if text.isdigit():
        assert spfcheck._cidr_ok(text) == bool(_OLD_CIDR.fullmatch(text))
    assert spfcheck._toplabel_ok(text) == bool(_OLD_TOPLABEL.fullmatch(text))
    assert spfcheck.split_modifier(text) == _groups(_OLD_MODIFIER.fullmatch(text))
    mech = _OLD_MECH.fullmatch(text)
    assert spfcheck.split_mechanism(text) == (mech.groups() if mech else None)
    assert spfcheck.split_dual_cidr(text) == _OLD_DUAL_CIDR.fullmatch(text).groups()
    for i in range(len(text)):
        if text[i] == "%":
            m = _OLD_MACRO.match(text, i)
            assert spfcheck._match_macro(text, i) == (m.groups() + (m.end(),) if m else None)
    for rest, chars, pattern in ((text, "0123456789.", r":([0-9.]+)(?:/([0-9]+))?"),
                                 (text, "0123456789ABCDEFabcdef:.",
                                  r":([0-9A-Fa-f:.]+)(?:/([0-9]+))?")):
        assert spfcheck._address_argument(rest, chars) == _groups(re.fullmatch(pattern, rest))
    c = spfcheck._Check("192.0.2.1", text, "helo.example", None, None, "mx.example")
    for delims in (".", "-.", "+,/_=", "/"):
        for reverse, count in ((False, 0), (True, 2)):
            parts = re.split("[" + re.escape(delims) + "]", text)
            if reverse:
                parts.reverse()
            if count:
                parts = parts[-count:]
            assert c.expand([("s", count, reverse, delims)], "d.example") == ".".join(parts)

