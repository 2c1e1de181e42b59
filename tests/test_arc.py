"""ARC (qmail-dkim(8), ARC): the chain validator, the AAR reader, the arc=
result in verify mode. The ValiMail suite is tests/test_arc_suite.py."""
import functools
import subprocess
import sys
import time

from hypothesis import HealthCheck, given, settings, strategies as st
from tests.profiles import examples

from qmail_dkim.arc import aar, chain
from qmail_dkim.dns.txt import TxtAnswer
from qmail_dkim.verify.keys import KeySource
from tests.arcseal import seal
from tests.verifyhelp import MSG, Lookup, answer, rsa_priv, rsa_record, spool
from tests.test_verify_run import home, logd, run  # noqa: F401 - fixture

K1, K2 = rsa_priv(2048, 1), rsa_priv(2048, 2)
KEYS = {"arc._domainkey.forwarder.example": rsa_record(K1),
        "arc._domainkey.lists.example.org": rsa_record(K2)}


@functools.lru_cache(maxsize=None)
def two_hops(msg=MSG):
    once = seal(msg, K1, b"forwarder.example", results="spf=pass smtp.mailfrom=joe@example.com; "
                "dkim=pass header.d=example.com; dmarc=pass header.from=example.com")
    return seal(once, K2, b"lists.example.org", arc="pass",
                results="spf=fail smtp.mailfrom=forwarder.example; dmarc=fail header.from=example.com")


def validate(tmp_path, msg, lookup=None):
    sp = spool(tmp_path, msg)
    try:
        return chain.validate(sp.fields, sp, KeySource(lookup or Lookup(KEYS)).records)
    finally:
        sp.close()


# ------------------------------------------------------------- chain

def test_two_hops_pass(tmp_path):
    r = validate(tmp_path, two_hops())
    assert (r.result, r.instances, r.oldest_pass) == ("pass", 2, 0)
    assert r.sealers == ["forwarder.example", "lists.example.org"]
    assert r.sealer == "lists.example.org"
    # the most recent AAR is the list's
    assert r.aar.instance == 2 and r.aar.authserv_id == "lists.example.org"
    assert [(x.method, x.result) for x in r.aar.results] == [("arc", "pass"), ("spf", "fail"),
                                                             ("dmarc", "fail")]


def test_no_arc_is_none(tmp_path):
    r = validate(tmp_path, MSG)
    assert (r.result, r.sealers, r.aar) == ("none", [], None)


def test_body_changed_after_sealing_fails(tmp_path):
    r = validate(tmp_path, two_hops() + b"a footer added later\n")
    assert r.result == "fail" and "i=2 body hash mismatch" in r.reason
    assert r.oldest_pass is None


def test_list_changed_the_body_before_sealing_oldest_pass(tmp_path):
    """A list that adds a footer breaks AMS(1) but seals what it sent:
    the chain passes, oldest-pass says from which set on the message is intact."""
    once = seal(MSG, K1, b"forwarder.example")
    changed = once + b"-- \nlist footer\n"
    twice = seal(changed, K2, b"lists.example.org", arc="pass")
    r = validate(tmp_path, twice)
    assert (r.result, r.oldest_pass) == ("pass", 2)


def test_seal_of_older_set_changed_fails(tmp_path):
    msg = two_hops().replace(b"cv=none; ", b"cv=none;   ", 1)   # AS(1), relaxed-safe
    assert validate(tmp_path, msg).result == "pass"
    msg = two_hops().replace(b"i=1; forwarder.example", b"i=1; forwarder.example.net", 1)
    r = validate(tmp_path, msg)
    assert r.result == "fail" and "ARC-Seal i=" in r.reason


def test_key_lookup_temporary_failure_is_fail(tmp_path):
    lookup = Lookup({"arc._domainkey.lists.example.org": answer("temp")}, default=answer("temp"))
    lookup.table["arc._domainkey.lists.example.org"] = TxtAnswer("temp", error="timeout")
    r = validate(tmp_path, two_hops(), lookup)
    assert r.result == "fail" and "timeout" in r.reason


def test_each_key_fetched_once(tmp_path):
    lookup = Lookup(KEYS)
    validate(tmp_path, two_hops(), lookup)
    assert sorted(lookup.calls) == sorted(KEYS)


def test_selector_data_is_every_key_and_no_dns(home, tmp_path):
    """$SELECTOR_DATA (testing) is every key record for ARC too: no DNS."""
    once = seal(MSG, K1, b"forwarder.example")
    lookup = Lookup(KEYS)
    o, _ = run(tmp_path, once, env={"SELECTOR_DATA": rsa_record(K1)}, lookup=lookup)
    assert logd(o)["arc"] == "pass" and lookup.calls == []
    o, _ = run(tmp_path, once, env={"SELECTOR_DATA": rsa_record(K2)}, lookup=lookup)
    assert logd(o)["arc"] == "fail" and lookup.calls == []


def test_instance_over_50_fails(tmp_path):
    msg = b"ARC-Seal: i=51; a=rsa-sha256; cv=pass; d=x.example; s=a; b=AAAA\n" + MSG
    r = validate(tmp_path, msg)
    assert r.result == "fail" and "out of range" in r.reason


def test_reasons_are_text(tmp_path):
    for fields, reason in (
            (b"ARC-Seal: i=1; i=1; a=x\n", "ARC-Seal: tag i given twice"),
            (b"ARC-Seal: i=1; a=x; =y\n", "ARC-Seal tag list unparsable:  =y"),
            (b"ARC-Authentication-Results: lists.example.org; i=1\n",
             "ARC-Authentication-Results does not begin with i=N;"),
            (b"ARC-Seal: i=1; a=rsa-sha256; b=AAAA; cv=none; d=x.example; s=arc\n"
             b"ARC-Message-Signature: i=1; a=rsa-sha256; b=AAAA; bh=AAAA; d=x.example; s=arc; h=from\n",
             "ARC set i=1 has no ARC-Authentication-Results")):
        r = validate(tmp_path, fields + MSG)
        assert (r.result, r.reason) == ("fail", reason)


_ARC_NAMES = st.sampled_from([b"ARC-Seal", b"ARC-Message-Signature", b"ARC-Authentication-Results",
                              b"arc-seal"])
_VALUES = st.one_of(st.binary(max_size=200),
                    st.sampled_from([b" i=1; a=rsa-sha256; cv=none; d=forwarder.example; s=arc; b=AAAA",
                                     b" i=1; lists.example.org; dmarc=pass",
                                     b" i=2; a=rsa-sha256; b=; bh=; d=; h=from; s=x",
                                     b" i=1 (c) ; \"q\\\"\" ; ; =; dmarc=(x)pass",
                                     b" i=99999999999; cv=fail", b" i=0", b"\n\t\n"]))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(_ARC_NAMES, _VALUES), max_size=6), st.booleans())
def test_hostile_arc_fields_never_raise(tmp_path_factory, extra, keep_chain):
    base = two_hops() if keep_chain else MSG
    fields = b"".join(n + b":" + v.replace(b"\n", b"\n ") + b"\n" for n, v in extra)
    msg = fields + base
    r = validate(tmp_path_factory.mktemp("h"), msg)
    # any ARC field added to a chain (or to none) breaks it: a duplicate or
    # incomplete set, or an instance we cannot read
    assert r.result == ("fail" if extra else "pass" if keep_chain else "none"), r
    assert "b'" not in r.reason and 'b"' not in r.reason, r.reason     # text for people


# ------------------------------------------------------------- AAR reader

def test_aar_reader():
    a = aar.parse(b'i=3; mx.example.org 1; spf=pass (sender ok) smtp.mailfrom="a b"@x.example;\r\n'
                  b'\tdkim=pass reason="good sig" header.d=x.example header.s=s1;'
                  b' DMARC=Fail (p=reject) header.from=X.example policy.dmarc=reject; arc=none')
    assert (a.instance, a.authserv_id) == (3, "mx.example.org")
    assert [(r.method, r.result) for r in a.results] == [
        ("spf", "pass"), ("dkim", "pass"), ("dmarc", "fail"), ("arc", "none")]
    assert a.find("dkim")[0].reason == "good sig"
    assert a.find("dkim")[0].props == {"header.d": "x.example", "header.s": "s1"}
    assert a.find("dmarc")[0].props["header.from"] == "X.example"
    assert a.find("spf")[0].props["smtp.mailfrom"] == "a b@x.example"


def test_aar_reader_linear_on_hostile_values():
    for v in (b"i=1; id; " + b"a" * 1000000, b"i=1; id; x=" + b'"' * 1000000,
              b"i=1; id; " + b"a=b " * 250000, b"i=1; " + b"(" * 1000000):
        t = time.monotonic()
        aar.parse(v)
        assert time.monotonic() - t < 1.0


def test_aar_reader_garbage():
    assert aar.parse(b"no instance; x=y").instance is None
    a = aar.parse(b"i=1; only.the.id")
    assert (a.instance, a.authserv_id, a.results) == (1, "only.the.id", [])
    a = aar.parse(b"i=1; id; spf=pass (unclosed comment; dkim=pass")
    assert [r.method for r in a.results] == ["spf"]
    assert len(aar.parse(b"i=1; id" + b"; dkim=pass" * 500).results) == aar.MAX_RESULTS


# ------------------------------------------------------------- verify mode

def test_verify_mode_writes_arc_result_and_log(home, tmp_path):
    o, _ = run(tmp_path, two_hops(), env={"TCPREMOTEIP": "192.0.2.7"}, lookup=Lookup(KEYS))
    assert (b"\tarc=pass (sealers forwarder.example lists.example.org) header.oldest-pass=0"
            b" smtp.remote-ip=192.0.2.7\n") in o.prepend
    log = logd(o)
    assert (log["arc"], log["arc.sealers"], log["arc.oldest-pass"]) == (
        "pass", ["forwarder.example", "lists.example.org"], 0)
    assert o.exit_code is None


def test_verify_mode_arc_fail_says_why(home, tmp_path):
    o, _ = run(tmp_path, two_hops() + b"x\n", lookup=Lookup(KEYS))
    assert b'\tarc=fail reason="ARC-Message-Signature i=2 body hash mismatch"' in o.prepend
    assert logd(o)["arc.reason"] == "ARC-Message-Signature i=2 body hash mismatch"
    assert o.exit_code is None


def test_verify_mode_without_arc_unchanged_and_lean(home, tmp_path):
    o, _ = run(tmp_path, MSG)
    assert b"arc=" not in o.prepend and "arc" not in logd(o)
    code = ("import os, sys, tempfile\nfrom qmail_dkim import config\n"
            "from qmail_dkim.spool import Spool\nfrom qmail_dkim.verify import run\n"
            "fd, path = tempfile.mkstemp(dir=%r)\nos.write(fd, %r)\nos.lseek(fd, 0, 0)\n"
            "sp = Spool.from_fd(fd, %r)\n"
            "run.run(config.VerifySettings({'DKIMAUTHSERVID': 'x', 'SELECTOR_DATA': ''}), sp)\n"
            "print(sorted(m for m in sys.modules if m.startswith('qmail_dkim.arc')))\n"
            % (str(tmp_path), MSG, str(tmp_path)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(home), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_body_hash_variants_bounded(tmp_path):
    """Each l= value is another pass over the body: at most MAX_BODY_HASHES."""
    sp = spool(tmp_path, MSG)
    try:
        bodies = chain._Bodies(sp)
        class S:
            canon, instance = chain.RELAXED, 1
        for n in range(chain.MAX_BODY_HASHES):
            S.l = n
            assert bodies.digest(S) is not None
            assert bodies.digest(S) is not None         # the same variant again: cached
        S.l = 99
        try:
            bodies.digest(S)
            raise AssertionError("no bound")
        except chain.Fail as e:
            assert "body hash variants" in str(e)
    finally:
        sp.close()


def test_dkimpy_agrees_on_mutated_chains(tmp_path):
    """dkimpy's arc_verify as an independent oracle: on 400 copies of a
    two-hop chain with bytes changed, deleted or inserted (header and body),
    both say pass for the same messages. Messages dkimpy cannot parse at
    all (its rfc822_parse raises; qmail-dkim must take any bytes) are left
    out, and counted."""
    import logging
    import random
    from qmail_dkim.dkim.lib import dkim

    def dnsfunc(name, timeout=5):
        v = KEYS.get(name.decode().rstrip("."))
        return v.encode() if v else None

    base = two_hops()
    rnd = random.Random(12)
    compared = passes = 0
    logging.disable(logging.CRITICAL)
    try:
        for _ in range(400):
            m = bytearray(base)
            for _ in range(rnd.randint(1, 3)):
                pos = rnd.randrange(len(m))
                op = rnd.random()
                if op < 0.4:
                    m[pos] = rnd.choice(b" \t;=aZ0\n")
                elif op < 0.7:
                    del m[pos:pos + rnd.randint(1, 5)]
                else:
                    m[pos:pos] = rnd.choice([b";", b" ", b"\n\t", b"  "])
            m = bytes(m)
            try:
                a = dkim.ARC(m.replace(b"\n", b"\r\n"))
            except dkim.MessageFormatError:
                continue
            try:
                cv, _, why = a.verify(dnsfunc=dnsfunc)
            except dkim.DKIMException as e:
                cv, why = b"fail", e
            ours = validate(tmp_path, m)
            assert (ours.result == "pass") == (cv == b"pass"), (ours, cv, why, m)
            compared += 1
            passes += cv == b"pass"
    finally:
        logging.disable(logging.NOTSET)
    assert compared > 300 and passes > 5, (compared, passes)
    print("dkimpy and qmail-dkim agree on %d mutated chains (%d pass)" % (compared, passes))
