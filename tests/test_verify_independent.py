"""Verifying signatures made by independent implementations, with key records
served by a real DNS server (NSD on 127.0.0.1), and DNS failures made by real
conditions (SERVFAIL zone, REFUSED, closed port, silent server).

Signers: Perl Mail::DKIM, opendkim-testmsg (rsa-sha1 only -> H by RFC 8301),
libopendkim (rsa-sha256 / ed25519-sha256, every canonicalization), Node
mailauth (RSA and Ed25519). Where useful the verdict is cross-checked with
Mail::DKIM's verifier on the same message and DNS.
"""
import base64
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from qmail_dkim.verify import run as verify
from qmail_dkim import config
from tests.realparts import keys as K
from tests.realparts import verifiers as V
from tests.realparts.nsd import Blackhole, NsdServer, dead_udp_port, txt_rr
from tests.realparts.tools import require_tool

from tests.qdkim import SAMPLE, spool_bytes

# tests/qdkim.py's sample, with trailing white space and empty lines at the end
MSG = SAMPLE.replace(b"here.\n", b"here.  \n\n\n")


def short_rsa_record(bits=768):
    n = (1 << (bits - 1)) | 0x10001
    pub = rsa.RSAPublicNumbers(65537, n).public_key()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


@pytest.fixture(scope="module")
def keys():
    return {"rsa": K.cached_rsa_key(2048), "ed": K.cached_ed25519_key(),
            "big": K.cached_rsa_key(4096), "other": K.cached_rsa_key(2048, 7)}


@pytest.fixture(scope="module")
def dns(tmp_path_factory, keys):
    require_tool("nsd")
    rsa_k, ed_k = keys["rsa"], keys["ed"]
    zone = "\n".join([
        txt_rr("sel._domainkey", rsa_k.dns_record()),
        txt_rr("ed._domainkey", ed_k.dns_record()),
        txt_rr("big._domainkey", keys["big"].dns_record()),
        txt_rr("test._domainkey", rsa_k.dns_record(t="y")),
        txt_rr("strict._domainkey", rsa_k.dns_record(t="s")),
        txt_rr("sha1only._domainkey", rsa_k.dns_record(h="sha1")),
        txt_rr("revoked._domainkey", rsa_k.dns_record(p="")),
        txt_rr("short._domainkey", short_rsa_record()),
        txt_rr("bad._domainkey", "v=DKIM1; k=rsa; p=bm90IGEga2V5"),
        txt_rr("garbage._domainkey", "this is not a key record"),
        txt_rr("multi._domainkey", "v=spf1 -all"),
        txt_rr("multi._domainkey", rsa_k.dns_record()),
        "noaddr._domainkey IN A 127.0.0.1",          # the name exists, no TXT
        txt_rr("_adsp._domainkey", "dkim=discardable"),
    ])
    ns = NsdServer({"example.com": zone, "example.org": txt_rr("sel._domainkey", keys["other"].dns_record())},
                   servfail_zones=["broken.example"], workdir=tmp_path_factory.mktemp("nsd-verify"))
    ns.start()
    yield ns
    ns.stop()


def verify_msg(tmp_path, msg, env):
    e = {"DKIMAUTHSERVID": "mx.test", "DKIMDNSTIMEOUT": "3"}
    e.update(env)
    sp = spool_bytes(msg, tmp_path)
    try:
        o = verify.run(config.VerifySettings(e), sp)
    finally:
        sp.close()
    return dict(o.log), o


def letters(tmp_path, msg, dns, **env):
    log, _ = verify_msg(tmp_path, msg, {"DNSCACHEIP": dns.dnscacheip, **env})
    return log


def first(log):
    return log["status"]


# ------------------------------------------------------------------ Mail::DKIM

@pytest.mark.parametrize("method", ["relaxed", "simple", "relaxed/simple", "simple/relaxed"])
def test_mail_dkim_signed(tmp_path, dns, keys, method):
    require_tool("perl-mail-dkim")
    msg = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "sel", method=method)
    assert first(letters(tmp_path, msg, dns)) == "A"
    assert V.mail_dkim_verify(msg, dns.port)[0][0] == "pass"
    tampered = msg + b"appended\n"
    assert first(letters(tmp_path, tampered, dns)) == "U"
    assert V.mail_dkim_verify(tampered, dns.port)[0][0] == "fail"


def test_mail_dkim_header_tampered(tmp_path, dns, keys):
    require_tool("perl-mail-dkim")
    msg = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "sel", headers="from:to:subject")
    bad = msg.replace(b"Subject: test message", b"Subject: test massage")
    assert first(letters(tmp_path, bad, dns)) == "I"
    assert V.mail_dkim_verify(bad, dns.port)[0][0] == "fail"


@pytest.mark.parametrize("kw,want", [
    ({"identity": "joe@sub.example.com"}, "A"),
    ({"identity": "joe@example.org"}, "Y"),
    ({"expiration": int(time.time()) + 3600, "timestamp": int(time.time())}, "A"),
    ({"expiration": int(time.time()) - 60, "timestamp": int(time.time()) - 3600}, "K"),
    ({"tags": {"v": "2"}}, "W"),
    ({"headers": "to:subject"}, "X"),
    ({"query": "dns/txt"}, "A"),
    ({"algorithm": "rsa-sha1"}, "H"),
])
def test_mail_dkim_tags(tmp_path, dns, keys, kw, want):
    require_tool("perl-mail-dkim")
    msg = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "sel", **kw)
    assert first(letters(tmp_path, msg, dns)) == want


def test_mail_dkim_body_length(tmp_path, dns, keys):
    require_tool("perl-mail-dkim")
    body_len = len(V.to_crlf(MSG.split(b"\n\n", 1)[1]).rstrip(b"\r\n")) + 2
    msg = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "sel", method="simple",
                           body_length=body_len)
    assert first(letters(tmp_path, msg, dns)) == "A"
    longer = msg + b"-- \nlist footer\n"
    assert first(letters(tmp_path, longer, dns)) == "E"
    assert first(letters(tmp_path, longer, dns, HONOR_BODYLENGTHTAG="")) == "A"


@pytest.mark.parametrize("selector,want", [
    ("test", "J"), ("revoked", "N"), ("short", "R"), ("bad", "R"), ("garbage", "L"),
    ("sha1only", "V"), ("nosuch", "Q"), ("noaddr", "Q"),
])
def test_key_records_from_dns(tmp_path, dns, keys, selector, want):
    require_tool("perl-mail-dkim")
    msg = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", selector)
    if want == "J":
        msg += b"tampered\n"
    assert first(letters(tmp_path, msg, dns)) == want


def test_multi_record_name(tmp_path, dns, keys):
    require_tool("perl-mail-dkim")
    msg = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "multi")
    assert first(letters(tmp_path, msg, dns)) == "A"


def test_strict_identity_key(tmp_path, dns, keys):
    require_tool("perl-mail-dkim")
    sub = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "strict", identity="joe@sub.example.com")
    assert first(letters(tmp_path, sub, dns)) == "Y"
    same = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "strict", identity="joe@example.com")
    assert first(letters(tmp_path, same, dns)) == "A"


def test_third_party_and_two_signatures(tmp_path, dns, keys):
    require_tool("perl-mail-dkim")
    one = V.mail_dkim_sign(MSG, keys["other"], "example.org", "sel")
    assert first(letters(tmp_path, one, dns)) == "A"
    # practice disabled: the signature is F (dkim=pass), the message D (as C)
    log = letters(tmp_path, one, dns, SIGN_PRACTICE="")
    assert log["status"] == "D" and log["dkim"] == ["pass"]
    two = V.mail_dkim_sign(one, keys["rsa"], "example.com", "sel")
    log = letters(tmp_path, two, dns, SIGN_PRACTICE="")
    assert log["status"] == "A" and log["dkim"] == ["pass", "pass"]
    assert log["d"] == ["example.com", "example.org"]


def test_big_key_over_tcp(tmp_path, dns, keys):
    require_tool("perl-mail-dkim")
    msg = V.mail_dkim_sign(MSG, keys["big"], "example.com", "big")
    assert first(letters(tmp_path, msg, dns)) == "A"


# ------------------------------------------------------------------ opendkim

def test_opendkim_testmsg_rsa_sha1_is_H(tmp_path, dns, keys):
    require_tool("opendkim-testmsg")
    msg = V.opendkim_sign(MSG, keys["rsa"], "example.com", "sel")
    assert b"a=rsa-sha1" in msg
    log = letters(tmp_path, msg, dns)
    assert log["status"] == "H" and "8301" in log["reason"][0]


@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"])
def test_libopendkim_rsa(tmp_path, dns, keys, canon):
    require_tool("libopendkim")
    msg = V.libopendkim_sign(MSG, keys["rsa"], "example.com", "sel", canon=canon)
    assert first(letters(tmp_path, msg, dns)) == "A"


@pytest.mark.parametrize("canon", ["relaxed/relaxed", "relaxed/simple"])
def test_libopendkim_ed25519(tmp_path, dns, keys, canon):
    require_tool("libopendkim")
    msg = V.libopendkim_sign(MSG, keys["ed"], "example.com", "ed", canon=canon)
    assert b"ed25519-sha256" in msg
    assert first(letters(tmp_path, msg, dns)) == "A"
    assert first(letters(tmp_path, msg + b"x\n", dns)) == "U"


# ------------------------------------------------------------------ mailauth

@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple", "relaxed/simple"])
def test_mailauth_ed25519(tmp_path, dns, keys, canon):
    require_tool("mailauth")
    msg = V.mailauth_sign(MSG, keys["ed"], "example.com", "ed", canon=canon)
    assert b"ed25519-sha256" in msg
    assert first(letters(tmp_path, msg, dns)) == "A"
    bad = msg.replace(b"To: Bob", b"To: Eve")
    assert first(letters(tmp_path, bad, dns)) == "I"


def test_mailauth_rsa(tmp_path, dns, keys):
    require_tool("mailauth")
    msg = V.mailauth_sign(MSG, keys["rsa"], "example.com", "sel")
    assert first(letters(tmp_path, msg, dns)) == "A"


def test_rsa_and_ed25519_together(tmp_path, dns, keys):
    require_tool("mailauth", "perl-mail-dkim")
    msg = V.mailauth_sign(V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "sel"),
                          keys["ed"], "example.com", "ed")
    log = letters(tmp_path, msg, dns)
    assert log["dkim"] == ["pass", "pass"] and log["s"] == ["ed", "sel"]


# ------------------------------------------------------------------ DNS failures

def _signed(keys, domain="example.com", selector="sel"):
    return V.dkimpy_sign(MSG, keys["rsa"], domain, selector)


def test_servfail_is_P(tmp_path, dns, keys):
    log = letters(tmp_path, _signed(keys, "broken.example"), dns)
    assert log["status"] == "P" and "SERVFAIL" in log["reason"][0]


def test_refused_is_P(tmp_path, dns, keys):
    # NSD is authoritative only: a name outside its zones is REFUSED
    log = letters(tmp_path, _signed(keys, "elsewhere.example"), dns)
    assert log["status"] == "P" and "REFUSED" in log["reason"][0]


def test_nxdomain_is_Q(tmp_path, dns, keys):
    log = letters(tmp_path, _signed(keys, "example.com", "missing"), dns)
    assert log["status"] == "Q" and "NXDOMAIN" in log["reason"][0]


def test_dead_port_is_P_at_once(tmp_path, keys):
    t0 = time.monotonic()
    log, _ = verify_msg(tmp_path, _signed(keys), {"DNSCACHEIP": "127.0.0.1:%d" % dead_udp_port()})
    assert log["status"] == "P"
    assert time.monotonic() - t0 < 2


def test_silent_server_bounded(tmp_path, keys):
    with Blackhole() as bh:
        msg = MSG
        for i in range(5):
            msg = V.dkimpy_sign(msg, keys["rsa"], "d%d.example" % i, "sel")
        t0 = time.monotonic()
        log, _ = verify_msg(tmp_path, msg, {"DNSCACHEIP": bh.dnscacheip, "DKIMDNSTIMEOUT": "0.4",
                                            "DKIMVERIFY": "p"})
        took = time.monotonic() - t0
    assert log["status"] == "P" and log["action"] == "reject-temporary"
    assert log["dkim"] == ["temperror"] * 5
    # five lookups of 0.4 s each, but the message budget is 3 x 0.4 s
    assert took < 1.6


def test_second_server_used(tmp_path, dns, keys):
    with Blackhole() as bh:
        env = {"DNSCACHEIP": "%s %s" % (bh.dnscacheip, dns.dnscacheip), "DKIMDNSTIMEOUT": "2"}
        log, _ = verify_msg(tmp_path, _signed(keys), env)
    assert log["status"] == "A"


def test_adsp_from_dns(tmp_path, dns, keys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = letters(tmp_path, MSG, dns, DKIMPRACTICE="")
    assert log["status"] == "G" and log["old"] == "S" and log["practice"] == "adsp:discardable"


# ------------------------------------------------------------------ the whole program

def test_qmail_dkim_program(home, dns, keys):
    require_tool("perl-mail-dkim")
    from tests import qdkim
    if not qdkim.QMAIL_DKIM:
        pytest.skip("qmail-dkim not installed")
    env = {"DKIMVERIFY": "FGHIKLMNOQRTUVWjp", "DNSCACHEIP": dns.dnscacheip,
           "DKIMAUTHSERVID": "mx.test"}
    good = V.mail_dkim_sign(MSG, keys["rsa"], "example.com", "sel")
    forged = b"Authentication-Results: mx.test; dkim=pass\nDKIM-Status: good\n"
    r = qdkim.run(home, env, message=forged + good)
    assert r.rc == 0, r.stderr
    assert r.msg.startswith(b"DKIM-Status: good\nAuthentication-Results: mx.test;\n\tdkim=pass ")
    assert r.msg.endswith(b"\n" + good) and forged not in r.msg
    assert r.field("status") == "A"
    r = qdkim.run(home, env, message=good + b"tampered\n")
    assert r.rc == 31 and r.stored == [] and r.field("status") == "U"
    r = qdkim.run(home, dict(env, DNSCACHEIP="127.0.0.1:%d" % dead_udp_port()), message=good)
    assert r.rc == 71 and r.field("status") == "P"
    r = qdkim.run(home, env, message=MSG)
    assert r.rc == 0 and r.field("status") == "S"
    assert r.msg == b"DKIM-Status: no signatures\nAuthentication-Results: mx.test;\n\tdkim=none\n" + MSG


@pytest.mark.parametrize("method", ["simple", "relaxed"])
def test_odd_headers(tmp_path, dns, keys, method):
    """White space before the colon, 8-bit text, long folded fields, CR in a
    header value: hashed as Mail::DKIM hashes them."""
    require_tool("perl-mail-dkim")
    odd = (b"From : Joe <joe@example.com>\n"
           b"To: Bob <bob@example.net>\n"
           b"Subject:\t=?utf-8?q?x?= caf\xc3\xa9  \n"
           b"X-Long: " + b" ".join([b"word"] * 40) + b"\n\t continued\n"
           b"Date: Sun, 22 Nov 2026 07:00:00 +0000\n"
           b"\n"
           b"body\n")
    msg = V.mail_dkim_sign(odd, keys["rsa"], "example.com", "sel", method=method,
                           headers="from:to:subject:x-long:date")
    assert V.mail_dkim_verify(msg, dns.port)[0][0] == "pass"
    assert first(letters(tmp_path, msg, dns)) == "A"
