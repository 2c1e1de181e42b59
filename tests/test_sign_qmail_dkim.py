"""qmail-dkim in sign mode, run as qmail-smtpd runs it (fd 0 message, fd 1
envelope, the qmail-queue double as the child). Signatures here are checked
with dkimpy for speed; tests/test_sign_independent.py checks them with Perl
Mail::DKIM and mailauth."""
import os
import stat
import tempfile
import time
from pathlib import Path

import pytest

from qmail_dkim.dkim.lib import dkim
from qmail_dkim.dkim.lib import nacl as _nacl
from tests import qdkim
from tests.qdkim import SAMPLE
from tests.realparts.keys import cached_ed25519_key, cached_rsa_key
from tests.realparts.queue_double import make_envelope

RELAY = {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"}


def split(msg):
    """(list of our prepended DKIM-Signature headers, rest of the message)."""
    sigs = []
    while msg.startswith(b"DKIM-Signature:"):
        end = 0
        lines = msg.split(b"\n")
        n = 1
        while lines[n].startswith(b"\t"):
            n += 1
        head = b"\n".join(lines[:n]) + b"\n"
        sigs.append(head)
        msg = msg[len(head):]
    return sigs, msg


def tags(sig):
    return dkim.util.parse_tag_value(sig.split(b":", 1)[1].replace(b"\n", b"\r\n"))


def dkimpy_verify(msg, keys):
    """keys: {(selector, domain): keyfile-path}; verify every signature."""
    from qmail_dkim.dkim.privkey import load_private_key
    recs = {}
    for (sel, dom), path in keys.items():
        k = load_private_key(str(path))
        recs[("%s._domainkey.%s." % (sel, dom)).encode()] = (
            "v=DKIM1; k=%s; p=%s" % (k.kind, k.public_b64())).encode()
    _nacl()
    d = dkim.DKIM(msg.replace(b"\n", b"\r\n"))
    n = len([1 for h, _ in d.headers if h.lower() == b"dkim-signature"])
    return [d.verify(idx=i, dnsfunc=lambda name, timeout=5: recs.get(name)) for i in range(n)]


def test_signs_with_seeds_001_rule_and_keeps_bytes(home):
    env_bytes = make_envelope("joe@example.com", ["bob@example.net", "c@d.e"])
    r = qdkim.run(home, RELAY, envelope=env_bytes)
    assert r.rc == 0, r.stderr
    sigs, rest = split(r.msg)
    assert len(sigs) == 1 and rest == SAMPLE
    assert r.stored[0].env == env_bytes
    t = tags(sigs[0])
    assert (t[b"d"], t[b"s"], t[b"a"], t[b"c"]) == (b"example.com", b"default", b"rsa-sha256", b"relaxed/relaxed")
    assert t[b"h"] == b"from:to:subject:date:message-id"
    assert b"t" not in t and b"q" not in t and b"i" not in t and b"l" not in t and b"z" not in t
    assert abs(int(t[b"x"]) - (time.time() + 604800)) < 60
    assert all(len(line) <= 78 for line in sigs[0].split(b"\n"))
    assert all(line.startswith(b"\t") for line in sigs[0].split(b"\n")[1:-1])
    assert dkimpy_verify(r.msg, {("default", "example.com"): home / "control/domainkeys/example.com/default"}) == [True]
    f = qdkim_fields(r)
    assert f["result"] == "signed" and f["d"] == "example.com" and f["s"] == "default"
    assert f["key"] == "control/domainkeys/example.com/default" and f["exit"] == "0"


def qdkim_fields(r):
    from tests.logparse import fields
    return fields(r.log)


def test_relayclient_alone_uses_default_template(home):
    r = qdkim.run(home, {"RELAYCLIENT": ""})
    assert r.rc == 0 and split(r.msg)[0]


def test_parent_domain_walk_sets_d_to_parent(home):
    msg = SAMPLE.replace(b"joe@example.com", b"joe@mail.dept.example.com")
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0, r.stderr
    t = tags(split(r.msg)[0][0])
    assert t[b"d"] == b"example.com"
    assert dkimpy_verify(r.msg, {("default", "example.com"): home / "control/domainkeys/example.com/default"}) == [True]


def test_percent_removed_fallback_keeps_from_domain(home):
    cached_rsa_key(1024, 1).write(home / "control/domainkeys/default", fmt="pkcs8")
    msg = SAMPLE.replace(b"joe@example.com", b"joe@other.org")
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0, r.stderr
    t = tags(split(r.msg)[0][0])
    assert (t[b"d"], t[b"s"]) == (b"other.org", b"default")
    assert qdkim_fields(r)["key"] == "control/domainkeys//default"
    assert dkimpy_verify(r.msg, {("default", "other.org"): home / "control/domainkeys/default"}) == [True]


def test_no_key_for_domain_goes_through_unsigned_and_says_why(home):
    msg = SAMPLE.replace(b"joe@example.com", b"joe@sub.other.org")
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0 and r.msg == msg
    f = qdkim_fields(r)
    assert f["result"] == "unsigned" and f["reason"] == "no key for sub.other.org"
    assert f["tried"] == ("control/domainkeys/sub.other.org/default,control/domainkeys/other.org/default,"
                          "control/domainkeys//default")


def test_no_from_header_unsigned_even_with_dkimdomain(home):
    msg = b"To: bob@example.net\nSubject: no from\n\nbody\n"
    r = qdkim.run(home, dict(RELAY, DKIMDOMAIN="example.com"), message=msg)
    assert r.rc == 0 and r.msg == msg
    assert qdkim_fields(r)["reason"] == "no From: header"


@pytest.mark.parametrize("frm", [b"x@../../etc", b"x@a/b.com", b"x@a..b.com", b"x@" + b"a" * 300 + b".com",
                                 b"x@[127.0.0.1]", b"x@exa_mple.com"])
def test_bad_domain_never_reaches_the_filesystem(home, frm):
    msg = SAMPLE.replace(b"joe@example.com", frm)
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0 and r.msg == msg
    f = qdkim_fields(r)
    assert f["result"] == "unsigned" and "tried" not in f and ("label" in f["reason"] or "253" in f["reason"])


def test_dkimdomain_overrides(home):
    msg = SAMPLE.replace(b"joe@example.com", b"joe@customer.net")
    r = qdkim.run(home, dict(RELAY, DKIMDOMAIN="postmaster@Example.com"), message=msg)
    assert r.rc == 0, r.stderr
    assert tags(split(r.msg)[0][0])[b"d"] == b"example.com"


def test_missing_key_without_percent_is_35(home):
    r = qdkim.run(home, {"DKIMKEY": "control/domainkeys/nonexistent"})
    assert r.rc == 35 and r.stored == []
    f = qdkim_fields(r)
    assert f["result"] == "error" and f["exit"] == "35" and "nonexistent" in f["reason"]


def test_corrupt_key_is_55_and_names_the_file(home):
    p = home / "control/domainkeys/example.com/default"
    p.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
    r = qdkim.run(home, RELAY)
    assert r.rc == 55 and r.stored == []
    assert str(p.relative_to(home)) in r.log and "uid=" in r.log and "AAAA" not in r.stderr


def test_unreadable_key_is_55_with_uid_gid():
    # Root reads everything, so run qmail-dkim as nobody, in a home nobody can enter.
    if os.getuid() != 0:
        pytest.skip("needs root to switch to nobody")
    home = Path(tempfile.mkdtemp(prefix="qdkim-perm-"))
    try:
        home.chmod(0o755)
        kd = home / "control/domainkeys/example.com"
        kd.mkdir(parents=True)
        for d in (home / "control", home / "control/domainkeys", kd):
            d.chmod(0o755)
        key = cached_rsa_key(2048).write(kd / "default", fmt="pkcs1", mode=0o600)
        (home / "tmp").mkdir(mode=0o1777)
        (home / "tmp").chmod(0o1777)
        import subprocess
        env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "TMPDIR": str(home / "tmp"),
               "RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default", "DKIMQUEUE": "/bin/true"}
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", qdkim.QMAIL_DKIM],
                           input=SAMPLE, env=env, stdout=qdkim.envelope_file(), stderr=subprocess.PIPE,
                           timeout=30)
        err = p.stderr.decode()
        assert p.returncode == 55, err
        assert "Permission denied" in err and "uid=65534 gid=65534" in err
        assert "control/domainkeys/example.com/default" in err
    finally:
        import shutil
        shutil.rmtree(home)


def test_world_readable_key_is_warned_about(home):
    (home / "control/domainkeys/example.com/default").chmod(0o644)
    r = qdkim.run(home, RELAY)
    assert r.rc == 0 and "world-readable" in qdkim_fields(r)["warning"]


@pytest.mark.parametrize("opts", ["-c x", "-z 9", "-y", "-x soon", "stray"])
def test_bad_options_are_55(home, opts):
    r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS=opts))
    assert r.rc == 55 and r.stored == [] and "DKIMSIGNOPTIONS" in qdkim_fields(r)["reason"]


def test_z_not_fitting_key_is_55(home):
    r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS="-z 4"))
    assert r.rc == 55 and "ed25519" in qdkim_fields(r)["reason"]


def test_identity_outside_domain_is_55(home):
    r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS="-i joe@evil.org"))
    assert r.rc == 55 and r.stored == []


@pytest.mark.parametrize("opts,check", [
    ("-c s", lambda t: t[b"c"] == b"simple/simple"),
    ("-c t", lambda t: t[b"c"] == b"relaxed/simple"),
    ("-c u", lambda t: t[b"c"] == b"simple/relaxed"),
    ("-l", lambda t: int(t[b"l"]) > 0),
    ("-q", lambda t: t[b"q"] == b"dns/txt"),
    ("-t", lambda t: abs(int(t[b"t"]) - time.time()) < 60),
    ("-h", lambda t: t[b"z"].replace(b"\r\n\t", b"").startswith(b"from:Joe=20Sender=20<joe@example.com>|to:")),
    ("-i joe@example.com", lambda t: t[b"i"] == b"joe@example.com"),
    ("-x 3600", lambda t: abs(int(t[b"x"]) - time.time() - 3600) < 60),
    ("-x -", lambda t: b"x" not in t),
    ("-z 2 -b 768", lambda t: t[b"a"] == b"rsa-sha256"),
    ("-z 1", lambda t: t[b"a"] == b"rsa-sha256"),
    ("-c s -l -q -t -h -x 60", lambda t: all(k in t for k in (b"l", b"q", b"t", b"z", b"x"))),
])
def test_each_option(home, opts, check):
    msg = SAMPLE.replace(b"Subject: test message", b"Subject:  spaced\t value ")
    r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS=opts), message=msg)
    assert r.rc == 0, r.stderr
    sigs, rest = split(r.msg)
    assert rest == msg
    assert check(tags(sigs[0])), sigs[0]
    assert dkimpy_verify(r.msg, {("default", "example.com"): home / "control/domainkeys/example.com/default"}) == [True]
    if opts == "-z 1":
        assert "RFC 8301" in qdkim_fields(r)["warning"]


def test_dkimidentity_and_dkimexpire_override(home):
    r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS="-i a@example.com -x 10",
                             DKIMIDENTITY="@mail.example.com", DKIMEXPIRE=""))
    t = tags(split(r.msg)[0][0])
    assert t[b"i"] == b"@mail.example.com" and b"x" not in t


def test_exclude_dkimsign(home):
    r = qdkim.run(home, dict(RELAY, EXCLUDE_DKIMSIGN="Subject:date"))
    assert tags(split(r.msg)[0][0])[b"h"] == b"from:to:message-id"


def test_ed25519_and_extra_signature(home):
    kd = home / "control/domainkeys/example.com"
    cached_ed25519_key().write(kd / "ed", fmt="pkcs8")
    r = qdkim.run(home, dict(RELAY, DKIMSIGNEXTRA="control/domainkeys/%/ed", DKIMSIGNOPTIONSEXTRA="-z 4 -c s"))
    assert r.rc == 0, r.stderr
    sigs, rest = split(r.msg)
    assert rest == SAMPLE and len(sigs) == 2
    assert [tags(s)[b"a"] for s in sigs] == [b"rsa-sha256", b"ed25519-sha256"]
    assert tags(sigs[1])[b"c"] == b"simple/simple"
    assert dkimpy_verify(r.msg, {("default", "example.com"): kd / "default", ("ed", "example.com"): kd / "ed"}) == [True, True]
    assert qdkim_fields(r)["a"] == "rsa-sha256,ed25519-sha256"


def test_extra_signature_missing_percent_key_only_drops_extra(home):
    r = qdkim.run(home, dict(RELAY, DKIMSIGNEXTRA="control/domainkeys/%/ed"))
    assert r.rc == 0 and len(split(r.msg)[0]) == 1
    assert "no extra key" in qdkim_fields(r)["warning"]


def test_ed25519_seed_key_file(home):
    kd = home / "control/domainkeys/example.com"
    cached_ed25519_key().write(kd / "default", fmt="seed")
    r = qdkim.run(home, RELAY)
    assert r.rc == 0, r.stderr
    assert tags(split(r.msg)[0][0])[b"a"] == b"ed25519-sha256"
    assert dkimpy_verify(r.msg, {("default", "example.com"): kd / "default"}) == [True]


def test_control_dkimkeys_chooses_key_and_sets_variables(home):
    kd = home / "control/domainkeys"
    cached_ed25519_key().write(kd / "edkey", fmt="pkcs8")
    (home / "control/dkimkeys").write_text("# rules\nother.org:control/nothere\n"
                                           "example.com:control/domainkeys/edkey:DKIMSIGNOPTIONS=-z 4 -t,DKIMEXPIRE=\n")
    r = qdkim.run(home, RELAY)
    assert r.rc == 0, r.stderr
    t = tags(split(r.msg)[0][0])
    assert (t[b"s"], t[b"a"], t[b"d"]) == (b"edkey", b"ed25519-sha256", b"example.com")
    assert b"t" in t and b"x" not in t
    r = qdkim.run(home, dict(RELAY, NODKIMKEYS=""))
    assert tags(split(r.msg)[0][0])[b"s"] == b"default"


def test_control_dkimkeys_syntax_error_is_55(home):
    (home / "control/dkimkeys").write_text("example.com\n")
    r = qdkim.run(home, RELAY)
    assert r.rc == 55 and "dkimkeys line 1" in r.log


def test_dkimsignrcpts(home):
    env_bytes = make_envelope("joe@example.com", ["x@elsewhere.net", "Check-Auth@Verifier.port25.com"])
    r = qdkim.run(home, dict(RELAY, DKIMSIGNRCPTS="@aol.jp,check-auth@verifier.port25.com"), envelope=env_bytes)
    assert r.rc == 0 and split(r.msg)[0]
    assert r.stored[0].env == env_bytes
    assert qdkim_fields(r)["rcpt"] == "check-auth@verifier.port25.com"
    r = qdkim.run(home, dict(RELAY, DKIMSIGNRCPTS="@aol.jp"), envelope=env_bytes)
    assert r.rc == 0 and r.msg == SAMPLE and r.stored[0].env == env_bytes
    assert qdkim_fields(r)["reason"] == "no envelope recipient in DKIMSIGNRCPTS"
    r = qdkim.run(home, dict(RELAY, DKIMSIGNRCPTS="@ELSEWHERE.net"), envelope=env_bytes)
    assert split(r.msg)[0]


def test_lf_message_with_cr_and_8bit_is_passed_byte_for_byte(home):
    msg = SAMPLE + b"cr before lf\r\n8bit \xe9\xff\n\n\n"
    r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS="-c s"), message=msg)
    assert r.rc == 0 and split(r.msg)[1] == msg
    assert dkimpy_verify(r.msg, {("default", "example.com"): home / "control/domainkeys/example.com/default"}) == [True]


def test_large_message_is_spooled_and_signed(home):
    body = b"".join(b"line %d of a big message\n" % i for i in range(200000))
    msg = SAMPLE + body
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0 and split(r.msg)[1] == msg
    assert dkimpy_verify(r.msg, {("default", "example.com"): home / "control/domainkeys/example.com/default"}) == [True]


def test_leading_continuation_line_is_not_signed(home):
    msg = b"\tcontinues nothing\n" + SAMPLE
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0 and r.msg == msg
    assert qdkim_fields(r)["reason"] == "message begins with a continuation line"


def test_header_over_the_memory_bound_is_passed_unsigned(home):
    from qmail_dkim.spool import HEADER_MAX
    junk = b"X-Junk: " + b"j" * 100 + b"\n"
    msg = SAMPLE.replace(b"\n\n", b"\n" + junk * (HEADER_MAX // len(junk) + 10) + b"\n", 1)
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0 and r.msg == msg
    assert qdkim_fields(r)["reason"] == "header larger than %d octets" % HEADER_MAX
