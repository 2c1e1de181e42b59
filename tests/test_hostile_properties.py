"""Hostile input, property-based (issue 5, item 1; CONTRACT.md sections 4, 5, 7).

Malformed and huge headers, NUL / 8-bit / bare CR, no body, no header/body
separator, hundreds to thousands of DKIM-Signature fields, absurd tag values,
garbage key records (SELECTOR_DATA), in BOTH modes. Properties:

  * the run ends within a time bound (BOUND_PROCESS per qmail-dkim process,
    BOUND_INPROC per in-process sign.run / verify.run);
  * the exit code is 0, 31 or 71 (never 81, never a traceback on stderr);
  * exactly one "qmail-dkim: mode=..." log line on stderr;
  * when queued, the queue program got our header lines + the original
    message byte for byte (verify: minus only DKIM-Status fields and the
    Authentication-Results fields with our authserv-id, DKIMAUTHSERVID=mx.test);
  * a malformed message is never a temporary error: sign mode signs it or
    passes it unsigned, verify mode gives it a status letter.

Process-level properties run the installed qmail-dkim (tests/qdkim.py) with
modest max_examples; the same properties run in-process (tests.qdkim.spool_bytes +
sign.run / verify.run) with many more examples. The counts written here are
the CI profile's; QMAIL_DKIM_HYPOTHESIS=deep runs ten times as many
(tests/profiles.py). tests/test_verifier_fuzz.py (random tag lists against
verify.run with a DNS stub) is not repeated here.

Bugs found by this file are regression tests at the end (fixed);
see docs/FUZZING.md.
"""
import base64
import hashlib
import re
import subprocess
import time

import pytest
from hypothesis import given, settings, strategies as st

from qmail_dkim import config
from qmail_dkim.sign import run as sign
from qmail_dkim.verify import run as verify
from qmail_dkim.exits import QmailDkimExit
from qmail_dkim.dkim.keyrecord import KeyRecordError, parse_key_record
from qmail_dkim.spool import HEADER_MAX
from qmail_dkim.verify.status import TEXTS as STATUS_TEXTS
from tests import qdkim
from tests.qdkim import spool_bytes
from tests.profiles import examples
from tests.realparts import keys
from tests.realparts.keys import cached_ed25519_key, cached_rsa_key

SERVID = "mx.test"
TEMPLATE = "control/domainkeys/%/default"
SIGN_ENV = {"RELAYCLIENT": "", "DKIMKEY": TEMPLATE, "DKIMAUTHSERVID": SERVID}
VERIFY_LETTERS = "FGHIKLMNOQRTUVWjp"
BOUND_PROCESS = 10.0       # seconds per qmail-dkim run (typical: 0.06 s)
BOUND_INPROC = 5.0         # seconds per in-process sign.run / verify.run
LOGLINE = re.compile(r"^qmail-dkim: mode=(sign|verify) ", re.M)
# Example counts are the CI profile's; QMAIL_DKIM_HYPOTHESIS=deep runs ten times
# as many (tests/profiles.py). Deadlines and health checks: the profile's.
PROC = settings(max_examples=examples(40))
INPROC = settings(max_examples=examples(300))


# ------------------------------------------------------------------ setup

@pytest.fixture(scope="module")
def home(home_factory):
    """One home for the module: conftest's plus an Ed25519 seed for ed.example.com."""
    h = home_factory("hostile")
    keys.install(h, cached_ed25519_key(), "ed.example.com", "default", fmt="seed")
    return h


@pytest.fixture(scope="module")
def inhome(home):
    """cwd = QMAILHOME, as main.py does, for the in-process properties."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        yield home


RSA_RECORD = cached_rsa_key(2048).dns_record()
ED_RECORD = cached_ed25519_key().dns_record()


# ------------------------------------------------------------------ strategies

NAME_CHARS = st.sampled_from(list(b"abcXYZ-_09!~") + [0x7f, 0x80, 0xff, 0x20, 0x00, 0x3b])
FIELD_NAMES = st.one_of(
    st.sampled_from([b"From", b"from", b"FROM ", b"To", b"Subject", b"Date", b"Received",
                     b"X-Junk", b"DKIM-Signature", b"dkim-status", b"Authentication-Results",
                     b"Message-ID", b"Content-Type", b"Reply-To", b"Sender"]),
    st.lists(NAME_CHARS, min_size=0, max_size=12).map(bytes))
VALUE_BYTES = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b" joe@example.com", b" <joe@example.com>", b" \"a@b\" <joe@example.com>",
                     b" =?utf-8?b?w6Q=?= <j@example.com>", b" (comment (nested) joe@example.com",
                     b" grp: a@example.com, b@example.org;", b" joe@ed.example.com",
                     b" joe@\xc3\xa4.example", b" joe@exa\x00mple.com", b"", b" \r",
                     b" x\r\n\tcontinued", b" " + b"a" * 300]))
FOLDS = st.lists(st.tuples(st.sampled_from([b" ", b"\t", b"  \t"]), st.binary(max_size=20)),
                 max_size=3)


@st.composite
def header_field(draw):
    name = draw(FIELD_NAMES)
    sep = draw(st.sampled_from([b":", b" :", b":", b":", b""]))
    value = draw(VALUE_BYTES).replace(b"\n", b" ")
    folds = b"".join(w + v.replace(b"\n", b" ") + b"\n" for w, v in draw(FOLDS))
    return name + sep + value + b"\n" + folds


TAG_NAMES = [b"v", b"a", b"b", b"bh", b"c", b"d", b"h", b"i", b"l", b"q", b"s", b"t", b"x", b"z"]
ABSURD_VALUES = st.one_of(
    st.sampled_from([
        b"1", b"2", b"rsa-sha256", b"ed25519-sha256", b"rsa-sha1", b"relaxed/relaxed",
        b"simple", b"example.com", b"ed.example.com", b"default", b"from", b"from:to:subject",
        b"dns/txt", b"-1", b"-0", b"0", b"+5", b"1e9", b"9" * 76, b"9" * 77, b"9" * 400,
        b"18446744073709551616", b"\xc3\xa4xample.com", b"ex\xe4mple.com", b"\xd8\x80.com",
        b"xn--", b"a" * 64 + b".com", (b"a" * 63 + b".") * 5 + b"com", b"@example.com",
        b"joe@sub.example.com", b"=FF=00@example.com", b"=ZZ", b"AAAA", b"AAA", b"A" * 5000,
        b"====", b"\x00", b"\xff\xfe", b"\r", b"\n\t", b";", b"=", b"from:" * 500 + b"from",
        b" f r o m ", b"FROM : Subject"]),
    st.binary(max_size=30))


@st.composite
def dkim_signature(draw):
    """A DKIM-Signature field with absurd / repeated / missing tags, usually
    close enough to valid that the checks go deep."""
    base = {b"v": b"1", b"a": b"rsa-sha256", b"d": b"example.com", b"s": b"default",
            b"h": b"from:subject", b"bh": base64.b64encode(b"\0" * 32),
            b"b": base64.b64encode(b"\1" * 256)}
    tags = list(base.items())
    for _ in range(draw(st.integers(0, 4))):
        tags.append((draw(st.sampled_from(TAG_NAMES)), draw(ABSURD_VALUES)))
    if draw(st.booleans()):                      # change rather than add
        i = draw(st.integers(0, len(tags) - 1))
        tags[i] = (tags[i][0], draw(ABSURD_VALUES))
    if draw(st.booleans()) and len(tags) > 1:    # drop one
        del tags[draw(st.integers(0, len(tags) - 1))]
    tags = draw(st.permutations(tags))
    sep = draw(st.sampled_from([b"; ", b";", b";\n\t", b" ; "]))
    value = sep.join(k + b"=" + v.replace(b"\n", b"\n\t") for k, v in tags)
    return b"DKIM-Signature: " + value + b"\n"


FORGED = st.sampled_from([
    b"DKIM-Status: good\n", b"dkim-status : good\n", b"DKIM-Status:\n\tgood\n",
    b"Authentication-Results: mx.test; dkim=pass\n",
    b"authentication-results: MX.TEST;\n\tdkim=pass header.d=example.com\n",
    b"Authentication-Results:\n mx.test ; dkim=pass\n",
    b"Authentication-Results: other.example; dkim=pass\n",     # not ours: kept
    b"Authentication-Results: mx.test.example; dkim=pass\n",   # not ours: kept
])

BODIES = st.one_of(st.binary(max_size=200),
                   st.sampled_from([b"", b"\n", b"\n\n\n", b"body\r\n", b"x" * 70000,
                                    b"line\n" * 3000, b"\0\0\0", b"\r", b".\n"]))


@st.composite
def message(draw, signatures=True):
    parts = draw(st.lists(st.one_of(header_field(), FORGED,
                                    dkim_signature() if signatures else header_field()),
                          max_size=8))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))),
                     draw(st.sampled_from([b"From: joe@example.com\n", b"From: joe@ed.example.com\n"])))
    head = b"".join(parts)
    sep = draw(st.sampled_from([b"\n", b"\n", b"", b"\r\n", b"\n\n"]))
    body = draw(BODIES)
    msg = head + sep + body
    if draw(st.integers(0, 9)) == 0:
        msg = msg.rstrip(b"\n")                  # no final LF at all
    return msg


RECORDS = st.one_of(
    st.sampled_from([RSA_RECORD, ED_RECORD, "v=DKIM1; p=", "v=DKIM1; k=rsa; t=y; p=" + RSA_RECORD.split("p=")[1],
                     "v=DKIM1; h=sha1; p=" + RSA_RECORD.split("p=")[1], "v=DKIM2; p=AAAA",
                     "k=ed25519; p=AAAA", "k=rsa; p=" + "A" * 4000, "g=; p=AAAA", "s=tlsrpt; p=x",
                     "v=DKIM1; v=DKIM1; p=AAAA", ";;;", "=", "p=\udcff\udcfe", "", "p",
                     "v=DKIM1; k=rsa; p=" + base64.b64encode(b"\x30\x82\xff\xff" + b"\0" * 60).decode()]),
    st.text(max_size=80).map(lambda s: s.replace("\0", "")))


# ------------------------------------------------------------------ checkers

def _field_starts(head):
    """Independent split of a header block into (name, raw) fields, LF form:
    a field starts with printable-ASCII name chars (no ':' or space) then
    optional WSP and ':'; WSP-led lines continue it; the header ends at an
    empty line or at the first line that is neither."""
    fields = []
    pos = 0
    while pos < len(head):
        eol = head.find(b"\n", pos)
        end = len(head) if eol < 0 else eol + 1
        line = head[pos:end]
        if line == b"\n":
            break
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1][1] += line
            else:                       # continuation lines before any field
                fields.append([b"", line])
        elif re.match(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:", line):
            fields.append([line.split(b":", 1)[0].rstrip(b" \t").lower(), line])
        else:
            break
        pos = end
    return fields


def _ours(raw):
    """Does an Authentication-Results field carry authserv-id mx.test?
    (only the forms FORGED generates and plain garbage; None = can't tell)"""
    value = raw.split(b":", 1)[1].lstrip(b" \t\r\n")
    if value.startswith((b"(", b'"')):
        return None
    tok = re.match(rb"[^\s;()\"]*", value).group(0)
    return tok.lower() == SERVID.encode()


def check_verify_output(original, stored, prepend):
    """stored = prepend (our header lines) + original minus some DKIM-Status
    and our Authentication-Results fields, nothing else changed."""
    assert stored.startswith(prepend)
    assert prepend.startswith(b"DKIM-Status: ")
    assert b"\nAuthentication-Results: " + SERVID.encode() + b";\n\t" in prepend
    rest = stored[len(prepend):]
    # Read back as a header: our fields keep their bounds and ours are the
    # only verdicts. A first line starting with WSP continues our last line,
    # which is then a notice field of its own (test_leading_continuation_line_*).
    after = _field_starts(stored)
    ours = _field_starts(prepend)
    if original.startswith((b" ", b"\t")):
        assert ours[-1][0] == b"x-dkim-notice"
        ours = ours[:-1]
    assert [raw for _, raw in after[:len(ours)]] == [raw for _, raw in ours]
    assert [n for n, _ in after].count(b"dkim-status") == 1
    assert sum(1 for n, raw in after if n == b"authentication-results" and _ours(raw)) == 1
    # rest must be original with whole DKIM-Status / our A-R fields removed
    i = j = 0
    for name, raw in _field_starts(original):
        k = original.find(raw, i)
        assert k == i, (i, raw)
        if rest.startswith(raw, j):
            if name == b"dkim-status":
                pytest.fail("DKIM-Status field was not removed: %r" % raw[:80])
            if name == b"authentication-results" and _ours(raw) is True:
                pytest.fail("our Authentication-Results was not removed: %r" % raw[:80])
            j += len(raw)
        else:
            assert name in (b"dkim-status", b"authentication-results"), \
                "field %r was removed" % raw[:80]
            if name == b"authentication-results":
                assert _ours(raw) is not False, "someone else's A-R was removed: %r" % raw[:80]
        i += len(raw)
    assert rest[j:] == original[i:], "message changed after the header fields"


def check_sign_output(original, stored):
    assert stored.endswith(original)
    added = stored[:len(stored) - len(original)]
    if added:
        assert added.startswith(b"DKIM-Signature: ") or added.startswith(b"DKIM-Signature:")
        assert added.endswith(b"\n")
        for line in added.split(b"\n")[:-1]:
            assert line.startswith((b"DKIM-Signature:", b"\t")), line
        added.decode("ascii")
    return added


def process_prepend(r):
    """Our header lines in a stored verify-mode message: DKIM-Status (one
    line), Authentication-Results (one line + one per dkim= result)."""
    words = r.field("dkim").split(",")
    lines = r.stored[0].msg.split(b"\n")
    n = 2 + len(words)
    if lines[n].startswith(b"X-DKIM-Notice: "):     # the message began with a folded line
        n += 1
    return b"".join(l + b"\n" for l in lines[:n])


def check_process(r, mode, elapsed):
    assert elapsed < BOUND_PROCESS, "took %.1f s" % elapsed
    assert "Traceback" not in r.stderr, r.stderr
    lines = LOGLINE.findall(r.stderr)
    assert len(lines) == 1 and lines[0] == mode, r.stderr
    assert r.rc in (0, 31, 71), (r.rc, r.stderr)
    if mode == "sign":
        assert r.rc == 0, r.stderr
    if r.rc == 0:
        assert len(r.stored) == 1, (r.rc, r.stderr)
    else:
        assert r.stored == []


def run_inproc(mode, msg, env=None, tmp="tmp"):
    t0 = time.monotonic()
    sp = spool_bytes(msg, tmp)
    try:
        if mode == "sign":
            e = dict(SIGN_ENV, **(env or {}))
            out = sign.run(config.SignSettings(e), sp, e.get("DKIMKEY", TEMPLATE))
        else:
            e = {"DKIMVERIFY": VERIFY_LETTERS, "DKIMAUTHSERVID": SERVID, "SELECTOR_DATA": ""}
            e.update(env or {})
            out = verify.run(config.VerifySettings(e), sp)
    except QmailDkimExit as x:       # a malformed message is never an error exit
        pytest.fail("%s: exit %d (%s) for a message" % (mode, x.code, x.reason))
    finally:
        sp.close()
    assert time.monotonic() - t0 < BOUND_INPROC
    return out


def apply_outcome(out, msg):
    """What the queue program would read (child._feed)."""
    pieces, pos = [out.prepend], 0
    for start, end in out.drop:
        pieces.append(msg[pos:start])
        pos = end
    pieces.append(msg[pos:])
    return b"".join(pieces)


def check_sign_outcome(out, msg):
    assert out.exit_code is None
    log = dict(out.log)
    assert log["result"] in ("signed", "unsigned")
    assert out.drop == []
    added = check_sign_output(msg, apply_outcome(out, msg))
    assert bool(added) == (log["result"] == "signed")
    return log


def check_verify_outcome(out, msg):
    assert out.exit_code in (None, 31, 71)
    log = dict(out.log)
    assert log["status"] in STATUS_TEXTS
    check_verify_output(msg, apply_outcome(out, msg), out.prepend)
    if out.exit_code == 31:
        assert log["status"] in VERIFY_LETTERS
    if out.exit_code == 71:
        assert log["status"].lower() in VERIFY_LETTERS
    return log


# ------------------------------------------------------------------ in-process

@INPROC
@given(message())
def test_inproc_sign_any_message(inhome, msg):
    check_sign_outcome(run_inproc("sign", msg), msg)


@INPROC
@given(message(), RECORDS)
def test_inproc_verify_any_message(inhome, msg, record):
    check_verify_outcome(run_inproc("verify", msg, {"SELECTOR_DATA": record}), msg)


@settings(max_examples=examples(150))
@given(message(signatures=False),
       st.sampled_from(["-c r", "-c s -l", "-c t -h", "-c u -q -t -x -"]))
def test_inproc_signed_message_verifies(inhome, msg, opts):
    """Sign, then verify with our own verifier and the matching key record:
    a message we chose to sign carries a signature that verifies (A), or the
    signature is at least well-formed (never H/W/X/K/O/L/R/V)."""
    out = run_inproc("sign", msg, {"DKIMSIGNOPTIONS": opts, "DKIMEXPIRE": ""})
    log = check_sign_outcome(out, msg)
    if log["result"] != "signed":
        return
    record = ED_RECORD if log["d"] == ["ed.example.com"] else RSA_RECORD
    signed = out.prepend + msg
    v = run_inproc("verify", signed, {"SELECTOR_DATA": record, "DKIMVERIFY": ""})
    vlog = dict(v.log)
    assert vlog["status"] == "A", (vlog, signed[:400])


@settings(max_examples=examples(25))
@given(st.lists(st.one_of(dkim_signature(), header_field()), min_size=100, max_size=400),
       st.binary(max_size=50), RECORDS)
def test_inproc_hundreds_of_signatures(inhome, parts, body, record):
    msg = b"".join(parts) + b"From: joe@example.com\n\n" + body
    nsig = sum(1 for name, _ in _field_starts(msg) if name == b"dkim-signature")
    out = run_inproc("verify", msg, {"SELECTOR_DATA": record})
    log = check_verify_outcome(out, msg)
    if nsig > 10:
        assert log.get("ignored") == nsig - 10
    check_sign_outcome(run_inproc("sign", msg), msg)


@settings(max_examples=examples(1000))
@given(st.one_of(st.binary(max_size=300), RECORDS.map(lambda s: s.encode("utf-8", "surrogateescape"))))
def test_key_record_garbage(data):
    """Any bytes as a key record: a KeyRecordError with L/N/R, or a record."""
    try:
        rec = parse_key_record(data)
    except KeyRecordError as e:
        assert e.letter in ("L", "N", "R")
        return
    for a in (b"rsa-sha256", b"ed25519-sha256", b"rsa-sha1", b"bogus"):
        rec.algorithm_mismatch(a)
    rec.granularity_matches(b"joe")
    rec.granularity_matches(None)


# ------------------------------------------------------------------ process level

@PROC
@given(message())
def test_process_sign_hostile(home, msg):
    t0 = time.monotonic()
    r = qdkim.run(home, SIGN_ENV, message=msg)
    check_process(r, "sign", time.monotonic() - t0)
    check_sign_output(msg, r.stored[0].msg)


@PROC
@given(message(), RECORDS)
def test_process_verify_hostile(home, msg, record):
    env = {"DKIMVERIFY": VERIFY_LETTERS, "SELECTOR_DATA": record, "DKIMAUTHSERVID": SERVID}
    t0 = time.monotonic()
    r = qdkim.run(home, env, message=msg)
    check_process(r, "verify", time.monotonic() - t0)
    letter = r.field("status")
    assert letter in STATUS_TEXTS, r.stderr
    if r.rc == 31:
        assert letter in VERIFY_LETTERS
    elif r.rc == 71:
        assert letter.lower() in VERIFY_LETTERS
    else:
        assert letter not in VERIFY_LETTERS
        check_verify_output(msg, r.stored[0].msg, process_prepend(r))


@settings(max_examples=examples(8))
@given(st.integers(100, 3000), st.sampled_from(["sign", "verify"]), dkim_signature())
def test_process_thousands_of_signatures(home, n, mode, sig):
    msg = sig * n + b"From: joe@example.com\nSubject: many\n\nbody\n"
    env = dict(SIGN_ENV) if mode == "sign" else \
        {"DKIMVERIFY": VERIFY_LETTERS, "SELECTOR_DATA": RSA_RECORD, "DKIMAUTHSERVID": SERVID}
    t0 = time.monotonic()
    r = qdkim.run(home, env, message=msg)
    check_process(r, mode, time.monotonic() - t0)
    if mode == "verify":
        assert r.field("ignored") == str(n - 10)
        if r.rc == 0:
            check_verify_output(msg, r.stored[0].msg, process_prepend(r))
    else:
        check_sign_output(msg, r.stored[0].msg)


# ------------------------------------------------------------------ fixed hostile cases

HUGE = {
    "empty": b"",
    "only-lf": b"\n",
    "no-separator": b"From: joe@example.com\nSubject: x",
    "no-body": b"From: joe@example.com\nSubject: x\n",
    "nul-everywhere": b"From: joe@exa\0mple.com\n\0: x\n\n\0body\0",
    "8bit-names": b"Fr\xf6m: joe@example.com\n\xff\xfe: x\nFrom: joe@example.com\n\n\xff",
    "bare-cr": b"From: joe@example.com\rSubject: x\r\r\nbody\r",
    "cr-only-lines": b"From: joe@example.com\r\n\r\nbody\r\n",
    "line-3mb": b"From: joe@example.com\nSubject: " + b"x" * (3 << 20) + b"\n\nbody\n",
    "header-2mb-no-lf": b"X: " + b"y" * (2 << 20),
    "100k-from": b"From: joe@example.com\n" * 100000 + b"\nbody\n",
    "from-400k-domain": b"From: a@" + b"a." * 200000 + b"com\n\n",
    "from-deep-comment": b"From: " + b"(" * 100000 + b"a@example.com\n\n",
    "from-quotes": b"From: " + b'"' * 100001 + b"a@example.com\n\n",
    "body-8mb": b"From: joe@example.com\n\n" + (b"a" * 1000 + b"\n") * 8000,
    "hugeb": b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=default; h=from; bh=AAAA; b="
             + b"A" * 900000 + b"\nFrom: joe@example.com\n\nbody\n",
    "h-200k": b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=default; h=" + b"from:" * 150000
              + b"from; bh=AAAA; b=AAAA\nFrom: joe@example.com\n\nbody\n",
}


@pytest.mark.parametrize("mode", ["sign", "verify"])
@pytest.mark.parametrize("name", sorted(HUGE))
def test_process_fixed_hostile(home, mode, name):
    msg = HUGE[name]
    env = dict(SIGN_ENV) if mode == "sign" else \
        {"DKIMVERIFY": VERIFY_LETTERS, "SELECTOR_DATA": RSA_RECORD, "DKIMAUTHSERVID": SERVID}
    t0 = time.monotonic()
    r = qdkim.run(home, env, message=msg)
    check_process(r, mode, time.monotonic() - t0)
    if r.rc == 0:
        if mode == "sign":
            check_sign_output(msg, r.stored[0].msg)
        elif len(msg) < HEADER_MAX:
            check_verify_output(msg, r.stored[0].msg, process_prepend(r))
        else:
            assert r.stored[0].msg.endswith(msg)


# ------------------------------------------------------------------ regressions (bugs found here, fixed)

def _junk_header(size):
    line = b"X-Junk: " + b"j" * 100 + b"\n"
    return line * (size // len(line) + 1)


# Regression (found by this file, fixed in the package): forged verdict after 1mib of header is removed
def test_forged_verdict_after_1mib_of_header_is_removed(home):
    msg = (b"From: joe@example.com\n" + _junk_header(HEADER_MAX + 1000)
           + b"DKIM-Status: good\nAuthentication-Results: mx.test; dkim=pass\n\nbody\n")
    env = {"DKIMVERIFY": VERIFY_LETTERS, "SELECTOR_DATA": RSA_RECORD, "DKIMAUTHSERVID": SERVID}
    r = qdkim.run(home, env, message=msg)
    assert r.rc == 0
    out = r.stored[0].msg
    assert out.count(b"DKIM-Status:") == 1                       # ours only
    assert out.count(b"Authentication-Results: mx.test;") == 1   # ours only


# Regression (found by this file, fixed in the package): header over 1mib is not signed wrongly
def test_header_over_1mib_is_not_signed_wrongly(home):
    from qmail_dkim.dkim.lib import dkim
    msg = (b"From: joe@example.com\nSubject: hi\n" + _junk_header(HEADER_MAX + 1000)
           + b"To: bob@example.org\n\nbody\n")
    r = qdkim.run(home, SIGN_ENV, message=msg)
    assert r.rc == 0
    out = r.stored[0].msg
    if not out.startswith(b"DKIM-Signature:"):
        return                                              # passed unsigned: fine
    d = dkim.DKIM(out.replace(b"\n", b"\r\n"))
    assert d.verify(dnsfunc=lambda name, timeout=5: RSA_RECORD.encode())


def _timed(home, env, msg, bound=BOUND_PROCESS):
    t0 = time.monotonic()
    try:
        r = qdkim.run(home, env, message=msg, timeout=bound)
    except subprocess.TimeoutExpired:
        pytest.fail("no result within %.0f s for a %d-octet message" % (bound, len(msg)))
    check_process(r, env.get("DKIMVERIFY") and "verify" or "sign", time.monotonic() - t0)
    return r


# Regression (found by this file, fixed in the package): sign many distinct fields in bounded time
def test_sign_many_distinct_fields_in_bounded_time(home):
    msg = (b"From: joe@example.com\n" + b"".join(b"H%d: v\n" % i for i in range(30000))
           + b"\nbody\n")
    _timed(home, SIGN_ENV, msg)


# Regression (found by this file, fixed in the package): verify many distinct h names in bounded time
def test_verify_many_distinct_h_names_in_bounded_time(home):
    bh = base64.b64encode(hashlib.sha256(b"body\r\n").digest())
    names = [b"H%d" % i for i in range(16000)]
    sig = (b"DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.com; s=default; h=from:"
           + b":".join(names) + b"; bh=" + bh + b"; b=" + base64.b64encode(b"\1" * 256) + b"\n")
    msg = sig + b"From: joe@example.com\n" + b"".join(b"Y%d: v\n" % i for i in range(16000)) \
        + b"\nbody\n"
    env = {"DKIMVERIFY": VERIFY_LETTERS, "SELECTOR_DATA": RSA_RECORD, "DKIMAUTHSERVID": SERVID}
    _timed(home, env, msg)


# Regression (found by this file, fixed in the package): sign one line 64mib body in bounded time
def test_sign_one_line_64mib_body_in_bounded_time(home):
    msg = b"From: joe@example.com\nSubject: long line\n\n" + b"a" * (64 << 20)
    _timed(home, SIGN_ENV, msg, bound=BOUND_PROCESS)


# Regression (found by this file, fixed in the package): verify whitespace folded signature in bounded time
def test_verify_whitespace_folded_signature_in_bounded_time(home):
    bh = base64.b64encode(hashlib.sha256(b"body\r\n").digest())
    sig = (b"DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.com; s=default; "
           b"h=from; bh=" + bh + b"; b=" + base64.b64encode(b"\1" * 256) + b"\n " * 16000 + b"\n")
    msg = sig + b"From: joe@example.com\n\nbody\n"
    env = {"DKIMVERIFY": VERIFY_LETTERS, "SELECTOR_DATA": RSA_RECORD, "DKIMAUTHSERVID": SERVID}
    _timed(home, env, msg)


# Regression (found by this file, fixed in the package): leading continuation line cannot forge verdict
def test_leading_continuation_line_cannot_forge_verdict(home):
    msg = (b"\t; dkim=pass header.d=paypal.com\nDKIM-Status: good\n"
           b"Authentication-Results: mx.test; dkim=pass\nFrom: joe@example.com\n\nbody\n")
    env = {"DKIMVERIFY": VERIFY_LETTERS, "SELECTOR_DATA": RSA_RECORD, "DKIMAUTHSERVID": SERVID}
    r = qdkim.run(home, env, message=msg)
    assert r.rc == 0
    fields = _field_starts(r.stored[0].msg)
    ar = [raw for n, raw in fields if n == b"authentication-results" and _ours(raw)]
    assert [n for n, _ in fields].count(b"dkim-status") == 1
    assert len(ar) == 1 and b"paypal" not in ar[0], ar
