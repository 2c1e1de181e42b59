"""The real-parts fixtures themselves work (tests/realparts/, tests/conftest.py).

No qmail-dkim involved: these prove that NSD, the qmail-queue double, tcpserver +
mailfront and the independent DKIM implementations behave as the other tests assume.
"""
from __future__ import annotations

import os
import socket
import stat
import time

import pytest

from tests.realparts import keys, verifiers
from tests.realparts.nsd import NsdServer, txt_rr, txt_strings, zone_text
from tests.realparts.queue_double import make_envelope, parse_envelope
from tests.realparts.smtp import lf_to_smtp

MSG = (b"From: Alice <alice@example.com>\n"
       b"To: bob@example.org\n"
       b"Subject: real parts\n"
       b"Date: Sun, 22 Nov 2026 07:00:00 +0000\n"
       b"Message-ID: <rp1@example.com>\n"
       b"\n"
       b"Hello.\n"
       b".a line starting with a dot\n"
       b"trailing space \n"
       b"\n")


def _rcode(msg):
    import dns.rcode
    return dns.rcode.to_text(msg.rcode())


# ---------------------------------------------------------------- keys

def test_keys_formats_and_records(rsa1024_key, ed25519_key):
    r = rsa1024_key
    assert r.bits == 1024
    assert r.pem_pkcs1().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert r.pem_pkcs8().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert keys.load_key(r.pem_pkcs8()).public_b64() == r.public_b64()
    assert r.dns_record().startswith("v=DKIM1; k=rsa; p=MI")
    assert r.dns_record(t="y", p="") == "v=DKIM1; k=rsa; t=y; p="
    e = ed25519_key
    seed = e.seed_b64()
    assert len(seed) == 44 and not seed.endswith(b"\n")
    assert keys.load_key(seed).public_b64() == e.public_b64()
    assert keys.load_key(e.pem_pkcs8()).public_b64() == e.public_b64()
    assert e.dns_record() == f"v=DKIM1; k=ed25519; p={e.public_b64()}"
    with pytest.raises(ValueError):
        e.pem_pkcs1()


def test_key_write_mode(tmp_path, rsa1024_key):
    p = rsa1024_key.write(tmp_path / "d" / "default", "pkcs8", mode=0o640)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert p.read_bytes() == rsa1024_key.pem_pkcs8()


# ---------------------------------------------------------------- NSD

def test_txt_rr_splits_at_255_octets():
    v = "v=DKIM1; p=" + "A" * 600 + '"\\'
    s = txt_strings(v)
    parts = s.split('" "')
    assert len(parts) == 3
    assert txt_rr("sel._domainkey", "x") == 'sel._domainkey IN TXT "x"'


def test_nsd_serves_txt_record(nsd_server, rsa_key):
    import dns.message
    import dns.query
    import dns.rdatatype
    q = dns.message.make_query("sel._domainkey.example.com", "TXT")
    r = dns.query.udp(q, "127.0.0.1", port=nsd_server.port, timeout=3)
    assert _rcode(r) == "NOERROR"
    [rrset] = r.answer
    assert rrset.rdtype == dns.rdatatype.TXT
    assert b"".join(rrset[0].strings).decode() == rsa_key.dns_record()
    # absent name inside the zone: NXDOMAIN (a real permanent failure)
    r = nsd_server.query("nokey._domainkey.example.com")
    assert _rcode(r) == "NXDOMAIN"


def test_nsd_long_record_needs_tcp(nsd_factory):
    big = keys.cached_rsa_key(4096)
    ns = nsd_factory({"example.net": txt_rr("big._domainkey", big.dns_record())})
    import dns.flags
    import dns.message
    import dns.query
    q = dns.message.make_query("big._domainkey.example.net", "TXT")
    r = dns.query.udp(q, "127.0.0.1", port=ns.port, timeout=3)
    assert r.flags & dns.flags.TC            # > 512 octets without EDNS: truncated
    r = ns.query("big._domainkey.example.net")   # helper retries over TCP
    assert b"".join(r.answer[0][0].strings).decode() == big.dns_record()


def test_nsd_servfail_refused_and_change(nsd_factory):
    ns = nsd_factory({"example.com": txt_rr("a", "one")}, servfail_zones=["broken.test"])
    assert _rcode(ns.query("sel._domainkey.broken.test")) == "SERVFAIL"
    assert _rcode(ns.query("sel._domainkey.not-served.test")) == "REFUSED"
    port = ns.port
    ns.set_zone("example.com", zone_text("example.com", [txt_rr("a", "two")]))
    ns.set_zone("not-served.test", txt_rr("sel._domainkey", "v=DKIM1; p="))
    assert ns.port == port
    assert ns.query("a.example.com").answer[0][0].strings == (b"two",)
    assert _rcode(ns.query("sel._domainkey.not-served.test")) == "NOERROR"
    ns.set_zone("example.com", None)           # now broken
    assert _rcode(ns.query("a.example.com")) == "SERVFAIL"


def test_dead_port_and_blackhole_time_out(dead_port, blackhole):
    import dns.exception
    import dns.message
    import dns.query
    q = dns.message.make_query("sel._domainkey.example.com", "TXT")
    for port in (dead_port, blackhole.port):
        t = time.monotonic()
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
        assert time.monotonic() - t < 3


def test_nsd_stop_frees_port(require_tool):
    require_tool("nsd")
    ns = NsdServer({"example.org": txt_rr("x", "y")})
    with ns:
        port = ns.port
        assert ns.query("x.example.org").answer
    assert ns.proc is None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))     # nobody holds it any more
    finally:
        s.close()


# ---------------------------------------------------------------- queue double

def test_envelope_helpers():
    env = make_envelope("a@example.com", ["b@example.org", "c@example.net"])
    assert env == b"Fa@example.com\0Tb@example.org\0Tc@example.net\0\0"
    assert parse_envelope(env) == ("a@example.com", ["b@example.org", "c@example.net"])
    assert parse_envelope(b"F\0Tx@y\0\0") == ("", ["x@y"])


def test_double_stores_exact_bytes(queue_double):
    msg = MSG + b"bare\rCR and CR LF\r\n\0NUL\xff\n"
    env = make_envelope("alice@example.com", ["bob@example.org"])
    r = queue_double.run(msg, env)
    assert r.returncode == 0, r.stderr
    r = queue_double.run(b"second\n", make_envelope("", ["x@example.net"]), exit=0)
    assert r.returncode == 0
    first, second = queue_double.messages()
    assert (first.n, second.n) == (1, 2)
    assert first.msg == msg and first.env == env
    assert first.sender == "alice@example.com" and first.recipients == ["bob@example.org"]
    assert second.msg == b"second\n" and second.sender == ""
    assert first.info["pid"] != second.info["pid"]
    assert first.environ["QQ_DOUBLE_DIR"] == str(queue_double.dir)


@pytest.mark.parametrize("code", [31, 71, 81])
def test_double_exit_code(queue_double, code):
    r = queue_double.run(MSG, make_envelope("a@b.c", ["d@e.f"]), exit=code)
    assert r.returncode == code
    assert queue_double.count() == 0          # not queued
    assert any(f"exit={code}" in line for line in queue_double.calls())


def test_double_read_nothing_and_signal(queue_double):
    # read_nothing: exits at once; a writer of a large message then sees EPIPE
    r = queue_double.run(b"x" * 300000, make_envelope("a@b.c", ["d@e.f"]), read_nothing=True, exit=0)
    assert r.returncode == 0 and queue_double.count() == 0
    r = queue_double.run(MSG, make_envelope("a@b.c", ["d@e.f"]), signal="KILL")
    assert r.returncode == -9 and queue_double.count() == 0
    r = queue_double.run(MSG, make_envelope("a@b.c", ["d@e.f"]), read_limit=10, exit=0)
    assert r.returncode == 0 and queue_double.count() == 0
    assert any("read-limit bytes=10" in c for c in queue_double.calls())
    t = time.monotonic()
    r = queue_double.run(MSG, make_envelope("a@b.c", ["d@e.f"]), sleep=0.3)
    assert r.returncode == 0 and time.monotonic() - t >= 0.3 and queue_double.count() == 1


# ---------------------------------------------------------------- tcpserver + mailfront

def test_lf_to_smtp():
    assert lf_to_smtp(b"a\n.b\nc\r\n") == b"a\r\n..b\r\nc\r\r\n.\r\n"


def test_smtp_front_queues_through_double(smtp_front_factory, queue_double, home):
    rules = (f'127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="{queue_double.path}",'
             f'DKIMKEY="control/domainkeys/%/default"\n:deny\n')
    front = smtp_front_factory(rules, {"QMAILHOME": str(home), **queue_double.env()})
    code, text = front.send("alice@example.com", ["bob@example.org", "carol@example.net"], MSG)
    assert code == 250, (text, front.log())
    m = queue_double.only()
    assert m.msg == MSG                       # LF form, dot-unstuffed, byte for byte
    assert m.sender == "alice@example.com"
    assert m.recipients == ["bob@example.org", "carol@example.net"]
    e = m.environ
    assert e["TCPREMOTEIP"] == "127.0.0.1" and e["PROTO"] == "TCP"
    assert e["RELAYCLIENT"] == "" and e["DKIMKEY"] == "control/domainkeys/%/default"
    assert m.info["cwd"] == str(home)         # mailfront chdirs to $QMAILHOME


def test_smtp_front_relative_qmailqueue(smtp_front_factory, queue_double, home):
    os.symlink(queue_double.path, home / "bin" / "qmail-queue-double")
    rules = '127.0.0.1:allow,QMAILQUEUE="bin/qmail-queue-double"\n'
    front = smtp_front_factory(rules, {"QMAILHOME": str(home), **queue_double.env()})
    code, _ = front.send("a@example.com", ["b@example.org"], MSG)
    assert code == 250
    assert queue_double.only().msg == MSG


@pytest.mark.parametrize("code,smtp", [(31, 554), (71, 451), (35, 554), (55, 451), (81, 451)])
def test_smtp_front_maps_exit_codes(smtp_front_factory, queue_double, code, smtp):
    rules = f'127.0.0.1:allow,QMAILQUEUE="{queue_double.path}",QQ_DOUBLE_EXIT="{code}"\n'
    front = smtp_front_factory(rules, queue_double.env())
    got, text = front.send("a@example.com", ["b@example.org"], MSG)
    assert got == smtp, text
    assert queue_double.count() == 0


# ---------------------------------------------------------------- independent DKIM

def _dns(key, selector="sel", domain="example.com"):
    return {f"{selector}._domainkey.{domain}": key.dns_record()}


def test_mail_dkim_signed_verifies_under_mailauth_and_mail_dkim(require_tool, nsd_server, rsa_key):
    require_tool("perl-mail-dkim", "mailauth")
    signed = verifiers.mail_dkim_sign(MSG, rsa_key, "example.com", "sel")
    assert signed.endswith(MSG) and signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
    assert verifiers.mail_dkim_verify(signed, nsd_server.port) == [("pass", "pass")]
    [(res, info)] = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(signed, _dns(rsa_key)))
    assert res == "pass", info["status"]
    # and a changed body fails under both
    bad = signed.replace(b"Hello.", b"Hello!")
    [(res, detail)] = verifiers.mail_dkim_verify(bad, nsd_server.port)
    assert res == "fail" and "body has been altered" in detail
    [(res, _)] = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(bad, _dns(rsa_key)))
    assert res in ("fail", "neutral")


def test_mail_dkim_sign_variants(require_tool, nsd_server, rsa_key):
    require_tool("perl-mail-dkim")
    now = int(time.time())
    s = verifiers.mail_dkim_sign(MSG, rsa_key, "example.com", "sel", method="simple/relaxed",
                                 identity="alice@example.com", timestamp=now,
                                 expiration=now + 3600, body_length=7, headers="from:subject")
    hdr = s.split(b"\nFrom:")[0]
    for tag in (b"c=simple/relaxed", b"i=alice@example.com", b"l=7", b"h=from:subject",
                f"x={now + 3600}".encode(), f"t={now}".encode()):
        assert tag in hdr
    [(res, _)] = verifiers.mail_dkim_verify(s + b"appended\n", nsd_server.port)
    assert res == "pass"                      # l= leaves the appended line unsigned
    expired = verifiers.mail_dkim_sign(MSG, rsa_key, "example.com", "sel",
                                       timestamp=now - 100, expiration=now - 50)
    [(res, detail)] = verifiers.mail_dkim_verify(expired, nsd_server.port)
    assert res == "invalid" and "expired" in detail
    v2 = verifiers.mail_dkim_sign(MSG, rsa_key, "example.com", "sel", tags={"v": "2"})
    assert v2.startswith(b"DKIM-Signature: v=2;")
    [(res, _)] = verifiers.mail_dkim_verify(v2, nsd_server.port)
    assert res != "pass"


def test_mail_dkim_verify_dns_failures(require_tool, nsd_factory, rsa_key, blackhole):
    # Mail::DKIM 1.20230212 reports DNS trouble as result "invalid" with the DNS
    # error in the detail (it has no "temperror"); the detail proves the real condition.
    require_tool("perl-mail-dkim")
    ns = nsd_factory({"example.com": txt_rr("sel._domainkey", rsa_key.dns_record())},
                     servfail_zones=["broken.test"])
    cases = [("broken.test", "sel", ns.port, "DNS error: SERVFAIL"),
             ("not-served.test", "sel", ns.port, "DNS error: REFUSED"),
             ("example.com", "nokey", ns.port, "public key: not available"),  # NXDOMAIN
             ("example.com", "sel", blackhole.port, "timed out")]
    for domain, selector, port, want in cases:
        signed = verifiers.mail_dkim_sign(MSG, rsa_key, domain, selector)
        [(res, detail)] = verifiers.mail_dkim_verify(signed, port, dns_timeout=0.5)
        assert res == "invalid" and want in detail, (domain, selector, detail)


def test_opendkim_testmsg_signed_verifies_under_mail_dkim(require_tool, nsd_server, rsa_key):
    require_tool("opendkim-testmsg", "perl-mail-dkim")
    signed = verifiers.opendkim_sign(MSG, rsa_key, "example.com", "sel")
    hdr = signed[:len(signed) - len(MSG)]
    assert b"a=rsa-sha1" in hdr and b"c=relaxed/simple" in hdr and b"\r" not in hdr
    assert verifiers.mail_dkim_verify(signed, nsd_server.port) == [("pass", "pass")]
    with pytest.raises(verifiers.ToolError, match="Date"):
        verifiers.opendkim_sign(b"From: a@example.com\n\nno date\n", rsa_key, "example.com", "sel")


@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple", "relaxed/simple"])
def test_libopendkim_rsa_signed_verifies_under_mail_dkim(require_tool, nsd_server, rsa_key, canon):
    require_tool("libopendkim", "perl-mail-dkim")
    signed = verifiers.libopendkim_sign(MSG, rsa_key, "example.com", "sel", canon=canon)
    assert f"c={canon}".encode() in signed.split(b"\nFrom:")[0]
    assert verifiers.mail_dkim_verify(signed, nsd_server.port) == [("pass", "pass")]


def test_ed25519_signatures_verify_under_mailauth(require_tool, ed25519_key):
    require_tool("mailauth")
    records = _dns(ed25519_key, "ed")
    signed = verifiers.mailauth_sign(MSG, ed25519_key, "example.com", "ed")
    assert b"a=ed25519-sha256" in signed.split(b"\nFrom:")[0]
    [(res, info)] = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(signed, records))
    assert res == "pass", info["status"]
    assert verifiers.dkimpy_verify(signed, records)
    # a wrong key record fails
    other = keys.ed25519_key()
    [(res, _)] = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(signed, _dns(other, "ed")))
    assert res == "fail"
    # unknown selector: neutral (no key)
    [(res, info)] = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(signed, {}))
    assert res == "neutral" and info["status"]["comment"] == "no key"


def test_libopendkim_ed25519_verifies_under_mailauth(require_tool, ed25519_key):
    require_tool("libopendkim", "mailauth")
    records = _dns(ed25519_key, "ed")
    signed = verifiers.libopendkim_sign(MSG, ed25519_key, "example.com", "ed")
    [(res, info)] = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(signed, records))
    assert res == "pass", info["status"]


def test_mailauth_rsa_options_verify_under_mail_dkim(require_tool, nsd_server, rsa_key):
    require_tool("mailauth", "perl-mail-dkim")
    signed = verifiers.mailauth_sign(MSG, rsa_key, "example.com", "sel", canon="simple/simple",
                                     body_length=4, header_fields="From:Subject")
    hdr = signed.split(b"\nFrom:")[0]
    assert b"l=4" in hdr and b"c=simple/simple" in hdr
    [(res, _)] = verifiers.mail_dkim_verify(signed, nsd_server.port)
    assert res == "pass"


def test_dkimpy_signed_crlf_verifies_under_mail_dkim(require_tool, nsd_server, rsa_key):
    require_tool("perl-mail-dkim")
    import dkim
    crlf = verifiers.to_crlf(MSG)
    sig = dkim.sign(crlf, b"sel", b"example.com", rsa_key.pem_pkcs1(),
                    canonicalize=(b"relaxed", b"simple"))
    signed_crlf = sig + crlf
    assert verifiers.mail_dkim_verify(signed_crlf, nsd_server.port, crlf=True) == [("pass", "pass")]
    # the LF form, converted by the helper as qmail-remote would, verifies the same
    signed_lf = verifiers.from_crlf(signed_crlf)
    assert verifiers.mail_dkim_verify(signed_lf, nsd_server.port) == [("pass", "pass")]


def test_unsigned_message_reports_no_signatures(require_tool, nsd_server):
    require_tool("perl-mail-dkim", "mailauth")
    assert verifiers.mail_dkim_verify(MSG, nsd_server.port) == []
    rep = verifiers.mail_dkim_verify_full(MSG, nsd_server.port)
    assert rep["result"] == "none"
    [(res, _)] = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(MSG, {}))
    assert res == "none"
