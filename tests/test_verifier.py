"""verifier: one letter per signature, in the order of qmail-dkim(8), VERIFICATION."""
import base64
import time

import pytest

from qmail_dkim.dkim import verifier
from qmail_dkim import config
from qmail_dkim.dkim.verifier import Options, message_letter, verify_all
from qmail_dkim.verify.keys import KeySource, dns_lookup
from tests.verifyhelp import (HEADERS, MSG, Lookup, answer, dkimpy_sign, ed_priv,
                                         ed_record, rsa_priv, rsa_record, spool, std_tags,
                                         tag_sign)

REC = None


def rec(extra=""):
    return rsa_record(rsa_priv(), extra)


def classify(tmp_path, msg, env=None, lookup=None, from_domain="example.com",
             practice_disabled=False, now=None):
    env = dict(env or {})
    if lookup is None and "SELECTOR_DATA" not in env:
        env["SELECTOR_DATA"] = rec()
    sp = spool(tmp_path, msg)
    try:
        settings = config.VerifySettings(env)
        opts = Options(from_domain, practice_disabled, now=now, honor_l=settings.honor_l,
                       unsigned_from=settings.unsigned_from)
        if lookup is None:
            lookup = dns_lookup(settings.dns, time.monotonic() + 10)
        keys = KeySource(lookup, settings.selector_data)
        results, ignored = verify_all(sp.fields, sp, opts, keys)
    finally:
        sp.close()
    return results, ignored


def letter(tmp_path, msg, **kw):
    results, _ = classify(tmp_path, msg, **kw)
    assert len(results) == 1
    return results[0].letter, results[0].reason


# ------------------------------------------------------------------ A

@pytest.mark.parametrize("canon", [(b"relaxed", b"simple"), (b"simple", b"simple"),
                                   (b"relaxed", b"relaxed"), (b"simple", b"relaxed")])
def test_A_rsa_dkimpy(tmp_path, canon):
    assert letter(tmp_path, dkimpy_sign(MSG, canon=canon)) == ("A", "verified")


@pytest.mark.parametrize("canon", [(b"relaxed", b"relaxed"), (b"simple", b"simple")])
def test_A_ed25519_dkimpy(tmp_path, canon):
    msg = dkimpy_sign(MSG, ed=True, canon=canon)
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": ed_record(ed_priv())})[0] == "A"


def test_A_tag_signer(tmp_path):
    msg = tag_sign(MSG, std_tags(x=int(time.time()) + 3600, t=int(time.time()),
                                 i=b"joe@sub.example.com"))
    assert letter(tmp_path, msg)[0] == "A"


def test_A_ed25519_tag_signer(tmp_path):
    msg = tag_sign(MSG, std_tags(a=b"ed25519-sha256"), ed=True)
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": ed_record(ed_priv())})[0] == "A"


def test_A_folded_and_odd_whitespace(tmp_path):
    msg = MSG.replace(b"Subject: test message\n",
                      b"Subject:   test\n\t  message   \n")
    msg = dkimpy_sign(msg, canon=(b"relaxed", b"relaxed"))
    assert letter(tmp_path, msg)[0] == "A"
    assert b"\n\t" in msg.split(b"\n\n")[0] or b"\n " in msg.split(b"\n\n")[0]


def test_A_cr_in_body_is_data(tmp_path):
    m = MSG + b"line with a CR\r\nend\n"
    assert letter(tmp_path, dkimpy_sign(m, canon=(b"simple", b"simple")))[0] == "A"


def test_A_empty_body(tmp_path):
    m = MSG.split(b"\n\n")[0] + b"\n\n"
    for canon in ((b"simple", b"simple"), (b"relaxed", b"relaxed")):
        assert letter(tmp_path, dkimpy_sign(m, canon=canon))[0] == "A"


def test_A_no_separator(tmp_path):
    m = MSG.split(b"\n\n")[0] + b"\n"
    assert letter(tmp_path, dkimpy_sign(m, canon=(b"relaxed", b"relaxed")))[0] == "A"


def test_A_multiple_occurrences_bottom_up(tmp_path):
    m = b"Cc: one\nCc: two\n" + MSG
    signed = dkimpy_sign(m, headers=[b"from", b"cc", b"cc", b"cc"])
    assert letter(tmp_path, signed)[0] == "A"


def test_A_header_added_after_signing_not_in_h(tmp_path):
    signed = dkimpy_sign(MSG)
    assert letter(tmp_path, b"Received: later\n" + signed)[0] == "A"


def test_A_b_first_tag_no_space(tmp_path):
    signed = tag_sign(MSG, std_tags())
    # move b= to the front, right after the colon
    head, rest = signed.split(b"\n", 1)
    value = head[len(b"DKIM-Signature:"):]
    tags = [t.strip() for t in value.split(b";")]
    b = [t for t in tags if t.startswith(b"b=")][0]
    others = [t for t in tags if not t.startswith(b"b=")]
    moved = b"DKIM-Signature:" + b + b"; " + b"; ".join(others) + b"\n" + rest
    # dkimpy's RE_BTAG needs ';' or space before b=; the moved signature
    # is not valid for the tag signer's hash (b= position changed), but the
    # verifier must get a letter, not crash.
    assert letter(tmp_path, moved)[0] in ("A", "I")


# ------------------------------------------------------------------ U I J

def test_U_body_changed(tmp_path):
    signed = dkimpy_sign(MSG) + b"appended line\n"
    assert letter(tmp_path, signed) == ("U", "body hash mismatch")


def test_I_header_changed(tmp_path):
    signed = dkimpy_sign(MSG).replace(b"Subject: test message", b"Subject: test massage")
    assert letter(tmp_path, signed)[0] == "I"


def test_I_corrupted_b(tmp_path):
    assert letter(tmp_path, tag_sign(MSG, std_tags(), corrupt_b=True))[0] == "I"


def test_I_ed25519_wrong_key(tmp_path):
    msg = dkimpy_sign(MSG, ed=True)
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": ed_record(ed_priv(1))})[0] == "I"


def test_I_rsa_wrong_key(tmp_path):
    assert letter(tmp_path, dkimpy_sign(MSG), env={"SELECTOR_DATA": rsa_record(rsa_priv(2048, 1))})[0] == "I"


def test_I_signature_plus_modulus(tmp_path):
    """s + n is not accepted (RFC 8017: s < n, exactly k octets)."""
    signed = tag_sign(MSG, std_tags())
    head, rest = signed.split(b"\n", 1)
    pre, b64 = head.rsplit(b"b=", 1)
    s = int.from_bytes(base64.b64decode(b64), "big")
    n = rsa_priv().public_key().public_numbers().n
    forged = (s + n).to_bytes(257, "big")
    msg = pre + b"b=" + base64.b64encode(forged) + b"\n" + rest
    assert letter(tmp_path, msg)[0] == "I"


@pytest.mark.parametrize("change,want", [(b"body", "J"), (b"header", "J")])
def test_J_testing_key(tmp_path, change, want):
    signed = dkimpy_sign(MSG)
    if change == b"body":
        signed += b"more\n"
    else:
        signed = signed.replace(b"To: Bob", b"To: Eve")
    assert letter(tmp_path, signed, env={"SELECTOR_DATA": rec("t=y; ")})[0] == want


def test_testing_key_still_verifies(tmp_path):
    assert letter(tmp_path, dkimpy_sign(MSG), env={"SELECTOR_DATA": rec("t=y; ")})[0] == "A"


# ------------------------------------------------------------------ H W

def _replace_tag(msg, tag, value):
    """Set/replace/remove (value None) a tag in the first DKIM-Signature,
    keeping everything else."""
    head, rest = msg.split(b"\n", 1)
    name, v = head.split(b":", 1)
    parts = [p for p in v.split(b";")]
    out, done = [], False
    for p in parts:
        k = p.split(b"=", 1)[0].strip()
        if k == tag:
            done = True
            if value is not None:
                out.append(b" " + tag + b"=" + value)
        else:
            out.append(p)
    if not done and value is not None:
        out.insert(0, b" " + tag + b"=" + value)
    return name + b":" + b";".join(out) + b"\n" + rest


@pytest.mark.parametrize("tag", [b"v", b"a", b"b", b"bh", b"d", b"h", b"s"])
def test_H_required_tag_missing(tmp_path, tag):
    msg = _replace_tag(tag_sign(MSG, std_tags()), tag, None)
    got = letter(tmp_path, msg)
    assert got[0] == "H" and tag.decode() + "=" in got[1]


@pytest.mark.parametrize("tag,value", [
    (b"a", b"rsa-sha1"), (b"a", b"rsa-md5"), (b"a", b""),
    (b"c", b"fancy/simple"), (b"c", b"relaxed/relaxed/simple"),
    (b"bh", b"not*base64"), (b"b", b"abc"), (b"b", b""),
    (b"d", b""), (b"d", b"exa mple.com"), (b"d", b"a..b"), (b"d", b"ex@mple.com"), (b"s", b"-sel"),
    (b"h", b""), (b"h", b"from::to"),
    (b"i", b"no-at-sign"), (b"i", b"joe=ZZ@example.com"),
    (b"l", b"-1"), (b"l", b"12a"), (b"q", b"http/well-known"),
    (b"t", b"yesterday"), (b"x", b"12x"),
])
def test_H_bad_values(tmp_path, tag, value):
    msg = _replace_tag(tag_sign(MSG, std_tags()), tag, value)
    assert letter(tmp_path, msg)[0] == "H"


def test_H_rsa_sha1_even_if_valid(tmp_path):
    signed = dkimpy_sign(MSG, signature_algorithm=b"rsa-sha1")
    got = letter(tmp_path, signed)
    assert got[0] == "H" and "8301" in got[1]


def test_H_duplicate_tag(tmp_path):
    head, rest = tag_sign(MSG, std_tags()).split(b"\n", 1)
    msg = head + b"; d=example.org\n" + rest
    got = letter(tmp_path, msg)
    assert got[0] == "H" and "twice" in got[1]


@pytest.mark.parametrize("raw", [b"garbage", b"v=1; a", b"=x; v=1", b";;;", b"", b"\x00\xff"])
def test_H_unparsable(tmp_path, raw):
    assert letter(tmp_path, b"DKIM-Signature: " + raw + b"\n" + MSG)[0] == "H"


def test_H_x_before_t(tmp_path):
    t = int(time.time())
    msg = tag_sign(MSG, std_tags(t=t, x=t - 1))
    assert letter(tmp_path, msg)[0] == "H"


def test_W_version(tmp_path):
    msg = _replace_tag(tag_sign(MSG, std_tags()), b"v", b"2")
    assert letter(tmp_path, msg)[0] == "W"


def test_order_H_before_W(tmp_path):
    msg = _replace_tag(_replace_tag(tag_sign(MSG, std_tags()), b"v", b"2"), b"a", b"rsa-sha1")
    assert letter(tmp_path, msg)[0] == "H"


def test_order_W_before_X(tmp_path):
    msg = _replace_tag(tag_sign(MSG, std_tags(h=b"to:subject")), b"v", b"2")
    assert letter(tmp_path, msg)[0] == "W"


# ------------------------------------------------------------------ Y X K O

def test_Y_identity_outside_d(tmp_path):
    msg = tag_sign(MSG, std_tags(i=b"joe@example.org"))
    assert letter(tmp_path, msg)[0] == "Y"
    msg = tag_sign(MSG, std_tags(i=b"joe@notexample.com"))
    assert letter(tmp_path, msg)[0] == "Y"


def test_Y_subdomain_with_t_s(tmp_path):
    msg = tag_sign(MSG, std_tags(i=b"joe@sub.example.com"))
    assert letter(tmp_path, msg)[0] == "A"
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": rec("t=s; ")})[0] == "Y"
    msg = tag_sign(MSG, std_tags(i=b"joe@example.com"))
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": rec("t=s; ")})[0] == "A"


def test_Y_before_X(tmp_path):
    msg = tag_sign(MSG, std_tags(h=b"to", i=b"x@example.org"))
    assert letter(tmp_path, msg)[0] == "Y"


def test_X_from_not_signed(tmp_path):
    msg = tag_sign(MSG, std_tags(h=b"to:subject"))
    assert letter(tmp_path, msg)[0] == "X"


def test_X_unsigned_subject_is_accepted(tmp_path):
    # UNSIGNED_SUBJECT has C's meaning (an unsigned Subject is accepted), and
    # our default already accepts it (RFC 6376 does not require Subject).
    msg = tag_sign(MSG, std_tags(h=b"from:to"))
    assert letter(tmp_path, msg)[0] == "A"
    assert letter(tmp_path, msg, env={"UNSIGNED_SUBJECT": "", "SELECTOR_DATA": rec()})[0] == "A"


def test_X_unsigned_from_second_from(tmp_path):
    msg = tag_sign(MSG, std_tags(h=b"from:to:subject"))
    msg = b"From: evil@example.org\n" + msg
    # by default every From: field must be signed (RFC 6376 section 8.15)
    assert letter(tmp_path, msg) == ("X", "2 From: fields, h= signs 1")
    # UNSIGNED_FROM set (even empty): one signed From is enough, as in C
    got = letter(tmp_path, msg, env={"UNSIGNED_FROM": "", "SELECTOR_DATA": rec()})
    assert got[0] == "A"
    both = tag_sign(b"From: a@example.com\n" + MSG, std_tags(h=b"from:from:to"))
    assert letter(tmp_path, both)[0] == "A"
    assert letter(tmp_path, both, env={"UNSIGNED_FROM": "", "SELECTOR_DATA": rec()})[0] == "A"


def test_K_expired(tmp_path):
    t = int(time.time())
    msg = tag_sign(MSG, std_tags(t=t - 100, x=t - 1))
    assert letter(tmp_path, msg)[0] == "K"
    # no grace: one second is enough
    msg = tag_sign(MSG, std_tags(x=t + 1))
    assert letter(tmp_path, msg, now=t + 2)[0] == "K"
    assert letter(tmp_path, msg, now=t)[0] == "A"


def test_K_before_key_lookup(tmp_path):
    t = int(time.time())
    msg = tag_sign(MSG, std_tags(x=t - 10))
    lk = Lookup()
    assert letter(tmp_path, msg, lookup=lk)[0] == "K"
    assert lk.calls == []


def test_O_name_too_long(tmp_path):
    msg = tag_sign(MSG, std_tags(s=b"a" * 64))
    assert letter(tmp_path, msg)[0] == "O"
    long_d = b".".join([b"a" * 60] * 4) + b".example.com"
    msg = tag_sign(MSG, std_tags(d=long_d), )
    assert letter(tmp_path, msg, from_domain=None)[0] == "O"


def test_O_exactly_253_is_fine(tmp_path):
    # s._domainkey.<d> of exactly 253 octets
    d = b".".join([b"a" * 63, b"b" * 63, b"c" * 63]) + b"." + b"d" * (253 - 3 * 64 - 13)
    name = b"s._domainkey." + d
    assert len(name) == 253
    msg = tag_sign(MSG, std_tags(d=d, s=b"s"))
    assert letter(tmp_path, msg, from_domain=None)[0] == "A"


# ------------------------------------------------------------------ P Q

@pytest.mark.parametrize("ans,want", [
    (answer("temp"), "P"), (answer("nxdomain"), "Q"), (answer("nodata"), "Q"),
    (answer("ok"), "Q"),
])
def test_PQ(tmp_path, ans, want):
    msg = tag_sign(MSG, std_tags())
    lk = Lookup({"sel._domainkey.example.com": ans})
    assert letter(tmp_path, msg, lookup=lk)[0] == want
    assert lk.calls == ["sel._domainkey.example.com"]


def test_dns_record_among_others(tmp_path):
    msg = tag_sign(MSG, std_tags())
    lk = Lookup({"sel._domainkey.example.com": answer("ok", b"v=spf1 -all", rec().encode())})
    assert letter(tmp_path, msg, lookup=lk)[0] == "A"


def test_lookup_cached(tmp_path):
    one = tag_sign(MSG, std_tags())
    two = tag_sign(one, std_tags(c=b"simple/simple"))
    lk = Lookup({"sel._domainkey.example.com": rec()})
    results, _ = classify(tmp_path, two, lookup=lk)
    assert [r.letter for r in results] == ["A", "A"]
    assert lk.calls == ["sel._domainkey.example.com"]


def test_lookup_name_lowercase_alabel(tmp_path):
    msg = tag_sign(MSG, std_tags(d="bücher.example".encode(), s=b"Sel"))
    lk = Lookup()
    letter(tmp_path, msg, lookup=lk, from_domain=None)
    assert lk.calls == ["sel._domainkey.xn--bcher-kva.example"]


# ------------------------------------------------------------------ L N R V M

@pytest.mark.parametrize("data,want", [
    ("v=DKIM2; p=abc", "L"), ("k=dsa; p=abc", "L"), ("s=tlsrpt; p=abc", "L"), ("garbage", "L"),
    ("", "L"), ("v=DKIM1; p=", "N"), ("v=DKIM1; p=QUJD", "R"),
])
def test_LNR(tmp_path, data, want):
    msg = tag_sign(MSG, std_tags())
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": data})[0] == want


def test_R_short_key(tmp_path):
    msg = dkimpy_sign(MSG, priv=rsa_priv(1024))
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": rsa_record(rsa_priv(1024))})[0] == "A"
    short = rsa_priv(768) if False else None  # noqa: F841 (cryptography refuses < 1024)


def test_V(tmp_path):
    msg = tag_sign(MSG, std_tags())
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": rec("h=sha1; ")})[0] == "V"
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": ed_record(ed_priv())})[0] == "V"
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": rec("h=sha1:sha256; ")})[0] == "A"


def test_M(tmp_path):
    msg = tag_sign(MSG, std_tags(i=b"bob@example.com"))
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": rec("g=joe; ")})[0] == "M"
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": rec("g=b*; ")})[0] == "A"
    no_i = tag_sign(MSG, std_tags())
    assert letter(tmp_path, no_i, env={"SELECTOR_DATA": rec("g=joe; ")})[0] == "M"


def test_order_L_before_V(tmp_path):
    msg = tag_sign(MSG, std_tags())
    assert letter(tmp_path, msg, env={"SELECTOR_DATA": "v=DKIM1; k=foo; h=sha1; p=abc"})[0] == "L"


# ------------------------------------------------------------------ E F

def test_E_body_length(tmp_path):
    signed = dkimpy_sign(MSG, length=True) + b"appended by a list\n"
    assert letter(tmp_path, signed)[0] == "E"
    assert letter(tmp_path, signed, env={"HONOR_BODYLENGTHTAG": "", "SELECTOR_DATA": rec()})[0] == "A"


def test_l_exact_is_A(tmp_path):
    assert letter(tmp_path, dkimpy_sign(MSG, length=True))[0] == "A"


def test_l_longer_than_body_is_U(tmp_path):
    msg = tag_sign(MSG, std_tags(l=10 ** 6))
    assert letter(tmp_path, msg)[0] == "U"


def test_F_third_party(tmp_path):
    signed = dkimpy_sign(MSG, domain=b"lists.example.org")
    assert letter(tmp_path, signed, practice_disabled=True)[0] == "F"
    assert letter(tmp_path, signed, practice_disabled=False)[0] == "A"
    # From domain a subdomain of d=: first party
    assert letter(tmp_path, signed, from_domain="x.lists.example.org", practice_disabled=True)[0] == "A"
    assert letter(tmp_path, signed, from_domain=None, practice_disabled=True)[0] == "F"


# ------------------------------------------------------------------ message level

def test_message_letter_rules():
    class R:
        def __init__(self, letter):
            self.letter = letter
    assert message_letter([]) == "S"
    assert message_letter([R("U"), R("A")]) == "A"
    assert message_letter([R("U"), R("P")]) == "U"
    assert message_letter([R("P"), R("E")]) == "E"
    assert message_letter([R("F"), R("E")]) == "E"
    assert message_letter([R("Q"), R("F")]) == "F"


def test_two_signatures_first_bad_second_good(tmp_path):
    good = dkimpy_sign(MSG)
    both = tag_sign(good, std_tags(), corrupt_b=True)
    results, _ = classify(tmp_path, both)
    assert [r.letter for r in results] == ["I", "A"]
    assert message_letter(results) == "A"


def test_rsa_and_ed25519(tmp_path):
    msg = dkimpy_sign(dkimpy_sign(MSG), ed=True, selector=b"ed")
    lk = Lookup({"sel._domainkey.example.com": rec(),
                 "ed._domainkey.example.com": ed_record(ed_priv())})
    results, _ = classify(tmp_path, msg, lookup=lk)
    assert [r.letter for r in results] == ["A", "A"]
    assert results[0].a == b"ed25519-sha256"


def test_cap_on_signatures(tmp_path):
    msg = MSG
    for i in range(verifier.MAX_SIGNATURES + 2):
        msg = tag_sign(msg, std_tags(s=b"s%d" % i, h=b"from"))
    lk = Lookup(default=answer("ok", rec().encode()))
    results, ignored = classify(tmp_path, msg, lookup=lk)
    assert len(results) == verifier.MAX_SIGNATURES and ignored == 2
    assert len(lk.calls) == verifier.MAX_SIGNATURES
    assert all(r.letter == "A" for r in results)


def test_dns_budget(tmp_path, monkeypatch):
    from qmail_dkim.dns import txt as dnstxt
    msg = MSG
    for i in range(4):
        msg = tag_sign(msg, std_tags(s=b"s%d" % i, h=b"from"))
    sp = spool(tmp_path, msg)
    dns = config.dns_settings({"DNSCACHEIP": "127.0.0.1:9"})
    calls = []

    def slow(name, dns_=None, timeout=None, deadline=None, **kw):
        assert dns_ is dns
        calls.append(deadline)
        return answer("temp")
    monkeypatch.setattr(dnstxt, "lookup_txt", slow)
    keys = KeySource(dns_lookup(dns, 12345.0))
    results, _ = verify_all(sp.fields, sp, Options("example.com", False), keys)
    sp.close()
    assert [r.letter for r in results] == ["P"] * 4
    assert calls == [12345.0] * 4          # every lookup gets the shared deadline
